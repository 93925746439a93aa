// SPDX-License-Identifier: GPL-2.0-only
/*
 * One virtqueue of a running device: its rings mapped for the queue's
 * lifetime, its event channel bound, and a thread that serves it.  The
 * thread sleeps in epoll on three descriptors: the event channel (a kick),
 * the model's completion descriptor, and the stop request of the main
 * thread.  On a busy queue epoll_wait is its only blocking call: the
 * medium's submissions are one per round, the used ring's interrupt one per
 * round or per USED_BATCH chains.
 * With --poll-us it watches the ring a while before sleeping.
 *
 * The main thread never waits for a queue to drain: it asks the thread to
 * stop (queue_stop_begin), and the thread, once every request it gave the
 * medium has finished, marks itself done and wakes the main thread, which
 * then releases the rings (queue_stop_end).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "device.h"
#include "log.h"

enum { RING_DESC, RING_DRIVER, RING_DEVICE };

/*
 * Kicks in a row with no new buffer (the available index where the last
 * kick left it) before the queue takes the next ones only every
 * KICK_PAUSE_MS: a guest that kicks in a loop then costs a thousand wake-ups
 * a second, not a CPU.  A driver kicks after adding buffers, so a working
 * one never gets here.
 */
#define IDLE_KICKS_MAX	64
#define KICK_PAUSE_MS	1

/*
 * Chains taken before what completed meanwhile is published, even though
 * the driver keeps adding: a transmit queue at full rate then frees its
 * buffers as we go, instead of stopping on a full ring until the whole
 * round is done (the two sides would take turns).  vhost-net's batch.
 */
#define USED_BATCH	64

void queue_fail(struct vx_queue *q, const char *fmt, ...)
{
	struct vx_device *dev = q->dev;
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	q->failed = true;
	pthread_mutex_lock(&dev->error_lock);
	/* A queue the main thread is stopping reports to nobody (2.2, 2.4). */
	if (!dev->error_pending && q->epoch == dev->queue_epoch) {
		snprintf(dev->error, sizeof(dev->error), "queue %u: %s",
			 q->index, msg);
		dev->error_pending = true;
	}
	pthread_mutex_unlock(&dev->error_lock);
	dev_err(dev, "queue %u: %s", q->index, msg);
	daemon_wake(dev->daemon);
}

void queue_complete(struct vx_queue *q, uint16_t head, uint32_t len)
{
	vq_push_used(&q->vq, head, len);
	q->stats.requests++;
}

static void unmap_rings(struct vx_queue *q)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (q->ring_maps[i])
			xen_gnttab_unmap(q->dev->gnttab, q->ring_maps[i],
					 q->ring_pages[i]);
		q->ring_maps[i] = NULL;
	}
}

static void *map_ring(struct vx_queue *q, int which, uint64_t addr,
		      uint64_t len, bool writable)
{
	struct gmap m;
	void *p = gmem_map(q->dev, addr, len, writable, &m);

	q->ring_maps[which] = m.base;
	q->ring_pages[which] = m.npages;
	return p;
}

static int map_rings(struct vx_queue *q)
{
	void *desc, *avail, *used;

	/* The device only reads the descriptor table and the driver area. */
	desc = map_ring(q, RING_DESC, q->desc_addr, vx_desc_area_size(q->size),
			false);
	avail = map_ring(q, RING_DRIVER, q->driver_addr,
			 vx_driver_area_size(q->size), false);
	used = map_ring(q, RING_DEVICE, q->device_addr,
			vx_device_area_size(q->size), true);
	if (!desc || !avail || !used) {
		unmap_rings(q);
		return -1;
	}
	if (vq_init(&q->vq, q->size, desc, avail, used,
		    dev_has_feature(q->dev, VX_F_EVENT_IDX),
		    dev_has_feature(q->dev, VX_F_INDIRECT_DESC))) {
		unmap_rings(q);
		return -1;
	}
	q->vq.read_guest = gmem_read;
	q->vq.read_opaque = q->dev;
	return 0;
}

/* Publishes what completed and interrupts the driver if it asked. */
static void flush_used(struct vx_queue *q, uint16_t before)
{
	if (q->vq.used_idx == before)
		return;
	vq_publish_used(&q->vq);
	if (vq_should_notify(&q->vq)) {
		xen_evtchn_notify(q->evtchn);
		q->stats.notifies++;
	}
}

/*
 * Returns 0 when the ring is drained and kicks are enabled, 1 when chains
 * wait for room (no kick will announce them: take them after completions),
 * -1 on a guest error.  Publishes every USED_BATCH chains (@published: the
 * used index last published).
 */
static int process_available(struct vx_queue *q, uint16_t *published)
{
	const struct vx_model *model = q->dev->model;
	unsigned int taken = 0;

	for (;;) {
		if (!model->queue_room(q))
			return 1;
		if (++taken % USED_BATCH == 0) {
			flush_used(q, *published);
			*published = q->vq.used_idx;
		}
		int r = vq_pop_chain(&q->vq, &q->chain);

		if (r < 0) {
			queue_fail(q, "%s", q->vq.error);
			return -1;
		}
		if (r == 0) {
			if (vq_enable_kicks(&q->vq))
				continue;
			return 0;
		}
		if (model->handle_chain(q, &q->chain))
			return -1;
	}
}

/* Requests already given to the medium finish before the rings go. */
static void finish_in_flight(struct vx_queue *q)
{
	uint16_t before = q->vq.used_idx;

	q->dev->model->queue_stop(q);
	if (!q->failed)
		flush_used(q, before);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * --poll-us, after a round that served something: watches the ring and the
 * medium's completions for @us before sleeping, with the driver's kicks off
 * meanwhile, so a busy driver adds requests without a hypercall and the
 * queue takes them without a wake-up.  Returns true if work came.
 */
static bool poll_for_work(struct vx_queue *q, unsigned int us)
{
	const struct vx_model *model = q->dev->model;
	uint64_t end = now_ns() + us * 1000ULL;

	vq_disable_kicks(&q->vq);
	do {
		if (vq_pending(&q->vq) ||
		    (model->completions_ready && model->completions_ready(q)))
			return true;
		cpu_relax();
	} while (now_ns() < end);
	/* Kicks on before sleeping; what the driver added meanwhile is ours. */
	return vq_enable_kicks(&q->vq);
}

/* Sleeps until the main thread asks the queue to stop. */
static void wait_for_stop(struct vx_queue *q)
{
	struct pollfd p = { .fd = q->stop_fd, .events = POLLIN };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

static void *queue_thread(void *arg)
{
	struct vx_queue *q = arg;
	const struct vx_model *model = q->dev->model;
	struct epoll_event ev[3];
	int ep, cfd = model->completion_fd(q);
	unsigned int idle_kicks = 0, poll_us = q->dev->daemon->poll_us;
	uint16_t kick_avail = 0;
	bool stop = false;

	gmem_count_grant_ops(&q->stats.grant_ops);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		queue_fail(q, "epoll: %s", strerror(errno));
		goto out;
	}
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 0 };
	ev[1] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 1 };
	ev[2] = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 2 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, xen_evtchn_fd(q->evtchn), &ev[0]) ||
	    (cfd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev[1])) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, q->stop_fd, &ev[2])) {
		queue_fail(q, "epoll: %s", strerror(errno));
		goto out_close;
	}

	/* Buffers may have been added before we listened. */
	xen_evtchn_consume(q->evtchn);
	for (;;) {
		uint16_t before = q->vq.used_idx, taken = q->vq.last_avail_idx;
		uint16_t published = before;
		bool waiting = false, kicked = false;
		uint16_t avail;
		int i, n;

		if (!q->failed) {
			n = process_available(q, &published);
			q->failed = n < 0;
			waiting = n > 0;
		}
		if (!q->failed && model->complete(q))
			q->failed = true;
		flush_used(q, published);
		if (q->failed)
			break;
		if (waiting && model->queue_room(q))
			continue;
		/* Only after work: a guest that kicks and adds nothing gets no poll. */
		if (poll_us && !waiting &&
		    (q->vq.used_idx != before || q->vq.last_avail_idx != taken) &&
		    poll_for_work(q, poll_us))
			continue;
		if (idle_kicks >= IDLE_KICKS_MAX) {
			/*
			 * On the stop request alone; the kicks meanwhile are
			 * taken as one.  Until a kick brings a buffer, every
			 * wake-up is followed by a pause.
			 */
			struct pollfd p = { .fd = q->stop_fd, .events = POLLIN };

			if (poll(&p, 1, KICK_PAUSE_MS) > 0) {
				stop = true;
				break;
			}
		}
		n = epoll_wait(ep, ev, 3, -1);
		if (n < 0 && errno != EINTR) {
			queue_fail(q, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (ev[i].data.u32 == 0) {
				xen_evtchn_consume(q->evtchn);
				q->stats.kicks++;
				kicked = true;
			} else if (ev[i].data.u32 == 2) {
				stop = true;
			}
		}
		if (stop)
			break;
		if (kicked) {
			avail = vq_avail_idx(&q->vq);
			idle_kicks = avail != kick_avail ? 0 :
				     idle_kicks < IDLE_KICKS_MAX ? idle_kicks + 1 : idle_kicks;
			kick_avail = avail;
		}
	}
out_close:
	close(ep);
out:
	finish_in_flight(q);
	/*
	 * A broken ring is never served again, and its medium is drained: a
	 * thread that kept polling would spin on a readable TAP or kick.
	 */
	if (!stop)
		wait_for_stop(q);
	gmem_thread_exit();
	__atomic_store_n(&q->done, true, __ATOMIC_RELEASE);
	daemon_wake(q->dev->daemon);
	return NULL;
}

int queue_start(struct vx_queue *q)
{
	struct vx_device *dev = q->dev;

	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0)
		return -1;
	q->chain.segs = calloc(q->size, sizeof(*q->chain.segs));
	if (!q->chain.segs)
		goto err_stopfd;
	if (map_rings(q)) {
		dev_err(dev, "queue %u: cannot map its rings (grants of desc %#llx, driver %#llx, device %#llx)",
			q->index, (unsigned long long)q->desc_addr,
			(unsigned long long)q->driver_addr,
			(unsigned long long)q->device_addr);
		goto err_segs;
	}
	if (q->inflight && vq_attach_record(&q->vq, q->inflight, q->resume)) {
		dev_err(dev, "queue %u: %s", q->index, q->vq.error);
		goto err_rings;
	}
	q->evtchn = xen_evtchn_bind(dev->guest, q->remote_port);
	if (!q->evtchn) {
		dev_err(dev, "queue %u: cannot bind event channel %u: %s",
			q->index, q->remote_port, strerror(errno));
		goto err_rings;
	}
	/* The previous daemon may have died between a used entry and its interrupt. */
	if (q->resume)
		xen_evtchn_notify(q->evtchn);
	if (dev->model->queue_start(q)) {
		dev_err(dev, "queue %u: cannot start", q->index);
		goto err_evtchn;
	}
	pthread_mutex_lock(&dev->error_lock);
	q->epoch = dev->queue_epoch;
	pthread_mutex_unlock(&dev->error_lock);
	q->done = false;
	q->stopping = false;
	if (pthread_create(&q->thread, NULL, queue_thread, q))
		goto err_model;
	q->running = true;
	return 0;

err_model:
	dev->model->queue_stop(q);
err_evtchn:
	xen_evtchn_close(q->evtchn);
	q->evtchn = NULL;
err_rings:
	vq_destroy(&q->vq);
	unmap_rings(q);
err_segs:
	free(q->chain.segs);
	q->chain.segs = NULL;
err_stopfd:
	close(q->stop_fd);
	return -1;
}

void queue_stop_begin(struct vx_queue *q)
{
	uint64_t one = 1;

	if (!q->running || q->stopping)
		return;
	q->stopping = true;
	if (write(q->stop_fd, &one, sizeof(one)) != sizeof(one))
		dev_err(q->dev, "queue %u: cannot signal stop", q->index);
}

bool queue_stopped(const struct vx_queue *q)
{
	return !q->running || __atomic_load_n(&q->done, __ATOMIC_ACQUIRE);
}

void queue_stop_end(struct vx_queue *q)
{
	if (!q->running)
		return;
	/* The thread has marked itself done: this join does not wait. */
	pthread_join(q->thread, NULL);
	q->running = false;
	q->stopping = false;
	xen_evtchn_close(q->evtchn);
	q->evtchn = NULL;
	vq_destroy(&q->vq);
	unmap_rings(q);
	free(q->chain.segs);
	q->chain.segs = NULL;
	close(q->stop_fd);
}
