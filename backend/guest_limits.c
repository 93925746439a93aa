// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "guest_limits.h"

struct guest_budget *budget_get(struct vx_daemon *d, uint32_t guest)
{
	struct guest_budget *b;

	for (b = d->budgets; b; b = b->next)
		if (b->guest == guest)
			break;
	if (b && b->devices >= VX_MAX_DEVICES_PER_GUEST)
		return NULL;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->guest = guest;
		pthread_mutex_init(&b->lock, NULL);
		b->next = d->budgets;
		d->budgets = b;
	}
	b->devices++;
	return b;
}

void budget_put(struct vx_daemon *d, struct guest_budget *b)
{
	struct guest_budget **pp;

	if (!b || --b->devices)
		return;
	for (pp = &d->budgets; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void add_waiter(struct guest_budget *b, struct budget_waiter *w)
{
	unsigned int i;

	for (i = 0; i < b->nr_waiters; i++)
		if (b->waiters[i] == w)
			return;
	/* Room for every queue the guest can have. */
	if (b->nr_waiters < VX_BUDGET_WAITERS)
		b->waiters[b->nr_waiters++] = w;
}

bool budget_take(struct guest_budget *b, uint64_t bytes, struct budget_waiter *w)
{
	bool ok;

	pthread_mutex_lock(&b->lock);
	ok = b->held + bytes <= VX_GUEST_DATA_MAX;
	if (ok)
		b->held += bytes;
	else
		add_waiter(b, w);	/* under the lock: no give is missed */
	pthread_mutex_unlock(&b->lock);
	return ok;
}

void budget_give(struct guest_budget *b, uint64_t bytes)
{
	uint64_t one = 1;
	unsigned int i;

	if (!bytes)
		return;
	pthread_mutex_lock(&b->lock);
	b->held -= bytes;
	for (i = 0; i < b->nr_waiters; i++) {
		__atomic_store_n(&b->waiters[i]->woken, true, __ATOMIC_RELEASE);
		if (write(b->waiters[i]->fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: a full eventfd counter, a wake-up pending */
		}
	}
	b->nr_waiters = 0;
	pthread_mutex_unlock(&b->lock);
}

void budget_forget(struct guest_budget *b, struct budget_waiter *w)
{
	unsigned int i;

	pthread_mutex_lock(&b->lock);
	for (i = 0; i < b->nr_waiters; i++) {
		if (b->waiters[i] == w) {
			b->waiters[i] = b->waiters[--b->nr_waiters];
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
}
