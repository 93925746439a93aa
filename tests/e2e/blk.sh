# shellcheck shell=sh
# virtio-blk in guest1: its config's disk, hot-attached disks, data checked
# in dom0's images.

test_guest_boots_with_virtio_disk() {
	ensure_guest
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
	ensure_guest
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
	ensure_guest
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
	ensure_guest
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

test_blk_readonly_hot_attach() {
	ensure_guest
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
	ensure_guest
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
	ensure_guest
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

# The module's grant pool (protocol.md 4.4), on by default and off with
# pool_pages=0: a disk attached each way takes the same direct writes of 4
# to 64 KiB, read back in the guest and in dom0's image; `list` counts the
# grant operations its queue made: none with the pool, one or more per
# request without.
test_blk_grant_pool_on_and_off() {
	ensure_guest
	truncate -s 48M /srv/pool.img
	for pool in on off; do
		[ $pool = on ] || guest_run 10 'echo 0 >/sys/module/virtio_xenbus/parameters/pool_pages' ||
			fail "cannot turn the pool off"
		virtio-xenbus disk-attach $GUEST /srv/pool.img,raw,vdp || fail "disk-attach ($pool)"
		out=$(guest_run 180 "$FIND_DISK"'
			set -e
			p=$(wait_disk 98304)
			[ -n "$p" ] || { echo "no 48 MiB disk"; exit 1; }
			i=0
			for kib in 4 8 16 32 64 4 64 12; do
				off=$((i * 1024))
				dd if=/dev/urandom of=/tmp/p bs=1024 count=$kib 2>/dev/null
				for r in $(seq 8); do
					dd if=/tmp/p of=/dev/$p bs=${kib}k seek=$((off / kib + r)) oflag=direct conv=notrunc 2>/dev/null
					dd if=/dev/$p of=/tmp/r bs=${kib}k skip=$((off / kib + r)) count=1 iflag=direct 2>/dev/null
					cmp /tmp/p /tmp/r
				done
				echo "w $off $kib $(sha256sum </tmp/p | cut -c1-16)"
				i=$((i + 1))
			done') || { echo "$out"; fail "in the guest ($pool)"; }
		echo "$out" | grep '^w ' >/tmp/writes || true
		[ "$(wc -l </tmp/writes)" = 8 ] || { echo "$out"; fail "the guest reported no writes ($pool)"; }
		while read -r _ off kib sha; do
			for r in $(seq 8); do
				got=$(dd if=/srv/pool.img bs=${kib}k skip=$((off / kib + r)) count=1 2>/dev/null |
					sha256sum | cut -c1-16)
				[ "$got" = "$sha" ] || fail "dom0 sees other data at KiB $((off + r * kib)) ($pool)"
			done
		done </tmp/writes
		virtio-xenbus list $GUEST | tee /tmp/list
		devid=$(awk '$4 == "vdp" { print $2 }' /tmp/list)
		# The device's line, its pool's, its queue's.
		line=$(grep -A 2 ' vdp ' /tmp/list | grep "queue 0:")
		req=$(echo "$line" | sed -n 's/.*queue 0: \([0-9]*\) requests.*/\1/p')
		ops=$(echo "$line" | sed -n 's/.*interrupts, \([0-9]*\) grant ops.*/\1/p')
		keys=$(xs_read /local/domain/"$(domid)"/device/virtio/$devid/pool-pages || echo none)
		echo "pool $pool: $req requests, $ops grant operations, pool-pages $keys"
		[ -n "$req" ] && [ "$req" -ge 128 ] || fail "the queue counted ${req:-no} requests, not 128 ($pool)"
		if [ $pool = on ]; then
			[ "$keys" != none ] || fail "the guest published no pool"
			grep -q "d$(domid) virtio/$devid: pool: $keys pages at grant reference [0-9]* mapped" "$DAEMON_LOG" ||
				fail "the daemon did not map the pool"
			[ "$ops" = 0 ] || fail "$ops grant operations with every buffer in the pool"
			grep -A 1 ' vdp ' /tmp/list | grep -q "grant pool: $keys pages mapped" ||
				fail "list does not show the pool"
		else
			[ "$keys" = none ] || fail "pool_pages=0, and the guest published a pool of $keys pages"
			[ "$ops" -ge "$req" ] || fail "only $ops grant operations for $req requests without a pool"
			! grep -A 1 ' vdp ' /tmp/list | grep -q "grant pool:" || fail "list shows a pool"
		fi
		virtio-xenbus disk-detach $GUEST vdp || fail "disk-detach ($pool)"
		guest_run 30 "$FIND_DISK"'
			for i in $(seq 50); do [ -z "$(disk 98304)" ] && exit 0; sleep 0.2; done; exit 1' ||
			fail "the disk is still in the guest ($pool)"
	done
	guest_run 10 'echo -1 >/sys/module/virtio_xenbus/parameters/pool_pages'
	out=$(guest_run 20 'dmesg | grep -c "WARNING:\|BUG:\|grant pool"') || true
	[ "$out" = 0 ] || { guest_run 20 'dmesg | grep -A 20 "WARNING:\|BUG:\|grant pool"'; fail "the guest's kernel warned"; }
}
