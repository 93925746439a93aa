#!/bin/sh
# What the rig's payload needs built on the dom0's own Debian release (the
# daemon links that release's Xen libraries): run.sh runs it on this machine
# for a Debian 12 dom0, in a Debian 13 chroot for a Debian 13 one.
#
# Usage: make-parts.sh BUILDDIR OUT CACHE KVER
#   BUILDDIR: a configured build of the project (tools/setup-debian.sh)
#   KVER: dom0's kernel release, which the first guests boot too
# Leaves in OUT:
#   debs/           the Debian packages (tools/build-debs.sh): dom0 installs
#                   virtio-xenbusd's
#   root/           virtio-xenbusd's package unpacked, for the driver domain
#   module/         virtio_xenbus.ko for KVER
#   second/         the second guest kernel: the newest of the release's
#                   backports headers, with vmlinuz, release, the modules
#                   its guest loads (decompressed) and virtio_xenbus.ko
#   driver-domain/  virtio-xenbusd, its hotplug scripts and its libraries
#   fio/            fio for the guests, static
#   udpflood/       udpflood.c, static, for the guests and dom0
# CACHE keeps the second kernel's download and fio between runs.
set -eu
build=$(cd "$1" && pwd)
out=$2
cache=$3
kver=$4
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null; }

rm -rf "$out"
mkdir -p "$out" "$cache"

# module KDIR NAME: virtio_xenbus.ko for the kernel headers in KDIR, in
# OUT/NAME (the build's log beside it).
module() {
	make -C "$build" -s module LINUX_DIR="$1" MODULE_DIR="e2e/$2" >"$out/$2.log" 2>&1 || {
		cat "$out/$2.log"
		exit 1
	}
	mkdir -p "$out/$2"
	cp "$build/e2e/$2/virtio_xenbus.ko" "$out/$2/"
}

echo "-- virtio_xenbus.ko for $kver"
[ -f "/usr/src/linux-headers-$kver/Makefile" ] || apt_get install --no-install-recommends \
	"linux-headers-$kver" || {
	echo "make-parts: no linux-headers-$kver: the dom0 image is older than the archive;"
	echo "            remove its cache to rebuild it"
	exit 1
}
module "/usr/src/linux-headers-$kver" module

# The second guest kernel: the backports kernel whose headers
# tools/setup-debian.sh --e2e installed.  Its vmlinuz and the modules the
# guest loads come from its image package (virtio and virtio_ring are built
# in there).
. /etc/os-release
apt_get install --no-install-recommends -t "$VERSION_CODENAME-backports" linux-headers-amd64 xz-utils
k2dir=$(ls -d /usr/src/linux-headers-*-amd64 | grep -v -- "-$kver\$" | sort -V | tail -n 1)
[ -n "$k2dir" ] || { echo "make-parts: no backports kernel headers"; exit 1; }
k2=${k2dir#/usr/src/linux-headers-}
echo "-- Linux $k2 for the second guest kernel"
k2cache=$cache/linux-$k2
if [ ! -f "$k2cache/vmlinuz" ]; then
	rm -rf "$k2cache.tmp"
	mkdir -p "$k2cache.tmp/modules"
	# Since 7.x the image package depends on linux-binary (vmlinuz) and
	# linux-modules: all that exist.
	debs=linux-image-$k2
	for p in linux-binary-$k2 linux-modules-$k2; do
		apt-cache show "$p" >/dev/null 2>&1 && debs="$debs $p"
	done
	(cd "$k2cache.tmp" && apt-get download $debs >download.log 2>&1) || {
		cat "$k2cache.tmp/download.log"
		echo "make-parts: cannot download $debs"
		exit 1
	}
	for deb in "$k2cache.tmp"/*.deb; do
		dpkg-deb -x "$deb" "$k2cache.tmp/x"
	done
	# /boot/vmlinuz-K, or (7.x) /usr/lib/modules/K/vmlinuz.
	vmlinuz=$(find "$k2cache.tmp/x" -name "vmlinuz-$k2" -o -path "*/$k2/vmlinuz" | head -n 1)
	[ -n "$vmlinuz" ] || { echo "make-parts: no vmlinuz in $debs"; exit 1; }
	mv "$vmlinuz" "$k2cache.tmp/vmlinuz"
	"$(dirname "$0")/copy-modules.sh" "$k2cache.tmp/x" "$k2cache.tmp/modules" \
		virtio_blk failover net_failover virtio_net crc16 mbcache jbd2 \
		crc32c_generic ext4
	rm -rf "$k2cache.tmp/x" "$k2cache.tmp"/*.deb "$k2cache.tmp/download.log"
	rm -rf "$k2cache"
	mv "$k2cache.tmp" "$k2cache"
fi
module "$k2dir" second
cp -a "$k2cache/." "$out/second/"
echo "$k2" >"$out/second/release"

# fio in the guests' initramfs: Debian's fio links about 84 MB of
# libraries, so it is built static from Debian's own source (a static
# binary runs on any guest kernel).  Its io_uring and psync engines need no
# library.  The release's own source first; an archive that lacks it (seen:
# trixie's fio_3.39-1 answering 404) leaves the next suite's.
fio=$cache/fio-static
if [ ! -x "$fio/fio" ]; then
	apt_get install --no-install-recommends dpkg-dev zlib1g-dev
	built=
	for suite in "$VERSION_CODENAME" bookworm trixie sid; do
		echo "-- fio, static, from $suite's source"
		rm -rf "$fio.tmp"
		mkdir -p "$fio.tmp/lists/partial"
		echo "deb-src http://deb.debian.org/debian $suite main" >"$fio.tmp/src.list"
		src_apt="-o Dir::Etc::SourceList=$fio.tmp/src.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$fio.tmp/lists -o Acquire::Check-Valid-Until=false"
		# shellcheck disable=SC2086 # src_apt is a list of options
		if (cd "$fio.tmp" && apt-get -qq $src_apt update && apt-get -qq $src_apt source --download-only fio &&
		    dpkg-source -x --no-check fio_*.dsc src && cd src &&
		    ./configure --build-static --disable-native --disable-numa --disable-rdma \
			--disable-rados --disable-rbd --disable-http --disable-gfapi --disable-libnfs \
			--disable-pmem --disable-xnvme --disable-libzbc --disable-tcmalloc --disable-dfs &&
		    make -j2 fio && strip fio) >"$fio.log" 2>&1; then
			built=$suite
			break
		fi
		tail -n 5 "$fio.log"
	done
	[ -n "$built" ] || { echo "make-parts: cannot build fio from any suite's source"; exit 1; }
	mkdir -p "$fio"
	cp "$fio.tmp/src/fio" "$fio/"
	echo "$built" >"$fio/suite"
	rm -rf "$fio.tmp"
fi
mkdir -p "$out/fio"
cp "$fio/fio" "$out/fio/"
mkdir -p "$out/udpflood"
gcc -static -O2 -Wall -Werror -o "$out/udpflood/udpflood" "$(dirname "$0")/udpflood.c"

echo "-- the project's Debian packages"
(cd "$(dirname "$0")/../.." && tools/build-debs.sh "$out/debs") >"$out/debs.log" 2>&1 || {
	cat "$out/debs.log"
	exit 1
}
dpkg-deb -x "$out"/debs/virtio-xenbusd_*.deb "$out/root"

# The driver domain boots a guest kernel from a busybox initramfs: it gets
# the daemon with the libraries it links, from this release.
dd=$out/driver-domain
mkdir -p "$dd/usr/sbin" "$dd/usr/libexec"
cp "$out/root/usr/sbin/virtio-xenbusd" "$dd/usr/sbin/"
cp -a "$out/root/usr/libexec/virtio-xenbus" "$dd/usr/libexec/"
for lib in $(ldd "$dd/usr/sbin/virtio-xenbusd" | grep -o '/[^ ]*'); do
	mkdir -p "$dd$(dirname "$lib")"
	cp -L "$lib" "$dd$lib"
done
