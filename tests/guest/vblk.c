// SPDX-License-Identifier: GPL-2.0-only
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vblk.h"

static bool device_writes_data(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

int vblk_submit(struct vx_vdev *vd, unsigned int q, struct vblk_io *io,
		uint32_t type, uint64_t sector, void *data, uint32_t len,
		bool indirect)
{
	struct driver_vq *vq = &vd->vqs[q];
	struct dvq_buf bufs[3];
	unsigned int n = 0;
	int head;

	io->queue = q;
	io->type = type;
	io->data = data;
	io->len = len;
	io->done = false;
	io->unmapped = false;
	io->unmap_err = 0;
	if (!io->hdr) {
		/* Header and status share a page, granted twice (ro and rw). */
		io->hdr = guest_alloc(vd->g, VX_PAGE_SIZE);
		if (!io->hdr)
			return -ENOMEM;
		io->status = (uint8_t *)io->hdr + 64;
	}
	io->hdr->type = htole32(type);
	io->hdr->ioprio = 0;
	io->hdr->sector = htole64(sector);
	*io->status = 0xff;
	if (vdev_dma_map(vd, io->hdr, sizeof(*io->hdr), true, &io->hdr_dma) ||
	    vdev_dma_map(vd, io->status, 1, false, &io->status_dma))
		return -ENOSPC;
	bufs[n++] = (struct dvq_buf){ io->hdr_dma, sizeof(*io->hdr), false };
	if (len) {
		if (vdev_dma_map(vd, data, len, !device_writes_data(type),
				 &io->data_dma))
			return -ENOSPC;
		bufs[n++] = (struct dvq_buf){ io->data_dma, len,
					      device_writes_data(type) };
	}
	bufs[n++] = (struct dvq_buf){ io->status_dma, 1, true };

	if (indirect) {
		unsigned int i;

		io->indirect = guest_alloc(vd->g, VX_PAGE_SIZE);
		io->indirect_len = n * sizeof(struct vring_desc);
		if (!io->indirect)
			return -ENOSPC;
		for (i = 0; i < n; i++) {
			io->indirect[i].addr = htole64(bufs[i].addr);
			io->indirect[i].len = htole32(bufs[i].len);
			io->indirect[i].flags =
				htole16((bufs[i].device_writes ? VRING_DESC_F_WRITE : 0) |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0));
			io->indirect[i].next = htole16(i + 1);
		}
		/* Written, then mapped, as virtio_ring does: a pool copies it in. */
		if (vdev_dma_map(vd, io->indirect, io->indirect_len, true,
				 &io->indirect_dma))
			return -ENOSPC;
		head = dvq_add(vq, &(struct dvq_buf){ io->indirect_dma,
						      n * sizeof(struct vring_desc),
						      false }, 1, io);
		if (head >= 0)
			vq->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
	} else {
		head = dvq_add(vq, bufs, n, io);
	}
	return head < 0 ? head : 0;
}

int vblk_release(struct vx_vdev *vd, struct vblk_io *io)
{
	bool wrote = device_writes_data(io->type);
	int ret = 0;

	if (io->unmapped)
		return io->unmap_err;
	io->unmapped = true;
	if (vdev_dma_unmap(vd, io->hdr_dma, sizeof(*io->hdr), io->hdr, false) ||
	    vdev_dma_unmap(vd, io->status_dma, 1, io->status, true))
		ret = -EBUSY;
	if (io->len && vdev_dma_unmap(vd, io->data_dma, io->len, io->data, wrote))
		ret = -EBUSY;
	if (io->indirect) {
		if (vdev_dma_unmap(vd, io->indirect_dma, io->indirect_len,
				   io->indirect, false))
			ret = -EBUSY;
		guest_free(vd->g, io->indirect, VX_PAGE_SIZE);
		io->indirect = NULL;
	}
	io->unmap_err = ret;
	return ret;
}

int vblk_reap(struct vx_vdev *vd, unsigned int q, struct vblk_io **done, int max)
{
	struct driver_vq *vq = &vd->vqs[q];
	struct vblk_io *io;
	uint32_t len;
	int n = 0;

	while (n < max && (io = dvq_get(vq, &len))) {
		io->used_len = len;
		/* As virtio_ring does: unmapped before the driver looks. */
		vblk_release(vd, io);
		io->result = *(volatile uint8_t *)io->status;
		io->done = true;
		done[n++] = io;
	}
	return n;
}

int vblk_do(struct vx_vdev *vd, unsigned int q, uint32_t type, uint64_t sector,
	    void *buf, uint32_t len)
{
	struct vblk_io io = { 0 }, *done;
	void *data = NULL;
	int ret, waited;

	if (len) {
		data = guest_alloc(vd->g, len);
		if (!data)
			return -ENOMEM;
		if (!device_writes_data(type))
			memcpy(data, buf, len);
	}
	ret = vblk_submit(vd, q, &io, type, sector, data, len, false);
	if (ret)
		goto out;
	dvq_kick(&vd->vqs[q]);
	for (waited = 0; !io.done; waited += 10) {
		if (vblk_reap(vd, q, &done, 1))
			break;
		if (waited > PATIENCE_MS) {
			ret = -ETIMEDOUT;
			goto out;
		}
		dvq_enable_cb(&vd->vqs[q]);
		dvq_wait(&vd->vqs[q], 10);
	}
	if (vblk_release(vd, &io))
		ret = -EBUSY;
	else
		ret = io.result;
	if (ret == VIRTIO_BLK_S_OK && device_writes_data(type))
		memcpy(buf, data, len);
out:
	if (data)
		guest_free(vd->g, data, len);
	if (io.hdr)
		guest_free(vd->g, io.hdr, VX_PAGE_SIZE);
	return ret;
}
