// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static bool wait_for_file(const char *path, int ms)
{
	struct stat st;

	for (; ms > 0; ms -= 5) {
		if (!stat(path, &st))
			return true;
		poll(NULL, 0, 5);
	}
	return false;
}

static pid_t spawn(char *const argv[], const char *log, bool preload_shim)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (log) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	if (preload_shim)
		setenv("LD_PRELOAD", NOHV_SO, 1);
	execv(argv[0], argv);
	_exit(127);
}

int harness_start(struct harness *h)
{
	char sock[200], xs_log[200];
	char *xs_argv[] = { XENSTORED_BIN, "--no-fork", "--internal-db", NULL };

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/vx-test.XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(h->sim_dir, sizeof(h->sim_dir), "%s/sim", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/virtio-xenbusd.log", h->dir);
	snprintf(sock, sizeof(sock), "%s/socket", h->dir);
	snprintf(xs_log, sizeof(xs_log), "%s/xenstored.log", h->dir);
	if (mkdir(h->sim_dir, 0700))
		return -1;

	setenv("XENSTORED_RUNDIR", h->dir, 1);
	/* xenstored binds to XENSTORED_PATH when set: a previous run's value. */
	setenv("XENSTORED_PATH", sock, 1);
	h->xenstored = spawn(xs_argv, xs_log, true);
	if (h->xenstored < 0 || !wait_for_file(sock, 5000)) {
		fprintf(stderr, "harness: xenstored did not start (see %s)\n", xs_log);
		return -1;
	}
	setenv("VIRTIO_XENBUS_SIM_DIR", h->sim_dir, 1);
	return harness_start_daemon(h);
}

int harness_start_daemon(struct harness *h)
{
	char *argv[] = { DAEMON_BIN, "--foreground", "--sim", "--domid", "0",
			 "--verbose", NULL };
	int runs = 0;
	FILE *f;
	char line[512];

	/* Each start adds one "serving" line; wait for ours. */
	f = fopen(h->log, "r");
	while (f && fgets(line, sizeof(line), f))
		runs += strstr(line, "serving") != NULL;
	if (f)
		fclose(f);
	h->daemon = spawn(argv, h->log, false);
	if (h->daemon < 0)
		return -1;
	for (int ms = 0; ms < 10000; ms += 10) {
		int seen = 0;

		f = fopen(h->log, "r");
		while (f && fgets(line, sizeof(line), f))
			seen += strstr(line, "serving") != NULL;
		if (f)
			fclose(f);
		if (seen > runs)
			return 0;
		if (waitpid(h->daemon, NULL, WNOHANG) == h->daemon) {
			h->daemon = 0;
			break;
		}
		poll(NULL, 0, 10);
	}
	fprintf(stderr, "harness: virtio-xenbusd did not start (see %s)\n", h->log);
	return -1;
}

int harness_stop_daemon(struct harness *h, int sig)
{
	int status = -1;

	if (h->daemon > 0) {
		kill(h->daemon, sig);
		waitpid(h->daemon, &status, 0);
		h->daemon = 0;
	}
	return status;
}

void harness_stop(struct harness *h)
{
	char cmd[200];

	harness_stop_daemon(h, SIGTERM);
	if (h->xenstored > 0) {
		kill(h->xenstored, SIGTERM);
		waitpid(h->xenstored, NULL, 0);
		h->xenstored = 0;
	}
	if (h->dir[0] && !getenv("VX_KEEP_TEST_DIR")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
		if (system(cmd))
			fprintf(stderr, "harness: cannot remove %s\n", h->dir);
	}
}

bool file_wait_for(const char *path, const char *needle, int ms)
{
	char line[1024];

	for (; ms >= 0; ms -= 10) {
		FILE *f = fopen(path, "r");
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, needle) != NULL;
		if (f)
			fclose(f);
		if (found)
			return true;
		poll(NULL, 0, 10);
	}
	return false;
}

bool harness_log_wait(struct harness *h, const char *needle, int ms)
{
	return file_wait_for(h->log, needle, ms);
}

int harness_log_count(struct harness *h, const char *needle)
{
	FILE *f = fopen(h->log, "r");
	char line[1024];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

static int count_dir(pid_t pid, const char *what)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int harness_daemon_fds(struct harness *h)
{
	return count_dir(h->daemon, "fd");
}

int harness_daemon_threads(struct harness *h)
{
	return count_dir(h->daemon, "task");
}
