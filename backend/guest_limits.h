/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What no guest can make the daemon hold, whatever it writes (protocol.md
 * 2.9): devices, and request data bounced or mapped, across all its devices.
 * The per-queue limits (queues, their size, requests and data in flight)
 * are the models'.
 */
#ifndef VX_GUEST_LIMITS_H
#define VX_GUEST_LIMITS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VX_MAX_DEVICES_PER_GUEST	64
#define VX_STR_(x)	#x
#define VX_STR(x)	VX_STR_(x)
/* Request data one guest's queues hold at once, bounced or mapped. */
#define VX_GUEST_DATA_MAX		(64ULL << 20)
/*
 * Pool pages one guest's devices have mapped at once (protocol.md 4.4): on
 * a PV dom0 each mapped page takes one of the backend domain's frames.
 */
#define VX_GUEST_POOL_MAX_PAGES		16384
#define VX_BUDGET_WAITERS		(VX_MAX_DEVICES_PER_GUEST * 16)

struct vx_daemon;

/* A queue that found the budget spent: woken when some of it comes back. */
struct budget_waiter {
	int fd;				/* written to wake the queue's thread */
	bool woken;			/* set (atomic) before the write */
};

struct guest_budget {
	uint32_t guest;
	unsigned int devices;		/* main thread's */
	unsigned int pool_pages;	/* main thread's: mapped by its devices */
	struct guest_budget *next;

	pthread_mutex_t lock;		/* the queue threads share the rest */
	uint64_t held;
	struct budget_waiter *waiters[VX_BUDGET_WAITERS];
	unsigned int nr_waiters;
};

/* The budget of @guest, made with its first device; NULL at the device cap. */
struct guest_budget *budget_get(struct vx_daemon *d, uint32_t guest);
void budget_put(struct vx_daemon *d, struct guest_budget *b);
/*
 * Takes @bytes from the guest's budget; if that would pass it, takes
 * nothing, and @w is woken when bytes come back.
 */
bool budget_take(struct guest_budget *b, uint64_t bytes, struct budget_waiter *w);
void budget_give(struct guest_budget *b, uint64_t bytes);
/* A queue that stops waits no more. */
void budget_forget(struct guest_budget *b, struct budget_waiter *w);

#endif
