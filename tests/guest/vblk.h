/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio-blk driver for the test guest: requests laid out as Linux's
 * virtio_blk lays them out (header, data, status), every buffer granted
 * through the guest's DMA API and the grants ended on completion.
 */
#ifndef VX_VBLK_H
#define VX_VBLK_H

#include <linux/virtio_blk.h>

#include "vdev.h"

struct vblk_io {
	unsigned int queue;
	uint32_t type;
	struct virtio_blk_outhdr *hdr;	/* guest memory */
	uint8_t *status;		/* guest memory */
	void *data;			/* guest memory, or NULL */
	uint32_t len;
	uint64_t hdr_dma, data_dma, status_dma;
	struct vring_desc *indirect;	/* guest memory when indirect */
	uint64_t indirect_dma;
	uint32_t indirect_len;
	bool done;
	bool unmapped;			/* the grants ended (at the reap) */
	int unmap_err;
	uint8_t result;			/* the status byte, once done */
	uint32_t used_len;
	void *priv;			/* the caller's */
};

/* Adds a request to queue @q (not kicked).  @data is guest memory. */
int vblk_submit(struct vx_vdev *vd, unsigned int q, struct vblk_io *io,
		uint32_t type, uint64_t sector, void *data, uint32_t len,
		bool indirect);
/*
 * Collects completed requests of queue @q, their buffers unmapped (so the
 * status and read data are in place, out of the pool); returns how many.
 */
int vblk_reap(struct vx_vdev *vd, unsigned int q, struct vblk_io **done,
	      int max);
/* Ends the request's grants; -EBUSY if the backend still maps one. */
int vblk_release(struct vx_vdev *vd, struct vblk_io *io);

/*
 * One request, waited for: copies @buf (local memory) in or out.  Returns
 * the status byte, or -errno.
 */
int vblk_do(struct vx_vdev *vd, unsigned int q, uint32_t type, uint64_t sector,
	    void *buf, uint32_t len);

static inline uint64_t vblk_capacity(const struct vx_vdev *vd)
{
	const struct virtio_blk_config *c = (const void *)vd->config;

	return le64toh(c->capacity);
}

#endif
