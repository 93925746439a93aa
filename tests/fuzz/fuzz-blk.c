// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk requests (backend/blk.c) from a guest that writes anything: a
 * ring of chains over the guest's pages, headers, data, discard and
 * write-zeroes ranges, served as the queue thread serves them, on a real
 * file with io_uring.  The input is compact: each descriptor names a grant
 * reference and an offset, so most chains reach the model; the pages hold
 * anything.  Half the inputs have a grant pool over some of the pages.
 *
 * Checked: every chain popped is completed at most once, with a used length
 * within its writable bytes; nothing stays mapped or in flight; the disk
 * keeps its size; a read-only disk keeps its contents.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-device.h"
#include "fuzz-input.h"

#define DISK_BYTES	(1 << 20)
#define QSIZE		16

static int disk_fd;
static char disk_path[64];
static uint8_t disk_image[DISK_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	disk_fd = memfd_create("disk", 0);
	if (disk_fd < 0 || ftruncate(disk_fd, DISK_BYTES))
		abort();
	snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", disk_fd);
	return 0;
}

static bool taken[QSIZE];
static uint64_t writable[QSIZE];	/* of the chain held at each head */
static unsigned int settled;

/* Each new used entry is of a chain held, within its writable bytes. */
static void settle(void)
{
	for (; settled < fake_nr_done; settled++) {
		const struct fake_completion *c = &fake_done[settled];

		if (c->head >= QSIZE || !taken[c->head] || c->len < 1 ||
		    c->len > writable[c->head])
			abort();
		taken[c->head] = false;
	}
}

/* As process_available and the thread's loop do, until the ring is done. */
static void serve(struct vx_queue *q)
{
	const struct vx_model *m = &blk_model;
	int rounds = 0;

	memset(taken, 0, sizeof(taken));
	settled = 0;

	for (;;) {
		int r;

		if (!m->queue_room(q)) {
			r = m->complete(q);
			settle();
			if (r || ++rounds > 100000)
				break;
			continue;
		}
		r = vq_pop_chain(&q->vq, &q->chain);
		if (r <= 0)
			break;
		if (taken[q->chain.head])
			abort();	/* handed out again while held */
		taken[q->chain.head] = true;
		writable[q->chain.head] = q->chain.writable_len;
		r = m->handle_chain(q, &q->chain);
		settle();
		if (r) {
			if (!fake_failed)
				abort();	/* an error without a report */
			break;
		}
	}
	m->queue_stop(q);	/* waits for what is in flight */
	settle();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image in = { data, size };
	uint8_t flags = take8(&in);
	struct vx_device dev = { 0 };
	struct vx_queue q = { 0 };
	struct vring_desc desc[QSIZE];
	struct { uint16_t flags, idx, ring[QSIZE], used_event; } avail = { 0 };
	struct { uint16_t flags, idx; struct vring_used_elem ring[QSIZE]; uint16_t avail_event; }
		used __attribute__((aligned(4))) = { 0 };
	struct vq_seg segs[QSIZE];
	bool readonly = flags & 1;
	unsigned int i, n;
	struct stat st;

	fake_keys[0][0] = "params";
	fake_keys[0][1] = disk_path;
	fake_keys[1][0] = "mode";
	fake_keys[1][1] = readonly ? "r" : "w";
	fake_keys[2][0] = NULL;
	fake_nr_done = 0;
	fake_failed = false;
	if (pwrite(disk_fd, disk_image, DISK_BYTES, 0) != DISK_BYTES)
		abort();

	static struct guest_budget budget = { .lock = PTHREAD_MUTEX_INITIALIZER };

	dev.budget = &budget;
	dev.access = flags & 2 ? GRANT_MAP : flags & 16 ? GRANT_AUTO : GRANT_COPY;
	dev.request_queues = 1;
	dev.model = &blk_model;
	dev.features = VX_FEATURE(VX_F_VERSION_1) | VX_FEATURE(VX_F_ACCESS_PLATFORM) |
		       VX_FEATURE(VX_F_INDIRECT_DESC) | VX_FEATURE(VX_F_EVENT_IDX);
	if (blk_model.open(&dev))
		abort();
	dev.driver_features = dev.features & ((uint64_t)take8(&in) << 24 | take16(&in) |
					      VX_FEATURE(VX_F_VERSION_1));
	dev.gnttab = xen_gnttab_open(1);
	if (flags & 8)
		fake_pool(&dev);

	/* Each descriptor: reference, offset, length, flags, next. */
	for (i = 0; i < QSIZE; i++) {
		uint32_t ref = take8(&in) % (FAKE_PAGES + 2);
		uint16_t off = take16(&in) & 0xfff;
		uint32_t len = take16(&in);
		uint8_t f = take8(&in);

		if (f & 0x80)
			len <<= 8;	/* long data segments, past a page */
		desc[i].addr = htole64(f & 0x40 ? take16(&in) : vx_grant_addr(ref, off));
		desc[i].len = htole32(len);
		desc[i].flags = htole16(f & 7);
		desc[i].next = htole16(take8(&in) % (QSIZE + 1));
	}
	n = take8(&in) % (QSIZE + 1);
	for (i = 0; i < n; i++)
		avail.ring[i] = htole16(take8(&in) % QSIZE);
	avail.idx = htole16(n);
	for (i = 0; i < FAKE_PAGES; i++)
		fake_readonly[i] = (i & 1) && (flags & 4);
	memset(fake_mem, 0, sizeof(fake_mem));
	memcpy(fake_mem, in.p, in.left < sizeof(fake_mem) ? in.left : sizeof(fake_mem));

	q.dev = &dev;
	q.size = QSIZE;
	q.chain.segs = segs;
	if (vq_init(&q.vq, QSIZE, desc, &avail, &used,
		    dev_has_feature(&dev, VX_F_EVENT_IDX),
		    dev_has_feature(&dev, VX_F_INDIRECT_DESC)))
		abort();
	q.vq.read_guest = gmem_read;
	q.vq.read_opaque = &dev;
	if (blk_model.queue_start(&q))
		abort();
	serve(&q);

	if (fake_maps || budget.held || budget.nr_waiters)
		abort();	/* a grant left mapped, budget not given back */
	if (fstat(disk_fd, &st) || st.st_size != DISK_BYTES)
		abort();	/* written past the end */
	if (readonly) {
		static uint8_t now[DISK_BYTES];

		if (pread(disk_fd, now, DISK_BYTES, 0) != DISK_BYTES ||
		    memcmp(now, disk_image, DISK_BYTES))
			abort();	/* a read-only disk changed */
	}
	vq_destroy(&q.vq);
	gmem_thread_exit();
	blk_model.close(&dev);
	return 0;
}
