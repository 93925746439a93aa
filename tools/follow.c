// SPDX-License-Identifier: GPL-2.0-only
/*
 * The follower of create and restore: when the guest reboots, xl makes a
 * new domain, and it gets the guest's virtio devices again.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "virtio-xenbus.h"

/* xl makes a rebooting guest's new domain two seconds after the old one goes. */
#define REBOOT_WAIT_S		30

/*
 * FOLLOWER_DIR/UUID holds the pid of the guest's follower, so that migrate
 * can stop it (the guest's follower is then the receiving host's).
 */
#define FOLLOWER_DIR		"/tool/virtio-xenbus/follower"

/* What xl migrate renames the sending domain to before the receiver runs it. */
#define MIGRATED_AWAY		"--migratedaway"

void logf_ts(const char *fmt, ...)
{
	char when[32];
	time_t now = time(NULL);
	va_list ap;

	strftime(when, sizeof(when), "%F %T", localtime(&now));
	printf("%s ", when);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int reboot_wait_s(void)
{
	uint64_t v;
	const char *s = getenv("VIRTIO_XENBUS_REBOOT_WAIT");

	return s && vx_parse_dec_str(s, 3600, &v) ? (int)v : REBOOT_WAIT_S;
}

/*
 * Replaces @sv with the devices @guest has now, and logs them if they
 * changed.  A domain that went while they were read keeps the devices of
 * before: its backends were already taking its devices away (2.6).
 */
static void save_devices(struct saved_devices *sv, uint32_t guest,
			 const char *dom_path)
{
	struct saved_devices now = { 0 };
	char names[512] = "";
	const char *name;
	size_t len = 0;
	unsigned int i;

	for_each_device(guest, save_device, &now);
	if (!node_exists(dom_path)) {
		saved_free(&now);
		return;
	}
	for (i = 0; i < now.n && len < sizeof(names); i++) {
		name = saved_key(&now.dev[i], "dev") ?: saved_key(&now.dev[i], "mac");
		len += snprintf(names + len, sizeof(names) - len, " %s",
				name ? name : now.dev[i].type);
	}
	if (!now.n)
		strcpy(names, " none");
	if (strcmp(names, sv->names))
		logf_ts("domain %u's virtio devices:%s", guest, names);
	saved_free(sv);
	*sv = now;
	strcpy(sv->names, names);
}

static void restore_devices(const struct saved_devices *sv, uint32_t guest)
{
	char err[400];
	unsigned int i;

	for (i = 0; i < sv->n; i++)
		if (!give_back(&sv->dev[i], guest, err, sizeof(err)))
			logf_ts("domain %u: a %s device could not come back: %s", guest,
				sv->dev[i].type, err);
	logf_ts("domain %u has its %u virtio devices again", guest, sv->n);
}

static void follower_path(const char *vm, char *path, size_t len)
{
	const char *uuid = strrchr(vm, '/');

	snprintf(path, len, "%s/%s", FOLLOWER_DIR, uuid ? uuid + 1 : vm);
}

/* Our pid under FOLLOWER_DIR, or (@mine false) whoever's is there removed if ours. */
static void follower_record(const char *vm, bool mine)
{
	char path[160], pid[16], *v;

	follower_path(vm, path, sizeof(path));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (mine) {
		xs_write(xs, XBT_NULL, path, pid, strlen(pid));
		return;
	}
	v = xs_readf("%s", path);
	if (v && !strcmp(v, pid))
		xs_rm(xs, XBT_NULL, path);
	free(v);
}

/* Whether @pid is a virtio-xenbus process (a recorded pid may have been reused). */
static bool is_tool(pid_t pid)
{
	char path[64], cmd[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(cmd, sizeof(cmd), f))
		cmd[0] = '\0';
	fclose(f);
	return strstr(cmd, "virtio-xenbus") != NULL;
}

bool stop_follower(const char *vm)
{
	char path[160], *v;
	uint32_t pid;
	int ms;

	follower_path(vm, path, sizeof(path));
	v = xs_readf("%s", path);
	if (!v || !parse_id(v, INT32_MAX, &pid) || !pid || (pid_t)pid == getpid() ||
	    !is_tool(pid) || kill(pid, SIGTERM)) {
		free(v);
		xs_rm(xs, XBT_NULL, path);
		return false;
	}
	free(v);
	/* Not our child: gone when kill finds it no more (or a zombie of init's). */
	for (ms = 0; ms < 10000 && !kill(pid, 0) && is_tool(pid); ms += 20)
		usleep(20000);
	xs_rm(xs, XBT_NULL, path);
	return true;
}

/* Logs what gives a guest that left with plain xl migrate its devices there. */
static void log_attach_commands(const struct saved_devices *sv, const char *name)
{
	char line[1024];
	unsigned int i;

	for (i = 0; i < sv->n; i++) {
		saved_attach_command(&sv->dev[i], name, line, sizeof(line));
		logf_ts("  %s", line);
	}
}

/*
 * Whether the domain is called NAME--migratedaway: xl migrate renames it so
 * once the receiver has it, and destroys it as soon as the receiver reports,
 * so a slow follower may find the name gone.  @renamed says a rename came
 * that has not been read yet: if the domain went right after it, that was
 * xl migrate's.
 */
static bool migrating_away(uint32_t domid, bool *renamed)
{
	char *name = xs_readf("/local/domain/%u/name", domid);
	size_t len = name ? strlen(name) : 0;
	bool away;

	if (!name)
		return *renamed;
	*renamed = false;
	away = len > strlen(MIGRATED_AWAY) &&
	       !strcmp(name + len - strlen(MIGRATED_AWAY), MIGRATED_AWAY);
	free(name);
	return away;
}

static void watch_domain(uint32_t domid, char dom_path[64], char devs_path[96],
			 char name_path[80])
{
	snprintf(dom_path, 64, "/local/domain/%u", domid);
	snprintf(devs_path, 96, "%s/device/%s", dom_path, VX_DEVICE_TYPE);
	snprintf(name_path, 80, "%s/name", dom_path);
	xs_watch(xs, dom_path, "domain");
}

/*
 * When the guest reboots, xl destroys its domain and makes a new one with
 * the same uuid (so the same /vm/<uuid> path), unpaused at once: the new
 * domain gets the devices of the old one again.  Returns when the guest has
 * gone for good (no new domain within the reboot wait).
 */
static void follow_reboots(const char *name, uint32_t domid)
{
	char dom_path[64], devs_path[96], name_path[80], saving[160], *vm, **w;
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	struct saved_devices saved = { 0 };
	time_t gone_since = 0;
	bool devices_changed, away = false, renamed = false;
	uint32_t next;

	vm = xs_readf("/local/domain/%u/vm", domid);
	if (!vm) {
		logf_ts("domain %u has no vm path: its reboots cannot be followed", domid);
		return;
	}
	saving_path(vm, saving, sizeof(saving));
	if (!xs_watch(xs, vm, "vm")) {
		logf_ts("cannot watch xenstore: %s", strerror(errno));
		return;
	}
	follower_record(vm, true);
	logf_ts("following %s (domain %u, %s) for reboots", name, domid, vm);
	watch_domain(domid, dom_path, devs_path, name_path);
	save_devices(&saved, domid, dom_path);
	for (;;) {
		if (poll(&pfd, 1, gone_since ? 1000 : -1) < 0 && errno != EINTR)
			break;
		devices_changed = false;
		while ((w = xs_check_watch(xs))) {
			devices_changed |= !strncmp(w[XS_WATCH_PATH], devs_path,
						    strlen(devs_path));
			renamed |= !strcmp(w[XS_WATCH_PATH], name_path);
			free(w);
		}
		if (!gone_since) {
			/* Alive: the devices it has now are the ones to give back. */
			if (node_exists(dom_path)) {
				if (devices_changed)
					save_devices(&saved, domid, dom_path);
				if (!away && migrating_away(domid, &renamed)) {
					away = true;
					logf_ts("domain %u is being moved by plain xl migrate: its virtio devices do not go with it (virtio-xenbus migrate carries them)",
						domid);
				}
				continue;
			}
			xs_unwatch(xs, dom_path, "domain");
			if (node_exists(saving)) {
				logf_ts("domain %u was saved: virtio-xenbus restore gives its devices back",
					domid);
				break;
			}
			gone_since = time(NULL);
			if (!away && renamed) {
				away = true;
				logf_ts("domain %u was renamed as it went: it is being moved by plain xl migrate, and its virtio devices do not go with it (virtio-xenbus migrate carries them)",
					domid);
			}
			if (!away)
				logf_ts("domain %u is gone; waiting %d s for its reboot", domid,
					reboot_wait_s());
		}
		if (find_by_vm(vm, domid, &next)) {
			logf_ts("%s %s as domain %u", name,
				away ? "was migrated to this host" : "rebooted", next);
			/* Watched first: the new domain may be migrated away at once. */
			watch_domain(next, dom_path, devs_path, name_path);
			restore_devices(&saved, next);
			domid = next;
			gone_since = 0;
			away = false;
			renamed = false;
			save_devices(&saved, domid, dom_path);
		} else if (away || time(NULL) - gone_since >= reboot_wait_s()) {
			/* xl makes the incoming domain before the sending one goes. */
			if (!away) {
				logf_ts("%s did not come back within %d s: done", name,
					reboot_wait_s());
				break;
			}
			logf_ts("%s was migrated to another host by plain xl migrate without its %u virtio devices; this host let go of them. There, give them back with:",
				name, saved.n);
			log_attach_commands(&saved, name);
			break;
		}
	}
	follower_record(vm, false);
	saved_free(&saved);
	free(vm);
}

/*
 * Runs follow_reboots in the background, as xl follows its guests, with its
 * output in /var/log/xen/virtio-xenbus-NAME.log ($VIRTIO_XENBUS_LOG_DIR).
 */
static void follow_in_background(const char *name, uint32_t domid)
{
	const char *dir = getenv("VIRTIO_XENBUS_LOG_DIR");
	char log[PATH_MAX];
	int fd, null;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/virtio-xenbus-%s.log", dir ? dir : "/var/log/xen",
		 name);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || null < 0)
		die("%s: %s: the guest runs, but its reboots will not get the devices back",
		    log, strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		fprintf(stderr, "virtio-xenbus: following %s's reboots (pid %d, log %s)\n",
			name, (int)pid, log);
		close(fd);
		close(null);
		return;
	}
	setsid();
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	/* A connection of our own: the parent's goes with it. */
	xs_close(xs);
	xs = xs_open(0);
	if (!xs) {
		logf_ts("cannot reach xenstore: %s", strerror(errno));
		exit(1);
	}
	follow_reboots(name, domid);
	exit(0);
}

/* create's and restore's end: follow the guest's reboots, -F in the foreground. */
void follow_guest(const char *name, uint32_t domid, bool foreground)
{
	if (foreground)
		follow_reboots(name, domid);
	else
		follow_in_background(name, domid);
}
