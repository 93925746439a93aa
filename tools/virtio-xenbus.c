// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-xenbus: attach, detach and list the virtio devices of Xen guests,
 * beside xl.  It writes xenstore as libxl writes a vbd or a vif
 * (docs/protocol.md 1.1 and 6); virtio-xenbusd in the backend domain does
 * the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "diskspec.h"
#include "guestcfg.h"
#include "nicspec.h"
#include "protocol.h"
#include "toolstack.h"
#include "xsvalue.h"

#define ANSWER_TIMEOUT_MS	10000
/* xl makes a rebooting guest's new domain two seconds after the old one goes. */
#define REBOOT_WAIT_S		30
#define MAX_CONFIG_BYTES	(1 << 20)
#define MAX_XL_ARGS		56

static struct xs_handle *xs;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: virtio-xenbus COMMAND [ARGS]\n"
		"Attach virtio devices to Xen guests; virtio-xenbusd serves them.\n\n"
		"  create [-e] [-F] GUEST.cfg [xl create options] [KEY=VALUE...]\n"
		"                                 xl create the guest, paused, attach the\n"
		"                                 devices of its virtio_disk and virtio_nic\n"
		"                                 lists, unpause it; then follow its reboots\n"
		"                                 in the background (-F: in the foreground,\n"
		"                                 -e: not at all)\n"
		"  disk-attach DOMAIN DISKSPEC    attach a disk to a running guest\n"
		"  disk-detach [-f] DOMAIN DEV    detach a disk (DEV: devid or vdev);\n"
		"                                 -f: do not wait for the guest\n"
		"  nic-attach DOMAIN NICSPEC      attach a nic to a running guest\n"
		"  nic-detach [-f] DOMAIN DEV     detach a nic (DEV: devid or mac)\n"
		"  nic-link DOMAIN DEV up|down    plug or unplug a nic's cable\n"
		"  list [DOMAIN]                  list virtio devices\n"
		"  save [xl save options] DOMAIN FILE\n"
		"                                 xl save the guest, its virtio devices\n"
		"                                 to FILE.virtio\n"
		"  restore [-e] [-F] [-p] FILE    xl restore the guest, paused, give it its\n"
		"                                 virtio devices again, unpause it (not\n"
		"                                 with -p) and follow its reboots as create\n"
		"  help                           show this help\n\n"
		"DOMAIN is a name or a domid, as in xl.  DISKSPEC is xl's disk syntax\n"
		"(xl-disk-configuration(5)): [target,][format,][vdev,][access] or\n"
		"keys target=, format=raw, vdev=, access=ro|rw, plus queues=1..16 and\n"
		"backend=DOMAIN.  NICSPEC is xl's network syntax\n"
		"(xl-network-configuration(5)): mac=, bridge= (default xenbr0),\n"
		"script= (default vif-bridge; vif-route with ip=), vifname=, mtu=,\n"
		"backend=, model=virtio, plus queues=1..16 (queue pairs).  Examples:\n"
		"  virtio-xenbus disk-attach guest1 /srv/guest1.img,raw,vda,rw,queues=2\n"
		"  virtio-xenbus nic-attach guest1 mac=00:16:3e:00:00:01,bridge=xenbr0\n"
		"A guest config names its virtio devices as it names xl's:\n"
		"  virtio_disk = [ '/srv/guest1.img,raw,vda,rw' ]\n"
		"  virtio_nic = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n");
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("virtio-xenbus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *xs_readf(const char *fmt, ...)
{
	unsigned int len;
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return xs_read(xs, XBT_NULL, path, &len);
}

static char **xs_lsf(unsigned int *n, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	char **list;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	list = xs_directory(xs, XBT_NULL, path, n);
	if (!list)
		*n = 0;
	return list;
}

static bool parse_id(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!vx_parse_dec(s, max, &v))
		return false;
	*out = v;
	return true;
}

/* A domain named as xl names it: a domid, or the name in xenstore. */
static bool lookup_domain(const char *name, uint32_t *domid)
{
	unsigned int n, i;
	char **doms, *s;
	bool found = false;

	if (parse_id(name, 0x7fef, domid)) {
		s = xs_readf("/local/domain/%u/name", *domid);
		found = s || *domid == 0;
		free(s);
		return found;
	}
	doms = xs_lsf(&n, "/local/domain");
	for (i = 0; i < n && !found; i++) {
		s = xs_readf("/local/domain/%s/name", doms[i]);
		found = s && !strcmp(s, name) && parse_id(doms[i], 0x7fef, domid);
		free(s);
	}
	free(doms);
	return found;
}

static uint32_t find_domain(const char *name)
{
	uint32_t domid;

	if (!lookup_domain(name, &domid)) {
		if (parse_id(name, 0x7fef, &domid))
			die("no domain with id %u (see xl list)", domid);
		die("no domain named '%s' (see xl list)", name);
	}
	return domid;
}

static bool answered(int state)
{
	return state >= VX_STATE_INITWAIT;
}

static bool closed(int state)
{
	return state == VX_STATE_CLOSED || state == VX_STATE_UNKNOWN;
}

/*
 * Calls @fn for each virtio device of @guest (every guest if @guest is -1)
 * with its frontend's devid and its backend directory.
 */
static void for_each_device(long guest,
			    void (*fn)(uint32_t guest, uint32_t devid,
				       uint32_t be, const char *be_dir, void *arg),
			    void *arg)
{
	unsigned int nd, nv, i, j;
	char **doms, **devs, *be_dir, *be_id;
	uint32_t g, devid, be;

	doms = xs_lsf(&nd, "/local/domain");
	for (i = 0; i < nd; i++) {
		if (!parse_id(doms[i], 0x7fef, &g) || (guest >= 0 && g != guest))
			continue;
		devs = xs_lsf(&nv, "/local/domain/%u/device/%s", g, VX_DEVICE_TYPE);
		for (j = 0; j < nv; j++) {
			be_dir = xs_readf("/local/domain/%u/device/%s/%s/backend", g,
					  VX_DEVICE_TYPE, devs[j]);
			be_id = xs_readf("/local/domain/%u/device/%s/%s/backend-id", g,
					 VX_DEVICE_TYPE, devs[j]);
			if (be_dir && be_id && parse_id(devs[j], UINT32_MAX, &devid) &&
			    parse_id(be_id, 0x7fef, &be))
				fn(g, devid, be, be_dir, arg);
			free(be_dir);
			free(be_id);
		}
		free(devs);
	}
	free(doms);
}

struct disk_use {
	const char *target;
	bool readonly;
	const char *conflict;	/* set to a description on conflict */
	char where[64];
};

static void check_use(uint32_t guest, uint32_t devid, uint32_t be,
		      const char *be_dir, void *arg)
{
	struct disk_use *u = arg;
	char *params, *mode;

	params = xs_readf("%s/params", be_dir);
	mode = xs_readf("%s/mode", be_dir);
	if (params && !strcmp(params, u->target) &&
	    !(u->readonly && mode && !strcmp(mode, "r"))) {
		snprintf(u->where, sizeof(u->where), "domain %u, device %u", guest, devid);
		u->conflict = u->where;
	}
	free(params);
	free(mode);
}

struct vdev_find {
	const char *vdev;	/* a vdev, a mac or a devid */
	uint32_t guest, be, devid;
	bool found;
};

static void find_vdev(uint32_t guest, uint32_t devid, uint32_t be,
		      const char *be_dir, void *arg)
{
	struct vdev_find *f = arg;
	char *dev, *mac, num[16];

	dev = xs_readf("%s/dev", be_dir);
	mac = xs_readf("%s/mac", be_dir);
	snprintf(num, sizeof(num), "%u", devid);
	if ((dev && !strcmp(dev, f->vdev)) || (mac && !strcasecmp(mac, f->vdev)) ||
	    !strcmp(num, f->vdev)) {
		f->found = true;
		f->guest = guest;
		f->be = be;
		f->devid = devid;
	}
	free(dev);
	free(mac);
}

static bool node_exists(const char *path)
{
	char *v = xs_readf("%s", path);

	free(v);
	return v != NULL;
}

/* The lowest device id the guest does not use yet. */
static uint32_t free_devid(uint32_t guest)
{
	uint32_t devid;
	char *s;

	for (devid = 0;; devid++) {
		s = xs_readf("/local/domain/%u/device/%s/%u", guest, VX_DEVICE_TYPE, devid);
		if (!s)
			return devid;
		free(s);
	}
}

/* A device checked against the host and ready to write: its keys and where. */
struct device_plan {
	uint32_t be;
	const char *type;
	const char *kv[20];
	char target[PATH_MAX];
	char queues[16], mtu[16];
	struct vx_nicspec nic;	/* the nic's spec with its defaults filled in */
};

/* Reports a failure into @err and returns false. */
static bool failf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool failf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

/* A backend named as xl names a domain; dom0 if @name is empty. */
static bool find_backend(const char *name, uint32_t *be, char *err, size_t errlen)
{
	*be = 0;
	if (!name[0])
		return true;
	if (!lookup_domain(name, be))
		return failf(err, errlen, "no backend domain '%s' (see xl list)", name);
	return true;
}

/* Appends @key = @val to the toolstack's keys; an empty value is left out. */
static void kv_add(const char **kv, int *n, const char *key, const char *val)
{
	if (!*val)
		return;
	kv[(*n)++] = key;
	kv[(*n)++] = val;
}

/* Checks a disk against the host: its file, and the disks of every guest. */
static bool plan_disk(const struct vx_diskspec *d, struct device_plan *p,
		      char *err, size_t errlen)
{
	struct disk_use use = { 0 };
	struct stat st;
	int i = 0;

	memset(p, 0, sizeof(*p));
	if (!find_backend(d->backend, &p->be, err, errlen))
		return false;
	/* The path is the backend's: only a dom0 backend shares our view. */
	if (p->be == 0) {
		if (stat(d->target, &st))
			return failf(err, errlen, "%s: %s", d->target, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return failf(err, errlen, "%s is neither a file nor a block device",
				     d->target);
		if (!realpath(d->target, p->target))
			return failf(err, errlen, "%s: %s", d->target, strerror(errno));
	} else {
		snprintf(p->target, sizeof(p->target), "%s", d->target);
	}
	use.target = p->target;
	use.readonly = d->readonly;
	for_each_device(-1, check_use, &use);
	if (use.conflict)
		return failf(err, errlen, "%s is already in use by %s; only read-only disks are shared",
			     p->target, use.conflict);

	p->type = "blk";
	snprintf(p->queues, sizeof(p->queues), "%u", d->queues ? d->queues : 1);
	kv_add(p->kv, &i, "params", p->target);
	kv_add(p->kv, &i, "mode", d->readonly ? "r" : "w");
	kv_add(p->kv, &i, "dev", d->vdev);
	kv_add(p->kv, &i, "queues", p->queues);
	p->kv[i] = NULL;
	return true;
}

/* Checks a nic against the host: its bridge, and the macs of every guest. */
static bool plan_nic(const struct vx_nicspec *spec, struct device_plan *p,
		     char *err, size_t errlen)
{
	struct vdev_find same = { 0 };
	struct vx_nicspec *n = &p->nic;
	char path[64];
	int i = 0;

	memset(p, 0, sizeof(*p));
	*n = *spec;
	if (!find_backend(n->backend, &p->be, err, errlen))
		return false;
	if (!n->script[0])
		strcpy(n->script, "vif-bridge");
	if (!n->bridge[0] && !strcmp(n->script, "vif-bridge"))
		strcpy(n->bridge, "xenbr0");
	/* A bridge is the backend's: only a dom0 backend shares our view. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", n->bridge);
	if (p->be == 0 && !strcmp(n->script, "vif-bridge") && access(path, F_OK))
		return failf(err, errlen,
			     "bridge %s does not exist: create it (ip link add %s type bridge) or give bridge=",
			     n->bridge, n->bridge);
	if (n->mac[0]) {
		same.vdev = n->mac;
		for_each_device(-1, find_vdev, &same);
		if (same.found)
			return failf(err, errlen, "mac %s is already used by domain %u, device %u",
				     n->mac, same.guest, same.devid);
	}

	p->type = "net";
	snprintf(p->queues, sizeof(p->queues), "%u", n->queues ? n->queues : 1);
	snprintf(p->mtu, sizeof(p->mtu), "%u", n->mtu);
	kv_add(p->kv, &i, "queues", p->queues);
	kv_add(p->kv, &i, "script", n->script);
	kv_add(p->kv, &i, "mac", n->mac);
	kv_add(p->kv, &i, "bridge", n->bridge);
	kv_add(p->kv, &i, "ip", n->ip);
	kv_add(p->kv, &i, "vifname", n->vifname);
	kv_add(p->kv, &i, "mtu", n->mtu ? p->mtu : "");
	p->kv[i] = NULL;
	return true;
}

/*
 * Writes the device as the guest's device @devid and waits for the backend
 * to publish it; a device the backend refuses (or never answers) is removed
 * again, with the reason in @err.  Returns the devid, or -1.
 */
static long add_device(const struct device_plan *p, uint32_t guest, uint32_t devid,
		       char *err, size_t errlen)
{
	char fe_dir[128], be_dir[128], *error;
	int ret;

	vx_ts_paths(p->be, guest, devid, fe_dir, be_dir);
	if (node_exists(fe_dir)) {
		failf(err, errlen, "domain %u has a device %u already", guest, devid);
		return -1;
	}
	ret = vx_ts_add_device(xs, p->be, guest, devid, p->type, p->kv);
	if (ret) {
		failf(err, errlen, "cannot write the device to xenstore: %s", strerror(-ret));
		return -1;
	}
	if (!vx_ts_wait_backend(xs, p->be, guest, devid, answered, ANSWER_TIMEOUT_MS)) {
		vx_ts_remove_device(xs, p->be, guest, devid, true, 0);
		failf(err, errlen,
		      "the backend in domain %u did not take the device within %d s: is virtio-xenbusd running there?",
		      p->be, ANSWER_TIMEOUT_MS / 1000);
		return -1;
	}
	if (vx_ts_backend_state(xs, p->be, guest, devid) >= VX_STATE_CLOSING) {
		error = xs_readf("%s/error", be_dir);
		failf(err, errlen, "the backend in domain %u refused the device: %s", p->be,
		      error ? error : "no reason given");
		free(error);
		vx_ts_remove_device(xs, p->be, guest, devid, true, 0);
		return -1;
	}
	return devid;
}

/* disk-attach and nic-attach: the device, and its devid on stdout. */
static int attach_planned(const struct device_plan *plan, uint32_t guest)
{
	char err[400];
	long devid = add_device(plan, guest, free_devid(guest), err, sizeof(err));

	if (devid < 0)
		die("%s", err);
	printf("%ld\n", devid);
	return 0;
}

static int disk_attach(int argc, char **argv)
{
	struct vdev_find same = { 0 };
	struct device_plan plan;
	struct vx_diskspec d;
	char err[PATH_MAX + 160];
	uint32_t guest;

	if (argc != 3)
		die("disk-attach needs DOMAIN and DISKSPEC (see virtio-xenbus help)");
	guest = find_domain(argv[1]);
	if (!vx_parse_diskspec(argv[2], &d, err, sizeof(err)))
		die("bad disk spec '%s': %s", argv[2], err);
	same.vdev = d.vdev;
	for_each_device(guest, find_vdev, &same);
	if (same.found)
		die("domain %u already has a disk %s (device %u)", guest, d.vdev, same.devid);
	if (!plan_disk(&d, &plan, err, sizeof(err)))
		die("%s", err);
	return attach_planned(&plan, guest);
}

static int nic_attach(int argc, char **argv)
{
	struct device_plan plan;
	struct vx_nicspec n;
	char err[400];
	uint32_t guest;

	if (argc != 3)
		die("nic-attach needs DOMAIN and NICSPEC (see virtio-xenbus help)");
	guest = find_domain(argv[1]);
	if (!vx_parse_nicspec(argv[2], &n, err, sizeof(err)))
		die("bad nic spec '%s': %s", argv[2], err);
	if (!plan_nic(&n, &plan, err, sizeof(err)))
		die("%s", err);
	return attach_planned(&plan, guest);
}

/* disk-detach and nic-detach: a device named by devid, vdev or mac. */
static int detach(int argc, char **argv)
{
	const char *what = strcmp(argv[0], "nic-detach") ? "VDEV" : "MAC";
	struct vdev_find f = { 0 };
	bool force = false;
	uint32_t guest;
	int c, ret;

	optind = 1;
	while ((c = getopt(argc, argv, "f")) != -1) {
		if (c != 'f')
			die("usage: %s [-f] DOMAIN DEVID|%s", argv[0], what);
		force = true;
	}
	if (argc - optind != 2)
		die("usage: %s [-f] DOMAIN DEVID|%s", argv[0], what);
	guest = find_domain(argv[optind]);
	f.vdev = argv[optind + 1];
	for_each_device(guest, find_vdev, &f);
	if (!f.found)
		die("domain %u has no virtio device %s (see virtio-xenbus list)", guest, f.vdev);
	if (!force) {
		ret = vx_ts_request_removal(xs, f.be, guest, f.devid);
		if (ret)
			die("cannot ask for removal: %s", strerror(-ret));
		if (!vx_ts_wait_backend(xs, f.be, guest, f.devid, closed, ANSWER_TIMEOUT_MS))
			die("domain %u did not let go of device %u within %d s; detach it with -f",
			    guest, f.devid, ANSWER_TIMEOUT_MS / 1000);
	}
	vx_ts_remove_device(xs, f.be, guest, f.devid, true, 0);
	return 0;
}

/* Sets a nic's `link` key: the guest sees its link go down or up (protocol.md 6). */
static int nic_link(int argc, char **argv)
{
	struct vdev_find f = { 0 };
	char fe_dir[128], be_dir[128], path[160], *type = NULL;
	uint32_t guest;

	if (argc != 4 || (strcmp(argv[3], "up") && strcmp(argv[3], "down")))
		die("usage: nic-link DOMAIN DEVID|MAC up|down");
	guest = find_domain(argv[1]);
	f.vdev = argv[2];
	for_each_device(guest, find_vdev, &f);
	if (f.found) {
		vx_ts_paths(f.be, guest, f.devid, fe_dir, be_dir);
		type = xs_readf("%s/type", be_dir);
	}
	if (!type || strcmp(type, "net"))
		die("domain %u has no virtio nic %s (see virtio-xenbus list)", guest, argv[2]);
	free(type);
	snprintf(path, sizeof(path), "%s/link", be_dir);
	if (!xs_write(xs, XBT_NULL, path, argv[3], strlen(argv[3])))
		die("cannot write %s: %s", path, strerror(errno));
	return 0;
}

static const char *state_name(int state)
{
	static const char *const names[] = {
		"unknown", "initialising", "initwait", "initialised",
		"connected", "closing", "closed",
	};

	return state >= 0 && state <= VX_STATE_CLOSED ? names[state] : "invalid";
}

/* ---- queue counters (protocol.md 2.8) ---- */

#define STATS_TIMEOUT_MS	2000

static uint64_t read_u64(const char *dir, const char *key)
{
	char *s = xs_readf("%s/%s", dir, key);
	uint64_t v = 0;

	if (!s || !vx_parse_dec(s, UINT64_MAX, &v))
		v = 0;
	free(s);
	return v;
}

static void request_stats(uint32_t guest, uint32_t devid, uint32_t be,
			  const char *be_dir, void *arg)
{
	char path[160], seq[24];

	snprintf(path, sizeof(path), "%s/stats-request", be_dir);
	snprintf(seq, sizeof(seq), "%llu",
		 (unsigned long long)(read_u64(be_dir, "stats-answer") % UINT32_MAX + 1));
	xs_write(xs, XBT_NULL, path, seq, strlen(seq));
	(*(unsigned int *)arg)++;
}

static bool stats_answered(const char *be_dir)
{
	uint64_t req = read_u64(be_dir, "stats-request");

	return req && req == read_u64(be_dir, "stats-answer");
}

static void count_answered(uint32_t guest, uint32_t devid, uint32_t be,
			   const char *be_dir, void *arg)
{
	*(unsigned int *)arg += stats_answered(be_dir);
}

/* Asks every listed device's backend for its counters, waits a bounded time. */
static void collect_stats(long guest)
{
	unsigned int asked = 0, answered = 0;
	int ms;

	for_each_device(guest, request_stats, &asked);
	for (ms = 0; ms < STATS_TIMEOUT_MS; ms += 20) {
		answered = 0;
		for_each_device(guest, count_answered, &answered);
		if (answered >= asked)
			return;
		usleep(20000);
	}
}

static uint64_t stat_field(const char *line, const char *key)
{
	char pat[24];
	const char *at;

	snprintf(pat, sizeof(pat), " %s=", key);
	at = strstr(line, pat);
	return at ? strtoull(at + strlen(pat), NULL, 10) : 0;
}

/* The counters of each running queue, one line each, under the device. */
static void print_stats(const char *be_dir, bool net)
{
	char *text, *line, *save = NULL;

	if (!stats_answered(be_dir)) {
		printf("       (no counters: the backend did not answer)\n");
		return;
	}
	text = xs_readf("%s/stats", be_dir);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (net)
			printf("       queue %u: %llu frames, %llu bytes, %llu dropped, %llu refused; %llu kicks, %llu interrupts\n",
			       atoi(line), (unsigned long long)stat_field(line, "packets"),
			       (unsigned long long)stat_field(line, "bytes"),
			       (unsigned long long)stat_field(line, "drops"),
			       (unsigned long long)stat_field(line, "errors"),
			       (unsigned long long)stat_field(line, "kicks"),
			       (unsigned long long)stat_field(line, "interrupts"));
		else
			printf("       queue %u: %llu requests; %llu kicks, %llu interrupts\n",
			       atoi(line), (unsigned long long)stat_field(line, "requests"),
			       (unsigned long long)stat_field(line, "kicks"),
			       (unsigned long long)stat_field(line, "interrupts"));
	}
	free(text);
}

static void print_device(uint32_t guest, uint32_t devid, uint32_t be,
			 const char *be_dir, void *arg)
{
	char *type = xs_readf("%s/type", be_dir), *dev = xs_readf("%s/dev", be_dir);
	char *params = xs_readf("%s/params", be_dir), *mode = xs_readf("%s/mode", be_dir);
	char *mac = xs_readf("%s/mac", be_dir), *bridge = xs_readf("%s/bridge", be_dir);
	char target[128];
	char *queues = xs_readf("%s/queues", be_dir), *error = xs_readf("%s/error", be_dir);
	char *fe_state = xs_readf("/local/domain/%u/device/%s/%u/state", guest,
				  VX_DEVICE_TYPE, devid);
	uint64_t fe = 0;

	if (!fe_state || !vx_parse_dec(fe_state, 255, &fe))
		fe = 0;
	/* A disk's target is its file; a nic's, its address and bridge. */
	if (type && !strcmp(type, "net"))
		snprintf(target, sizeof(target), "mac %s%s%s", mac ?: "(generated)",
			 bridge ? " bridge " : "", bridge ?: "");
	else
		snprintf(target, sizeof(target), "%s", params ?: "-");
	printf("%-6u %-6u %-5s %-6s %-8u %-13s %-13s %-3s %-6s %s%s%s\n", guest, devid,
	       type ?: "?", dev ?: "-", be, state_name(vx_ts_backend_state(xs, be, guest, devid)),
	       state_name(fe), mode ?: "-", queues ?: "1", target,
	       error ? "  error: " : "", error ?: "");
	print_stats(be_dir, type && !strcmp(type, "net"));
	free(mac);
	free(bridge);
	free(type);
	free(dev);
	free(params);
	free(mode);
	free(queues);
	free(error);
	free(fe_state);
}

static int list(int argc, char **argv)
{
	long guest = argc > 1 ? (long)find_domain(argv[1]) : -1;

	printf("%-6s %-6s %-5s %-6s %-8s %-13s %-13s %-3s %-6s %s\n", "Domain", "Devid",
	       "Type", "Vdev", "Backend", "BackendState", "GuestState", "Md", "Queues",
	       "Target");
	collect_stats(guest);
	for_each_device(guest, print_device, NULL);
	return 0;
}


/* ---- create: a guest from its xl config, with its virtio devices ---- */

/* Runs xl (or $XL) with @args, NULL-terminated; returns its exit status. */
static int run_xl(const char *const *args)
{
	const char *xl = getenv("XL") ? getenv("XL") : "xl";
	const char *argv[64] = { xl };
	int i, status;
	pid_t pid;

	for (i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(xl, (char *const *)argv);
		fprintf(stderr, "virtio-xenbus: cannot run %s: %s\n", xl, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int xl_domain(const char *verb, uint32_t domid)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", domid);
	return run_xl((const char *const []){ verb, id, NULL });
}

/* The config as xl reads it: the file, then the KEY=VALUE arguments. */
static char *read_config(const char *path, char **xl_args)
{
	size_t len = 0, extra = 0;
	const char *why = NULL;
	char *text;
	ssize_t n = 0;
	int fd, i;

	for (i = 0; xl_args[i]; i++)
		extra += strlen(xl_args[i]) + 1;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	text = malloc(MAX_CONFIG_BYTES + extra + 2);
	if (!text)
		die("out of memory");
	while (len < MAX_CONFIG_BYTES && (n = read(fd, text + len, MAX_CONFIG_BYTES - len)) > 0)
		len += n;
	close(fd);
	if (n < 0)
		why = strerror(errno);
	else if (len == MAX_CONFIG_BYTES)
		why = "too big for a guest config";
	else if (memchr(text, '\0', len))
		why = "not a text file";
	if (why) {
		free(text);
		die("%s: %s", path, why);
	}
	text[len++] = '\n';
	for (i = 0; xl_args[i]; i++)
		if (xl_args[i][0] != '-' && strchr(xl_args[i], '='))
			len += sprintf(text + len, "%s\n", xl_args[i]);
	text[len] = '\0';
	return text;
}

/* Checks every device of @gc against the host; the reason says which line failed. */
static bool plan_all(const struct vx_guestcfg *gc, struct device_plan *plans,
		     char *err, size_t errlen)
{
	char why[PATH_MAX + 160];
	unsigned int i;

	for (i = 0; i < gc->nr_disks; i++)
		if (!plan_disk(&gc->disks[i], &plans[i], why, sizeof(why)))
			return failf(err, errlen, "line %u: disk %s: %s", gc->disk_line[i],
				     gc->disks[i].vdev, why);
	for (i = 0; i < gc->nr_nics; i++)
		if (!plan_nic(&gc->nics[i], &plans[gc->nr_disks + i], why, sizeof(why)))
			return failf(err, errlen, "line %u: nic %u: %s", gc->nic_line[i], i + 1,
				     why);
	return true;
}

static bool attach_all(const struct device_plan *plans, unsigned int n,
		       uint32_t guest, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (add_device(&plans[i], guest, free_devid(guest), err, errlen) < 0)
			return false;
	return true;
}

/* The domain whose vm path is @vm, other than @old; false if none yet. */
static bool find_by_vm(const char *vm, uint32_t old, uint32_t *domid)
{
	unsigned int n, i;
	char **doms, *s;
	bool found = false;

	doms = xs_lsf(&n, "/local/domain");
	for (i = 0; i < n && !found; i++) {
		if (!parse_id(doms[i], 0x7fef, domid) || *domid == old)
			continue;
		s = xs_readf("/local/domain/%u/vm", *domid);
		found = s && !strcmp(s, vm);
		free(s);
	}
	free(doms);
	return found;
}

static void logf_ts(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_ts(const char *fmt, ...)
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

	return s && vx_parse_dec(s, 3600, &v) ? (int)v : REBOOT_WAIT_S;
}

/*
 * The guest's virtio devices as the toolstack wrote them (protocol.md 1.1,
 * 5, 6): after a reboot the new domain gets the devices the guest had, hot
 * attaches and detaches included, as xl keeps a guest's vbds and vifs.
 */
#define MAX_SAVED_KEYS	16

struct saved_device {
	uint32_t devid, be;
	char *type;
	const char *kv[2 * MAX_SAVED_KEYS + 1];
};

struct saved_devices {
	struct saved_device *dev;
	unsigned int n;
	char names[512];	/* as last logged */
};

static const char *const toolstack_keys[] = {
	"grant-access", "queues", "params", "mode", "serial", "dev", "mac", "bridge",
	"script", "ip", "vifname", "mtu", "link",
};

static void saved_free(struct saved_devices *sv)
{
	unsigned int i, k;

	for (i = 0; i < sv->n; i++) {
		free(sv->dev[i].type);
		for (k = 1; sv->dev[i].kv[k - 1]; k += 2)
			free((char *)sv->dev[i].kv[k]);
	}
	free(sv->dev);
	sv->dev = NULL;
	sv->n = 0;
}

static void save_device(uint32_t guest, uint32_t devid, uint32_t be,
			const char *be_dir, void *arg)
{
	struct saved_devices *sv = arg;
	struct saved_device *dev, *grown;
	unsigned int k, i = 0;
	char *v;

	grown = realloc(sv->dev, (sv->n + 1) * sizeof(*grown));
	if (!grown)
		return;
	sv->dev = grown;
	dev = memset(&grown[sv->n], 0, sizeof(*dev));
	dev->devid = devid;
	dev->be = be;
	dev->type = xs_readf("%s/type", be_dir);
	if (!dev->type)
		return;
	for (k = 0; k < sizeof(toolstack_keys) / sizeof(toolstack_keys[0]); k++) {
		v = xs_readf("%s/%s", be_dir, toolstack_keys[k]);
		if (!v)
			continue;
		dev->kv[i++] = toolstack_keys[k];
		dev->kv[i++] = v;
	}
	sv->n++;
}

/* The value of @key in a saved device, or NULL. */
static const char *saved_key(const struct saved_device *dev, const char *key)
{
	unsigned int k;

	for (k = 0; dev->kv[k]; k += 2)
		if (!strcmp(dev->kv[k], key))
			return dev->kv[k + 1];
	return NULL;
}

/* Replaces @sv with the devices @guest has now, and logs them if they changed. */
static void save_devices(struct saved_devices *sv, uint32_t guest)
{
	char names[512] = "";
	const char *name;
	size_t len = 0;
	unsigned int i;

	saved_free(sv);
	for_each_device(guest, save_device, sv);
	for (i = 0; i < sv->n && len < sizeof(names); i++) {
		name = saved_key(&sv->dev[i], "dev") ?: saved_key(&sv->dev[i], "mac");
		len += snprintf(names + len, sizeof(names) - len, " %s",
				name ? name : sv->dev[i].type);
	}
	if (!sv->n)
		strcpy(names, " none");
	if (strcmp(names, sv->names))
		logf_ts("domain %u's virtio devices:%s", guest, names);
	strcpy(sv->names, names);
}

/* Gives @guest a saved device again, with its devid. */
static bool give_back(const struct saved_device *dev, uint32_t guest, char *err,
		      size_t errlen)
{
	struct device_plan plan = { .be = dev->be, .type = dev->type };

	memcpy(plan.kv, dev->kv, sizeof(dev->kv));
	return add_device(&plan, guest, dev->devid, err, errlen) >= 0;
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
 * A saved guest's devices travel beside its save file, in FILE.virtio:
 *
 *   # virtio-xenbus saved devices 1
 *   name NAME
 *   device DEVID BACKEND TYPE KEY=VALUE...
 *
 * with each name and value %-escaped (space, '%', controls).  And while
 * `save` runs, /tool/virtio-xenbus/saving/UUID tells the guest's follower
 * that the domain about to go is saved, not rebooting.
 */
#define SAVED_HEADER	"# virtio-xenbus saved devices 1"
#define SAVING_DIR	"/tool/virtio-xenbus/saving"

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '%' || *s == 0x7f)
			fprintf(f, "%%%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

/* Undoes put_escaped in place; false if @s is not escaped so. */
static bool unescape(char *s)
{
	char *out = s;
	unsigned int c;

	for (; *s; s++) {
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
		    sscanf(s + 1, "%2x", &c) != 1 || !c)
			return false;
		*out++ = c;
		s += 2;
	}
	*out = '\0';
	return true;
}

static bool write_saved(const char *path, const char *name,
			const struct saved_devices *sv)
{
	unsigned int i, k;
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	fprintf(f, "%s\nname ", SAVED_HEADER);
	put_escaped(f, name);
	fputc('\n', f);
	for (i = 0; i < sv->n; i++) {
		fprintf(f, "device %u %u %s", sv->dev[i].devid, sv->dev[i].be, sv->dev[i].type);
		for (k = 0; sv->dev[i].kv[k]; k += 2) {
			fprintf(f, " %s=", sv->dev[i].kv[k]);
			put_escaped(f, sv->dev[i].kv[k + 1]);
		}
		fputc('\n', f);
	}
	ok = !fflush(f) && !fsync(fileno(f));
	return !fclose(f) && ok;
}

/* The toolstack key @key as one of ours (static), or NULL. */
static const char *toolstack_key(const char *key)
{
	size_t k;

	for (k = 0; k < sizeof(toolstack_keys) / sizeof(toolstack_keys[0]); k++)
		if (!strcmp(key, toolstack_keys[k]))
			return toolstack_keys[k];
	return NULL;
}

/* One "device" line, split in place into @dev. */
static bool parse_saved_device(char *line, struct saved_device *dev)
{
	char *tok, *eq, *save = NULL;
	unsigned int i = 0;

	tok = strtok_r(line, " ", &save);
	if (!tok || !parse_id(tok, UINT32_MAX, &dev->devid))
		return false;
	tok = strtok_r(NULL, " ", &save);
	if (!tok || !parse_id(tok, 0x7fef, &dev->be))
		return false;
	tok = strtok_r(NULL, " ", &save);
	if (!tok || (strcmp(tok, "blk") && strcmp(tok, "net")))
		return false;
	dev->type = strdup(tok);
	while ((tok = strtok_r(NULL, " ", &save))) {
		eq = strchr(tok, '=');
		if (!eq || i + 2 >= 2 * MAX_SAVED_KEYS)
			return false;
		*eq = '\0';
		dev->kv[i] = toolstack_key(tok);
		if (!dev->kv[i] || !unescape(eq + 1))
			return false;
		dev->kv[i + 1] = strdup(eq + 1);
		i += 2;
	}
	return dev->type != NULL;
}

/* Reads a FILE.virtio that write_saved wrote; the reason in @err if not. */
static bool read_saved(const char *path, char *name, size_t namelen,
		       struct saved_devices *sv, char *err, size_t errlen)
{
	unsigned int line_no = 0;
	struct saved_device *grown;
	char line[4096];
	bool ok = true;
	FILE *f = fopen(path, "r");

	if (!f)
		return failf(err, errlen, "%s: %s", path, strerror(errno));
	name[0] = '\0';
	while (ok && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (++line_no == 1) {
			ok = !strcmp(line, SAVED_HEADER);
		} else if (!strncmp(line, "name ", 5)) {
			ok = unescape(line + 5) && strlen(line + 5) < namelen;
			if (ok)
				strcpy(name, line + 5);
		} else if (!strncmp(line, "device ", 7)) {
			grown = realloc(sv->dev, (sv->n + 1) * sizeof(*grown));
			ok = grown != NULL;
			if (ok) {
				sv->dev = grown;
				memset(&grown[sv->n], 0, sizeof(*grown));
				ok = parse_saved_device(line + 7, &grown[sv->n]);
				sv->n++;
			}
		} else {
			ok = false;
		}
	}
	fclose(f);
	if (ok && !name[0])
		return failf(err, errlen, "%s: no guest name", path);
	if (!ok)
		return failf(err, errlen, "%s: line %u is not what virtio-xenbus save writes",
			     path, line_no);
	return true;
}

/* SAVING_DIR/UUID for the domain whose vm path is @vm. */
static void saving_path(const char *vm, char *path, size_t len)
{
	const char *uuid = strrchr(vm, '/');

	snprintf(path, len, "%s/%s", SAVING_DIR, uuid ? uuid + 1 : vm);
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
			save_devices(&saved, domid);
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
					save_devices(&saved, domid);
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
static void follow_guest(const char *name, uint32_t domid, bool foreground)
{
	if (foreground)
		follow_reboots(name, domid);
	else
		follow_in_background(name, domid);
}

static int create(int argc, char **argv)
{
	static const char usage_line[] =
		"usage: create [-e] [-F] GUEST.cfg [xl create options] [KEY=VALUE...]";
	/* Static: nothing for a leak checker to find when a check dies. */
	static struct device_plan plans[2 * VX_GUESTCFG_MAX_DEVICES];
	static struct vx_guestcfg gc;
	bool follow = true, foreground = false, paused = false, ok;
	const char *xl_args[MAX_XL_ARGS + 4] = { "create", "-p" };
	char err[PATH_MAX + 200], *text;
	unsigned int n;
	uint32_t domid;
	int c, i, nargs;

	optind = 1;
	while ((c = getopt(argc, argv, "+eF")) != -1) {
		if (c == 'e')
			follow = false;
		else if (c == 'F')
			foreground = true;
		else
			die("%s", usage_line);
	}
	nargs = argc - optind - 1;
	if (nargs < 0)
		die("%s", usage_line);
	if (nargs > MAX_XL_ARGS)
		die("more than %d arguments for xl", MAX_XL_ARGS);
	for (i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p"))
			paused = true;
		if (argv[i][0] == '-' && argv[i][1] != '-' && strpbrk(argv[i] + 1, "cF"))
			die("xl option %s does not fit create: run xl console after it", argv[i]);
	}
	text = read_config(argv[optind], argv + optind + 1);
	ok = vx_guestcfg_read(&gc, text, err, sizeof(err));
	free(text);
	if (!ok)
		die("%s: %s", argv[optind], err);
	if (lookup_domain(gc.name, &domid))
		die("domain %u is already called '%s'", domid, gc.name);
	n = gc.nr_disks + gc.nr_nics;
	if (!plan_all(&gc, plans, err, sizeof(err)))
		die("%s: %s", argv[optind], err);

	/* xl makes the domain paused; the devices come before its first instruction. */
	for (i = 0; i <= nargs; i++)
		xl_args[2 + i] = argv[optind + i];
	if (run_xl(xl_args))
		die("xl create failed (see above): no virtio device was attached");
	if (!lookup_domain(gc.name, &domid))
		die("xl made no domain called '%s'", gc.name);
	if (!attach_all(plans, n, domid, err, sizeof(err))) {
		xl_domain("destroy", domid);
		die("%s: %s; domain %u destroyed", argv[optind], err, domid);
	}
	if (!paused && xl_domain("unpause", domid))
		die("xl unpause %u failed: the guest is paused, with its devices", domid);
	fprintf(stderr, "virtio-xenbus: %s is domain %u, with %u virtio disk%s and %u virtio nic%s\n",
		gc.name, domid, gc.nr_disks, gc.nr_disks == 1 ? "" : "s", gc.nr_nics,
		gc.nr_nics == 1 ? "" : "s");
	if (follow && n)
		follow_guest(gc.name, domid, foreground);
	return 0;
}

/* ---- save and restore: the devices beside the save file ---- */

static void saved_file(const char *save_file, char path[PATH_MAX])
{
	if (snprintf(path, PATH_MAX, "%s.virtio", save_file) >= PATH_MAX)
		die("%s: name too long", save_file);
}

/*
 * xl save, with the guest's virtio devices written to FILE.virtio first.
 * The guest's drivers let go of the devices as it suspends (docs/protocol.md
 * 2.7); after a checkpoint (-c) it carries on with them.
 */
static int save(int argc, char **argv)
{
	static const char usage_line[] = "usage: save [xl save options] DOMAIN FILE";
	const char *xl_args[MAX_XL_ARGS + 2] = { "save" };
	char devices[PATH_MAX], saving[160], *vm, *name;
	struct saved_devices sv = { 0 };
	uint32_t domid;
	int i, first;

	for (first = 1; first < argc && argv[first][0] == '-'; first++)
		;
	if (argc - first != 2 || argc > MAX_XL_ARGS)
		die("%s", usage_line);
	domid = find_domain(argv[first]);
	vm = xs_readf("/local/domain/%u/vm", domid);
	name = xs_readf("/local/domain/%u/name", domid);
	if (!vm || !name)
		die("domain %u has no vm path or name: not one of xl's", domid);
	saved_file(argv[first + 1], devices);
	for_each_device(domid, save_device, &sv);
	if (!write_saved(devices, name, &sv))
		die("%s: %s", devices, strerror(errno));
	/* Its follower must not take the domain's end for a reboot. */
	saving_path(vm, saving, sizeof(saving));
	if (!xs_write(xs, XBT_NULL, saving, argv[first + 1], strlen(argv[first + 1])))
		die("cannot write %s: %s", saving, strerror(errno));

	for (i = 1; i < argc; i++)
		xl_args[i] = argv[i];
	if (run_xl(xl_args)) {
		xs_rm(xs, XBT_NULL, saving);
		unlink(devices);
		die("xl save failed (see above)");
	}
	/* After a checkpoint (-c, -p) the domain is still there, and followed. */
	if (node_exists(vm))
		xs_rm(xs, XBT_NULL, saving);
	fprintf(stderr, "virtio-xenbus: %s saved to %s, its %u virtio device%s to %s\n",
		name, argv[first + 1], sv.n, sv.n == 1 ? "" : "s", devices);
	saved_free(&sv);
	free(vm);
	free(name);
	return 0;
}

/*
 * xl restore, paused; the devices of FILE.virtio at their devids (the
 * guest's drivers find them where they left them), then unpause and follow
 * the guest's reboots as create does.
 */
static int restore(int argc, char **argv)
{
	static const char usage_line[] = "usage: restore [-e] [-F] [-p] FILE";
	static struct saved_devices sv;
	bool follow = true, foreground = false, paused = false;
	char devices[PATH_MAX], err[PATH_MAX + 200], name[256], saving[160], *vm;
	uint32_t domid;
	unsigned int i;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "+eFp")) != -1) {
		if (c == 'e')
			follow = false;
		else if (c == 'F')
			foreground = true;
		else if (c == 'p')
			paused = true;
		else
			die("%s", usage_line);
	}
	if (argc - optind != 1)
		die("%s", usage_line);
	saved_file(argv[optind], devices);
	if (!read_saved(devices, name, sizeof(name), &sv, err, sizeof(err)))
		die("%s (was the guest saved with virtio-xenbus save?)", err);
	if (lookup_domain(name, &domid))
		die("domain %u is already called '%s'", domid, name);

	if (run_xl((const char *const []){ "restore", "-p", argv[optind], NULL }))
		die("xl restore failed (see above): no virtio device was attached");
	if (!lookup_domain(name, &domid))
		die("xl restored no domain called '%s'", name);
	for (i = 0; i < sv.n; i++) {
		if (!give_back(&sv.dev[i], domid, err, sizeof(err))) {
			xl_domain("destroy", domid);
			die("device %u: %s; domain %u destroyed, %s kept", sv.dev[i].devid, err,
			    domid, argv[optind]);
		}
	}
	vm = xs_readf("/local/domain/%u/vm", domid);
	if (vm) {
		saving_path(vm, saving, sizeof(saving));
		xs_rm(xs, XBT_NULL, saving);
		free(vm);
	}
	if (!paused && xl_domain("unpause", domid))
		die("xl unpause %u failed: the guest is paused, with its devices", domid);
	fprintf(stderr, "virtio-xenbus: %s is domain %u again, with its %u virtio device%s\n",
		name, domid, sv.n, sv.n == 1 ? "" : "s");
	if (follow && sv.n)
		follow_guest(name, domid, foreground);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} commands[] = {
		{ "create", create },
		{ "disk-attach", disk_attach },
		{ "disk-detach", detach },
		{ "nic-attach", nic_attach },
		{ "nic-detach", detach },
		{ "nic-link", nic_link },
		{ "list", list },
		{ "save", save },
		{ "restore", restore },
	};
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			usage(stdout);
			return 0;
		}
		xs = xs_open(0);
		if (!xs)
			die("cannot reach xenstore (%s): is xenstored running, are you root?",
			    strerror(errno));
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "virtio-xenbus: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
