/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The frontend side of docs/protocol.md, in user space: the same keys, the
 * same status request/answer handshake and the same queue keys as
 * virtio_xenbus.ko writes.
 */
#ifndef VX_VDEV_H
#define VX_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "driver_vq.h"
#include "gpool.h"
#include "guest.h"
#include "patience.h"
#include "protocol.h"


struct vx_vdev {
	struct vx_guest *g;
	uint32_t devid;
	char fe[128];
	char be[128];
	uint32_t device_id;
	uint64_t features;
	uint64_t driver_features;
	unsigned int max_queues;
	unsigned int max_queue_size;
	uint8_t config[VX_MAX_CONFIG_LEN];
	size_t config_len;
	uint32_t config_generation;
	uint32_t status_seq;
	uint8_t requested;		/* the status last asked for */
	unsigned int nr_queues;
	struct driver_vq vqs[VX_MAX_QUEUES];
	uint32_t pool_max_pages;	/* the backend's, 0 without */
	uint32_t pool_pages;		/* wanted: set up with the queues */
	struct guest_pool *pool;
};

/* Waits for the backend's InitWait and reads what it published. */
int vdev_probe(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid);
/* The same, for a device of another xenbus device type (libxl's virtio_disk). */
int vdev_probe_kind(struct vx_vdev *vd, struct vx_guest *g, enum vx_kind kind,
		    uint32_t devid);
/*
 * Writes a status request and waits for its answer: device-status, or
 * -errno (-ENODEV once the backend is Closed or gone).
 */
int vdev_set_status(struct vx_vdev *vd, uint8_t status);
/* The two halves of vdev_set_status: the request, the wait for its answer. */
int vdev_request_status(struct vx_vdev *vd, uint8_t status);
int vdev_wait_status_answer(struct vx_vdev *vd);
/* The answer to the last request if it has come, else -EAGAIN. */
int vdev_status_answer(struct vx_vdev *vd);
int vdev_read_status(struct vx_vdev *vd);
/* ACKNOWLEDGE, DRIVER, driver-features, FEATURES_OK; 0 if accepted. */
int vdev_negotiate(struct vx_vdev *vd, uint64_t features);
int vdev_setup_queues(struct vx_vdev *vd, unsigned int n, unsigned int size);
int vdev_driver_ok(struct vx_vdev *vd);
/* Probe, negotiate everything offered (masked), queues, DRIVER_OK. */
int vdev_connect(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid,
		 unsigned int nr_queues, uint64_t feature_mask);
/* The same with a grant pool of @pool_pages (protocol.md 4.4). */
int vdev_connect_pool(struct vx_vdev *vd, struct vx_guest *g, uint32_t devid,
		      unsigned int nr_queues, uint64_t feature_mask,
		      uint32_t pool_pages);
/* The steps after the probe: negotiate, queues, pool, DRIVER_OK. */
int vdev_connect_probed(struct vx_vdev *vd, unsigned int nr_queues,
			uint64_t feature_mask, uint32_t pool_pages);
/*
 * The DMA API of the device: through its pool while it has room, else a
 * grant per mapping.  Unmapping copies out what the device wrote.
 */
int vdev_dma_map(struct vx_vdev *vd, const void *va, size_t len, bool readonly,
		 uint64_t *dma);
int vdev_dma_unmap(struct vx_vdev *vd, uint64_t dma, size_t len, void *va,
		   bool device_wrote);
/* After a reset's answer, frees the queues: -EBUSY if a grant was still mapped. */
int vdev_free_queues(struct vx_vdev *vd);
/* Resets the device and frees the queues: -EBUSY if a grant was still mapped. */
int vdev_reset(struct vx_vdev *vd);
/* Releases the device as a guest driver unloading does. */
int vdev_close(struct vx_vdev *vd);
/* The domain is destroyed: forget the queues, tell nobody (as xl destroy). */
void vdev_abandon(struct vx_vdev *vd);

int vdev_write(struct vx_vdev *vd, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reads a key of the backend directory; the caller frees it. */
char *vdev_read_backend(struct vx_vdev *vd, const char *key);
int vdev_backend_state(struct vx_vdev *vd);
/* Waits for the backend's state to reach @state. */
bool vdev_wait_backend_state(struct vx_vdev *vd, int state, int ms);

#endif
