// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdev.h"
#include "xsvalue.h"

int vdev_write(struct vx_vdev *vd, const char *key, const char *fmt, ...)
{
	char path[256], val[600];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", vd->fe, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write(vd->g->xs, XBT_NULL, path, val, strlen(val)) ? 0 : -errno;
}

static char *read_key(struct vx_vdev *vd, xs_transaction_t t, const char *dir,
		      const char *key)
{
	char path[256];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(vd->g->xs, t, path, &len);
}

char *vdev_read_backend(struct vx_vdev *vd, const char *key)
{
	return read_key(vd, XBT_NULL, vd->be, key);
}

static bool read_dec(struct vx_vdev *vd, xs_transaction_t t, const char *key,
		     uint64_t max, uint64_t *v)
{
	char *s = read_key(vd, t, vd->be, key);
	bool ok = vx_parse_dec_str(s, max, v);

	free(s);
	return ok;
}

int vdev_backend_state(struct vx_vdev *vd)
{
	uint64_t v;

	return read_dec(vd, XBT_NULL, "state", 6, &v) ? (int)v : -1;
}

bool vdev_wait_backend_state(struct vx_vdev *vd, int state, int ms)
{
	for (; ms >= 0; ms -= 2) {
		if (vdev_backend_state(vd) == state)
			return true;
		poll(NULL, 0, 2);
	}
	return false;
}

int vdev_probe(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid)
{
	return vdev_probe_kind(vd, g, VX_KIND_VIRTIO, devid);
}

int vdev_probe_kind(struct vx_vdev *vd, struct vx_guest *g, enum vx_kind kind,
		    uint32_t devid)
{
	char *s, *cfg = NULL;
	uint64_t v;
	xs_transaction_t t;
	bool ok;

	memset(vd, 0, sizeof(*vd));
	vd->g = g;
	vd->devid = devid;
	snprintf(vd->fe, sizeof(vd->fe), "/local/domain/%u/device/%s/%u",
		 g->domid, vx_kind_type(kind), devid);
	s = read_key(vd, XBT_NULL, vd->fe, "backend");
	if (!s)
		return -ENOENT;
	snprintf(vd->be, sizeof(vd->be), "%s", s);
	free(s);
	if (!vdev_wait_backend_state(vd, VX_STATE_INITWAIT, PATIENCE_MS))
		return -ETIMEDOUT;

	s = vdev_read_backend(vd, "protocol-version");
	ok = vx_parse_dec_str(s, UINT32_MAX, &v) && v == VX_PROTOCOL_VERSION;
	free(s);
	if (!ok)
		return -EPROTO;
	s = vdev_read_backend(vd, "features");
	ok = s && vx_parse_hex64(s, strlen(s), &vd->features);
	free(s);
	if (!ok || !read_dec(vd, XBT_NULL, "device-id", UINT32_MAX, &v))
		return -EPROTO;
	vd->device_id = v;
	if (!read_dec(vd, XBT_NULL, "max-queues", VX_MAX_QUEUES, &v) || !v)
		return -EPROTO;
	vd->max_queues = v;
	if (read_dec(vd, XBT_NULL, "pool-max-pages", UINT32_MAX, &v))
		vd->pool_max_pages = v;
	if (!read_dec(vd, XBT_NULL, "max-queue-size", VX_MAX_QUEUE_SIZE, &v))
		return -EPROTO;
	vd->max_queue_size = v;
	if (!read_dec(vd, XBT_NULL, "device-status-seq", UINT32_MAX, &v))
		return -EPROTO;
	vd->status_seq = v;

	/* config and its generation, as one snapshot. */
	do {
		t = xs_transaction_start(g->xs);
		free(cfg);
		cfg = read_key(vd, t, vd->be, "config");
		ok = read_dec(vd, t, "config-generation", UINT32_MAX, &v);
	} while (!xs_transaction_end(g->xs, t, false) && errno == EAGAIN);
	ok = ok && cfg && vx_parse_hexbytes(cfg, strlen(cfg), vd->config,
					    sizeof(vd->config), &vd->config_len);
	free(cfg);
	if (!ok)
		return -EPROTO;
	vd->config_generation = v;
	return 0;
}

int vdev_read_status(struct vx_vdev *vd)
{
	uint64_t v;

	return read_dec(vd, XBT_NULL, "device-status", 255, &v) ? (int)v : -EPROTO;
}

int vdev_request_status(struct vx_vdev *vd, uint8_t status)
{
	xs_transaction_t t;
	char path[256], val[16];

	vd->status_seq++;
	vd->requested = status;
	do {
		t = xs_transaction_start(vd->g->xs);
		if (t == XBT_NULL)
			return -errno;
		snprintf(path, sizeof(path), "%s/status", vd->fe);
		snprintf(val, sizeof(val), "%u", status);
		xs_write(vd->g->xs, t, path, val, strlen(val));
		snprintf(path, sizeof(path), "%s/status-seq", vd->fe);
		snprintf(val, sizeof(val), "%u", vd->status_seq);
		xs_write(vd->g->xs, t, path, val, strlen(val));
	} while (!xs_transaction_end(vd->g->xs, t, false) && errno == EAGAIN);
	return 0;
}

int vdev_status_answer(struct vx_vdev *vd)
{
	uint64_t seq;

	if (read_dec(vd, XBT_NULL, "device-status-seq", UINT32_MAX, &seq) &&
	    seq == vd->status_seq)
		return vdev_read_status(vd);
	return -EAGAIN;
}

int vdev_wait_status_answer(struct vx_vdev *vd)
{
	int ms, s;

	/*
	 * As virtio_xenbus.ko: wait while the backend is there (its state is
	 * neither Closed nor gone), saying so now and then.
	 */
	for (ms = 0; ms < PATIENCE_MS; ms++) {
		s = vdev_status_answer(vd);
		if (s != -EAGAIN)
			return s;
		if (!(ms % 100)) {
			int state = vdev_backend_state(vd);

			if (state < 0 || state == VX_STATE_CLOSED)
				return -ENODEV;
		}
		if (ms && !(ms % 5000))
			fprintf(stderr, "%s: status %#x: still waiting for the backend after %d s\n",
				vd->fe, vd->requested, ms / 1000);
		poll(NULL, 0, 1);
	}
	return -ETIMEDOUT;
}

int vdev_set_status(struct vx_vdev *vd, uint8_t status)
{
	int ret = vdev_request_status(vd, status);

	return ret ? ret : vdev_wait_status_answer(vd);
}

int vdev_negotiate(struct vx_vdev *vd, uint64_t features)
{
	int s;

	if (vdev_set_status(vd, VX_S_ACKNOWLEDGE) < 0 ||
	    vdev_set_status(vd, VX_S_ACKNOWLEDGE | VX_S_DRIVER) < 0)
		return -EIO;
	vd->driver_features = features;
	vdev_write(vd, "driver-features", "0x%llx", (unsigned long long)features);
	s = vdev_set_status(vd, VX_S_ACKNOWLEDGE | VX_S_DRIVER | VX_S_FEATURES_OK);
	if (s < 0)
		return s;
	return s & VX_S_FEATURES_OK ? 0 : -EINVAL;
}

int vdev_setup_queues(struct vx_vdev *vd, unsigned int n, unsigned int size)
{
	bool event_idx = vd->driver_features & VX_FEATURE(VX_F_EVENT_IDX);
	unsigned int i;
	char key[64];

	if (vd->pool_pages && !vd->pool) {
		vd->pool = gpool_create(vd->g, vd->pool_pages);
		if (!vd->pool)
			return -ENOMEM;
		vdev_write(vd, "pool-ref", "%u", vd->pool->ref);
		vdev_write(vd, "pool-pages", "%u", vd->pool->pages);
	}
	for (i = 0; i < n; i++) {
		struct driver_vq *q = &vd->vqs[i];

		if (dvq_create(q, vd->g, size, event_idx))
			return -ENOMEM;
		vd->nr_queues = i + 1;
		snprintf(key, sizeof(key), "queue-%u/size", i);
		vdev_write(vd, key, "%u", size);
		snprintf(key, sizeof(key), "queue-%u/desc", i);
		vdev_write(vd, key, "0x%llx", (unsigned long long)q->desc_dma);
		snprintf(key, sizeof(key), "queue-%u/driver", i);
		vdev_write(vd, key, "0x%llx", (unsigned long long)q->avail_dma);
		snprintf(key, sizeof(key), "queue-%u/device", i);
		vdev_write(vd, key, "0x%llx", (unsigned long long)q->used_dma);
		snprintf(key, sizeof(key), "queue-%u/event-channel", i);
		vdev_write(vd, key, "%u", sim_evtchn_port(q->port));
	}
	return vdev_write(vd, "num-queues", "%u", n);
}

int vdev_driver_ok(struct vx_vdev *vd)
{
	int s = vdev_set_status(vd, VX_S_ACKNOWLEDGE | VX_S_DRIVER |
				    VX_S_FEATURES_OK | VX_S_DRIVER_OK);

	if (s < 0)
		return s;
	if (!(s & VX_S_DRIVER_OK) || (s & VX_S_NEEDS_RESET))
		return -EIO;
	return vdev_write(vd, "state", "%d", VX_STATE_CONNECTED);
}

int vdev_connect(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid,
		 unsigned int nr_queues, uint64_t feature_mask)
{
	return vdev_connect_pool(vd, g, devid, nr_queues, feature_mask, 0);
}

int vdev_connect_pool(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid,
		      unsigned int nr_queues, uint64_t feature_mask,
		      uint32_t pool_pages)
{
	int ret = vdev_probe(vd, g, devid);

	if (ret)
		return ret;
	return vdev_connect_probed(vd, nr_queues, feature_mask, pool_pages);
}

int vdev_connect_probed(struct vx_vdev *vd, unsigned int nr_queues,
			uint64_t feature_mask, uint32_t pool_pages)
{
	unsigned int size;
	int ret;

	vd->pool_pages = pool_pages;
	ret = vdev_negotiate(vd, vd->features & feature_mask);
	if (ret)
		return ret;
	size = vd->max_queue_size < 128 ? vd->max_queue_size : 128;
	ret = vdev_setup_queues(vd, nr_queues, size);
	if (ret)
		return ret;
	return vdev_driver_ok(vd);
}

int vdev_free_queues(struct vx_vdev *vd)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < vd->nr_queues; i++)
		if (dvq_destroy(&vd->vqs[i]))
			ret = -EBUSY;
	vd->nr_queues = 0;
	if (vd->pool && gpool_destroy(vd->pool))
		ret = -EBUSY;
	vd->pool = NULL;
	return ret;
}

int vdev_dma_map(struct vx_vdev *vd, const void *va, size_t len, bool readonly,
		 uint64_t *dma)
{
	if (vd->pool && !gpool_map(vd->pool, va, len, dma))
		return 0;
	return guest_dma_map(vd->g, va, len, readonly, dma);
}

int vdev_dma_unmap(struct vx_vdev *vd, uint64_t dma, size_t len, void *va,
		   bool device_wrote)
{
	if (vd->pool && gpool_owns(vd->pool, dma)) {
		gpool_unmap(vd->pool, dma, len, va, device_wrote);
		return 0;
	}
	return guest_dma_unmap(vd->g, dma, len);
}

int vdev_reset(struct vx_vdev *vd)
{
	int s = vdev_set_status(vd, 0);

	if (s != 0)
		return s < 0 ? s : -EIO;
	/* The answer came after the backend unmapped: grants may end now. */
	return vdev_free_queues(vd);
}

void vdev_abandon(struct vx_vdev *vd)
{
	unsigned int i;

	for (i = 0; i < vd->nr_queues; i++)
		dvq_abandon(&vd->vqs[i]);
	vd->nr_queues = 0;
	vd->pool = NULL;	/* granted for good, as the rings */
}

int vdev_close(struct vx_vdev *vd)
{
	/* As a driver's remove does: reset, and only then let the grants go. */
	int ret = vdev_reset(vd);

	/* Unanswered: the backend may still use the rings, so keep them granted. */
	if (ret && vd->nr_queues)
		vdev_abandon(vd);
	vdev_write(vd, "state", "%d", VX_STATE_CLOSING);
	vdev_write(vd, "state", "%d", VX_STATE_CLOSED);
	return ret;
}
