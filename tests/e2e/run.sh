#!/bin/sh
# The end-to-end rig (make check-e2e): real Xen under QEMU, virtio-xenbusd
# in dom0, virtio_xenbus.ko in a PV guest.  Builds (or reuses) the dom0
# image, builds the module for its kernel, installs the project on a payload
# disk, boots, and reports each test dom0 ran.
#
# Usage: run.sh SRCDIR BUILDDIR
#   E2E_DOM0: the dom0's Debian: bookworm (Xen 4.17, Linux 6.1; the
#             default) or trixie (Xen 4.20, Linux 6.12)
#   E2E_TIMEOUT: seconds for the whole boot (default 1500)
#   E2E_ONLY: names of the tests to run (default all), with the tests they
#             follow (dom0-tests.sh's NEEDS)
#   E2E_SKIP: names of tests not to run
#   E2E_STALL_S: how long slow-backend.sh stops the daemon (default 30)
#   E2E_PERF: bench.sh also records where dom0 spends its time on our disk
#             and nic (perf, in the bench's log)
#   E2E_GUEST_KERNEL: a built kernel tree for one more guest (see below)
#   E2E_CHROOTS: where the chroots of another release than this machine's
#             are kept (default /var/cache/virtio-xenbus-chroots)
#   E2E_CPU: QEMU's -cpu (default qemu64; qemu64,+svm,+npt: HAP for PVH)
# Guests boot dom0's kernel or the newest kernel of the release's backports
# (bookworm: 6.12, trixie: 7.x), each with its own build of the module; a
# driver domain boots dom0's kernel with virtio-xenbusd.
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
dom0=${E2E_DOM0:-bookworm}
e2e=$build/e2e
timeout=${E2E_TIMEOUT:-1500}
mkdir -p "$e2e"

for tool in qemu-system-x86_64 debootstrap mke2fs cpio busybox; do
	command -v $tool >/dev/null || {
		echo "check-e2e: $tool is missing: run tools/setup-debian.sh --e2e"
		exit 1
	}
done

echo "== dom0 image: Debian $dom0 (cached by content in $e2e/cache)"
img=$("$src/tests/e2e/build-dom0.sh" "$e2e/cache" "$dom0")
kver=$(cat "$img/kernel-version")
echo "$img, kernel $kver, Xen $(cat "$img/xen-version")"

# The daemon links the Xen libraries of dom0's release: what it needs is
# built on that release, here or in a chroot of it.
echo "== built on Debian $dom0: the project, virtio_xenbus.ko for the guest kernels"
parts=$e2e/parts-$dom0
. /etc/os-release
if [ "$VERSION_CODENAME" = "$dom0" ]; then
	"$src/tests/e2e/make-parts.sh" "$build" "$parts" "$e2e/cache" "$kver"
else
	chroot_sh=$src/tests/chroot/debian-chroot.sh
	croot=$("$chroot_sh" make "$dom0" "${E2E_CHROOTS:-/var/cache/virtio-xenbus-chroots}")
	"$chroot_sh" run "$croot" "{ tools/setup-debian.sh >/tmp/setup.log 2>&1 ||
		{ tail -n 30 /tmp/setup.log; exit 1; }; } &&
		tests/e2e/make-parts.sh build /src/e2e-parts /var/cache/e2e $kver"
	rm -rf "$parts"
	cp -a "$croot/src/e2e-parts" "$parts"
fi
k2=$(cat "$parts/second/release")

echo "== payload: the project's package for dom0, the guests' kernels and initramfs"
payload=$e2e/payload
rm -rf "$payload" "$e2e/guest-root"
mkdir -p "$payload"
cp "$parts"/debs/virtio-xenbusd_*.deb "$payload/"
cp "$src/tests/e2e/dom0-init" "$payload/"
mkdir -p "$payload/e2e"
cp "$src"/tests/e2e/dom0-tests.sh "$src"/tests/e2e/lib.sh "$src"/tests/e2e/blk.sh \
	"$src"/tests/e2e/net.sh "$src"/tests/e2e/lifecycle.sh "$src"/tests/e2e/slow-backend.sh \
	"$src"/tests/e2e/domains.sh "$src"/tests/e2e/bench.sh "$parts/udpflood/udpflood" \
	"$payload/e2e/"
printf %s "${E2E_ONLY:-}" >"$payload/only"
printf %s "${E2E_SKIP:-}" >"$payload/skip"
[ -z "${E2E_STALL_S:-}" ] || printf %s "$E2E_STALL_S" >"$payload/stall-s"
[ -z "${E2E_PERF:-}" ] || : >"$payload/perf"

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
	cp "$parts/fio/fio" "$groot/bin/fio"
	cp "$parts/udpflood/udpflood" "$groot/bin/udpflood"
	cp /etc/mke2fs.conf "$groot/etc/"
	cp "$src/tests/e2e/guest-init" "$groot/init"
	[ -z "${6:-}" ] || cp -a "$6/." "$groot/"
	(cd "$groot" && find . | cpio -o -H newc --quiet | gzip -1) >"$payload/$1/initrd.gz"
	rm -rf "$groot"
}
guest_kernel guest "$kver" "$img/vmlinuz" "$img/guest/modules" "$parts/module/virtio_xenbus.ko"
guest_kernel guest-second "$k2" "$parts/second/vmlinuz" "$parts/second/modules" \
	"$parts/second/virtio_xenbus.ko"
# The driver domain: dom0's kernel and the guest's initramfs, plus
# virtio-xenbusd, its hotplug scripts and its libraries.
guest_kernel driver-domain "$kver" "$img/vmlinuz" "$img/guest/modules" \
	"$parts/module/virtio_xenbus.ko" "$parts/driver-domain"

# E2E_GUEST_KERNEL: a built kernel tree (bzImage, its guest drivers built
# in), for one more guest; say one with CONFIG_XEN_VIRTIO, which no Debian
# kernel has.
if [ -n "${E2E_GUEST_KERNEL:-}" ]; then
	ktree=$(cd "$E2E_GUEST_KERNEL" && pwd)
	echo "== $ktree for one more guest"
	make -C "$build" -s module LINUX_DIR="$ktree" MODULE_DIR=e2e/module-custom \
		>"$e2e/module-custom.log" 2>&1 || { cat "$e2e/module-custom.log"; exit 1; }
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
# E2E_CPU=qemu64,+svm,+npt gives Xen HVM with HAP: PVH guests, which can be
# live-migrated (dom0-tests.sh's BY_NAME).
echo "== boot: Xen, dom0, the guest (serial log: $e2e/serial.log, at most ${timeout} s)"
gunzip -c "$img/xen.gz" >"$e2e/xen"
rc=0
timeout --foreground "$timeout" qemu-system-x86_64 \
	-machine pc -accel tcg -cpu "${E2E_CPU:-qemu64}" -smp 2 -m 4G \
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
