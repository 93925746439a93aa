/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The toolstack's part of docs/protocol.md 1.1: create and remove a
 * device's xenstore directories the way libxl does for a vbd or vif.
 */
#ifndef VX_TOOLSTACK_H
#define VX_TOOLSTACK_H

#include <stdbool.h>
#include <stdint.h>

#include <xenstore.h>

/* @kv: backend keys and values, alternating, NULL-terminated. */
int vx_ts_add_device(struct xs_handle *xs, uint32_t backend, uint32_t guest,
		     uint32_t devid, const char *type, const char *const *kv);
/* Asks the backend to close the device: online = 0, state = Closing. */
int vx_ts_request_removal(struct xs_handle *xs, uint32_t backend,
			  uint32_t guest, uint32_t devid);
/*
 * Graceful removal asks the backend to close and waits up to @timeout_ms for
 * it to reach Closed; forced removal (or a timeout) just removes the
 * directories.  Returns 0 if the backend closed, -ETIMEDOUT if forced by
 * the timeout, or -errno.
 */
int vx_ts_remove_device(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid, bool force, int timeout_ms);

/* The backend's XenbusState; VX_STATE_UNKNOWN if absent or malformed. */
int vx_ts_backend_state(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid);
/* Polls the backend's state until @done accepts it; false on timeout. */
bool vx_ts_wait_backend(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid, bool (*done)(int state), int timeout_ms);

void vx_ts_paths(uint32_t backend, uint32_t guest, uint32_t devid,
		 char fe[128], char be[128]);

#endif
