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
 *
 * With a grant pool (docs/protocol.md section 4.4) most mappings cost no
 * grant at all: the device's pool is granted once, coherent allocations are
 * carved from it and streaming mappings bounce through it, so the backend,
 * which maps the pool once, reaches them with no grant operation.  What
 * does not fit in the pool is granted page by page, as without one.
 */

#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
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

/* ---- the grant pool ---- */

/*
 * 512-byte slots: a small buffer (a request header, a status byte, an
 * indirect table) takes one, and every slot is sector-aligned, which the
 * backend's O_DIRECT needs.  A mapping of a page or more starts on a page.
 */
#define VXB_SLOT_SHIFT		9
#define VXB_SLOT_SIZE		BIT(VXB_SLOT_SHIFT)
#define VXB_SLOTS_PER_PAGE	(PAGE_SIZE >> VXB_SLOT_SHIFT)
/* Larger mappings are rare and would crowd out many small ones. */
#define VXB_POOL_MAX_BOUNCE	SZ_64K
/* Each queue's CPU mostly finds a shard of its own: no lock for them all. */
#define VXB_POOL_MAX_SHARDS	16
#define VXB_POOL_SHARD_PAGES	32

struct vxb_pool_shard {
	spinlock_t lock;	/* the fields below */
	unsigned long *used;	/* a bit per slot */
	unsigned int first;	/* the shard's first slot in the pool */
	unsigned int nr_slots;
	unsigned int next;	/* where the next search starts */
} ____cacheline_aligned_in_smp;

struct vxb_pool {
	struct device *dev;
	void *vaddr;
	struct page **pages;
	unsigned int nr_pages;
	grant_ref_t ref;
	dma_addr_t base;	/* the window's first grant address */
	/* Per slot: the guest memory a streaming mapping bounces there. */
	phys_addr_t *orig;
	unsigned int shard_slots;
	unsigned int nr_shards;
	struct vxb_pool_shard shards[];
};

static bool pool_holds(const struct vxb_pool *pool, dma_addr_t dma)
{
	return pool && dma - pool->base < (dma_addr_t)pool->nr_pages << PAGE_SHIFT;
}

static long shard_take(struct vxb_pool_shard *s, unsigned int n,
		       unsigned long align)
{
	unsigned long flags, slot;

	spin_lock_irqsave(&s->lock, flags);
	slot = bitmap_find_next_zero_area(s->used, s->nr_slots, s->next, n,
					  align);
	if (slot >= s->nr_slots && s->next)
		slot = bitmap_find_next_zero_area(s->used, s->nr_slots, 0, n,
						  align);
	if (slot < s->nr_slots) {
		bitmap_set(s->used, slot, n);
		s->next = slot + n < s->nr_slots ? slot + n : 0;
	}
	spin_unlock_irqrestore(&s->lock, flags);
	return slot < s->nr_slots ? (long)(s->first + slot) : -ENOMEM;
}

/* @size bytes of the pool, from this CPU's shard first; a slot or -ENOMEM. */
static long pool_take(struct vxb_pool *pool, size_t size, bool page_aligned)
{
	unsigned int n = DIV_ROUND_UP(size, VXB_SLOT_SIZE);
	unsigned long align = page_aligned || size >= PAGE_SIZE ?
			      VXB_SLOTS_PER_PAGE - 1 : 0;
	unsigned int start = raw_smp_processor_id() % pool->nr_shards, i;
	long slot;

	for (i = 0; i < pool->nr_shards; i++) {
		slot = shard_take(&pool->shards[(start + i) % pool->nr_shards],
				  n, align);
		if (slot >= 0)
			return slot;
	}
	return -ENOMEM;
}

static void pool_give(struct vxb_pool *pool, dma_addr_t dma, size_t size)
{
	unsigned int slot = (dma - pool->base) >> VXB_SLOT_SHIFT;
	struct vxb_pool_shard *s;
	unsigned long flags;

	s = &pool->shards[min(slot / pool->shard_slots, pool->nr_shards - 1)];
	spin_lock_irqsave(&s->lock, flags);
	bitmap_clear(s->used, slot - s->first,
		     DIV_ROUND_UP(size, VXB_SLOT_SIZE));
	spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * Copies [@dma, @dma + @size) of a streaming mapping between the pool and
 * the guest memory it bounces: any part of the mapping, as a sync asks.
 */
static void pool_bounce(struct vxb_pool *pool, dma_addr_t dma, size_t size,
			bool to_pool)
{
	unsigned long off = dma - pool->base;
	phys_addr_t orig = pool->orig[off >> VXB_SLOT_SHIFT] +
			   (off & (VXB_SLOT_SIZE - 1));

	if (to_pool)
		memcpy(pool->vaddr + off, phys_to_virt(orig), size);
	else
		memcpy(phys_to_virt(orig), pool->vaddr + off, size);
}

static dma_addr_t pool_map(struct vxb_pool *pool, phys_addr_t phys,
			   size_t size, unsigned long attrs)
{
	unsigned int i;
	long slot;

	/* Only memory in the kernel's direct map can be copied in and out. */
	if (!size || size > VXB_POOL_MAX_BOUNCE || !pfn_valid(PHYS_PFN(phys)) ||
	    !pfn_valid(PHYS_PFN(phys + size - 1)))
		return DMA_MAPPING_ERROR;
	slot = pool_take(pool, size, false);
	if (slot < 0)
		return DMA_MAPPING_ERROR;
	for (i = 0; i < DIV_ROUND_UP(size, VXB_SLOT_SIZE); i++)
		pool->orig[slot + i] = phys + i * VXB_SLOT_SIZE;
	/*
	 * In for every direction, as swiotlb does: what the device does not
	 * write must not come back at the unmap as another buffer's bytes.
	 */
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		memcpy(pool->vaddr + ((size_t)slot << VXB_SLOT_SHIFT),
		       phys_to_virt(phys), size);
	return pool->base + ((dma_addr_t)slot << VXB_SLOT_SHIFT);
}

static void pool_unmap(struct vxb_pool *pool, dma_addr_t dma, size_t size,
		       enum dma_data_direction dir, unsigned long attrs)
{
	if (dir != DMA_TO_DEVICE && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		pool_bounce(pool, dma, size, false);
	pool_give(pool, dma, size);
}

/**
 * vxb_pool_create - grants a device's pool to its backend
 * @xbdev: the device
 * @nr_pages: pages to grant, with consecutive references
 *
 * Return: the pool, or an ERR_PTR when memory or grant references run out.
 */
struct vxb_pool *vxb_pool_create(struct xenbus_device *xbdev,
				 unsigned int nr_pages)
{
	unsigned int nr_shards, nr_slots = nr_pages * VXB_SLOTS_PER_PAGE, i;
	struct vxb_pool *pool;
	int ret = -ENOMEM;

	nr_shards = clamp(min(num_possible_cpus(),
			      nr_pages / VXB_POOL_SHARD_PAGES),
			  1U, (unsigned int)VXB_POOL_MAX_SHARDS);
	pool = kzalloc(struct_size(pool, shards, nr_shards), GFP_KERNEL);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	pool->dev = &xbdev->dev;
	pool->nr_pages = nr_pages;
	pool->nr_shards = nr_shards;
	/* Whole pages per shard, so page alignment is the same in each. */
	pool->shard_slots = nr_pages / nr_shards * VXB_SLOTS_PER_PAGE;
	pool->orig = kvmalloc_array(nr_slots, sizeof(*pool->orig), GFP_KERNEL);
	pool->pages = kvcalloc(nr_pages, sizeof(*pool->pages), GFP_KERNEL);
	if (!pool->orig || !pool->pages)
		goto err;
	for (i = 0; i < nr_shards; i++) {
		struct vxb_pool_shard *s = &pool->shards[i];

		spin_lock_init(&s->lock);
		s->first = i * pool->shard_slots;
		s->nr_slots = i + 1 < nr_shards ? pool->shard_slots :
			      nr_slots - s->first;
		s->used = bitmap_zalloc(s->nr_slots, GFP_KERNEL);
		if (!s->used)
			goto err;
	}
	for (i = 0; i < nr_pages; i++) {
		pool->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pool->pages[i])
			goto err;
	}
	pool->vaddr = vmap(pool->pages, nr_pages, VM_MAP, PAGE_KERNEL);
	if (!pool->vaddr)
		goto err;
	ret = gnttab_alloc_grant_reference_seq(nr_pages, &pool->ref);
	if (ret)
		goto err;
	for (i = 0; i < nr_pages; i++)
		gnttab_grant_foreign_access_ref(pool->ref + i, backend_of(pool->dev),
						pfn_to_gfn(page_to_pfn(pool->pages[i])),
						0);
	pool->base = grant_to_dma(pool->ref);
	return pool;

err:
	if (pool->vaddr)
		vunmap(pool->vaddr);
	for (i = 0; pool->pages && i < nr_pages; i++)
		if (pool->pages[i])
			__free_page(pool->pages[i]);
	for (i = 0; i < nr_shards; i++)
		bitmap_free(pool->shards[i].used);
	kvfree(pool->pages);
	kvfree(pool->orig);
	kfree(pool);
	return ERR_PTR(ret);
}

/**
 * vxb_pool_destroy - ends the backend's access to a pool and frees it
 * @pool: the pool, with no mapping left in it
 *
 * Call it only once the backend answered a reset (protocol.md 2.2): a page
 * the backend still maps anyway goes back to the allocator only when it
 * lets go, as the grant table code keeps it until then.
 */
void vxb_pool_destroy(struct vxb_pool *pool)
{
	unsigned int i;

	for (i = 0; i < pool->nr_shards; i++) {
		/* An unmap to come would write into freed memory: leak it. */
		if (!bitmap_empty(pool->shards[i].used,
				  pool->shards[i].nr_slots)) {
			dev_err(pool->dev, "grant pool still mapped by the driver at teardown: leaking its %u pages\n",
				pool->nr_pages);
			return;
		}
	}
	vunmap(pool->vaddr);
	for (i = 0; i < pool->nr_pages; i++)
		gnttab_end_foreign_access(pool->ref + i, pool->pages[i]);
	for (i = 0; i < pool->nr_shards; i++)
		bitmap_free(pool->shards[i].used);
	kvfree(pool->pages);
	kvfree(pool->orig);
	kfree(pool);
}

grant_ref_t vxb_pool_ref(const struct vxb_pool *pool)
{
	return pool->ref;
}

unsigned int vxb_pool_pages(const struct vxb_pool *pool)
{
	return pool->nr_pages;
}

/* ---- the DMA ops ---- */

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
	struct vxb_pool *pool = vxb_pool_of(dev);
	unsigned int n = PFN_UP(size);
	grant_ref_t ref;
	void *vaddr;
	long slot;

	slot = pool ? pool_take(pool, size, true) : -ENOMEM;
	if (slot >= 0) {
		vaddr = pool->vaddr + ((size_t)slot << VXB_SLOT_SHIFT);
		memset(vaddr, 0, size);
		*dma_handle = pool->base + ((dma_addr_t)slot << VXB_SLOT_SHIFT);
		return vaddr;
	}
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
	struct vxb_pool *pool = vxb_pool_of(dev);
	grant_ref_t ref = dma_to_grant(dma_handle);
	unsigned int n = PFN_UP(size), i;

	if (pool_holds(pool, dma_handle)) {
		pool_give(pool, dma_handle, size);
		return;
	}
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
	struct vxb_pool *pool = vxb_pool_of(dev);
	unsigned long offset = offset_in_page(phys);
	grant_ref_t ref;
	dma_addr_t dma;

	if (WARN_ON(dir == DMA_NONE))
		return DMA_MAPPING_ERROR;
	if (attrs & DMA_ATTR_MMIO) {
		dev_err_ratelimited(dev, "cannot grant MMIO at %pa\n", &phys);
		return DMA_MAPPING_ERROR;
	}
	/* A full pool is no failure: the mapping is granted as without one. */
	if (pool) {
		dma = pool_map(pool, phys, size, attrs);
		if (dma != DMA_MAPPING_ERROR)
			return dma;
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
	struct vxb_pool *pool = vxb_pool_of(dev);
	grant_ref_t ref = dma_to_grant(dma_handle);
	unsigned int n = PFN_UP((dma_handle & ~PAGE_MASK) + size), i;

	if (pool_holds(pool, dma_handle)) {
		pool_unmap(pool, dma_handle, size, dir, attrs);
		return;
	}
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

/*
 * A driver that keeps a mapping (virtio_net's premapped receive pages)
 * reads what the device wrote through these; granted pages need nothing.
 */
static void vxb_dma_sync_for_cpu(struct device *dev, dma_addr_t dma,
				 size_t size, enum dma_data_direction dir)
{
	struct vxb_pool *pool = vxb_pool_of(dev);

	if (pool_holds(pool, dma) && dir != DMA_TO_DEVICE)
		pool_bounce(pool, dma, size, false);
}

static void vxb_dma_sync_for_device(struct device *dev, dma_addr_t dma,
				    size_t size, enum dma_data_direction dir)
{
	struct vxb_pool *pool = vxb_pool_of(dev);

	if (pool_holds(pool, dma) && dir != DMA_FROM_DEVICE)
		pool_bounce(pool, dma, size, true);
}

static void vxb_dma_sync_sg_for_cpu(struct device *dev,
				    struct scatterlist *sgl, int nents,
				    enum dma_data_direction dir)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i)
		vxb_dma_sync_for_cpu(dev, s->dma_address, sg_dma_len(s), dir);
}

static void vxb_dma_sync_sg_for_device(struct device *dev,
				       struct scatterlist *sgl, int nents,
				       enum dma_data_direction dir)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i)
		vxb_dma_sync_for_device(dev, s->dma_address, sg_dma_len(s),
					dir);
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
	.sync_single_for_cpu = vxb_dma_sync_for_cpu,
	.sync_single_for_device = vxb_dma_sync_for_device,
	.sync_sg_for_cpu = vxb_dma_sync_sg_for_cpu,
	.sync_sg_for_device = vxb_dma_sync_sg_for_device,
	.dma_supported = vxb_dma_supported,
};

void vxb_use_grant_dma(struct xenbus_device *xbdev)
{
	set_dma_ops(&xbdev->dev, &vxb_grant_dma_ops);
	xbdev->dev.dma_mask = &xbdev->dev.coherent_dma_mask;
	/*
	 * Through the DMA API, not by hand: from Linux 6.11 on it also
	 * decides whether the device's syncs reach the ops, which the pool
	 * needs.
	 */
	WARN_ON(dma_set_mask_and_coherent(&xbdev->dev, DMA_BIT_MASK(64)));
}

/* The xenbus device outlives our driver: leave it no pointer into us. */
void vxb_drop_grant_dma(struct xenbus_device *xbdev)
{
	set_dma_ops(&xbdev->dev, NULL);
	xbdev->dev.dma_mask = NULL;
	xbdev->dev.coherent_dma_mask = 0;
}
