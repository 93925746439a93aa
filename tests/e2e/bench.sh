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

# Guest shell: fio_run DEV RW BS DEPTH prints "IOPS KiB/s" of 6 s of
# direct I/O on /dev/DEV (terse output: reads in fields 7-8, writes 48-49).
FIO_RUN='
fio_run() {
	fio --name=b --filename=/dev/$1 --direct=1 --ioengine=io_uring --rw=$2 --bs=$3 \
		--iodepth=$4 --ramp_time=1 --runtime=6 --time_based \
		--output-format=terse --terse-version=3 2>/dev/null |
		awk -F";" "/^3;/ { if (\$8 > 0) print \$8, \$7; else print \$49, \$48 }"
}'

# bench_pair MEDIUM VIRTIO XEN: the same fio jobs on our disk VIRTIO and
# blkback's XEN in the guest, each figure beside the other as E2E-BENCH.
bench_pair() {
	out=$(guest_run 900 "$FIO_RUN"'
		for job in "randread 4k 1" "randread 4k 32" "randwrite 4k 1" "randwrite 4k 32" \
			   "read 1M 32" "write 1M 32"; do
			set -- $job
			echo "$1-$2-qd$3 $(fio_run '"$2"' $1 $2 $3) $(fio_run '"$3"' $1 $2 $3)"
		done') || { echo "$out"; fail "fio in the guest ($1)"; }
	echo "$out"
	echo "$out" | while read -r job v vk x xk; do
		case $job in *-4k-*) f="$v IOPS / $x IOPS"; a=$v b=$x ;; *) f="$vk KiB/s / $xk KiB/s"; a=$vk b=$xk ;; esac
		[ -n "$b" ] || continue
		echo "E2E-BENCH: fio $job on $1: virtio-xenbus / blkback $f, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" |
			tee /dev/console
	done
	[ "$(echo "$out" | grep -c '^[a-z]*-[0-9a-zA-Z]*-qd[0-9]* [0-9]')" = 6 ] || fail "fio gave no figures ($1)"
}

# Not a test: fio on our disk and on blkback's in the same guest and run,
# as ratios (emulation makes absolute figures meaningless): both on
# null_blk in dom0 (faster than either path: it measures the paths), and
# both on a file of dom0's (vda, and xvda on a loop device).
test_bench_vda_vs_xvda() {
	ensure_guest
	modprobe null_blk nr_devices=2 gb=1 queue_mode=2 irqmode=0 || fail "no null_blk in dom0"
	virtio-xenbus disk-attach $GUEST /dev/nullb0,raw,vdn || fail "disk-attach of nullb0"
	xl block-attach $GUEST phy:/dev/nullb1,xvdn,w || fail "xl block-attach of nullb1"
	n=$(guest_run 60 "$FIND_DISK"'
		for i in $(seq 150); do [ -b /dev/xvdn ] && break; sleep 0.2; done
		wait_disk 2097152') || fail "the null_blk disks are not in the guest"
	[ -b /dev/nullb0 ] && [ -n "$n" ] || fail "no virtio null_blk disk in the guest"
	bench_pair null_blk "$n" xvdn
	bench_pair "a file (vda: /srv/disk1.img, xvda: a loop device on /srv/xvda.img)" \
		"$(guest_run 20 "$FIND_DISK"' disk 524288')" xvda
	virtio-xenbus disk-detach $GUEST vdn || fail "disk-detach of nullb0"
	xl block-detach $GUEST xvdn || fail "xl block-detach of nullb1"
	# Busy until both backends let go.
	wait_for 30 rmmod null_blk || fail 'null_blk still in use after both detaches'
}
