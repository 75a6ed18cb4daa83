/*
 * grpc.c: gRPC framing over libcurl's HTTP/2 (grpc.h).
 *
 * The response body is a sequence of messages, each prefixed by a
 * compressed flag and a 4-byte big-endian length.  A message that arrives
 * whole inside one curl chunk is handed on in place; only a message split
 * across chunks is copied, into a buffer that grows up to GRPC_MSG_MAX.
 * The call's outcome is in the grpc-status trailer (or in the headers of a
 * trailers-only response); a body that ends without one was cut.
 */
#include "etcd/grpc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define UNARY_TIMEOUT_S 60L
#define GRPC_MESSAGE_MAX 256

struct grpc_conn {
	CURL *curl;
	char *endpoint;
	char *token_header;          /* "token: ..." (secret) */
	struct grpc_opts opts;
	char errbuf[CURL_ERROR_SIZE];
};

/* State of one call. */
struct call {
	struct grpc_conn *conn;
	grpc_msg_fn on_msg;
	void *arg;
	struct lb_err *err;
	int cb_failed;               /* on_msg or framing failed: err is set */
	const struct grpc_stream_opts *so;  /* NULL: not a grpc_stream call */
	int stopped;                 /* on_tick asked for a clean end */
	int checked;                 /* HTTP status and content type checked */
	struct grpc_deframer df;
	int grpc_status;             /* -1 until seen */
	char grpc_message[GRPC_MESSAGE_MAX];
	char content_type[64];
};

int
grpc_conn_new(const char *endpoint, const struct grpc_opts *o,
    struct grpc_conn **out, struct lb_err *err)
{
	struct grpc_conn *c;
	size_t n;
	int r = 0;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	/* The connection owns its TLS paths: a client can outlive the
	 * configuration it was opened from (the daemon's lock renewals run
	 * across a reload that frees it). */
	if (o != NULL) {
		c->opts = *o;
		c->opts.cacert = c->opts.cert = c->opts.key = NULL;
		if ((o->cacert != NULL && (c->opts.cacert = strdup(o->cacert)) == NULL) ||
		    (o->cert != NULL && (c->opts.cert = strdup(o->cert)) == NULL) ||
		    (o->key != NULL && (c->opts.key = strdup(o->key)) == NULL)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if (c->opts.connect_timeout_s <= 0)
		c->opts.connect_timeout_s = 10;
	if (c->opts.stall_timeout_s <= 0)
		c->opts.stall_timeout_s = 60;
	n = strlen(endpoint);
	while (n > 0 && endpoint[n - 1] == '/')
		n--;
	if (n == 0) {
		r = lb_err_set(err, LB_E_USAGE, "empty etcd endpoint");
		goto out;
	}
	if (strstr(endpoint, "://") == NULL) {
		if (asprintf(&c->endpoint, "http://%.*s", (int)n, endpoint) < 0)
			c->endpoint = NULL;
	} else if (strncmp(endpoint, "http://", 7) == 0 ||
	    strncmp(endpoint, "https://", 8) == 0) {
		c->endpoint = strndup(endpoint, n);
	} else {
		/* callers name the endpoint */
		r = lb_err_set(err, LB_E_USAGE, "scheme must be http:// or https://");
		goto out;
	}
	if (c->endpoint == NULL || (c->curl = curl_easy_init()) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	grpc_conn_free(c);
	return r;
}

void
grpc_conn_free(struct grpc_conn *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->token_header != NULL) {
		OPENSSL_cleanse(c->token_header, strlen(c->token_header));
		free(c->token_header);
	}
	free(c->endpoint);
	free((char *)c->opts.cacert);
	free((char *)c->opts.cert);
	free((char *)c->opts.key);
	free(c);
}

const char *
grpc_conn_endpoint(const struct grpc_conn *c)
{
	return c->endpoint;
}

int
grpc_conn_set_token(struct grpc_conn *c, const char *token, struct lb_err *err)
{
	if (c->token_header != NULL) {
		OPENSSL_cleanse(c->token_header, strlen(c->token_header));
		free(c->token_header);
		c->token_header = NULL;
	}
	if (token == NULL)
		return 0;
	/* etcd's own Go client sends the token as "token" metadata. */
	if (asprintf(&c->token_header, "token: %s", token) < 0) {
		c->token_header = NULL;
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	return 0;
}

static void
percent_decode(char *s)
{
	char *w = s;
	unsigned int v;

	for (; *s != '\0'; s++) {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2]) && sscanf(s + 1, "%2x", &v) == 1) {
			*w++ = (char)v;
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Sees headers and, with HTTP/2, the trailers too. */
static size_t
on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct call *k = ud;
	size_t n = size * nmemb, len = n;
	char *colon;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if ((colon = memchr(line, ':', len)) == NULL)
		return n;
	const size_t name_len = (size_t)(colon - line);
	const char *val = colon + 1;
	size_t val_len = len - name_len - 1;
	while (val_len > 0 && *val == ' ') {
		val++;
		val_len--;
	}
	if (name_len == 11 && strncasecmp(line, "grpc-status", 11) == 0) {
		k->grpc_status = 0;
		for (size_t i = 0; i < val_len && isdigit((unsigned char)val[i]); i++)
			k->grpc_status = k->grpc_status * 10 + (val[i] - '0');
	} else if (name_len == 12 && strncasecmp(line, "grpc-message", 12) == 0) {
		snprintf(k->grpc_message, sizeof(k->grpc_message), "%.*s",
		    (int)val_len, val);
		percent_decode(k->grpc_message);
	} else if (name_len == 12 && strncasecmp(line, "content-type", 12) == 0) {
		snprintf(k->content_type, sizeof(k->content_type), "%.*s",
		    (int)val_len, val);
	}
	return n;
}

int
grpc_deframe(struct grpc_deframer *d, const uint8_t *p, size_t n,
    grpc_msg_fn on_msg, void *arg, struct lb_err *err)
{
	size_t take;
	int r;

	while (n > 0) {
		if (d->hdr_have < 5) {
			take = 5 - d->hdr_have < n ? 5 - d->hdr_have : n;
			memcpy(d->hdr + d->hdr_have, p, take);
			d->hdr_have += take;
			p += take;
			n -= take;
			if (d->hdr_have < 5)
				break;
			if (d->hdr[0] != 0)
				return lb_err_set(err, LB_E_PROTO,
				    "compressed gRPC message (flag %u) not supported",
				    d->hdr[0]);
			d->msg_len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
			    (uint32_t)d->hdr[3] << 8 | d->hdr[4];
			if (d->msg_len > GRPC_MSG_MAX)
				return lb_err_set(err, LB_E_PROTO,
				    "gRPC message of %u bytes exceeds the limit", d->msg_len);
			d->buf_have = 0;
			if (d->msg_len == 0) {
				d->hdr_have = 0;
				if ((r = on_msg(arg, p, 0, err)) < 0)
					return r;
			}
			continue;
		}
		if (d->buf_have == 0 && n >= d->msg_len) {
			/* The common case: the whole message is in this chunk. */
			d->hdr_have = 0;
			if ((r = on_msg(arg, p, d->msg_len, err)) < 0)
				return r;
			p += d->msg_len;
			n -= d->msg_len;
			continue;
		}
		if (d->buf_cap < d->msg_len) {
			uint8_t *nb = realloc(d->buf, d->msg_len);
			if (nb == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			d->buf = nb;
			d->buf_cap = d->msg_len;
		}
		take = d->msg_len - d->buf_have < n ? d->msg_len - d->buf_have : n;
		memcpy(d->buf + d->buf_have, p, take);
		d->buf_have += take;
		p += take;
		n -= take;
		if (d->buf_have == d->msg_len) {
			d->hdr_have = 0;
			d->buf_have = 0;
			if ((r = on_msg(arg, d->buf, d->msg_len, err)) < 0)
				return r;
		}
	}
	return 0;
}

int
grpc_deframe_clean(const struct grpc_deframer *d)
{
	return d->hdr_have == 0;
}

void
grpc_deframer_release(struct grpc_deframer *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct call *k = ud;
	long status = 0;

	if (!k->checked) {
		k->checked = 1;
		curl_easy_getinfo(k->conn->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200 || strncmp(k->content_type, "application/grpc", 16) != 0) {
			k->cb_failed = 1;
			lb_err_set(k->err, LB_E_PROTO,
			    "not an etcd gRPC endpoint (HTTP %ld, content-type '%s')",
			    status, k->content_type);
			return 0;
		}
	}
	if (grpc_deframe(&k->df, (const uint8_t *)ptr, size * nmemb, k->on_msg,
	    k->arg, k->err) < 0) {
		k->cb_failed = 1;
		return 0;
	}
	return size * nmemb;
}

static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct call *k = ud;
	int r;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (k->conn->opts.cancel != NULL && *k->conn->opts.cancel)
		return 1;
	if (k->so != NULL && k->so->on_tick != NULL && !k->cb_failed) {
		if ((r = k->so->on_tick(k->so->arg, k->err)) < 0) {
			k->cb_failed = 1;
			return 1;
		}
		if (r > 0) {
			k->stopped = 1;
			return 1;
		}
	}
	return 0;
}

/* grpc-status codes worth their own error class. */
static int
status_code(int grpc_status, const char *msg)
{
	switch (grpc_status) {
	case 16: /* UNAUTHENTICATED */
	case 7:  /* PERMISSION_DENIED */
		return LB_E_AUTH;
	case 14: /* UNAVAILABLE */
	case 4:  /* DEADLINE_EXCEEDED */
		return LB_E_NET;
	case 5:  /* NOT_FOUND */
		return LB_E_NOTFOUND;
	}
	/* etcd refuses a login with INVALID_ARGUMENT (its rpctypes), the
	 * status of many other faults: the server's message is all that
	 * tells them apart, so this one decision rests on etcd's text. */
	if (strstr(msg, "authentication failed") != NULL ||
	    strstr(msg, "user name is empty") != NULL ||
	    strstr(msg, "invalid auth token") != NULL)
		return LB_E_AUTH;
	return LB_E_REMOTE;
}

/* The issuer of the first certificate in a PEM file, "" if unreadable. */
static void
cert_issuer(const char *path, char *out, size_t cap)
{
	X509 *x = NULL;
	FILE *fp;

	out[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL)
		return;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	ERR_clear_error();
	if (x != NULL)
		X509_NAME_oneline(X509_get_issuer_name(x), out, (int)cap);
	X509_free(x);
}

/* An https connection whose first read or write failed before any HTTP
 * answer.  With TLS 1.3 a server checks the client's certificate after
 * the client considers the handshake done, so its refusal (an alert, or a
 * reset when the request was already on its way) arrives as exactly that:
 * a failed read or write of the request, not a non-etcd peer.  Other
 * failures before an answer (nothing at all, broken HTTP/2) are not
 * taken for it. */
static int
tls_refused(struct call *k, const char *detail)
{
	const struct grpc_opts *o = &k->conn->opts;
	char issuer[256];

	if (o->cert == NULL)
		return lb_err_set(k->err, LB_E_TLS, "tls handshake failed: the server "
		    "requires a client certificate and none was given, so it closed the "
		    "connection: %s (hint: cert and key)", detail);
	cert_issuer(o->cert, issuer, sizeof(issuer));
	return lb_err_set(k->err, LB_E_TLS, "tls handshake failed: the server "
	    "refused the client certificate %s%s%s%s and closed the connection: %s "
	    "(hint: the members accept only client certificates signed by a CA in "
	    "their --trusted-ca-file)", o->cert, issuer[0] != '\0' ? " (issued by " : "",
	    issuer, issuer[0] != '\0' ? ")" : "", detail);
}

/* Turns a libcurl failure into a message that names the cause. */
static int
curl_failure(struct call *k, CURLcode cc)
{
	struct grpc_conn *c = k->conn;
	long oserr = 0;
	const char *detail = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(cc);

	if (k->cb_failed)
		return k->err->code;
	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	switch (cc) {
	case CURLE_ABORTED_BY_CALLBACK:
		if (k->stopped)
			return 0;
		return lb_err_set(k->err, LB_E_CANCELED, "canceled");
	case CURLE_COULDNT_RESOLVE_HOST:
		return lb_err_set(k->err, LB_E_NET, "cannot resolve host: %s", detail);
	case CURLE_COULDNT_CONNECT:
		if (oserr != 0)
			return lb_err_sys(k->err, LB_E_NET, (int)oserr, "cannot connect");
		return lb_err_set(k->err, LB_E_NET, "cannot connect: %s", detail);
	case CURLE_OPERATION_TIMEDOUT:
		/* One code for both timeouts; only libcurl's text says which. */
		if (strstr(detail, "onnect") != NULL || strstr(detail, "after 0 bytes") != NULL)
			return lb_err_set(k->err, LB_E_NET,
			    "timed out connecting after %ld s", c->opts.connect_timeout_s);
		return lb_err_set(k->err, LB_E_NET,
		    "stalled: no data for %ld s (%s)", c->opts.stall_timeout_s, detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		return lb_err_set(k->err, LB_E_TLS,
		    "tls: server certificate not trusted: %s (hint: check cacert)", detail);
	case CURLE_SSL_CACERT_BADFILE:
		return lb_err_set(k->err, LB_E_TLS, "tls: cannot load cacert: %s", detail);
	case CURLE_SSL_CERTPROBLEM:
		return lb_err_set(k->err, LB_E_TLS,
		    "tls: cannot use the client certificate or key: %s", detail);
	case CURLE_SSL_CONNECT_ERROR:
		return lb_err_set(k->err, LB_E_TLS,
		    "tls handshake failed: %s (hint: check cert, key and cacert)", detail);
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
		/* (nghttp2 reports the socket's failure as an HTTP/2 error) */
		if (!k->checked && strncmp(c->endpoint, "https", 5) == 0 &&
		    (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
		    strstr(detail, "Send failure") != NULL ||
		    strstr(detail, "Recv failure") != NULL))
			return tls_refused(k, detail);
		if (!k->checked)
			return lb_err_set(k->err, LB_E_PROTO,
			    "no HTTP/2 gRPC answer: %s (hint: is this an etcd client URL?)",
			    detail);
		return lb_err_set(k->err, LB_E_NET, "connection broken mid-stream: %s",
		    detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
		return lb_err_set(k->err, LB_E_PROTO,
		    "not an etcd gRPC endpoint: %s", detail);
	default:
		return lb_err_set(k->err, LB_E_NET, "%s", detail);
	}
}

/* One call; so != NULL: a grpc_stream call (streaming, no stall
 * timeout, ticks). */
static int
call_run(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, int streaming, const struct grpc_stream_opts *so,
    grpc_msg_fn on_msg, void *arg, struct lb_err *err)
{
	struct curl_slist *hdrs = NULL, *h;
	struct call k;
	uint8_t *body = NULL;
	char *url = NULL;
	CURL *cu = c->curl;
	CURLcode cc;
	int r = 0;

	memset(&k, 0, sizeof(k));
	k.conn = c;
	k.on_msg = on_msg;
	k.arg = arg;
	k.err = err;
	k.grpc_status = -1;
	k.so = so;

	if (req_len > GRPC_REQ_MAX) {
		r = lb_err_set(err, LB_E_USAGE, "gRPC request of %zu bytes exceeds "
		    "the limit of %u", req_len, GRPC_REQ_MAX);
		goto out;
	}
	if ((body = malloc(req_len + 5)) == NULL ||
	    asprintf(&url, "%s%s", c->endpoint, method) < 0) {
		url = NULL;
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	body[0] = 0;
	body[1] = (uint8_t)(req_len >> 24);
	body[2] = (uint8_t)(req_len >> 16);
	body[3] = (uint8_t)(req_len >> 8);
	body[4] = (uint8_t)req_len;
	if (req_len > 0)
		memcpy(body + 5, req, req_len);

	const char *fixed[] = { "content-type: application/grpc", "te: trailers",
	    "user-agent: lifeboat/" LB_VERSION, "Expect:", "Accept:",
	    c->token_header };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (fixed[i] == NULL)
			continue;
		if ((h = curl_slist_append(hdrs, fixed[i])) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		hdrs = h;
	}

	c->errbuf[0] = '\0';
	curl_easy_reset(cu);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(cu, CURLOPT_HTTP_VERSION, strncmp(url, "https", 5) == 0 ?
	    CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_POST, 1L);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req_len + 5));
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(cu, CURLOPT_HEADERDATA, &k);
	curl_easy_setopt(cu, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(cu, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(cu, CURLOPT_XFERINFODATA, &k);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(cu, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, c->opts.connect_timeout_s);
	/* A stall timeout, never a total one, for the snapshot stream; none
	 * at all for a watch, whose liveness is its caller's (on_tick). */
	if (so == NULL) {
		curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, c->opts.stall_timeout_s);
	} else {
		/* a peer host gone without a word still ends the call, in
		 * about a minute and a half */
		curl_easy_setopt(cu, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(cu, CURLOPT_TCP_KEEPIDLE, 30L);
		curl_easy_setopt(cu, CURLOPT_TCP_KEEPINTVL, 10L);
	}
	if (!streaming)
		curl_easy_setopt(cu, CURLOPT_TIMEOUT, UNARY_TIMEOUT_S);
	/* libcurl 7.88 fails the second stream on a reused HTTP/2 connection
	 * after a response with trailers ("Error in the HTTP2 framing
	 * layer"), so each call gets a connection of its own. */
	curl_easy_setopt(cu, CURLOPT_FORBID_REUSE, 1L);
	if (c->opts.cacert != NULL)
		curl_easy_setopt(cu, CURLOPT_CAINFO, c->opts.cacert);
	if (c->opts.cert != NULL)
		curl_easy_setopt(cu, CURLOPT_SSLCERT, c->opts.cert);
	if (c->opts.key != NULL)
		curl_easy_setopt(cu, CURLOPT_SSLKEY, c->opts.key);

	if (getenv("LIFEBOAT_CURL_VERBOSE") != NULL)
		curl_easy_setopt(cu, CURLOPT_VERBOSE, 1L);
	cc = curl_easy_perform(cu);
	if (cc != CURLE_OK) {
		r = curl_failure(&k, cc);
		goto out;
	}
	if (k.stopped)
		goto out;
	if (!k.checked) {
		/* No body: a trailers-only response, or not gRPC at all. */
		long status = 0;
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200 || k.grpc_status < 0) {
			r = lb_err_set(err, LB_E_PROTO,
			    "not an etcd gRPC endpoint (HTTP %ld, content-type '%s')",
			    status, k.content_type);
			goto out;
		}
	}
	if (k.grpc_status < 0) {
		r = lb_err_set(err, LB_E_NET,
		    "stream ended without grpc-status (cut mid-stream?)");
		goto out;
	}
	if (k.grpc_status != 0) {
		r = lb_err_set(err, status_code(k.grpc_status, k.grpc_message),
		    "%s (grpc-status %d)", k.grpc_message[0] != '\0' ?
		    k.grpc_message : "call failed", k.grpc_status);
		goto out;
	}
	if (!grpc_deframe_clean(&k.df)) {
		r = lb_err_set(err, LB_E_PROTO, "response ended inside a gRPC message");
		goto out;
	}
out:
	/* The handle keeps the connection; drop pointers into this frame. */
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	grpc_deframer_release(&k.df);
	free(body);
	free(url);
	return r;
}

int
grpc_call(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, int streaming, grpc_msg_fn on_msg, void *arg,
    struct lb_err *err)
{
	return call_run(c, method, req, req_len, streaming, NULL, on_msg, arg, err);
}

int
grpc_stream(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, const struct grpc_stream_opts *so, grpc_msg_fn on_msg,
    void *arg, struct lb_err *err)
{
	static const struct grpc_stream_opts none = { NULL, NULL };

	return call_run(c, method, req, req_len, 1, so != NULL ? so : &none,
	    on_msg, arg, err);
}

struct unary {
	uint8_t *msg;
	size_t len;
	int seen;
};

static int
on_unary(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	struct unary *u = arg;

	if (u->seen++)
		return lb_err_set(err, LB_E_PROTO, "unary call returned several messages");
	if ((u->msg = malloc(len ? len : 1)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	memcpy(u->msg, msg, len);
	u->len = len;
	return 0;
}

int
grpc_unary(struct grpc_conn *c, const char *method, const void *req,
    size_t req_len, uint8_t **resp, size_t *resp_len, struct lb_err *err)
{
	struct unary u = { NULL, 0, 0 };
	int r;

	*resp = NULL;
	*resp_len = 0;
	if ((r = grpc_call(c, method, req, req_len, 0, on_unary, &u, err)) < 0)
		goto out;
	if (!u.seen) {
		r = lb_err_set(err, LB_E_PROTO, "empty response to %s", method);
		goto out;
	}
	*resp = u.msg;
	*resp_len = u.len;
	u.msg = NULL;
out:
	free(u.msg);
	return r;
}
