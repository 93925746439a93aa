// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "guestcfg.h"
#include "spec.h"
#include "xlcfg.h"

/*
 * The strings of list setting @name; @parse checks one.  Returns false with
 * the line of the entry at fault.
 */
static bool read_list(const struct vx_xlcfg *cfg, const char *name, void *specs,
		      size_t size, unsigned int *lines, unsigned int *n,
		      bool (*parse)(const char *spec, void *out, char *err,
				    size_t errlen),
		      char *err, size_t errlen)
{
	const struct vx_xlcfg_value *v = vx_xlcfg_get(cfg, name);
	const struct vx_xlcfg_value *e;
	char why[160];

	*n = 0;
	if (!v)
		return true;
	if (!v->is_list)
		return spec_fail(err, errlen, "line %u: %s must be a list: %s = [ \"...\", ... ]",
				 v->line, name, name);
	if (v->n > VX_GUESTCFG_MAX_DEVICES)
		return spec_fail(err, errlen, "line %u: %s has %u entries, at most %u",
				 v->line, name, v->n, VX_GUESTCFG_MAX_DEVICES);
	for (; *n < v->n; (*n)++) {
		e = &v->items[*n];
		if (e->is_list)
			return spec_fail(err, errlen, "line %u: %s entry %u is a list, not a \"string\"",
					 e->line, name, *n + 1);
		if (!parse(e->string, (char *)specs + *n * size, why, sizeof(why)))
			return spec_fail(err, errlen, "line %u: %s entry %u ('%s'): %s",
					 e->line, name, *n + 1, e->string, why);
		lines[*n] = e->line;
	}
	return true;
}

static bool parse_disk(const char *spec, void *out, char *err, size_t errlen)
{
	return vx_parse_diskspec(spec, out, err, errlen);
}

static bool parse_nic(const char *spec, void *out, char *err, size_t errlen)
{
	return vx_parse_nicspec(spec, out, err, errlen);
}

/* What would clash inside the one guest: a vdev, a mac, a disk written twice. */
static bool check_clashes(const struct vx_guestcfg *gc, char *err, size_t errlen)
{
	const struct vx_diskspec *a, *b;
	unsigned int i, j;

	for (i = 0; i < gc->nr_disks; i++) {
		for (j = 0; j < i; j++) {
			a = &gc->disks[i];
			b = &gc->disks[j];
			if (!strcmp(a->vdev, b->vdev))
				return spec_fail(err, errlen, "line %u: vdev %s is given twice",
						 gc->disk_line[i], a->vdev);
			if (!strcmp(a->target, b->target) && !strcmp(a->backend, b->backend) &&
			    (!a->readonly || !b->readonly))
				return spec_fail(err, errlen,
						 "line %u: %s is already disk %s; only read-only disks are shared",
						 gc->disk_line[i], a->target, b->vdev);
		}
	}
	for (i = 0; i < gc->nr_nics; i++)
		for (j = 0; j < i; j++)
			if (gc->nics[i].mac[0] && !strcasecmp(gc->nics[i].mac, gc->nics[j].mac))
				return spec_fail(err, errlen, "line %u: mac %s is given twice",
						 gc->nic_line[i], gc->nics[i].mac);
	return true;
}

bool vx_guestcfg_read(struct vx_guestcfg *gc, const char *text, char *err,
		      size_t errlen)
{
	const struct vx_xlcfg_value *name;
	struct vx_xlcfg cfg;
	bool ok;

	memset(gc, 0, sizeof(*gc));
	if (!vx_xlcfg_parse(&cfg, text, err, errlen))
		return false;
	name = vx_xlcfg_get(&cfg, "name");
	if (!name)
		ok = spec_fail(err, errlen, "the config has no name = \"...\"");
	else if (name->is_list || !name->string[0] ||
		 strlen(name->string) >= sizeof(gc->name))
		ok = spec_fail(err, errlen, "line %u: name must be a string of 1 to %zu bytes",
			       name->line, sizeof(gc->name) - 1);
	else
		ok = true;
	if (ok)
		strcpy(gc->name, name->string);
	ok = ok && read_list(&cfg, "virtio_disk", gc->disks, sizeof(gc->disks[0]),
			     gc->disk_line, &gc->nr_disks, parse_disk, err, errlen);
	ok = ok && read_list(&cfg, "virtio_nic", gc->nics, sizeof(gc->nics[0]),
			     gc->nic_line, &gc->nr_nics, parse_nic, err, errlen);
	ok = ok && check_clashes(gc, err, errlen);
	vx_xlcfg_free(&cfg);
	return ok;
}
