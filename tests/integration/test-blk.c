// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk through the real daemon, a real xenstored and the simulated
 * hypervisor: the rules of docs/protocol.md 2 and 5, checked as a guest
 * and an administrator would see them.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "common.h"

#define SLOT		65536		/* no two requests in flight overlap */
#define NSLOTS		(DISK_BYTES / SLOT)
#define STRIDE		(SLOT + 4096)	/* room for a buffer not page-aligned */

/*
 * Random sizes at random offsets on every queue, many requests in flight,
 * mirrored in @shadow; then every byte read back and compared.
 */
static void random_io(struct vx_vdev *vd, uint8_t *shadow, unsigned int rounds,
		      unsigned int seed)
{
	unsigned int nq = vd->nr_queues, per_round = 24 * nq, r, i;
	struct vblk_io *ios = calloc(per_round, sizeof(*ios)), *done[64];
	uint8_t *bufs = guest_alloc(vd->g, (size_t)per_round * STRIDE);

	ck_assert_ptr_nonnull(ios);
	ck_assert_ptr_nonnull(bufs);
	srand(seed);
	for (r = 0; r < rounds; r++) {
		unsigned int first = rand() % NSLOTS, pending = per_round;

		for (i = 0; i < per_round; i++) {
			uint64_t slot = (first + i * 7) % NSLOTS;
			uint32_t len = 512 * (1 + rand() % (SLOT / 512));
			uint64_t off = slot * SLOT + 512 * (rand() % ((SLOT - len) / 512 + 1));
			uint8_t *data = bufs + (size_t)i * STRIDE + 512 * (rand() % 4);

			fill_pattern(data, len, r * 1000 + i);
			memcpy(shadow + off, data, len);
			ck_assert_int_eq(vblk_submit(vd, i % nq, &ios[i], VIRTIO_BLK_T_OUT,
						     off / 512, data, len, i % 3 == 0), 0);
		}
		for (i = 0; i < nq; i++)
			dvq_kick(&vd->vqs[i]);
		for (int waited = 0; pending; waited++) {
			for (i = 0; i < nq; i++) {
				int n = vblk_reap(vd, i, done, 64), k;

				for (k = 0; k < n; k++) {
					ck_assert_msg(done[k]->result == VIRTIO_BLK_S_OK,
						      "request of %u bytes at sector %llu%s: status %u",
						      done[k]->len,
						      (unsigned long long)le64toh(done[k]->hdr->sector),
						      done[k]->indirect ? " (indirect)" : "",
						      done[k]->result);
					ck_assert_int_eq(vblk_release(vd, done[k]), 0);
				}
				pending -= n;
			}
			ck_assert_int_lt(waited, PATIENCE_MS);
			if (pending && !dvq_enable_cb(&vd->vqs[0]))
				dvq_wait(&vd->vqs[0], 1);
		}
	}
	/* Read everything back, 64 KiB at a time, through every queue. */
	for (i = 0; i < NSLOTS; i++) {
		uint8_t got[SLOT];

		ck_assert_int_eq(vblk_do(vd, i % nq, VIRTIO_BLK_T_IN, i * (SLOT / 512),
					 got, SLOT), VIRTIO_BLK_S_OK);
		ck_assert_msg(!memcmp(got, shadow + (size_t)i * SLOT, SLOT),
			      "slot %u differs from what was written", i);
	}
	for (i = 0; i < per_round; i++)
		guest_free(vd->g, ios[i].hdr, VX_PAGE_SIZE);
	guest_free(vd->g, bufs, (size_t)per_round * STRIDE);
	free(ios);
}

/* Whether the simulated guests' memory is on tmpfs (harness_start_opt). */
static bool sim_on_tmpfs(void)
{
	struct statfs sfs;

	return !statfs(host.sim_dir, &sfs) && sfs.f_type == TMPFS_MAGIC;
}

/* With @pool_pages, buffers go through a grant pool (protocol.md 4.4). */
static void data_integrity(const char *access, uint32_t pool_pages)
{
	struct vx_guest *g = new_guest(1);
	uint8_t *shadow = calloc(1, DISK_BYTES), *file = malloc(DISK_BYTES);
	struct vx_vdev vd;
	char disk[256], line[96], out[4096];
	uint64_t ops;

	attach_disk(g, 1, "w", "4", access, disk);
	ck_assert_int_eq(vdev_connect_pool(&vd, g, 1, 4, all_features, pool_pages), 0);
	ck_assert(vd.driver_features & VX_FEATURE(VIRTIO_BLK_F_MQ));
	if (pool_pages) {
		snprintf(line, sizeof(line), "d1 virtio/1: pool: %u pages at grant reference %u mapped",
			 pool_pages, vd.pool->ref);
		ck_assert(harness_log_wait(&host, line, PATIENCE_MS));
		/* And the toolstack sees it. */
		ck_assert_int_eq(tool(out, sizeof(out), "list"), 0);
		snprintf(line, sizeof(line), "grant pool: %u pages mapped", pool_pages);
		ck_assert_msg(strstr(out, line), "no '%s' in: %s", line, out);
		/* Guest memory that is RAM, as on Xen: the I/O goes as fixed buffers. */
		if (sim_on_tmpfs())
			ck_assert(harness_log_wait(&host, "d1 virtio/1: pool registered with io_uring",
						   PATIENCE_MS));
	}
	random_io(&vd, shadow, 12, 1);
	if (pool_pages) {
		/* 96 requests of up to 64 KiB in flight: a small pool fills up. */
		ck_assert_uint_gt(vd.pool->bounced, 1000);
		if (pool_pages < 1024)
			ck_assert_uint_gt(vd.pool->fell_back, 0);
		else
			ck_assert_uint_eq(vd.pool->fell_back, 0);
	}
	/* And the file on the host holds the same bytes. */
	ck_assert_int_eq(read_file_at(disk, 0, file, DISK_BYTES), 0);
	ck_assert(!memcmp(file, shadow, DISK_BYTES));
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert_uint_eq(g->leaked_refs, 0);
	/* The reset unmapped the pool: list no longer shows it. */
	ck_assert_int_eq(tool(out, sizeof(out), "list"), 0);
	ck_assert_msg(!strstr(out, "grant pool:"), "a pool listed after the reset: %s", out);
	/* What the queues' counters say: no grant call when the pool holds all. */
	ops = logged_grant_ops(1, 1, 4);
	if (pool_pages >= 1024)
		ck_assert_uint_eq(ops, 0);
	else
		ck_assert_uint_gt(ops, 1000);
	free(shadow);
	free(file);
	guest_destroy(g);
}

START_TEST(data_integrity_with_grant_copy)
{
	data_integrity("copy", 0);
}
END_TEST

START_TEST(data_integrity_with_grant_map)
{
	data_integrity("map", 0);
}
END_TEST

/* Every buffer in the pool, then a pool too small: half its requests go by grants. */
START_TEST(data_integrity_through_a_grant_pool)
{
	data_integrity("copy", 4096);
}
END_TEST

START_TEST(data_integrity_through_a_full_grant_pool_with_map)
{
	data_integrity("map", 256);
}
END_TEST

/*
 * --poll-us: a queue watches its ring before sleeping, the driver's kicks
 * off meanwhile.  Requests many at once and one at a time (the read-back)
 * all complete with their bytes: no request the driver added without a kick
 * is left behind when the poll ends.
 */
START_TEST(data_integrity_with_polling_queues)
{
	unsigned long long req, kicks;
	char line[512];

	harness_stop_daemon(&host, SIGTERM);
	host.daemon_opt = "--poll-us=1000";
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	ck_assert(harness_log_wait(&host, "a queue polls its ring for 1000 us", 0));
	data_integrity("copy", 4096);
	logged_queue_line(1, 1, 0, line, sizeof(line));
	ck_assert_int_eq(sscanf(line, "%llu requests; %llu kicks", &req, &kicks), 2);
	fprintf(stderr, "polling queues: queue 0 took %llu requests on %llu kicks\n",
		req, kicks);
}
END_TEST

/*
 * Guest @domid's disk @path, served with a pool and in map mode, whose
 * medium the daemon must not let touch guest memory (@why, in its log):
 * every byte still lands.
 */
static void bounced_disk(uint32_t domid, const char *path, const char *safe,
			 const char *why)
{
	struct vx_guest *g = new_guest(domid);
	const char *kv[] = { "params", path, "mode", "w", "queues", "2",
			     "grant-access", "map", "direct-io-safe", safe, NULL };
	uint8_t *shadow = calloc(1, DISK_BYTES), *file = malloc(DISK_BYTES);
	struct vx_vdev vd;
	char line[160];
	int fd;

	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, DISK_BYTES), 0);
	close(fd);
	if (!safe)
		kv[8] = NULL;
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, domid, 1, "blk", kv), 0);
	ck_assert_int_eq(vdev_connect_pool(&vd, g, 1, 2, all_features, 4096), 0);
	snprintf(line, sizeof(line), "d%u virtio/1: blk: %s", domid, path);
	ck_assert(harness_log_wait(&host, line, PATIENCE_MS));
	snprintf(line, sizeof(line), "guest memory bounced (%s)", why);
	ck_assert(harness_log_wait(&host, line, 0));
	random_io(&vd, shadow, 4, domid);
	ck_assert_int_eq(read_file_at(path, 0, file, DISK_BYTES), 0);
	ck_assert(!memcmp(file, shadow, DISK_BYTES));
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert_uint_eq(g->leaked_refs, 0);
	/* Removed, so that the daemon lets the file go. */
	ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, domid, 1, true, 0), 0);
	snprintf(line, sizeof(line), "d%u virtio/1: released", domid);
	ck_assert(harness_log_wait(&host, line, PATIENCE_MS));
	free(shadow);
	free(file);
	guest_destroy(g);
}

/*
 * Over a network the medium must not read or write guest memory itself:
 * the network stack may hold its pages past the request, and past the
 * grant (xl-disk-configuration(5)).  A disk on FUSE (bindfs here; sshfs
 * is FUSE too) and one the toolstack marks direct-io-safe = 0 go through
 * the daemon's own buffers; a local file the toolstack marks safe does not.
 */
START_TEST(disks_over_a_network_never_hand_guest_memory_to_the_medium)
{
	char src[256], dst[256], disk[300], cmd[700], local[256];

	snprintf(src, sizeof(src), "%s/fuse-src", host.dir);
	snprintf(dst, sizeof(dst), "%s/fuse", host.dir);
	ck_assert_int_eq(mkdir(src, 0755), 0);
	ck_assert_int_eq(mkdir(dst, 0755), 0);
	snprintf(cmd, sizeof(cmd), "bindfs '%s' '%s'", src, dst);
	ck_assert_msg(!system(cmd), "bindfs (tools/setup-debian.sh installs it) cannot mount");
	snprintf(disk, sizeof(disk), "%s/disk.img", dst);
	bounced_disk(1, disk, NULL, "fuse");
	snprintf(local, sizeof(local), "%s/unsafe.img", host.dir);
	bounced_disk(2, local, "0", "direct-io-safe = 0");
	snprintf(cmd, sizeof(cmd), "umount '%s'", dst);
	ck_assert(!system(cmd));
}
END_TEST

START_TEST(flush_makes_completed_writes_durable_across_sigkill)
{
	struct vx_guest *g = new_guest(1);
	uint8_t data[8192], got[8192];
	struct vx_vdev vd;
	char disk[256];

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert(vd.driver_features & VX_FEATURE(VIRTIO_BLK_F_FLUSH));
	fill_pattern(data, sizeof(data), 99);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 2048, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0),
			 VIRTIO_BLK_S_OK);
	harness_stop_daemon(&host, SIGKILL);
	ck_assert_int_eq(read_file_at(disk, 2048 * 512, got, sizeof(got)), 0);
	ck_assert(!memcmp(got, data, sizeof(got)));
	vdev_abandon(&vd);
	guest_destroy(g);
}
END_TEST

START_TEST(readonly_disk_offers_ro_and_refuses_writes)
{
	struct vx_guest *g = new_guest(1);
	uint8_t data[4096], got[4096], before[4096];
	struct vx_vdev vd;
	char disk[256];

	attach_disk(g, 1, "r", "1", "copy", disk);
	ck_assert_int_eq(read_file_at(disk, 0, before, sizeof(before)), 0);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert(vd.features & VX_FEATURE(VIRTIO_BLK_F_RO));
	ck_assert(!(vd.features & VX_FEATURE(VIRTIO_BLK_F_DISCARD)));
	fill_pattern(data, sizeof(data), 5);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(got, before, sizeof(got)));
	/* A refused request is not a device error. */
	ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST

START_TEST(features_without_version_1_and_access_platform_are_refused)
{
	struct vx_guest *g = new_guest(1);
	struct vx_vdev vd;
	char disk[256];

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_probe(&vd, g, 1), 0);
	ck_assert(vd.features & VX_FEATURE(VX_F_VERSION_1));
	ck_assert(vd.features & VX_FEATURE(VX_F_ACCESS_PLATFORM));
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features & ~VX_FEATURE(VX_F_ACCESS_PLATFORM)),
			 -EINVAL);
	ck_assert_int_eq(vdev_set_status(&vd, 0), 0);
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features | VX_FEATURE(50)), -EINVAL);
	ck_assert_int_eq(vdev_set_status(&vd, 0), 0);
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features), 0);
	guest_destroy(g);
}
END_TEST

/*
 * The map calls one daemon made (the simulated hypervisor's count, logged
 * when it stops) serving 8 writes and 8 reads of 64 KiB, then as many of
 * 4 KiB, each checked, on disk @devid with grant-access @access (NULL:
 * no key).
 */
static unsigned long long map_calls_serving(uint32_t devid, const char *access)
{
	static uint8_t data[65536], got[65536];
	const char *needle = "sim hypercalls: ";
	unsigned long long notifies, maps = 0;
	const char *kv[] = { "params", NULL, "mode", "w",
			     "grant-access", access, NULL };
	struct vx_guest *g = new_guest(1);
	struct vx_vdev vd;
	char disk[256], line[512], name[32];
	const uint32_t sizes[] = { sizeof(data), 4096 };
	unsigned int i, k;
	bool found = false;
	FILE *f;

	ck_assert_int_eq(harness_start_daemon(&host), 0);
	snprintf(name, sizeof(name), "d1-%u.img", devid);
	make_disk(name, disk);
	kv[1] = disk;
	if (!access)
		kv[4] = NULL;
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, 1, devid, "blk", kv), 0);
	ck_assert_int_eq(vdev_connect(&vd, g, devid, 1, all_features), 0);
	for (k = 0; k < 2; k++) {
		uint32_t len = sizes[k];

		for (i = 0; i < 8; i++) {
			fill_pattern(data, len, len + i);
			ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, i * 128, data, len),
					 VIRTIO_BLK_S_OK);
		}
		for (i = 0; i < 8; i++) {
			fill_pattern(data, len, len + i);
			ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, i * 128, got, len),
					 VIRTIO_BLK_S_OK);
			ck_assert(!memcmp(got, data, len));
		}
	}
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert_uint_eq(g->leaked_refs, 0);
	ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, 1, devid, true, 0), 0);
	snprintf(line, sizeof(line), "d1 virtio/%u: released", devid);
	ck_assert(harness_log_wait(&host, line, PATIENCE_MS));
	guest_destroy(g);
	ck_assert_int_eq(harness_stop_daemon(&host, SIGTERM), 0);
	/* The last daemon's line: the log keeps the earlier ones. */
	f = fopen(host.log, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, needle);

		if (p && sscanf(p + strlen(needle), "%llu notifies, %llu map calls",
				&notifies, &maps) == 2)
			found = true;
	}
	fclose(f);
	ck_assert_msg(found, "the daemon logged no simulated hypercalls");
	return maps;
}

/*
 * protocol.md 4.3: with no grant-access key (auto), a request of 64 KiB
 * is grant-mapped for the medium in one call and a 4 KiB one copied; map
 * maps them all, copy none.  Over the rings' own maps, which copy shows.
 */
START_TEST(auto_access_maps_large_requests_and_copies_small_ones)
{
	unsigned long long copy, automatic, map;

	harness_stop_daemon(&host, SIGTERM);
	copy = map_calls_serving(1, "copy");
	automatic = map_calls_serving(2, NULL);
	map = map_calls_serving(3, "map");
	fprintf(stderr, "map calls: copy %llu, auto %llu, map %llu\n", copy, automatic, map);
	ck_assert_uint_gt(copy, 0);
	ck_assert_uint_eq(automatic - copy, 16);
	ck_assert_uint_eq(map - copy, 32);
	ck_assert_int_eq(harness_start_daemon(&host), 0);
}
END_TEST

/* The daemon's threads named @prefix: io_uring's workers are iou-wrk-PID. */
static int daemon_threads_named(const char *prefix)
{
	char path[300], comm[32];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", host.daemon);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", host.daemon, e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
			n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * A disk on a block device (a loop device here) whose queue takes less
 * than a request: the daemon reads its limits and cuts each 1 MiB request
 * into I/Os it takes whole, so io_uring does them at once and never hands
 * one to a worker thread (the block layer fails a nowait bio it would have
 * to split: the I/O would be done twice).  Every byte lands, mapped for
 * the medium (auto) or through the daemon's buffer (copy).
 */
START_TEST(large_requests_to_a_block_device_are_cut_to_its_limits)
{
	static uint8_t data[1 << 20], got[1 << 20];
	const char *access[] = { NULL, "copy" };
	char img[300], cmd[700], loop[64] = "", line[256], want[96];
	uint32_t kb, segs;
	unsigned int m, i;
	FILE *f;

	snprintf(img, sizeof(img), "%s/loop.img", host.dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 64M '%s' && losetup -f --show '%s'", img, img);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(loop, sizeof(loop), f));
	pclose(f);
	loop[strcspn(loop, "\n")] = 0;
	snprintf(line, sizeof(line), "/sys/block/%s/queue/max_sectors_kb", strrchr(loop, '/') + 1);
	f = fopen(line, "r");
	ck_assert(f && fscanf(f, "%u", &kb) == 1);
	fclose(f);
	snprintf(line, sizeof(line), "/sys/block/%s/queue/max_segments", strrchr(loop, '/') + 1);
	f = fopen(line, "r");
	ck_assert(f && fscanf(f, "%u", &segs) == 1);
	fclose(f);
	/* Else the 1 MiB requests below need no cut and test nothing. */
	ck_assert_uint_lt(segs, sizeof(data) / 4096);

	for (m = 0; m < 2; m++) {
		const char *kv[] = { "params", loop, "mode", "w", "grant-access", access[m], NULL };
		struct vx_guest *g = new_guest(1 + m);
		struct vx_vdev vd;

		if (!access[m])
			kv[4] = NULL;
		ck_assert_int_eq(vx_ts_add_device(g->xs, 0, 1 + m, 1, "blk", kv), 0);
		ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
		snprintf(want, sizeof(want), "I/O of at most %u KiB and %u pages", kb, segs);
		ck_assert_msg(harness_log_wait(&host, want, 0), "no '%s' in the log", want);
		for (i = 0; i < 8; i++) {
			fill_pattern(data, sizeof(data), 100 * m + i);
			ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, i * 2048, data, sizeof(data)),
					 VIRTIO_BLK_S_OK);
		}
		for (i = 0; i < 8; i++) {
			fill_pattern(data, sizeof(data), 100 * m + i);
			ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, i * 2048, got, sizeof(got)),
					 VIRTIO_BLK_S_OK);
			ck_assert_msg(!memcmp(got, data, sizeof(got)), "1 MiB at %u MiB differs", i);
		}
		ck_assert_int_eq(daemon_threads_named("iou-wrk"), 0);
		ck_assert_int_eq(vdev_close(&vd), 0);
		ck_assert_uint_eq(g->leaked_refs, 0);
		ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, 1 + m, 1, true, 0), 0);
		snprintf(line, sizeof(line), "d%u virtio/1: released", 1 + m);
		ck_assert(harness_log_wait(&host, line, PATIENCE_MS));
		guest_destroy(g);
	}
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", loop);
	ck_assert(!system(cmd));
}
END_TEST

START_TEST(reset_releases_every_grant_and_the_device_reconnects)
{
	struct vx_guest *g = new_guest(1);
	uint8_t data[4096], got[4096];
	struct vx_vdev vd;
	char disk[256];

	attach_disk(g, 1, "w", "2", "map", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 2, all_features), 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CONNECTED, PATIENCE_MS));
	fill_pattern(data, sizeof(data), 7);
	ck_assert_int_eq(vblk_do(&vd, 1, VIRTIO_BLK_T_OUT, 8, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	/* After the answer to reset every ring grant can be ended. */
	ck_assert_int_eq(vdev_reset(&vd), 0);
	ck_assert_uint_eq(g->leaked_refs, 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_INITWAIT, PATIENCE_MS));
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&vd, 2, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(&vd), 0);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 8, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(got, data, sizeof(got)));
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert_uint_eq(g->leaked_refs, 0);
	guest_destroy(g);
}
END_TEST

START_TEST(hot_unplug_with_io_in_flight_completes_and_releases_everything)
{
	struct vx_guest *g = new_guest(1);
	struct vblk_io ios[32] = { 0 };
	int fds_before = harness_daemon_fds(&host);
	int threads_before = harness_daemon_threads(&host);
	uint8_t *bufs;
	struct vx_vdev vd;
	char disk[256];
	int i;

	attach_disk(g, 1, "w", "1", "map", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert_int_gt(harness_daemon_threads(&host), threads_before);
	bufs = guest_alloc(g, 32 * 65536);
	for (i = 0; i < 32; i++)
		ck_assert_int_eq(vblk_submit(&vd, 0, &ios[i], VIRTIO_BLK_T_OUT,
					     i * 128, bufs + i * 65536, 65536, false), 0);
	dvq_kick(&vd.vqs[0]);
	/* The toolstack detaches while those are in flight. */
	ck_assert_int_eq(vx_ts_request_removal(g->xs, 0, 1, 1), 0);
	ck_assert_int_eq(vdev_close(&vd), 0);	/* grants end only after the backend let go */
	for (i = 0; i < 32; i++)
		vblk_release(&vd, &ios[i]);
	ck_assert_uint_eq(g->leaked_refs, 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CLOSED, PATIENCE_MS));
	ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, 1, 1, true, 0), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: backend directory removed", PATIENCE_MS));
	ck_assert(harness_log_wait(&host, "d1 virtio/1: released", PATIENCE_MS));
	/* No thread or descriptor of the device is left in the daemon. */
	ck_assert_int_eq(harness_daemon_threads(&host), threads_before);
	ck_assert_int_eq(harness_daemon_fds(&host), fds_before);
	guest_destroy(g);
}
END_TEST

struct guest_job {
	uint32_t domid;
	int errors;
};

static void *guest_worker(void *arg)
{
	struct guest_job *job = arg;
	struct vx_guest *g = guest_create(host.sim_dir, job->domid, 0, 4096);
	struct vx_vdev vd[2] = { 0 };
	uint8_t data[16384], got[16384];
	char disk[256];
	unsigned int d, i;

	if (!g) {
		job->errors++;
		return NULL;
	}
	for (d = 0; d < 2; d++) {
		int err = 0;
		char name[64];
		const char *kv[] = { "params", disk, "queues", "2", NULL };

		snprintf(name, sizeof(name), "g%u-%u.img", job->domid, d);
		snprintf(disk, sizeof(disk), "%s/%s", host.dir, name);
		close(open(disk, O_CREAT | O_RDWR, 0644));
		if (truncate(disk, DISK_BYTES) ||
		    (err = vx_ts_add_device(g->xs, 0, job->domid, d, "blk", kv)) ||
		    (err = vdev_connect(&vd[d], g, d, 2, all_features))) {
			fprintf(stderr, "guest %u: disk %u did not connect: %s\n",
				job->domid, d, strerror(-err));
			job->errors++;
		}
	}
	for (i = 0; i < 64 && !job->errors; i++) {
		d = i % 2;
		fill_pattern(data, sizeof(data), job->domid * 100 + i);
		if (vblk_do(&vd[d], i % 2, VIRTIO_BLK_T_OUT, i * 64, data, sizeof(data)) ||
		    vblk_do(&vd[d], (i + 1) % 2, VIRTIO_BLK_T_IN, i * 64, got, sizeof(got)) ||
		    memcmp(data, got, sizeof(got))) {
			fprintf(stderr, "guest %u: request %u failed\n", job->domid, i);
			job->errors++;
		}
	}
	for (d = 0; d < 2; d++)
		if (vd[d].g && vdev_close(&vd[d]))
			job->errors++;
	guest_destroy(g);
	return NULL;
}

START_TEST(two_guests_with_two_disks_each_at_once)
{
	struct guest_job jobs[2] = { { .domid = 3 }, { .domid = 4 } };
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, guest_worker, &jobs[i]);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(jobs[i].errors, 0);
	}
	ck_assert(harness_log_wait(&host, "d3 virtio/1: connected", 0));
	ck_assert(harness_log_wait(&host, "d4 virtio/0: connected", 0));
}
END_TEST

/* Sums K of the log's "resumed: ... K request(s) in flight taken up". */
static unsigned int log_requests_taken_up(void)
{
	FILE *f = fopen(host.log, "r");
	unsigned int sum = 0, k;
	char line[512], *p;

	while (f && fgets(line, sizeof(line), f))
		if ((p = strstr(line, "resumed: ")) && (p = strchr(p, ',')) &&
		    sscanf(p, ", %u request(s) in flight taken up", &k) == 1)
			sum += k;
	if (f)
		fclose(f);
	return sum;
}

/*
 * protocol.md 2.5: the daemon is killed with requests in flight and started
 * again.  The driver never resets: every request it submitted completes,
 * and every byte written is in the disk.  Kills land at random points, so
 * rounds go on until one caught requests the dead daemon had taken.
 */
static void killed_mid_io(uint32_t pool_pages)
{
	struct vx_guest *g = new_guest(1);
	struct vblk_io ios[64], *done[64];
	unsigned int round, i, completed, before = log_requests_taken_up();
	uint8_t *bufs, got[SLOT];
	struct vx_vdev vd;
	char disk[256];
	int q, waited, pools;

	attach_disk(g, 1, "w", "2", "copy", disk);
	ck_assert_int_eq(vdev_connect_pool(&vd, g, 1, 2, all_features, pool_pages), 0);
	pools = harness_log_count(&host, "d1 virtio/1: pool: ");
	bufs = guest_alloc(g, 64 * SLOT);
	ck_assert_ptr_nonnull(bufs);
	for (round = 0; round < 20; round++) {
		memset(ios, 0, sizeof(ios));
		for (i = 0; i < 64; i++) {
			fill_pattern(bufs + i * SLOT, SLOT, round * 64 + i);
			ck_assert_int_eq(vblk_submit(&vd, i % 2, &ios[i], VIRTIO_BLK_T_OUT,
						     i * (SLOT / 512), bufs + i * SLOT,
						     SLOT, false), 0);
		}
		dvq_kick(&vd.vqs[0]);
		dvq_kick(&vd.vqs[1]);
		harness_stop_daemon(&host, SIGKILL);
		ck_assert_int_eq(harness_start_daemon(&host), 0);

		for (completed = 0, waited = 0; completed < 64; waited += 10) {
			for (q = 0; q < 2; q++)
				completed += vblk_reap(&vd, q, done, 64);
			ck_assert_msg(waited < PATIENCE_MS, "round %u: %u of 64 requests completed",
				      round, completed);
			if (completed < 64)
				usleep(10000);
		}
		for (i = 0; i < 64; i++) {
			ck_assert_uint_eq(ios[i].result, VIRTIO_BLK_S_OK);
			ck_assert_int_eq(vblk_release(&vd, &ios[i]), 0);
			ck_assert_int_eq(read_file_at(disk, i * SLOT, got, SLOT), 0);
			ck_assert_msg(!memcmp(got, bufs + i * SLOT, SLOT),
				      "round %u: request %u's data is not in the disk", round, i);
		}
		ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);
		ck_assert(harness_log_wait(&host, "d1 virtio/1: resumed: 2 queue(s)", 0));
		/* The new daemon maps the pool again, before it serves the rings. */
		ck_assert(!pool_pages ||
			  harness_log_count(&host, "d1 virtio/1: pool: ") == pools + (int)round + 1);
		if (round >= 2 && log_requests_taken_up() > before)
			break;
	}
	ck_assert_msg(log_requests_taken_up() > before,
		      "no kill in %u rounds found a request in flight", round);
	fprintf(stderr, "resume: %u kills mid-I/O, %u requests in flight taken up\n",
		round + 1, log_requests_taken_up() - before);
	/* The device goes on as before. */
	ck_assert_int_eq(vblk_do(&vd, 1, VIRTIO_BLK_T_IN, 0, got, SLOT), 0);
	ck_assert(!memcmp(got, bufs, SLOT));
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}

START_TEST(daemon_killed_mid_io_resumes_and_loses_nothing)
{
	killed_mid_io(0);
}
END_TEST

/* 64 requests of 64 KiB: half in the pool, half by grants. */
START_TEST(daemon_killed_mid_io_through_a_pool_resumes_and_loses_nothing)
{
	killed_mid_io(512);
}
END_TEST

/* The daemon dies; @damage runs before it starts again. */
static void restart_daemon_after(void (*damage)(struct vx_vdev *vd), struct vx_vdev *vd)
{
	harness_stop_daemon(&host, SIGKILL);
	damage(vd);
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	for (int ms = 0; ms < PATIENCE_MS && !(vdev_read_status(vd) & VX_S_NEEDS_RESET); ms++)
		usleep(1000);
	ck_assert(vdev_read_status(vd) & VX_S_NEEDS_RESET);
}

/* What a driver does when its device asks for a reset: reset, set up again. */
static void driver_resets_and_sets_up(struct vx_vdev *vd)
{
	ck_assert_int_eq(vdev_reset(vd), 0);
	ck_assert_int_eq(vdev_negotiate(vd, vd->features), 0);
	ck_assert_int_eq(vdev_setup_queues(vd, 1, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(vd), 0);
}

/* A reboot of dom0 keeps guests only in theory, but /run is a tmpfs. */
static void remove_record(struct vx_vdev *vd)
{
	char record[256];

	snprintf(record, sizeof(record), "%s/state/1.1", host.sim_dir);
	ck_assert_int_eq(unlink(record), 0);
}

/* A guest that moved its ring while no backend looked. */
static void move_ring(struct vx_vdev *vd)
{
	ck_assert_int_eq(vdev_write(vd, "queue-0/desc", "0x%llx",
				    (unsigned long long)vd->vqs[0].desc_dma + 4096), 0);
}

/* Without a record that matches the rings, resuming is refused: reset. */
START_TEST(backend_restart_without_a_matching_record_asks_for_reset)
{
	struct vx_guest *g = new_guest(1);
	uint8_t data[4096], got[4096];
	struct vx_vdev vd;
	char disk[256];

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	fill_pattern(data, sizeof(data), 3);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	restart_daemon_after(move_ring, &vd);
	ck_assert(harness_log_wait(&host, "cannot be resumed: a queue's rings or event channel differ", 0));

	/* The driver recovers with a reset, then the record goes. */
	driver_resets_and_sets_up(&vd);
	restart_daemon_after(remove_record, &vd);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: no record of the device", 0));
	driver_resets_and_sets_up(&vd);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)), 0);
	ck_assert(!memcmp(got, data, sizeof(got)));
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST

/* The guest let go first; a toolstack asking to close then must see Closed. */
START_TEST(destroyed_guest_mid_io_is_released_and_its_directory_removed)
{
	struct vx_guest *g = new_guest(1);
	struct vblk_io ios[32] = { 0 };
	int fds_before = harness_daemon_fds(&host);
	int threads_before = harness_daemon_threads(&host);
	char disk[256], fe[128], be[128];
	unsigned int len;
	uint8_t *bufs;
	struct vx_vdev vd;
	char *left;
	int i;

	attach_disk(g, 1, "w", "2", "map", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 2, all_features), 0);
	bufs = guest_alloc(g, 32 * 65536);
	for (i = 0; i < 32; i++)
		ck_assert_int_eq(vblk_submit(&vd, i % 2, &ios[i], VIRTIO_BLK_T_OUT,
					     i * 128, bufs + i * 65536, 65536, false), 0);
	dvq_kick(&vd.vqs[0]);
	dvq_kick(&vd.vqs[1]);
	/* xl destroy removes /local/domain/<guest>, and nothing of ours. */
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/1"));
	ck_assert(harness_log_wait(&host, "d1 virtio/1: frontend directory removed", PATIENCE_MS));
	ck_assert(harness_log_wait(&host, "d1 virtio/1: released", PATIENCE_MS));
	vx_ts_paths(0, 1, 1, fe, be);
	left = xs_read(g->xs, XBT_NULL, be, &len);
	ck_assert_msg(!left, "the backend directory of a destroyed guest is left");
	/* Nor the guest's directory above it, which held no other device. */
	*strrchr(be, '/') = '\0';
	left = xs_read(g->xs, XBT_NULL, be, &len);
	ck_assert_msg(!left, "%s is left", be);
	ck_assert_int_eq(harness_daemon_threads(&host), threads_before);
	ck_assert_int_eq(harness_daemon_fds(&host), fds_before);
	vdev_abandon(&vd);
	guest_destroy(g);
}
END_TEST

START_TEST(removal_asked_after_the_guest_closed_still_completes)
{
	struct vx_guest *g = new_guest(1);
	struct vx_vdev vd;
	char disk[256], path[160];

	attach_disk(g, 1, "w", "1", "copy", disk);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CLOSED, PATIENCE_MS));
	/* What a toolstack that does not look first writes. */
	snprintf(path, sizeof(path), "%s/online", vd.be);
	ck_assert(xs_write(g->xs, XBT_NULL, path, "0", 1));
	snprintf(path, sizeof(path), "%s/state", vd.be);
	ck_assert(xs_write(g->xs, XBT_NULL, path, "5", 1));
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CLOSED, PATIENCE_MS));
	ck_assert_int_eq(vx_ts_remove_device(g->xs, 0, 1, 1, false, PATIENCE_MS), 0);
	guest_destroy(g);
}
END_TEST

/*
 * What libxl (Xen 4.17, seen on the rig) writes for a guest config's
 * disk = [ "<path>,format=raw,vdev=xvdb,specification=virtio,backendtype=standalone" ];
 * @type is the backend's `type` (libxl's backendtype).
 */
static void xl_add_virtio_disk(struct vx_guest *g, uint32_t devid, const char *path,
			       const char *type)
{
	char fe[128], be[128], id[16], dom[16];
	const char *be_kv[] = {
		"frontend", fe, "params", path, "frontend-id", dom, "online", "1",
		"removable", "1", "bootable", "1", "dev", "xvdb", "type", type,
		"mode", "w", "device-type", "disk", "discard-enable", "1",
		"specification", "virtio", "transport", "mmio", "base", "0",
		"irq", "0", "state", "1", NULL
	};
	const char *fe_kv[] = {
		"backend", be, "backend-id", "0", "virtual-device", id,
		"device-type", "disk", "trusted", "1", "protocol", "x86_64-abi",
		"state", "1", NULL
	};

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio_disk/%u", g->domid, devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio_disk/%u/%u", g->domid, devid);
	snprintf(id, sizeof(id), "%u", devid);
	snprintf(dom, sizeof(dom), "%u", g->domid);
	libxl_write_pair(g->xs, g->domid, fe, be, fe_kv, be_kv);
}

/* xl block-detach: libxl's graceful removal. */
static void xl_remove_virtio_disk(struct vx_guest *g, uint32_t devid)
{
	char be[128];

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio_disk/%u/%u", g->domid, devid);
	libxl_remove_pair(g->xs, be, NULL);
}

/* The guest's destruction: libxl's forced removal, the frontend goes too. */
static void xl_destroy_virtio_disk(struct vx_guest *g, uint32_t devid)
{
	char be[128], fe[128];

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio_disk/%u/%u", g->domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio_disk/%u", g->domid, devid);
	libxl_remove_pair(g->xs, be, fe);
}

/*
 * Xen's own virtio disk syntax, as plain xl create writes it: served as
 * virtio-blk, with every byte in the file, through a daemon restart; xl's
 * detach closes and releases it; a backendtype we are not is refused.
 */
START_TEST(xl_specification_virtio_disk_is_served)
{
	struct vx_guest *g = new_guest(1);
	uint8_t *shadow = calloc(1, DISK_BYTES), *file = malloc(DISK_BYTES), got[SLOT];
	struct vx_vdev vd;
	char disk[256], path[192], out[4096], *s;
	int released;

	make_disk("xl-virtio.img", disk);
	xl_add_virtio_disk(g, 51728, disk, "standalone");
	/* libxl waits for InitWait before it unpauses the guest. */
	ck_assert_int_eq(vdev_probe_kind(&vd, g, VX_KIND_XL_DISK, 51728), 0);
	ck_assert_uint_eq(vd.device_id, 2);
	ck_assert_int_eq(vdev_connect_probed(&vd, 1, all_features, 0), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio_disk/51728: blk device ready", 0));
	random_io(&vd, shadow, 4, 7);
	/* The administrator sees it beside ours, with its counters. */
	ck_assert_int_eq(tool(out, sizeof(out), "list"), 0);
	ck_assert_msg(strstr(out, "51728  blk   xvdb") && strstr(out, "connected     connected") &&
		      strstr(out, "(xl's virtio disk)") && strstr(out, "queue 0: "),
		      "list: %s", out);
	ck_assert_int_eq(read_file_at(disk, 0, file, DISK_BYTES), 0);
	ck_assert(!memcmp(file, shadow, DISK_BYTES));

	/* A restarted daemon takes it up again from its record: no reset. */
	harness_stop_daemon(&host, SIGKILL);
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	ck_assert(harness_log_wait(&host, "d1 virtio_disk/51728: resumed", PATIENCE_MS));
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, SLOT), VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(got, shadow, SLOT));
	ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);

	/* Another backendtype in the same directory is not ours to serve. */
	xl_add_virtio_disk(g, 51744, disk, "qemu");
	snprintf(path, sizeof(path), "/local/domain/0/backend/virtio_disk/1/51744/error");
	for (int ms = 0; ms < PATIENCE_MS && !(s = xs_read(g->xs, XBT_NULL, path, NULL)); ms++)
		usleep(1000);
	ck_assert_str_eq(s, "type (the disk's backendtype) must be standalone");
	free(s);
	s = xs_read(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51744/state", NULL);
	ck_assert_str_eq(s, "5");
	free(s);
	/* libxl's destroy waits for Closed: a refused disk holds nothing, says so. */
	xl_destroy_virtio_disk(g, 51744);
	ck_assert_msg(xs_wait_value(g->xs, "/local/domain/0/backend/virtio_disk/1/51744/state", "6"),
		      "a refused disk did not close at libxl's destroy");
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51744"));

	/* xl block-detach: Closing and offline; the driver lets go; Closed. */
	xl_remove_virtio_disk(g, 51728);
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert(vdev_wait_backend_state(&vd, VX_STATE_CLOSED, PATIENCE_MS));
	ck_assert_uint_eq(g->leaked_refs, 0);
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51728"));
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/1/device/virtio_disk/51728"));
	ck_assert(harness_log_wait(&host, "d1 virtio_disk/51728: released", PATIENCE_MS));

	/*
	 * The guest's destruction (xl destroy, and the end of a save): libxl
	 * removes the frontend and asks for removal in one transaction, waits
	 * for Closed, then removes the backend directory itself.
	 */
	xl_add_virtio_disk(g, 51728, disk, "standalone");
	ck_assert_int_eq(vdev_probe_kind(&vd, g, VX_KIND_XL_DISK, 51728), 0);
	ck_assert_int_eq(vdev_connect_probed(&vd, 1, all_features, 0), 0);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, SLOT), VIRTIO_BLK_S_OK);
	vdev_abandon(&vd);
	released = harness_log_count(&host, "d1 virtio_disk/51728: released");
	xl_destroy_virtio_disk(g, 51728);
	for (int ms = 0; ms < PATIENCE_MS &&
	     harness_log_count(&host, "d1 virtio_disk/51728: released") == released; ms += 10)
		usleep(10000);
	ck_assert_int_eq(harness_log_count(&host, "d1 virtio_disk/51728: released"), released + 1);
	s = xs_read(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51728/state", NULL);
	ck_assert_msg(s && !strcmp(s, "6"), "the backend directory says %s, not Closed", s ?: "nothing");
	free(s);
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51728"));

	/* The same while the daemon is down: the next one says Closed. */
	xl_add_virtio_disk(g, 51728, disk, "standalone");
	ck_assert_int_eq(vdev_probe_kind(&vd, g, VX_KIND_XL_DISK, 51728), 0);
	ck_assert_int_eq(vdev_connect_probed(&vd, 1, all_features, 0), 0);
	vdev_abandon(&vd);
	harness_stop_daemon(&host, SIGKILL);
	xl_destroy_virtio_disk(g, 51728);
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	ck_assert_msg(xs_wait_value(g->xs, "/local/domain/0/backend/virtio_disk/1/51728/state", "6"),
		      "a restarted daemon did not close the destroyed guest's disk");
	ck_assert(xs_rm(g->xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51728"));
	free(shadow);
	free(file);
	guest_destroy(g);
}
END_TEST

START_TEST(get_id_discard_and_write_zeroes)
{
	struct vx_guest *g = new_guest(1);
	struct virtio_blk_discard_write_zeroes range = { 0 };
	uint8_t data[65536], got[65536], zero[65536] = { 0 }, id[20];
	const char *kv[] = { "params", NULL, "serial", "disk-serial-1", NULL };
	struct vx_vdev vd;
	char disk[256];

	make_disk("id.img", disk);
	kv[1] = disk;
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, 1, 1, "blk", kv), 0);
	ck_assert_int_eq(vdev_connect(&vd, g, 1, 1, all_features), 0);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id)), 0);
	ck_assert(!memcmp(id, "disk-serial-1", 14));

	fill_pattern(data, sizeof(data), 11);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_OUT, 256, data, sizeof(data)), 0);
	range.sector = htole64(0);
	range.num_sectors = htole32(128);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_DISCARD, 0, &range, sizeof(range)), 0);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)), 0);
	ck_assert(!memcmp(got, zero, sizeof(got)));	/* punched: reads zeroes */
	range.sector = htole64(256);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &range, sizeof(range)), 0);
	ck_assert_int_eq(read_file_at(disk, 256 * 512, got, sizeof(got)), 0);
	ck_assert(!memcmp(got, zero, sizeof(got)));
	/* A range past the end is an I/O error of that request only. */
	range.sector = htole64(DISK_BYTES / 512 - 8);
	range.num_sectors = htole32(16);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &range, sizeof(range)),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vblk_do(&vd, 0, VIRTIO_BLK_T_IN, DISK_BYTES / 512 - 8, got, 8192),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vblk_do(&vd, 0, 99, 0, NULL, 0), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
	guest_destroy(g);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		data_integrity_with_grant_copy,
		data_integrity_with_grant_map,
		auto_access_maps_large_requests_and_copies_small_ones,
		large_requests_to_a_block_device_are_cut_to_its_limits,
		data_integrity_through_a_grant_pool,
		data_integrity_through_a_full_grant_pool_with_map,
		data_integrity_with_polling_queues,
		disks_over_a_network_never_hand_guest_memory_to_the_medium,
		flush_makes_completed_writes_durable_across_sigkill,
		readonly_disk_offers_ro_and_refuses_writes,
		features_without_version_1_and_access_platform_are_refused,
		reset_releases_every_grant_and_the_device_reconnects,
		hot_unplug_with_io_in_flight_completes_and_releases_everything,
		removal_asked_after_the_guest_closed_still_completes,
		destroyed_guest_mid_io_is_released_and_its_directory_removed,
		two_guests_with_two_disks_each_at_once,
		daemon_killed_mid_io_resumes_and_loses_nothing,
		daemon_killed_mid_io_through_a_pool_resumes_and_loses_nothing,
		backend_restart_without_a_matching_record_asks_for_reset,
		get_id_discard_and_write_zeroes,
		xl_specification_virtio_disk_is_served,
	};

	return run_suite("blk", tests, sizeof(tests) / sizeof(tests[0]));
}
