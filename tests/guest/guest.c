// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "protocol.h"

#define NR_GRANTS	65536
/* Linux leaves the first few references to the toolstack. */
#define FIRST_FREE_REF	8

struct vx_guest *guest_create(const char *sim_dir, uint32_t domid,
			      uint32_t backend_domid, uint32_t nr_pages)
{
	struct vx_guest *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->domid = domid;
	g->backend_domid = backend_domid;
	g->dom = sim_dom_create(sim_dir, domid, nr_pages, NR_GRANTS);
	g->page_used = calloc(nr_pages, 1);
	g->ref_used = calloc(NR_GRANTS, 1);
	g->xs = xs_open(0);
	if (!g->dom || !g->page_used || !g->ref_used || !g->xs) {
		guest_destroy(g);
		return NULL;
	}
	memset(g->ref_used, 1, FIRST_FREE_REF);
	return g;
}

void guest_destroy(struct vx_guest *g)
{
	if (!g)
		return;
	if (g->xs)
		xs_close(g->xs);
	sim_dom_close(g->dom);
	free(g->page_used);
	free(g->ref_used);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* First fit of @n consecutive free entries. */
static int64_t alloc_run(uint8_t *used, uint32_t total, uint32_t n)
{
	uint32_t i, run = 0;

	for (i = 0; i < total; i++) {
		run = used[i] ? 0 : run + 1;
		if (run == n) {
			memset(&used[i + 1 - n], 1, n);
			return i + 1 - n;
		}
	}
	return -1;
}

static uint32_t pages_of(size_t offset, size_t len)
{
	return (offset + len + VX_PAGE_SIZE - 1) / VX_PAGE_SIZE;
}

static uint32_t gfn_of(struct vx_guest *g, const void *va)
{
	return ((const uint8_t *)va - (uint8_t *)sim_dom_page(g->dom, 0)) /
	       VX_PAGE_SIZE;
}

void *guest_alloc(struct vx_guest *g, size_t len)
{
	uint32_t n = pages_of(0, len);
	int64_t gfn;
	void *va;

	pthread_mutex_lock(&g->lock);
	gfn = alloc_run(g->page_used, sim_dom_nr_pages(g->dom), n);
	pthread_mutex_unlock(&g->lock);

	if (gfn < 0)
		return NULL;
	va = sim_dom_page(g->dom, gfn);
	memset(va, 0, (size_t)n * VX_PAGE_SIZE);
	return va;
}

void guest_free(struct vx_guest *g, void *va, size_t len)
{
	pthread_mutex_lock(&g->lock);
	memset(&g->page_used[gfn_of(g, va)], 0, pages_of(0, len));
	pthread_mutex_unlock(&g->lock);
}

int guest_dma_map(struct vx_guest *g, const void *va, size_t len,
		  bool readonly, uint64_t *dma)
{
	size_t offset = (uintptr_t)va % VX_PAGE_SIZE;
	uint32_t n = pages_of(offset, len), gfn = gfn_of(g, va), i;
	int64_t ref;

	pthread_mutex_lock(&g->lock);
	ref = alloc_run(g->ref_used, sim_dom_nr_grants(g->dom), n);
	pthread_mutex_unlock(&g->lock);
	if (ref < 0)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		sim_grant_access(g->dom, ref + i, g->backend_domid, gfn + i,
				 readonly);
	*dma = vx_grant_addr(ref, offset);
	return 0;
}

int guest_dma_unmap(struct vx_guest *g, uint64_t dma, size_t len)
{
	struct vx_grant_range r;
	uint32_t i;
	int ret = 0;

	if (!vx_grant_range(dma, len, &r))
		return -EINVAL;
	for (i = 0; i < r.npages; i++) {
		pthread_mutex_lock(&g->lock);
		if (sim_end_access(g->dom, r.first_ref + i)) {
			/* Linux defers such a reference; the test counts it. */
			g->leaked_refs++;
			ret = -EBUSY;
		} else {
			g->ref_used[r.first_ref + i] = 0;
		}
		pthread_mutex_unlock(&g->lock);
	}
	return ret;
}

void *guest_dma_alloc(struct vx_guest *g, size_t len, uint64_t *dma)
{
	void *va = guest_alloc(g, len);

	if (!va)
		return NULL;
	if (guest_dma_map(g, va, len, false, dma)) {
		guest_free(g, va, len);
		return NULL;
	}
	return va;
}

int guest_dma_free(struct vx_guest *g, void *va, size_t len, uint64_t dma)
{
	int ret = guest_dma_unmap(g, dma, len);

	if (!ret)
		guest_free(g, va, len);
	return ret;
}
