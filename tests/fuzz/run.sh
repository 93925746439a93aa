#!/bin/bash
# make fuzz: builds each libFuzzer target with clang (ASan, UBSan, leak
# checks) and runs it for $FUZZ_SECONDS seconds from its seed corpus in the
# tree; new inputs it finds are kept in the build directory.  Exits non-zero
# on any crash, leak, sanitizer report, timeout or out-of-memory, with the
# input that did it saved as fuzz/<target>/crash-* (or leak-*, timeout-*).
#
# Usage: run.sh SRCDIR OUTDIR SECONDS [TARGET...]
set -euo pipefail
src=$(cd "$1" && pwd)
out=$2
seconds=$3
shift 3
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null ||
	{ echo "fuzz: $cc not found (apt-get install clang libclang-rt-dev)" >&2; exit 1; }

cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-fno-omit-frame-pointer -D_GNU_SOURCE -DHOTPLUG_DIR=\"/nonexistent\" -Wall -Werror
	-I$src/common -I$src/backend -I$src/tools -I$src/tests/fuzz"
common="$src/common/xsvalue.c"
tools="$src/tools/diskspec.c $src/tools/nicspec.c $src/tools/spec.c"

# target: its sources (besides tests/fuzz/<target>.c) and libraries
declare -A sources=(
	[fuzz-virtqueue]="$src/common/virtqueue.c $common"
	[fuzz-xsvalue]="$common"
	[fuzz-specs]="$tools $common"
	[fuzz-guestcfg]="$src/tools/guestcfg.c $src/tools/xlcfg.c $tools $common"
	[fuzz-saved-devices]="$src/tools/saved-devices.c $src/tools/xs-domains.c
		$src/tools/spec.c $common -lxenstore"
	[fuzz-net]="$src/tests/fuzz/fake-device.c $src/backend/guest_mem.c $src/backend/guest_limits.c
		$src/common/virtqueue.c $common -lxenstore -luring -lpthread"
	[fuzz-record]="$src/backend/record.c $src/tests/fuzz/fake-device.c $src/backend/guest_mem.c
		$src/common/virtqueue.c $common -lxenstore -lpthread"
	[fuzz-blk]="$src/backend/blk.c $src/backend/guest_mem.c $src/backend/guest_limits.c
		$src/tests/fuzz/fake-device.c
		$src/common/virtqueue.c $common -luring -lpthread"
)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-virtqueue fuzz-xsvalue fuzz-specs fuzz-guestcfg
				    fuzz-saved-devices fuzz-blk fuzz-net fuzz-record)

status=0
for t in "${targets[@]}"; do
	[ -n "${sources[$t]:-}" ] || { echo "fuzz: no target $t" >&2; exit 1; }
	mkdir -p "$out/$t/corpus"
	# shellcheck disable=SC2086
	"$cc" $cflags -o "$out/$t/$t" "$src/tests/fuzz/$t.c" ${sources[$t]}
	seeds="$src/tests/fuzz/corpus/$t"
	[ -d "$seeds" ] || seeds=
	dict=()
	[ -f "$src/tests/fuzz/$t.dict" ] && dict=(-dict="$src/tests/fuzz/$t.dict")
	log="$out/$t/fuzz.log"
	echo "-- $t: $seconds s"
	# The first corpus directory gets what is new; the seeds stay as they are.
	if (cd "$out/$t" && ASAN_OPTIONS=detect_leaks=1 \
		"./$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "${dict[@]}" corpus $seeds >"$log" 2>&1); then
		grep -hE '^stat::number_of_executed_units|^Done ' "$log" | tail -n 1
		echo "   $(ls "$out/$t/corpus" | wc -l) inputs in its corpus"
	else
		echo "fuzz: $t failed; the input is in $out/$t:"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5
		tail -n 40 "$log"
		status=1
	fi
done
exit $status
