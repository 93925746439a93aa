#!/bin/sh
# The Debian packages as an administrator gets them: tools/build-debs.sh,
# lintian (no error, no warning), then both packages
# installed: the daemon, the tool, the man pages and the hotplug scripts in
# place, the unit enabled, and DKMS's build of the module installed for
# every kernel whose headers are here; then both purged: nothing left.
#
# Usage: check-packages.sh   (as root, from the checkout; CI runs it on
# Debian 12 and, in a chroot, on Debian 13)
set -eu
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null; }
fail() { echo "check-packages: $*"; exit 1; }

apt_get install --no-install-recommends lintian dkms
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tools/build-debs.sh "$tmp" >/dev/null
version=$(dpkg-parsechangelog -S Version)
daemon=$tmp/virtio-xenbusd_${version}_amd64.deb
dkms_deb=$tmp/virtio-xenbus-dkms_${version}_all.deb
ls -l "$daemon" "$dkms_deb"
# Informational tags shown, errors and warnings fatal.
lintian -I --fail-on error,warning "$daemon" "$dkms_deb" >"$tmp/lintian.log" 2>&1 ||
	{ cat "$tmp/lintian.log"; fail "lintian found errors or warnings"; }
grep -v 'root privileges' "$tmp/lintian.log" || true

apt_get install "$daemon" "$dkms_deb"
for f in /usr/sbin/virtio-xenbusd /usr/sbin/virtio-xenbus /usr/libexec/virtio-xenbus/vif-bridge \
	 /usr/libexec/virtio-xenbus/vif-route /etc/default/virtio-xenbusd /etc/init.d/virtio-xenbusd; do
	[ -x "$f" ] || [ -f "$f" ] || fail "$f is not installed"
done
/usr/sbin/virtio-xenbusd --help | grep -q -- '--poll-us' || fail "virtio-xenbusd --help"
/usr/sbin/virtio-xenbus --help | grep -q disk-attach || fail "virtio-xenbus --help"
man -w virtio-xenbusd virtio-xenbus xl-virtio-configuration >/dev/null || fail "a man page is missing"
[ -e /etc/systemd/system/multi-user.target.wants/virtio-xenbusd.service ] ||
	fail "the unit is not enabled"
kernels=0
for k in /usr/src/linux-headers-*-amd64; do
	[ -f "$k/Makefile" ] || continue
	kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$k/include/generated/utsrelease.h")
	ko=$(ls /lib/modules/"$kver"/updates/dkms/virtio_xenbus.ko* 2>/dev/null | head -n 1)
	[ -n "$ko" ] || { dkms status; fail "DKMS installed no virtio_xenbus for $kver"; }
	vermagic=$(modinfo -F vermagic "$ko")
	[ "${vermagic%% *}" = "$kver" ] || fail "$ko is for '$vermagic', not $kver"
	echo "check-packages: DKMS installed $ko (alias $(modinfo -F alias "$ko"))"
	kernels=$((kernels + 1))
done
[ $kernels -gt 0 ] || fail "no kernel headers: DKMS was not tried"

apt_get purge virtio-xenbus-dkms virtio-xenbusd
left=$(ls /usr/sbin/virtio-xenbus* /etc/default/virtio-xenbusd /etc/init.d/virtio-xenbusd \
	/etc/systemd/system/multi-user.target.wants/virtio-xenbusd.service \
	/lib/modules/*/updates/dkms/virtio_xenbus.ko* /usr/src/virtio-xenbus-* 2>/dev/null || true)
[ -z "$left" ] || fail "left after the purge: $left"
! dkms status 2>/dev/null | grep -q virtio-xenbus || fail "DKMS still knows virtio-xenbus"
echo "check-packages: virtio-xenbusd and virtio-xenbus-dkms $version built, lintian clean," \
	"installed (the module for $kernels kernel(s)) and purged"
