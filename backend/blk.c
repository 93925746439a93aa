// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk over a file or a block device, with io_uring so that each
 * queue keeps many requests in flight (protocol.md 5).
 *
 * Parse config (blk_open), publish features and config space, handle a
 * request (blk_handle_chain), complete it (blk_complete).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon.h"
#include "device.h"
#include "log.h"
#include "sysfs.h"

#define BLK_SIZE_MAX		65536U		/* bytes in one segment */
#define BLK_SEG_MAX		126U		/* data segments in one request */
#define BLK_MAX_DISCARD		(1U << 22)	/* sectors in one discard */
#define BLK_MAX_WRITE_ZEROES	(1U << 16)	/* sectors in one write-zeroes */
#define BLK_URING_DEPTH		256U
/* grant-access = auto: data from this size on is mapped, not copied. */
#define BLK_MAP_MIN		(64U << 10)
/*
 * Bytes of guest data a queue holds at once, bounced or mapped: depth and
 * request size are each bounded, their product (2 GiB) is not a budget.
 * The largest request fits alone, so a queue always makes progress.
 */
#define BLK_QUEUE_DATA_MAX	(8U << 20)
_Static_assert((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX <= BLK_QUEUE_DATA_MAX,
	       "a request of seg_max x size_max must fit in a queue's budget");
#define BLK_ID_BYTES		20		/* VIRTIO_BLK_ID_BYTES */

struct blk_disk {
	int fd;
	bool direct;			/* opened with O_DIRECT */
	/*
	 * Whether the medium may read and write guest memory itself (grant
	 * maps, the pool): not over a network, whose stack may hold the pages
	 * past the request (xl-disk-configuration(5), direct-io-safe).
	 */
	bool guest_io;
	const char *remote;		/* why not, for the log */
	bool is_blockdev;
	uint64_t sectors;
	uint32_t logical_block;
	/* What one O_DIRECT I/O may be (0: no limit known): blk_submit_rw. */
	uint32_t io_max_bytes;
	uint32_t io_max_pages;
	char serial[BLK_ID_BYTES];
};

struct blk_req {
	struct blk_queue *bq;
	uint16_t head;
	uint32_t type;			/* all 32 bits: 0x101 is no write */
	uint8_t status;
	uint32_t in_len;		/* bytes written into the chain */
	uint64_t data_len;
	uint64_t held;			/* of bq->data_held */
	void *bounce;
	struct vq_seg *data_segs;	/* the chain's data segments */
	unsigned int data_nsegs;
	uint64_t data_skip;		/* header bytes before the data */
	struct vq_seg status_seg;
	struct gmap map;		/* the data outside the pool, when mapped */
	bool in_pool;			/* iov is all in the pool's mapping */
	struct iovec *iov;
	unsigned int niov;		/* of iov, for the medium */
	unsigned int *part_end;		/* cut: where each part's iovecs end */
	/* The request's I/Os in flight, and what those done so far did. */
	unsigned int parts_left;
	uint32_t part_bytes;
	int part_error;
	struct blk_req *next_free;
};

struct blk_queue {
	struct io_uring ring;
	bool pool_fixed;		/* the pool is the ring's buffer 0 */
	int event_fd;
	unsigned int depth;
	unsigned int in_flight;
	uint64_t data_held;		/* bytes of requests in flight, to the budget */
	bool over_budget;		/* a request waits for data to come back */
	struct budget_waiter waiter;	/* of the guest's budget, on event_fd */
	struct blk_req *reqs;
	struct blk_req *free_reqs;
	struct vq_seg *seg_pool;	/* depth x queue size segments */
};

static struct blk_disk *disk_of(struct vx_device *dev)
{
	return dev->model_priv;
}

/* ---- configuration ---- */

/*
 * A medium behind a network stack, as far as the backend can tell: a
 * network or FUSE file system (sshfs and glusterfs are FUSE), or a network
 * block device.  iSCSI and FC disks look local: the toolstack says so with
 * direct-io-safe = 0.
 */
static const char *remote_medium(int fd, const struct stat *st)
{
	static const struct { long magic; const char *name; } fs[] = {
		{ 0x6969, "nfs" }, { 0xff534d42, "cifs" }, { 0xfe534d42, "smb2" },
		{ 0x517b, "smb" }, { 0x00c36400, "ceph" }, { 0x01021997, "9p" },
		{ 0x5346414f, "afs" }, { 0x6b414653, "afs" }, { 0x65735546, "fuse" },
		{ 0x0bd00bd0, "lustre" }, { 0x20030528, "orangefs" },
		{ 0x73757245, "coda" },
	};
	static const char *const blkdevs[] = { "nbd", "rbd", "drbd" };
	char link[PATH_MAX], path[64];
	struct statfs sfs;
	unsigned int i;
	ssize_t n;

	if (S_ISBLK(st->st_mode)) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u",
			 major(st->st_rdev), minor(st->st_rdev));
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			const char *name;

			link[n] = 0;
			name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
			for (i = 0; i < sizeof(blkdevs) / sizeof(blkdevs[0]); i++)
				if (!strncmp(name, blkdevs[i], strlen(blkdevs[i])))
					return blkdevs[i];
		}
		return NULL;
	}
	if (fstatfs(fd, &sfs))
		return "unknown";
	for (i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if ((unsigned int)sfs.f_type == (unsigned int)fs[i].magic)
			return fs[i].name;
	return NULL;
}

/*
 * The block layer fails a nowait bio it would have to split, and io_uring
 * then does the whole I/O again from a worker thread of its own (pinning
 * every page twice, a thread switch more).  So the backend cuts an O_DIRECT
 * request into I/Os the medium takes whole: at most its queue's
 * max_sectors_kb and max_segments (a partition's are its disk's; a file's,
 * those of the device under its file system).  Odd limits are not cut for.
 */
static void read_io_limits(struct blk_disk *disk, const struct stat *st)
{
	static const char *const queue[] = { "queue", "../queue" };
	dev_t d = S_ISBLK(st->st_mode) ? st->st_rdev : st->st_dev;
	uint64_t kb, segs;
	char path[96];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/max_sectors_kb",
			 major(d), minor(d), queue[i]);
		if (!sysfs_read_u64(path, &kb))
			continue;
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/max_segments",
			 major(d), minor(d), queue[i]);
		if (!sysfs_read_u64(path, &segs))
			continue;
		if (kb < 64 || segs < 16)
			return;
		disk->io_max_bytes = kb < BLK_QUEUE_DATA_MAX / 1024 ? kb * 1024 :
								  BLK_QUEUE_DATA_MAX;
		disk->io_max_pages = segs < UINT16_MAX ? segs : UINT16_MAX;
		return;
	}
}

static int blk_open_medium(struct vx_device *dev, struct blk_disk *disk,
			   const char *path)
{
	int flags = (dev->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	disk->fd = open(path, flags | O_DIRECT);
	disk->direct = disk->fd >= 0;
	if (disk->fd < 0 && errno == EINVAL)	/* tmpfs and friends */
		disk->fd = open(path, flags);
	if (disk->fd < 0) {
		dev_err(dev, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(disk->fd, &st))
		goto err;
	disk->logical_block = 512;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;
		int lbs;

		disk->is_blockdev = true;
		if (ioctl(disk->fd, BLKGETSIZE64, &bytes) ||
		    ioctl(disk->fd, BLKSSZGET, &lbs))
			goto err;
		disk->sectors = bytes / 512;
		disk->logical_block = lbs;
	} else if (S_ISREG(st.st_mode)) {
		disk->sectors = st.st_size / 512;
	} else {
		dev_err(dev, "%s is neither a file nor a block device", path);
		close(disk->fd);
		return -1;
	}
	disk->remote = remote_medium(disk->fd, &st);
	disk->guest_io = !disk->remote;
	if (disk->direct)
		read_io_limits(disk, &st);
	return 0;
err:
	dev_err(dev, "cannot size %s: %s", path, strerror(errno));
	close(disk->fd);
	return -1;
}

static void blk_fill_config(struct vx_device *dev, struct blk_disk *disk)
{
	struct virtio_blk_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(disk->sectors);
	cfg.size_max = htole32(BLK_SIZE_MAX);
	cfg.seg_max = htole32(BLK_SEG_MAX);
	cfg.blk_size = htole32(disk->logical_block);
	cfg.num_queues = htole16(dev->request_queues);
	cfg.max_discard_sectors = htole32(BLK_MAX_DISCARD);
	cfg.max_discard_seg = htole32(1);
	cfg.discard_sector_alignment = htole32(disk->logical_block / 512);
	cfg.max_write_zeroes_sectors = htole32(BLK_MAX_WRITE_ZEROES);
	cfg.max_write_zeroes_seg = htole32(1);
	cfg.write_zeroes_may_unmap = 1;
	memcpy(dev->config, &cfg, sizeof(cfg));
	dev->config_len = sizeof(cfg);
}

static int blk_open(struct vx_device *dev)
{
	struct blk_disk *disk = calloc(1, sizeof(*disk));
	char *path, *mode, *serial, *safe;

	if (!disk)
		return -1;
	path = backend_read(dev, "params");
	safe = backend_read(dev, "direct-io-safe");
	mode = backend_read(dev, "mode");
	serial = backend_read(dev, "serial");
	if (!path || !*path) {
		dev_err(dev, "no params key: nothing to serve");
		goto err;
	}
	if (mode && strcmp(mode, "r") && strcmp(mode, "w")) {
		dev_err(dev, "mode must be r or w, not '%s'", mode);
		goto err;
	}
	dev->readonly = mode && !strcmp(mode, "r");
	if (blk_open_medium(dev, disk, path))
		goto err;
	if (safe && (!strcmp(safe, "0") || !strcmp(safe, "1"))) {
		disk->guest_io = *safe == '1';
		if (!disk->guest_io && !disk->remote)
			disk->remote = "direct-io-safe = 0";
	} else if (safe) {
		dev_err(dev, "direct-io-safe must be 0 or 1, not '%s'", safe);
		close(disk->fd);
		goto err;
	}
	/* The id is 20 bytes, NUL-padded, not necessarily NUL-terminated. */
	if (serial)
		memcpy(disk->serial, serial, strnlen(serial, sizeof(disk->serial)));

	dev->model_priv = disk;
	dev->features |= VX_FEATURE(VIRTIO_BLK_F_SIZE_MAX) |
			 VX_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
			 VX_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |
			 VX_FEATURE(VIRTIO_BLK_F_FLUSH) |
			 VX_FEATURE(VIRTIO_BLK_F_MQ);
	if (dev->readonly)
		dev->features |= VX_FEATURE(VIRTIO_BLK_F_RO);
	else
		dev->features |= VX_FEATURE(VIRTIO_BLK_F_DISCARD) |
				 VX_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES);
	dev->max_queues = dev->request_queues;
	blk_fill_config(dev, disk);
	dev_info(dev, "blk: %s, %llu sectors, %s%s%s%s%s, I/O of at most %u KiB and %u pages",
		 path, (unsigned long long)disk->sectors,
		 dev->readonly ? "read-only" : "read-write",
		 disk->direct ? ", O_DIRECT" : "",
		 disk->guest_io ? "" : ", guest memory bounced (",
		 disk->guest_io ? "" : disk->remote, disk->guest_io ? "" : ")",
		 (disk->io_max_bytes ?: BLK_QUEUE_DATA_MAX) / 1024,
		 disk->io_max_pages ?: BLK_QUEUE_DATA_MAX / VX_PAGE_SIZE);
	free(path);
	free(mode);
	free(serial);
	free(safe);
	return 0;
err:
	free(path);
	free(mode);
	free(serial);
	free(safe);
	free(disk);
	return -1;
}

static void blk_close(struct vx_device *dev)
{
	struct blk_disk *disk = disk_of(dev);

	if (!disk)
		return;
	close(disk->fd);
	free(disk);
	dev->model_priv = NULL;
}

/* ---- queues ---- */

/*
 * The pool as the ring's fixed buffer: the kernel pins its pages once, here,
 * and not for each I/O, one by one as it must on a PV dom0, whose grant
 * mappings are special PTEs that get_user_pages_fast cannot take (seen on
 * Linux 6.12).  Linux 6.1's io_uring takes no device's mapping (gntdev's):
 * there each I/O pins its pages, as outside the pool.
 */
static void blk_register_pool(struct vx_queue *q, struct blk_queue *bq)
{
	struct vx_device *dev = q->dev;
	struct iovec window = { dev->pool, (size_t)dev->pool_pages * VX_PAGE_SIZE };
	int r;

	if (!dev->pool || !disk_of(dev)->guest_io)
		return;
	r = io_uring_register_buffers(&bq->ring, &window, 1);
	bq->pool_fixed = !r;
	if (q->index == 0) {
		if (r)
			dev_info(dev, "pool not registered with io_uring (%s): each I/O pins its pages",
				 strerror(-r));
		else
			dev_info(dev, "pool registered with io_uring: its I/O pins no page");
	}
}

static int blk_queue_start(struct vx_queue *q)
{
	struct blk_queue *bq = calloc(1, sizeof(*bq));
	unsigned int i;

	if (!bq)
		return -1;
	bq->depth = q->size < BLK_URING_DEPTH ? q->size : BLK_URING_DEPTH;
	bq->reqs = calloc(bq->depth, sizeof(*bq->reqs));
	bq->seg_pool = calloc((size_t)bq->depth * q->size, sizeof(*bq->seg_pool));
	if (!bq->reqs || !bq->seg_pool)
		goto err_free;
	if (io_uring_queue_init(bq->depth, &bq->ring, 0))
		goto err_free;
	bq->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bq->event_fd < 0 || io_uring_register_eventfd(&bq->ring, bq->event_fd))
		goto err_ring;
	bq->waiter.fd = bq->event_fd;
	blk_register_pool(q, bq);
	for (i = 0; i < bq->depth; i++) {
		struct blk_req *r = &bq->reqs[i];

		r->bq = bq;
		r->data_segs = &bq->seg_pool[(size_t)i * q->size];
		r->next_free = bq->free_reqs;
		bq->free_reqs = r;
	}
	q->model_priv = bq;
	return 0;

err_ring:
	if (bq->event_fd >= 0)
		close(bq->event_fd);
	io_uring_queue_exit(&bq->ring);
err_free:
	free(bq->seg_pool);
	free(bq->reqs);
	free(bq);
	return -1;
}

static int blk_completion_fd(struct vx_queue *q)
{
	struct blk_queue *bq = q->model_priv;

	return bq->event_fd;
}

static bool blk_completions_ready(struct vx_queue *q)
{
	struct blk_queue *bq = q->model_priv;

	return io_uring_cq_ready(&bq->ring) > 0;
}

static unsigned int blk_queue_room(struct vx_queue *q)
{
	struct blk_queue *bq = q->model_priv;

	return bq->over_budget ? 0 : bq->depth - bq->in_flight;
}

static void req_release(struct vx_queue *q, struct blk_req *r)
{
	struct blk_queue *bq = q->model_priv;

	gmem_unmap(q->dev, &r->map);
	free(r->iov);
	free(r->bounce);
	free(r->part_end);
	r->iov = NULL;
	r->bounce = NULL;
	r->part_end = NULL;
	r->niov = 0;
	r->in_pool = false;
	bq->data_held -= r->held;
	budget_give(q->dev->budget, r->held);
	r->held = 0;
	bq->over_budget = false;
	r->next_free = bq->free_reqs;
	bq->free_reqs = r;
	bq->in_flight--;
}

/* Writes the status byte and hands the chain back. */
/*
 * Writes the status byte, in the same grant-copy call as anything the caller
 * queued with gmem_copy_add (a read's data), and completes the request.
 */
static int req_finish(struct vx_queue *q, struct blk_req *r)
{
	int ret = 0;

	if (gmem_copy_add(q->dev, &r->status_seg, 1, 0, 1, &r->status, true) ||
	    gmem_copy_run(q->dev)) {
		queue_fail(q, "request %u: data or status cannot be written (grant refused)",
			   r->head);
		ret = -1;
	} else {
		queue_complete(q, r->head, r->in_len + 1);
	}
	req_release(q, r);
	return ret;
}

static int req_fail(struct vx_queue *q, struct blk_req *r, uint8_t status)
{
	r->status = status;
	r->in_len = 0;
	return req_finish(q, r);
}

/* Copies the data segments of the chain into the request. */
static void req_take_data(struct blk_req *r, const struct vq_chain *c,
			  unsigned int first, unsigned int count)
{
	memcpy(r->data_segs, &c->segs[first], count * sizeof(*r->data_segs));
	r->data_nsegs = count;
}

static bool io_aligned(const struct blk_disk *disk, const struct iovec *iov,
		       unsigned int n)
{
	unsigned int i;

	if (!disk->direct)
		return true;
	for (i = 0; i < n; i++)
		if ((uintptr_t)iov[i].iov_base % disk->logical_block ||
		    iov[i].iov_len % disk->logical_block)
			return false;
	return true;
}

/*
 * Cuts the data segments down to the data itself (data_skip bytes off the
 * front, what is past data_len off the back), so that each is one piece
 * for the medium.
 */
static void req_trim_data(struct blk_req *r)
{
	uint64_t skip = r->data_skip, left = r->data_len;
	unsigned int i, n = 0;

	for (i = 0; i < r->data_nsegs && left; i++) {
		struct vq_seg s = r->data_segs[i];

		if (skip >= s.len) {
			skip -= s.len;
			continue;
		}
		s.addr += skip;
		s.len -= skip;
		if (s.len > left)
			s.len = left;
		r->data_segs[n++] = s;
		left -= s.len;
		skip = 0;
	}
	r->data_nsegs = n;
	r->data_skip = 0;
}

/*
 * The (trimmed) data as iovecs for the medium: in the pool's mapping, and
 * unless @pool_only, the rest in one grant mapping of its own (r->map).
 * -1 when a piece cannot be reached so.
 */
static int req_data_iov(struct vx_queue *q, struct blk_req *r, bool writable,
			bool pool_only)
{
	unsigned int i;

	r->iov = calloc(r->data_nsegs, sizeof(*r->iov));
	if (!r->iov)
		return -1;
	if (!pool_only) {
		if (gmem_map_pieces(q->dev, r->data_segs, r->data_nsegs,
				    writable, r->iov, &r->map))
			return -1;
		r->niov = r->data_nsegs;
		return 0;
	}
	/* protocol.md 4.4: no grant operation, no bounce, no budget. */
	for (i = 0; i < r->data_nsegs; i++) {
		r->iov[i].iov_base = pool_ptr(q->dev, r->data_segs[i].addr,
					      r->data_segs[i].len);
		r->iov[i].iov_len = r->data_segs[i].len;
		if (!r->iov[i].iov_base)
			return -1;
	}
	r->niov = r->data_nsegs;
	return 0;
}

/* Lets go of what req_data_iov reached, for the bounce buffer instead. */
static void req_drop_iov(struct vx_queue *q, struct blk_req *r)
{
	gmem_unmap(q->dev, &r->map);
	free(r->iov);
	r->iov = NULL;
	r->niov = 0;
}

/*
 * Whether the medium reads and writes a request's data in guest memory
 * (protocol.md 4.3): never over a network; in map mode always; in auto
 * mode from BLK_MAP_MIN bytes on, where a map and an unmap cost less than
 * copying the data twice (into the backend's buffer, then to the medium).
 */
static bool req_maps(struct vx_device *dev, const struct blk_req *r)
{
	if (!disk_of(dev)->guest_io)
		return false;
	return dev->access == GRANT_MAP ||
	       (dev->access == GRANT_AUTO && r->data_len >= BLK_MAP_MIN);
}

/*
 * An SQE for one of @r's I/Os (or NULL: the queue fails); the request
 * completes when the last of them does.  A request cut in many parts may
 * fill the submission ring: what is in it then goes to the kernel first.
 */
static struct io_uring_sqe *blk_sqe(struct vx_queue *q, struct blk_req *r)
{
	struct blk_queue *bq = q->model_priv;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bq->ring);

	if (!sqe && io_uring_submit(&bq->ring) >= 0)
		sqe = io_uring_get_sqe(&bq->ring);
	if (!sqe) {
		queue_fail(q, "request %u: io_uring takes no more I/O", r->head);
		if (!r->parts_left)
			req_release(q, r);
		return NULL;
	}
	io_uring_sqe_set_data(sqe, r);
	r->parts_left++;
	return sqe;
}

/* Counts an I/O's result in; true, with the request's in @res, at the last. */
static bool req_part_done(struct blk_req *r, int *res)
{
	if (*res < 0)
		r->part_error = *res;
	else
		r->part_bytes += *res;
	if (--r->parts_left)
		return false;
	*res = r->part_error ?: (int)r->part_bytes;
	return true;
}

/* The pages [@p, @p + @len) touches: what it costs of max_segments. */
static size_t span_pages(const void *p, size_t len)
{
	return ((uintptr_t)p % VX_PAGE_SIZE + len + VX_PAGE_SIZE - 1) / VX_PAGE_SIZE;
}

static bool push_iov(struct iovec **v, unsigned int *n, size_t *room,
		     void *base, size_t len)
{
	if (*n == *room) {
		size_t grow = *room ? 2 * *room : 16;
		void *p = realloc(*v, grow * sizeof(**v));

		if (!p)
			return false;
		*v = p;
		*room = grow;
	}
	(*v)[(*n)++] = (struct iovec){ base, len };
	return true;
}

/*
 * Cuts r->iov into parts the medium takes whole (read_io_limits): each at
 * most io_max_bytes and io_max_pages pages, a piece counting every page it
 * touches, cut on logical blocks.  r->iov becomes the cut pieces, and
 * r->part_end[k] the end of part k's; returns the number of parts, or -1.
 */
static int req_cut(const struct blk_disk *disk, struct blk_req *r)
{
	size_t bytes = 0, pages = 0, room = 0, in_page, take, len;
	unsigned int i, n = 0, parts = 0;
	struct iovec *out = NULL;
	uint8_t *p;

	r->part_end = calloc(r->data_len / disk->logical_block + 1,
			     sizeof(*r->part_end));
	if (!r->part_end)
		return -1;
	for (i = 0; i < r->niov; i++) {
		p = r->iov[i].iov_base;
		len = r->iov[i].iov_len;
		while (len) {
			in_page = (uintptr_t)p % VX_PAGE_SIZE;
			take = len < disk->io_max_bytes - bytes ? len :
				   disk->io_max_bytes - bytes;
			if (take > (disk->io_max_pages - pages) * VX_PAGE_SIZE - in_page)
				take = (disk->io_max_pages - pages) * VX_PAGE_SIZE - in_page;
			take -= take % disk->logical_block;
			if (take) {
				if (!push_iov(&out, &n, &room, p, take))
					goto err;
				bytes += take;
				pages += span_pages(p, take);
				p += take;
				len -= take;
			} else if (!bytes) {
				goto err;	/* a block past the limits: no cut */
			}
			if (!take || bytes == disk->io_max_bytes ||
			    pages == disk->io_max_pages) {
				r->part_end[parts++] = n;
				bytes = 0;
				pages = 0;
			}
		}
	}
	if (bytes)
		r->part_end[parts++] = n;
	free(r->iov);
	r->iov = out;
	r->niov = n;
	return parts;
err:
	free(out);
	free(r->part_end);
	r->part_end = NULL;
	return -1;
}

/* Whether @r's data is more than the medium takes in one I/O. */
static bool req_needs_cut(const struct blk_disk *disk, const struct blk_req *r)
{
	size_t pages = 0;
	unsigned int i;

	if (!disk->io_max_bytes)
		return false;
	if (r->data_len > disk->io_max_bytes)
		return true;
	for (i = 0; i < r->niov; i++)
		pages += span_pages(r->iov[i].iov_base, r->iov[i].iov_len);
	return pages > disk->io_max_pages;
}

/*
 * A part in the registered pool: an I/O for each run of pieces that follow
 * one another in the window (a 4 KiB request's one piece: one I/O).
 */
static int blk_submit_fixed(struct vx_queue *q, struct blk_req *r,
			    unsigned int first, unsigned int end, uint64_t *off,
			    int rw_flags)
{
	int fd = disk_of(q->dev)->fd;

	while (first < end) {
		uint8_t *base = r->iov[first].iov_base;
		struct io_uring_sqe *sqe = blk_sqe(q, r);
		size_t len = 0;

		if (!sqe)
			return -1;
		do
			len += r->iov[first++].iov_len;
		while (first < end && r->iov[first].iov_base == base + len);
		if (r->type == VIRTIO_BLK_T_OUT)
			io_uring_prep_write_fixed(sqe, fd, base, len, *off, 0);
		else
			io_uring_prep_read_fixed(sqe, fd, base, len, *off, 0);
		sqe->rw_flags = rw_flags;
		*off += len;
	}
	return 0;
}

static int blk_submit_rw(struct vx_queue *q, struct blk_req *r, uint64_t sector)
{
	struct blk_queue *bq = q->model_priv;
	struct blk_disk *disk = disk_of(q->dev);
	bool is_write = r->type == VIRTIO_BLK_T_OUT;
	uint64_t off = sector * 512;
	unsigned int first = 0, k, *ends;
	struct io_uring_sqe *sqe;
	int rw_flags = 0, parts;

	req_trim_data(r);
	if (disk->guest_io && q->dev->pool && !req_data_iov(q, r, !is_write, true) &&
	    io_aligned(disk, r->iov, r->niov)) {
		r->in_pool = true;
		goto submit;
	}
	req_drop_iov(q, r);

	/*
	 * Over the queue's budget or the guest's: the chain goes back, taken
	 * again after a completion of this queue or a wake-up of the guest's.
	 */
	if (bq->data_held + r->data_len > BLK_QUEUE_DATA_MAX ||
	    !budget_take(q->dev->budget, r->data_len, &bq->waiter)) {
		vq_unpop(&q->vq, 1);
		req_release(q, r);
		bq->over_budget = true;
		return 0;
	}
	r->held = r->data_len;
	bq->data_held += r->held;

	if (req_maps(q->dev, r)) {
		if (req_data_iov(q, r, !is_write, false)) {
			queue_fail(q, "request %u: data grants cannot be mapped",
				   r->head);
			req_release(q, r);
			return -1;
		}
		/* O_DIRECT needs aligned buffers: bounce this one. */
		if (!io_aligned(disk, r->iov, r->niov))
			req_drop_iov(q, r);
	}
	if (!r->niov) {
		if (posix_memalign(&r->bounce, VX_PAGE_SIZE, r->data_len))
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		if (is_write && gmem_copy(q->dev, r->data_segs, r->data_nsegs,
					  0, r->data_len, r->bounce, false)) {
			queue_fail(q, "request %u: write data cannot be copied (grant refused)",
				   r->head);
			req_release(q, r);
			return -1;
		}
		if (!r->iov)
			r->iov = calloc(1, sizeof(*r->iov));
		if (!r->iov)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		r->iov[0].iov_base = r->bounce;
		r->iov[0].iov_len = r->data_len;
		r->niov = 1;
	}

submit:
	/* Without a negotiated flush the device has no volatile cache. */
	if (is_write && !dev_has_feature(q->dev, VIRTIO_BLK_F_FLUSH))
		rw_flags = RWF_DSYNC;
	/* Uncut (or the cut failed): one part of all the pieces. */
	parts = req_needs_cut(disk, r) ? req_cut(disk, r) : -1;
	ends = parts > 0 ? r->part_end : &r->niov;
	for (k = 0; k < (parts > 0 ? (unsigned int)parts : 1); k++) {
		unsigned int end = ends[k];

		if (r->in_pool && bq->pool_fixed) {
			if (blk_submit_fixed(q, r, first, end, &off, rw_flags))
				return -1;
			first = end;
			continue;
		}
		sqe = blk_sqe(q, r);
		if (!sqe)
			return -1;	/* any part submitted completes it */
		if (is_write)
			io_uring_prep_writev2(sqe, disk->fd, r->iov + first,
					      end - first, off, rw_flags);
		else
			io_uring_prep_readv(sqe, disk->fd, r->iov + first,
					    end - first, off);
		for (; first < end; first++)
			off += r->iov[first].iov_len;
	}
	return 0;
}

static int blk_submit_range(struct vx_queue *q, struct blk_req *r)
{
	struct blk_disk *disk = disk_of(q->dev);
	struct virtio_blk_discard_write_zeroes range;
	struct io_uring_sqe *sqe;
	uint64_t sector;
	uint32_t num, flags, limit;
	int mode;

	if (r->data_len != sizeof(range))
		return req_fail(q, r, VIRTIO_BLK_S_UNSUPP);
	if (gmem_copy(q->dev, r->data_segs, r->data_nsegs, r->data_skip,
		      sizeof(range), &range, false)) {
		queue_fail(q, "request %u: range cannot be read (grant refused)",
			   r->head);
		req_release(q, r);
		return -1;
	}
	sector = le64toh(range.sector);
	num = le32toh(range.num_sectors);
	flags = le32toh(range.flags);
	limit = r->type == VIRTIO_BLK_T_DISCARD ? BLK_MAX_DISCARD :
						  BLK_MAX_WRITE_ZEROES;
	if (q->dev->readonly || num > limit || sector > disk->sectors ||
	    num > disk->sectors - sector)
		return req_fail(q, r, VIRTIO_BLK_S_IOERR);
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (r->type == VIRTIO_BLK_T_DISCARD && flags))
		return req_fail(q, r, VIRTIO_BLK_S_UNSUPP);

	if (r->type == VIRTIO_BLK_T_DISCARD ||
	    flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else
		mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	/* Remember the range in data_len/data_skip for a write-zeroes fallback. */
	r->data_skip = sector;
	r->data_len = (uint64_t)num * 512;
	sqe = blk_sqe(q, r);
	if (!sqe)
		return -1;
	io_uring_prep_fallocate(sqe, disk->fd, mode, sector * 512,
				(uint64_t)num * 512);
	return 0;
}

static int blk_get_id(struct vx_queue *q, struct blk_req *r)
{
	struct blk_disk *disk = disk_of(q->dev);
	uint64_t n = r->data_len < BLK_ID_BYTES ? r->data_len : BLK_ID_BYTES;

	/* Written with the status byte, in req_finish. */
	if (gmem_copy_add(q->dev, r->data_segs, r->data_nsegs, 0, n,
			  disk->serial, true)) {
		queue_fail(q, "request %u: id segments are malformed", r->head);
		req_release(q, r);
		return -1;
	}
	r->status = VIRTIO_BLK_S_OK;
	r->in_len = n;
	return req_finish(q, r);
}

static int blk_handle_chain(struct vx_queue *q, const struct vq_chain *c)
{
	struct blk_queue *bq = q->model_priv;
	struct blk_disk *disk = disk_of(q->dev);
	struct virtio_blk_outhdr hdr;
	unsigned int nread = 0, i;
	struct blk_req *r;
	uint64_t sector;
	struct io_uring_sqe *sqe;

	if (c->readable_len < sizeof(hdr) || c->writable_len < 1) {
		queue_fail(q, "request %u has no room for header and status (%llu readable, %llu writable bytes)",
			   c->head, (unsigned long long)c->readable_len,
			   (unsigned long long)c->writable_len);
		return -1;
	}
	for (i = 0; i < c->nsegs && !c->segs[i].device_writes; i++)
		nread++;
	if (gmem_copy(q->dev, c->segs, nread, 0, sizeof(hdr), &hdr, false)) {
		queue_fail(q, "request %u: header cannot be read (grant refused)",
			   c->head);
		return -1;
	}

	r = bq->free_reqs;
	bq->free_reqs = r->next_free;
	bq->in_flight++;
	r->head = c->head;
	r->type = le32toh(hdr.type);
	r->in_len = 0;
	r->status = VIRTIO_BLK_S_OK;
	r->parts_left = 0;
	r->part_bytes = 0;
	r->part_error = 0;
	sector = le64toh(hdr.sector);

	/* The status byte is the last writable byte of the chain. */
	for (i = c->nsegs - 1; !c->segs[i].len; i--)
		;
	r->status_seg = c->segs[i];
	r->status_seg.addr += r->status_seg.len - 1;
	r->status_seg.len = 1;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		req_take_data(r, c, nread, c->nsegs - nread);
		r->data_skip = 0;
		r->data_len = c->writable_len - 1;
		if (r->type == VIRTIO_BLK_T_GET_ID)
			return blk_get_id(q, r);
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		req_take_data(r, c, 0, nread);
		r->data_skip = sizeof(hdr);
		r->data_len = c->readable_len - sizeof(hdr);
		if (r->type != VIRTIO_BLK_T_OUT)
			return blk_submit_range(q, r);
		break;
	case VIRTIO_BLK_T_FLUSH:
		sqe = blk_sqe(q, r);
		if (!sqe)
			return -1;
		io_uring_prep_fsync(sqe, disk->fd, IORING_FSYNC_DATASYNC);
		return 0;
	default:
		return req_fail(q, r, VIRTIO_BLK_S_UNSUPP);
	}

	/* IN or OUT */
	if (r->type == VIRTIO_BLK_T_OUT && q->dev->readonly)
		return req_fail(q, r, VIRTIO_BLK_S_IOERR);
	if (r->data_len % 512 || r->data_len > (uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX ||
	    sector > disk->sectors || r->data_len / 512 > disk->sectors - sector)
		return req_fail(q, r, VIRTIO_BLK_S_IOERR);
	if (!r->data_len) {
		r->in_len = 0;
		return req_finish(q, r);
	}
	if (r->type == VIRTIO_BLK_T_IN)
		r->in_len = r->data_len;
	return blk_submit_rw(q, r, sector);
}

/*
 * Zeroes a range by writing, where the medium cannot fallocate it: from one
 * zeroed buffer, not one of the range's size (32 MiB a request).
 */
static int write_zeroes_fallback(struct blk_disk *disk, struct blk_req *r)
{
	static uint8_t zero[1 << 16] __attribute__((aligned(VX_PAGE_SIZE)));
	uint64_t off = r->data_skip * 512, left = r->data_len;

	while (left) {
		size_t n = left < sizeof(zero) ? left : sizeof(zero);
		ssize_t done = pwrite(disk->fd, zero, n, off);

		if (done <= 0)
			return -EIO;
		off += done;
		left -= done;
	}
	return 0;
}

static int blk_complete_one(struct vx_queue *q, struct blk_req *r, int res)
{
	struct blk_disk *disk = disk_of(q->dev);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		if (res != (int)r->data_len)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		/* Copied out with the status byte, in req_finish. */
		if (r->bounce && gmem_copy_add(q->dev, r->data_segs, r->data_nsegs,
					       0, r->data_len, r->bounce, true)) {
			queue_fail(q, "request %u: read data cannot be copied (grant refused)",
				   r->head);
			req_release(q, r);
			return -1;
		}
		break;
	case VIRTIO_BLK_T_OUT:
		if (res != (int)r->data_len)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		break;
	case VIRTIO_BLK_T_DISCARD:
		/* Discard is a hint: a medium that cannot punch holes ignores it. */
		if (res < 0 && res != -EOPNOTSUPP)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (res == -EOPNOTSUPP)
			res = write_zeroes_fallback(disk, r);
		if (res < 0)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		break;
	default:
		if (res < 0)
			return req_fail(q, r, VIRTIO_BLK_S_IOERR);
		break;
	}
	r->status = VIRTIO_BLK_S_OK;
	return req_finish(q, r);
}

static int blk_complete(struct vx_queue *q)
{
	struct blk_queue *bq = q->model_priv;
	struct io_uring_cqe *cqe;
	uint64_t count;
	int ret = 0;

	if (read(bq->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -1;
	if (__atomic_exchange_n(&bq->waiter.woken, false, __ATOMIC_ACQ_REL))
		bq->over_budget = false;	/* the guest's budget has room again */
	if (io_uring_submit(&bq->ring) < 0)
		return -1;
	while (io_uring_peek_cqe(&bq->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&bq->ring, cqe);
		if (req_part_done(r, &res) && blk_complete_one(q, r, res))
			ret = -1;
	}
	return ret;
}

static void blk_queue_stop(struct vx_queue *q)
{
	struct blk_queue *bq = q->model_priv;

	if (!bq)
		return;
	/* Nothing submitted may outlive the grants it reads or writes. */
	io_uring_submit(&bq->ring);
	while (bq->in_flight) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&bq->ring, &cqe);

		/* A signal is no reason to leave I/O on the guest's pages (fuzz-blk). */
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret) {
			dev_err(q->dev, "queue %u: io_uring wait: %s", q->index, strerror(-ret));
			break;
		}
		blk_complete(q);
	}
	budget_forget(q->dev->budget, &bq->waiter);
	/* Unpinned now: the ring's own teardown lets go of the pool later. */
	if (bq->pool_fixed)
		io_uring_unregister_buffers(&bq->ring);
	io_uring_queue_exit(&bq->ring);
	close(bq->event_fd);
	free(bq->seg_pool);
	free(bq->reqs);
	free(bq);
	q->model_priv = NULL;
}

const struct vx_model blk_model = {
	.type = "blk",
	.virtio_id = VIRTIO_ID_BLOCK,
	.open = blk_open,
	.close = blk_close,
	.queue_start = blk_queue_start,
	.queue_stop = blk_queue_stop,
	.queue_room = blk_queue_room,
	.handle_chain = blk_handle_chain,
	.completion_fd = blk_completion_fd,
	.completions_ready = blk_completions_ready,
	.complete = blk_complete,
};
