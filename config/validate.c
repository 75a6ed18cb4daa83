/*
 * validate.c: the checks of string values the table names (URLs, the
 * repository, age recipients, listen addresses, time zones, schedules,
 * retention policies, lock prefixes).  What an option means belongs to the
 * module that reads it; these only guarantee that a value is well formed.
 * Messages must not quote a secret value (value.c masks those).
 */
#include "config/table.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scheduler/cron.h"
#include "scheduler/retention.h"

static int
has_space_or_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

int
cfg_check_token(const char *v, char *w, size_t n)
{
	if (has_space_or_ctl(v))
		return cfg_why(w, n, "%s contains blanks", v);
	if (strlen(v) > 256)
		return cfg_why(w, n, "value longer than 256 characters");
	return 0;
}

static int
check_port(const char *p, const char *v, char *w, size_t n)
{
	long long port;

	if (cfg_parse_ll(p, &port) < 0 || port < 1 || port > 65535)
		return cfg_why(w, n, "%s: bad port", v);
	return 0;
}

/* scheme://host[:port][path]; host may be [v6].  Leaves the path (or
 * NULL) in *path.  Returns 1 when v has another scheme. */
static int
check_url(const char *v, const char *scheme, const char **path, char *w, size_t n)
{
	char auth[300];
	const char *a, *slash, *colon;
	size_t len;

	len = strlen(scheme);
	if (strncmp(v, scheme, len) != 0 || strncmp(v + len, "://", 3) != 0)
		return 1;
	if (has_space_or_ctl(v))
		return cfg_why(w, n, "%s contains blanks", v);
	a = v + len + 3;
	slash = strchr(a, '/');
	*path = slash;
	len = slash != NULL ? (size_t)(slash - a) : strlen(a);
	if (len == 0 || len >= sizeof(auth))
		return cfg_why(w, n, "%s has no host", v);
	memcpy(auth, a, len);
	auth[len] = '\0';
	if (strchr(auth, '@') != NULL)
		return cfg_why(w, n, "%s: credentials do not belong in a URL", scheme);
	if (auth[0] == '[') {
		const char *close = strchr(auth, ']');

		if (close == NULL || close == auth + 1)
			return cfg_why(w, n, "%s has a bad IPv6 address", v);
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':')
			return cfg_why(w, n, "%s has a bad host", v);
		return check_port(close + 2, v, w, n);
	}
	if ((colon = strchr(auth, ':')) == NULL)
		return 0;
	if (colon == auth)
		return cfg_why(w, n, "%s has no host", v);
	return check_port(colon + 1, v, w, n);
}

int
cfg_check_http_url(const char *v, char *w, size_t n)
{
	const char *path = NULL;
	int r;

	if ((r = check_url(v, "https", &path, w, n)) == 1)
		r = check_url(v, "http", &path, w, n);
	if (r == 1)
		return cfg_why(w, n, "%s is not an http:// or https:// URL", v);
	if (r < 0)
		return r;
	if (path != NULL && strcmp(path, "/") != 0)
		return cfg_why(w, n, "%s: a URL here has no path", v);
	return 0;
}

/* 1 if a '/'-separated path has a ".." segment. */
static int
has_dotdot(const char *p)
{
	const char *seg = p, *end;

	for (;;) {
		end = strchr(seg, '/');
		if ((end != NULL ? end - seg : (ptrdiff_t)strlen(seg)) == 2 &&
		    strncmp(seg, "..", 2) == 0)
			return 1;
		if (end == NULL)
			return 0;
		seg = end + 1;
	}
}

int
cfg_check_repo(const char *v, char *w, size_t n)
{
	const char *b, *slash, *p;
	size_t blen;

	if (has_space_or_ctl(v))
		return cfg_why(w, n, "%s contains blanks", v);
	if (strncmp(v, "file://", 7) == 0) {
		p = v + 7;
		if (p[0] != '/')
			return cfg_why(w, n, "%s: a file repository needs an absolute path "
			    "(file:///PATH)", v);
		if (has_dotdot(p))
			return cfg_why(w, n, "%s: the path may not contain ..", v);
		return 0;
	}
	if (strncmp(v, "s3://", 5) != 0)
		return cfg_why(w, n, "%s is neither file:///PATH nor s3://BUCKET/PREFIX", v);
	b = v + 5;
	slash = strchr(b, '/');
	blen = slash != NULL ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen > 63)
		return cfg_why(w, n, "%s: a bucket name has 3 to 63 characters", v);
	for (p = b; p < b + blen; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '.' && *p != '-')
			return cfg_why(w, n, "%s: a bucket name has only a-z, 0-9, '.' and '-'", v);
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[blen - 1]))
		return cfg_why(w, n, "%s: a bucket name starts and ends with a letter or digit", v);
	if (slash == NULL || slash[1] == '\0')
		return 0;
	p = slash + 1;
	if (p[0] == '/' || strstr(p, "//") != NULL || p[strlen(p) - 1] == '/')
		return cfg_why(w, n, "%s: the prefix has an empty path segment", v);
	if (has_dotdot(p))
		return cfg_why(w, n, "%s: the prefix may not contain ..", v);
	return 0;
}

/* age X25519 recipient: "age1" + bech32 of 32 bytes, checksum included,
 * so a mistyped key is caught here rather than at the first backup. */
int
cfg_check_age_recipient(const char *v, char *w, size_t n)
{
	static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
	static const uint32_t gen[5] = {
		0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3
	};
	uint8_t vals[80];
	const char *q;
	uint32_t chk = 1, top;
	size_t i, j, nv = 0;

	if (strncmp(v, "age1", 4) != 0 || strlen(v) != 62)
		return cfg_why(w, n, "%s is not an age recipient (age1 and 58 characters)", v);
	/* human-readable part "age", expanded as bech32 does */
	for (i = 0; i < 3; i++)
		vals[nv++] = (uint8_t)(v[i] >> 5);
	vals[nv++] = 0;
	for (i = 0; i < 3; i++)
		vals[nv++] = (uint8_t)(v[i] & 31);
	for (i = 4; i < 62; i++) {
		if ((q = strchr(charset, v[i])) == NULL || v[i] == '\0')
			return cfg_why(w, n, "%s is not an age recipient (bad character '%c')",
			    v, v[i]);
		vals[nv++] = (uint8_t)(q - charset);
	}
	for (i = 0; i < nv; i++) {
		top = chk >> 25;
		chk = (chk & 0x1ffffff) << 5 ^ vals[i];
		for (j = 0; j < 5; j++)
			if ((top >> j) & 1)
				chk ^= gen[j];
	}
	if (chk != 1)
		return cfg_why(w, n, "%s is not an age recipient (checksum mismatch: a typo?)", v);
	return 0;
}

int
cfg_check_listen(const char *v, char *w, size_t n)
{
	const char *colon;

	if (strcmp(v, "off") == 0)
		return 0;
	if (has_space_or_ctl(v))
		return cfg_why(w, n, "%s contains blanks", v);
	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL || colon == v + 1)
			return cfg_why(w, n, "%s is not [IPV6]:PORT", v);
		return check_port(colon + 2, v, w, n);
	}
	if ((colon = strrchr(v, ':')) == NULL || colon == v || strchr(v, ':') != colon)
		return cfg_why(w, n, "%s is not HOST:PORT or off", v);
	return check_port(colon + 1, v, w, n);
}

int
cfg_check_timezone(const char *v, char *w, size_t n)
{
	const char *p;

	if (v[0] == '/' || strstr(v, "..") != NULL || strlen(v) > 64)
		return cfg_why(w, n, "%s is not a time zone name (like UTC or Europe/Paris)", v);
	for (p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
			return cfg_why(w, n, "%s is not a time zone name (like UTC or Europe/Paris)", v);
	return 0;
}

/* Schedules and retention policies have one parser each, the one the
 * daemon and prune use (scheduler/), so a value this file accepts is one
 * they accept: both are pure (no I/O, no clock) and depend only on err.h.
 * Their messages start with what they parsed, so only the key is added. */
int
cfg_check_schedule(const char *v, char *w, size_t n)
{
	struct lb_err e = { 0 };
	struct sched *s = NULL;

	if (sched_parse(v, &s, &e) < 0)
		return cfg_why(w, n, "%s", e.msg);
	sched_free(s);
	return 0;
}

/* drill-schedule: a schedule, or "off" (no scheduled drills). */
int
cfg_check_schedule_or_off(const char *v, char *w, size_t n)
{
	return strcmp(v, "off") == 0 ? 0 : cfg_check_schedule(v, w, n);
}

int
cfg_check_retention(const char *v, char *w, size_t n)
{
	struct lb_err e = { 0 };
	struct ret_policy pol;
	const char *msg = e.msg;

	if (ret_policy_parse(v, &pol, &e) < 0) {
		if (strncmp(msg, "retention: ", 11) == 0)
			msg += 11;
		return cfg_why(w, n, "%s", msg);
	}
	return 0;
}

int
cfg_check_lock_prefix(const char *v, char *w, size_t n)
{
	if (v[0] != '/' || has_space_or_ctl(v))
		return cfg_why(w, n, "%s is not an etcd key prefix starting with /", v);
	/* with a cluster name, it must fit the lock's key (snapd/lock.c) */
	if (strlen(v) > 512)
		return cfg_why(w, n, "%.40s...: longer than 512 bytes", v);
	return 0;
}

int
cfg_object_lock_parse(const char *v, int *mode, long long *secs,
    struct lb_err *err)
{
	const char *colon = strchr(v, ':'), *p;
	long long n = 0, unit;

	*mode = CFG_LOCK_OFF;
	*secs = 0;
	if (strcmp(v, "off") == 0)
		return 0;
	if (colon != NULL && (size_t)(colon - v) == 10 && strncmp(v, "governance", 10) == 0)
		*mode = CFG_LOCK_GOVERNANCE;
	else if (colon != NULL && (size_t)(colon - v) == 10 &&
	    strncmp(v, "compliance", 10) == 0)
		*mode = CFG_LOCK_COMPLIANCE;
	else
		return lb_err_set(err, LB_E_CONFIG, "'%.40s' is not governance:PERIOD, "
		    "compliance:PERIOD or off (e.g. governance:14d)", v);
	for (p = colon + 1; isdigit((unsigned char)*p) && n < 1000000000LL; p++)
		n = n * 10 + (*p - '0');
	switch (p > colon + 1 && *p != '\0' && p[1] == '\0' ? *p : 0) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default:
		*mode = CFG_LOCK_OFF;
		return lb_err_set(err, LB_E_CONFIG, "'%.40s': the period is a number "
		    "with s, m, h or d (e.g. %.10s:14d)", v, v);
	}
	if (n < 1 || n * unit > 36500LL * 86400) {
		*mode = CFG_LOCK_OFF;
		return lb_err_set(err, LB_E_CONFIG, "'%.40s': the period must be "
		    "between 1s and 36500d", v);
	}
	*secs = n * unit;
	return 0;
}

int
cfg_check_object_lock(const char *v, char *w, size_t n)
{
	int mode;
	long long secs;
	struct lb_err e = { 0 };

	if (cfg_object_lock_parse(v, &mode, &secs, &e) < 0)
		return cfg_why(w, n, "%s", e.msg);
	return 0;
}
