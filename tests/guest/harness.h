/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated host for tests and the demo: a fresh directory holding
 * Debian's xenstored (run without a hypervisor), the simulated domains, and
 * virtio-xenbusd started on them, with its log.
 */
#ifndef VX_HARNESS_H
#define VX_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "patience.h"

struct harness {
	char dir[128];
	char sim_dir[160];
	char log[160];
	pid_t xenstored;
	pid_t daemon;
	int daemon_runs;	/* "serving" lines before the daemon's start */
	const char *daemon_opt;	/* more arguments for the daemon, space-separated */
};

/*
 * Starts xenstored and the daemon; exports XENSTORED_PATH for this process.
 * Each start waits for the process to be ready, or to exit.
 */
int harness_start(struct harness *h);
/* The same, the daemon given @daemon_opt (as h->daemon_opt: its later starts too). */
int harness_start_opt(struct harness *h, const char *daemon_opt);
int harness_start_daemon(struct harness *h);
/* The two halves of harness_start_daemon: start it; wait until it serves. */
int harness_spawn_daemon(struct harness *h);
int harness_wait_daemon(struct harness *h);
/* xenstored alone, in the host's directory (its store starts empty). */
int harness_start_xenstored(struct harness *h);
/* Stops it and removes its socket: nothing listens at XENSTORED_PATH. */
void harness_stop_xenstored(struct harness *h);
/* Sends @sig to the daemon and reaps it; returns its wait status. */
int harness_stop_daemon(struct harness *h, int sig);
void harness_stop(struct harness *h);
/* Waits up to @ms for a line of the file at @path to contain @needle. */
bool file_wait_for(const char *path, const char *needle, int ms);
/* Waits up to @ms for the daemon's log to contain @needle. */
bool harness_log_wait(struct harness *h, const char *needle, int ms);
/* How many lines of the daemon's log (all its runs) hold @needle. */
int harness_log_count(struct harness *h, const char *needle);
/* Counts the daemon's open file descriptors and threads. */
int harness_daemon_fds(struct harness *h);
int harness_daemon_threads(struct harness *h);
/* Lines of the daemon's /proc/PID/maps that hold @needle (a mapped file). */
int harness_daemon_maps(struct harness *h, const char *needle);
/* The CPU time the daemon has used, all its threads, in seconds; < 0 on error. */
double harness_daemon_cpu_s(struct harness *h);
/* A kB field of the daemon's /proc/PID/status ("VmRSS:", "VmHWM:"); < 0 on error. */
long harness_daemon_status_kb(struct harness *h, const char *field);

#endif
