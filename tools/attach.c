// SPDX-License-Identifier: GPL-2.0-only
/*
 * disk-attach, nic-attach, disk-detach, nic-detach and nic-link: a device is
 * checked against the host (its file or bridge, the other guests' disks and
 * macs), written as libxl writes a vbd or a vif, and waited for.
 */
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio-xenbus.h"

static bool answered(int state)
{
	return state >= VX_STATE_INITWAIT;
}

static bool closed(int state)
{
	return state == VX_STATE_CLOSED || state == VX_STATE_UNKNOWN;
}

enum wait_end { WAIT_DONE, WAIT_GONE, WAIT_TIMEOUT };

/*
 * Waits for the backend's state to satisfy @done.  A domain that goes (the
 * guest, or a backend domain) ends the wait at once; a slow one is waited
 * for, with a line every 10 s, up to tool_timeout_ms().
 */
static enum wait_end wait_backend(uint32_t be, uint32_t guest, uint32_t devid,
				  bool (*done)(int state), const char *what)
{
	char dom[32];
	int ms, limit = tool_timeout_ms();

	for (ms = 0; !done(vx_ts_backend_state(xs, be, guest, devid)); ms += 10) {
		if (ms >= limit)
			return WAIT_TIMEOUT;
		if (!(ms % 500)) {
			snprintf(dom, sizeof(dom), "/local/domain/%u", guest);
			if (!node_exists(dom))
				return WAIT_GONE;
			snprintf(dom, sizeof(dom), "/local/domain/%u", be);
			if (be && !node_exists(dom))
				return WAIT_GONE;
		}
		if (ms && !(ms % 10000))
			fprintf(stderr, "virtio-xenbus: still waiting for %s (%d s; VIRTIO_XENBUS_TIMEOUT=%d)\n",
				what, ms / 1000, limit / 1000);
		usleep(10000);
	}
	return WAIT_DONE;
}

/* Whether @guest's vm path is @vm: the same guest, as a migration has it twice. */
static bool is_vm(uint32_t guest, const char *vm)
{
	char *v;
	bool same;

	if (!vm)
		return false;
	v = xs_readf("/local/domain/%u/vm", guest);
	same = v && !strcmp(v, vm);
	free(v);
	return same;
}

struct disk_use {
	const char *target;
	bool readonly;
	const char *except_vm;	/* this guest's own disks do not count */
	const char *conflict;	/* set to a description on conflict */
	char where[64];
};

static void check_use(uint32_t guest, uint32_t devid, uint32_t be,
		      const char *be_dir, void *arg)
{
	struct disk_use *u = arg;
	char *params, *mode;

	if (is_vm(guest, u->except_vm))
		return;
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
	const char *except_vm;	/* this guest's own devices do not count */
	uint32_t guest, be, devid;
	bool found;
};

static void find_vdev(uint32_t guest, uint32_t devid, uint32_t be,
		      const char *be_dir, void *arg)
{
	struct vdev_find *f = arg;
	char *dev, *mac, num[16];

	if (is_vm(guest, f->except_vm))
		return;
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

/* A backend named as xl names a domain; dom0 if @name is empty. */
static bool find_backend(const char *name, uint32_t *be, char *err, size_t errlen)
{
	*be = 0;
	if (!name[0])
		return true;
	if (!lookup_domain(name, be))
		return spec_fail(err, errlen, "no backend domain '%s' (see xl list)", name);
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

bool check_disk_free(const char *target, bool readonly, const char *except_vm,
		     char *err, size_t errlen)
{
	struct disk_use use = { .target = target, .readonly = readonly,
				.except_vm = except_vm };

	for_each_device(-1, check_use, &use);
	if (use.conflict)
		return spec_fail(err, errlen, "%s is already in use by %s; only read-only disks are shared",
			     target, use.conflict);
	return true;
}

bool check_mac_free(const char *mac, const char *except_vm, char *err,
		    size_t errlen)
{
	struct vdev_find same = { .vdev = mac, .except_vm = except_vm };

	for_each_device(-1, find_vdev, &same);
	if (same.found)
		return spec_fail(err, errlen, "mac %s is already used by domain %u, device %u",
			     mac, same.guest, same.devid);
	return true;
}

bool check_bridge(uint32_t be, const char *script, const char *bridge, char *err,
		  size_t errlen)
{
	char path[64];

	/* A bridge is the backend's: only a dom0 backend shares our view. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", bridge);
	if (be == 0 && !strcmp(script, "vif-bridge") && access(path, F_OK))
		return spec_fail(err, errlen,
			     "bridge %s does not exist: create it (ip link add %s type bridge) or give bridge=",
			     bridge, bridge);
	return true;
}

/* Checks a disk against the host: its file, and the disks of every guest. */
bool plan_disk(const struct vx_diskspec *d, struct device_plan *p,
		      char *err, size_t errlen)
{
	struct stat st;
	int i = 0;

	memset(p, 0, sizeof(*p));
	if (!find_backend(d->backend, &p->be, err, errlen))
		return false;
	/* The path is the backend's: only a dom0 backend shares our view. */
	if (p->be == 0) {
		if (stat(d->target, &st))
			return spec_fail(err, errlen, "%s: %s", d->target, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return spec_fail(err, errlen, "%s is neither a file nor a block device",
				     d->target);
		if (!realpath(d->target, p->target))
			return spec_fail(err, errlen, "%s: %s", d->target, strerror(errno));
	} else {
		snprintf(p->target, sizeof(p->target), "%s", d->target);
	}
	if (!check_disk_free(p->target, d->readonly, NULL, err, errlen))
		return false;

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
bool plan_nic(const struct vx_nicspec *spec, struct device_plan *p,
		     char *err, size_t errlen)
{
	struct vx_nicspec *n = &p->nic;
	int i = 0;

	memset(p, 0, sizeof(*p));
	*n = *spec;
	if (!find_backend(n->backend, &p->be, err, errlen))
		return false;
	if (!n->script[0])
		strcpy(n->script, "vif-bridge");
	if (!n->bridge[0] && !strcmp(n->script, "vif-bridge"))
		strcpy(n->bridge, "xenbr0");
	if (!check_bridge(p->be, n->script, n->bridge, err, errlen))
		return false;
	if (n->mac[0] && !check_mac_free(n->mac, NULL, err, errlen))
		return false;

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
long add_device(const struct device_plan *p, uint32_t guest, uint32_t devid,
		       char *err, size_t errlen)
{
	char fe_dir[128], be_dir[128], what[80], *error;
	enum wait_end end;
	int ret;

	vx_ts_paths(p->be, guest, devid, fe_dir, be_dir);
	if (node_exists(fe_dir)) {
		spec_fail(err, errlen, "domain %u has a device %u already", guest, devid);
		return -1;
	}
	ret = vx_ts_add_device(xs, p->be, guest, devid, p->type, p->kv);
	if (ret) {
		spec_fail(err, errlen, "cannot write the device to xenstore: %s", strerror(-ret));
		return -1;
	}
	snprintf(what, sizeof(what), "the backend in domain %u to take the device", p->be);
	end = wait_backend(p->be, guest, devid, answered, what);
	if (end != WAIT_DONE) {
		vx_ts_remove_device(xs, p->be, guest, devid, true, 0);
		if (end == WAIT_GONE)
			spec_fail(err, errlen, "domain %u or its backend domain %u went away",
			      guest, p->be);
		else
			spec_fail(err, errlen,
			      "the backend in domain %u did not take the device within %d s: is virtio-xenbusd running there?",
			      p->be, tool_timeout_ms() / 1000);
		return -1;
	}
	if (vx_ts_backend_state(xs, p->be, guest, devid) >= VX_STATE_CLOSING) {
		error = xs_readf("%s/error", be_dir);
		spec_fail(err, errlen, "the backend in domain %u refused the device: %s", p->be,
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

int disk_attach(int argc, char **argv)
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

int nic_attach(int argc, char **argv)
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
int detach(int argc, char **argv)
{
	const char *what = strcmp(argv[0], "nic-detach") ? "VDEV" : "MAC";
	struct vdev_find f = { 0 };
	bool force = false;
	char waiting[80];
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
		snprintf(waiting, sizeof(waiting), "domain %u to let go of device %u", guest,
			 f.devid);
		/* A guest that went away let go of everything. */
		if (wait_backend(f.be, guest, f.devid, closed, waiting) == WAIT_TIMEOUT)
			die("domain %u did not let go of device %u within %d s; detach it with -f",
			    guest, f.devid, tool_timeout_ms() / 1000);
	}
	vx_ts_remove_device(xs, f.be, guest, f.devid, true, 0);
	return 0;
}

/* Sets a nic's `link` key: the guest sees its link go down or up (protocol.md 6). */
int nic_link(int argc, char **argv)
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
