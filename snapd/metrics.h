/*
 * metrics.h: the daemon's HTTP endpoint (libmicrohttpd): GET /metrics,
 * GET /healthz, and the status page GET / and GET /api/status.  This file serves; the daemon renders the bodies (it owns
 * the numbers), through a callback called on the server's thread.
 */
#ifndef LB_SNAPD_METRICS_H
#define LB_SNAPD_METRICS_H

#include "common/err.h"

/* Fills *body (malloc'd, the server frees it) and *status (200, 503...)
 * for path ("/metrics", "/healthz", "/" or "/api/status"); returns 0, or -1 for a path it
 * does not serve (404). */
typedef int (*metrics_render_fn)(void *arg, const char *path, char **body,
    unsigned *status);

struct metrics_server;

/* Listens on listen ("HOST:PORT"); LB_E_CONFIG for a bad address,
 * LB_E_IO when it cannot bind. */
int metrics_start(const char *listen, metrics_render_fn fn, void *arg,
    struct metrics_server **out, struct lb_err *err);

/* Stops the server and frees it; NULL is fine. */
void metrics_stop(struct metrics_server *m);

#endif
