#!/bin/sh
# Installs what virtio-xenbus needs on Debian 12 and configures a build in
# build/.  Used by the README's two commands and by CI.
#   --e2e: also what the end-to-end rig needs (make check-e2e): QEMU, Xen,
#          debootstrap, and Linux 6.12's headers from bookworm-backports (the
#          rig's second guest kernel).  Other options go to configure.
set -eu
e2e=
if [ "${1:-}" = --e2e ]; then
	e2e="qemu-system-x86 xen-hypervisor-4.17-amd64 debootstrap cpio busybox-static"
	shift
fi
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$e2e" ] &&
   ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" |
		$SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$SUDO apt-get update -qq
# Xen's user space without its recommends (those are ~450 MB).
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libxen-dev xen-utils-4.17 liburing-dev check fio iproute2 iputils-ping \
	linux-headers-amd64 e2fsprogs $e2e >/dev/null
if [ -n "$e2e" ]; then
	$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		linux-headers-amd64 >/dev/null
fi
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q "$@"
make -s -j"$(nproc)"
