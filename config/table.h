/*
 * table.h: the option table and the parsed values, shared by the files of
 * config/ and by no one else (users of the configuration read config.h).
 *
 *   table.c     the table, generated from options.def
 *   value.c     one value parsed by its type (numbers, durations, sizes,
 *               lists) and the range checks the table declares
 *   validate.c  checks of string values (URLs, repository, age
 *               recipients, schedules...) named in the table
 *   parse.c     the file: sections, keys, defaults, required options
 *   get.c       the getters and the reload check
 *   secret.c    secrets named by options (files, environment)
 *   print.c     text generated from the table and from a configuration
 */
#ifndef LB_CONFIG_TABLE_H
#define LB_CONFIG_TABLE_H

#include <stddef.h>

#include "config/config.h"

/* SEC_BOTH: in [global] and in [cluster:NAME], the cluster's overriding
 * the global one (cfg_get_* with a cluster name falls back to [global]). */
enum opt_section { SEC_GLOBAL, SEC_CLUSTER, SEC_BOTH };

enum opt_type {
	T_STRING, T_INT, T_BOOL, T_ENUM, T_URL, T_LIST, T_PATH, T_DURATION, T_SIZE
};

#define F_SECRET   0x1u   /* never printed, never echoed in errors */
#define F_RELOAD   0x2u   /* may change on SIGHUP */
#define F_REQUIRED 0x4u
/* T_INT: the word "auto" is accepted too and read as CFG_AUTO (0, below
 * every such option's min): the component picks the value as it runs. */
#define F_AUTO     0x8u

#define KiB 1024LL
#define MiB (1024LL * KiB)
#define GiB (1024LL * MiB)

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

/* Indexed by enum cfg_opt. */
extern const struct opt cfg_opts[CFG_N_OPTS];

struct val {
	char *text;             /* as written, quotes removed; NULL if unset */
	unsigned line;          /* 0: the default */
	long long num;          /* int, bool, duration (s), size (bytes), enum index */
	char **items;           /* list, at most its option's max items */
	size_t n_items, cap_items;
};

struct section {
	char *name;             /* cluster name; NULL for [global] */
	unsigned line;
	struct val v[CFG_N_OPTS];
};

struct cfg {
	char *source;
	struct section global;
	struct section **clusters;  /* at most CFG_CLUSTERS_MAX */
	size_t n_clusters, cap_clusters;
};

/* table.c */

/* A caller asked for something the table does not have: a bug.  Prints
 * and aborts. */
void cfg_bug(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The index of the option called name, or -1. */
int cfg_opt_find(const char *name);

/* value.c */

/* Formats the reason into buf; returns -1. */
int cfg_why(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A decimal number, optionally negative, and nothing else: 0 or -1. */
int cfg_parse_ll(const char *s, long long *out);

/* "90s", "10m", "1d"; "8MiB", "1GiB": the largest unit that divides. */
void cfg_fmt_duration(long long s, char *buf, size_t n);
void cfg_fmt_size(long long b, char *buf, size_t n);

/* Narrows [*start, *end) to leave out blanks at both ends. */
void cfg_trim_span(const char **start, const char **end);

/* Parses s as a value of o into v (which it owns on success and leaves
 * cleared on failure).  Returns 0, or -1 with the reason in w. */
int cfg_parse_value(const struct opt *o, const char *s, struct val *v, char *w,
    size_t wn);

/* Frees what v holds and zeroes it. */
void cfg_val_clear(struct val *v);

/* validate.c: the checks the table names (opt_check_fn). */
int cfg_check_repo(const char *v, char *w, size_t n);
int cfg_check_http_url(const char *v, char *w, size_t n);
int cfg_check_token(const char *v, char *w, size_t n);
int cfg_check_age_recipient(const char *v, char *w, size_t n);
int cfg_check_listen(const char *v, char *w, size_t n);
int cfg_check_timezone(const char *v, char *w, size_t n);
int cfg_check_schedule(const char *v, char *w, size_t n);
int cfg_check_schedule_or_off(const char *v, char *w, size_t n);
int cfg_check_retention(const char *v, char *w, size_t n);
int cfg_check_lock_prefix(const char *v, char *w, size_t n);
int cfg_check_object_lock(const char *v, char *w, size_t n);

/* parse.c */

/* The section of cluster name, or NULL. */
struct section *cfg_find_cluster(const struct cfg *c, const char *name);

#endif
