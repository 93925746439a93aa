// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpool.h"
#include "protocol.h"

#define SLOTS_PER_PAGE	(VX_PAGE_SIZE / GPOOL_SLOT)

struct guest_pool *gpool_create(struct vx_guest *g, uint32_t pages)
{
	struct guest_pool *p = calloc(1, sizeof(*p));
	uint64_t dma;

	if (!p)
		return NULL;
	p->g = g;
	p->pages = pages;
	p->nslots = pages * SLOTS_PER_PAGE;
	p->used = calloc(p->nslots, 1);
	p->mem = guest_alloc(g, (size_t)pages * VX_PAGE_SIZE);
	if (!p->used || !p->mem ||
	    guest_dma_map(g, p->mem, (size_t)pages * VX_PAGE_SIZE, false, &dma)) {
		if (p->mem)
			guest_free(g, p->mem, (size_t)pages * VX_PAGE_SIZE);
		free(p->used);
		free(p);
		return NULL;
	}
	p->ref = (dma & ~VX_GRANT_ADDR_FLAG) >> VX_PAGE_SHIFT;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

uint64_t gpool_dma(const struct guest_pool *p)
{
	return vx_grant_addr(p->ref, 0);
}

int gpool_destroy(struct guest_pool *p)
{
	size_t bytes = (size_t)p->pages * VX_PAGE_SIZE;
	int ret = guest_dma_unmap(p->g, gpool_dma(p), bytes);

	if (!ret)
		guest_free(p->g, p->mem, bytes);
	pthread_mutex_destroy(&p->lock);
	free(p->used);
	free(p);
	return ret;
}

bool gpool_owns(const struct guest_pool *p, uint64_t dma)
{
	uint64_t ref = (dma & ~VX_GRANT_ADDR_FLAG) >> VX_PAGE_SHIFT;

	return (dma & VX_GRANT_ADDR_FLAG) && ref >= p->ref && ref < p->ref + p->pages;
}

void *gpool_va(const struct guest_pool *p, uint64_t dma)
{
	uint64_t ref = (dma & ~VX_GRANT_ADDR_FLAG) >> VX_PAGE_SHIFT;

	return p->mem + (ref - p->ref) * VX_PAGE_SIZE + (dma & (VX_PAGE_SIZE - 1));
}

/* First fit of @n free slots from the hint on, @align slots aligned. */
static int64_t take_slots(struct guest_pool *p, uint32_t n, uint32_t align)
{
	uint32_t tries, start = p->hint - p->hint % align;

	for (tries = 0; tries < 2; tries++, start = 0) {
		uint32_t s, k;

		for (s = start; s + n <= p->nslots; s += align) {
			for (k = 0; k < n && !p->used[s + k]; k++)
				;
			if (k == n) {
				memset(&p->used[s], 1, n);
				p->hint = s + n;
				return s;
			}
		}
	}
	return -1;
}

/* Slots for @len bytes: where they are in the pool, or NULL when it is full. */
static void *take(struct guest_pool *p, size_t len, uint64_t *dma)
{
	uint32_t n = (len + GPOOL_SLOT - 1) / GPOOL_SLOT;
	/* A page or more starts on a page, as O_DIRECT on a 4 KiB disk needs. */
	uint32_t align = len >= VX_PAGE_SIZE ? SLOTS_PER_PAGE : 1;
	int64_t s;

	pthread_mutex_lock(&p->lock);
	s = n <= p->nslots ? take_slots(p, n, align) : -1;
	if (s < 0)
		p->fell_back++;
	else
		p->bounced++;
	pthread_mutex_unlock(&p->lock);
	if (s < 0)
		return NULL;
	*dma = vx_grant_addr(p->ref + s / SLOTS_PER_PAGE,
			     s % SLOTS_PER_PAGE * GPOOL_SLOT);
	return p->mem + s * GPOOL_SLOT;
}

int gpool_map(struct guest_pool *p, const void *va, size_t len, uint64_t *dma)
{
	void *b = take(p, len, dma);

	if (!b)
		return -ENOSPC;
	memcpy(b, va, len);
	return 0;
}

void *gpool_alloc(struct guest_pool *p, size_t len, uint64_t *dma)
{
	void *b = take(p, len, dma);

	if (b)
		memset(b, 0, len);
	return b;
}

void gpool_unmap(struct guest_pool *p, uint64_t dma, size_t len, void *va,
		 bool copy_out)
{
	uint8_t *b = gpool_va(p, dma);
	uint32_t s = (b - p->mem) / GPOOL_SLOT, n = (len + GPOOL_SLOT - 1) / GPOOL_SLOT;

	if (copy_out)
		memcpy(va, b, len);
	pthread_mutex_lock(&p->lock);
	memset(&p->used[s], 0, n);
	pthread_mutex_unlock(&p->lock);
}
