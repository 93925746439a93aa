// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"
#include "toolstack.h"
#include "xsvalue.h"

void vx_ts_paths(uint32_t backend, uint32_t guest, uint32_t devid,
		 char fe[128], char be[128])
{
	snprintf(fe, 128, "/local/domain/%u/device/%s/%u", guest,
		 VX_DEVICE_TYPE, devid);
	snprintf(be, 128, "/local/domain/%u/backend/%s/%u/%u", backend,
		 VX_DEVICE_TYPE, guest, devid);
}

static bool write_key(struct xs_handle *xs, xs_transaction_t t,
		      const char *dir, const char *key, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_write(xs, t, path, val, strlen(val));
}

int vx_ts_add_device(struct xs_handle *xs, uint32_t backend, uint32_t guest,
		     uint32_t devid, const char *type, const char *const *kv)
{
	/* libxl__device_generic_add: each end owns its dir, the other reads. */
	struct xs_permissions fe_perms[2] = {
		{ .id = guest, .perms = XS_PERM_NONE },
		{ .id = backend, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = backend, .perms = XS_PERM_NONE },
		{ .id = guest, .perms = XS_PERM_READ },
	};
	char fe[128], be[128], num[16];
	const char *const *k;
	xs_transaction_t t;
	bool ok;

	vx_ts_paths(backend, guest, devid, fe, be);
	do {
		t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			return -errno;
		ok = xs_mkdir(xs, t, fe) && xs_set_permissions(xs, t, fe, fe_perms, 2) &&
		     xs_mkdir(xs, t, be) && xs_set_permissions(xs, t, be, be_perms, 2);
		snprintf(num, sizeof(num), "%u", backend);
		ok = ok && write_key(xs, t, fe, "backend", be) &&
		     write_key(xs, t, fe, "backend-id", num) &&
		     write_key(xs, t, fe, "state", "1");
		snprintf(num, sizeof(num), "%u", guest);
		ok = ok && write_key(xs, t, be, "frontend", fe) &&
		     write_key(xs, t, be, "frontend-id", num) &&
		     write_key(xs, t, be, "online", "1") &&
		     write_key(xs, t, be, "type", type);
		for (k = kv; ok && k && k[0]; k += 2)
			ok = write_key(xs, t, be, k[0], k[1]);
		/* The backend acts on state, so it comes last. */
		ok = ok && write_key(xs, t, be, "state", "1");
		if (!ok) {
			int err = errno;

			xs_transaction_end(xs, t, true);
			return -err;
		}
	} while (!xs_transaction_end(xs, t, false) && errno == EAGAIN);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The backend's XenbusState, VX_STATE_UNKNOWN if absent or malformed. */
static int read_state_in(struct xs_handle *xs, xs_transaction_t t,
			 const char *dir)
{
	char path[160], *s;
	unsigned int len;
	uint64_t v;

	snprintf(path, sizeof(path), "%s/state", dir);
	s = xs_read(xs, t, path, &len);
	if (!s || !vx_parse_dec(s, len, VX_STATE_CLOSED, &v))
		v = VX_STATE_UNKNOWN;
	free(s);
	return v;
}

int vx_ts_backend_state(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid)
{
	char fe[128], be[128];

	vx_ts_paths(backend, guest, devid, fe, be);
	return read_state_in(xs, XBT_NULL, be);
}

bool vx_ts_wait_backend(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid, bool (*done)(int state), int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	while (!done(vx_ts_backend_state(xs, backend, guest, devid))) {
		if (now_ms() > deadline)
			return false;
		poll(NULL, 0, 5);
	}
	return true;
}

int vx_ts_request_removal(struct xs_handle *xs, uint32_t backend,
			  uint32_t guest, uint32_t devid)
{
	char fe[128], be[128];
	xs_transaction_t t;

	vx_ts_paths(backend, guest, devid, fe, be);
	for (;;) {
		t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			return -errno;
		/* As libxl: a backend already Closed is not asked to close. */
		if (!write_key(xs, t, be, "online", "0") ||
		    (read_state_in(xs, t, be) != VX_STATE_CLOSED &&
		     !write_key(xs, t, be, "state", "5"))) {
			xs_transaction_end(xs, t, true);
			return -EIO;
		}
		if (xs_transaction_end(xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -errno;
	}
}

static bool is_closed(int state)
{
	return state == VX_STATE_CLOSED;
}

int vx_ts_remove_device(struct xs_handle *xs, uint32_t backend, uint32_t guest,
			uint32_t devid, bool force, int timeout_ms)
{
	char fe[128], be[128];
	int ret = 0;

	vx_ts_paths(backend, guest, devid, fe, be);
	if (!force) {
		ret = vx_ts_request_removal(xs, backend, guest, devid);
		if (ret)
			return ret;
		if (!vx_ts_wait_backend(xs, backend, guest, devid, is_closed, timeout_ms))
			ret = -ETIMEDOUT;
	}
	xs_rm(xs, XBT_NULL, be);
	xs_rm(xs, XBT_NULL, fe);
	return ret;
}
