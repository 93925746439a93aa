# shellcheck shell=sh
# The rig's helpers, sourced by dom0-tests.sh: the guest's agent, waits,
# the daemon, guests, disks and nics, and set-ups a test can ask for
# (ensure_*), so that each test runs alone or after any other.

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
guest_run() { guest_run_after 0 "$@"; }

# guest_run_after QUIET TIMEOUT SCRIPT: guest_run, first asking for the
# answer after QUIET s: each poll forks and execs in dom0, whose one CPU a
# benchmark measures.  Polls come every 0.2 s, every second after 5 s.
guest_run_after() {
	quiet=$1 timeout=$2
	shift 2
	d=$(domid) || { echo "guest $GUEST is not running"; return 125; }
	dir=/local/domain/$d/data
	# Unique, not the domain's last + 1: a restored guest's agent still
	# holds the number it last ran, and a new domain starts with none.
	seq=$(date +%s%N)
	xs_write -R $dir/e2e-cmd "$*" $dir/e2e-seq $seq
	start=$(date +%s)
	end=$((start + timeout))
	[ "$quiet" = 0 ] || sleep "$quiet"
	while [ "$(xs_read $dir/e2e-done)" != "$seq" ]; do
		now=$(date +%s)
		if [ "$now" -ge $end ]; then
			echo "guest command timed out after ${timeout}s: $*"
			echo "--- the guest's console:"
			tail -n 40 /var/log/xen/console/guest-$GUEST.log
			return 124
		fi
		if [ $((now - start)) -lt 5 ]; then sleep 0.2; else sleep 1; fi
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

# pvh_cfg DIR MEMORY VCPUS: guest_cfg for a PVH guest, which needs HAP
# (E2E_CPU=qemu64,+svm,+npt).  Under QEMU's emulated SVM a PVH guest that
# shares a pCPU with another domU triple-faults, its state Xen's own
# registers: it gets pCPU 1, and every domain there is now, dom0 too, pCPU 0
# (for good: a test makes its other domains first).
pvh_cfg() {
	for dom in $(xl list | awk 'NR > 1 { print $2 }'); do xl vcpu-pin "$dom" all 0; done
	guest_cfg "$@" | sed 's/^type = "pv"/type = "pvh"/'
	echo 'cpus = "1"'
}

# Another guest, $GUEST from /tmp/$GUEST.cfg, whose reboots nobody follows:
# made, and its agent up.
boot_extra_guest() {
	for try in 1 2; do
		virtio-xenbus create -e /tmp/$GUEST.cfg || fail "virtio-xenbus create $GUEST"
		d=$(domid)
		wait_for 120 guest_up_or_gone "$d"
		xs_read /local/domain/"$d"/data/e2e-ready >/dev/null && return 0
		# Linux 6.12 as a PV guest under TCG was seen to take an int3 while
		# patching its text on two vcpus, in its initcalls: before the
		# initramfs, so before anything of ours.  Such a boot, once more;
		# not one whose init or our module had run.
		log=/var/log/xen/console/guest-$GUEST.log
		[ $try = 1 ] && [ -z "$(domid)" ] && grep -q "Kernel panic" "$log" &&
			! grep -q -e "e2e-guest:" -e virtio_xenbus "$log" || break
		echo "$GUEST's kernel panicked while it booted, before its initramfs ran: booting it again"
		tail -n 30 /var/log/xen/console/guest-$GUEST.log
		wait_for 30 backend_dirs_gone "$d" || fail "$GUEST's backend directories are left"
	done
	tail -n 30 /var/log/xen/console/guest-$GUEST.log
	fail "$GUEST's agent did not start"
}

# Whether domain $1's agent started, or the domain is gone (on_crash).
guest_up_or_gone() {
	xs_read /local/domain/"$1"/data/e2e-ready || [ "$(domid)" != "$1" ]
}

# backend_dirs_gone DOMID: no backend directory of a virtio device of ours or
# libxl's is left for the domain.  One path a call: xenstore-list stops at
# the first it cannot list.
backend_dirs_gone() {
	for type in virtio virtio_disk; do
		[ -z "$(xenstore-list /local/domain/0/backend/$type/$1 2>/dev/null)" ] || return 1
	done
}

# Destroys $GUEST: its backend directories go, the daemon carries on.
destroy_extra_guest() {
	d=$(domid)
	xl destroy $GUEST
	wait_for 20 backend_dirs_gone "$d" ||
		fail "$GUEST's backend directories are left"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
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

# Guest shell: xl_nic IP brings the guest's one virtio nic (xl's virtio =
# [...] gives it no address we know) up as IP/24, pings dom0 and prints
# "mac ADDRESS".
XL_NIC='
xl_nic() {
	for i in $(seq 150); do
		for n in /sys/class/net/*; do
			[ "$(basename "$(readlink $n/device/driver 2>/dev/null)")" = virtio_net ] && break 2
		done
		sleep 0.2
	done
	[ -e $n/device ] || { echo "no virtio nic"; return 1; }
	n=${n##*/}
	ip link set $n up
	ip addr show dev $n | grep -q "$1/" || ip addr add $1/24 dev $n
	ping -c 3 -W 5 10.99.0.1 >/dev/null || { echo "cannot ping dom0"; return 1; }
	echo "mac $(cat /sys/class/net/$n/address)"
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

# silent_s FILE: the longest run of unanswered pings of busybox ping -i 0.2's
# output FILE, in seconds.
silent_s() {
	sed -n 's/.*seq=\([0-9]*\).*/\1/p' "$1" |
		awk 'NR > 1 && $1 - last > gap { gap = $1 - last } { last = $1 } END { printf "%.1f", gap * 0.2 }'
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

# ---- set-ups a test asks for: each finds what is there, or makes it ----

# The daemon, running.
ensure_daemon() {
	[ -s /run/virtio-xenbusd.pid ] && kill -0 "$(daemon_pid)" 2>/dev/null && return 0
	start_daemon || fail "virtio-xenbusd did not start"
	# What the daemon has without devices, for the tests that count.
	[ -n "$(xenstore-list /local/domain/0/backend/virtio 2>/dev/null)" ] ||
		daemon_threads >/run/e2e-base-threads
}

# guest1 with its config's 256 MiB vda and blkback's xvda, its agent up.
ensure_guest() {
	ensure_daemon
	# A restored guest's agent is the one of before: it answers, but writes
	# no ready key in its new domain.
	if domid >/dev/null; then
		wait_for 120 guest_run 20 true || fail "$GUEST runs, but its agent does not answer"
		return 0
	fi
	[ -f /srv/disk1.img ] || truncate -s 256M /srv/disk1.img
	[ -f /srv/xvda.img ] || truncate -s 256M /srv/xvda.img
	XVDA_LOOP=$(losetup -j /srv/xvda.img | cut -d: -f1)
	# Direct I/O, as our disk does: the page cache would make blkback's
	# file figures the cache's.
	[ -n "$XVDA_LOOP" ] || XVDA_LOOP=$(losetup --direct-io=on -f --show /srv/xvda.img)
	boot_guest
}

# guest1's nic $NIC_MAC on xenbr0, up in the guest as 10.99.0.2.
ensure_nic() {
	ensure_guest
	bridge_up || fail "cannot make the bridge"
	virtio-xenbus list $GUEST | grep -qi "mac $NIC_MAC" ||
		virtio-xenbus nic-attach $GUEST mac=$NIC_MAC,bridge=xenbr0 || fail "nic-attach"
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		n=$(nic '$NIC_MAC')
		ip link set $n up
		ip addr show dev $n | grep -q "10.99.0.2/" || ip addr add 10.99.0.2/24 dev $n
		ping -c 3 -W 5 10.99.0.1 >/dev/null') || { echo "$out"; fail "guest1's nic does not work"; }
}
