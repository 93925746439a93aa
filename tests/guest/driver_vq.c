// SPDX-License-Identifier: GPL-2.0-only
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "driver_vq.h"
#include "protocol.h"

/* The avail_event field after the used ring (virtio 1.2, 2.7.8). */
static volatile uint16_t *avail_event(struct driver_vq *vq)
{
	return (volatile uint16_t *)((uint8_t *)vq->used + 4 +
				     sizeof(struct vring_used_elem) * vq->size);
}

/* The used_event field after the available ring. */
static volatile uint16_t *used_event(struct driver_vq *vq)
{
	return (volatile uint16_t *)((uint8_t *)vq->avail + 4 + 2 * vq->size);
}

int dvq_create(struct driver_vq *vq, struct vx_guest *g, unsigned int size,
	       bool event_idx)
{
	unsigned int i;

	memset(vq, 0, sizeof(*vq));
	vq->g = g;
	vq->size = size;
	vq->event_idx = event_idx;
	vq->desc = guest_dma_alloc(g, vx_desc_area_size(size), &vq->desc_dma);
	vq->avail = guest_dma_alloc(g, vx_driver_area_size(size), &vq->avail_dma);
	vq->used = guest_dma_alloc(g, vx_device_area_size(size), &vq->used_dma);
	vq->tokens = calloc(size, sizeof(void *));
	vq->next = calloc(size, sizeof(*vq->next));
	vq->chain_len = calloc(size, sizeof(*vq->chain_len));
	vq->port = sim_evtchn_alloc_unbound(g->dom, g->backend_domid);
	if (!vq->desc || !vq->avail || !vq->used || !vq->tokens || !vq->next ||
	    !vq->chain_len || !vq->port)
		return -ENOMEM;
	for (i = 0; i < size - 1; i++)
		vq->next[i] = i + 1;
	vq->num_free = size;
	return 0;
}

int dvq_destroy(struct driver_vq *vq)
{
	int ret = 0;

	if (vq->port)
		sim_evtchn_close(vq->port);
	if (vq->desc && guest_dma_free(vq->g, vq->desc, vx_desc_area_size(vq->size),
				       vq->desc_dma))
		ret = -EBUSY;
	if (vq->avail && guest_dma_free(vq->g, vq->avail,
					vx_driver_area_size(vq->size), vq->avail_dma))
		ret = -EBUSY;
	if (vq->used && guest_dma_free(vq->g, vq->used,
				       vx_device_area_size(vq->size), vq->used_dma))
		ret = -EBUSY;
	free(vq->tokens);
	free(vq->next);
	free(vq->chain_len);
	memset(vq, 0, sizeof(*vq));
	return ret;
}

void dvq_abandon(struct driver_vq *vq)
{
	if (vq->port)
		sim_evtchn_close(vq->port);
	free(vq->tokens);
	free(vq->next);
	free(vq->chain_len);
	memset(vq, 0, sizeof(*vq));
}

int dvq_add(struct driver_vq *vq, const struct dvq_buf *bufs, unsigned int n,
	    void *token)
{
	uint16_t head, i;
	unsigned int k;

	if (!n || n > vq->num_free)
		return -ENOSPC;
	head = i = vq->free_head;
	for (k = 0; k < n; k++) {
		struct vring_desc *d = &vq->desc[i];

		d->addr = htole64(bufs[k].addr);
		d->len = htole32(bufs[k].len);
		d->flags = htole16((bufs[k].device_writes ? VRING_DESC_F_WRITE : 0) |
				   (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = htole16(vq->next[i]);
		i = vq->next[i];
	}
	vq->free_head = i;
	vq->num_free -= n;
	vq->tokens[head] = token;
	vq->chain_len[head] = n;
	vq->avail->ring[vq->avail_idx % vq->size] = htole16(head);
	vq->avail_idx++;
	return head;
}

void dvq_kick(struct driver_vq *vq)
{
	uint16_t old = vq->kicked_avail, new = vq->avail_idx;
	bool kick;

	__atomic_store_n(&vq->avail->idx, htole16(new), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx)
		kick = vring_need_event(le16toh(*avail_event(vq)),
					new, old);
	else
		kick = !(le16toh(*(volatile uint16_t *)&vq->used->flags) &
			 VRING_USED_F_NO_NOTIFY);
	vq->kicked_avail = new;
	if (kick)
		sim_evtchn_notify(vq->port);
}

void *dvq_get(struct driver_vq *vq, uint32_t *len)
{
	uint16_t used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	struct vring_used_elem e;
	uint16_t i, head, n;
	void *token;

	if (used_idx == vq->last_used)
		return NULL;
	e = vq->used->ring[vq->last_used % vq->size];
	vq->last_used++;
	i = le32toh(e.id);
	if (i >= vq->size || !vq->tokens[i])
		abort();	/* the backend broke the ring: a test bug to see */
	token = vq->tokens[i];
	vq->tokens[i] = NULL;
	if (len)
		*len = le32toh(e.len);
	head = i;
	for (n = 1; n < vq->chain_len[head]; n++)
		i = vq->next[i];
	vq->next[i] = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
	return token;
}

bool dvq_enable_cb(struct driver_vq *vq)
{
	if (vq->event_idx)
		*used_event(vq) = htole16(vq->last_used);
	else
		vq->avail->flags = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) !=
	       vq->last_used;
}

bool dvq_wait(struct driver_vq *vq, int ms)
{
	struct pollfd p = { .fd = sim_evtchn_fd(vq->port), .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return false;
	sim_evtchn_consume(vq->port);
	return true;
}
