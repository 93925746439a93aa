// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nicspec.h"
#include "spec.h"
#include "xsvalue.h"

static bool valid_mac(const char *s)
{
	int i;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	/* The guest's own address: unicast (the low bit of the first byte clear). */
	return !(strtoul((char[]){ s[0], s[1], 0 }, NULL, 16) & 1);
}

/* Each text key: where it goes, and how it is checked. */
static const struct {
	const char *key;
	size_t offset, size;
	bool (*valid)(const char *s);
	const char *what;
} text_keys[] = {
	{ "mac", offsetof(struct vx_nicspec, mac), 18, valid_mac,
	  "a unicast xx:xx:xx:xx:xx:xx" },
	{ "bridge", offsetof(struct vx_nicspec, bridge), 16, vx_valid_ifname,
	  "an interface name" },
	{ "vifname", offsetof(struct vx_nicspec, vifname), 16, vx_valid_ifname,
	  "an interface name" },
	{ "script", offsetof(struct vx_nicspec, script), 256, NULL, NULL },
	{ "ip", offsetof(struct vx_nicspec, ip), 256, NULL, NULL },
	{ "backend", offsetof(struct vx_nicspec, backend), 64, NULL, NULL },
};

static bool set_key(struct vx_nicspec *n, unsigned int *seen, const char *key,
		    const char *val, char *err, size_t errlen)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(text_keys) / sizeof(text_keys[0]); i++) {
		if (strcmp(key, text_keys[i].key))
			continue;
		if (*seen & (1u << i))
			return spec_fail(err, errlen, "'%s' given twice", key);
		*seen |= 1u << i;
		if (!*val)
			return spec_fail(err, errlen, "%s is empty", key);
		if (strlen(val) >= text_keys[i].size)
			return spec_fail(err, errlen, "%s is too long (at most %zu bytes)", key,
				    text_keys[i].size - 1);
		if (text_keys[i].valid && !text_keys[i].valid(val))
			return spec_fail(err, errlen, "%s '%s' is not %s", key, val,
				    text_keys[i].what);
		strcpy((char *)n + text_keys[i].offset, val);
		return true;
	}
	if (!strcmp(key, "queues")) {
		if (n->queues)
			return spec_fail(err, errlen, "'queues' given twice");
		if (!vx_parse_dec_str(val, 16, &v) || !v)
			return spec_fail(err, errlen, "queues '%s' is not a number from 1 to 16", val);
		n->queues = v;
		return true;
	}
	if (!strcmp(key, "mtu")) {
		if (n->mtu)
			return spec_fail(err, errlen, "'mtu' given twice");
		if (!vx_parse_dec_str(val, 65535, &v) || v < 68)
			return spec_fail(err, errlen, "mtu '%s' is not a number from 68 to 65535", val);
		n->mtu = v;
		return true;
	}
	/* xl keys with one meaning for a virtio nic: accepted when they say so. */
	if (!strcmp(key, "model") || !strcmp(key, "type")) {
		if (strcmp(val, !strcmp(key, "model") ? "virtio" : "vif"))
			return spec_fail(err, errlen, "%s '%s' is not supported: a virtio nic is %s",
				    key, val, !strcmp(key, "model") ? "model=virtio" : "type=vif");
		return true;
	}
	return spec_fail(err, errlen, "unknown key '%s'", key);
}

bool vx_parse_nicspec(const char *spec, struct vx_nicspec *n, char *err,
		      size_t errlen)
{
	char *copy = strdup(spec), *p, *item, *eq;
	unsigned int seen = 0;
	bool ok = true;

	memset(n, 0, sizeof(*n));
	if (!copy)
		return spec_fail(err, errlen, "out of memory");
	for (p = copy; ok && (item = strsep(&p, ","));) {
		item = spec_trim(item);
		if (!*item)
			continue;	/* xl allows empty items */
		eq = strchr(item, '=');
		if (!eq) {
			ok = spec_fail(err, errlen, "'%s' is not key=value", item);
			break;
		}
		*eq = '\0';
		ok = set_key(n, &seen, spec_trim(item), spec_trim(eq + 1), err, errlen);
	}
	free(copy);
	return ok;
}
