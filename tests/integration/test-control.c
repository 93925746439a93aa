// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control plane under slowness (protocol.md 2): a device whose I/O
 * cannot finish holds only itself, never another device's status answers,
 * attach or reboot; what a stopping queue reports is not the reset device's;
 * a removal the toolstack asked for stands; malformed requests ask for a
 * reset; the daemon waits for a xenstored that is not listening yet; and a
 * nic's slow hotplug script holds only that nic.
 *
 * Slowness is real here: the disk image lives on an ext4 filesystem of its
 * own (a loop mount), and fsfreeze holds every write to it until it thaws.
 */
#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"
#include "nettest.h"

#define WRITES		16		/* in flight on the frozen disk */
#define WRITE_LEN	65536

static char slow_dir[200];
static pid_t thaw_guard;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* A filesystem of its own for the disks whose writes a test holds. */
static void slowfs_mount(void)
{
	snprintf(slow_dir, sizeof(slow_dir), "%s/slow", host.dir);
	ck_assert_int_eq(mkdir(slow_dir, 0700), 0);
	ck_assert_int_eq(sh("truncate -s 64M '%s.img' && mkfs.ext4 -q -F '%s.img' && mount -o loop '%s.img' '%s'",
			    slow_dir, slow_dir, slow_dir, slow_dir), 0);
}

static void slowfs_freeze(void)
{
	ck_assert_int_eq(sh("fsfreeze -f '%s'", slow_dir), 0);
	/*
	 * However the test ends, the filesystem thaws: frozen, it would hold
	 * the daemon's I/O threads for good.  Well before PATIENCE_MS.
	 */
	thaw_guard = fork();
	if (!thaw_guard) {
		sleep(PATIENCE_MS / 1000 - 15);
		execlp("fsfreeze", "fsfreeze", "-u", slow_dir, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(thaw_guard, 0);
}

static void slowfs_thaw(void)
{
	if (thaw_guard <= 0)
		return;
	kill(thaw_guard, SIGKILL);
	waitpid(thaw_guard, NULL, 0);
	thaw_guard = 0;
	if (sh("fsfreeze -u '%s' 2>/dev/null", slow_dir))
		fprintf(stderr, "%s was thawed already\n", slow_dir);
}

static void setup(void)
{
	thaw_guard = 0;
	slow_dir[0] = '\0';
	host_up();
}

static void teardown(void)
{
	slowfs_thaw();
	/* Lazily: the daemon still holds the image until host_down stops it. */
	if (slow_dir[0] && sh("umount -l '%s'", slow_dir))
		fprintf(stderr, "cannot unmount %s\n", slow_dir);
	host_down();
}

static void attach_slow_disk(struct vx_guest *g, uint32_t devid, char path[256])
{
	const char *kv[] = { "params", path, "mode", "w", "queues", "2", NULL };
	int fd;

	snprintf(path, 256, "%s/d%u-%u.img", slow_dir, g->domid, devid);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, DISK_BYTES), 0);
	close(fd);
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, g->domid, devid, "blk", kv), 0);
}

/* With EVENT_IDX the device writes avail_event once it took every chain. */
static bool device_took_everything(struct driver_vq *q)
{
	volatile uint16_t *avail_event = (uint16_t *)&q->used->ring[q->size];

	for (int ms = 0; ms < PATIENCE_MS; ms++) {
		if (le16toh(*avail_event) == q->avail_idx)
			return true;
		poll(NULL, 0, 1);
	}
	return false;
}

/* WRITES writes of a pattern on both queues, taken by the device, held by the frozen disk. */
static void submit_held_writes(struct vx_vdev *vd, struct vblk_io ios[WRITES],
			       uint8_t **bufs)
{
	int i;

	*bufs = guest_alloc(vd->g, WRITES * WRITE_LEN);
	ck_assert_ptr_nonnull(*bufs);
	for (i = 0; i < WRITES; i++) {
		fill_pattern(*bufs + i * WRITE_LEN, WRITE_LEN, 40 + i);
		ck_assert_int_eq(vblk_submit(vd, i % 2, &ios[i], VIRTIO_BLK_T_OUT,
					     i * (WRITE_LEN / 512), *bufs + i * WRITE_LEN,
					     WRITE_LEN, false), 0);
	}
	slowfs_freeze();
	dvq_kick(&vd->vqs[0]);
	dvq_kick(&vd->vqs[1]);
	ck_assert(device_took_everything(&vd->vqs[0]));
	ck_assert(device_took_everything(&vd->vqs[1]));
}

/* A guest's whole set-up and one write and read: a dozen status requests. */
static uint64_t cycle_device(struct vx_vdev *vd, unsigned int round)
{
	uint8_t data[4096], got[4096];
	uint64_t t0 = now_ms(), longest = 0, t;

	ck_assert_int_eq(vdev_reset(vd), 0);
	t = now_ms();
	longest = t - t0;
	ck_assert_int_eq(vdev_negotiate(vd, vd->features), 0);
	ck_assert_int_eq(vdev_setup_queues(vd, 1, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(vd), 0);
	/* Four requests: the mean is what each waited. */
	if ((now_ms() - t) / 4 > longest)
		longest = (now_ms() - t) / 4;
	fill_pattern(data, sizeof(data), round);
	ck_assert_int_eq(vblk_do(vd, 0, VIRTIO_BLK_T_OUT, round * 8, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vblk_do(vd, 0, VIRTIO_BLK_T_IN, round * 8, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(got, data, sizeof(got)));
	return longest;
}

/* Every held write completed OK, and the disk holds it. */
static void check_held_writes(struct vx_vdev *vd, struct vblk_io ios[WRITES],
			      uint8_t *bufs, const char *disk)
{
	struct vblk_io *done[WRITES];
	int i, n = 0;

	for (i = 0; i < 2; i++)
		n += vblk_reap(vd, i, done + n, WRITES - n);
	ck_assert_int_eq(n, WRITES);
	for (i = 0; i < WRITES; i++) {
		uint8_t got[WRITE_LEN];

		ck_assert_msg(ios[i].done && ios[i].result == VIRTIO_BLK_S_OK,
			      "write %d: status %u", i, ios[i].result);
		ck_assert_int_eq(read_file_at(disk, (uint64_t)i * WRITE_LEN, got, WRITE_LEN), 0);
		ck_assert_msg(!memcmp(got, bufs + i * WRITE_LEN, WRITE_LEN),
			      "write %d acknowledged but not on the disk", i);
		ck_assert_int_eq(vblk_release(vd, &ios[i]), 0);
	}
}

START_TEST(a_drain_holds_only_its_own_device)
{
	struct vx_guest *ga = new_guest(1), *gb = new_guest(2);
	struct vblk_io ios[WRITES] = { 0 };
	struct vx_vdev a, b, b2;
	char disk_a[256], disk_b[256], disk_b2[256];
	uint64_t longest = 0, t;
	uint8_t *bufs;
	unsigned int round;

	slowfs_mount();
	attach_slow_disk(ga, 1, disk_a);
	attach_disk(gb, 1, "w", "1", "copy", disk_b);
	ck_assert_int_eq(vdev_connect(&a, ga, 1, 2, all_features), 0);
	ck_assert_int_eq(vdev_connect(&b, gb, 1, 1, all_features), 0);
	submit_held_writes(&a, ios, &bufs);

	/* Guest 1 resets while its writes are held: its answer waits for them. */
	ck_assert_int_eq(vdev_request_status(&a, 0), 0);
	for (round = 0; round < 10; round++) {
		t = cycle_device(&b, round);
		if (t > longest)
			longest = t;
	}
	/* The toolstack attaches a disk to guest 2 meanwhile: it is published. */
	attach_disk(gb, 2, "w", "1", "copy", disk_b2);
	ck_assert_int_eq(vdev_connect(&b2, gb, 2, 1, all_features), 0);
	ck_assert_msg(vdev_status_answer(&a) == -EAGAIN,
		      "guest 1's reset was answered while its writes were held");
	fprintf(stderr, "guest 2: 10 set-ups, longest status answer %llu ms, while guest 1 drained\n",
		(unsigned long long)longest);

	slowfs_thaw();
	ck_assert_int_eq(vdev_wait_status_answer(&a), 0);
	check_held_writes(&a, ios, bufs, disk_a);
	ck_assert_int_eq(vdev_free_queues(&a), 0);
	ck_assert_uint_eq(ga->leaked_refs, 0);
	/* And guest 1's device works again. */
	ck_assert_int_eq(vdev_negotiate(&a, a.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&a, 2, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(&a), 0);
	cycle_device(&a, 1);
	ck_assert_int_eq(vdev_close(&a), 0);
	ck_assert_int_eq(vdev_close(&b), 0);
	ck_assert_int_eq(vdev_close(&b2), 0);
	guest_destroy(ga);
	guest_destroy(gb);
}
END_TEST

START_TEST(an_error_a_stopping_queue_reports_is_not_the_reset_devices)
{
	struct vx_guest *g = new_guest(1);
	struct vblk_io ios[WRITES] = { 0 };
	struct vx_vdev vd;
	char disk[256];
	uint8_t *bufs;
	int i, s;

	slowfs_mount();
	attach_slow_disk(g, 1, disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 2, all_features), 0);
	submit_held_writes(&vd, ios, &bufs);
	/* A hostile driver: status bytes revoked, then a reset. */
	for (i = 0; i < WRITES; i++)
		ck_assert_int_eq(guest_dma_unmap(g, ios[i].status_dma, 1), 0);
	ck_assert_int_eq(vdev_request_status(&vd, 0), 0);
	slowfs_thaw();
	/* The writes cannot complete into the guest: the queues report it as they stop. */
	ck_assert_int_eq(vdev_wait_status_answer(&vd), 0);
	ck_assert(harness_log_wait(&host, "status cannot be written (grant refused)", PATIENCE_MS));
	ck_assert_int_eq(vdev_free_queues(&vd), 0);
	for (i = 0; i < WRITES; i++) {
		ck_assert_int_eq(guest_dma_unmap(g, ios[i].hdr_dma, sizeof(*ios[i].hdr)), 0);
		ck_assert_int_eq(guest_dma_unmap(g, ios[i].data_dma, WRITE_LEN), 0);
	}
	/* The reset device is a fresh one: nothing of the old queues' errors. */
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&vd, 2, 64), 0);
	s = vdev_driver_ok(&vd);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(s & VX_S_NEEDS_RESET, 0);
	cycle_device(&vd, 2);
	ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST

START_TEST(a_reboot_is_served_while_the_old_domain_drains)
{
	struct vx_guest *old = new_guest(1), *fresh;
	struct vblk_io ios[WRITES] = { 0 };
	struct vx_vdev vd, nd;
	char disk[256], fresh_disk[256], fe[128], be[128];
	unsigned int len;
	uint8_t *bufs;
	char *left;

	slowfs_mount();
	attach_slow_disk(old, 1, disk);
	ck_assert_int_eq(vdev_connect(&vd, old, 1, 2, all_features), 0);
	submit_held_writes(&vd, ios, &bufs);
	/* The guest reboots: xl destroys the domain and makes a new one. */
	ck_assert(xs_rm(old->xs, XBT_NULL, "/local/domain/1"));
	ck_assert(harness_log_wait(&host, "d1 virtio/1: frontend directory removed", PATIENCE_MS));
	fresh = new_guest(2);
	attach_disk(fresh, 1, "w", "2", "copy", fresh_disk);
	ck_assert_int_eq(vdev_connect(&nd, fresh, 1, 2, all_features), 0);
	cycle_device(&nd, 3);
	ck_assert_msg(!harness_log_wait(&host, "d1 virtio/1: released", 0),
		      "the old domain's device was released with its writes held");

	slowfs_thaw();
	ck_assert(harness_log_wait(&host, "d1 virtio/1: released", PATIENCE_MS));
	vx_ts_paths(0, 1, 1, fe, be);
	for (int ms = 0; (left = xs_read(fresh->xs, XBT_NULL, be, &len)) && ms < PATIENCE_MS; ms++) {
		free(left);
		poll(NULL, 0, 1);
	}
	ck_assert_msg(!left, "the destroyed domain's backend directory is left");
	ck_assert_int_eq(vdev_close(&nd), 0);
	vdev_abandon(&vd);
	guest_destroy(old);
	guest_destroy(fresh);
}
END_TEST

START_TEST(driver_ok_after_a_removal_request_keeps_the_removal)
{
	struct vx_guest *g = new_guest(1);
	struct vx_vdev vd;
	char disk[256];
	int s;

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert_int_eq(vdev_write(&vd, "state", "%d", VX_STATE_CONNECTED), 0);
	/* The driver sets the device up again (a rebind) as the toolstack detaches it. */
	ck_assert_int_eq(vdev_reset(&vd), 0);
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&vd, 1, 64), 0);
	ck_assert_int_eq(vx_ts_request_removal(g->xs, 0, 1, 1), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: removal requested", PATIENCE_MS));
	s = vdev_driver_ok(&vd);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(vdev_backend_state(&vd), VX_STATE_CLOSING);
	/* The frontend lets go, and the graceful detach completes. */
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CLOSED, PATIENCE_MS));
	ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, 1, 1, false, PATIENCE_MS), 0);
	guest_destroy(g);
}
END_TEST

/* status and status-seq as given, in one transaction as a frontend writes them. */
static void request_raw(struct vx_vdev *vd, const char *status, const char *seq)
{
	char path[256];
	xs_transaction_t t;

	do {
		t = xs_transaction_start(vd->g->xs);
		ck_assert(t != XBT_NULL);
		snprintf(path, sizeof(path), "%s/status", vd->fe);
		ck_assert(xs_write(vd->g->xs, t, path, status, strlen(status)));
		snprintf(path, sizeof(path), "%s/status-seq", vd->fe);
		ck_assert(xs_write(vd->g->xs, t, path, seq, strlen(seq)));
	} while (!xs_transaction_end(vd->g->xs, t, false) && errno == EAGAIN);
}

static void expect_error(struct vx_vdev *vd, const char *reason)
{
	char *error;

	ck_assert_msg(needs_reset(vd), "no NEEDS_RESET for: %s", reason);
	error = vdev_read_backend(vd, "error");
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, reason);
	free(error);
}

START_TEST(malformed_status_requests_ask_for_a_reset)
{
	static const char *const bad_status[] = { "007", "256", "", "0x1", "+1", "1 " };
	static const char *const bad_seq[] = { "007", "", "0x1", "4294967296", "-1" };
	struct vx_guest *g = new_guest(1);
	struct vx_vdev vd;
	char disk[256], seq[16];
	size_t i;
	int s;

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_probe(&vd, g, 1), 0);
	for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		/* Answered: the request's number is good. */
		snprintf(seq, sizeof(seq), "%u", ++vd.status_seq);
		request_raw(&vd, bad_status[i], seq);
		s = vdev_wait_status_answer(&vd);
		ck_assert_msg(s >= 0 && (s & VX_S_NEEDS_RESET),
			      "status \"%s\" answered %d", bad_status[i], s);
		expect_error(&vd, "status is malformed");
		ck_assert_int_eq(vdev_set_status(&vd, 0), 0);
	}
	for (i = 0; i < sizeof(bad_seq) / sizeof(bad_seq[0]); i++) {
		/* Nothing to answer, but the device says it needs a reset. */
		request_raw(&vd, "1", bad_seq[i]);
		expect_error(&vd, "status-seq is malformed");
		ck_assert_int_eq(vdev_set_status(&vd, 0), 0);
	}
	/* And after all that the device negotiates. */
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&vd, 1, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(&vd) & VX_S_NEEDS_RESET, 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST

START_TEST(daemon_waits_for_a_xenstored_not_listening_yet)
{
	struct vx_guest *g;
	uint8_t data[4096], got[4096];
	struct vx_vdev vd;
	char disk[256];

	ck_assert_int_eq(WEXITSTATUS(harness_stop_daemon(&host, SIGTERM)), 0);
	harness_stop_xenstored(&host);
	/* As systemd may start it: before xenstored listens. */
	ck_assert_int_eq(harness_spawn_daemon(&host), 0);
	ck_assert(harness_log_wait(&host, "xenstore is not reachable yet", PATIENCE_MS));
	ck_assert_int_eq(harness_start_xenstored(&host), 0);
	ck_assert_int_eq(harness_wait_daemon(&host), 0);
	ck_assert(harness_log_wait(&host, "xenstore reached after", 0));

	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	fill_pattern(data, sizeof(data), 11);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(got, data, sizeof(got)));
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST


static bool closed(int state)
{
	return state == VX_STATE_CLOSED;
}

/*
 * A nic's hotplug script that runs on (a bridge being made, a slow
 * policy): the daemon serves every other device meanwhile, and the nic is
 * published once its script is done, removed after, and its offline
 * script runs too.
 */
START_TEST(a_slow_hotplug_script_holds_only_its_own_nic)
{
	struct vx_guest *ga = new_guest(1), *gb = new_guest(2);
	const char *kv[] = { "script", NULL, "mac", "00:16:3e:0a:0b:0d", NULL };
	char script[256], gate[256], ran[256], disk[256];
	struct vx_vdev b, b2;
	unsigned int round;
	FILE *f;

	snprintf(gate, sizeof(gate), "%s/gate", host.dir);
	snprintf(ran, sizeof(ran), "%s/script-ran", host.dir);
	snprintf(script, sizeof(script), "%s/slow-vif", host.dir);
	f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	/* Until the test opens the gate, well past a status request's answer. */
	fprintf(f, "#!/bin/sh\necho \"$1 $vif\" >>'%s'\n"
		"[ \"$1\" = offline ] && exit 0\n"
		"while [ ! -e '%s' ]; do sleep 0.05; done\n", ran, gate);
	fclose(f);
	ck_assert_int_eq(chmod(script, 0755), 0);
	kv[1] = script;

	attach_disk(gb, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&b, gb, 1, 1, all_features), 0);
	ck_assert_int_eq(vx_ts_add_device(ga->xs, 0, ga->domid, 1, "net", kv), 0);
	for (round = 0; round < 20 && sh("grep -q online '%s' 2>/dev/null", ran); round++)
		poll(NULL, 0, 100);

	/* Guest 2 is served, and gets a new disk, while the script runs. */
	for (round = 0; round < 5; round++)
		cycle_device(&b, round);
	attach_disk(gb, 2, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&b2, gb, 2, 1, all_features), 0);
	ck_assert_int_eq(sh("grep -q online '%s'", ran), 0);
	ck_assert_msg(sh("pgrep -f '%s' >/dev/null", script) == 0,
		      "the hotplug script ended before guest 2 was served");
	ck_assert_int_ne(vx_ts_backend_state(ga->xs, 0, ga->domid, 1), VX_STATE_INITWAIT);

	/* The toolstack gives up on the nic meanwhile: it closes once the script is done. */
	ck_assert_int_eq(vx_ts_request_removal(ga->xs, 0, ga->domid, 1), 0);
	ck_assert_int_eq(sh("touch '%s'", gate), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: net: ", PATIENCE_MS));
	ck_assert(vx_ts_wait_backend(ga->xs, 0, ga->domid, 1, closed, PATIENCE_MS));
	ck_assert_int_eq(vx_ts_remove_device(ga->xs, 0, ga->domid, 1, false, PATIENCE_MS), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: released", PATIENCE_MS));
	ck_assert_int_eq(sh("grep -c . '%s' | grep -qx 2 && grep -q '^offline ' '%s'", ran, ran), 0);
	cycle_device(&b, 9);
	ck_assert_int_eq(vdev_close(&b), 0);
	ck_assert_int_eq(vdev_close(&b2), 0);
	guest_destroy(ga);
	guest_destroy(gb);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		a_drain_holds_only_its_own_device,
		an_error_a_stopping_queue_reports_is_not_the_reset_devices,
		a_reboot_is_served_while_the_old_domain_drains,
		driver_ok_after_a_removal_request_keeps_the_removal,
		malformed_status_requests_ask_for_a_reset,
		daemon_waits_for_a_xenstored_not_listening_yet,
		a_slow_hotplug_script_holds_only_its_own_nic,
	};

	return RUN_TESTS("control", tests, setup, teardown, TEST_TIMEOUT_S);
}
