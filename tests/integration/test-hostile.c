// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile guests (protocol.md 2.4 and 4.1): each breaks one rule on one
 * device.  That device must end in NEEDS_RESET with an `error` key and a log
 * line naming it; the daemon and a second device of the same guest keep
 * working, and the broken device recovers with a reset.
 */
#include <errno.h>
#include <signal.h>

#include "common.h"

static struct vx_guest *g;
static struct vx_vdev victim, bystander;
static char disk1[256], disk2[256];

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

	ck_assert_int_eq(vdev_reset(&victim), 0);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
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

static void bogus_queue_key(const char *key, const char *value)
{
	g = new_guest(1);
	attach_disk(g, 1, "w", "1", "copy", disk1);
	attach_disk(g, 2, "w", "1", "copy", disk2);
	ck_assert_int_eq(vdev_connect(&bystander, g, 2, 1, all_features), 0);
	ck_assert_int_eq(vdev_probe(&victim, g, 1), 0);
	ck_assert_int_eq(vdev_negotiate(&victim, victim.features), 0);
	ck_assert_int_eq(vdev_setup_queues(&victim, 1, 64), 0);
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
	};

	return run_suite("hostile", tests, sizeof(tests) / sizeof(tests[0]));
}
