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

bool vx_parse_dec(const char *s, uint64_t max, uint64_t *out);
bool vx_parse_hex64(const char *s, uint64_t *out);
/* Hex bytes, two digits each; *len gets the byte count, at most @max. */
bool vx_parse_hexbytes(const char *s, uint8_t *buf, size_t max, size_t *len);
bool vx_is_power_of_two(uint64_t v);

/* @out must hold 2 * len + 1 bytes. */
void vx_format_hexbytes(const uint8_t *buf, size_t len, char *out);

#endif
