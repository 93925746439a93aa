// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated hypervisor keeps Xen's rules: a grant is usable only by the
 * domain it names, read-only grants refuse writes, a mapped grant cannot be
 * ended, and event channels connect only the ports that were offered.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/simhv.h"
#include "../check-run.h"

#define GUEST		5
#define OTHER		7
#define PAGE		4096

static char dir[64];
static struct sim_dom *guest, *backend, *other;

static void up(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vx-simhv.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	guest = sim_dom_create(dir, GUEST, 8, 32);
	backend = sim_dom_open(dir, 0, true);
	other = sim_dom_open(dir, OTHER, true);
	ck_assert(guest && backend && other);
}

static void down(void)
{
	char cmd[100];

	sim_dom_close(guest);
	sim_dom_close(backend);
	sim_dom_close(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint8_t *page(uint32_t gfn)
{
	return sim_dom_page(guest, gfn);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 1000) == 1;
}

static xengnttab_grant_copy_segment_t copy_from(uint32_t ref, uint16_t off,
						uint16_t len, void *buf)
{
	xengnttab_grant_copy_segment_t s = { 0 };

	s.source.foreign.ref = ref;
	s.source.foreign.offset = off;
	s.source.foreign.domid = GUEST;
	s.dest.virt = buf;
	s.len = len;
	s.flags = GNTCOPY_source_gref;
	return s;
}

static xengnttab_grant_copy_segment_t copy_to(uint32_t ref, uint16_t len,
					      void *buf)
{
	xengnttab_grant_copy_segment_t s = { 0 };

	s.dest.foreign.ref = ref;
	s.dest.foreign.domid = GUEST;
	s.source.virt = buf;
	s.len = len;
	s.flags = GNTCOPY_dest_gref;
	return s;
}

START_TEST(a_grant_maps_only_for_the_domain_it_names)
{
	uint32_t ref = 10, ungranted = 11, beyond = 32;
	uint8_t *m;

	memset(page(1), 0xa5, PAGE);
	sim_grant_access(guest, ref, 0, 1, false);
	ck_assert_ptr_null(sim_grant_map(other, guest, 1, &ref, false));
	ck_assert_ptr_null(sim_grant_map(backend, guest, 1, &ungranted, false));
	ck_assert_ptr_null(sim_grant_map(backend, guest, 1, &beyond, false));

	m = sim_grant_map(backend, guest, 1, &ref, true);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m[100], 0xa5);
	m[200] = 0x5a;		/* the guest sees the backend's write */
	ck_assert_int_eq(page(1)[200], 0x5a);
	ck_assert_int_eq(sim_grant_unmap(m, 1), 0);
}
END_TEST

START_TEST(consecutive_references_map_as_one_range)
{
	uint32_t refs[2] = { 2, 3 };
	uint8_t *m;

	memset(page(0), 1, PAGE);
	memset(page(6), 2, PAGE);
	sim_grant_access(guest, 2, 0, 0, true);
	sim_grant_access(guest, 3, 0, 6, true);
	m = sim_grant_map(backend, guest, 2, refs, false);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m[PAGE - 1], 1);
	ck_assert_int_eq(m[PAGE], 2);
	ck_assert_int_eq(sim_grant_unmap(m, 2), 0);
	/* A range with one bad reference maps nothing and pins nothing. */
	refs[1] = 4;
	ck_assert_ptr_null(sim_grant_map(backend, guest, 2, refs, false));
	ck_assert_int_eq(sim_end_access(guest, 2), 0);
}
END_TEST

START_TEST(a_read_only_grant_refuses_writes)
{
	uint32_t ref = 12;
	uint8_t buf[64] = { 9 };
	xengnttab_grant_copy_segment_t s[2];
	uint8_t *m;

	memset(page(2), 0x33, PAGE);
	sim_grant_access(guest, ref, 0, 2, true);
	ck_assert_ptr_null(sim_grant_map(backend, guest, 1, &ref, true));
	m = sim_grant_map(backend, guest, 1, &ref, false);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sim_grant_unmap(m, 1), 0);

	s[0] = copy_to(ref, sizeof(buf), buf);
	s[1] = copy_from(ref, 0, sizeof(buf), buf);
	ck_assert_int_eq(sim_grant_copy(backend, guest, 2, s), 0);
	ck_assert_int_eq(s[0].status, GNTST_permission_denied);
	ck_assert_int_eq(page(2)[0], 0x33);
	ck_assert_int_eq(s[1].status, GNTST_okay);
	ck_assert_int_eq(buf[0], 0x33);
}
END_TEST

START_TEST(copy_checks_each_segment_on_its_own)
{
	uint8_t buf[PAGE];
	xengnttab_grant_copy_segment_t s[4];

	memset(page(3), 0x77, PAGE);
	sim_grant_access(guest, 13, 0, 3, false);
	s[0] = copy_from(13, 4000, 97, buf);	/* crosses the page end */
	s[1] = copy_from(13, 0, 16, buf);
	s[1].source.foreign.domid = OTHER;	/* the wrong granting domain */
	s[2] = copy_from(14, 0, 16, buf);	/* never granted */
	s[3] = copy_from(13, 4000, 96, buf);
	ck_assert_int_eq(sim_grant_copy(backend, guest, 4, s), 0);
	ck_assert_int_eq(s[0].status, GNTST_bad_copy_arg);
	ck_assert_int_eq(s[1].status, GNTST_bad_domain);
	ck_assert_int_eq(s[2].status, GNTST_general_error);
	ck_assert_int_eq(s[3].status, GNTST_okay);
	ck_assert_int_eq(buf[95], 0x77);
	/* A copy pins only for its duration. */
	ck_assert_int_eq(sim_end_access(guest, 13), 0);
}
END_TEST

START_TEST(a_mapped_grant_cannot_be_ended)
{
	uint32_t ref = 15;
	uint8_t *m;

	sim_grant_access(guest, ref, 0, 4, false);
	m = sim_grant_map(backend, guest, 1, &ref, true);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sim_end_access(guest, ref), -EBUSY);
	ck_assert_int_eq(sim_grant_unmap(m, 1), 0);
	ck_assert_int_eq(sim_end_access(guest, ref), 0);
	/* Ended: no longer usable. */
	ck_assert_ptr_null(sim_grant_map(backend, guest, 1, &ref, false));
}
END_TEST

START_TEST(a_dead_mappers_pins_are_dropped)
{
	uint32_t ref = 16;
	pid_t pid;
	int status;

	sim_grant_access(guest, ref, 0, 5, false);
	pid = fork();
	if (!pid) {
		struct sim_dom *b = sim_dom_open(dir, 0, false);

		/* Map and die without unmapping, as a killed backend does. */
		_exit(b && sim_grant_map(b, guest, 1, &ref, true) ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(sim_end_access(guest, ref), 0);
}
END_TEST

START_TEST(event_channels_connect_only_offered_ports)
{
	struct sim_port *gp, *bp, *again, *stranger;

	gp = sim_evtchn_alloc_unbound(guest, 0);
	ck_assert_ptr_nonnull(gp);
	stranger = sim_evtchn_bind_interdomain(other, dir, GUEST, sim_evtchn_port(gp));
	ck_assert_ptr_null(stranger);
	ck_assert_ptr_null(sim_evtchn_bind_interdomain(backend, dir, GUEST, 0));
	bp = sim_evtchn_bind_interdomain(backend, dir, GUEST, sim_evtchn_port(gp));
	ck_assert_ptr_nonnull(bp);
	/* A bound port cannot be taken by a second binding. */
	again = sim_evtchn_bind_interdomain(backend, dir, GUEST, sim_evtchn_port(gp));
	ck_assert_ptr_null(again);

	ck_assert(!sim_evtchn_consume(bp));
	ck_assert_int_eq(sim_evtchn_notify(gp), 0);
	ck_assert(readable(sim_evtchn_fd(bp)));
	ck_assert(sim_evtchn_consume(bp));
	ck_assert(!sim_evtchn_consume(bp));
	ck_assert_int_eq(sim_evtchn_notify(bp), 0);
	ck_assert(readable(sim_evtchn_fd(gp)));
	ck_assert(sim_evtchn_consume(gp));

	/* Closing the backend end leaves the guest's port unbound: rebindable. */
	sim_evtchn_close(bp);
	ck_assert_int_eq(sim_evtchn_notify(gp), 0);
	bp = sim_evtchn_bind_interdomain(backend, dir, GUEST, sim_evtchn_port(gp));
	ck_assert_ptr_nonnull(bp);
	ck_assert_int_eq(sim_evtchn_notify(gp), 0);
	ck_assert(readable(sim_evtchn_fd(bp)));
	sim_evtchn_close(bp);
	sim_evtchn_close(gp);
}
END_TEST

/*
 * A backend killed while bound, then a new one bound on another port: the
 * guest's kicks reach the new port, not the dead one's FIFO.
 */
START_TEST(kicks_reach_a_restarted_backends_new_port)
{
	struct sim_port *gp, *held, *bp;
	uint32_t dead_port;
	int fds[2], status;
	pid_t pid;

	gp = sim_evtchn_alloc_unbound(guest, 0);
	ck_assert_ptr_nonnull(gp);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		struct sim_dom *b = sim_dom_open(dir, 0, false);
		struct sim_port *p = b ? sim_evtchn_bind_interdomain(b, dir, GUEST,
								   sim_evtchn_port(gp)) : NULL;
		uint32_t port = p ? sim_evtchn_port(p) : 0;

		/* Dies bound, as a killed daemon does. */
		_exit(write(fds[1], &port, sizeof(port)) == sizeof(port) ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(read(fds[0], &dead_port, sizeof(dead_port)), sizeof(dead_port));
	ck_assert_uint_ne(dead_port, 0);
	close(fds[0]);
	close(fds[1]);
	/* The guest kicked the old backend: it holds that port's FIFO. */
	ck_assert_int_eq(sim_evtchn_notify(gp), 0);

	/* Another channel takes the dead port; the new binding gets the next. */
	held = sim_evtchn_alloc_unbound(backend, OTHER);
	ck_assert_ptr_nonnull(held);
	ck_assert_uint_eq(sim_evtchn_port(held), dead_port);
	bp = sim_evtchn_bind_interdomain(backend, dir, GUEST, sim_evtchn_port(gp));
	ck_assert_ptr_nonnull(bp);
	ck_assert_uint_ne(sim_evtchn_port(bp), dead_port);
	sim_evtchn_consume(bp);
	ck_assert_int_eq(sim_evtchn_notify(gp), 0);
	ck_assert_msg(readable(sim_evtchn_fd(bp)), "the kick went to the dead port's FIFO");
	ck_assert(!sim_evtchn_consume(held));
	sim_evtchn_close(bp);
	sim_evtchn_close(held);
	sim_evtchn_close(gp);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		a_grant_maps_only_for_the_domain_it_names,
		consecutive_references_map_as_one_range,
		a_read_only_grant_refuses_writes,
		copy_checks_each_segment_on_its_own,
		a_mapped_grant_cannot_be_ended,
		a_dead_mappers_pins_are_dropped,
		event_channels_connect_only_offered_ports,
		kicks_reach_a_restarted_backends_new_port,
	};

	return RUN_TESTS("simhv", tests, up, down, 0);
}
