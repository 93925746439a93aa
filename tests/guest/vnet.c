// SPDX-License-Identifier: GPL-2.0-only
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vnet.h"

#define HDR_LEN		sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define MAX_FRAME	(ETH_HLEN + 4 + 65535)
#define MERGEABLE_BUF	4096		/* a page, as virtio_net's mergeable buffers */
#define SMALL_BUF	(HDR_LEN + ETH_HLEN + 4 + ETH_DATA_LEN)
#define BIG_BUF		(HDR_LEN + MAX_FRAME)
#define BIG_SLOTS	32		/* big buffers cost 64 KiB each */
#define INDIRECT_BUF	1024		/* less than a frame: frames span chains */
#define TX_SLOTS	64

static bool has(const struct vx_vdev *vd, unsigned int bit)
{
	return vd->driver_features & (1ULL << bit);
}

int vnet_open_tap(const char *netns_path, const char *ifname, unsigned int pairs,
		  int fds[])
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(netns_path, O_RDONLY | O_CLOEXEC);
	int sz = HDR_LEN, ret = 0;
	unsigned int i;

	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < pairs && !ret; i++) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };

		if (pairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
		fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr) ||
		    ioctl(fds[i], TUNSETVNETHDRSZ, &sz))
			ret = -errno;
	}
	if (setns(self, CLONE_NEWNET))
		abort();	/* the test would run in the wrong namespace */
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return ret;
}

unsigned int vnet_ctrl_index(const struct vx_vdev *vd)
{
	const struct virtio_net_config *c = (const void *)vd->config;

	if (has(vd, VIRTIO_NET_F_MQ))
		return 2 * le16toh(c->max_virtqueue_pairs);
	return 2;
}

/* ---- receive: the device's frames into the TAP ---- */

static void rx_post(struct vnet_pair *p, unsigned int slot)
{
	struct vnet *n = p->n;
	struct driver_vq *vq = &n->vd->vqs[2 * p->index];
	uint64_t addr = p->rx_dma + (uint64_t)slot * n->rx_buf_len;
	struct dvq_buf b = { addr, n->rx_buf_len, true };
	struct vring_desc *t = &p->rx_tables[2 * slot];
	int head;

	if (n->rx_indirect) {
		/* The table is the device's to read: the buffer's two halves. */
		t[0] = (struct vring_desc){ htole64(addr), htole32(n->rx_buf_len / 2),
					    htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT),
					    htole16(1) };
		t[1] = (struct vring_desc){ htole64(addr + n->rx_buf_len / 2),
					    htole32(n->rx_buf_len / 2),
					    htole16(VRING_DESC_F_WRITE), 0 };
		b = (struct dvq_buf){ p->rx_tables_dma + 2 * slot * sizeof(*t),
				      2 * sizeof(*t), false };
	}
	head = dvq_add(vq, &b, 1, (void *)(uintptr_t)(slot + 1));
	if (head < 0)
		p->failed = true;
	else if (n->rx_indirect)
		vq->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
}

static void rx_frame_done(struct vnet_pair *p)
{
	const uint8_t *f = p->frame + HDR_LEN;
	unsigned int type = p->frame_len >= HDR_LEN + ETH_HLEN + 4 ? (f[12] << 8) | f[13] : 0;

	if (type == 0x8100)		/* 802.1Q: the type follows the tag */
		type = (f[16] << 8) | f[17];
	if (type == VNET_PROBE_TYPE)
		__atomic_add_fetch(&p->probe_frames, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->rx_frames, 1, __ATOMIC_RELAXED);
	/* A TAP that cannot take it (full, or down) drops it, as a stack would. */
	if (write(p->tap_fd, p->frame, p->frame_len) < 0 && errno != EAGAIN &&
	    errno != EIO)
		p->failed = true;
	p->frame_len = 0;
}

static void rx_reap(struct vnet_pair *p)
{
	struct vnet *n = p->n;
	struct driver_vq *vq = &n->vd->vqs[2 * p->index];
	unsigned int reposted = 0;
	uint32_t len;
	void *token;

	while ((token = dvq_get(vq, &len))) {
		unsigned int slot = (uintptr_t)token - 1;
		const uint8_t *buf = p->rx_mem + (size_t)slot * n->rx_buf_len;

		if (len > n->rx_buf_len || p->frame_len + len > HDR_LEN + MAX_FRAME) {
			p->failed = true;	/* the device broke the rules */
			return;
		}
		memcpy(p->frame + p->frame_len, buf, len);
		p->frame_len += len;
		if (!p->frame_bufs_left) {
			const struct virtio_net_hdr_mrg_rxbuf *h = (const void *)p->frame;

			p->frame_bufs_left = n->mergeable ? le16toh(h->num_buffers) : 1;
			if (!p->frame_bufs_left) {
				p->failed = true;
				return;
			}
		}
		if (!--p->frame_bufs_left)
			rx_frame_done(p);
		rx_post(p, slot);
		reposted++;
	}
	if (reposted)
		dvq_kick(vq);
}

/* ---- transmit: the TAP's frames to the device ---- */

static void tx_reap(struct vnet_pair *p)
{
	struct driver_vq *vq = &p->n->vd->vqs[2 * p->index + 1];
	void *token;

	while ((token = dvq_get(vq, NULL)))
		p->tx_free_list[p->tx_free++] = (uintptr_t)token - 1;
}

static void tx_send(struct vnet_pair *p)
{
	struct vnet *n = p->n;
	struct driver_vq *vq = &n->vd->vqs[2 * p->index + 1];
	unsigned int sent = 0;

	while (p->tx_free) {
		unsigned int slot = p->tx_free_list[p->tx_free - 1];
		uint8_t *buf = p->tx_mem + (size_t)slot * n->tx_buf_len;
		ssize_t len = read(p->tap_fd, buf, n->tx_buf_len);
		struct dvq_buf b;

		if (len < 0)
			break;
		if (len < (ssize_t)(HDR_LEN + ETH_HLEN))
			continue;
		b = (struct dvq_buf){ p->tx_dma + (uint64_t)slot * n->tx_buf_len,
				      len, false };
		if (dvq_add(vq, &b, 1, (void *)(uintptr_t)(slot + 1)) < 0)
			break;
		p->tx_free--;
		__atomic_add_fetch(&p->tx_frames, 1, __ATOMIC_RELAXED);
		sent++;
	}
	if (sent)
		dvq_kick(vq);
}

static void *pair_thread(void *arg)
{
	struct vnet_pair *p = arg;
	struct vnet *n = p->n;
	struct driver_vq *rx = &n->vd->vqs[2 * p->index];
	struct driver_vq *tx = &n->vd->vqs[2 * p->index + 1];

	while (!p->failed) {
		struct pollfd fds[4] = {
			{ .fd = n->stop_fd, .events = POLLIN },
			{ .fd = sim_evtchn_fd(rx->port), .events = POLLIN },
			{ .fd = sim_evtchn_fd(tx->port), .events = POLLIN },
			{ .fd = p->tap_fd, .events = p->tx_free ? POLLIN : 0 },
		};

		do {
			rx_reap(p);
			tx_reap(p);
		} while (dvq_enable_cb(rx) | dvq_enable_cb(tx));
		tx_send(p);
		if (poll(fds, 4, 100) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		if (fds[1].revents)
			sim_evtchn_consume(rx->port);
		if (fds[2].revents)
			sim_evtchn_consume(tx->port);
	}
	return NULL;
}

/* ---- set-up ---- */

static unsigned int tap_offloads(const struct vx_vdev *vd)
{
	unsigned int o = 0;

	/* What the device takes from us is what our TAP may hand us. */
	if (has(vd, VIRTIO_NET_F_CSUM)) {
		o |= TUN_F_CSUM;
		if (has(vd, VIRTIO_NET_F_HOST_TSO4))
			o |= TUN_F_TSO4;
		if (has(vd, VIRTIO_NET_F_HOST_TSO6))
			o |= TUN_F_TSO6;
		if (has(vd, VIRTIO_NET_F_HOST_ECN))
			o |= TUN_F_TSO_ECN;
	}
	return o;
}

static size_t rx_tables_bytes(const struct vnet_pair *p)
{
	return (size_t)p->rx_slots * 2 * sizeof(struct vring_desc);
}

static int pair_start(struct vnet *n, struct vnet_pair *p)
{
	struct vx_guest *g = n->vd->g;
	unsigned int rx_size = n->vd->vqs[2 * p->index].size, i;
	size_t rx_bytes, tx_bytes;

	p->rx_slots = n->rx_buf_len == BIG_BUF && rx_size > BIG_SLOTS ? BIG_SLOTS : rx_size;
	p->tx_slots = TX_SLOTS < n->vd->vqs[2 * p->index + 1].size ?
		      TX_SLOTS : n->vd->vqs[2 * p->index + 1].size;
	rx_bytes = (size_t)p->rx_slots * n->rx_buf_len;
	tx_bytes = (size_t)p->tx_slots * n->tx_buf_len;
	/* In the device's pool if it has room, as coherent memory: no bounce. */
	if (n->vd->pool) {
		p->tx_mem = gpool_alloc(n->vd->pool, tx_bytes, &p->tx_dma);
		p->rx_mem = gpool_alloc(n->vd->pool, rx_bytes, &p->rx_dma);
		p->rx_pooled = p->rx_mem != NULL;
		p->tx_pooled = p->tx_mem != NULL;
	}
	if (!p->rx_mem)
		p->rx_mem = guest_alloc(g, rx_bytes);
	if (!p->tx_mem)
		p->tx_mem = guest_alloc(g, tx_bytes);
	p->frame = malloc(HDR_LEN + MAX_FRAME);
	p->tx_free_list = calloc(p->tx_slots, sizeof(*p->tx_free_list));
	if (!p->rx_mem || !p->tx_mem || !p->frame || !p->tx_free_list ||
	    (!p->rx_pooled && guest_dma_map(g, p->rx_mem, rx_bytes, false, &p->rx_dma)) ||
	    (!p->tx_pooled && guest_dma_map(g, p->tx_mem, tx_bytes, true, &p->tx_dma)))
		return -ENOMEM;
	if (n->rx_indirect) {
		p->rx_tables = guest_alloc(g, rx_tables_bytes(p));
		if (!p->rx_tables || guest_dma_map(g, p->rx_tables, rx_tables_bytes(p), true,
						   &p->rx_tables_dma))
			return -ENOMEM;
	}
	for (i = 0; i < p->tx_slots; i++)
		p->tx_free_list[p->tx_free++] = i;
	for (i = 0; i < p->rx_slots; i++)
		rx_post(p, i);
	dvq_kick(&n->vd->vqs[2 * p->index]);
	if (ioctl(p->tap_fd, TUNSETOFFLOAD, tap_offloads(n->vd)))
		return -errno;
	return pthread_create(&p->thread, NULL, pair_thread, p) ? -EAGAIN : 0;
}

static int start(struct vnet *n, struct vx_vdev *vd, unsigned int pairs,
		 const int tap_fds[], bool rx_indirect)
{
	unsigned int i;
	int ret;

	memset(n, 0, sizeof(*n));
	n->vd = vd;
	n->pairs = pairs;
	n->mergeable = has(vd, VIRTIO_NET_F_MRG_RXBUF);
	n->rx_indirect = rx_indirect;
	if (rx_indirect && (!n->mergeable || !has(vd, VIRTIO_RING_F_INDIRECT_DESC)))
		return -EINVAL;
	if (rx_indirect)
		n->rx_buf_len = INDIRECT_BUF;
	else if (n->mergeable)
		n->rx_buf_len = MERGEABLE_BUF;
	else if (has(vd, VIRTIO_NET_F_GUEST_TSO4) || has(vd, VIRTIO_NET_F_GUEST_TSO6))
		n->rx_buf_len = BIG_BUF;
	else
		n->rx_buf_len = SMALL_BUF;
	n->tx_buf_len = HDR_LEN + MAX_FRAME;
	n->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (n->stop_fd < 0)
		return -errno;
	for (i = 0; i < pairs; i++) {
		n->pair[i].n = n;
		n->pair[i].index = i;
		n->pair[i].tap_fd = tap_fds[i];
	}
	for (i = 0; i < pairs; i++) {
		ret = pair_start(n, &n->pair[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int vnet_start(struct vnet *n, struct vx_vdev *vd, unsigned int pairs,
	       const int tap_fds[])
{
	return start(n, vd, pairs, tap_fds, false);
}

int vnet_start_indirect_rx(struct vnet *n, struct vx_vdev *vd, unsigned int pairs,
			   const int tap_fds[])
{
	return start(n, vd, pairs, tap_fds, true);
}

void vnet_stop(struct vnet *n)
{
	uint64_t one = 1;
	unsigned int i;

	if (write(n->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort();
	for (i = 0; i < n->pairs; i++)
		if (n->pair[i].thread)
			pthread_join(n->pair[i].thread, NULL);
	close(n->stop_fd);
}

int vnet_free(struct vnet *n)
{
	struct vx_guest *g = n->vd->g;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n->pairs; i++) {
		struct vnet_pair *p = &n->pair[i];
		size_t rx_bytes = (size_t)p->rx_slots * n->rx_buf_len;
		size_t tx_bytes = (size_t)p->tx_slots * n->tx_buf_len;

		/* Pool memory went with the device's pool (vdev_close). */
		if (!p->rx_pooled) {
			if (p->rx_dma && guest_dma_unmap(g, p->rx_dma, rx_bytes))
				ret = -EBUSY;
			guest_free(g, p->rx_mem, rx_bytes);
		}
		if (!p->tx_pooled) {
			if (p->tx_dma && guest_dma_unmap(g, p->tx_dma, tx_bytes))
				ret = -EBUSY;
			guest_free(g, p->tx_mem, tx_bytes);
		}
		if (p->rx_tables) {
			if (p->rx_tables_dma &&
			    guest_dma_unmap(g, p->rx_tables_dma, rx_tables_bytes(p)))
				ret = -EBUSY;
			guest_free(g, p->rx_tables, rx_tables_bytes(p));
		}
		free(p->frame);
		free(p->tx_free_list);
		close(p->tap_fd);
	}
	if (n->ctrl_mem) {
		if (guest_dma_free(g, n->ctrl_mem, VX_PAGE_SIZE, n->ctrl_dma))
			ret = -EBUSY;
	}
	return ret;
}

int vnet_ctrl(struct vnet *n, uint8_t class, uint8_t cmd, const void *data,
	      size_t len)
{
	struct driver_vq *vq = &n->vd->vqs[vnet_ctrl_index(n->vd)];
	struct dvq_buf b[2];
	uint8_t *ack;
	int waited;

	if (len + 2 >= VX_PAGE_SIZE)
		return -EINVAL;
	if (!n->ctrl_mem) {
		n->ctrl_mem = guest_dma_alloc(n->vd->g, VX_PAGE_SIZE, &n->ctrl_dma);
		if (!n->ctrl_mem)
			return -ENOMEM;
	}
	n->ctrl_mem[0] = class;
	n->ctrl_mem[1] = cmd;
	if (len)
		memcpy(n->ctrl_mem + 2, data, len);
	ack = n->ctrl_mem + VX_PAGE_SIZE - 1;
	*ack = 0xff;
	b[0] = (struct dvq_buf){ n->ctrl_dma, len + 2, false };
	b[1] = (struct dvq_buf){ n->ctrl_dma + VX_PAGE_SIZE - 1, 1, true };
	if (dvq_add(vq, b, 2, n) < 0)
		return -ENOSPC;
	dvq_kick(vq);
	for (waited = 0; waited < PATIENCE_MS; waited += 10) {
		if (dvq_get(vq, NULL))
			return *ack;
		dvq_enable_cb(vq);
		dvq_wait(vq, 10);
	}
	return -ETIMEDOUT;
}
