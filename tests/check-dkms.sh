#!/bin/sh
# make check-dkms: what a guest's administrator does with DKMS, in a scratch
# tree: frontend's `make install-dkms`, then dkms add and build for the
# kernel in LINUX_DIR.  The module DKMS builds must be ours (the srcversion
# of the one `make module` built) and for that kernel (its vermagic).
#
# Usage: check-dkms.sh SRCDIR VERSION LINUX_DIR BUILT_MODULE
set -eu
src=$1
version=$2
kdir=$3
built=$4
command -v dkms >/dev/null || { echo "check-dkms: dkms is missing (apt-get install dkms)"; exit 1; }
# The release modules are built for (Debian's headers say 6.1.0-56-amd64
# there and 6.1.192 in kernel.release).
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

conf_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$src/frontend/dkms.conf")
[ "$conf_version" = "$version" ] ||
	{ echo "check-dkms: dkms.conf says $conf_version, configure.ac $version"; exit 1; }
make -s -C "$src/frontend" install-dkms DESTDIR="$tmp"
mkdir -p "$tmp/var/lib/dkms"
dkms="dkms --dkmstree $tmp/var/lib/dkms --sourcetree $tmp/usr/src"
$dkms add -m virtio-xenbus -v "$version" >"$tmp/dkms.log" 2>&1 &&
	$dkms build -m virtio-xenbus -v "$version" -k "$kver" --kernelsourcedir "$kdir" \
		>>"$tmp/dkms.log" 2>&1 ||
	{ cat "$tmp/dkms.log" "$tmp"/var/lib/dkms/virtio-xenbus/"$version"/build/make.log 2>/dev/null
	  echo "check-dkms: dkms failed"; exit 1; }
ko=$(find "$tmp/var/lib/dkms/virtio-xenbus/$version/$kver" -name 'virtio_xenbus.ko*' | head -n 1)
[ -n "$ko" ] || { echo "check-dkms: dkms built no virtio_xenbus.ko for $kver"; exit 1; }
vermagic=$(modinfo -F vermagic "$ko")
[ "${vermagic%% *}" = "$kver" ] || { echo "check-dkms: $ko is for '$vermagic', not $kver"; exit 1; }
# The same module: name, alias, parameters, dependencies, vermagic; not
# where it is or the signature DKMS put on it.
fields() { modinfo "$1" | awk '/^[a-z_]+:/ { keep = $1 !~ /^(filename|sig_.*|signer|signature):$/ } keep'; }
fields "$ko" >"$tmp/dkms.modinfo"
fields "$built" >"$tmp/make.modinfo"
diff -u "$tmp/make.modinfo" "$tmp/dkms.modinfo" ||
	{ echo "check-dkms: DKMS built another module than make module"; exit 1; }
echo "check-dkms: virtio-xenbus/$version built by DKMS for $kver" \
	"(${ko##*/}, alias $(modinfo -F alias "$ko"), signer: $(modinfo -F signer "$ko"))"
