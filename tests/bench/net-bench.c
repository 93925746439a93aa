// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net through the simulated path against a veth pair between the same
 * two network namespaces, in the same run: TCP from the host to the guest and
 * back, one flow and four, every byte checked at the far end (MB/s), and
 * floods of small UDP datagrams each way (packets per second delivered).
 * Prints the figures and their ratios to veth, twice: with the driver's
 * buffers in a grant pool (protocol.md 4.4: frames go straight between the
 * pool and the daemon's TAP), and with every buffer granted alone.
 *
 * The "guest" is the test frontend's virtio-net driver over a TAP in a
 * namespace of its own, so a real kernel stack stands at both ends of both
 * paths; veth is what the same two stacks do with no device between them.
 */
#include <linux/virtio_net.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "nettest.h"
#include "toolstack.h"
#include "vnet.h"

#define GUEST		3
#define BYTES		(256u << 20)
/* Two queue pairs for two cores; the pool then holds all their buffers. */
#define PAIRS		2

static char ns[64], ns_path[96];
static char our_if[16];		/* the daemon's TAP for the guest of the run */

static void die(const char *what)
{
	fprintf(stderr, "net-bench: %s\n", what);
	sh("ip netns del %s 2>/dev/null", ns);
	exit(1);
}

/* MB/s of a checked transfer; dies if a byte is wrong. */
static double rate(const char *server_ip, bool to_guest, unsigned int flows)
{
	char why[256];
	double t0 = now_seconds();

	if (tcp_check_transfer(ns_path, server_ip, to_guest, BYTES, flows, why,
			       sizeof(why)))
		die(why);
	return BYTES / 1e6 / (now_seconds() - t0);
}

#define PPS_PAYLOAD	18	/* a 64-byte Ethernet frame */
#define PPS_SECONDS	3.0

/* Delivered packets per second and the share of those sent. */
static double pps(const char *dst_ip, bool to_guest, double *share)
{
	uint64_t sent, received;

	if (udp_flood(ns_path, dst_ip, to_guest, PPS_PAYLOAD, PPS_SECONDS, &sent,
		      &received))
		die("the UDP flood could not run");
	*share = sent ? (double)received / sent : 0;
	return received / PPS_SECONDS;
}

/* A counter, read by a shell command in the guest's namespace or ours (@in_guest). */
static unsigned long long count(bool in_guest, const char *cmd)
{
	char out[64];

	if (sh_output(out, sizeof(out), "%s%s%s", in_guest ? "ip netns exec " : "",
		      in_guest ? ns : "", cmd) != 0)
		return 0;
	return strtoull(out, NULL, 10);
}

/* An interface's dropped counter (@dir: rx or tx), in the guest's namespace or ours. */
static unsigned long long drops(bool in_guest, const char *ifname, const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), " cat /sys/class/net/%s/statistics/%s_dropped", ifname, dir);
	return count(in_guest, cmd);
}
/* UDP's RcvbufErrors: datagrams the receiving socket had no room for. */
#define RCVBUF_ERRORS " awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $6 }' /proc/net/snmp"

/*
 * Where the datagrams the virtio path lost went: the TAP in front of the
 * slower side (ours toward the guest, the guest driver's toward us) had
 * its queue full, or the receiving socket had no room.
 */
struct losses {
	unsigned long long our_tap, guest_tap, socket;
};

static struct losses losses_now(bool to_guest)
{
	return (struct losses){
		.our_tap = drops(false, our_if, to_guest ? "tx" : "rx"),
		.guest_tap = drops(true, "vxg0", to_guest ? "rx" : "tx"),
		.socket = count(to_guest, RCVBUF_ERRORS),
	};
}

static void pps_line(const char *what, const char *ours, const char *veth,
		     bool to_guest)
{
	struct losses l0 = losses_now(to_guest), l1;
	double vs, es, v = pps(ours, to_guest, &vs), e;

	l1 = losses_now(to_guest);
	e = pps(veth, to_guest, &es);
	printf("  %s: virtio-xenbus %7.1f k (%3.0f%%), veth %7.1f k (%3.0f%%)  (%.2f)\n",
	       what, v / 1e3, 100 * vs, e / 1e3, 100 * es, v / e);
	printf("    virtio-xenbus's losses: %llu k at the daemon's TAP (%s), %llu k at the guest driver's TAP, %llu k at the receiving socket\n",
	       (l1.our_tap - l0.our_tap) / 1000, to_guest ? "its queue full" : "refused",
	       (l1.guest_tap - l0.guest_tap) / 1000, (l1.socket - l0.socket) / 1000);
}

/*
 * Guest @domid, its nic with @pool_pages of grant pool (0: none) and its
 * TAP, up.  Each run has a guest of its own, as the daemon lets the last
 * one's nic go in its own time.
 */
static void nic_up(struct harness *h, uint32_t domid, struct vx_guest **g,
		   struct vx_vdev *vd, struct vnet *vn, uint32_t pool_pages)
{
	char queues[8];
	const char *const kv[] = { "mac", "00:16:3e:0b:e0:01", "queues", queues, NULL };
	uint16_t pairs = htole16(PAIRS);
	const uint8_t *m;
	unsigned int i;
	int fds[PAIRS];

	snprintf(queues, sizeof(queues), "%u", PAIRS);
	snprintf(our_if, sizeof(our_if), "vxif%u.0", domid);
	*g = guest_create(h->sim_dir, domid, 0, 65536);
	if (!*g || vx_ts_add_device((*g)->xs, 0, domid, 0, "net", kv))
		die("cannot make the guest and its nic");
	if (vdev_probe(vd, *g, 0) || vdev_negotiate(vd, vd->features))
		die("the nic did not connect");
	vd->pool_pages = pool_pages;
	if (vdev_setup_queues(vd, 2 * PAIRS + 1, 256) || vdev_driver_ok(vd))
		die("the nic did not connect");
	if (vnet_open_tap(ns_path, "vxg0", PAIRS, fds))
		die("cannot open the guest's TAP");
	m = ((const struct virtio_net_config *)vd->config)->mac;
	if (sh("ip netns exec %s ip link set vxg0 address %02x:%02x:%02x:%02x:%02x:%02x up",
	       ns, m[0], m[1], m[2], m[3], m[4], m[5]) ||
	    sh("ip netns exec %s ip addr add 10.77.0.2/24 dev vxg0", ns) ||
	    sh("ip addr replace 10.77.0.1/24 dev %s", our_if) ||
	    vnet_start(vn, vd, PAIRS, fds) ||
	    vnet_ctrl(vn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2) ||
	    sh("ping -q -c 1 -W 3 10.77.0.2 >/dev/null"))
		die("cannot bring the nic up");
	for (i = 0; i < PAIRS; i++)
		if (pool_pages && !(vn->pair[i].rx_pooled && vn->pair[i].tx_pooled))
			die("the pool does not hold every buffer");
}

static void nic_down(struct vx_guest *g, struct vx_vdev *vd, struct vnet *vn)
{
	/* The next run's TAP gets the address: no route left through this one. */
	sh("ip addr flush dev %s", our_if);
	vnet_stop(vn);
	vdev_close(vd);
	vnet_free(vn);
	guest_destroy(g);
}

/* TCP and UDP through the nic, beside the same through veth. */
static void figures(void)
{
	unsigned int flows;

	printf("TCP, %u MiB a transfer, every byte checked; MB/s (ratio to veth)\n", BYTES >> 20);
	for (flows = 1; flows <= 4; flows *= 4) {
		double vto = rate("10.77.0.2", true, flows);
		double eto = rate("10.78.0.2", true, flows);
		double vfrom = rate("10.77.0.1", false, flows);
		double efrom = rate("10.78.0.1", false, flows);

		printf("  %u flow%s host -> guest: virtio-xenbus %7.1f, veth %7.1f  (%.2f)\n",
		       flows, flows > 1 ? "s" : " ", vto, eto, vto / eto);
		printf("  %u flow%s guest -> host: virtio-xenbus %7.1f, veth %7.1f  (%.2f)\n",
		       flows, flows > 1 ? "s" : " ", vfrom, efrom, vfrom / efrom);
	}

	printf("UDP, %d-byte datagrams for %.0f s, one sender; thousands of packets/s delivered (ratio to veth), share of those sent\n",
	       PPS_PAYLOAD, PPS_SECONDS);
	pps_line("host -> guest", "10.77.0.2", "10.78.0.2", true);
	pps_line("guest -> host", "10.77.0.1", "10.78.0.1", false);
}

int main(void)
{
	struct harness h;
	struct vx_guest *g;
	struct vx_vdev vd;
	struct vnet vn;

	/* Namespaces of our own: nothing of this machine's network is touched. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL))
		die("cannot make namespaces (run as root)");
	snprintf(ns, sizeof(ns), "vxbench-guest-%d", getpid());
	snprintf(ns_path, sizeof(ns_path), "/run/netns/%s", ns);
	if (sh("ip link set lo up && ip netns add %s", ns))
		die("ip netns add");
	if (harness_start(&h))
		die("cannot start xenstored and the daemon");
	/* The same two namespaces, joined by veth. */
	if (sh("ip link add vxb-h type veth peer name vxb-g netns %s", ns) ||
	    sh("ip addr add 10.78.0.1/24 dev vxb-h && ip link set vxb-h up") ||
	    sh("ip netns exec %s sh -c 'ip addr add 10.78.0.2/24 dev vxb-g && ip link set vxb-g up'", ns) ||
	    sh("ping -q -c 1 -W 3 10.78.0.2 >/dev/null"))
		die("the veth path does not work");

	/* As virtio_xenbus.ko does by default: the driver's buffers in a pool. */
	printf("== the nic's buffers in a grant pool (%u pages), as virtio_xenbus.ko's default\n",
	       VX_POOL_MAX_PAGES);
	nic_up(&h, GUEST, &g, &vd, &vn, VX_POOL_MAX_PAGES);
	figures();
	nic_down(g, &vd, &vn);
	printf("== no pool: every buffer granted alone, each frame a grant copy\n");
	nic_up(&h, GUEST + 1, &g, &vd, &vn, 0);
	figures();
	nic_down(g, &vd, &vn);

	harness_stop_daemon(&h, SIGTERM);
	harness_stop(&h);
	sh("ip netns del %s", ns);
	return 0;
}
