/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio-net driver for the test guest that stands in for the guest's
 * network stack with a TAP interface: frames the TAP's kernel sends go out
 * on the transmit queues, frames received are written into the TAP, with
 * the virtio-net header passed through both ways.  So a real kernel network
 * stack (in a network namespace of the test) stands at the guest's end.
 *
 * One thread a queue pair.  Buffers are granted once, at start (or carved
 * from the device's grant pool when it has one with room); headers and
 * buffers are laid out as Linux's virtio_net lays them out: mergeable page
 * buffers, or a single big or small buffer a frame without MRG_RXBUF.
 */
#ifndef VX_VNET_H
#define VX_VNET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

#define VNET_MAX_PAIRS	16

struct vnet;

struct vnet_pair {
	struct vnet *n;
	unsigned int index;
	int tap_fd;
	pthread_t thread;
	uint8_t *rx_mem, *tx_mem;	/* guest memory, granted at start */
	uint64_t rx_dma, tx_dma;
	bool rx_pooled, tx_pooled;	/* carved from the device's pool */
	struct vring_desc *rx_tables;	/* with rx_indirect: two a slot */
	uint64_t rx_tables_dma;
	unsigned int rx_slots, tx_slots;
	unsigned int tx_free;		/* slots not in the ring */
	uint16_t *tx_free_list;
	uint8_t *frame;			/* a received frame being put together */
	size_t frame_len;
	unsigned int frame_bufs_left;
	/* Counted by the pair's thread; read after vnet_stop or loosely. */
	uint64_t rx_frames, tx_frames;
	uint64_t probe_frames;		/* received with ethertype VNET_PROBE_TYPE, tagged or not */
	bool failed;
};

struct vnet {
	struct vx_vdev *vd;
	unsigned int pairs;		/* queue pairs set up */
	bool mergeable;
	bool rx_indirect;		/* each receive buffer an indirect chain of two */
	unsigned int rx_buf_len, tx_buf_len;
	int stop_fd;
	struct vnet_pair pair[VNET_MAX_PAIRS];
	uint8_t *ctrl_mem;
	uint64_t ctrl_dma;
};

#define VNET_PROBE_TYPE	0x88b5		/* IEEE local experimental ethertype */

/*
 * Opens @pairs queues of a TAP named @ifname inside the network namespace
 * at @netns_path (for example /run/netns/NAME); 0 or -errno.
 */
int vnet_open_tap(const char *netns_path, const char *ifname, unsigned int pairs,
		  int fds[]);
/*
 * Starts the pairs' threads on a connected device whose queues are the
 * receive and transmit queues of @pairs pairs (and the controlq, if
 * negotiated, last).  Takes the TAP fds.
 */
int vnet_start(struct vnet *n, struct vx_vdev *vd, unsigned int pairs,
	       const int tap_fds[]);
/*
 * The same, each receive buffer (mergeable, 1 KiB) posted as an indirect
 * table of two descriptors: a frame spans chains, and each pop after the
 * first reads a table from guest memory.
 */
int vnet_start_indirect_rx(struct vnet *n, struct vx_vdev *vd, unsigned int pairs,
			   const int tap_fds[]);
/*
 * Stops the threads.  The device still owns the buffers posted to it, as
 * it does in virtnet_remove: reset it (vdev_close) before vnet_free.
 */
void vnet_stop(struct vnet *n);
/* Ends the grants and frees the buffers; -EBUSY if the backend still uses one. */
int vnet_free(struct vnet *n);
/* Sends a control command and waits for it: the ack byte, or -errno. */
int vnet_ctrl(struct vnet *n, uint8_t class, uint8_t cmd, const void *data,
	      size_t len);
/* The controlq's index: after the pairs the device has, or after one pair. */
unsigned int vnet_ctrl_index(const struct vx_vdev *vd);

#endif
