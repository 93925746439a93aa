#!/bin/sh
# copy-modules.sh TREE DEST MODULE...: the .ko of each MODULE under TREE
# into DEST, uncompressed, for a guest's initramfs.  A module the kernel
# has built in (trixie's virtio, say) is not there, and needs nothing.
set -eu
tree=$1 dest=$2
shift 2
mkdir -p "$dest"
for m in "$@"; do
	f=$(find "$tree" -name "$m.ko*" | head -n 1)
	[ -n "$f" ] || continue
	case $f in
	*.xz) xz -dc "$f" >"$dest/$m.ko" ;;
	*) cp "$f" "$dest/" ;;
	esac
done
