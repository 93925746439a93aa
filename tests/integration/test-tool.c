// SPDX-License-Identifier: GPL-2.0-only
/*
 * The administrator's tool, virtio-xenbus, against the real daemon and a
 * real xenstored on the simulated hypervisor: attach, list and detach
 * disks, and `create` of guests from their xl configs, with a stand-in for
 * xl (tests/guest/fake-xl.c) that writes what libxl writes of a domain.
 *
 * Each test runs in a network namespace of its own, where the daemon makes
 * its TAP interfaces and a bridge vxbr0 stands for xenbr0.
 */
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "common.h"
#include "nettest.h"
#include "vdev.h"

#define MAC	"00:16:3e:0a:0b:0c"

static char out[4096], xl_log[200];

static void tool_up(void)
{
	char reboot_wait[] = "VIRTIO_XENBUS_REBOOT_WAIT=2";

	ck_assert_int_eq(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("sysfs", "/sys", "sysfs", 0, NULL), 0);
	ck_assert_int_eq(sh("ip link set lo up && ip link add vxbr0 type bridge && "
			    "ip link set vxbr0 up"), 0);
	host_up();
	snprintf(xl_log, sizeof(xl_log), "%s/xl.log", host.dir);
	ck_assert_int_eq(setenv("XL", getenv("FAKE_XL"), 1), 0);
	ck_assert_int_eq(setenv("FAKE_XL_LOG", xl_log, 1), 0);
	ck_assert_int_eq(setenv("FAKE_XL_SIM_DIR", host.sim_dir, 1), 0);
	ck_assert_int_eq(setenv("VIRTIO_XENBUS_LOG_DIR", host.dir, 1), 0);
	ck_assert_int_eq(putenv(strdup(reboot_wait)), 0);
}

static void tool_down(void)
{
	/* A monitor left by a failed test would outlive it. */
	sh("pkill -f 'virtio-xenbus (create|restore|migrate)' 2>/dev/null");
	host_down();
}

/* Runs a command line (printf-style) with its output in `out`; its exit status. */
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return sh_output(out, sizeof(out), "%s", cmd);
}

#define TOOL(...)	run("%s " __VA_ARGS__)
#define TOOL_OK(...)	ck_assert_msg(TOOL(__VA_ARGS__) == 0, "failed: %s", out)
#define RUN_OK(...)	ck_assert_msg(run(__VA_ARGS__) == 0, "failed: %s", out)
/* A refusal: exit status 1 (not a crash), with the output shown otherwise. */
#define TOOL_REFUSES(...)	ck_assert_msg(TOOL(__VA_ARGS__) == 1, "not a refusal: %s", out)

/* Writes a guest config into the host's directory; its path. */
static const char *config(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.cfg", host.dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *xs_get(struct xs_handle *xs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *xs_get(struct xs_handle *xs, const char *fmt, ...)
{
	char path[256];
	unsigned int len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return xs_read(xs, XBT_NULL, path, &len);
}

static bool frontend_has(struct xs_handle *xs, uint32_t domid, const char *key)
{
	char *v = xs_get(xs, "/local/domain/%u/device/virtio/0/%s", domid, key);

	free(v);
	return v != NULL;
}

/* The domid fake-xl gave the guest called @name, or 0. */
static uint32_t domid_of(struct xs_handle *xs, const char *name)
{
	unsigned int n, i;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	uint32_t domid = 0;
	char *s;

	for (i = 0; doms && i < n && !domid; i++) {
		s = xs_get(xs, "/local/domain/%s/name", doms[i]);
		if (s && !strcmp(s, name))
			domid = atoi(doms[i]);
		free(s);
	}
	free(doms);
	return domid;
}

static bool perms_are(struct xs_handle *xs, const char *path, uint32_t owner,
		      uint32_t reader)
{
	unsigned int n;
	struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, path, &n);
	bool ok = p && n == 2 && p[0].id == owner && p[0].perms == XS_PERM_NONE &&
		  p[1].id == reader && p[1].perms == XS_PERM_READ;

	free(p);
	return ok;
}

static const char *tool_path(void)
{
	return getenv("TOOL");
}

/*
 * A guest writes its frontend's `backend` key: a guest's device that names
 * another place than its backend directory is not listed, and the tool
 * writes nothing there (a stats request would otherwise land in it).
 */
START_TEST(list_ignores_a_backend_key_that_names_another_place)
{
	struct xs_handle *xs = xs_open(0);
	char path[128], *s;
	uint32_t web;

	ck_assert_ptr_nonnull(xs);
	RUN_OK("%s create %s", getenv("FAKE_XL"), config("web", "name='web'"));
	web = domid_of(xs, "web");
	ck_assert(xs_write(xs, XBT_NULL, "/local/domain/0/victim/state", "4", 1));
	snprintf(path, sizeof(path), "/local/domain/%u/device/virtio/7/backend", web);
	ck_assert(xs_write(xs, XBT_NULL, path, "/local/domain/0/victim", 22));
	snprintf(path, sizeof(path), "/local/domain/%u/device/virtio/7/backend-id", web);
	ck_assert(xs_write(xs, XBT_NULL, path, "0", 1));
	TOOL_OK("list", tool_path());
	ck_assert_msg(!strstr(out, "victim"), "%s", out);
	s = xs_read(xs, XBT_NULL, "/local/domain/0/victim/stats-request", NULL);
	ck_assert_msg(!s, "the tool wrote a stats request into the place a guest named");
	xs_close(xs);
}
END_TEST

START_TEST(disks_attach_list_detach_as_libxl_writes_a_vbd)
{
	char disk[256], other[256], path[128];
	struct xs_handle *xs = xs_open(0);
	uint32_t web, db;

	ck_assert_ptr_nonnull(xs);
	make_disk("web.img", disk);
	make_disk("other.img", other);
	RUN_OK("%s create %s", getenv("FAKE_XL"), config("web", "name='web'"));
	RUN_OK("%s create %s", getenv("FAKE_XL"), config("db", "name='db'"));
	web = domid_of(xs, "web");
	db = domid_of(xs, "db");
	ck_assert_uint_ne(web, 0);

	TOOL_OK("disk-attach web %s,raw,vda,rw,queues=2", tool_path(), disk);
	ck_assert_str_eq(out, "0\n");
	/* The layout and permissions of protocol.md 1.1, those of libxl's vbd. */
	snprintf(path, sizeof(path), "/local/domain/%u/device/virtio/0", web);
	ck_assert(perms_are(xs, path, web, 0));
	snprintf(path, sizeof(path), "/local/domain/0/backend/virtio/%u/0", web);
	ck_assert(perms_are(xs, path, 0, web));
	ck_assert(frontend_has(xs, web, "backend-id") && frontend_has(xs, web, "backend"));
	TOOL_OK("list web", tool_path());
	ck_assert_msg(strstr(out, "blk   vda") && strstr(out, disk) && strstr(out, "initwait"),
		      "%s", out);

	/* --help on every command. */
	TOOL_OK("disk-attach --help", tool_path());
	ck_assert_msg(strstr(out, "Usage: virtio-xenbus") && strstr(out, "DISKSPEC"), "%s", out);
	TOOL_OK("create -h", tool_path());

	/* Refused: the same vdev, a file another guest writes, no file, no guest. */
	TOOL_REFUSES("disk-attach web %s,raw,vda", tool_path(), other);
	ck_assert_msg(strstr(out, "already has a disk vda"), "%s", out);
	TOOL_REFUSES("disk-attach db %s,raw,vda", tool_path(), disk);
	snprintf(path, sizeof(path), "already in use by domain %u, device 0", web);
	ck_assert_msg(strstr(out, path), "%s", out);
	TOOL_REFUSES("disk-attach db /nonexistent,raw,vda", tool_path());
	ck_assert_msg(strstr(out, "/nonexistent: No such file"), "%s", out);
	TOOL_REFUSES("disk-attach nosuch %s,raw,vda", tool_path(), other);
	ck_assert_msg(strstr(out, "no domain named 'nosuch'"), "%s", out);
	/* Read-only on both sides is shared. */
	TOOL_OK("disk-attach db %s,raw,vdb,ro", tool_path(), other);
	TOOL_OK("disk-attach web %s,raw,vdb,ro", tool_path(), other);
	ck_assert_str_eq(out, "1\n");

	/* A guest that never connected lets go at once; the vdev is free again. */
	TOOL_OK("disk-detach web vdb", tool_path());
	TOOL_OK("disk-detach -f db vdb", tool_path());
	TOOL_OK("list", tool_path());
	ck_assert_msg(!strstr(out, "vdb") && strstr(out, "vda"), "%s", out);
	TOOL_REFUSES("disk-detach web vdb", tool_path());
	ck_assert_msg(strstr(out, "has no virtio device vdb"), "%s", out);
	TOOL_OK("disk-attach web %s,raw,vdb,ro", tool_path(), other);
	ck_assert_str_eq(out, "1\n");
	TOOL_OK("list db", tool_path());
	ck_assert_msg(!strstr(out, "vda") && !strstr(out, "vdb"), "%s", out);
	ck_assert_uint_ne(db, web);
	xs_close(xs);
}
END_TEST

static const char good_config[] =
	"name = 'web'\n"
	"memory = 512\n"
	"virtio_disk = [ '%s,raw,vda,rw,queues=2',\n"
	"                'vdev=vdb, access=ro, target=%s' ]\n"
	"virtio_nic = [ 'mac=" MAC ",bridge=vxbr0,script=%s/vif-bridge' ]\n";

static const char *write_good_config(char disk[256], char ro[256])
{
	char text[1024];

	make_disk("web.img", disk);
	make_disk("ro.img", ro);
	snprintf(text, sizeof(text), good_config, disk, ro, getenv("HOTPLUG_SRC"));
	return config("web", text);
}

/*
 * The guest's devices as the test frontend sees them: sizes and the mac.
 * (The probe reads xenstore only: the new simulated domain that
 * new_guest() makes in place of fake-xl's does not matter to it.)
 */
static void check_guest_devices(struct xs_handle *xs, uint32_t domid)
{
	struct vx_guest *g = new_guest(domid);
	struct vx_vdev vd;
	uint64_t capacity;
	char *mode;

	ck_assert_int_eq(vdev_probe(&vd, g, 0), 0);
	memcpy(&capacity, vd.config, sizeof(capacity));
	ck_assert_uint_eq(capacity, DISK_BYTES / 512);
	ck_assert_uint_eq(vd.max_queues, 2);
	ck_assert_int_eq(vdev_probe(&vd, g, 1), 0);
	mode = xs_get(xs, "/local/domain/0/backend/virtio/%u/1/mode", domid);
	ck_assert_str_eq(mode, "r");
	free(mode);
	ck_assert_int_eq(vdev_probe(&vd, g, 2), 0);
	ck_assert_uint_eq(vd.device_id, 1);	/* network */
	ck_assert_mem_eq(vd.config, ((uint8_t[]){ 0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c }), 6);
	guest_destroy(g);
}

START_TEST(create_attaches_the_configs_devices_then_unpauses)
{
	char disk[256], ro[256], *paused;
	struct xs_handle *xs = xs_open(0);
	const char *cfg = write_good_config(disk, ro);
	uint32_t domid;

	TOOL_OK("create -e %s memory=256", tool_path(), cfg);
	ck_assert_msg(strstr(out, "web is domain 1, with 2 virtio disks and 1 virtio nic"),
		      "%s", out);
	domid = domid_of(xs, "web");
	ck_assert_uint_eq(domid, 1);
	paused = xs_get(xs, "/local/domain/%u/fake-xl-paused", domid);
	ck_assert_str_eq(paused, "0");
	free(paused);
	/* xl got the config and the extra setting, and made the domain paused. */
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(strstr(out, "create -p ") && strstr(out, "memory=256") &&
		      strstr(out, "unpause 1"), "xl calls: %s", out);

	TOOL_OK("list web", tool_path());
	ck_assert_msg(strstr(out, "vda") && strstr(out, "vdb") && strstr(out, MAC),
		      "%s", out);
	check_guest_devices(xs, domid);
	ck_assert_int_eq(sh("test \"$(readlink /sys/class/net/vxif1.2/master)\" != ''"), 0);

	/* The same guest again: its name is taken, xl is not asked. */
	TOOL_REFUSES("create -e %s", tool_path(), cfg);
	ck_assert_msg(strstr(out, "domain 1 is already called 'web'"), "%s", out);
	xs_close(xs);
}
END_TEST

/* xl's own options go before the config file, as real xl wants them. */
START_TEST(create_with_xls_p_leaves_the_guest_paused_with_its_devices)
{
	char disk[256], ro[256], *paused;
	struct xs_handle *xs = xs_open(0);
	const char *cfg = write_good_config(disk, ro);

	TOOL_OK("create -e %s -p memory=256", tool_path(), cfg);
	paused = xs_get(xs, "/local/domain/1/fake-xl-paused");
	ck_assert_str_eq(paused, "1");
	free(paused);
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(strstr(out, "create -p -p ") && strstr(out, "web.cfg memory=256") &&
		      !strstr(out, "unpause"), "xl calls: %s", out);
	check_guest_devices(xs, 1);
	xs_close(xs);
}
END_TEST

START_TEST(create_refuses_a_bad_config_before_xl_runs)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
		{ "name = 'g'\nvirtio_disk = [ '/x,raw,vda',\n '/y,raw,vda' ]\n",
		  "g.cfg: line 3: vdev vda is given twice" },
		{ "name = 'g'\nmemory 512\n", "g.cfg: line 2: expected '='" },
		{ "name = 'g'\n\nvirtio_disk = [ '/nonexistent,raw,vda' ]\n",
		  "g.cfg: line 3: disk vda: /nonexistent: No such file or directory" },
		{ "name = 'g'\nvirtio_nic = [ 'bridge=nosuchbr' ]\n",
		  "g.cfg: line 2: nic 1: bridge nosuchbr does not exist" },
		{ "name = 'g'\nvirtio_nic = [ 'mac=" MAC ",bridge=vxbr0' ]\n", "" },
	};
	char disk[256], text[512];
	size_t i;

	for (i = 0; i + 1 < sizeof(cases) / sizeof(cases[0]); i++) {
		TOOL_REFUSES("create -e %s", tool_path(), config("g", cases[i].text));
		ck_assert_msg(strstr(out, cases[i].reason), "case %zu: %s", i, out);
	}
	/* A disk another guest writes. */
	make_disk("used.img", disk);
	RUN_OK("%s create %s", getenv("FAKE_XL"), config("db", "name='db'"));
	TOOL_OK("disk-attach db %s,raw,vda", tool_path(), disk);
	snprintf(text, sizeof(text), "name = 'g'\nvirtio_disk = [ '%s,raw,vda' ]\n", disk);
	TOOL_REFUSES("create -e %s", tool_path(), config("g", text));
	ck_assert_msg(strstr(out, "line 2: disk vda:") && strstr(out, "already in use by domain 1"),
		      "%s", out);
	/* Nothing reached xl but the one create of db. */
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(!strstr(out, "g.cfg"), "xl was called: %s", out);
	/* xl refusing the config: nothing attached. */
	setenv("FAKE_XL_FAIL", "create", 1);
	TOOL_REFUSES("create -e %s", tool_path(), config("g", cases[4].text));
	ck_assert_msg(strstr(out, "xl create failed"), "%s", out);
	unsetenv("FAKE_XL_FAIL");
}
END_TEST

START_TEST(create_destroys_the_guest_when_the_backend_refuses_a_device)
{
	struct xs_handle *xs = xs_open(0);
	char text[512], disk[256];

	make_disk("web.img", disk);
	snprintf(text, sizeof(text),
		 "name = 'web'\nvirtio_disk = [ '%s,raw,vda' ]\n"
		 "virtio_nic = [ 'bridge=vxbr0,script=/bin/false' ]\n", disk);
	TOOL_REFUSES("create -e %s", tool_path(), config("web", text));
	ck_assert_msg(strstr(out, "refused the device") && strstr(out, "domain 1 destroyed"),
		      "%s", out);
	ck_assert_uint_eq(domid_of(xs, "web"), 0);
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(strstr(out, "destroy 1") && !strstr(out, "unpause"), "xl calls: %s", out);
	/* The daemon lets go of what the destroyed guest had. */
	ck_assert(harness_log_wait(&host, "the guest is gone", PATIENCE_MS));
	xs_close(xs);
}
END_TEST

static bool initwait(int state)
{
	return state == VX_STATE_INITWAIT;
}

static bool process_gone(pid_t pid, int ms)
{
	char path[64], state = 0;
	FILE *f;

	for (; ms > 0; ms -= 50) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f || fscanf(f, "%*d %*s %c", &state) != 1 || state == 'Z') {
			if (f)
				fclose(f);
			return true;
		}
		fclose(f);
		usleep(50000);
	}
	return false;
}

/* Waits up to PATIENCE_MS for the follower's log to hold @needle. */
static bool monitor_log_has(const char *needle)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/virtio-xenbus-web.log", host.dir);
	return file_wait_for(path, needle, PATIENCE_MS);
}

/* create, following in the background: the follower's pid. */
static pid_t create_followed(const char *cfg)
{
	char *pid_at;
	pid_t follower;

	TOOL_OK("create %s", tool_path(), cfg);
	pid_at = strstr(out, "(pid ");
	ck_assert_msg(pid_at, "%s", out);
	follower = atoi(pid_at + 5);
	ck_assert_int_gt(follower, 0);
	return follower;
}

START_TEST(create_gives_a_rebooted_guest_its_devices_again)
{
	char disk[256], ro[256], extra[256];
	struct xs_handle *xs = xs_open(0);
	pid_t monitor = create_followed(write_good_config(disk, ro));
	uint32_t domid;

	ck_assert(monitor_log_has("domain 1's virtio devices: vda vdb " MAC));
	/* Hot changes count too, as for xl's vbds: vdb goes, vdc comes. */
	make_disk("extra.img", extra);
	TOOL_OK("disk-detach -f web vdb", tool_path());
	TOOL_OK("disk-attach web %s,raw,vdc,queues=3", tool_path(), extra);
	ck_assert(monitor_log_has("domain 1's virtio devices: vda " MAC " vdc"));

	/* xl's reboot: the domain goes, a new one of the same uuid comes, running. */
	RUN_OK("%s reboot 1", getenv("FAKE_XL"));
	domid = atoi(out);
	ck_assert_uint_eq(domid, 2);
	for (unsigned int devid = 0; devid < 3; devid++)
		ck_assert(vx_ts_wait_backend(xs, 0, domid, devid, initwait, PATIENCE_MS));
	TOOL_OK("list 2", tool_path());
	ck_assert_msg(strstr(out, "vda") && strstr(out, "vdc") && strstr(out, extra) &&
		      strstr(out, MAC) && !strstr(out, "vdb"), "%s", out);
	ck_assert_msg(strstr(out, " 3      "), "vdc lost its queues: %s", out);
	ck_assert(harness_log_wait(&host, "the guest is gone", PATIENCE_MS));

	/* Destroyed for good: the monitor stops after the reboot wait (2 s here). */
	RUN_OK("%s destroy 2", getenv("FAKE_XL"));
	ck_assert_msg(process_gone(monitor, PATIENCE_MS), "the monitor outlived its guest");
	ck_assert(monitor_log_has("web rebooted as domain 2"));
	ck_assert(monitor_log_has("domain 2 has its 3 virtio devices again"));
	ck_assert(monitor_log_has("web did not come back within 2 s"));
	xs_close(xs);
}
END_TEST

static bool domain_has_device(struct xs_handle *xs, uint32_t domid, uint32_t devid)
{
	char *v = xs_get(xs, "/local/domain/%u/device/virtio/%u/backend", domid, devid);

	free(v);
	return v != NULL;
}

/*
 * xl save with FILE.virtio beside the save file; xl restore, paused, gives
 * the new domain the devices at their devids (a frozen guest driver finds
 * its device where it left it), then unpauses; the follower stops at the
 * save instead of waiting for a reboot, and a new one follows the restored
 * domain.  A checkpoint (-c) leaves the domain and its follower as they are.
 */
START_TEST(save_and_restore_give_the_guest_its_devices_at_their_devids)
{
	char disk[256], ro[256], save_file[256], *v;
	struct xs_handle *xs = xs_open(0);
	pid_t monitor = create_followed(write_good_config(disk, ro));
	struct vx_guest *g;
	struct vx_vdev vd;
	uint64_t capacity;

	/* Devices 0 and 2: the gap between them must survive. */
	TOOL_OK("disk-detach -f web vdb", tool_path());
	ck_assert(monitor_log_has("domain 1's virtio devices: vda " MAC));

	snprintf(save_file, sizeof(save_file), "%s/web.save", host.dir);
	TOOL_OK("save web %s", tool_path(), save_file);
	ck_assert_msg(strstr(out, "web saved to") && strstr(out, "its 2 virtio devices"),
		      "%s", out);
	ck_assert_uint_eq(domid_of(xs, "web"), 0);
	RUN_OK("cat %s.virtio", save_file);
	ck_assert_msg(strstr(out, "name web\n") && strstr(out, "device 0 0 blk ") &&
		      strstr(out, "dev=vda") && strstr(out, "device 2 0 net ") &&
		      strstr(out, "mac=" MAC) && !strstr(out, "vdb"), "%s", out);
	ck_assert(monitor_log_has("domain 1 was saved: virtio-xenbus restore gives its devices back"));
	ck_assert_msg(process_gone(monitor, PATIENCE_MS), "the follower outlived the save");
	ck_assert(harness_log_wait(&host, "the guest is gone", PATIENCE_MS));

	TOOL_OK("restore %s", tool_path(), save_file);
	ck_assert_msg(strstr(out, "web is domain 2 again, with its 2 virtio devices"), "%s", out);
	ck_assert(domain_has_device(xs, 2, 0) && domain_has_device(xs, 2, 2) &&
		  !domain_has_device(xs, 2, 1));
	v = xs_get(xs, "/local/domain/2/fake-xl-paused");
	ck_assert_str_eq(v, "0");
	free(v);
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(strstr(out, "restore -p ") && strstr(out, "unpause 2"), "xl calls: %s", out);
	v = xs_get(xs, "/tool/virtio-xenbus/saving");
	ck_assert_msg(!v || !*v, "a save marker is left");
	free(v);
	g = new_guest(2);
	ck_assert_int_eq(vdev_probe(&vd, g, 0), 0);
	memcpy(&capacity, vd.config, sizeof(capacity));
	ck_assert_uint_eq(capacity, DISK_BYTES / 512);
	ck_assert_int_eq(vdev_probe(&vd, g, 2), 0);
	ck_assert_mem_eq(vd.config, ((uint8_t[]){ 0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c }), 6);
	guest_destroy(g);
	ck_assert(monitor_log_has("following web (domain 2"));

	/* A checkpoint: the domain carries on, and so does its follower. */
	TOOL_OK("save -c web %s.2", tool_path(), save_file);
	ck_assert_uint_eq(domid_of(xs, "web"), 2);
	ck_assert(domain_has_device(xs, 2, 0) && domain_has_device(xs, 2, 2));
	RUN_OK("%s destroy 2", getenv("FAKE_XL"));
	ck_assert(monitor_log_has("domain 2 is gone; waiting"));

	/* Restore needs the devices' file, whole; xl is not asked otherwise. */
	RUN_OK("mv %s.virtio %s.keep", save_file, save_file);
	TOOL_REFUSES("restore %s", tool_path(), save_file);
	ck_assert_msg(strstr(out, "web.save.virtio: No such file") &&
		      strstr(out, "saved with virtio-xenbus save?"), "%s", out);
	RUN_OK("sed 's/^device 2 0 net/device 2 0 nic/' %s.keep >%s.virtio", save_file, save_file);
	TOOL_REFUSES("restore %s", tool_path(), save_file);
	ck_assert_msg(strstr(out, "line 4 is not what virtio-xenbus save writes"), "%s", out);
	RUN_OK("grep -c restore %s", xl_log);
	ck_assert_str_eq(out, "1\n");
	xs_close(xs);
}
END_TEST

/* The follower's pid recorded for the guest whose vm path is @vm; 0 if none. */
static pid_t recorded_follower(struct xs_handle *xs, const char *vm)
{
	char *v = xs_get(xs, "/tool/virtio-xenbus/follower/%s", strrchr(vm, '/') + 1);
	pid_t pid = v ? atoi(v) : 0;

	free(v);
	return pid;
}

/*
 * Waits for the follower the tool records for @vm to be one other than
 * @old (0: any): a new follower records itself once it runs.
 */
static pid_t new_follower(struct xs_handle *xs, const char *vm, pid_t old)
{
	pid_t pid = 0;

	for (int ms = 0; ms < PATIENCE_MS; ms += 10) {
		pid = recorded_follower(xs, vm);
		if (pid > 0 && pid != old)
			return pid;
		usleep(10000);
	}
	ck_abort_msg("the follower recorded is %d, still not a new one", (int)pid);
	return pid;
}

/* Whether domain @domid is paused (fake-xl's mark). */
static bool paused_now(struct xs_handle *xs, uint32_t domid)
{
	char *v = xs_get(xs, "/local/domain/%u/fake-xl-paused", domid);
	bool paused = v && !strcmp(v, "1");

	free(v);
	return paused;
}

/*
 * virtio-xenbus migrate to this host (xl's -s "", as the rig does): the
 * incoming domain has the guest's devices at their devids before it runs,
 * the old domain and its follower are gone, a new follower follows it.
 * A device the receiver cannot make (its disk not there) stops the
 * migration before xl migrate-receive runs; a failure at the receiver
 * leaves the guest where it was: both with its devices and a follower.
 */
START_TEST(migrate_carries_the_devices_to_the_incoming_domain)
{
	char disk[256], ro[256], *vm;
	struct xs_handle *xs = xs_open(0);
	pid_t monitor = create_followed(write_good_config(disk, ro)), next;
	unsigned int devid;

	ck_assert(monitor_log_has("domain 1's virtio devices: vda vdb " MAC));
	vm = xs_get(xs, "/local/domain/1/vm");
	ck_assert_ptr_nonnull(vm);
	ck_assert_int_eq(new_follower(xs, vm, 0), monitor);

	TOOL_OK("migrate -s '' web '%s migrate-receive'", tool_path(), tool_path());
	ck_assert_msg(strstr(out, "web is domain 2 here, with its 3 virtio devices") &&
		      strstr(out, "web migrated with its 3 virtio devices"),
		      "%s", out);
	ck_assert_msg(process_gone(monitor, PATIENCE_MS), "the sender's follower is left");
	ck_assert_uint_eq(domid_of(xs, "web"), 2);
	ck_assert(!paused_now(xs, 2));
	for (devid = 0; devid < 3; devid++)
		ck_assert(domain_has_device(xs, 2, devid) && !domain_has_device(xs, 1, devid));
	check_guest_devices(xs, 2);
	RUN_OK("cat %s", xl_log);
	ck_assert_msg(strstr(out, "migrate -s  1 ") && strstr(out, "migrate-receive -p\n") &&
		      strstr(out, "unpause 2"), "xl calls: %s", out);
	ck_assert(harness_log_wait(&host, "the guest is gone", PATIENCE_MS));
	ck_assert(monitor_log_has("following web (domain 2"));
	next = new_follower(xs, vm, monitor);

	/* The disk is not on the receiver: refused there, before xl runs. */
	RUN_OK("mv %s %s.away", disk, disk);
	TOOL_REFUSES("migrate -s '' web '%s migrate-receive'", tool_path(), tool_path());
	ck_assert_msg(strstr(out, "web's device 0 cannot be made on this host") &&
		      strstr(out, "No such file") && strstr(out, "runs here still"), "%s", out);
	RUN_OK("mv %s.away %s", disk, disk);
	RUN_OK("grep -c ^migrate-receive %s", xl_log);
	ck_assert_str_eq(out, "1\n");
	ck_assert_uint_eq(domid_of(xs, "web"), 2);
	for (devid = 0; devid < 3; devid++)
		ck_assert(domain_has_device(xs, 2, devid));
	ck_assert(process_gone(next, PATIENCE_MS));
	new_follower(xs, vm, next);

	/* xl fails at the receiver: its copy goes, the guest stays here. */
	setenv("FAKE_XL_FAIL", "migrate-receive", 1);
	TOOL_REFUSES("migrate -s '' web '%s migrate-receive'", tool_path(), tool_path());
	unsetenv("FAKE_XL_FAIL");
	ck_assert_msg(strstr(out, "xl migrate-receive failed") && strstr(out, "runs here still"),
		      "%s", out);
	ck_assert_uint_eq(domid_of(xs, "web"), 2);
	ck_assert(!domain_has_device(xs, 3, 0));
	for (devid = 0; devid < 3; devid++)
		ck_assert(domain_has_device(xs, 2, devid));

	/* -p: the guest arrives paused, with its devices. */
	TOOL_OK("migrate -e -p -s '' web '%s migrate-receive'", tool_path(), tool_path());
	ck_assert_uint_eq(domid_of(xs, "web"), 4);
	ck_assert(paused_now(xs, 4));
	check_guest_devices(xs, 4);
	free(vm);
	xs_close(xs);
}
END_TEST

/*
 * A plain xl migrate of a followed guest: to this host, the follower gives
 * the new domain the devices; to another host (a receiver that is not
 * here), the follower logs the commands that give them back there, and
 * they work.
 */
START_TEST(plain_xl_migrate_is_seen_by_the_follower)
{
	static const char elsewhere[] =
		"printf 'xl migration receiver ready, send binary domain data.\\n'; "
		"head -n 2 >/dev/null; printf 'domain received, ready to unpause\\000'; "
		"head -c 44 >/dev/null; printf 'my copy unpause results are as follows\\000\\000'";
	char disk[256], ro[256], log[256], cmd[2048];
	struct xs_handle *xs = xs_open(0);
	pid_t monitor = create_followed(write_good_config(disk, ro));
	unsigned int devid;
	FILE *f;

	ck_assert(monitor_log_has("domain 1's virtio devices: vda vdb " MAC));
	RUN_OK("%s migrate -s '' web '%s migrate-receive'", getenv("FAKE_XL"), getenv("FAKE_XL"));
	ck_assert(monitor_log_has("is being moved by plain xl migrate"));
	ck_assert(monitor_log_has("web was migrated to this host as domain 2"));
	for (devid = 0; devid < 3; devid++)
		ck_assert(vx_ts_wait_backend(xs, 0, 2, devid, initwait, PATIENCE_MS));
	ck_assert(monitor_log_has("domain 2 has its 3 virtio devices again"));

	/*
	 * A follower too slow to see the rename before xl destroys the domain
	 * (xl does so as soon as the receiver reports) still knows.
	 */
	ck_assert_int_eq(kill(monitor, SIGSTOP), 0);
	RUN_OK("%s migrate -s '' web \"%s\"", getenv("FAKE_XL"), elsewhere);
	ck_assert_int_eq(kill(monitor, SIGCONT), 0);
	ck_assert(monitor_log_has("domain 2 was renamed as it went"));
	ck_assert(monitor_log_has("web was migrated to another host by plain xl migrate without its 3 virtio devices"));
	ck_assert(monitor_log_has("virtio-xenbus disk-attach web 'vdev=vda,access=rw,queues=2,target="));
	ck_assert_msg(process_gone(monitor, PATIENCE_MS), "the follower outlived its guest");
	ck_assert(harness_log_wait(&host, "the guest is gone", PATIENCE_MS));

	/* The logged commands give a new 'web' its devices. */
	RUN_OK("%s create %s", getenv("FAKE_XL"), config("web2", "name='web'"));
	snprintf(log, sizeof(log), "%s/virtio-xenbus-web.log", host.dir);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(cmd, sizeof(cmd), f)) {
		char *at = strstr(cmd, "  virtio-xenbus ");

		if (!at)
			continue;
		RUN_OK("%s %s", tool_path(), at + strlen("  virtio-xenbus "));
	}
	fclose(f);
	TOOL_OK("list web", tool_path());
	ck_assert_msg(strstr(out, "vda") && strstr(out, "vdb") && strstr(out, MAC), "%s", out);
	xs_close(xs);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		disks_attach_list_detach_as_libxl_writes_a_vbd,
		list_ignores_a_backend_key_that_names_another_place,
		create_attaches_the_configs_devices_then_unpauses,
		create_with_xls_p_leaves_the_guest_paused_with_its_devices,
		create_refuses_a_bad_config_before_xl_runs,
		create_destroys_the_guest_when_the_backend_refuses_a_device,
		create_gives_a_rebooted_guest_its_devices_again,
		save_and_restore_give_the_guest_its_devices_at_their_devids,
		migrate_carries_the_devices_to_the_incoming_domain,
		plain_xl_migrate_is_seen_by_the_follower,
	};

	return RUN_TESTS("tool", tests, tool_up, tool_down, TEST_TIMEOUT_S);
}
