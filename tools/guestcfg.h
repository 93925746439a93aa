/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What `virtio-xenbus create` takes from a guest's xl config: its name and
 * the virtio devices of the settings virtio_disk = [ DISKSPEC, ... ] and
 * virtio_nic = [ NICSPEC, ... ].  Everything here is checked before any
 * domain is made; what depends on the host (files, bridges) is the tool's.
 */
#ifndef VX_GUESTCFG_H
#define VX_GUESTCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "diskspec.h"
#include "nicspec.h"

#define VX_GUESTCFG_MAX_DEVICES	64

struct vx_guestcfg {
	char name[64];
	struct vx_diskspec disks[VX_GUESTCFG_MAX_DEVICES];
	unsigned int nr_disks;
	struct vx_nicspec nics[VX_GUESTCFG_MAX_DEVICES];
	unsigned int nr_nics;
	unsigned int disk_line[VX_GUESTCFG_MAX_DEVICES];
	unsigned int nic_line[VX_GUESTCFG_MAX_DEVICES];
};

/*
 * Reads @text, an xl config, into @gc.  On error returns false with
 * "line N: reason" in @err (@errlen bytes).
 */
bool vx_guestcfg_read(struct vx_guestcfg *gc, const char *text, char *err,
		      size_t errlen);

#endif
