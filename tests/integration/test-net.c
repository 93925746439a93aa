// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net through the real daemon, a real xenstored, the simulated
 * hypervisor and real TAP interfaces: a kernel network stack at each end.
 *
 * Each test runs in a network namespace of its own (the "host", where the
 * daemon makes its TAP), and the guest's end is a second TAP in another
 * namespace (the "guest"), driven by the test frontend's virtio-net driver.
 */
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "common.h"
#include "nettest.h"
#include "xsvalue.h"
#include "vnet.h"

#define GUEST_IF	"vxg0"
#define HOST_IP		"10.77.0.1"
#define GUEST_IP	"10.77.0.2"
#define GUEST_DOMID	3
#define NIC_ID		0
#define HOST_IF		"vxif3.0"
#define TRANSFER	(32u << 20)

static char guest_ns[64], guest_ns_path[96];
static struct vx_guest *g;
static struct vx_vdev vd;
static struct vnet vn;
static const char *host_ip_dev = HOST_IF;	/* where the host's address goes */

static void net_up(void)
{
	/*
	 * The host's namespace: the daemon's TAP lands here, not on the
	 * machine; and a sysfs of our own, to show this namespace's interfaces.
	 */
	ck_assert_int_eq(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("sysfs", "/sys", "sysfs", 0, NULL), 0);
	ck_assert_int_eq(sh("ip link set lo up"), 0);
	snprintf(guest_ns, sizeof(guest_ns), "vxtest-guest-%d", getpid());
	snprintf(guest_ns_path, sizeof(guest_ns_path), "/run/netns/%s", guest_ns);
	/* A test that failed left its name behind (a file, its mount gone with it). */
	sh("ip netns del %s 2>/dev/null", guest_ns);
	ck_assert_int_eq(sh("ip netns add %s", guest_ns), 0);
	host_up();
}

static void net_down(void)
{
	sh("ip netns del %s 2>/dev/null", guest_ns);
	if (getenv("VX_TEST_SHOW_LOG"))
		sh("cat %s >&2", host.log);
	host_down();
}

/* Attaches a nic as the toolstack would, with @kv: key, value, ..., NULL. */
static void attach_nic(uint32_t devid, const char *const *kv)
{
	ck_assert_int_eq(vx_ts_add_device(g->xs, 0, g->domid, devid, "net", kv), 0);
}

#define KV(...)	((const char *const []){ __VA_ARGS__, NULL })

/* The bridge @ifname is on, or "" (its name in @out, 16 bytes). */
static const char *master_of(const char *ifname, char out[16])
{
	char link[128], target[128] = "";
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/class/net/%s/master", ifname);
	n = readlink(link, target, sizeof(target) - 1);
	out[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(out, 16, "%s", strrchr(target, '/') + 1);
	}
	return out;
}

/* Waits for the daemon to make or remove a host interface. */
static bool host_if_exists(const char *ifname, bool exists)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	for (int ms = 0; ms < PATIENCE_MS; ms += 10) {
		if ((access(path, F_OK) == 0) == exists)
			return true;
		usleep(10000);
	}
	return false;
}

static const uint8_t *config_mac(void)
{
	return ((const struct virtio_net_config *)vd.config)->mac;
}

/* The next guest_nic_up posts receive buffers as indirect chains. */
static bool indirect_rx;
/* The next guest_nic_up gives the nic a grant pool of this many pages. */
static uint32_t nic_pool_pages;

/* Connects the nic with @features and starts the guest's end of it. */
static void guest_nic_up(uint64_t features, unsigned int pairs)
{
	const uint8_t *m;
	int fds[VNET_MAX_PAIRS];
	unsigned int nq;

	ck_assert_int_eq(vdev_probe(&vd, g, NIC_ID), 0);
	ck_assert_int_eq(vdev_negotiate(&vd, vd.features & features), 0);
	vd.pool_pages = nic_pool_pages;
	nq = (vd.driver_features & (1ULL << VIRTIO_NET_F_MQ) ? 2 * pairs : 2) +
	     !!(vd.driver_features & (1ULL << VIRTIO_NET_F_CTRL_VQ));
	ck_assert_int_eq(vdev_setup_queues(&vd, nq, 256), 0);
	ck_assert_int_eq(vdev_driver_ok(&vd), 0);

	ck_assert_int_eq(vnet_open_tap(guest_ns_path, GUEST_IF, pairs, fds), 0);
	m = config_mac();
	ck_assert_int_eq(sh("ip netns exec %s ip link set %s address %02x:%02x:%02x:%02x:%02x:%02x",
			    guest_ns, GUEST_IF, m[0], m[1], m[2], m[3], m[4], m[5]), 0);
	ck_assert_int_eq(sh("ip netns exec %s ip addr add %s/24 dev %s", guest_ns,
			    GUEST_IP, GUEST_IF), 0);
	ck_assert_int_eq(sh("ip netns exec %s ip link set %s up", guest_ns, GUEST_IF), 0);
	ck_assert_int_eq((indirect_rx ? vnet_start_indirect_rx : vnet_start)(&vn, &vd, nq / 2, fds),
			 0);
	ck_assert_int_eq(sh("ip addr replace %s/24 dev %s", HOST_IP, host_ip_dev), 0);
}

static void guest_nic_down(void)
{
	unsigned int i;

	for (i = 0; i < vn.pairs; i++)
		ck_assert_msg(!vn.pair[i].failed, "the device broke a rule on pair %u", i);
	vnet_stop(&vn);
	ck_assert_int_eq(vdev_close(&vd), 0);
	ck_assert_int_eq(vnet_free(&vn), 0);
}

static void new_nic(const char *queues, uint64_t features, unsigned int pairs)
{
	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("queues", queues, "mac", "00:16:3e:0a:0b:0c"));
	guest_nic_up(features, pairs);
}

static uint64_t sysfs_u64(const char *ifname, const char *file)
{
	char path[160], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, file);
	f = fopen(path, "r");
	if (!f)
		return UINT64_MAX;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtoull(buf, NULL, 0);
}

/* ---- TCP across the nic ---- */

/* @flows connections carry @bytes from the host to the guest or back, checked. */
static void tcp_transfer(bool to_guest, size_t bytes, unsigned int flows)
{
	char why[256] = "";

	ck_assert_msg(tcp_check_transfer(guest_ns_path, to_guest ? GUEST_IP : HOST_IP,
					 to_guest, bytes, flows, why, sizeof(why)) == 0,
		      "%s the guest: %s", to_guest ? "to" : "from", why);
}

static uint64_t rx_frames(unsigned int pair)
{
	return __atomic_load_n(&vn.pair[pair].rx_frames, __ATOMIC_RELAXED);
}

static uint64_t tx_frames_all(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < vn.pairs; i++)
		n += __atomic_load_n(&vn.pair[i].tx_frames, __ATOMIC_RELAXED);
	return n;
}

/* The bytes the daemon logged for a queue of the nic when it stopped. */
static uint64_t logged_queue_bytes(unsigned int queue)
{
	unsigned long long frames = 0, bytes = 0;
	char line[512];

	logged_queue_line(GUEST_DOMID, NIC_ID, queue, line, sizeof(line));
	sscanf(line, "%llu frames, %llu bytes", &frames, &bytes);
	ck_assert_uint_gt(frames, 0);
	return bytes;
}

/* ---- the tests ---- */

START_TEST(nic_has_its_mac_mtu_and_interface)
{
	const struct virtio_net_config *c;

	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("queues", "2", "mac", "00:16:3e:01:02:03", "mtu", "9000"));
	attach_nic(1, (const char *const []){ NULL });
	ck_assert_int_eq(vdev_probe(&vd, g, NIC_ID), 0);
	c = (const void *)vd.config;
	ck_assert_uint_eq(vd.device_id, 1);
	ck_assert_mem_eq(c->mac, ((uint8_t[]){ 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 }), 6);
	ck_assert_uint_eq(le16toh(c->mtu), 9000);
	ck_assert_uint_eq(le16toh(c->max_virtqueue_pairs), 2);
	ck_assert_uint_eq(le16toh(c->status) & VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(vd.max_queues, 5);
	ck_assert(vd.features & (1ULL << VIRTIO_NET_F_MQ));
	/* The host's end: named after the guest, up, with the MTU. */
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "mtu"), 9000);
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "flags") & IFF_UP, IFF_UP);

	/* Without a mac key: a stable one in Xen's OUI, the same when re-added. */
	ck_assert_int_eq(vdev_probe(&vd, g, 1), 0);
	ck_assert_mem_eq(config_mac(), ((uint8_t[]){ 0x00, 0x16, 0x3e }), 3);
	uint8_t first[6];

	memcpy(first, config_mac(), 6);
	ck_assert_int_ge(vx_ts_remove_device(g->xs, 0, g->domid, 1, true, 0), 0);
	ck_assert_msg(host_if_exists("vxif3.1", false), "vxif3.1 outlived its device");
	attach_nic(1, (const char *const []){ NULL });
	ck_assert_int_eq(vdev_probe(&vd, g, 1), 0);
	ck_assert(host_if_exists("vxif3.1", true));
	ck_assert_mem_eq(config_mac(), first, 6);
	ck_assert_uint_eq(sysfs_u64("vxif3.1", "mtu"), 1500);
}
END_TEST

/* The bytes `virtio-xenbus list` shows for a queue of the nic, live. */
static uint64_t listed_queue_bytes(unsigned int queue)
{
	unsigned long long frames = 0, bytes = 0;
	char out[4096], needle[32], *p;

	ck_assert_int_eq(tool(out, sizeof(out), "list"), 0);
	snprintf(needle, sizeof(needle), "queue %u: ", queue);
	p = strstr(out, needle);
	ck_assert_msg(p, "no counters for queue %u in: %s", queue, out);
	ck_assert_int_eq(sscanf(p + strlen(needle), "%llu frames, %llu bytes", &frames, &bytes), 2);
	return bytes;
}

START_TEST(ping_and_tcp_both_ways_with_offloads)
{
	uint64_t host_rx = sysfs_u64(HOST_IF, "statistics/rx_bytes"), frames;

	new_nic("1", all_features, 1);
	ck_assert(vd.driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	ck_assert_int_eq(sh("ping -q -c 3 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	ck_assert_int_eq(sh("ip netns exec %s ping -q -c 3 -i 0.2 -W 3 %s >/dev/null",
			    guest_ns, HOST_IP), 0);

	tcp_transfer(true, TRANSFER, 1);
	frames = tx_frames_all();
	tcp_transfer(false, TRANSFER, 1);
	/* The host's kernel saw every byte the guest sent... */
	host_rx = sysfs_u64(HOST_IF, "statistics/rx_bytes") - (host_rx == UINT64_MAX ? 0 : host_rx);
	ck_assert_uint_ge(host_rx, TRANSFER);
	/* ...in segments larger than the MTU: TSO went through the device. */
	frames = tx_frames_all() - frames;
	ck_assert_msg(frames < TRANSFER / 1448 / 4,
		      "%llu frames for %u bytes: no TSO", (unsigned long long)frames, TRANSFER);
	/* The toolstack reads the counters live: receiveq1 and transmitq1. */
	ck_assert_uint_ge(listed_queue_bytes(0), TRANSFER);
	ck_assert_uint_ge(listed_queue_bytes(1), TRANSFER);
	guest_nic_down();
	/* The daemon's counters saw the transfers: receiveq1 and transmitq1. */
	ck_assert_uint_ge(logged_queue_bytes(0), TRANSFER);
	ck_assert_uint_ge(logged_queue_bytes(1), TRANSFER);
}
END_TEST

START_TEST(tcp_both_ways_without_offloads)
{
	uint64_t off = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		       (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) |
		       (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) |
		       (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) |
		       (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t frames;

	new_nic("1", all_features & ~off, 1);
	ck_assert_uint_eq(vd.driver_features & off, 0);
	tcp_transfer(true, TRANSFER / 2, 1);
	frames = tx_frames_all();
	tcp_transfer(false, TRANSFER / 2, 1);
	/* Every segment within the MTU: nothing was offloaded. */
	frames = tx_frames_all() - frames;
	ck_assert_uint_ge(frames, TRANSFER / 2 / 1500);
	guest_nic_down();
}
END_TEST

/*
 * Each receive buffer an indirect chain of 1 KiB, so that every frame spans
 * chains and each pop after the first reads a table from guest memory:
 * every byte still arrives, each way.
 */
START_TEST(frames_spanning_indirect_receive_chains_keep_every_byte)
{
	indirect_rx = true;
	new_nic("1", all_features, 1);
	ck_assert(vd.driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(vd.driver_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	ck_assert_int_eq(sh("ip netns exec %s ping -q -c 3 -i 0.2 -W 3 -s 1400 %s >/dev/null",
			    guest_ns, HOST_IP), 0);
	tcp_transfer(true, TRANSFER / 2, 1);
	tcp_transfer(false, TRANSFER / 2, 1);
	guest_nic_down();
	indirect_rx = false;
}
END_TEST

/* A TcpExt counter of /proc/net/netstat (names on one line, values on the next). */
static uint64_t tcpext(bool in_guest, const char *name)
{
	char out[32];

	ck_assert_int_eq(sh_output(out, sizeof(out), "%s%s awk -v k=%s '$1 == \"TcpExt:\" {"
				   " if (!n) { for (i = 2; i <= NF; i++) if ($i == k) f = i; n = 1 }"
				   " else print $f }' /proc/net/netstat",
				   in_guest ? "ip netns exec " : "", in_guest ? guest_ns : "",
				   name), 0);
	return strtoull(out, NULL, 10);
}

/*
 * A grant pool (protocol.md 4.4) with the driver's buffers in it: frames go
 * between the TAP and the pool with no copy in the daemon.  Pings of every
 * size up to the MTU and TCP each way, every byte checked; and toward the
 * guest no segment lost on the way: when our TAP dropped nothing (a
 * starved daemon lets the host's kernel drop at it), the guest's TCP had
 * nothing out of order to queue.
 */
static void pool_transfers(uint32_t pool_pages, uint64_t features, bool rx_pooled,
			   bool tx_pooled)
{
	uint64_t ofo, tap_drops;

	nic_pool_pages = pool_pages;
	new_nic("1", features, 1);
	nic_pool_pages = 0;
	ck_assert_ptr_nonnull(vd.pool);
	ck_assert(vn.pair[0].rx_pooled == rx_pooled && vn.pair[0].tx_pooled == tx_pooled);
	ck_assert_int_eq(sh("ip netns exec %s ping -q -c 3 -i 0.2 -W 3 -s 1472 %s >/dev/null",
			    guest_ns, HOST_IP), 0);
	ck_assert_int_eq(sh("ping -q -c 3 -i 0.2 -W 3 -s 1472 %s >/dev/null", GUEST_IP), 0);
	ck_assert_int_eq(sh("for s in 0 1 17 100 1000 1400; do ping -q -c 1 -W 3 -s $s %s >/dev/null || exit 1; done",
			    GUEST_IP), 0);
	ofo = tcpext(true, "TCPOFOQueue");
	tap_drops = sysfs_u64(HOST_IF, "statistics/tx_dropped");
	tcp_transfer(true, TRANSFER, 1);
	if (sysfs_u64(HOST_IF, "statistics/tx_dropped") == tap_drops)
		ck_assert_uint_eq(tcpext(true, "TCPOFOQueue"), ofo);
	tcp_transfer(false, TRANSFER, 1);
	ck_assert_uint_ge(listed_queue_bytes(0), TRANSFER);
	ck_assert_uint_ge(listed_queue_bytes(1), TRANSFER);
	guest_nic_down();
}

START_TEST(frames_through_the_grant_pool_keep_every_byte)
{
	pool_transfers(2048, all_features, true, true);
	ck_assert(vd.driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
}
END_TEST

/*
 * The pool too small for all of them: the buffers outside it go through
 * grants (the transmit buffers take the pool first).  Mergeable receive
 * buffers outside it; then one big receive buffer a frame (no MRG_RXBUF)
 * in it, the transmit buffers outside.
 */
START_TEST(frames_half_in_the_grant_pool_keep_every_byte)
{
	pool_transfers(1100, all_features, false, true);
}
END_TEST

START_TEST(big_receive_buffers_in_the_grant_pool_keep_every_byte)
{
	pool_transfers(600, all_features & ~(1ULL << VIRTIO_NET_F_MRG_RXBUF), true, false);
	ck_assert_uint_eq(vd.driver_features & (1ULL << VIRTIO_NET_F_MRG_RXBUF), 0);
}
END_TEST

/*
 * Waits until the test driver took every buffer the daemon published on
 * receiveq of @pair: the driver's count of its frames is final then.
 */
static void rx_reaped(unsigned int pair)
{
	struct driver_vq *q = &vd.vqs[2 * pair];

	for (int ms = 0; ms < PATIENCE_MS; ms += 10) {
		uint16_t used = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));

		if (__atomic_load_n(&q->last_used, __ATOMIC_ACQUIRE) == used)
			return;
		usleep(10000);
	}
	ck_abort_msg("receiveq of pair %u: published buffers the driver never took", pair);
}

START_TEST(multiqueue_spreads_flows_and_mq_command_narrows)
{
	uint64_t before[4], grew = 0;
	uint16_t pairs = htole16(4);
	unsigned int i;

	new_nic("4", all_features, 4);
	ck_assert_uint_eq(vn.pairs, 4);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				   &pairs, 2), VIRTIO_NET_OK);
	for (i = 0; i < 4; i++)
		before[i] = rx_frames(i);
	/* 16 MiB a flow: hundreds of frames each even at 64 KiB (TSO). */
	tcp_transfer(true, 4 * TRANSFER, 8);
	for (i = 0; i < 4; i++)
		grew += rx_frames(i) - before[i] > 100;
	ck_assert_msg(grew >= 2, "8 flows reached only %llu receive queue(s)",
		      (unsigned long long)grew);

	/*
	 * One pair: every flow comes to receiveq1.  Once the command is
	 * answered nothing more is published on the others (virtio 1.2,
	 * 5.1.6.5.5); what was, the driver takes before the count.
	 */
	pairs = htole16(1);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				   &pairs, 2), VIRTIO_NET_OK);
	for (i = 0; i < 4; i++) {
		rx_reaped(i);
		before[i] = rx_frames(i);
	}
	tcp_transfer(true, TRANSFER / 2, 8);
	ck_assert_uint_gt(rx_frames(0) - before[0], 100);
	for (i = 1; i < 4; i++)
		ck_assert_uint_eq(rx_frames(i), before[i]);

	/* Out of range: refused. */
	pairs = htole16(5);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				   &pairs, 2), VIRTIO_NET_ERR);
	guest_nic_down();
}
END_TEST

/* Sends @n frames of VNET_PROBE_TYPE to @dst from the host's end, in VLAN @vid if not -1. */
static void host_send_probes(const uint8_t dst[6], int n, int vid)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	struct sockaddr_ll a = { .sll_family = AF_PACKET,
				 .sll_ifindex = if_nametoindex(HOST_IF),
				 .sll_halen = 6 };
	uint8_t f[64] = { 0 };

	ck_assert_int_ge(s, 0);
	memcpy(f, dst, 6);
	memcpy(f + 6, ((uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }), 6);
	if (vid >= 0) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = vid >> 8;
		f[15] = vid & 0xff;
	}
	f[vid >= 0 ? 16 : 12] = VNET_PROBE_TYPE >> 8;
	f[vid >= 0 ? 17 : 13] = VNET_PROBE_TYPE & 0xff;
	memcpy(a.sll_addr, dst, 6);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(sendto(s, f, sizeof(f), 0, (void *)&a, sizeof(a)), sizeof(f));
	close(s);
}

/* How many probes the guest receives for @n sent to @dst (in VLAN @vid). */
/* Probe frames the guest's receive queues took, all pairs together. */
static uint64_t probe_frames(void)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < vn.pairs; i++)
		n += __atomic_load_n(&vn.pair[i].probe_frames, __ATOMIC_RELAXED);
	return n;
}

static uint64_t probes_received_vlan(const uint8_t dst[6], int n, int vid)
{
	/* The TAP's flow hash, not the filter, picks the pair a probe lands on. */
	uint64_t before = probe_frames();

	host_send_probes(dst, n, vid);
	/* A frame of our own makes a barrier: the probes went before it. */
	ck_assert_int_eq(sh("ping -q -c 1 -W 3 %s >/dev/null", GUEST_IP), 0);
	usleep(100 * 1000);
	return probe_frames() - before;
}

static uint64_t probes_received(const uint8_t dst[6], int n)
{
	return probes_received_vlan(dst, n, -1);
}

START_TEST(receive_filter_follows_promiscuous_mode_mac_table_and_vlans)
{
	static const uint8_t stranger[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
	uint8_t off = 0, on = 1, table[4 + 6 + 4];
	uint16_t vid;

	new_nic("1", all_features, 1);
	/* After reset the device passes everything, as a NIC before set-up. */
	ck_assert_uint_eq(probes_received(stranger, 5), 5);

	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				   &off, 1), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received(stranger, 5), 0);
	ck_assert_uint_eq(probes_received(config_mac(), 5), 5);

	/* The stranger in the unicast table: let in, promiscuous still off. */
	memset(table, 0, sizeof(table));
	table[0] = 1;
	memcpy(table + 4, stranger, 6);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				   table, sizeof(table)), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received(stranger, 5), 5);
	memset(table, 0, sizeof(table));	/* two empty tables */
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				   table, 8), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received(stranger, 5), 0);

	/* VLANs (CTRL_VLAN negotiated): only the ids the driver added. */
	ck_assert_uint_eq(probes_received_vlan(config_mac(), 5, 5), 0);
	vid = htole16(5);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
				   &vid, 2), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received_vlan(config_mac(), 5, 5), 5);
	ck_assert_uint_eq(probes_received_vlan(config_mac(), 5, 6), 0);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL,
				   &vid, 2), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received_vlan(config_mac(), 5, 5), 0);
	vid = htole16(4096);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
				   &vid, 2), VIRTIO_NET_ERR);

	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				   &on, 1), VIRTIO_NET_OK);
	ck_assert_uint_eq(probes_received(stranger, 5), 5);
	/* Promiscuous: every VLAN too. */
	ck_assert_uint_eq(probes_received_vlan(config_mac(), 5, 6), 5);

	/* A table whose count runs past the command: refused. */
	table[0] = 200;
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				   table, sizeof(table)), VIRTIO_NET_ERR);
	guest_nic_down();
}
END_TEST

struct bad_frame {
	const char *what;		/* in the error key and the log */
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	uint32_t frame_len;		/* bytes after the header */
	bool rx_readable;		/* instead: a receive buffer the device may not write */
};

/* The frames a driver must not send (virtio 1.2, 5.1.6.2), and one bad receive buffer. */
static const struct bad_frame bad_frames[] = {
	{ "a GSO type the driver did not negotiate", 1, 7, 54, 1448, 34, 16, 3000, false },
	{ "frame over the MTU without GSO", 0, 0, 0, 0, 0, 0, 1600, false },
	{ "frame shorter than an Ethernet header", 0, 0, 0, 0, 0, 0, 5, false },
	{ "transmit chain", 0, 0, 0, 0, 0, 0, 70000, false },
	{ "header flags other than NEEDS_CSUM", 2, 0, 0, 0, 0, 0, 100, false },
	{ "checksum start and offset past the frame", 1, 0, 0, 0, 90, 16, 100, false },
	{ "GSO without NEEDS_CSUM", 0, 1, 54, 1448, 0, 0, 3000, false },
	{ "GSO size zero", 1, 1, 54, 0, 34, 16, 3000, false },
	{ "receive chain", .rx_readable = true },
};

START_TEST(hostile_frames_fail_only_that_device_and_reset_recovers)
{
	struct vx_vdev disk;
	char disk_path[256];
	uint8_t data[4096], got[4096];
	size_t i;

	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("queues", "1", "mac", "00:16:3e:0a:0b:0c"));
	attach_disk(g, 5, "w", "1", "copy", disk_path);
	ck_assert_int_eq(vdev_connect(&disk, g, 5, 1, all_features), 0);
	ck_assert_int_eq(sh("ip addr add %s/24 dev %s", HOST_IP, HOST_IF), 0);

	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		const struct bad_frame *b = &bad_frames[i];
		size_t len = sizeof(struct virtio_net_hdr_mrg_rxbuf) + b->frame_len;
		uint64_t dma;
		uint8_t *buf = guest_dma_alloc(g, len, &dma);
		struct virtio_net_hdr_mrg_rxbuf *h = (void *)buf;
		unsigned int q = b->rx_readable ? 0 : 1;
		char *err;

		ck_assert_ptr_nonnull(buf);
		ck_assert_int_eq(vdev_connect(&vd, g, NIC_ID, 3, all_features), 0);
		h->hdr.flags = b->flags;
		h->hdr.gso_type = b->gso_type;
		h->hdr.hdr_len = htole16(b->hdr_len);
		h->hdr.gso_size = htole16(b->gso_size);
		h->hdr.csum_start = htole16(b->csum_start);
		h->hdr.csum_offset = htole16(b->csum_offset);
		memset(buf + sizeof(*h), 0x5a, b->frame_len);
		ck_assert_int_ge(dvq_add(&vd.vqs[q], &(struct dvq_buf){ dma, len, false }, 1,
					 buf), 0);
		dvq_kick(&vd.vqs[q]);
		/* The receive queue takes buffers when a frame comes: send one. */
		if (b->rx_readable)
			sh("ping -q -c 1 -W 1 %s >/dev/null 2>&1", GUEST_IP);

		ck_assert_msg(needs_reset(&vd), "%s: the device did not ask for a reset", b->what);
		err = vdev_read_backend(&vd, "error");
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, b->what), "error key '%s' lacks '%s'", err, b->what);
		free(err);
		ck_assert(harness_log_wait(&host, b->what, PATIENCE_MS));
		ck_assert_int_eq(kill(host.daemon, 0), 0);

		/* The disk of the same guest never noticed. */
		fill_pattern(data, sizeof(data), i);
		ck_assert_int_eq(vblk_do(&disk, 0, VIRTIO_BLK_T_OUT, 8 * i, data, sizeof(data)),
				 VIRTIO_BLK_S_OK);
		ck_assert_int_eq(vblk_do(&disk, 0, VIRTIO_BLK_T_IN, 8 * i, got, sizeof(got)),
				 VIRTIO_BLK_S_OK);
		ck_assert(!memcmp(data, got, sizeof(got)));

		ck_assert_int_eq(vdev_reset(&vd), 0);
		ck_assert_int_eq(guest_dma_free(g, buf, len, dma), 0);
	}
	/* After a reset the nic carries traffic again. */
	guest_nic_up(all_features, 1);
	ck_assert_int_eq(sh("ping -q -c 2 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	guest_nic_down();
	ck_assert_int_eq(vdev_close(&disk), 0);
}
END_TEST

/*
 * A receive ring that broke is not served again: its thread stops polling
 * the TAP (which stays readable) and the device logs the error once.
 */
START_TEST(broken_receive_ring_is_not_served_again)
{
	struct driver_vq *rx;
	double cpu0, cpu1;
	char *err;

	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("queues", "1", "mac", "00:16:3e:0a:0b:0c"));
	ck_assert_int_eq(vdev_connect(&vd, g, NIC_ID, 3, all_features), 0);
	ck_assert_int_eq(sh("ip addr add %s/24 dev %s", HOST_IP, HOST_IF), 0);
	/* Frames go straight out, no address resolution to wait for. */
	ck_assert_int_eq(sh("ip neigh replace %s lladdr 00:16:3e:0a:0b:0c dev %s",
			    GUEST_IP, HOST_IF), 0);
	rx = &vd.vqs[0];
	rx->avail_idx += rx->size + 1;
	dvq_kick(rx);
	sh("ping -q -c 20 -i 0.01 -W 1 %s >/dev/null 2>&1", GUEST_IP);
	ck_assert_msg(needs_reset(&vd), "the device did not ask for a reset");
	err = vdev_read_backend(&vd, "error");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "jumped"), "error key '%s'", err);
	free(err);

	/* More frames wait in the TAP; the daemon sleeps beside them. */
	sh("ping -q -c 20 -i 0.01 -W 1 %s >/dev/null 2>&1", GUEST_IP);
	cpu0 = harness_daemon_cpu_s(&host);
	sleep(2);
	cpu1 = harness_daemon_cpu_s(&host);
	ck_assert(cpu0 >= 0 && cpu1 >= 0);
	printf("broken receive ring: the daemon used %.2f s of CPU in 2 s\n", cpu1 - cpu0);
	ck_assert_msg(cpu1 - cpu0 < 0.5, "the daemon used %.2f s of CPU in 2 s",
		      cpu1 - cpu0);
	/* The queue's line and the device's NEEDS_RESET line, once each. */
	ck_assert_int_eq(harness_log_count(&host, "jumped"), 2);

	ck_assert_int_eq(vdev_reset(&vd), 0);
	guest_nic_up(all_features, 1);
	ck_assert_int_eq(sh("ping -q -c 2 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	guest_nic_down();
}
END_TEST

/* virtio 1.2, 5.1.3.1: the device refuses what a driver must not accept. */
START_TEST(features_that_need_others_are_refused)
{
	const uint64_t base = VX_FEATURE(VX_F_VERSION_1) | VX_FEATURE(VX_F_ACCESS_PLATFORM) |
			      VX_FEATURE(VIRTIO_NET_F_MAC);
	const uint64_t csum = VX_FEATURE(VIRTIO_NET_F_GUEST_CSUM);
	static const struct { uint64_t features; const char *rule; } bad[] = {
		{ VX_FEATURE(VIRTIO_NET_F_GUEST_ECN), "GUEST_ECN needs" },
		{ VX_FEATURE(VIRTIO_NET_F_GUEST_TSO4), "GUEST_TSO4 needs GUEST_CSUM" },
		{ VX_FEATURE(VIRTIO_NET_F_HOST_TSO6), "HOST_TSO6 needs CSUM" },
		{ VX_FEATURE(VIRTIO_NET_F_MQ), "MQ needs CTRL_VQ" },
	};
	unsigned int i;

	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("queues", "2", "mac", "00:16:3e:0a:0b:0c"));
	ck_assert_int_eq(vdev_probe(&vd, g, NIC_ID), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t f = base | bad[i].features |
			     (bad[i].features == VX_FEATURE(VIRTIO_NET_F_GUEST_ECN) ? csum : 0);

		ck_assert_int_eq(vdev_reset(&vd), 0);
		ck_assert_msg(vdev_negotiate(&vd, f) == -EINVAL, "%#llx accepted",
			      (unsigned long long)f);
		ck_assert(harness_log_wait(&host, bad[i].rule, PATIENCE_MS));
	}
	/* With what they need, the same features are accepted and the nic runs. */
	ck_assert_int_eq(vdev_reset(&vd), 0);
	ck_assert_int_eq(vdev_negotiate(&vd, base | csum | VX_FEATURE(VIRTIO_NET_F_GUEST_TSO4) |
					VX_FEATURE(VIRTIO_NET_F_GUEST_ECN)), 0);
	ck_assert_int_eq(vdev_reset(&vd), 0);
	ck_assert_int_eq(vdev_close(&vd), 0);
}
END_TEST

/* Waits for the backend state of the guest's device @devid to be @state. */
static bool closing(int state)
{
	return state == VX_STATE_CLOSING;
}

START_TEST(bridge_script_puts_the_nic_on_the_bridge)
{
	char script[256], bridge[16];

	snprintf(script, sizeof(script), "%s/vif-bridge", getenv("HOTPLUG_SRC"));
	ck_assert_int_eq(sh("ip link add vxbr0 type bridge && ip link set vxbr0 up"), 0);
	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("mac", "00:16:3e:0a:0b:0c", "script", script, "bridge", "vxbr0"));
	host_ip_dev = "vxbr0";
	guest_nic_up(all_features, 1);
	ck_assert_str_eq(master_of(HOST_IF, bridge), "vxbr0");
	ck_assert_int_eq(sh("ping -q -c 2 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	tcp_transfer(false, TRANSFER / 4, 1);
	guest_nic_down();

	/* A bridge that does not exist: the device fails, saying why. */
	attach_nic(1, KV("script", script, "bridge", "nosuchbr"));
	ck_assert(harness_log_wait(&host, "bridge nosuchbr does not exist", PATIENCE_MS));
	ck_assert(vx_ts_wait_backend(g->xs, 0, g->domid, 1, closing, PATIENCE_MS));
	ck_assert_msg(host_if_exists("vxif3.1", false), "the failed nic left its interface");
	ck_assert_int_eq(kill(host.daemon, 0), 0);
}
END_TEST

/*
 * What libxl (Xen 4.20, seen on the rig) writes for a guest config's
 * virtio = [ "type=<type>,transport=mmio" ] (protocol.md 1.6).
 */
static void xl_add_virtio(struct vx_guest *dom, uint32_t devid, const char *type)
{
	char fe[128], be[128], domid[16];
	const char *be_kv[] = {
		"frontend", fe, "frontend-id", domid, "online", "1", "state", "1",
		"irq", "0", "base", "0", "type", type, "transport", "mmio",
		"grant_usage", "0", NULL
	};
	const char *fe_kv[] = { "backend", be, "backend-id", "0", "state", "1", NULL };

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio/%u", dom->domid, devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio/%u/%u", dom->domid, devid);
	snprintf(domid, sizeof(domid), "%u", dom->domid);
	libxl_write_pair(dom->xs, dom->domid, fe, be, fe_kv, be_kv);
}

/*
 * libxl's destroy of a device of a type it knows: the frontend goes,
 * Closing and offline, in one transaction; it then waits for Closed and
 * removes the backend directory itself.  True once the backend said Closed
 * and left the directory to libxl.
 */
static bool xl_destroy_virtio(struct vx_guest *dom, uint32_t devid)
{
	char be[128], fe[128], key[160];

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio/%u/%u", dom->domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio/%u", dom->domid, devid);
	libxl_remove_pair(dom->xs, be, fe);
	snprintf(key, sizeof(key), "%s/state", be);
	return xs_wait_value(dom->xs, key, "6") && xs_rm(dom->xs, XBT_NULL, be);
}

/* The address a nic's backend publishes in its config space, as text. */
static void published_mac(uint32_t domid, uint32_t devid, char text[18])
{
	char path[128], *s = NULL;
	uint8_t cfg[VX_MAX_CONFIG_LEN];
	size_t n = 0;

	snprintf(path, sizeof(path), "/local/domain/0/backend/virtio/%u/%u/config", domid, devid);
	for (int ms = 0; ms < PATIENCE_MS && !s; ms += 10) {
		s = xs_read(g->xs, XBT_NULL, path, NULL);
		if (!s)
			usleep(10000);
	}
	ck_assert_msg(s && vx_parse_hexbytes(s, strlen(s), cfg, sizeof(cfg), &n) && n >= 6,
		      "no config space at %s", path);
	free(s);
	snprintf(text, 18, "%02x:%02x:%02x:%02x:%02x:%02x", cfg[0], cfg[1], cfg[2], cfg[3],
		 cfg[4], cfg[5]);
}

/* Waits for @key of the backend of @domid's virtio device @devid to contain @want. */
static bool backend_key_has(uint32_t domid, uint32_t devid, const char *key,
			   const char *want)
{
	char path[160], *s;
	bool same = false;

	snprintf(path, sizeof(path), "/local/domain/0/backend/virtio/%u/%u/%s", domid, devid,
		 key);
	for (int ms = 0; ms < PATIENCE_MS && !same; ms += 10) {
		s = xs_read(g->xs, XBT_NULL, path, NULL);
		same = s && strstr(s, want);
		free(s);
		if (!same)
			usleep(10000);
	}
	return same;
}

/*
 * Xen 4.18+'s own syntax, virtio = [ "type=virtio,device1" ], as plain
 * xl create writes it: a nic on the daemon's bridge with an address stable
 * for the VM (a rebooted or restored guest keeps it), ping and TCP; libxl's
 * destroy finds it Closed and removes it; other device types are refused
 * with the reason, and a refused device closes at destroy too.
 */
START_TEST(xl_virtio_nic_is_served_with_the_daemons_defaults)
{
	char opts[400], out[4096], mac[18], mac_again[18], mac_other[18], bridge[16];
	struct vx_guest *same_vm, *other_vm;

	ck_assert_int_eq(sh("ip link add vxbr0 type bridge && ip link set vxbr0 up"), 0);
	harness_stop_daemon(&host, SIGTERM);
	snprintf(opts, sizeof(opts), "--bridge=vxbr0 --script=%s/vif-bridge", getenv("HOTPLUG_SRC"));
	host.daemon_opt = opts;
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	ck_assert(xs_write(g->xs, XBT_NULL, "/local/domain/3/vm", "/vm/4a9afec4", 12));

	xl_add_virtio(g, NIC_ID, "virtio,device1");
	host_ip_dev = "vxbr0";
	guest_nic_up(all_features, 1);
	ck_assert_str_eq(master_of(HOST_IF, bridge), "vxbr0");
	published_mac(GUEST_DOMID, NIC_ID, mac);
	ck_assert_msg(!strncmp(mac, "00:16:3e:", 9), "mac %s is not in Xen's OUI", mac);
	ck_assert_int_eq(sh("ping -q -c 2 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	tcp_transfer(true, TRANSFER / 4, 1);
	tcp_transfer(false, TRANSFER / 4, 1);
	ck_assert_int_eq(tool(out, sizeof(out), "list"), 0);
	ck_assert_msg(strstr(out, "net") && strstr(out, mac) && strstr(out, "(xl's virtio nic)") &&
		      strstr(out, "connected     connected"), "list: %s", out);

	/* The guest destroyed (xl destroy, the end of a save or a reboot). */
	vnet_stop(&vn);
	vdev_abandon(&vd);
	ck_assert_int_eq(vnet_free(&vn), 0);
	ck_assert(xl_destroy_virtio(g, NIC_ID));
	ck_assert_msg(host_if_exists(HOST_IF, false), "the destroyed guest's interface stayed");
	ck_assert(harness_log_wait(&host, "d3 virtio/0: released", PATIENCE_MS));

	/* The same VM again (xl reboot, xl restore) gets the same address. */
	same_vm = guest_create(host.sim_dir, 4, 0, 4096);
	other_vm = guest_create(host.sim_dir, 5, 0, 4096);
	ck_assert(same_vm && other_vm);
	ck_assert(xs_write(g->xs, XBT_NULL, "/local/domain/4/vm", "/vm/4a9afec4", 12));
	ck_assert(xs_write(g->xs, XBT_NULL, "/local/domain/5/vm", "/vm/0b7d2c11", 12));
	xl_add_virtio(same_vm, NIC_ID, "virtio,device1");
	xl_add_virtio(other_vm, NIC_ID, "virtio,device1");
	published_mac(4, NIC_ID, mac_again);
	published_mac(5, NIC_ID, mac_other);
	ck_assert_str_eq(mac_again, mac);
	ck_assert_str_ne(mac_other, mac);
	ck_assert(xl_destroy_virtio(same_vm, NIC_ID));
	ck_assert(xl_destroy_virtio(other_vm, NIC_ID));

	/* Types we do not serve: refused, saying what to use; closed at destroy. */
	xl_add_virtio(g, 1, "virtio,device2");
	ck_assert(backend_key_has(GUEST_DOMID, 1, "error", "specification=virtio,backendtype=standalone"));
	ck_assert(backend_key_has(GUEST_DOMID, 1, "state", "5"));
	xl_add_virtio(g, 2, "virtio,device");
	ck_assert(backend_key_has(GUEST_DOMID, 2, "error", "names no virtio device"));
	xl_add_virtio(g, 3, "virtio,device22");
	ck_assert(backend_key_has(GUEST_DOMID, 3, "error", "virtio,device22 is not served"));
	ck_assert(xl_destroy_virtio(g, 1));
	ck_assert(xl_destroy_virtio(g, 2));
	ck_assert(xl_destroy_virtio(g, 3));
	ck_assert_int_eq(kill(host.daemon, 0), 0);
	guest_destroy(same_vm);
	guest_destroy(other_vm);
}
END_TEST

START_TEST(tool_attaches_lists_and_detaches_nics)
{
	char out[2048], spec[400], *at;
	unsigned long long dropped;

	ck_assert_int_eq(sh("ip link add vxbr0 type bridge && ip link set vxbr0 up"), 0);
	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	ck_assert(xs_write(g->xs, XBT_NULL, "/local/domain/3/name", "web", 3));
	snprintf(spec, sizeof(spec), "mac=00:16:3e:0a:0b:0c,bridge=vxbr0,queues=2,mtu=4000,script=%s/vif-bridge",
		 getenv("HOTPLUG_SRC"));

	ck_assert_int_eq(tool(out, sizeof(out), "nic-attach web %s", spec), 0);
	ck_assert_str_eq(out, "0\n");
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "mtu"), 4000);
	ck_assert_int_eq(tool(out, sizeof(out), "list web"), 0);
	ck_assert_msg(strstr(out, "net") && strstr(out, "mac 00:16:3e:0a:0b:0c bridge vxbr0"),
		      "list: %s", out);

	/* The same address twice, a missing bridge, a script that fails: refused. */
	ck_assert_int_eq(tool(out, sizeof(out), "nic-attach web %s", spec), 1);
	ck_assert_msg(strstr(out, "mac 00:16:3e:0a:0b:0c is already used"), "%s", out);
	ck_assert_int_eq(tool(out, sizeof(out), "nic-attach web bridge=nosuchbr"), 1);
	ck_assert_msg(strstr(out, "bridge nosuchbr does not exist"), "%s", out);
	ck_assert_int_eq(tool(out, sizeof(out), "nic-attach web script=/bin/false"), 1);
	ck_assert_msg(strstr(out, "refused the device"), "%s", out);
	ck_assert_int_eq(tool(out, sizeof(out), "nic-attach nosuchguest bridge=vxbr0"), 1);
	ck_assert_msg(strstr(out, "no domain named 'nosuchguest'"), "%s", out);

	/*
	 * A driver that posts no receive buffer: what the host sends it
	 * overflows the TAP's queue, and list says how much the host dropped.
	 */
	ck_assert_int_eq(vdev_connect(&vd, g, NIC_ID, 5, all_features), 0);
	host_send_probes((const uint8_t[]){ 0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c }, 3000, -1);
	ck_assert_int_eq(tool(out, sizeof(out), "list web"), 0);
	at = strstr(out, "TAP: ");
	ck_assert_msg(at && sscanf(at, "TAP: %llu dropped toward the guest", &dropped) == 1,
		      "no TAP line: %s", out);
	ck_assert_msg(dropped >= 3000 - sysfs_u64(HOST_IF, "tx_queue_len"),
		      "3000 frames for a guest without buffers, %llu dropped: %s", dropped, out);

	/* A forced detach releases a connected nic and its interface at once. */
	ck_assert_int_eq(tool(out, sizeof(out), "nic-detach -f web 00:16:3e:0a:0b:0c"), 0);
	ck_assert_msg(host_if_exists(HOST_IF, false), "the interface outlived the detach");
	ck_assert_int_eq(tool(out, sizeof(out), "list web"), 0);
	ck_assert_ptr_null(strstr(out, "net"));
	ck_assert_int_eq(tool(out, sizeof(out), "nic-detach web 00:16:3e:0a:0b:0c"), 1);
	ck_assert_msg(strstr(out, "has no virtio device"), "%s", out);
	ck_assert_int_eq(kill(host.daemon, 0), 0);
}
END_TEST

/* The status field of the config space the backend publishes now, and its generation. */
static uint16_t published_status(uint32_t *generation)
{
	/* The generation first: the config read after it is at least that new. */
	char *gen = vdev_read_backend(&vd, "config-generation");
	char *cfg = vdev_read_backend(&vd, "config");
	uint16_t status;

	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_nonnull(gen);
	/* mac (12 hex digits), then status, little-endian. */
	ck_assert_uint_ge(strlen(cfg), 16);
	status = strtoul((char[]){ cfg[12], cfg[13], 0 }, NULL, 16) |
		 strtoul((char[]){ cfg[14], cfg[15], 0 }, NULL, 16) << 8;
	*generation = strtoul(gen, NULL, 10);
	free(cfg);
	free(gen);
	return status;
}

static bool published_link_up(uint32_t *generation)
{
	return published_status(generation) & VIRTIO_NET_S_LINK_UP;
}

/* Waits for a generation past @after whose status has @bit as @set. */
static uint32_t wait_status_bit(uint32_t after, uint16_t bit, bool set)
{
	uint32_t gen = 0;
	uint16_t status = 0;

	for (int ms = 0; ms < PATIENCE_MS; ms += 10) {
		status = published_status(&gen);
		if (gen > after && !!(status & bit) == set)
			return gen;
		usleep(10000);
	}
	ck_abort_msg("status %#x at generation %u: bit %#x never %s after generation %u",
		     status, gen, bit, set ? "set" : "clear", after);
	return gen;
}

START_TEST(link_key_is_a_cable_the_guest_sees)
{
	char path[160];
	uint32_t gen0, gen, down;

	new_nic("1", all_features, 1);
	snprintf(path, sizeof(path), "%s/link", vd.be);
	ck_assert(published_link_up(&gen0));
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "carrier"), 1);

	ck_assert(xs_write(g->xs, XBT_NULL, path, "down", 4));
	/*
	 * A new generation: the frontend's watch fires.  Past the one read,
	 * not the next: on a loaded machine a generation of the connect may
	 * land after it.
	 */
	down = wait_status_bit(gen0, VIRTIO_NET_S_LINK_UP, false);
	ck_assert(harness_log_wait(&host, "link down", 0));
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "carrier"), 0);
	ck_assert_int_ne(sh("ping -q -c 1 -W 1 %s >/dev/null 2>&1", GUEST_IP), 0);

	/* A value that means nothing changes nothing. */
	ck_assert(xs_write(g->xs, XBT_NULL, path, "sideways", 8));
	usleep(200 * 1000);
	ck_assert(!published_link_up(&gen));
	ck_assert_uint_eq(gen, down);

	/* As the administrator does it. */
	ck_assert(xs_write(g->xs, XBT_NULL, "/local/domain/3/name", "web", 3));
	ck_assert_int_eq(tool(NULL, 0, "nic-link web 00:16:3e:0a:0b:0c up"), 0);
	wait_status_bit(down, VIRTIO_NET_S_LINK_UP, true);
	ck_assert(harness_log_wait(&host, "link up", 0));
	ck_assert_uint_eq(sysfs_u64(HOST_IF, "carrier"), 1);
	ck_assert_int_eq(sh("ping -q -c 2 -i 0.2 -W 3 %s >/dev/null", GUEST_IP), 0);
	guest_nic_down();
}
END_TEST

struct transfer_job {
	size_t bytes;
	int ret;
	bool done;
	char why[256];
};

static void *transfer_to_guest(void *arg)
{
	struct transfer_job *job = arg;

	job->ret = tcp_check_transfer(guest_ns_path, GUEST_IP, true, job->bytes, 1,
				      job->why, sizeof(job->why));
	__atomic_store_n(&job->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * protocol.md 2.5 for a nic on a bridge, as an administrator runs it: the
 * daemon is killed in the middle of a TCP transfer and started again.  The
 * driver never resets; the transfer completes intact; the new TAP is back
 * on the bridge; the driver's settings (two of four pairs active,
 * promiscuous mode off) hold; the device asks the guest to announce itself.
 */
START_TEST(daemon_killed_mid_transfer_resumes_the_nic)
{
	static const uint8_t stranger[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
	char script[256], bridge[16];
	struct transfer_job job = { .bytes = 32 * TRANSFER, .ret = -1 };
	uint16_t pairs = htole16(2);
	uint64_t before[4];
	uint32_t gen0, gen;
	uint8_t off = 0;
	pthread_t t;
	unsigned int i;

	snprintf(script, sizeof(script), "%s/vif-bridge", getenv("HOTPLUG_SRC"));
	ck_assert_int_eq(sh("ip link add vxbr0 type bridge && ip link set vxbr0 up"), 0);
	g = guest_create(host.sim_dir, GUEST_DOMID, 0, 65536);
	ck_assert_ptr_nonnull(g);
	attach_nic(NIC_ID, KV("mac", "00:16:3e:0a:0b:0c", "queues", "4", "script", script,
			      "bridge", "vxbr0"));
	host_ip_dev = "vxbr0";
	guest_nic_up(all_features, 4);
	ck_assert(vd.driver_features & (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE));
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
				   &pairs, 2), VIRTIO_NET_OK);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				   &off, 1), VIRTIO_NET_OK);
	/* A new TAP at the first connect too: the driver announces, the bit goes. */
	gen0 = wait_status_bit(0, VIRTIO_NET_S_ANNOUNCE, true);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
				   NULL, 0), VIRTIO_NET_OK);
	gen0 = wait_status_bit(gen0, VIRTIO_NET_S_ANNOUNCE, false);
	ck_assert(harness_log_wait(&host, "the guest announced itself", 0));

	/* 1 GiB: still going when the daemon dies. */
	ck_assert_int_eq(pthread_create(&t, NULL, transfer_to_guest, &job), 0);
	usleep(200 * 1000);
	harness_stop_daemon(&host, SIGKILL);
	ck_assert_msg(!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE),
		      "the transfer ended before the kill");
	ck_assert_int_eq(harness_start_daemon(&host), 0);
	ck_assert(harness_log_wait(&host, "d3 virtio/0: resumed: 9 queue(s)", PATIENCE_MS));
	pthread_join(t, NULL);
	ck_assert_msg(job.ret == 0, "the transfer across the restart: %s", job.why);

	ck_assert_int_eq(vdev_read_status(&vd) & VX_S_NEEDS_RESET, 0);
	ck_assert_str_eq(master_of(HOST_IF, bridge), "vxbr0");

	/* Announce, as Linux's virtio_net answers a config change with ANNOUNCE. */
	gen = wait_status_bit(gen0, VIRTIO_NET_S_ANNOUNCE, true);
	ck_assert_int_eq(vnet_ctrl(&vn, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
				   NULL, 0), VIRTIO_NET_OK);
	wait_status_bit(gen, VIRTIO_NET_S_ANNOUNCE, false);
	ck_assert(published_status(&gen) & VIRTIO_NET_S_LINK_UP);
	ck_assert_int_eq(harness_log_count(&host, "the guest announced itself"), 2);

	/* The driver's settings. */
	ck_assert_uint_eq(probes_received(stranger, 5), 0);
	ck_assert_uint_eq(probes_received(config_mac(), 5), 5);
	for (i = 0; i < 4; i++)
		before[i] = rx_frames(i);
	tcp_transfer(true, 2 * TRANSFER, 16);
	ck_assert_uint_gt(rx_frames(0), before[0]);
	ck_assert_uint_gt(rx_frames(1), before[1]);
	ck_assert_uint_eq(rx_frames(2), before[2]);
	ck_assert_uint_eq(rx_frames(3), before[3]);
	tcp_transfer(false, TRANSFER / 4, 2);
	guest_nic_down();
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		nic_has_its_mac_mtu_and_interface,
		ping_and_tcp_both_ways_with_offloads,
		tcp_both_ways_without_offloads,
		frames_spanning_indirect_receive_chains_keep_every_byte,
		frames_through_the_grant_pool_keep_every_byte,
		frames_half_in_the_grant_pool_keep_every_byte,
		big_receive_buffers_in_the_grant_pool_keep_every_byte,
		multiqueue_spreads_flows_and_mq_command_narrows,
		receive_filter_follows_promiscuous_mode_mac_table_and_vlans,
		hostile_frames_fail_only_that_device_and_reset_recovers,
		bridge_script_puts_the_nic_on_the_bridge,
		xl_virtio_nic_is_served_with_the_daemons_defaults,
		tool_attaches_lists_and_detaches_nics,
		link_key_is_a_cable_the_guest_sees,
		daemon_killed_mid_transfer_resumes_the_nic,
		broken_receive_ring_is_not_served_again,
		features_that_need_others_are_refused,
	};

	return RUN_TESTS("net", tests, net_up, net_down, TEST_TIMEOUT_S);
}
