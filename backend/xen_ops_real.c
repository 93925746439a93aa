// SPDX-License-Identifier: GPL-2.0-only
/* xen_ops on the real libxenevtchn and libxengnttab. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "xen_ops.h"

struct vx_evtchn {
	xenevtchn_handle *xce;
	evtchn_port_t port;
};

struct vx_gnttab {
	xengnttab_handle *xgt;
	uint32_t domid;
};

static int real_init(uint32_t self_domid)
{
	return 0;
}

static struct vx_evtchn *real_evtchn_bind(uint32_t domid, uint32_t remote_port)
{
	struct vx_evtchn *ec = calloc(1, sizeof(*ec));
	xenevtchn_port_or_error_t port;
	int fd;

	if (!ec)
		return NULL;
	ec->xce = xenevtchn_open(NULL, 0);
	if (!ec->xce)
		goto err_free;
	/*
	 * The device blocks in read() by default: evtchn_consume must return
	 * when nothing is pending, or the queue thread sleeps until the next
	 * kick with its completions unserved.
	 */
	fd = xenevtchn_fd(ec->xce);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		goto err_close;
	port = xenevtchn_bind_interdomain(ec->xce, domid, remote_port);
	if (port < 0)
		goto err_close;
	ec->port = port;
	return ec;

err_close:
	xenevtchn_close(ec->xce);
err_free:
	free(ec);
	return NULL;
}

static void real_evtchn_close(struct vx_evtchn *ec)
{
	xenevtchn_unbind(ec->xce, ec->port);
	xenevtchn_close(ec->xce);
	free(ec);
}

static int real_evtchn_fd(struct vx_evtchn *ec)
{
	return xenevtchn_fd(ec->xce);
}

static int real_evtchn_notify(struct vx_evtchn *ec)
{
	return xenevtchn_notify(ec->xce, ec->port);
}

static bool real_evtchn_consume(struct vx_evtchn *ec)
{
	bool any = false;
	xenevtchn_port_or_error_t port;

	/* The handle holds one port, so whatever is pending is ours. */
	while ((port = xenevtchn_pending(ec->xce)) >= 0) {
		xenevtchn_unmask(ec->xce, port);
		any = true;
	}
	return any;
}

static struct vx_gnttab *real_gnttab_open(uint32_t domid)
{
	struct vx_gnttab *gt = calloc(1, sizeof(*gt));

	if (!gt)
		return NULL;
	gt->xgt = xengnttab_open(NULL, 0);
	if (!gt->xgt) {
		free(gt);
		return NULL;
	}
	gt->domid = domid;
	return gt;
}

static void real_gnttab_close(struct vx_gnttab *gt)
{
	xengnttab_close(gt->xgt);
	free(gt);
}

static void *real_gnttab_map(struct vx_gnttab *gt, uint32_t count,
			     const uint32_t *refs, bool writable)
{
	return xengnttab_map_domain_grant_refs(gt->xgt, count, gt->domid,
					       (uint32_t *)refs,
					       PROT_READ | (writable ? PROT_WRITE : 0));
}

static int real_gnttab_unmap(struct vx_gnttab *gt, void *addr, uint32_t count)
{
	return xengnttab_unmap(gt->xgt, addr, count);
}

static int real_gnttab_copy(struct vx_gnttab *gt, uint32_t count,
			    xengnttab_grant_copy_segment_t *segs)
{
	return xengnttab_grant_copy(gt->xgt, count, segs);
}

const struct xen_ops xen_ops_real = {
	.name = "xen",
	.init = real_init,
	.evtchn_bind = real_evtchn_bind,
	.evtchn_close = real_evtchn_close,
	.evtchn_fd = real_evtchn_fd,
	.evtchn_notify = real_evtchn_notify,
	.evtchn_consume = real_evtchn_consume,
	.gnttab_open = real_gnttab_open,
	.gnttab_close = real_gnttab_close,
	.gnttab_map = real_gnttab_map,
	.gnttab_unmap = real_gnttab_unmap,
	.gnttab_copy = real_gnttab_copy,
};
