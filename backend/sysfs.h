/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A number the kernel shows in sysfs: a block queue's limits (blk.c), a
 * TAP's counters (net.c).
 */
#ifndef VX_SYSFS_H
#define VX_SYSFS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

/* False when the file is not there or does not start with a number. */
static inline bool sysfs_read_u64(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "re");
	bool ok = f && fscanf(f, "%" SCNu64, v) == 1;

	if (f)
		fclose(f);
	return ok;
}

#endif
