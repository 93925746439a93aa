// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the tool reads of xenstore: domains named as xl names them, and the
 * virtio devices each guest has (docs/protocol.md 1.1).
 */
#include <limits.h>

#include "virtio-xenbus.h"

char *xs_readf(const char *fmt, ...)
{
	unsigned int len;
	char path[PATH_MAX], *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	s = xs_read(xs, XBT_NULL, path, &len);
	/* A value with a NUL inside is no string: read as unset. */
	if (s && strlen(s) != len) {
		free(s);
		s = NULL;
	}
	return s;
}

char **xs_lsf(unsigned int *n, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	char **list;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	list = xs_directory(xs, XBT_NULL, path, n);
	if (!list)
		*n = 0;
	return list;
}

bool parse_id(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!vx_parse_dec_str(s, max, &v))
		return false;
	*out = v;
	return true;
}

/* A domain named as xl names it: a domid, or the name in xenstore. */
bool lookup_domain(const char *name, uint32_t *domid)
{
	unsigned int n, i;
	char **doms, *s;
	bool found = false;

	if (parse_id(name, 0x7fef, domid)) {
		s = xs_readf("/local/domain/%u/name", *domid);
		found = s || *domid == 0;
		free(s);
		return found;
	}
	doms = xs_lsf(&n, "/local/domain");
	for (i = 0; i < n && !found; i++) {
		s = xs_readf("/local/domain/%s/name", doms[i]);
		found = s && !strcmp(s, name) && parse_id(doms[i], 0x7fef, domid);
		free(s);
	}
	free(doms);
	return found;
}

uint32_t find_domain(const char *name)
{
	uint32_t domid;

	if (!lookup_domain(name, &domid)) {
		if (parse_id(name, 0x7fef, &domid))
			die("no domain with id %u (see xl list)", domid);
		die("no domain named '%s' (see xl list)", name);
	}
	return domid;
}

/*
 * Calls @fn for each virtio device of @guest (every guest if @guest is -1)
 * with its frontend's devid and its backend directory.
 */
void for_each_device(long guest,
			    void (*fn)(uint32_t guest, uint32_t devid,
				       uint32_t be, const char *be_dir, void *arg),
			    void *arg)
{
	for_each_device_of(VX_KIND_VIRTIO, guest, fn, arg);
}

void for_each_device_of(enum vx_kind kind, long guest,
			void (*fn)(uint32_t guest, uint32_t devid,
				   uint32_t be, const char *be_dir, void *arg),
			void *arg)
{
	const char *type = vx_kind_type(kind);
	unsigned int nd, nv, i, j;
	char **doms, **devs, *be_dir, *be_id, want[128];
	uint32_t g, devid, be;

	doms = xs_lsf(&nd, "/local/domain");
	for (i = 0; i < nd; i++) {
		if (!parse_id(doms[i], 0x7fef, &g) || (guest >= 0 && g != guest))
			continue;
		devs = xs_lsf(&nv, "/local/domain/%u/device/%s", g, type);
		for (j = 0; j < nv; j++) {
			be_dir = xs_readf("/local/domain/%u/device/%s/%s/backend", g,
					  type, devs[j]);
			be_id = xs_readf("/local/domain/%u/device/%s/%s/backend-id", g,
					 type, devs[j]);
			if (be_dir && be_id && parse_id(devs[j], UINT32_MAX, &devid) &&
			    parse_id(be_id, 0x7fef, &be)) {
				/* The guest writes `backend`: only the one place it may name. */
				snprintf(want, sizeof(want), "/local/domain/%u/backend/%s/%u/%u",
					 be, type, g, devid);
				if (!strcmp(be_dir, want))
					fn(g, devid, be, be_dir, arg);
			}
			free(be_dir);
			free(be_id);
		}
		free(devs);
	}
	free(doms);
}

bool node_exists(const char *path)
{
	char *v = xs_readf("%s", path);

	free(v);
	return v != NULL;
}

/* The lowest device id the guest does not use yet. */
uint32_t free_devid(uint32_t guest)
{
	uint32_t devid;
	char *s;

	for (devid = 0;; devid++) {
		s = xs_readf("/local/domain/%u/device/%s/%u", guest, VX_DEVICE_TYPE, devid);
		if (!s)
			return devid;
		free(s);
	}
}

/* The domain whose vm path is @vm, other than @old; false if none yet. */
bool find_by_vm(const char *vm, uint32_t old, uint32_t *domid)
{
	unsigned int n, i;
	char **doms, *s;
	bool found = false;

	doms = xs_lsf(&n, "/local/domain");
	for (i = 0; i < n && !found; i++) {
		if (!parse_id(doms[i], 0x7fef, domid) || *domid == old)
			continue;
		s = xs_readf("/local/domain/%u/vm", *domid);
		found = s && !strcmp(s, vm);
		free(s);
	}
	free(doms);
	return found;
}
