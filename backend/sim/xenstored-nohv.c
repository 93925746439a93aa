// SPDX-License-Identifier: GPL-2.0-only
/*
 * LD_PRELOAD shim that lets Debian's unmodified C xenstored start with no
 * hypervisor: it answers the few Xen calls xenstored makes at start-up and
 * when it checks domains.  Every domid below DOMID_FIRST_RESERVED is
 * reported running, so permissions naming any guest domid are accepted.
 * Clients then reach xenstored only through its unix socket, where
 * xenstored treats each of them as dom0.
 *
 * Nothing here is used when the daemon runs on real Xen.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

/* xenstored's event-channel handle: a descriptor that never fires. */
struct xenevtchn_handle {
	int fd;
	evtchn_port_t next_port;
};

static struct xenevtchn_handle *evtchn_handle(void)
{
	struct xenevtchn_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->next_port = 1;
	return h;
}

xc_interface *xc_interface_open(xentoollog_logger *l,
				xentoollog_logger *dl, unsigned int flags)
{
	static long dummy;

	return (xc_interface *)&dummy;
}

int xc_interface_close(xc_interface *xch)
{
	return 0;
}

/* Xen 4.17's xenstored asks this; 4.20's libxenctrl has it no more. */
#if HAVE_XC_DOMINFO_T
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
		      unsigned int max_doms, xc_dominfo_t *info)
{
	if (!max_doms || first_domid >= DOMID_FIRST_RESERVED)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domid = first_domid;
	info->running = 1;
	return 1;
}
#endif

/* What xenstored asks from Xen 4.18 on. */
#if HAVE_DECL_XC_DOMAIN_GETINFO_SINGLE
int xc_domain_getinfo_single(xc_interface *xch, uint32_t domid,
			     xc_domaininfo_t *info)
{
	if (domid >= DOMID_FIRST_RESERVED) {
		errno = ESRCH;
		return -1;
	}
	memset(info, 0, sizeof(*info));
	info->domain = domid;
	info->flags = XEN_DOMINF_running;
	return 0;
}
#endif

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger,
				 unsigned int open_flags)
{
	return evtchn_handle();
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd,
				   unsigned int open_flags)
{
	return evtchn_handle();
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	if (xce) {
		close(xce->fd);
		free(xce);
	}
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote_port)
{
	return xce->next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
					      unsigned int virq)
{
	return xce->next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint64_t v;

	if (read(xce->fd, &v, sizeof(v)) < 0)
		return -1;
	return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	return 0;
}

xengnttab_handle *xengnttab_open(xentoollog_logger *logger,
				 unsigned int open_flags)
{
	static long dummy;

	return (xengnttab_handle *)&dummy;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	return 0;
}

/* A domain's xenstore ring page: private zeroed memory nobody else sees. */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start, uint32_t count)
{
	return munmap(start, (size_t)count * 4096);
}

/* /proc/xen/xsd_port and xsd_kva describe dom0's ring: fake them. */
static int fake_proc_xen(const char *path)
{
	int fd;

	if (!strcmp(path, "/proc/xen/xsd_port")) {
		fd = memfd_create("xsd_port", MFD_CLOEXEC);
		if (fd >= 0 && (write(fd, "1", 1) != 1 ||
				lseek(fd, 0, SEEK_SET) < 0)) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (!strcmp(path, "/proc/xen/xsd_kva")) {
		fd = memfd_create("xsd_kva", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, 4096) < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	errno = ENOENT;
	return -2;
}

static int forward_open(const char *sym, int dirfd, const char *path,
			int flags, mode_t mode)
{
	int fd = fake_proc_xen(path);

	if (fd != -2)
		return fd;
	if (!strcmp(sym, "openat")) {
		int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, sym);

		return real(dirfd, path, flags, mode);
	}
	int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, sym);

	return real(path, flags, mode);
}

#define MODE_ARG(flags, mode)					\
	do {							\
		va_list ap;					\
		if ((flags) & (O_CREAT | __O_TMPFILE)) {	\
			va_start(ap, flags);			\
			mode = va_arg(ap, mode_t);		\
			va_end(ap);				\
		}						\
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return forward_open("open", AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return forward_open("open64", AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return forward_open("openat", dirfd, path, flags, mode);
}
