// SPDX-License-Identifier: GPL-2.0-only
/* protocol.md 4.1: the device-side virtqueue and its rules, on rings in local memory. */
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "virtqueue.h"
#include "../check-run.h"

#define QSZ 8

static struct vring_desc desc[QSZ];
static struct { uint16_t flags, idx, ring[QSZ], used_event; } avail;
static struct { uint16_t flags, idx; struct vring_used_elem ring[QSZ]; uint16_t avail_event; } used;
static struct vring_desc table[QSZ * 2];	/* an "indirect table" in guest memory */
static struct vq vq;
static struct vq_seg segs[QSZ];
static struct vq_chain chain = { .segs = segs };

static int read_table(void *opaque, uint64_t addr, void *buf, size_t len)
{
	if (addr != 0x8000000000001000ULL || len > sizeof(table))
		return -1;
	memcpy(buf, table, len);
	return 0;
}

static void setup(bool indirect, bool event_idx)
{
	vq_destroy(&vq);	/* the previous setup's, in the same test */
	memset(desc, 0, sizeof(desc));
	memset(&avail, 0, sizeof(avail));
	memset(&used, 0, sizeof(used));
	memset(table, 0, sizeof(table));
	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, event_idx, indirect), 0);
	vq.read_guest = read_table;
}

static void set_desc(struct vring_desc *d, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	d[i].addr = htole64(addr);
	d[i].len = htole32(len);
	d[i].flags = htole16(flags);
	d[i].next = htole16(next);
}

static void make_available(uint16_t head)
{
	avail.ring[avail.idx % QSZ] = htole16(head);
	avail.idx++;
}

START_TEST(chain_is_read_in_order_with_lengths)
{
	setup(false, false);
	set_desc(desc, 2, 0x8000000000005000ULL, 16, VRING_DESC_F_NEXT, 5);
	set_desc(desc, 5, 0x8000000000006000ULL, 4096,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(desc, 1, 0x8000000000007000ULL, 1, VRING_DESC_F_WRITE, 0);
	make_available(2);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 2);
	ck_assert_uint_eq(chain.nsegs, 3);
	ck_assert_uint_eq(chain.readable_len, 16);
	ck_assert_uint_eq(chain.writable_len, 4097);
	ck_assert(!segs[0].device_writes && segs[1].device_writes);
	ck_assert_uint_eq(segs[2].addr, 0x8000000000007000ULL);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 0);
}
END_TEST

START_TEST(head_index_out_of_range_is_rejected)
{
	setup(false, false);
	make_available(QSZ);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "out of range"));
}
END_TEST

START_TEST(next_index_out_of_range_is_rejected)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 16, VRING_DESC_F_NEXT, 200);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "out of range"));
}
END_TEST

START_TEST(looping_chain_is_rejected)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 16, VRING_DESC_F_NEXT, 1);
	set_desc(desc, 1, 0x8000000000001000ULL, 16, VRING_DESC_F_NEXT, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "loops"));
}
END_TEST

START_TEST(available_index_jump_is_rejected)
{
	setup(false, false);
	avail.idx = QSZ + 1;
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "jumped"));
}
END_TEST

START_TEST(readable_after_writable_is_rejected)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(desc, 1, 0x8000000000001000ULL, 16, 0, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "readable descriptor after a writable"));
}
END_TEST

/* The order is of descriptors, not bytes: an empty writable one counts. */
START_TEST(empty_writable_before_readable_is_rejected)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(desc, 1, 0x8000000000002000ULL, 16, VRING_DESC_F_NEXT, 2);
	set_desc(desc, 2, 0x8000000000003000ULL, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "readable descriptor after a writable"));
}
END_TEST

/* virtio 1.2, 2.7.5.3.2: direct descriptors, then one indirect, MUST be handled. */
START_TEST(direct_descriptors_then_an_indirect_one_are_walked)
{
	setup(true, false);
	set_desc(desc, 4, 0x8000000000009000ULL, 16, VRING_DESC_F_NEXT, 6);
	/* Its WRITE flag is to be ignored. */
	set_desc(desc, 6, 0x8000000000001000ULL, 32,
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	set_desc(table, 0, 0x800000000000a000ULL, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(table, 1, 0x800000000000b000ULL, 1, VRING_DESC_F_WRITE, 0);
	make_available(4);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 4);
	ck_assert_uint_eq(chain.nsegs, 3);
	ck_assert_uint_eq(chain.readable_len, 16);
	ck_assert_uint_eq(chain.writable_len, 513);
	ck_assert_uint_eq(segs[0].addr, 0x8000000000009000ULL);
	ck_assert(segs[1].device_writes && segs[1].addr == 0x800000000000a000ULL);
	ck_assert_uint_eq(segs[2].addr, 0x800000000000b000ULL);
}
END_TEST

START_TEST(direct_and_indirect_together_longer_than_the_queue_are_rejected)
{
	unsigned int i;

	setup(true, false);
	for (i = 0; i < 4; i++)
		set_desc(desc, i, 0x8000000000009000ULL, 16, VRING_DESC_F_NEXT, i + 1);
	set_desc(desc, 4, 0x8000000000001000ULL, 16 * QSZ, VRING_DESC_F_INDIRECT, 0);
	for (i = 0; i < QSZ; i++)
		set_desc(table, i, 0x800000000000a000ULL, 1, VRING_DESC_F_WRITE |
			 (i + 1 < QSZ ? VRING_DESC_F_NEXT : 0), i + 1);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "longer than the queue"));
}
END_TEST

START_TEST(indirect_without_negotiation_is_rejected)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 32, VRING_DESC_F_INDIRECT, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_ptr_nonnull(strstr(vq.error, "not negotiated"));
}
END_TEST

START_TEST(indirect_table_is_walked)
{
	setup(true, false);
	set_desc(table, 0, 0x8000000000009000ULL, 16, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, 0x800000000000a000ULL, 1, VRING_DESC_F_WRITE, 0);
	set_desc(desc, 3, 0x8000000000001000ULL, 32, VRING_DESC_F_INDIRECT, 0);
	make_available(3);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 3);
	ck_assert_uint_eq(chain.nsegs, 2);
	ck_assert_uint_eq(segs[1].addr, 0x800000000000a000ULL);
	vq_destroy(&vq);
}
END_TEST

START_TEST(bad_indirect_descriptors_are_rejected)
{
	/* length not a multiple of 16, larger than the queue, NEXT, nested */
	static const struct { uint32_t len; uint16_t flags; bool nested; } cases[] = {
		{ 24, VRING_DESC_F_INDIRECT, false },
		{ 0, VRING_DESC_F_INDIRECT, false },
		{ 16 * (QSZ + 1), VRING_DESC_F_INDIRECT, false },
		{ 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, false },
		{ 32, VRING_DESC_F_INDIRECT, true },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(true, false);
		if (cases[i].nested)
			set_desc(table, 0, 0x8000000000001000ULL, 32,
				 VRING_DESC_F_INDIRECT, 0);
		set_desc(desc, 0, 0x8000000000001000ULL, cases[i].len,
			 cases[i].flags, 1);
		make_available(0);
		ck_assert_msg(vq_pop_chain(&vq, &chain) == -1, "case %u accepted", i);
		vq_destroy(&vq);
	}
}
END_TEST

START_TEST(used_entries_are_published_and_event_idx_respected)
{
	setup(false, true);
	set_desc(desc, 0, 0x8000000000001000ULL, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	vq_push_used(&vq, 0, 1);
	vq_publish_used(&vq);
	ck_assert_uint_eq(le16toh(used.idx), 1);
	ck_assert_uint_eq(le32toh(used.ring[0].id), 0);
	ck_assert(vq_should_notify(&vq));	/* first one always */
	/* The driver wants an interrupt only once used idx passes 5. */
	avail.used_event = htole16(5);
	vq_push_used(&vq, 0, 1);
	vq_publish_used(&vq);
	ck_assert(!vq_should_notify(&vq));
	/* Re-enabling kicks publishes avail_event = next index to consume. */
	ck_assert(!vq_enable_kicks(&vq));
	ck_assert_uint_eq(le16toh(used.avail_event), 1);
	make_available(0);
	ck_assert(vq_enable_kicks(&vq));
}
END_TEST

/*
 * A polling device (--poll-us) asks for no kicks: a driver following
 * virtio 1.2, 2.7.10 adds chains without one, whatever it had seen, until
 * the device asks again.
 */
START_TEST(polling_device_turns_kicks_off_and_on)
{
	uint16_t old, i;

	setup(false, true);
	for (i = 0; i < QSZ; i++)
		set_desc(desc, i, 0x8000000000001000ULL, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	vq_disable_kicks(&vq);
	for (i = 1; i < QSZ; i++) {
		old = avail.idx;
		make_available(i);
		ck_assert_msg(!vring_need_event(le16toh(used.avail_event), avail.idx, old),
			      "the driver kicks for chain %u", i);
	}
	/* On again: kicks for what comes after the chains taken (none yet). */
	ck_assert(vq_enable_kicks(&vq));
	ck_assert_uint_eq(vq_pending(&vq), QSZ - 1);
	for (i = 1; i < QSZ; i++) {
		ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
		vq_push_used(&vq, chain.head, 1);
	}
	vq_push_used(&vq, 0, 1);
	ck_assert(!vq_enable_kicks(&vq));
	old = avail.idx;
	make_available(0);
	ck_assert(vring_need_event(le16toh(used.avail_event), avail.idx, old));

	setup(false, false);
	vq_disable_kicks(&vq);
	ck_assert(le16toh(used.flags) & VRING_USED_F_NO_NOTIFY);
	ck_assert(!vq_enable_kicks(&vq));
	ck_assert_uint_eq(used.flags, 0);
}
END_TEST

START_TEST(no_interrupt_flag_respected_without_event_idx)
{
	setup(false, false);
	vq_push_used(&vq, 0, 1);
	vq_publish_used(&vq);
	ck_assert(vq_should_notify(&vq));
	avail.flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	ck_assert(!vq_should_notify(&vq));
}
END_TEST

/* A receive queue whose buffers are too small together for a frame (net.c). */
START_TEST(unpopped_chains_come_back_and_kicks_wait_for_new_ones)
{
	uint16_t seen;

	setup(false, true);
	set_desc(desc, 0, 0x8000000000001000ULL, 100, VRING_DESC_F_WRITE, 0);
	set_desc(desc, 1, 0x8000000000002000ULL, 100, VRING_DESC_F_WRITE, 0);
	make_available(0);
	make_available(1);
	seen = vq_avail_idx(&vq);
	ck_assert_uint_eq(seen, 2);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 0);
	vq_unpop(&vq, 2);
	ck_assert_uint_eq(vq_pending(&vq), 2);
	/* Kicks only for what comes after the chains seen: none yet. */
	ck_assert(!vq_enable_kicks_at(&vq, seen));
	ck_assert_uint_eq(le16toh(used.avail_event), 2);
	set_desc(desc, 2, 0x8000000000003000ULL, 100, VRING_DESC_F_WRITE, 0);
	make_available(2);
	ck_assert(vq_enable_kicks_at(&vq, seen));
	/* The same chains, in the same order, then the new one. */
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 2);
}
END_TEST

START_TEST(head_made_available_while_held_is_rejected)
{
	setup(false, false);
	set_desc(desc, 3, 0x8000000000001000ULL, 16, 0, 0);
	make_available(3);
	make_available(3);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), -1);
	ck_assert_msg(strstr(vq.error, "made available again"), "%s", vq.error);
	/* Once used, the driver may offer it again. */
	setup(false, false);
	set_desc(desc, 3, 0x8000000000001000ULL, 16, 0, 0);
	make_available(3);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	vq_push_used(&vq, 3, 0);
	vq_publish_used(&vq);
	make_available(3);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
}
END_TEST

static union {
	struct vq_inflight rec;
	uint8_t bytes[sizeof(struct vq_inflight) + QSZ];
} record;

/* Pops @n chains and returns a bit mask of their heads. */
static unsigned int pop_heads(unsigned int n)
{
	unsigned int mask = 0;

	while (n--) {
		ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
		mask |= 1u << chain.head;
	}
	return mask;
}

/*
 * A device process dies at any point; the next one, given the record, serves
 * exactly the chains the driver is still waiting for, then the ring's new
 * ones.  Chains 0..5 are offered; the first process takes five, completes
 * them out of order and publishes two, pushes one more without publishing,
 * and dies.
 */
START_TEST(restart_serves_the_held_chains_again_and_only_them)
{
	unsigned int i, held;

	setup(false, true);
	for (i = 0; i < 6; i++) {
		set_desc(desc, i, 0x8000000000001000ULL + (i << 12), 16, 0, 0);
		make_available(i);
	}
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, false), 0);
	ck_assert_uint_eq(pop_heads(5), 0x1f);
	vq_push_used(&vq, 3, 0);
	vq_push_used(&vq, 0, 0);
	vq_publish_used(&vq);
	vq_push_used(&vq, 4, 0);	/* never published: the driver waits */
	vq_destroy(&vq);

	/* The new process finds the rings as they are. */
	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, true, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), 0);
	ck_assert_uint_eq(vq_pending(&vq), 4);
	held = pop_heads(3);
	ck_assert_uint_eq(held, 1u << 1 | 1u << 2 | 1u << 4);
	/* Then the chain no process took, then nothing. */
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 5);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 0);

	/* It dies again having given back what it popped last (net.c's unpop). */
	vq_unpop(&vq, 2);
	vq_destroy(&vq);
	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, true, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), 0);
	ck_assert_uint_eq(pop_heads(4), 1u << 1 | 1u << 2 | 1u << 4 | 1u << 5);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 0);
}
END_TEST

/* Death between publishing used entries and clearing them in the record. */
START_TEST(restart_after_publish_clears_the_published_chains)
{
	setup(false, false);
	set_desc(desc, 0, 0x8000000000001000ULL, 16, 0, 0);
	set_desc(desc, 1, 0x8000000000002000ULL, 16, 0, 0);
	make_available(0);
	make_available(1);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, false), 0);
	ck_assert_uint_eq(pop_heads(2), 3);
	/* What vq_publish_used does before it clears the record. */
	vq_push_used(&vq, 1, 0);
	used.idx = htole16(1);
	vq_destroy(&vq);

	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, false, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), 0);
	ck_assert_uint_eq(record.rec.used_idx, 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 0);
}
END_TEST

START_TEST(a_record_of_another_ring_is_refused)
{
	setup(false, false);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, false), 0);
	vq_destroy(&vq);
	/* A used index the record cannot have led to. */
	used.idx = htole16(QSZ + 1);
	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, false, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), -1);
	ck_assert_msg(strstr(vq.error, "past the in-flight record"), "%s", vq.error);
	vq_destroy(&vq);
	/* A ring of another size. */
	used.idx = 0;
	ck_assert_int_eq(vq_init(&vq, QSZ / 2, desc, &avail, &used, false, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), -1);
	ck_assert_msg(strstr(vq.error, "queue of 8, not 4"), "%s", vq.error);
	vq_destroy(&vq);
	/* A used entry naming no head. */
	used.idx = htole16(1);
	used.ring[0].id = htole32(QSZ);
	ck_assert_int_eq(vq_init(&vq, QSZ, desc, &avail, &used, false, false), 0);
	ck_assert_int_eq(vq_attach_record(&vq, &record.rec, true), -1);
	ck_assert_msg(strstr(vq.error, "names head 8"), "%s", vq.error);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		chain_is_read_in_order_with_lengths,
		head_index_out_of_range_is_rejected,
		next_index_out_of_range_is_rejected,
		looping_chain_is_rejected,
		available_index_jump_is_rejected,
		readable_after_writable_is_rejected,
		empty_writable_before_readable_is_rejected,
		direct_descriptors_then_an_indirect_one_are_walked,
		direct_and_indirect_together_longer_than_the_queue_are_rejected,
		indirect_without_negotiation_is_rejected,
		indirect_table_is_walked,
		bad_indirect_descriptors_are_rejected,
		used_entries_are_published_and_event_idx_respected,
		polling_device_turns_kicks_off_and_on,
		no_interrupt_flag_respected_without_event_idx,
		unpopped_chains_come_back_and_kicks_wait_for_new_ones,
		head_made_available_while_held_is_rejected,
		restart_serves_the_held_chains_again_and_only_them,
		restart_after_publish_clears_the_published_chains,
		a_record_of_another_ring_is_refused,
	};

	return RUN_TESTS("virtqueue", tests, NULL, NULL, 0);
}
