/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VX_LOG_H
#define VX_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

struct vx_device;

/*
 * A guest can make its device log at any rate it likes: each device prints
 * at most LOG_BURST lines in LOG_INTERVAL_S seconds, and says how many it
 * dropped when it prints again (as Linux's printk_ratelimit does).
 */
#define LOG_BURST	50
#define LOG_INTERVAL_S	5

struct log_limit {
	pthread_mutex_t lock;		/* the queue threads log too */
	time_t begin;			/* of the interval, CLOCK_MONOTONIC */
	unsigned int printed;
	unsigned long suppressed;
};

void log_open(bool to_syslog, int max_level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Every line about a device names its guest and device id. */
void dev_log(struct vx_device *dev, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dev_log_init(struct vx_device *dev);
/*
 * Once the interval of suppressed lines is over, says how many, without
 * waiting for the device's next line; whether some are still to be said.
 */
bool dev_log_flush(struct vx_device *dev);
/* The device's last line, never dropped, after the count of those that were. */
void dev_log_end(struct vx_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define dev_err(dev, ...)	dev_log(dev, LOG_ERR, __VA_ARGS__)
#define dev_warn(dev, ...)	dev_log(dev, LOG_WARNING, __VA_ARGS__)
#define dev_info(dev, ...)	dev_log(dev, LOG_INFO, __VA_ARGS__)
#define dev_dbg(dev, ...)	dev_log(dev, LOG_DEBUG, __VA_ARGS__)

#endif
