// SPDX-License-Identifier: GPL-2.0-only
/* A disk or nic spec from a command line or a config (tools/diskspec.c, nicspec.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diskspec.h"
#include "nicspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1), err[256];
	struct vx_diskspec d;
	struct vx_nicspec n;

	if (!spec)
		abort();
	memcpy(spec, data, size);
	spec[size] = '\0';
	err[0] = '\0';
	if (vx_parse_diskspec(spec, &d, err, sizeof(err))) {
		if (!memchr(d.target, 0, sizeof(d.target)) || !memchr(d.vdev, 0, sizeof(d.vdev)) ||
		    !d.target[0] || d.queues > 16)
			abort();
	} else if (!err[0]) {
		abort();
	}
	err[0] = '\0';
	if (!vx_parse_nicspec(spec, &n, err, sizeof(err)) && !err[0])
		abort();
	free(spec);
	return 0;
}
