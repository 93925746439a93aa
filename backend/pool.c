// SPDX-License-Identifier: GPL-2.0-only
/*
 * The grant pool of a device (protocol.md 4.4): pages the frontend granted
 * once, with consecutive references, and bounces its buffers through.  The
 * backend maps the whole window when the queues start and keeps it until
 * they stop, so a buffer inside it costs no grant operation (pool_ptr).
 *
 * The pool is only a shortcut: its addresses are grant addresses like any
 * other, so a pool the backend does not map (the guest's share of pool
 * pages is spent) is still served, through grant copies.
 */
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "log.h"

/* Whether [@ref, @ref + @pages) meets the pool another device of the guest maps. */
static const struct vx_device *overlapping(const struct vx_device *dev,
					   uint32_t ref, uint32_t pages)
{
	const struct vx_device *o;

	for (o = dev->daemon->devices; o; o = o->next)
		if (o != dev && o->guest == dev->guest && o->pool_given &&
		    ref < o->pool_ref + (uint64_t)o->pool_pages &&
		    o->pool_ref < ref + (uint64_t)pages)
			return o;
	return NULL;
}

const char *pool_start(struct vx_device *dev, uint32_t ref, uint32_t pages)
{
	static char why[160];
	struct guest_budget *b = dev->budget;
	const struct vx_device *o;
	uint32_t *refs, i;

	dev->pool_given = true;
	dev->pool_ref = ref;
	dev->pool_pages = pages;
	if (!pages || pages > VX_POOL_MAX_PAGES)
		return "pool-pages is zero or over pool-max-pages";
	if ((uint64_t)ref + pages - 1 > UINT32_MAX)
		return "the pool's grant references pass 2^32 - 1";
	o = overlapping(dev, ref, pages);
	if (o) {
		snprintf(why, sizeof(why), "the pool overlaps the pool of device %u",
			 o->id);
		return why;
	}
	if (b->pool_pages + pages > VX_GUEST_POOL_MAX_PAGES) {
		dev_warn(dev, "pool of %u pages not mapped: the guest's devices map %u of their %u; its buffers go through grant copies",
			 pages, b->pool_pages, VX_GUEST_POOL_MAX_PAGES);
		return NULL;
	}
	refs = malloc(pages * sizeof(*refs));
	if (!refs)
		return "out of memory";
	for (i = 0; i < pages; i++)
		refs[i] = ref + i;
	/* Writable: reads land in pool pages, and so may the used rings. */
	dev->pool = xen_gnttab_map(dev->gnttab, pages, refs, true);
	free(refs);
	if (!dev->pool) {
		snprintf(why, sizeof(why),
			 "the pool (grant references %u..%u) cannot be mapped read-write",
			 ref, ref + pages - 1);
		return why;
	}
	b->pool_pages += pages;
	dev_info(dev, "pool: %u pages at grant reference %u mapped", pages, ref);
	return NULL;
}

void pool_stop(struct vx_device *dev)
{
	if (dev->pool) {
		xen_gnttab_unmap(dev->gnttab, dev->pool, dev->pool_pages);
		dev->budget->pool_pages -= dev->pool_pages;
	}
	dev->pool = NULL;
	dev->pool_given = false;
	dev->pool_ref = 0;
	dev->pool_pages = 0;
}
