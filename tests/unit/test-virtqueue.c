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
	make_available(0);
	ck_assert(vq_enable_kicks_at(&vq, seen));
	/* The same chains, in the same order, then the new one. */
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 0);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 1);
	ck_assert_int_eq(vq_pop_chain(&vq, &chain), 1);
	ck_assert_uint_eq(chain.head, 0);
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
		indirect_without_negotiation_is_rejected,
		indirect_table_is_walked,
		bad_indirect_descriptors_are_rejected,
		used_entries_are_published_and_event_idx_respected,
		no_interrupt_flag_respected_without_event_idx,
		unpopped_chains_come_back_and_kicks_wait_for_new_ones,
	};

	return RUN_TESTS("virtqueue", tests, NULL, NULL, 0);
}
