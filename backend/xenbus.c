// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device lifecycle, in one place: xenstore watches become the
 * transitions of docs/protocol.md section 2.
 *
 * Devices come to exist when the toolstack creates a directory under
 * /local/domain/<self>/backend/virtio/<guest>/<id> (or libxl's, there and
 * under backend/virtio_disk: protocol.md 1.5, 1.6); they go when it is
 * removed.  The frontend directory is watched per device; a write of
 * status-seq is a status request, answered with device-status-seq.
 *
 * The main thread never waits for a device's I/O.  What stops queues (a
 * reset, FAILED, an error, Closing, removal, a guest's death) only asks
 * them to stop; what the device then owes xenstore (the answer, its state,
 * NEEDS_RESET, the release) is kept in dev->due and written by
 * device_commit once the last queue thread has drained and woken us.  The
 * device's own events meanwhile are looked at again after the drain; every
 * other device is served at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "xsvalue.h"

#define DOMID_MAX	0x7fef	/* below DOMID_FIRST_RESERVED */

static const struct vx_model *const models[] = { &blk_model, &net_model };

#define DEFAULT_MAX_QUEUE_SIZE	256

/* ---- xenstore helpers ---- */

/* Reads @dir/@key; *len gets the value's length, which may hide a NUL. */
static char *xs_read_path(struct vx_daemon *d, xs_transaction_t t,
			  const char *dir, const char *key, unsigned int *len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(d->xs, t, path, len);
}

char *backend_read(struct vx_device *dev, const char *key)
{
	unsigned int len;
	char *s = xs_read_path(dev->daemon, XBT_NULL, dev->be_path, key, &len);

	if (s && strlen(s) != len) {
		dev_err(dev, "%s has a NUL inside its value: ignored", key);
		free(s);
		return NULL;
	}
	return s;
}

static bool xs_printf(struct vx_daemon *d, xs_transaction_t t, const char *dir,
		      const char *key, const char *fmt, ...)
{
	char path[256], val[2 * VX_MAX_CONFIG_LEN + 1];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write(d->xs, t, path, val, strlen(val));
}


/* 1 for a well-formed value, 0 if the key is missing, -1 if malformed. */
static int read_dec_key(struct vx_daemon *d, xs_transaction_t t,
			const char *dir, const char *key, uint64_t max,
			uint64_t *out)
{
	unsigned int len;
	char *s = xs_read_path(d, t, dir, key, &len);
	int ret = !s ? 0 : vx_parse_dec(s, len, max, out) ? 1 : -1;

	free(s);
	return ret;
}

/* Reads a decimal key of @dir; false if missing or malformed. */
static bool read_dec(struct vx_daemon *d, xs_transaction_t t, const char *dir,
		     const char *key, uint64_t max, uint64_t *out)
{
	return read_dec_key(d, t, dir, key, max, out) > 0;
}

static bool read_hex(struct vx_daemon *d, const char *dir, const char *key,
		     uint64_t *out)
{
	unsigned int len;
	char *s = xs_read_path(d, XBT_NULL, dir, key, &len);
	bool ok = s && vx_parse_hex64(s, len, out);

	free(s);
	return ok;
}

static bool node_exists(struct vx_daemon *d, const char *path)
{
	unsigned int len;
	char *s = xs_read(d->xs, XBT_NULL, path, &len);

	free(s);
	return s != NULL;
}

/*
 * Removes a device's backend directory, and the guest's directory above it
 * once it holds no other device, as libxl cleans up after a vbd.  In one
 * transaction: a device the toolstack adds meanwhile stays.
 */
static void remove_backend_dir(struct vx_daemon *d, const char *be_path)
{
	char parent[128], **left;
	xs_transaction_t t;
	unsigned int n;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", be_path);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	do {
		t = xs_transaction_start(d->xs);
		if (t == XBT_NULL)
			return;
		xs_rm(d->xs, t, be_path);
		left = slash ? xs_directory(d->xs, t, parent, &n) : NULL;
		if (left && !n)
			xs_rm(d->xs, t, parent);
		free(left);
	} while (!xs_transaction_end(d->xs, t, false) && errno == EAGAIN);
}

/*
 * Closed, in a directory the toolstack removes once it reads that: only
 * while the directory is there (a write would make it again).
 */
static void close_backend_dir(struct vx_daemon *d, const char *be_path)
{
	char path[160], closed[4];
	unsigned int len;
	xs_transaction_t t;
	char *s;

	snprintf(path, sizeof(path), "%s/state", be_path);
	snprintf(closed, sizeof(closed), "%d", VX_STATE_CLOSED);
	do {
		t = xs_transaction_start(d->xs);
		if (t == XBT_NULL)
			return;
		s = xs_read(d->xs, t, path, &len);
		if (s)
			xs_write(d->xs, t, path, closed, strlen(closed));
		free(s);
	} while (!xs_transaction_end(d->xs, t, false) && errno == EAGAIN);
}

static int read_state(struct vx_daemon *d, const char *dir)
{
	uint64_t v;

	if (!read_dec(d, XBT_NULL, dir, "state", VX_STATE_CLOSED, &v))
		return VX_STATE_UNKNOWN;
	return (int)v;
}

static void device_commit(struct vx_device *dev);

/* Our state is written by device_commit, after any drain (Closed holds nothing). */
static void set_be_state(struct vx_device *dev, int state)
{
	dev->be_state = state;
	dev->due |= DUE_STATE;
	device_commit(dev);
}

/* protocol.md 2.4: stop the device and tell the driver it needs a reset. */
static void device_error(struct vx_device *dev, const char *reason);

/* ---- queues ---- */

/* What a queue did in its life, for the log when it stops. */
static void log_queue_stats(struct vx_device *dev, const struct vx_queue *q)
{
	const struct queue_stats *st = &q->stats;

	if (st->packets || st->drops || st->errors)
		dev_info(dev, "queue %u: %llu frames, %llu bytes, %llu dropped, %llu refused by the host; %llu kicks, %llu interrupts, %llu grant operations",
			 q->index, (unsigned long long)st->packets,
			 (unsigned long long)st->bytes, (unsigned long long)st->drops,
			 (unsigned long long)st->errors, (unsigned long long)st->kicks,
			 (unsigned long long)st->notifies, (unsigned long long)st->grant_ops);
	else if (st->requests)
		dev_info(dev, "queue %u: %llu requests; %llu kicks, %llu interrupts, %llu grant operations",
			 q->index, (unsigned long long)st->requests,
			 (unsigned long long)st->kicks, (unsigned long long)st->notifies,
			 (unsigned long long)st->grant_ops);
}

static uint64_t counter(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/*
 * protocol.md 2.8: the toolstack asked for the queues' counters; one line
 * a queue in `stats`, then `stats-answer`, in one transaction.
 */
static void answer_stats(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	const struct queue_stats *st;
	/* A line is at most 8 counters of 20 digits and 80 other bytes. */
	size_t len = 0, size = 256 * (dev->nr_queues + 1);
	char *text = malloc(size);
	xs_transaction_t t;
	unsigned int i;
	uint64_t seq;

	if (!text || !read_dec(d, XBT_NULL, dev->be_path, "stats-request", UINT32_MAX, &seq) ||
	    seq == dev->stats_seq) {
		free(text);
		return;
	}
	text[0] = '\0';
	for (i = 0; i < dev->nr_queues && len < size; i++) {
		st = &dev->queues[i].stats;
		len += snprintf(text + len, size - len,
				"%s%u requests=%llu kicks=%llu interrupts=%llu packets=%llu bytes=%llu drops=%llu errors=%llu grant-ops=%llu",
				i ? "\n" : "", i, (unsigned long long)counter(&st->requests),
				(unsigned long long)counter(&st->kicks),
				(unsigned long long)counter(&st->notifies),
				(unsigned long long)counter(&st->packets),
				(unsigned long long)counter(&st->bytes),
				(unsigned long long)counter(&st->drops),
				(unsigned long long)counter(&st->errors),
				(unsigned long long)counter(&st->grant_ops));
	}
	if (dev->nr_queues && dev->model->stats_line && len + 1 < size) {
		text[len++] = '\n';
		dev->model->stats_line(dev, text + len, size - len);
	}
	do {
		t = xs_transaction_start(d->xs);
		if (t == XBT_NULL)
			break;
		xs_printf(d, t, dev->be_path, "stats", "%s", text);
		xs_printf(d, t, dev->be_path, "stats-answer", "%llu", (unsigned long long)seq);
	} while (!xs_transaction_end(d->xs, t, false) && errno == EAGAIN);
	dev->stats_seq = seq;
	free(text);
}

static bool queues_drained(const struct vx_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++)
		if (!queue_stopped(&dev->queues[i]))
			return false;
	return true;
}

/* Every queue thread has ended: nothing of the guest is held any more. */
static void release_queues(struct vx_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++) {
		queue_stop_end(&dev->queues[i]);
		log_queue_stats(dev, &dev->queues[i]);
	}
	/* After the rings: they may be in the pool. */
	if (dev->pool) {
		char path[256];

		snprintf(path, sizeof(path), "%s/pool-mapped", dev->be_path);
		xs_rm(dev->daemon->xs, XBT_NULL, path);
	}
	pool_stop(dev);
	/* Also when a previous daemon's record found nothing to resume. */
	if (dev->keep_record)
		record_close(dev);
	else
		record_remove(dev);
	dev->resumed = false;
	free(dev->queues);
	dev->queues = NULL;
	dev->nr_queues = 0;
	dev->draining = false;
}

/*
 * Asks every queue to stop.  Without queue threads the device is stopped on
 * return; otherwise it drains, and handle_queue_reports finishes the stop.
 * With @keep_record, the device's record stays for the next daemon (2.5).
 */
static void stop_queues(struct vx_device *dev, bool keep_record)
{
	unsigned int i;

	/* Whatever the stopping queues still report is not this device's now. */
	pthread_mutex_lock(&dev->error_lock);
	dev->queue_epoch++;
	dev->error_pending = false;
	pthread_mutex_unlock(&dev->error_lock);
	dev->keep_record = keep_record && (!dev->draining || dev->keep_record);
	dev->draining = true;
	for (i = 0; i < dev->nr_queues; i++)
		queue_stop_begin(&dev->queues[i]);
	if (queues_drained(dev))
		release_queues(dev);
}

/* For the daemon's own stop, which may wait: the queue threads end now. */
static void stop_queues_and_wait(struct vx_device *dev, bool keep_record)
{
	unsigned int i;

	stop_queues(dev, keep_record);
	for (i = 0; i < dev->nr_queues; i++)
		queue_stop_end(&dev->queues[i]);
	if (dev->draining)
		release_queues(dev);
}

static bool read_queue(struct vx_device *dev, struct vx_queue *q)
{
	struct vx_daemon *d = dev->daemon;
	char dir[192];
	uint64_t size, port;

	snprintf(dir, sizeof(dir), "%s/queue-%u", dev->fe_path, q->index);
	if (!read_dec(d, XBT_NULL, dir, "size", dev->max_queue_size, &size) ||
	    size < 2 || !vx_is_power_of_two(size)) {
		device_error(dev, "queue size is missing, not a power of two, or over max-queue-size");
		return false;
	}
	if (!read_hex(d, dir, "desc", &q->desc_addr) ||
	    !read_hex(d, dir, "driver", &q->driver_addr) ||
	    !read_hex(d, dir, "device", &q->device_addr)) {
		device_error(dev, "queue ring address missing or malformed");
		return false;
	}
	/* virtio 1.2, 2.7: the ring fields are read and written whole. */
	if (q->desc_addr % 16 || q->driver_addr % 2 || q->device_addr % 4) {
		device_error(dev, "queue ring address misaligned (desc 16, driver 2, device 4 bytes)");
		return false;
	}
	if (!read_dec(d, XBT_NULL, dir, "event-channel", UINT32_MAX, &port) || !port) {
		device_error(dev, "queue event-channel missing or malformed");
		return false;
	}
	q->size = size;
	q->remote_port = port;
	return true;
}

/*
 * The pool keys (protocol.md 4.4): 1 with both well formed, 0 with
 * neither, -1 otherwise.
 */
static int read_pool_keys(struct vx_device *dev, uint64_t *ref, uint64_t *pages)
{
	struct vx_daemon *d = dev->daemon;
	int r = read_dec_key(d, XBT_NULL, dev->fe_path, "pool-ref", UINT32_MAX, ref);
	int p = read_dec_key(d, XBT_NULL, dev->fe_path, "pool-pages", UINT32_MAX, pages);

	if (!r && !p)
		return 0;
	return r > 0 && p > 0 ? 1 : -1;
}

/* While the queues run, the pool stays as DRIVER_OK found it. */
static bool pool_keys_changed(struct vx_device *dev)
{
	uint64_t ref = 0, pages = 0;
	int have = read_pool_keys(dev, &ref, &pages);

	if (have < 0)
		return true;
	if (!have)
		return dev->pool_given;
	return !dev->pool_given || ref != dev->pool_ref || pages != dev->pool_pages;
}

static bool start_pool(struct vx_device *dev)
{
	uint64_t ref, pages;
	const char *why;

	switch (read_pool_keys(dev, &ref, &pages)) {
	case 0:
		return true;
	case 1:
		why = pool_start(dev, ref, pages);
		break;
	default:
		why = "pool-ref and pool-pages must both be given, as decimals";
		break;
	}
	if (why)
		device_error(dev, why);
	else if (dev->pool)
		/* For the toolstack: what the guest's pool costs this domain. */
		xs_printf(dev->daemon, XBT_NULL, dev->be_path, "pool-mapped", "%u",
			  dev->pool_pages);
	return !why;
}

static const char *const access_name[] = {
	[GRANT_AUTO] = "auto", [GRANT_COPY] = "copy", [GRANT_MAP] = "map",
};

/*
 * Starts the queues the frontend set up; with @resume, where the previous
 * daemon's record says it left them.
 */
static bool start_queues(struct vx_device *dev, bool resume)
{
	unsigned int i, recovered = 0;
	uint64_t n;

	if (!read_dec(dev->daemon, XBT_NULL, dev->fe_path, "num-queues",
		      dev->max_queues, &n) || !n) {
		device_error(dev, "num-queues missing, zero or over max-queues");
		return false;
	}
	dev->queues = calloc(n, sizeof(*dev->queues));
	if (!dev->queues) {
		device_error(dev, "out of memory");
		return false;
	}
	/* Queues that never started stop as nothing. */
	dev->nr_queues = n;
	for (i = 0; i < n; i++) {
		dev->queues[i].dev = dev;
		dev->queues[i].index = i;
		dev->queues[i].resume = resume;
		if (!read_queue(dev, &dev->queues[i]))
			return false;
	}
	/* Before the rings: they may be in it. */
	if (!start_pool(dev))
		return false;
	if (resume && record_resume(dev)) {
		device_error(dev, "backend restarted without a record of these queues: reset the device");
		return false;
	}
	if (!resume)
		record_create(dev);	/* without it the device just cannot resume */
	dev->resumed = resume;
	for (i = 0; i < n; i++) {
		if (queue_start(&dev->queues[i])) {
			device_error(dev, "a queue's rings or event channel are unusable");
			return false;
		}
		recovered += dev->queues[i].vq.nr_recovered;
	}
	if (resume)
		dev_info(dev, "resumed: %u queue(s) of %u, %u request(s) in flight taken up",
			 dev->nr_queues, dev->queues[0].size, recovered);
	else
		dev_info(dev, "connected: %u queue(s) of %u, grant %s", dev->nr_queues,
			 dev->queues[0].size, access_name[dev->access]);
	return true;
}

static void device_error(struct vx_device *dev, const char *reason)
{
	dev_err(dev, "device error, needs reset: %s", reason);
	stop_queues(dev, false);
	dev->status |= VX_S_NEEDS_RESET;
	snprintf(dev->error_due, sizeof(dev->error_due), "%s", reason);
	dev->due |= DUE_ERROR | DUE_STATUS;
	device_commit(dev);
}

/* A status request that cannot be answered as written (protocol.md 1.4). */
static void bad_status_request(struct vx_device *dev, const char *reason)
{
	/* A guest that writes it again is told once. */
	if (dev->status & VX_S_NEEDS_RESET)
		return;
	device_error(dev, reason);
}

/* Back to the state after InitWait: nothing of the guest held. */
static void device_reset(struct vx_device *dev)
{
	stop_queues(dev, false);
	dev->driver_features = 0;
	dev->status = 0;
}

/* ---- status requests (protocol.md 2.2) ---- */

static uint8_t accept_features(struct vx_device *dev, uint8_t status)
{
	uint64_t want, required = VX_FEATURE(VX_F_VERSION_1) |
				  VX_FEATURE(VX_F_ACCESS_PLATFORM);
	const char *why;

	if (!read_hex(dev->daemon, dev->fe_path, "driver-features", &want)) {
		dev_warn(dev, "FEATURES_OK refused: driver-features missing or malformed");
		return status & ~VX_S_FEATURES_OK;
	}
	if ((want & ~dev->features) || (want & required) != required) {
		dev_warn(dev, "FEATURES_OK refused: driver features %#llx against offered %#llx",
			 (unsigned long long)want,
			 (unsigned long long)dev->features);
		return status & ~VX_S_FEATURES_OK;
	}
	why = dev->model->features_invalid ? dev->model->features_invalid(dev, want) : NULL;
	if (why) {
		dev_warn(dev, "FEATURES_OK refused: driver features %#llx: %s",
			 (unsigned long long)want, why);
		return status & ~VX_S_FEATURES_OK;
	}
	dev->driver_features = want;
	return status;
}

static void handle_status(struct vx_device *dev, uint8_t s)
{
	uint8_t old = dev->status, added = s & ~old;

	if (!s) {
		device_reset(dev);
		if (dev->be_state == VX_STATE_CONNECTED)
			set_be_state(dev, VX_STATE_INITWAIT);
		dev_dbg(dev, "reset");
		return;
	}
	if (old & ~s & ~VX_S_NEEDS_RESET) {
		dev_warn(dev, "driver cleared status bits (%#x -> %#x) without a reset",
			 old, s);
		dev->status = old | VX_S_NEEDS_RESET;
		return;
	}
	if (old & VX_S_NEEDS_RESET) {
		dev->status = old;	/* only a reset brings it back */
		return;
	}
	dev->status = s;
	if (added & VX_S_FAILED) {
		stop_queues(dev, false);
		return;
	}
	if (added & VX_S_FEATURES_OK)
		dev->status = s = accept_features(dev, s);
	if (added & VX_S_DRIVER_OK) {
		if (!(s & VX_S_FEATURES_OK) || !dev->driver_features) {
			dev->status = s | VX_S_NEEDS_RESET;
			dev_warn(dev, "DRIVER_OK without accepted features");
			return;
		}
		if (!start_queues(dev, false))
			return;		/* device_error set NEEDS_RESET */
		/* A removal the toolstack asked for stands (2.6). */
		if (dev->be_state != VX_STATE_CLOSING)
			set_be_state(dev, VX_STATE_CONNECTED);
	}
}

enum status_request {
	REQ_NONE,		/* no status-seq: nothing asked yet */
	REQ_OK,
	REQ_BAD_SEQ,		/* status-seq is malformed: nothing to answer */
	REQ_BAD_STATUS,		/* a request whose status is malformed */
};

/*
 * Reads status and status-seq as the one transaction wrote them.  The
 * transaction is committed, and retried if anything it read changed: C
 * xenstored checks what a transaction read only when it commits.
 */
static enum status_request read_status_request(struct vx_device *dev,
					       uint64_t *status, uint64_t *seq)
{
	struct vx_daemon *d = dev->daemon;
	int have_seq, have_status;

	for (;;) {
		xs_transaction_t t = xs_transaction_start(d->xs);

		if (t == XBT_NULL)
			return REQ_NONE;
		have_seq = read_dec_key(d, t, dev->fe_path, "status-seq",
					UINT32_MAX, seq);
		have_status = read_dec_key(d, t, dev->fe_path, "status", 255,
					   status);
		if (xs_transaction_end(d->xs, t, false))
			break;
		if (errno != EAGAIN)
			return REQ_NONE;
	}
	if (!have_seq)
		return REQ_NONE;
	if (have_seq < 0)
		return REQ_BAD_SEQ;
	return have_status > 0 ? REQ_OK : REQ_BAD_STATUS;
}

/* ---- publishing ---- */

/* config and config-generation, always together in transaction @t (protocol.md 1.2). */
static void write_config(struct vx_device *dev, xs_transaction_t t)
{
	char config[2 * VX_MAX_CONFIG_LEN + 1];

	vx_format_hexbytes(dev->config, dev->config_len, config);
	xs_printf(dev->daemon, t, dev->be_path, "config", "%s", config);
	xs_printf(dev->daemon, t, dev->be_path, "config-generation", "%u",
		  dev->config_generation);
}

/* The keys of protocol.md 1.2 a frontend reads before it negotiates. */
static void write_device_keys(struct vx_device *dev, xs_transaction_t t)
{
	struct vx_daemon *d = dev->daemon;

	xs_printf(d, t, dev->be_path, "protocol-version", "%d",
		  VX_PROTOCOL_VERSION);
	xs_printf(d, t, dev->be_path, "device-id", "%u", dev->model->virtio_id);
	xs_printf(d, t, dev->be_path, "features", "0x%llx",
		  (unsigned long long)dev->features);
	xs_printf(d, t, dev->be_path, "max-queues", "%u", dev->max_queues);
	xs_printf(d, t, dev->be_path, "max-queue-size", "%u",
		  dev->max_queue_size);
	xs_printf(d, t, dev->be_path, "pool-max-pages", "%u", VX_POOL_MAX_PAGES);
	write_config(dev, t);
}

/*
 * Writes, in one transaction, what the device owes xenstore (dev->due);
 * while its queues drain, that waits for the drain (see the top of the
 * file).  A state below Closing never overwrites the toolstack's Closing:
 * its removal request is then handled when its watch event is.
 */
static void device_commit(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	unsigned int due = dev->due;
	xs_transaction_t t;
	uint64_t state;
	bool ok;

	if (dev->draining || !due)
		return;
	if (due & DUE_DEVICE)
		due |= DUE_STATUS | DUE_ANSWER | DUE_STATE;
	do {
		t = xs_transaction_start(d->xs);
		if (t == XBT_NULL) {
			dev_err(dev, "cannot start a transaction: %s", strerror(errno));
			return;
		}
		if ((due & DUE_STATE) && dev->be_state < VX_STATE_CLOSING &&
		    read_dec_key(d, t, dev->be_path, "state", VX_STATE_CLOSED,
				 &state) > 0 && state == VX_STATE_CLOSING)
			due &= ~DUE_STATE;
		if (due & DUE_DEVICE)
			write_device_keys(dev, t);
		if (due & DUE_ERROR)
			xs_printf(d, t, dev->be_path, "error", "%s", dev->error_due);
		if (due & DUE_STATUS)
			xs_printf(d, t, dev->be_path, "device-status", "%u",
				  dev->status);
		if (due & DUE_ANSWER)
			xs_printf(d, t, dev->be_path, "device-status-seq", "%u",
				  dev->status_seq);
		if (due & DUE_STATE)
			xs_printf(d, t, dev->be_path, "state", "%d", dev->be_state);
		ok = xs_transaction_end(d->xs, t, false);
	} while (!ok && errno == EAGAIN);
	if (!ok)
		dev_err(dev, "cannot write the device's keys: %s", strerror(errno));
	dev->due = 0;
}

/* The config space changed while the device exists. */
static void publish_config(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	xs_transaction_t t;

	dev->config_generation++;
	do {
		t = xs_transaction_start(d->xs);
		if (t == XBT_NULL)
			return;
		write_config(dev, t);
	} while (!xs_transaction_end(d->xs, t, false) && errno == EAGAIN);
}

/* ---- devices ---- */

static struct vx_device *find_device(struct vx_daemon *d, enum vx_kind kind,
				     uint32_t guest, uint32_t id)
{
	struct vx_device *dev;

	for (dev = d->devices; dev; dev = dev->next)
		if (dev->kind == kind && dev->guest == guest && dev->id == id)
			return dev;
	return NULL;
}

static bool device_known(struct vx_daemon *d, enum vx_kind kind, uint32_t guest,
			 uint32_t id)
{
	return find_device(d, kind, guest, id) != NULL;
}

static const struct vx_model *find_model(const char *type)
{
	size_t i;

	for (i = 0; type && i < sizeof(models) / sizeof(models[0]); i++)
		if (!strcmp(models[i]->type, type))
			return models[i];
	return NULL;
}

/* `error` and Closing in one transaction: whoever sees one sees both. */
static void device_fatal(struct vx_device *dev, const char *reason)
{
	dev_err(dev, "%s", reason);
	snprintf(dev->error_due, sizeof(dev->error_due), "%s", reason);
	dev->due |= DUE_ERROR;
	set_be_state(dev, VX_STATE_CLOSING);
}

/*
 * protocol.md 1.6: xl's virtio = [ "type=virtio,deviceN" ] names only the
 * virtio device; a nic of N = 1 has what it needs in its defaults, a disk
 * has no file to serve.
 */
static bool xl_virtio_model(struct vx_device *dev, const char *type)
{
	char why[128];
	uint32_t id;

	if (!vx_parse_xl_virtio_type(type, &id)) {
		device_fatal(dev, "type virtio,device names no virtio device: give virtio,device1 for a nic");
		return false;
	}
	if (id == net_model.virtio_id) {
		dev->model = &net_model;
		return true;
	}
	if (id == blk_model.virtio_id) {
		device_fatal(dev, "xl's virtio = [...] gives a disk no file: use disk = [ \"...,specification=virtio,backendtype=standalone\" ]");
		return false;
	}
	snprintf(why, sizeof(why), "type %s is not served: virtio,device1 (a nic) is", type);
	device_fatal(dev, why);
	return false;
}

/* Reads the toolstack's keys (protocol.md 1.1). */
static bool device_configure(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	char *fe, *type, *access, path[160];
	uint64_t v;
	bool ok = false;

	fe = backend_read(dev, "frontend");
	type = backend_read(dev, "type");
	access = backend_read(dev, "grant-access");
	if (!fe || strcmp(fe, dev->fe_path)) {
		device_fatal(dev, "frontend key is not this device's frontend directory");
		goto out;
	}
	if (!read_dec(d, XBT_NULL, dev->be_path, "frontend-id", UINT16_MAX, &v) ||
	    v != dev->guest) {
		device_fatal(dev, "frontend-id does not name this guest");
		goto out;
	}
	if (dev->kind == VX_KIND_XL_DISK) {
		/* libxl's backendtype; standalone is the only one it has for virtio. */
		dev->from_libxl = true;
		dev->model = &blk_model;
		if (type && strcmp(type, "standalone")) {
			device_fatal(dev, "type (the disk's backendtype) must be standalone");
			goto out;
		}
	} else if (vx_is_xl_virtio_type(type)) {
		dev->from_libxl = true;
		if (!xl_virtio_model(dev, type))
			goto out;
	} else {
		dev->model = find_model(type);
		if (!dev->model) {
			device_fatal(dev, "type must be blk or net");
			goto out;
		}
	}
	if (!access || !strcmp(access, "auto")) {
		dev->access = GRANT_AUTO;
	} else if (!strcmp(access, "copy")) {
		dev->access = GRANT_COPY;
	} else if (!strcmp(access, "map")) {
		dev->access = GRANT_MAP;
	} else {
		device_fatal(dev, "grant-access must be auto, copy or map");
		goto out;
	}
	dev->request_queues = 1;
	snprintf(path, sizeof(path), "%s/queues", dev->be_path);
	if (node_exists(d, path)) {
		if (!read_dec(d, XBT_NULL, dev->be_path, "queues",
			      VX_MAX_REQUEST_QUEUES, &v) || !v) {
			device_fatal(dev, "queues must be 1 to 16");
			goto out;
		}
		dev->request_queues = v;
	}
	ok = true;
out:
	free(fe);
	free(type);
	free(access);
	return ok;
}

/*
 * Frees a device whose queues have stopped, or, at the daemon's stop, stops
 * them first.  @keep_record: the daemon stops, and the device's next daemon
 * resumes it.
 */
static void device_free(struct vx_device *dev, bool keep_record)
{
	struct vx_daemon *d = dev->daemon;
	struct vx_device **pp;

	stop_queues_and_wait(dev, keep_record);
	if (dev->model_priv)
		dev->model->close(dev);
	xen_gnttab_close(dev->gnttab);
	if (dev->watching_fe)
		xs_unwatch(d->xs, dev->fe_path, dev->token);
	for (pp = &d->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	budget_put(d, dev->budget);
	dev_log_end(dev, "released: no grant, port, thread or file of it is held");
	pthread_mutex_destroy(&dev->error_lock);
	free(dev);
}

static void backend_changed(struct vx_daemon *d, enum vx_kind kind,
			    uint32_t guest, uint32_t id);

/* The drain of a device being released is over: forget it (2.6). */
static void finish_release(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	bool guest_gone = dev->release == RELEASE_GUEST_GONE;
	enum vx_kind kind = dev->kind;
	uint32_t guest = dev->guest, id = dev->id;

	/*
	 * Gone before the "released" line: whoever reads it finds no directory.
	 * libxl removes its own directories once they say Closed, and reports
	 * a failure if they vanish before (protocol.md 2.6).
	 */
	if (guest_gone && dev->from_libxl)
		close_backend_dir(d, dev->be_path);
	else if (guest_gone)
		remove_backend_dir(d, dev->be_path);
	device_free(dev, false);
	if (!guest_gone)
		backend_changed(d, kind, guest, id);	/* made again meanwhile? */
}

/*
 * Releases the device once its queues have drained.  @guest_gone: the
 * guest was destroyed, and its backend directory goes too.  The caller no
 * longer touches @dev: it may be freed on return.
 */
static void device_release(struct vx_device *dev, bool guest_gone)
{
	dev->release = guest_gone ? RELEASE_GUEST_GONE : RELEASE_FORGET;
	stop_queues(dev, false);
	if (!dev->draining)
		finish_release(dev);
}

/*
 * protocol.md 2.5: a previous daemon ran this device, and the driver uses
 * it.  If the previous daemon's record matches what the frontend set up,
 * serve on from where it stopped, with the status it had accepted.
 */
static bool device_resume(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	uint64_t status, seq, generation;
	const uint8_t running = VX_S_FEATURES_OK | VX_S_DRIVER_OK;

	if (dev->be_state != VX_STATE_CONNECTED ||
	    !read_dec(d, XBT_NULL, dev->be_path, "device-status", 255, &status) ||
	    !read_dec(d, XBT_NULL, dev->be_path, "device-status-seq", UINT32_MAX, &seq) ||
	    (status & running) != running ||
	    (status & (VX_S_NEEDS_RESET | VX_S_FAILED)))
		return false;
	if (read_dec(d, XBT_NULL, dev->be_path, "config-generation", UINT32_MAX,
		     &generation))
		dev->config_generation = generation + 1;
	dev->status = status;
	dev->status_seq = seq;
	if (accept_features(dev, status) != status || !start_queues(dev, true)) {
		dev->driver_features = 0;
		return false;
	}
	return true;
}

static void *device_opener(void *arg)
{
	struct vx_device *dev = arg;

	dev->open_result = dev->model->open(dev);
	__atomic_store_n(&dev->open_done, true, __ATOMIC_RELEASE);
	daemon_wake(dev->daemon);
	return NULL;
}

/*
 * A backend directory we do not know yet: a new device, or one of a
 * previous run of the daemon (protocol.md 2.5).  What backs it is opened
 * on a thread, and device_opened goes on from there.
 */
static void device_add(struct vx_daemon *d, enum vx_kind kind, uint32_t guest,
		       uint32_t id)
{
	struct vx_device *dev = calloc(1, sizeof(*dev));
	int state;

	if (!dev)
		return;
	dev->daemon = d;
	dev->kind = kind;
	dev->guest = guest;
	dev->id = id;
	dev_log_init(dev);
	pthread_mutex_init(&dev->error_lock, NULL);
	snprintf(dev->be_path, sizeof(dev->be_path), "%s/%u/%u",
		 d->be_root[kind], guest, id);
	snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/%s/%u",
		 guest, vx_kind_type(kind), id);
	snprintf(dev->token, sizeof(dev->token), "fe:%u:%u:%u", kind, guest, id);
	dev->next = d->devices;
	d->devices = dev;

	dev->budget = budget_get(d, guest);
	if (!dev->budget) {
		device_fatal(dev, "the guest has " VX_STR(VX_MAX_DEVICES_PER_GUEST)
			     " devices of this backend already");
		return;
	}
	state = read_state(d, dev->be_path);
	dev->be_state = state;
	if (state == VX_STATE_UNKNOWN || state >= VX_STATE_CLOSING)
		return;		/* not ready, or being torn down: ignore */
	if (!device_configure(dev))
		return;
	dev->max_queue_size = DEFAULT_MAX_QUEUE_SIZE;
	dev->features = VX_FEATURE(VX_F_VERSION_1) |
			VX_FEATURE(VX_F_ACCESS_PLATFORM) |
			VX_FEATURE(VX_F_INDIRECT_DESC) |
			VX_FEATURE(VX_F_EVENT_IDX);
	dev->opening = true;
	if (pthread_create(&dev->opener, NULL, device_opener, dev)) {
		dev->opening = false;
		device_fatal(dev, "cannot start a thread to open what backs the device");
	}
}

/*
 * What backs @dev is open, or could not be: the rest of device_add, then
 * what the device's watches said meanwhile.  @dev may be freed on return.
 */
static void device_opened(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	enum vx_kind kind = dev->kind;
	uint32_t guest = dev->guest, id = dev->id;
	enum status_request req;
	uint64_t status = 0, seq = 0;

	pthread_join(dev->opener, NULL);
	dev->opening = false;
	if (dev->open_result) {
		device_fatal(dev, "cannot open what backs the device (the daemon's log says why)");
		goto events;
	}
	dev->gnttab = xen_gnttab_open(guest);
	if (!dev->gnttab) {
		device_fatal(dev, "cannot open grant tables for the guest");
		goto events;
	}

	req = read_status_request(dev, &status, &seq);
	if (req == REQ_OK && status && device_resume(dev)) {
		dev->be_state = VX_STATE_CONNECTED;
	} else {
		dev->be_state = VX_STATE_INITWAIT;
		/* Requests written before we came are not ours to answer... */
		if (req == REQ_OK || req == REQ_BAD_STATUS)
			dev->status_seq = seq;
		/* ...and a driver past reset whose queues cannot be taken up must reset. */
		if (req == REQ_OK && status) {
			dev->status = status | VX_S_NEEDS_RESET;
			snprintf(dev->error_due, sizeof(dev->error_due), "%s",
				 "backend restarted: reset the device");
			dev->due |= DUE_ERROR;
			dev_warn(dev, "driver status %#x from before this daemon ran: device needs reset",
				 (unsigned int)status);
		} else if (req == REQ_BAD_SEQ || req == REQ_BAD_STATUS) {
			bad_status_request(dev, req == REQ_BAD_SEQ ? "status-seq is malformed" :
					   "status is malformed");
		}
	}
	/* After a failed resume's drain, if there is one. */
	dev->due |= DUE_DEVICE;
	device_commit(dev);
	if (!xs_watch(d->xs, dev->fe_path, dev->token)) {
		device_fatal(dev, "cannot watch the frontend");
		goto events;
	}
	dev->watching_fe = true;
	dev_info(dev, "%s device ready, waiting for the frontend",
		 dev->model->type);
events:
	if (!dev->events_missed)
		return;
	dev->events_missed = false;
	backend_changed(d, kind, guest, id);
}

/* Forced removal, or a destroyed guest's directory removed (protocol.md 2.6). */
static bool release_if_removed(struct vx_device *dev)
{
	if (node_exists(dev->daemon, dev->be_path))
		return false;
	dev_info(dev, "backend directory removed: releasing the device");
	device_release(dev, false);
	return true;
}

static void frontend_changed(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	int fe_state;
	enum status_request req;
	uint64_t status, seq;
	uint64_t online = 1;

	if (dev->draining || dev->release) {
		dev->events_missed = true;	/* looked at after the drain */
		return;
	}
	if (!node_exists(d, dev->fe_path)) {
		/* The toolstack removed both (whichever watch fires first). */
		if (release_if_removed(dev))
			return;
		/*
		 * The guest was destroyed (xl removes /local/domain/<guest>) and
		 * no toolstack will remove our directory: we do (protocol.md 2.6).
		 */
		dev_info(dev, "frontend directory removed: the guest is gone");
		device_release(dev, true);
		return;
	}
	fe_state = read_state(d, dev->fe_path);
	read_dec(d, XBT_NULL, dev->be_path, "online", 1, &online);

	if (fe_state == VX_STATE_CLOSING || fe_state == VX_STATE_CLOSED) {
		if (dev->nr_queues || dev->status)
			device_reset(dev);
		if (fe_state == VX_STATE_CLOSED || !online) {
			if (dev->be_state != VX_STATE_CLOSED)
				set_be_state(dev, VX_STATE_CLOSED);
		} else if (dev->be_state != VX_STATE_CLOSING) {
			set_be_state(dev, VX_STATE_CLOSING);
		}
		return;
	}
	if (fe_state == VX_STATE_INITIALISING && dev->be_state == VX_STATE_CLOSING &&
	    !online) {
		/* Removal, and no driver has the device: nobody to wait for. */
		if (dev->nr_queues || dev->status)
			device_reset(dev);
		set_be_state(dev, VX_STATE_CLOSED);
		return;
	}
	if (fe_state == VX_STATE_INITIALISING && dev->be_state == VX_STATE_CLOSED &&
	    online) {
		/* The guest came back (module reload, kexec). */
		device_reset(dev);
		dev->be_state = VX_STATE_INITWAIT;
		dev->due |= DUE_DEVICE;
		device_commit(dev);
		if (dev->draining) {
			/* Its status request, if any, is answered after the drain. */
			dev->events_missed = true;
			return;
		}
	}
	/* A driver resets the device while releasing it, so Closing answers too. */
	if (dev->be_state != VX_STATE_INITWAIT &&
	    dev->be_state != VX_STATE_CONNECTED &&
	    dev->be_state != VX_STATE_CLOSING)
		return;

	req = read_status_request(dev, &status, &seq);
	if (req == REQ_NONE)
		return;		/* nothing asked yet */
	if (req == REQ_BAD_SEQ) {
		bad_status_request(dev, "status-seq is malformed");
		return;
	}
	/* A reset lets the pool go: the next DRIVER_OK may bring another. */
	if (dev->nr_queues && !(req == REQ_OK && seq != dev->status_seq && !status) &&
	    pool_keys_changed(dev)) {
		/* The request, if any, is still answered (with NEEDS_RESET). */
		device_error(dev, "pool-ref or pool-pages changed while the queues run");
	}
	if (seq == dev->status_seq)
		return;
	dev->status_seq = seq;
	if (req == REQ_BAD_STATUS)
		bad_status_request(dev, "status is malformed");
	else
		handle_status(dev, status);
	/* Written now, or when the queues this request stopped have drained. */
	dev->due |= DUE_STATUS | DUE_ANSWER;
	device_commit(dev);
}

/* libxl wrote the directory (protocol.md 1.5, 1.6), and takes it down. */
static bool libxl_made(struct vx_daemon *d, enum vx_kind kind, const char *be_path)
{
	unsigned int len;
	char *type;
	bool ret;

	if (kind == VX_KIND_XL_DISK)
		return true;
	type = xs_read_path(d, XBT_NULL, be_path, "type", &len);
	ret = vx_is_xl_virtio_type(type);
	free(type);
	return ret;
}

/*
 * A directory of libxl's we do not serve that libxl is taking down, its
 * guest gone: Closed (at once, if we were not running when libxl asked)
 * lets libxl remove it (protocol.md 2.6); nothing to serve.
 */
static bool libxl_removes(struct vx_daemon *d, enum vx_kind kind, uint32_t guest,
			  uint32_t id, const char *be_path)
{
	int state = read_state(d, be_path);
	char fe[160];

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", guest,
		 vx_kind_type(kind), id);
	if (state < VX_STATE_CLOSING || node_exists(d, fe) ||
	    !libxl_made(d, kind, be_path))
		return false;
	if (state == VX_STATE_CLOSING)
		close_backend_dir(d, be_path);
	return true;
}

static void backend_changed(struct vx_daemon *d, enum vx_kind kind,
			    uint32_t guest, uint32_t id)
{
	struct vx_device *dev = find_device(d, kind, guest, id);
	uint64_t online;
	char path[160];
	int state;

	if (!dev) {
		snprintf(path, sizeof(path), "%s/%u/%u", d->be_root[kind], guest, id);
		if (libxl_removes(d, kind, guest, id, path))
			return;
		snprintf(path, sizeof(path), "%s/%u/%u/state", d->be_root[kind],
			 guest, id);
		if (node_exists(d, path))
			device_add(d, kind, guest, id);
		return;
	}
	if (dev->opening) {
		dev->events_missed = true;	/* looked at once it is open */
		return;
	}
	if (release_if_removed(dev))
		return;
	answer_stats(dev);
	if (dev->draining || dev->release) {
		dev->events_missed = true;	/* looked at after the drain */
		return;
	}
	state = read_state(d, dev->be_path);
	if (dev->be_state == VX_STATE_UNKNOWN) {
		if (state == VX_STATE_INITIALISING) {
			device_free(dev, false);	/* it was not ready when first seen */
			device_add(d, kind, guest, id);
		}
		return;
	}
	if (dev->model_priv && dev->model->keys_changed &&
	    (dev->be_state == VX_STATE_INITWAIT || dev->be_state == VX_STATE_CONNECTED) &&
	    dev->model->keys_changed(dev))
		publish_config(dev);
	if (state == VX_STATE_CLOSING && dev->be_state == VX_STATE_CLOSING &&
	    !dev->watching_fe && read_dec(d, XBT_NULL, dev->be_path, "online", 1, &online) &&
	    !online) {
		/* Refused, or seen first while closing: nothing to let go of. */
		set_be_state(dev, VX_STATE_CLOSED);
		return;
	}
	if (state == VX_STATE_CLOSING && dev->be_state == VX_STATE_CLOSED) {
		/* The toolstack asked for removal after we closed: say so again. */
		set_be_state(dev, VX_STATE_CLOSED);
		return;
	}
	if (state == VX_STATE_CLOSING && dev->be_state < VX_STATE_CLOSING) {
		/* The toolstack asks for removal; the frontend lets go first. */
		dev_info(dev, "removal requested");
		dev->be_state = VX_STATE_CLOSING;
		frontend_changed(dev);
	}
}

/* Reconciles our devices with the backend directories of @guest. */
static void scan_guest(struct vx_daemon *d, enum vx_kind kind, uint32_t guest)
{
	struct vx_device *dev, *next;
	char path[96], **ids;
	unsigned int n, i;
	uint64_t id;

	for (dev = d->devices; dev; dev = next) {
		next = dev->next;
		if (dev->kind == kind && dev->guest == guest)
			backend_changed(d, kind, guest, dev->id);
	}
	snprintf(path, sizeof(path), "%s/%u", d->be_root[kind], guest);
	ids = xs_directory(d->xs, XBT_NULL, path, &n);
	for (i = 0; ids && i < n; i++)
		if (vx_parse_dec_str(ids[i], UINT32_MAX, &id) &&
		    !find_device(d, kind, guest, id))
			backend_changed(d, kind, guest, id);
	free(ids);
}

static void scan_kind(struct vx_daemon *d, enum vx_kind kind)
{
	struct vx_device *dev, *next;
	char **guests;
	unsigned int n, i;
	uint64_t guest;

	for (dev = d->devices; dev; dev = next) {
		next = dev->next;
		if (dev->kind == kind && !node_exists(d, dev->be_path))
			backend_changed(d, kind, dev->guest, dev->id);
	}
	guests = xs_directory(d->xs, XBT_NULL, d->be_root[kind], &n);
	for (i = 0; guests && i < n; i++)
		if (vx_parse_dec_str(guests[i], DOMID_MAX, &guest))
			scan_guest(d, kind, guest);
	free(guests);
}

static void handle_watch(struct vx_daemon *d, const char *path,
			 const char *token)
{
	unsigned int kind, guest, id;
	struct vx_device *dev;
	size_t root_len;

	if (sscanf(token, "be:%u", &kind) == 1 && kind < VX_NR_KINDS) {
		root_len = strlen(d->be_root[kind]);
		if (strncmp(path, d->be_root[kind], root_len))
			return;
		path += root_len;
		if (sscanf(path, "/%u/%u", &guest, &id) == 2)
			backend_changed(d, kind, guest, id);
		else if (sscanf(path, "/%u", &guest) == 1)
			scan_guest(d, kind, guest);
		else if (!*path)
			scan_kind(d, kind);
		return;
	}
	if (sscanf(token, "fe:%u:%u:%u", &kind, &guest, &id) == 3 &&
	    kind < VX_NR_KINDS) {
		dev = find_device(d, kind, guest, id);
		if (dev && dev->watching_fe)
			frontend_changed(dev);
	}
}

/*
 * The drain of @dev is over: write what it owed, then look at what its
 * watches said meanwhile.  @dev may be freed on return.
 */
static void drain_done(struct vx_device *dev)
{
	struct vx_daemon *d = dev->daemon;
	enum vx_kind kind = dev->kind;
	uint32_t guest = dev->guest, id = dev->id;

	release_queues(dev);
	if (dev->release) {
		finish_release(dev);
		return;
	}
	device_commit(dev);
	if (!dev->events_missed)
		return;
	dev->events_missed = false;
	backend_changed(d, kind, guest, id);
	dev = find_device(d, kind, guest, id);
	if (dev && dev->watching_fe)
		frontend_changed(dev);
}

/*
 * A queue thread drained, reported a guest error, or asked for the config
 * space to be looked at again: handle it here, in order.
 */
static void handle_queue_reports(struct vx_daemon *d)
{
	struct vx_device *dev;
	uint64_t v;

	if (read(d->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("wake: %s", strerror(errno));
again:
	/* What a finished drain does may add, free or stop devices: look again. */
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->draining && queues_drained(dev)) {
			drain_done(dev);
			goto again;
		}
		if (dev->opening && __atomic_load_n(&dev->open_done, __ATOMIC_ACQUIRE)) {
			device_opened(dev);
			goto again;
		}
	}
	for (dev = d->devices; dev; dev = dev->next) {
		char reason[sizeof(dev->error)];
		bool pending;

		if (dev->draining || dev->release || dev->opening)
			continue;	/* a config check waits for the drain's end */
		pthread_mutex_lock(&dev->error_lock);
		pending = dev->error_pending;
		dev->error_pending = false;
		memcpy(reason, dev->error, sizeof(reason));
		pthread_mutex_unlock(&dev->error_lock);
		if (pending)
			device_error(dev, reason);
		else if (__atomic_exchange_n(&dev->config_check, false, __ATOMIC_ACQ_REL) &&
			 dev->model_priv && dev->model->keys_changed(dev))
			publish_config(dev);
	}
}

void device_config_check(struct vx_device *dev)
{
	__atomic_store_n(&dev->config_check, true, __ATOMIC_RELEASE);
	daemon_wake(dev->daemon);
}

void daemon_wake(struct vx_daemon *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_err("cannot wake the main thread: %s", strerror(errno));
}

struct xs_handle *daemon_xs_open(void)
{
	unsigned int delay_ms = 10, waited_ms = 0, next_log_ms = 0;
	struct xs_handle *xs;

	/*
	 * xenstored makes its socket before it listens, and systemd may start
	 * us beside it: a refused connection means "not yet", never "gone".
	 */
	while (!(xs = xs_open(0))) {
		if (waited_ms >= next_log_ms) {
			log_warn("xenstore is not reachable yet (%s): still trying after %u s",
				 strerror(errno), waited_ms / 1000);
			next_log_ms = waited_ms + 30000;
		}
		usleep(delay_ms * 1000);
		waited_ms += delay_ms;
		if (delay_ms < 1000)
			delay_ms *= 2;
	}
	if (waited_ms)
		log_info("xenstore reached after %u ms", waited_ms);
	return xs;
}

int daemon_init(struct vx_daemon *d, uint32_t self_domid,
		const struct vx_daemon_opts *opts)
{
	const char *state_dir = opts->state_dir;
	unsigned int kind;
	char token[16];

	memset(d, 0, sizeof(*d));
	d->self_domid = self_domid;
	d->poll_us = opts->poll_us;
	if (strlen(state_dir) >= sizeof(d->state_dir) ||
	    (opts->bridge && strlen(opts->bridge) >= sizeof(d->bridge)) ||
	    (opts->script && strlen(opts->script) >= sizeof(d->script))) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(d->state_dir, state_dir);
	if (opts->bridge)
		strcpy(d->bridge, opts->bridge);
	if (opts->script)
		strcpy(d->script, opts->script);
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		log_err("cannot make the state directory %s: %s", state_dir,
			strerror(errno));
		return -1;
	}
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0)
		return -1;
	d->xs = daemon_xs_open();
	for (kind = 0; kind < VX_NR_KINDS; kind++) {
		snprintf(d->be_root[kind], sizeof(d->be_root[kind]),
			 "/local/domain/%u/backend/%s", self_domid,
			 vx_kind_type(kind));
		snprintf(token, sizeof(token), "be:%u", kind);
		if (!xs_watch(d->xs, d->be_root[kind], token)) {
			log_err("cannot watch %s: %s", d->be_root[kind],
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

int daemon_run(struct vx_daemon *d, int signal_fd)
{
	struct epoll_event ev[3];
	int ep, ret = -1;
	unsigned int kind;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 0 };
	ev[1] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 1 };
	ev[2] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 2 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, xs_fileno(d->xs), &ev[0]) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, d->wake_fd, &ev[1]) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, signal_fd, &ev[2]))
		goto out;

	for (kind = 0; kind < VX_NR_KINDS; kind++) {
		log_info("serving %s", d->be_root[kind]);
		scan_kind(d, kind);
	}
	record_sweep(d, device_known);
	for (;;) {
		struct vx_device *dev;
		int i, n, timeout = -1;

		/* Counts of suppressed lines are due: look again each second. */
		for (dev = d->devices; dev; dev = dev->next)
			if (dev_log_flush(dev))
				timeout = 1000;
		n = epoll_wait(ep, ev, 3, timeout);

		if (n < 0 && errno != EINTR)
			goto out;
		for (i = 0; i < n; i++) {
			if (ev[i].data.u32 == 2) {
				struct signalfd_siginfo si;

				if (read(signal_fd, &si, sizeof(si)) == sizeof(si))
					log_info("signal %u: stopping", si.ssi_signo);
				ret = 0;
				goto out;
			}
			if (ev[i].data.u32 == 1)
				handle_queue_reports(d);
		}
		/* xs_check_watch never blocks: drain whatever arrived. */
		for (;;) {
			char **w = xs_check_watch(d->xs);

			if (!w)
				break;
			handle_watch(d, w[XS_WATCH_PATH], w[XS_WATCH_TOKEN]);
			free(w);
		}
		if (errno != EAGAIN) {
			log_err("xenstore connection lost: %s", strerror(errno));
			goto out;
		}
	}
out:
	close(ep);
	return ret;
}

void daemon_shutdown(struct vx_daemon *d)
{
	struct vx_device *dev;
	unsigned int i;

	/* Drains under way finish as they would have, releases included. */
again:
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->draining) {
			for (i = 0; i < dev->nr_queues; i++)
				queue_stop_end(&dev->queues[i]);	/* may wait */
			drain_done(dev);
			goto again;
		}
	}
	/* An open under way ends first (a hotplug script has a time limit). */
	for (dev = d->devices; dev; dev = dev->next) {
		if (dev->opening) {
			pthread_join(dev->opener, NULL);
			dev->opening = false;
		}
	}
	while (d->devices) {
		dev_info(d->devices, "stopping");
		device_free(d->devices, true);
	}
	if (d->xs)
		xs_close(d->xs);
	close(d->wake_fd);
}
