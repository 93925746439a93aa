/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An xl guest config (xl.cfg(5)): settings `name = value` or `name += value`,
 * one a line or separated by ';', where a value is a string (quoted with "
 * or '), a number, or a list of values in [ ] over any number of lines;
 * '#' starts a comment.  virtio-xenbus reads its own settings
 * (virtio_disk, virtio_nic) from the same file xl reads, so it must
 * accept what xl accepts and refuse, with the line, what xl refuses.
 */
#ifndef VX_XLCFG_H
#define VX_XLCFG_H

#include <stdbool.h>
#include <stddef.h>

struct vx_xlcfg_value {
	unsigned int line;
	bool is_list;
	char *string;			/* a string or number, as written */
	struct vx_xlcfg_value *items;	/* a list's values */
	unsigned int n;
};

struct vx_xlcfg_setting {
	char *name;
	struct vx_xlcfg_value value;
};

struct vx_xlcfg {
	struct vx_xlcfg_setting *settings;
	unsigned int n;
};

/*
 * Parses @text into @cfg.  On error returns false with "line N: reason" in
 * @err (@errlen bytes), and @cfg holds nothing.
 */
bool vx_xlcfg_parse(struct vx_xlcfg *cfg, const char *text, char *err,
		    size_t errlen);
/* The setting called @name (the last one wins, as in xl), or NULL. */
const struct vx_xlcfg_value *vx_xlcfg_get(const struct vx_xlcfg *cfg,
					  const char *name);
void vx_xlcfg_free(struct vx_xlcfg *cfg);

#endif
