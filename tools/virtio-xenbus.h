/* SPDX-License-Identifier: GPL-2.0-only */
/* What the virtio-xenbus tool's files share. */
#ifndef VX_TOOL_H
#define VX_TOOL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "diskspec.h"
#include "nicspec.h"
#include "protocol.h"
#include "spec.h"
#include "toolstack.h"
#include "xsvalue.h"

/* The tool's one connection to xenstore. */
extern struct xs_handle *xs;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/*
 * How long the tool waits for a backend or a guest that is still there
 * before it gives up: $VIRTIO_XENBUS_TIMEOUT seconds, default 120.  A
 * domain that goes ends a wait at once.
 */
int tool_timeout_ms(void);

/* xs-domains.c */
char *xs_readf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char **xs_lsf(unsigned int *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool node_exists(const char *path);
bool parse_id(const char *s, uint32_t max, uint32_t *out);
/* A domain named as xl names it: a domid, or the name in xenstore. */
bool lookup_domain(const char *name, uint32_t *domid);
/* The same, or the tool dies saying there is none. */
uint32_t find_domain(const char *name);
/* The domain whose vm path is @vm, other than @old; false if none yet. */
bool find_by_vm(const char *vm, uint32_t old, uint32_t *domid);
/*
 * Calls @fn for each virtio device of @guest (every guest if @guest is -1)
 * with its frontend's devid and its backend directory.
 */
void for_each_device(long guest,
		     void (*fn)(uint32_t guest, uint32_t devid, uint32_t be,
				const char *be_dir, void *arg),
		     void *arg);
/* The same for the devices of another xenbus type (libxl's virtio_disk). */
void for_each_device_of(enum vx_kind kind, long guest,
			void (*fn)(uint32_t guest, uint32_t devid, uint32_t be,
				   const char *be_dir, void *arg),
			void *arg);
/* The lowest device id the guest does not use yet. */
uint32_t free_devid(uint32_t guest);

/* attach.c */
/* A device checked against the host and ready to write: its keys and where. */
struct device_plan {
	uint32_t be;
	const char *type;
	const char *kv[20];
	char target[PATH_MAX];
	char queues[16], mtu[16];
	struct vx_nicspec nic;	/* the nic's spec with its defaults filled in */
};

/*
 * The host's checks of a device: a disk no other guest writes, a mac no
 * other guest has, a bridge that is there (dom0 backends only).  A guest
 * whose vm path is @except_vm (one being migrated here) is no other guest.
 */
bool check_disk_free(const char *target, bool readonly, const char *except_vm,
		     char *err, size_t errlen);
bool check_mac_free(const char *mac, const char *except_vm, char *err,
		    size_t errlen);
bool check_bridge(uint32_t be, const char *script, const char *bridge, char *err,
		  size_t errlen);
bool plan_disk(const struct vx_diskspec *d, struct device_plan *p, char *err,
	       size_t errlen);
bool plan_nic(const struct vx_nicspec *spec, struct device_plan *p, char *err,
	      size_t errlen);
/*
 * Writes the device as the guest's device @devid and waits for the backend
 * to publish it; a device the backend refuses is removed again, with the
 * reason in @err.  Returns the devid, or -1.
 */
long add_device(const struct device_plan *p, uint32_t guest, uint32_t devid,
		char *err, size_t errlen);
int disk_attach(int argc, char **argv);
int nic_attach(int argc, char **argv);
int detach(int argc, char **argv);
int nic_link(int argc, char **argv);

/* list.c */
int list(int argc, char **argv);

/* saved-devices.c */
/*
 * The guest's virtio devices as the toolstack wrote them (protocol.md 1.1,
 * 5, 6): after a reboot the new domain gets the devices the guest had, hot
 * attaches and detaches included, as xl keeps a guest's vbds and vifs.
 */
#define MAX_SAVED_KEYS	16

struct saved_device {
	uint32_t devid, be;
	char *type;
	const char *kv[2 * MAX_SAVED_KEYS + 1];
	char be_name[64];	/* migrate's: the backend domain's name, if not dom0 */
};

struct saved_devices {
	struct saved_device *dev;
	unsigned int n;
	char names[512];	/* as last logged */
	char uuid[40];		/* migrate's: the guest's uuid */
};

void saved_free(struct saved_devices *sv);
/* for_each_device's callback: adds the device to @arg, a saved_devices. */
void save_device(uint32_t guest, uint32_t devid, uint32_t be, const char *be_dir,
		 void *arg);
/* The value of @key in a saved device, or NULL. */
const char *saved_key(const struct saved_device *dev, const char *key);
/* Gives @guest a saved device again, with its devid. */
bool give_back(const struct saved_device *dev, uint32_t guest, char *err,
	       size_t errlen);
bool write_saved_to(FILE *f, const char *name, const struct saved_devices *sv);
bool write_saved(const char *path, const char *name, const struct saved_devices *sv);
/* Reads what write_saved_to wrote (@what names it); the reason in @err if not. */
bool read_saved_from(FILE *f, const char *what, char *name, size_t namelen,
		     struct saved_devices *sv, char *err, size_t errlen);
/* Reads a FILE.virtio that write_saved wrote; the reason in @err if not. */
bool read_saved(const char *path, char *name, size_t namelen,
		struct saved_devices *sv, char *err, size_t errlen);
/* The attach command that gives @guest the device again, for a log line. */
void saved_attach_command(const struct saved_device *dev, const char *guest,
			  char *buf, size_t len);
/* Where `save` marks the domain whose vm path is @vm as being saved. */
void saving_path(const char *vm, char *path, size_t len);

/* follow.c */
void logf_ts(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * create's and restore's end: follow the guest's reboots, -F in the
 * foreground (returns when the guest has gone for good), else in a
 * background process (returns at once).
 */
void follow_guest(const char *name, uint32_t domid, bool foreground);
/*
 * Stops the follower of the guest whose vm path is @vm, if it has one, and
 * waits for it to go; true if there was one.
 */
bool stop_follower(const char *vm);

/* run-xl.c */
/* Runs xl (or $XL) with @args, NULL-terminated; returns its exit status. */
int run_xl(const char *const *args);
/* xl VERB DOMID */
int xl_domain(const char *verb, uint32_t domid);

/* migrate.c */
int migrate(int argc, char **argv);
int migrate_receive(int argc, char **argv);

/* lifecycle.c */
int create(int argc, char **argv);
int save(int argc, char **argv);
int restore(int argc, char **argv);

#endif
