#!/bin/sh
# Runs checkpatch.pl --strict (from Debian's linux-source-6.1) on the module.
# Fails on any error or warning, and on any CHECK except CamelCase of Xen's
# own XenbusState* constants, which checkpatch flags in every xenbus driver.
set -eu
cd "$(dirname "$0")/.."
src=/usr/src/linux-source-6.1.tar.xz
tree=${CHECKPATCH_TREE:-build/ksrc}
if [ ! -x "$tree/scripts/checkpatch.pl" ]; then
	[ -f "$src" ] || { echo "check-kernel-style: install linux-source-6.1" >&2; exit 1; }
	mkdir -p "$tree"
	tar -xJf "$src" -C "$tree" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi
out=$("$tree/scripts/checkpatch.pl" --strict --no-tree --terse --show-types -f \
	frontend/transport.c frontend/grant_dma.c frontend/virtio_xenbus.h frontend/Kbuild || true)
echo "$out"
bad=$(echo "$out" | grep -E ': (ERROR|WARNING|CHECK):' |
	grep -vE 'CHECK:CAMELCASE: Avoid CamelCase: <XenbusState[A-Za-z]*>' || true)
if [ -n "$bad" ]; then
	echo "check-kernel-style: checkpatch --strict found problems" >&2
	exit 1
fi
echo "check-kernel-style: checkpatch --strict clean (XenbusState CamelCase aside)"
