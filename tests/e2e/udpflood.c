// SPDX-License-Identifier: GPL-2.0-only
/*
 * Small UDP datagrams as fast as one sender can, for the rig's packets per
 * second (bench.sh), built static for the guests' initramfs.
 *
 *   udpflood send IP PORT SECONDS BYTES   prints "sent N"
 *   udpflood recv PORT                    prints "received N"
 *
 * The receiver ends once datagrams stop for IDLE_S (or none came in
 * WAIT_S), so a lost last datagram cannot leave it waiting, unlike fio's
 * and iperf's receivers, which wait for an end-of-test datagram.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH	32
#define IDLE_S	2
#define WAIT_S	60

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int send_flood(const char *ip, int port, double seconds, size_t bytes)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char data[1472];
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = data, .iov_len = bytes };
	unsigned long long sent = 0;
	double end;
	int fd, i, n;

	if (bytes > sizeof(data) || inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "udpflood: bad address or size\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("udpflood: socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now() + seconds;
	while (now() < end) {
		n = sendmmsg(fd, msgs, BATCH, 0);
		/* ENOBUFS or ECONNREFUSED: not sent, not counted. */
		if (n > 0)
			sent += n;
	}
	printf("sent %llu\n", sent);
	return 0;
}

static int receive(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct timeval tv = { .tv_sec = IDLE_S };
	static char bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	unsigned long long received = 0;
	int fd, i, n, rcvbuf = 8 << 20;
	double give_up = now() + WAIT_S;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		perror("udpflood: socket");
		return 1;
	}
	/* As large as root may make it: the figure is the path's, not the buffer's. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	/* Bound: the sender may start. */
	printf("listening\n");
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		n = recvmmsg(fd, msgs, BATCH, 0, NULL);
		if (n > 0) {
			received += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* A receive timeout: the flood is over, or has not begun. */
		if (received || now() > give_up)
			break;
	}
	printf("received %llu\n", received);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "send"))
		return send_flood(argv[2], atoi(argv[3]), atof(argv[4]),
				  strtoul(argv[5], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return receive(atoi(argv[2]));
	fprintf(stderr, "usage: udpflood send IP PORT SECONDS BYTES | recv PORT\n");
	return 2;
}
