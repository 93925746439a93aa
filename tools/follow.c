// SPDX-License-Identifier: GPL-2.0-only
/*
 * The follower of create and restore: when the guest reboots, xl makes a
 * new domain, and it gets the guest's virtio devices again.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "virtio-xenbus.h"

/* xl makes a rebooting guest's new domain two seconds after the old one goes. */
#define REBOOT_WAIT_S		30

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

/*
 * When the guest reboots, xl destroys its domain and makes a new one with
 * the same uuid (so the same /vm/<uuid> path), unpaused at once: the new
 * domain gets the devices of the old one again.  Returns when the guest has
 * gone for good (no new domain within the reboot wait).
 */
static void follow_reboots(const char *name, uint32_t domid)
{
	char dom_path[64], devs_path[96], saving[160], *vm, **w;
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	struct saved_devices saved = { 0 };
	time_t gone_since = 0;
	bool devices_changed, new_domain = true;
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
	logf_ts("following %s (domain %u, %s) for reboots", name, domid, vm);
	for (;;) {
		if (new_domain) {
			new_domain = false;
			snprintf(dom_path, sizeof(dom_path), "/local/domain/%u", domid);
			snprintf(devs_path, sizeof(devs_path), "%s/device/%s", dom_path,
				 VX_DEVICE_TYPE);
			xs_watch(xs, dom_path, "domain");
			save_devices(&saved, domid, dom_path);
		}
		if (poll(&pfd, 1, gone_since ? 1000 : -1) < 0 && errno != EINTR)
			break;
		devices_changed = false;
		while ((w = xs_check_watch(xs))) {
			devices_changed |= !strncmp(w[XS_WATCH_PATH], devs_path,
						    strlen(devs_path));
			free(w);
		}
		if (!gone_since) {
			/* Alive: the devices it has now are the ones to give back. */
			if (node_exists(dom_path)) {
				if (devices_changed)
					save_devices(&saved, domid, dom_path);
				continue;
			}
			xs_unwatch(xs, dom_path, "domain");
			if (node_exists(saving)) {
				logf_ts("domain %u was saved: virtio-xenbus restore gives its devices back",
					domid);
				break;
			}
			gone_since = time(NULL);
			logf_ts("domain %u is gone; waiting %d s for its reboot", domid,
				reboot_wait_s());
		}
		if (find_by_vm(vm, domid, &next)) {
			logf_ts("%s rebooted as domain %u", name, next);
			restore_devices(&saved, next);
			domid = next;
			gone_since = 0;
			new_domain = true;
		} else if (time(NULL) - gone_since >= reboot_wait_s()) {
			logf_ts("%s did not come back within %d s: done", name, reboot_wait_s());
			break;
		}
	}
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
		exit(0);
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
