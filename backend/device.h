/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the backend knows of one virtio device and its queues, and the
 * interface each device model (blk.c, later net.c) implements.
 *
 * Threads: the main thread owns xenstore and every device's lifecycle
 * (xenbus.c).  Each running queue has a thread of its own (queue.c) that
 * walks the ring and calls the model; it touches nothing else of the device
 * but the read-only negotiated state and the error report.
 */
#ifndef VX_DEVICE_H
#define VX_DEVICE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_limits.h"
#include "log.h"
#include "protocol.h"
#include "virtqueue.h"
#include "xen_ops.h"

struct vx_device;
struct vx_queue;
struct vx_daemon;
struct device_record;

/* protocol.md 4.3: how the backend reaches buffers outside the pool. */
enum grant_access { GRANT_AUTO, GRANT_COPY, GRANT_MAP };

struct vx_model {
	const char *type;		/* the toolstack's `type` key */
	uint32_t virtio_id;
	/* Reads the model's backend keys, opens the medium, fills features
	 * and config.  Returns 0, or -1 having logged why.
	 */
	int (*open)(struct vx_device *dev);
	void (*close)(struct vx_device *dev);
	/*
	 * Optional: why the driver's features @want, all of them offered,
	 * cannot go together (the device type's rules), or NULL.
	 */
	const char *(*features_invalid)(const struct vx_device *dev, uint64_t want);
	/* queue_start runs before the queue thread starts, queue_stop in it after it stops serving. */
	int (*queue_start)(struct vx_queue *q);
	void (*queue_stop)(struct vx_queue *q);	/* waits for requests in flight */
	/* How many more chains the queue can take now. */
	unsigned int (*queue_room)(struct vx_queue *q);
	/* Takes a chain; -1 is a protocol error of the guest. */
	int (*handle_chain)(struct vx_queue *q, const struct vq_chain *chain);
	/*
	 * A descriptor that becomes readable when requests complete (or, for
	 * a queue the device fills, when it has something to put in it); -1
	 * if the queue completes everything in handle_chain.
	 */
	int (*completion_fd)(struct vx_queue *q);
	/*
	 * Optional, for --poll-us: whether the medium has completions to take,
	 * found without a system call.
	 */
	bool (*completions_ready)(struct vx_queue *q);
	/* Completes what finished, pushing used entries; -1 as above. */
	int (*complete)(struct vx_queue *q);
	/*
	 * Optional: a key of the backend directory changed (the toolstack's,
	 * or ours), or a queue thread called device_config_check.  Returns
	 * true if it changed the config space, which is then published with a
	 * new config-generation.  Runs in the main thread.
	 */
	bool (*keys_changed)(struct vx_device *dev);
	/*
	 * Optional: the device's own line of counters (protocol.md 2.8), no
	 * newline, into @buf of @size bytes.  Runs in the main thread.
	 */
	void (*stats_line)(struct vx_device *dev, char *buf, size_t size);
	/*
	 * Bytes of state the model keeps in the device's record (record.c),
	 * at dev->model_state while the queues run, to resume after a restart.
	 */
	size_t state_bytes;
};

/*
 * Each counter has one writer, its queue's thread; the main thread reads
 * them whole (aligned 64-bit) for the toolstack's stats-request.
 */
struct queue_stats {
	uint64_t requests;		/* used entries */
	uint64_t kicks;
	uint64_t notifies;
	uint64_t packets;		/* net: frames sent or received */
	uint64_t bytes;
	uint64_t drops;			/* net: frames that could not be delivered */
	uint64_t errors;		/* net: frames the host refused */
	uint64_t grant_ops;		/* grant copy, map and unmap calls */
};

struct vx_queue {
	struct vx_device *dev;
	unsigned int index;
	unsigned int size;
	uint64_t desc_addr, driver_addr, device_addr;
	uint32_t remote_port;

	void *ring_maps[3];
	uint32_t ring_pages[3];
	struct vq vq;
	struct vq_inflight *inflight;	/* in the device's record, or NULL */
	bool resume;			/* the record is a previous daemon's */
	struct vq_chain chain;
	struct vx_evtchn *evtchn;

	pthread_t thread;
	bool running;			/* the thread exists (main thread's) */
	bool stopping;			/* asked to stop (main thread's) */
	bool done;			/* the thread has drained and ends (atomic) */
	int stop_fd;			/* eventfd: the main thread asks to stop */
	bool failed;			/* set by the queue thread */
	unsigned int epoch;		/* dev->queue_epoch when started */
	struct queue_stats stats;
	void *model_priv;
};

struct vx_device {
	struct vx_daemon *daemon;
	struct vx_device *next;
	enum vx_kind kind;		/* the device type directory it is in */
	uint32_t guest;
	uint32_t id;
	char be_path[128];
	char fe_path[128];
	char token[64];			/* xenstore watch token */
	bool watching_fe;
	/* libxl wrote the directories and removes them (protocol.md 1.5, 1.6) */
	bool from_libxl;

	const struct vx_model *model;
	void *model_priv;
	enum grant_access access;
	unsigned int request_queues;	/* the toolstack's `queues` */
	bool readonly;

	int be_state;			/* XenbusState we last wrote */
	uint64_t features;
	uint64_t driver_features;	/* valid once FEATURES_OK accepted */
	uint8_t config[VX_MAX_CONFIG_LEN];
	size_t config_len;
	uint32_t config_generation;
	unsigned int max_queues;
	unsigned int max_queue_size;

	uint8_t status;			/* device-status */
	uint32_t status_seq;		/* device-status-seq */
	uint64_t stats_seq;		/* the last stats-request answered */
	bool status_seq_valid;

	struct vx_gnttab *gnttab;
	/*
	 * The frontend's grant pool (pool.c), as its keys gave it, and its
	 * mapping: made before the queue threads start, gone after they end,
	 * read-only to them.  @pool is NULL when there is none or it is not
	 * mapped (its addresses are then reached as any grant address).
	 */
	bool pool_given;
	uint32_t pool_ref, pool_pages;
	uint8_t *pool;
	struct vx_queue *queues;
	unsigned int nr_queues;
	struct device_record *record;	/* while the queues run, if it could be made */
	void *model_state;		/* in the record: model->state_bytes */
	bool resumed;			/* the queues took up a previous daemon's */

	/*
	 * While the queues drain (xenbus.c), what the device owes xenstore
	 * waits in @due, and its watch events wait in @events_missed.
	 */
	bool draining;
	bool keep_record;		/* of the drain under way */
	/*
	 * What backs the device is opened on a thread of its own (a file on
	 * slow storage, a nic's hotplug script): until it is, the device's
	 * events wait in @events_missed too.  @open_done is set by that thread.
	 */
	bool opening;
	bool open_done;
	int open_result;
	pthread_t opener;
	unsigned int due;		/* DUE_* */
	char error_due[200];		/* the `error` of DUE_ERROR */
	enum { RELEASE_NONE, RELEASE_FORGET, RELEASE_GUEST_GONE } release;
	bool events_missed;

	/*
	 * A queue thread's report of a guest error; read by the main thread.
	 * queue_epoch counts the stops of the queues: a report of a queue
	 * started in an earlier epoch is not this device's any more.
	 */
	pthread_mutex_t error_lock;
	char error[200];
	bool error_pending;
	unsigned int queue_epoch;
	bool config_check;		/* device_config_check was called */
	struct log_limit log_limit;
	struct guest_budget *budget;	/* the guest's, shared by its devices */
};

/* What device_commit writes, in one transaction. */
enum {
	DUE_STATUS = 1 << 0,		/* device-status */
	DUE_ANSWER = 1 << 1,		/* device-status-seq: the answer */
	DUE_STATE = 1 << 2,		/* our XenbusState */
	DUE_ERROR = 1 << 3,		/* error */
	DUE_DEVICE = 1 << 4,		/* all of protocol.md 1.2 */
};

static inline bool dev_has_feature(const struct vx_device *dev, unsigned int bit)
{
	return dev->driver_features & VX_FEATURE(bit);
}

/* queue.c */
int queue_start(struct vx_queue *q);
/*
 * Stopping a queue never blocks the main thread: queue_stop_begin asks its
 * thread to stop; the thread finishes what the medium holds, then wakes the
 * main thread (daemon_wake), where queue_stopped becomes true and
 * queue_stop_end releases the rings and the event channel at once.
 */
void queue_stop_begin(struct vx_queue *q);
bool queue_stopped(const struct vx_queue *q);
void queue_stop_end(struct vx_queue *q);
/* Reports a guest protocol error from a queue thread (protocol.md 2.4). */
void queue_fail(struct vx_queue *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * From a queue thread: the model's config space may have to change (it
 * cannot write xenstore itself); the main thread calls its keys_changed.
 */
void device_config_check(struct vx_device *dev);
/* Adds a used entry; published and notified by the service loop. */
void queue_complete(struct vx_queue *q, uint16_t head, uint32_t len);

/*
 * record.c: the record of a running device in the daemon's state directory
 * (protocol.md 2.5).  record_create makes it when the queues start;
 * record_resume maps a previous daemon's if it matches dev->queues (as
 * read from the frontend) and dev->driver_features; record_close unmaps it
 * and keeps the file (the daemon stops); record_remove deletes it (the
 * device stops).
 */
int record_create(struct vx_device *dev);
int record_resume(struct vx_device *dev);
void record_close(struct vx_device *dev);
void record_remove(struct vx_device *dev);
/* Deletes the records whose device @exists does not know. */
void record_sweep(struct vx_daemon *d,
		  bool (*exists)(struct vx_daemon *d, enum vx_kind kind,
				 uint32_t guest, uint32_t id));

/* guest_mem.c: access to the guest's buffers of a chain. */
/*
 * Copies @len bytes between @buf and the concatenation of @segs, starting
 * @skip bytes into it, in one batched grant-copy call, at once: a batch
 * being built (below) stays as it was.  Returns 0, or -1 if the range is
 * out of the segments or a grant does not allow the access.
 */
int gmem_copy(struct vx_device *dev, const struct vq_seg *segs,
	      unsigned int nsegs, uint64_t skip, uint64_t len, void *buf,
	      bool to_guest);
/*
 * The same in two steps, so that several copies go in one grant-copy call:
 * gmem_copy_add queues a copy in the calling thread's batch (it drops the
 * batch and returns -1 if the range is bad); gmem_copy_run does the batch and
 * returns -1 if any grant refused its part.
 */
int gmem_copy_add(struct vx_device *dev, const struct vq_seg *segs,
		  unsigned int nsegs, uint64_t skip, uint64_t len, void *buf,
		  bool to_guest);
int gmem_copy_run(struct vx_device *dev);
/* Drops the calling thread's batch without doing it. */
void gmem_copy_cancel(void);
/* Reads guest memory at one grant address (indirect tables), as gmem_copy. */
int gmem_read(void *dev, uint64_t addr, void *buf, size_t len);
/* Frees the calling thread's copy scratch; a queue thread calls it last. */
void gmem_thread_exit(void);
/* The calling thread's grant calls are counted in @counter from now on. */
void gmem_count_grant_ops(uint64_t *counter);

/* A grant-mapped region. */
struct gmap {
	void *base;
	uint32_t npages;
};
/* Maps @len bytes at grant address @addr; returns the address of the first byte. */
void *gmem_map(struct vx_device *dev, uint64_t addr, uint64_t len,
	       bool writable, struct gmap *m);
/*
 * Reaches @n pieces of guest memory (grant addresses and lengths; a piece's
 * device_writes is not read) for the medium: @iov[i] is where piece i lies,
 * in the pool's mapping when it is in the pool, else in one grant mapping
 * of all the other pieces' pages, made in one call (@m, for gmem_unmap;
 * no mapping when the pool holds them all).  Returns 0, or -1 when a piece
 * is no grant range or a grant refuses the mapping.
 */
int gmem_map_pieces(struct vx_device *dev, const struct vq_seg *pieces,
		    unsigned int n, bool writable, struct iovec *iov,
		    struct gmap *m);
void gmem_unmap(struct vx_device *dev, struct gmap *m);

/*
 * pool.c: the grant pool of protocol.md 4.4.  pool_start checks the keys
 * the frontend gave (xenbus.c read them) and maps the pool; it returns
 * NULL, or why the device cannot run.  pool_stop unmaps it.
 */
const char *pool_start(struct vx_device *dev, uint32_t ref, uint32_t pages);
void pool_stop(struct vx_device *dev);

/*
 * Where the @len bytes at grant address @addr are in the pool's mapping, or
 * NULL if they are not all inside it: such a region is reached with grant
 * operations, as any other.
 */
static inline void *pool_ptr(const struct vx_device *dev, uint64_t addr,
			     uint64_t len)
{
	struct vx_grant_range r;
	uint32_t page;

	if (!dev->pool || !vx_grant_range(addr, len, &r) ||
	    r.first_ref < dev->pool_ref)
		return NULL;
	page = r.first_ref - dev->pool_ref;
	if (page >= dev->pool_pages || r.npages > dev->pool_pages - page)
		return NULL;
	return dev->pool + (size_t)page * VX_PAGE_SIZE + r.offset;
}

/* xenbus.c */
struct vx_daemon;
void daemon_wake(struct vx_daemon *d);

/* blk.c, net.c */
extern const struct vx_model blk_model;
extern const struct vx_model net_model;

#endif
