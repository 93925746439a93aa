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

#include <xenstore.h>

#include "harness.h"

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


static bool exited(pid_t *pid)
{
	if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == *pid) {
		*pid = 0;
		return true;
	}
	return *pid <= 0;
}

int harness_start_xenstored(struct harness *h)
{
	char xs_log[200], opts[] = XENSTORED_OPTS;
	char *xs_argv[8] = { XENSTORED_BIN };
	struct xs_handle *xs = NULL;
	int ms, n = 1;

	/* configure's options for this Xen's xenstored (4.20 lost --internal-db). */
	for (char *o = strtok(opts, " "); o && n < 7; o = strtok(NULL, " "))
		xs_argv[n++] = o;

	snprintf(xs_log, sizeof(xs_log), "%s/xenstored.log", h->dir);
	h->xenstored = spawn(xs_argv, xs_log, true);
	/* It makes its socket before it listens: wait for a connection, or its exit. */
	for (ms = 0; h->xenstored > 0 && ms < PATIENCE_MS; ms += 5) {
		xs = xs_open(0);
		if (xs || exited(&h->xenstored))
			break;
		poll(NULL, 0, 5);
	}
	if (!xs) {
		fprintf(stderr, "harness: xenstored did not start (see %s)\n", xs_log);
		return -1;
	}
	xs_close(xs);
	return 0;
}

int harness_start(struct harness *h)
{
	return harness_start_opt(h, NULL);
}

int harness_start_opt(struct harness *h, const char *daemon_opt)
{
	char sock[200];

	memset(h, 0, sizeof(*h));
	h->daemon_opt = daemon_opt;
	snprintf(h->dir, sizeof(h->dir), "/tmp/vx-test.XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	/*
	 * The simulated domains' memory on tmpfs where there is one, as RAM is
	 * a file with no disk behind it: the daemon's io_uring then registers
	 * (pins) a pool there as a real dom0's does a gntdev mapping.
	 */
	snprintf(h->sim_dir, sizeof(h->sim_dir), "/dev/shm/vx-sim.XXXXXX");
	if (!mkdtemp(h->sim_dir)) {
		snprintf(h->sim_dir, sizeof(h->sim_dir), "%s/sim", h->dir);
		if (mkdir(h->sim_dir, 0700))
			return -1;
	}
	snprintf(h->log, sizeof(h->log), "%s/virtio-xenbusd.log", h->dir);
	snprintf(sock, sizeof(sock), "%s/socket", h->dir);

	setenv("XENSTORED_RUNDIR", h->dir, 1);
	/* xenstored binds to XENSTORED_PATH when set: a previous run's value. */
	setenv("XENSTORED_PATH", sock, 1);
	setenv("VIRTIO_XENBUS_SIM_DIR", h->sim_dir, 1);
	if (harness_start_xenstored(h))
		return -1;
	return harness_start_daemon(h);
}

void harness_stop_xenstored(struct harness *h)
{
	char sock[200];

	if (h->xenstored > 0) {
		kill(h->xenstored, SIGTERM);
		waitpid(h->xenstored, NULL, 0);
		h->xenstored = 0;
	}
	snprintf(sock, sizeof(sock), "%s/socket", h->dir);
	unlink(sock);
}

static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

int harness_spawn_daemon(struct harness *h)
{
	char *argv[16] = { DAEMON_BIN, "--foreground", "--sim", "--domid", "0",
			   "--verbose" };
	char opts[512], *save = NULL, *arg;
	int argc = 6;

	snprintf(opts, sizeof(opts), "%s", h->daemon_opt ?: "");
	for (arg = strtok_r(opts, " ", &save); arg && argc < 15;
	     arg = strtok_r(NULL, " ", &save))
		argv[argc++] = arg;
	argv[argc] = NULL;
	/* Each start adds one "serving" line; harness_wait_daemon waits for ours. */
	h->daemon_runs = count_lines(h->log, "serving");
	h->daemon = spawn(argv, h->log, false);
	return h->daemon < 0 ? -1 : 0;
}

int harness_wait_daemon(struct harness *h)
{
	for (int ms = 0; ms < PATIENCE_MS; ms += 10) {
		if (count_lines(h->log, "serving") > h->daemon_runs)
			return 0;
		if (exited(&h->daemon))
			break;
		poll(NULL, 0, 10);
	}
	fprintf(stderr, "harness: virtio-xenbusd did not start (see %s)\n", h->log);
	return -1;
}

int harness_start_daemon(struct harness *h)
{
	if (harness_spawn_daemon(h))
		return -1;
	return harness_wait_daemon(h);
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
	char cmd[400];

	harness_stop_daemon(h, SIGTERM);
	harness_stop_xenstored(h);
	if (h->dir[0] && !getenv("VX_KEEP_TEST_DIR")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", h->sim_dir, h->dir);
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
	return count_lines(h->log, needle);
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

int harness_daemon_maps(struct harness *h, const char *needle)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", h->daemon);
	return count_lines(path, needle);
}

long harness_daemon_status_kb(struct harness *h, const char *field)
{
	char path[64], line[128];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", h->daemon);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kb = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return kb;
}

double harness_daemon_cpu_s(struct harness *h)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", h->daemon);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* After the command's ")": fields 3 on; utime and stime are 14 and 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}
