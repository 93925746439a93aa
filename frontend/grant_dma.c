// SPDX-License-Identifier: GPL-2.0-only
/*
 * DMA operations that grant every page they map to the backend domain.
 *
 * A virtio driver's rings and buffers reach the backend only through these:
 * each mapping takes consecutive grant references, one a page, and its DMA
 * address is the grant address of docs/protocol.md section 3 (bit 63 set, the
 * first reference shifted left by 12, the offset in the page below).  This is
 * the encoding of Linux's grant-dma-ops; we carry our own because Debian's
 * kernels are built without CONFIG_XEN_VIRTIO and do not export those ops, and
 * because the backend domain here is the xenbus device's other end, which may
 * be a driver domain rather than dom0.
 */

#include <linux/dma-map-ops.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xenbus.h>

#include "compat.h"
#include "virtio_xenbus.h"

#define VXB_GRANT_ADDR		BIT_ULL(63)

static dma_addr_t grant_to_dma(grant_ref_t ref)
{
	return VXB_GRANT_ADDR | ((dma_addr_t)ref << XEN_PAGE_SHIFT);
}

static grant_ref_t dma_to_grant(dma_addr_t dma)
{
	return (grant_ref_t)((dma & ~VXB_GRANT_ADDR) >> XEN_PAGE_SHIFT);
}

static domid_t backend_of(struct device *dev)
{
	return to_xenbus_device(dev)->otherend_id;
}

/* Grants @n pages from frame @pfn on; returns the first reference or -errno. */
static int grant_pages(struct device *dev, unsigned long pfn, unsigned int n,
		       bool readonly, grant_ref_t *first)
{
	domid_t backend = backend_of(dev);
	unsigned int i;
	int ret;

	ret = gnttab_alloc_grant_reference_seq(n, first);
	if (ret) {
		dev_err_ratelimited(dev, "no grant references left for %u pages\n", n);
		return ret;
	}
	for (i = 0; i < n; i++)
		gnttab_grant_foreign_access_ref(*first + i, backend,
						pfn_to_gfn(pfn + i), readonly);
	return 0;
}

static void *vxb_dma_alloc(struct device *dev, size_t size,
			   dma_addr_t *dma_handle, gfp_t gfp,
			   unsigned long attrs)
{
	unsigned int n = PFN_UP(size);
	grant_ref_t ref;
	void *vaddr;

	vaddr = alloc_pages_exact(n * PAGE_SIZE, gfp | __GFP_ZERO);
	if (!vaddr)
		return NULL;
	if (grant_pages(dev, PFN_DOWN(virt_to_phys(vaddr)), n, false, &ref)) {
		free_pages_exact(vaddr, n * PAGE_SIZE);
		return NULL;
	}
	*dma_handle = grant_to_dma(ref);
	return vaddr;
}

static void vxb_dma_free(struct device *dev, size_t size, void *vaddr,
			 dma_addr_t dma_handle, unsigned long attrs)
{
	grant_ref_t ref = dma_to_grant(dma_handle);
	unsigned int n = PFN_UP(size), i;

	/*
	 * Each page goes back to the allocator only once the backend has
	 * let go of it; a page it still maps is freed later by the grant
	 * table code, never reused while the backend can write it.
	 */
	for (i = 0; i < n; i++)
		gnttab_end_foreign_access(ref + i,
					  virt_to_page(vaddr + i * PAGE_SIZE));
}

/*
 * Grants the pages under [@phys, @phys + @size): the one mapping of every
 * kernel, whether its ops map pages or physical addresses.  MMIO (another
 * device's registers) has no memory page a PV guest could grant.
 */
static dma_addr_t vxb_dma_map_phys(struct device *dev, phys_addr_t phys,
				   size_t size, enum dma_data_direction dir,
				   unsigned long attrs)
{
	unsigned long offset = offset_in_page(phys);
	grant_ref_t ref;

	if (WARN_ON(dir == DMA_NONE))
		return DMA_MAPPING_ERROR;
	if (attrs & DMA_ATTR_MMIO) {
		dev_err_ratelimited(dev, "cannot grant MMIO at %pa\n", &phys);
		return DMA_MAPPING_ERROR;
	}
	if (grant_pages(dev, PFN_DOWN(phys), PFN_UP(offset + size),
			dir == DMA_TO_DEVICE, &ref))
		return DMA_MAPPING_ERROR;
	return grant_to_dma(ref) + offset;
}

static void vxb_dma_unmap(struct device *dev, dma_addr_t dma_handle,
			  size_t size, enum dma_data_direction dir,
			  unsigned long attrs)
{
	grant_ref_t ref = dma_to_grant(dma_handle);
	unsigned int n = PFN_UP((dma_handle & ~PAGE_MASK) + size), i;

	for (i = 0; i < n; i++) {
		/*
		 * The page is the caller's and goes back to it now: a backend
		 * still mapping it broke the protocol (it unmaps before it
		 * completes a request), so keep the reference out of use.
		 */
		if (!gnttab_end_foreign_access_ref(ref + i)) {
			dev_alert_ratelimited(dev, "backend still maps grant %u after completion: leaking it\n",
					      ref + i);
			continue;
		}
		gnttab_free_grant_reference(ref + i);
	}
}

#ifndef VXB_HAVE_DMA_MAP_PHYS
static dma_addr_t vxb_dma_map_page(struct device *dev, struct page *page,
				   unsigned long offset, size_t size,
				   enum dma_data_direction dir,
				   unsigned long attrs)
{
	return vxb_dma_map_phys(dev, page_to_phys(page) + offset, size, dir,
				attrs);
}
#endif

static int vxb_dma_map_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i) {
		s->dma_address = vxb_dma_map_phys(dev, sg_phys(s), s->length,
						  dir, attrs);
		if (s->dma_address == DMA_MAPPING_ERROR)
			goto undo;
		sg_dma_len(s) = s->length;
	}
	return nents;

undo:
	nents = i;
	for_each_sg(sgl, s, nents, i)
		vxb_dma_unmap(dev, s->dma_address, sg_dma_len(s), dir, attrs);
	return -ENOMEM;
}

static void vxb_dma_unmap_sg(struct device *dev, struct scatterlist *sgl,
			     int nents, enum dma_data_direction dir,
			     unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i)
		vxb_dma_unmap(dev, s->dma_address, sg_dma_len(s), dir, attrs);
}

static int vxb_dma_supported(struct device *dev, u64 mask)
{
	return mask == DMA_BIT_MASK(64);
}

static const struct dma_map_ops vxb_grant_dma_ops = {
	.alloc = vxb_dma_alloc,
	.free = vxb_dma_free,
#ifdef VXB_HAVE_DMA_MAP_PHYS
	.map_phys = vxb_dma_map_phys,
	.unmap_phys = vxb_dma_unmap,
#else
	.map_page = vxb_dma_map_page,
	.unmap_page = vxb_dma_unmap,
#endif
	.map_sg = vxb_dma_map_sg,
	.unmap_sg = vxb_dma_unmap_sg,
	.dma_supported = vxb_dma_supported,
};

void vxb_use_grant_dma(struct xenbus_device *xbdev)
{
	set_dma_ops(&xbdev->dev, &vxb_grant_dma_ops);
	xbdev->dev.coherent_dma_mask = DMA_BIT_MASK(64);
	xbdev->dev.dma_mask = &xbdev->dev.coherent_dma_mask;
}

/* The xenbus device outlives our driver: leave it no pointer into us. */
void vxb_drop_grant_dma(struct xenbus_device *xbdev)
{
	set_dma_ops(&xbdev->dev, NULL);
	xbdev->dev.dma_mask = NULL;
	xbdev->dev.coherent_dma_mask = 0;
}
