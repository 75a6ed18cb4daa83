/*
 * value.c: one value parsed by the type the table gives its option
 * (numbers, yes/no, choices, durations, sizes, paths, lists), with the
 * range the table declares and the check it names (validate.c).
 */
#include "config/table.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

int
cfg_why(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_parse_ll(const char *s, long long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

void
cfg_fmt_duration(long long s, char *buf, size_t n)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(buf, n, "%lldd", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, n, "%lldh", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, n, "%lldm", s / 60);
	else
		snprintf(buf, n, "%llds", s);
}

void
cfg_fmt_size(long long b, char *buf, size_t n)
{
	if (b != 0 && b % GiB == 0)
		snprintf(buf, n, "%lldGiB", b / GiB);
	else if (b != 0 && b % MiB == 0)
		snprintf(buf, n, "%lldMiB", b / MiB);
	else if (b != 0 && b % KiB == 0)
		snprintf(buf, n, "%lldKiB", b / KiB);
	else
		snprintf(buf, n, "%lld", b);
}

/* "90s", "10m", "2h", "1d", "1w" and sums such as "1h30m", in seconds. */
static int
parse_duration(const char *s, long long *out, char *w, size_t wn)
{
	const long long cap = 10LL * 366 * 86400;
	long long total = 0, v, mul;
	const char *p = s;

	if (*p == '\0')
		return cfg_why(w, wn, "empty duration");
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return cfg_why(w, wn, "%s is not a duration (like 90s, 10m, 2h, 1d)", s);
		for (v = 0; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (*p - '0');
			if (v > cap)
				return cfg_why(w, wn, "%s is too long a duration", s);
		}
		switch (*p) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		case '\0':
			return cfg_why(w, wn, "%s needs a unit (s, m, h, d or w)", s);
		default:
			return cfg_why(w, wn, "%s is not a duration (like 90s, 10m, 2h, 1d)", s);
		}
		p++;
		total += v * mul;
		if (total > cap)
			return cfg_why(w, wn, "%s is too long a duration", s);
	}
	*out = total;
	return 0;
}

/* "1048576", "512KiB", "64MiB", "1GiB", "1TiB" (K, M, G, T too), in bytes. */
static int
parse_size(const char *s, long long *out, char *w, size_t wn)
{
	static const struct { const char *unit; long long mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "K", KiB }, { "KiB", KiB }, { "M", MiB },
		{ "MiB", MiB }, { "G", GiB }, { "GiB", GiB }, { "T", 1024 * GiB },
		{ "TiB", 1024 * GiB },
	};
	const long long cap = 64 * 1024 * GiB;
	long long v = 0;
	const char *p = s;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return cfg_why(w, wn, "%s is not a size (like 64MiB)", s);
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > cap)
			return cfg_why(w, wn, "%s is too large a size", s);
	}
	while (*p == ' ')
		p++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > cap / units[i].mul)
				return cfg_why(w, wn, "%s is too large a size", s);
			*out = v * units[i].mul;
			return 0;
		}
	}
	return cfg_why(w, wn, "%s is not a size (like 64MiB; units KiB, MiB, GiB, TiB)", s);
}

static int
parse_bool(const char *s, long long *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Index of s in "a|b|c", or -1. */
static int
enum_index(const char *choices, const char *s)
{
	size_t len = strlen(s);
	const char *p = choices, *bar;
	int i = 0;

	for (;;) {
		bar = strchr(p, '|');
		if ((size_t)(bar != NULL ? bar - p : (ptrdiff_t)strlen(p)) == len &&
		    strncmp(p, s, len) == 0)
			return i;
		if (bar == NULL)
			return -1;
		p = bar + 1;
		i++;
	}
}

void
cfg_trim_span(const char **start, const char **end)
{
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

void
cfg_val_clear(struct val *v)
{
	size_t i;

	free(v->text);
	for (i = 0; i < v->n_items; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static int
parse_list(const struct opt *o, const char *s, struct val *v, char *w, size_t wn)
{
	const char *p = s, *end, *a, *b;
	char item[CFG_LINE_MAX];
	size_t i, len;

	for (;;) {
		end = strchr(p, ',');
		a = p;
		b = end != NULL ? end : p + strlen(p);
		cfg_trim_span(&a, &b);
		if (a == b)
			return cfg_why(w, wn, "empty item in the list");
		len = (size_t)(b - a);
		if (len >= sizeof(item))
			return cfg_why(w, wn, "list item too long");
		memcpy(item, a, len);
		item[len] = '\0';
		if (o->check != NULL && o->check(item, w, wn) < 0)
			return -1;
		for (i = 0; i < v->n_items; i++)
			if (strcmp(v->items[i], item) == 0)
				return cfg_why(w, wn, "%s is listed twice", item);
		if ((long long)v->n_items >= o->max)
			return cfg_why(w, wn, "more than %lld items", o->max);
		if (lb_vec_grow(&v->items, &v->cap_items, v->n_items, sizeof(*v->items),
		    (size_t)o->max) < 0)
			return cfg_why(w, wn, "out of memory");
		if ((v->items[v->n_items] = strdup(item)) == NULL)
			return cfg_why(w, wn, "out of memory");
		v->n_items++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if ((long long)v->n_items < o->min)
		return cfg_why(w, wn, "needs at least %lld items", o->min);
	return 0;
}

int
cfg_parse_value(const struct opt *o, const char *s, struct val *v, char *w, size_t wn)
{
	char lo[32], hi[32];
	const char *shown = (o->flags & F_SECRET) ? "the value" : s;
	int r = 0, idx;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case T_INT:
		if ((o->flags & F_AUTO) && strcasecmp(s, "auto") == 0)
			v->num = CFG_AUTO;
		else if (cfg_parse_ll(s, &v->num) < 0)
			r = cfg_why(w, wn, (o->flags & F_AUTO) ?
			    "%s is not auto or a whole number" : "%s is not a whole number", shown);
		else if (v->num < o->min || v->num > o->max)
			r = cfg_why(w, wn, "%s is out of range %lld..%lld", shown, o->min, o->max);
		break;
	case T_BOOL:
		if (parse_bool(s, &v->num) < 0)
			r = cfg_why(w, wn, "%s is not yes or no", shown);
		break;
	case T_ENUM:
		if ((idx = enum_index(o->choices, s)) < 0) {
			char list[128], *q;

			snprintf(list, sizeof(list), "%s", o->choices);
			for (q = list; (q = strchr(q, '|')) != NULL; )
				*q = ',';
			r = cfg_why(w, wn, "%s is not one of %s", shown, list);
		}
		v->num = idx;
		break;
	case T_DURATION:
		if ((r = parse_duration(s, &v->num, w, wn)) == 0 &&
		    (v->num < o->min || v->num > o->max)) {
			cfg_fmt_duration(o->min, lo, sizeof(lo));
			cfg_fmt_duration(o->max, hi, sizeof(hi));
			r = cfg_why(w, wn, "%s is out of range %s..%s", s, lo, hi);
		}
		break;
	case T_SIZE:
		if ((r = parse_size(s, &v->num, w, wn)) == 0 &&
		    (v->num < o->min || v->num > o->max)) {
			cfg_fmt_size(o->min, lo, sizeof(lo));
			cfg_fmt_size(o->max, hi, sizeof(hi));
			r = cfg_why(w, wn, "%s is out of range %s..%s", s, lo, hi);
		}
		break;
	case T_PATH:
		if (s[0] != '/')
			r = cfg_why(w, wn, "%s is not an absolute path", shown);
		break;
	case T_LIST:
		r = parse_list(o, s, v, w, wn);
		break;
	case T_STRING:
	case T_URL:
		break;
	}
	if (r == 0 && o->type != T_LIST && o->check != NULL && o->check(s, w, wn) < 0) {
		r = -1;
		if (o->flags & F_SECRET)
			cfg_why(w, wn, "invalid value (not shown: it is secret)");
	}
	if (r == 0 && (v->text = strdup(s)) == NULL)
		r = cfg_why(w, wn, "out of memory");
	if (r < 0)
		cfg_val_clear(v);
	return r;
}
