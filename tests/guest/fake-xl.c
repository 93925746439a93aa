// SPDX-License-Identifier: GPL-2.0-only
/*
 * xl's part on the simulated host, for the tool's tests: it writes the
 * xenstore nodes libxl writes that virtio-xenbus reads (a domain's name, its
 * vm path /vm/<uuid>), and the domain's file of the simulated hypervisor in
 * $FAKE_XL_SIM_DIR (where the daemon finds its grant table).  Each call is appended
 * to $FAKE_XL_LOG; FAKE_XL_FAIL=create makes create fail as xl does on a
 * config it refuses.
 *
 *   create [-p] [options] CFG [KEY=VALUE...]   a new domain (paused with -p)
 *   unpause DOMID | destroy DOMID
 *   reboot DOMID    what xl does when the guest reboots: destroys the domain
 *                   and makes a new one of the same name and uuid, running
 *   save [-c] NAME|DOMID FILE   FILE holds the name and uuid; the domain is
 *                   destroyed (not with -c)
 *   restore -p FILE a new domain of FILE's name and uuid, paused
 *   migrate [-C CFG] [--debug] -s "" DOMAIN RUNE
 *                   runs RUNE (the receiver) with xl's handshake: the domain
 *                   is NAME--migratedaway once the receiver has it, then
 *                   destroyed, or renamed back if the receiver reports a
 *                   failure
 *   migrate-receive [-p] [-e] [-d]
 *                   the receiving end: NAME--incoming, paused, renamed NAME
 *                   at the sender's go, unpaused unless -p;
 *                   FAKE_XL_FAIL=migrate-receive reports a failure then
 *
 * Whether a domain runs is /local/domain/<id>/fake-xl-paused ("1" or "0").
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "sim/simhv.h"
#include "xlcfg.h"

#define NR_PAGES	8192
#define NR_GRANTS	65536

static struct xs_handle *xs;

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "fake-xl: %s%s\n", msg, arg ? arg : "");
	exit(1);
}

/* /local/domain/<domid>/<key> */
static char *read_domain(unsigned int domid, const char *key)
{
	char path[128];
	unsigned int len;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, key);
	return xs_read(xs, XBT_NULL, path, &len);
}

static void writef(const char *path, const char *value)
{
	if (!xs_write(xs, XBT_NULL, path, value, strlen(value)))
		die("cannot write ", path);
}

/* Domain ids grow, as Xen's do: never one used before (kept in xenstore). */
static unsigned int next_domid(void)
{
	unsigned int n, i, max = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	char *last = xs_read(xs, XBT_NULL, "/tool/fake-xl/last-domid", &n);
	char next[16];

	if (last && (unsigned int)atoi(last) > max)
		max = atoi(last);
	for (i = 0; doms && i < n; i++)
		if ((unsigned int)atoi(doms[i]) > max)
			max = atoi(doms[i]);
	free(doms);
	free(last);
	snprintf(next, sizeof(next), "%u", max + 1);
	writef("/tool/fake-xl/last-domid", next);
	return max + 1;
}

static const char *sim_dir(void)
{
	const char *dir = getenv("FAKE_XL_SIM_DIR");

	if (!dir)
		die("FAKE_XL_SIM_DIR is not set", NULL);
	return dir;
}

static void make_domain(unsigned int domid, const char *name, const char *vm,
			bool paused)
{
	struct sim_dom *dom = sim_dom_create(sim_dir(), domid, NR_PAGES, NR_GRANTS);
	char path[160];

	if (!dom)
		die("cannot make the simulated domain in ", sim_dir());
	sim_dom_close(dom);

	snprintf(path, sizeof(path), "%s/name", vm);
	writef(path, name);
	snprintf(path, sizeof(path), "/local/domain/%u/vm", domid);
	writef(path, vm);
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	writef(path, name);
	snprintf(path, sizeof(path), "/local/domain/%u/fake-xl-paused", domid);
	writef(path, paused ? "1" : "0");
}

/* Whether a domain other than @domid has the vm path @vm (a migration's two). */
static bool vm_shared(unsigned int domid, const char *vm)
{
	unsigned int n, i;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	bool shared = false;
	char *v;

	for (i = 0; doms && i < n && !shared; i++) {
		if ((unsigned int)atoi(doms[i]) == domid)
			continue;
		v = read_domain(atoi(doms[i]), "vm");
		shared = v && !strcmp(v, vm);
		free(v);
	}
	free(doms);
	return shared;
}

static void destroy(unsigned int domid)
{
	char path[256], *vm = read_domain(domid, "vm");

	if (!vm)
		die("no such domain", NULL);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_rm(xs, XBT_NULL, path);
	if (!vm_shared(domid, vm))
		xs_rm(xs, XBT_NULL, vm);
	free(vm);
	snprintf(path, sizeof(path), "%s/dom%u", sim_dir(), domid);
	unlink(path);
}

static int create(int argc, char **argv)
{
	char text[8192], vm[80], uuid[40], err[160];
	const struct vx_xlcfg_value *name;
	struct vx_xlcfg cfg;
	bool paused = false;
	size_t len = 0;
	FILE *f;
	int i;

	for (i = 0; i < argc && argv[i][0] == '-'; i++)
		paused |= !strcmp(argv[i], "-p");
	if (i == argc)
		die("create needs a config", NULL);
	f = fopen(argv[i], "r");
	if (!f)
		die("cannot open ", argv[i]);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	for (text[len] = 0, i++; i < argc; i++)
		len += snprintf(text + len, sizeof(text) - len, "\n%s", argv[i]);
	if (getenv("FAKE_XL_FAIL") && !strcmp(getenv("FAKE_XL_FAIL"), "create"))
		die("config refused (FAKE_XL_FAIL)", NULL);
	if (!vx_xlcfg_parse(&cfg, text, err, sizeof(err)))
		die(err, NULL);
	name = vx_xlcfg_get(&cfg, "name");
	if (!name || name->is_list)
		die("no name", NULL);
	f = fopen("/proc/sys/kernel/random/uuid", "r");
	if (!f || !fgets(uuid, sizeof(uuid), f))
		die("no uuid", NULL);
	fclose(f);
	uuid[strcspn(uuid, "\n")] = 0;
	snprintf(vm, sizeof(vm), "/vm/%s", uuid);
	make_domain(next_domid(), name->string, vm, paused);
	vx_xlcfg_free(&cfg);
	return 0;
}

/* A domain named as xl names it: a name or a domid. */
static unsigned int find_domain(const char *name)
{
	unsigned int n, i, domid = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	char *s;

	for (i = 0; doms && i < n && !domid; i++) {
		s = read_domain(atoi(doms[i]), "name");
		if (s && (!strcmp(s, name) || !strcmp(doms[i], name)))
			domid = atoi(doms[i]);
		free(s);
	}
	free(doms);
	if (!domid)
		die("no such domain: ", name);
	return domid;
}

static int save(int argc, char **argv)
{
	bool keep = argc == 3 && !strcmp(argv[0], "-c");
	unsigned int domid;
	char *name, *vm;
	FILE *f;

	if (argc != 2 + keep)
		die("usage: save [-c] DOMAIN FILE", NULL);
	domid = find_domain(argv[keep]);
	name = read_domain(domid, "name");
	vm = read_domain(domid, "vm");
	f = fopen(argv[keep + 1], "w");
	if (!f || !name || !vm)
		die("cannot save to ", argv[keep + 1]);
	fprintf(f, "%s\n%s\n", name, vm);
	fclose(f);
	if (!keep)
		destroy(domid);
	free(name);
	free(vm);
	return 0;
}

static int restore(int argc, char **argv)
{
	char name[128], vm[128];
	FILE *f;

	if (argc != 2 || strcmp(argv[0], "-p"))
		die("usage: restore -p FILE", NULL);
	f = fopen(argv[1], "r");
	if (!f || !fgets(name, sizeof(name), f) || !fgets(vm, sizeof(vm), f))
		die("cannot restore from ", argv[1]);
	fclose(f);
	name[strcspn(name, "\n")] = 0;
	vm[strcspn(vm, "\n")] = 0;
	make_domain(next_domid(), name, vm, true);
	return 0;
}

/* xl's migration handshake (tools/xl/xl.h); all but the banner go with their NUL. */
static const char banner[] = "xl migration receiver ready, send binary domain data.\n";
static const char ready[] = "domain received, ready to unpause";
static const char go[] = "domain is yours, you are cleared to unpause";
static const char report[] = "my copy unpause results are as follows";

static bool read_exactly(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Reads the fixed message @msg (@len bytes) from @fd. */
static bool expect(int fd, const char *msg, size_t len)
{
	char buf[128];

	return len <= sizeof(buf) && read_exactly(fd, buf, len) && !memcmp(buf, msg, len);
}

static void send_msg(int fd, const void *msg, size_t len)
{
	if (write(fd, msg, len) != (ssize_t)len)
		die("cannot write to the migration stream", NULL);
}

static void rename_domain(unsigned int domid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	writef(path, name);
}

static int migrate(int argc, char **argv)
{
	int to_child[2], from_child[2], i, status;
	char data[256], away[160], rc;
	unsigned int domid;
	char *name, *vm;
	pid_t pid;

	for (i = 0; i < argc && argv[i][0] == '-'; i++)
		i += !strcmp(argv[i], "-s") || !strcmp(argv[i], "-C");
	if (argc - i != 2)
		die("usage: migrate [-C CFG] [--debug] -s \"\" DOMAIN RUNE", NULL);
	domid = find_domain(argv[i]);
	name = read_domain(domid, "name");
	vm = read_domain(domid, "vm");
	if (!name || !vm || pipe(to_child) || pipe(from_child))
		die("cannot migrate ", argv[i]);
	pid = fork();
	if (pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		close(to_child[1]);
		close(from_child[0]);
		execl("/bin/sh", "sh", "-c", argv[i + 1], (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (!expect(from_child[0], banner, sizeof(banner) - 1)) {
		fprintf(stderr, "fake-xl: failed to read banner from the receiver\n");
		return 1;
	}
	snprintf(data, sizeof(data), "%s\n%s\n", name, vm);
	send_msg(to_child[1], data, strlen(data));
	if (!expect(from_child[0], ready, sizeof(ready))) {
		fprintf(stderr, "fake-xl: Migration failed, resuming at sender.\n");
		return 1;
	}
	snprintf(away, sizeof(away), "%s--migratedaway", name);
	rename_domain(domid, away);
	send_msg(to_child[1], go, sizeof(go));
	if (!expect(from_child[0], report, sizeof(report)) ||
	    !read_exactly(from_child[0], &rc, 1)) {
		fprintf(stderr, "fake-xl: ** Migration failed during final handshake **\n");
		return 1;
	}
	if (rc) {
		if (!expect(from_child[0], go, sizeof(go)))
			die("no permission to resume", NULL);
		rename_domain(domid, name);
		fprintf(stderr, "fake-xl: Migration failed due to problems at target.\n");
		return 1;
	}
	destroy(domid);
	close(to_child[1]);
	waitpid(pid, &status, 0);
	free(name);
	free(vm);
	return 0;
}

/* One line of the stream, read a byte at a time: the stream goes on after it. */
static void read_line(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && read_exactly(0, buf + i, 1) && buf[i] != '\n'; i++)
		;
	buf[i] = '\0';
}

static int migrate_receive(int argc, char **argv)
{
	bool paused = false, fail;
	char name[128], vm[128], incoming[160], path[64];
	unsigned int domid;
	int i;

	for (i = 0; i < argc; i++)
		paused |= !strcmp(argv[i], "-p");
	fail = getenv("FAKE_XL_FAIL") && !strcmp(getenv("FAKE_XL_FAIL"), "migrate-receive");
	send_msg(1, banner, sizeof(banner) - 1);
	read_line(name, sizeof(name));
	read_line(vm, sizeof(vm));
	if (!name[0] || !vm[0])
		die("no domain in the stream", NULL);
	snprintf(incoming, sizeof(incoming), "%s--incoming", name);
	domid = next_domid();
	make_domain(domid, incoming, vm, true);
	send_msg(1, ready, sizeof(ready));
	if (!expect(0, go, sizeof(go)))
		die("no go from the sender", NULL);
	rename_domain(domid, name);
	if (!paused) {
		snprintf(path, sizeof(path), "/local/domain/%u/fake-xl-paused", domid);
		writef(path, "0");
	}
	send_msg(1, report, sizeof(report));
	send_msg(1, fail ? "\3" : "", 1);
	if (fail) {
		destroy(domid);
		send_msg(1, go, sizeof(go));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *log = getenv("FAKE_XL_LOG");
	unsigned int domid, next;
	char *name, *vm;
	FILE *f;
	int i;

	if (log) {
		f = fopen(log, "a");
		for (i = 1; f && i < argc; i++)
			fprintf(f, "%s%c", argv[i], i + 1 < argc ? ' ' : '\n');
		if (f)
			fclose(f);
	}
	xs = xs_open(0);
	if (!xs || argc < 2)
		die("no xenstore, or no command", NULL);
	if (!strcmp(argv[1], "create"))
		return create(argc - 2, argv + 2);
	if (!strcmp(argv[1], "save"))
		return save(argc - 2, argv + 2);
	if (!strcmp(argv[1], "restore"))
		return restore(argc - 2, argv + 2);
	if (!strcmp(argv[1], "migrate"))
		return migrate(argc - 2, argv + 2);
	if (!strcmp(argv[1], "migrate-receive"))
		return migrate_receive(argc - 2, argv + 2);
	if (argc != 3)
		die("usage: unpause|destroy|reboot DOMID", NULL);
	domid = atoi(argv[2]);
	if (!strcmp(argv[1], "unpause")) {
		char path[64];

		name = read_domain(domid, "name");
		if (!name)
			die("no such domain", NULL);
		free(name);
		snprintf(path, sizeof(path), "/local/domain/%u/fake-xl-paused", domid);
		writef(path, "0");
	} else if (!strcmp(argv[1], "destroy")) {
		destroy(domid);
	} else if (!strcmp(argv[1], "reboot")) {
		name = read_domain(domid, "name");
		vm = read_domain(domid, "vm");
		if (!name || !vm)
			die("no such domain", NULL);
		next = next_domid();
		destroy(domid);
		make_domain(next, name, vm, false);
		printf("%u\n", next);
		free(name);
		free(vm);
	} else {
		die("unknown command ", argv[1]);
	}
	return 0;
}
