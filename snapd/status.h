/*
 * status.h: the daemon's status page: one model, the JSON document that
 * GET /api/status serves, and the HTML page GET / serves, rendered from
 * that document alone (so a script reading the JSON and a person reading
 * the page see the same values).
 *
 * The model is the daemon's view of its clusters (copied under its mutex
 * by snapd_status_copy, state.h) plus the catalog, read through its own
 * read-only connection with bounded, indexed queries (catalog.h, "the
 * status page").  It holds nothing secret: no credentials, no key
 * material, endpoints without userinfo.
 *
 * The fields are documented in README.md, "Status page".
 */
#ifndef LB_SNAPD_STATUS_H
#define LB_SNAPD_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"

#define STATUS_FORMAT "lifeboat-status/1"
#define STATUS_CHART_DAYS 30
/* Chart points per cluster: 30 days of backups every 30 minutes. */
#define STATUS_CHART_POINTS 1440
/* Rows of the newest backups and of the newest audit events. */
#define STATUS_ROWS 20

/* The lock of one cluster, as the daemon sees it (snapd/lock.h). */
enum status_lock {
	STATUS_LOCK_NONE = 0,      /* no lock-prefix: this daemon runs every slot */
	STATUS_LOCK_OFF,           /* configured, turned off (no write access) */
	STATUS_LOCK_HELD,          /* this daemon holds it */
	STATUS_LOCK_STANDBY        /* another appliance holds it (holder) */
};

/* The daemon's view of one cluster.  Times on the daemon's clock. */
struct status_cluster {
	char name[80];
	int enabled, running;
	time_t next_run;           /* 0: none */
	time_t overdue_at;         /* 0: unknown */
	enum status_lock lock;
	char holder[256];          /* STATUS_LOCK_STANDBY: who holds it; "": unknown */
	int divergent;             /* the last backup found members diverging */
	/* point-in-time recovery (snapd/capture.c), when pitr = on */
	int pitr_on;
	int pitr_capturing;        /* this daemon holds the lock and captures */
	double pitr_lag_s;         /* while capturing */
	int64_t pitr_lag_revs;     /* -1: unknown */
	int64_t pitr_last_rev;     /* 0: none since start */
	unsigned long long pitr_gaps;  /* since the daemon's start */
	int pitr_proof_last;       /* the drills' proof: 0 none, 1 ok, 2 failed */
};

/* The daemon's view of itself and its clusters. */
struct status_daemon {
	char owner[256];           /* "host pid N": the lock holder's name */
	time_t started, now;       /* daemon clock */
	double scale;              /* test clock rate, 1 in production */
	char catalog[4096];
	struct status_cluster *cl;
	size_t n;
};

/* Builds the status document of sd into *out (a new reference): the
 * catalog at sd->catalog is opened read-only for the call.  A catalog
 * that cannot be read still gives a document, with the reason in
 * daemon.catalog_error and every cluster's health "unknown".  Fails
 * only when out of memory. */
int status_build(const struct status_daemon *sd, json_t **out, struct lb_err *err);

/* The document as compact JSON text (malloc'd), for /api/status. */
int status_render_json(const json_t *doc, char **out, struct lb_err *err);

/* The page (malloc'd) for /: HTML with inline CSS and SVG, no script,
 * no outside asset, every outside text escaped; from doc alone. */
int status_render_html(const json_t *doc, char **out, struct lb_err *err);

#endif
