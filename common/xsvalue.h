/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Strict parsers and formatters for xenstore values (protocol.md 1.4).
 * Each parser returns false, and leaves *out alone, for anything that is not
 * exactly a well-formed value within its limit.
 */
#ifndef VX_XSVALUE_H
#define VX_XSVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * @s holds @len bytes, as xs_read returns them: the length is the value's,
 * so a NUL inside it makes the value malformed ("2\0xyz" is not 2).
 */
bool vx_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out);
bool vx_parse_hex64(const char *s, size_t len, uint64_t *out);
/* Hex bytes, two digits each; *nbytes gets the byte count, at most @max. */
bool vx_parse_hexbytes(const char *s, size_t len, uint8_t *buf, size_t max,
		       size_t *nbytes);

/* A C string of a command line or a config file; NULL is malformed. */
static inline bool vx_parse_dec_str(const char *s, uint64_t max, uint64_t *out)
{
	return s && vx_parse_dec(s, strlen(s), max, out);
}
bool vx_is_power_of_two(uint64_t v);

/* A Linux network interface name: 1..15 of [A-Za-z0-9_.-], not . or .. */
bool vx_valid_ifname(const char *s);

/*
 * libxl's `type` of a virtio = [ ... ] device, "virtio,device" and the
 * virtio device ID in lowercase hex without leading zeros (protocol.md
 * 1.6); false for anything else, "virtio,device" alone included.
 */
bool vx_parse_xl_virtio_type(const char *type, uint32_t *device_id);

/* @out must hold 2 * len + 1 bytes. */
void vx_format_hexbytes(const uint8_t *buf, size_t len, char *out);

#endif
