/* SPDX-License-Identifier: GPL-2.0-only */
/* What the disk and nic spec parsers share. */
#ifndef VX_SPEC_H
#define VX_SPEC_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the reason into @err (@errlen bytes) and returns false. */
bool spec_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* @s without the white space around it (in place). */
char *spec_trim(char *s);

#endif
