// SPDX-License-Identifier: GPL-2.0-only
/* protocol.md 1.4 (value rules) and 3 (grant addresses). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "xsvalue.h"
#include "../check-run.h"

/* A literal's bytes, NULs inside included, as xs_read would return them. */
#define DEC(lit, max, v)	vx_parse_dec(lit, sizeof(lit) - 1, max, v)
#define HEX(lit, v)		vx_parse_hex64(lit, sizeof(lit) - 1, v)
#define BYTES(lit, buf, max, n)	vx_parse_hexbytes(lit, sizeof(lit) - 1, buf, max, n)

START_TEST(decimal_accepts_only_plain_digits)
{
	uint64_t v = 42;

	ck_assert(DEC("0", 10, &v) && v == 0);
	ck_assert(DEC("255", 255, &v) && v == 255);
	ck_assert(DEC("4294967295", UINT32_MAX, &v) && v == UINT32_MAX);
	ck_assert(DEC("16", 16, &v) && v == 16);
	v = 7;
	ck_assert(!DEC("256", 255, &v));
	/* A single digit over a small maximum (the subtraction must not wrap). */
	ck_assert(!DEC("2", 1, &v));
	ck_assert(!DEC("17", 16, &v));
	ck_assert(!DEC("4294967296", UINT32_MAX, &v));
	ck_assert(!DEC("18446744073709551616", UINT64_MAX, &v));
	ck_assert(!DEC("", 10, &v));
	ck_assert(!vx_parse_dec(NULL, 0, 10, &v));
	ck_assert(!vx_parse_dec_str(NULL, 10, &v));
	ck_assert(!DEC("-1", 10, &v));
	ck_assert(!DEC("+1", 10, &v));
	ck_assert(!DEC(" 1", 10, &v));
	ck_assert(!DEC("1 ", 10, &v));
	ck_assert(!DEC("01", 10, &v));
	ck_assert(!DEC("0x1", 10, &v));
	ck_assert_uint_eq(v, 7);	/* untouched on failure */
}
END_TEST

START_TEST(hex_needs_prefix_and_at_most_16_digits)
{
	uint64_t v = 0;

	ck_assert(HEX("0x1", &v) && v == 1);
	ck_assert(HEX("0xFFFFffffFFFFffff", &v) && v == UINT64_MAX);
	ck_assert(HEX("0x8000000100002000", &v) &&
		  v == 0x8000000100002000ULL);
	ck_assert(!HEX("0x", &v));
	ck_assert(!HEX("1", &v));
	ck_assert(!HEX("0x10000000000000000", &v));
	ck_assert(!HEX("0xg", &v));
	ck_assert(!HEX("0x1 ", &v));
	ck_assert(!vx_parse_hex64(NULL, 0, &v));
}
END_TEST

START_TEST(config_hex_bytes_round_trip_and_limits)
{
	uint8_t in[4] = { 0x00, 0x7f, 0x80, 0xff }, out[4];
	char s[9];
	size_t len;

	vx_format_hexbytes(in, 4, s);
	ck_assert_str_eq(s, "007f80ff");
	ck_assert(vx_parse_hexbytes(s, strlen(s), out, 4, &len) && len == 4);
	ck_assert_mem_eq(in, out, 4);
	ck_assert(!BYTES("007f80ff", out, 3, &len));
	ck_assert(!BYTES("007", out, 4, &len));
	ck_assert(!BYTES("0g", out, 4, &len));
	ck_assert(BYTES("", out, 4, &len) && len == 0);
}
END_TEST

/* xenstore values carry a length: a NUL inside one is not its end. */
START_TEST(a_nul_inside_a_value_makes_it_malformed)
{
	uint8_t out[4];
	uint64_t v = 7;
	size_t n;

	ck_assert(!DEC("2\0xyz", 10, &v));
	ck_assert(!DEC("2\0", 10, &v));
	ck_assert(!DEC("\0", 10, &v));
	ck_assert(!HEX("0x1\0", &v));
	ck_assert(!HEX("0x\0" "1", &v));
	ck_assert_uint_eq(v, 7);
	ck_assert(!BYTES("00\0\0", out, 4, &n));
	ck_assert(!BYTES("0\0", out, 4, &n));
	/* The length is the value's: bytes past it are not read. */
	ck_assert(vx_parse_dec("123", 2, 100, &v) && v == 12);
}
END_TEST

START_TEST(grant_address_encoding_matches_grant_dma_ops)
{
	struct vx_grant_range r;

	/* bit 63, reference << 12, page offset */
	ck_assert_uint_eq(vx_grant_addr(0x1234, 0x56), 0x8000000001234056ULL);
	ck_assert(vx_grant_range(0x8000000001234056ULL, 100, &r));
	ck_assert_uint_eq(r.first_ref, 0x1234);
	ck_assert_uint_eq(r.offset, 0x56);
	ck_assert_uint_eq(r.npages, 1);
	/* A buffer over several pages uses consecutive references. */
	ck_assert(vx_grant_range(vx_grant_addr(10, 4000), 200, &r));
	ck_assert_uint_eq(r.npages, 2);
	ck_assert(vx_grant_range(vx_grant_addr(10, 0), 3 * 4096, &r));
	ck_assert_uint_eq(r.npages, 3);
}
END_TEST

START_TEST(grant_address_rejections)
{
	struct vx_grant_range r;

	ck_assert(!vx_grant_range(0x1234000, 16, &r));		/* no bit 63 */
	ck_assert(!vx_grant_range(0x8000100000000000ULL, 16, &r)); /* bit 44 */
	ck_assert(!vx_grant_range(0xc000000000000000ULL, 16, &r)); /* bit 62 */
	ck_assert(!vx_grant_range(vx_grant_addr(1, 0), 0, &r));	/* empty */
	/* references past 2^32 - 1 */
	ck_assert(vx_grant_range(vx_grant_addr(UINT32_MAX, 0), 4096, &r));
	ck_assert(!vx_grant_range(vx_grant_addr(UINT32_MAX, 0), 4097, &r));
	ck_assert(!vx_grant_range(vx_grant_addr(1, 0), 1ULL << 40, &r));
}
END_TEST

START_TEST(xl_virtio_type_is_libxls_device_tree_compatible)
{
	uint32_t id = 7;

	ck_assert(vx_parse_xl_virtio_type("virtio,device1", &id));
	ck_assert_uint_eq(id, 1);
	/* The virtio device ID in lowercase hex: 0x22 is i2c. */
	ck_assert(vx_parse_xl_virtio_type("virtio,device22", &id));
	ck_assert_uint_eq(id, 0x22);
	ck_assert(vx_parse_xl_virtio_type("virtio,deviceffffffff", &id));
	ck_assert_uint_eq(id, UINT32_MAX);
	id = 7;
	ck_assert(!vx_parse_xl_virtio_type("virtio,device", &id));	/* found at run time */
	ck_assert(!vx_parse_xl_virtio_type("virtio,device01", &id));
	ck_assert(!vx_parse_xl_virtio_type("virtio,device2A", &id));
	ck_assert(!vx_parse_xl_virtio_type("virtio,device100000000", &id));
	ck_assert(!vx_parse_xl_virtio_type("virtio,device1 ", &id));
	ck_assert(!vx_parse_xl_virtio_type("net", &id));
	ck_assert(!vx_parse_xl_virtio_type(NULL, &id));
	ck_assert_uint_eq(id, 7);
}
END_TEST

START_TEST(interface_names_are_what_linux_takes)
{
	ck_assert(vx_valid_ifname("xenbr0"));
	ck_assert(vx_valid_ifname("vif1.0-emu_x"));
	ck_assert(vx_valid_ifname("abcdefghijklmno"));		/* 15 */
	ck_assert(!vx_valid_ifname("abcdefghijklmnop"));	/* 16 */
	ck_assert(!vx_valid_ifname(""));
	ck_assert(!vx_valid_ifname("."));
	ck_assert(!vx_valid_ifname(".."));
	ck_assert(!vx_valid_ifname("br/0"));
	ck_assert(!vx_valid_ifname("br 0"));
	ck_assert(!vx_valid_ifname(NULL));
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		decimal_accepts_only_plain_digits,
		hex_needs_prefix_and_at_most_16_digits,
		config_hex_bytes_round_trip_and_limits,
		a_nul_inside_a_value_makes_it_malformed,
		grant_address_encoding_matches_grant_dma_ops,
		grant_address_rejections,
		xl_virtio_type_is_libxls_device_tree_compatible,
		interface_names_are_what_linux_takes,
	};

	return RUN_TESTS("xsvalue", tests, NULL, NULL, 0);
}
