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

void dev_log(const struct vx_device *dev, int level, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "d%u virtio/%u: ", dev->guest, dev->id);
	va_start(ap, fmt);
	log_line(level, prefix, fmt, ap);
	va_end(ap);
}
