#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Debian's Linux 7.x header packages lack the kernel's scripts/checker-valid.sh,
# without which Kbuild skips sparse (C=1) with only a warning.  This one
# answers Kbuild's question as the kernel's does: prints 1 if the checker,
# with its flags, can check C that uses __typeof_unqual__, which 7.x's
# headers use under sparse (__CHECKER__).
tmp=$(mktemp --suffix=.c)
trap 'rm -f "$tmp"' EXIT
printf 'static const int c;\nstatic __typeof_unqual__(c) v;\nint f(void) { v = c; return v; }\n' >"$tmp"
# sparse exits 0 after errors: what it says is the answer.
out=$("$@" "$tmp" 2>&1) && [ -z "$out" ] && echo 1
