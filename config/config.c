/*
 * config.c: the option table, the INI parser and validation it drives,
 * the getters, the secret look-ups (files and environment), and the text
 * generated from the table (option listing, example file, effective
 * configuration).  What an option means belongs to the module that reads
 * it; this file only guarantees that a value is well formed.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcd/etcd.h"
#include "common/log.h"
#include "ops/probe.h"
#include "scheduler/cron.h"
#include "scheduler/retention.h"
#include "stream/zstd_filter.h"

enum opt_section { SEC_GLOBAL, SEC_CLUSTER };

enum opt_type {
	T_STRING, T_INT, T_BOOL, T_ENUM, T_URL, T_LIST, T_PATH, T_DURATION, T_SIZE
};

#define F_SECRET   0x1u   /* never printed, never echoed in errors */
#define F_RELOAD   0x2u   /* may change on SIGHUP */
#define F_REQUIRED 0x4u

/* A check of a string value (or of each item of a list): 0, or -1 with
 * the reason in why (which must not quote a secret value). */
typedef int (*opt_check_fn)(const char *v, char *why, size_t n);

struct opt {
	const char *name;
	enum opt_section section;
	enum opt_type type;
	const char *def;        /* NULL: unset unless given */
	long long min, max;     /* int, duration (s), size (bytes), list length */
	unsigned flags;
	const char *choices;    /* enum: "a|b|c" */
	opt_check_fn check;
	const char *example;    /* shown in the example file when def is NULL */
	const char *help;
};

static int check_repo(const char *, char *, size_t);
static int check_http_url(const char *, char *, size_t);
static int check_token(const char *, char *, size_t);
static int check_age_recipient(const char *, char *, size_t);
static int check_listen(const char *, char *, size_t);
static int check_timezone(const char *, char *, size_t);
static int check_schedule(const char *, char *, size_t);
static int check_retention(const char *, char *, size_t);
static int check_lock_prefix(const char *, char *, size_t);

#define STR_(x) #x
#define STR(x) STR_(x)
#define KiB 1024LL
#define MiB (1024LL * KiB)
#define GiB (1024LL * MiB)

#define G SEC_GLOBAL
#define C SEC_CLUSTER
#define R F_RELOAD

/* Every option, in the order of the example file and the listing. */
static const struct opt opts[] = {
	{ "repo", G, T_URL, NULL, 0, 0, F_REQUIRED, NULL, check_repo,
	  "s3://example-backups/lifeboat",
	  "where backups are stored: file:///PATH or s3://BUCKET/PREFIX" },
	{ "s3-endpoint", G, T_URL, NULL, 0, 0, 0, NULL, check_http_url,
	  "https://minio.example.com:9000",
	  "S3 endpoint for S3-compatible stores (default: AWS, from s3-region)" },
	{ "s3-region", G, T_STRING, "us-east-1", 0, 0, R, NULL, check_token, NULL,
	  "S3 region, part of every request's signature" },
	{ "s3-uri-style", G, T_ENUM, "path", 0, 0, 0, "path|host", NULL, NULL,
	  "path: https://ENDPOINT/BUCKET/KEY; host: https://BUCKET.ENDPOINT/KEY" },
	{ "s3-ca-file", G, T_PATH, NULL, 0, 0, R, NULL, NULL,
	  "/etc/lifeboat/s3-ca.pem",
	  "CA certificates for the S3 endpoint (default: the system's)" },
	{ "s3-access-key-id", G, T_STRING, NULL, 0, 0, F_SECRET | R, NULL, check_token,
	  "AKIAIOSFODNN7EXAMPLE",
	  "S3 access key id (default: $AWS_ACCESS_KEY_ID)" },
	{ "s3-secret-access-key-file", G, T_PATH, NULL, 0, 0, R, NULL, NULL,
	  "/etc/lifeboat/s3-secret",
	  "file whose first line is the S3 secret key (default: $AWS_SECRET_ACCESS_KEY)" },
	{ "s3-part-size", G, T_SIZE, "8MiB", 5 * MiB, 5 * GiB, R, NULL, NULL, NULL,
	  "first part size of multipart uploads; an upload holds 3 parts in memory" },
	{ "recipients", G, T_LIST, NULL, 1, 64, R, NULL, check_age_recipient,
	  "age1examplexamplexamplexamplexamplexamplexamplexamplexaqsdjxrv",
	  "age public keys every backup is encrypted to, comma-separated" },
	{ "recipients-file", G, T_PATH, NULL, 0, 0, R, NULL, NULL,
	  "/etc/lifeboat/recipients.txt",
	  "file of age public keys, one per line, as read by age -R" },
	{ "identity-file", G, T_PATH, NULL, 0, 0, R, NULL, NULL,
	  "/root/lifeboat-identity.txt",
	  "age identity (private key): needed only to verify and restore, may stay offline" },
	{ "catalog", G, T_PATH, "/var/lib/lifeboat/catalog.db", 0, 0, 0, NULL, NULL, NULL,
	  "the SQLite catalog of backups and audit events" },
	{ "compress-level", G, T_INT, STR(ZSTD_DEFAULT_LEVEL), ZSTD_LEVEL_MIN,
	  ZSTD_LEVEL_MAX, R, NULL, NULL, NULL,
	  "zstd level: 1 is fastest, 19 smallest" },
	{ "compress-threads", G, T_INT, STR(ZSTD_DEFAULT_THREADS), 0, ZSTD_THREADS_MAX,
	  R, NULL, NULL, NULL,
	  "zstd worker threads per backup (0: compress in the backup's own thread)" },
	{ "log-level", G, T_ENUM, "info", 0, 0, R, "error|warn|info|debug", NULL, NULL,
	  "lowest level of the lines logged" },
	{ "metrics-listen", G, T_STRING, "127.0.0.1:9793", 0, 0, 0, NULL, check_listen,
	  NULL, "HOST:PORT of the metrics and health endpoint, or off" },
	{ "max-concurrent-clusters", G, T_INT, "2", 1, 64, R, NULL, NULL, NULL,
	  "clusters backed up at the same time" },
	{ "timezone", G, T_STRING, "UTC", 0, 0, R, NULL, check_timezone, NULL,
	  "time zone of cron schedules (an IANA name such as Europe/Paris)" },
	{ "connect-timeout", G, T_DURATION, "10s", 1, 600, R, NULL, NULL, NULL,
	  "give up connecting to etcd or S3 after this long" },
	{ "stall-timeout", G, T_DURATION, "60s", 5, 3600, R, NULL, NULL, NULL,
	  "abort a transfer that moves no byte for this long" },

	{ "endpoints", C, T_LIST, NULL, 1, 32, F_REQUIRED | R, NULL, check_http_url,
	  "https://10.0.0.1:2379, https://10.0.0.2:2379, https://10.0.0.3:2379",
	  "etcd client URLs of the members, comma-separated; each is snapshotted" },
	{ "enabled", C, T_BOOL, "yes", 0, 0, R, NULL, NULL, NULL,
	  "no: keep the section but take no scheduled backups" },
	{ "cacert", C, T_PATH, NULL, 0, 0, R, NULL, NULL, "/etc/lifeboat/prod/ca.pem",
	  "CA certificates of the etcd members (default: the system's)" },
	{ "cert", C, T_PATH, NULL, 0, 0, R, NULL, NULL, "/etc/lifeboat/prod/client.pem",
	  "client certificate for etcd (with key)" },
	{ "key", C, T_PATH, NULL, 0, 0, R, NULL, NULL, "/etc/lifeboat/prod/client-key.pem",
	  "private key of the client certificate" },
	{ "user", C, T_STRING, NULL, 0, 0, R, NULL, check_token, "lifeboat",
	  "etcd user (password from password-file or $LIFEBOAT_ETCD_PASSWORD_<CLUSTER>)" },
	{ "password-file", C, T_PATH, NULL, 0, 0, R, NULL, NULL,
	  "/etc/lifeboat/prod/password",
	  "file whose first line is the etcd user's password" },
	{ "schedule", C, T_STRING, "@every 10m", 0, 0, R, NULL, check_schedule, NULL,
	  "when to back up: a cron expression (m h dom mon dow) or @every DURATION; "
	  "at most once a minute (@every 1m)" },
	/* No default, as restic's forget and pgBackRest: nothing is deleted
	 * by a policy nobody wrote down; config check says so. */
	{ "retention", C, T_STRING, NULL, 0, 0, R, NULL, check_retention,
	  "keep-last=12,keep-hourly=24,keep-daily=14,keep-weekly=8",
	  "backups kept: keep-last, -hourly, -daily, -weekly, -monthly, -yearly=N "
	  "(unset: every backup is kept, prune deletes nothing)" },
	{ "jitter", C, T_DURATION, "0s", 0, 3600, R, NULL, NULL, "30s",
	  "start each scheduled run up to this long after its slot, at random" },
	{ "verify-schedule", C, T_STRING, NULL, 0, 0, R, NULL, check_schedule, "@daily",
	  "when to restore the newest backup to a scratch directory and check it "
	  "(needs identity-file; at most once per backup run)" },
	{ "lock-prefix", C, T_STRING, "/lifeboat/lock/", 0, 0, R, NULL, check_lock_prefix,
	  NULL, "etcd key prefix of the lock that keeps two appliances from overlapping" },
};

#undef G
#undef C
#undef R

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

struct val {
	char *text;             /* as written, quotes removed; NULL if unset */
	unsigned line;          /* 0: the default */
	long long num;          /* int, bool, duration (s), size (bytes), enum index */
	char **items;           /* list */
	size_t n_items;
};

struct section {
	char *name;             /* cluster name; NULL for [global] */
	unsigned line;
	struct val v[N_OPTS];
};

struct cfg {
	char *source;
	struct section global;
	struct section **clusters;
	size_t n_clusters;
};

/* A caller asked for something the table does not have: a bug. */
static void __attribute__((noreturn, format(printf, 1, 2)))
cfg_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("lifeboat: internal error: config: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static int
find_opt(const char *name)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* value parsing */

static int
why(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
why(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_ll(const char *s, long long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

static void
fmt_duration(long long s, char *buf, size_t n)
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

static void
fmt_size(long long b, char *buf, size_t n)
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
		return why(w, wn, "empty duration");
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return why(w, wn, "%s is not a duration (like 90s, 10m, 2h, 1d)", s);
		for (v = 0; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (*p - '0');
			if (v > cap)
				return why(w, wn, "%s is too long a duration", s);
		}
		switch (*p) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		case '\0':
			return why(w, wn, "%s needs a unit (s, m, h, d or w)", s);
		default:
			return why(w, wn, "%s is not a duration (like 90s, 10m, 2h, 1d)", s);
		}
		p++;
		total += v * mul;
		if (total > cap)
			return why(w, wn, "%s is too long a duration", s);
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
		return why(w, wn, "%s is not a size (like 64MiB)", s);
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > cap)
			return why(w, wn, "%s is too large a size", s);
	}
	while (*p == ' ')
		p++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > cap / units[i].mul)
				return why(w, wn, "%s is too large a size", s);
			*out = v * units[i].mul;
			return 0;
		}
	}
	return why(w, wn, "%s is not a size (like 64MiB; units KiB, MiB, GiB, TiB)", s);
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

static void
trim_span(const char **start, const char **end)
{
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

static void
val_clear(struct val *v)
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
	char **items;

	for (;;) {
		end = strchr(p, ',');
		a = p;
		b = end != NULL ? end : p + strlen(p);
		trim_span(&a, &b);
		if (a == b)
			return why(w, wn, "empty item in the list");
		len = (size_t)(b - a);
		if (len >= sizeof(item))
			return why(w, wn, "list item too long");
		memcpy(item, a, len);
		item[len] = '\0';
		if (o->check != NULL && o->check(item, w, wn) < 0)
			return -1;
		for (i = 0; i < v->n_items; i++)
			if (strcmp(v->items[i], item) == 0)
				return why(w, wn, "%s is listed twice", item);
		if ((long long)v->n_items >= o->max)
			return why(w, wn, "more than %lld items", o->max);
		if ((items = realloc(v->items, (v->n_items + 1) * sizeof(*items))) == NULL)
			return why(w, wn, "out of memory");
		v->items = items;
		if ((v->items[v->n_items] = strdup(item)) == NULL)
			return why(w, wn, "out of memory");
		v->n_items++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if ((long long)v->n_items < o->min)
		return why(w, wn, "needs at least %lld items", o->min);
	return 0;
}

/* Parses s as a value of o into v (which it owns on success and leaves
 * cleared on failure).  Returns 0, or -1 with the reason in w. */
static int
parse_value(const struct opt *o, const char *s, struct val *v, char *w, size_t wn)
{
	char lo[32], hi[32];
	const char *shown = (o->flags & F_SECRET) ? "the value" : s;
	int r = 0, idx;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case T_INT:
		if (parse_ll(s, &v->num) < 0)
			r = why(w, wn, "%s is not a whole number", shown);
		else if (v->num < o->min || v->num > o->max)
			r = why(w, wn, "%s is out of range %lld..%lld", shown, o->min, o->max);
		break;
	case T_BOOL:
		if (parse_bool(s, &v->num) < 0)
			r = why(w, wn, "%s is not yes or no", shown);
		break;
	case T_ENUM:
		if ((idx = enum_index(o->choices, s)) < 0) {
			char list[128], *q;

			snprintf(list, sizeof(list), "%s", o->choices);
			for (q = list; (q = strchr(q, '|')) != NULL; )
				*q = ',';
			r = why(w, wn, "%s is not one of %s", shown, list);
		}
		v->num = idx;
		break;
	case T_DURATION:
		if ((r = parse_duration(s, &v->num, w, wn)) == 0 &&
		    (v->num < o->min || v->num > o->max)) {
			fmt_duration(o->min, lo, sizeof(lo));
			fmt_duration(o->max, hi, sizeof(hi));
			r = why(w, wn, "%s is out of range %s..%s", s, lo, hi);
		}
		break;
	case T_SIZE:
		if ((r = parse_size(s, &v->num, w, wn)) == 0 &&
		    (v->num < o->min || v->num > o->max)) {
			fmt_size(o->min, lo, sizeof(lo));
			fmt_size(o->max, hi, sizeof(hi));
			r = why(w, wn, "%s is out of range %s..%s", s, lo, hi);
		}
		break;
	case T_PATH:
		if (s[0] != '/')
			r = why(w, wn, "%s is not an absolute path", shown);
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
			why(w, wn, "invalid value (not shown: it is secret)");
	}
	if (r == 0 && (v->text = strdup(s)) == NULL)
		r = why(w, wn, "out of memory");
	if (r < 0)
		val_clear(v);
	return r;
}

/* checks of string values */

static int
has_space_or_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

static int
check_token(const char *v, char *w, size_t n)
{
	if (has_space_or_ctl(v))
		return why(w, n, "%s contains blanks", v);
	if (strlen(v) > 256)
		return why(w, n, "value longer than 256 characters");
	return 0;
}

static int
check_port(const char *p, const char *v, char *w, size_t n)
{
	long long port;

	if (parse_ll(p, &port) < 0 || port < 1 || port > 65535)
		return why(w, n, "%s: bad port", v);
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
		return why(w, n, "%s contains blanks", v);
	a = v + len + 3;
	slash = strchr(a, '/');
	*path = slash;
	len = slash != NULL ? (size_t)(slash - a) : strlen(a);
	if (len == 0 || len >= sizeof(auth))
		return why(w, n, "%s has no host", v);
	memcpy(auth, a, len);
	auth[len] = '\0';
	if (strchr(auth, '@') != NULL)
		return why(w, n, "%s: credentials do not belong in a URL", scheme);
	if (auth[0] == '[') {
		const char *close = strchr(auth, ']');

		if (close == NULL || close == auth + 1)
			return why(w, n, "%s has a bad IPv6 address", v);
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':')
			return why(w, n, "%s has a bad host", v);
		return check_port(close + 2, v, w, n);
	}
	if ((colon = strchr(auth, ':')) == NULL)
		return 0;
	if (colon == auth)
		return why(w, n, "%s has no host", v);
	return check_port(colon + 1, v, w, n);
}

static int
check_http_url(const char *v, char *w, size_t n)
{
	const char *path = NULL;
	int r;

	if ((r = check_url(v, "https", &path, w, n)) == 1)
		r = check_url(v, "http", &path, w, n);
	if (r == 1)
		return why(w, n, "%s is not an http:// or https:// URL", v);
	if (r < 0)
		return r;
	if (path != NULL && strcmp(path, "/") != 0)
		return why(w, n, "%s: a URL here has no path", v);
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

static int
check_repo(const char *v, char *w, size_t n)
{
	const char *b, *slash, *p;
	size_t blen;

	if (has_space_or_ctl(v))
		return why(w, n, "%s contains blanks", v);
	if (strncmp(v, "file://", 7) == 0) {
		p = v + 7;
		if (p[0] != '/')
			return why(w, n, "%s: a file repository needs an absolute path "
			    "(file:///PATH)", v);
		if (has_dotdot(p))
			return why(w, n, "%s: the path may not contain ..", v);
		return 0;
	}
	if (strncmp(v, "s3://", 5) != 0)
		return why(w, n, "%s is neither file:///PATH nor s3://BUCKET/PREFIX", v);
	b = v + 5;
	slash = strchr(b, '/');
	blen = slash != NULL ? (size_t)(slash - b) : strlen(b);
	if (blen < 3 || blen > 63)
		return why(w, n, "%s: a bucket name has 3 to 63 characters", v);
	for (p = b; p < b + blen; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '.' && *p != '-')
			return why(w, n, "%s: a bucket name has only a-z, 0-9, '.' and '-'", v);
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[blen - 1]))
		return why(w, n, "%s: a bucket name starts and ends with a letter or digit", v);
	if (slash == NULL || slash[1] == '\0')
		return 0;
	p = slash + 1;
	if (p[0] == '/' || strstr(p, "//") != NULL || p[strlen(p) - 1] == '/')
		return why(w, n, "%s: the prefix has an empty path segment", v);
	if (has_dotdot(p))
		return why(w, n, "%s: the prefix may not contain ..", v);
	return 0;
}

/* age X25519 recipient: "age1" + bech32 of 32 bytes, checksum included,
 * so a mistyped key is caught here rather than at the first backup. */
static int
check_age_recipient(const char *v, char *w, size_t n)
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
		return why(w, n, "%s is not an age recipient (age1 and 58 characters)", v);
	/* human-readable part "age", expanded as bech32 does */
	for (i = 0; i < 3; i++)
		vals[nv++] = (uint8_t)(v[i] >> 5);
	vals[nv++] = 0;
	for (i = 0; i < 3; i++)
		vals[nv++] = (uint8_t)(v[i] & 31);
	for (i = 4; i < 62; i++) {
		if ((q = strchr(charset, v[i])) == NULL || v[i] == '\0')
			return why(w, n, "%s is not an age recipient (bad character '%c')",
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
		return why(w, n, "%s is not an age recipient (checksum mismatch: a typo?)", v);
	return 0;
}

static int
check_listen(const char *v, char *w, size_t n)
{
	const char *colon;

	if (strcmp(v, "off") == 0)
		return 0;
	if (has_space_or_ctl(v))
		return why(w, n, "%s contains blanks", v);
	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL || colon == v + 1)
			return why(w, n, "%s is not [IPV6]:PORT", v);
		return check_port(colon + 2, v, w, n);
	}
	if ((colon = strrchr(v, ':')) == NULL || colon == v || strchr(v, ':') != colon)
		return why(w, n, "%s is not HOST:PORT or off", v);
	return check_port(colon + 1, v, w, n);
}

static int
check_timezone(const char *v, char *w, size_t n)
{
	const char *p;

	if (v[0] == '/' || strstr(v, "..") != NULL || strlen(v) > 64)
		return why(w, n, "%s is not a time zone name (like UTC or Europe/Paris)", v);
	for (p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
			return why(w, n, "%s is not a time zone name (like UTC or Europe/Paris)", v);
	return 0;
}

/* Schedules and retention policies have one parser each, the one the
 * daemon and prune use (scheduler/), so a value this file accepts is one
 * they accept: both are pure (no I/O, no clock) and depend only on err.h.
 * Their messages start with what they parsed, so only the key is added. */
static int
check_schedule(const char *v, char *w, size_t n)
{
	struct lb_err e = { 0 };
	struct sched *s = NULL;

	if (sched_parse(v, &s, &e) < 0)
		return why(w, n, "%s", e.msg);
	sched_free(s);
	return 0;
}

static int
check_retention(const char *v, char *w, size_t n)
{
	struct lb_err e = { 0 };
	struct ret_policy pol;
	const char *msg = e.msg;

	if (ret_policy_parse(v, &pol, &e) < 0) {
		if (strncmp(msg, "retention: ", 11) == 0)
			msg += 11;
		return why(w, n, "%s", msg);
	}
	return 0;
}

static int
check_lock_prefix(const char *v, char *w, size_t n)
{
	if (v[0] != '/' || has_space_or_ctl(v))
		return why(w, n, "%s is not an etcd key prefix starting with /", v);
	/* with a cluster name, it must fit the lock's key (snapd/lock.c) */
	if (strlen(v) > 512)
		return why(w, n, "%.40s...: longer than 512 bytes", v);
	return 0;
}

/* the parser */

struct parser {
	const char *name;
	struct cfg *c;
	struct section *cur;
	unsigned line;
	unsigned global_line;
	struct lb_err *err;
};

static int
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME:LINE: " + message, LB_E_CONFIG. */
static int
perr(struct parser *p, const char *fmt, ...)
{
	char msg[LB_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		return lb_err_set(p->err, LB_E_CONFIG, "%s:%u: %s", p->name, p->line, msg);
	return lb_err_set(p->err, LB_E_CONFIG, "%s: %s", p->name, msg);
}

static int
valid_cluster_name(const char *s)
{
	size_t i;

	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if ((!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    strchr("._-", s[i]) == NULL) || i > 62)
			return 0;
	return 1;
}

static void
section_clear(struct section *s)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		val_clear(&s->v[i]);
	free(s->name);
	s->name = NULL;
}

static struct section *
find_cluster(const struct cfg *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_clusters; i++)
		if (strcmp(c->clusters[i]->name, name) == 0)
			return c->clusters[i];
	return NULL;
}

static int
parse_section(struct parser *p, const char *s, size_t len)
{
	char name[CFG_LINE_MAX];
	struct section *sec, **grown;
	const char *a = s, *b = s + len;

	if (len < 2 || s[len - 1] != ']')
		return perr(p, "section header does not end with ]");
	a++;
	b--;
	trim_span(&a, &b);
	memcpy(name, a, (size_t)(b - a));
	name[b - a] = '\0';
	if (strcmp(name, "global") == 0) {
		if (p->global_line > 0)
			return perr(p, "duplicate section [global] (first at line %u)",
			    p->global_line);
		p->global_line = p->line;
		p->c->global.line = p->line;
		p->cur = &p->c->global;
		return 0;
	}
	if (strcmp(name, "cluster") == 0)
		return perr(p, "section [cluster] needs a name: [cluster:NAME]");
	if (strncmp(name, "cluster:", 8) != 0)
		return perr(p, "unknown section [%s] (expected [global] or [cluster:NAME])",
		    name);
	if (!valid_cluster_name(name + 8))
		return perr(p, "bad cluster name '%s' (1 to 63 of a-z, 0-9, '.', '_', '-', "
		    "starting with a letter or digit)", name + 8);
	if ((sec = find_cluster(p->c, name + 8)) != NULL)
		return perr(p, "duplicate section [%s] (first at line %u)", name, sec->line);
	if (p->c->n_clusters >= CFG_CLUSTERS_MAX)
		return perr(p, "more than %d clusters", CFG_CLUSTERS_MAX);
	if ((grown = realloc(p->c->clusters,
	    (p->c->n_clusters + 1) * sizeof(*grown))) == NULL)
		return lb_err_set(p->err, LB_E_NOMEM, "out of memory");
	p->c->clusters = grown;
	if ((sec = calloc(1, sizeof(*sec))) == NULL ||
	    (sec->name = strdup(name + 8)) == NULL) {
		free(sec);
		return lb_err_set(p->err, LB_E_NOMEM, "out of memory");
	}
	sec->line = p->line;
	p->c->clusters[p->c->n_clusters++] = sec;
	p->cur = sec;
	return 0;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp, row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

static int
unknown_key(struct parser *p, const char *key, enum opt_section sec)
{
	char where[80];
	size_t i, d, best = 99;
	const char *guess = NULL;

	if (sec == SEC_GLOBAL)
		snprintf(where, sizeof(where), "[global]");
	else
		snprintf(where, sizeof(where), "[cluster:%s]", p->cur->name);
	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].section != sec)
			continue;
		if ((d = edit_distance(key, opts[i].name)) < best) {
			best = d;
			guess = opts[i].name;
		}
	}
	if (guess != NULL && best <= 2 && best < strlen(key) / 2)
		return perr(p, "unknown key %s in %s (did you mean %s?)", key, where, guess);
	return perr(p, "unknown key %s in %s (see 'lifeboat config options')", key, where);
}

static int
parse_kv(struct parser *p, const char *s, size_t len)
{
	char key[CFG_LINE_MAX], value[CFG_LINE_MAX], w[LB_ERR_MSG_MAX];
	const char *eq = memchr(s, '=', len), *a, *b;
	enum opt_section sec;
	struct val *v;
	int i;

	if (eq == NULL)
		return perr(p, "expected key = value");
	a = s;
	b = eq;
	trim_span(&a, &b);
	if (a == b)
		return perr(p, "expected key = value, the key is missing");
	memcpy(key, a, (size_t)(b - a));
	key[b - a] = '\0';
	for (i = 0; key[i] != '\0'; i++)
		if (!islower((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) &&
		    key[i] != '-' && key[i] != '_')
			return perr(p, "bad key name (keys are lower case, like compress-level)");
	if (p->cur == NULL)
		return perr(p, "key %s is outside a section (hint: start with [global])", key);
	sec = p->cur == &p->c->global ? SEC_GLOBAL : SEC_CLUSTER;
	if ((i = find_opt(key)) < 0)
		return unknown_key(p, key, sec);
	if (opts[i].section == SEC_GLOBAL && sec == SEC_CLUSTER)
		return perr(p, "%s belongs in [global], not in [cluster:%s]", key,
		    p->cur->name);
	if (opts[i].section == SEC_CLUSTER && sec == SEC_GLOBAL)
		return perr(p, "%s belongs in a [cluster:NAME] section, not in [global]", key);
	v = &p->cur->v[i];
	if (v->text != NULL)
		return perr(p, "duplicate key %s (first set at line %u)", key, v->line);
	a = eq + 1;
	b = s + len;
	trim_span(&a, &b);
	/* one pair of double quotes around the whole value is dropped */
	if (b - a >= 2 && a[0] == '"' && b[-1] == '"') {
		a++;
		b--;
	}
	if (a == b)
		return perr(p, "%s has no value", key);
	memcpy(value, a, (size_t)(b - a));
	value[b - a] = '\0';
	w[0] = '\0';
	if (parse_value(&opts[i], value, v, w, sizeof(w)) < 0)
		return perr(p, "%s: %s", key, w);
	v->line = p->line;
	return 0;
}

/* Fills unset options with their defaults.  A default that does not
 * parse is a bug in the table, found by the unit tests. */
static int
apply_defaults(struct parser *p, struct section *s, enum opt_section sec)
{
	char w[LB_ERR_MSG_MAX];
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].section != sec || s->v[i].text != NULL || opts[i].def == NULL)
			continue;
		if (parse_value(&opts[i], opts[i].def, &s->v[i], w, sizeof(w)) < 0)
			return lb_err_set(p->err, LB_E_INTERNAL, "default of %s: %s",
			    opts[i].name, w);
	}
	return 0;
}

static int
is_set(const struct section *s, const char *key)
{
	return s->v[find_opt(key)].line > 0;
}

/* Plain http endpoints where the section asks for TLS (or beside https
 * ones) would carry the password and the snapshots in clear. */
static int
check_endpoints_tls(struct parser *p, const struct section *s)
{
	const struct val *ep = &s->v[find_opt("endpoints")];
	struct lb_err e;

	if (ep->n_items == 0 || etcd_endpoints_tls((const char *const *)ep->items,
	    ep->n_items, is_set(s, "cacert") || is_set(s, "cert") || is_set(s, "key"),
	    &e) >= 0)
		return 0;
	p->line = ep->line;
	return perr(p, "[cluster:%s] %s", s->name, e.msg);
}

/* What one option cannot say alone: required options, pairs. */
static int
check_section(struct parser *p, struct section *s, enum opt_section sec)
{
	size_t i;
	int r;

	p->line = s->line;
	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].section != sec || !(opts[i].flags & F_REQUIRED) ||
		    s->v[i].text != NULL)
			continue;
		if (sec == SEC_GLOBAL)
			return perr(p, "[global] needs %s (%s)", opts[i].name, opts[i].help);
		return perr(p, "[cluster:%s] needs %s (%s)", s->name, opts[i].name,
		    opts[i].help);
	}
	if (sec == SEC_CLUSTER) {
		if (is_set(s, "cert") != is_set(s, "key"))
			return perr(p, "[cluster:%s] sets %s without %s", s->name,
			    is_set(s, "cert") ? "cert" : "key", is_set(s, "cert") ? "key" : "cert");
		if (is_set(s, "password-file") && !is_set(s, "user"))
			return perr(p, "[cluster:%s] sets password-file without user", s->name);
		if ((r = check_endpoints_tls(p, s)) < 0)
			return r;
	}
	return 0;
}

static int
parse_text(struct parser *p, const char *text)
{
	const char *line = text, *nl, *a, *b;
	size_t i;
	int r;

	/* a UTF-8 byte order mark, as some editors write */
	if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (p->line = 1; *line != '\0'; p->line++) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (nl - line >= CFG_LINE_MAX)
			return perr(p, "line longer than %d characters", CFG_LINE_MAX);
		a = line;
		b = nl;
		line = *nl == '\0' ? nl : nl + 1;
		trim_span(&a, &b);
		if (a == b || *a == '#' || *a == ';')
			continue;
		for (i = 0; a + i < b; i++)
			if (iscntrl((unsigned char)a[i]) && a[i] != '\t')
				return perr(p, "control character in line");
		r = *a == '[' ? parse_section(p, a, (size_t)(b - a)) :
		    parse_kv(p, a, (size_t)(b - a));
		if (r < 0)
			return r;
	}
	p->line = 0;
	if (p->global_line == 0)
		return perr(p, "no [global] section (it needs at least repo)");
	if ((r = apply_defaults(p, &p->c->global, SEC_GLOBAL)) < 0 ||
	    (r = check_section(p, &p->c->global, SEC_GLOBAL)) < 0)
		return r;
	for (i = 0; i < p->c->n_clusters; i++)
		if ((r = apply_defaults(p, p->c->clusters[i], SEC_CLUSTER)) < 0 ||
		    (r = check_section(p, p->c->clusters[i], SEC_CLUSTER)) < 0)
			return r;
	return 0;
}

int
cfg_parse_string(const char *text, const char *name, struct cfg **out,
    struct lb_err *err)
{
	struct parser p = { 0 };
	struct cfg *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->source = strdup(name)) == NULL) {
		free(c);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	p.name = name;
	p.c = c;
	p.err = err;
	if ((r = parse_text(&p, text)) < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	cfg_free(c);
	return r;
}

int
cfg_load(const char *path, struct cfg **out, struct lb_err *err)
{
	struct stat st;
	FILE *fp = NULL;
	char *buf = NULL;
	size_t n;
	int r = 0;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		r = lb_err_sys(err, errno == ENOENT ? LB_E_NOTFOUND : LB_E_IO, errno,
		    "cannot read configuration %s", path);
		goto out;
	}
	/* a directory opens, then fails to read: it is the wrong path given,
	 * a configuration error like a missing file (a pipe is fine) */
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		r = lb_err_set(err, LB_E_CONFIG, "configuration %s is a directory "
		    "(hint: --config names the file, e.g. %s/lifeboat.conf)", path, path);
		goto out;
	}
	if ((buf = malloc(CFG_FILE_MAX + 1)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, CFG_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		r = lb_err_sys(err, LB_E_IO, errno, "cannot read configuration %s", path);
		goto out;
	}
	if (n > CFG_FILE_MAX) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: larger than %d bytes", path,
		    CFG_FILE_MAX);
		goto out;
	}
	if (memchr(buf, '\0', n) != NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: contains a NUL byte (not a text file?)",
		    path);
		goto out;
	}
	buf[n] = '\0';
	r = cfg_parse_string(buf, path, out, err);
out:
	if (fp != NULL)
		fclose(fp);
	free(buf);
	return r;
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	section_clear(&c->global);
	for (i = 0; i < c->n_clusters; i++) {
		section_clear(c->clusters[i]);
		free(c->clusters[i]);
	}
	free(c->clusters);
	free(c->source);
	free(c);
}

/* getters */

const char *
cfg_source(const struct cfg *c)
{
	return c->source;
}

size_t
cfg_cluster_count(const struct cfg *c)
{
	return c->n_clusters;
}

const char *
cfg_cluster_name(const struct cfg *c, size_t i)
{
	if (i >= c->n_clusters)
		cfg_bug("cluster index %zu of %zu", i, c->n_clusters);
	return c->clusters[i]->name;
}

int
cfg_has_cluster(const struct cfg *c, const char *name)
{
	return find_cluster(c, name) != NULL;
}

/* The value of key in the section cluster names, aborting on a misuse. */
static const struct val *
lookup(const struct cfg *c, const char *cluster, const char *key,
    const struct opt **op)
{
	const struct section *s;
	int i;

	if ((i = find_opt(key)) < 0)
		cfg_bug("unknown option %s", key);
	if ((opts[i].section == SEC_GLOBAL) != (cluster == NULL))
		cfg_bug("option %s asked for %s", key,
		    cluster == NULL ? "without a cluster" : "with a cluster");
	if (cluster == NULL)
		s = &c->global;
	else if ((s = find_cluster(c, cluster)) == NULL)
		cfg_bug("no cluster %s", cluster);
	*op = &opts[i];
	return &s->v[i];
}

const char *
cfg_get_str(const struct cfg *c, const char *cluster, const char *key)
{
	const struct opt *o;

	return lookup(c, cluster, key, &o)->text;
}

long long
cfg_get_int(const struct cfg *c, const char *cluster, const char *key)
{
	const struct opt *o;
	const struct val *v = lookup(c, cluster, key, &o);

	if (o->type != T_INT && o->type != T_BOOL && o->type != T_DURATION &&
	    o->type != T_SIZE && o->type != T_ENUM)
		cfg_bug("option %s is not a number", key);
	return v->num;
}

size_t
cfg_get_list(const struct cfg *c, const char *cluster, const char *key,
    const char *const **out)
{
	const struct opt *o;
	const struct val *v = lookup(c, cluster, key, &o);

	if (o->type != T_LIST)
		cfg_bug("option %s is not a list", key);
	*out = (const char *const *)v->items;
	return v->n_items;
}

int
cfg_is_set(const struct cfg *c, const char *cluster, const char *key)
{
	const struct opt *o;

	return lookup(c, cluster, key, &o)->line > 0;
}

/* secrets */

static char *
env_dup(const char *name)
{
	return lb_secret_from_env(name);
}

int
cfg_s3_credentials(const struct cfg *c, char **access_key_id,
    char **secret_access_key, char **session_token, struct lb_err *err)
{
	const char *id = cfg_get_str(c, NULL, "s3-access-key-id");
	const char *file = cfg_get_str(c, NULL, "s3-secret-access-key-file");
	char *kid = NULL, *sec = NULL, *tok = NULL;
	int r = 0;

	*access_key_id = *secret_access_key = *session_token = NULL;
	if (id != NULL)
		kid = strdup(id);
	else
		kid = env_dup("AWS_ACCESS_KEY_ID");
	if (id != NULL && kid == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (file != NULL) {
		if ((r = lb_secret_read_file(file, &sec, err)) < 0) {
			lb_err_prefix(err, "s3-secret-access-key-file: ");
			goto out;
		}
	} else {
		sec = env_dup("AWS_SECRET_ACCESS_KEY");
	}
	if ((kid == NULL) != (sec == NULL)) {
		r = lb_err_set(err, LB_E_CONFIG, "s3 credentials are incomplete: %s "
		    "(hint: set both s3-access-key-id and s3-secret-access-key-file, or "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
		    kid == NULL ? "a secret access key but no access key id" :
		    "an access key id but no secret access key");
		goto out;
	}
	if (id == NULL && file == NULL && kid != NULL)
		tok = env_dup("AWS_SESSION_TOKEN");
	*access_key_id = kid;
	*secret_access_key = sec;
	*session_token = tok;
	kid = sec = tok = NULL;
out:
	lb_secret_free(kid);
	lb_secret_free(sec);
	lb_secret_free(tok);
	return r;
}

char *
cfg_etcd_password_env(const char *cluster, char *buf, size_t len)
{
	size_t i, n;

	n = (size_t)snprintf(buf, len, "LIFEBOAT_ETCD_PASSWORD_%s", cluster);
	for (i = sizeof("LIFEBOAT_ETCD_PASSWORD_") - 1; i < n && i < len; i++) {
		if (buf[i] == '.' || buf[i] == '-')
			buf[i] = '_';
		else
			buf[i] = (char)toupper((unsigned char)buf[i]);
	}
	return buf;
}

int
cfg_etcd_password(const struct cfg *c, const char *cluster, char **out,
    struct lb_err *err)
{
	const char *file = cfg_get_str(c, cluster, "password-file");
	char env[128], *pw = NULL;
	int r = 0;

	*out = NULL;
	if (file != NULL) {
		if ((r = lb_secret_read_file(file, &pw, err)) < 0) {
			lb_err_prefix(err, "cluster %s: password-file: ", cluster);
			goto out;
		}
	} else {
		pw = env_dup(cfg_etcd_password_env(cluster, env, sizeof(env)));
	}
	if (pw != NULL && cfg_get_str(c, cluster, "user") == NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "cluster %s: %s is set but the cluster "
		    "has no user", cluster, env);
		goto out;
	}
	*out = pw;
	pw = NULL;
out:
	lb_secret_free(pw);
	return r;
}

static int
same_text(const struct val *a, const struct val *b)
{
	if (a->text == NULL || b->text == NULL)
		return a->text == b->text;
	return strcmp(a->text, b->text) == 0;
}

int
cfg_reload_check(const struct cfg *old_cfg, const struct cfg *new_cfg,
    struct lb_err *err)
{
	const struct section *o, *n;
	size_t i, k;

	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].flags & F_RELOAD)
			continue;
		if (opts[i].section == SEC_GLOBAL) {
			if (!same_text(&old_cfg->global.v[i], &new_cfg->global.v[i]))
				return lb_err_set(err, LB_E_CONFIG, "%s cannot change on "
				    "reload (restart lifeboat)", opts[i].name);
			continue;
		}
		for (k = 0; k < new_cfg->n_clusters; k++) {
			n = new_cfg->clusters[k];
			if ((o = find_cluster(old_cfg, n->name)) != NULL &&
			    !same_text(&o->v[i], &n->v[i]))
				return lb_err_set(err, LB_E_CONFIG, "[cluster:%s] %s cannot "
				    "change on reload (restart lifeboat)", n->name, opts[i].name);
		}
	}
	return 0;
}

/* text generated from the table */

static const char *const type_names[] = {
	"string", "int", "bool", "enum", "url", "list", "path", "duration", "size"
};

/* "int 1..19", "duration 1s..10m", "path|host", "list of url" ... */
static void
type_desc(const struct opt *o, char *buf, size_t n)
{
	char lo[32], hi[32];

	switch (o->type) {
	case T_INT:
		snprintf(buf, n, "int %lld..%lld", o->min, o->max);
		break;
	case T_DURATION:
		fmt_duration(o->min, lo, sizeof(lo));
		fmt_duration(o->max, hi, sizeof(hi));
		snprintf(buf, n, "duration %s..%s", lo, hi);
		break;
	case T_SIZE:
		fmt_size(o->min, lo, sizeof(lo));
		fmt_size(o->max, hi, sizeof(hi));
		snprintf(buf, n, "size %s..%s", lo, hi);
		break;
	case T_ENUM:
		snprintf(buf, n, "%s", o->choices);
		break;
	case T_BOOL:
		snprintf(buf, n, "yes|no");
		break;
	case T_LIST:
		snprintf(buf, n, "list, %lld..%lld items", o->min, o->max);
		break;
	default:
		snprintf(buf, n, "%s", type_names[o->type]);
	}
}

static void
flags_desc(const struct opt *o, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s",
	    (o->flags & F_REQUIRED) ? ", required" : "",
	    (o->flags & F_SECRET) ? ", secret" : "",
	    (o->flags & F_RELOAD) ? ", reloadable" : "");
}

void
cfg_print_options(FILE *fp)
{
	char type[96], flags[64];
	int sec;
	size_t i;

	for (sec = SEC_GLOBAL; sec <= SEC_CLUSTER; sec++) {
		fprintf(fp, "%s\n", sec == SEC_GLOBAL ? "[global]" : "\n[cluster:NAME]");
		for (i = 0; i < N_OPTS; i++) {
			if ((int)opts[i].section != sec)
				continue;
			type_desc(&opts[i], type, sizeof(type));
			flags_desc(&opts[i], flags, sizeof(flags));
			fprintf(fp, "  %-26s %s%s%s%s\n      %s\n", opts[i].name, type,
			    opts[i].def != NULL ? ", default " : "",
			    opts[i].def != NULL ? opts[i].def : "", flags, opts[i].help);
		}
	}
}

int
cfg_write_example(FILE *fp)
{
	char type[96], flags[64];
	int sec;
	size_t i;

	fprintf(fp,
	    "# lifeboat.conf.example: every option of lifeboat's configuration with\n"
	    "# its default.  Generated by `lifeboat config example` from the option\n"
	    "# table in config/config.c (a unit test keeps the two the same): change\n"
	    "# the table, then regenerate this file.\n"
	    "#\n"
	    "# [global] once, then one [cluster:NAME] section per etcd cluster.\n"
	    "# Lines are `key = value`; lines starting with # or ; are comments.\n"
	    "# Durations: 90s, 10m, 2h, 1d.  Sizes: 64MiB.  Reloadable options take\n"
	    "# effect on SIGHUP; the others need a restart.  Secrets are never\n"
	    "# written here: they come from the files named below or from the\n"
	    "# environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
	    "# AWS_SESSION_TOKEN, LIFEBOAT_ETCD_PASSWORD_<CLUSTER>).\n");
	for (sec = SEC_GLOBAL; sec <= SEC_CLUSTER; sec++) {
		fprintf(fp, "\n%s\n", sec == SEC_GLOBAL ? "[global]" : "[cluster:example]");
		for (i = 0; i < N_OPTS; i++) {
			if ((int)opts[i].section != sec)
				continue;
			type_desc(&opts[i], type, sizeof(type));
			flags_desc(&opts[i], flags, sizeof(flags));
			fprintf(fp, "\n# %s\n# (%s%s)\n%s%s = %s\n", opts[i].help, type, flags,
			    (opts[i].flags & F_REQUIRED) ? "" : "#", opts[i].name,
			    opts[i].def != NULL ? opts[i].def : opts[i].example);
		}
	}
	return fflush(fp) == 0 && !ferror(fp) ? 0 : LB_E_IO;
}

static void
print_section(const struct section *s, enum opt_section sec, FILE *fp)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].section != sec || s->v[i].text == NULL)
			continue;
		fprintf(fp, "%s = %s%s\n", opts[i].name,
		    (opts[i].flags & F_SECRET) ? "********" : s->v[i].text,
		    s->v[i].line == 0 ? "    # default" : "");
	}
}

int
cfg_print(const struct cfg *c, FILE *fp)
{
	char env[128];
	const char *src;
	size_t i;

	fprintf(fp, "# effective configuration of %s\n[global]\n", c->source);
	print_section(&c->global, SEC_GLOBAL, fp);
	if (cfg_get_str(c, NULL, "s3-access-key-id") != NULL)
		src = "s3-access-key-id";
	else if (getenv("AWS_ACCESS_KEY_ID") != NULL)
		src = "$AWS_ACCESS_KEY_ID";
	else
		src = "none";
	fprintf(fp, "# s3 access key id: %s; secret access key: %s\n", src,
	    cfg_get_str(c, NULL, "s3-secret-access-key-file") != NULL ?
	    "s3-secret-access-key-file" : getenv("AWS_SECRET_ACCESS_KEY") != NULL ?
	    "$AWS_SECRET_ACCESS_KEY" : "none");
	for (i = 0; i < c->n_clusters; i++) {
		const struct section *s = c->clusters[i];

		fprintf(fp, "\n[cluster:%s]\n", s->name);
		print_section(s, SEC_CLUSTER, fp);
		if (cfg_get_str(c, s->name, "retention") == NULL)
			fprintf(fp, "# retention: none, every backup is kept (prune deletes "
			    "nothing)\n");
		cfg_etcd_password_env(s->name, env, sizeof(env));
		fprintf(fp, "# etcd password: %s%s\n",
		    cfg_get_str(c, s->name, "password-file") != NULL ? "password-file" :
		    getenv(env) != NULL ? "$" : "none",
		    cfg_get_str(c, s->name, "password-file") == NULL &&
		    getenv(env) != NULL ? env : "");
	}
	return fflush(fp) == 0 && !ferror(fp) ? 0 : LB_E_IO;
}

/* `lifeboat config` */

/* Every file the configuration names must be readable now, rather than
 * at 3 a.m.; the identity may be kept offline, so it only warns. */
static int
check_files(const struct cfg *c, struct lb_err *err)
{
	static const char *const gfiles[] = { "s3-ca-file", "recipients-file" };
	static const char *const cfiles[] = { "cacert", "cert", "key" };
	const char *path;
	char *a = NULL, *b = NULL, *t = NULL;
	size_t i, k;
	int r;

	for (i = 0; i < 2; i++)
		if ((path = cfg_get_str(c, NULL, gfiles[i])) != NULL && access(path, R_OK) < 0)
			return lb_err_sys(err, LB_E_CONFIG, errno, "%s: cannot read %s",
			    gfiles[i], path);
	if ((path = cfg_get_str(c, NULL, "identity-file")) != NULL && access(path, R_OK) < 0)
		log_warn("identity-file %s is not readable here: verification and "
		    "restore need it", path);
	if ((r = cfg_s3_credentials(c, &a, &b, &t, err)) < 0)
		return r;
	lb_secret_free(a);
	lb_secret_free(b);
	lb_secret_free(t);
	for (k = 0; k < c->n_clusters; k++) {
		const char *name = c->clusters[k]->name;

		for (i = 0; i < 3; i++)
			if ((path = cfg_get_str(c, name, cfiles[i])) != NULL &&
			    access(path, R_OK) < 0)
				return lb_err_sys(err, LB_E_CONFIG, errno,
				    "cluster %s: %s: cannot read %s", name, cfiles[i], path);
		if ((r = cfg_etcd_password(c, name, &a, err)) < 0)
			return r;
		lb_secret_free(a);
		a = NULL;
	}
	return 0;
}

/* What parses but would fail once the daemon runs, each problem named
 * with its fix (all of them, not the first).  Returns the number of
 * problems; the warnings do not count. */
static int
check_runtime(const struct cfg *c)
{
	const char *id = cfg_get_str(c, NULL, "identity-file");
	const char *tz = cfg_get_str(c, NULL, "timezone");
	size_t i;
	int bad = 0;

	if (!sched_tz_valid(tz)) {
		log_error("timezone: %s is not in the tz database: lifeboat snapd would "
		    "refuse to start", tz);
		bad++;
	}
	for (i = 0; i < c->n_clusters; i++) {
		const char *name = c->clusters[i]->name;

		/* The daemon would start and /healthz stay 200 while every
		 * scheduled verification fails. */
		if (cfg_get_str(c, name, "verify-schedule") != NULL) {
			if (id == NULL) {
				log_error("[cluster:%s] verify-schedule is set but identity-file "
				    "is not: every scheduled verification would fail (set "
				    "identity-file to the age identity, readable by lifeboat "
				    "snapd)", name);
				bad++;
			} else if (access(id, R_OK) < 0) {
				log_error("[cluster:%s] verify-schedule needs identity-file %s, "
				    "which cannot be read here (%s): every scheduled "
				    "verification would fail", name, id, strerror(errno));
				bad++;
			}
		}
		if (cfg_get_str(c, name, "retention") == NULL)
			log_warn("[cluster:%s] no retention: every backup is kept and prune "
			    "deletes nothing (set e.g. retention = keep-last=12,keep-daily=14)",
			    name);
	}
	return bad;
}

int
cfg_cmd_config(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	int r, probe = 0, bad, failed = 0;

	if (argc == 2 && strcmp(argv[1], "options") == 0) {
		cfg_print_options(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "example") == 0)
		return cfg_write_example(stdout) == 0 ? 0 : 1;
	if (argc == 3 && strcmp(argv[1], "check") == 0 && strcmp(argv[2], "--probe") == 0) {
		probe = 1;
		argc = 2;
	}
	if (argc != 2 || strcmp(argv[1], "check") != 0) {
		fprintf(argc == 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) ? stdout : stderr,
		    "usage: lifeboat config check [--probe]\n"
		    "                                 load the configuration, read the files it "
		    "names, print it (secrets masked)\n"
		    "                                 and say what would fail once running; "
		    "--probe: also reach the\n"
		    "                                 repository (write and delete a probe "
		    "object) and every etcd endpoint\n"
		    "       lifeboat config options   list every option\n"
		    "       lifeboat config example   print an example configuration\n");
		return argc == 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) ? 0 : 2;
	}
	if ((r = cfg_load(g->config_path, &c, &err)) < 0 ||
	    (r = check_files(c, &err)) < 0) {
		if (r == LB_E_NOTFOUND && !g->config_explicit)
			lb_err_prefix(&err, "no configuration (hint: --config FILE or "
			    "$LIFEBOAT_CONFIG): ");
		log_error("%s", err.msg);
		cfg_free(c);
		/* a missing file is as much a configuration problem as a bad one */
		return r == LB_E_NOTFOUND ? lb_err_exit_status(LB_E_CONFIG) :
		    lb_err_exit_status(r);
	}
	r = cfg_print(c, stdout);
	bad = check_runtime(c);
	if (probe) {
		printf("\n# probe\n");
		failed = probe_config(c, stdout);
	}
	cfg_free(c);
	if (bad > 0)
		return lb_err_exit_status(LB_E_CONFIG);
	if (failed > 0) {
		log_error("probe: %d check%s failed", failed, failed == 1 ? "" : "s");
		return 1;
	}
	return r == 0 ? 0 : 1;
}
