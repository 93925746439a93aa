/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VX_LOG_H
#define VX_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

struct vx_device;

void log_open(bool to_syslog, int max_level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Every line about a device names its guest and device id. */
void dev_log(const struct vx_device *dev, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define dev_err(dev, ...)	dev_log(dev, LOG_ERR, __VA_ARGS__)
#define dev_warn(dev, ...)	dev_log(dev, LOG_WARNING, __VA_ARGS__)
#define dev_info(dev, ...)	dev_log(dev, LOG_INFO, __VA_ARGS__)
#define dev_dbg(dev, ...)	dev_log(dev, LOG_DEBUG, __VA_ARGS__)

#endif
