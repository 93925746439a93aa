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
	struct vq_seg *segs;	/* room for queue size entries */
};

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
	char error[160];		/* why the ring was rejected */
};

int vq_init(struct vq *vq, unsigned int size, void *desc, void *avail,
	    void *used, bool event_idx, bool indirect);
void vq_destroy(struct vq *vq);

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
/* The driver's available index, read once (with acquire). */
uint16_t vq_avail_idx(struct vq *vq);
/* Gives back the last @n popped chains, unused, to be popped again. */
void vq_unpop(struct vq *vq, unsigned int n);

/* Number of chains available and not yet popped (valid rings only). */
unsigned int vq_pending(struct vq *vq);

#endif
