// SPDX-License-Identifier: GPL-2.0-only
/*
 * xen_ops on the simulated hypervisor (sim/simhv.h).  The directory holding
 * the simulated domains comes from VIRTIO_XENBUS_SIM_DIR.
 */
#include <errno.h>
#include <stdlib.h>

#include "sim/simhv.h"
#include "xen_ops.h"

struct vx_gnttab {
	struct sim_dom *guest;
};

static const char *sim_dir;
static struct sim_dom *self_dom;

static int sim_init(uint32_t self_domid)
{
	sim_dir = getenv("VIRTIO_XENBUS_SIM_DIR");
	if (!sim_dir) {
		errno = ENOENT;
		return -1;
	}
	self_dom = sim_dom_open(sim_dir, self_domid, true);
	return self_dom ? 0 : -1;
}

static struct vx_evtchn *sim_evtchn_bind(uint32_t domid, uint32_t remote_port)
{
	return (struct vx_evtchn *)sim_evtchn_bind_interdomain(self_dom, sim_dir,
							      domid, remote_port);
}

static void sim_evtchn_close_op(struct vx_evtchn *ec)
{
	sim_evtchn_close((struct sim_port *)ec);
}

static int sim_evtchn_fd_op(struct vx_evtchn *ec)
{
	return sim_evtchn_fd((struct sim_port *)ec);
}

static int sim_evtchn_notify_op(struct vx_evtchn *ec)
{
	return sim_evtchn_notify((struct sim_port *)ec);
}

static bool sim_evtchn_consume_op(struct vx_evtchn *ec)
{
	return sim_evtchn_consume((struct sim_port *)ec);
}

static struct vx_gnttab *sim_gnttab_open(uint32_t domid)
{
	struct vx_gnttab *gt = calloc(1, sizeof(*gt));

	if (!gt)
		return NULL;
	gt->guest = sim_dom_open(sim_dir, domid, false);
	if (!gt->guest) {
		free(gt);
		return NULL;
	}
	return gt;
}

static void sim_gnttab_close(struct vx_gnttab *gt)
{
	sim_dom_close(gt->guest);
	free(gt);
}

static void *sim_gnttab_map_op(struct vx_gnttab *gt, uint32_t count,
			       const uint32_t *refs, bool writable)
{
	return sim_grant_map(self_dom, gt->guest, count, refs, writable);
}

static int sim_gnttab_unmap_op(struct vx_gnttab *gt, void *addr, uint32_t count)
{
	return sim_grant_unmap(addr, count);
}

static int sim_gnttab_copy_op(struct vx_gnttab *gt, uint32_t count,
			      xengnttab_grant_copy_segment_t *segs)
{
	return sim_grant_copy(self_dom, gt->guest, count, segs);
}

const struct xen_ops xen_ops_sim = {
	.name = "sim",
	.init = sim_init,
	.evtchn_bind = sim_evtchn_bind,
	.evtchn_close = sim_evtchn_close_op,
	.evtchn_fd = sim_evtchn_fd_op,
	.evtchn_notify = sim_evtchn_notify_op,
	.evtchn_consume = sim_evtchn_consume_op,
	.gnttab_open = sim_gnttab_open,
	.gnttab_close = sim_gnttab_close,
	.gnttab_map = sim_gnttab_map_op,
	.gnttab_unmap = sim_gnttab_unmap_op,
	.gnttab_copy = sim_gnttab_copy_op,
};
