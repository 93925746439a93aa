// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stateful hostile frontend: a seeded random guest mixes valid I/O with
 * everything a hostile one may do to its disk, against the real daemon,
 * while a disk of another guest does verified I/O throughout.
 *
 * The oracle is the protocol (docs/protocol.md, virtio 1.2):
 * - valid I/O completes with VIRTIO_BLK_S_OK, the used length the chain's
 *   writable bytes, and the data a model of the disk holds;
 * - a rule broken on a ring (2.4, 4.1) ends in NEEDS_RESET with an `error`
 *   key, and a reset brings the device back;
 * - a garbage xenstore value leaves the device either serving correctly or
 *   in NEEDS_RESET with an `error` key, never serving wrongly;
 * - a status answer never holds a bit the driver did not ask for (besides
 *   NEEDS_RESET), and bits cleared without a reset add NEEDS_RESET (2.2);
 * - a grant revoked under a request: the request completes (and wrote) or
 *   the device asks for a reset;
 * - descriptors rewritten while their requests are in flight: each request
 *   completes with a status byte virtio-blk defines, or the device asks for
 *   a reset (what reached those sectors is then unknown to the model);
 * - garbage keys between the steps of a set-up: DRIVER_OK is refused with
 *   NEEDS_RESET, or the device serves correctly;
 * - the frontend directory removed under I/O: the device is released, and
 *   made again by the toolstack it serves the same disk;
 * - the bystander never sees an error or a wrong byte, the daemon never
 *   dies or spins, and once the devices are removed it holds no thread or
 *   descriptor of them.
 *
 * VX_CHAOS_SEED replays a run (the seed is printed); VX_CHAOS_ACTIONS sets
 * its length (make soak runs a long one).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "common.h"

#define VICTIM_QUEUES	2
#define MODEL_SECTORS	2048		/* the first 1 MiB of the victim's disk */

static struct vx_guest *g, *g2;
static struct vx_vdev victim, bystander;
static char disk1[256], disk2[256];
static const char *access_mode;
static uint64_t rng;
static uint8_t model[MODEL_SECTORS * 512];
static bool known[MODEL_SECTORS];	/* the model knows the sector's bytes */
static bool broken;			/* the victim must be reset before use */
static unsigned int counts[8];
static unsigned int revokes_completed, revokes_refused;

enum { A_IO, A_RING, A_REVOKE, A_XENSTORE, A_STATUS, A_STORM, A_MIDFLIGHT, A_UNPLUG };
static const char *const action_names[] = {
	"valid I/O", "ring rules broken", "grants revoked", "xenstore garbage",
	"statuses out of order", "reset storms", "rewritten in flight", "frontend removed",
};

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int below(unsigned int n)
{
	return rnd() % n;
}

/* ---- the bystander: another guest's disk, verified I/O all along ---- */

static volatile bool bystander_stop;
static unsigned long bystander_ops, bystander_errors;
static char bystander_why[160];

static void *bystander_thread(void *arg)
{
	uint8_t data[4096], got[4096];
	uint64_t r = (uintptr_t)arg | 1;

	(void)arg;
	while (!bystander_stop) {
		uint64_t sector;
		int a, b;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		sector = (r % (DISK_BYTES / 512 / 8)) * 8;
		fill_pattern(data, sizeof(data), r);
		a = vblk_do(&bystander, r & 1, VIRTIO_BLK_T_OUT, sector, data, sizeof(data));
		b = vblk_do(&bystander, r & 1, VIRTIO_BLK_T_IN, sector, got, sizeof(got));
		if (a || b || memcmp(data, got, sizeof(got))) {
			snprintf(bystander_why, sizeof(bystander_why),
				 "sector %" PRIu64 ": write %d, read %d, %s", sector, a, b,
				 memcmp(data, got, sizeof(got)) ? "wrong bytes" : "bytes right");
			bystander_errors++;
			break;
		}
		bystander_ops++;
	}
	return NULL;
}

/* ---- the victim ---- */

/* The device said a rule was broken: NEEDS_RESET and an error key. */
static void expect_needs_reset(const char *what)
{
	char *err;

	ck_assert_msg(needs_reset(&victim), "%s: the device did not ask for a reset", what);
	err = vdev_read_backend(&victim, "error");
	ck_assert_msg(err && *err, "%s: NEEDS_RESET without an error key", what);
	free(err);
	broken = true;
}

static void write_garbage(const char *key);
static unsigned int setup_garbage, setup_refused;

static void victim_up(void)
{
	int s = vdev_read_status(&victim);

	if (!broken && s >= 0 && (s & VX_S_DRIVER_OK) && !(s & VX_S_NEEDS_RESET))
		return;
	for (;;) {
		/* One set-up in eight: a queue key made garbage before DRIVER_OK. */
		bool garbage = !below(8);

		ck_assert_int_eq(vdev_reset(&victim), 0);
		ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
		ck_assert_int_eq(vdev_setup_queues(&victim, VICTIM_QUEUES, 64), 0);
		if (garbage) {
			static const char *const keys[] = {
				"queue-0/size", "queue-1/desc", "queue-0/driver",
				"queue-1/device", "queue-0/event-channel", "num-queues",
			};

			setup_garbage++;
			write_garbage(keys[below(sizeof(keys) / sizeof(keys[0]))]);
		}
		s = vdev_driver_ok(&victim);
		/*
		 * Accepted with a garbage key: the garbage was a value that
		 * holds (a size of 16, one queue), and the device runs as
		 * it says, not as this driver set up.  Set up again.
		 */
		if (!s && garbage)
			continue;
		if (!s)
			break;
		/* Refused, and said so: then set up again, cleanly or not. */
		ck_assert_msg(garbage, "DRIVER_OK refused (%d) on a clean set-up", s);
		expect_needs_reset("a garbage queue key");
		setup_refused++;
	}
	broken = false;
}

static void release_io(struct vblk_io *io);

/*
 * One request on queue @q.  With @may_break, the device may ask for a
 * reset meanwhile (a garbage key the daemon sees at its own pace): then
 * -ENODEV, the device reset and the request's grants ended.
 */
static int io_once(unsigned int q, uint32_t type, uint64_t sector, uint8_t *buf,
		   uint32_t len, bool may_break)
{
	struct vblk_io io = { 0 }, *done;
	uint8_t *gbuf = guest_alloc(g, len);
	int ret;

	ck_assert_ptr_nonnull(gbuf);
	memcpy(gbuf, buf, len);
	ck_assert_int_eq(vblk_submit(&victim, q, &io, type, sector, gbuf, len, false), 0);
	dvq_kick(&victim.vqs[q]);
	for (int ms = 0; ms < PATIENCE_MS && !io.done; ms += 10) {
		if (vblk_reap(&victim, q, &done, 1))
			break;
		if (may_break && (vdev_read_status(&victim) & VX_S_NEEDS_RESET)) {
			expect_needs_reset("a garbage key");
			ck_assert_int_eq(vdev_reset(&victim), 0);
			release_io(&io);
			guest_free(g, gbuf, len);
			return -ENODEV;
		}
		dvq_enable_cb(&victim.vqs[q]);
		dvq_wait(&victim.vqs[q], 10);
	}
	ck_assert_msg(io.done, "a valid request on queue %u got no answer", q);
	ck_assert_uint_eq(io.used_len, type == VIRTIO_BLK_T_IN ? len + 1 : 1);
	ret = io.result;
	memcpy(buf, gbuf, len);
	release_io(&io);
	guest_free(g, gbuf, len);
	return ret;
}

static void valid_io_or_reset(bool may_break)
{
	uint8_t data[8192], got[8192];
	unsigned int nsec = 1 + below(16), q = below(VICTIM_QUEUES), i;
	uint64_t sector = below(MODEL_SECTORS - nsec);
	uint32_t len = nsec * 512;
	int r;

	victim_up();
	fill_pattern(data, len, rnd());
	r = io_once(q, VIRTIO_BLK_T_OUT, sector, data, len, may_break);
	for (i = 0; i < nsec; i++)
		known[sector + i] = !r;	/* a write cut short by a reset: unknown */
	if (r == -ENODEV)
		return;
	ck_assert_int_eq(r, VIRTIO_BLK_S_OK);
	memcpy(model + sector * 512, data, len);
	/* Read back a range around it: what the model knows must be there. */
	sector = sector > 4 ? sector - 4 : 0;
	nsec = sector + 16 <= MODEL_SECTORS ? 16 : MODEL_SECTORS - sector;
	r = io_once(below(VICTIM_QUEUES), VIRTIO_BLK_T_IN, sector, got, nsec * 512, may_break);
	if (r == -ENODEV)
		return;
	ck_assert_int_eq(r, VIRTIO_BLK_S_OK);
	for (i = 0; i < nsec; i++)
		ck_assert_msg(!known[sector + i] ||
			      !memcmp(got + i * 512, model + (sector + i) * 512, 512),
			      "sector %" PRIu64 " differs from what was written",
			      sector + i);
}

static void valid_io(void)
{
	valid_io_or_reset(false);
}

/* Ends a request's grants and frees its header page; kept if still mapped (as Linux does). */
static void release_io(struct vblk_io *io)
{
	if (!vblk_release(&victim, io) && io->hdr)
		guest_free(g, io->hdr, VX_PAGE_SIZE);
	io->hdr = NULL;
}

static void publish(struct driver_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->size] = htole16(head);
	vq->avail_idx++;
	dvq_kick(vq);
}

/* One rule of 4.1 broken on a ring; each is a protocol error. */
static void break_ring_rule(void)
{
	struct driver_vq *vq;
	unsigned int n, i;
	uint16_t last;

	victim_up();
	vq = &victim.vqs[below(VICTIM_QUEUES)];
	n = vq->size;
	last = n - 1;	/* descriptors the driver's free list hands out last */
	switch (below(6)) {
	case 0:		/* a head out of range */
		publish(vq, n + below(1000));
		break;
	case 1:		/* the available index jumps */
		vq->avail_idx += n + 1 + below(1000);
		dvq_kick(vq);
		break;
	case 2:		/* a chain that loops */
		vq->desc[last - 1] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)), htole32(16),
			htole16(VRING_DESC_F_NEXT), htole16(last) };
		vq->desc[last] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)), htole32(16),
			htole16(VRING_DESC_F_NEXT), htole16(last - 1) };
		publish(vq, last - 1);
		break;
	case 3:		/* next out of range */
		vq->desc[last] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)), htole32(16),
			htole16(VRING_DESC_F_NEXT), htole16(n + below(100)) };
		publish(vq, last);
		break;
	case 4:		/* a readable descriptor after a writable one */
		vq->desc[last - 1] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)), htole32(16),
			htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), htole16(last) };
		vq->desc[last] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)), htole32(16), 0, 0 };
		publish(vq, last - 1);
		break;
	default:	/* an indirect table with a bad length, or nested */
		i = below(2);
		vq->desc[last] = (struct vring_desc){ htole64(vx_grant_addr(1, 0)),
			htole32(i ? 24 : 16 * (n + 1)), htole16(VRING_DESC_F_INDIRECT), 0 };
		publish(vq, last);
		break;
	}
	expect_needs_reset("a broken ring rule");
}

/* A write whose data grant the guest ends right after the kick. */
static void revoke_under_request(void)
{
	struct driver_vq *vq;
	struct vblk_io io = { 0 }, *done = NULL;
	unsigned int nsec = 8, i;
	uint64_t sector = below(MODEL_SECTORS - nsec);
	uint8_t *data;
	uint32_t len;

	victim_up();
	vq = &victim.vqs[0];
	data = guest_alloc(g, 4096);
	fill_pattern(data, 4096, rnd());
	ck_assert_int_eq(vblk_submit(&victim, 0, &io, VIRTIO_BLK_T_OUT, sector, data, 4096,
				     below(2)), 0);
	dvq_kick(vq);
	if (below(2))
		usleep(below(2000));
	/* Ended, or deferred (-EBUSY) while the backend maps it, as Linux does. */
	guest_dma_unmap(g, io.data_dma, 4096);
	io.len = 0;
	for (int ms = 0; ms < PATIENCE_MS && !done; ms++) {
		done = dvq_get(vq, &len);
		if (!done && (vdev_read_status(&victim) & VX_S_NEEDS_RESET))
			break;
		if (!done)
			usleep(1000);
	}
	if (done) {
		ck_assert_ptr_eq(done, &io);
		ck_assert_int_eq(*io.status, VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(len, 1);
		memcpy(model + sector * 512, data, 4096);
		for (i = 0; i < nsec; i++)
			known[sector + i] = true;
		release_io(&io);
		revokes_completed++;
	} else {
		revokes_refused++;
		/* Refused: what reached the disk of that range is unknown. */
		for (i = 0; i < nsec; i++)
			known[sector + i] = false;
		expect_needs_reset("a revoked grant");
		ck_assert_int_eq(vdev_reset(&victim), 0);
		release_io(&io);
	}
	guest_free(g, data, 4096);
}

/* @key of the victim's frontend: empty, huge, a NUL inside, negative, any number, or gone. */
static void write_garbage(const char *key)
{
	static char huge[3000];
	char path[192], value[32];
	const char *v = value;
	unsigned int len;

	switch (below(5)) {
	case 0:
		v = "";
		len = 0;
		break;
	case 1:
		memset(huge, '7', sizeof(huge) - 1);
		v = huge;
		len = sizeof(huge) - 1;
		break;
	case 2:
		v = "2\0xyz";
		len = 5;
		break;
	case 3:
		v = "-1";
		len = 2;
		break;
	default:
		len = snprintf(value, sizeof(value), "%" PRIu64, rnd() % 100000);
		break;
	}
	snprintf(path, sizeof(path), "%s/%s", victim.fe, key);
	if (below(4) == 0)
		ck_assert(xs_rm(g->xs, XBT_NULL, path));
	else
		ck_assert(xs_write(g->xs, XBT_NULL, path, v, len));
}

/* A frontend key made garbage: serving right, or NEEDS_RESET with a reason. */
static void xenstore_garbage(void)
{
	static const char *const keys[] = {
		"status", "status-seq", "queue-0/size", "queue-1/desc", "queue-0/event-channel",
		"driver-features", "num-queues", "queue-1/driver",
	};
	const char *key = keys[below(sizeof(keys) / sizeof(keys[0]))];
	int s;

	victim_up();
	write_garbage(key);
	/* Give the daemon a moment to see it, then ask what it thinks. */
	usleep(20000);
	s = vdev_read_status(&victim);
	ck_assert_int_ge(s, 0);
	if (s & VX_S_NEEDS_RESET) {
		expect_needs_reset(key);
		return;
	}
	valid_io_or_reset(true);
	/* The key stays garbage until the next set-up writes it again. */
	broken = true;
}

#define MIDFLIGHT_REQS	8

/* Writes in flight whose descriptors the guest rewrites under the device. */
static void rewrite_in_flight(void)
{
	struct vblk_io ios[MIDFLIGHT_REQS] = { 0 };
	unsigned int q = below(VICTIM_QUEUES), i, k, done = 0;
	uint64_t sectors[MIDFLIGHT_REQS];
	bool tainted[MIDFLIGHT_REQS] = { false };
	int owner[256];
	struct driver_vq *vq;
	uint8_t *data;
	uint32_t len;

	victim_up();
	vq = &victim.vqs[q];
	ck_assert_uint_le(vq->size, 256);
	data = guest_alloc(g, MIDFLIGHT_REQS * 4096);
	fill_pattern(data, MIDFLIGHT_REQS * 4096, rnd());
	for (i = 0; i < MIDFLIGHT_REQS; i++) {
		sectors[i] = below(MODEL_SECTORS - 8);
		ck_assert_int_eq(vblk_submit(&victim, q, &ios[i], VIRTIO_BLK_T_OUT, sectors[i],
					     data + i * 4096, 4096, false), 0);
		/* Whatever ends up there, the model no longer knows it. */
		for (k = 0; k < 8; k++)
			known[sectors[i] + k] = false;
	}
	/* Which request each descriptor is of, before any is rewritten. */
	for (k = 0; k < vq->size; k++)
		owner[k] = -1;
	for (k = 0; k < vq->size; k++) {
		unsigned int d = k, n;

		for (i = 0; i < MIDFLIGHT_REQS && vq->tokens[k] != &ios[i]; i++)
			;
		if (i == MIDFLIGHT_REQS)
			continue;
		for (n = 0; n < vq->chain_len[k]; n++, d = vq->next[d])
			owner[d] = i;
	}
	dvq_kick(vq);
	for (i = 0; i < 4; i++) {
		unsigned int x = below(3 * MIDFLIGHT_REQS);
		struct vring_desc *d = &vq->desc[x];

		/* Its request's status may now be written anywhere its chain leads. */
		if (owner[x] >= 0)
			tainted[owner[x]] = true;

		switch (below(4)) {
		case 0:
			d->addr = htole64(rnd());
			break;
		case 1:
			d->len = htole32(rnd());
			break;
		case 2:
			d->flags = htole16(rnd());
			break;
		default:
			d->next = htole16(rnd());
			break;
		}
	}
	for (int ms = 0; ms < PATIENCE_MS && done < MIDFLIGHT_REQS; ms++) {
		struct vblk_io *io = dvq_get(vq, &len);

		if (io) {
			ck_assert_msg(tainted[io - ios] || *io->status == VIRTIO_BLK_S_OK ||
				      *io->status == VIRTIO_BLK_S_IOERR ||
				      *io->status == VIRTIO_BLK_S_UNSUPP,
				      "status byte %#x of a request left as it was", *io->status);
			done++;
			continue;
		}
		if (vdev_read_status(&victim) & VX_S_NEEDS_RESET)
			break;
		usleep(1000);
	}
	if (done < MIDFLIGHT_REQS)
		expect_needs_reset("descriptors rewritten in flight");
	/* The next set-up resets the device; only then do the grants end. */
	broken = true;
	ck_assert_int_eq(vdev_reset(&victim), 0);
	for (i = 0; i < MIDFLIGHT_REQS; i++)
		release_io(&ios[i]);
	guest_free(g, data, MIDFLIGHT_REQS * 4096);
}

static unsigned int releases;

/* The frontend directory goes under I/O (a guest's xenstore is its own). */
static void unplug_under_io(void)
{
	struct vblk_io ios[MIDFLIGHT_REQS] = { 0 };
	const char *kv[] = { "params", disk1, "mode", "w", "queues", "2",
			     "grant-access", access_mode, NULL };
	char needle[64];
	uint8_t *data;
	unsigned int i, k;

	victim_up();
	data = guest_alloc(g, MIDFLIGHT_REQS * 4096);
	for (i = 0; i < MIDFLIGHT_REQS; i++) {
		uint64_t sector = below(MODEL_SECTORS - 8);

		ck_assert_int_eq(vblk_submit(&victim, i % VICTIM_QUEUES, &ios[i],
					     VIRTIO_BLK_T_OUT, sector, data + i * 4096, 4096,
					     false), 0);
		for (k = 0; k < 8; k++)
			known[sector + k] = false;
	}
	for (i = 0; i < VICTIM_QUEUES; i++)
		dvq_kick(&victim.vqs[i]);
	ck_assert(xs_rm(g->xs, XBT_NULL, victim.fe));
	releases++;
	snprintf(needle, sizeof(needle), "d1 virtio/1: released");
	for (int ms = 0; ms < PATIENCE_MS && harness_log_count(&host, needle) < (int)releases;
	     ms += 10)
		usleep(10000);
	ck_assert_int_eq(harness_log_count(&host, needle), releases);
	/* Released: the grants may end now. */
	for (i = 0; i < MIDFLIGHT_REQS; i++)
		release_io(&ios[i]);
	vdev_abandon(&victim);
	guest_free(g, data, MIDFLIGHT_REQS * 4096);
	/* The toolstack gives the guest its disk again. */
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, 1, 1, "blk", kv), 0);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	broken = true;
}

static void status_out_of_order(void)
{
	int old, s, a;

	victim_up();
	old = vdev_read_status(&victim);
	s = 1 + below(255) % 0x3f;	/* driver bits, neither NEEDS_RESET nor FAILED */
	a = vdev_set_status(&victim, s);
	ck_assert_msg(a >= 0, "no answer to status %#x", s);
	/* The answer is the device's status: what it had, what it took of s. */
	ck_assert_msg(!(a & ~(s | old | VX_S_NEEDS_RESET)),
		      "status %#x after %#x answered %#x", s, old, a);
	if (old & ~s & ~VX_S_NEEDS_RESET)
		ck_assert_msg(a & VX_S_NEEDS_RESET,
			      "status %#x after %#x cleared bits without NEEDS_RESET (%#x)",
			      s, old, a);
	broken = true;
}

static void reset_storm(void)
{
	unsigned int i, n = 2 + below(8);

	for (i = 0; i < n; i++) {
		broken = true;
		victim_up();
	}
	valid_io();
}

static unsigned long long parse_env(const char *name, unsigned long long def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

START_TEST(a_random_hostile_guest_breaks_only_its_own_device)
{
	long actions = parse_env("VX_CHAOS_ACTIONS", 300), i;
	uint64_t seed = parse_env("VX_CHAOS_SEED", 0);
	int fds_before, threads_before;
	double cpu0, cpu1;
	char mem[300];
	pthread_t by;

	if (!seed)
		seed = (uint64_t)time(NULL) * 2654435761u ^ getpid();
	rng = seed | 1;
	printf("chaos: seed %" PRIu64 " (VX_CHAOS_SEED=%" PRIu64 " replays it), %ld actions\n",
	       seed, seed, actions);
	fflush(stdout);

	fds_before = harness_daemon_fds(&host);
	threads_before = harness_daemon_threads(&host);
	g = new_guest(1);
	g2 = new_guest(2);
	access_mode = below(2) ? "copy" : "map";
	attach_disk(g, 1, "w", "2", access_mode, disk1);
	attach_disk(g2, 1, "w", "2", "copy", disk2);
	ck_assert_int_eq(vdev_connect(&bystander, g2, 1, 2, all_features), 0);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	broken = true;
	bystander_stop = false;
	ck_assert_int_eq(pthread_create(&by, NULL, bystander_thread, (void *)(uintptr_t)seed), 0);

	for (i = 0; i < actions && !bystander_errors; i++) {
		unsigned int a = below(100);

		a = a < 38 ? A_IO : a < 50 ? A_RING : a < 58 ? A_REVOKE :
		    a < 70 ? A_XENSTORE : a < 80 ? A_STATUS : a < 88 ? A_STORM :
		    a < 98 ? A_MIDFLIGHT : A_UNPLUG;
		counts[a]++;
		switch (a) {
		case A_IO:
			valid_io();
			break;
		case A_RING:
			break_ring_rule();
			break;
		case A_REVOKE:
			revoke_under_request();
			break;
		case A_XENSTORE:
			xenstore_garbage();
			break;
		case A_STATUS:
			status_out_of_order();
			break;
		case A_STORM:
			reset_storm();
			break;
		case A_MIDFLIGHT:
			rewrite_in_flight();
			break;
		default:
			unplug_under_io();
			break;
		}
		ck_assert_int_eq(kill(host.daemon, 0), 0);
	}
	/* It ends serving, as a reset makes it. */
	broken = true;
	valid_io();

	/* Idle now: the daemon sleeps (the bystander's I/O aside). */
	bystander_stop = true;
	pthread_join(by, NULL);
	ck_assert_msg(!bystander_errors, "the bystander saw %s", bystander_why);
	ck_assert_uint_gt(bystander_ops, 0);
	cpu0 = harness_daemon_cpu_s(&host);
	sleep(2);
	cpu1 = harness_daemon_cpu_s(&host);
	for (i = 0; i <= A_UNPLUG; i++)
		printf("chaos: %-22s %u\n", action_names[i], counts[i]);
	printf("chaos: set-ups with a garbage queue key: %u, DRIVER_OK refused for %u\n",
	       setup_garbage, setup_refused);
	printf("chaos: revoked grants: %u requests completed first, %u refused\n",
	       revokes_completed, revokes_refused);
	printf("chaos: bystander %lu verified write-reads; daemon idle CPU %.2f s in 2 s\n",
	       bystander_ops, cpu1 - cpu0);
	ck_assert_msg(cpu1 - cpu0 < 0.5, "the daemon spins: %.2f s of CPU in 2 s idle",
		      cpu1 - cpu0);

	/* Removed, the devices leave nothing in the daemon: now their rings are mapped. */
	snprintf(mem, sizeof(mem), "%s/dom1", host.sim_dir);
	ck_assert_int_gt(harness_daemon_maps(&host, mem), 0);
	ck_assert_int_eq(vdev_close(&victim), 0);
	ck_assert_int_eq(vdev_close(&bystander), 0);
	ck_assert_int_ge(vx_ts_remove_device(g->xs, 0, 1, 1, false, PATIENCE_MS), 0);
	ck_assert_int_ge(vx_ts_remove_device(g2->xs, 0, 2, 1, false, PATIENCE_MS), 0);
	for (int ms = 0; ms < PATIENCE_MS &&
	     harness_log_count(&host, "d1 virtio/1: released") <= (int)releases; ms += 10)
		usleep(10000);
	ck_assert_int_eq(harness_log_count(&host, "d1 virtio/1: released"), releases + 1);
	ck_assert(harness_log_wait(&host, "d2 virtio/1: released", PATIENCE_MS));
	ck_assert_int_eq(harness_daemon_threads(&host), threads_before);
	ck_assert_int_eq(harness_daemon_fds(&host), fds_before);
	/* Grant mappings are mappings of the guests' memory files. */
	ck_assert_int_eq(harness_daemon_maps(&host, mem), 0);
	snprintf(mem, sizeof(mem), "%s/dom2", host.sim_dir);
	ck_assert_int_eq(harness_daemon_maps(&host, mem), 0);
	guest_destroy(g);
	guest_destroy(g2);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		a_random_hostile_guest_breaks_only_its_own_device,
	};

	return run_suite("chaos", tests, sizeof(tests) / sizeof(tests[0]));
}
