// SPDX-License-Identifier: GPL-2.0-only
/*
 * The xenstore value parsers (common/xsvalue.c), given the bytes and the
 * length xs_read returns, NULs and all.  What one accepts must be exactly
 * well-formed: it formats back to the same bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "xsvalue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	uint8_t bytes[VX_MAX_CONFIG_LEN], back_bytes[VX_MAX_CONFIG_LEN];
	char back[2 * VX_MAX_CONFIG_LEN + 1];
	struct vx_grant_range r;
	size_t n;
	uint64_t v;

	if (vx_parse_dec(s, size, UINT64_MAX, &v)) {
		snprintf(back, sizeof(back), "%" PRIu64, v);
		if (strlen(back) != size || memcmp(back, s, size))
			abort();
	}
	if (size && vx_parse_dec(s, size, data[0], &v) && v > data[0])
		abort();
	if (vx_parse_hex64(s, size, &v)) {
		if (size < 3 || size > 18 || memchr(s, 0, size))
			abort();
	}
	if (vx_parse_hexbytes(s, size, bytes, sizeof(bytes), &n)) {
		if (n * 2 != size || n > sizeof(bytes))
			abort();
		vx_format_hexbytes(bytes, n, back);
		if (!vx_parse_hexbytes(back, 2 * n, back_bytes, sizeof(back_bytes), &n) ||
		    memcmp(bytes, back_bytes, n))
			abort();
	}
	/* The C-string parsers, of the bytes up to the first NUL. */
	if (size < sizeof(back)) {
		uint32_t id;

		memcpy(back, s, size);
		back[size] = '\0';
		if (vx_parse_xl_virtio_type(back, &id)) {
			char again[32];

			snprintf(again, sizeof(again), VX_XL_VIRTIO_TYPE "%" PRIx32, id);
			if (strcmp(again, back))
				abort();
		}
		if (vx_valid_ifname(back) && (!*back || strlen(back) > 15 ||
					      strchr(back, '/') || strchr(back, ' ')))
			abort();
	}
	if (size >= 12) {
		uint64_t addr, len;

		memcpy(&addr, data, 8);
		len = (uint64_t)data[8] | (uint64_t)data[9] << 8 | (uint64_t)data[10] << 16 |
		      (uint64_t)data[11] << 24;
		if (vx_grant_range(addr, len, &r) &&
		    ((uint64_t)r.first_ref + r.npages - 1 > UINT32_MAX ||
		     (uint64_t)r.npages * VX_PAGE_SIZE < r.offset + len))
			abort();
	}
	return 0;
}
