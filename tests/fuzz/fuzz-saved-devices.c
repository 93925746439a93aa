// SPDX-License-Identifier: GPL-2.0-only
/*
 * FILE.virtio, the devices `virtio-xenbus save` keeps beside a save file
 * (tools/saved-devices.c): a file a user can edit or damage.  What
 * read_saved accepts, write_saved writes back and read_saved reads the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio-xenbus.h"

/* The tool's globals this file's code does not reach. */
struct xs_handle *xs;

void die(const char *fmt, ...)
{
	(void)fmt;
	abort();
}

/* give_back's; never reached from read_saved or write_saved. */
long add_device(const struct device_plan *p, uint32_t guest, uint32_t devid,
		char *err, size_t errlen)
{
	(void)p, (void)guest, (void)devid, (void)err, (void)errlen;
	abort();
}

static void same(const struct saved_devices *a, const struct saved_devices *b)
{
	unsigned int i, k;

	if (a->n != b->n)
		abort();
	for (i = 0; i < a->n; i++) {
		const struct saved_device *x = &a->dev[i], *y = &b->dev[i];

		if (x->devid != y->devid || x->be != y->be || strcmp(x->type, y->type))
			abort();
		for (k = 0; x->kv[k] || y->kv[k]; k++)
			if (!x->kv[k] || !y->kv[k] || strcmp(x->kv[k], y->kv[k]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct saved_devices first = { 0 }, again = { 0 };
	char path[64], name[64], name2[64], err[256];
	int in = memfd_create("in", 0), out = memfd_create("out", 0);

	if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", in);
	if (read_saved(path, name, sizeof(name), &first, err, sizeof(err))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", out);
		if (!write_saved(path, name, &first) ||
		    !read_saved(path, name2, sizeof(name2), &again, err, sizeof(err)) ||
		    strcmp(name, name2))
			abort();
		same(&first, &again);
	}
	saved_free(&first);
	saved_free(&again);
	close(in);
	close(out);
	return 0;
}
