/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VX_DAEMON_H
#define VX_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <xenstore.h>

#include "device.h"

/*
 * The longest --poll-us: a poll that finds nothing costs this much CPU at
 * each busy round's end, and delays a queue's stop by as much.
 */
#define VX_POLL_US_MAX	1000

/* What the daemon's options set. */
struct vx_daemon_opts {
	const char *state_dir;	/* the devices' records (record.c) */
	unsigned int poll_us;	/* --poll-us: a queue's busy-polling */
	const char *bridge;	/* --bridge: of nics whose toolstack names none */
	const char *script;	/* --script: the same, for the hotplug script */
};

struct vx_daemon {
	struct xs_handle *xs;
	uint32_t self_domid;
	/* /local/domain/<self>/backend/<type>, for each vx_kind */
	char be_root[VX_NR_KINDS][64];
	struct vx_device *devices;
	struct guest_budget *budgets;	/* one per guest with devices (guest_limits.c) */
	int wake_fd;			/* eventfd: a queue reported an error */
	char state_dir[256];		/* the devices' records (record.c) */
	unsigned int poll_us;		/* --poll-us: a queue's busy-polling */
	char bridge[16];		/* --bridge, or empty: the script's default */
	char script[256];		/* --script, or empty (net.c) */
};

/* Connects to xenstore, waiting (with a log line) for as long as it takes. */
struct xs_handle *daemon_xs_open(void);
/* @opts->state_dir is made (mode 0700) if missing. */
int daemon_init(struct vx_daemon *d, uint32_t self_domid,
		const struct vx_daemon_opts *opts);
/* Handles xenstore watch events and queue error reports until *stop. */
int daemon_run(struct vx_daemon *d, int signal_fd);
/*
 * Stops every queue and releases every device; xenstore is left as it is,
 * and so are the running devices' records, for the next daemon to resume.
 */
void daemon_shutdown(struct vx_daemon *d);

/* Reads @key of the device's backend directory; the caller frees it. */
char *backend_read(struct vx_device *dev, const char *key);

#endif
