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
};

struct saved_devices {
	struct saved_device *dev;
	unsigned int n;
	char names[512];	/* as last logged */
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
bool write_saved(const char *path, const char *name, const struct saved_devices *sv);
/* Reads a FILE.virtio that write_saved wrote; the reason in @err if not. */
bool read_saved(const char *path, char *name, size_t namelen,
		struct saved_devices *sv, char *err, size_t errlen);
/* Where `save` marks the domain whose vm path is @vm as being saved. */
void saving_path(const char *vm, char *path, size_t len);

/* follow.c */
void logf_ts(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* create's and restore's end: follow the guest's reboots, -F in the foreground. */
void follow_guest(const char *name, uint32_t domid, bool foreground);

/* lifecycle.c */
int create(int argc, char **argv);
int save(int argc, char **argv);
int restore(int argc, char **argv);

#endif
