#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Debian's Linux 7.x header packages lack the kernel's scripts/checker-valid.sh,
# without which Kbuild skips sparse (C=1) with only a warning.  This one
# answers Kbuild's question as the kernel's does: prints 1 if the checker,
# with its flags, can check an empty C file.
"$@" -E -x c /dev/null >/dev/null 2>&1 && echo 1
