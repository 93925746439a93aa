// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio over xenbus: a virtio transport for Xen PV guests.
 *
 * Each xenstore device of type "virtio" becomes one virtio_device, and so
 * does each of type "virtio_disk", which libxl makes for a disk with
 * specification=virtio.  Device status, features and configuration space
 * travel through xenstore, each virtqueue has an event channel of its own,
 * and rings and buffers are granted to the backend by the DMA ops of
 * grant_dma.c, most through the device's grant pool.  docs/protocol.md in
 * the virtio-xenbus sources is the contract with the backend.
 */

#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <linux/workqueue.h>
#include <xen/events.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "compat.h"
#include "virtio_xenbus.h"

#define VXB_PROTOCOL_VERSION	1
#define VXB_MAX_QUEUES		64
#define VXB_MAX_CONFIG		256
#define VXB_MAX_QUEUE_SIZE	32768
/* protocol.md 1.2: the most a backend's pool-max-pages may say. */
#define VXB_POOL_MAX_PAGES	4096U
/* PCI vendor ID of XenSource, as the virtio vendor of our devices. */
#define VXB_VENDOR		0x5853
/*
 * How often a status wait looks again when no watch event woke it: from
 * 10 ms, doubling up to a second.
 */
#define VXB_STATUS_POLL_MS	10
#define VXB_STATUS_POLL_MAX_MS	1000

static unsigned int status_warn_ms = 5000;
module_param(status_warn_ms, uint, 0644);
MODULE_PARM_DESC(status_warn_ms,
		 "How often a status change the backend has not answered yet says so (ms); it waits for as long as the backend is there");

static int pool_pages = -1;
module_param(pool_pages, int, 0644);
MODULE_PARM_DESC(pool_pages,
		 "Pages of each device's grant pool, at most what its backend maps: -1 sized from its queues, 0 no pool (taken at the next driver probe or reset)");

struct vxb_vq {
	struct virtqueue *vq;
	evtchn_port_t port;
	int irq;
	char name[32];
};

struct vxb_virtio;

/* One xenbus device: what the xenbus side owns, for the device's life. */
struct vxb_device {
	struct xenbus_device *xbdev;
	struct vxb_virtio *vv;		/* the registered virtio device, or NULL */
	bool frozen;			/* suspended: restore at the next InitWait */

	struct work_struct connect_work;	/* register or restore */
	struct work_struct close_work;		/* backend hot-unplug */
	struct mutex lock;		/* vv and frozen, against those works */

	/* Published by the backend (protocol.md 1.2). */
	u32 device_id;
	u64 features;
	unsigned int max_queues;
	unsigned int max_queue_size;
	unsigned int pool_max_pages;	/* 0: the backend maps no pool */

	struct mutex status_lock;	/* one status request at a time */
	u32 status_seq;
	u8 status;			/* the backend's last answer (vxb_get_status) */
	wait_queue_head_t status_wq;
	atomic_t status_events;
	struct xenbus_watch status_watch;
	struct xenbus_watch config_watch;

	spinlock_t config_lock;		/* the config snapshot below */
	u8 config[VXB_MAX_CONFIG];
	unsigned int config_len;
	u32 config_generation;

	unsigned int nr_vqs;
	struct vxb_vq vqs[VXB_MAX_QUEUES];
	struct vxb_pool *pool;		/* from find_vqs to del_vqs, or NULL */
};

/* The virtio device; freed by its release, which may come after remove. */
struct vxb_virtio {
	struct virtio_device vdev;
	struct vxb_device *vxb;
};

static struct vxb_device *to_vxb(struct virtio_device *vdev)
{
	return container_of(vdev, struct vxb_virtio, vdev)->vxb;
}

/* ---- reading what the backend published ---- */

static int read_u64(const char *dir, const char *node, int base, u64 *out)
{
	char *s = xenbus_read(XBT_NIL, dir, node, NULL);
	int ret;

	if (IS_ERR(s))
		return PTR_ERR(s);
	if (base == 16)
		ret = strncmp(s, "0x", 2) ? -EINVAL : kstrtou64(s + 2, 16, out);
	else
		ret = s[0] == '+' ? -EINVAL : kstrtou64(s, 10, out);
	kfree(s);
	return ret;
}

static int read_u32(const char *dir, const char *node, u32 max, u32 *out)
{
	u64 v;
	int ret = read_u64(dir, node, 10, &v);

	if (ret)
		return ret;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Reads config and config-generation as one transaction wrote them. */
static int read_config(struct vxb_device *vxb, u8 *buf, unsigned int *len,
		       u32 *generation)
{
	const char *be = vxb->xbdev->otherend;
	struct xenbus_transaction xbt;
	unsigned int n;
	char *hex;
	int ret, scanned;

again:
	ret = xenbus_transaction_start(&xbt);
	if (ret)
		return ret;
	hex = xenbus_read(xbt, be, "config", &n);
	if (IS_ERR(hex)) {
		xenbus_transaction_end(xbt, 1);
		return PTR_ERR(hex);
	}
	scanned = xenbus_scanf(xbt, be, "config-generation", "%u", generation);
	ret = xenbus_transaction_end(xbt, 0);
	if (ret == -EAGAIN) {
		kfree(hex);
		goto again;
	}
	if (!ret && scanned != 1)
		ret = scanned < 0 ? scanned : -EINVAL;
	if (!ret && (n % 2 || n / 2 > VXB_MAX_CONFIG || hex2bin(buf, hex, n / 2)))
		ret = -EINVAL;
	*len = n / 2;
	kfree(hex);
	return ret;
}

static int refresh_config(struct vxb_device *vxb)
{
	u8 *buf = kmalloc(VXB_MAX_CONFIG, GFP_KERNEL);
	unsigned int len;
	u32 generation;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = read_config(vxb, buf, &len, &generation);
	if (!ret) {
		spin_lock(&vxb->config_lock);
		memcpy(vxb->config, buf, len);
		vxb->config_len = len;
		vxb->config_generation = generation;
		spin_unlock(&vxb->config_lock);
	}
	kfree(buf);
	return ret;
}

static int read_device(struct vxb_device *vxb)
{
	const char *be = vxb->xbdev->otherend;
	u32 version;
	int ret;

	ret = read_u32(be, "protocol-version", U32_MAX, &version);
	if (ret)
		return ret;
	if (version != VXB_PROTOCOL_VERSION) {
		dev_err(&vxb->xbdev->dev, "backend speaks protocol %u, not %u\n",
			version, VXB_PROTOCOL_VERSION);
		return -EPROTO;
	}
	ret = read_u32(be, "device-id", U16_MAX, &vxb->device_id) ?:
	      read_u64(be, "features", 16, &vxb->features) ?:
	      read_u32(be, "max-queues", VXB_MAX_QUEUES, &vxb->max_queues) ?:
	      read_u32(be, "max-queue-size", VXB_MAX_QUEUE_SIZE,
		       &vxb->max_queue_size) ?:
	      refresh_config(vxb);
	if (ret)
		return ret;
	/* Never more than the protocol allows, whatever a backend says. */
	ret = read_u32(be, "pool-max-pages", U32_MAX, &vxb->pool_max_pages);
	if (ret == -ENOENT)
		vxb->pool_max_pages = 0;
	else if (ret)
		return ret;
	vxb->pool_max_pages = min(vxb->pool_max_pages, VXB_POOL_MAX_PAGES);
	if (!vxb->max_queues || vxb->max_queue_size < 2 ||
	    !is_power_of_2(vxb->max_queue_size))
		return -EINVAL;
	return 0;
}

/* ---- status: a request and its answer (protocol.md 2.1) ---- */

/* Our requests count on from the sequence number already there, if any. */
static void read_status_seq(struct vxb_device *vxb)
{
	if (read_u32(vxb->xbdev->nodename, "status-seq", U32_MAX,
		     &vxb->status_seq))
		vxb->status_seq = 0;
}

static bool status_answered(struct vxb_device *vxb, u32 seq, u8 *status)
{
	const char *be = vxb->xbdev->otherend;
	u32 answered, s;

	if (read_u32(be, "device-status-seq", U32_MAX, &answered) ||
	    answered != seq || read_u32(be, "device-status", U8_MAX, &s))
		return false;
	*status = s;
	return true;
}

/*
 * The backend is gone when its directory (or its domain, which holds it)
 * is, or when it is Closed: then it holds nothing of the device (2.3).
 * Closing is not gone: the backend answers there, so a driver can reset.
 */
static enum xenbus_state vxb_backend_state(struct vxb_device *vxb)
{
	return vxb_read_state(vxb->xbdev, vxb->xbdev->otherend);
}

static bool vxb_backend_gone(enum xenbus_state state)
{
	return state == XenbusStateUnknown || state == XenbusStateClosed;
}

/*
 * Writes @status and waits for the backend's answer, for as long as the
 * backend is there: a slow backend means a late answer, never a lost
 * device.  Watch events wake the wait; it also looks again now and then,
 * because it may run in the xenwatch thread (a hot-unplug removing the
 * device), where no watch event can arrive until it returns.  Returns 0
 * with the answer, or -ENODEV once the backend is gone (for a reset, a
 * Closed backend is the answer: it holds nothing).
 */
static int request_status(struct vxb_device *vxb, u8 status, u8 *answer)
{
	struct xenbus_device *xbdev = vxb->xbdev;
	unsigned int poll_ms = VXB_STATUS_POLL_MS;
	unsigned long start, next_warn;
	struct xenbus_transaction xbt;
	enum xenbus_state state;
	u32 seq;
	int ret;

	mutex_lock(&vxb->status_lock);
	seq = ++vxb->status_seq;
again:
	ret = xenbus_transaction_start(&xbt);
	if (ret)
		goto out;
	ret = xenbus_printf(xbt, xbdev->nodename, "status", "%u", status) ?:
	      xenbus_printf(xbt, xbdev->nodename, "status-seq", "%u", seq);
	if (ret) {
		xenbus_transaction_end(xbt, 1);
		goto out;
	}
	ret = xenbus_transaction_end(xbt, 0);
	if (ret == -EAGAIN)
		goto again;
	if (ret)
		goto out;

	start = jiffies;
	next_warn = start + msecs_to_jiffies(status_warn_ms);
	for (;;) {
		int seen = atomic_read(&vxb->status_events);

		if (status_answered(vxb, seq, answer))
			break;
		state = vxb_backend_state(vxb);
		if (vxb_backend_gone(state)) {
			if (!status && state == XenbusStateClosed) {
				*answer = 0;
				break;
			}
			ret = -ENODEV;
			break;
		}
		if (time_after(jiffies, next_warn)) {
			dev_warn(&xbdev->dev, "status %#x: still waiting for the backend (%u s)\n",
				 status, jiffies_to_msecs(jiffies - start) / 1000);
			next_warn = jiffies + msecs_to_jiffies(status_warn_ms);
		}
		wait_event_timeout(vxb->status_wq,
				   atomic_read(&vxb->status_events) != seen,
				   msecs_to_jiffies(poll_ms));
		poll_ms = min(2 * poll_ms, VXB_STATUS_POLL_MAX_MS);
	}
	if (!ret) {
		WRITE_ONCE(vxb->status, *answer);
	} else if (!status) {
		/* The backend may still map the rings: see vxb_reset. */
		WRITE_ONCE(vxb->status, 0);
	} else {
		/* Nothing the driver asked for happened; it finds its bit missing. */
		WRITE_ONCE(vxb->status, vxb->status | VIRTIO_CONFIG_S_NEEDS_RESET);
	}
out:
	mutex_unlock(&vxb->status_lock);
	if (ret)
		dev_err(&xbdev->dev, "status %#x: %s (%d)\n", status,
			ret == -ENODEV ? "the backend is gone" : "cannot write the request",
			ret);
	return ret;
}

static void status_changed(struct xenbus_watch *watch, const char *path,
			   const char *token)
{
	struct vxb_device *vxb = container_of(watch, struct vxb_device,
					      status_watch);

	u32 status;

	atomic_inc(&vxb->status_events);
	wake_up_all(&vxb->status_wq);
	if (!read_u32(vxb->xbdev->otherend, "device-status", U8_MAX, &status) &&
	    (status & VIRTIO_CONFIG_S_NEEDS_RESET))
		dev_err_ratelimited(&vxb->xbdev->dev, "the backend asks for a device reset\n");
}

static void config_changed(struct xenbus_watch *watch, const char *path,
			   const char *token)
{
	struct vxb_device *vxb = container_of(watch, struct vxb_device,
					      config_watch);
	u32 before = vxb->config_generation;

	if (refresh_config(vxb) || vxb->config_generation == before)
		return;
	/* vv cannot go away under us: remove unregisters this watch first. */
	if (READ_ONCE(vxb->vv))
		virtio_config_changed(&vxb->vv->vdev);
}

/* ---- virtio_config_ops ---- */

static void vxb_get(struct virtio_device *vdev, unsigned int offset, void *buf,
		    unsigned int len)
{
	struct vxb_device *vxb = to_vxb(vdev);

	spin_lock(&vxb->config_lock);
	if (offset + len <= vxb->config_len && offset + len >= offset)
		memcpy(buf, vxb->config + offset, len);
	else
		memset(buf, 0, len);
	spin_unlock(&vxb->config_lock);
}

static void vxb_set(struct virtio_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	/* Protocol v1 offers no writable configuration field. */
	dev_warn_once(&vdev->dev, "configuration write at %u ignored\n", offset);
}

static u32 vxb_generation(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);
	u32 generation;

	spin_lock(&vxb->config_lock);
	generation = vxb->config_generation;
	spin_unlock(&vxb->config_lock);
	return generation;
}

/*
 * What the driver set, as the backend answered it: virtio builds the next
 * status from this, so it must never be an answer of before.  The backend
 * may add NEEDS_RESET on its own to its last answer (2.1).
 */
static u8 vxb_get_status(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);
	u8 status = READ_ONCE(vxb->status), now;

	if (!(status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	    status_answered(vxb, READ_ONCE(vxb->status_seq), &now))
		status |= now & VIRTIO_CONFIG_S_NEEDS_RESET;
	return status;
}

static void vxb_set_status(struct virtio_device *vdev, u8 status)
{
	struct vxb_device *vxb = to_vxb(vdev);
	u8 answer;

	/* virtio sets bits one at a time; reset has its own operation. */
	if (WARN_ON(!status))
		return;
	if (request_status(vxb, status, &answer))
		return;
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    (answer & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(answer & VIRTIO_CONFIG_S_NEEDS_RESET))
		xenbus_switch_state(vxb->xbdev, XenbusStateConnected);
}

static void vxb_reset(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);
	u8 answer;

	/*
	 * Once answered, the backend holds no grant of ours: rings and
	 * buffers may be freed.  With the backend gone unanswered, grant_dma.c
	 * keeps any page it may still map out of the allocator, and the device
	 * reads as reset: the driver has given it up.
	 */
	if (!request_status(vxb, 0, &answer) && answer)
		dev_err(&vdev->dev, "reset answered with status %#x\n", answer);
}

static u64 vxb_get_features(struct virtio_device *vdev)
{
	return to_vxb(vdev)->features;
}

static int vxb_finalize_features(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);

	vring_transport_features(vdev);
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1) ||
	    !__virtio_test_bit(vdev, VIRTIO_F_ACCESS_PLATFORM)) {
		dev_err(&vdev->dev, "the device must offer VERSION_1 and ACCESS_PLATFORM\n");
		return -EINVAL;
	}
	return xenbus_printf(XBT_NIL, vxb->xbdev->nodename, "driver-features",
			     "0x%llx", vdev->features);
}

static const char *vxb_bus_name(struct virtio_device *vdev)
{
	return to_vxb(vdev)->xbdev->nodename;
}

/* ---- virtqueues ---- */

static bool vxb_notify(struct virtqueue *vq)
{
	struct vxb_vq *info = vq->priv;

	notify_remote_via_evtchn(info->port);
	return true;
}

static irqreturn_t vxb_interrupt(int irq, void *opaque)
{
	struct vxb_vq *info = opaque;

	return vring_interrupt(irq, info->vq);
}

static void vxb_del_vq(struct vxb_device *vxb, struct vxb_vq *info)
{
	char dir[16];

	if (!info->vq)
		return;
	snprintf(dir, sizeof(dir), "queue-%u", info->vq->index);
	/* Closing the port unbinds the backend's end as well. */
	unbind_from_irqhandler(info->irq, info);
	vring_del_virtqueue(info->vq);
	info->vq = NULL;
	xenbus_rm(XBT_NIL, vxb->xbdev->nodename, dir);
}

#ifndef VXB_HAVE_VIRTQUEUE_INFO
/* What find_vqs asks for a queue, as Linux 6.11 and later spell it. */
struct virtqueue_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};
#endif

struct vxb_pool *vxb_pool_of(struct device *dev)
{
	struct vxb_device *vxb = dev_get_drvdata(dev);

	return vxb ? READ_ONCE(vxb->pool) : NULL;
}

/*
 * A disk's descriptors carry many pages each (indirect tables of up to
 * seg_max segments): its pool holds at least 4 MiB a queue by default,
 * about the 1056 grants blkback keeps mapped a ring, so that a few 1 MiB
 * requests in flight fit in it.
 */
#define VXB_POOL_DISK_QUEUE_PAGES	1024

/*
 * The pool, before the rings so that they are carved from it: by default a
 * page per descriptor (for a disk, VXB_POOL_DISK_QUEUE_PAGES at least) and
 * the ring areas of each queue, which holds a full queue of page-sized
 * buffers.  Without one, every buffer is granted alone.
 */
static void vxb_create_pool(struct vxb_device *vxb, unsigned int nvqs,
			    struct virtqueue_info vqs_info[])
{
	unsigned int pages = 0, data = vxb->max_queue_size, i;
	struct vxb_pool *pool;

	if (!vxb->pool_max_pages || !pool_pages)
		return;
	if (vxb->device_id == VIRTIO_ID_BLOCK)
		data = max(data, VXB_POOL_DISK_QUEUE_PAGES);
	if (pool_pages > 0) {
		pages = pool_pages;
	} else {
		for (i = 0; i < nvqs; i++)
			if (vqs_info[i].name)
				pages += data +
					 PFN_UP(vring_size(vxb->max_queue_size,
							   PAGE_SIZE));
	}
	pages = min(pages, vxb->pool_max_pages);
	if (!pages)
		return;
	pool = vxb_pool_create(vxb->xbdev, pages);
	if (IS_ERR(pool)) {
		dev_warn(&vxb->xbdev->dev, "no grant pool of %u pages (%ld): buffers are granted one by one\n",
			 pages, PTR_ERR(pool));
		return;
	}
	WRITE_ONCE(vxb->pool, pool);
}

static void vxb_del_vqs(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);
	const char *fe = vxb->xbdev->nodename;
	unsigned int i;

	for (i = 0; i < vxb->nr_vqs; i++)
		vxb_del_vq(vxb, &vxb->vqs[i]);
	vxb->nr_vqs = 0;
	xenbus_rm(XBT_NIL, fe, "num-queues");
	if (vxb->pool) {
		xenbus_rm(XBT_NIL, fe, "pool-ref");
		xenbus_rm(XBT_NIL, fe, "pool-pages");
		vxb_pool_destroy(vxb->pool);
		WRITE_ONCE(vxb->pool, NULL);
	}
}

/* Creates queue @index and its event channel; the keys are written later. */
static int vxb_setup_vq(struct vxb_device *vxb, struct virtio_device *vdev,
			unsigned int index, vq_callback_t *callback,
			const char *name, bool ctx)
{
	struct vxb_vq *info = &vxb->vqs[index];
	int ret;

	snprintf(info->name, sizeof(info->name), "%s-%s",
		 dev_name(&vdev->dev), name);
	info->vq = vring_create_virtqueue(index, vxb->max_queue_size,
					  PAGE_SIZE, vdev, true, true, ctx,
					  vxb_notify, callback, name);
	if (!info->vq)
		return -ENOMEM;
	info->vq->priv = info;

	ret = xenbus_alloc_evtchn(vxb->xbdev, &info->port);
	if (ret)
		goto err_vq;
	ret = bind_evtchn_to_irqhandler(info->port, vxb_interrupt, 0,
					info->name, info);
	if (ret < 0) {
		xenbus_free_evtchn(vxb->xbdev, info->port);
		goto err_vq;
	}
	info->irq = ret;
	return 0;

err_vq:
	vring_del_virtqueue(info->vq);
	info->vq = NULL;
	return ret;
}

/* protocol.md 1.3: every queue's keys and num-queues, in one transaction. */
static int vxb_publish_vqs(struct vxb_device *vxb)
{
	const char *fe = vxb->xbdev->nodename;
	struct xenbus_transaction xbt;
	unsigned int i;
	char *dir;
	int ret;

again:
	ret = xenbus_transaction_start(&xbt);
	if (ret)
		return ret;
	for (i = 0; i < vxb->nr_vqs && !ret; i++) {
		struct virtqueue *vq = vxb->vqs[i].vq;

		if (!vq)
			continue;
		dir = kasprintf(GFP_KERNEL, "%s/queue-%u", fe, i);
		if (!dir) {
			ret = -ENOMEM;
			break;
		}
		ret = xenbus_printf(xbt, dir, "size", "%u",
				    virtqueue_get_vring_size(vq)) ?:
		      xenbus_printf(xbt, dir, "desc", "0x%llx",
				    (u64)virtqueue_get_desc_addr(vq)) ?:
		      xenbus_printf(xbt, dir, "driver", "0x%llx",
				    (u64)virtqueue_get_avail_addr(vq)) ?:
		      xenbus_printf(xbt, dir, "device", "0x%llx",
				    (u64)virtqueue_get_used_addr(vq)) ?:
		      xenbus_printf(xbt, dir, "event-channel", "%u",
				    vxb->vqs[i].port);
		kfree(dir);
	}
	if (!ret && vxb->pool)
		ret = xenbus_printf(xbt, fe, "pool-ref", "%u",
				    vxb_pool_ref(vxb->pool)) ?:
		      xenbus_printf(xbt, fe, "pool-pages", "%u",
				    vxb_pool_pages(vxb->pool));
	if (!ret)
		ret = xenbus_printf(xbt, fe, "num-queues", "%u", vxb->nr_vqs);
	if (ret) {
		xenbus_transaction_end(xbt, 1);
		return ret;
	}
	ret = xenbus_transaction_end(xbt, 0);
	if (ret == -EAGAIN)
		goto again;
	return ret;
}

static int vxb_find_vqs_info(struct virtio_device *vdev, unsigned int nvqs,
			     struct virtqueue *vqs[],
			     struct virtqueue_info vqs_info[],
			     struct irq_affinity *desc)
{
	struct vxb_device *vxb = to_vxb(vdev);
	unsigned int i;
	int ret;

	if (nvqs > vxb->max_queues) {
		dev_err(&vdev->dev, "%u queues asked, the device has %u\n",
			nvqs, vxb->max_queues);
		return -ENOENT;
	}
	/*
	 * With CONFIG_XEN_VIRTIO the virtio core may have put upstream's grant
	 * DMA ops on our device, for dom0; ours grant to the real backend.
	 */
	vxb_use_grant_dma(vxb->xbdev);
	vxb_create_pool(vxb, nvqs, vqs_info);
	vxb->nr_vqs = nvqs;
	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!vqs_info[i].name)
			continue;
		ret = vxb_setup_vq(vxb, vdev, i, vqs_info[i].callback,
				   vqs_info[i].name, vqs_info[i].ctx);
		if (ret)
			goto err;
		vqs[i] = vxb->vqs[i].vq;
	}
	ret = vxb_publish_vqs(vxb);
	if (ret)
		goto err;
	return 0;

err:
	dev_err(&vdev->dev, "cannot set up queue %u: %d\n", i, ret);
	vxb_del_vqs(vdev);
	return ret;
}

#ifdef VXB_HAVE_VIRTQUEUE_INFO
#define vxb_find_vqs vxb_find_vqs_info
#else
static int vxb_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			struct virtqueue *vqs[], vq_callback_t *callbacks[],
			const char * const names[], const bool *ctx,
			struct irq_affinity *desc)
{
	struct virtqueue_info *info;
	unsigned int i;
	int ret;

	info = kcalloc(nvqs, sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	for (i = 0; i < nvqs; i++)
		info[i] = (struct virtqueue_info){ names[i], callbacks[i],
						   ctx ? ctx[i] : false };
	ret = vxb_find_vqs_info(vdev, nvqs, vqs, info, desc);
	kfree(info);
	return ret;
}
#endif

static void vxb_synchronize_cbs(struct virtio_device *vdev)
{
	struct vxb_device *vxb = to_vxb(vdev);
	unsigned int i;

	for (i = 0; i < vxb->nr_vqs; i++)
		if (vxb->vqs[i].vq)
			synchronize_irq(vxb->vqs[i].irq);
}

static int vxb_set_vq_affinity(struct virtqueue *vq,
			       const struct cpumask *cpu_mask)
{
	struct vxb_vq *info = vq->priv;

	return irq_set_affinity_and_hint(info->irq, cpu_mask);
}

static const struct virtio_config_ops vxb_config_ops = {
	.get = vxb_get,
	.set = vxb_set,
	.generation = vxb_generation,
	.get_status = vxb_get_status,
	.set_status = vxb_set_status,
	.reset = vxb_reset,
	.find_vqs = vxb_find_vqs,
	.del_vqs = vxb_del_vqs,
	.synchronize_cbs = vxb_synchronize_cbs,
	.get_features = vxb_get_features,
	.finalize_features = vxb_finalize_features,
	.bus_name = vxb_bus_name,
	.set_vq_affinity = vxb_set_vq_affinity,
};

/* ---- the device's life on xenbus ---- */

static int vxb_watch(struct vxb_device *vxb, struct xenbus_watch *watch,
		     void (*callback)(struct xenbus_watch *, const char *,
				      const char *), const char *node)
{
	return xenbus_watch_pathfmt(vxb->xbdev, watch, NULL, callback, "%s/%s",
				    vxb->xbdev->otherend, node);
}

static void vxb_unwatch(struct xenbus_watch *watch)
{
	if (!watch->node)
		return;
	unregister_xenbus_watch(watch);
	kfree(watch->node);
	watch->node = NULL;
}

/* What we follow of the backend: its status answers and config changes. */
static void vxb_unwatch_backend(struct vxb_device *vxb)
{
	vxb_unwatch(&vxb->config_watch);
	vxb_unwatch(&vxb->status_watch);
}

static int vxb_watch_backend(struct vxb_device *vxb)
{
	int ret;

	ret = vxb_watch(vxb, &vxb->status_watch, status_changed, "device-status");
	if (!ret)
		ret = vxb_watch(vxb, &vxb->config_watch, config_changed,
				"config-generation");
	if (ret)
		vxb_unwatch_backend(vxb);
	return ret;
}

#ifdef CONFIG_PM_SLEEP
/*
 * Xen's save and migration freeze every device before the domain suspends.
 * If the hypervisor cancels the suspend (a checkpoint, or a save that
 * failed), the domain carries on with the same backend and xenbus tells no
 * driver: our thaw restores the device at once.  Otherwise the domain wakes
 * with a new backend, and the restore waits for it to publish the device
 * (InitWait); the grants of before were freed at the freeze.
 */
static int vxb_freeze(struct device *dev)
{
	struct vxb_device *vxb = to_vxb(dev_to_virtio(dev));
	int ret;

	cancel_work_sync(&vxb->connect_work);
	mutex_lock(&vxb->lock);
	ret = virtio_device_freeze(&vxb->vv->vdev);
	vxb->frozen = !ret;
	mutex_unlock(&vxb->lock);
	return ret;
}

static int vxb_thaw(struct device *dev)
{
	schedule_work(&to_vxb(dev_to_virtio(dev))->connect_work);
	return 0;
}

static int vxb_restore(struct device *dev)
{
	struct vxb_device *vxb = to_vxb(dev_to_virtio(dev));
	struct xenbus_device *xbdev = vxb->xbdev;
	int ret;

	/*
	 * xenbus has found the new backend, whose directory may be elsewhere
	 * (another domain id).  Our status requests count on: the backend
	 * answers any number but its last, and the device may be restoring
	 * already (the backend's InitWait can come first).
	 */
	vxb_unwatch_backend(vxb);
	ret = vxb_watch_backend(vxb);
	if (ret) {
		dev_err(dev, "cannot watch the new backend: %d\n", ret);
		return ret;
	}
	if (vxb_read_state(xbdev, xbdev->otherend) == XenbusStateInitWait)
		schedule_work(&vxb->connect_work);
	return 0;
}

static const struct dev_pm_ops vxb_vdev_pm_ops = {
	.freeze = vxb_freeze,
	.thaw = vxb_thaw,
	.restore = vxb_restore,
};
#endif

/*
 * The virtio bus has no power management of its own; the transport gives
 * its devices theirs, as virtio_pci does through the PCI driver.
 */
static const struct device_type vxb_vdev_type = {
	.name = "virtio-xenbus",
#ifdef CONFIG_PM_SLEEP
	.pm = &vxb_vdev_pm_ops,
#endif
};

static void vxb_release_vdev(struct device *dev)
{
	kfree(container_of(dev_to_virtio(dev), struct vxb_virtio, vdev));
}

static void vxb_register(struct vxb_device *vxb)
{
	struct xenbus_device *xbdev = vxb->xbdev;
	struct vxb_virtio *vv;
	int ret;

	ret = read_device(vxb);
	if (ret) {
		xenbus_dev_fatal(xbdev, ret, "reading the backend's device keys");
		return;
	}
	vv = kzalloc(sizeof(*vv), GFP_KERNEL);
	if (!vv)
		return;
	vv->vxb = vxb;
	vv->vdev.id.device = vxb->device_id;
	vv->vdev.id.vendor = VXB_VENDOR;
	vv->vdev.config = &vxb_config_ops;
	vv->vdev.dev.parent = &xbdev->dev;
	vv->vdev.dev.type = &vxb_vdev_type;
	vv->vdev.dev.release = vxb_release_vdev;
	ret = register_virtio_device(&vv->vdev);
	if (ret) {
		put_device(&vv->vdev.dev);
		xenbus_dev_fatal(xbdev, ret, "registering the virtio device");
		return;
	}
	WRITE_ONCE(vxb->vv, vv);
}

static void vxb_unregister(struct vxb_device *vxb)
{
	struct vxb_virtio *vv = vxb->vv;

	if (!vv)
		return;
	WRITE_ONCE(vxb->vv, NULL);
	/* The driver's remove resets the device and frees its queues. */
	unregister_virtio_device(&vv->vdev);
}

static void vxb_connect_work(struct work_struct *work)
{
	struct vxb_device *vxb = container_of(work, struct vxb_device,
					      connect_work);
	int ret;

	mutex_lock(&vxb->lock);
	if (vxb->frozen) {
		vxb->frozen = false;
		ret = read_device(vxb);
		if (!ret)
			ret = virtio_device_restore(&vxb->vv->vdev);
		if (ret)
			dev_err(&vxb->xbdev->dev, "cannot restore the device: %d\n", ret);
	} else if (!vxb->vv) {
		vxb_register(vxb);
	}
	mutex_unlock(&vxb->lock);
}

static void vxb_close_work(struct work_struct *work)
{
	struct vxb_device *vxb = container_of(work, struct vxb_device,
					      close_work);

	mutex_lock(&vxb->lock);
	vxb_unregister(vxb);
	mutex_unlock(&vxb->lock);
	xenbus_frontend_closed(vxb->xbdev);
}

static void vxb_backend_changed(struct xenbus_device *xbdev,
				enum xenbus_state backend_state)
{
	struct vxb_device *vxb = dev_get_drvdata(&xbdev->dev);

	switch (backend_state) {
	case XenbusStateInitWait:
		if (xbdev->state == XenbusStateInitialising)
			schedule_work(&vxb->connect_work);
		break;
	case XenbusStateClosing:
		if (xbdev->state != XenbusStateClosing &&
		    xbdev->state != XenbusStateClosed)
			schedule_work(&vxb->close_work);
		break;
	case XenbusStateClosed:
		/*
		 * While we ask for the device (a rebind or reload after a
		 * close), Closed is the backend's answer to our previous
		 * life: it publishes the device again, and InitWait follows.
		 */
		if (xbdev->state == XenbusStateClosed ||
		    xbdev->state == XenbusStateInitialising)
			break;
		schedule_work(&vxb->close_work);
		break;
	default:
		break;
	}
}

static int vxb_probe(struct xenbus_device *xbdev,
		     const struct xenbus_device_id *id)
{
	struct vxb_device *vxb;
	int ret;

	vxb = kzalloc(sizeof(*vxb), GFP_KERNEL);
	if (!vxb)
		return -ENOMEM;
	vxb->xbdev = xbdev;
	mutex_init(&vxb->lock);
	mutex_init(&vxb->status_lock);
	init_waitqueue_head(&vxb->status_wq);
	spin_lock_init(&vxb->config_lock);
	INIT_WORK(&vxb->connect_work, vxb_connect_work);
	INIT_WORK(&vxb->close_work, vxb_close_work);
	read_status_seq(vxb);
	dev_set_drvdata(&xbdev->dev, vxb);
	vxb_use_grant_dma(xbdev);

	ret = vxb_watch_backend(vxb);
	if (ret)
		goto err;
	ret = xenbus_switch_state(xbdev, XenbusStateInitialising);
	if (ret)
		goto err;
	/* The backend may have reached InitWait before we came. */
	if (vxb_read_state(xbdev, xbdev->otherend) == XenbusStateInitWait)
		schedule_work(&vxb->connect_work);
	return 0;

err:
	vxb_unwatch_backend(vxb);
	vxb_drop_grant_dma(xbdev);
	dev_set_drvdata(&xbdev->dev, NULL);
	kfree(vxb);
	return ret;
}

static void vxb_remove(struct xenbus_device *xbdev)
{
	struct vxb_device *vxb = dev_get_drvdata(&xbdev->dev);

	cancel_work_sync(&vxb->connect_work);
	cancel_work_sync(&vxb->close_work);
	mutex_lock(&vxb->lock);
	vxb_unregister(vxb);
	mutex_unlock(&vxb->lock);
	vxb_unwatch_backend(vxb);
	vxb_drop_grant_dma(xbdev);
	dev_set_drvdata(&xbdev->dev, NULL);
	kfree(vxb);
}

static const struct xenbus_device_id vxb_ids[] = {
	{ "virtio" },
	{ "virtio_disk" },
	{ "" }
};

static struct xenbus_driver vxb_driver = {
	.ids = vxb_ids,
	.probe = vxb_probe,
	.remove = vxb_remove,
	.otherend_changed = vxb_backend_changed,
	.not_essential = true,
};

static int __init vxb_init(void)
{
	if (!xen_domain())
		return -ENODEV;
	return xenbus_register_frontend(&vxb_driver);
}
module_init(vxb_init);

static void __exit vxb_exit(void)
{
	xenbus_unregister_driver(&vxb_driver);
}
module_exit(vxb_exit);

MODULE_DESCRIPTION("virtio over xenbus: virtio devices for Xen PV guests");
MODULE_LICENSE("GPL");
MODULE_ALIAS("xen:virtio");
MODULE_ALIAS("xen:virtio_disk");
