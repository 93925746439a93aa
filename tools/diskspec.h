/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio disk, as written in a guest config or on the command line: the
 * syntax of xl-disk-configuration(5), positional or keyword, plus the keys
 * of virtio-xenbus.
 */
#ifndef VX_DISKSPEC_H
#define VX_DISKSPEC_H

#include <stdbool.h>

struct vx_diskspec {
	char target[256];	/* file or block device */
	char vdev[16];		/* the administrator's name for it, e.g. vda */
	bool readonly;
	unsigned int queues;	/* 0: the backend's default */
	char backend[64];	/* domain name or id; empty: dom0 */
};

/*
 * Parses @spec into @d.  On error returns false with the reason in @err
 * (@errlen bytes), e.g. "unknown key 'colour'".
 */
bool vx_parse_diskspec(const char *spec, struct vx_diskspec *d, char *err,
		       size_t errlen);

#endif
