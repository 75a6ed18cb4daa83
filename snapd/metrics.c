/*
 * metrics.c: the HTTP server of metrics.h on libmicrohttpd's internal
 * polling thread.  GET and HEAD only; anything else is 405.
 */
#include "snapd/metrics.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

struct metrics_server {
	struct MHD_Daemon *d;
	metrics_render_fn fn;
	void *arg;
};

static mhd_result
reply(struct MHD_Connection *conn, unsigned status, char *body, const char *type)
{
	struct MHD_Response *resp;
	mhd_result r;

	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static const char *
content_type(const char *url)
{
	if (strcmp(url, "/metrics") == 0)
		return "text/plain; version=0.0.4; charset=utf-8";
	if (strcmp(url, "/") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(url, "/api/status") == 0)
		return "application/json";
	return "text/plain; charset=utf-8";
}

static mhd_result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct metrics_server *m = cls;
	char *body = NULL;
	unsigned status = 200;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, 405, strdup("method not allowed\n"), "text/plain");
	if (m->fn(m->arg, url, &body, &status) < 0 || body == NULL) {
		free(body);
		return reply(conn, 404, strdup("not found (try /, /api/status, /metrics or "
		    "/healthz)\n"), "text/plain");
	}
	return reply(conn, status, body, content_type(url));
}

int
metrics_start(const char *listen, metrics_render_fn fn, void *arg,
    struct metrics_server **out, struct lb_err *err)
{
	struct metrics_server *m = NULL;
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *colon = strrchr(listen, ':');
	int r = 0, g;

	*out = NULL;
	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || colon == listen)
		return lb_err_set(err, LB_E_CONFIG, "metrics-listen: %s is not HOST:PORT",
		    listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((g = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
		return lb_err_set(err, LB_E_CONFIG, "metrics-listen: %s: %s", listen,
		    gai_strerror(g));
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	m->fn = fn;
	m->arg = arg;
	m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
	    handle, m, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
	    MHD_OPTION_END);
	if (m->d == NULL) {
		r = lb_err_set(err, LB_E_IO, "metrics-listen: cannot listen on %s "
		    "(in use, or not an address of this host)", listen);
		goto out;
	}
	*out = m;
	m = NULL;
out:
	free(m);
	freeaddrinfo(ai);
	return r;
}

void
metrics_stop(struct metrics_server *m)
{
	if (m == NULL)
		return;
	if (m->d != NULL)
		MHD_stop_daemon(m->d);
	free(m);
}
