/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A simulated hypervisor: grant tables and event channels between processes,
 * for tests and for running without Xen.
 *
 * Each simulated domain is one file, <dir>/dom<domid>, shared by every
 * process that plays or serves that domain.  It holds the domain's grant
 * table (real struct grant_entry_v1 entries, written by the guest as a Linux
 * guest writes them), the hypervisor's private pin counts, the domain's
 * event-channel table, and the guest's memory pages.  Grant maps and copies
 * check the entry's domid and GTF flags as Xen does and mark it GTF_reading/
 * GTF_writing while mapped, so a guest cannot end access to a mapped grant.
 *
 * An event-channel port has a FIFO, <dir>/evtchn-<domid>-<port>; the process
 * that bound the port polls it, and a notify from the other end writes one
 * byte into it, unless the port is already pending (Xen's pending bit, in
 * the table, cleared by consume): kicks in a loop fold into one.
 */
#ifndef VX_SIMHV_H
#define VX_SIMHV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xengnttab.h>

struct sim_dom;
struct sim_port;

/* Creates (replacing any old one) the file of a guest domain. */
struct sim_dom *sim_dom_create(const char *dir, uint32_t domid,
			       uint32_t nr_pages, uint32_t nr_grants);
/* Opens an existing domain, or creates an empty one (no memory) if @create. */
struct sim_dom *sim_dom_open(const char *dir, uint32_t domid, bool create);
void sim_dom_close(struct sim_dom *d);
uint32_t sim_dom_id(const struct sim_dom *d);
uint32_t sim_dom_nr_pages(const struct sim_dom *d);
uint32_t sim_dom_nr_grants(const struct sim_dom *d);
/* The guest's view of its own page @gfn. */
void *sim_dom_page(struct sim_dom *d, uint32_t gfn);

/* Guest side: fill and end a grant entry, as Linux's gnttab code does. */
void sim_grant_access(struct sim_dom *d, uint32_t ref, uint32_t remote,
		      uint32_t gfn, bool readonly);
/* Returns 0, or -EBUSY while the grantee still has it mapped. */
int sim_end_access(struct sim_dom *d, uint32_t ref);

/* Device side: maps @count grants of @guest into one contiguous range. */
void *sim_grant_map(struct sim_dom *self, struct sim_dom *guest,
		    uint32_t count, const uint32_t *refs, bool writable);
int sim_grant_unmap(void *addr, uint32_t count);
/* Device side: like GNTTABOP_copy with @guest's grants; sets each status. */
int sim_grant_copy(struct sim_dom *self, struct sim_dom *guest, uint32_t count,
		   xengnttab_grant_copy_segment_t *segs);

/* Event channels. */
struct sim_port *sim_evtchn_alloc_unbound(struct sim_dom *d, uint32_t remote);
struct sim_port *sim_evtchn_bind_interdomain(struct sim_dom *self,
					     const char *dir, uint32_t remote,
					     uint32_t remote_port);
uint32_t sim_evtchn_port(const struct sim_port *p);
int sim_evtchn_fd(const struct sim_port *p);
int sim_evtchn_notify(struct sim_port *p);
/* Consumes pending notifications; returns true if there were any. */
bool sim_evtchn_consume(struct sim_port *p);
void sim_evtchn_close(struct sim_port *p);

/* Counters of this process's simulated hypercalls (atomic), for the benchmark. */
struct sim_stats {
	uint64_t notifies;
	uint64_t map_calls;
	uint64_t copy_calls;
	uint64_t copy_segments;
};
extern struct sim_stats sim_stats;

#endif
