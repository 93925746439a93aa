/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test guest's grant pool (protocol.md 4.4), as virtio_xenbus.ko keeps
 * one: pages granted once to the backend with consecutive references, and
 * buffers bounced through 512-byte slots of them (copied in at the mapping,
 * copied out at the unmapping when the device wrote them).
 */
#ifndef VX_GPOOL_H
#define VX_GPOOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define GPOOL_SLOT	512

struct guest_pool {
	struct vx_guest *g;
	uint8_t *mem;
	uint32_t ref, pages;
	pthread_mutex_t lock;
	uint8_t *used;			/* one byte a slot */
	uint32_t nslots, hint;
	uint64_t bounced, fell_back;	/* mappings, for the tests */
};

/* Grants @pages zeroed pages read-write to the backend; NULL if it cannot. */
struct guest_pool *gpool_create(struct vx_guest *g, uint32_t pages);
/* Ends access: -EBUSY (and the pool leaks) while the backend maps a page. */
int gpool_destroy(struct guest_pool *p);
/* The first page's grant address. */
uint64_t gpool_dma(const struct guest_pool *p);

/* Bounces [@va, @va + @len) into the pool, copied in; -ENOSPC when full. */
int gpool_map(struct guest_pool *p, const void *va, size_t len, uint64_t *dma);
bool gpool_owns(const struct guest_pool *p, uint64_t dma);
/* Frees the slots, copying them out to @va first if @copy_out. */
void gpool_unmap(struct guest_pool *p, uint64_t dma, size_t len, void *va,
		 bool copy_out);
/*
 * A coherent allocation: @len zeroed bytes of the pool itself, which the
 * driver uses in place (no bounce); NULL when full.  Freed by gpool_unmap
 * without copy-out, or with the pool.
 */
void *gpool_alloc(struct guest_pool *p, size_t len, uint64_t *dma);
/* Where grant address @dma is in the guest's view of the pool. */
void *gpool_va(const struct guest_pool *p, uint64_t dma);

#endif
