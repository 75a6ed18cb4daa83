/*
 * grpc.h: gRPC calls over HTTP/2 with libcurl, just enough for etcd.
 *
 * A connection is one libcurl easy handle bound to one endpoint, so the
 * calls made through it share one TCP/TLS connection.  Requests are a
 * single 5-byte-prefixed message; responses are read as a stream of such
 * messages and handed to a callback as each one completes, so a server
 * stream of gigabytes needs only one message of memory.  http:// endpoints
 * speak HTTP/2 with prior knowledge, https:// negotiate h2 by ALPN.
 *
 * Errors name the cause: connection refused, TLS, a non-gRPC peer, a
 * stream cut before its trailers, or the grpc-status and grpc-message the
 * server sent.  Nothing here knows about etcd's messages (etcd.h does).
 */
#ifndef LB_GRPC_H
#define LB_GRPC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct grpc_conn;

struct grpc_opts {
	const char *cacert;        /* CA bundle for https; NULL: system store */
	const char *cert;          /* client certificate (PEM) or NULL */
	const char *key;           /* its private key (PEM) or NULL */
	long connect_timeout_s;    /* 0: 10 s */
	long stall_timeout_s;      /* abort after this long without a byte; 0: 60 s */
	const volatile sig_atomic_t *cancel;  /* abort the call when it turns non-zero */
};

/* The largest response message accepted; etcd's default send limit is
 * far below it, so a larger prefix means a broken or hostile peer. */
#define GRPC_MSG_MAX (16u * 1024 * 1024)

/* Called once per complete response message.  A negative return aborts
 * the call with that code (err set by the callback). */
typedef int (*grpc_msg_fn)(void *arg, const uint8_t *msg, size_t len,
    struct lb_err *err);

/* The length-prefixed message framing of a response body, exposed for
 * the unit tests and the fuzzer: feed bytes in any split, get whole
 * messages.  Callers embed it; zero-initialise before use. */
struct grpc_deframer {
	uint8_t hdr[5];
	size_t hdr_have;
	uint32_t msg_len;
	uint8_t *buf;              /* a message split across feeds */
	size_t buf_cap, buf_have;
};

/* Returns 0, or the callback's error, or LB_E_PROTO for a compressed or
 * oversized message. */
int grpc_deframe(struct grpc_deframer *d, const uint8_t *p, size_t n,
    grpc_msg_fn on_msg, void *arg, struct lb_err *err);

/* 1 if the bytes fed so far end between two messages. */
int grpc_deframe_clean(const struct grpc_deframer *d);

void grpc_deframer_release(struct grpc_deframer *d);

/* Prepares a connection to endpoint ("http://h:p", "https://h:p" or
 * "h:p", which means http).  Nothing is sent yet.  o is copied, its
 * paths included, so o and its strings need not outlive the call (the
 * cancel flag must live as long as the connection). */
int grpc_conn_new(const char *endpoint, const struct grpc_opts *o,
    struct grpc_conn **out, struct lb_err *err);

void grpc_conn_free(struct grpc_conn *c);

/* The endpoint as normalised (with scheme), for messages. */
const char *grpc_conn_endpoint(const struct grpc_conn *c);

/* Sets the etcd auth token sent as metadata with every later call; NULL
 * clears it.  The token is a secret: copied, wiped on free, never logged. */
int grpc_conn_set_token(struct grpc_conn *c, const char *token,
    struct lb_err *err);

/* Calls method ("/etcdserverpb.Maintenance/Status") with one request
 * message; every response message goes to on_msg.  A unary call gets a
 * bounded total time as well; a server stream (streaming = 1) only the
 * stall timeout, so an 8 GiB snapshot is never cut for taking long. */
int grpc_call(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, int streaming, grpc_msg_fn on_msg, void *arg,
    struct lb_err *err);

/* How a long-lived stream (a watch) is kept: no stall timeout, since an
 * idle server rightly sends nothing, and a tick instead. */
struct grpc_stream_opts {
	/* Called from libcurl's progress callback: about once a second when
	 * nothing arrives, more often while data flows (throttle if that
	 * matters).  1 ends the call cleanly (grpc_stream returns 0); <0 aborts it
	 * with that code (err set by the callback); 0 goes on.  May be NULL. */
	int (*on_tick)(void *arg, struct lb_err *err);
	void *arg;
};

/* The largest request message sent: a replayed revision can be far above
 * etcd's default --max-request-bytes (the member it goes to is started
 * with a larger one); the request is held in memory twice. */
#define GRPC_REQ_MAX (80u * 1024 * 1024)

/* Like grpc_call with streaming = 1, but with no stall timeout (only the
 * connect timeout, TCP keepalives that end the call about 90 s after the
 * peer host went silent, and the cancel flag) and with so's tick.  The request
 * is sent and our half of the stream closed; the server may go on
 * sending for as long as it likes. */
int grpc_stream(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, const struct grpc_stream_opts *so, grpc_msg_fn on_msg,
    void *arg, struct lb_err *err);

/* A unary call that returns the single response message in *resp
 * (malloc'd; the caller frees). */
int grpc_unary(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, uint8_t **resp, size_t *resp_len, struct lb_err *err);

#endif
