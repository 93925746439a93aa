// SPDX-License-Identifier: GPL-2.0-only
/*
 * create, save and restore: xl's commands for a guest's life, with its
 * virtio devices attached while the domain is paused.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <unistd.h>

#include "guestcfg.h"
#include "virtio-xenbus.h"

#define MAX_CONFIG_BYTES	(1 << 20)

#define MAX_XL_ARGS		56

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
			return spec_fail(err, errlen, "line %u: disk %s: %s", gc->disk_line[i],
				     gc->disks[i].vdev, why);
	for (i = 0; i < gc->nr_nics; i++)
		if (!plan_nic(&gc->nics[i], &plans[gc->nr_disks + i], why, sizeof(why)))
			return spec_fail(err, errlen, "line %u: nic %u: %s", gc->nic_line[i], i + 1,
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

int create(int argc, char **argv)
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
	int c, i, k, nargs;

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

	/*
	 * xl makes the domain paused; the devices come before its first
	 * instruction.  xl takes its options before the config file, the
	 * KEY=VALUE settings after it.
	 */
	k = 2;
	for (i = optind + 1; i < argc; i++) {
		if (argv[i][0] != '-')
			continue;
		xl_args[k++] = argv[i];
		if (!strcmp(argv[i], "-f") && i + 1 < argc)
			xl_args[k++] = argv[++i];
	}
	xl_args[k++] = argv[optind];
	for (i = optind + 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			i += !strcmp(argv[i], "-f");
			continue;
		}
		xl_args[k++] = argv[i];
	}
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
int save(int argc, char **argv)
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
int restore(int argc, char **argv)
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
