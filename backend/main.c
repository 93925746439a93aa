// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-xenbusd: serves virtio devices to Xen guests over xenbus, event
 * channels and grant tables (docs/protocol.md).
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "sim/simhv.h"
#include "xsvalue.h"

/* Where systemd's RuntimeDirectory puts it: kept across restarts, not reboots. */
#define VX_STATE_DIR	"/run/virtio-xenbusd"

const struct xen_ops *xen_ops = &xen_ops_real;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: virtio-xenbusd [OPTION]...\n"
		"Serve virtio block and network devices to Xen guests over xenbus.\n\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -s, --sim            use the simulated hypervisor in\n"
		"                       $VIRTIO_XENBUS_SIM_DIR instead of Xen\n"
		"  -d, --domid N        the domain this backend runs in\n"
		"                       (default: read from xenstore, else 0)\n"
		"  -p, --pidfile FILE   write the daemon's pid to FILE\n"
		"  -S, --state-dir DIR  keep the running devices' records in DIR, so\n"
		"                       that a restarted daemon resumes them (default\n"
		"                       " VX_STATE_DIR ", with --sim\n"
		"                       $VIRTIO_XENBUS_SIM_DIR/state)\n"
		"      --poll-us N      after serving requests, a queue watches its\n"
		"                       ring for N microseconds (at most %u) before\n"
		"                       sleeping, the guest's kicks off meanwhile:\n"
		"                       lower latency for a CPU each busy queue\n"
		"                       (default 0: off)\n"
		"  -b, --bridge NAME    the bridge of a nic whose toolstack names\n"
		"                       none, as xl's virtio = [ \"type=virtio,device1\" ]\n"
		"                       (default: the vif-bridge script's, xenbr0)\n"
		"      --script SCRIPT  the hotplug script of such a nic: a path, or a\n"
		"                       name in " HOTPLUG_DIR "\n"
		"                       (default: vif-bridge for xl's, none for others)\n"
		"  -v, --verbose        log debug messages too\n"
		"  -h, --help           show this help\n\n"
		"xenstore is reached as libxenstore reaches it: XENSTORED_PATH\n"
		"names its socket when set.\n", VX_POLL_US_MAX);
}

static int self_domid(struct xs_handle *xs, long opt)
{
	unsigned int len;
	uint64_t v = 0;
	char *s;

	if (opt >= 0)
		return opt;
	s = xs_read(xs, XBT_NULL, "domid", &len);
	if (s && !vx_parse_dec(s, len, 0x7fef, &v))
		v = 0;
	free(s);
	return v;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "%d\n", getpid());
	return fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "sim", no_argument, NULL, 's' },
		{ "domid", required_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "script", required_argument, NULL, 'X' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool foreground = false, verbose = false;
	const char *pidfile = NULL;
	struct vx_daemon_opts dopts = { 0 };
	char sim_state_dir[PATH_MAX];
	struct vx_daemon d;
	long domid = -1;
	struct xs_handle *probe;
	sigset_t sigs;
	int c, sfd, ret;

	/*
	 * Bounce buffers of 64 KiB and more are mapped and unmapped: glibc's
	 * moving threshold would keep freed ones in each queue thread's arena,
	 * and the daemon's memory would be its guests' past peaks, not the
	 * budgets of protocol.md 2.9.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);

	while ((c = getopt_long(argc, argv, "fsd:p:S:b:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 's':
			xen_ops = &xen_ops_sim;
			break;
		case 'd': {
			uint64_t v;

			if (!vx_parse_dec_str(optarg, 0x7fef, &v)) {
				fprintf(stderr, "virtio-xenbusd: bad domid '%s'\n", optarg);
				return 2;
			}
			domid = v;
			break;
		}
		case 'p':
			pidfile = optarg;
			break;
		case 'S':
			dopts.state_dir = optarg;
			break;
		case 'b':
			if (!vx_valid_ifname(optarg)) {
				fprintf(stderr, "virtio-xenbusd: --bridge takes an interface name, not '%s'\n",
					optarg);
				return 2;
			}
			dopts.bridge = optarg;
			break;
		case 'X':
			dopts.script = optarg;
			break;
		case 'P': {
			uint64_t v;

			if (!vx_parse_dec_str(optarg, VX_POLL_US_MAX, &v)) {
				fprintf(stderr, "virtio-xenbusd: --poll-us takes 0 to %u, not '%s'\n",
					VX_POLL_US_MAX, optarg);
				return 2;
			}
			dopts.poll_us = v;
			break;
		}
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_open(!foreground, verbose ? LOG_DEBUG : LOG_INFO);
	if (!dopts.state_dir && xen_ops == &xen_ops_sim) {
		/* Each simulated host has its own devices, so its own records. */
		snprintf(sim_state_dir, sizeof(sim_state_dir), "%s/state",
			 getenv("VIRTIO_XENBUS_SIM_DIR") ?: ".");
		dopts.state_dir = sim_state_dir;
	}
	if (!dopts.state_dir)
		dopts.state_dir = VX_STATE_DIR;

	probe = daemon_xs_open();
	domid = self_domid(probe, domid);
	xs_close(probe);

	if (xen_ops->init(domid)) {
		fprintf(stderr, "virtio-xenbusd: cannot start the %s hypervisor interface: %s\n",
			xen_ops->name, strerror(errno));
		return 1;
	}
	if (!foreground && daemon(0, 0)) {
		perror("virtio-xenbusd: daemon");
		return 1;
	}
	if (pidfile && write_pidfile(pidfile))
		log_err("cannot write %s: %s", pidfile, strerror(errno));

	/* Queue threads inherit this mask, so only the signalfd sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0 || daemon_init(&d, domid, &dopts)) {
		log_err("cannot start: %s", strerror(errno));
		return 1;
	}
	log_info("domain %ld, %s hypervisor interface", domid, xen_ops->name);
	if (dopts.poll_us)
		log_info("a queue polls its ring for %u us after serving", dopts.poll_us);
	if (dopts.bridge)
		log_info("a nic whose toolstack names no bridge goes on %s", dopts.bridge);
	if (dopts.script)
		log_info("a nic whose toolstack names no script runs %s", dopts.script);
	ret = daemon_run(&d, sfd);
	daemon_shutdown(&d);
	if (xen_ops == &xen_ops_sim)
		log_info("sim hypercalls: %llu notifies, %llu map calls, %llu copy calls, %llu copy segments",
			 (unsigned long long)sim_stats.notifies,
			 (unsigned long long)sim_stats.map_calls,
			 (unsigned long long)sim_stats.copy_calls,
			 (unsigned long long)sim_stats.copy_segments);
	log_info("stopped: every grant unmapped, every port unbound");
	if (pidfile)
		unlink(pidfile);
	return ret ? 1 : 0;
}
