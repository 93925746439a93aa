# shellcheck shell=sh
# Not tests: the same workloads through our devices and Xen's own (blkback,
# netback), in the same guest and run, printed as E2E-BENCH ratios.

# Not a test: the same TCP transfers and UDP floods over our nic and over
# netback's vif.
mbs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms ? 32 * 1.048576 * 1000 / ms : 0 }'; }

# perf_start / perf_stop WHAT: with E2E_PERF, where dom0's CPUs spent their
# time in between (every process and the kernel, sampled), the top of it
# in the test's log.
perf_start() {
	[ -f /payload/perf ] || return 0
	perf record -a -F 499 -o /tmp/perf.data >/dev/null 2>&1 &
	perf_pid=$!
	sleep 1
}
perf_stop() {
	[ -n "${perf_pid:-}" ] || return 0
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	perf_pid=
	echo "== perf, dom0, all CPUs: $1"
	perf report -i /tmp/perf.data --stdio --sort comm,dso,sym 2>/dev/null |
		grep -v -e '^#' -e '^$' | head -n 40
}

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
	hz=$(getconf CLK_TCK)
	# dom0's ends of the two paths, on the bridge.
	tap=$(ls /sys/class/net/xenbr0/brif | grep -m 1 "^vxif$(domid)\.")
	vif=$(ls /sys/class/net/xenbr0/brif | grep -m 1 "^vif$(domid)\.")
	[ -n "$tap" ] && [ -n "$vif" ] || fail "no TAP or vif of $GUEST on xenbr0"
	for way in from to; do
		# The queue the frames cross: receiveq1 toward the guest, transmitq1 from it.
		qn=$( [ $way = from ] && echo 1 || echo 0)
		c0=$(nic_queue_counts $qn) t0=$(daemon_ticks)
		perf_start
		v=$(udp_flood $way $( [ $way = from ] && echo 10.99.0.1 || echo 10.99.0.2) "$tap") ||
			{ echo "$v"; fail "virtio udp $way"; }
		perf_stop "udp $way guest, virtio-xenbus"
		c1=$(nic_queue_counts $qn) t1=$(daemon_ticks)
		perf_start
		x=$(udp_flood $way $( [ $way = from ] && echo 10.99.1.1 || echo 10.99.1.2) "$vif") ||
			{ echo "$x"; fail "vif udp $way"; }
		perf_stop "udp $way guest, netback"
		echo "E2E-BENCH: udp $way guest ($UDP_BYTES-byte datagrams, one sender, $UDP_S s): $(echo "$v $x" |
			awk -v s=$UDP_S '{ printf "virtio-xenbus %.1f kpps (%.0f%% of sent), netback %.1f kpps (%.0f%%), ratio %.2f",
				$1 / s / 1e3, $2 ? 100 * $1 / $2 : 0, $9 / s / 1e3, $10 ? 100 * $9 / $10 : 0, $9 ? $1 / $9 : 0 }')" |
			tee /dev/console
		# Who was the limit: the sender's side busy, or waiting on the other.
		echo "E2E-BENCH: udp $way guest, CPU while sending: $(echo "$v $x" |
			awk -v hz="$hz" 'function cpu(g0, d0, w0, g1, d1, w1) {
					w = (w1 - w0) / 1e9
					return sprintf("the guest %.0f%% of a CPU, dom0 %.0f%%", w ? 100 * (g1 - g0) / 1000 / w : 0,
						w ? 100 * (d1 - d0) / hz / w : 0)
				}
				{ printf "virtio-xenbus: %s; netback: %s", cpu($3, $4, $5, $6, $7, $8),
					cpu($11, $12, $13, $14, $15, $16) }')" | tee /dev/console
		# Where our path's time goes: kicks and interrupts per frame, the daemon's CPU.
		echo "E2E-BENCH: udp $way guest, virtio-xenbus queue $qn: $(echo "$c0 $c1" |
			awk -v t=$((t1 - t0)) -v hz="$hz" -v s=$UDP_S '{ f = $4 - $1; printf "%d frames, %.2f kicks and %.2f interrupts a frame, the daemon %.0f%% of a CPU",
				f, f ? ($5 - $2) / f : 0, f ? ($6 - $3) / f : 0, 100 * t / hz / s }')" | tee /dev/console
	done
	xl network-detach $GUEST $VIF_MAC || true
}

# nic_queue_counts Q: "FRAMES KICKS INTERRUPTS" of queue Q of the guest's
# virtio nic, as virtio-xenbus list shows them.
nic_queue_counts() {
	virtio-xenbus list "$GUEST" | awk -v q="queue $1:" 'index($0, q) && /frames/ {
		sub(/.*queue [0-9]+: /, ""); gsub(/[,;]/, ""); print $1, $9, $11; exit }'
}

UDP_BYTES=18	# a 64-byte Ethernet frame
# Guest shell: the datagrams its UDP sockets had no room for (RcvbufErrors).
UDP_ERRORS="awk '/^Udp:/ && ++n == 2 { print \$6 }' /proc/net/snmp"
UDP_S=5

# cpu_marks: the guest's CPU time (ms, all its vcpus, as xl counts it), dom0's
# busy ticks (all its CPUs) and the time (ns).
cpu_marks() {
	echo "$(xl list "$GUEST" | awk 'NR == 2 { printf "%d", $6 * 1000 }')" \
		"$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)" "$(date +%s%N)"
}

# udp_flood from|to IP DEV: one sender's UDP_BYTES datagrams for UDP_S s from the
# guest to dom0's IP, or to the guest's; prints "RECEIVED SENT" and the
# cpu_marks before and after the sending.  udpflood's receiver ends once the
# datagrams stop.  Toward the guest, over dom0's interface DEV, also says
# where the rest was lost.
udp_flood() {
	if [ $1 = to ]; then
		e0=$(guest_run 20 'rm -f /tmp/udp.out; (udpflood recv 5003 >/tmp/udp.out 2>&1 &) >/dev/null 2>&1
			for i in $(seq 100); do grep -q listening /tmp/udp.out && break; sleep 0.1; done
			grep -q listening /tmp/udp.out && '"$UDP_ERRORS") ||
			{ echo "the guest's receiver did not start"; return 1; }
		d0=$(cat /sys/class/net/$3/statistics/tx_dropped)
		m0=$(cpu_marks)
		sent=$("$E2E/udpflood" send "$2" 5003 $UDP_S $UDP_BYTES | awk '/^sent/ { print $2 }')
		m1=$(cpu_marks)
		d1=$(cat /sys/class/net/$3/statistics/tx_dropped)
		out=$(guest_run 90 'while pidof udpflood >/dev/null; do sleep 0.2; done; cat /tmp/udp.out; '"$UDP_ERRORS")
		got=$(echo "$out" | awk '/^received/ { print $2 }')
		echo "E2E-BENCH: udp to guest over $3: $((d1 - d0)) datagrams lost at dom0's $3 (its queue full)," \
			"$(($(echo "$out" | tail -n 1) - e0)) at the guest's socket (its buffer full)" | tee /dev/console >&2
	else
		rm -f /tmp/udp.out
		"$E2E/udpflood" recv 5003 >/tmp/udp.out 2>&1 &
		rpid=$!
		wait_for 10 grep -q listening /tmp/udp.out || { kill $rpid; echo "dom0's receiver did not start"; return 1; }
		m0=$(cpu_marks)
		sent=$(guest_run_after $UDP_S 60 "udpflood send $2 5003 $UDP_S $UDP_BYTES" |
			awk '/^sent/ { print $2 }')
		m1=$(cpu_marks)
		wait_for 90 sh -c "! kill -0 $rpid" || { kill $rpid; echo "dom0's receiver did not end"; return 1; }
		got=$(awk '/^received/ { print $2 }' /tmp/udp.out)
	fi
	[ -n "$got" ] && [ -n "$sent" ] || { echo "udpflood gave no figures"; return 1; }
	echo "$got $sent $m0 $m1"
}

# Guest shell: fio_run DEV RW BS DEPTH prints "IOPS KiB/s" of 6 s of direct
# I/O on /dev/DEV, after 1 s of ramp (dom0 asks for them after 7 s), from
# fio's terse output: reads in fields 7-8, writes 48-49.
FIO_RUN='
fio_run() {
	fio --name=b --filename=/dev/$1 --direct=1 --ioengine=io_uring --rw=$2 --bs=$3 \
		--iodepth=$4 --ramp_time=1 --runtime=6 --time_based \
		--output-format=terse --terse-version=3 2>/dev/null |
		awk -F";" "/^3;/ { if (\$8 > 0) print \$8, \$7; else print \$49, \$48 }"
}'

# The daemon's CPU time so far, in clock ticks (user and system).
daemon_ticks() { awk '{ print $14 + $15 }' /proc/"$(daemon_pid)"/stat; }

# bench_pair MEDIUM VIRTIO XEN JOB...: each fio JOB ("RW BS DEPTH") on our
# disk VIRTIO, then on blkback's XEN, in the guest; each figure beside the
# other as E2E-BENCH, with the share of a CPU the daemon used on ours.
bench_pair() {
	medium=$1 v=$2 x=$3
	shift 3
	hz=$(getconf CLK_TCK)
	for job in "$@"; do
		# shellcheck disable=SC2086 # RW BS DEPTH
		set -- $job
		perf_start
		t0=$(date +%s%N) c0=$(daemon_ticks)
		a=$(guest_run_after 7 120 "$FIO_RUN"'
			fio_run '"$v $1 $2 $3") || { echo "$a"; fail "fio on $v ($medium)"; }
		cpu=$(awk -v c="$(($(daemon_ticks) - c0))" -v hz="$hz" -v ns="$(($(date +%s%N) - t0))" \
			'BEGIN { printf "%.0f", 100 * c / hz / (ns / 1e9) }')
		perf_stop "$job on $v ($medium)"
		perf_start
		b=$(guest_run_after 7 120 "$FIO_RUN"'
			fio_run '"$x $1 $2 $3") || { echo "$b"; fail "fio on $x ($medium)"; }
		perf_stop "$job on $x ($medium)"
		echo "$1-$2-qd$3: $v $a, $x $b, daemon ${cpu}% of a CPU"
		# shellcheck disable=SC2086 # IOPS KiB/s
		set -- $a $b
		[ $# = 4 ] || fail "fio gave no figures for $job ($medium)"
		case $job in *" 4k "*) f="$1 IOPS / $3 IOPS" r=$(awk -v a="$1" -v b="$3" 'BEGIN { printf "%.2f", b ? a / b : 0 }') ;;
		*) f="$2 KiB/s / $4 KiB/s" r=$(awk -v a="$2" -v b="$4" 'BEGIN { printf "%.2f", b ? a / b : 0 }') ;; esac
		echo "E2E-BENCH: fio $(echo "$job" | tr ' ' -) on $medium: virtio-xenbus / blkback $f, ratio $r (the daemon used ${cpu}% of a CPU)" |
			tee /dev/console
	done
}

BENCH_JOBS="randread 4k 1:randread 4k 32:randwrite 4k 1:randwrite 4k 32:read 1M 32:write 1M 32"

# attach_null POOL_PAGES: our disk on dom0's nullb0 again, the guest's
# module making its pool of POOL_PAGES (-1: its default); its name.
attach_null() {
	virtio-xenbus disk-detach $GUEST vdn >/dev/null 2>&1
	guest_run 30 "$FIND_DISK"'
		for i in $(seq 50); do [ -z "$(disk 2097152)" ] && break; sleep 0.2; done
		echo '"$1"' >/sys/module/virtio_xenbus/parameters/pool_pages' >/dev/null ||
		fail "cannot set pool_pages=$1"
	virtio-xenbus disk-attach $GUEST /dev/nullb0,raw,vdn >/dev/null || fail "disk-attach of nullb0"
	guest_run 60 "$FIND_DISK"'
		wait_disk 2097152' || fail "nullb0 is not in the guest"
}

# Not a test: fio on our disk and on blkback's in the same guest and run,
# as ratios (emulation makes absolute figures meaningless): both on
# null_blk in dom0 (faster than either path: it measures the paths), and
# both on a file of dom0's (vda, and xvda on a loop device).  On null_blk
# also the large requests with the module's pool off and at 16 MiB (which
# holds four of them): what a request costs in the pool and out of it.
test_bench_vda_vs_xvda() {
	ensure_guest
	modprobe null_blk nr_devices=2 gb=1 queue_mode=2 irqmode=0 || fail "no null_blk in dom0"
	xl block-attach $GUEST phy:/dev/nullb1,xvdn,w || fail "xl block-attach of nullb1"
	guest_run 60 'for i in $(seq 150); do [ -b /dev/xvdn ] && exit 0; sleep 0.2; done; exit 1' ||
		fail "xvdn is not in the guest"
	n=$(attach_null -1)
	IFS=:
	# shellcheck disable=SC2086 # the jobs, split at the colons
	set -- $BENCH_JOBS
	unset IFS
	bench_pair null_blk "$n" xvdn "$@"
	# At depth 4 a 4096-page pool holds every 1 MiB request: the pool
	# path alone, beside none at all.
	for pages in 0 4096; do
		n=$(attach_null $pages)
		bench_pair "null_blk, pool_pages=$pages" "$n" xvdn "read 1M 32" "read 1M 4" "write 1M 4"
	done
	attach_null -1 >/dev/null
	IFS=:
	# shellcheck disable=SC2086
	set -- $BENCH_JOBS
	unset IFS
	bench_pair "a file (vda: /srv/disk1.img, xvda: a loop device on /srv/xvda.img)" \
		"$(guest_run 20 "$FIND_DISK"'
			disk 524288')" xvda "$@"
	virtio-xenbus disk-detach $GUEST vdn || fail "disk-detach of nullb0"
	xl block-detach $GUEST xvdn || fail "xl block-detach of nullb1"
	# Busy until both backends let go.
	wait_for 30 rmmod null_blk || fail 'null_blk still in use after both detaches'
}

# Not a test (run by name, with HAP: E2E_CPU=qemu64,+svm,+npt, Xen 4.18+):
# a PVH guest with xl's virtio nic and a netback vif, migrated to this host
# once while dom0 pings each every 0.2 s: how long each nic was silent.
test_bench_pvh_migration_downtime() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest8
	{ pvh_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
virtio = [ "type=virtio,device1,transport=mmio" ]
vif = [ "bridge=xenbr0,mac=$VIF_MAC" ]
CFG
	xl create /tmp/$GUEST.cfg || fail "xl create"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	out=$(guest_run 120 "$XL_NIC
$FIND_NIC"'
		set -e
		xl_nic 10.99.0.8
		n=$(nic '$VIF_MAC')
		ip link set $n up
		ip addr add 10.99.1.8/24 dev $n
		ping -c 2 -W 5 10.99.1.1 >/dev/null') || { echo "$out"; fail "the nics in $GUEST"; }
	busybox ping -i 0.2 -W 1 10.99.0.8 >/tmp/ping-virtio.out 2>&1 &
	p1=$!
	busybox ping -i 0.2 -W 1 10.99.1.8 >/tmp/ping-vif.out 2>&1 &
	p2=$!
	sleep 3
	xl migrate -s "" $GUEST "xl migrate-receive" >/tmp/xl.out 2>&1 || { cat /tmp/xl.out; kill $p1 $p2; fail "xl migrate"; }
	wait_for 120 guest_run 20 true || { kill $p1 $p2; fail "the migrated $GUEST's agent does not answer"; }
	sleep 5
	kill $p1 $p2
	v=$(silent_s /tmp/ping-virtio.out)
	x=$(silent_s /tmp/ping-vif.out)
	[ "$(grep -c 'bytes from' /tmp/ping-virtio.out)" -gt 10 ] && [ "$(grep -c 'bytes from' /tmp/ping-vif.out)" -gt 10 ] ||
		fail "a nic hardly answered: $(tail -n 2 /tmp/ping-virtio.out /tmp/ping-vif.out)"
	echo "E2E-BENCH: live migration of a PVH guest to this host, longest silence of 0.2 s pings: virtio-xenbus nic $v s, netback vif $x s, ratio (virtio-xenbus / netback) $(awk -v a="$v" -v b="$x" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" |
		tee /dev/console
	xl destroy $GUEST
}

# counter_log DEVICE OUT: dom0's time of each change of the counter the
# guest writes at DEVICE's start, read past the page cache every 0.1 s.
counter_log() {
	last=
	while :; do
		v=$(dd if="$1" bs=512 count=1 iflag=direct 2>/dev/null | tr -d '\0' | head -n 1)
		[ "$v" = "$last" ] || { echo "$(date +%s.%N) $v"; last=$v; }
		sleep 0.1
	done >"$2"
}

# still_s OUT: the longest time a counter_log saw no change, in s.
still_s() {
	awk 'NR > 1 && $1 - last > gap { gap = $1 - last } { last = $1 } END { printf "%.1f", gap }' "$1"
}

# Not a test (run by name, with HAP: E2E_CPU=qemu64,+svm,+npt, Xen 4.18+):
# a PVH guest made by virtio-xenbus create with our disk and nic beside
# blkback's disk and a netback vif, moved once by virtio-xenbus migrate to
# this host while the guest writes a counter to each disk as fast as it can
# and dom0 pings each nic every 0.2 s: how long each device was still.
test_bench_tool_migration_downtime() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest9
	mac=00:16:3e:e2:e0:09
	rm -f /srv/g9.img /srv/g9-xvdb.img
	truncate -s 16M /srv/g9.img /srv/g9-xvdb.img
	loop=$(losetup -f --show /srv/g9-xvdb.img) || fail "losetup"
	{ pvh_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
disk = [ "phy:$loop,xvdb,w" ]
vif = [ "bridge=xenbr0,mac=$VIF_MAC" ]
virtio_disk = [ "/srv/g9.img,raw,vda,rw" ]
virtio_nic = [ "mac=$mac,bridge=xenbr0" ]
CFG
	virtio-xenbus create -e /tmp/$GUEST.cfg || fail "virtio-xenbus create $GUEST"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	out=$(guest_run 120 "$FIND_NIC
$FIND_DISK"'
		set -e
		for m in '$mac' '$VIF_MAC'; do ip link set $(nic $m) up; done
		ip addr add 10.99.0.9/24 dev $(nic '$mac')
		ip addr add 10.99.1.9/24 dev $(nic '$VIF_MAC')
		ping -c 2 -W 5 10.99.0.1 >/dev/null
		ping -c 2 -W 5 10.99.1.1 >/dev/null
		v=$(wait_disk 32768)
		[ -n "$v" ] && [ -b /dev/xvdb ] || { echo "no vda or xvdb"; exit 1; }
		for d in $v xvdb; do
			(i=0; while :; do i=$((i + 1))
				echo $i | dd of=/dev/$d bs=512 count=1 conv=sync oflag=direct 2>/dev/null
			done) >/dev/null 2>&1 &
		done
		echo counting') || { echo "$out"; fail "the devices in $GUEST"; }
	counter_log /srv/g9.img /tmp/count-virtio.out &
	c1=$!
	counter_log "$loop" /tmp/count-xvdb.out &
	c2=$!
	busybox ping -i 0.2 -W 1 10.99.0.9 >/tmp/ping-virtio.out 2>&1 &
	p1=$!
	busybox ping -i 0.2 -W 1 10.99.1.9 >/tmp/ping-vif.out 2>&1 &
	p2=$!
	sleep 3
	virtio-xenbus migrate -s "" $GUEST "virtio-xenbus migrate-receive -e" >/tmp/mig.out 2>&1 ||
		{ cat /tmp/mig.out; kill $c1 $c2 $p1 $p2; fail "virtio-xenbus migrate"; }
	wait_for 120 guest_run 20 true || { kill $c1 $c2 $p1 $p2; fail "the migrated $GUEST's agent does not answer"; }
	sleep 5
	kill $c1 $c2 $p1 $p2
	for f in count-virtio count-xvdb; do
		[ "$(wc -l </tmp/$f.out)" -gt 20 ] || fail "a disk hardly counted: $(tail -n 3 /tmp/$f.out)"
	done
	for f in ping-virtio ping-vif; do
		[ "$(grep -c 'bytes from' /tmp/$f.out)" -gt 10 ] || fail "a nic hardly answered: $(tail -n 2 /tmp/$f.out)"
	done
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
	v=$(still_s /tmp/count-virtio.out)
	x=$(still_s /tmp/count-xvdb.out)
	echo "E2E-BENCH: virtio-xenbus migrate of a PVH guest to this host, longest time a disk's counter (512-byte O_DIRECT writes back to back, read by dom0 every 0.1 s) stood still: virtio-xenbus vda on a file $v s, blkback xvdb on a loop device $x s, ratio (virtio-xenbus / blkback) $(ratio "$v" "$x")" |
		tee /dev/console
	v=$(silent_s /tmp/ping-virtio.out)
	x=$(silent_s /tmp/ping-vif.out)
	echo "E2E-BENCH: virtio-xenbus migrate of a PVH guest to this host, longest silence of 0.2 s pings: virtio-xenbus nic $v s, netback vif $x s, ratio (virtio-xenbus / netback) $(ratio "$v" "$x")" |
		tee /dev/console
	xl destroy $GUEST
	wait_for 30 sh -c "! xl domid $GUEST" || fail "$GUEST is not destroyed"
	losetup -d "$loop"
	rm -f /srv/g9.img /srv/g9-xvdb.img
}
