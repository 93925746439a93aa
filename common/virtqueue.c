// SPDX-License-Identifier: GPL-2.0-only
#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

/* The rings are shared with the guest: every access is a single load or store. */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static int vq_fail(struct vq *vq, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vq->error, sizeof(vq->error), fmt, ap);
	va_end(ap);
	return -1;
}

int vq_init(struct vq *vq, unsigned int size, void *desc, void *avail,
	    void *used, bool event_idx, bool indirect)
{
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	/* Resume where the ring stands: a fresh ring has both indexes at 0. */
	vq->last_avail_idx = le16toh(READ_ONCE(vq->used->idx));
	vq->used_idx = vq->last_avail_idx;
	if (indirect) {
		vq->indirect_buf = calloc(size, sizeof(struct vring_desc));
		if (!vq->indirect_buf)
			return -1;
	}
	return 0;
}

void vq_destroy(struct vq *vq)
{
	free(vq->indirect_buf);
	vq->indirect_buf = NULL;
}

static uint16_t avail_idx(struct vq *vq)
{
	/* Acquire: the ring entries the index covers are read after it. */
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

unsigned int vq_pending(struct vq *vq)
{
	return (uint16_t)(avail_idx(vq) - vq->last_avail_idx);
}

static int add_seg(struct vq *vq, struct vq_chain *chain,
		   const struct vring_desc *d)
{
	uint16_t flags = le16toh(d->flags);
	struct vq_seg *seg;

	if (chain->nsegs >= vq->size)
		return vq_fail(vq, "chain from head %u is longer than the queue (%u)",
			       chain->head, vq->size);
	seg = &chain->segs[chain->nsegs++];
	seg->addr = le64toh(d->addr);
	seg->len = le32toh(d->len);
	seg->device_writes = flags & VRING_DESC_F_WRITE;
	if (seg->device_writes) {
		chain->writable_len += seg->len;
	} else {
		if (chain->writable_len)
			return vq_fail(vq, "chain from head %u has a readable descriptor after a writable one",
				       chain->head);
		chain->readable_len += seg->len;
	}
	return 0;
}

/* Walks a table of @n descriptors from index @first, copying each once. */
static int walk_table(struct vq *vq, struct vq_chain *chain,
		      const struct vring_desc *table, unsigned int n,
		      unsigned int first, bool is_indirect)
{
	unsigned int i = first, count = 0;

	for (;;) {
		struct vring_desc d;
		uint16_t flags;

		if (i >= n)
			return vq_fail(vq, "descriptor index %u out of range (%u)%s",
				       i, n, is_indirect ? " in an indirect table" : "");
		if (++count > n)
			return vq_fail(vq, "descriptor chain from head %u loops",
				       chain->head);
		d.addr = READ_ONCE(table[i].addr);
		d.len = READ_ONCE(table[i].len);
		d.flags = READ_ONCE(table[i].flags);
		d.next = READ_ONCE(table[i].next);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return vq_fail(vq, "indirect descriptor %u %s", i,
				       is_indirect ? "inside an indirect table" :
						     "in the middle of a chain");
		if (add_seg(vq, chain, &d))
			return -1;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
	}
}

static int walk_indirect(struct vq *vq, struct vq_chain *chain,
			 const struct vring_desc *d)
{
	uint16_t flags = le16toh(d->flags);
	uint32_t len = le32toh(d->len);
	unsigned int n = len / sizeof(struct vring_desc);

	if (!vq->indirect)
		return vq_fail(vq, "indirect descriptor %u but INDIRECT_DESC was not negotiated",
			       chain->head);
	if (flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor %u also has NEXT",
			       chain->head);
	if (!len || len % sizeof(struct vring_desc) || n > vq->size)
		return vq_fail(vq, "indirect descriptor %u has a bad length %u",
			       chain->head, len);
	if (vq->read_guest(vq->read_opaque, le64toh(d->addr), vq->indirect_buf, len))
		return vq_fail(vq, "indirect table of descriptor %u cannot be read",
			       chain->head);
	return walk_table(vq, chain, vq->indirect_buf, n, 0, true);
}

int vq_pop_chain(struct vq *vq, struct vq_chain *chain)
{
	uint16_t avail = avail_idx(vq);
	uint16_t pending = avail - vq->last_avail_idx;
	struct vring_desc head;
	unsigned int h;

	if (!pending)
		return 0;
	if (pending > vq->size)
		return vq_fail(vq, "available index jumped from %u to %u (queue size %u)",
			       vq->last_avail_idx, avail, vq->size);

	h = le16toh(READ_ONCE(vq->avail->ring[vq->last_avail_idx % vq->size]));
	if (h >= vq->size)
		return vq_fail(vq, "head descriptor %u out of range (%u)", h, vq->size);
	vq->last_avail_idx++;

	chain->head = h;
	chain->nsegs = 0;
	chain->readable_len = 0;
	chain->writable_len = 0;

	head.flags = READ_ONCE(vq->desc[h].flags);
	if (le16toh(head.flags) & VRING_DESC_F_INDIRECT) {
		head.addr = READ_ONCE(vq->desc[h].addr);
		head.len = READ_ONCE(vq->desc[h].len);
		if (walk_indirect(vq, chain, &head))
			return -1;
	} else if (walk_table(vq, chain, vq->desc, vq->size, h, false)) {
		return -1;
	}
	return 1;
}

void vq_push_used(struct vq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->size];

	WRITE_ONCE(e->id, htole32(head));
	WRITE_ONCE(e->len, htole32(len));
	vq->used_idx++;
}

void vq_publish_used(struct vq *vq)
{
	/* Release: the entries are visible before the index that covers them. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old, new = vq->used_idx, event;
	bool valid = vq->signalled_used_valid;

	/* Order the used index store before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(le16toh(READ_ONCE(vq->avail->flags)) &
			 VRING_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = le16toh(READ_ONCE(vq->avail->ring[vq->size]));	/* used_event */
	return vring_need_event(event, new, old);
}

bool vq_enable_kicks_at(struct vq *vq, uint16_t idx)
{
	if (vq->event_idx) {
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->size];

		WRITE_ONCE(*avail_event, htole16(idx));
	} else {
		WRITE_ONCE(vq->used->flags, 0);
	}
	/* The driver may have added buffers before it could see the above. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(vq) != idx;
}

bool vq_enable_kicks(struct vq *vq)
{
	return vq_enable_kicks_at(vq, vq->last_avail_idx);
}

uint16_t vq_avail_idx(struct vq *vq)
{
	return avail_idx(vq);
}

void vq_unpop(struct vq *vq, unsigned int n)
{
	vq->last_avail_idx -= n;
}
