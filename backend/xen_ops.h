/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The backend's only door to event channels and grant tables.  Device code
 * calls the inline wrappers below, never libxenevtchn or libxengnttab, so
 * the same code runs on real Xen (xen_ops_real.c) and on the simulated
 * hypervisor (xen_ops_sim.c).  xenstore is not behind this table: it is
 * always the real libxenstore talking to a real xenstored.
 *
 * An event-channel handle holds one port, so each virtqueue polls its own
 * file descriptor.
 */
#ifndef VX_XEN_OPS_H
#define VX_XEN_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include <xengnttab.h>

struct vx_evtchn;
struct vx_gnttab;

struct xen_ops {
	const char *name;
	int (*init)(uint32_t self_domid);

	struct vx_evtchn *(*evtchn_bind)(uint32_t domid, uint32_t remote_port);
	void (*evtchn_close)(struct vx_evtchn *ec);
	int (*evtchn_fd)(struct vx_evtchn *ec);
	int (*evtchn_notify)(struct vx_evtchn *ec);
	/* Consumes pending events and re-arms the port. */
	bool (*evtchn_consume)(struct vx_evtchn *ec);

	struct vx_gnttab *(*gnttab_open)(uint32_t domid);
	void (*gnttab_close)(struct vx_gnttab *gt);
	/* Maps @count grants of the handle's domain into one range. */
	void *(*gnttab_map)(struct vx_gnttab *gt, uint32_t count,
			    const uint32_t *refs, bool writable);
	int (*gnttab_unmap)(struct vx_gnttab *gt, void *addr, uint32_t count);
	/* Sets each segment's status; returns -1 only if the call failed. */
	int (*gnttab_copy)(struct vx_gnttab *gt, uint32_t count,
			   xengnttab_grant_copy_segment_t *segs);
};

extern const struct xen_ops xen_ops_real;
extern const struct xen_ops xen_ops_sim;

/* Chosen once at start-up. */
extern const struct xen_ops *xen_ops;

static inline struct vx_evtchn *xen_evtchn_bind(uint32_t domid, uint32_t port)
{
	return xen_ops->evtchn_bind(domid, port);
}

static inline void xen_evtchn_close(struct vx_evtchn *ec)
{
	if (ec)
		xen_ops->evtchn_close(ec);
}

static inline int xen_evtchn_fd(struct vx_evtchn *ec)
{
	return xen_ops->evtchn_fd(ec);
}

static inline int xen_evtchn_notify(struct vx_evtchn *ec)
{
	return xen_ops->evtchn_notify(ec);
}

static inline bool xen_evtchn_consume(struct vx_evtchn *ec)
{
	return xen_ops->evtchn_consume(ec);
}

static inline struct vx_gnttab *xen_gnttab_open(uint32_t domid)
{
	return xen_ops->gnttab_open(domid);
}

static inline void xen_gnttab_close(struct vx_gnttab *gt)
{
	if (gt)
		xen_ops->gnttab_close(gt);
}

static inline void *xen_gnttab_map(struct vx_gnttab *gt, uint32_t count,
				   const uint32_t *refs, bool writable)
{
	return xen_ops->gnttab_map(gt, count, refs, writable);
}

static inline int xen_gnttab_unmap(struct vx_gnttab *gt, void *addr,
				   uint32_t count)
{
	return xen_ops->gnttab_unmap(gt, addr, count);
}

static inline int xen_gnttab_copy(struct vx_gnttab *gt, uint32_t count,
				  xengnttab_grant_copy_segment_t *segs)
{
	return xen_ops->gnttab_copy(gt, count, segs);
}

#endif
