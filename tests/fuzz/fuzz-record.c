// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device record a restarted daemon reads (backend/record.c), torn by a
 * kill or damaged on disk: the input is the device as the frontend set it
 * up now (features, queues and their rings), then the file.  A record that
 * is taken up must lie within its file, and each queue's in-flight record
 * is then recovered onto a ring (common/virtqueue.c) as a resume does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "fake-device.h"

#define MAX_Q	4

static struct vx_daemon daemon_;
static const struct vx_model model = { .type = "fuzz", .state_bytes = 64 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(daemon_.state_dir, sizeof(daemon_.state_dir), "/tmp/vx-fuzz-record.%d",
		 getpid());
	return mkdir(daemon_.state_dir, 0700) && errno != EEXIST;
}

void log_msg(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vx_queue queues[MAX_Q] = { 0 };
	struct vx_device dev = { 0 };
	char path[sizeof(daemon_.state_dir) + 32];
	unsigned int i;
	size_t head;
	int fd;

	if (size < 2)
		return 0;
	dev.daemon = &daemon_;
	dev.model = &model;
	dev.guest = 1;
	dev.id = data[0];
	dev.nr_queues = 1 + data[1] % MAX_Q;
	dev.queues = queues;
	head = 2;
	for (i = 0; i < dev.nr_queues; i++) {
		struct vx_queue *q = &queues[i];

		q->dev = &dev;
		q->index = i;
		q->size = 1U << (1 + (head < size ? data[head] % 8 : 0));
		q->desc_addr = vx_grant_addr(1 + i, 0);
		q->driver_addr = vx_grant_addr(5 + i, 0);
		q->device_addr = vx_grant_addr(9 + i, 0);
		q->remote_port = 10 + i;
		head++;
	}
	if (head > size)
		return 0;

	snprintf(path, sizeof(path), "%s/%u.%u", daemon_.state_dir, dev.guest, dev.id);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || write(fd, data + head, size - head) != (ssize_t)(size - head))
		abort();
	close(fd);

	if (record_resume(&dev) == 0) {
		struct stat st;

		if (stat(path, &st))
			abort();
		for (i = 0; i < dev.nr_queues; i++) {
			struct vx_queue *q = &queues[i];
			size_t off = (uint8_t *)q->inflight - (uint8_t *)dev.record;
			struct vring_desc *desc = calloc(q->size, sizeof(*desc));
			struct vring_avail *avail = calloc(1, 6 + 2 * q->size);
			struct vring_used *used = calloc(1, 6 + 8 * q->size);
			struct vq vq;

			if (off + vq_inflight_bytes(q->size) > (size_t)st.st_size)
				abort();	/* a queue's record past the file */
			/* The ring as the previous daemon left it: used index from the record. */
			used->idx = q->inflight->used_idx;
			if (!vq_init(&vq, q->size, desc, avail, used, false, false)) {
				if (!vq_attach_record(&vq, q->inflight, true) &&
				    vq.nr_recovered > q->size)
					abort();
				vq_destroy(&vq);
			}
			free(desc);
			free(avail);
			free(used);
		}
		if (dev.model_state &&
		    (uint8_t *)dev.model_state - (uint8_t *)dev.record + model.state_bytes >
		    (size_t)st.st_size)
			abort();
		record_close(&dev);
	}
	unlink(path);
	return 0;
}
