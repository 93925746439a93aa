# shellcheck shell=sh
# Not tests: the same workloads through our devices and Xen's own (blkback,
# netback), in the same guest and run, printed as E2E-BENCH ratios.

# Not a test: the same TCP transfers over our nic and over netback's vif.
mbs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms ? 32 * 1.048576 * 1000 / ms : 0 }'; }

test_bench_nic_vs_vif() {
	ensure_nic
	xl network-attach $GUEST bridge=xenbr0 mac=$VIF_MAC || fail "xl network-attach"
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		n=$(nic '$VIF_MAC')
		ip link set $n up
		ip addr add 10.99.1.2/24 dev $n
		ping -c 2 -W 5 10.99.1.1 >/dev/null
		echo "vif $n up"') || { echo "$out"; fail "the vif in the guest"; }
	for way in from to; do
		v=$(tcp_${way}_guest $( [ $way = from ] && echo 10.99.0.1 || echo 10.99.0.2)) || { echo "$v"; fail "virtio $way"; }
		x=$(tcp_${way}_guest $( [ $way = from ] && echo 10.99.1.1 || echo 10.99.1.2)) || { echo "$x"; fail "vif $way"; }
		echo "E2E-BENCH: tcp $way guest (32 MiB): virtio-xenbus $(mbs "$v") MB/s, netback $(mbs "$x") MB/s, ratio $(awk -v a="$v" -v b="$x" 'BEGIN { printf "%.2f", a ? b / a : 0 }')" |
			tee /dev/console
	done
	xl network-detach $GUEST $VIF_MAC || true
}

# Not a test: the same dd workloads on our vda and on blkback's xvda in the
# same guest and run, as ratios (emulation makes absolute figures meaningless).
test_bench_vda_vs_xvda() {
	ensure_guest
	out=$(guest_run 600 "$FIND_DISK"'
		set -e
		vda=$(disk 524288)
		ms() { echo $(( $(cut -d" " -f1 /proc/uptime | tr -d .) * 10 )); }
		# rate LABEL OP NAME BS COUNT UNITS: UNITS per second of a direct dd.
		rate() {
			t0=$(ms)
			if [ $2 = write ]; then
				dd if=/dev/zero of=/dev/$dev bs=$4 count=$5 oflag=direct 2>/dev/null
			else
				dd if=/dev/$dev of=/dev/null bs=$4 count=$5 iflag=direct 2>/dev/null
			fi
			echo "$1 $3 $(( $6 * 1000 / ($(ms) - t0 + 1) ))"
		}
		for pair in $vda:virtio xvda:blkback; do
			dev=${pair%:*}
			for op in write read; do
				rate ${pair#*:} $op $op 1M 64 64
				rate ${pair#*:} $op ${op}4k 4k 2048 2048
			done
		done') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	for op in write read write4k read4k; do
		v=$(echo "$out" | awk -v op=$op '$1 == "virtio" && $2 == op { print $3 }')
		x=$(echo "$out" | awk -v op=$op '$1 == "blkback" && $2 == op { print $3 }')
		unit=MB/s
		case $op in *4k) unit=IOPS ;; esac
		# On the serial line too: run.sh prints these with the results.
		echo "E2E-BENCH: $op: virtio-xenbus $v $unit, blkback $x $unit, ratio $(awk -v a="$v" -v b="$x" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" |
			tee /dev/console
	done
}
