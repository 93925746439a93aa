/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading a fuzz target's input in order; what is missing reads as zeros. */
#ifndef VX_FUZZ_INPUT_H
#define VX_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct image {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t take8(struct image *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static inline uint16_t take16(struct image *in)
{
	return take8(in) | (uint16_t)take8(in) << 8;
}

static inline void take(struct image *in, void *buf, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(buf, in->p, n);
	memset((uint8_t *)buf + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

#endif
