/*
 * cli.h: what every subcommand receives from main.c, and small helpers the
 * subcommands share (secrets from files or the environment).
 *
 * main.c strips the global options (--config, --log-level, --quiet) from
 * anywhere in argv, so `lifeboat --config F backup` and
 * `lifeboat backup --config F` mean the same.
 */
#ifndef LB_CLI_H
#define LB_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct lb_globals {
	const char *config_path;  /* --config, $LIFEBOAT_CONFIG or the default */
	int config_explicit;      /* 1 if given by flag or environment */
	int quiet;                /* --quiet: no progress, warnings only */
};

#define LB_DEFAULT_CONFIG "/etc/lifeboat/lifeboat.conf"

/* A subcommand: argv[0] is its name; returns a process exit status. */
typedef int (*lb_cmd_fn)(const struct lb_globals *g, int argc, char **argv);

/* Reads a secret (password, key) from the first line of path, without
 * the newline, into a malloc'd string.  The file must not be readable by
 * others than its owner and group... only a warning is logged if it is.
 * The caller wipes and frees it (lb_secret_free). */
int lb_secret_read_file(const char *path, char **out, struct lb_err *err);

/* Duplicates the value of environment variable name, or NULL if unset. */
char *lb_secret_from_env(const char *name);

/* Wipes and frees a secret; NULL is fine. */
void lb_secret_free(char *s);

/* Set by SIGINT/SIGTERM once lb_cancel_on_signals() ran; long transfers
 * poll it and stop cleanly (temp files removed, uploads aborted). */
extern volatile sig_atomic_t lb_cancel;
void lb_cancel_on_signals(void);

/* "1.5 GiB", "512 B": sizes for people (JSON output keeps bytes). */
void lb_fmt_size(uint64_t bytes, char *out, size_t cap);

/* "2026-11-30 10:04 UTC, 2 h ago": a moment for people, against now
 * ("in 5 min" when it is ahead). */
void lb_fmt_when(int64_t t, int64_t now, char *out, size_t cap);

/* Seconds on the monotonic clock: for durations and rates, never dates. */
double lb_mono_now(void);

/* Lower-case hex of len bytes; out holds 2 * len + 1. */
void lb_hex(const uint8_t *bytes, size_t len, char *out);

#endif
