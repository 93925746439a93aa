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
/*
 * The in-flight record must be right wherever the process dies: keep the
 * compiler from moving its stores across the ring's.
 */
#define RECORD_BARRIER()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

/* In the pop log: the chain came from the recovered list, not the ring. */
#define POP_RECOVERED		0x8000

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
	vq->own_rec = calloc(1, vq_inflight_bytes(size));
	vq->pushed = calloc(size, sizeof(*vq->pushed));
	vq->pop_log = calloc(size, sizeof(*vq->pop_log));
	vq->recovered = calloc(size, sizeof(*vq->recovered));
	if (indirect)
		vq->indirect_buf = calloc(size, sizeof(struct vring_desc));
	if (!vq->own_rec || !vq->pushed || !vq->pop_log || !vq->recovered ||
	    (indirect && !vq->indirect_buf)) {
		vq_destroy(vq);
		return -1;
	}
	vq->own_rec->size = size;
	vq->own_rec->used_idx = vq->used_idx;
	vq->rec = vq->own_rec;
	return 0;
}

void vq_destroy(struct vq *vq)
{
	free(vq->indirect_buf);
	free(vq->own_rec);
	free(vq->pushed);
	free(vq->pop_log);
	free(vq->recovered);
	vq->indirect_buf = NULL;
	vq->own_rec = NULL;
	vq->rec = NULL;
	vq->pushed = NULL;
	vq->pop_log = NULL;
	vq->recovered = NULL;
}

/*
 * The previous process published used entries up to used->idx, and cleared
 * the record up to rec->used_idx: clear the rest, then every chain still
 * marked was taken and never returned.  Chains are taken in ring order, so
 * the ring resumes after the used ones and the ones held.
 */
static int recover(struct vq *vq, struct vq_inflight *rec)
{
	uint16_t used = vq->used_idx, i, n = used - rec->used_idx;
	unsigned int h;

	if (rec->size != vq->size)
		return vq_fail(vq, "the in-flight record is of a queue of %u, not %u",
			       rec->size, vq->size);
	if (n > vq->size)
		return vq_fail(vq, "used index %u is %u past the in-flight record's %u",
			       used, n, rec->used_idx);
	for (i = rec->used_idx; i != used; i++) {
		h = le32toh(READ_ONCE(vq->used->ring[i % vq->size].id));
		if (h >= vq->size)
			return vq_fail(vq, "used entry %u names head %u", i, h);
		rec->taken[h] = 0;
	}
	RECORD_BARRIER();
	rec->used_idx = used;
	for (h = 0; h < vq->size; h++)
		if (rec->taken[h])
			vq->recovered[vq->nr_recovered++] = h;
	vq->last_avail_idx = used + vq->nr_recovered;
	return 0;
}

int vq_attach_record(struct vq *vq, struct vq_inflight *rec, bool resume)
{
	if (resume) {
		if (recover(vq, rec))
			return -1;
	} else {
		memset(rec->taken, 0, vq->size);
		rec->size = vq->size;
		rec->used_idx = vq->used_idx;
	}
	vq->rec = rec;
	return 0;
}

static uint16_t avail_idx(struct vq *vq)
{
	/* Acquire: the ring entries the index covers are read after it. */
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

unsigned int vq_pending(struct vq *vq)
{
	return (uint16_t)(avail_idx(vq) - vq->last_avail_idx) +
	       vq->nr_recovered - vq->next_recovered;
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
	/* The order is of descriptors: an empty writable one counts too. */
	if (seg->device_writes) {
		chain->writable_len += seg->len;
		chain->has_writable = true;
	} else {
		if (chain->has_writable)
			return vq_fail(vq, "chain from head %u has a readable descriptor after a writable one",
				       chain->head);
		chain->readable_len += seg->len;
	}
	return 0;
}

static int walk_indirect(struct vq *vq, struct vq_chain *chain,
			 const struct vring_desc *d);

/*
 * Walks a table of @n descriptors from index @first, copying each once.  In
 * the ring's table, the chain may end in one indirect descriptor (virtio
 * 1.2, 2.7.5.3.2: zero or more direct descriptors, then an indirect one).
 */
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
		if (flags & VRING_DESC_F_INDIRECT) {
			if (is_indirect)
				return vq_fail(vq, "indirect descriptor %u inside an indirect table",
					       i);
			return walk_indirect(vq, chain, &d);
		}
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
		return vq_fail(vq, "indirect descriptor in chain %u but INDIRECT_DESC was not negotiated",
			       chain->head);
	/* It ends the chain; its own WRITE flag is ignored (2.7.5.3.2). */
	if (flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor in chain %u also has NEXT",
			       chain->head);
	if (!len || len % sizeof(struct vring_desc) || n > vq->size)
		return vq_fail(vq, "indirect descriptor in chain %u has a bad length %u",
			       chain->head, len);
	if (vq->read_guest(vq->read_opaque, le64toh(d->addr), vq->indirect_buf, len))
		return vq_fail(vq, "indirect table in chain %u cannot be read",
			       chain->head);
	return walk_table(vq, chain, vq->indirect_buf, n, 0, true);
}

/* Walks the chain from head @h into @chain. */
static int read_chain(struct vq *vq, unsigned int h, struct vq_chain *chain)
{
	chain->head = h;
	chain->nsegs = 0;
	chain->readable_len = 0;
	chain->writable_len = 0;
	chain->has_writable = false;
	return walk_table(vq, chain, vq->desc, vq->size, h, false) ? -1 : 1;
}

int vq_pop_chain(struct vq *vq, struct vq_chain *chain)
{
	uint16_t avail, pending;
	unsigned int h;

	if (vq->next_recovered < vq->nr_recovered) {
		h = vq->recovered[vq->next_recovered++];
		vq->pop_log[vq->pops++ % vq->size] = h | POP_RECOVERED;
		return read_chain(vq, h, chain);
	}

	avail = avail_idx(vq);
	pending = avail - vq->last_avail_idx;
	if (!pending)
		return 0;
	if (pending > vq->size)
		return vq_fail(vq, "available index jumped from %u to %u (queue size %u)",
			       vq->last_avail_idx, avail, vq->size);

	h = le16toh(READ_ONCE(vq->avail->ring[vq->last_avail_idx % vq->size]));
	if (h >= vq->size)
		return vq_fail(vq, "head descriptor %u out of range (%u)", h, vq->size);
	if (vq->rec->taken[h])
		return vq_fail(vq, "head descriptor %u made available again before it was used",
			       h);
	vq->rec->taken[h] = 1;
	vq->last_avail_idx++;
	vq->pop_log[vq->pops++ % vq->size] = h;
	return read_chain(vq, h, chain);
}

void vq_push_used(struct vq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->size];

	WRITE_ONCE(e->id, htole32(head));
	WRITE_ONCE(e->len, htole32(len));
	vq->pushed[vq->used_idx % vq->size] = head;
	vq->used_idx++;
}

void vq_publish_used(struct vq *vq)
{
	struct vq_inflight *rec = vq->rec;
	uint16_t i;

	/* Release: the entries are visible before the index that covers them. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	/* Only now are the chains the driver's again (see recover()). */
	RECORD_BARRIER();
	for (i = rec->used_idx; i != vq->used_idx; i++)
		rec->taken[vq->pushed[i % vq->size]] = 0;
	RECORD_BARRIER();
	rec->used_idx = vq->used_idx;
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

void vq_disable_kicks(struct vq *vq)
{
	if (vq->event_idx) {
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->size];

		WRITE_ONCE(*avail_event, htole16(vq->last_avail_idx - 1));
	} else {
		WRITE_ONCE(vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
	}
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
	while (n--) {
		uint16_t h = vq->pop_log[--vq->pops % vq->size];

		if (h & POP_RECOVERED) {
			vq->next_recovered--;
		} else {
			vq->rec->taken[h] = 0;
			vq->last_avail_idx--;
		}
	}
}
