#!/bin/sh
# CI on Debian 13 (trixie, Xen 4.20), which our machines are not: in a
# trixie chroot, the README's test command, virtio_xenbus.ko against
# trixie's Linux 6.12 and trixie-backports' 7.3 headers, and the Debian
# packages (tests/check-packages.sh); in a sid chroot
# (sid's headers want sid's gcc), against sid's Linux 7.x.  Each module
# build is W=1 and runs sparse where Debian's sparse can parse the headers
# (not 7.x's), failing if sparse did not run there, or anything warned.
#
# Usage: check-debian13.sh CACHE   (the chroots are kept in CACHE)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
chroot_sh=$here/debian-chroot.sh

# In a chroot: builds the module for each kernel's headers in /usr/src,
# with sparse; the checker-valid.sh Debian's 7.x header packages lack is
# tests/chroot's (Kbuild skips sparse without it).
modules='set -e
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null; }
apt_get install --no-install-recommends sparse kmod
status=0
for k in /usr/src/linux-headers-*-amd64; do
	[ -f "$k/Makefile" ] || continue
	common=${k%-amd64}-common
	[ -d "$common/scripts" ] || common=$k
	check=C=1
	# Kbuild asks checker-valid.sh whether sparse can check these headers.
	if grep -q checker-valid "$common/Makefile"; then
		[ -e "$common/scripts/checker-valid.sh" ] ||
			cp tests/chroot/checker-valid.sh "$common/scripts/"
		[ "$("$common/scripts/checker-valid.sh" sparse -m64)" = 1 ] || check=
	fi
	echo "-- $k${check:+, with sparse}"
	[ -n "$check" ] ||
		echo "   sparse $(sparse --version) cannot parse these headers (__typeof_unqual__): W=1 only"
	rm -rf /tmp/kmod && cp -r frontend /tmp/kmod
	if ! make -C /tmp/kmod KDIR="$k" W=1 V=1 $check >/tmp/kmod.log 2>&1; then
		tail -n 30 /tmp/kmod.log; status=1; continue
	fi
	grep -E ": (warning|error):|not available or not up to date" /tmp/kmod.log && status=1
	if [ -n "$check" ] && ! grep -q "^  sparse " /tmp/kmod.log; then
		echo "sparse did not run"; status=1
	fi
	modinfo -F vermagic /tmp/kmod/virtio_xenbus.ko
done
exit $status'

echo "== Debian 13 (trixie): the README's test command"
root=$("$chroot_sh" make trixie "$cache")
"$chroot_sh" run "$root" 'status=0
	tools/setup-debian.sh --enable-werror && make -C build -s check || status=1
	for log in build/tests/*/*.log build/tests/*.log; do
		echo "$(basename "$log" .log): $(grep -hE "^[0-9]+%: Checks|passed, .* failed" "$log" | tail -n 1)"
	done
	[ $status = 0 ] || { for l in build/tests/*/*.log; do echo "== $l"; tail -n 30 "$l"; done; exit 1; }'

echo "== virtio_xenbus.ko on trixie: 6.12, and 7.x from trixie-backports"
"$chroot_sh" run "$root" 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	-t trixie-backports linux-headers-amd64 >/dev/null && '"$modules"

echo "== the Debian packages on trixie: built, lintian, installed (DKMS for 6.12 and 7.x), purged"
"$chroot_sh" run "$root" tests/check-packages.sh

echo "== virtio_xenbus.ko on sid's 7.x"
sid=$("$chroot_sh" make sid "$cache")
"$chroot_sh" run "$sid" 'DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	build-essential linux-headers-amd64 >/dev/null && '"$modules"
