// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a device model needs of the daemon, for fuzzing one model alone:
 * a guest's grant table over local pages (fake_mem), the queue's used-entry
 * and error calls, the device's keys and log.  The real guest_mem.c runs on
 * top of it, so grant addresses are checked as they are in the daemon.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-device.h"

uint8_t fake_mem[FAKE_PAGES * VX_PAGE_SIZE] __attribute__((aligned(4096)));
bool fake_readonly[FAKE_PAGES];
unsigned int fake_maps;
struct fake_completion fake_done[FAKE_MAX_DONE];
unsigned int fake_nr_done;
bool fake_failed;
const char *fake_keys[8][2];

/* Grant reference r (1 .. FAKE_PAGES) is page r - 1; 0 and the rest are not granted. */
static uint8_t *page_of(uint32_t ref, bool write)
{
	if (ref < 1 || ref > FAKE_PAGES || (write && fake_readonly[ref - 1]))
		return NULL;
	return fake_mem + (size_t)(ref - 1) * VX_PAGE_SIZE;
}

static struct vx_gnttab *fake_gnttab_open(uint32_t domid)
{
	(void)domid;
	return (struct vx_gnttab *)fake_mem;
}

static void fake_gnttab_close(struct vx_gnttab *gt)
{
	(void)gt;
}

static void *fake_gnttab_map(struct vx_gnttab *gt, uint32_t count,
			     const uint32_t *refs, bool writable)
{
	uint32_t i;

	(void)gt;
	for (i = 0; i < count; i++)
		if (refs[i] != refs[0] + i || !page_of(refs[i], writable))
			return NULL;
	fake_maps += count;
	return page_of(refs[0], false);
}

static int fake_gnttab_unmap(struct vx_gnttab *gt, void *addr, uint32_t count)
{
	(void)gt;
	(void)addr;
	if (count > fake_maps)
		abort();	/* unmapped more than was mapped */
	fake_maps -= count;
	return 0;
}

static int fake_gnttab_copy(struct vx_gnttab *gt, uint32_t count,
			    xengnttab_grant_copy_segment_t *segs)
{
	uint32_t i;

	(void)gt;
	for (i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		bool to_guest = s->flags & GNTCOPY_dest_gref;
		uint32_t ref = to_guest ? s->dest.foreign.ref : s->source.foreign.ref;
		uint32_t off = to_guest ? s->dest.foreign.offset : s->source.foreign.offset;
		uint8_t *p = page_of(ref, to_guest);

		s->status = GNTST_okay;
		if (!p || off + s->len > VX_PAGE_SIZE) {
			s->status = GNTST_general_error;
			continue;
		}
		if (to_guest)
			memcpy(p + off, s->source.virt, s->len);
		else
			memcpy(s->dest.virt, p + off, s->len);
	}
	return 0;
}

static const struct xen_ops fake_ops = {
	.name = "fake",
	.gnttab_open = fake_gnttab_open,
	.gnttab_close = fake_gnttab_close,
	.gnttab_map = fake_gnttab_map,
	.gnttab_unmap = fake_gnttab_unmap,
	.gnttab_copy = fake_gnttab_copy,
};

const struct xen_ops *xen_ops = &fake_ops;

void queue_fail(struct vx_queue *q, const char *fmt, ...)
{
	(void)q;
	(void)fmt;
	fake_failed = true;
}

void queue_complete(struct vx_queue *q, uint16_t head, uint32_t len)
{
	if (fake_nr_done >= FAKE_MAX_DONE)
		abort();	/* more completions than chains given */
	fake_done[fake_nr_done++] = (struct fake_completion){ head, len };
	vq_push_used(&q->vq, head, len);
}

/* No queue runs a thread here: each is as if stopped. */
bool queue_stopped(const struct vx_queue *q)
{
	(void)q;
	return true;
}

char *backend_read(struct vx_device *dev, const char *key)
{
	unsigned int i;

	(void)dev;
	for (i = 0; i < sizeof(fake_keys) / sizeof(fake_keys[0]) && fake_keys[i][0]; i++)
		if (!strcmp(fake_keys[i][0], key))
			return strdup(fake_keys[i][1]);
	return NULL;
}

void dev_log(struct vx_device *dev, int level, const char *fmt, ...)
{
	(void)dev;
	(void)level;
	(void)fmt;
}

void device_config_check(struct vx_device *dev)
{
	(void)dev;
}
