// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reaching guest memory through grants: every address is a grant address
 * (protocol.md 3), checked before any grant operation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

/* Scratch segments for one batched copy, per thread. */
static __thread xengnttab_grant_copy_segment_t *copy_segs;
static __thread size_t copy_segs_room;
static __thread size_t copy_segs_used;	/* the batch gmem_copy_run will do */

/*
 * The pieces of the batch inside the pool: plain copies, done when the
 * batch runs too, so that the caller may still change its buffer meanwhile.
 */
struct pool_copy {
	void *dst;
	const void *src;
	size_t len;
};
static __thread struct pool_copy *pool_copies;
static __thread size_t pool_copies_room;
static __thread size_t pool_copies_used;
/* The queue's counter of grant calls: one writer, the queue's thread. */
static __thread uint64_t *grant_ops;

void gmem_count_grant_ops(uint64_t *counter)
{
	grant_ops = counter;
}

static void count_grant_op(void)
{
	if (grant_ops)
		(*grant_ops)++;
}

static bool pool_copy_add(void *dst, const void *src, size_t len)
{
	if (pool_copies_used == pool_copies_room) {
		size_t room = pool_copies_room ? 2 * pool_copies_room : 16;
		void *p = realloc(pool_copies, room * sizeof(*pool_copies));

		if (!p)
			return false;
		pool_copies = p;
		pool_copies_room = room;
	}
	pool_copies[pool_copies_used++] = (struct pool_copy){ dst, src, len };
	return true;
}

static void batch_drop(void)
{
	copy_segs_used = 0;
	pool_copies_used = 0;
}

static xengnttab_grant_copy_segment_t *segs_room(size_t n)
{
	if (n > copy_segs_room) {
		void *p = realloc(copy_segs, n * sizeof(*copy_segs));

		if (!p)
			return NULL;
		copy_segs = p;
		copy_segs_room = n;
	}
	return copy_segs;
}

void gmem_thread_exit(void)
{
	batch_drop();
	free(copy_segs);
	copy_segs = NULL;
	copy_segs_room = 0;
	free(pool_copies);
	pool_copies = NULL;
	pool_copies_room = 0;
	grant_ops = NULL;
}

/* Appends the page pieces of @len bytes at grant address @addr. */
static int add_pieces(struct vx_device *dev, uint64_t addr, uint64_t len,
		      uint8_t *buf, bool to_guest, size_t *n)
{
	struct vx_grant_range r;
	uint32_t i, off;
	void *p = pool_ptr(dev, addr, len);

	if (p)
		return pool_copy_add(to_guest ? p : buf, to_guest ? buf : p, len) ? 0 : -1;
	if (!vx_grant_range(addr, len, &r))
		return -1;
	if (!segs_room(*n + r.npages))
		return -1;
	off = r.offset;
	for (i = 0; i < r.npages; i++) {
		xengnttab_grant_copy_segment_t *s = &copy_segs[(*n)++];
		uint32_t chunk = VX_PAGE_SIZE - off;

		if (chunk > len)
			chunk = len;
		memset(s, 0, sizeof(*s));
		if (to_guest) {
			s->source.virt = buf;
			s->dest.foreign.ref = r.first_ref + i;
			s->dest.foreign.offset = off;
			s->dest.foreign.domid = dev->guest;
			s->flags = GNTCOPY_dest_gref;
		} else {
			s->source.foreign.ref = r.first_ref + i;
			s->source.foreign.offset = off;
			s->source.foreign.domid = dev->guest;
			s->dest.virt = buf;
			s->flags = GNTCOPY_source_gref;
		}
		s->len = chunk;
		buf += chunk;
		len -= chunk;
		off = 0;
	}
	return 0;
}

/* Does the batch's copies from entry @segs0 and pool copy @pool0 on. */
static int run_from(struct vx_device *dev, size_t segs0, size_t pool0)
{
	size_t i, n = copy_segs_used - segs0;

	for (i = pool0; i < pool_copies_used; i++)
		memcpy(pool_copies[i].dst, pool_copies[i].src, pool_copies[i].len);
	if (!n)
		return 0;
	count_grant_op();
	if (xen_gnttab_copy(dev->gnttab, n, copy_segs + segs0))
		return -1;
	for (i = segs0; i < copy_segs_used; i++)
		if (copy_segs[i].status != GNTST_okay)
			return -1;
	return 0;
}

/*
 * Does the copies added since @segs0 and @pool0 (if adding them, @added,
 * succeeded) and takes them out of the batch again: the batch being built
 * before them stays as it was.
 */
static int run_added(struct vx_device *dev, size_t segs0, size_t pool0, int added)
{
	int ret = added ? added : run_from(dev, segs0, pool0);

	copy_segs_used = segs0;
	pool_copies_used = pool0;
	return ret;
}

int gmem_copy_run(struct vx_device *dev)
{
	int ret = run_from(dev, 0, 0);

	batch_drop();
	return ret;
}

void gmem_copy_cancel(void)
{
	batch_drop();
}

/* Adds the copies of @len bytes of @segs from @skip on to the batch. */
static int add_range(struct vx_device *dev, const struct vq_seg *segs,
		     unsigned int nsegs, uint64_t skip, uint64_t len, uint8_t *p,
		     bool to_guest)
{
	unsigned int i;

	for (i = 0; i < nsegs && len; i++) {
		uint64_t take;

		if (skip >= segs[i].len) {
			skip -= segs[i].len;
			continue;
		}
		take = segs[i].len - skip;
		if (take > len)
			take = len;
		if (add_pieces(dev, segs[i].addr + skip, take, p, to_guest,
			       &copy_segs_used))
			return -1;
		p += take;
		len -= take;
		skip = 0;
	}
	return len ? -1 : 0;
}

int gmem_copy_add(struct vx_device *dev, const struct vq_seg *segs,
		  unsigned int nsegs, uint64_t skip, uint64_t len, void *buf,
		  bool to_guest)
{
	if (!add_range(dev, segs, nsegs, skip, len, buf, to_guest))
		return 0;
	batch_drop();
	return -1;
}

/*
 * A copy done at once, after the batch being built (a receive frame's
 * chains, whose next pop may read an indirect table): the batch stays.
 */
int gmem_copy(struct vx_device *dev, const struct vq_seg *segs,
	      unsigned int nsegs, uint64_t skip, uint64_t len, void *buf,
	      bool to_guest)
{
	size_t segs0 = copy_segs_used, pool0 = pool_copies_used;

	return run_added(dev, segs0, pool0,
			 add_range(dev, segs, nsegs, skip, len, buf, to_guest));
}

int gmem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct vx_device *dev = opaque;
	size_t segs0 = copy_segs_used, pool0 = pool_copies_used;

	return run_added(dev, segs0, pool0,
			 add_pieces(dev, addr, len, buf, false, &copy_segs_used));
}

void *gmem_map(struct vx_device *dev, uint64_t addr, uint64_t len,
	       bool writable, struct gmap *m)
{
	uint32_t refs[64], *r = refs, i;
	struct vx_grant_range gr;
	void *p = pool_ptr(dev, addr, len);

	/* Mapped already, for as long as the queues run. */
	if (p) {
		m->base = NULL;
		m->npages = 0;
		return p;
	}
	if (!vx_grant_range(addr, len, &gr))
		return NULL;
	if (gr.npages > 64) {
		r = malloc(gr.npages * sizeof(*r));
		if (!r)
			return NULL;
	}
	for (i = 0; i < gr.npages; i++)
		r[i] = gr.first_ref + i;
	count_grant_op();
	m->base = xen_gnttab_map(dev->gnttab, gr.npages, r, writable);
	m->npages = gr.npages;
	if (r != refs)
		free(r);
	return m->base ? (uint8_t *)m->base + gr.offset : NULL;
}

/*
 * The pages of the pieces @iov has no place for yet (those outside the
 * pool), one after the other, as a mapping of them all would hold them:
 * their number, and with @refs their references; 0 for a piece that is no
 * grant range.
 */
static uint32_t piece_refs(const struct vq_seg *pieces, const struct iovec *iov,
			   unsigned int n, uint32_t *refs)
{
	struct vx_grant_range gr;
	uint32_t total = 0, i, j;

	for (i = 0; i < n; i++) {
		if (iov[i].iov_base)
			continue;
		if (!vx_grant_range(pieces[i].addr, pieces[i].len, &gr) ||
		    gr.npages > UINT32_MAX - total)
			return 0;
		for (j = 0; refs && j < gr.npages; j++)
			refs[total + j] = gr.first_ref + j;
		total += gr.npages;
	}
	return total;
}

int gmem_map_pieces(struct vx_device *dev, const struct vq_seg *pieces,
		    unsigned int n, bool writable, struct iovec *iov,
		    struct gmap *m)
{
	uint32_t npages, page = 0, *refs;
	struct vx_grant_range gr;
	bool pooled = true;
	unsigned int i;

	m->base = NULL;
	m->npages = 0;
	for (i = 0; i < n; i++) {
		iov[i].iov_len = pieces[i].len;
		iov[i].iov_base = pool_ptr(dev, pieces[i].addr, pieces[i].len);
		pooled &= iov[i].iov_base != NULL;
	}
	if (pooled)
		return 0;
	npages = piece_refs(pieces, iov, n, NULL);
	refs = npages ? malloc(npages * sizeof(*refs)) : NULL;
	if (!refs)
		return -1;
	piece_refs(pieces, iov, n, refs);
	count_grant_op();
	m->base = xen_gnttab_map(dev->gnttab, npages, refs, writable);
	free(refs);
	if (!m->base)
		return -1;
	m->npages = npages;
	for (i = 0; i < n; i++) {
		if (iov[i].iov_base)
			continue;
		vx_grant_range(pieces[i].addr, pieces[i].len, &gr);
		iov[i].iov_base = (uint8_t *)m->base +
				  (size_t)page * VX_PAGE_SIZE + gr.offset;
		page += gr.npages;
	}
	return 0;
}

void gmem_unmap(struct vx_device *dev, struct gmap *m)
{
	if (m->base) {
		count_grant_op();
		xen_gnttab_unmap(dev->gnttab, m->base, m->npages);
	}
	m->base = NULL;
}
