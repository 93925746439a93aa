/* SPDX-License-Identifier: GPL-2.0-only */
/* fake-device.c: the daemon around one device model, for its fuzz target. */
#ifndef VX_FAKE_DEVICE_H
#define VX_FAKE_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

#define FAKE_PAGES	16
#define FAKE_MAX_DONE	1024

struct fake_completion {
	uint16_t head;
	uint32_t len;
};

/* The guest's pages, granted as references 1 .. FAKE_PAGES. */
extern uint8_t fake_mem[FAKE_PAGES * 4096];
extern bool fake_readonly[FAKE_PAGES];
/* Pages mapped now (GRANT_MAP). */
extern unsigned int fake_maps;
/* Used entries the model pushed, in order. */
extern struct fake_completion fake_done[FAKE_MAX_DONE];
extern unsigned int fake_nr_done;
/* The model reported a protocol error of the guest. */
extern bool fake_failed;
/* The backend directory: key, value pairs, ended by a NULL key. */
extern const char *fake_keys[8][2];

/*
 * A grant pool (protocol.md 4.4) over the guest's references 5 .. 12, as
 * pool_start maps one: the model then reaches buffers wholly inside it
 * through the mapping, the rest through grants.
 */
static inline void fake_pool(struct vx_device *dev)
{
	dev->pool_given = true;
	dev->pool_ref = 5;
	dev->pool_pages = 8;
	dev->pool = fake_mem + 4 * 4096;
}

#endif
