// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "protocol.h"
#include "xsvalue.h"

bool vx_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || !len || (s[0] == '0' && len > 1))
		return false;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = s[i] - '0';
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool vx_parse_hex64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
		return false;
	for (i = 2; i < len; i++) {
		int d = hex_digit(s[i]);

		if (d < 0)
			return false;
		v = (v << 4) | (unsigned int)d;
	}
	*out = v;
	return true;
}

bool vx_parse_hexbytes(const char *s, size_t len, uint8_t *buf, size_t max,
		       size_t *nbytes)
{
	size_t i;

	if (!s || len % 2 || len / 2 > max)
		return false;
	for (i = 0; i < len / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	*nbytes = len / 2;
	return true;
}

void vx_format_hexbytes(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * len] = '\0';
}

bool vx_is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

bool vx_valid_ifname(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.-") == n;
}

bool vx_parse_xl_virtio_type(const char *type, uint32_t *device_id)
{
	size_t prefix = strlen(VX_XL_VIRTIO_TYPE), n;
	uint32_t id = 0;
	const char *p;

	if (!vx_is_xl_virtio_type(type))
		return false;
	p = type + prefix;
	n = strlen(p);
	if (!n || n > 8 || p[0] == '0' || strspn(p, "0123456789abcdef") != n)
		return false;
	for (; *p; p++)
		id = id << 4 | (uint32_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
	*device_id = id;
	return true;
}

bool vx_grant_range(uint64_t addr, uint64_t len, struct vx_grant_range *r)
{
	uint64_t ref, offset, npages;

	if (!(addr & VX_GRANT_ADDR_FLAG) || (addr & VX_GRANT_ADDR_MBZ) || !len)
		return false;
	ref = (addr & ~VX_GRANT_ADDR_FLAG) >> VX_PAGE_SHIFT;
	offset = addr & (VX_PAGE_SIZE - 1);
	if (len > UINT32_MAX)
		return false;
	npages = (offset + len + VX_PAGE_SIZE - 1) >> VX_PAGE_SHIFT;
	if (ref + npages - 1 > UINT32_MAX)
		return false;
	r->first_ref = (uint32_t)ref;
	r->npages = (uint32_t)npages;
	r->offset = (uint32_t)offset;
	return true;
}
