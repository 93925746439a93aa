// SPDX-License-Identifier: GPL-2.0-only
/*
 * A running device's record, kept in a file of the state directory (a
 * tmpfs such as /run) so that it outlives the daemon (protocol.md 2.5): the
 * negotiated features, where each queue's rings are, each queue's in-flight
 * record (common/virtqueue.h) and the model's own state.  The queues write
 * it through a shared mapping as they work, so it is current whenever the
 * process dies, SIGKILL included.  A restarted daemon that finds it, and
 * finds the frontend's keys as it says, resumes the device where it was.
 *
 * The file is ours alone (mode 0600 in a directory of mode 0700), and it
 * is checked again when read: a record of another incarnation of the device
 * is refused, never trusted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define RECORD_MAGIC	"vxrec01"
/* The state directory, a slash, two numbers, a dot and a suffix. */
#define RECORD_PATH_MAX	(sizeof(((struct vx_daemon *)0)->state_dir) + 32)

struct record_queue {
	uint64_t desc, driver, device;
	uint32_t size, port;
	uint32_t inflight_off;		/* from the start of the file */
	uint32_t pad;
};

struct device_record {
	char magic[8];
	uint32_t guest, id;
	uint64_t driver_features;
	uint32_t nr_queues;
	uint32_t model_off, model_len;
	uint32_t len;			/* of the whole file */
	struct record_queue queue[VX_MAX_QUEUES];
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * A device of backend/virtio is <guest>.<id>, as before there were other
 * kinds; one of backend/virtio_disk is virtio_disk-<guest>.<id>.
 */
static const char *record_prefix(enum vx_kind kind)
{
	return kind == VX_KIND_XL_DISK ? VX_XL_DISK_TYPE "-" : "";
}

static void record_path(const struct vx_device *dev, char *path, size_t size,
			const char *suffix)
{
	snprintf(path, size, "%s/%s%u.%u%s", dev->daemon->state_dir,
		 record_prefix(dev->kind), dev->guest, dev->id, suffix);
}

static void attach(struct vx_device *dev, struct device_record *r)
{
	unsigned int i;

	dev->record = r;
	dev->model_state = r->model_len ? (uint8_t *)r + r->model_off : NULL;
	for (i = 0; i < dev->nr_queues && i < r->nr_queues; i++)
		dev->queues[i].inflight =
			(void *)((uint8_t *)r + r->queue[i].inflight_off);
}

/* The record of @dev as it stands now: what it holds, where, and its length. */
static void record_layout(const struct vx_device *dev, struct device_record *r)
{
	size_t at = align8(sizeof(*r));
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->guest = dev->guest;
	r->id = dev->id;
	r->driver_features = dev->driver_features;
	r->nr_queues = dev->nr_queues;
	for (i = 0; i < dev->nr_queues; i++) {
		const struct vx_queue *q = &dev->queues[i];

		r->queue[i] = (struct record_queue){
			.desc = q->desc_addr, .driver = q->driver_addr,
			.device = q->device_addr, .size = q->size,
			.port = q->remote_port, .inflight_off = at,
		};
		at += align8(vq_inflight_bytes(q->size));
	}
	r->model_off = at;
	r->model_len = dev->model->state_bytes;
	r->len = at + r->model_len;
}

int record_create(struct vx_device *dev)
{
	char tmp[RECORD_PATH_MAX], path[RECORD_PATH_MAX];
	struct device_record want, *r;
	int fd;

	record_remove(dev);
	record_layout(dev, &want);
	record_path(dev, tmp, sizeof(tmp), ".new");
	record_path(dev, path, sizeof(path), "");
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto err;
	if (ftruncate(fd, want.len))
		goto err_fd;
	r = mmap(NULL, want.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		goto err_fd;
	close(fd);

	*r = want;
	memcpy(r->magic, RECORD_MAGIC, sizeof(r->magic));
	/* Complete before it has its name: a half-made record is never found. */
	if (rename(tmp, path)) {
		munmap(r, r->len);
		goto err;
	}
	attach(dev, r);
	return 0;

err_fd:
	close(fd);
err:
	dev_err(dev, "cannot make its record %s: %s (it will not survive a restart of the daemon)",
		path, strerror(errno));
	unlink(tmp);
	return -1;
}

/* Whether @r describes the queues the frontend has now (read into dev->queues). */
static const char *record_mismatch(const struct vx_device *dev,
				   const struct device_record *r, size_t file_len)
{
	struct device_record want;
	unsigned int i;

	record_layout(dev, &want);
	if (memcmp(r->magic, RECORD_MAGIC, sizeof(r->magic)) || r->len != file_len)
		return "it is not a record of this daemon";
	if (r->guest != want.guest || r->id != want.id)
		return "it is another device's";
	if (r->driver_features != want.driver_features)
		return "the driver's features differ";
	if (r->nr_queues != want.nr_queues)
		return "the number of queues differs";
	for (i = 0; i < r->nr_queues; i++) {
		const struct record_queue *rq = &r->queue[i], *wq = &want.queue[i];

		if (rq->desc != wq->desc || rq->driver != wq->driver ||
		    rq->device != wq->device || rq->size != wq->size ||
		    rq->port != wq->port)
			return "a queue's rings or event channel differ";
		if (rq->inflight_off != wq->inflight_off)
			return "it is not a record of this daemon";
	}
	if (r->model_off != want.model_off || r->model_len != want.model_len ||
	    r->len != want.len)
		return "it is not a record of this daemon";
	return NULL;
}

int record_resume(struct vx_device *dev)
{
	char path[RECORD_PATH_MAX];
	const char *why;
	struct stat st;
	void *r;
	int fd;

	record_path(dev, path, sizeof(path), "");
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		dev_warn(dev, "no record of the device in %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(struct device_record) ||
	    st.st_size > 64 << 20) {
		dev_warn(dev, "record %s: not a record of this daemon", path);
		close(fd);
		return -1;
	}
	r = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED) {
		dev_warn(dev, "record %s: %s", path, strerror(errno));
		return -1;
	}
	why = record_mismatch(dev, r, st.st_size);
	if (why) {
		dev_warn(dev, "record %s cannot be resumed: %s", path, why);
		munmap(r, st.st_size);
		return -1;
	}
	attach(dev, r);
	return 0;
}

static void detach(struct vx_device *dev)
{
	unsigned int i;

	munmap(dev->record, dev->record->len);
	dev->record = NULL;
	dev->model_state = NULL;
	for (i = 0; i < dev->nr_queues; i++)
		dev->queues[i].inflight = NULL;
}

void record_close(struct vx_device *dev)
{
	if (dev->record)
		detach(dev);
}

void record_remove(struct vx_device *dev)
{
	char path[RECORD_PATH_MAX];

	if (dev->record)
		detach(dev);
	record_path(dev, path, sizeof(path), "");
	if (unlink(path) && errno != ENOENT)
		dev_err(dev, "cannot remove its record %s: %s", path,
			strerror(errno));
}

/* Records of devices that no longer exist, left by a daemon that died. */
void record_sweep(struct vx_daemon *d,
		  bool (*exists)(struct vx_daemon *d, enum vx_kind kind,
				 uint32_t guest, uint32_t id))
{
	char path[RECORD_PATH_MAX + 256];
	unsigned int guest, id;
	const char *xl_prefix = record_prefix(VX_KIND_XL_DISK), *name;
	size_t xl_len = strlen(xl_prefix);
	enum vx_kind kind;
	struct dirent *e;
	DIR *dir = opendir(d->state_dir);
	int n;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		kind = strncmp(e->d_name, xl_prefix, xl_len) ? VX_KIND_VIRTIO :
							       VX_KIND_XL_DISK;
		name = e->d_name + strlen(record_prefix(kind));
		n = 0;
		if (sscanf(name, "%u.%u%n", &guest, &id, &n) != 2 ||
		    (name[n] && strcmp(name + n, ".new")))
			continue;	/* not ours */
		if (!name[n] && exists(d, kind, guest, id))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->state_dir, e->d_name);
		if (!unlink(path))
			log_info("removed %s: no such device", path);
	}
	closedir(dir);
}
