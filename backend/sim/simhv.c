// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#include "simhv.h"

#define SIM_MAGIC	0x76787368	/* "vxsh" */
#define SIM_PAGE	4096UL
#define SIM_NR_PORTS	1024
#define SIM_DIR_MAX	200	/* keeps every path below within SIM_PATH_MAX */
#define SIM_PATH_MAX	256
#define SIM_ALIGN(x)	(((x) + SIM_PAGE - 1) & ~(SIM_PAGE - 1))

enum { PORT_FREE, PORT_UNBOUND, PORT_INTERDOMAIN, PORT_CLAIMED };

struct sim_header {
	uint32_t magic;
	uint32_t domid;
	uint32_t nr_grants;
	uint32_t nr_ports;
	uint32_t nr_pages;
	uint32_t pad;
	uint64_t grant_off, active_off, port_off, mem_off, size;
};

/* What Xen keeps about a grant in use, out of the guest's reach. */
struct sim_active {
	uint32_t read_pins;
	uint32_t write_pins;
	int32_t pid;		/* last process to map it */
};

struct sim_port_entry {
	uint32_t state;
	uint32_t remote_dom;
	uint32_t remote_port;
	int32_t pid;		/* the process that holds the port */
	uint32_t fifo_gen;	/* bumped each time the port's FIFO is made anew */
	uint32_t pending;	/* Xen's pending bit: a byte is in the FIFO */
};

struct sim_dom {
	char dir[SIM_DIR_MAX + 1];
	int fd;
	struct sim_header *hdr;
	struct grant_entry_v1 *grants;
	struct sim_active *active;
	struct sim_port_entry *ports;
	uint8_t *mem;
};

struct sim_port {
	struct sim_dom *dom;
	uint32_t port;
	int fd;
	int peer_fd;		/* the remote port's FIFO, while peer_gen holds */
	uint32_t peer_port;	/* the remote port peer_fd is of */
	uint32_t peer_gen;
	struct sim_dom *peer;	/* the remote domain, opened when first needed */
};

struct sim_stats sim_stats;

static void *dom_map(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct sim_dom *dom_attach(const char *dir, int fd)
{
	struct sim_dom *d = calloc(1, sizeof(*d));
	struct sim_header hdr;
	uint8_t *base;

	if (!d)
		return NULL;
	if (strlen(dir) > SIM_DIR_MAX)
		goto err_free;
	if (pread(fd, &hdr, sizeof(hdr), 0) != sizeof(hdr) ||
	    hdr.magic != SIM_MAGIC)
		goto err_free;
	base = dom_map(fd, hdr.size);
	if (!base)
		goto err_free;
	snprintf(d->dir, sizeof(d->dir), "%.*s", SIM_DIR_MAX, dir);
	d->fd = fd;
	d->hdr = (struct sim_header *)base;
	d->grants = (void *)(base + hdr.grant_off);
	d->active = (void *)(base + hdr.active_off);
	d->ports = (void *)(base + hdr.port_off);
	d->mem = base + hdr.mem_off;
	return d;

err_free:
	free(d);
	return NULL;
}

static int dom_file_create(const char *dir, uint32_t domid, uint32_t nr_pages,
			   uint32_t nr_grants)
{
	char tmp[SIM_PATH_MAX], path[SIM_PATH_MAX];
	struct sim_header hdr = {
		.magic = SIM_MAGIC, .domid = domid, .nr_grants = nr_grants,
		.nr_ports = SIM_NR_PORTS, .nr_pages = nr_pages,
	};
	int fd;

	if (strlen(dir) > SIM_DIR_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	hdr.grant_off = SIM_PAGE;
	hdr.active_off = SIM_ALIGN(hdr.grant_off +
				   nr_grants * sizeof(struct grant_entry_v1));
	hdr.port_off = SIM_ALIGN(hdr.active_off +
				 nr_grants * sizeof(struct sim_active));
	hdr.mem_off = SIM_ALIGN(hdr.port_off +
				SIM_NR_PORTS * sizeof(struct sim_port_entry));
	hdr.size = hdr.mem_off + (uint64_t)nr_pages * SIM_PAGE;

	snprintf(tmp, sizeof(tmp), "%.*s/.dom%u.%d", SIM_DIR_MAX, dir, domid, getpid());
	snprintf(path, sizeof(path), "%.*s/dom%u", SIM_DIR_MAX, dir, domid);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, hdr.size) || pwrite(fd, &hdr, sizeof(hdr), 0) != sizeof(hdr))
		goto err;
	/* Publish the file only once it is whole. */
	if (rename(tmp, path))
		goto err;
	return fd;
err:
	unlink(tmp);
	close(fd);
	return -1;
}

struct sim_dom *sim_dom_create(const char *dir, uint32_t domid,
			       uint32_t nr_pages, uint32_t nr_grants)
{
	int fd = dom_file_create(dir, domid, nr_pages, nr_grants);
	struct sim_dom *d;

	if (fd < 0)
		return NULL;
	d = dom_attach(dir, fd);
	if (!d)
		close(fd);
	return d;
}

struct sim_dom *sim_dom_open(const char *dir, uint32_t domid, bool create)
{
	char path[SIM_PATH_MAX];
	struct sim_dom *d;
	int fd;

	if (strlen(dir) > SIM_DIR_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	snprintf(path, sizeof(path), "%.*s/dom%u", SIM_DIR_MAX, dir, domid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create)
		fd = dom_file_create(dir, domid, 0, 0);
	if (fd < 0)
		return NULL;
	d = dom_attach(dir, fd);
	if (!d)
		close(fd);
	return d;
}

void sim_dom_close(struct sim_dom *d)
{
	if (!d)
		return;
	munmap(d->hdr, d->hdr->size);
	close(d->fd);
	free(d);
}

uint32_t sim_dom_id(const struct sim_dom *d)
{
	return d->hdr->domid;
}

uint32_t sim_dom_nr_pages(const struct sim_dom *d)
{
	return d->hdr->nr_pages;
}

uint32_t sim_dom_nr_grants(const struct sim_dom *d)
{
	return d->hdr->nr_grants;
}

void *sim_dom_page(struct sim_dom *d, uint32_t gfn)
{
	return gfn < d->hdr->nr_pages ? d->mem + (size_t)gfn * SIM_PAGE : NULL;
}

/* ---- grant tables ---- */

/* flags and domid form one 32-bit word, updated together as Xen does. */
static uint32_t *entry_word(struct grant_entry_v1 *e)
{
	return (uint32_t *)e;
}

void sim_grant_access(struct sim_dom *d, uint32_t ref, uint32_t remote,
		      uint32_t gfn, bool readonly)
{
	struct grant_entry_v1 *e = &d->grants[ref];
	uint32_t word = GTF_permit_access | (readonly ? GTF_readonly : 0) |
			(remote << 16);

	e->frame = gfn;
	/* The frame must be visible before the flags that validate it. */
	__atomic_store_n(entry_word(e), word, __ATOMIC_RELEASE);
}

static bool process_alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* Xen drops a dead process's mappings when its gntdev handle closes. */
static void reap_dead_mapper(struct sim_dom *d, uint32_t ref)
{
	struct sim_active *a = &d->active[ref];

	if (process_alive(__atomic_load_n(&a->pid, __ATOMIC_ACQUIRE)))
		return;
	__atomic_store_n(&a->read_pins, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&a->write_pins, 0, __ATOMIC_RELAXED);
	__atomic_fetch_and(&d->grants[ref].flags,
			   (uint16_t)~(GTF_reading | GTF_writing), __ATOMIC_SEQ_CST);
}

int sim_end_access(struct sim_dom *d, uint32_t ref)
{
	uint32_t *w = entry_word(&d->grants[ref]);
	uint32_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

	for (;;) {
		if (old & (GTF_reading | GTF_writing)) {
			reap_dead_mapper(d, ref);
			old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
			if (old & (GTF_reading | GTF_writing))
				return -EBUSY;
		}
		if (__atomic_compare_exchange_n(w, &old, old & 0xffff0000u, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			return 0;
	}
}

static void grant_unpin(struct sim_dom *guest, uint32_t ref, bool writable);

/*
 * Checks grant @ref of @guest for @self and pins it, as Xen's _set_status()
 * does.  Returns the frame, or a negative GNTST_* code.
 */
static int64_t grant_pin(struct sim_dom *self, struct sim_dom *guest,
			 uint32_t ref, bool writable)
{
	struct grant_entry_v1 *e;
	uint32_t *w, old, want, frame;

	if (ref >= guest->hdr->nr_grants)
		return GNTST_bad_gntref;
	/*
	 * Pins of a process killed inside a copy: in Xen a copy is one
	 * hypercall, which a dying process does not leave half done.
	 */
	if (__atomic_load_n(&guest->active[ref].pid, __ATOMIC_ACQUIRE) != getpid())
		reap_dead_mapper(guest, ref);
	e = &guest->grants[ref];
	w = entry_word(e);
	old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
	for (;;) {
		uint16_t flags = old & 0xffff;

		if ((flags & GTF_type_mask) != GTF_permit_access ||
		    (old >> 16) != self->hdr->domid)
			return GNTST_general_error;
		if (writable && (flags & GTF_readonly))
			return GNTST_permission_denied;
		want = old | GTF_reading | (writable ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(w, &old, want, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			break;
	}
	frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(writable ? &guest->active[ref].write_pins :
				      &guest->active[ref].read_pins, 1,
			   __ATOMIC_SEQ_CST);
	__atomic_store_n(&guest->active[ref].pid, getpid(), __ATOMIC_RELEASE);
	if (frame >= guest->hdr->nr_pages) {
		grant_unpin(guest, ref, writable);
		return GNTST_bad_virt_addr;
	}
	return frame;
}

static void grant_unpin(struct sim_dom *guest, uint32_t ref, bool writable)
{
	struct sim_active *a = &guest->active[ref];
	uint16_t clear = 0;

	if (writable) {
		if (__atomic_sub_fetch(&a->write_pins, 1, __ATOMIC_SEQ_CST) == 0)
			clear |= GTF_writing;
	} else {
		__atomic_sub_fetch(&a->read_pins, 1, __ATOMIC_SEQ_CST);
	}
	if (!__atomic_load_n(&a->read_pins, __ATOMIC_SEQ_CST) &&
	    !__atomic_load_n(&a->write_pins, __ATOMIC_SEQ_CST))
		clear |= GTF_reading;
	if (clear)
		__atomic_fetch_and(&guest->grants[ref].flags, (uint16_t)~clear,
				   __ATOMIC_SEQ_CST);
}

/* Which guest pages a range of ours maps, so that unmap can unpin them. */
struct sim_mapping {
	void *addr;
	uint32_t count;
	bool writable;
	struct sim_dom *guest;
	struct sim_mapping *next;
	uint32_t refs[];
};

static struct sim_mapping *mappings;
static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;

void *sim_grant_map(struct sim_dom *self, struct sim_dom *guest,
		    uint32_t count, const uint32_t *refs, bool writable)
{
	struct sim_mapping *m;
	uint8_t *base;
	uint32_t i;

	__atomic_fetch_add(&sim_stats.map_calls, 1, __ATOMIC_RELAXED);
	m = malloc(sizeof(*m) + count * sizeof(uint32_t));
	if (!m)
		return NULL;
	base = mmap(NULL, count * SIM_PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		goto err_free;
	for (i = 0; i < count; i++) {
		int64_t frame = grant_pin(self, guest, refs[i], writable);
		int prot = PROT_READ | (writable ? PROT_WRITE : 0);

		if (frame < 0)
			goto err_unpin;
		if (mmap(base + i * SIM_PAGE, SIM_PAGE, prot, MAP_SHARED | MAP_FIXED,
			 guest->fd, guest->hdr->mem_off + frame * SIM_PAGE) ==
		    MAP_FAILED) {
			grant_unpin(guest, refs[i], writable);
			goto err_unpin;
		}
	}
	m->addr = base;
	m->count = count;
	m->writable = writable;
	m->guest = guest;
	memcpy(m->refs, refs, count * sizeof(uint32_t));
	pthread_mutex_lock(&mappings_lock);
	m->next = mappings;
	mappings = m;
	pthread_mutex_unlock(&mappings_lock);
	return base;

err_unpin:
	while (i--)
		grant_unpin(guest, refs[i], writable);
	munmap(base, count * SIM_PAGE);
err_free:
	free(m);
	errno = EINVAL;
	return NULL;
}

int sim_grant_unmap(void *addr, uint32_t count)
{
	struct sim_mapping **pp, *m = NULL;
	uint32_t i;

	pthread_mutex_lock(&mappings_lock);
	for (pp = &mappings; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr && (*pp)->count == count) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&mappings_lock);
	if (!m) {
		errno = EINVAL;
		return -1;
	}
	/* Unmap before unpinning: once unpinned the guest may reuse the page. */
	munmap(addr, count * SIM_PAGE);
	for (i = 0; i < count; i++)
		grant_unpin(m->guest, m->refs[i], m->writable);
	free(m);
	return 0;
}

static int copy_one(struct sim_dom *self, struct sim_dom *guest,
		    xengnttab_grant_copy_segment_t *s)
{
	bool to_guest = s->flags & GNTCOPY_dest_gref;
	bool from_guest = s->flags & GNTCOPY_source_gref;
	const union xengnttab_copy_ptr *f;
	uint8_t *page;
	int64_t frame;

	if (to_guest == from_guest)
		return GNTST_general_error;	/* one side must be local */
	f = to_guest ? &s->dest : &s->source;
	if (f->foreign.offset + (uint32_t)s->len > SIM_PAGE)
		return GNTST_bad_copy_arg;
	if (f->foreign.domid != guest->hdr->domid)
		return GNTST_bad_domain;
	frame = grant_pin(self, guest, f->foreign.ref, to_guest);
	if (frame < 0)
		return (int)frame;
	page = guest->mem + frame * SIM_PAGE + f->foreign.offset;
	if (to_guest)
		memcpy(page, s->source.virt, s->len);
	else
		memcpy(s->dest.virt, page, s->len);
	grant_unpin(guest, f->foreign.ref, to_guest);
	return GNTST_okay;
}

int sim_grant_copy(struct sim_dom *self, struct sim_dom *guest, uint32_t count,
		   xengnttab_grant_copy_segment_t *segs)
{
	uint32_t i;

	__atomic_fetch_add(&sim_stats.copy_calls, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sim_stats.copy_segments, count, __ATOMIC_RELAXED);
	for (i = 0; i < count; i++)
		segs[i].status = copy_one(self, guest, &segs[i]);
	return 0;
}

/* ---- event channels ---- */

static void fifo_path(char buf[SIM_PATH_MAX], const char *dir, uint32_t dom,
		      uint32_t port)
{
	snprintf(buf, SIM_PATH_MAX, "%.*s/evtchn-%u-%u", SIM_DIR_MAX, dir, dom,
		 port);
}

static int port_claim(struct sim_dom *d, uint32_t *port)
{
	uint32_t p;

	for (p = 1; p < d->hdr->nr_ports; p++) {
		struct sim_port_entry *e = &d->ports[p];
		uint32_t state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

		/* A port of a dead process is closed, as Xen closes it. */
		if (state != PORT_FREE && !process_alive(e->pid)) {
			if (!__atomic_compare_exchange_n(&e->state, &state, PORT_FREE,
							 false, __ATOMIC_SEQ_CST,
							 __ATOMIC_ACQUIRE))
				continue;
			state = PORT_FREE;
		}
		if (state == PORT_FREE &&
		    __atomic_compare_exchange_n(&e->state, &state, PORT_CLAIMED,
						false, __ATOMIC_SEQ_CST,
						__ATOMIC_ACQUIRE)) {
			e->pid = getpid();
			*port = p;
			return 0;
		}
	}
	errno = ENOSPC;
	return -1;
}

static struct sim_port *port_open(struct sim_dom *d, uint32_t port)
{
	struct sim_port *p = calloc(1, sizeof(*p));
	char path[SIM_PATH_MAX];

	if (!p)
		return NULL;
	fifo_path(path, d->dir, d->hdr->domid, port);
	unlink(path);
	if (mkfifo(path, 0600))
		goto err;
	/* O_RDWR keeps the FIFO open for writers even with no data pending. */
	p->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p->fd < 0)
		goto err;
	p->dom = d;
	p->port = port;
	p->peer_fd = -1;
	__atomic_store_n(&d->ports[port].pending, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(&d->ports[port].fifo_gen, 1, __ATOMIC_RELEASE);
	return p;
err:
	free(p);
	return NULL;
}

struct sim_port *sim_evtchn_alloc_unbound(struct sim_dom *d, uint32_t remote)
{
	struct sim_port *p;
	uint32_t port;

	if (port_claim(d, &port))
		return NULL;
	p = port_open(d, port);
	if (!p) {
		__atomic_store_n(&d->ports[port].state, PORT_FREE, __ATOMIC_RELEASE);
		return NULL;
	}
	d->ports[port].remote_dom = remote;
	d->ports[port].remote_port = 0;
	__atomic_store_n(&d->ports[port].state, PORT_UNBOUND, __ATOMIC_RELEASE);
	return p;
}

/*
 * The remote port is unbound for us, or still bound to a port of ours that
 * was closed without telling it (its holder died).
 */
static bool remote_bindable(struct sim_dom *self, struct sim_dom *peer,
			    uint32_t remote_port)
{
	struct sim_port_entry *r = &peer->ports[remote_port];
	uint32_t state = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
	struct sim_port_entry *mine;

	if (r->remote_dom != self->hdr->domid || !process_alive(r->pid))
		return false;
	if (state == PORT_UNBOUND)
		return true;
	if (state != PORT_INTERDOMAIN || r->remote_port >= self->hdr->nr_ports)
		return false;
	mine = &self->ports[r->remote_port];
	return __atomic_load_n(&mine->state, __ATOMIC_ACQUIRE) != PORT_INTERDOMAIN ||
	       !process_alive(mine->pid) || mine->remote_dom != peer->hdr->domid ||
	       mine->remote_port != remote_port;
}

struct sim_port *sim_evtchn_bind_interdomain(struct sim_dom *self,
					     const char *dir, uint32_t remote,
					     uint32_t remote_port)
{
	struct sim_dom *peer = sim_dom_open(dir, remote, false);
	struct sim_port_entry *r;
	struct sim_port *p;
	uint32_t port;

	if (!peer) {
		errno = ESRCH;
		return NULL;
	}
	if (remote_port == 0 || remote_port >= peer->hdr->nr_ports)
		goto err_inval;
	if (!remote_bindable(self, peer, remote_port))
		goto err_inval;
	r = &peer->ports[remote_port];
	if (port_claim(self, &port))
		goto err_close;
	p = port_open(self, port);
	if (!p) {
		__atomic_store_n(&self->ports[port].state, PORT_FREE, __ATOMIC_RELEASE);
		goto err_close;
	}
	self->ports[port].remote_dom = remote;
	self->ports[port].remote_port = remote_port;
	__atomic_store_n(&self->ports[port].state, PORT_INTERDOMAIN, __ATOMIC_RELEASE);
	r->remote_port = port;
	__atomic_store_n(&r->state, PORT_INTERDOMAIN, __ATOMIC_RELEASE);
	p->peer = peer;
	return p;

err_inval:
	errno = EINVAL;
err_close:
	sim_dom_close(peer);
	return NULL;
}

uint32_t sim_evtchn_port(const struct sim_port *p)
{
	return p->port;
}

int sim_evtchn_fd(const struct sim_port *p)
{
	return p->fd;
}

static struct sim_dom *port_peer(struct sim_port *p)
{
	if (!p->peer)
		p->peer = sim_dom_open(p->dom->dir,
				       p->dom->ports[p->port].remote_dom, false);
	return p->peer;
}

int sim_evtchn_notify(struct sim_port *p)
{
	struct sim_port_entry *e = &p->dom->ports[p->port];
	struct sim_port_entry *r;
	char path[SIM_PATH_MAX];
	uint32_t gen, remote_port;

	__atomic_fetch_add(&sim_stats.notifies, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != PORT_INTERDOMAIN)
		return 0;	/* like Xen: a notify on an unbound port is lost */
	if (!port_peer(p))
		return 0;
	remote_port = __atomic_load_n(&e->remote_port, __ATOMIC_ACQUIRE);
	if (!remote_port || remote_port >= p->peer->hdr->nr_ports)
		return 0;
	r = &p->peer->ports[remote_port];
	gen = __atomic_load_n(&r->fifo_gen, __ATOMIC_ACQUIRE);
	/*
	 * The remote end was bound anew since we opened its FIFO: as another
	 * port (a restarted backend), or as the same port made again.  Either
	 * way the FIFO we hold is a dead one's, and a kick written there is lost.
	 */
	if (p->peer_fd >= 0 && (remote_port != p->peer_port || gen != p->peer_gen)) {
		close(p->peer_fd);
		p->peer_fd = -1;
	}
	if (p->peer_fd < 0) {
		fifo_path(path, p->dom->dir, e->remote_dom, remote_port);
		/*
		 * Read-write, so a dead peer's FIFO takes the byte instead of
		 * raising SIGPIPE: the notification is lost, as Xen loses it.
		 */
		p->peer_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (p->peer_fd < 0)
			return 0;	/* the other end is gone */
		p->peer_port = remote_port;
		p->peer_gen = gen;
	}
	/*
	 * As in Xen, a notification on a port already pending is folded into
	 * it: a guest kicking in a loop costs its peer one wake-up, not a
	 * read per kick.
	 */
	if (__atomic_exchange_n(&r->pending, 1, __ATOMIC_SEQ_CST))
		return 0;
	if (write(p->peer_fd, "", 1) < 0 && errno != EAGAIN) {
		__atomic_store_n(&r->pending, 0, __ATOMIC_SEQ_CST);
		close(p->peer_fd);
		p->peer_fd = -1;
	}
	return 0;
}

bool sim_evtchn_consume(struct sim_port *p)
{
	char buf[256];
	bool any = false;

	while (read(p->fd, buf, sizeof(buf)) > 0)
		any = true;
	/*
	 * Cleared after the drain, or a byte written after the clear could be
	 * drained with the bit left set, and no kick would wake us again.  A
	 * notify folded in before the clear was made after its ring update,
	 * which our caller reads next.
	 */
	__atomic_store_n(&p->dom->ports[p->port].pending, 0, __ATOMIC_SEQ_CST);
	return any;
}

void sim_evtchn_close(struct sim_port *p)
{
	struct sim_port_entry *e;
	char path[SIM_PATH_MAX];

	if (!p)
		return;
	e = &p->dom->ports[p->port];
	/* Closing one end of an interdomain channel leaves the other unbound. */
	if (e->state == PORT_INTERDOMAIN && port_peer(p)) {
		struct sim_port_entry *r = &p->peer->ports[e->remote_port];

		if (r->state == PORT_INTERDOMAIN && r->remote_port == p->port)
			__atomic_store_n(&r->state, PORT_UNBOUND, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&e->state, PORT_FREE, __ATOMIC_RELEASE);
	fifo_path(path, p->dom->dir, p->dom->hdr->domid, p->port);
	unlink(path);
	close(p->fd);
	if (p->peer_fd >= 0)
		close(p->peer_fd);
	sim_dom_close(p->peer);
	free(p);
}
