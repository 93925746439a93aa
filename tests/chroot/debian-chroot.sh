#!/bin/sh
# A Debian chroot of another release than the machine's, to build and test
# there (CI's machines are Debian 12; users run Debian 13 too).
#
#   debian-chroot.sh make SUITE CACHE
#       debootstraps SUITE (with its backports, if it has them) into
#       CACHE/SUITE-HASH, HASH being that of make_chroot below, once; prints
#       the chroot's path.
#   debian-chroot.sh run ROOT CMD...
#       runs CMD (a shell command line) in ROOT as root, with /dev,
#       /dev/pts, /proc, /sys and /run/netns bound, in /src, a copy of this
#       source tree; unmounts every one of them after, whatever CMD did.
#
# Hygiene: nothing is removed while anything is mounted under it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

mounted_under() {
	awk -v root="$1" '$2 == root || index($2, root "/") == 1' /proc/mounts | grep -q .
}

# Removes a tree, refusing if anything is mounted in it.
remove_tree() {
	if mounted_under "$1"; then
		echo "debian-chroot: $1 still has mounts: not removing it" >&2
		return 1
	fi
	rm -rf "$1"
}

make_chroot() {
	suite=$1
	cache=$2
	hash=$(sed -n '/^make_chroot()/,/^}/p' "$0" | sha256sum | cut -c1-12)
	root=$cache/$suite-$hash
	if [ -x "$root/bin/sh" ] && [ -f "$root/.complete" ]; then
		echo "$root"
		return 0
	fi
	mkdir -p "$cache"
	remove_tree "$root.tmp"
	debootstrap --variant=minbase --include=ca-certificates "$suite" "$root.tmp" \
		http://deb.debian.org/debian >"$cache/$suite-debootstrap.log" 2>&1 || {
		tail -n 30 "$cache/$suite-debootstrap.log" >&2
		echo "debian-chroot: debootstrap $suite failed" >&2
		exit 1
	}
	# A release's updates and security suites, as its users have them (the
	# rig's dom0 image runs their kernel, whose headers are built against).
	{
		echo "deb http://deb.debian.org/debian $suite main"
		[ "$suite" = sid ] || cat <<SRC
deb http://deb.debian.org/debian $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
deb http://deb.debian.org/debian $suite-backports main
SRC
	} >"$root.tmp/etc/apt/sources.list"
	# sid's Release file may be past its Valid-Until.
	echo 'Acquire::Check-Valid-Until "false";' >"$root.tmp/etc/apt/apt.conf.d/99valid-until"
	touch "$root.tmp/.complete"
	remove_tree "$root"
	mv "$root.tmp" "$root"
	echo "$root"
}

run_in() {
	root=$(cd "$1" && pwd)
	shift
	mounts=
	cleanup() {
		# Innermost first; a busy one is detached lazily, never left.
		for m in $mounts; do
			umount "$root$m" 2>/dev/null || umount -l "$root$m"
		done
	}
	trap cleanup EXIT INT TERM
	# Its root a mount point of its own, as the tests' private mount
	# namespaces want ("/" made private).
	mount --bind "$root" "$root"
	mounts="/"
	for m in /dev /dev/pts /proc /sys; do
		mkdir -p "$root$m"
		mount --bind "$m" "$root$m"
		mounts="$m $mounts"
	done
	# ip netns keeps its namespaces here: the tests make theirs.
	mkdir -p "$root/run/netns"
	mount -t tmpfs netns "$root/run/netns"
	mounts="/run/netns $mounts"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# A copy of the tree as git has it: nothing of the host's builds.
	rm -rf "$root/src"
	mkdir -p "$root/src"
	(cd "$src" && git ls-files -z | xargs -0 tar -cf - 2>/dev/null) | tar -C "$root/src" -xf -
	chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 /bin/sh -c "cd /src && $*"
}

case "${1:-}" in
make) make_chroot "$2" "$3" ;;
run) shift; run_in "$@" ;;
*) echo "usage: debian-chroot.sh make SUITE CACHE | run ROOT CMD..." >&2; exit 2 ;;
esac
