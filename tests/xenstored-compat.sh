#!/bin/sh
# The simulated hypervisor's xenstored is Debian's own, unmodified: check it
# with Xen's own test-xenstore, as a user of real Xen would.
set -eu
[ -x "${TEST_XENSTORE:-}" ] || { echo "test-xenstore not installed"; exit 77; }
dir=$(mktemp -d /tmp/vx-xs.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
# shellcheck disable=SC2086 # configure's options, one word each
XENSTORED_RUNDIR=$dir LD_PRELOAD=$NOHV_SO "$XENSTORED" $XENSTORED_OPTS \
	>"$dir/xenstored.log" 2>&1 &
pid=$!
# It makes its socket before it listens: wait for an answer, or its end.
for i in $(seq 6000); do
	XENSTORED_PATH=$dir/socket xenstore-ls / >/dev/null 2>&1 && break
	kill -0 $pid 2>/dev/null || { cat "$dir/xenstored.log"; echo "xenstored ended"; exit 1; }
	sleep 0.01
done
XENSTORED_PATH=$dir/socket timeout 120 "$TEST_XENSTORE" >"$dir/test.log" 2>&1 || {
	cat "$dir/test.log"; echo "test-xenstore failed"; exit 1; }
tail -n 3 "$dir/test.log"
echo "1 passed, 0 failed"
