// SPDX-License-Identifier: GPL-2.0-only
/*
 * A guest's virtio devices as the toolstack wrote them, kept to give them
 * back: in memory for a reboot, in FILE.virtio beside a save file.
 */
#include <ctype.h>
#include <unistd.h>

#include "virtio-xenbus.h"

static const char *const toolstack_keys[] = {
	"grant-access", "queues", "params", "mode", "serial", "dev", "mac", "bridge",
	"script", "ip", "vifname", "mtu", "link",
};

void saved_free(struct saved_devices *sv)
{
	unsigned int i, k;

	for (i = 0; i < sv->n; i++) {
		free(sv->dev[i].type);
		for (k = 1; sv->dev[i].kv[k - 1]; k += 2)
			free((char *)sv->dev[i].kv[k]);
	}
	free(sv->dev);
	sv->dev = NULL;
	sv->n = 0;
}

void save_device(uint32_t guest, uint32_t devid, uint32_t be,
			const char *be_dir, void *arg)
{
	struct saved_devices *sv = arg;
	struct saved_device *dev, *grown;
	unsigned int k, i = 0;
	char *v;

	grown = realloc(sv->dev, (sv->n + 1) * sizeof(*grown));
	if (!grown)
		return;
	sv->dev = grown;
	dev = memset(&grown[sv->n], 0, sizeof(*dev));
	dev->devid = devid;
	dev->be = be;
	dev->type = xs_readf("%s/type", be_dir);
	/* libxl's own (virtio = [...]) it makes again itself, at restore and migration. */
	if (!dev->type || (strcmp(dev->type, "blk") && strcmp(dev->type, "net"))) {
		free(dev->type);
		return;
	}
	for (k = 0; k < sizeof(toolstack_keys) / sizeof(toolstack_keys[0]); k++) {
		v = xs_readf("%s/%s", be_dir, toolstack_keys[k]);
		if (!v)
			continue;
		dev->kv[i++] = toolstack_keys[k];
		dev->kv[i++] = v;
	}
	sv->n++;
}

/* The value of @key in a saved device, or NULL. */
const char *saved_key(const struct saved_device *dev, const char *key)
{
	unsigned int k;

	for (k = 0; dev->kv[k]; k += 2)
		if (!strcmp(dev->kv[k], key))
			return dev->kv[k + 1];
	return NULL;
}

/* Gives @guest a saved device again, with its devid. */
bool give_back(const struct saved_device *dev, uint32_t guest, char *err,
		      size_t errlen)
{
	struct device_plan plan = { .be = dev->be, .type = dev->type };

	memcpy(plan.kv, dev->kv, sizeof(dev->kv));
	return add_device(&plan, guest, dev->devid, err, errlen) >= 0;
}

/* Appends ",KEY=VALUE" of the saved key @key (as @name) to @buf, if it has one. */
static size_t add_key(const struct saved_device *dev, const char *key,
		      const char *name, char *buf, size_t len, size_t at)
{
	const char *v = saved_key(dev, key);

	if (!v || at >= len)
		return at;
	return at + snprintf(buf + at, len - at, "%s%s=%s", at && buf[at - 1] != '\'' ?
			     "," : "", name, v);
}

void saved_attach_command(const struct saved_device *dev, const char *guest,
			  char *buf, size_t len)
{
	const char *mode = saved_key(dev, "mode");
	bool disk = !strcmp(dev->type, "blk");
	size_t at;

	at = snprintf(buf, len, "virtio-xenbus %s %s '", disk ? "disk-attach" : "nic-attach",
		      guest);
	if (disk) {
		at = add_key(dev, "dev", "vdev", buf, len, at);
		if (at < len)
			at += snprintf(buf + at, len - at, ",access=%s",
				       mode && !strcmp(mode, "r") ? "ro" : "rw");
		at = add_key(dev, "queues", "queues", buf, len, at);
	} else {
		at = add_key(dev, "mac", "mac", buf, len, at);
		at = add_key(dev, "bridge", "bridge", buf, len, at);
		at = add_key(dev, "script", "script", buf, len, at);
		at = add_key(dev, "vifname", "vifname", buf, len, at);
		at = add_key(dev, "mtu", "mtu", buf, len, at);
		at = add_key(dev, "queues", "queues", buf, len, at);
	}
	if (dev->be_name[0] && at < len)
		at += snprintf(buf + at, len - at, ",backend=%s", dev->be_name);
	/* xl's syntax: target= last, as it may hold commas. */
	if (disk)
		at = add_key(dev, "params", "target", buf, len, at);
	if (at < len)
		snprintf(buf + at, len - at, "'");
}

/*
 * A saved guest's devices travel beside its save file, in FILE.virtio, and
 * on migrate-receive's command line:
 *
 *   # virtio-xenbus saved devices 1
 *   name NAME
 *   uuid UUID				(migrate only)
 *   device DEVID BACKEND TYPE KEY=VALUE...
 *   backend NAME			(migrate only: the device's backend
 *					 domain by name, its domid is this host's)
 *
 * with each name and value %-escaped (space, '%', controls).  And while
 * `save` runs, /tool/virtio-xenbus/saving/UUID tells the guest's follower
 * that the domain about to go is saved, not rebooting.
 */
#define SAVED_HEADER	"# virtio-xenbus saved devices 1"
#define SAVING_DIR	"/tool/virtio-xenbus/saving"

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '%' || *s == 0x7f)
			fprintf(f, "%%%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

/* Undoes put_escaped in place; false if @s is not escaped so. */
static bool unescape(char *s)
{
	char *out = s;
	unsigned int c;

	for (; *s; s++) {
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
		    sscanf(s + 1, "%2x", &c) != 1 || !c)
			return false;
		*out++ = c;
		s += 2;
	}
	*out = '\0';
	return true;
}

bool write_saved_to(FILE *f, const char *name, const struct saved_devices *sv)
{
	unsigned int i, k;

	fprintf(f, "%s\nname ", SAVED_HEADER);
	put_escaped(f, name);
	fputc('\n', f);
	if (sv->uuid[0])
		fprintf(f, "uuid %s\n", sv->uuid);
	for (i = 0; i < sv->n; i++) {
		fprintf(f, "device %u %u %s", sv->dev[i].devid, sv->dev[i].be, sv->dev[i].type);
		for (k = 0; sv->dev[i].kv[k]; k += 2) {
			fprintf(f, " %s=", sv->dev[i].kv[k]);
			put_escaped(f, sv->dev[i].kv[k + 1]);
		}
		fputc('\n', f);
		if (sv->dev[i].be_name[0]) {
			fputs("backend ", f);
			put_escaped(f, sv->dev[i].be_name);
			fputc('\n', f);
		}
	}
	return !ferror(f);
}

bool write_saved(const char *path, const char *name,
		 const struct saved_devices *sv)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = write_saved_to(f, name, sv) && !fflush(f) && !fsync(fileno(f));
	return !fclose(f) && ok;
}

/* The toolstack key @key as one of ours (static), or NULL. */
static const char *toolstack_key(const char *key)
{
	size_t k;

	for (k = 0; k < sizeof(toolstack_keys) / sizeof(toolstack_keys[0]); k++)
		if (!strcmp(key, toolstack_keys[k]))
			return toolstack_keys[k];
	return NULL;
}

/* One "device" line, split in place into @dev. */
static bool parse_saved_device(char *line, struct saved_device *dev)
{
	char *tok, *eq, *save = NULL;
	unsigned int i = 0;

	tok = strtok_r(line, " ", &save);
	if (!tok || !parse_id(tok, UINT32_MAX, &dev->devid))
		return false;
	tok = strtok_r(NULL, " ", &save);
	if (!tok || !parse_id(tok, 0x7fef, &dev->be))
		return false;
	tok = strtok_r(NULL, " ", &save);
	if (!tok || (strcmp(tok, "blk") && strcmp(tok, "net")))
		return false;
	dev->type = strdup(tok);
	while ((tok = strtok_r(NULL, " ", &save))) {
		eq = strchr(tok, '=');
		if (!eq || i + 2 >= 2 * MAX_SAVED_KEYS)
			return false;
		*eq = '\0';
		dev->kv[i] = toolstack_key(tok);
		if (!dev->kv[i] || !unescape(eq + 1))
			return false;
		dev->kv[i + 1] = strdup(eq + 1);
		i += 2;
	}
	return dev->type != NULL;
}

/* A uuid as libxl writes it in a vm path: 8-4-4-4-12 hex digits. */
static bool valid_uuid(const char *s)
{
	unsigned int i;

	for (i = 0; s[i]; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return false;
	return i == 36;
}

/* What write_saved_to wrote; the reason in @err if not. */
bool read_saved_from(FILE *f, const char *what, char *name, size_t namelen,
		     struct saved_devices *sv, char *err, size_t errlen)
{
	unsigned int line_no = 0;
	struct saved_device *grown;
	char line[4096];
	bool ok = true;

	name[0] = '\0';
	while (ok && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (++line_no == 1) {
			ok = !strcmp(line, SAVED_HEADER);
		} else if (!strncmp(line, "name ", 5)) {
			ok = unescape(line + 5) && strlen(line + 5) < namelen;
			if (ok)
				strcpy(name, line + 5);
		} else if (!strncmp(line, "uuid ", 5)) {
			ok = strlen(line + 5) < sizeof(sv->uuid) && valid_uuid(line + 5);
			if (ok)
				strcpy(sv->uuid, line + 5);
		} else if (!strncmp(line, "backend ", 8)) {
			ok = sv->n && unescape(line + 8) &&
			     strlen(line + 8) < sizeof(sv->dev[0].be_name);
			if (ok)
				strcpy(sv->dev[sv->n - 1].be_name, line + 8);
		} else if (!strncmp(line, "device ", 7)) {
			grown = realloc(sv->dev, (sv->n + 1) * sizeof(*grown));
			ok = grown != NULL;
			if (ok) {
				sv->dev = grown;
				memset(&grown[sv->n], 0, sizeof(*grown));
				ok = parse_saved_device(line + 7, &grown[sv->n]);
				sv->n++;
			}
		} else {
			ok = false;
		}
	}
	if (ok && !name[0])
		return spec_fail(err, errlen, "%s: no guest name", what);
	if (!ok)
		return spec_fail(err, errlen, "%s: line %u is not what virtio-xenbus save writes",
			     what, line_no);
	return true;
}

/* Reads a FILE.virtio that write_saved wrote; the reason in @err if not. */
bool read_saved(const char *path, char *name, size_t namelen,
		struct saved_devices *sv, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return spec_fail(err, errlen, "%s: %s", path, strerror(errno));
	ok = read_saved_from(f, path, name, namelen, sv, err, errlen);
	fclose(f);
	return ok;
}

/* SAVING_DIR/UUID for the domain whose vm path is @vm. */
void saving_path(const char *vm, char *path, size_t len)
{
	const char *uuid = strrchr(vm, '/');

	snprintf(path, len, "%s/%s", SAVING_DIR, uuid ? uuid + 1 : vm);
}
