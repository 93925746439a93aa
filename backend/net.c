// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net over a TAP interface (protocol.md 6).
 *
 * The TAP is opened with IFF_VNET_HDR, so the virtio-net header passes
 * through in both directions and the host kernel does the checksum and
 * segmentation work the guest left (and takes GSO frames the guest can
 * receive).  With several queue pairs it is IFF_MULTI_QUEUE, one TAP queue a
 * pair; the pairs the driver does not use are detached, so the kernel steers
 * no flow to them.
 *
 * Queues: receiveq N is 2N, transmitq N is 2N + 1, the controlq follows the
 * pairs in use (virtio 1.2, 5.1.2).  A receive queue is filled by the device:
 * its thread reads the TAP when the guest has posted buffers and stops
 * reading when it has none, so frames wait in the TAP's queue, never dropped
 * by us; small frames coming fast are read RX_BATCH an io_uring call, the
 * others one a readv straight into the pool.  Control chains complete in handle_chain; transmit chains in the
 * pool go to the TAP through io_uring, TX_BATCH writes a system call (the
 * TAP is non-blocking: each runs within it), and complete when it returns.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "device.h"
#include "log.h"
#include "sysfs.h"
#include "xsvalue.h"

#define NET_HDR_LEN	sizeof(struct virtio_net_hdr_mrg_rxbuf)	/* VERSION_1 */
#define NET_VLAN_HLEN	4
/* The largest frame a TAP hands us with GSO, and a guest may send. */
#define NET_MAX_FRAME	(ETH_HLEN + NET_VLAN_HLEN + 65535)
#define NET_RX_BUDGET	64		/* frames before used entries are published */
#define NET_CTRL_MAX	8192		/* bytes of one control command */
#define NET_SCRIPT_TIMEOUT_MS	30000
/* How long a pairs change waits for a receive thread of ours, at most. */
#define NET_PAIRS_OFF_MS	10000
#define NET_MAX_PAIRS	VX_MAX_REQUEST_QUEUES
#define NET_IOV_MAX	1024		/* UIO_MAXIOV: pieces of one readv or writev */
#define TX_BATCH	32		/* frames written a system call */
#define RX_BATCH	16		/* small frames read a system call */
#define RX_SMALL	2048		/* bytes of a small frame, header included */
/* One read's room, each buffer aligned as the header in it must be. */
#define RX_BUF		((NET_HDR_LEN + NET_MAX_FRAME + 63) & ~(size_t)63)
/* A frame batched: its header, its linear part and MAX_SKB_FRAGS pieces. */
#define TX_SLOT_IOV	20

struct net_pair {
	int tap_fd;
	bool attached;			/* an active TAP queue */
	int wake_fd;			/* eventfd: the receive thread re-checks */
	unsigned int rx_seen;		/* pairs_epoch its receive thread acts on (atomic) */
};

/* Receive filtering (the controlq's RX, MAC and VLAN classes). */
struct net_filter {
	bool promisc;
	bool allmulti;
	uint8_t (*uni)[ETH_ALEN];
	uint32_t n_uni;
	uint8_t (*multi)[ETH_ALEN];
	uint32_t n_multi;
	uint32_t vlans[4096 / 32];	/* VLAN ids the guest takes, when filtering */
};

struct net_nic {
	char ifname[IFNAMSIZ];
	char *script;			/* hotplug script, or NULL */
	char *bridge;			/* the script's environment */
	char *ip;
	uint8_t mac[ETH_ALEN];
	uint16_t mtu;
	unsigned int pairs;		/* offered: the toolstack's `queues` */
	struct net_pair pair[NET_MAX_PAIRS];
	unsigned int active_pairs;	/* VIRTIO_NET_CTRL_MQ */
	unsigned int pairs_epoch;	/* bumped after active_pairs changes (atomic) */
	bool link_up;			/* the toolstack's `link` key */
	bool driver_running;		/* between DRIVER_OK and reset */
	bool announce;			/* VIRTIO_NET_S_ANNOUNCE until the driver acks */
	bool tap_unknown;		/* no driver has run on our TAP yet */

	pthread_mutex_t lock;		/* filter, for the receive threads */
	struct net_filter filter;
};

/*
 * The driver's control settings, kept in the device's record (record.c), so
 * that a restarted daemon gives the guest the same filter, address and pairs.
 */
struct net_saved {
	uint8_t promisc, allmulti;
	uint16_t active_pairs;
	uint8_t mac[ETH_ALEN];
	uint8_t pad[2];
	uint32_t vlans[4096 / 32];
	uint32_t table_len;
	uint8_t table[NET_CTRL_MAX];	/* the MAC tables, as TABLE_SET sends them */
};

enum net_role { NET_RX, NET_TX, NET_CTRL };

/*
 * Receive chains taken for reads straight into the pool (rx_direct), in the
 * order taken, each with its pieces in @iov.  The chains a frame did not
 * fill stay for the next frame, so a small frame costs one chain, not the
 * forty a 64 KiB frame needs.  The stash starts at @first of its arrays and
 * @iov_first of the queue's iov, moved back to 0 only when it reaches their
 * end: a frame does not shift forty entries of each.
 */
struct rx_stash {
	unsigned int first, n;		/* chains */
	uint16_t *heads;
	uint32_t *lens;			/* writable bytes of each */
	uint16_t *niov;			/* pieces of each */
	unsigned int iov_first, iov_used;
	uint64_t bytes;
};

/* A transmit chain whose write is queued in the ring; kept until it returns. */
struct tx_slot {
	struct virtio_net_hdr_mrg_rxbuf hdr;	/* what we checked is what is sent */
	uint16_t head;
	uint32_t frame_len;
	struct iovec iov[TX_SLOT_IOV];
};

struct net_queue {
	enum net_role role;
	unsigned int pair;
	int ep;				/* receive: TAP queue and wake_fd */
	bool tap_armed;
	uint8_t *frame;			/* header + frame, NET_HDR_LEN + NET_MAX_FRAME */
	uint8_t *cur;			/* receive: frame, or a frame of batch */
	size_t frame_len;		/* cur's frame, read and not yet delivered */
	uint16_t *heads;		/* receive: the chains of one frame */
	uint32_t *lens;
	struct iovec *iov;		/* NET_IOV_MAX: pieces in the pool */
	struct rx_stash stash;
	/* receive: frames read RX_BATCH a call, while they come small */
	unsigned int small;		/* small frames in a row */
	bool batching;			/* io_uring works: batches may be read */
	uint8_t *batch;			/* RX_BATCH buffers of RX_BUF bytes */
	uint8_t batch_buf[RX_BATCH];	/* in the order read: each frame's buffer */
	uint32_t batch_len[RX_BATCH];
	unsigned int batch_n, batch_next;
	/* io_uring (ring_ok), for the batches of either direction */
	struct io_uring ring;
	bool ring_ok;
	/* transmit: */
	struct tx_slot *slots;		/* queue size of them */
	uint16_t *free_slots;
	unsigned int nr_free;
	unsigned int queued;		/* writes not submitted yet */
};

static struct net_nic *nic_of(struct vx_device *dev)
{
	return dev->model_priv;
}

/* ---- the TAP interface ---- */

static int tap_open(struct vx_device *dev, struct net_nic *nic, bool multi)
{
	struct ifreq ifr;
	int fd, sz = NET_HDR_LEN, le = 1;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		dev_err(dev, "cannot open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (multi)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	strcpy(ifr.ifr_name, nic->ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		dev_err(dev, "cannot create TAP %s: %s", nic->ifname, strerror(errno));
		goto err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) || ioctl(fd, TUNSETVNETLE, &le)) {
		dev_err(dev, "TAP %s: cannot set its virtio-net header: %s",
			nic->ifname, strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/* Address, MTU and up, through an ordinary socket's interface ioctls. */
static int tap_configure(struct vx_device *dev, struct net_nic *nic)
{
	/* As netback does: never chosen as a bridge's address. */
	static const uint8_t host_mac[ETH_ALEN] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, nic->ifname);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, host_mac, ETH_ALEN);
	if (ioctl(s, SIOCSIFHWADDR, &ifr))
		goto err;
	ifr.ifr_mtu = nic->mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr))
		goto err;
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		goto err;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		goto err;
	close(s);
	return 0;
err:
	dev_err(dev, "cannot configure %s: %s", nic->ifname, strerror(errno));
	close(s);
	return -1;
}

static void tap_attach(struct vx_device *dev, struct net_nic *nic,
		       unsigned int i, bool attach)
{
	struct ifreq ifr;

	if (nic->pairs == 1 || nic->pair[i].attached == attach)
		return;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(nic->pair[i].tap_fd, TUNSETQUEUE, &ifr)) {
		dev_err(dev, "TAP %s: cannot %s queue %u: %s", nic->ifname,
			attach ? "attach" : "detach", i, strerror(errno));
		return;
	}
	nic->pair[i].attached = attach;
}

/* The host sees a carrier while a driver runs and the link is up. */
static void set_carrier(struct net_nic *nic)
{
	int on = nic->driver_running && __atomic_load_n(&nic->link_up, __ATOMIC_RELAXED);

	ioctl(nic->pair[0].tap_fd, TUNSETCARRIER, &on);
}

/* The pairs the driver uses; the receive threads re-check their TAP queue. */
static void set_active_pairs(struct vx_device *dev, struct net_nic *nic,
			     unsigned int n)
{
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < nic->pairs; i++)
		tap_attach(dev, nic, i, i < n);
	__atomic_store_n(&nic->active_pairs, n, __ATOMIC_RELEASE);
	__atomic_add_fetch(&nic->pairs_epoch, 1, __ATOMIC_RELEASE);
	for (i = 0; i < nic->pairs; i++)
		if (write(nic->pair[i].wake_fd, &one, sizeof(one)) < 0)
			dev_err(dev, "cannot wake receive queue %u", i);
}

/* The TAP filter: what the host side may hand the guest (tun.c run_filter). */
static void apply_filter(struct vx_device *dev, struct net_nic *nic)
{
	struct net_filter *f = &nic->filter;
	static const uint8_t bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct tun_filter *tf;
	uint32_t n = 0;

	tf = calloc(1, sizeof(*tf) + (2 + f->n_uni + f->n_multi) * ETH_ALEN);
	if (!tf) {
		dev_err(dev, "out of memory for the receive filter");
		return;
	}
	if (!f->promisc) {
		/* Unicast first: the kernel matches the first 8 exactly. */
		memcpy(tf->addr[n++], nic->mac, ETH_ALEN);
		if (f->n_uni)
			memcpy(tf->addr[n], f->uni, (size_t)f->n_uni * ETH_ALEN);
		n += f->n_uni;
		memcpy(tf->addr[n++], bcast, ETH_ALEN);
		if (f->n_multi)
			memcpy(tf->addr[n], f->multi, (size_t)f->n_multi * ETH_ALEN);
		n += f->n_multi;
		if (f->allmulti)
			tf->flags = TUN_FLT_ALLMULTI;
	}
	tf->count = n;
	if (ioctl(nic->pair[0].tap_fd, TUNSETTXFILTER, tf) < 0)
		dev_err(dev, "TAP %s: cannot set the receive filter: %s",
			nic->ifname, strerror(errno));
	free(tf);
}

/*
 * Runs the toolstack's hotplug script as Xen's vif scripts are run:
 * `script online|offline` with vif, XENBUS_PATH, bridge and ip in the
 * environment.  Bounded: a script that hangs is killed.
 */
static int run_script(struct vx_device *dev, struct net_nic *nic,
		      const char *action)
{
	char env_vif[32], env_path[160], env_bridge[96], env_ip[256];
	char *const envp[] = { env_vif, env_path, env_bridge, env_ip,
			       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			       NULL };
	int status, waited;
	pid_t pid;

	if (!nic->script)
		return 0;
	snprintf(env_vif, sizeof(env_vif), "vif=%s", nic->ifname);
	snprintf(env_path, sizeof(env_path), "XENBUS_PATH=%s", dev->be_path);
	snprintf(env_bridge, sizeof(env_bridge), "bridge=%s",
		 nic->bridge ? nic->bridge : "");
	snprintf(env_ip, sizeof(env_ip), "ip=%s", nic->ip ? nic->ip : "");
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execle(nic->script, nic->script, action, (char *)NULL, envp);
		_exit(127);
	}
	for (waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
		if (waited >= NET_SCRIPT_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			dev_err(dev, "hotplug script %s %s: killed after %d s",
				nic->script, action, NET_SCRIPT_TIMEOUT_MS / 1000);
			return -1;
		}
		poll(NULL, 0, 10);
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	dev_err(dev, "hotplug script %s %s failed (status 0x%x)", nic->script,
		action, status);
	return -1;
}

/* ---- configuration ---- */

static bool parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char end;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != ETH_ALEN || strlen(s) != 17)
		return false;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = b[i];
	/* A guest's own address is unicast. */
	return !(mac[0] & 1);
}

/* Stable for the guest and device: from its VM path (its uuid) and id. */
static void generate_mac(struct vx_device *dev, uint8_t mac[ETH_ALEN])
{
	char path[64], *vm;
	uint32_t h = 2166136261u;	/* FNV-1a */
	unsigned int len = 0, i;

	snprintf(path, sizeof(path), "/local/domain/%u/vm", dev->guest);
	vm = xs_read(dev->daemon->xs, XBT_NULL, path, &len);
	for (i = 0; vm && i < len; i++)
		h = (h ^ (uint8_t)vm[i]) * 16777619u;
	h = (h ^ dev->id) * 16777619u;
	if (!vm)
		h = (h ^ dev->guest) * 16777619u;
	free(vm);
	mac[0] = 0x00;		/* the Xen OUI, as libxl generates */
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = (h >> 16) & 0x7f;
	mac[4] = h >> 8;
	mac[5] = h;
}

/* The toolstack's `link` key: up (or absent) or down, as a cable. */
static int net_read_link(struct vx_device *dev, bool *up, bool quiet)
{
	char *s = backend_read(dev, "link");
	int ret = 0;

	if (!s || !strcmp(s, "up"))
		*up = true;
	else if (!strcmp(s, "down"))
		*up = false;
	else
		ret = -1;
	if (ret && !quiet)
		dev_err(dev, "link must be up or down, not '%s'", s);
	free(s);
	return ret;
}

/*
 * An absolute path, or a bare name of the scripts installed with us.
 * Without the key, the daemon's --script; libxl writes none for a
 * virtio = [ ... ] nic, which goes on a bridge as xl's vifs do by default
 * (protocol.md 1.6).
 */
static int net_read_script(struct vx_device *dev, struct net_nic *nic)
{
	char *s = backend_read(dev, "script");
	int ret = 0;

	if (!s && dev->daemon->script[0])
		s = strdup(dev->daemon->script);
	else if (!s && dev->from_libxl)
		s = strdup("vif-bridge");
	if (!s || !*s) {
		free(s);
		return 0;
	}
	if (s[0] == '/') {
		nic->script = s;
		return 0;
	}
	if (strchr(s, '/') || !strcmp(s, "..") ||
	    asprintf(&nic->script, "%s/%s", HOTPLUG_DIR, s) < 0) {
		dev_err(dev, "script must be an absolute path or a name in %s, not '%s'",
			HOTPLUG_DIR, s);
		nic->script = NULL;
		ret = -1;
	}
	free(s);
	return ret;
}

static int net_read_keys(struct vx_device *dev, struct net_nic *nic)
{
	char *mac = backend_read(dev, "mac");
	char *mtu = backend_read(dev, "mtu");
	char *name = backend_read(dev, "vifname");
	int ret = -1;
	char *end;
	long v;

	if (mac && !parse_mac(mac, nic->mac)) {
		dev_err(dev, "mac must be a unicast xx:xx:xx:xx:xx:xx, not '%s'", mac);
		goto out;
	}
	if (!mac)
		generate_mac(dev, nic->mac);
	nic->mtu = ETH_DATA_LEN;
	if (mtu) {
		errno = 0;
		v = strtol(mtu, &end, 10);
		if (errno || end == mtu || *end || v < 68 || v > 65535) {
			dev_err(dev, "mtu must be 68 to 65535, not '%s'", mtu);
			goto out;
		}
		nic->mtu = v;
	}
	if (name) {
		if (!vx_valid_ifname(name)) {
			dev_err(dev, "vifname '%s' is not an interface name", name);
			goto out;
		}
		strcpy(nic->ifname, name);
	} else if (snprintf(nic->ifname, sizeof(nic->ifname), "vxif%u.%u",
			    dev->guest, dev->id) >= (int)sizeof(nic->ifname)) {
		dev_err(dev, "device id %u too long for an interface name: set vifname",
			dev->id);
		goto out;
	}
	if (net_read_link(dev, &nic->link_up, false))
		goto out;
	if (net_read_script(dev, nic))
		goto out;
	nic->bridge = backend_read(dev, "bridge");
	if (!nic->bridge && dev->daemon->bridge[0] &&
	    !(nic->bridge = strdup(dev->daemon->bridge)))
		goto out;
	nic->ip = backend_read(dev, "ip");
	ret = 0;
out:
	free(mac);
	free(mtu);
	free(name);
	return ret;
}

static uint16_t net_status(struct net_nic *nic)
{
	return (nic->link_up ? VIRTIO_NET_S_LINK_UP : 0) |
	       (__atomic_load_n(&nic->announce, __ATOMIC_ACQUIRE) ?
		VIRTIO_NET_S_ANNOUNCE : 0);
}

/* Puts net_status in the config space; true if that changed it. */
static bool net_update_status(struct vx_device *dev, struct net_nic *nic)
{
	size_t at = offsetof(struct virtio_net_config, status);
	uint16_t old, status = htole16(net_status(nic));

	memcpy(&old, dev->config + at, sizeof(old));
	memcpy(dev->config + at, &status, sizeof(status));
	return old != status;
}

static void net_fill_config(struct vx_device *dev, struct net_nic *nic)
{
	struct virtio_net_config cfg;
	size_t len = offsetof(struct virtio_net_config, mtu) + sizeof(cfg.mtu);

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, nic->mac, ETH_ALEN);
	cfg.status = htole16(net_status(nic));
	cfg.max_virtqueue_pairs = htole16(nic->pairs);
	cfg.mtu = htole16(nic->mtu);
	memcpy(dev->config, &cfg, len);
	dev->config_len = len;
}

static void nic_free(struct vx_device *dev, struct net_nic *nic)
{
	unsigned int i;

	for (i = 0; i < nic->pairs; i++) {
		if (nic->pair[i].tap_fd >= 0)
			close(nic->pair[i].tap_fd);
		if (nic->pair[i].wake_fd >= 0)
			close(nic->pair[i].wake_fd);
	}
	pthread_mutex_destroy(&nic->lock);
	free(nic->filter.uni);
	free(nic->filter.multi);
	free(nic->script);
	free(nic->bridge);
	free(nic->ip);
	free(nic);
}

static int net_open(struct vx_device *dev)
{
	struct net_nic *nic = calloc(1, sizeof(*nic));
	unsigned int i;

	if (!nic)
		return -1;
	pthread_mutex_init(&nic->lock, NULL);
	nic->pairs = dev->request_queues;
	for (i = 0; i < NET_MAX_PAIRS; i++)
		nic->pair[i].tap_fd = nic->pair[i].wake_fd = -1;
	if (net_read_keys(dev, nic))
		goto err;
	for (i = 0; i < nic->pairs; i++) {
		nic->pair[i].tap_fd = tap_open(dev, nic, nic->pairs > 1);
		nic->pair[i].attached = true;
		nic->pair[i].wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (nic->pair[i].tap_fd < 0 || nic->pair[i].wake_fd < 0)
			goto err;
	}
	if (tap_configure(dev, nic))
		goto err;
	nic->tap_unknown = true;
	/* Until a driver runs, the host sees no carrier and one queue. */
	set_carrier(nic);
	set_active_pairs(dev, nic, 1);
	if (run_script(dev, nic, "online"))
		goto err;

	dev->model_priv = nic;
	dev->features |= VX_FEATURE(VIRTIO_NET_F_CSUM) |
			 VX_FEATURE(VIRTIO_NET_F_GUEST_CSUM) |
			 VX_FEATURE(VIRTIO_NET_F_MTU) |
			 VX_FEATURE(VIRTIO_NET_F_MAC) |
			 VX_FEATURE(VIRTIO_NET_F_GUEST_TSO4) |
			 VX_FEATURE(VIRTIO_NET_F_GUEST_TSO6) |
			 VX_FEATURE(VIRTIO_NET_F_GUEST_ECN) |
			 VX_FEATURE(VIRTIO_NET_F_HOST_TSO4) |
			 VX_FEATURE(VIRTIO_NET_F_HOST_TSO6) |
			 VX_FEATURE(VIRTIO_NET_F_HOST_ECN) |
			 VX_FEATURE(VIRTIO_NET_F_MRG_RXBUF) |
			 VX_FEATURE(VIRTIO_NET_F_STATUS) |
			 VX_FEATURE(VIRTIO_NET_F_CTRL_VQ) |
			 VX_FEATURE(VIRTIO_NET_F_CTRL_RX) |
			 VX_FEATURE(VIRTIO_NET_F_CTRL_VLAN) |
			 VX_FEATURE(VIRTIO_NET_F_CTRL_MAC_ADDR) |
			 VX_FEATURE(VIRTIO_NET_F_GUEST_ANNOUNCE);
	if (nic->pairs > 1)
		dev->features |= VX_FEATURE(VIRTIO_NET_F_MQ);
	dev->max_queues = 2 * nic->pairs + 1;
	net_fill_config(dev, nic);
	dev_info(dev, "net: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u queue pair(s)%s%s",
		 nic->ifname, nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3],
		 nic->mac[4], nic->mac[5], nic->mtu, nic->pairs,
		 nic->bridge ? ", bridge " : "", nic->bridge ? nic->bridge : "");
	return 0;
err:
	nic_free(dev, nic);
	return -1;
}

static void net_close(struct vx_device *dev)
{
	struct net_nic *nic = nic_of(dev);

	if (!nic)
		return;
	run_script(dev, nic, "offline");
	nic_free(dev, nic);
	dev->model_priv = NULL;
}

/* ---- the record ---- */

static bool take_mac_table(const uint8_t **data, size_t *len,
			   uint8_t (**out)[ETH_ALEN], uint32_t *count);

static uint8_t *put_mac_table(uint8_t *p, const uint8_t (*macs)[ETH_ALEN],
			      uint32_t n)
{
	uint32_t le = htole32(n);

	memcpy(p, &le, sizeof(le));
	if (n)
		memcpy(p + sizeof(le), macs, (size_t)n * ETH_ALEN);
	return p + sizeof(le) + (size_t)n * ETH_ALEN;
}

/* After each accepted control command, with nic->lock held. */
static void net_save(struct vx_device *dev, struct net_nic *nic)
{
	struct net_saved *sv = dev->model_state;
	const struct net_filter *f = &nic->filter;
	uint8_t *end;

	if (!sv)
		return;
	sv->promisc = f->promisc;
	sv->allmulti = f->allmulti;
	sv->active_pairs = nic->active_pairs;
	memcpy(sv->mac, nic->mac, ETH_ALEN);
	memcpy(sv->vlans, f->vlans, sizeof(sv->vlans));
	/* The tables came in one command of at most NET_CTRL_MAX bytes. */
	end = put_mac_table(sv->table, f->uni, f->n_uni);
	end = put_mac_table(end, f->multi, f->n_multi);
	sv->table_len = end - sv->table;
}

/*
 * At resume: the previous daemon's settings; returns the active pairs.  A
 * record torn by a kill in the middle of net_save is not trusted further
 * than its checks: an unreadable table makes the device promiscuous.
 */
static unsigned int net_restore(struct vx_device *dev, struct net_nic *nic)
{
	const struct net_saved *sv = dev->model_state;
	struct net_filter *f = &nic->filter;
	const uint8_t *p = sv->table;
	size_t len = sv->table_len;

	f->promisc = sv->promisc;
	f->allmulti = sv->allmulti;
	memcpy(f->vlans, sv->vlans, sizeof(f->vlans));
	if (!(sv->mac[0] & 1))
		memcpy(nic->mac, sv->mac, ETH_ALEN);
	if (len > sizeof(sv->table) ||
	    !take_mac_table(&p, &len, &f->uni, &f->n_uni) ||
	    !take_mac_table(&p, &len, &f->multi, &f->n_multi) || len)
		f->promisc = true;
	if (sv->active_pairs >= 1 && sv->active_pairs <= nic->pairs)
		return sv->active_pairs;
	return nic->pairs;
}

/* ---- queues ---- */

/*
 * virtio 1.2, 5.1.3.1: a feature the driver MUST NOT accept without one of
 * @needs_any.
 */
static const struct {
	unsigned int bit;
	uint64_t needs_any;
	const char *rule;
} feature_rules[] = {
	{ VIRTIO_NET_F_GUEST_TSO4, VX_FEATURE(VIRTIO_NET_F_GUEST_CSUM),
	  "GUEST_TSO4 needs GUEST_CSUM" },
	{ VIRTIO_NET_F_GUEST_TSO6, VX_FEATURE(VIRTIO_NET_F_GUEST_CSUM),
	  "GUEST_TSO6 needs GUEST_CSUM" },
	{ VIRTIO_NET_F_GUEST_ECN, VX_FEATURE(VIRTIO_NET_F_GUEST_TSO4) |
				  VX_FEATURE(VIRTIO_NET_F_GUEST_TSO6),
	  "GUEST_ECN needs GUEST_TSO4 or GUEST_TSO6" },
	{ VIRTIO_NET_F_HOST_TSO4, VX_FEATURE(VIRTIO_NET_F_CSUM),
	  "HOST_TSO4 needs CSUM" },
	{ VIRTIO_NET_F_HOST_TSO6, VX_FEATURE(VIRTIO_NET_F_CSUM),
	  "HOST_TSO6 needs CSUM" },
	{ VIRTIO_NET_F_HOST_ECN, VX_FEATURE(VIRTIO_NET_F_HOST_TSO4) |
				 VX_FEATURE(VIRTIO_NET_F_HOST_TSO6),
	  "HOST_ECN needs HOST_TSO4 or HOST_TSO6" },
	{ VIRTIO_NET_F_CTRL_RX, VX_FEATURE(VIRTIO_NET_F_CTRL_VQ),
	  "CTRL_RX needs CTRL_VQ" },
	{ VIRTIO_NET_F_CTRL_VLAN, VX_FEATURE(VIRTIO_NET_F_CTRL_VQ),
	  "CTRL_VLAN needs CTRL_VQ" },
	{ VIRTIO_NET_F_GUEST_ANNOUNCE, VX_FEATURE(VIRTIO_NET_F_CTRL_VQ),
	  "GUEST_ANNOUNCE needs CTRL_VQ" },
	{ VIRTIO_NET_F_MQ, VX_FEATURE(VIRTIO_NET_F_CTRL_VQ),
	  "MQ needs CTRL_VQ" },
	{ VIRTIO_NET_F_CTRL_MAC_ADDR, VX_FEATURE(VIRTIO_NET_F_CTRL_VQ),
	  "CTRL_MAC_ADDR needs CTRL_VQ" },
};

static const char *net_features_invalid(const struct vx_device *dev, uint64_t want)
{
	unsigned int i;

	for (i = 0; i < sizeof(feature_rules) / sizeof(feature_rules[0]); i++)
		if ((want & VX_FEATURE(feature_rules[i].bit)) &&
		    !(want & feature_rules[i].needs_any))
			return feature_rules[i].rule;
	return NULL;
}

/* At DRIVER_OK: what the driver negotiated, applied to the TAP. */
static int nic_driver_ok(struct vx_device *dev, struct net_nic *nic)
{
	unsigned int offload = 0, pairs = 1;

	if (dev_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM)) {
		offload |= TUN_F_CSUM;
		if (dev_has_feature(dev, VIRTIO_NET_F_GUEST_TSO4))
			offload |= TUN_F_TSO4;
		if (dev_has_feature(dev, VIRTIO_NET_F_GUEST_TSO6))
			offload |= TUN_F_TSO6;
		if (dev_has_feature(dev, VIRTIO_NET_F_GUEST_ECN))
			offload |= TUN_F_TSO_ECN;
	}
	/* A TAP left with the previous driver's offloads would corrupt frames. */
	if (ioctl(nic->pair[0].tap_fd, TUNSETOFFLOAD, offload)) {
		dev_err(dev, "TAP %s: cannot set offloads %#x: %s", nic->ifname,
			offload, strerror(errno));
		return -1;
	}

	pthread_mutex_lock(&nic->lock);
	free(nic->filter.uni);
	free(nic->filter.multi);
	memset(&nic->filter, 0, sizeof(nic->filter));
	/*
	 * A TAP interface we just made (a first boot, a restore or migration,
	 * a daemon restart): no bridge or switch knows where the guest is.
	 * The driver sends gratuitous ARPs and neighbour advertisements for
	 * us, as netfront does at each connect.
	 */
	if (nic->tap_unknown && dev_has_feature(dev, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
		__atomic_store_n(&nic->announce, true, __ATOMIC_RELEASE);
		device_config_check(dev);
	}
	nic->tap_unknown = false;
	if (dev->resumed && dev->model_state) {
		pairs = net_restore(dev, nic);
	} else {
		/* As a NIC after reset: everything until the driver says otherwise. */
		nic->filter.promisc = true;
		if (!dev_has_feature(dev, VIRTIO_NET_F_CTRL_VLAN))
			memset(nic->filter.vlans, 0xff, sizeof(nic->filter.vlans));
	}
	apply_filter(dev, nic);
	set_active_pairs(dev, nic, pairs);
	net_save(dev, nic);
	pthread_mutex_unlock(&nic->lock);

	nic->driver_running = true;
	set_carrier(nic);
	return 0;
}

/* ---- transmit: the batched writes ---- */

/* Without io_uring (a kernel that refuses it), every frame is written alone. */
static int tx_ring_init(struct vx_queue *q, struct net_queue *nq)
{
	unsigned int i;
	int r;

	nq->slots = calloc(q->size, sizeof(*nq->slots));
	nq->free_slots = calloc(q->size, sizeof(*nq->free_slots));
	if (!nq->slots || !nq->free_slots)
		return -1;
	for (i = 0; i < q->size; i++)
		nq->free_slots[i] = q->size - 1 - i;
	nq->nr_free = q->size;
	r = io_uring_queue_init(q->size, &nq->ring, 0);
	if (r)
		dev_info(q->dev, "queue %u: io_uring: %s: a write a frame", q->index,
			 strerror(-r));
	nq->ring_ok = !r;
	return 0;
}

/* Counts a frame's write (@n: what the TAP took) and completes its chain. */
static void tx_done(struct vx_queue *q, uint16_t head, size_t frame_len, ssize_t n)
{
	if (n == (ssize_t)(NET_HDR_LEN + frame_len)) {
		q->stats.packets++;
		q->stats.bytes += frame_len;
	} else {
		/* A full or detached TAP queue, as a NIC that drops. */
		q->stats.errors++;
	}
	queue_complete(q, head, 0);
}

/* Completes the batched writes that returned. */
static void tx_reap(struct vx_queue *q, struct net_queue *nq)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&nq->ring, &cqe) == 0) {
		struct tx_slot *t = io_uring_cqe_get_data(cqe);

		tx_done(q, t->head, t->frame_len, cqe->res);
		io_uring_cqe_seen(&nq->ring, cqe);
		nq->free_slots[nq->nr_free++] = t - nq->slots;
	}
}

/*
 * Submits the writes queued and completes them: the TAP is non-blocking, so
 * each runs within the call.  One the TAP has no room for waits in io_uring
 * until it has (the TAP's send buffer is unlimited unless TUNSETSNDBUF set
 * one), and we for it: a chain completes only when the TAP has its bytes.
 */
static int tx_submit(struct vx_queue *q, struct net_queue *nq)
{
	int r;

	do
		r = io_uring_submit(&nq->ring);
	while (r == -EINTR);
	if (r < 0) {
		queue_fail(q, "io_uring submit: %s", strerror(-r));
		return -1;
	}
	nq->queued = 0;
	tx_reap(q, nq);
	while (nq->nr_free < q->size) {
		struct io_uring_cqe *cqe;

		r = io_uring_wait_cqe(&nq->ring, &cqe);
		if (r < 0 && r != -EINTR) {
			queue_fail(q, "io_uring wait: %s", strerror(-r));
			return -1;
		}
		tx_reap(q, nq);
	}
	return 0;
}

static int tx_queue(struct vx_queue *q, struct net_queue *nq,
		    struct tx_slot *t, unsigned int niov)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&nq->ring);

	/* The ring has a place for each slot: never NULL. */
	if (!sqe) {
		queue_fail(q, "io_uring has no room");
		return -1;
	}
	io_uring_prep_writev(sqe, nic_of(q->dev)->pair[nq->pair].tap_fd,
			     t->iov, niov, 0);
	io_uring_sqe_set_data(sqe, t);
	nq->nr_free--;
	if (++nq->queued == TX_BATCH)
		return tx_submit(q, nq);
	return 0;
}

/* ---- receive: the batched reads ---- */

/* Untouched, the batch's buffers take no memory: small frames touch a page each. */
static void rx_batch_init(struct vx_queue *q, struct net_queue *nq)
{
	nq->ring_ok = !io_uring_queue_init(RX_BATCH, &nq->ring, 0);
	nq->batch = nq->ring_ok ? malloc(RX_BATCH * RX_BUF) : NULL;
	nq->batching = nq->batch;
	if (!nq->batching)
		dev_info(q->dev, "queue %u: no io_uring: a read a frame", q->index);
}

static void rx_arm(struct net_queue *nq, struct net_nic *nic, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };

	if (nq->tap_armed == on)
		return;
	if (epoll_ctl(nq->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		      nic->pair[nq->pair].tap_fd, &ev) == 0)
		nq->tap_armed = on;
}

static void net_queue_free(struct net_queue *nq)
{
	if (nq->ring_ok)
		io_uring_queue_exit(&nq->ring);
	free(nq->slots);
	free(nq->free_slots);
	free(nq->batch);
	if (nq->ep >= 0)
		close(nq->ep);
	free(nq->frame);
	free(nq->heads);
	free(nq->lens);
	free(nq->iov);
	free(nq->stash.heads);
	free(nq->stash.lens);
	free(nq->stash.niov);
	free(nq);
}

static int net_queue_start(struct vx_queue *q)
{
	struct vx_device *dev = q->dev;
	struct net_nic *nic = nic_of(dev);
	unsigned int pairs = dev_has_feature(dev, VIRTIO_NET_F_MQ) ? nic->pairs : 1;
	struct net_queue *nq = calloc(1, sizeof(*nq));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };

	if (!nq)
		return -1;
	nq->ep = -1;
	if (q->index < 2 * pairs) {
		nq->role = q->index % 2 ? NET_TX : NET_RX;
		nq->pair = q->index / 2;
	} else if (q->index == 2 * pairs &&
		   dev_has_feature(dev, VIRTIO_NET_F_CTRL_VQ)) {
		nq->role = NET_CTRL;
	} else {
		dev_err(dev, "queue %u is not a queue of this device (%u pairs%s)",
			q->index, pairs,
			dev_has_feature(dev, VIRTIO_NET_F_CTRL_VQ) ? " and a controlq" : "");
		free(nq);
		return -1;
	}
	if (nq->role != NET_CTRL) {
		nq->frame = malloc(NET_HDR_LEN + NET_MAX_FRAME);
		nq->iov = calloc(NET_IOV_MAX, sizeof(*nq->iov));
		if (!nq->frame || !nq->iov)
			goto err;
	}
	if (nq->role == NET_TX && tx_ring_init(q, nq))
		goto err;
	if (nq->role == NET_RX) {
		nq->heads = calloc(q->size, sizeof(*nq->heads));
		nq->lens = calloc(q->size, sizeof(*nq->lens));
		nq->stash.heads = calloc(q->size, sizeof(*nq->stash.heads));
		nq->stash.lens = calloc(q->size, sizeof(*nq->stash.lens));
		nq->stash.niov = calloc(q->size, sizeof(*nq->stash.niov));
		nq->ep = epoll_create1(EPOLL_CLOEXEC);
		rx_batch_init(q, nq);
		if (!nq->heads || !nq->lens || !nq->stash.heads ||
		    !nq->stash.lens || !nq->stash.niov || nq->ep < 0 ||
		    epoll_ctl(nq->ep, EPOLL_CTL_ADD, nic->pair[nq->pair].wake_fd, &ev))
			goto err;
	}
	if (q->index == 0 && nic_driver_ok(dev, nic))
		goto err;
	q->model_priv = nq;
	return 0;
err:
	net_queue_free(nq);
	return -1;
}

static void net_queue_stop(struct vx_queue *q)
{
	struct vx_device *dev = q->dev;
	struct net_nic *nic = nic_of(dev);
	struct net_queue *nq = q->model_priv;

	if (!nq)
		return;
	/* Frames taken are sent, and their buffers the guest's again. */
	if (nq->queued)
		tx_submit(q, nq);
	if (q->index == 0) {
		nic->driver_running = false;
		set_carrier(nic);
		/* An announcement is for the driver that was asked. */
		if (__atomic_exchange_n(&nic->announce, false, __ATOMIC_ACQ_REL))
			device_config_check(dev);
	}
	net_queue_free(nq);
	q->model_priv = NULL;
}

static int net_completion_fd(struct vx_queue *q)
{
	struct net_queue *nq = q->model_priv;

	return nq->role == NET_RX ? nq->ep : -1;
}

/* Receive chains are taken when a frame is there, in net_complete. */
static unsigned int net_queue_room(struct vx_queue *q)
{
	struct net_queue *nq = q->model_priv;

	return nq->role == NET_RX ? 0 : q->size;
}

/* ---- transmit ---- */

/* virtio 1.2, 5.1.6.2: what a driver may ask of the device, and nothing else. */
static const char *tx_header_error(struct vx_device *dev,
				   const struct virtio_net_hdr *h, size_t frame_len,
				   uint16_t mtu)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t csum_start = le16toh(h->csum_start);
	uint16_t csum_offset = le16toh(h->csum_offset);

	if (frame_len < ETH_HLEN)
		return "frame shorter than an Ethernet header";
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return "header flags other than NEEDS_CSUM";
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!dev_has_feature(dev, VIRTIO_NET_F_CSUM))
			return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
		if ((size_t)csum_start + csum_offset + 2 > frame_len)
			return "checksum start and offset past the frame";
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return "GSO ECN without a GSO type";
		if (frame_len > ETH_HLEN + NET_VLAN_HLEN + (size_t)mtu)
			return "frame over the MTU without GSO";
		return NULL;
	}
	if (!(gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
	      dev_has_feature(dev, VIRTIO_NET_F_HOST_TSO4)) &&
	    !(gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
	      dev_has_feature(dev, VIRTIO_NET_F_HOST_TSO6)))
		return "a GSO type the driver did not negotiate";
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !dev_has_feature(dev, VIRTIO_NET_F_HOST_ECN))
		return "GSO ECN without VIRTIO_NET_F_HOST_ECN";
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return "GSO without NEEDS_CSUM";
	if (!le16toh(h->gso_size) || le16toh(h->hdr_len) > frame_len)
		return "GSO size zero or header length past the frame";
	return NULL;
}

/*
 * A chain wholly in the pool goes to the TAP from there: @iov gets a copy of
 * its header (at @hdr: what we check is what the TAP reads) and then the
 * frame's pieces.  Returns the number of pieces, or 0 if a piece is outside
 * the pool (or there are more than @max): the copy path's turn.
 */
static unsigned int tx_pool_iov(struct vx_device *dev, const struct vq_chain *c,
				struct iovec *iov, unsigned int max,
				struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	size_t skip = NET_HDR_LEN, got = 0;
	unsigned int i, n = 1;

	iov[0] = (struct iovec){ hdr, NET_HDR_LEN };
	for (i = 0; i < c->nsegs; i++) {
		uint8_t *p = pool_ptr(dev, c->segs[i].addr, c->segs[i].len);
		size_t len = c->segs[i].len, take;

		if (!p)
			return 0;
		if (got < NET_HDR_LEN) {
			take = len < NET_HDR_LEN - got ? len : NET_HDR_LEN - got;
			memcpy((uint8_t *)hdr + got, p, take);
			got += take;
		}
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (n == max)
			return 0;
		iov[n++] = (struct iovec){ p + skip, len - skip };
		skip = 0;
	}
	return n;
}

static int tx_handle(struct vx_queue *q, struct net_queue *nq,
		     const struct vq_chain *c)
{
	struct vx_device *dev = q->dev;
	struct net_nic *nic = nic_of(dev);
	struct virtio_net_hdr_mrg_rxbuf hdr, *h = &hdr;
	struct iovec *iov = nq->iov;
	struct tx_slot *t = NULL;
	unsigned int niov = 0;
	const char *why;
	size_t frame_len;
	ssize_t n;

	if (c->writable_len) {
		queue_fail(q, "transmit chain %u has a device-writable buffer", c->head);
		return -1;
	}
	if (c->readable_len < NET_HDR_LEN ||
	    c->readable_len > NET_HDR_LEN + NET_MAX_FRAME) {
		queue_fail(q, "transmit chain %u of %llu bytes (header %zu, frame at most %u)",
			   c->head, (unsigned long long)c->readable_len,
			   NET_HDR_LEN, NET_MAX_FRAME);
		return -1;
	}
	frame_len = c->readable_len - NET_HDR_LEN;
	if (!__atomic_load_n(&nic->link_up, __ATOMIC_RELAXED)) {
		/* No cable: the frame goes nowhere, as on a NIC. */
		q->stats.drops++;
		queue_complete(q, c->head, 0);
		return 0;
	}
	if (dev->pool) {
		/* A frame of a few pieces is batched; one of many is rare. */
		if (nq->ring_ok && nq->nr_free && c->nsegs < TX_SLOT_IOV) {
			t = &nq->slots[nq->free_slots[nq->nr_free - 1]];
			iov = t->iov;
			h = &t->hdr;
		}
		niov = tx_pool_iov(dev, c, iov, t ? TX_SLOT_IOV : NET_IOV_MAX, h);
	}
	if (!niov && gmem_copy(dev, c->segs, c->nsegs, 0, c->readable_len,
			       nq->frame, false)) {
		queue_fail(q, "transmit chain %u: a buffer's grant cannot be read",
			   c->head);
		return -1;
	}
	why = tx_header_error(dev, niov ? &h->hdr : (const void *)nq->frame,
			      frame_len, nic->mtu);
	if (why) {
		queue_fail(q, "transmit chain %u: %s", c->head, why);
		return -1;
	}
	if (niov && t) {
		t->head = c->head;
		t->frame_len = frame_len;
		return tx_queue(q, nq, t, niov);
	}
	/* The frames batched before this one go first. */
	if (nq->queued && tx_submit(q, nq))
		return -1;
	if (niov)
		n = writev(nic->pair[nq->pair].tap_fd, iov, niov);
	else
		n = write(nic->pair[nq->pair].tap_fd, nq->frame, c->readable_len);
	tx_done(q, c->head, frame_len, n);
	return 0;
}

/* ---- receive ---- */

static bool vlan_allowed(struct net_nic *nic, const uint8_t *frame, size_t len)
{
	uint16_t vid;
	bool ok;

	if (len < ETH_HLEN + NET_VLAN_HLEN ||
	    frame[12] != 0x81 || frame[13] != 0x00)
		return true;
	vid = ((frame[14] << 8) | frame[15]) & 0xfff;
	pthread_mutex_lock(&nic->lock);
	ok = nic->filter.promisc ||
	     (nic->filter.vlans[vid / 32] & (1U << (vid % 32)));
	pthread_mutex_unlock(&nic->lock);
	return ok;
}

/*
 * Places the frame read into nq->cur in the guest's receive buffers.
 * Returns 1 when placed (or dropped, counted), 0 when the guest has not
 * posted enough buffers, -1 on a guest error.
 */
static int rx_place(struct vx_queue *q, struct net_queue *nq, uint16_t *seen)
{
	struct vx_device *dev = q->dev;
	bool mergeable = dev_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF);
	struct virtio_net_hdr_mrg_rxbuf *h = (void *)nq->cur;
	size_t len = nq->frame_len, done = 0;
	unsigned int n = 0, i;

	*seen = vq_avail_idx(&q->vq);
	while (done < len) {
		struct vq_chain *c = &q->chain;
		int r = vq_pop_chain(&q->vq, c);
		size_t take;

		if (r < 0) {
			gmem_copy_cancel();
			queue_fail(q, "%s", q->vq.error);
			return -1;
		}
		if (r == 0) {
			vq_unpop(&q->vq, n);
			gmem_copy_cancel();
			return 0;
		}
		if (c->readable_len || c->writable_len < (n ? 1 : NET_HDR_LEN)) {
			gmem_copy_cancel();
			queue_fail(q, "receive chain %u: %llu readable and %llu writable bytes",
				   c->head, (unsigned long long)c->readable_len,
				   (unsigned long long)c->writable_len);
			return -1;
		}
		if (!mergeable && c->writable_len < len) {
			/* A buffer too small for the frame: drop the frame, keep the buffer. */
			vq_unpop(&q->vq, 1);
			q->stats.drops++;
			return 1;
		}
		take = len - done < c->writable_len ? len - done : c->writable_len;
		if (gmem_copy_add(dev, c->segs, c->nsegs, 0, take, nq->cur + done,
				  true)) {
			queue_fail(q, "receive chain %u: its buffers' grant addresses are bad",
				   c->head);
			return -1;
		}
		nq->heads[n] = c->head;
		nq->lens[n] = take;
		n++;
		done += take;
	}
	/* The copies read the frame when run: the header can still change. */
	h->num_buffers = htole16(n);
	if (gmem_copy_run(dev)) {
		queue_fail(q, "a receive buffer's grant cannot be written");
		return -1;
	}
	for (i = 0; i < n; i++)
		queue_complete(q, nq->heads[i], nq->lens[i]);
	q->stats.packets++;
	q->stats.bytes += len - NET_HDR_LEN;
	return 1;
}

/* ---- receive straight into the pool ---- */

/* Counts the frame read toward batching: RX_BATCH small ones in a row. */
static void rx_count_small(struct net_queue *nq, size_t n)
{
	nq->small = n > RX_SMALL ? 0 : nq->small < RX_BATCH ? nq->small + 1 : RX_BATCH;
}

/* The largest read the TAP can give this driver: with GSO, 64 KiB frames. */
static size_t rx_read_max(const struct vx_device *dev, const struct net_nic *nic)
{
	if (dev_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM) &&
	    (dev_has_feature(dev, VIRTIO_NET_F_GUEST_TSO4) ||
	     dev_has_feature(dev, VIRTIO_NET_F_GUEST_TSO6)))
		return NET_HDR_LEN + NET_MAX_FRAME;
	return NET_HDR_LEN + ETH_HLEN + NET_VLAN_HLEN + nic->mtu;
}

/* Gives the stash's chains back to the ring: the copy path takes them. */
static void rx_stash_drop(struct vx_queue *q, struct net_queue *nq)
{
	struct rx_stash *s = &nq->stash;

	vq_unpop(&q->vq, s->n);
	s->first = 0;
	s->n = 0;
	s->iov_first = 0;
	s->iov_used = 0;
	s->bytes = 0;
}

/* Moves the stash to the start of its arrays, for room at their end. */
static void rx_stash_compact(struct net_queue *nq)
{
	struct rx_stash *s = &nq->stash;

	memmove(s->heads, s->heads + s->first, s->n * sizeof(*s->heads));
	memmove(s->lens, s->lens + s->first, s->n * sizeof(*s->lens));
	memmove(s->niov, s->niov + s->first, s->n * sizeof(*s->niov));
	memmove(nq->iov, nq->iov + s->iov_first, s->iov_used * sizeof(*nq->iov));
	s->first = 0;
	s->iov_first = 0;
}

/*
 * Takes chains until the stash holds @want bytes: 1 when it does, 0 when
 * it cannot (the ring has no more, or a chain is outside the pool), -1 on
 * a guest error.
 */
static int rx_stash_fill(struct vx_queue *q, struct net_queue *nq, size_t want)
{
	struct rx_stash *s = &nq->stash;
	struct vq_chain *c = &q->chain;

	while (s->bytes < want) {
		struct iovec *iov;
		unsigned int i, k;
		int r;

		if (s->n == q->size)
			return 0;
		r = vq_pop_chain(&q->vq, c);
		if (r < 0) {
			queue_fail(q, "%s", q->vq.error);
			return -1;
		}
		if (r == 0)
			return 0;
		if (c->readable_len || !c->writable_len) {
			queue_fail(q, "receive chain %u: %llu readable and %llu writable bytes",
				   c->head, (unsigned long long)c->readable_len,
				   (unsigned long long)c->writable_len);
			return -1;
		}
		if (s->first + s->n == q->size ||
		    s->iov_first + s->iov_used + c->nsegs > NET_IOV_MAX)
			rx_stash_compact(nq);
		k = s->first + s->n;
		s->heads[k] = c->head;
		s->lens[k] = c->writable_len;
		s->niov[k] = 0;
		s->n++;
		/* A chain too short to start a frame: rx_place's rules decide. */
		if (c->writable_len < NET_HDR_LEN ||
		    s->iov_used + c->nsegs > NET_IOV_MAX)
			return 0;
		iov = nq->iov + s->iov_first + s->iov_used;
		for (i = 0; i < c->nsegs; i++) {
			void *p = pool_ptr(q->dev, c->segs[i].addr, c->segs[i].len);

			if (!p)
				return 0;
			iov[i] = (struct iovec){ p, c->segs[i].len };
			s->iov_used++;
		}
		s->niov[k] = c->nsegs;
		s->bytes += c->writable_len;
	}
	return 1;
}

/* Copies @len bytes at @off of the stash's pieces out (@out) or in. */
static void rx_stash_bytes(struct net_queue *nq, size_t off, void *buf, size_t len,
			   bool out)
{
	const struct iovec *v = nq->iov + nq->stash.iov_first;

	for (; len; v++) {
		size_t take;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		take = v->iov_len - off < len ? v->iov_len - off : len;
		if (out)
			memcpy(buf, (uint8_t *)v->iov_base + off, take);
		else
			memcpy((uint8_t *)v->iov_base + off, buf, take);
		buf = (uint8_t *)buf + take;
		len -= take;
		off = 0;
	}
}

/* Completes the stash's first chains, which hold the @len bytes read. */
static void rx_stash_complete(struct vx_queue *q, struct net_queue *nq, size_t len)
{
	struct rx_stash *s = &nq->stash;
	unsigned int k = s->first, pieces = 0;
	uint64_t used = 0;
	uint16_t nbufs;

	while (used < len) {
		uint32_t take = len - used < s->lens[k] ? len - used : s->lens[k];

		queue_complete(q, s->heads[k], take);
		used += s->lens[k];
		pieces += s->niov[k];
		k++;
	}
	/* The TAP leaves num_buffers as it found it. */
	nbufs = htole16(k - s->first);
	rx_stash_bytes(nq, offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers),
		       &nbufs, sizeof(nbufs), false);
	s->n -= k - s->first;
	s->first = s->n ? k : 0;
	s->iov_used -= pieces;
	s->iov_first = s->iov_used ? s->iov_first + pieces : 0;
	s->bytes -= used;
}

/*
 * With the pool mapped, the TAP's read lands in the guest's buffers, not in
 * ours first (one copy of each frame saved).  Returns 1 when a frame was
 * placed or dropped, 0 when the TAP has none, 2 when the buffers are not
 * ready for it (the copy path's turn: rx_stash_drop first), -1 on a guest
 * error.
 */
static int rx_direct(struct vx_queue *q, struct net_queue *nq, int fd, size_t max)
{
	struct rx_stash *s = &nq->stash;
	bool mergeable = dev_has_feature(q->dev, VIRTIO_NET_F_MRG_RXBUF);
	uint8_t eth[ETH_HLEN + NET_VLAN_HLEN];
	unsigned int niov;
	uint64_t room;
	ssize_t n;
	int r;

	r = rx_stash_fill(q, nq, mergeable ? max : 1);
	if (r <= 0)
		return r < 0 ? -1 : 2;
	niov = s->iov_used;
	room = s->bytes;
	/* Without MRG_RXBUF a frame has one chain, which must hold the largest. */
	if (!mergeable) {
		if (s->lens[s->first] < max)
			return 2;
		niov = s->niov[s->first];
		room = s->lens[s->first];
	}
	n = readv(fd, nq->iov + s->iov_first, niov);
	if (n < 0)
		return 0;	/* EAGAIN, or a detached queue */
	rx_count_small(nq, n);
	if ((size_t)n < NET_HDR_LEN + ETH_HLEN)
		return 1;	/* filtered, as a NIC would */
	if ((uint64_t)n > room) {
		/* Cut short: a frame past the MTU the driver was given. */
		q->stats.drops++;
		return 1;
	}
	rx_stash_bytes(nq, NET_HDR_LEN, eth, sizeof(eth), true);
	if (!vlan_allowed(nic_of(q->dev), eth, n - NET_HDR_LEN))
		return 1;
	rx_stash_complete(q, nq, n);
	q->stats.packets++;
	q->stats.bytes += n - NET_HDR_LEN;
	return 1;
}

/*
 * RX_BATCH reads of the TAP in one system call, into buffers of ours, from
 * which the frames are copied to the guest's: for a small frame a copy costs
 * less than a system call.  Reads that find the TAP empty wait in io_uring
 * for a frame (it takes a non-blocking character device's EAGAIN as "poll"):
 * a second call cancels them.  Returns the frames read, in the TAP's order.
 */
static unsigned int rx_batch_read(struct vx_queue *q, struct net_queue *nq, int fd)
{
	struct io_uring_cqe *cqe;
	unsigned int i, done = 0;
	bool cancelled = false;
	int r;

	for (i = 0; i < RX_BATCH; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&nq->ring);

		io_uring_prep_read(sqe, fd, nq->batch + (size_t)i * RX_BUF, RX_BUF, 0);
		io_uring_sqe_set_data(sqe, (void *)(uintptr_t)i);
	}
	nq->batch_n = 0;
	nq->batch_next = 0;
	do
		r = io_uring_submit(&nq->ring);
	while (r == -EINTR);
	while (r >= 0 && done < RX_BATCH) {
		if (io_uring_peek_cqe(&nq->ring, &cqe)) {
			struct io_uring_sqe *sqe;

			if (!cancelled) {
				sqe = io_uring_get_sqe(&nq->ring);
				io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
				io_uring_sqe_set_data(sqe, (void *)(uintptr_t)RX_BATCH);
				cancelled = true;
			}
			r = io_uring_submit_and_wait(&nq->ring, 1);
			if (r == -EINTR)
				r = 0;
			continue;
		}
		i = (uintptr_t)io_uring_cqe_get_data(cqe);
		if (i < RX_BATCH) {
			if (cqe->res > 0) {
				nq->batch_buf[nq->batch_n] = i;
				nq->batch_len[nq->batch_n++] = cqe->res;
			}
			done++;
		}
		io_uring_cqe_seen(&nq->ring, cqe);
	}
	if (r < 0) {
		dev_err(q->dev, "queue %u: io_uring: %s: a read a frame from now on",
			q->index, strerror(-r));
		nq->batching = false;
	}
	/* The cancel's own answer, if it came after the reads'. */
	if (cancelled && !io_uring_peek_cqe(&nq->ring, &cqe))
		io_uring_cqe_seen(&nq->ring, cqe);
	/* Too few frames wait for batches to pay: back to a read a frame. */
	if (nq->batch_n < RX_BATCH / 2)
		nq->small = 0;
	return nq->batch_n;
}

/* Whether a NIC would drop the frame read into @f (@n bytes, header included). */
static bool rx_filtered(struct net_nic *nic, const uint8_t *f, size_t n)
{
	return n < NET_HDR_LEN + ETH_HLEN ||
	       !vlan_allowed(nic, f + NET_HDR_LEN, n - NET_HDR_LEN);
}

/* The next frame of the batch as cur, past those a NIC would filter. */
static bool rx_batch_next(struct net_nic *nic, struct net_queue *nq)
{
	while (nq->batch_next < nq->batch_n) {
		unsigned int k = nq->batch_next++;
		uint8_t *f = nq->batch + (size_t)nq->batch_buf[k] * RX_BUF;
		size_t n = nq->batch_len[k];

		if (rx_filtered(nic, f, n))
			continue;
		nq->cur = f;
		nq->frame_len = n;
		if (n > RX_SMALL)
			nq->small = 0;
		return true;
	}
	return false;
}

static int rx_complete(struct vx_queue *q, struct net_queue *nq)
{
	struct net_nic *nic = nic_of(q->dev);
	int fd = nic->pair[nq->pair].tap_fd;
	size_t max = rx_read_max(q->dev, nic);
	unsigned int budget = NET_RX_BUDGET, epoch;
	uint64_t wakes;
	bool active, drained = false;
	uint16_t seen;

	/* Only the wake-up matters, not how many came. */
	if (read(nic->pair[nq->pair].wake_fd, &wakes, sizeof(wakes)) < 0) {
		/* EAGAIN: no wake-up pending */
	}
	/* The epoch first: the pairs read after it are at least that new. */
	epoch = __atomic_load_n(&nic->pairs_epoch, __ATOMIC_ACQUIRE);
	active = nq->pair < __atomic_load_n(&nic->active_pairs, __ATOMIC_ACQUIRE);
	/* What the last round placed is published: rx_wait_pairs_off. */
	__atomic_store_n(&nic->pair[nq->pair].rx_seen, epoch, __ATOMIC_RELEASE);
	while (active) {
		ssize_t n;
		int r;

		/*
		 * A batch is placed whole; a new read only within the budget,
		 * and not once a batch found the TAP empty.
		 */
		if (!nq->frame_len && !rx_batch_next(nic, nq)) {
			if (!budget || drained)
				break;
			if (nq->batching && nq->small >= RX_BATCH) {
				if (nq->stash.n)
					rx_stash_drop(q, nq);
				n = rx_batch_read(q, nq, fd);
				drained = n < RX_BATCH;
				budget -= (unsigned int)n < budget ? (unsigned int)n : budget;
				continue;
			}
			if (q->dev->pool) {
				r = rx_direct(q, nq, fd, max);
				if (r < 0)
					return -1;
				if (r == 0)
					break;
				if (r == 1) {
					budget--;
					continue;
				}
				rx_stash_drop(q, nq);
			}
			n = read(fd, nq->frame, NET_HDR_LEN + NET_MAX_FRAME);
			if (n < 0)
				break;	/* EAGAIN, or a detached queue */
			budget--;
			rx_count_small(nq, n);
			if (rx_filtered(nic, nq->frame, n))
				continue;
			nq->cur = nq->frame;
			nq->frame_len = n;
		}
		r = rx_place(q, nq, &seen);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* Sleep until the driver adds buffers past those seen. */
			if (vq_enable_kicks_at(&q->vq, seen))
				continue;
			rx_arm(nq, nic, false);
			return 0;
		}
		nq->frame_len = 0;
	}
	rx_arm(nq, nic, active);
	return 0;
}

/* ---- control ---- */

static uint8_t ctrl_rx(struct vx_device *dev, struct net_nic *nic, uint8_t cmd,
		       const uint8_t *data, size_t len)
{
	if (!dev_has_feature(dev, VIRTIO_NET_F_CTRL_RX) || len != 1)
		return VIRTIO_NET_ERR;
	if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
		nic->filter.promisc = data[0];
	else if (cmd == VIRTIO_NET_CTRL_RX_ALLMULTI)
		nic->filter.allmulti = data[0];
	else
		return VIRTIO_NET_ERR;	/* the RX_EXTRA commands: not offered */
	apply_filter(dev, nic);
	return VIRTIO_NET_OK;
}

/* One table of VIRTIO_NET_CTRL_MAC_TABLE_SET: le32 entries, then the MACs. */
static bool take_mac_table(const uint8_t **data, size_t *len,
			   uint8_t (**out)[ETH_ALEN], uint32_t *count)
{
	uint32_t n;

	if (*len < 4)
		return false;
	memcpy(&n, *data, 4);
	n = le32toh(n);
	if (n > (*len - 4) / ETH_ALEN)
		return false;
	*out = NULL;
	if (n) {
		*out = malloc((size_t)n * ETH_ALEN);
		if (!*out)
			return false;
		memcpy(*out, *data + 4, (size_t)n * ETH_ALEN);
	}
	*count = n;
	*data += 4 + (size_t)n * ETH_ALEN;
	*len -= 4 + (size_t)n * ETH_ALEN;
	return true;
}

static uint8_t ctrl_mac(struct vx_device *dev, struct net_nic *nic, uint8_t cmd,
			const uint8_t *data, size_t len)
{
	uint8_t (*uni)[ETH_ALEN] = NULL, (*multi)[ETH_ALEN] = NULL;
	uint32_t n_uni, n_multi;

	if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
		if (!dev_has_feature(dev, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    len != ETH_ALEN || (data[0] & 1))
			return VIRTIO_NET_ERR;
		memcpy(nic->mac, data, ETH_ALEN);
		apply_filter(dev, nic);
		return VIRTIO_NET_OK;
	}
	if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET ||
	    !dev_has_feature(dev, VIRTIO_NET_F_CTRL_RX))
		return VIRTIO_NET_ERR;
	if (!take_mac_table(&data, &len, &uni, &n_uni))
		return VIRTIO_NET_ERR;
	if (!take_mac_table(&data, &len, &multi, &n_multi) || len) {
		free(uni);
		free(multi);
		return VIRTIO_NET_ERR;
	}
	free(nic->filter.uni);
	free(nic->filter.multi);
	nic->filter.uni = uni;
	nic->filter.n_uni = n_uni;
	nic->filter.multi = multi;
	nic->filter.n_multi = n_multi;
	apply_filter(dev, nic);
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_vlan(struct vx_device *dev, struct net_nic *nic,
			 uint8_t cmd, const uint8_t *data, size_t len)
{
	uint16_t vid;

	if (!dev_has_feature(dev, VIRTIO_NET_F_CTRL_VLAN) || len != 2)
		return VIRTIO_NET_ERR;
	vid = le16toh(data[0] | (data[1] << 8));
	if (vid >= 4096)
		return VIRTIO_NET_ERR;
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		nic->filter.vlans[vid / 32] |= 1U << (vid % 32);
	else if (cmd == VIRTIO_NET_CTRL_VLAN_DEL)
		nic->filter.vlans[vid / 32] &= ~(1U << (vid % 32));
	else
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

/*
 * virtio 1.2, 5.1.6.5.5: once the command is answered, no frame may come on
 * a receive queue past the @n pairs.  A receive thread may have read one
 * before: the answer waits until each running receive thread of those
 * pairs has started a round with the new pairs (all it placed before is
 * published by then), as long as it is not broken.
 */
static void rx_wait_pairs_off(struct vx_device *dev, struct net_nic *nic,
			      unsigned int n)
{
	unsigned int epoch = __atomic_load_n(&nic->pairs_epoch, __ATOMIC_ACQUIRE);
	unsigned int i, ms;

	for (i = n; i < nic->pairs && 2 * i < dev->nr_queues; i++) {
		struct vx_queue *q = &dev->queues[2 * i];

		for (ms = 0; q->running && !queue_stopped(q) &&
		     !__atomic_load_n(&q->failed, __ATOMIC_ACQUIRE) &&
		     (int)(__atomic_load_n(&nic->pair[i].rx_seen, __ATOMIC_ACQUIRE) - epoch) < 0;
		     ms++) {
			if (ms == NET_PAIRS_OFF_MS) {
				dev_err(dev, "receive queue %u did not see the pairs change in %u ms",
					2 * i, NET_PAIRS_OFF_MS);
				break;
			}
			usleep(1000);
		}
	}
}

static uint8_t ctrl_mq(struct vx_device *dev, struct net_nic *nic, uint8_t cmd,
		       const uint8_t *data, size_t len)
{
	uint16_t n;

	if (!dev_has_feature(dev, VIRTIO_NET_F_MQ) ||
	    cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != 2)
		return VIRTIO_NET_ERR;
	n = data[0] | (data[1] << 8);
	if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > nic->pairs)
		return VIRTIO_NET_ERR;
	set_active_pairs(dev, nic, n);
	rx_wait_pairs_off(dev, nic, n);
	dev_info(dev, "%u queue pair(s) active", n);
	return VIRTIO_NET_OK;
}

/* The driver announced itself: the status bit goes. */
static uint8_t ctrl_announce(struct vx_device *dev, struct net_nic *nic,
			     uint8_t cmd, const uint8_t *data, size_t len)
{
	if (!dev_has_feature(dev, VIRTIO_NET_F_GUEST_ANNOUNCE) ||
	    cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || len)
		return VIRTIO_NET_ERR;
	if (__atomic_exchange_n(&nic->announce, false, __ATOMIC_ACQ_REL)) {
		dev_info(dev, "the guest announced itself");
		device_config_check(dev);
	}
	return VIRTIO_NET_OK;
}

/* The command classes offered, by class number. */
static uint8_t (*const ctrl_classes[])(struct vx_device *dev, struct net_nic *nic,
				       uint8_t cmd, const uint8_t *data, size_t len) = {
	[VIRTIO_NET_CTRL_RX] = ctrl_rx,
	[VIRTIO_NET_CTRL_MAC] = ctrl_mac,
	[VIRTIO_NET_CTRL_VLAN] = ctrl_vlan,
	[VIRTIO_NET_CTRL_ANNOUNCE] = ctrl_announce,
	[VIRTIO_NET_CTRL_MQ] = ctrl_mq,
};

static int ctrl_handle(struct vx_queue *q, const struct vq_chain *c)
{
	struct vx_device *dev = q->dev;
	struct net_nic *nic = nic_of(dev);
	uint8_t cmd[NET_CTRL_MAX], ack = VIRTIO_NET_ERR;
	size_t len = c->readable_len;

	if (len < sizeof(struct virtio_net_ctrl_hdr) || !c->writable_len) {
		queue_fail(q, "control chain %u: %llu readable and %llu writable bytes",
			   c->head, (unsigned long long)c->readable_len,
			   (unsigned long long)c->writable_len);
		return -1;
	}
	if (len <= sizeof(cmd)) {
		if (gmem_copy(dev, c->segs, c->nsegs, 0, len, cmd, false)) {
			queue_fail(q, "control chain %u: a buffer's grant cannot be read",
				   c->head);
			return -1;
		}
		pthread_mutex_lock(&nic->lock);
		if (cmd[0] < sizeof(ctrl_classes) / sizeof(ctrl_classes[0]) &&
		    ctrl_classes[cmd[0]])
			ack = ctrl_classes[cmd[0]](dev, nic, cmd[1], cmd + 2, len - 2);
		if (ack == VIRTIO_NET_OK)
			net_save(dev, nic);
		pthread_mutex_unlock(&nic->lock);
		if (ack != VIRTIO_NET_OK)
			dev_warn(dev, "control command class %u cmd %u of %zu bytes refused",
				 cmd[0], cmd[1], len - 2);
	}
	/* The ack is the last byte of the chain. */
	if (gmem_copy(dev, c->segs, c->nsegs, len + c->writable_len - 1, 1, &ack,
		      true)) {
		queue_fail(q, "control chain %u: the ack's grant cannot be written",
			   c->head);
		return -1;
	}
	queue_complete(q, c->head, 1);
	return 0;
}

static int net_handle_chain(struct vx_queue *q, const struct vq_chain *c)
{
	struct net_queue *nq = q->model_priv;

	if (nq->role == NET_TX)
		return tx_handle(q, nq, c);
	return ctrl_handle(q, c);
}

static int net_complete(struct vx_queue *q)
{
	struct net_queue *nq = q->model_priv;

	if (nq->role == NET_TX)
		return nq->queued ? tx_submit(q, nq) : 0;
	return nq->role == NET_RX ? rx_complete(q, nq) : 0;
}

/*
 * The toolstack set the link up or down (config status and carrier follow),
 * or the driver acknowledged an announcement.
 */
static bool net_keys_changed(struct vx_device *dev)
{
	struct net_nic *nic = nic_of(dev);
	bool up;

	/* Called on every change of the directory: a bad value is ignored. */
	if (!net_read_link(dev, &up, true) && up != nic->link_up) {
		__atomic_store_n(&nic->link_up, up, __ATOMIC_RELAXED);
		set_carrier(nic);
		dev_info(dev, "link %s", up ? "up" : "down");
	}
	return net_update_status(dev, nic);
}

static unsigned long long tap_counter(const struct net_nic *nic, const char *name)
{
	char path[96];
	uint64_t v;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", nic->ifname, name);
	return sysfs_read_u64(path, &v) ? v : 0;
}

/*
 * What the host's kernel dropped at the TAP, where we cannot see it: frames
 * for the guest while the guest's buffers could not take them (the TAP's
 * queue full), and frames of the guest the host's stack refused.
 */
static void net_stats_line(struct vx_device *dev, char *buf, size_t size)
{
	struct net_nic *nic = dev->model_priv;

	snprintf(buf, size, "tap dropped-to-guest=%llu dropped-from-guest=%llu",
		 tap_counter(nic, "tx_dropped"), tap_counter(nic, "rx_dropped"));
}

const struct vx_model net_model = {
	.type = "net",
	.virtio_id = VIRTIO_ID_NET,
	.open = net_open,
	.close = net_close,
	.features_invalid = net_features_invalid,
	.queue_start = net_queue_start,
	.queue_stop = net_queue_stop,
	.queue_room = net_queue_room,
	.handle_chain = net_handle_chain,
	.completion_fd = net_completion_fd,
	.complete = net_complete,
	.keys_changed = net_keys_changed,
	.stats_line = net_stats_line,
	.state_bytes = sizeof(struct net_saved),
};
