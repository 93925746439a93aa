#!/bin/sh
# Installs what virtio-xenbus needs on Debian 12 (bookworm) or 13 (trixie)
# and configures a build in build/.  Used by the README's two commands and
# by CI.
#   --e2e: also what the end-to-end rig needs (make check-e2e): QEMU,
#          debootstrap, and the backports kernel's headers (the rig's second
#          guest kernel); the rig's dom0 image brings its own Xen.  Other
#          options go to configure.
set -eu
e2e=
if [ "${1:-}" = --e2e ]; then
	e2e=yes
	shift
fi
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
case "${VERSION_CODENAME:-}" in
bookworm | trixie) ;;
*) echo "setup-debian: Debian 12 (bookworm) or 13 (trixie) is needed, not ${PRETTY_NAME:-this system}" >&2
   exit 1 ;;
esac
backports=$VERSION_CODENAME-backports
if [ -n "$e2e" ] &&
   ! grep -rqs "^[^#]*$backports\|^Suites:.*$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deb http://deb.debian.org/debian $backports main" |
		$SUDO tee /etc/apt/sources.list.d/$backports.list >/dev/null
fi
$SUDO apt-get update -qq
# The release's Xen: xen-utils-4.17 on bookworm, xen-utils-4.20 on trixie.
xen=$(apt-cache search --names-only '^xen-utils-4\.[0-9]+$' | cut -d' ' -f1 |
	sed 's/^xen-utils-//' | sort -V | tail -n 1)
[ -n "$xen" ] || { echo "setup-debian: no xen-utils package in apt's sources" >&2; exit 1; }
extra=
[ -z "$e2e" ] || extra="qemu-system-x86 debootstrap cpio busybox-static xz-utils"
# Xen's user space without its recommends (those are ~450 MB).
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libxen-dev xen-utils-"$xen" xenstore-utils liburing-dev check fio linux-perf iproute2 \
	iputils-ping linux-headers-amd64 e2fsprogs bindfs $extra >/dev/null
if [ -n "$e2e" ]; then
	$SUDO apt-get install -y -qq --no-install-recommends -t "$backports" \
		linux-headers-amd64 >/dev/null
fi
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q "$@"
make -s -j"$(nproc)"
