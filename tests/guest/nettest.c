// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nettest.h"

#define MAX_FLOWS	16

int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int sh_output(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[1024], sink[512];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 5, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out)
		n = fread(out, 1, outlen - 1, p);
	/* The rest, so that the command never blocks on a full pipe. */
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	if (out)
		out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The 8 bytes of flow @seed's stream from byte 8 * @word on. */
static uint64_t stream_word(uint64_t seed, uint64_t word)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + word;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Bytes @pos to @pos + @n of the stream, a word at a time. */
static void fill_stream(uint64_t seed, uint64_t pos, uint8_t *buf, size_t n)
{
	while (n) {
		uint64_t w = stream_word(seed, pos >> 3);
		unsigned int off = pos & 7, take = 8 - off;

		if (take > n)
			take = n;
		memcpy(buf, (uint8_t *)&w + off, take);
		buf += take;
		pos += take;
		n -= take;
	}
}

struct flow {
	int fd;
	uint64_t seed;
	size_t bytes;
	size_t done;
	bool ok;
};

static void *flow_send(void *arg)
{
	struct flow *f = arg;
	uint8_t buf[65536];

	while (f->done < f->bytes) {
		size_t n = f->bytes - f->done < sizeof(buf) ? f->bytes - f->done : sizeof(buf);
		ssize_t w;

		fill_stream(f->seed, f->done, buf, n);
		w = send(f->fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			return NULL;
		f->done += w;
	}
	shutdown(f->fd, SHUT_WR);
	f->ok = true;
	return NULL;
}

static void *flow_receive(void *arg)
{
	struct flow *f = arg;
	uint8_t buf[65536], want[65536];
	ssize_t r;

	while ((r = recv(f->fd, buf, sizeof(buf), 0)) > 0) {
		fill_stream(f->seed, f->done, want, r);
		if (memcmp(buf, want, r))
			return NULL;	/* a corrupted byte: f->ok stays false */
		f->done += r;
	}
	f->ok = r == 0 && f->done == f->bytes;
	return NULL;
}

/* A socket of @type made in the namespace at @ns_path, or in ours if NULL. */
static int socket_in(const char *ns_path, int type)
{
	struct timeval tv = { .tv_sec = 20 };
	int self = -1, ns = -1, s = -1;

	if (ns_path) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ns = open(ns_path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET))
			goto out;
	}
	s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (ns_path && setns(self, CLONE_NEWNET)) {
		close(s);
		s = -1;
	}
out:
	if (self >= 0)
		close(self);
	if (ns >= 0)
		close(ns);
	/* A stalled transfer fails instead of hanging. */
	if (s >= 0) {
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return s;
}

int tcp_check_transfer(const char *guest_ns_path, const char *server_ip,
		       bool server_in_guest, size_t bytes, unsigned int flows,
		       char *why, size_t whylen)
{
	const char *server_ns = server_in_guest ? guest_ns_path : NULL;
	const char *client_ns = server_in_guest ? NULL : guest_ns_path;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5001) };
	struct flow tx[MAX_FLOWS] = { 0 }, rx[MAX_FLOWS] = { 0 };
	pthread_t tt[MAX_FLOWS], rt[MAX_FLOWS];
	unsigned int i, k, started = 0;
	int lfd, one = 1, ret = -1;

	if (!flows || flows > MAX_FLOWS || inet_pton(AF_INET, server_ip, &a.sin_addr) != 1) {
		snprintf(why, whylen, "bad arguments");
		return -1;
	}
	lfd = socket_in(server_ns, SOCK_STREAM);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (void *)&a, sizeof(a)) || listen(lfd, MAX_FLOWS)) {
		snprintf(why, whylen, "listen on %s: %s", server_ip, strerror(errno));
		goto out;
	}
	for (i = 0; i < flows; i++) {
		tx[i] = (struct flow){ .fd = socket_in(client_ns, SOCK_STREAM), .seed = i + 1,
				       .bytes = bytes / flows };
		rx[i] = (struct flow){ .fd = -1, .bytes = bytes / flows };
		if (tx[i].fd < 0 || connect(tx[i].fd, (void *)&a, sizeof(a))) {
			snprintf(why, whylen, "connect to %s: %s", server_ip, strerror(errno));
			goto out;
		}
		rx[i].fd = accept(lfd, NULL, NULL);
		if (rx[i].fd < 0) {
			snprintf(why, whylen, "accept: %s", strerror(errno));
			goto out;
		}
	}
	/* The accepting side learns each flow's seed from its port. */
	for (i = 0; i < flows; i++) {
		struct sockaddr_in peer, mine;
		socklen_t l = sizeof(peer);

		getpeername(rx[i].fd, (void *)&peer, &l);
		for (k = 0; k < flows; k++) {
			l = sizeof(mine);
			getsockname(tx[k].fd, (void *)&mine, &l);
			if (mine.sin_port == peer.sin_port)
				rx[i].seed = tx[k].seed;
		}
	}
	for (started = 0; started < flows; started++) {
		if (pthread_create(&tt[started], NULL, flow_send, &tx[started]))
			break;
		if (pthread_create(&rt[started], NULL, flow_receive, &rx[started])) {
			shutdown(tx[started].fd, SHUT_RDWR);
			pthread_join(tt[started], NULL);
			break;
		}
	}
	ret = started == flows ? 0 : -1;
	if (ret)
		snprintf(why, whylen, "cannot start the flows' threads");
	for (i = 0; i < started; i++) {
		pthread_join(tt[i], NULL);
		pthread_join(rt[i], NULL);
		if (!ret && !(tx[i].ok && rx[i].ok && rx[i].seed)) {
			snprintf(why, whylen, "flow %u: sent %zu, received %zu of %zu intact",
				 i, tx[i].done, rx[i].done, rx[i].bytes);
			ret = -1;
		}
	}
out:
	for (i = 0; i < flows; i++) {
		if (tx[i].fd > 0)
			close(tx[i].fd);
		if (rx[i].fd > 0)
			close(rx[i].fd);
	}
	if (lfd >= 0)
		close(lfd);
	return ret;
}

struct udp_sink {
	int fd;
	bool stop;
	uint64_t received;
};

static void *udp_receive(void *arg)
{
	struct udp_sink *k = arg;
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	uint8_t bufs[64][2048];
	int i, n;

	for (i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* Until asked to stop and nothing came for a receive timeout. */
	for (;;) {
		n = recvmmsg(k->fd, msgs, 64, 0, NULL);
		if (n > 0)
			k->received += n;
		else if (__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE))
			return NULL;
	}
}

int udp_flood(const char *guest_ns_path, const char *dst_ip,
	      bool receiver_in_guest, size_t payload, double seconds,
	      uint64_t *sent, uint64_t *received)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5003) };
	struct timeval tv = { .tv_usec = 200 * 1000 };
	struct udp_sink sink = { .fd = -1 };
	int rcvbuf = 8 << 20, tx = -1, ret = -1, i, n;
	uint8_t data[2048] = { 0 };
	struct mmsghdr msgs[32];
	struct iovec iov = { .iov_base = data, .iov_len = payload };
	pthread_t t;
	double end;

	*sent = *received = 0;
	if (payload > sizeof(data) || inet_pton(AF_INET, dst_ip, &a.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	sink.fd = socket_in(receiver_in_guest ? guest_ns_path : NULL, SOCK_DGRAM);
	tx = socket_in(receiver_in_guest ? NULL : guest_ns_path, SOCK_DGRAM);
	if (sink.fd < 0 || tx < 0 ||
	    setsockopt(sink.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) ||
	    setsockopt(sink.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(sink.fd, (void *)&a, sizeof(a)) || connect(tx, (void *)&a, sizeof(a)))
		goto out;
	if (pthread_create(&t, NULL, udp_receive, &sink))
		goto out;
	for (i = 0; i < 32; i++)
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	end = now_seconds() + seconds;
	while (now_seconds() < end) {
		n = sendmmsg(tx, msgs, 32, 0);
		if (n > 0)
			*sent += n;	/* ENOBUFS: the host's queue was full, not sent */
	}
	__atomic_store_n(&sink.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	*received = sink.received;
	ret = 0;
out:
	if (sink.fd >= 0)
		close(sink.fd);
	if (tx >= 0)
		close(tx);
	return ret;
}
