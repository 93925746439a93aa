#!/bin/sh
# Builds the dom0 disk image for the end-to-end rig: a Debian minbase of
# SUITE (bookworm: Xen 4.17, Linux 6.1; trixie: Xen 4.20, Linux 6.12) with
# Debian's kernel, Xen's hypervisor and Xen's user space.  The image does not
# contain the project: that comes on a second disk each run (run.sh), so
# this image is cached by the content of this script and the suite, and
# rebuilt only when either changes.
#
# Usage: build-dom0.sh CACHE_DIR [SUITE]   (SUITE: bookworm, the default, or trixie)
# Leaves in CACHE_DIR/dom0-SUITE-HASH, and prints its name:
#   dom0.img, vmlinuz, initrd.img, kernel-version: dom0 (and the guest kernel)
#   xen.gz, xen-version: the hypervisor
#   guest/: what the guest's initramfs takes from the same Debian: kernel
#           modules (decompressed, for busybox's insmod), and programs with
#           their libraries.
set -eu
cache=$1
suite=${2:-bookworm}
case $suite in
bookworm) xen=4.17 ;;
trixie) xen=4.20 ;;
*) echo "build-dom0: no rig for $suite" >&2; exit 1 ;;
esac
mirror=${E2E_MIRROR:-http://deb.debian.org/debian}
hash=$(cat "$0" "$(dirname "$0")/copy-modules.sh" | sha256sum | cut -c1-16)
out=$cache/dom0-$suite-$hash
if [ -f "$out/dom0.img" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$cache"
rm -rf "$cache"/dom0-*.tmp
tmp=$out.tmp
root=$tmp/root
mkdir -p "$root"

# A private mount namespace: whatever is mounted in the chroot goes away
# with it, and the host's /dev is never bound in (an rm -rf through such a
# mount deletes the host's device nodes).
unshare -m sh -eu -s "$root" "$mirror" "$suite" "$xen" "$(dirname "$0")/copy-modules.sh" \
	>"$tmp/build.log" 2>&1 <<'BUILD' || {
root=$1
mirror=$2
suite=$3
xen=$4
copy_modules=$5
debootstrap --variant=minbase "$suite" "$root" "$mirror"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
cat >"$root/etc/apt/sources.list" <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
SRC
# A small initramfs: only what finds the root disk (13 s less to unpack
# under emulation than Debian's MODULES=most).
mkdir -p "$root/etc/initramfs-tools/conf.d"
echo MODULES=list >"$root/etc/initramfs-tools/conf.d/e2e"
printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
	--no-install-recommends linux-image-amd64 initramfs-tools \
	xen-hypervisor-$xen-amd64 xen-utils-$xen xenstore-utils iproute2 kmod e2fsprogs util-linux \
	procps busybox liburing2 linux-perf
chroot "$root" apt-get clean

# The guest boots the same kernel from a busybox initramfs; these are the
# parts of Debian it needs beside busybox (xen-evtchn, xen-gntdev, tun and
# the bridge for the driver domain's virtio-xenbusd).
guest=$root/../guest
kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
"$copy_modules" "$root/lib/modules/$kver" "$guest/modules" \
	virtio_ring virtio virtio_blk failover net_failover virtio_net \
	xen-blkfront xen-netfront crc16 mbcache jbd2 crc32c_generic ext4 \
	xen-evtchn xen-gntdev tun llc stp bridge
# xenstore-* are the guest's half of the test agent (guest-init).
for p in /sbin/mke2fs /sbin/e2fsck /usr/bin/xenstore-read \
	 /usr/bin/xenstore-write /usr/bin/xenstore-rm /usr/bin/xenstore-watch; do
	mkdir -p "$guest$(dirname "$p")"
	cp -L "$root$p" "$guest$p"
	for lib in $(chroot "$root" ldd "$p" | grep -o '/[^ ]*'); do
		mkdir -p "$guest$(dirname "$lib")"
		cp -L "$root$lib" "$guest$lib"
	done
done
rm -rf "$root"/var/lib/apt/lists/*
umount "$root/sys" "$root/proc"
BUILD
	tail -n 30 "$tmp/build.log" >&2
	exit 1
}

# PID 1 of dom0: the run's own init comes on the payload disk.  (Debian's
# initramfs has mounted /dev already.)
mkdir -p "$root/payload"
cat >"$root/sbin/e2e-init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mountpoint -q /dev || mount -t devtmpfs dev /dev
mount -o ro /dev/vdb /payload || { echo "e2e: no payload disk"; busybox poweroff -f; }
exec /payload/dom0-init
INIT
chmod 755 "$root/sbin/e2e-init"
echo dom0 >"$root/etc/hostname"

kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
echo "$kver" >"$tmp/kernel-version"
cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$tmp/initrd.img"
cp "$root/boot/xen-$xen-amd64.gz" "$tmp/xen.gz"
echo "$xen" >"$tmp/xen-version"
# Room for what the tests write under /srv at once: the benchmarks fill
# both 256 MiB disks, a save or checkpoint is the guest's 512 MiB, the other
# guests' disks take up to 128 MiB each.  The image is sparse and run with
# snapshot=on: the room costs the host only what is written.
size=$(du -sm "$root" | cut -f1)
mke2fs -q -t ext4 -d "$root" -L dom0 "$tmp/dom0.img" "$((size + 3072))M" >/dev/null
rm -rf "$root"
mv "$tmp" "$out"
echo "$out"
