// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net (backend/net.c) from a guest that writes anything: transmit
 * chains (virtio-net headers and frames), control commands (RX, MAC tables,
 * VLAN, MQ, ANNOUNCE), a received frame placed in receive chains, and a
 * previous daemon's saved settings, torn or not.  net.c is compiled into
 * this file, its statics and all; its TAP is /dev/null, so frames go nowhere
 * and the TAP's ioctls fail, as a detached TAP's would.  Half the inputs
 * have a grant pool over some of the guest's pages, and with it a frame is
 * also read straight into receive chains in the pool.
 *
 * Checked: every chain is completed at most once, transmit with 0 bytes,
 * control with the 1-byte ack, receive with the frame's bytes spread over
 * its chains within their writable lengths; the filter and the active pairs
 * stay within what the device offered; nothing stays mapped.
 */
#include "../../backend/net.c"

#include "fake-device.h"
#include "fuzz-input.h"

#define QSIZE		16
#define PAIRS		2

static int dev_null;
static struct net_saved saved;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dev_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	return dev_null < 0;
}

static void check_filter(const struct net_nic *nic)
{
	if ((nic->filter.n_uni && !nic->filter.uni) || (nic->filter.n_multi && !nic->filter.multi) ||
	    (size_t)(nic->filter.n_uni + nic->filter.n_multi) * ETH_ALEN > NET_CTRL_MAX ||
	    nic->active_pairs < 1 || nic->active_pairs > nic->pairs)
		abort();
}

/*
 * The frame read straight into the stash's chains in the pool, from a pipe
 * that holds it alone (a TAP's read): placed whole or not at all.
 */
static void rx_direct_once(struct vx_queue *q, struct net_queue *nq, struct net_nic *nic)
{
	unsigned int before = fake_nr_done, k;
	size_t placed = 0;
	int pfd[2], r;

	/* A pipe would cut a longer one short silently, where a TAP says so. */
	if (nq->frame_len > rx_read_max(q->dev, nic))
		return;
	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC))
		abort();
	if (write(pfd[1], nq->frame, nq->frame_len) != (ssize_t)nq->frame_len)
		abort();
	r = rx_direct(q, nq, pfd[0], rx_read_max(q->dev, nic));
	for (k = before; k < fake_nr_done; k++)
		placed += fake_done[k].len;
	if (r != 1 && fake_nr_done != before)
		abort();	/* only a frame completes chains */
	if (fake_nr_done > before && placed != nq->frame_len)
		abort();
	if (r == 2)
		rx_stash_drop(q, nq);
	close(pfd[0]);
	close(pfd[1]);
}

/* Each completion is of a chain taken and not completed yet, with its length. */
static void settle(enum net_role role, bool *taken, const uint64_t *writable,
		   unsigned int *settled)
{
	for (; *settled < fake_nr_done; (*settled)++) {
		const struct fake_completion *c = &fake_done[*settled];

		if (!taken[c->head] || c->len != (role == NET_TX ? 0u : 1u) ||
		    c->len > writable[c->head])
			abort();
		taken[c->head] = false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image in = { data, size };
	uint8_t flags = take8(&in);
	enum net_role role = flags % 3;
	struct vx_device dev = { 0 };
	struct vx_queue q = { 0 };
	struct net_queue nq = { 0 };
	struct net_nic *nic = calloc(1, sizeof(*nic));
	struct vring_desc desc[QSIZE];
	struct { uint16_t flags, idx, ring[QSIZE], used_event; } avail = { 0 };
	struct { uint16_t flags, idx; struct vring_used_elem ring[QSIZE]; uint16_t avail_event; }
		used __attribute__((aligned(4))) = { 0 };
	struct vq_seg segs[QSIZE];
	uint64_t writable[QSIZE] = { 0 };
	bool taken[QSIZE] = { false };
	unsigned int i, n, settled = 0;
	uint16_t seen;

	if (!nic)
		abort();
	fake_nr_done = 0;
	fake_failed = false;
	dev.model = &net_model;
	dev.model_priv = nic;
	dev.driver_features = (uint64_t)take8(&in) << 24 | (uint64_t)take8(&in) << 16 |
			      take16(&in) | VX_FEATURE(VX_F_VERSION_1);
	dev.gnttab = xen_gnttab_open(1);
	if (flags & 0x20)
		fake_pool(&dev);
	nic->pairs = PAIRS;
	nic->active_pairs = 1;
	nic->mtu = 1500;
	nic->link_up = !(flags & 0x80);
	memcpy(nic->mac, "\x00\x16\x3e\x01\x02\x03", ETH_ALEN);
	pthread_mutex_init(&nic->lock, NULL);
	for (i = 0; i < PAIRS; i++) {
		nic->pair[i].tap_fd = dev_null;
		nic->pair[i].wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}

	/* A previous daemon's settings, as a resume finds them. */
	if (flags & 0x40) {
		take(&in, &saved, sizeof(saved) < 512 ? sizeof(saved) : 512);
		saved.table_len = take16(&in);
		dev.model_state = &saved;
		dev.resumed = true;
		n = net_restore(&dev, nic);
		if (n < 1 || n > nic->pairs)
			abort();
		nic->active_pairs = n;
		check_filter(nic);
	}
	dev.model_state = &saved;

	for (i = 0; i < QSIZE; i++) {
		uint32_t ref = take8(&in) % (FAKE_PAGES + 2);
		uint16_t off = take16(&in) & 0xfff;
		uint32_t len = take16(&in);
		uint8_t f = take8(&in);

		desc[i].addr = htole64(vx_grant_addr(ref, off));
		desc[i].len = htole32(f & 0x80 ? len << 4 : len);
		desc[i].flags = htole16(f & 7);
		desc[i].next = htole16(take8(&in) % (QSIZE + 1));
	}
	n = take8(&in) % (QSIZE + 1);
	for (i = 0; i < n; i++)
		avail.ring[i] = htole16(take8(&in) % QSIZE);
	avail.idx = htole16(n);
	for (i = 0; i < FAKE_PAGES; i++)
		fake_readonly[i] = (i & 1) && (flags & 4);

	nq.role = role;
	nq.frame = calloc(1, NET_HDR_LEN + NET_MAX_FRAME);
	nq.heads = calloc(QSIZE, sizeof(*nq.heads));
	nq.lens = calloc(QSIZE, sizeof(*nq.lens));
	nq.iov = calloc(NET_IOV_MAX, sizeof(*nq.iov));
	nq.stash.heads = calloc(QSIZE, sizeof(*nq.stash.heads));
	nq.stash.lens = calloc(QSIZE, sizeof(*nq.stash.lens));
	nq.stash.niov = calloc(QSIZE, sizeof(*nq.stash.niov));
	if (!nq.frame || !nq.heads || !nq.lens || !nq.iov || !nq.stash.heads ||
	    !nq.stash.lens || !nq.stash.niov)
		abort();
	if (role == NET_RX) {
		nq.cur = nq.frame;
		nq.frame_len = NET_HDR_LEN + ETH_HLEN + take16(&in) % 4096;
		take(&in, nq.frame, nq.frame_len);
	}
	memset(fake_mem, 0, sizeof(fake_mem));
	take(&in, fake_mem, in.left < sizeof(fake_mem) ? in.left : sizeof(fake_mem));

	q.dev = &dev;
	q.size = QSIZE;
	q.chain.segs = segs;
	q.model_priv = &nq;
	if (role == NET_TX && tx_ring_init(&q, &nq))
		abort();
	if (vq_init(&q.vq, QSIZE, desc, &avail, &used,
		    dev_has_feature(&dev, VX_F_EVENT_IDX),
		    dev_has_feature(&dev, VX_F_INDIRECT_DESC)))
		abort();
	q.vq.read_guest = gmem_read;
	q.vq.read_opaque = &dev;

	if (role == NET_RX && dev.pool)
		rx_direct_once(&q, &nq, nic);
	if (role == NET_RX && !fake_failed) {
		/* Each pass places the frame once, or waits for buffers. */
		for (i = 0; i < 4 && !fake_failed; i++) {
			size_t placed = 0;
			unsigned int before = fake_nr_done;
			int r = rx_place(&q, &nq, &seen);

			if (r < 0)
				break;
			for (n = before; n < fake_nr_done; n++)
				placed += fake_done[n].len;
			if (r == 1 && fake_nr_done > before && placed != nq.frame_len)
				abort();	/* the frame's bytes, all of them */
			if (r == 0 && fake_nr_done != before)
				abort();	/* a wait completes nothing */
		}
	} else {
		for (;;) {
			int r = vq_pop_chain(&q.vq, &q.chain);

			if (r <= 0)
				break;
			if (taken[q.chain.head])
				abort();
			taken[q.chain.head] = true;
			writable[q.chain.head] = q.chain.writable_len;
			r = net_handle_chain(&q, &q.chain);
			settle(role, taken, writable, &settled);
			check_filter(nic);
			if (r) {
				if (!fake_failed)
					abort();
				break;
			}
		}
		/* The round's end, or the queue's stop: the batched writes go. */
		if (role == NET_TX && net_complete(&q) && !fake_failed)
			abort();
		settle(role, taken, writable, &settled);
		if (role == NET_TX && nq.ring_ok && nq.nr_free != QSIZE)
			abort();	/* a transmit chain never completed */
	}
	if (fake_maps)
		abort();

	vq_destroy(&q.vq);
	gmem_thread_exit();
	if (nq.ring_ok)
		io_uring_queue_exit(&nq.ring);
	free(nq.slots);
	free(nq.free_slots);
	free(nq.frame);
	free(nq.heads);
	free(nq.lens);
	free(nq.iov);
	free(nq.stash.heads);
	free(nq.stash.lens);
	free(nq.stash.niov);
	for (i = 0; i < PAIRS; i++)
		close(nic->pair[i].wake_fd);
	free(nic->filter.uni);
	free(nic->filter.multi);
	pthread_mutex_destroy(&nic->lock);
	free(nic);
	return 0;
}
