#!/bin/sh
# The end-to-end rig (make check-e2e): real Xen under QEMU, virtio-xenbusd
# in dom0, virtio_xenbus.ko in a PV guest.  Builds (or reuses) the dom0
# image, builds the module for its kernel, installs the project on a payload
# disk, boots, and reports each test dom0 ran.
#
# Usage: run.sh SRCDIR BUILDDIR
#   E2E_TIMEOUT: seconds for the whole boot (default 1500)
#   E2E_ONLY: names of the tests to run (default all), with the tests they
#             follow (dom0-tests.sh's NEEDS)
#   E2E_SKIP: names of tests not to run
#   E2E_STALL_S: how long slow-backend.sh stops the daemon (default 30)
#   E2E_GUEST_KERNEL: a built kernel tree for one more guest (see below)
# Guests boot dom0's kernel (Debian 12's 6.1) or Linux 6.12 from
# bookworm-backports, each with its own build of the module; a driver
# domain boots the 6.1 kernel with virtio-xenbusd.
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
e2e=$build/e2e
timeout=${E2E_TIMEOUT:-1500}
mkdir -p "$e2e"

for tool in qemu-system-x86_64 debootstrap mke2fs cpio busybox; do
	command -v $tool >/dev/null || {
		echo "check-e2e: $tool is missing: run tools/setup-debian.sh --e2e"
		exit 1
	}
done
xen=/boot/xen-4.17-amd64.gz
[ -f $xen ] || { echo "check-e2e: $xen is missing: run tools/setup-debian.sh --e2e"; exit 1; }

# build_module KDIR NAME: virtio_xenbus.ko for the kernel build dir KDIR, in
# $e2e/NAME (its log in $e2e/NAME.log).
build_module() {
	make -C "$build" -s module LINUX_DIR="$1" MODULE_DIR="e2e/$2" >"$e2e/$2.log" 2>&1 || {
		cat "$e2e/$2.log"
		exit 1
	}
}

echo "== dom0 image (cached by content in $e2e/cache)"
img=$("$src/tests/e2e/build-dom0.sh" "$e2e/cache")
kver=$(cat "$img/kernel-version")
echo "$img, kernel $kver"

echo "== virtio_xenbus.ko for $kver"
kdir=/usr/src/linux-headers-$kver
if [ ! -f "$kdir/Makefile" ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"linux-headers-$kver" >/dev/null
fi
build_module "$kdir" module

# The second guest kernel: Linux 6.12 from bookworm-backports, as its
# headers are installed (tools/setup-debian.sh --e2e).  Its vmlinuz and the
# modules the guest loads are cached, the modules decompressed for busybox's
# insmod; virtio and virtio_ring are built in there.
k612dir=$(ls -d /usr/src/linux-headers-6.12.*-amd64 2>/dev/null | sort -V | tail -n 1)
[ -n "$k612dir" ] || { echo "check-e2e: no Linux 6.12 headers: run tools/setup-debian.sh --e2e"; exit 1; }
k612=${k612dir#/usr/src/linux-headers-}
echo "== Linux $k612 for the second guest kernel"
k612cache=$e2e/cache/linux-$k612
if [ ! -f "$k612cache/vmlinuz" ]; then
	rm -rf "$k612cache.tmp"
	mkdir -p "$k612cache.tmp/modules"
	(cd "$k612cache.tmp" && apt-get download "linux-image-$k612" >download.log 2>&1) || {
		cat "$k612cache.tmp/download.log"
		echo "check-e2e: cannot download linux-image-$k612 (bookworm-backports)"
		exit 1
	}
	dpkg-deb --fsys-tarfile "$k612cache.tmp"/linux-image-*.deb |
		tar -x -C "$k612cache.tmp" --wildcards "./boot/vmlinuz-$k612" \
			$(for m in virtio_blk failover net_failover virtio_net crc16 mbcache \
				   jbd2 crc32c_generic ext4; do echo "*/$m.ko.xz"; done)
	find "$k612cache.tmp/lib" -name '*.ko.xz' -exec mv {} "$k612cache.tmp/modules/" \;
	xz -d "$k612cache.tmp"/modules/*.ko.xz
	mv "$k612cache.tmp/boot/vmlinuz-$k612" "$k612cache.tmp/vmlinuz"
	rm -rf "$k612cache.tmp/boot" "$k612cache.tmp/lib" "$k612cache.tmp"/*.deb \
	       "$k612cache.tmp/download.log"
	rm -rf "$k612cache"
	mv "$k612cache.tmp" "$k612cache"
fi
build_module "$k612dir" module-6.12

echo "== payload: the project installed, the guests' kernels and initramfs"
payload=$e2e/payload
rm -rf "$payload" "$e2e/guest-root"
mkdir -p "$payload"
make -C "$build" -s install DESTDIR="$payload/root" prefix=/usr/local >"$e2e/install.log" 2>&1 || {
	cat "$e2e/install.log"
	exit 1
}
cp "$src/tests/e2e/dom0-init" "$payload/"
mkdir -p "$payload/e2e"
cp "$src"/tests/e2e/dom0-tests.sh "$src"/tests/e2e/lib.sh "$src"/tests/e2e/blk.sh \
	"$src"/tests/e2e/net.sh "$src"/tests/e2e/lifecycle.sh "$src"/tests/e2e/slow-backend.sh \
	"$src"/tests/e2e/domains.sh "$src"/tests/e2e/bench.sh "$payload/e2e/"
printf %s "${E2E_ONLY:-}" >"$payload/only"
printf %s "${E2E_SKIP:-}" >"$payload/skip"
[ -z "${E2E_STALL_S:-}" ] || printf %s "$E2E_STALL_S" >"$payload/stall-s"

# guest_kernel DIR RELEASE VMLINUZ MODULES_DIR MODULE [EXTRA_ROOT]:
# /payload/DIR holds a guest kernel, its release, and its busybox initramfs
# with MODULE, the modules in MODULES_DIR ("" when its drivers are built in)
# and the files of EXTRA_ROOT.
guest_kernel() {
	groot=$e2e/guest-root
	rm -rf "$groot"
	mkdir -p "$payload/$1" "$groot/bin" "$groot/etc"
	echo "$2" >"$payload/$1/release"
	cp "$3" "$payload/$1/vmlinuz"
	cp -a "$img/guest/." "$groot/"
	rm -rf "$groot/modules"
	mkdir "$groot/modules"
	[ -z "$4" ] || cp "$4"/*.ko "$groot/modules/"
	cp "$5" "$groot/modules/"
	cp "$(command -v busybox)" "$groot/bin/busybox"
	cp /etc/mke2fs.conf "$groot/etc/"
	cp "$src/tests/e2e/guest-init" "$groot/init"
	[ -z "${6:-}" ] || cp -a "$6/." "$groot/"
	(cd "$groot" && find . | cpio -o -H newc --quiet | gzip -1) >"$payload/$1/initrd.gz"
	rm -rf "$groot"
}
guest_kernel guest "$kver" "$img/vmlinuz" "$img/guest/modules" \
	"$build/e2e/module/virtio_xenbus.ko"
guest_kernel guest-6.12 "$k612" "$k612cache/vmlinuz" "$k612cache/modules" \
	"$build/e2e/module-6.12/virtio_xenbus.ko"

# The driver domain: the guest's kernel and initramfs, plus virtio-xenbusd,
# its hotplug scripts and the libraries it links (this machine's, as it was
# built here).
ddroot=$e2e/driver-domain-root
rm -rf "$ddroot"
mkdir -p "$ddroot/usr/local/sbin" "$ddroot/usr/local/libexec"
cp "$payload/root/usr/local/sbin/virtio-xenbusd" "$ddroot/usr/local/sbin/"
cp -a "$payload/root/usr/local/libexec/virtio-xenbus" "$ddroot/usr/local/libexec/"
for lib in $(ldd "$ddroot/usr/local/sbin/virtio-xenbusd" | grep -o '/[^ ]*'); do
	mkdir -p "$ddroot$(dirname "$lib")"
	cp -L "$lib" "$ddroot$lib"
done
guest_kernel driver-domain "$kver" "$img/vmlinuz" "$img/guest/modules" \
	"$build/e2e/module/virtio_xenbus.ko" "$ddroot"
rm -rf "$ddroot"

# E2E_GUEST_KERNEL: a built kernel tree (bzImage, its guest drivers built
# in), for one more guest; say one with CONFIG_XEN_VIRTIO, which no Debian
# kernel has.
if [ -n "${E2E_GUEST_KERNEL:-}" ]; then
	ktree=$(cd "$E2E_GUEST_KERNEL" && pwd)
	echo "== $ktree for one more guest"
	build_module "$ktree" module-custom
	guest_kernel guest-custom "$(make -s --no-print-directory -C "$ktree" kernelrelease)" \
		"$ktree/arch/x86/boot/bzImage" "" "$build/e2e/module-custom/virtio_xenbus.ko"
	if grep -q '^CONFIG_XEN_VIRTIO=y' "$ktree/.config"; then
		touch "$payload/guest-custom/xen-virtio"
	fi
fi

rm -f "$e2e/payload.img" "$e2e/results.img"
mke2fs -q -t ext4 -d "$payload" -L payload "$e2e/payload.img" \
	"$(($(du -sm "$payload" | cut -f1) + 64))M" >/dev/null
truncate -s 256M "$e2e/results.img"

# -cpu qemu64: with -cpu max (SMAP off), QEMU 7.2's emulation of the newer
# instructions glibc picks now and then broke dom0's programs (ld.so
# assertions, segfaults in xenstore-read); the baseline CPU runs clean.
echo "== boot: Xen, dom0, the guest (serial log: $e2e/serial.log, at most ${timeout} s)"
gunzip -c $xen >"$e2e/xen"
rc=0
timeout --foreground "$timeout" qemu-system-x86_64 \
	-machine pc -accel tcg -cpu qemu64 -smp 2 -m 4G \
	-kernel "$e2e/xen" \
	-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 noreboot" \
	-initrd "$img/vmlinuz root=/dev/vda rw console=hvc0 init=/sbin/e2e-init,$img/initrd.img" \
	-drive file="$img/dom0.img",if=virtio,format=raw,snapshot=on \
	-drive file="$e2e/payload.img",if=virtio,format=raw,readonly=on \
	-drive file="$e2e/results.img",if=virtio,format=raw \
	-serial file:"$e2e/serial.log" -display none -monitor none -no-reboot \
	</dev/null || rc=$?

rm -rf "$e2e/logs"
mkdir -p "$e2e/logs"
tar -C "$e2e/logs" -xf "$e2e/results.img" 2>/dev/null || true

echo "== results"
grep -a -E '^E2E-(RESULT|BENCH)' "$e2e/serial.log" | tr -d '\r' || true
pass=$(grep -a -c '^E2E-RESULT: PASS' "$e2e/serial.log" || true)
failed=$(grep -a -c '^E2E-RESULT: FAIL' "$e2e/serial.log" || true)
if [ $rc = 124 ]; then
	echo "check-e2e: timed out after ${timeout} s"
fi
if [ $rc != 0 ] || [ "$failed" != 0 ] || [ "$pass" = 0 ] ||
   ! grep -a -q '^E2E-DONE' "$e2e/serial.log"; then
	echo "== the end of the serial log"
	tail -n 80 "$e2e/serial.log" | tr -d '\r'
	echo "check-e2e: FAILED ($pass passed, $failed failed, qemu status $rc; logs in $e2e/logs)"
	exit 1
fi
echo "check-e2e: $pass passed (logs in $e2e/logs)"
