// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile guests (protocol.md 2.4 and 4.1): each breaks one rule on one
 * device.  That device must end in NEEDS_RESET with an `error` key and a log
 * line naming it; the daemon and a second device of the same guest keep
 * working, and the broken device recovers with a reset.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "common.h"

static struct vx_guest *g;
static struct vx_vdev victim, bystander;
static char disk1[256], disk2[256];

static bool closing_or_closed(int state)
{
	return state >= VX_STATE_CLOSING;
}

static void two_disks(uint64_t victim_features)
{
	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	attach_disk(g, 2, "w", "1", "copy", disk2);
	ck_assert_int_eq(vdev_connect(&victim, g, 1, 1, victim_features), 0);
	ck_assert_int_eq(vdev_connect(&bystander, g, 2, 1, all_features), 0);
}

/* The device is in error, said so, and nothing else was hurt. */
static void assert_only_victim_failed(const char *reason)
{
	uint8_t data[4096], got[4096];
	char *err;

	ck_assert_msg(needs_reset(&victim), "device did not ask for a reset");
	err = vdev_read_backend(&victim, "error");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, reason), "error key '%s' lacks '%s'", err, reason);
	free(err);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: ", 0));
	ck_assert(harness_log_wait(&host, reason, PATIENCE_MS));
	ck_assert_int_eq(kill(host.daemon, 0), 0);

	fill_pattern(data, sizeof(data), 42);
	ck_assert_int_eq(vblk_do(&bystander, 0, VIRTIO_BLK_T_OUT, 16, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vblk_do(&bystander, 0, VIRTIO_BLK_T_IN, 16, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(data, got, sizeof(got)));
	ck_assert_int_eq(vdev_read_status(&bystander) & VX_S_NEEDS_RESET, 0);
}

/* A reset brings the victim back: its rings are released and it serves again. */
static void assert_victim_recovers(void)
{
	uint8_t data[4096], got[4096];

	char path[160];

	ck_assert_int_eq(vdev_reset(&victim), 0);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
	/* Pool keys a test wrote by hand go; a pool of the victim's is made again. */
	snprintf(path, sizeof(path), "%s/pool-ref", victim.fe);
	xs_rm(g->xs, XBT_NULL, path);
	snprintf(path, sizeof(path), "%s/pool-pages", victim.fe);
	xs_rm(g->xs, XBT_NULL, path);
	ck_assert_int_eq(vdev_setup_queues(&victim, 1, 64), 0);
	ck_assert_int_eq(vdev_driver_ok(&victim), 0);
	fill_pattern(data, sizeof(data), 43);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)), 0);
	ck_assert(!memcmp(data, got, sizeof(got)));
}

static void publish_head(struct driver_vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->size] = htole16(head);
	vq->avail_idx++;
	dvq_kick(vq);
}

START_TEST(head_descriptor_index_out_of_range)
{
	two_disks(all_features);
	publish_head(&victim.vqs[0], victim.vqs[0].size + 3);
	assert_only_victim_failed("out of range");
	assert_victim_recovers();
}
END_TEST

START_TEST(descriptor_chain_that_loops)
{
	struct driver_vq *vq;

	two_disks(all_features);
	vq = &victim.vqs[0];
	vq->desc[0] = (struct vring_desc){ vx_grant_addr(9, 0), 16, VRING_DESC_F_NEXT, 1 };
	vq->desc[1] = (struct vring_desc){ vx_grant_addr(9, 0), 16, VRING_DESC_F_NEXT, 0 };
	publish_head(vq, 0);
	assert_only_victim_failed("loops");
	assert_victim_recovers();
}
END_TEST

START_TEST(available_index_that_jumps)
{
	struct driver_vq *vq;

	two_disks(all_features);
	vq = &victim.vqs[0];
	vq->avail_idx += vq->size + 1;
	dvq_kick(vq);
	assert_only_victim_failed("jumped");
	assert_victim_recovers();
}
END_TEST

START_TEST(indirect_descriptor_not_negotiated)
{
	struct driver_vq *vq;

	two_disks(all_features & ~VX_FEATURE(VX_F_INDIRECT_DESC));
	vq = &victim.vqs[0];
	vq->desc[0] = (struct vring_desc){ vx_grant_addr(9, 0), 48, VRING_DESC_F_INDIRECT, 0 };
	publish_head(vq, 0);
	assert_only_victim_failed("not negotiated");
}
END_TEST

/* A request whose data points at @data_addr with @flags. */
static void bad_buffer_request(uint32_t type, uint64_t data_addr, uint32_t len)
{
	struct driver_vq *vq = &victim.vqs[0];
	struct virtio_blk_outhdr *hdr = guest_alloc(g, VX_PAGE_SIZE);
	uint8_t *status = (uint8_t *)hdr + 64;
	struct dvq_buf bufs[3];

	hdr->type = htole32(type);
	hdr->sector = 0;
	ck_assert_int_eq(guest_dma_map(g, hdr, 16, true, &bufs[0].addr), 0);
	bufs[0].len = 16;
	bufs[0].device_writes = false;
	bufs[1] = (struct dvq_buf){ data_addr, len, type == VIRTIO_BLK_T_IN };
	ck_assert_int_eq(guest_dma_map(g, status, 1, false, &bufs[2].addr), 0);
	bufs[2].len = 1;
	bufs[2].device_writes = true;
	ck_assert_int_ge(dvq_add(vq, bufs, 3, hdr), 0);
	dvq_kick(vq);
}

START_TEST(buffer_grant_never_granted)
{
	two_disks(all_features);
	/* Reference 60000 was never granted by this guest. */
	bad_buffer_request(VIRTIO_BLK_T_OUT, vx_grant_addr(60000, 0), 4096);
	assert_only_victim_failed("grant refused");
	assert_victim_recovers();
}
END_TEST

START_TEST(read_only_grant_for_a_device_write)
{
	uint8_t *data;
	uint64_t dma;

	two_disks(all_features);
	data = guest_alloc(g, 4096);
	ck_assert_int_eq(guest_dma_map(g, data, 4096, true, &dma), 0);
	bad_buffer_request(VIRTIO_BLK_T_IN, dma, 4096);
	assert_only_victim_failed("grant refused");
	assert_victim_recovers();
}
END_TEST

START_TEST(address_without_the_grant_bit)
{
	two_disks(all_features);
	bad_buffer_request(VIRTIO_BLK_T_OUT, 0x12345000, 4096);
	assert_only_victim_failed("grant refused");
}
END_TEST

START_TEST(length_that_overflows_is_an_io_error_only)
{
	uint8_t *data;
	uint64_t dma;
	struct vblk_io *done = NULL;
	uint32_t len;

	two_disks(all_features);
	data = guest_alloc(g, 4096);
	ck_assert_int_eq(guest_dma_map(g, data, 4096, false, &dma), 0);
	bad_buffer_request(VIRTIO_BLK_T_IN, dma, 0xfffffe00);
	for (int ms = 0; ms < PATIENCE_MS && !(done = dvq_get(&victim.vqs[0], &len)); ms++)
		usleep(1000);
	ck_assert_ptr_nonnull(done);
	ck_assert_int_eq(*((uint8_t *)done + 64), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vdev_read_status(&victim) & VX_S_NEEDS_RESET, 0);
}
END_TEST

/* ---- the grant pool (protocol.md 4.4) ---- */

/*
 * The victim's queues set up with a pool of @pages (none if 0), made first,
 * so its references start at 8 (0-7 are the toolstack's, never granted);
 * then the bystander, running with a pool of its own.  DRIVER_OK not asked.
 */
static void victim_pool_before_driver_ok(uint32_t pages)
{
	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	attach_disk(g, 2, "w", "1", "copy", disk2);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	ck_assert_uint_eq(victim.pool_max_pages, VX_POOL_MAX_PAGES);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
	victim.pool_pages = pages;
	ck_assert_int_eq(vdev_setup_queues(&victim, 1, 64), 0);
	ck_assert(!pages || victim.pool->ref == 8);
	ck_assert_int_eq(vdev_connect_pool(&bystander, g, 2, 1, all_features, 64), 0);
}

/* The victim, set up with no pool, names one with these keys: refused. */
static void bad_pool_keys(const char *ref, const char *pages)
{
	if (ref)
		vdev_write(&victim, "pool-ref", "%s", ref);
	if (pages)
		vdev_write(&victim, "pool-pages", "%s", pages);
	ck_assert_int_eq(vdev_driver_ok(&victim), -EIO);
}

static void bad_pool(uint32_t ref, uint32_t pages)
{
	char r[16], p[16];

	snprintf(r, sizeof(r), "%u", ref);
	snprintf(p, sizeof(p), "%u", pages);
	bad_pool_keys(r, p);
}

START_TEST(pool_never_granted)
{
	victim_pool_before_driver_ok(0);
	bad_pool(60000, 16);
	assert_only_victim_failed("pool (grant references 60000..60015) cannot be mapped");
	assert_victim_recovers();
}
END_TEST

START_TEST(pool_granted_read_only)
{
	uint8_t *mem;
	uint64_t dma;

	victim_pool_before_driver_ok(0);
	mem = guest_alloc(g, 4 * VX_PAGE_SIZE);
	ck_assert_int_eq(guest_dma_map(g, mem, 4 * VX_PAGE_SIZE, true, &dma), 0);
	bad_pool((dma & ~VX_GRANT_ADDR_FLAG) >> VX_PAGE_SHIFT, 4);
	assert_only_victim_failed("cannot be mapped read-write");
	assert_victim_recovers();
}
END_TEST

START_TEST(pool_over_pool_max_pages)
{
	victim_pool_before_driver_ok(0);
	bad_pool_keys("8", "4097");
	assert_only_victim_failed("over pool-max-pages");
	assert_victim_recovers();
}
END_TEST

START_TEST(pool_key_missing)
{
	victim_pool_before_driver_ok(0);
	bad_pool_keys("8", NULL);
	assert_only_victim_failed("must both be given");
	assert_victim_recovers();
}
END_TEST

START_TEST(pool_pages_malformed)
{
	victim_pool_before_driver_ok(0);
	bad_pool_keys("8", "016");
	assert_only_victim_failed("must both be given");
}
END_TEST

/* The victim names pages of the bystander's pool as its own. */
START_TEST(pool_overlapping_another_devices_pool)
{
	victim_pool_before_driver_ok(0);
	bad_pool(bystander.pool->ref + 10, 4);
	assert_only_victim_failed("overlaps the pool of device 2");
	assert_victim_recovers();
}
END_TEST

/*
 * A buffer that starts in the page before the window (reference 7, never
 * granted) and ends in it: not the pool's, so reached by grants, refused.
 */
START_TEST(buffer_half_inside_the_pool)
{
	victim_pool_before_driver_ok(4);
	ck_assert_int_eq(vdev_driver_ok(&victim), 0);
	bad_buffer_request(VIRTIO_BLK_T_OUT, vx_grant_addr(7, 2048), 4096);
	assert_only_victim_failed("grant refused");
	assert_victim_recovers();
}
END_TEST

START_TEST(pool_keys_changed_while_the_queues_run)
{
	uint8_t data[4096];

	victim_pool_before_driver_ok(16);
	ck_assert_int_eq(vdev_driver_ok(&victim), 0);
	fill_pattern(data, sizeof(data), 7);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	vdev_write(&victim, "pool-pages", "8");
	for (int ms = 0; ms < PATIENCE_MS && !needs_reset(&victim); ms++)
		usleep(1000);
	assert_only_victim_failed("pool-ref or pool-pages changed while the queues run");
	assert_victim_recovers();
}
END_TEST

/*
 * The guest takes its pool's grants back while the backend maps them (it
 * rewrites the entries for another domain).  As on Xen, what is mapped
 * stays mapped until the backend unmaps it at the reset: the device goes
 * on, its data intact, and a new pool after the reset works.
 */
START_TEST(pool_revoked_while_mapped)
{
	uint8_t data[4096], got[4096];
	uint32_t i;

	victim_pool_before_driver_ok(16);
	ck_assert_int_eq(vdev_driver_ok(&victim), 0);
	for (i = 0; i < victim.pool->pages; i++)
		sim_grant_access(g->dom, victim.pool->ref + i, 99, 0, false);
	fill_pattern(data, sizeof(data), 8);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 8, data, sizeof(data)), 0);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_IN, 8, got, sizeof(got)), 0);
	ck_assert(!memcmp(data, got, sizeof(got)));
	ck_assert_int_eq(read_file_at(disk1, 8 * 512, got, sizeof(got)), 0);
	ck_assert(!memcmp(data, got, sizeof(got)));
	ck_assert_int_eq(kill(host.daemon, 0), 0);
	ck_assert_int_eq(vdev_read_status(&bystander) & VX_S_NEEDS_RESET, 0);
	assert_victim_recovers();
}
END_TEST

/* The bystander running, the victim's queues set up, DRIVER_OK not asked yet. */
static void victim_before_driver_ok(void)
{
	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	attach_disk(g, 2, "w", "1", "copy", disk2);
	ck_assert_int_eq(vdev_connect(&bystander, g, 2, 1, all_features), 0);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&victim, 1, 64), 0);
}

static void bogus_queue_key(const char *key, const char *value)
{
	victim_before_driver_ok();
	vdev_write(&victim, key, "%s", value);
	ck_assert_int_eq(vdev_driver_ok(&victim), -EIO);
}

START_TEST(queue_size_not_a_power_of_two)
{
	bogus_queue_key("queue-0/size", "100");
	assert_only_victim_failed("power of two");
	assert_victim_recovers();
}
END_TEST

START_TEST(queue_size_over_the_maximum)
{
	bogus_queue_key("queue-0/size", "65536");
	assert_only_victim_failed("max-queue-size");
}
END_TEST

START_TEST(ring_address_malformed)
{
	bogus_queue_key("queue-0/desc", "4096");
	assert_only_victim_failed("address");
}
END_TEST

START_TEST(ring_address_not_granted)
{
	bogus_queue_key("queue-0/driver", "0x8000000000ffe000");
	assert_only_victim_failed("unusable");
}
END_TEST

START_TEST(num_queues_over_max_queues)
{
	bogus_queue_key("num-queues", "2");
	assert_only_victim_failed("num-queues");
}
END_TEST

/* A ring address the guest wrote, moved @off bytes off its alignment. */
static void misaligned_ring(const char *key, unsigned int off)
{
	const struct driver_vq *vq;
	uint64_t addr;

	victim_before_driver_ok();
	vq = &victim.vqs[0];
	addr = !strcmp(key, "desc") ? vq->desc_dma :
	       !strcmp(key, "driver") ? vq->avail_dma : vq->used_dma;
	vdev_write(&victim, !strcmp(key, "desc") ? "queue-0/desc" :
		   !strcmp(key, "driver") ? "queue-0/driver" : "queue-0/device",
		   "0x%llx", (unsigned long long)(addr + off));
	ck_assert_int_eq(vdev_driver_ok(&victim), -EIO);
}

/* virtio 1.2, 2.7: 16, 2 and 4 bytes; the UBSan build would abort on access. */
START_TEST(descriptor_table_misaligned)
{
	misaligned_ring("desc", 8);
	assert_only_victim_failed("misaligned");
	assert_victim_recovers();
}
END_TEST

START_TEST(driver_area_misaligned)
{
	misaligned_ring("driver", 1);
	assert_only_victim_failed("misaligned");
}
END_TEST

START_TEST(device_area_misaligned)
{
	misaligned_ring("device", 2);
	assert_only_victim_failed("misaligned");
}
END_TEST

/* xenstore returns a length: "64\0xyz" is no size of 64. */
START_TEST(value_with_a_nul_inside_is_malformed)
{
	char path[160];

	victim_before_driver_ok();
	snprintf(path, sizeof(path), "%s/queue-0/size", victim.fe);
	ck_assert(xs_write(g->xs, XBT_NULL, path, "64\0xyz", 6));
	ck_assert_int_eq(vdev_driver_ok(&victim), -EIO);
	assert_only_victim_failed("queue size");
	assert_victim_recovers();
}
END_TEST

/* The 32-bit type: 0x101 is neither a write nor anything else (virtio 5.2.6). */
START_TEST(request_type_with_high_bits_is_unsupported)
{
	static const uint32_t types[] = { 0x101, 0x100, 0x104, 0x108, 0x10b, 0x80000001 };
	uint8_t before[4096], data[4096], got[4096];
	unsigned int i;

	two_disks(all_features);
	fill_pattern(before, sizeof(before), 5);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 100, before, sizeof(before)),
			 VIRTIO_BLK_S_OK);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fill_pattern(data, sizeof(data), 6 + i);
		ck_assert_msg(vblk_do(&victim, 0, types[i], 100, data, sizeof(data)) ==
			      VIRTIO_BLK_S_UNSUPP, "type %#x not UNSUPP", types[i]);
	}
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_IN, 100, got, sizeof(got)),
			 VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(before, got, sizeof(got)));
	ck_assert_int_eq(vdev_read_status(&victim) & VX_S_NEEDS_RESET, 0);
}
END_TEST

/* An empty device-writable descriptor before the header: a read must not land in it. */
START_TEST(empty_writable_descriptor_before_readable_ones)
{
	struct driver_vq *vq;
	uint8_t *page;
	uint64_t ro, rw;

	two_disks(all_features);
	vq = &victim.vqs[0];
	page = guest_alloc(g, VX_PAGE_SIZE);
	((struct virtio_blk_outhdr *)page)->type = htole32(VIRTIO_BLK_T_IN);
	ck_assert_int_eq(guest_dma_map(g, page, VX_PAGE_SIZE, true, &ro), 0);
	ck_assert_int_eq(guest_dma_map(g, page + 1024, 1024, false, &rw), 0);
	vq->desc[0] = (struct vring_desc){ rw, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
	vq->desc[1] = (struct vring_desc){ ro, 16 + 512, VRING_DESC_F_NEXT, 2 };
	vq->desc[2] = (struct vring_desc){ rw, 1, VRING_DESC_F_WRITE, 0 };
	publish_head(vq, 0);
	assert_only_victim_failed("readable descriptor after a writable");
	assert_victim_recovers();
}
END_TEST

/* virtio 1.2, 2.7.5.3.2: the header direct, then data and status in an indirect table. */
START_TEST(direct_descriptors_then_an_indirect_table_are_served)
{
	uint8_t data[4096];
	struct driver_vq *vq;
	struct vring_desc *table;
	uint8_t *page, *buf;
	uint64_t hdr_dma, status_dma, buf_dma, table_dma;

	two_disks(all_features);
	fill_pattern(data, sizeof(data), 9);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 8, data, sizeof(data)),
			 VIRTIO_BLK_S_OK);
	vq = &victim.vqs[0];
	page = guest_alloc(g, VX_PAGE_SIZE);
	buf = guest_alloc(g, sizeof(data));
	table = guest_alloc(g, VX_PAGE_SIZE);
	*(struct virtio_blk_outhdr *)page = (struct virtio_blk_outhdr){
		.type = htole32(VIRTIO_BLK_T_IN), .sector = htole64(8) };
	page[64] = 0xff;
	ck_assert_int_eq(guest_dma_map(g, page, 16, true, &hdr_dma), 0);
	ck_assert_int_eq(guest_dma_map(g, page + 64, 1, false, &status_dma), 0);
	ck_assert_int_eq(guest_dma_map(g, buf, sizeof(data), false, &buf_dma), 0);
	table[0] = (struct vring_desc){ htole64(buf_dma), htole32(sizeof(data)),
					htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(1) };
	table[1] = (struct vring_desc){ htole64(status_dma), htole32(1),
					htole16(VRING_DESC_F_WRITE), 0 };
	ck_assert_int_eq(guest_dma_map(g, table, 32, true, &table_dma), 0);
	/* Descriptors the driver's free list does not hand out in this test. */
	vq->desc[vq->size - 2] = (struct vring_desc){ htole64(hdr_dma), htole32(16),
						      htole16(VRING_DESC_F_NEXT),
						      htole16(vq->size - 1) };
	vq->desc[vq->size - 1] = (struct vring_desc){ htole64(table_dma), htole32(32),
						      htole16(VRING_DESC_F_INDIRECT), 0 };
	publish_head(vq, vq->size - 2);
	for (int ms = 0; ms < PATIENCE_MS && le16toh(*(volatile uint16_t *)&vq->used->idx) ==
	     vq->last_used; ms++)
		usleep(1000);
	ck_assert_uint_eq(le16toh(vq->used->idx), (uint16_t)(vq->last_used + 1));
	ck_assert_uint_eq(le32toh(vq->used->ring[vq->last_used % vq->size].id), vq->size - 2);
	ck_assert_uint_eq(le32toh(vq->used->ring[vq->last_used % vq->size].len), sizeof(data) + 1);
	ck_assert_int_eq(page[64], VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(buf, data, sizeof(data)));
	ck_assert_int_eq(vdev_read_status(&victim) & VX_S_NEEDS_RESET, 0);
}
END_TEST

/*
 * Whether the daemon's memory says anything: under AddressSanitizer freed
 * memory waits in its quarantine (and the daemon is built as the tests are).
 */
static bool memory_measurable(void)
{
#ifdef __SANITIZE_ADDRESS__
	printf("AddressSanitizer build: the daemon's peak memory is not measured\n");
	return false;
#else
	return true;
#endif
}

#define BIG_REQS	64
#define BIG_SEGS	126
#define BIG_SEG_LEN	65536

/*
 * Request size and queue depth are each bounded; their product must not be
 * what the daemon holds: 64 writes of 126 x 64 KiB, all naming one 8 MiB
 * buffer, would be 504 MiB of bounce buffers at once.
 */
START_TEST(many_large_requests_hold_bounded_memory)
{
	const size_t big = (size_t)BIG_SEGS * BIG_SEG_LEN;
	struct driver_vq *vq;
	uint8_t *buf, *meta;
	uint64_t buf_dma, meta_dma;
	long rss_before, peak;
	unsigned int i, done = 0;
	uint32_t len;
	int head;

	g = guest_create(host.sim_dir, 1, 0, 16384);
	ck_assert_ptr_nonnull(g);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&victim, 1, 128), 0);
	ck_assert_int_eq(vdev_driver_ok(&victim), 0);
	vq = &victim.vqs[0];
	buf = guest_alloc(g, big);
	meta = guest_alloc(g, BIG_REQS * VX_PAGE_SIZE);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(meta);
	fill_pattern(buf, big, 3);
	ck_assert_int_eq(guest_dma_map(g, buf, big, true, &buf_dma), 0);
	ck_assert_int_eq(guest_dma_map(g, meta, BIG_REQS * VX_PAGE_SIZE, false, &meta_dma), 0);
	ck_assert_int_gt(vq->size, BIG_REQS);
	rss_before = harness_daemon_status_kb(&host, "VmRSS:");
	ck_assert_int_gt(rss_before, 0);

	/* Per request, one page: header, status, then its indirect table at 2048. */
	for (i = 0; i < BIG_REQS; i++) {
		uint8_t *p = meta + i * VX_PAGE_SIZE;
		uint64_t d = meta_dma + i * VX_PAGE_SIZE;
		struct vring_desc *t = (struct vring_desc *)(p + 2048);
		unsigned int s;

		*(struct virtio_blk_outhdr *)p = (struct virtio_blk_outhdr){
			.type = htole32(VIRTIO_BLK_T_OUT), .sector = 0 };
		p[64] = 0xff;
		t[0] = (struct vring_desc){ htole64(d), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
		for (s = 0; s < BIG_SEGS; s++)
			t[1 + s] = (struct vring_desc){ htole64(buf_dma + (uint64_t)s * BIG_SEG_LEN),
							htole32(BIG_SEG_LEN),
							htole16(VRING_DESC_F_NEXT), htole16(2 + s) };
		t[1 + BIG_SEGS] = (struct vring_desc){ htole64(d + 64), htole32(1),
						       htole16(VRING_DESC_F_WRITE), 0 };
		head = dvq_add(vq, &(struct dvq_buf){ d + 2048,
				(BIG_SEGS + 2) * sizeof(struct vring_desc), false }, 1, p);
		ck_assert_int_ge(head, 0);
		vq->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
	}
	dvq_kick(vq);
	for (int ms = 0; ms < 4 * PATIENCE_MS && done < BIG_REQS; ) {
		uint8_t *p = dvq_get(vq, &len);

		if (!p) {
			dvq_enable_cb(vq);
			dvq_wait(vq, 10);
			ms += 10;
			continue;
		}
		ck_assert_int_eq(p[64], VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(len, 1);
		done++;
	}
	ck_assert_uint_eq(done, BIG_REQS);
	peak = harness_daemon_status_kb(&host, "VmHWM:");
	printf("%u writes of %zu KiB from one buffer: daemon resident %ld KiB before, peak %ld KiB\n",
	       BIG_REQS, big >> 10, rss_before, peak);
	/* The budget is 8 MiB a queue; without it the peak grows by 504 MiB. */
	ck_assert_msg(!memory_measurable() || peak - rss_before < 64 * 1024,
		      "daemon peak grew by %ld KiB",
		      peak - rss_before);
	ck_assert_int_eq(vdev_read_status(&victim) & VX_S_NEEDS_RESET, 0);
	ck_assert_int_eq(read_file_at(disk1, 0, meta, VX_PAGE_SIZE), 0);
	ck_assert(!memcmp(meta, buf, VX_PAGE_SIZE));
}
END_TEST

START_TEST(driver_features_malformed_are_refused)
{
	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	ck_assert_int_ge(vdev_set_status(&victim, VX_S_ACKNOWLEDGE | VX_S_DRIVER), 0);
	vdev_write(&victim, "driver-features", "%s", "lots");
	ck_assert_int_eq(vdev_set_status(&victim, VX_S_ACKNOWLEDGE | VX_S_DRIVER |
					 VX_S_FEATURES_OK) & VX_S_FEATURES_OK, 0);
	ck_assert(harness_log_wait(&host, "d1 virtio/1: FEATURES_OK refused", PATIENCE_MS));
}
END_TEST

#define LIM_DISKS	8
#define LIM_QUEUES	4
#define LIM_REQS	8		/* per queue: 8 MiB, the queue's budget */
#define LIM_LEN		(1 << 20)

/*
 * The guest's budget (64 MiB) holds across its devices: 8 disks of 4 queues,
 * each queue full of 1 MiB writes, could make 256 MiB.  Every request still
 * completes: a queue that found the budget spent is woken when another's
 * requests give theirs back.
 */
START_TEST(a_guests_devices_share_one_data_budget)
{
	static struct vx_vdev disks[LIM_DISKS];
	char paths[LIM_DISKS][256];
	uint8_t *buf, *meta;
	uint64_t buf_dma, meta_dma;
	long rss_before, peak;
	unsigned int d, q, i, done = 0, total = LIM_DISKS * LIM_QUEUES * LIM_REQS;
	uint32_t len;

	g = guest_create(host.sim_dir, 1, 0, 16384);
	ck_assert_ptr_nonnull(g);
	for (d = 0; d < LIM_DISKS; d++) {
		attach_disk(g, d + 1, "w", "4", "copy", paths[d]);
		ck_assert_int_eq(vdev_connect(&disks[d], g, d + 1, LIM_QUEUES, all_features), 0);
	}
	buf = guest_alloc(g, LIM_LEN);
	meta = guest_alloc(g, total * 128);
	ck_assert(buf && meta);
	fill_pattern(buf, LIM_LEN, 4);
	ck_assert_int_eq(guest_dma_map(g, buf, LIM_LEN, true, &buf_dma), 0);
	ck_assert_int_eq(guest_dma_map(g, meta, total * 128, false, &meta_dma), 0);
	rss_before = harness_daemon_status_kb(&host, "VmRSS:");

	/* Per request 128 bytes of meta: the header, then the status at 64. */
	for (i = 0; i < total; i++) {
		struct vx_vdev *vd = &disks[i / (LIM_QUEUES * LIM_REQS)];
		struct driver_vq *vq = &vd->vqs[i / LIM_REQS % LIM_QUEUES];
		uint8_t *p = meta + i * 128;
		uint64_t m = meta_dma + i * 128;

		*(struct virtio_blk_outhdr *)p = (struct virtio_blk_outhdr){
			.type = htole32(VIRTIO_BLK_T_OUT), .sector = htole64(i % LIM_REQS * 2048) };
		p[64] = 0xff;
		ck_assert_int_ge(dvq_add(vq, (const struct dvq_buf []){
			{ m, 16, false }, { buf_dma, LIM_LEN, false }, { m + 64, 1, true } },
			3, p), 0);
	}
	for (d = 0; d < LIM_DISKS; d++)
		for (q = 0; q < LIM_QUEUES; q++)
			dvq_kick(&disks[d].vqs[q]);
	for (int ms = 0; ms < 4 * PATIENCE_MS && done < total; ms++) {
		bool any = false;

		for (d = 0; d < LIM_DISKS; d++) {
			for (q = 0; q < LIM_QUEUES; q++) {
				uint8_t *p = dvq_get(&disks[d].vqs[q], &len);

				if (!p)
					continue;
				ck_assert_int_eq(p[64], VIRTIO_BLK_S_OK);
				done++;
				any = true;
			}
		}
		if (!any)
			usleep(1000);
	}
	ck_assert_uint_eq(done, total);
	peak = harness_daemon_status_kb(&host, "VmHWM:");
	printf("%u writes of 1 MiB on %u queues of one guest: daemon resident %ld KiB before, peak %ld KiB\n",
	       total, LIM_DISKS * LIM_QUEUES, rss_before, peak);
	/* 64 MiB of data, and what the daemon holds besides; 121 MiB without the cap. */
	ck_assert_msg(!memory_measurable() || peak - rss_before < 96 * 1024,
		      "daemon peak grew by %ld KiB",
		      peak - rss_before);
	for (d = 0; d < LIM_DISKS; d++)
		ck_assert_int_eq(vdev_read_status(&disks[d]) & VX_S_NEEDS_RESET, 0);
}
END_TEST

/* The toolstack's 65th device of one guest is refused, with a reason. */
START_TEST(a_guest_has_at_most_64_devices)
{
	char path[256], *err;
	struct vx_vdev vd;
	unsigned int i;

	g = new_guest(1);
	for (i = 1; i <= 65; i++)
		attach_disk(g, i, "r", "1", "copy", path);
	ck_assert(vx_ts_wait_backend(g->xs, 0, 1, 65, closing_or_closed, PATIENCE_MS));
	err = xs_read(g->xs, XBT_NULL, "/local/domain/0/backend/virtio/1/65/error", &i);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "64 devices"), "error '%s'", err);
	free(err);
	/* The first 64 are served. */
	ck_assert_int_eq(vdev_probe(&vd, g, 64), 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
}
END_TEST

struct storm {
	struct sim_port *port;
	volatile bool stop;
	unsigned long kicks;
};

static void *kick_storm(void *arg)
{
	struct storm *s = arg;

	while (!s->stop) {
		sim_evtchn_notify(s->port);
		s->kicks++;
	}
	return NULL;
}

/* Kicks with nothing new in the ring, in a loop: the daemon pauses, serves the rest. */
START_TEST(a_kick_storm_costs_the_daemon_little)
{
	struct storm s = { 0 };
	uint8_t data[4096], got[4096];
	double cpu0, cpu1;
	pthread_t t;

	two_disks(all_features);
	s.port = victim.vqs[0].port;
	ck_assert_int_eq(pthread_create(&t, NULL, kick_storm, &s), 0);
	usleep(200000);
	cpu0 = harness_daemon_cpu_s(&host);
	sleep(2);
	cpu1 = harness_daemon_cpu_s(&host);
	/* The bystander is served meanwhile, and so is the kicker, once it adds buffers. */
	fill_pattern(data, sizeof(data), 8);
	ck_assert_int_eq(vblk_do(&bystander, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_OUT, 0, data, sizeof(data)), 0);
	ck_assert_int_eq(vblk_do(&victim, 0, VIRTIO_BLK_T_IN, 0, got, sizeof(got)), 0);
	ck_assert(!memcmp(data, got, sizeof(got)));
	s.stop = true;
	pthread_join(t, NULL);
	printf("kick storm: %.0f kicks/s, the daemon used %.2f s of CPU in 2 s\n",
	       s.kicks / 2.2, cpu1 - cpu0);
	ck_assert_msg(cpu1 - cpu0 < 0.5, "the daemon used %.2f s of CPU in 2 s", cpu1 - cpu0);
	ck_assert_int_eq(vdev_read_status(&victim) & VX_S_NEEDS_RESET, 0);
}
END_TEST

/* Device 1's refused FEATURES_OK lines the log printed, plus those it counted as suppressed. */
static long refusals_accounted(void)
{
	char line[512];
	long n = 0;
	FILE *f = fopen(host.log, "r");
	char *p;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "d1 virtio/1: FEATURES_OK refused"))
			n++;
		else if ((p = strstr(line, "d1 virtio/1: ")) && strstr(p, " log lines suppressed"))
			n += strtol(p + strlen("d1 virtio/1: "), NULL, 10);
	}
	fclose(f);
	return n;
}

/* A guest repeating a bad request gets its device's lines rate-limited, counted. */
START_TEST(a_guest_cannot_flood_the_log)
{
	const uint8_t want = VX_S_ACKNOWLEDGE | VX_S_DRIVER | VX_S_FEATURES_OK;
	int i, lines;

	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	attach_disk(g, 2, "w", "1", "copy", disk2);
	ck_assert_int_eq(vdev_connect(&bystander, g, 2, 1, all_features), 0);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	for (i = 0; i < 300; i++) {
		ck_assert_int_ge(vdev_set_status(&victim, 0), 0);
		ck_assert_int_ge(vdev_set_status(&victim, VX_S_ACKNOWLEDGE | VX_S_DRIVER), 0);
		vdev_write(&victim, "driver-features", "%s", "lots");
		ck_assert_int_eq(vdev_set_status(&victim, want) & VX_S_FEATURES_OK, 0);
	}
	lines = harness_log_count(&host, "d1 virtio/1: FEATURES_OK refused");
	printf("300 refused FEATURES_OK requests: %d log lines\n", lines);
	ck_assert_int_ge(lines, 1);
	ck_assert_int_le(lines, 50);
	/*
	 * Each refusal is printed or counted: once the interval is over, the
	 * count comes without another line of the device's to bring it.
	 */
	for (i = 0; i < PATIENCE_MS && refusals_accounted() < 300; i += 100)
		poll(NULL, 0, 100);
	ck_assert_int_ge(refusals_accounted(), 300);
	/* The other device's lines are its own. */
	ck_assert_int_eq(harness_log_count(&host, "d1 virtio/2: log lines suppressed"), 0);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		head_descriptor_index_out_of_range,
		descriptor_chain_that_loops,
		available_index_that_jumps,
		indirect_descriptor_not_negotiated,
		buffer_grant_never_granted,
		read_only_grant_for_a_device_write,
		address_without_the_grant_bit,
		length_that_overflows_is_an_io_error_only,
		queue_size_not_a_power_of_two,
		queue_size_over_the_maximum,
		ring_address_malformed,
		ring_address_not_granted,
		num_queues_over_max_queues,
		driver_features_malformed_are_refused,
		descriptor_table_misaligned,
		driver_area_misaligned,
		device_area_misaligned,
		value_with_a_nul_inside_is_malformed,
		request_type_with_high_bits_is_unsupported,
		empty_writable_descriptor_before_readable_ones,
		direct_descriptors_then_an_indirect_table_are_served,
		many_large_requests_hold_bounded_memory,
		a_guest_cannot_flood_the_log,
		a_guests_devices_share_one_data_budget,
		a_guest_has_at_most_64_devices,
		a_kick_storm_costs_the_daemon_little,
		pool_never_granted,
		pool_granted_read_only,
		pool_over_pool_max_pages,
		pool_key_missing,
		pool_pages_malformed,
		pool_overlapping_another_devices_pool,
		buffer_half_inside_the_pool,
		pool_keys_changed_while_the_queues_run,
		pool_revoked_while_mapped,
	};

	return run_suite("hostile", tests, sizeof(tests) / sizeof(tests[0]));
}
