# shellcheck shell=sh
# A backend that is slow is not gone (protocol.md 2.1, issue 15): the daemon
# is stopped (SIGSTOP) for $STALL seconds at a step of a guest's life, then
# continued.  Every device then works, with its data checked in dom0, the
# guest's kernel never warned, and where the module waited it said so.
STALL=$(cat /payload/stall-s 2>/dev/null || echo 30)

# stalled COMMAND...: runs COMMAND in the background with the daemon stopped
# for its first $STALL seconds; returns COMMAND's status.
stalled() {
	pid=$(daemon_pid)
	kill -STOP "$pid"
	"$@" >/tmp/stalled.out 2>&1 &
	cmd=$!
	sleep "$STALL"
	kill -CONT "$pid"
	wait $cmd
	rc=$?
	cat /tmp/stalled.out
	kill -0 "$pid" || fail "the daemon died"
	return $rc
}

# on_guest4 COMMAND...: COMMAND with GUEST=guest4, in a subshell.
on_guest4() { (GUEST=guest4; "$@"); }

# The stall guest: guest4, three disks of four queues (64, 48 and 40 MiB:
# the guest finds each by its size) and a nic, made by create and followed
# for its reboots.
STALL_DISKS="131072 98304 81920"
STALL_MAC=00:16:3e:e2:e0:04

stall_guest_cfg() {
	truncate -s 64M /srv/g4a.img
	truncate -s 48M /srv/g4b.img
	truncate -s 40M /srv/g4c.img
	{ on_guest4 guest_cfg guest 256 2; cat <<CFG; } >/tmp/guest4.cfg
on_reboot = "restart"
virtio_disk = [ "/srv/g4a.img,raw,vda,rw,queues=4", "/srv/g4b.img,raw,vdb,rw,queues=4",
		"/srv/g4c.img,raw,vdc,rw,queues=4" ]
virtio_nic = [ "mac=$STALL_MAC,bridge=xenbr0" ]
CFG
}

# The agent of guest4 answers (a new domain's after a reboot; a restored
# one's, which is the agent of before and says nothing of itself).
stall_guest_ready() {
	wait_for 240 on_guest4 guest_run 20 true ||
		{ tail -n 30 /var/log/xen/console/guest-guest4.log; fail "guest4's agent does not answer"; }
}

ensure_stall_guest() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	xl domid guest4 >/dev/null 2>&1 && { stall_guest_ready; return 0; }
	stall_guest_cfg
	virtio-xenbus create /tmp/guest4.cfg || fail "virtio-xenbus create guest4"
	stall_guest_ready
}

# Every disk of guest4 takes 4 MiB at block $1 (of 64 KiB) and gives it
# back; dom0's images hold it; the nic pings dom0; the kernel did not warn.
# Prints how often the module said it was still waiting.
check_stall_guest() {
	out=$(on_guest4 guest_run 300 "$FIND_DISK
$FIND_NIC"'
		set -e
		dd if=/dev/urandom of=/tmp/s bs=64k count=64 2>/dev/null
		sha256sum </tmp/s | cut -c1-64
		for size in '"$STALL_DISKS"'; do
			d=$(wait_disk $size)
			[ -n "$d" ] || { echo "no disk of $size sectors"; exit 1; }
			dd if=/tmp/s of=/dev/$d bs=64k seek='"$1"' oflag=direct 2>/dev/null
			dd if=/dev/$d bs=64k skip='"$1"' count=64 iflag=direct 2>/dev/null | cmp - /tmp/s
			echo "disk $size: $d"
		done
		n=$(nic '$STALL_MAC')
		ip link set $n up
		ip addr show dev $n | grep -q "10.99.0.4/" || ip addr add 10.99.0.4/24 dev $n
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "nic: $n"
		echo "still waiting: $(dmesg | grep -c "still waiting for the backend")"
		dmesg | grep -B 2 -A 30 "WARNING:\|BUG:" | head -n 40
		echo "kernel warnings: $(dmesg | grep -c "WARNING:\|BUG:")"') ||
		{ echo "$out"; fail "guest4's devices after the stall"; }
	echo "$out"
	sum=$(echo "$out" | sed -n 1p)
	for img in g4a g4b g4c; do
		[ "$(dd if=/srv/$img.img bs=64k skip="$1" count=64 2>/dev/null | sha256sum | cut -c1-64)" = "$sum" ] ||
			fail "/srv/$img.img does not hold what guest4 wrote"
	done
	echo "$out" | grep -q "^nic: " || fail "guest4's nic does not work"
	echo "$out" | grep -q "^kernel warnings: 0$" || fail "guest4's kernel warned"
	on_guest4 wait_for 60 all_connected || { cat /tmp/list; fail "not every device of guest4 is connected"; }
}

stall_waits_logged() {
	n=$(echo "$out" | sed -n 's/^still waiting: //p')
	echo "the module said it was still waiting $n time(s)"
	[ "${n:-0}" -gt "$1" ] || fail "the module did not wait for the stopped backend"
}

test_slow_backend_at_guest_boot() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	if xl domid guest4 >/dev/null 2>&1; then on_guest4 destroy_extra_guest || fail "cannot destroy guest4"; fi
	stall_guest_cfg
	# Its devices are published while it is paused; it boots on a stopped daemon.
	virtio-xenbus create /tmp/guest4.cfg -p || fail "virtio-xenbus create guest4 -p"
	stalled xl unpause guest4 || fail "xl unpause"
	stall_guest_ready
	check_stall_guest 16
	stall_waits_logged 0
}

test_slow_backend_at_hot_attach() {
	ensure_guest
	truncate -s 72M /srv/stall.img
	stalled virtio-xenbus disk-attach $GUEST /srv/stall.img,raw,vds,rw,queues=2 ||
		fail "disk-attach with the daemon stopped for $STALL s"
	out=$(guest_run 120 "$FIND_DISK"'
		set -e
		d=$(wait_disk 147456)
		[ -n "$d" ] || { echo "no 72 MiB disk"; exit 1; }
		dd if=/dev/urandom of=/tmp/a bs=64k count=64 2>/dev/null
		dd if=/tmp/a of=/dev/$d bs=64k seek=8 oflag=direct 2>/dev/null
		sha256sum </tmp/a | cut -c1-64
		echo "kernel warnings: $(dmesg | grep -c "WARNING:\|BUG:")"') || { echo "$out"; fail "the disk in the guest"; }
	echo "$out"
	[ "$(dd if=/srv/stall.img bs=64k skip=8 count=64 2>/dev/null | sha256sum | cut -c1-64)" = "$(echo "$out" | sed -n 1p)" ] ||
		fail "/srv/stall.img does not hold what the guest wrote"
	echo "$out" | grep -q "^kernel warnings: 0$" || fail "the guest's kernel warned"
	# As it found it: without the disk.
	virtio-xenbus disk-detach $GUEST vds || fail "disk-detach"
}

test_slow_backend_at_module_reload() {
	ensure_guest
	before=$(guest_run 30 "$FIND_DISK"'
		d=$(disk 524288)
		dd if=/dev/$d bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -c1-64') ||
		{ echo "$before"; fail "no vda"; }
	# The unbind resets each device: the resets wait for the stopped daemon.
	stalled guest_run 600 "$FIND_DISK"'
		set -e
		for dev in /sys/bus/xen/devices/virtio-*; do echo ${dev##*/} >$dev/driver/unbind; done
		rmmod virtio_xenbus
		insmod /modules/virtio_xenbus.ko
		d=$(wait_disk 524288)
		[ -n "$d" ] || { echo "vda did not come back"; exit 1; }
		echo "vda back: $d"' || fail "the reload with the daemon stopped"
	out=$(guest_run 60 "$FIND_DISK"'
		d=$(wait_disk 524288)
		dd if=/dev/$d bs=1M count=4 iflag=direct 2>/dev/null | sha256sum | cut -c1-64
		echo "still waiting: $(dmesg | grep -c "still waiting for the backend")"
		dmesg | grep -B 2 -A 30 "WARNING:\|BUG:" | head -n 40
		echo "kernel warnings: $(dmesg | grep -c "WARNING:\|BUG:")"') || { echo "$out"; fail "after the reload"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = "$before" ] || fail "vda holds other data after the reload"
	echo "$out" | grep -q "^kernel warnings: 0$" || fail "the guest's kernel warned"
	stall_waits_logged 0
	wait_for 60 all_connected || { cat /tmp/list; fail "not every device is connected again"; }
}

test_slow_backend_at_checkpoint() {
	ensure_stall_guest
	before=$(on_guest4 guest_run 30 'dmesg | grep -c "still waiting for the backend"')
	rm -f /srv/guest4.ckpt /srv/guest4.ckpt.virtio
	# The drivers' freeze resets the devices, the thaw sets them up again.
	stalled virtio-xenbus save -c guest4 /srv/guest4.ckpt || fail "virtio-xenbus save -c"
	rm -f /srv/guest4.ckpt /srv/guest4.ckpt.virtio
	check_stall_guest 32
	stall_waits_logged "$before"
}

test_slow_backend_at_restore() {
	ensure_stall_guest
	# The restored kernel keeps its log of before.
	before=$(on_guest4 guest_run 30 'dmesg | grep -c "still waiting for the backend"')
	rm -f /srv/guest4.save /srv/guest4.save.virtio
	virtio-xenbus save guest4 /srv/guest4.save || fail "virtio-xenbus save"
	virtio-xenbus restore -p /srv/guest4.save || fail "virtio-xenbus restore -p"
	rm -f /srv/guest4.save /srv/guest4.save.virtio
	stalled xl unpause guest4 || fail "xl unpause"
	stall_guest_ready
	check_stall_guest 48
	stall_waits_logged "$before"
}

# The reboot's new domain is made while the daemon is stopped: the follower
# waits to give it its devices, the guest waits for them.
test_slow_backend_at_guest_reboot() {
	ensure_stall_guest
	old=$(xl domid guest4)
	xs_write /local/domain/"$old"/data/e2e-cmd 'busybox reboot -f' \
		/local/domain/"$old"/data/e2e-seq 99 || fail "cannot ask for the reboot"
	stalled wait_for 120 sh -c "d=\$(xl domid guest4 2>/dev/null) && [ \"\$d\" != $old ]" ||
		fail "no new domain for guest4"
	stall_guest_ready
	echo "domain $old rebooted as $(xl domid guest4)"
	check_stall_guest 64
	left=$(xenstore-list /local/domain/0/backend/virtio/"$old" 2>/dev/null)
	[ -z "$left" ] || fail "backend directories of the old domain are left: $left"
}

# Five reboots, each with a direct writer on every disk of guest4 (three
# disks of four queues) and a marker written before it: every device is back
# every time, with the marker.
test_reboot_loop_with_writers() {
	ensure_stall_guest
	for round in 1 2 3 4 5; do
		old=$(xl domid guest4)
		out=$(on_guest4 guest_run 60 "$FIND_DISK"'
			set -e
			for size in '"$STALL_DISKS"'; do
				d=$(wait_disk $size)
				echo "round '$round' $size" | dd of=/dev/$d bs=512 seek=100 conv=fsync 2>/dev/null
				(dd if=/dev/urandom of=/dev/$d bs=64k seek=64 count=256 oflag=direct 2>/dev/null &) >/dev/null 2>&1
			done
			echo writing') || { echo "$out"; fail "round $round: the writers"; }
		xs_write /local/domain/"$old"/data/e2e-cmd 'busybox reboot -f' \
			/local/domain/"$old"/data/e2e-seq 99 || fail "cannot ask for the reboot"
		wait_for 120 sh -c "d=\$(xl domid guest4 2>/dev/null) && [ \"\$d\" != $old ]" ||
			fail "round $round: no new domain for guest4"
		stall_guest_ready
		out=$(on_guest4 guest_run 120 "$FIND_DISK"'
			for size in '"$STALL_DISKS"'; do
				d=$(wait_disk $size)
				[ -n "$d" ] || { echo "round '$round': no disk of $size sectors"; continue; }
				dd if=/dev/$d bs=512 skip=100 count=1 2>/dev/null | head -n 1
			done') || { echo "$out"; fail "round $round: after the reboot"; }
		echo "$out"
		for size in $STALL_DISKS; do
			echo "$out" | grep -qx "round $round $size" ||
				fail "round $round: the disk of $size sectors lost its marker or did not come back"
		done
		on_guest4 wait_for 60 all_connected || { cat /tmp/list; fail "round $round: not every device is connected"; }
		echo "round $round: domain $old rebooted as $(xl domid guest4), every device back"
	done
	check_stall_guest 80
	on_guest4 destroy_extra_guest || fail "guest4 left something behind"
}
