// SPDX-License-Identifier: GPL-2.0-only
/* A recursive-descent reader of xl.cfg(5) syntax; see xlcfg.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg.h"

/* Deeper lists than this are an attack, not a config (xl nests two). */
#define MAX_DEPTH	8

struct parser {
	const char *p;
	unsigned int line;
	char *err;
	size_t errlen;
	bool failed;
};

static bool fail(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool fail(struct parser *ps, const char *fmt, ...)
{
	int n;
	va_list ap;

	if (ps->failed)
		return false;
	ps->failed = true;
	n = snprintf(ps->err, ps->errlen, "line %u: ", ps->line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Skips blanks and comments; newlines too if @newlines. */
static void skip_space(struct parser *ps, bool newlines)
{
	for (;;) {
		if (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r') {
			ps->p++;
		} else if (*ps->p == '#') {
			while (*ps->p && *ps->p != '\n')
				ps->p++;
		} else if (newlines && *ps->p == '\n') {
			ps->line++;
			ps->p++;
		} else {
			return;
		}
	}
}

static void value_free(struct vx_xlcfg_value *v)
{
	unsigned int i;

	for (i = 0; i < v->n; i++)
		value_free(&v->items[i]);
	free(v->items);
	free(v->string);
	memset(v, 0, sizeof(*v));
}

static int hex_digit(char c)
{
	if (isdigit((unsigned char)c))
		return c - '0';
	c = tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One escape after a backslash, into *@out; false if xl would refuse it. */
static bool parse_escape(struct parser *ps, char *out)
{
	static const char simple[] = "n\nt\tr\rv\vb\bf\fa\a\\\\\"\"''";
	const char *s;
	char c = *ps->p++;
	int v = 0, i, d;

	for (s = simple; *s; s += 2)
		if (c == s[0]) {
			*out = s[1];
			return true;
		}
	if (c == 'x') {
		for (i = 0; i < 2 && (d = hex_digit(*ps->p)) >= 0; i++, ps->p++)
			v = v * 16 + d;
		if (!i)
			return fail(ps, "\\x without hex digits");
	} else if (c >= '0' && c <= '7') {
		v = c - '0';
		for (i = 1; i < 3 && *ps->p >= '0' && *ps->p <= '7'; i++)
			v = v * 8 + *ps->p++ - '0';
	} else {
		return fail(ps, "unknown escape '\\%c' in a string", c ? c : '0');
	}
	if (!v || v > 255)
		return fail(ps, "escape gives a character out of range");
	*out = (char)v;
	return true;
}

static char *parse_string(struct parser *ps)
{
	char quote = *ps->p++;
	size_t len = 0;
	char *s = malloc(strlen(ps->p) + 1);

	if (!s) {
		fail(ps, "out of memory");
		return NULL;
	}
	while (*ps->p != quote) {
		if (!*ps->p || *ps->p == '\n') {
			fail(ps, "string not closed on its line (%c missing)", quote);
			free(s);
			return NULL;
		}
		if (*ps->p == '\\') {
			ps->p++;
			if (!parse_escape(ps, &s[len++])) {
				free(s);
				return NULL;
			}
		} else {
			s[len++] = *ps->p++;
		}
	}
	ps->p++;
	s[len] = '\0';
	return s;
}

static bool parse_value(struct parser *ps, struct vx_xlcfg_value *v, int depth);

static bool parse_list(struct parser *ps, struct vx_xlcfg_value *v, int depth)
{
	struct vx_xlcfg_value *items;

	if (depth >= MAX_DEPTH)
		return fail(ps, "lists nested too deep");
	ps->p++;
	v->is_list = true;
	for (;;) {
		skip_space(ps, true);
		if (*ps->p == ']')
			break;
		if (!*ps->p)
			return fail(ps, "list not closed (']' missing)");
		items = realloc(v->items, (v->n + 1) * sizeof(*items));
		if (!items)
			return fail(ps, "out of memory");
		v->items = items;
		memset(&items[v->n], 0, sizeof(*items));
		if (!parse_value(ps, &items[v->n++], depth + 1))
			return false;
		skip_space(ps, true);
		if (*ps->p == ',')
			ps->p++;
		else if (*ps->p != ']')
			return fail(ps, "expected ',' or ']' in a list");
	}
	ps->p++;
	return true;
}

static bool parse_value(struct parser *ps, struct vx_xlcfg_value *v, int depth)
{
	const char *start = ps->p;

	v->line = ps->line;
	if (*ps->p == '[')
		return parse_list(ps, v, depth);
	if (*ps->p == '"' || *ps->p == '\'') {
		v->string = parse_string(ps);
		return v->string != NULL;
	}
	if (isdigit((unsigned char)*ps->p)) {
		while (isalnum((unsigned char)*ps->p) || *ps->p == '.')
			ps->p++;
		v->string = strndup(start, ps->p - start);
		return v->string ? true : fail(ps, "out of memory");
	}
	if (!*ps->p || *ps->p == '\n')
		return fail(ps, "a setting without a value");
	return fail(ps, "a value must be a \"string\", a number or a [list], not '%.10s'",
		    ps->p);
}

/* `name += value`: a list gets the new items, a string the new text. */
static bool append(struct parser *ps, struct vx_xlcfg_value *to,
		   struct vx_xlcfg_value *v)
{
	struct vx_xlcfg_value *items;
	char *s;

	if (to->is_list != v->is_list)
		return fail(ps, "+= of a %s to a %s", v->is_list ? "list" : "string",
			    to->is_list ? "list" : "string");
	if (v->is_list) {
		items = realloc(to->items, (to->n + v->n) * sizeof(*items));
		if (!items && to->n + v->n)
			return fail(ps, "out of memory");
		to->items = items;
		if (v->n)	/* `+= []`: no items, maybe no array */
			memcpy(&items[to->n], v->items, v->n * sizeof(*items));
		to->n += v->n;
		free(v->items);
	} else {
		s = malloc(strlen(to->string) + strlen(v->string) + 1);
		if (!s)
			return fail(ps, "out of memory");
		strcat(strcpy(s, to->string), v->string);
		free(to->string);
		to->string = s;
		free(v->string);
	}
	memset(v, 0, sizeof(*v));
	return true;
}

static bool store(struct parser *ps, struct vx_xlcfg *cfg, char *name,
		  struct vx_xlcfg_value *v, bool add)
{
	struct vx_xlcfg_value *old = (struct vx_xlcfg_value *)vx_xlcfg_get(cfg, name);
	struct vx_xlcfg_setting *s;

	if (add && old) {
		free(name);
		return append(ps, old, v);
	}
	s = realloc(cfg->settings, (cfg->n + 1) * sizeof(*s));
	if (!s) {
		free(name);
		return fail(ps, "out of memory");
	}
	cfg->settings = s;
	s[cfg->n].name = name;
	s[cfg->n++].value = *v;
	memset(v, 0, sizeof(*v));
	return true;
}

static bool parse_setting(struct parser *ps, struct vx_xlcfg *cfg)
{
	struct vx_xlcfg_value v = { 0 };
	const char *start = ps->p;
	char *name;
	bool add;

	if (!isalpha((unsigned char)*ps->p) && *ps->p != '_')
		return fail(ps, "expected a setting name, not '%.10s'", ps->p);
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
		ps->p++;
	name = strndup(start, ps->p - start);
	if (!name)
		return fail(ps, "out of memory");
	skip_space(ps, false);
	add = ps->p[0] == '+' && ps->p[1] == '=';
	if (*ps->p != '=' && !add) {
		fail(ps, "expected '=' after %s", name);
		free(name);
		return false;
	}
	ps->p += add ? 2 : 1;
	skip_space(ps, false);
	if (!parse_value(ps, &v, 0)) {
		free(name);
		value_free(&v);
		return false;
	}
	if (!store(ps, cfg, name, &v, add)) {	/* it took @name */
		value_free(&v);
		return false;
	}
	skip_space(ps, false);
	if (*ps->p && *ps->p != '\n' && *ps->p != ';')
		return fail(ps, "expected the end of the setting, not '%.10s'", ps->p);
	return true;
}

bool vx_xlcfg_parse(struct vx_xlcfg *cfg, const char *text, char *err,
		    size_t errlen)
{
	struct parser ps = { .p = text, .line = 1, .err = err, .errlen = errlen };

	memset(cfg, 0, sizeof(*cfg));
	for (;;) {
		skip_space(&ps, true);
		if (!*ps.p)
			return true;
		if (*ps.p == ';') {
			ps.p++;
			continue;
		}
		if (!parse_setting(&ps, cfg)) {
			vx_xlcfg_free(cfg);
			return false;
		}
	}
}

const struct vx_xlcfg_value *vx_xlcfg_get(const struct vx_xlcfg *cfg,
					  const char *name)
{
	unsigned int i;

	for (i = cfg->n; i-- > 0;)
		if (!strcmp(cfg->settings[i].name, name))
			return &cfg->settings[i].value;
	return NULL;
}

void vx_xlcfg_free(struct vx_xlcfg *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->n; i++) {
		free(cfg->settings[i].name);
		value_free(&cfg->settings[i].value);
	}
	free(cfg->settings);
	memset(cfg, 0, sizeof(*cfg));
}
