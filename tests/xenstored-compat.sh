#!/bin/sh
# The simulated hypervisor's xenstored is Debian's own, unmodified: check it
# with Xen's own test-xenstore, as a user of real Xen would.
set -eu
[ -x "${TEST_XENSTORE:-}" ] || { echo "test-xenstore not installed"; exit 77; }
dir=$(mktemp -d /tmp/vx-xs.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
XENSTORED_RUNDIR=$dir LD_PRELOAD=$NOHV_SO "$XENSTORED" --no-fork --internal-db \
	>"$dir/xenstored.log" 2>&1 &
pid=$!
for i in $(seq 500); do [ -S "$dir/socket" ] && break; sleep 0.01; done
XENSTORED_PATH=$dir/socket timeout 120 "$TEST_XENSTORE" >"$dir/test.log" 2>&1 || {
	cat "$dir/test.log"; echo "test-xenstore failed"; exit 1; }
tail -n 3 "$dir/test.log"
echo "1 passed, 0 failed"
