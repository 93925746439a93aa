/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _VIRTIO_XENBUS_H
#define _VIRTIO_XENBUS_H

#include <linux/types.h>
#include <xen/grant_table.h>

struct device;
struct xenbus_device;
struct vxb_pool;

/*
 * Puts the grant DMA ops on @xbdev: every mapping is granted to its other
 * end.  The drop takes them off when the driver lets go of the device.
 */
void vxb_use_grant_dma(struct xenbus_device *xbdev);
void vxb_drop_grant_dma(struct xenbus_device *xbdev);

/*
 * A device's grant pool (protocol.md 4.4), made before its rings and
 * destroyed after the backend answered a reset.  The DMA ops find it with
 * vxb_pool_of, which the transport provides.
 */
struct vxb_pool *vxb_pool_create(struct xenbus_device *xbdev,
				 unsigned int nr_pages);
void vxb_pool_destroy(struct vxb_pool *pool);
grant_ref_t vxb_pool_ref(const struct vxb_pool *pool);
unsigned int vxb_pool_pages(const struct vxb_pool *pool);
struct vxb_pool *vxb_pool_of(struct device *dev);

#endif
