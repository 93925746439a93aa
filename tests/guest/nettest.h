/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP between the test's network namespace (the host) and the guest's, for
 * the net tests and the net benchmark: every byte is made from its position
 * on both sides, so the receiver checks all of them.
 */
#ifndef VX_NETTEST_H
#define VX_NETTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * @flows connections carry @bytes in all to @server_ip:5001, which listens in
 * the guest's namespace (@guest_ns_path) when @server_in_guest, else in ours.
 * Returns 0 when every byte arrived intact, else -1 with the reason in @why.
 */
int tcp_check_transfer(const char *guest_ns_path, const char *server_ip,
		       bool server_in_guest, size_t bytes, unsigned int flows,
		       char *why, size_t whylen);

/*
 * For @seconds, UDP datagrams of @payload bytes (at most 2048) to
 * @dst_ip:5003, received in the guest's namespace when @receiver_in_guest
 * and sent from the other; counts what was sent and what arrived.  0, or -1.
 */
int udp_flood(const char *guest_ns_path, const char *dst_ip,
	      bool receiver_in_guest, size_t payload, double seconds,
	      uint64_t *sent, uint64_t *received);

/* Runs a shell command (printf-style); its exit status, or -1. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Runs a shell command (printf-style) with its standard error merged into
 * its output, of which the first @outlen - 1 bytes land in @out (may be
 * NULL); its exit status, or -1.
 */
int sh_output(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Monotonic time in seconds. */
double now_seconds(void);

#endif
