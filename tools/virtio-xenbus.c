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
#include <sys/stat.h>
#include <unistd.h>

#include <xenstore.h>

#include "diskspec.h"
#include "nicspec.h"
#include "protocol.h"
#include "toolstack.h"
#include "xsvalue.h"

#define ANSWER_TIMEOUT_MS	10000

static struct xs_handle *xs;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: virtio-xenbus COMMAND [ARGS]\n"
		"Attach virtio devices to Xen guests; virtio-xenbusd serves them.\n\n"
		"  disk-attach DOMAIN DISKSPEC    attach a disk to a running guest\n"
		"  disk-detach [-f] DOMAIN DEV    detach a disk (DEV: devid or vdev);\n"
		"                                 -f: do not wait for the guest\n"
		"  nic-attach DOMAIN NICSPEC      attach a nic to a running guest\n"
		"  nic-detach [-f] DOMAIN DEV     detach a nic (DEV: devid or mac)\n"
		"  nic-link DOMAIN DEV up|down    plug or unplug a nic's cable\n"
		"  list [DOMAIN]                  list virtio devices\n"
		"  help                           show this help\n\n"
		"DOMAIN is a name or a domid, as in xl.  DISKSPEC is xl's disk syntax\n"
		"(xl-disk-configuration(5)): [target,][format,][vdev,][access] or\n"
		"keys target=, format=raw, vdev=, access=ro|rw, plus queues=1..16 and\n"
		"backend=DOMAIN.  NICSPEC is xl's network syntax\n"
		"(xl-network-configuration(5)): mac=, bridge= (default xenbr0),\n"
		"script= (default vif-bridge; vif-route with ip=), vifname=, mtu=,\n"
		"backend=, model=virtio, plus queues=1..16 (queue pairs).  Examples:\n"
		"  virtio-xenbus disk-attach guest1 /srv/guest1.img,raw,vda,rw,queues=2\n"
		"  virtio-xenbus nic-attach guest1 mac=00:16:3e:00:00:01,bridge=xenbr0\n");
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
static uint32_t find_domain(const char *name)
{
	unsigned int n, i;
	uint32_t domid;
	char **doms, *s;
	bool found = false;

	if (parse_id(name, 0x7fef, &domid)) {
		s = xs_readf("/local/domain/%u/name", domid);
		if (!s && domid)
			die("no domain with id %u (see xl list)", domid);
		free(s);
		return domid;
	}
	doms = xs_lsf(&n, "/local/domain");
	for (i = 0; i < n && !found; i++) {
		s = xs_readf("/local/domain/%s/name", doms[i]);
		found = s && !strcmp(s, name) && parse_id(doms[i], 0x7fef, &domid);
		free(s);
	}
	free(doms);
	if (!found)
		die("no domain named '%s' (see xl list)", name);
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
	char *params = xs_readf("%s/params", be_dir);
	char *mode = xs_readf("%s/mode", be_dir);

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
	uint32_t be, devid;
	bool found;
};

static void find_vdev(uint32_t guest, uint32_t devid, uint32_t be,
		      const char *be_dir, void *arg)
{
	struct vdev_find *f = arg;
	char *dev = xs_readf("%s/dev", be_dir), *mac = xs_readf("%s/mac", be_dir);
	char num[16];

	snprintf(num, sizeof(num), "%u", devid);
	if ((dev && !strcmp(dev, f->vdev)) || (mac && !strcasecmp(mac, f->vdev)) ||
	    !strcmp(num, f->vdev)) {
		f->found = true;
		f->be = be;
		f->devid = devid;
	}
	free(dev);
	free(mac);
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

/*
 * Writes the device and waits for the backend to publish it; a device the
 * backend refuses (or never answers) is removed again, with the reason.
 */
static void add_device(uint32_t be, uint32_t guest, uint32_t devid,
		       const char *type, const char *const *kv)
{
	char fe_dir[128], be_dir[128], *error;
	int ret;

	vx_ts_paths(be, guest, devid, fe_dir, be_dir);
	ret = vx_ts_add_device(xs, be, guest, devid, type, kv);
	if (ret)
		die("cannot write the device to xenstore: %s", strerror(-ret));
	if (!vx_ts_wait_backend(xs, be, guest, devid, answered, ANSWER_TIMEOUT_MS)) {
		vx_ts_remove_device(xs, be, guest, devid, true, 0);
		die("the backend in domain %u did not take the device within %d s: is virtio-xenbusd running there?",
		    be, ANSWER_TIMEOUT_MS / 1000);
	}
	if (vx_ts_backend_state(xs, be, guest, devid) >= VX_STATE_CLOSING) {
		error = xs_readf("%s/error", be_dir);
		vx_ts_remove_device(xs, be, guest, devid, true, 0);
		die("the backend in domain %u refused the device: %s", be,
		    error ? error : "no reason given");
	}
}

static int disk_attach(int argc, char **argv)
{
	struct vdev_find same = { 0 };
	struct disk_use use = { 0 };
	struct vx_diskspec d;
	char err[160], target[PATH_MAX], queues[16];
	uint32_t guest, be = 0, devid;
	const char *kv[9];
	struct stat st;

	if (argc != 3)
		die("disk-attach needs DOMAIN and DISKSPEC (see virtio-xenbus help)");
	guest = find_domain(argv[1]);
	if (!vx_parse_diskspec(argv[2], &d, err, sizeof(err)))
		die("bad disk spec '%s': %s", argv[2], err);
	if (d.backend[0])
		be = find_domain(d.backend);
	/* The path is the backend's: only a dom0 backend shares our view. */
	if (be == 0) {
		if (stat(d.target, &st))
			die("%s: %s", d.target, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			die("%s is neither a file nor a block device", d.target);
		if (!realpath(d.target, target))
			die("%s: %s", d.target, strerror(errno));
	} else {
		snprintf(target, sizeof(target), "%s", d.target);
	}

	use.target = target;
	use.readonly = d.readonly;
	for_each_device(-1, check_use, &use);
	if (use.conflict)
		die("%s is already in use by %s; only read-only disks are shared",
		    target, use.conflict);
	same.vdev = d.vdev;
	for_each_device(guest, find_vdev, &same);
	if (same.found)
		die("domain %u already has a disk %s (device %u)", guest, d.vdev, same.devid);

	devid = free_devid(guest);
	snprintf(queues, sizeof(queues), "%u", d.queues ? d.queues : 1);
	kv[0] = "params";
	kv[1] = target;
	kv[2] = "mode";
	kv[3] = d.readonly ? "r" : "w";
	kv[4] = "dev";
	kv[5] = d.vdev;
	kv[6] = "queues";
	kv[7] = queues;
	kv[8] = NULL;
	add_device(be, guest, devid, "blk", kv);
	printf("%u\n", devid);
	return 0;
}

/* Appends @key = @val to the toolstack's keys; an empty value is left out. */
static void kv_add(const char **kv, int *n, const char *key, const char *val)
{
	if (!*val)
		return;
	kv[(*n)++] = key;
	kv[(*n)++] = val;
}

static int nic_attach(int argc, char **argv)
{
	struct vdev_find same = { 0 };
	struct vx_nicspec n;
	char err[160], path[64], queues[16], mtu[16];
	const char *kv[19];
	uint32_t guest, be = 0, devid;
	int i = 0;

	if (argc != 3)
		die("nic-attach needs DOMAIN and NICSPEC (see virtio-xenbus help)");
	guest = find_domain(argv[1]);
	if (!vx_parse_nicspec(argv[2], &n, err, sizeof(err)))
		die("bad nic spec '%s': %s", argv[2], err);
	if (n.backend[0])
		be = find_domain(n.backend);
	if (!n.script[0])
		strcpy(n.script, "vif-bridge");
	if (!n.bridge[0] && !strcmp(n.script, "vif-bridge"))
		strcpy(n.bridge, "xenbr0");
	/* A bridge is the backend's: only a dom0 backend shares our view. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", n.bridge);
	if (be == 0 && !strcmp(n.script, "vif-bridge") && access(path, F_OK))
		die("bridge %s does not exist: create it (ip link add %s type bridge) or give bridge=",
		    n.bridge, n.bridge);
	if (n.mac[0]) {
		same.vdev = n.mac;
		for_each_device(-1, find_vdev, &same);
		if (same.found)
			die("mac %s is already used by device %u", n.mac, same.devid);
	}

	devid = free_devid(guest);
	snprintf(queues, sizeof(queues), "%u", n.queues ? n.queues : 1);
	snprintf(mtu, sizeof(mtu), "%u", n.mtu);
	kv_add(kv, &i, "queues", queues);
	kv_add(kv, &i, "script", n.script);
	kv_add(kv, &i, "mac", n.mac);
	kv_add(kv, &i, "bridge", n.bridge);
	kv_add(kv, &i, "ip", n.ip);
	kv_add(kv, &i, "vifname", n.vifname);
	kv_add(kv, &i, "mtu", n.mtu ? mtu : "");
	kv[i] = NULL;
	add_device(be, guest, devid, "net", kv);
	printf("%u\n", devid);
	return 0;
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
	for_each_device(guest, print_device, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} commands[] = {
		{ "disk-attach", disk_attach },
		{ "disk-detach", detach },
		{ "nic-attach", nic_attach },
		{ "nic-detach", detach },
		{ "nic-link", nic_link },
		{ "list", list },
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
