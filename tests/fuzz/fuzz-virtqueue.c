// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device-side virtqueue (common/virtqueue.c) against a guest that writes
 * anything: the input is the guest's memory (descriptor table, available
 * ring, indirect tables, the in-flight record of a previous daemon) followed
 * by a script of what the guest and the device do next.  The rules checked
 * are protocol.md 4.1's, on every chain the queue hands out.
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "virtqueue.h"
#include "fuzz-input.h"

#define MEM_PAGES	4	/* indirect tables live here: grant refs 1..4 */

static uint8_t mem[MEM_PAGES * VX_PAGE_SIZE];

/* Indirect tables: by grant address, as gmem_read reads them. */
static int read_guest(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct vx_grant_range r;
	uint64_t off;

	(void)opaque;
	if (!vx_grant_range(addr, len, &r) || r.first_ref < 1 ||
	    r.first_ref + r.npages - 1 > MEM_PAGES)
		return -1;
	off = (uint64_t)(r.first_ref - 1) * VX_PAGE_SIZE + r.offset;
	memcpy(buf, mem + off, len);
	return 0;
}

/* What the queue promises of every chain it hands out. */
static void check_chain(const struct vq *vq, const struct vq_chain *c)
{
	uint64_t readable = 0, writable = 0;
	bool seen_writable = false;
	unsigned int i;

	if (c->head >= vq->size || c->nsegs > vq->size)
		abort();
	for (i = 0; i < c->nsegs; i++) {
		if (c->segs[i].device_writes) {
			writable += c->segs[i].len;
			seen_writable = true;
		} else {
			if (seen_writable)
				abort();
			readable += c->segs[i].len;
		}
	}
	if (readable != c->readable_len || writable != c->writable_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image in = { data, size };
	uint8_t flags = take8(&in);
	unsigned int qsize = 1U << (1 + (flags & 7));	/* 2 .. 256 */
	bool event_idx = flags & 8, indirect = flags & 16, resume = flags & 32;
	size_t desc_len = 16 * qsize, avail_len = 6 + 2 * qsize;
	size_t used_len = 6 + 8 * qsize;
	struct vring_desc *desc = aligned_alloc(16, (desc_len + 15) & ~(size_t)15);
	struct vring_avail *avail = aligned_alloc(4, (avail_len + 3) & ~(size_t)3);
	struct vring_used *used = aligned_alloc(4, (used_len + 3) & ~(size_t)3);
	struct vq_inflight *rec = calloc(1, vq_inflight_bytes(qsize));
	struct vq_chain chain = { .segs = calloc(qsize, sizeof(struct vq_seg)) };
	uint16_t held[256];
	unsigned int nheld = 0, steps = 0;
	struct vq vq;

	take(&in, desc, desc_len);
	take(&in, avail, avail_len);
	take(&in, used, used_len);
	take(&in, mem, sizeof(mem) < 2 * VX_PAGE_SIZE ? sizeof(mem) : 2 * VX_PAGE_SIZE);
	if (resume)
		take(&in, rec, vq_inflight_bytes(qsize));

	if (vq_init(&vq, qsize, desc, avail, used, event_idx, indirect))
		goto out;
	vq.read_guest = read_guest;
	if (resume && vq_attach_record(&vq, rec, true))
		goto out_vq;
	if (!resume && vq_attach_record(&vq, rec, false))
		abort();	/* a fresh record is always of this ring */

	while (in.left && steps++ < 4096) {
		uint8_t op = take8(&in);
		int r;

		switch (op % 8) {
		case 0:		/* the device pops */
			r = vq_pop_chain(&vq, &chain);
			if (r < 0)
				goto out_vq;	/* the ring is failed: never used again */
			if (r > 0) {
				check_chain(&vq, &chain);
				if (nheld >= qsize)
					abort();	/* more held than the ring has heads */
				held[nheld++] = chain.head;
			}
			break;
		case 1:		/* the guest moves its available index */
			avail->idx = htole16(take16(&in));
			break;
		case 2:		/* the guest rewrites a descriptor */
			take(&in, &desc[take8(&in) % qsize], sizeof(*desc));
			break;
		case 3:		/* the guest rewrites an available entry */
			avail->ring[take8(&in) % qsize] = htole16(take16(&in));
			break;
		case 4:		/* the device completes what it holds */
			while (nheld)
				vq_push_used(&vq, held[--nheld], take16(&in));
			vq_publish_used(&vq);
			vq_should_notify(&vq);
			break;
		case 5:		/* the device gives the last chain back */
			if (nheld) {
				vq_unpop(&vq, 1);
				nheld--;
			}
			break;
		case 6:
			vq_enable_kicks(&vq);
			vq_pending(&vq);
			break;
		case 7:		/* the guest rewrites indirect memory */
			take(&in, &mem[take16(&in) % (sizeof(mem) - 64)], 64);
			break;
		}
	}
out_vq:
	vq_destroy(&vq);
out:
	free(chain.segs);
	free(rec);
	free(used);
	free(avail);
	free(desc);
	return 0;
}
