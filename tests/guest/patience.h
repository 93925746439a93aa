/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef VX_PATIENCE_H
#define VX_PATIENCE_H

/*
 * How long a test waits for what must come before it calls it lost: far
 * past what a loaded machine needs (a wait returns as soon as its event
 * comes), and below check's timeout of a test.  Slow is not gone.
 */
#define PATIENCE_MS	60000

/*
 * check's timeout of one integration test: a backstop for a hang only, well
 * above one patient wait, since a test on a loaded machine may wait for
 * several slow events in a row.
 */
#define TEST_TIMEOUT_S	(5 * PATIENCE_MS / 1000)

#endif
