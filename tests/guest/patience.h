/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VX_PATIENCE_H
#define VX_PATIENCE_H

/*
 * How long a test waits for what must come before it calls it lost: far
 * past what a loaded machine needs (a wait returns as soon as its event
 * comes), and below check's timeout of a test.  Slow is not gone.
 */
#define PATIENCE_MS	60000

#endif
