// SPDX-License-Identifier: GPL-2.0-only
/*
 * migrate and migrate-receive: xl migrate, with the guest's virtio devices
 * carried to the receiving host and attached to the incoming domain before
 * it runs (docs/protocol.md 2.7).
 *
 * The sender gives the receiver the devices on its command line (the text
 * save writes, in hex: safe through ssh's remote shell).  The receiver
 * checks each one before it starts xl migrate-receive, so a device it
 * cannot make ends the migration before the guest is suspended.  It runs
 * xl migrate-receive -p and passes its answers back to the sending xl, all
 * but the last: xl's report that the domain started is held until the
 * devices are attached and the domain unpaused.  Only then does the sending
 * xl destroy its copy; if the devices cannot be attached, the receiver
 * destroys its copy and reports a failure, and the sending xl resumes the
 * guest where it was, with its devices.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virtio-xenbus.h"

/*
 * xl's migration handshake (tools/xl/xl.h): the receiver's report, sent
 * with its NUL, then one status byte (0: the domain runs), then on failure
 * the permission for the sender to resume.
 */
static const char xl_report[] = "my copy unpause results are as follows";
static const char xl_permission_to_go[] = "domain is yours, you are cleared to unpause";

#define MAX_PAYLOAD	(64 * 1024)

static char *to_hex(const char *s)
{
	size_t i, len = strlen(s);
	char *hex = malloc(2 * len + 1);

	if (!hex)
		die("out of memory");
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)s[i]);
	hex[2 * len] = '\0';
	return hex;
}

static char *from_hex(const char *hex)
{
	size_t i, len = strlen(hex);
	unsigned int c;
	char *s;

	if (len % 2 || len > 2 * MAX_PAYLOAD)
		return NULL;
	s = malloc(len / 2 + 1);
	if (!s)
		die("out of memory");
	for (i = 0; i < len / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &c) != 1 || !c) {
			free(s);
			return NULL;
		}
		s[i] = c;
	}
	s[len / 2] = '\0';
	return s;
}

/* The guest's devices, with their backend domains by name, as hex. */
static char *payload(const char *name, struct saved_devices *sv)
{
	char *text = NULL, *hex, *be_name;
	size_t len = 0;
	unsigned int i;
	FILE *f;

	for (i = 0; i < sv->n; i++) {
		if (!sv->dev[i].be)
			continue;
		be_name = xs_readf("/local/domain/%u/name", sv->dev[i].be);
		if (!be_name || strlen(be_name) >= sizeof(sv->dev[i].be_name))
			die("device %u's backend domain %u has no name the receiver could find",
			    sv->dev[i].devid, sv->dev[i].be);
		strcpy(sv->dev[i].be_name, be_name);
		free(be_name);
	}
	f = open_memstream(&text, &len);
	if (!f || !write_saved_to(f, name, sv) || fclose(f))
		die("out of memory");
	hex = to_hex(text);
	free(text);
	return hex;
}

int migrate(int argc, char **argv)
{
	static const char usage_line[] =
		"usage: migrate [-s SSHCOMMAND] [-C CONFIG] [-e] [-p] [--debug] GUEST HOST";
	static const struct option opts[] = {
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ssh = "ssh", *config = NULL, *xl_args[12] = { "migrate" };
	bool no_follow = false, paused = false, debug = false, followed;
	struct saved_devices sv = { 0 };
	char *vm, *name, *hex, *rune, id[16], flags[16];
	uint32_t domid, now;
	int c, k = 1, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+s:C:ep", opts, NULL)) != -1) {
		if (c == 's')
			ssh = optarg;
		else if (c == 'C')
			config = optarg;
		else if (c == 'e')
			no_follow = true;
		else if (c == 'p')
			paused = true;
		else if (c == 'd')
			debug = true;
		else
			die("%s", usage_line);
	}
	if (argc - optind != 2)
		die("%s", usage_line);
	domid = find_domain(argv[optind]);
	vm = xs_readf("/local/domain/%u/vm", domid);
	name = xs_readf("/local/domain/%u/name", domid);
	if (!domid || !vm || !name || !strrchr(vm, '/'))
		die("domain %u has no vm path or name: not one of xl's", domid);
	snprintf(sv.uuid, sizeof(sv.uuid), "%s", strrchr(vm, '/') + 1);
	for_each_device(domid, save_device, &sv);
	hex = payload(name, &sv);

	/*
	 * As xl's rune: with -s "", HOST is the command that runs migrate-receive
	 * there, and its arguments follow it.
	 */
	snprintf(flags, sizeof(flags), "%s%s%s", no_follow ? " -e" : "", debug ? " -d" : "",
		 paused ? " -p" : "");
	if (*ssh)
		ret = asprintf(&rune, "exec %s %s virtio-xenbus migrate-receive%s %s", ssh,
			       argv[optind + 1], flags, hex);
	else
		ret = asprintf(&rune, "%s%s %s", argv[optind + 1], flags, hex);
	if (ret < 0)
		die("out of memory");
	free(hex);

	/* The receiver's follower follows the guest from now on. */
	followed = stop_follower(vm);
	snprintf(id, sizeof(id), "%u", domid);
	if (config) {
		xl_args[k++] = "-C";
		xl_args[k++] = config;
	}
	if (debug)
		xl_args[k++] = "--debug";
	xl_args[k++] = "-s";
	xl_args[k++] = "";
	xl_args[k++] = id;
	xl_args[k++] = rune;
	xl_args[k] = NULL;
	ret = run_xl(xl_args);
	free(rune);
	if (!ret) {
		/* With -s "", HOST is a command, not a place. */
		fprintf(stderr, "virtio-xenbus: %s migrated%s%s with its %u virtio device%s\n",
			name, *ssh ? " to " : "", *ssh ? argv[optind + 1] : "", sv.n,
			sv.n == 1 ? "" : "s");
	} else {
		if (!lookup_domain(name, &now) || now != domid)
			die("xl migrate failed after the point of no return (see above): look for %s on both hosts",
			    name);
		fprintf(stderr, "virtio-xenbus: xl migrate failed (see above): %s runs here still, with its virtio devices\n",
			name);
		if (followed)
			follow_guest(name, domid, false);
	}
	saved_free(&sv);
	free(name);
	free(vm);
	return ret ? 1 : 0;
}

/*
 * Checks a device against this host before the guest comes, and gives it
 * this host's domid of its backend domain.  The guest being migrated (vm
 * path @vm: a migration to the same host has it twice) does not count as
 * another user of its disks and macs.
 */
static bool check_device(struct saved_device *dev, const char *vm, char *err,
			 size_t errlen)
{
	const char *params = saved_key(dev, "params"), *mode = saved_key(dev, "mode");
	const char *mac = saved_key(dev, "mac"), *bridge = saved_key(dev, "bridge");
	const char *script = saved_key(dev, "script"), *vifname = saved_key(dev, "vifname");
	bool ro = mode && !strcmp(mode, "r");
	char path[PATH_MAX];
	struct stat st;

	if (dev->be_name[0]) {
		if (!lookup_domain(dev->be_name, &dev->be) || !dev->be)
			return spec_fail(err, errlen, "no backend domain '%s' here (see xl list)",
				     dev->be_name);
	} else if (dev->be) {
		return spec_fail(err, errlen, "backend domain %u has no name", dev->be);
	}
	if (!strcmp(dev->type, "blk")) {
		if (!params)
			return spec_fail(err, errlen, "a disk with no target");
		/* The path is the backend's: only a dom0 backend shares our view. */
		if (!dev->be && stat(params, &st))
			return spec_fail(err, errlen,
				     "%s: %s (a migrated guest's disks must be at the same path on both hosts)",
				     params, strerror(errno));
		if (!dev->be && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return spec_fail(err, errlen, "%s is neither a file nor a block device",
				     params);
		if (!dev->be && access(params, ro ? R_OK : R_OK | W_OK))
			return spec_fail(err, errlen, "%s: %s", params, strerror(errno));
		return check_disk_free(params, ro, vm, err, errlen);
	}
	if (!check_bridge(dev->be, script ? script : "vif-bridge",
			  bridge ? bridge : "xenbr0", err, errlen))
		return false;
	if (mac && !check_mac_free(mac, vm, err, errlen))
		return false;
	snprintf(path, sizeof(path), "/sys/class/net/%s", vifname ? vifname : "");
	if (!dev->be && vifname && !access(path, F_OK))
		return spec_fail(err, errlen, "an interface called %s is here already", vifname);
	return true;
}

static void write_all(const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

/*
 * Passes xl migrate-receive's answers on to the sending xl up to its
 * report, which it keeps: returns the report's status byte, or -1 if xl
 * ended without one.  The channel carries a few short messages only, so a
 * byte at a time.
 */
static int relay_to_report(int from)
{
	size_t m = 0;
	unsigned char c;
	ssize_t n;

	for (;;) {
		n = read(from, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			write_all(xl_report, m);
			return -1;
		}
		if (m == sizeof(xl_report))
			return c;
		if (c == (unsigned char)xl_report[m]) {
			m++;
			continue;
		}
		write_all(xl_report, m);
		m = c == (unsigned char)xl_report[0];
		if (!m)
			write_all(&c, 1);
	}
}

static void relay_rest(int from)
{
	char buf[256];
	ssize_t n;

	while ((n = read(from, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			write_all(buf, n);
}

/* Starts xl migrate-receive -p with our stdin, its answers on a pipe; its pid. */
static pid_t start_xl_receive(bool no_follow, bool debug, int *answers)
{
	const char *xl = getenv("XL") ? getenv("XL") : "xl";
	const char *args[6] = { xl, "migrate-receive", "-p" };
	int fds[2], n = 3;
	pid_t pid;

	if (no_follow)
		args[n++] = "-e";
	if (debug)
		args[n++] = "-d";

	if (pipe(fds))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(xl, (char *const *)args);
		fprintf(stderr, "virtio-xenbus: cannot run %s: %s\n", xl, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	*answers = fds[0];
	return pid;
}

/* Reports a failure to the sending xl, which then resumes the guest there. */
static void report_failure(void)
{
	unsigned char status = 3;	/* libxl's ERROR_FAIL, as xl sends it */

	write_all(xl_report, sizeof(xl_report));
	write_all(&status, 1);
	write_all(xl_permission_to_go, sizeof(xl_permission_to_go));
}

int migrate_receive(int argc, char **argv)
{
	static const char usage_line[] = "usage: migrate-receive [-e] [-F] [-d] [-p] DEVICES";
	static struct saved_devices sv;
	bool no_follow = false, foreground = false, debug = false, paused = false;
	char name[256], vm[64], err[PATH_MAX + 200], *text;
	int c, answers, status, wstatus;
	uint32_t domid;
	unsigned int i;
	pid_t xl;
	FILE *f;

	optind = 1;
	while ((c = getopt(argc, argv, "+eFdp")) != -1) {
		if (c == 'e')
			no_follow = true;
		else if (c == 'F')
			foreground = true;
		else if (c == 'd')
			debug = true;
		else if (c == 'p')
			paused = true;
		else
			die("%s", usage_line);
	}
	if (argc - optind != 1)
		die("%s", usage_line);
	/* Our stdout is the sending xl's: nothing but xl's answers may go there. */
	signal(SIGPIPE, SIG_IGN);
	text = from_hex(argv[optind]);
	f = text ? fmemopen(text, strlen(text), "r") : NULL;
	if (!f || !read_saved_from(f, "the devices", name, sizeof(name), &sv, err, sizeof(err)))
		die("migrate-receive: %s", f ? err : "DEVICES is not what virtio-xenbus migrate sends");
	fclose(f);
	free(text);
	if (!sv.uuid[0])
		die("migrate-receive: the devices name no guest uuid");
	snprintf(vm, sizeof(vm), "/vm/%s", sv.uuid);
	for (i = 0; i < sv.n; i++)
		if (!check_device(&sv.dev[i], vm, err, sizeof(err)))
			die("%s's device %u cannot be made on this host: %s; the migration stops before the guest is suspended",
			    name, sv.dev[i].devid, err);

	xl = start_xl_receive(no_follow, debug, &answers);
	status = relay_to_report(answers);
	if (status) {
		/* xl's own failure, or its end: as it said, to the sender too. */
		if (status > 0) {
			unsigned char s = status;

			write_all(xl_report, sizeof(xl_report));
			write_all(&s, 1);
		}
		relay_rest(answers);
		waitpid(xl, &wstatus, 0);
		die("xl migrate-receive failed (see above): no virtio device was attached");
	}
	if (!lookup_domain(name, &domid)) {
		report_failure();
		die("xl received no domain called '%s'", name);
	}
	for (i = 0; i < sv.n; i++) {
		if (!give_back(&sv.dev[i], domid, err, sizeof(err))) {
			xl_domain("destroy", domid);
			report_failure();
			die("device %u: %s; the received domain %u was destroyed, the guest resumes on the sending host",
			    sv.dev[i].devid, err, domid);
		}
	}
	if (!paused && xl_domain("unpause", domid)) {
		xl_domain("destroy", domid);
		report_failure();
		die("xl unpause %u failed: destroyed, the guest resumes on the sending host", domid);
	}
	write_all(xl_report, sizeof(xl_report));
	write_all((unsigned char[]){ 0 }, 1);
	relay_rest(answers);
	close(answers);
	waitpid(xl, &wstatus, 0);
	fprintf(stderr, "virtio-xenbus: %s is domain %u here, with its %u virtio device%s\n",
		name, domid, sv.n, sv.n == 1 ? "" : "s");
	/* Nothing more for the sender: a follower's log lines go to its log. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	if (!no_follow && sv.n)
		follow_guest(name, domid, foreground);
	return 0;
}
