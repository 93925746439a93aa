// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo: with no Xen on the machine, start the simulated hypervisor,
 * xenstored and virtio-xenbusd, attach a disk image to a simulated guest,
 * and have the guest write, read back and verify, flush and discard.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "toolstack.h"
#include "vblk.h"

#define GUEST		1
#define DISK_MB		64
#define IO_SIZE		65536
#define IN_FLIGHT	32
#define TOTAL_IOS	2048

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(uint8_t *p, size_t len, uint64_t sector)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(sector * 31 + i * 7 + (i >> 9));
}

/* Sleeps until any queue has an interrupt (or used buffers already). */
static void wait_any(struct vx_vdev *vd, unsigned int nq)
{
	struct pollfd fds[VX_MAX_QUEUES];
	unsigned int q;

	for (q = 0; q < nq; q++) {
		if (dvq_enable_cb(&vd->vqs[q]))
			return;
		fds[q] = (struct pollfd){ .fd = sim_evtchn_fd(vd->vqs[q].port),
					  .events = POLLIN };
	}
	if (poll(fds, nq, 1000) > 0)
		for (q = 0; q < nq; q++)
			if (fds[q].revents)
				sim_evtchn_consume(vd->vqs[q].port);
}

/* Writes (or reads and checks) TOTAL_IOS requests, IN_FLIGHT at a time. */
static int run(struct vx_vdev *vd, unsigned int nq, uint32_t type, double *secs)
{
	struct vblk_io ios[IN_FLIGHT * 4] = { 0 }, *done[IN_FLIGHT];
	uint64_t slots = vblk_capacity(vd) / (IO_SIZE / 512);
	int submitted = 0, completed = 0, bad = 0, i;
	double t0 = now();

	for (i = 0; i < IN_FLIGHT * (int)nq && i < TOTAL_IOS; i++) {
		struct vblk_io *io = &ios[i];
		uint64_t sector = (uint64_t)(submitted % slots) * (IO_SIZE / 512);

		io->data = guest_alloc(vd->g, IO_SIZE);
		io->priv = (void *)(uintptr_t)sector;
		if (type == VIRTIO_BLK_T_OUT)
			fill(io->data, IO_SIZE, sector);
		vblk_submit(vd, i % nq, io, type, sector, io->data, IO_SIZE, false);
		submitted++;
	}
	for (i = 0; i < (int)nq; i++)
		dvq_kick(&vd->vqs[i]);
	while (completed < TOTAL_IOS) {
		bool any = false;
		unsigned int q;

		for (q = 0; q < nq; q++) {
			int n = vblk_reap(vd, q, done, IN_FLIGHT), k;

			for (k = 0; k < n; k++) {
				struct vblk_io *io = done[k];
				uint64_t sector = (uintptr_t)io->priv;

				any = true;
				completed++;
				if (vblk_release(vd, io) || io->result != VIRTIO_BLK_S_OK)
					bad++;
				if (type == VIRTIO_BLK_T_IN) {
					uint8_t want[IO_SIZE];

					fill(want, IO_SIZE, sector);
					bad += memcmp(want, io->data, IO_SIZE) != 0;
				}
				if (submitted < TOTAL_IOS) {
					sector = (uint64_t)(submitted % slots) * (IO_SIZE / 512);
					io->priv = (void *)(uintptr_t)sector;
					if (type == VIRTIO_BLK_T_OUT)
						fill(io->data, IO_SIZE, sector);
					vblk_submit(vd, q, io, type, sector, io->data,
						    IO_SIZE, false);
					submitted++;
				}
			}
			if (n)
				dvq_kick(&vd->vqs[q]);
		}
		if (!any)
			wait_any(vd, nq);
	}
	*secs = now() - t0;
	for (i = 0; i < IN_FLIGHT * (int)nq && i < TOTAL_IOS; i++) {
		guest_free(vd->g, ios[i].data, IO_SIZE);
		guest_free(vd->g, ios[i].hdr, 4096);
	}
	return bad;
}

int main(void)
{
	struct harness h;
	struct vx_guest *g;
	struct vx_vdev vd;
	char disk[256];
	double secs;
	uint8_t id[20] = { 0 };
	struct virtio_blk_discard_write_zeroes range;
	int fd, bad, ret = 1;
	const unsigned int nq = 2;

	if (harness_start(&h))
		return 1;
	printf("simulated host in %s: xenstored (Debian's, no hypervisor) and virtio-xenbusd running\n",
	       h.dir);
	snprintf(disk, sizeof(disk), "%s/disk.img", h.dir);
	fd = open(disk, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || ftruncate(fd, DISK_MB << 20))
		goto out;
	close(fd);

	g = guest_create(h.sim_dir, GUEST, 0, 16384);
	if (!g)
		goto out;
	{
		const char *kv[] = { "params", disk, "mode", "w", "queues", "2",
				     "serial", "vx-demo-disk", NULL };

		if (vx_ts_add_device(g->xs, 0, GUEST, 51712, "blk", kv))
			goto out;
	}
	if (vdev_connect(&vd, g, 51712, nq, ~0ULL)) {
		fprintf(stderr, "demo: the device did not connect (see %s)\n", h.log);
		goto out;
	}
	printf("guest %d: virtio-blk device connected: %llu sectors, %u queues, features %#llx\n",
	       GUEST, (unsigned long long)vblk_capacity(&vd), vd.nr_queues,
	       (unsigned long long)vd.driver_features);

	bad = run(&vd, nq, VIRTIO_BLK_T_OUT, &secs);
	printf("wrote  %d x %d KiB, %d in flight per queue: %.0f IOPS, %.1f MiB/s, %d errors\n",
	       TOTAL_IOS, IO_SIZE / 1024, IN_FLIGHT, TOTAL_IOS / secs,
	       TOTAL_IOS * (IO_SIZE / 1048576.0) / secs, bad);
	if (bad)
		goto out;
	printf("flush: status %d\n", vblk_do(&vd, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0));
	bad = run(&vd, nq, VIRTIO_BLK_T_IN, &secs);
	printf("read and verified %d x %d KiB: %.0f IOPS, %.1f MiB/s, %d mismatches\n",
	       TOTAL_IOS, IO_SIZE / 1024, TOTAL_IOS / secs,
	       TOTAL_IOS * (IO_SIZE / 1048576.0) / secs, bad);
	if (bad)
		goto out;
	range.sector = htole64(0);
	range.num_sectors = htole32(8192);
	range.flags = 0;
	printf("discard of the first 4 MiB: status %d\n",
	       vblk_do(&vd, 1, VIRTIO_BLK_T_DISCARD, 0, &range, sizeof(range)));
	vblk_do(&vd, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id));
	printf("serial: %.20s\n", (char *)id);
	if (vdev_close(&vd) || vx_ts_remove_device(g->xs, 0, GUEST, 51712, false, 5000)) {
		fprintf(stderr, "demo: detach failed\n");
		goto out;
	}
	printf("detached: guest grants all released (%u leaked)\n", g->leaked_refs);
	ret = g->leaked_refs ? 1 : 0;
	guest_destroy(g);
out:
	harness_stop(&h);
	printf(ret ? "demo FAILED\n" : "demo passed\n");
	return ret;
}
