/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared set-up of the integration tests: a host, a guest, its disks. */
#ifndef VX_TEST_COMMON_H
#define VX_TEST_COMMON_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "../check-run.h"
#include "harness.h"
#include "nettest.h"
#include "toolstack.h"
#include "vblk.h"

#define DISK_BYTES	(16 << 20)

static struct harness host;

static void host_up(void)
{
	ck_assert_int_eq(harness_start(&host), 0);
}

/* Every test ends with a clean SIGTERM stop and no sanitizer report. */
static void host_down(void)
{
	bool was_running = host.daemon > 0;
	int status = harness_stop_daemon(&host, SIGTERM);
	bool sanitizer = harness_log_wait(&host, "Sanitizer", 0) ||
			 harness_log_wait(&host, "runtime error:", 0);

	bool clean = !was_running || (WIFEXITED(status) && !WEXITSTATUS(status));
	char cmd[300];

	if (!clean || sanitizer) {
		snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", host.log);
		if (system(cmd))
			fprintf(stderr, "cannot show %s\n", host.log);
	}
	harness_stop(&host);
	ck_assert_msg(clean,
		      "virtio-xenbusd did not exit cleanly on SIGTERM (status 0x%x)", status);
	ck_assert_msg(!sanitizer, "virtio-xenbusd log has a sanitizer report");
}

/* A disk image of DISK_BYTES in the host's directory. */
static inline void make_disk(const char *name, char path[256])
{
	int fd;

	snprintf(path, 256, "%s/%s", host.dir, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, DISK_BYTES), 0);
	close(fd);
}

static inline struct vx_guest *new_guest(uint32_t domid)
{
	struct vx_guest *g = guest_create(host.sim_dir, domid, 0, 8192);

	ck_assert_ptr_nonnull(g);
	return g;
}

/* Attaches a disk as the toolstack would and returns its image path. */
static inline void attach_disk(struct vx_guest *g, uint32_t devid, const char *mode,
			const char *queues, const char *access, char path[256])
{
	char name[64];
	const char *kv[] = { "params", path, "mode", mode, "queues", queues,
			     "grant-access", access, NULL };

	snprintf(name, sizeof(name), "d%u-%u.img", g->domid, devid);
	make_disk(name, path);
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, g->domid, devid, "blk", kv), 0);
}

static uint64_t all_features __attribute__((unused)) = ~0ULL;

/* Waits for the device to ask for a reset (protocol.md 2.4). */
static inline bool needs_reset(struct vx_vdev *vd)
{
	for (int ms = 0; ms < PATIENCE_MS; ms++) {
		int s = vdev_read_status(vd);

		if (s >= 0 && (s & VX_S_NEEDS_RESET))
			return true;
		usleep(1000);
	}
	return false;
}

static inline void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static inline int read_file_at(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * What the daemon logged last for queue @q of d@domid's device @devid when
 * the queue stopped (the text after "queue Q: "), waited for, in @out.
 */
static inline void logged_queue_line(uint32_t domid, uint32_t devid, unsigned int q,
				     char *out, size_t outlen)
{
	char needle[64], line[512];
	FILE *f;

	snprintf(needle, sizeof(needle), "d%u virtio/%u: queue %u: ", domid, devid, q);
	ck_assert_msg(harness_log_wait(&host, needle, PATIENCE_MS), "no '%s' in the log", needle);
	f = fopen(host.log, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p)
			snprintf(out, outlen, "%s", p + strlen(needle));
	}
	fclose(f);
}

/* The grant operations the daemon logged for @nq queues of a block device. */
static inline uint64_t logged_grant_ops(uint32_t domid, uint32_t devid, unsigned int nq)
{
	unsigned long long req, kicks, irqs, ops, sum = 0;
	char line[512];
	unsigned int q;

	for (q = 0; q < nq; q++) {
		logged_queue_line(domid, devid, q, line, sizeof(line));
		ck_assert_int_eq(sscanf(line, "%llu requests; %llu kicks, %llu interrupts, %llu grant operations",
					&req, &kicks, &irqs, &ops), 4);
		sum += ops;
	}
	return sum;
}

/* Runs the virtio-xenbus tool; its output in @out (may be NULL). */
static inline __attribute__((format(printf, 3, 4)))
int tool(char *out, size_t outlen, const char *fmt, ...)
{
	char args[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return sh_output(out, outlen, "%s %s", getenv("TOOL"), args);
}

/*
 * A device pair as libxl writes it (seen on the rig): both directories in
 * one transaction, with the permissions of every xenbus device.  @fe_kv and
 * @be_kv: key, value, ..., NULL.
 */
static inline void libxl_write_pair(struct xs_handle *xs, uint32_t domid, const char *fe,
				    const char *be, const char *const *fe_kv,
				    const char *const *be_kv)
{
	struct xs_permissions fe_perms[2] = {
		{ .id = domid, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perms[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = domid, .perms = XS_PERM_READ },
	};
	char key[256];
	xs_transaction_t t;
	bool ok;
	int i;

	do {
		t = xs_transaction_start(xs);
		ck_assert(t != XBT_NULL);
		ok = xs_mkdir(xs, t, fe) && xs_set_permissions(xs, t, fe, fe_perms, 2) &&
		     xs_mkdir(xs, t, be) && xs_set_permissions(xs, t, be, be_perms, 2);
		for (i = 0; ok && fe_kv[i]; i += 2) {
			snprintf(key, sizeof(key), "%s/%s", fe, fe_kv[i]);
			ok = xs_write(xs, t, key, fe_kv[i + 1], strlen(fe_kv[i + 1]));
		}
		for (i = 0; ok && be_kv[i]; i += 2) {
			snprintf(key, sizeof(key), "%s/%s", be, be_kv[i]);
			ok = xs_write(xs, t, key, be_kv[i + 1], strlen(be_kv[i + 1]));
		}
		ck_assert(ok);
	} while (!xs_transaction_end(xs, t, false) && errno == EAGAIN);
}

/*
 * libxl__initiate_device_generic_remove: Closing and offline in one
 * transaction; forced (a guest's destruction) with @fe, which goes in it too.
 */
static inline void libxl_remove_pair(struct xs_handle *xs, const char *be, const char *fe)
{
	char key[256];
	xs_transaction_t t;
	bool ok;

	do {
		t = xs_transaction_start(xs);
		ok = !fe || xs_rm(xs, t, fe);
		snprintf(key, sizeof(key), "%s/online", be);
		ok = ok && xs_write(xs, t, key, "0", 1);
		snprintf(key, sizeof(key), "%s/state", be);
		ok = ok && xs_write(xs, t, key, "5", 1);
		ck_assert(ok);
	} while (!xs_transaction_end(xs, t, false) && errno == EAGAIN);
}

/* Waits up to PATIENCE_MS for @path to hold @want. */
static inline bool xs_wait_value(struct xs_handle *xs, const char *path, const char *want)
{
	bool same = false;
	char *s;

	for (int ms = 0; ms < PATIENCE_MS && !same; ms += 10) {
		s = xs_read(xs, XBT_NULL, path, NULL);
		same = s && !strcmp(s, want);
		free(s);
		if (!same)
			usleep(10000);
	}
	return same;
}

static inline int run_suite(const char *name, const TTest *const *tests, size_t n)
{
	return run_tests(name, tests, n, host_up, host_down, TEST_TIMEOUT_S);
}

#endif
