#!/bin/sh
# The end-to-end tests, run in dom0 by dom0-init.  Each test prints
# "E2E-RESULT: PASS|FAIL name"; its output goes to /var/log/e2e/NAME.log.
# The guest runs guest-init, whose agent executes what guest_run sends.
set -u
LOG=/var/log/e2e
GUEST=guest1
DAEMON_LOG=$LOG/virtio-xenbusd.log
MiB=1048576

say() { echo "e2e: $*"; }

# run_test NAME FUNCTION: runs FUNCTION with its output in NAME.log.
# /payload/only, when not empty, names the tests to run (E2E_ONLY);
# /payload/skip names tests not to run (E2E_SKIP).
run_test() {
	if { [ -s /payload/only ] && ! grep -qw "$1" /payload/only; } ||
	   grep -qw "$1" /payload/skip 2>/dev/null; then
		return
	fi
	say "--- $1"
	if ("$2") >"$LOG/$1.log" 2>&1; then
		echo "E2E-RESULT: PASS $1"
	else
		echo "E2E-RESULT: FAIL $1"
		tail -n 40 "$LOG/$1.log" | sed 's/^/    /'
	fi
}

fail() {
	echo "FAILED: $*"
	exit 1
}

domid() { xl domid "$GUEST" 2>/dev/null; }

# Debian's xenstore-read (4.17) here now and then crashes on exit, after
# it printed the value, or never returns: bound it and retry.
xs_read() {
	for _ in 1 2 3 4 5; do
		v=$(timeout 10 xenstore-read "$@" 2>/dev/null) && { printf '%s\n' "$v"; return 0; }
	done
	return 1
}

xs_write() {
	for _ in 1 2 3 4 5; do
		timeout 10 xenstore-write "$@" && return 0
	done
	return 1
}

# guest_run TIMEOUT SCRIPT: runs SCRIPT in the guest, prints its output's
# tail, returns its exit status (124 on timeout).
guest_run() {
	timeout=$1
	shift
	d=$(domid) || { echo "guest $GUEST is not running"; return 125; }
	dir=/local/domain/$d/data
	seq=$(($(xs_read $dir/e2e-seq || echo 0) + 1))
	xs_write -R $dir/e2e-cmd "$*" $dir/e2e-seq $seq
	end=$(($(date +%s) + timeout))
	while [ "$(xs_read $dir/e2e-done)" != "$seq" ]; do
		if [ "$(date +%s)" -ge $end ]; then
			echo "guest command timed out after ${timeout}s: $*"
			echo "--- the guest's console:"
			tail -n 40 /var/log/xen/console/guest-$GUEST.log
			return 124
		fi
		sleep 0.2
	done
	xs_read -R $dir/e2e-out
	return "$(xs_read $dir/e2e-rc)"
}

# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.2
	done
}

daemon_pid() { cat /run/virtio-xenbusd.pid; }

start_daemon() {
	rm -f /run/virtio-xenbusd.pid
	virtio-xenbusd --foreground --pidfile /run/virtio-xenbusd.pid 2>>"$DAEMON_LOG" &
	wait_for 10 test -s /run/virtio-xenbusd.pid
}

# What the daemon holds of files under /srv, and how many threads it has.
daemon_files() { ls -l /proc/"$(daemon_pid)"/fd 2>/dev/null | grep -c ' /srv/'; }
daemon_threads() { ls /proc/"$(daemon_pid)"/task | wc -l; }
daemon_gntdev_maps() { grep -c gntdev /proc/"$(daemon_pid)"/maps; }
# How often the guest's nics announced themselves (protocol.md 6: at the
# first DRIVER_OK on each new TAP interface).
announcements() { grep -c "^.*d$(domid) virtio/[0-9]*: the guest announced itself" "$DAEMON_LOG"; }


# The devices of the guest as list shows them: type, vdev, target.
device_set() {
	virtio-xenbus list $GUEST | awk '$1 ~ /^[0-9]+$/ { t = $3 " " $4; for (i = 10; i <= NF; i++) t = t " " $i; print t }' | sort
}

all_connected() {
	virtio-xenbus list $GUEST >/tmp/list
	n=$(awk '$1 ~ /^[0-9]+$/' /tmp/list | wc -l)
	[ "$n" -gt 0 ] && [ "$(grep -c 'connected *connected' /tmp/list)" = "$n" ]
}

# ---- the guest ----

# guest_cfg DIR MEMORY VCPUS: the head of $GUEST's xl config, a PV guest on
# the kernel and initramfs in /payload/DIR (run.sh).
guest_cfg() {
	cat <<CFG
name = "$GUEST"
type = "pv"
kernel = "/payload/$1/vmlinuz"
ramdisk = "/payload/$1/initrd.gz"
extra = "console=hvc0 loglevel=4"
memory = $2
vcpus = $3
CFG
}

# The guest's config names its virtio disk as xl names its own disks;
# virtio-xenbus create makes it with xl, attaches the disk while the domain is
# paused (as at boot), unpauses it, and follows its reboots.
boot_guest() {
	{ guest_cfg guest 512 2; cat <<CFG; } >/tmp/$GUEST.cfg
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
disk = [ "phy:$XVDA_LOOP,xvda,w" ]
virtio_disk = [ "/srv/disk1.img,raw,vda,rw" ]
CFG
	virtio-xenbus create /tmp/$GUEST.cfg || fail "virtio-xenbus create"
	# The guest's console on the serial line too, as it happens.
	tail -F /var/log/xen/console/guest-$GUEST.log 2>/dev/null |
		sed -u 's/^/[guest-console] /' >/dev/console &
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		fail "the guest's agent did not start in 120 s"
}

# Another guest, $GUEST from /tmp/$GUEST.cfg, whose reboots nobody follows:
# made, and its agent up.
boot_extra_guest() {
	virtio-xenbus create -e /tmp/$GUEST.cfg || fail "virtio-xenbus create $GUEST"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
}

# Destroys $GUEST: its backend directories go, the daemon carries on.
destroy_extra_guest() {
	d=$(domid)
	xl destroy $GUEST
	wait_for 20 eval '[ -z "$(xenstore-list /local/domain/0/backend/virtio/$d 2>/dev/null)" ]' ||
		fail "$GUEST's backend directories are left"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
}

# ---- tests ----

test_daemon_starts() {
	start_daemon || fail "virtio-xenbusd did not start"
	sleep 1
	kill -0 "$(daemon_pid)" || fail "virtio-xenbusd exited"
	cat "$DAEMON_LOG"
	grep -q "xen hypervisor interface" "$DAEMON_LOG" || fail "not on the real Xen interface"
	daemon_threads >/run/e2e-base-threads
	echo "daemon threads at start: $(cat /run/e2e-base-threads)"
}

test_guest_boots_with_virtio_disk() {
	truncate -s 256M /srv/disk1.img
	truncate -s 256M /srv/xvda.img
	XVDA_LOOP=$(losetup -f --show /srv/xvda.img)
	boot_guest
	out=$(guest_run 60 'for i in $(seq 150); do [ -b /dev/vda ] && break; sleep 0.2; done
		cat /sys/block/vda/size /sys/block/vda/queue/logical_block_size
		cat /sys/block/vda/device/features; readlink /sys/block/vda/device/driver
		dmesg | grep -i -E "virtio|xenbus" | tail -n 20') || { echo "$out"; fail "no /dev/vda"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = $((256 * MiB / 512)) ] || fail "size is not 256 MiB"
	[ "$(echo "$out" | sed -n 2p)" = 512 ] || fail "logical block size is not 512"
	driver=$(echo "$out" | sed -n 4p)
	[ "${driver##*/}" = virtio_blk ] || fail "vda is driven by '$driver', not virtio_blk"
	virtio-xenbus list $GUEST | tee /tmp/list
	grep -q 'connected *connected' /tmp/list || fail "the device is not connected at both ends"
}

test_blk_filesystem_round_trip() {
	# The guest's busybox sh prefers its own applets: e2fsprogs by path.
	out=$(guest_run 300 'set -e
		/sbin/mke2fs -q -t ext4 /dev/vda
		mount /dev/vda /mnt
		dd if=/dev/urandom of=/mnt/data bs=1M count=32 2>/dev/null
		sync
		umount /mnt
		/sbin/e2fsck -fn /dev/vda
		mount -o ro /dev/vda /mnt
		sha256sum /mnt/data
		umount /mnt') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	gsha=$(echo "$out" | tail -n 1 | cut -d' ' -f1)
	e2fsck -fn /srv/disk1.img || fail "dom0's fsck of the image"
	debugfs -R "dump /data /tmp/data" /srv/disk1.img 2>/dev/null
	hsha=$(sha256sum /tmp/data | cut -d' ' -f1)
	echo "guest $gsha, dom0 $hsha"
	[ -n "$gsha" ] && [ "$gsha" = "$hsha" ] || fail "the file's checksum differs between guest and dom0"
}

test_blk_random_writes_read_back() {
	# 48 direct writes of 16 to 256 KiB (several pages: consecutive grants)
	# at random offsets, write i inside MiB i so that none overlap; each is
	# read back in the guest, then compared in dom0 (the agent returns 1500
	# bytes of output, so the lines are short).
	out=$(guest_run 300 'set -e
		i=0
		while [ $i -lt 48 ]; do
			kib=$(( (i % 4 + 1) * (i % 4 + 1) * 16 ))
			off=$(( i * 1024 + $(od -An -N2 -tu2 /dev/urandom) % 768 ))
			dd if=/dev/urandom of=/tmp/p bs=1024 count=$kib 2>/dev/null
			dd if=/tmp/p of=/dev/vda bs=1024 seek=$off oflag=direct conv=notrunc 2>/dev/null
			dd if=/dev/vda of=/tmp/r bs=1024 skip=$off count=$kib iflag=direct 2>/dev/null
			cmp /tmp/p /tmp/r
			echo "w $off $kib $(sha256sum </tmp/p | cut -c1-16)"
			i=$((i + 1))
		done') || { echo "$out"; fail "in the guest"; }
	echo "$out" | grep '^w ' >/tmp/writes || true
	bad=0
	n=0
	while read -r _ off kib sha; do
		got=$(dd if=/srv/disk1.img bs=1024 skip=$off count=$kib 2>/dev/null | sha256sum | cut -c1-16)
		n=$((n + 1))
		[ "$got" = "$sha" ] || { echo "dom0 sees other data at KiB $off (+$kib)"; bad=$((bad + 1)); }
	done </tmp/writes
	echo "$n writes compared in dom0"
	[ $n = 48 ] || fail "$n writes reported, not 48"
	[ $bad = 0 ] || fail "$bad ranges differ in dom0"
}

test_blk_flush_and_discard() {
	out=$(guest_run 120 'set -e
		cat /sys/block/vda/queue/write_cache /sys/block/vda/queue/discard_max_bytes
		dd if=/dev/urandom of=/dev/vda bs=1M seek=128 count=16 oflag=direct conv=fsync 2>/dev/null
		blkdiscard -o $((128 << 20)) -l $((16 << 20)) /dev/vda
		dd if=/dev/vda bs=1M skip=128 count=16 iflag=direct 2>/dev/null | tr -d "\0" | wc -c') ||
		{ echo "$out"; fail "in the guest"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = "write back" ] || fail "no volatile write cache: flush not offered"
	[ "$(echo "$out" | sed -n 2p)" -gt 0 ] || fail "discard not offered"
	[ "$(echo "$out" | sed -n 3p)" = 0 ] || fail "the discarded range does not read as zeros"
	# The backend punched a hole: dom0 sees no blocks there.
	alloc=$(dd if=/srv/disk1.img bs=1M skip=128 count=16 2>/dev/null | tr -d '\0' | wc -c)
	[ "$alloc" = 0 ] || fail "dom0 reads data in the discarded range"
}

# Guest shell: the name of the virtio disk of SECTORS sectors.  The guest
# names disks in probe order (virtio_blk), not by the vdev of the spec.
FIND_DISK='disk() {
	for b in /sys/block/vd*; do
		if [ "$(cat $b/size)" = "$1" ]; then echo ${b##*/}; fi
	done
}
wait_disk() {
	for i in $(seq 150); do
		if [ -n "$(disk $1)" ]; then break; fi
		sleep 0.2
	done
	disk $1
}'

# Guest shell, with $d a disk's name: direct writers for tests that pull
# the backend away under them.  Writer i rewrites a blob of 64 blocks of
# BS_KIB KiB ROUNDS times at block FIRST + 64 i; the report waits for each and
# prints its exit ("dd<i> exit N") and the sums of its region and its blob.
WRITERS='
start_writers() { # N BS_KIB ROUNDS FIRST
	rm -f /tmp/w*.rc
	for i in $(seq 0 $(($1 - 1))); do
		dd if=/dev/urandom of=/tmp/w$i bs=${2}k count=64 2>/dev/null
		sha256sum </tmp/w$i | cut -c1-64 >/tmp/w$i.sum
	done
	for i in $(seq 0 $(($1 - 1))); do
		(rc=0
		 for r in $(seq $3); do
			dd if=/tmp/w$i of=/dev/$d bs=${2}k seek=$(($4 + 64 * i)) \
				oflag=direct 2>/tmp/w$i.err || { rc=$?; break; }
		 done
		 echo $rc >/tmp/w$i.rc) >/dev/null 2>&1 &
	done
}
report_writers() { # N BS_KIB FIRST
	for i in $(seq 0 $(($1 - 1))); do
		for t in $(seq 500); do [ -s /tmp/w$i.rc ] && break; sleep 0.5; done
		echo "dd$i exit $(cat /tmp/w$i.rc) $(tail -n 1 /tmp/w$i.err)"
		echo "sums $(dd if=/dev/$d bs=${2}k skip=$(($3 + 64 * i)) count=64 iflag=direct 2>/dev/null |
			sha256sum | cut -c1-64) $(cat /tmp/w$i.sum)"
	done
}'

# writers_ok REPORT N: all N writers of report_writers exited 0, and each
# region holds its blob.
writers_ok() {
	[ "$(echo "$1" | grep -c "^dd. exit 0 ")" = "$2" ] || { echo "a write failed"; return 1; }
	echo "$1" | awk '/^sums / { if ($2 != $3) bad = 1 } END { exit bad }' ||
		{ echo "the disk does not hold what the guest wrote"; return 1; }
}

test_blk_readonly_hot_attach() {
	dd if=/dev/urandom of=/srv/ro.img bs=1M count=8 2>/dev/null
	sha=$(sha256sum /srv/ro.img | cut -d' ' -f1)
	virtio-xenbus disk-attach $GUEST /srv/ro.img,raw,vdb,ro || fail "disk-attach"
	out=$(guest_run 60 "$FIND_DISK"'
		vdb=$(wait_disk 16384)
		cat /sys/block/$vdb/ro
		dd if=/dev/zero of=/dev/$vdb bs=4096 count=1 oflag=direct 2>/dev/null && echo "write accepted" || echo "write refused"
		sha256sum /dev/$vdb') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = 1 ] || fail "vdb is not read-only in the guest"
	echo "$out" | grep -q "write refused" || fail "a write to a read-only disk was accepted"
	[ "$(echo "$out" | tail -n 1 | cut -d' ' -f1)" = "$sha" ] || fail "the guest reads other data"
	[ "$(sha256sum /srv/ro.img | cut -d' ' -f1)" = "$sha" ] || fail "the read-only image changed"
}

test_blk_hot_detach() {
	before=$(daemon_files)
	virtio-xenbus disk-detach $GUEST vdb || fail "disk-detach"
	guest_run 30 "$FIND_DISK"'
		for i in $(seq 50); do [ -z "$(disk 16384)" ] && exit 0; sleep 0.2; done; exit 1' ||
		fail "the read-only disk is still in the guest"
	virtio-xenbus list $GUEST | tee /tmp/list
	! grep -q ' vdb ' /tmp/list || fail "vdb is still listed"
	after=$(daemon_files)
	echo "files under /srv held by the daemon: $before before, $after after"
	[ "$after" = $((before - 1)) ] || fail "the daemon still holds the image"
}

test_blk_two_queues() {
	truncate -s 64M /srv/mq.img
	virtio-xenbus disk-attach $GUEST /srv/mq.img,raw,vdc,queues=2 || fail "disk-attach"
	out=$(guest_run 120 "$FIND_DISK"'
		set -e
		vdc=$(wait_disk 131072)
		[ -n "$vdc" ] || { echo "no 64 MiB disk"; exit 1; }
		ls /sys/block/$vdc/mq | wc -l
		dd if=/dev/urandom of=/tmp/a bs=1M count=8 2>/dev/null
		taskset 1 dd if=/tmp/a of=/dev/$vdc bs=64k oflag=direct 2>/dev/null &
		taskset 2 dd if=/tmp/a of=/dev/$vdc bs=64k seek=256 oflag=direct 2>/dev/null
		wait
		sha256sum </tmp/a | cut -c1-64
		taskset 2 dd if=/dev/$vdc bs=64k count=128 iflag=direct 2>/dev/null | sha256sum | cut -c1-64
		taskset 1 dd if=/dev/$vdc bs=64k skip=256 count=128 iflag=direct 2>/dev/null | sha256sum | cut -c1-64') ||
		{ echo "$out"; fail "in the guest"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = 2 ] || fail "vdc does not have two hardware queues"
	a=$(echo "$out" | sed -n 2p)
	[ "$(echo "$out" | sed -n 3p)" = "$a" ] && [ "$(echo "$out" | sed -n 4p)" = "$a" ] ||
		fail "data written from two vcpus does not read back"
}

# Guest shell: the name of the interface with MAC $1, waited for.
FIND_NIC='nic() {
	for i in $(seq 150); do
		for n in /sys/class/net/*; do
			if [ "$(cat $n/address)" = "$1" ]; then echo ${n##*/}; return 0; fi
		done
		sleep 0.2
	done
	return 1
}'
NIC_MAC=00:16:3e:e2:e0:01
VIF_MAC=00:16:3e:e2:e0:02

# A bridge as an administrator has one, dom0 on it twice: 10.99.0.1 for our
# nic's subnet, 10.99.1.1 for netback's vif's.
bridge_up() {
	[ -d /sys/class/net/xenbr0 ] && return 0
	ip link add xenbr0 type bridge && ip link set xenbr0 up &&
		ip addr add 10.99.0.1/24 dev xenbr0 && ip addr add 10.99.1.1/24 dev xenbr0
}

# tcp_from_guest IP: 32 MiB from the guest to dom0's IP by TCP; checks the
# bytes and prints the guest's time for it in ms.
tcp_from_guest() {
	rm -f /tmp/from-guest
	# nc ends its connection when its stdin ends: give it one that lasts.
	sleep 600 | busybox nc -l -p 5001 >/tmp/from-guest 2>/dev/null &
	lpid=$!
	sleep 0.5
	out=$(guest_run 300 "set -e
		[ -f /tmp/blob ] || dd if=/dev/urandom of=/tmp/blob bs=1M count=32 2>/dev/null
		ms() { echo \$(( \$(cut -d' ' -f1 /proc/uptime | tr -d .) * 10 )); }
		t0=\$(ms)
		nc $1 5001 </tmp/blob
		echo \"ms \$((\$(ms) - t0))\"
		sha256sum </tmp/blob | cut -c1-64") || { kill $lpid 2>/dev/null; echo "$out"; return 1; }
	wait_for 30 sh -c "! kill -0 $lpid" || { kill $lpid; echo "dom0's nc did not end"; return 1; }
	[ "$(sha256sum </tmp/from-guest | cut -c1-64)" = "$(echo "$out" | tail -n 1)" ] ||
		{ echo "dom0 received other bytes ($(stat -c %s /tmp/from-guest) bytes)"; return 1; }
	echo "$out" | sed -n 's/^ms //p'
}

# tcp_to_guest IP: 32 MiB from dom0 to the guest's IP; checks the bytes in the
# guest and prints dom0's time for it in ms.
tcp_to_guest() {
	[ -f /tmp/blob ] || dd if=/dev/urandom of=/tmp/blob bs=1M count=32 2>/dev/null
	guest_run 10 "rm -f /tmp/from-dom0; (sleep 600 | nc -l -p 5002 >/tmp/from-dom0 &) >/dev/null 2>&1; sleep 0.5; echo listening" >/dev/null ||
		{ echo "the guest cannot listen"; return 1; }
	t0=$(date +%s%N)
	timeout 300 busybox nc "$1" 5002 </tmp/blob || { echo "dom0's nc failed"; return 1; }
	t1=$(date +%s%N)
	out=$(guest_run 60 'for i in $(seq 100); do pidof nc >/dev/null || break; sleep 0.2; done
		sha256sum </tmp/from-dom0 | cut -c1-64') || { echo "$out"; return 1; }
	[ "$out" = "$(sha256sum </tmp/blob | cut -c1-64)" ] || { echo "the guest received other bytes"; return 1; }
	echo $(( (t1 - t0) / 1000000 ))
}

test_net_hot_attach_ping_and_tcp() {
	bridge_up || fail "cannot make the bridge"
	virtio-xenbus nic-attach $GUEST mac=$NIC_MAC,bridge=xenbr0 || fail "nic-attach"
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		n=$(nic '$NIC_MAC')
		d=$(readlink /sys/class/net/$n/device/driver)
		echo "$n ${d##*/}"
		ip link set $n up
		ip addr add 10.99.0.2/24 dev $n
		ping -c 3 -W 5 10.99.0.1 >/dev/null
		echo "pinged dom0"') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	echo "$out" | grep -q " virtio_net$" || fail "the nic is not driven by virtio_net"
	ip link show master xenbr0 | tee /tmp/ports
	grep -q "vxif" /tmp/ports || fail "our interface is not on the bridge"
	busybox ping -c 3 -W 5 10.99.0.2 || fail "dom0 cannot ping the guest"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from the guest"; }
	echo "32 MiB guest -> dom0 in $ms ms"
	ms=$(tcp_to_guest 10.99.0.2) || { echo "$ms"; fail "TCP to the guest"; }
	echo "32 MiB dom0 -> guest in $ms ms"
	virtio-xenbus list $GUEST
	# The cable: a config change the module passes to virtio_net.
	virtio-xenbus nic-link $GUEST $NIC_MAC down || fail "nic-link down"
	guest_run 30 "$FIND_NIC"'
		n=$(nic '$NIC_MAC')
		for i in $(seq 100); do [ "$(cat /sys/class/net/$n/carrier)" = 0 ] && exit 0; sleep 0.2; done
		exit 1' || fail "the guest did not see its link go down"
	virtio-xenbus nic-link $GUEST $NIC_MAC up || fail "nic-link up"
	out=$(guest_run 60 "$FIND_NIC"'
		n=$(nic '$NIC_MAC')
		for i in $(seq 100); do [ "$(cat /sys/class/net/$n/carrier)" = 1 ] && break; sleep 0.2; done
		echo "carrier $(cat /sys/class/net/$n/carrier)"
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "pinged dom0 again"') || { echo "$out"; fail "link up in the guest"; }
	echo "$out"
	echo "$out" | grep -q "carrier 1" || fail "the guest did not see its link come back"
}

# Not a test: the same TCP transfers over our nic and over netback's vif.
mbs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms ? 32 * 1.048576 * 1000 / ms : 0 }'; }
bench_nic_vs_vif() {
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

test_net_hot_detach() {
	virtio-xenbus nic-detach $GUEST $NIC_MAC || fail "nic-detach"
	guest_run 30 'for i in $(seq 50); do
			grep -qx '$NIC_MAC' /sys/class/net/*/address || exit 0; sleep 0.2; done; exit 1' ||
		fail "the nic is still in the guest"
	wait_for 10 sh -c '! ip -o link | grep -q vxif' || fail "our interface is left in dom0"
	! virtio-xenbus list $GUEST | grep -q ' net ' || fail "the nic is still listed"
	# A nic again, for the guest's destruction to release.
	virtio-xenbus nic-attach $GUEST mac=00:16:3e:e2:e0:03,bridge=xenbr0 || fail "nic-attach again"
	guest_run 60 "$FIND_NIC"'
		nic 00:16:3e:e2:e0:03' || fail "the second nic did not appear"
}

test_module_unload_and_reload() {
	# xenbus holds the module while devices are bound, so rmmod is refused
	# then (as for xen-blkfront); unbinding removes the disks, and loading
	# again brings them back with their data.
	out=$(guest_run 180 "$FIND_DISK"'
		set -e
		d=$(disk 524288)
		sum=$(dd if=/dev/$d bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -c1-64)
		if rmmod virtio_xenbus 2>/dev/null; then echo "unloaded with devices bound"; exit 1; fi
		echo "rmmod refused while devices are bound"
		for dev in /sys/bus/xen/devices/virtio-*; do echo ${dev##*/} >$dev/driver/unbind; done
		if ls /sys/block | grep -q "^vd"; then echo "virtio disks left after unbind"; exit 1; fi
		rmmod virtio_xenbus
		echo "unbound and unloaded: no virtio disk"
		insmod /modules/virtio_xenbus.ko
		d=$(wait_disk 524288)
		[ -n "$d" ] || { echo "the disk did not come back"; exit 1; }
		again=$(dd if=/dev/$d bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -c1-64)
		[ "$sum" = "$again" ] || { echo "other data after reload"; exit 1; }
		echo "reloaded: $d, same data"') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	# Every device of the guest (how many depends on the tests run before).
	all_connected || { cat /tmp/list; fail "the devices are not connected again"; }
	cat /tmp/list
	kill -0 "$(daemon_pid)" || fail "the daemon died"
}

# Not a test: the same dd workloads on our vda and on blkback's xvda in the
# same guest and run, as ratios (emulation makes absolute figures meaningless).
bench_vda_vs_xvda() {
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

test_guest_reboot_reconnects() {
	old=$(domid)
	device_set >/tmp/devices-before
	echo "before the reboot:"
	cat /tmp/devices-before
	# The guest names disks in probe order: the 256 MiB one is the config's vda.
	guest_run 60 "$FIND_DISK"'
		set -e
		d=$(disk 524288)
		echo "before reboot $(cat /proc/sys/kernel/random/boot_id)" | dd of=/dev/$d bs=512 seek=1000 conv=fsync 2>/dev/null
		dd if=/dev/$d bs=512 skip=1000 count=1 2>/dev/null | head -n 1' | tee /tmp/marker ||
		fail "cannot write the marker"
	# The guest reboots itself; xl makes a new domain, virtio-xenbus gives it vda.
	xs_write /local/domain/"$old"/data/e2e-cmd 'busybox reboot -f' \
		/local/domain/"$old"/data/e2e-seq 99 || fail "cannot ask for the reboot"
	wait_for 60 sh -c "d=\$(xl domid $GUEST 2>/dev/null) && [ \"\$d\" != $old ]" ||
		fail "no new domain for $GUEST within 60 s"
	new=$(domid)
	echo "domain $old rebooted as $new"
	wait_for 120 xs_read /local/domain/"$new"/data/e2e-ready ||
		fail "the rebooted guest's agent did not start in 120 s"
	out=$(guest_run 60 "$FIND_DISK"'
		d=$(wait_disk 524288)
		dd if=/dev/$d bs=512 skip=1000 count=1 2>/dev/null | head -n 1
		cat /proc/sys/kernel/random/boot_id') || { echo "$out"; fail "no vda after the reboot"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = "$(tail -n 1 /tmp/marker)" ] ||
		fail "vda after the reboot does not hold what was written before"
	cat /var/log/xen/virtio-xenbus-$GUEST.log
	# Every device it had (the config's vda and the hot-attached ones) is back.
	wait_for 60 all_connected || { cat /tmp/list; fail "not every device is connected after the reboot"; }
	cat /tmp/list
	device_set >/tmp/devices-after
	diff /tmp/devices-before /tmp/devices-after || fail "other devices after the reboot"
	left=$(xenstore-list /local/domain/0/backend/virtio/"$old" 2>/dev/null)
	[ -z "$left" ] || fail "backend directories of the old domain are left: $left"
}

test_guest_destroyed_mid_io_leaves_nothing() {
	guest_run 10 '(while :; do dd if=/dev/urandom of=/dev/vda bs=64k count=256 oflag=direct 2>/dev/null; done) >/dev/null 2>&1 &
		echo started' || fail "cannot start I/O in the guest"
	sleep 3
	d=$(domid)
	xl destroy $GUEST || fail "xl destroy"
	wait_for 20 eval '[ "$(daemon_files)" = 0 ]' ||
		{ ls -l /proc/"$(daemon_pid)"/fd; fail "the daemon still holds an image"; }
	base=$(cat /run/e2e-base-threads)
	wait_for 20 eval '[ "$(daemon_threads)" = "$base" ]' ||
		fail "the daemon has $(daemon_threads) threads, $base at start"
	echo "gntdev mappings: $(daemon_gntdev_maps)"
	[ "$(daemon_gntdev_maps)" = 0 ] || fail "the daemon still maps guest pages"
	wait_for 10 sh -c '! ip -o link | grep -q vxif' || { ip -o link; fail "a nic's interface is left in dom0"; }
	left=$(xenstore-list /local/domain/0/backend/virtio/"$d" 2>/dev/null)
	[ -z "$left" ] || fail "backend directories of the destroyed guest are left: $left"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
	grep "d$d " "$DAEMON_LOG" | tail -n 20
	grep -q "d$d virtio/0: released" "$DAEMON_LOG" || fail "the daemon did not log the release"
}

# protocol.md 2.5: SIGKILL in the middle of writes to the guest's disk (four
# writers, so that requests are in flight), then a new daemon.  The guest's
# drivers never reset: the writes complete with their bytes on the disk, the
# nic's new TAP is back on the bridge, the guest announced itself
# (virtio_net's answer to VIRTIO_NET_S_ANNOUNCE) and traffic flows.
test_daemon_killed_mid_io_resumes() {
	old=$(daemon_pid)
	device_set >/tmp/devices-before
	# Each of four writers writes its 16 MiB eight times: long enough to
	# be still writing when the daemon dies.
	guest_run 60 "$FIND_DISK$WRITERS"'
		set -e
		d=$(disk 524288)
		start_writers 4 256 8 256
		echo started' || fail "cannot start the writes in the guest"
	ended=$(guest_run 10 'ls /tmp/w*.rc 2>/dev/null | wc -l')
	announced=$(announcements)
	kill -KILL "$old"
	wait_for 10 sh -c "! kill -0 $old" || fail "the daemon did not die"
	ls -l /run/virtio-xenbusd/
	start_daemon || fail "virtio-xenbusd did not start again"
	[ "$ended" = 0 ] || fail "$ended writers ended before the kill: make them longer"
	wait_for 30 grep -q "d$(domid) virtio/0: resumed:" "$DAEMON_LOG" || fail "vda was not resumed"
	grep "resumed\|needs reset\|record" "$DAEMON_LOG"
	out=$(guest_run 300 "$FIND_DISK$WRITERS"'
		d=$(disk 524288)
		report_writers 4 256 256
		dmesg | grep -i "error\|reset" | tail -n 5') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	writers_ok "$out" 4 || fail "the writes did not come through the restart"
	echo "$out" | grep -qi "I/O error\|asks for a device reset" && fail "the guest saw errors"
	wait_for 30 sh -c 'ip link show master xenbr0 | grep -q vxif' ||
		fail "our interface is not back on the bridge"
	wait_for 30 eval '[ "$(announcements)" -gt "$announced" ]' ||
		fail "the guest did not announce itself after the restart"
	busybox ping -c 3 -W 5 10.99.0.2 || fail "dom0 cannot ping the guest after the restart"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from the guest after the restart"; }
	echo "32 MiB guest -> dom0 in $ms ms after the restart"
	wait_for 30 all_connected || { cat /tmp/list; fail "not every device is connected"; }
	device_set >/tmp/devices-after
	diff /tmp/devices-before /tmp/devices-after || fail "other devices after the restart"
}

# issue 5: a backend that never answers leaves the guest usable.  The daemon
# stopped (SIGSTOP), the guest unbinds the two-queue disk: the reset times
# out in the module's bounded wait, the unbind returns, blkback's xvda still
# works; continued, the daemon catches up and a rebind brings the disk back.
test_backend_never_answers() {
	pid=$(daemon_pid)
	kill -STOP "$pid"
	out=$(guest_run 120 "$FIND_DISK"'
		d=$(disk 131072)
		dev=$(basename $(dirname $(readlink -f /sys/block/$d/device)))
		echo "unbinding $dev ($d)"
		t0=$(cut -d" " -f1 /proc/uptime)
		echo $dev >/sys/bus/xen/drivers/virtio/unbind
		echo "unbind returned after $(awk -v t0=$t0 "{ print int(\$1 - t0) }" /proc/uptime) s"
		[ -z "$(disk 131072)" ] && echo "the disk is gone"
		dd if=/dev/urandom of=/dev/xvda bs=64k count=64 oflag=direct 2>/dev/null && echo "xvda writes"
		dmesg | grep -i "did not answer" | tail -n 2
		echo "kernel warnings: $(dmesg | grep -c "WARNING:")"
		echo $dev >/tmp/unbound') ; rc=$?
	kill -CONT "$pid"
	echo "$out"
	[ $rc = 0 ] || fail "the guest did not come back from the unbind (rc $rc)"
	echo "$out" | grep -q "the disk is gone" || fail "the disk is still there"
	echo "$out" | grep -q "xvda writes" || fail "blkback's disk did not work meanwhile"
	echo "$out" | grep -q "status 0x0: the backend did not answer" || fail "no bounded wait logged"
	echo "$out" | grep -q "^kernel warnings: 0$" || fail "the guest's kernel warned"
	kill -0 "$pid" || fail "the daemon died"
	out=$(guest_run 120 "$FIND_DISK"'
		cat /tmp/unbound >/sys/bus/xen/drivers/virtio/bind
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "the disk did not come back"; exit 1; }
		dd if=/dev/urandom of=/tmp/x bs=64k count=16 2>/dev/null
		dd if=/tmp/x of=/dev/$d bs=64k oflag=direct 2>/dev/null
		dd if=/dev/$d bs=64k count=16 iflag=direct 2>/dev/null | cmp - /tmp/x && echo "back: $d"') ||
		{ echo "$out"; fail "after the daemon continued"; }
	echo "$out"
	wait_for 30 all_connected || { cat /tmp/list; fail "not every device is connected again"; }
}

# issue 5: Xen's save and restore.  A checkpoint (save -c): the suspend is
# cancelled, the guest carries on in the same domain and its devices are
# restored at the thaw.  Then two writers run across virtio-xenbus save (the
# guest's drivers freeze: requests drain, the device is reset, every grant
# ends); restore gives the new domain its devices at their devids and the
# frozen drivers restore onto them: the writes complete with their bytes,
# the nic works.
test_guest_save_and_restore() {
	# The checkpoint first: xl's monitor of a domain ends at any suspend
	# (4.17's xl logs "Domain has suspended. Done. Exiting now"), so after
	# a checkpoint nobody honours the guest's on_reboot; the restore's xl
	# is a new monitor, which guest_reboot_reconnects needs.
	d=$(domid)
	rm -f /srv/$GUEST.ckpt /srv/$GUEST.ckpt.virtio
	virtio-xenbus save -c $GUEST /srv/$GUEST.ckpt || fail "virtio-xenbus save -c"
	[ "$(domid)" = "$d" ] || fail "the checkpoint changed the domain"
	# dom0's disk holds one 512 MiB image at a time.
	rm -f /srv/$GUEST.ckpt /srv/$GUEST.ckpt.virtio
	out=$(guest_run 120 "$FIND_DISK"'
		d=$(disk 524288)
		dd if=/dev/urandom of=/tmp/c bs=64k count=32 2>/dev/null
		dd if=/tmp/c of=/dev/$d bs=64k seek=2048 oflag=direct 2>/dev/null
		dd if=/dev/$d bs=64k skip=2048 count=32 iflag=direct 2>/dev/null | cmp - /tmp/c && echo "vda after the checkpoint"
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "nic after the checkpoint"') ||
		{ echo "$out"; fail "the guest after the checkpoint"; }
	echo "$out"
	echo "$out" | grep -q "vda after the checkpoint" || fail "vda does not work after the checkpoint"
	echo "$out" | grep -q "nic after the checkpoint" || fail "the nic does not work after the checkpoint"
	wait_for 30 all_connected || { cat /tmp/list; fail "not every device is connected after the checkpoint"; }

	old=$(domid)
	device_set >/tmp/devices-before
	# Two writers, each its 8 MiB twelve times.
	guest_run 60 "$FIND_DISK$WRITERS"'
		set -e
		d=$(disk 524288)
		start_writers 2 128 12 512
		echo started' || fail "cannot start the writes in the guest"
	ended=$(guest_run 10 'ls /tmp/w*.rc 2>/dev/null | wc -l')
	rm -f /srv/$GUEST.save /srv/$GUEST.save.virtio
	t0=$(date +%s)
	virtio-xenbus save $GUEST /srv/$GUEST.save || fail "virtio-xenbus save"
	echo "saved in $(( $(date +%s) - t0 )) s"
	cat /srv/$GUEST.save.virtio
	! xl domid $GUEST 2>/dev/null || fail "the guest still runs after the save"
	wait_for 30 eval '[ -z "$(xenstore-list /local/domain/0/backend/virtio/$old 2>/dev/null)" ]' ||
		fail "the saved domain's backend directories are left"
	grep "d$old " "$DAEMON_LOG" | tail -n 8
	t0=$(date +%s)
	virtio-xenbus restore /srv/$GUEST.save || fail "virtio-xenbus restore"
	echo "restored in $(( $(date +%s) - t0 )) s as domain $(domid)"
	rm -f /srv/$GUEST.save /srv/$GUEST.save.virtio
	out=$(guest_run 300 "$FIND_DISK$WRITERS"'
		d=$(disk 524288)
		report_writers 2 128 512
		dmesg | grep -i "virtio\|xenbus\|error" | tail -n 12') || { echo "$out"; fail "in the restored guest"; }
	echo "$out"
	writers_ok "$out" 2 || fail "the writes did not come through the save"
	[ "$ended" = 0 ] || fail "$ended writers ended before the save: make them longer"
	echo "$out" | grep -qi "I/O error\|cannot restore" && fail "the guest saw errors"
	wait_for 60 all_connected || { cat /tmp/list; fail "not every device is connected after the restore"; }
	device_set >/tmp/devices-after
	diff /tmp/devices-before /tmp/devices-after || fail "other devices after the restore"
	wait_for 30 sh -c 'ip link show master xenbr0 | grep -q vxif' || fail "our nic is not on the bridge"
	wait_for 30 eval '[ "$(announcements)" -gt 0 ]' ||
		fail "the restored guest did not announce itself on its new TAP"
	busybox ping -c 3 -W 5 10.99.0.2 || fail "dom0 cannot ping the restored guest"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from the restored guest"; }
	echo "32 MiB guest -> dom0 in $ms ms after the restore"
}

# issue 5: running out of grant references.  A second guest whose grant
# table is two frames (1024 entries, 8 of them Xen's; Linux 6.1 crashes at
# boot with one) drives eight direct writers of 1 MiB at its virtio disk, two
# requests of up to 126 granted pages each: mappings fail for want of
# references, virtio_blk retries them, every write lands.  Three rounds: a
# leak on the failure path would starve the later ones.
test_grant_exhaustion() {
	GUEST=guest2
	truncate -s 128M /srv/g2.img
	{ guest_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
max_grant_frames = 2
virtio_disk = [ "/srv/g2.img,raw,vda,rw" ]
CFG
	boot_extra_guest
	out=$(guest_run 900 'set -e
		for i in $(seq 150); do [ -b /dev/vda ] && break; sleep 0.2; done
		cat /sys/block/vda/queue/max_sectors_kb
		for i in 0 1 2 3 4 5 6 7; do
			dd if=/dev/urandom of=/tmp/g$i bs=1M count=8 2>/dev/null
		done
		for round in 1 2 3; do
			for i in 0 1 2 3 4 5 6 7; do
				dd if=/tmp/g$i of=/dev/vda bs=1M seek=$((8 * i)) oflag=direct 2>/tmp/g$i.err &
			done
			wait
			bad=0
			for i in 0 1 2 3 4 5 6 7; do
				dd if=/dev/vda bs=1M skip=$((8 * i)) count=8 iflag=direct 2>/dev/null | cmp -s - /tmp/g$i || bad=$((bad + 1))
			done
			echo "round $round: $bad regions differ"
		done
		echo "grant failures: $(dmesg | grep -c "no grant references left")"
		dmesg | grep -i "I/O error\|leaking\|did not answer" | tail -n 3
		true') || { echo "$out"; fail "in $GUEST"; }
	echo "$out"
	[ "$(echo "$out" | grep -c "^round .: 0 regions differ")" = 3 ] || fail "writes were lost"
	n=$(echo "$out" | sed -n 's/^grant failures: //p')
	[ "${n:-0}" -gt 0 ] || fail "the guest never ran out of grant references: the test proves nothing"
	echo "$out" | grep -qi "I/O error\|leaking" && fail "the guest saw errors"
	destroy_extra_guest
}

# issue 5: a backend outside dom0.  The driver domain "driverdom" (the guests'
# kernel, virtio-xenbusd in its initramfs) has a disk of its own from dom0's
# blkback, and serves it to guest1 as a virtio disk, then a nic on its own
# bridge.  Xen lets it map only grants made to it, so the devices work only
# if the guest grants its rings and buffers to the device's otherend_id.
# What the guest writes and flushes is in the file behind the driver
# domain's disk in dom0.
test_driver_domain_backend() {
	sectors=$((48 * MiB / 512))
	truncate -s 48M /srv/dd-xvda.img
	loop=$(losetup -f --show /srv/dd-xvda.img) || fail "losetup"
	GUEST=driverdom
	{ guest_cfg driver-domain 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
driver_domain = 1
disk = [ "phy:$loop,xvda,w" ]
CFG
	boot_extra_guest
	dd_domid=$(domid)
	out=$(guest_run 60 'set -e
		mkdir -p /run
		/usr/local/sbin/virtio-xenbusd --foreground --pidfile /run/virtio-xenbusd.pid \
			</dev/null >/tmp/virtio-xenbusd.log 2>&1 &
		for i in $(seq 50); do [ -s /run/virtio-xenbusd.pid ] && break; sleep 0.2; done
		cat /sys/block/xvda/size
		cat /tmp/virtio-xenbusd.log') || { echo "$out"; fail "virtio-xenbusd does not start in the driver domain"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = $sectors ] || fail "the driver domain has no 48 MiB xvda"

	GUEST=guest1
	virtio-xenbus disk-attach $GUEST /dev/xvda,raw,vdx,rw,backend=driverdom ||
		{ GUEST=driverdom guest_run 10 'cat /tmp/virtio-xenbusd.log'; fail "disk-attach with backend=driverdom"; }
	out=$(guest_run 120 "$FIND_DISK"'
		set -e
		d=$(wait_disk '$sectors')
		[ -n "$d" ]
		cut -c34 /sys/block/$d/device/features
		dd if=/dev/urandom of=/tmp/dd.data bs=1M count=16 2>/dev/null
		dd if=/tmp/dd.data of=/dev/$d bs=64k seek=16 oflag=direct conv=fsync 2>/dev/null
		dd if=/dev/$d bs=64k skip=16 count=256 iflag=direct 2>/dev/null | sha256sum | cut -c1-64
		sha256sum </tmp/dd.data | cut -c1-64') || { echo "$out"; fail "vdx in the guest"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = 1 ] || fail "ACCESS_PLATFORM not negotiated"
	a=$(echo "$out" | sed -n 3p)
	[ "$(echo "$out" | sed -n 2p)" = "$a" ] || fail "the guest reads back other data"
	[ "$(dd if=/srv/dd-xvda.img bs=64k skip=16 count=256 2>/dev/null | sha256sum | cut -c1-64)" = "$a" ] ||
		fail "the file behind the driver domain's disk does not hold what the guest wrote"
	virtio-xenbus list $GUEST | tee /tmp/list
	[ "$(awk '$4 == "vdx" { print $5, $6, $7 }' /tmp/list)" = "$dd_domid connected connected" ] ||
		fail "vdx is not served by the driver domain, connected at both ends"
	grep -A 1 ' vdx ' /tmp/list | grep -q "queue 0: [1-9][0-9]* requests" ||
		fail "the driver domain's daemon did not give its counters"

	virtio-xenbus disk-detach $GUEST vdx || fail "disk-detach vdx"
	guest_run 30 "$FIND_DISK"'
		for i in $(seq 50); do [ -z "$(disk '$sectors')" ] && exit 0; sleep 0.2; done; exit 1' ||
		fail "vdx is still in the guest"
	wait_for 20 eval '[ -z "$(xenstore-list /local/domain/$dd_domid/backend/virtio/$(domid) 2>/dev/null)" ]' ||
		fail "the driver domain's backend directory is left"

	# A nic: its TAP on the driver domain's bridge; ping both ways, and the
	# guest's 16 MiB by TCP to the driver domain, checked there.
	GUEST=driverdom
	out=$(guest_run 30 'set -e
		brctl addbr br0
		ip addr add 10.98.0.1/24 dev br0
		ip link set br0 up
		(sleep 600 | nc -l -p 5003 >/tmp/from-guest &) >/dev/null 2>&1') ||
		{ echo "$out"; fail "no bridge in the driver domain"; }
	GUEST=guest1
	mac=00:16:3e:e2:e0:0d
	virtio-xenbus nic-attach $GUEST mac=$mac,bridge=br0,backend=driverdom ||
		fail "nic-attach with backend=driverdom"
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		n=$(nic '$mac')
		ip link set $n up
		ip addr add 10.98.0.2/24 dev $n
		ping -c 3 -W 5 10.98.0.1 >/dev/null
		nc 10.98.0.1 5003 </tmp/dd.data
		echo "sent"') || { echo "$out"; fail "the nic in the guest"; }
	echo "$out"
	GUEST=driverdom
	out=$(guest_run 60 'ls /sys/class/net/br0/brif
		ping -c 3 -W 5 10.98.0.2 >/dev/null && echo "pinged the guest"
		for i in $(seq 100); do pidof nc >/dev/null || break; sleep 0.2; done
		echo "received $(sha256sum </tmp/from-guest | cut -c1-64)"') ||
		{ echo "$out"; fail "in the driver domain"; }
	echo "$out"
	echo "$out" | grep -q "vxif" || fail "the nic's TAP is not on the driver domain's bridge"
	echo "$out" | grep -q "^pinged the guest$" || fail "the driver domain cannot ping the guest"
	echo "$out" | grep -q "^received $a$" || fail "the driver domain received other bytes"
	GUEST=guest1
	virtio-xenbus list $GUEST | tee /tmp/list
	[ "$(awk '$3 == "net" && $5 == '$dd_domid' { print $6, $7 }' /tmp/list)" = "connected connected" ] ||
		fail "the nic is not served by the driver domain, connected at both ends"
	virtio-xenbus nic-detach $GUEST $mac || fail "nic-detach"
	guest_run 30 'for i in $(seq 50); do
			grep -qx '$mac' /sys/class/net/*/address || exit 0; sleep 0.2; done; exit 1' ||
		fail "the nic is still in the guest"

	GUEST=driverdom
	out=$(guest_run 30 'cat /tmp/virtio-xenbusd.log
		echo "interfaces: $(ip -o link | grep -c vxif)"
		echo "grant maps: $(grep -c gntdev /proc/$(cat /run/virtio-xenbusd.pid)/maps)"') ||
		{ echo "$out"; fail "the driver domain's daemon is not running"; }
	echo "$out"
	echo "$out" | grep -q "^interfaces: 0$" || fail "the nic's TAP is left in the driver domain"
	echo "$out" | grep -q "^grant maps: 0$" || fail "the driver domain's daemon still maps the guest's grants"
	destroy_extra_guest
	losetup -d "$loop"
}

# issue 5: the module on another guest kernel, /payload/$1 (run.sh).  A third
# guest boots it with a two-queue virtio disk and a nic from its config:
# virtio_blk and virtio_net drive them, direct writes from both vcpus land
# in dom0's image, TCP carries 32 MiB each way; the module unloads and
# reloads; writers run across a save and restore.
guest_on_kernel() {
	GUEST=guest3
	mac=00:16:3e:e2:e0:06
	bridge_up || fail "cannot make the bridge"
	truncate -s 96M /srv/g3.img
	{ guest_cfg "$1" 384 2; cat <<CFG; } >/tmp/$GUEST.cfg
virtio_disk = [ "/srv/g3.img,raw,vda,rw,queues=2" ]
virtio_nic = [ "mac=$mac,bridge=xenbr0" ]
CFG
	boot_extra_guest
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		uname -r
		for i in $(seq 150); do [ -b /dev/vda ] && break; sleep 0.2; done
		cat /sys/block/vda/size
		ls /sys/block/vda/mq | wc -l
		d=$(readlink /sys/block/vda/device/driver)
		echo ${d##*/}
		cat /sys/block/vda/device/features
		n=$(nic '$mac')
		d=$(readlink /sys/class/net/$n/device/driver)
		echo ${d##*/}
		ip link set $n up
		ip addr add 10.99.0.3/24 dev $n') || { echo "$out"; fail "in $GUEST"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = "$(cat /payload/$1/release)" ] || fail "$GUEST does not run /payload/$1's kernel"
	[ "$(echo "$out" | sed -n 2p)" = $((96 * MiB / 512)) ] || fail "vda is not 96 MiB"
	[ "$(echo "$out" | sed -n 3p)" = 2 ] || fail "vda does not have two queues"
	[ "$(echo "$out" | sed -n 4p)" = virtio_blk ] || fail "vda is not driven by virtio_blk"
	# VIRTIO_F_VERSION_1 and VIRTIO_F_ACCESS_PLATFORM (bits 32, 33) negotiated.
	[ "$(echo "$out" | sed -n 5p | cut -c33-34)" = 11 ] || fail "VERSION_1 and ACCESS_PLATFORM not negotiated"
	[ "$(echo "$out" | sed -n 6p)" = virtio_net ] || fail "the nic is not driven by virtio_net"

	# Both queues: each vcpu writes 8 MiB; dom0 reads them in the image.
	out=$(guest_run 120 'set -e
		dd if=/dev/urandom of=/tmp/a bs=1M count=8 2>/dev/null
		taskset 1 dd if=/tmp/a of=/dev/vda bs=64k oflag=direct 2>/dev/null & p=$!
		taskset 2 dd if=/tmp/a of=/dev/vda bs=64k seek=128 oflag=direct 2>/dev/null
		wait $p
		grep virtio /proc/interrupts | wc -l
		sha256sum </tmp/a | cut -c1-64') || { echo "$out"; fail "writes in $GUEST"; }
	echo "$out"
	a=$(echo "$out" | tail -n 1)
	for skip in 0 128; do
		[ "$(dd if=/srv/g3.img bs=64k skip=$skip count=128 2>/dev/null | sha256sum | cut -c1-64)" = "$a" ] ||
			fail "dom0's image does not hold what $GUEST wrote at block $skip"
	done

	busybox ping -c 3 -W 5 10.99.0.3 || fail "dom0 cannot ping $GUEST"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from $GUEST"; }
	echo "32 MiB $GUEST -> dom0 in $ms ms"
	ms=$(tcp_to_guest 10.99.0.3) || { echo "$ms"; fail "TCP to $GUEST"; }
	echo "32 MiB dom0 -> $GUEST in $ms ms"

	out=$(guest_run 180 "$FIND_NIC"'
		set -e
		if rmmod virtio_xenbus 2>/dev/null; then echo "unloaded with devices bound"; exit 1; fi
		for dev in /sys/bus/xen/devices/virtio-*; do echo ${dev##*/} >$dev/driver/unbind; done
		rmmod virtio_xenbus
		[ ! -e /sys/block/vda ] || { echo "vda left after the unload"; exit 1; }
		insmod /modules/virtio_xenbus.ko
		for i in $(seq 150); do [ -b /dev/vda ] && break; sleep 0.2; done
		dd if=/dev/vda bs=64k count=128 iflag=direct 2>/dev/null | sha256sum | cut -c1-64
		n=$(nic '$mac')
		ip link set $n up
		ip addr add 10.99.0.3/24 dev $n
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "nic after the reload"') ||
		{ echo "$out"; fail "unload and reload in $GUEST"; }
	echo "$out"
	[ "$(echo "$out" | grep -c "^$a$")" = 1 ] || fail "vda after the reload does not hold the data"
	echo "$out" | grep -q "nic after the reload" || fail "the nic does not work after the reload"

	guest_run 60 "$FIND_DISK$WRITERS"'
		set -e
		d=vda
		start_writers 2 128 12 512
		echo started' || fail "cannot start the writes in $GUEST"
	ended=$(guest_run 10 'ls /tmp/w*.rc 2>/dev/null | wc -l')
	rm -f /srv/$GUEST.save /srv/$GUEST.save.virtio
	virtio-xenbus save $GUEST /srv/$GUEST.save || fail "virtio-xenbus save $GUEST"
	virtio-xenbus restore -e /srv/$GUEST.save || fail "virtio-xenbus restore $GUEST"
	rm -f /srv/$GUEST.save /srv/$GUEST.save.virtio
	out=$(guest_run 300 "$FIND_DISK$WRITERS"'
		d=vda
		report_writers 2 128 512
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "nic after the restore"
		dmesg | grep -B 2 -A 40 "WARNING:\|BUG:" | head -n 60
		echo "kernel warnings: $(dmesg | grep -c "WARNING:\|BUG:")"
		echo "upstream grant DMA ops: $(dmesg | grep -c "Using dom0 as backend")"') ||
		{ echo "$out"; fail "in the restored $GUEST"; }
	echo "$out"
	echo "$out" | sed -n 's/^upstream grant DMA ops: //p' >/tmp/$GUEST.upstream-dma
	writers_ok "$out" 2 || fail "the writes did not come through the save"
	[ "$ended" = 0 ] || fail "$ended writers ended before the save: make them longer"
	echo "$out" | grep -q "nic after the restore" || fail "the nic does not work after the restore"
	wait_for 30 eval '[ "$(announcements)" -gt 0 ]' ||
		fail "the restored $GUEST did not announce itself on its new TAP"
	echo "$out" | grep -q "kernel warnings: 0" || fail "$GUEST's kernel warned"

	destroy_extra_guest
}

# Linux 6.12 from bookworm-backports: virtio and virtio_ring built in, and
# another virtqueue-creation API than 6.1's.
test_linux_6_12_guest() {
	guest_on_kernel guest-6.12
}

# E2E_GUEST_KERNEL's kernel.  With CONFIG_XEN_VIRTIO, the virtio core puts
# upstream's grant DMA ops (for dom0) on our device at FEATURES_OK, and
# find_vqs puts ours back: the guest must have seen the first happen.
test_custom_kernel_guest() {
	guest_on_kernel guest-custom
	[ -e /payload/guest-custom/xen-virtio ] || return 0
	[ "$(cat /tmp/guest3.upstream-dma)" -gt 0 ] ||
		fail "the CONFIG_XEN_VIRTIO kernel did not put its grant DMA ops on the device"
}

test_daemon_stops_cleanly() {
	pid=$(daemon_pid)
	kill -TERM "$pid"
	wait_for 20 sh -c "! kill -0 $pid" || fail "virtio-xenbusd did not stop on SIGTERM"
	tail -n 5 "$DAEMON_LOG"
	grep -q "stopped: every grant unmapped, every port unbound" "$DAEMON_LOG" || fail "no clean stop logged"
}

mkdir -p /srv
run_test daemon_starts test_daemon_starts
run_test guest_boots_with_virtio_disk test_guest_boots_with_virtio_disk
run_test blk_filesystem_round_trip test_blk_filesystem_round_trip
run_test blk_random_writes_read_back test_blk_random_writes_read_back
run_test blk_flush_and_discard test_blk_flush_and_discard
run_test blk_readonly_hot_attach test_blk_readonly_hot_attach
run_test blk_hot_detach test_blk_hot_detach
run_test blk_two_queues test_blk_two_queues
run_test bench_vda_vs_xvda bench_vda_vs_xvda
run_test net_hot_attach_ping_and_tcp test_net_hot_attach_ping_and_tcp
run_test bench_nic_vs_vif bench_nic_vs_vif
run_test daemon_killed_mid_io_resumes test_daemon_killed_mid_io_resumes
run_test backend_never_answers test_backend_never_answers
run_test guest_save_and_restore test_guest_save_and_restore
run_test grant_exhaustion test_grant_exhaustion
run_test driver_domain_backend test_driver_domain_backend
run_test linux_6_12_guest test_linux_6_12_guest
[ ! -d /payload/guest-custom ] || run_test custom_kernel_guest test_custom_kernel_guest
run_test net_hot_detach test_net_hot_detach
# Late: a failed reload leaves the guest without its disks.
run_test module_unload_and_reload test_module_unload_and_reload
run_test guest_reboot_reconnects test_guest_reboot_reconnects
run_test guest_destroyed_mid_io_leaves_nothing test_guest_destroyed_mid_io_leaves_nothing
run_test daemon_stops_cleanly test_daemon_stops_cleanly
cp /var/log/xen/console/guest-$GUEST.log "$LOG/" 2>/dev/null
