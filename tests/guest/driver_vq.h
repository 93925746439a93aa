/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The driver side of a split virtqueue, as Linux's virtio_ring does it, over
 * the test guest's DMA API: rings from guest_dma_alloc, buffers added by
 * grant address.  EVENT_IDX and indirect descriptors are both supported.
 */
#ifndef VX_DRIVER_VQ_H
#define VX_DRIVER_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "guest.h"

struct dvq_buf {
	uint64_t addr;		/* grant address */
	uint32_t len;
	bool device_writes;
};

struct driver_vq {
	struct vx_guest *g;
	unsigned int size;
	bool event_idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_dma, avail_dma, used_dma;
	uint16_t free_head;
	unsigned int num_free;
	uint16_t avail_idx;		/* shadow of avail->idx */
	uint16_t last_used;
	uint16_t kicked_avail;		/* avail idx at the last kick */
	void **tokens;
	/*
	 * The driver's own links, as Linux's desc_extra: the free list and
	 * each chain are followed here, never in the shared table, which the
	 * guest's tests may rewrite (and a device could).
	 */
	uint16_t *next;
	uint16_t *chain_len;		/* per head */
	struct sim_port *port;		/* our end of the queue's channel */
};

int dvq_create(struct driver_vq *vq, struct vx_guest *g, unsigned int size,
	       bool event_idx);
/* Returns 0, or -EBUSY while the backend still maps a ring. */
int dvq_destroy(struct driver_vq *vq);
/* The domain died: drop local state only; its memory goes with it. */
void dvq_abandon(struct driver_vq *vq);

/* Adds a chain; returns its head or -ENOSPC. */
int dvq_add(struct driver_vq *vq, const struct dvq_buf *bufs, unsigned int n,
	    void *token);
/* Publishes added chains and kicks the device if it asked. */
void dvq_kick(struct driver_vq *vq);
/* Takes one used chain: its token, or NULL if none. */
void *dvq_get(struct driver_vq *vq, uint32_t *len);
/* Asks for an interrupt at the next used entry; true if one is already there. */
bool dvq_enable_cb(struct driver_vq *vq);
/* Waits up to @ms for an interrupt. */
bool dvq_wait(struct driver_vq *vq, int ms);

#endif
