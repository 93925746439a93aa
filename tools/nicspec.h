/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio nic, as written in a guest config or on the command line: the
 * keys of xl-network-configuration(5) that apply to it, plus queues=.
 */
#ifndef VX_NICSPEC_H
#define VX_NICSPEC_H

#include <stdbool.h>
#include <stddef.h>

struct vx_nicspec {
	char mac[18];		/* xx:xx:xx:xx:xx:xx, or empty: the backend's */
	char bridge[16];	/* empty: the script's default (xenbr0) */
	char script[256];	/* empty: vif-bridge */
	char ip[256];		/* for vif-route, space separated */
	char vifname[16];
	unsigned int mtu;	/* 0: 1500 */
	unsigned int queues;	/* 0: 1 */
	char backend[64];	/* domain name or id; empty: dom0 */
};

/*
 * Parses @spec (key=value, comma separated) into @n.  On error returns
 * false with the reason in @err (@errlen bytes), e.g. "unknown key 'colour'".
 */
bool vx_parse_nicspec(const char *spec, struct vx_nicspec *n, char *err,
		      size_t errlen);

#endif
