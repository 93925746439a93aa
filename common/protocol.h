/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Names and limits of docs/protocol.md, shared by the backend, the test
 * frontend and the tests.  The document is the contract; this header only
 * spells it in C.
 */
#ifndef VX_PROTOCOL_H
#define VX_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define VX_PROTOCOL_VERSION	1
#define VX_DEVICE_TYPE		"virtio"	/* xenbus device type */
/*
 * libxl's device type for a disk with specification=virtio (xl-disk-
 * configuration(5)): served as a virtio-blk device (protocol.md 1.5).
 */
#define VX_XL_DISK_TYPE		"virtio_disk"
/*
 * libxl's `type` of a guest config's virtio = [ "type=virtio,deviceN" ]
 * device (Xen 4.18+), in the directories of type "virtio": N is the virtio
 * device ID in lowercase hex, as the device tree binding spells it
 * (protocol.md 1.6).
 */
#define VX_XL_VIRTIO_TYPE	"virtio,device"

/* libxl's `type` family, whether or not it names a device we serve. */
static inline bool vx_is_xl_virtio_type(const char *type)
{
	return type && !strncmp(type, VX_XL_VIRTIO_TYPE, sizeof(VX_XL_VIRTIO_TYPE) - 1);
}

/* The xenbus device types a backend serves, in this order. */
enum vx_kind {
	VX_KIND_VIRTIO,
	VX_KIND_XL_DISK,
	VX_NR_KINDS
};

static inline const char *vx_kind_type(enum vx_kind kind)
{
	return kind == VX_KIND_XL_DISK ? VX_XL_DISK_TYPE : VX_DEVICE_TYPE;
}

#define VX_MAX_QUEUES		64
#define VX_MAX_QUEUE_SIZE	32768
#define VX_MAX_CONFIG_LEN	256
#define VX_MAX_REQUEST_QUEUES	16		/* the toolstack's `queues` */
/* The grant pool of one device (protocol.md 4.4): the backend's pool-max-pages. */
#define VX_POOL_MAX_PAGES	4096

/* XenbusState, as xen/include/public/io/xenbus.h numbers them. */
enum vx_xenbus_state {
	VX_STATE_UNKNOWN	= 0,
	VX_STATE_INITIALISING	= 1,
	VX_STATE_INITWAIT	= 2,
	VX_STATE_INITIALISED	= 3,
	VX_STATE_CONNECTED	= 4,
	VX_STATE_CLOSING	= 5,
	VX_STATE_CLOSED		= 6,
};

/* Virtio status bits (virtio 1.2, 2.1). */
#define VX_S_ACKNOWLEDGE	1
#define VX_S_DRIVER		2
#define VX_S_DRIVER_OK		4
#define VX_S_FEATURES_OK	8
#define VX_S_NEEDS_RESET	64
#define VX_S_FAILED		128

/* Transport feature bits. */
#define VX_F_INDIRECT_DESC	28
#define VX_F_EVENT_IDX		29
#define VX_F_VERSION_1		32
#define VX_F_ACCESS_PLATFORM	33
#define VX_FEATURE(bit)		(1ULL << (bit))

/* Grant addresses (protocol.md section 3). */
#define VX_PAGE_SHIFT		12
#define VX_PAGE_SIZE		(1U << VX_PAGE_SHIFT)
#define VX_GRANT_ADDR_FLAG	(1ULL << 63)
#define VX_GRANT_ADDR_MBZ	0x7ffff00000000000ULL	/* bits 44..62 */

static inline uint64_t vx_grant_addr(uint32_t ref, uint32_t offset)
{
	return VX_GRANT_ADDR_FLAG | ((uint64_t)ref << VX_PAGE_SHIFT) |
	       (offset & (VX_PAGE_SIZE - 1));
}

/* A checked region of grant pages: refs first_ref .. first_ref+npages-1. */
struct vx_grant_range {
	uint32_t first_ref;
	uint32_t npages;
	uint32_t offset;	/* into the first page */
};

/* Returns false for an address or length that protocol.md rejects. */
bool vx_grant_range(uint64_t addr, uint64_t len, struct vx_grant_range *r);

/* Size in bytes of each ring area for a queue of @size entries. */
static inline uint64_t vx_desc_area_size(unsigned int size)
{
	return 16ULL * size;
}

static inline uint64_t vx_driver_area_size(unsigned int size)
{
	return 6ULL + 2ULL * size;
}

static inline uint64_t vx_device_area_size(unsigned int size)
{
	return 6ULL + 8ULL * size;
}

#endif
