// SPDX-License-Identifier: GPL-2.0-only
/*
 * An xl guest config as virtio-xenbus reads it (tools/xlcfg.c, guestcfg.c,
 * and the disk and nic specs inside it): any text gives a config or a
 * reason with its line, never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestcfg.h"
#include "xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[256];
	struct vx_guestcfg *gc = calloc(1, sizeof(*gc));
	struct vx_xlcfg cfg;

	if (!text || !gc)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (vx_xlcfg_parse(&cfg, text, err, sizeof(err)))
		vx_xlcfg_free(&cfg);
	else if (!err[0])
		abort();	/* a refusal always says why */
	err[0] = '\0';
	if (!vx_guestcfg_read(gc, text, err, sizeof(err)) && !err[0])
		abort();
	if (gc->nr_disks > VX_GUESTCFG_MAX_DEVICES || gc->nr_nics > VX_GUESTCFG_MAX_DEVICES)
		abort();
	free(gc);
	free(text);
	return 0;
}
