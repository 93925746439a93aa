/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The device side of a split virtqueue (virtio 1.2, 2.7), for rings that
 * live in guest memory the backend has mapped.  Everything read from the
 * rings is read once, then checked (protocol.md 4.1): a guest that breaks a
 * rule gets an error, never an out-of-bounds access.
 */
#ifndef VX_VIRTQUEUE_H
#define VX_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/* One descriptor of a chain, as the device will use it. */
struct vq_seg {
	uint64_t addr;		/* grant address */
	uint32_t len;
	bool device_writes;
};

/* A chain popped from the available ring. */
struct vq_chain {
	uint16_t head;
	unsigned int nsegs;
	uint64_t readable_len;
	uint64_t writable_len;
	bool has_writable;	/* a device-writable descriptor was seen */
	struct vq_seg *segs;	/* room for queue size entries */
};

/*
 * The device's record of the chains it holds: taken from the available ring
 * and not yet returned in a published used entry.  Kept in memory that
 * outlives the device's process (a file in tmpfs), it lets a restarted
 * device serve those chains again instead of losing them (protocol.md 2.5).
 * It is written in program order, so it is right at every instruction where
 * the process may die.
 */
struct vq_inflight {
	uint16_t size;
	uint16_t used_idx;	/* entries below it are published and cleared */
	uint8_t taken[];	/* per head: 1 while the device holds the chain */
};

static inline size_t vq_inflight_bytes(unsigned int size)
{
	return sizeof(struct vq_inflight) + size;
}

/* Reads @len bytes of guest memory at grant address @addr (indirect tables). */
typedef int (*vq_read_fn)(void *opaque, uint64_t addr, void *buf, size_t len);

struct vq {
	unsigned int size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;
	bool indirect;
	uint16_t last_avail_idx;
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled_used;	/* used idx at the last notification */
	bool signalled_used_valid;
	vq_read_fn read_guest;
	void *read_opaque;
	struct vring_desc *indirect_buf;	/* size entries */
	struct vq_inflight *rec;	/* the record in use */
	struct vq_inflight *own_rec;	/* ours, until vq_attach_record */
	uint16_t *pushed;		/* head of each used entry, by used index */
	uint16_t *pop_log;		/* the last pops, for vq_unpop */
	uint16_t pops;
	uint16_t *recovered;		/* heads held at resume, served first */
	unsigned int nr_recovered, next_recovered;
	char error[160];		/* why the ring was rejected */
};

int vq_init(struct vq *vq, unsigned int size, void *desc, void *avail,
	    void *used, bool event_idx, bool indirect);
void vq_destroy(struct vq *vq);

/*
 * Keeps the queue's record in @rec (vq_inflight_bytes(size) bytes) instead
 * of private memory.  A fresh queue starts it anew; with @resume, @rec is
 * the record of a previous device process on this same ring: the chains it
 * held are popped again first, and the available ring is taken up where it
 * stopped.  Returns -1 (vq->error says why) if @rec cannot be of this ring.
 */
int vq_attach_record(struct vq *vq, struct vq_inflight *rec, bool resume);

/*
 * Pops the next available chain into @chain.  Returns 1 with a chain, 0 when
 * the ring is empty, or -1 when the guest broke a rule (vq->error says which).
 */
int vq_pop_chain(struct vq *vq, struct vq_chain *chain);

/* Adds a used entry; it becomes visible to the driver at vq_publish_used. */
void vq_push_used(struct vq *vq, uint16_t head, uint32_t len);
void vq_publish_used(struct vq *vq);

/* Whether the driver wants an interrupt for what was published. */
bool vq_should_notify(struct vq *vq);

/*
 * Before sleeping: re-enables kicks (with EVENT_IDX, publishes avail_event)
 * and reports whether more work arrived meanwhile.
 */
bool vq_enable_kicks(struct vq *vq);

/*
 * The same, for a device that cannot use the chains already available (a
 * packet larger than all of them together): kicks come when the driver adds
 * a chain at or past avail index @idx.
 */
bool vq_enable_kicks_at(struct vq *vq, uint16_t idx);
/*
 * While the device polls the ring: asks the driver not to kick (with
 * EVENT_IDX, avail_event one behind what we took, which the driver's next
 * index passes only after 65535 more chains).  vq_enable_kicks ends it.
 */
void vq_disable_kicks(struct vq *vq);
/* The driver's available index, read once (with acquire). */
uint16_t vq_avail_idx(struct vq *vq);
/* Gives back the last @n popped chains, unused, to be popped again. */
void vq_unpop(struct vq *vq, unsigned int n);

/* Number of chains available or recovered and not yet popped (valid rings only). */
unsigned int vq_pending(struct vq *vq);

#endif
