/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel interfaces that differ between the kernels the module
 * builds for (Linux 6.1 to 7.x).  Kbuild sets each VXB_HAVE_* from the
 * headers; the code calls the one spelling here.
 */
#ifndef _VIRTIO_XENBUS_COMPAT_H
#define _VIRTIO_XENBUS_COMPAT_H

#include <linux/dma-mapping.h>
#include <xen/xenbus.h>

#ifdef VXB_HAVE_LINUX_HEX_H
#include <linux/hex.h>
#endif

/* The XenbusState under @path, the other end's directory of @xbdev. */
static inline enum xenbus_state vxb_read_state(struct xenbus_device *xbdev,
					       const char *path)
{
#ifdef VXB_HAVE_STATE_OF_DEVICE
	return xenbus_read_driver_state(xbdev, path);
#else
	return xenbus_read_driver_state(path);
#endif
}

/* Kernels before map_phys cannot be asked to map MMIO through the ops. */
#ifndef DMA_ATTR_MMIO
#define DMA_ATTR_MMIO	0
#endif

#endif
