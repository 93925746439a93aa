// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-xenbus: attach, detach and list the virtio devices of Xen guests,
 * beside xl.  It writes xenstore as libxl writes a vbd or a vif
 * (docs/protocol.md 1.1 and 6); virtio-xenbusd in the backend domain does
 * the rest.  Each command has a file of its own: attach.c, list.c,
 * lifecycle.c (create, save, restore), migrate.c (migrate, migrate-receive),
 * with follow.c and saved-devices.c.
 */
#include "virtio-xenbus.h"

struct xs_handle *xs;

#define DEFAULT_TIMEOUT_S	120

int tool_timeout_ms(void)
{
	const char *s = getenv("VIRTIO_XENBUS_TIMEOUT");
	uint64_t v;

	return s && vx_parse_dec_str(s, 86400, &v) && v ? (int)v * 1000 :
	       DEFAULT_TIMEOUT_S * 1000;
}

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
		"  list [-w SECONDS] [DOMAIN]     list virtio devices and their queues'\n"
		"                                 counters (waited for 5 s, or -w)\n"
		"  save [xl save options] DOMAIN FILE\n"
		"                                 xl save the guest, its virtio devices\n"
		"                                 to FILE.virtio\n"
		"  restore [-e] [-F] [-p] FILE    xl restore the guest, paused, give it its\n"
		"                                 virtio devices again, unpause it (not\n"
		"                                 with -p) and follow its reboots as create\n"
		"  migrate [-s SSHCOMMAND] [-C CONFIG] [-e] [-p] [--debug] DOMAIN HOST\n"
		"                                 xl migrate the guest to HOST with its\n"
		"                                 virtio devices (its disks at the same\n"
		"                                 paths there); HOST runs migrate-receive\n"
		"  migrate-receive [-e] [-F] [-d] [-p] DEVICES\n"
		"                                 the receiving end, started by migrate\n"
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
		"  virtio_nic = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n"
		"Attach and detach wait for the backend and the guest while both are\n"
		"there, up to $VIRTIO_XENBUS_TIMEOUT seconds (default 120).\n");
}

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("virtio-xenbus: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
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
		{ "migrate", migrate },
		{ "migrate-receive", migrate_receive },
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
