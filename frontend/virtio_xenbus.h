/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _VIRTIO_XENBUS_H
#define _VIRTIO_XENBUS_H

struct xenbus_device;

/*
 * Puts the grant DMA ops on @xbdev: every mapping is granted to its other
 * end.  The drop takes them off when the driver lets go of the device.
 */
void vxb_use_grant_dma(struct xenbus_device *xbdev);
void vxb_drop_grant_dma(struct xenbus_device *xbdev);

#endif
