/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _VIRTIO_XENBUS_H
#define _VIRTIO_XENBUS_H

struct xenbus_device;

/* Puts the grant DMA ops on @xbdev: every mapping is granted to its other end. */
void vxb_use_grant_dma(struct xenbus_device *xbdev);

#endif
