#!/bin/sh
# Builds the Debian packages (debian/) from a copy of the checkout, as
# `apt-get build-dep ./ && dpkg-buildpackage -us -uc -b` would, and leaves
# the .deb files in OUTDIR.  A package build writes into its tree
# (autoreconf, debian/build) and cleans up after itself, which would take
# the checkout's own configure with it: hence the copy.
#
# Usage: tools/build-debs.sh OUTDIR   (as root, from the checkout)
set -eu
out=$(mkdir -p "$1" && cd "$1" && pwd)
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null; }

apt_get install --no-install-recommends dpkg-dev debhelper dh-dkms
apt_get build-dep ./
version=$(dpkg-parsechangelog -S Version)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/virtio-xenbus-$version"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z | xargs -0 tar -cf -
else
	# A copy already (tests/chroot): all of it but its build.
	tar --exclude=./build -cf - .
fi | tar -C "$tmp/virtio-xenbus-$version" -xf -
(cd "$tmp/virtio-xenbus-$version" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 ||
	{ tail -n 40 "$tmp/build.log"; echo "build-debs: dpkg-buildpackage failed"; exit 1; }
rm -f "$out"/virtio-xenbus*.deb
mv "$tmp"/virtio-xenbusd_"$version"_*.deb "$tmp"/virtio-xenbus-dkms_"$version"_all.deb "$out/"
ls "$out"/virtio-xenbus*.deb
