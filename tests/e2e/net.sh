# shellcheck shell=sh
# virtio-net in guest1: a hot-attached nic on dom0's bridge.

test_net_hot_attach_ping_and_tcp() {
	ensure_guest
	bridge_up || fail "cannot make the bridge"
	# An attach from none: a nic another test set up goes first.
	if virtio-xenbus list $GUEST | grep -qi "mac $NIC_MAC"; then
		virtio-xenbus nic-detach $GUEST $NIC_MAC || fail "nic-detach of the nic before"
	fi
	virtio-xenbus nic-attach $GUEST mac=$NIC_MAC,bridge=xenbr0 || fail "nic-attach"
	out=$(guest_run 120 "$FIND_NIC"'
		set -e
		n=$(nic '$NIC_MAC')
		d=$(readlink /sys/class/net/$n/device/driver)
		echo "$n ${d##*/}"
		ip link set $n up
		ip addr add 10.99.0.2/24 dev $n
		ping -c 3 -W 5 10.99.0.1 >/dev/null
		echo "pinged dom0"') || { echo "$out"; fail "in the guest"; }
	echo "$out"
	echo "$out" | grep -q " virtio_net$" || fail "the nic is not driven by virtio_net"
	ip link show master xenbr0 | tee /tmp/ports
	grep -q "vxif" /tmp/ports || fail "our interface is not on the bridge"
	busybox ping -c 3 -W 5 10.99.0.2 || fail "dom0 cannot ping the guest"
	ms=$(tcp_from_guest 10.99.0.1) || { echo "$ms"; fail "TCP from the guest"; }
	echo "32 MiB guest -> dom0 in $ms ms"
	ms=$(tcp_to_guest 10.99.0.2) || { echo "$ms"; fail "TCP to the guest"; }
	echo "32 MiB dom0 -> guest in $ms ms"
	virtio-xenbus list $GUEST
	# The cable: a config change the module passes to virtio_net.
	virtio-xenbus nic-link $GUEST $NIC_MAC down || fail "nic-link down"
	guest_run 30 "$FIND_NIC"'
		n=$(nic '$NIC_MAC')
		for i in $(seq 100); do [ "$(cat /sys/class/net/$n/carrier)" = 0 ] && exit 0; sleep 0.2; done
		exit 1' || fail "the guest did not see its link go down"
	virtio-xenbus nic-link $GUEST $NIC_MAC up || fail "nic-link up"
	out=$(guest_run 60 "$FIND_NIC"'
		n=$(nic '$NIC_MAC')
		for i in $(seq 100); do [ "$(cat /sys/class/net/$n/carrier)" = 1 ] && break; sleep 0.2; done
		echo "carrier $(cat /sys/class/net/$n/carrier)"
		ping -c 2 -W 5 10.99.0.1 >/dev/null && echo "pinged dom0 again"') || { echo "$out"; fail "link up in the guest"; }
	echo "$out"
	echo "$out" | grep -q "carrier 1" || fail "the guest did not see its link come back"
}

test_net_hot_detach() {
	ensure_nic
	virtio-xenbus nic-detach $GUEST $NIC_MAC || fail "nic-detach"
	guest_run 30 'for i in $(seq 50); do
			grep -qx '$NIC_MAC' /sys/class/net/*/address || exit 0; sleep 0.2; done; exit 1' ||
		fail "the nic is still in the guest"
	wait_for 10 sh -c '! ip -o link | grep -q vxif' || fail "our interface is left in dom0"
	! virtio-xenbus list $GUEST | grep -q ' net ' || fail "the nic is still listed"
}
