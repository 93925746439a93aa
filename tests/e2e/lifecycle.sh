# shellcheck shell=sh
# The lives of guests and of the daemon: module reload, reboot, destruction,
# the daemon's restart, save and restore, and plain xl's virtio disks.

test_daemon_starts() {
	ensure_daemon
	sleep 1
	kill -0 "$(daemon_pid)" || fail "virtio-xenbusd exited"
	cat "$DAEMON_LOG"
	grep -q "xen hypervisor interface" "$DAEMON_LOG" || fail "not on the real Xen interface"
	echo "daemon threads at start: $(cat /run/e2e-base-threads)"
}

test_module_unload_and_reload() {
	ensure_guest
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

test_guest_reboot_reconnects() {
	ensure_guest
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
	ensure_nic
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
	ensure_nic
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

# issue 5: Xen's save and restore.  A checkpoint (save -c): the suspend is
# cancelled, the guest carries on in the same domain and its devices are
# restored at the thaw.  Then two writers run across virtio-xenbus save (the
# guest's drivers freeze: requests drain, the device is reset, every grant
# ends); restore gives the new domain its devices at their devids and the
# frozen drivers restore onto them: the writes complete with their bytes,
# the nic works.
test_guest_save_and_restore() {
	ensure_nic
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
	wait_for 30 backend_dirs_gone "$old" ||
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

test_daemon_stops_cleanly() {
	ensure_daemon
	pid=$(daemon_pid)
	kill -TERM "$pid"
	wait_for 20 sh -c "! kill -0 $pid" || fail "virtio-xenbusd did not stop on SIGTERM"
	tail -n 5 "$DAEMON_LOG"
	grep -q "stopped: every grant unmapped, every port unbound" "$DAEMON_LOG" || fail "no clean stop logged"
}

# Xen's own virtio disk syntax, with plain xl (no virtio-xenbus create):
# libxl writes backend/virtio_disk, the daemon serves it (protocol.md 1.5);
# the disk is there at boot, after xl reboot and after xl save and restore,
# and xl destroy leaves nothing of it.  (libxl 4.17 and 4.20 refuse xl
# block-attach of such a disk: "Hotplug isn't supported for specification
# virtio".)
test_plain_xl_virtio_disk() {
	ensure_daemon
	GUEST=guest4
	rm -f /srv/g4.img /srv/g4.save
	truncate -s 64M /srv/g4.img
	{ guest_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
on_reboot = "restart"
disk = [ "/srv/g4.img,format=raw,vdev=xvdb,specification=virtio,backendtype=standalone" ]
CFG
	xl create /tmp/$GUEST.cfg || fail "xl create"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	d=$(domid)
	out=$(guest_run 120 "$FIND_DISK"'
		set -e
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null
		dd if=/tmp/blob of=/dev/$d bs=1M oflag=direct 2>/dev/null
		sha256sum </tmp/blob | cut -c1-64') || { echo "$out"; fail "writes in $GUEST"; }
	sum=$(echo "$out" | tail -n 1)
	[ "$(dd if=/srv/g4.img bs=1M count=8 2>/dev/null | sha256sum | cut -c1-64)" = "$sum" ] ||
		fail "dom0's file does not hold what $GUEST wrote"
	virtio-xenbus list $GUEST | tee /tmp/list
	grep "xl's virtio disk" /tmp/list | grep -q 'connected *connected' ||
		fail "list does not show xl's disk connected"
	read_back='
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		dd if=/dev/$d bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -c1-64'

	xl reboot $GUEST || fail "xl reboot"
	wait_for 90 sh -c "n=\$(xl domid $GUEST 2>/dev/null) && [ \"\$n\" != $d ]" ||
		fail "no new domain for $GUEST within 90 s of xl reboot"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		fail "the rebooted $GUEST's agent did not start"
	out=$(guest_run 120 "$FIND_DISK$read_back") || { echo "$out"; fail "after xl reboot"; }
	[ "$out" = "$sum" ] || fail "after xl reboot the disk does not hold what was written"
	backend_dirs_gone "$d" ||
		fail "the old domain's virtio_disk directories are left"
	echo "xl reboot: domain $d is now $(domid), the disk holds its data"

	xl save $GUEST /srv/g4.save 2>&1 | tee /tmp/xl.out
	[ -s /srv/g4.save ] || fail "xl save"
	# libxl removes the old domain's disk once the daemon says Closed.
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the save"
	xl restore /srv/g4.save || fail "xl restore"
	rm -f /srv/g4.save
	wait_for 120 guest_run 20 true || fail "the restored $GUEST's agent does not answer"
	out=$(guest_run 120 "$FIND_DISK$read_back") || { echo "$out"; fail "after xl restore"; }
	[ "$out" = "$sum" ] || fail "after xl restore the disk does not hold what was written"
	echo "xl save and restore: the disk holds its data"

	d=$(domid)
	xl destroy $GUEST 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the destroy"
	wait_for 30 backend_dirs_gone "$d" ||
		fail "xl destroy left backend/virtio_disk/$d"
	wait_for 30 grep -q "d$d virtio_disk/51728: released" "$DAEMON_LOG" ||
		fail "the daemon did not release the destroyed domain's disk"
	[ "$(ls -l /proc/"$(daemon_pid)"/fd | grep -c /srv/g4.img)" = 0 ] ||
		fail "the daemon still holds /srv/g4.img"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
	rm -f /srv/g4.img
}

# Xen 4.18+'s own virtio nic syntax, with plain xl: libxl writes
# backend/virtio with type virtio,device1 (protocol.md 1.6), the daemon
# serves it on xenbr0 with an address of its own, the same after xl reboot
# and xl save/restore; xl shutdown leaves nothing.  Only where xl has the
# virtio key (dom0-tests.sh skips it on 4.17).
test_plain_xl_virtio_nic() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest5
	rm -f /srv/g5.save
	{ guest_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
on_reboot = "restart"
virtio = [ "type=virtio,device1,transport=mmio" ]
CFG
	t0=$(date +%s.%N)
	xl create /tmp/$GUEST.cfg 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "xl create"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	d=$(domid)
	# libxl unpauses the guest at once: how long until the daemon served it.
	wait_for 60 grep -q "d$d virtio/0: connected" "$DAEMON_LOG" || fail "the nic never connected"
	t1=$(grep "d$d virtio/0: connected" "$DAEMON_LOG" | head -n 1 | cut -d' ' -f1)
	echo "the nic connected $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s after xl create began"
	# The guest's one virtio nic, up as 10.99.0.5.
	nic_up="$XL_NIC
		xl_nic 10.99.0.5"
	out=$(guest_run 120 "$nic_up") || { echo "$out"; fail "the nic in $GUEST"; }
	mac=$(echo "$out" | sed -n 's/^mac //p')
	echo "$GUEST's nic: $mac"
	case $mac in 00:16:3e:*) ;; *) fail "the address $mac is not in Xen's OUI" ;; esac
	virtio-xenbus list $GUEST | tee /tmp/list
	grep "xl's virtio nic" /tmp/list | grep "mac $mac" | grep -q 'connected *connected' ||
		fail "list does not show xl's nic connected with its address"
	ip link show master xenbr0 | grep -q "vxif$d.0" || fail "vxif$d.0 is not on xenbr0"
	busybox ping -c 3 -W 5 10.99.0.5 || fail "dom0 cannot ping $GUEST"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from $GUEST"; }
	echo "32 MiB $GUEST -> dom0 in $ms ms"
	ms=$(tcp_to_guest 10.99.0.5) || { echo "$ms"; fail "TCP to $GUEST"; }
	echo "32 MiB dom0 -> $GUEST in $ms ms"

	xl reboot $GUEST || fail "xl reboot"
	wait_for 90 sh -c "n=\$(xl domid $GUEST 2>/dev/null) && [ \"\$n\" != $d ]" ||
		fail "no new domain for $GUEST within 90 s of xl reboot"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		fail "the rebooted $GUEST's agent did not start"
	out=$(guest_run 120 "$nic_up") || { echo "$out"; fail "the nic after xl reboot"; }
	[ "$(echo "$out" | sed -n 's/^mac //p')" = "$mac" ] || fail "after xl reboot the nic has another address: $out"
	wait_for 30 backend_dirs_gone "$d" ||
		fail "the old domain's backend/virtio directories are left"
	[ ! -e /sys/class/net/vxif$d.0 ] || fail "the old domain's vxif$d.0 is left"
	echo "xl reboot: domain $d is now $(domid), its nic $mac pings dom0"

	xl save $GUEST /srv/g5.save 2>&1 | tee /tmp/xl.out
	[ -s /srv/g5.save ] || fail "xl save"
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the save"
	xl restore /srv/g5.save 2>&1 | tee /tmp/xl.out || fail "xl restore"
	rm -f /srv/g5.save
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the restore"
	wait_for 120 guest_run 20 true || fail "the restored $GUEST's agent does not answer"
	out=$(guest_run 120 "$nic_up") || { echo "$out"; fail "the nic after xl restore"; }
	[ "$(echo "$out" | sed -n 's/^mac //p')" = "$mac" ] || fail "after xl restore the nic has another address: $out"
	busybox ping -c 3 -W 5 10.99.0.5 || fail "dom0 cannot ping the restored $GUEST"
	echo "xl save and restore: the nic $mac pings both ways"

	# The guest powers off: xl's monitor takes its devices down as at destroy.
	d=$(domid)
	timeout 120 xl shutdown -w $GUEST 2>&1 | tee /tmp/xl.out
	! xl domid $GUEST >/dev/null 2>&1 || fail "$GUEST still runs 120 s after xl shutdown"
	# xl's monitor of the domain did the reboot and the shutdown's destroy.
	! grep "libxl: error" /tmp/xl.out /var/log/xen/xl-$GUEST.log ||
		fail "libxl failed a step of the reboot or the shutdown"
	wait_for 30 backend_dirs_gone "$d" ||
		fail "xl shutdown left backend/virtio/$d"
	wait_for 30 grep -q "d$d virtio/0: released" "$DAEMON_LOG" ||
		fail "the daemon did not release the shut down domain's nic"
	[ ! -e /sys/class/net/vxif$d.0 ] || fail "xl shutdown left vxif$d.0"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
}

# A host's shutdown and boot, as xendomains does them (/etc/init.d/xendomains
# stop saves each guest of /etc/xen/auto, start restores it): a guest of
# plain xl config with Xen's own virtio disk (and, where xl has the key, nic)
# comes back with its devices, its data and its address; nothing of the
# saved domain is left meanwhile.  The daemon runs throughout, as its unit
# is ordered before xendomains.
test_xendomains_restores_guests_with_their_devices() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest6
	minor=$(xl info | awk '$1 == "xen_minor" { print $3 }')
	rm -f /srv/g6.img /var/lib/xen/save/$GUEST
	truncate -s 64M /srv/g6.img
	mkdir -p /etc/xen/auto
	{ guest_cfg guest 256 1; cat <<CFG; } >/etc/xen/auto/$GUEST.cfg
on_reboot = "restart"
disk = [ "/srv/g6.img,format=raw,vdev=xvdb,specification=virtio,backendtype=standalone" ]
CFG
	[ "$minor" -lt 18 ] || echo 'virtio = [ "type=virtio,device1,transport=mmio" ]' >>/etc/xen/auto/$GUEST.cfg
	# Debian's xendomains saves and restores every domU (it has no
	# XENDOMAINS_AUTO_ONLY), and a guest made by virtio-xenbus create comes
	# back from a plain xl restore without its devices: the other tests'
	# guests go first (a test that needs one makes it again).
	for dom in $(xl list | awk 'NR > 2 { print $1 }'); do xl destroy "$dom"; done
	forget_auto_guest() {
		rm -f /etc/xen/auto/$GUEST.cfg /var/lib/xen/save/$GUEST
	}
	/etc/init.d/xendomains start 2>&1 | tail -n 5
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ forget_auto_guest; tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "xendomains did not start $GUEST"; }
	saved=$(domid)	# not d: guest_run sets it
	nic_check=true
	[ "$minor" -lt 18 ] || nic_check='xl_nic 10.99.0.6'
	out=$(guest_run 120 "$FIND_DISK$XL_NIC"'
		set -e
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null
		dd if=/tmp/blob of=/dev/$d bs=1M oflag=direct 2>/dev/null
		'"$nic_check"'
		sha256sum </tmp/blob | cut -c1-64') || { forget_auto_guest; echo "$out"; fail "the devices in $GUEST"; }
	sum=$(echo "$out" | tail -n 1)
	mac=$(echo "$out" | sed -n 's/^mac //p')
	echo "$GUEST (domain $saved) wrote its disk${mac:+, its nic is $mac}"

	/etc/init.d/xendomains stop 2>&1 | tail -n 5
	[ -s /var/lib/xen/save/$GUEST ] || { forget_auto_guest; fail "xendomains did not save $GUEST"; }
	! xl domid $GUEST >/dev/null 2>&1 || { forget_auto_guest; fail "$GUEST still runs after xendomains stop"; }
	wait_for 30 backend_dirs_gone "$saved" ||
		{ forget_auto_guest; fail "the saved domain's backend directories are left"; }
	[ "$(ls -l /proc/"$(daemon_pid)"/fd | grep -c /srv/g6.img)" = 0 ] ||
		{ forget_auto_guest; fail "the daemon still holds /srv/g6.img of the saved domain"; }

	/etc/init.d/xendomains start 2>&1 | tail -n 5
	wait_for 120 guest_run 20 true || { forget_auto_guest; fail "the restored $GUEST's agent does not answer"; }
	[ ! -e /var/lib/xen/save/$GUEST ] || { forget_auto_guest; fail "xendomains did not restore $GUEST"; }
	out=$(guest_run 120 "$FIND_DISK$XL_NIC"'
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		'"$nic_check"' || exit 1
		dd if=/dev/$d bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -c1-64') ||
		{ forget_auto_guest; echo "$out"; fail "the devices after xendomains start"; }
	[ "$(echo "$out" | tail -n 1)" = "$sum" ] || { forget_auto_guest; fail "the restored disk does not hold what was written"; }
	[ "$(echo "$out" | sed -n 's/^mac //p')" = "$mac" ] || { forget_auto_guest; fail "the restored nic has another address: $out"; }
	[ -z "$mac" ] || busybox ping -c 3 -W 5 10.99.0.6 || { forget_auto_guest; fail "dom0 cannot ping the restored $GUEST"; }
	virtio-xenbus list $GUEST | tee /tmp/list
	[ "$(grep -c 'connected *connected' /tmp/list)" = "$([ -n "$mac" ] && echo 2 || echo 1)" ] ||
		{ forget_auto_guest; fail "list does not show every device connected"; }
	restored=$(domid)
	echo "xendomains stop and start: domain $saved is now $restored, with its data${mac:+ and its address}"
	xl destroy $GUEST
	forget_auto_guest
	wait_for 30 backend_dirs_gone "$restored" ||
		fail "xl destroy left backend directories of domain $restored"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
	rm -f /srv/g6.img
}

# xl migrate to this host (xl runs `xl migrate-receive` itself when -s is
# empty) of a PVH guest whose devices are xl's own syntax: libxl makes them
# again at the far end and takes them down at the source.  Four writers in
# flight on the disk keep every byte; where xl has the virtio key, the nic
# pings across the migration and announces itself from its new port; two
# more migrations in a row keep both.  PVH: a PV guest cannot be migrated on
# Debian's Xen (log-dirty for PV is shadow paging, which Debian does not
# build); PVH's is HAP, which the rig's CPU has (run.sh's -cpu +svm,+npt).
test_xl_migrate_pvh_guest_keeps_virtio_devices() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest7
	minor=$(xl info | awk '$1 == "xen_minor" { print $3 }')
	rm -f /srv/g7.img
	truncate -s 64M /srv/g7.img
	{ pvh_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
disk = [ "/srv/g7.img,format=raw,vdev=xvdb,specification=virtio,backendtype=standalone" ]
CFG
	[ "$minor" -lt 18 ] || echo 'virtio = [ "type=virtio,device1,transport=mmio" ]' >>/tmp/$GUEST.cfg
	xl create /tmp/$GUEST.cfg 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "xl create"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	src=$(domid)	# not d: guest_run sets it
	if [ "$minor" -ge 18 ]; then
		out=$(guest_run 120 "$XL_NIC
			xl_nic 10.99.0.7") || { echo "$out"; fail "the nic in $GUEST"; }
		busybox ping -c 2 -W 5 10.99.0.7 >/dev/null || fail "dom0 cannot ping $GUEST"
	fi
	out=$(guest_run 60 "$FIND_DISK$WRITERS"'
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		echo $d >/tmp/disk
		start_writers 4 64 40 0
		echo started') || { echo "$out"; fail "writers in $GUEST"; }
	[ "$minor" -lt 18 ] || { busybox ping -i 0.2 -W 1 10.99.0.7 >/tmp/ping.out 2>&1 & ping_pid=$!; }
	sleep 2
	xl migrate -s "" $GUEST "xl migrate-receive" 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the migration"
	n=$(domid) || fail "$GUEST is gone after xl migrate"
	[ "$n" != "$src" ] || fail "xl migrate made no new domain"
	wait_for 120 guest_run 20 true || fail "the migrated $GUEST's agent does not answer"
	out=$(guest_run 600 "$WRITERS"'
		d=$(cat /tmp/disk)
		report_writers 4 64 0') || { echo "$out"; fail "the writers after xl migrate"; }
	echo "$out"
	writers_ok "$out" 4 || fail "the writers across xl migrate"
	sum=$(guest_run 60 'dd if=/dev/$(cat /tmp/disk) bs=1M count=16 iflag=direct 2>/dev/null | sha256sum | cut -c1-64')
	[ "$(dd if=/srv/g7.img bs=1M count=16 2>/dev/null | sha256sum | cut -c1-64)" = "$sum" ] ||
		fail "dom0's file does not hold what the guest sees after xl migrate"
	if [ "$minor" -ge 18 ]; then
		busybox ping -c 3 -W 5 10.99.0.7 || fail "dom0 cannot ping the migrated $GUEST"
		kill $ping_pid
		# Every 0.2 s: the longest run of unanswered pings is the nic's downtime.
		echo "ping across the migration: $(grep -c 'bytes from' /tmp/ping.out) answers; the nic was silent for $(silent_s /tmp/ping.out) s at most"
		wait_for 30 sh -c "[ \$(grep -c 'd$n virtio/0: the guest announced itself' $DAEMON_LOG) -gt 0 ]" ||
			fail "the migrated nic did not announce itself"
	fi
	wait_for 30 backend_dirs_gone "$src" ||
		fail "the source domain's backend directories are left"
	wait_for 30 grep -q "d$src virtio_disk/51728: released" "$DAEMON_LOG" ||
		fail "the daemon did not release the source domain's disk"
	[ ! -e /sys/class/net/vxif$src.0 ] || fail "the source domain's vxif$src.0 is left"
	virtio-xenbus list $GUEST | tee /tmp/list
	[ "$(grep -c 'connected *connected' /tmp/list)" = "$([ "$minor" -ge 18 ] && echo 2 || echo 1)" ] ||
		fail "list does not show every device connected"
	# Twice more in a row: the same devices, connected, each time.
	for i in 2 3; do
		xl migrate -s "" $GUEST "xl migrate-receive" >/tmp/xl.out 2>&1
		! grep "libxl: error" /tmp/xl.out || { cat /tmp/xl.out; fail "libxl failed a step of migration $i"; }
		wait_for 120 guest_run 20 true || fail "$GUEST's agent does not answer after migration $i"
		wait_for 60 all_connected || { cat /tmp/list; fail "not every device connected after migration $i"; }
		[ "$minor" -lt 18 ] || busybox ping -c 2 -W 5 10.99.0.7 >/dev/null ||
			fail "dom0 cannot ping $GUEST after migration $i"
		echo "migration $i: domain $(domid), every device connected"
	done
	xl destroy $GUEST 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the destroy"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
	rm -f /srv/g7.img
}

# virtio-xenbus migrate of a PVH guest whose devices the tool made (a
# two-queue disk and a nic), to this host (-s "", as the xl test above):
# four writers and a TCP transfer into the guest across it, then twice more,
# then one the receiver refuses (the disk not at its path): the guest stays,
# with its devices.  Run by name, as the test above, with E2E_CPU's SVM.
test_virtio_xenbus_migrate_pvh_guest() {
	ensure_daemon
	bridge_up || fail "cannot make the bridge"
	GUEST=guest8
	rm -f /srv/g8.img /srv/g8.away
	truncate -s 64M /srv/g8.img
	{ pvh_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
virtio_disk = [ "/srv/g8.img,raw,vda,rw,queues=2" ]
virtio_nic = [ "mac=00:16:3e:e2:e0:08,bridge=xenbr0" ]
CFG
	virtio-xenbus create /tmp/$GUEST.cfg || fail "virtio-xenbus create $GUEST"
	wait_for 120 xs_read /local/domain/"$(domid)"/data/e2e-ready ||
		{ tail -n 30 /var/log/xen/console/guest-$GUEST.log; fail "$GUEST's agent did not start"; }
	src=$(domid)	# not d: guest_run sets it
	uuid=$(xs_read /local/domain/$src/vm | sed 's,.*/,,')
	follower=$(xs_read /tool/virtio-xenbus/follower/$uuid) || fail "no follower recorded for $GUEST"
	out=$(guest_run 120 "$XL_NIC
		xl_nic 10.99.0.8") || { echo "$out"; fail "the nic in $GUEST"; }
	out=$(guest_run 60 "$FIND_DISK$WRITERS"'
		d=$(wait_disk 131072)
		[ -n "$d" ] || { echo "no 64 MiB virtio disk"; exit 1; }
		echo $d >/tmp/disk
		start_writers 4 64 40 0
		echo started') || { echo "$out"; fail "writers in $GUEST"; }
	busybox ping -i 0.2 -W 1 10.99.0.8 >/tmp/ping.out 2>&1 &
	ping_pid=$!
	tcp_to_guest 10.99.0.8 >/tmp/tcp.out 2>&1 &
	tcp_pid=$!
	sleep 2
	kill -0 $tcp_pid 2>/dev/null && echo "the TCP transfer runs as the migration starts"
	virtio-xenbus migrate -s "" $GUEST "virtio-xenbus migrate-receive" >/tmp/mig.out 2>&1
	rc=$?
	cat /tmp/mig.out
	[ $rc = 0 ] || fail "virtio-xenbus migrate"
	grep -q "$GUEST migrated with its 2 virtio devices" /tmp/mig.out ||
		fail "migrate did not say it carried both devices"
	n=$(domid) || fail "$GUEST is gone after the migration"
	[ "$n" != "$src" ] || fail "the migration made no new domain"
	wait_for 120 guest_run 20 true || fail "the migrated $GUEST's agent does not answer"
	out=$(guest_run 600 "$WRITERS"'
		d=$(cat /tmp/disk)
		report_writers 4 64 0') || { echo "$out"; fail "the writers after the migration"; }
	echo "$out"
	writers_ok "$out" 4 || fail "the writers across the migration"
	sum=$(guest_run 60 'dd if=/dev/$(cat /tmp/disk) bs=1M count=16 iflag=direct 2>/dev/null | sha256sum | cut -c1-64')
	[ "$(dd if=/srv/g8.img bs=1M count=16 2>/dev/null | sha256sum | cut -c1-64)" = "$sum" ] ||
		fail "dom0's file does not hold what the guest sees after the migration"
	wait "$tcp_pid" || { cat /tmp/tcp.out; fail "the TCP transfer across the migration"; }
	echo "TCP into $GUEST across the migration: 32 MiB in $(cat /tmp/tcp.out) ms, checksum matches"
	busybox ping -c 3 -W 5 10.99.0.8 >/dev/null || fail "dom0 cannot ping the migrated $GUEST"
	kill $ping_pid
	echo "ping across the migration: $(grep -c 'bytes from' /tmp/ping.out) answers; the nic was silent for $(silent_s /tmp/ping.out) s at most"
	wait_for 30 grep -q "d$n virtio/1: the guest announced itself" "$DAEMON_LOG" ||
		fail "the migrated nic did not announce itself"
	# Nothing of the source domain is left: directories, devices, TAP, follower.
	wait_for 30 backend_dirs_gone "$src" || fail "the source domain's backend directories are left"
	for dev in 0 1; do
		wait_for 30 grep -q "d$src virtio/$dev: released" "$DAEMON_LOG" ||
			fail "the daemon did not release the source domain's device $dev"
	done
	[ ! -e /sys/class/net/vxif$src.1 ] || fail "the source domain's vxif$src.1 is left"
	! kill -0 "$follower" 2>/dev/null || fail "the source's follower $follower is left"
	next=$(xs_read /tool/virtio-xenbus/follower/$uuid) || fail "no follower follows the migrated $GUEST"
	[ "$next" != "$follower" ] && kill -0 "$next" || fail "the recorded follower $next is not a new one"
	wait_for 60 all_connected || { cat /tmp/list; fail "not every device connected after the migration"; }
	cat /tmp/list

	for i in 2 3; do
		virtio-xenbus migrate -s "" $GUEST "virtio-xenbus migrate-receive" >/tmp/mig.out 2>&1 ||
			{ cat /tmp/mig.out; fail "migration $i"; }
		wait_for 120 guest_run 20 true || fail "$GUEST's agent does not answer after migration $i"
		wait_for 60 all_connected || { cat /tmp/list; fail "not every device connected after migration $i"; }
		busybox ping -c 2 -W 5 10.99.0.8 >/dev/null || fail "dom0 cannot ping $GUEST after migration $i"
		echo "migration $i: domain $(domid), every device connected"
	done

	# The receiver cannot open the disk: refused before the guest is suspended.
	n=$(domid)
	mv /srv/g8.img /srv/g8.away
	virtio-xenbus migrate -s "" $GUEST "virtio-xenbus migrate-receive" >/tmp/mig.out 2>&1 &&
		{ mv /srv/g8.away /srv/g8.img; cat /tmp/mig.out; fail "a migration without the disk went through"; }
	cat /tmp/mig.out
	grep -q "device 0 cannot be made on this host: /srv/g8.img: No such file" /tmp/mig.out ||
		{ mv /srv/g8.away /srv/g8.img; fail "the refusal does not say why"; }
	[ "$(domid)" = "$n" ] || { mv /srv/g8.away /srv/g8.img; fail "$GUEST is not domain $n after the refused migration"; }
	out=$(guest_run 120 'd=$(cat /tmp/disk)
		dd if=/dev/urandom of=/tmp/after bs=1M count=4 2>/dev/null
		dd if=/tmp/after of=/dev/$d bs=1M seek=32 oflag=direct 2>&1 | tail -n 1
		sha256sum </tmp/after | cut -c1-64') || { mv /srv/g8.away /srv/g8.img; echo "$out"; fail "the disk after the refused migration"; }
	[ "$(dd if=/srv/g8.away bs=1M skip=32 count=4 2>/dev/null | sha256sum | cut -c1-64)" = "$(echo "$out" | tail -n 1)" ] ||
		{ mv /srv/g8.away /srv/g8.img; fail "a write after the refused migration is not in dom0's file"; }
	mv /srv/g8.away /srv/g8.img
	busybox ping -c 2 -W 5 10.99.0.8 >/dev/null || fail "dom0 cannot ping $GUEST after the refused migration"
	wait_for 10 all_connected || { cat /tmp/list; fail "not every device connected after the refused migration"; }
	next=$(xs_read /tool/virtio-xenbus/follower/$uuid) && kill -0 "$next" ||
		fail "no follower after the refused migration"
	echo "the refused migration: $GUEST stays domain $n, its disk written and its nic answering"

	xl destroy $GUEST 2>&1 | tee /tmp/xl.out
	! grep "libxl: error" /tmp/xl.out || fail "libxl failed a step of the destroy"
	# The follower waits 30 s for a reboot, then ends and lets go of its record.
	wait_for 60 sh -c "! xenstore-read /tool/virtio-xenbus/follower/$uuid" ||
		fail "the follower's record is left after the guest was destroyed"
	kill -0 "$(daemon_pid)" || fail "the daemon died"
	rm -f /srv/g8.img
}
