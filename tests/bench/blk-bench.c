// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-blk through the simulated path against fio on the same file, in
 * the same run: 4 KiB random reads and writes, 32 requests in flight, one,
 * two and four queues, grant copy, grant map and the grant pool
 * (protocol.md 4.4), on tmpfs (faster than the path), then one line on a
 * disk file.  Prints IOPS, the ratio to fio, the simulated hypercalls each
 * request cost on both sides, and the daemon's resident memory.
 *
 * The guest runs one thread a queue, as blk-mq does with a CPU a queue, and
 * keeps 32 / queues requests in flight on each; fio gets the same total
 * depth with the same number of jobs.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "toolstack.h"
#include "vblk.h"

#define GUEST		1
#define DISK_MB		256
#define IN_FLIGHT	32
#define SECONDS		5.0
#define IO_SIZE		4096
#define MAX_QUEUES	4
#define POOL_PAGES	1024	/* 4 MiB: room for every request in flight */

struct queue_job {
	struct vx_vdev *vd;
	uint32_t type;
	unsigned int q, depth;
	double stop_at;
	unsigned int seed;
	uint64_t done, bad;
};

struct result {
	double iops;
	double kicks, irqs, copies, maps;	/* per request */
	double syscalls;			/* per request; negative: not counted */
	double rss_mib;				/* the daemon's, at the end of the run */
	int errors;
};

/* An access mode of the table: the device's grant-access, a pool, the daemon's option. */
struct mode {
	const char *name, *access;
	uint32_t pool_pages;
	const char *daemon_opt;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t random_sector(unsigned int *seed, uint64_t capacity)
{
	uint64_t blocks = capacity / (IO_SIZE / 512);

	return ((uint64_t)rand_r(seed) * RAND_MAX + rand_r(seed)) % blocks *
	       (IO_SIZE / 512);
}

static void submit(struct queue_job *j, struct vblk_io *io)
{
	uint64_t sector = random_sector(&j->seed, vblk_capacity(j->vd));

	if (vblk_submit(j->vd, j->q, io, j->type, sector, io->data,
			IO_SIZE, false))
		j->bad++;
}

static void *queue_worker(void *arg)
{
	struct queue_job *j = arg;
	struct vx_vdev *vd = j->vd;
	struct vblk_io *ios = calloc(j->depth, sizeof(*ios)), *done[IN_FLIGHT];
	unsigned int i, outstanding = j->depth;
	bool running = true;

	if (!ios) {
		j->bad++;
		return NULL;
	}
	for (i = 0; i < j->depth; i++) {
		ios[i].data = guest_alloc(vd->g, IO_SIZE);
		submit(j, &ios[i]);
	}
	dvq_kick(&vd->vqs[j->q]);
	while (outstanding) {
		int n = vblk_reap(vd, j->q, done, IN_FLIGHT), k;

		running = running && now() < j->stop_at;
		for (k = 0; k < n; k++) {
			if (vblk_release(vd, done[k]) || done[k]->result != VIRTIO_BLK_S_OK)
				j->bad++;
			j->done++;
			if (running)
				submit(j, done[k]);
			else
				outstanding--;
		}
		if (n && running) {
			dvq_kick(&vd->vqs[j->q]);
		} else if (!n && !dvq_enable_cb(&vd->vqs[j->q])) {
			dvq_wait(&vd->vqs[j->q], PATIENCE_MS);
		}
	}
	for (i = 0; i < j->depth; i++) {
		guest_free(vd->g, ios[i].data, IO_SIZE);
		guest_free(vd->g, ios[i].hdr, VX_PAGE_SIZE);
	}
	free(ios);
	return NULL;
}

/* The daemon's own count, which it logs when it stops. */
static void daemon_hypercalls(struct harness *h, double per_req, struct result *r)
{
	unsigned long long notifies = 0, maps = 0, copies = 0, segs = 0;
	char line[512];
	FILE *f = fopen(h->log, "r");
	const char *p;

	while (f && fgets(line, sizeof(line), f)) {
		p = strstr(line, "sim hypercalls: ");
		if (p)
			sscanf(p, "sim hypercalls: %llu notifies, %llu map calls, %llu copy calls, %llu copy segments",
			       &notifies, &maps, &copies, &segs);
	}
	if (f)
		fclose(f);
	r->irqs = notifies * per_req;
	r->maps = maps * per_req;
	r->copies = copies * per_req;
}

/*
 * The daemon's system calls while the run lasts, counted by perf stat on
 * the raw_syscalls tracepoint (a count, not a trace: it does not slow the
 * daemon as strace would).  The queue threads exist by then: perf counts
 * the threads there when it attaches.
 */
static pid_t syscalls_start(pid_t daemon, const char *out)
{
	char pid[16];
	pid_t p;

	snprintf(pid, sizeof(pid), "%d", (int)daemon);
	p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execlp("perf", "perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter",
		       "-p", pid, "-o", out, (char *)NULL);
		_exit(127);
	}
	usleep(300 * 1000);	/* until perf has attached */
	return p;
}

static double syscalls_stop(pid_t p, const char *out)
{
	double n = -1;
	char line[256];
	int status;
	FILE *f;

	if (p <= 0)
		return -1;
	/* perf prints its count at SIGINT and exits with 130. */
	kill(p, SIGINT);
	if (waitpid(p, &status, 0) != p || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
		return -1;
	f = fopen(out, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "raw_syscalls:sys_enter") && line[0] >= '0' && line[0] <= '9')
			n = strtod(line, NULL);
	if (f)
		fclose(f);
	unlink(out);
	return n;
}

static int run_ours(const char *disk, const struct mode *m, uint32_t type,
		    unsigned int nq, struct result *r)
{
	char queues[4];
	const char *kv[] = { "params", disk, "mode", "w", "queues", queues,
			     "grant-access", m->access, NULL };
	struct queue_job jobs[MAX_QUEUES] = { 0 };
	pthread_t threads[MAX_QUEUES];
	struct sim_stats before;
	struct harness h;
	struct vx_guest *g;
	struct vx_vdev vd;
	uint64_t total = 0;
	double t0, secs, calls;
	long kib;
	char perf_out[64];
	unsigned int q;
	pid_t perf;

	memset(r, 0, sizeof(*r));
	snprintf(queues, sizeof(queues), "%u", nq);
	if (harness_start_opt(&h, m->daemon_opt))
		return -1;
	g = guest_create(h.sim_dir, GUEST, 0, 4096 + POOL_PAGES);
	if (!g || vx_ts_add_device(g->xs, 0, GUEST, 1, "blk", kv) ||
	    vdev_connect_pool(&vd, g, 1, nq, ~0ULL, m->pool_pages)) {
		fprintf(stderr, "bench: the disk did not connect (see %s)\n", h.log);
		harness_stop(&h);
		return -1;
	}
	snprintf(perf_out, sizeof(perf_out), "/tmp/vx-bench-perf.%d", (int)getpid());
	perf = syscalls_start(h.daemon, perf_out);
	before = sim_stats;
	t0 = now();
	for (q = 0; q < nq; q++) {
		jobs[q] = (struct queue_job){ .vd = &vd, .type = type, .q = q,
					      .depth = IN_FLIGHT / nq,
					      .stop_at = t0 + SECONDS, .seed = 7 + q };
		pthread_create(&threads[q], NULL, queue_worker, &jobs[q]);
	}
	for (q = 0; q < nq; q++) {
		pthread_join(threads[q], NULL);
		total += jobs[q].done;
		r->errors += jobs[q].bad;
	}
	secs = now() - t0;
	calls = syscalls_stop(perf, perf_out);
	r->syscalls = calls < 0 ? -1 : calls / total;
	r->iops = total / secs;
	kib = harness_daemon_status_kb(&h, "VmRSS:");
	r->rss_mib = kib > 0 ? kib / 1024.0 : 0;
	r->kicks = (double)(sim_stats.notifies - before.notifies) / total;
	if (vdev_close(&vd))
		r->errors++;
	guest_destroy(g);
	harness_stop_daemon(&h, SIGTERM);
	daemon_hypercalls(&h, 1.0 / total, r);
	harness_stop(&h);
	return r->errors ? -1 : 0;
}

/* ---- a noisy neighbour: another guest that kicks in a loop or keeps its queues full ---- */

enum noise { NOISE_NONE, NOISE_KICKS, NOISE_FULL };

struct noisy {
	struct vx_vdev *vd;
	enum noise noise;
	volatile bool stop;
	uint64_t kicks, writes;
	double daemon_cpu;		/* the daemon's CPU seconds a second, during the run */
};

/* Kicks with nothing new in the ring, or 1 MiB writes, as fast as it can. */
static void *noisy_worker(void *arg)
{
	struct noisy *n = arg;
	struct vx_vdev *vd = n->vd;
	struct vblk_io ios[8] = { 0 }, *done[8];
	unsigned int q, i;
	void *buf = guest_alloc(vd->g, 1 << 20);

	if (n->noise == NOISE_KICKS) {
		while (!n->stop) {
			for (q = 0; q < vd->nr_queues; q++)
				sim_evtchn_notify(vd->vqs[q].port);
			n->kicks += vd->nr_queues;
		}
		return NULL;
	}
	/* Each queue kept full: 8 MiB of writes, the queue's budget. */
	for (q = 0; q < vd->nr_queues; q++) {
		for (i = 0; i < 8; i++)
			vblk_submit(vd, q, &ios[i], VIRTIO_BLK_T_OUT, i * 2048, buf, 1 << 20, true);
		dvq_kick(&vd->vqs[q]);
		break;	/* one queue: its budget is what a guest holds per queue */
	}
	while (!n->stop) {
		int k, got = vblk_reap(vd, 0, done, 8);

		for (k = 0; k < got; k++) {
			vblk_release(vd, done[k]);
			n->writes++;
			vblk_submit(vd, 0, done[k], VIRTIO_BLK_T_OUT, (n->writes % 8) * 2048, buf,
				    1 << 20, true);
		}
		if (got)
			dvq_kick(&vd->vqs[0]);
		else if (!dvq_enable_cb(&vd->vqs[0]))
			dvq_wait(&vd->vqs[0], 100);
	}
	return NULL;
}

/* The bystander's IOPS (copy, one queue) beside @noise from guest 2's disk. */
static int run_beside(const char *disk, const char *noisy_disk, enum noise noise,
		      double *iops, struct noisy *n)
{
	const char *kv[] = { "params", disk, "mode", "w", "queues", "1", "grant-access", "copy",
			     NULL };
	const char *kv2[] = { "params", noisy_disk, "mode", "w", "queues", "4",
			      "grant-access", "copy", NULL };
	struct queue_job job = { 0 };
	struct vx_guest *g, *g2;
	struct vx_vdev vd, vd2;
	pthread_t t, tn;
	struct harness h;
	double t0, cpu0;
	int ret = 0;

	if (harness_start(&h))
		return -1;
	g = guest_create(h.sim_dir, GUEST, 0, 4096);
	g2 = guest_create(h.sim_dir, GUEST + 1, 0, 8192);
	if (!g || !g2 || vx_ts_add_device(g->xs, 0, GUEST, 1, "blk", kv) ||
	    vx_ts_add_device(g2->xs, 0, GUEST + 1, 1, "blk", kv2) ||
	    vdev_connect(&vd, g, 1, 1, ~0ULL) || vdev_connect(&vd2, g2, 1, 4, ~0ULL)) {
		fprintf(stderr, "bench: the disks did not connect (see %s)\n", h.log);
		harness_stop(&h);
		return -1;
	}
	*n = (struct noisy){ .vd = &vd2, .noise = noise };
	if (noise != NOISE_NONE)
		pthread_create(&tn, NULL, noisy_worker, n);
	t0 = now();
	cpu0 = harness_daemon_cpu_s(&h);
	job = (struct queue_job){ .vd = &vd, .type = VIRTIO_BLK_T_IN, .q = 0, .depth = IN_FLIGHT,
				  .stop_at = t0 + SECONDS, .seed = 11 };
	pthread_create(&t, NULL, queue_worker, &job);
	pthread_join(t, NULL);
	*iops = job.done / (now() - t0);
	n->daemon_cpu = (harness_daemon_cpu_s(&h) - cpu0) / (now() - t0);
	n->stop = true;
	if (noise != NOISE_NONE)
		pthread_join(tn, NULL);
	if (job.bad || vdev_close(&vd))
		ret = -1;
	vdev_abandon(&vd2);
	guest_destroy(g);
	guest_destroy(g2);
	harness_stop_daemon(&h, SIGTERM);
	harness_stop(&h);
	return ret;
}

/* fio's IOPS from its terse (v3) line: field 8 for reads, 49 for writes. */
static double run_fio(const char *disk, uint32_t type, unsigned int nq, bool direct)
{
	bool write = type == VIRTIO_BLK_T_OUT;
	char cmd[1024], line[8192];
	double iops = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "%s --name=bench --filename=%s --rw=%s --bs=%u --ioengine=io_uring --direct=%d --iodepth=%u --numjobs=%u --group_reporting --time_based --runtime=%d --minimal",
		 FIO_BIN, disk, write ? "randwrite" : "randread", IO_SIZE, direct, IN_FLIGHT / nq, nq, (int)SECONDS);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *field = line, *save = NULL;
		int i;

		for (i = 1; (field = strtok_r(i == 1 ? line : NULL, ";", &save)); i++)
			if (i == (write ? 49 : 8)) {
				iops = atof(field);
				break;
			}
	}
	if (f && pclose(f))
		iops = -1;
	return iops;
}

/* A disk file of real data, so that reads are served from blocks, not holes. */
static int make_disk(const char *path)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	unsigned int i, seed = 1;

	if (fd < 0)
		return -1;
	for (i = 0; i < DISK_MB; i++) {
		for (size_t k = 0; k < sizeof(buf); k += 4)
			*(uint32_t *)&buf[k] = rand_r(&seed);
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			break;
	}
	fsync(fd);
	close(fd);
	return i == DISK_MB ? 0 : -1;
}

/*
 * One table: each queue count and mode against fio on @disk, with O_DIRECT
 * on both sides.  Only @all (else copy reads, one queue).
 */
static int table(const char *disk, const char *medium, uint32_t type, bool all)
{
	static const struct mode modes[] = {
		{ "copy", "copy", 0, NULL },
		{ "map", "map", 0, NULL },
		{ "pool", "copy", POOL_PAGES, NULL },
		{ "pool+poll", "copy", POOL_PAGES, "--poll-us=50" },
	};
	const unsigned int nmodes = sizeof(modes) / sizeof(modes[0]);
	unsigned int nq, a;
	struct result r;
	int ret = 0;

	printf("4 KiB random %s, %u in flight, %.0f s a run, %u MiB file on %s, O_DIRECT on both sides\n",
	       type == VIRTIO_BLK_T_OUT ? "writes" : "reads", IN_FLIGHT, SECONDS, DISK_MB, medium);
	printf("%-18s %10s %10s %7s %10s %10s %12s %11s %12s %9s\n", "", "IOPS", "fio IOPS",
	       "ratio", "kicks/req", "irqs/req", "copy ops/req", "map ops/req",
	       "syscalls/req", "RSS MiB");
	for (nq = 1; nq <= (all ? MAX_QUEUES : 1); nq *= 2) {
		double fio = run_fio(disk, type, nq, true);

		for (a = 0; a < (all ? nmodes : 1); a++) {
			char name[40];

			snprintf(name, sizeof(name), "%s, %u queue%s", modes[a].name, nq,
				 nq > 1 ? "s" : "");
			if (run_ours(disk, &modes[a], type, nq, &r)) {
				printf("%-18s failed (%d request errors)\n", name, r.errors);
				ret = 1;
				continue;
			}
			printf("%-18s %10.0f %10.0f %7.2f %10.3f %10.3f %12.3f %11.3f ",
			       name, r.iops, fio, fio > 0 ? r.iops / fio : 0, r.kicks,
			       r.irqs, r.copies, r.maps);
			if (r.syscalls < 0)
				printf("%12s", "no perf");
			else
				printf("%12.2f", r.syscalls);
			printf(" %9.1f\n", r.rss_mib);
		}
	}
	return ret;
}

int main(void)
{
	char dir[] = "/var/tmp/vx-bench.XXXXXX", fast[] = "/dev/shm/vx-bench.XXXXXX";
	char disk[64], fast_disk[64], cmd[100];
	int ret = 0;

	/*
	 * The path is measured on tmpfs, which is faster than it (O_DIRECT
	 * works there since Linux 6.6); on this machine's disk, the disk is
	 * what both sides wait for, and the ratio says little of the path.
	 */
	if (!mkdtemp(dir) || !mkdtemp(fast))
		return 1;
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	snprintf(fast_disk, sizeof(fast_disk), "%s/disk.img", fast);
	if (make_disk(fast_disk) || make_disk(disk)) {
		fprintf(stderr, "bench: cannot write the disk files\n");
		return 1;
	}
	ret |= table(fast_disk, "tmpfs (the path's figure)", VIRTIO_BLK_T_IN, true);
	printf("\n");
	ret |= table(fast_disk, "tmpfs (the path's figure)", VIRTIO_BLK_T_OUT, true);
	printf("\n");
	ret |= table(disk, "/var/tmp's disk (the disk's figure, not the path's)",
		     VIRTIO_BLK_T_IN, false);
	printf("kicks: guest to backend notifications; irqs: backend to guest (as the daemon counted them).\n"
	       "copy ops: batched grant-copy calls; map ops: grant-map calls (rings and pool included).\n"
	       "syscalls: the daemon's system calls during the run (perf stat, raw_syscalls:sys_enter),\n"
	       "  all its threads; simulated grant copies are function calls (on Xen, an ioctl each),\n"
	       "  grant maps an mmap, event channels a read or write, as on Xen.\n"
	       "pool: a %u-page grant pool (protocol.md 4.4), the guest bouncing through it.\n",
	       POOL_PAGES);

	{
		static const char *const names[] = { "alone", "beside a kick storm",
						      "beside full queues" };
		char shm[] = "/dev/shm/vx-bench.XXXXXX", quiet_disk[80], noisy_disk[80];
		double alone = 0, iops;
		struct noisy n;
		enum noise m;

		/* On tmpfs: what slows guest 1 is the path, not a shared disk. */
		if (!mkdtemp(shm))
			return 1;
		snprintf(quiet_disk, sizeof(quiet_disk), "%s/quiet.img", shm);
		snprintf(noisy_disk, sizeof(noisy_disk), "%s/noisy.img", shm);
		if (make_disk(quiet_disk) || make_disk(noisy_disk))
			return 1;
		printf("\nA noisy neighbour: guest 1's disk (4 KiB random reads, %u in flight, copy, 1 queue)\n"
		       "while guest 2's disk (4 queues) is kicked in a loop with nothing new, or kept full of\n"
		       "1 MiB writes; both %u MiB files on tmpfs. The test guests are\n"
		       "threads of this process, so the neighbour's own loop takes a CPU too\n",
		       IN_FLIGHT, DISK_MB);
		for (m = NOISE_NONE; m <= NOISE_FULL; m++) {
			if (run_beside(quiet_disk, noisy_disk, m, &iops, &n)) {
				printf("  %-22s failed\n", names[m]);
				ret = 1;
				continue;
			}
			if (m == NOISE_NONE)
				alone = iops;
			printf("  %-22s %10.0f IOPS  %5.2f of alone, daemon %4.2f CPUs", names[m],
			       iops, alone > 0 ? iops / alone : 0, n.daemon_cpu);
			if (m == NOISE_KICKS)
				printf("  (%.0f kicks/s)", n.kicks / SECONDS);
			if (m == NOISE_FULL)
				printf("  (%.0f MiB/s of writes)", n.writes / SECONDS);
			printf("\n");
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm);
		if (system(cmd))
			fprintf(stderr, "bench: cannot remove %s\n", shm);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, fast);
	if (system(cmd))
		fprintf(stderr, "bench: cannot remove %s and %s\n", dir, fast);
	return ret;
}
