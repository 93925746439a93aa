# shellcheck shell=sh
# Other domains: a guest short of grant references, a driver domain as the
# backend, guests on other kernels.

# issue 5: running out of grant references.  A second guest whose grant
# table is two frames (1024 entries, 8 of them Xen's; Linux 6.1 crashes at
# boot with one) drives eight direct writers of 1 MiB at its virtio disk, two
# requests of up to 126 granted pages each: mappings fail for want of
# references, virtio_blk retries them, every write lands.  Three rounds: a
# leak on the failure path would starve the later ones.
test_grant_exhaustion() {
	ensure_daemon
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
		dmesg | grep -i "I/O error\|leaking\|backend is gone" | tail -n 3
		true') || { echo "$out"; fail "in $GUEST"; }
	echo "$out"
	[ "$(echo "$out" | grep -c "^round .: 0 regions differ")" = 3 ] || fail "writes were lost"
	n=$(echo "$out" | sed -n 's/^grant failures: //p')
	[ "${n:-0}" -gt 0 ] || fail "the guest never ran out of grant references: the test proves nothing"
	echo "$out" | grep -qi "I/O error\|leaking" && fail "the guest saw errors"
	destroy_extra_guest
}

# driverdom: a PV driver domain running its own virtio-xenbusd, with a 48
# MiB xvda on dom0's /srv/dd-xvda.img through $dd_loop; its domid in
# $dd_domid.  GUEST is driverdom after it.
boot_driver_domain() {
	truncate -s 48M /srv/dd-xvda.img
	dd_loop=$(losetup -f --show /srv/dd-xvda.img) || fail "losetup"
	GUEST=driverdom
	{ guest_cfg driver-domain 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
driver_domain = 1
disk = [ "phy:$dd_loop,xvda,w" ]
CFG
	boot_extra_guest
	dd_domid=$(domid)
	out=$(guest_run 60 'set -e
		mkdir -p /run
		/usr/sbin/virtio-xenbusd --foreground --pidfile /run/virtio-xenbusd.pid \
			</dev/null >/tmp/virtio-xenbusd.log 2>&1 &
		for i in $(seq 50); do [ -s /run/virtio-xenbusd.pid ] && break; sleep 0.2; done
		cat /sys/block/xvda/size
		cat /tmp/virtio-xenbusd.log') || { echo "$out"; fail "virtio-xenbusd does not start in the driver domain"; }
	echo "$out"
	[ "$(echo "$out" | sed -n 1p)" = $((48 * MiB / 512)) ] || fail "the driver domain has no 48 MiB xvda"
}

# issue 5: a backend outside dom0.  The driver domain "driverdom" (the guests'
# kernel, virtio-xenbusd in its initramfs) has a disk of its own from dom0's
# blkback, and serves it to guest1 as a virtio disk, then a nic on its own
# bridge.  Xen lets it map only grants made to it, so the devices work only
# if the guest grants its rings and buffers to the device's otherend_id.
# What the guest writes and flushes is in the file behind the driver
# domain's disk in dom0.
test_driver_domain_backend() {
	ensure_guest
	boot_driver_domain
	sectors=$((48 * MiB / 512))

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
	grep -A 2 ' vdx ' /tmp/list | grep -q "queue 0: [1-9][0-9]* requests" ||
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
	losetup -d "$dd_loop"
}

# issue 19: a PVH guest whose disk and nic a driver domain serves,
# moved by virtio-xenbus migrate to this host (by name: HAP, E2E_CPU=
# qemu64,+svm,+npt) with four writers in flight and a ping from the driver
# domain: the devices come back on the driver domain for the new domain,
# every byte is in the file behind the driver domain's disk, the nic
# announced itself there, and the driver domain let go of the old domain.
test_virtio_xenbus_migrate_with_driver_domain() {
	ensure_daemon
	boot_driver_domain
	out=$(guest_run 30 'set -e
		brctl addbr br0
		ip addr add 10.98.0.1/24 dev br0
		ip link set br0 up') || { echo "$out"; fail "no bridge in the driver domain"; }
	GUEST=guest10
	mac=00:16:3e:e2:e0:0a
	{ pvh_cfg guest 256 1; cat <<CFG; } >/tmp/$GUEST.cfg
virtio_disk = [ "/dev/xvda,raw,vda,rw,backend=driverdom" ]
virtio_nic = [ "mac=$mac,bridge=br0,backend=driverdom" ]
CFG
	boot_extra_guest
	src=$(domid)	# not d: guest_run sets it
	out=$(guest_run 120 "$FIND_NIC
$FIND_DISK$WRITERS"'
		set -e
		n=$(nic '$mac')
		ip link set $n up
		ip addr add 10.98.0.10/24 dev $n
		ping -c 2 -W 5 10.98.0.1 >/dev/null
		d=$(wait_disk '$((48 * MiB / 512))')
		[ -n "$d" ] || { echo "no 48 MiB virtio disk"; exit 1; }
		echo $d >/tmp/disk
		start_writers 4 64 40 0
		echo started') || { echo "$out"; fail "the devices in $GUEST"; }
	GUEST=driverdom
	guest_run 10 '(busybox ping -i 0.2 -W 1 10.98.0.10 >/tmp/ping.out 2>&1 &) >/dev/null 2>&1' ||
		fail "no ping from the driver domain"
	GUEST=guest10
	virtio-xenbus migrate -e -s "" $GUEST "virtio-xenbus migrate-receive" >/tmp/mig.out 2>&1
	rc=$?
	cat /tmp/mig.out
	[ $rc = 0 ] || fail "virtio-xenbus migrate"
	n=$(domid) || fail "$GUEST is gone after the migration"
	[ "$n" != "$src" ] || fail "the migration made no new domain"
	wait_for 120 guest_run 20 true || fail "the migrated $GUEST's agent does not answer"
	out=$(guest_run 600 "$WRITERS"'
		d=$(cat /tmp/disk)
		report_writers 4 64 0
		dd if=/dev/null of=/dev/$d conv=notrunc,fsync 2>/dev/null
		dd if=/dev/$d bs=1M count=16 iflag=direct 2>/dev/null | sha256sum | cut -c1-64
		ping -c 2 -W 5 10.98.0.1 >/dev/null && echo "pinged the driver domain"') ||
		{ echo "$out"; fail "the writers after the migration"; }
	echo "$out"
	writers_ok "$out" 4 || fail "the writers across the migration"
	echo "$out" | grep -q "^pinged the driver domain$" || fail "the migrated $GUEST cannot ping the driver domain"
	[ "$(dd if=/srv/dd-xvda.img bs=1M count=16 2>/dev/null | sha256sum | cut -c1-64)" = "$(echo "$out" | grep -E '^[0-9a-f]{64}$')" ] ||
		fail "the file behind the driver domain's disk does not hold what the guest sees"
	virtio-xenbus list $GUEST | tee /tmp/list
	[ "$(awk '$1 ~ /^[0-9]+$/ && $5 == '$dd_domid' && $6 == "connected" && $7 == "connected"' /tmp/list | wc -l)" = 2 ] ||
		fail "the migrated $GUEST's disk and nic are not both served by the driver domain, connected"

	GUEST=driverdom
	out=$(guest_run 60 'kill $(pidof ping) 2>/dev/null
		echo "answers $(grep -c "bytes from" /tmp/ping.out)"
		echo "silent $(sed -n "s/.*seq=\([0-9]*\).*/\1/p" /tmp/ping.out |
			awk "NR > 1 && \$1 - last > gap { gap = \$1 - last } { last = \$1 } END { printf \"%.1f\", gap * 0.2 }")"
		for i in $(seq 150); do
			grep -q "d'$src' virtio/0: released" /tmp/virtio-xenbusd.log &&
				grep -q "d'$src' virtio/1: released" /tmp/virtio-xenbusd.log && break
			sleep 0.2
		done
		grep "d'$src' virtio/[01]: released" /tmp/virtio-xenbusd.log
		grep "d'$n' virtio/1: the guest announced itself" /tmp/virtio-xenbusd.log
		echo "interfaces: $(ip -o link | grep -o "vxif[0-9.]*" | tr "\n" " ")"') ||
		{ echo "$out"; fail "in the driver domain"; }
	echo "$out"
	echo "$out" | grep -q "d$src virtio/0: released" && echo "$out" | grep -q "d$src virtio/1: released" ||
		fail "the driver domain's daemon did not release the source domain's devices"
	echo "$out" | grep -q "d$n virtio/1: the guest announced itself" ||
		fail "the migrated nic did not announce itself on the driver domain"
	echo "$out" | grep -q "^interfaces: vxif$n.1 $" || fail "the driver domain's TAPs are not just the new domain's"
	[ "$(echo "$out" | sed -n 's/^answers //p')" -gt 10 ] || fail "the driver domain's ping hardly had answers"
	echo "ping from the driver domain across the migration: the nic was silent $(echo "$out" | sed -n 's/^silent //p') s at most"
	wait_for 30 eval '[ -z "$(xenstore-list /local/domain/$dd_domid/backend/virtio/$src 2>/dev/null)" ]' ||
		fail "the driver domain's backend directory of the source domain is left"

	GUEST=guest10
	xl destroy $GUEST
	wait_for 30 eval '[ -z "$(xenstore-list /local/domain/$dd_domid/backend/virtio/$n 2>/dev/null)" ]' ||
		fail "the driver domain's backend directory of $GUEST is left"
	GUEST=driverdom
	destroy_extra_guest
	losetup -d "$dd_loop"
}

# issue 5: the module on another guest kernel, /payload/$1 (run.sh).  A third
# guest boots it with a two-queue virtio disk and a nic from its config:
# virtio_blk and virtio_net drive them, direct writes from both vcpus land
# in dom0's image, TCP carries 32 MiB each way; the module unloads and
# reloads; writers run across a save and restore.
guest_on_kernel() {
	ensure_daemon
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

# The newest kernel of the dom0 release's backports (6.12 for Debian 12,
# 7.x for 13): virtio and virtio_ring built in, and other virtqueue and DMA
# APIs than dom0's kernel's.
test_second_kernel_guest() {
	guest_on_kernel guest-second
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
