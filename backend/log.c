// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "device.h"
#include "log.h"

static bool use_syslog;
static int log_level = LOG_INFO;

void log_open(bool to_syslog, int max_level)
{
	use_syslog = to_syslog;
	log_level = max_level;
	if (use_syslog)
		openlog("virtio-xenbusd", LOG_PID, LOG_DAEMON);
}

static void log_line(int level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_syslog) {
		syslog(level, "%s%s", prefix, msg);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		/* One write per line, so lines of several threads do not mix. */
		fprintf(stderr, "%lld.%03ld virtio-xenbusd: %s%s\n",
			(long long)ts.tv_sec, ts.tv_nsec / 1000000, prefix, msg);
	}
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, "", fmt, ap);
	va_end(ap);
}

static void dev_prefix(const struct vx_device *dev, char *prefix, size_t size)
{
	snprintf(prefix, size, "d%u %s/%u: ", dev->guest, vx_kind_type(dev->kind),
		 dev->id);
}

static void say_suppressed(const struct vx_device *dev, unsigned long n)
{
	char prefix[64];

	dev_prefix(dev, prefix, sizeof(prefix));
	log_msg(LOG_WARNING, "%s%lu log lines suppressed", prefix, n);
}

/*
 * With @l->lock held: if the interval is over, starts the next one and
 * returns the count of lines the last one suppressed (to be said).
 */
static unsigned long next_interval(struct log_limit *l)
{
	unsigned long missed;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - l->begin < LOG_INTERVAL_S)
		return 0;
	l->begin = now.tv_sec;
	l->printed = 0;
	missed = l->suppressed;
	l->suppressed = 0;
	return missed;
}

/* Whether the line may go out now. */
static bool limit_allows(struct vx_device *dev)
{
	struct log_limit *l = &dev->log_limit;
	unsigned long missed;
	bool ok;

	pthread_mutex_lock(&l->lock);
	missed = next_interval(l);
	ok = l->printed < LOG_BURST;
	if (ok)
		l->printed++;
	else
		l->suppressed++;
	pthread_mutex_unlock(&l->lock);
	if (missed)
		say_suppressed(dev, missed);
	return ok;
}

bool dev_log_flush(struct vx_device *dev)
{
	struct log_limit *l = &dev->log_limit;
	unsigned long missed = 0;
	bool waiting;

	pthread_mutex_lock(&l->lock);
	if (l->suppressed)
		missed = next_interval(l);
	waiting = l->suppressed;
	pthread_mutex_unlock(&l->lock);
	if (missed)
		say_suppressed(dev, missed);
	return waiting;
}

void dev_log_init(struct vx_device *dev)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_init(&dev->log_limit.lock, NULL);
	dev->log_limit.begin = now.tv_sec;
}

void dev_log(struct vx_device *dev, int level, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	if (level > log_level || !limit_allows(dev))
		return;
	dev_prefix(dev, prefix, sizeof(prefix));
	va_start(ap, fmt);
	log_line(level, prefix, fmt, ap);
	va_end(ap);
}

void dev_log_end(struct vx_device *dev, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	/* No queue thread is left: the lock is ours alone. */
	if (dev->log_limit.suppressed)
		say_suppressed(dev, dev->log_limit.suppressed);
	pthread_mutex_destroy(&dev->log_limit.lock);
	dev_prefix(dev, prefix, sizeof(prefix));
	va_start(ap, fmt);
	log_line(LOG_INFO, prefix, fmt, ap);
	va_end(ap);
}
