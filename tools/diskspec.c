// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskspec.h"
#include "spec.h"
#include "xsvalue.h"

/* xl-disk-configuration(5): the order positional parameters fill in. */
enum { P_TARGET, P_FORMAT, P_VDEV, P_ACCESS, P_COUNT };
static const char *const positional[P_COUNT] = { "target", "format", "vdev", "access" };

static bool set_once(bool *seen, const char *key, char *err, size_t errlen)
{
	if (*seen)
		return spec_fail(err, errlen, "'%s' given twice", key);
	*seen = true;
	return true;
}

static bool copy_value(char *dst, size_t size, const char *key, const char *val,
		       char *err, size_t errlen)
{
	if (strlen(val) >= size)
		return spec_fail(err, errlen, "%s is too long (at most %zu bytes)", key, size - 1);
	strcpy(dst, val);
	return true;
}

/* A vdev is a Linux-style disk name: letters then letters or digits. */
static bool valid_vdev(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool set_param(struct vx_diskspec *d, bool seen[P_COUNT], int p,
		      const char *val, char *err, size_t errlen)
{
	if (!set_once(&seen[p], positional[p], err, errlen))
		return false;
	switch (p) {
	case P_TARGET:
		if (!*val)
			return spec_fail(err, errlen, "the target is empty");
		return copy_value(d->target, sizeof(d->target), "target", val, err, errlen);
	case P_FORMAT:
		if (*val && strcmp(val, "raw"))
			return spec_fail(err, errlen, "format '%s' is not supported: only raw", val);
		return true;
	case P_VDEV:
		if (*val && !valid_vdev(val))
			return spec_fail(err, errlen, "vdev '%s' is not a disk name such as vda", val);
		return copy_value(d->vdev, sizeof(d->vdev), "vdev", val, err, errlen);
	default:
		if (!*val || !strcmp(val, "rw") || !strcmp(val, "w"))
			d->readonly = false;
		else if (!strcmp(val, "ro") || !strcmp(val, "r"))
			d->readonly = true;
		else
			return spec_fail(err, errlen, "access '%s' is neither ro nor rw", val);
		return true;
	}
}

static bool set_key(struct vx_diskspec *d, bool seen[P_COUNT], bool *seen_queues,
		    bool *seen_backend, const char *key, const char *val,
		    char *err, size_t errlen)
{
	uint64_t v;
	int p;

	for (p = 0; p < P_COUNT; p++)
		if (!strcmp(key, positional[p]))
			return set_param(d, seen, p, val, err, errlen);
	if (!strcmp(key, "queues")) {
		if (!set_once(seen_queues, key, err, errlen))
			return false;
		if (!vx_parse_dec_str(val, 16, &v) || !v)
			return spec_fail(err, errlen, "queues '%s' is not a number from 1 to 16", val);
		d->queues = v;
		return true;
	}
	if (!strcmp(key, "backend")) {
		if (!set_once(seen_backend, key, err, errlen))
			return false;
		if (!*val)
			return spec_fail(err, errlen, "the backend is empty");
		return copy_value(d->backend, sizeof(d->backend), "backend", val, err, errlen);
	}
	return spec_fail(err, errlen, "unknown key '%s'", key);
}

bool vx_parse_diskspec(const char *spec, struct vx_diskspec *d, char *err,
		       size_t errlen)
{
	bool seen[P_COUNT] = { false }, seen_queues = false, seen_backend = false;
	char *copy = strdup(spec), *rest, *item, *eq;
	bool ok = true;
	int next = 0;

	if (!copy)
		return spec_fail(err, errlen, "out of memory");
	memset(d, 0, sizeof(*d));
	for (rest = copy; ok && rest; ) {
		/* target= takes the rest of the spec, commas and all. */
		if (!strncmp(spec_trim(rest), "target=", 7)) {
			ok = set_param(d, seen, P_TARGET, spec_trim(rest) + 7, err, errlen);
			break;
		}
		item = strsep(&rest, ",");
		eq = strchr(item, '=');
		if (eq) {
			*eq = '\0';
			ok = set_key(d, seen, &seen_queues, &seen_backend, spec_trim(item),
				     spec_trim(eq + 1), err, errlen);
			continue;
		}
		item = spec_trim(item);
		if (!strcmp(item, "cdrom")) {
			ok = spec_fail(err, errlen, "cdrom is not supported by virtio disks");
			continue;
		}
		while (next < P_COUNT && seen[next])
			next++;
		if (next == P_COUNT) {
			ok = spec_fail(err, errlen, "too many positional parameters at '%s'", item);
			continue;
		}
		/* An empty positional keeps its default but takes its place. */
		if (*item || next != P_TARGET)
			ok = set_param(d, seen, next, item, err, errlen);
		next++;
	}
	free(copy);
	if (ok && !d->target[0])
		ok = spec_fail(err, errlen, "no target: name the file or block device");
	if (ok && !d->vdev[0])
		ok = spec_fail(err, errlen, "no vdev: name the disk, e.g. vdev=vda");
	return ok;
}
