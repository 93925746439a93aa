/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A simulated guest domain, as a Linux PV guest with grant DMA ops sees it:
 * memory in pages, a grant table, and a DMA API that grants every page it
 * maps to the backend domain with consecutive references.
 */
#ifndef VX_GUEST_H
#define VX_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

#include "sim/simhv.h"

struct vx_guest {
	uint32_t domid;
	uint32_t backend_domid;
	struct sim_dom *dom;
	struct xs_handle *xs;
	pthread_mutex_t lock;		/* page_used and ref_used, for queue threads */
	uint8_t *page_used;		/* one byte a page */
	uint8_t *ref_used;		/* one byte a grant reference */
	uint32_t leaked_refs;		/* still mapped when freed */
};

struct vx_guest *guest_create(const char *sim_dir, uint32_t domid,
			      uint32_t backend_domid, uint32_t nr_pages);
void guest_destroy(struct vx_guest *g);

/* Zeroed pages granted to the backend; *dma gets their grant address. */
void *guest_dma_alloc(struct vx_guest *g, size_t len, uint64_t *dma);
/* Ends access first; returns -EBUSY (and leaks) if the backend still maps it. */
int guest_dma_free(struct vx_guest *g, void *va, size_t len, uint64_t dma);

/* Grants the pages under [va, va + len) of guest memory. */
int guest_dma_map(struct vx_guest *g, const void *va, size_t len,
		  bool readonly, uint64_t *dma);
int guest_dma_unmap(struct vx_guest *g, uint64_t dma, size_t len);

/* Plain guest memory (not granted), for buffers to map later. */
void *guest_alloc(struct vx_guest *g, size_t len);
void guest_free(struct vx_guest *g, void *va, size_t len);

#endif
