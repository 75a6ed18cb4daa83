/*
 * s3.c: the S3 client of s3.h and its request loop.  Owns the client
 * (options, the pool of curl handles, the server's clock), canonical URL
 * building, the request loop (SigV4 by libcurl, retries with backoff and
 * jitter, error XML to a readable message and an error code).  The
 * requests themselves are in s3_ops.c, credentials in s3_creds.c, the XML
 * parsers in s3_xml.c, the upload sink in s3_sink.c (see s3_int.h).
 * Knows nothing of repository prefixes.
 */
#include "repo/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/fmt.h"
#include "common/log.h"

#define S3_BACKOFF_MIN_MS 100
#define S3_BACKOFF_MAX_MS 5000
#define S3_ERRBODY_MAX (16 * 1024)   /* only its Code and Message are read */
#define S3_XML_MAX (16 * 1024 * 1024)  /* a list page of 1000 keys is ~350 KiB */
/* A URL holds the endpoint (at most 512 bytes, s3_new), the bucket, a key
 * (REPO_KEY_MAX, at most tripled by percent-encoding) and at most six
 * query pairs, of which only a listing's token or markers come from the
 * server; 64 KiB is far beyond all of them. */
#define S3_URL_MAX (64 * 1024)
#define S3_PAGE_KEYS 1000

/* Borrows an idle handle, or makes one; NULL when out of memory. */
static CURL *
handle_get(struct s3 *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_n > 0)
		h = s->pool[--s->pool_n];
	pthread_mutex_unlock(&s->pool_lock);
	return h != NULL ? h : curl_easy_init();
}

static void
handle_put(struct s3 *s, CURL *h)
{
	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_n < S3_POOL_MAX) {
		s->pool[s->pool_n++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* ---------------------------------------------------------------- encoding */

char *
s3_uri_encode(const char *src, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(src), i, o = 0;
	char *out;
	unsigned char c;

	if ((out = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c = (unsigned char)src[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    (keep_slash && c == '/')) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* A canonical query: SigV4 (as libcurl 7.88 signs it) needs the pairs
 * sorted by encoded name and every one written name=value. */
int
s3_query_add(struct s3_query *q, const char *k, const char *v)
{
	if (q->n >= 6)
		return -1;
	q->p[q->n].k = s3_uri_encode(k, 0);
	q->p[q->n].v = s3_uri_encode(v, 0);
	if (q->p[q->n].k == NULL || q->p[q->n].v == NULL) {
		free(q->p[q->n].k);
		free(q->p[q->n].v);
		return -1;
	}
	q->n++;
	return 0;
}

static void
query_clear(struct s3_query *q)
{
	int i;

	for (i = 0; i < q->n; i++) {
		free(q->p[i].k);
		free(q->p[i].v);
	}
	q->n = 0;
}

static int
query_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/* Builds scheme://host/path?query into b; 0 or LB_E_NOMEM (b's sticky
 * error, checked once at the end). */
static int
build_url(const struct s3 *s, const char *key, struct s3_query *q, struct lb_buf *b)
{
	char *enc;
	int i;

	qsort(q->p, (size_t)q->n, sizeof(q->p[0]), query_cmp);
	lb_buf_addf(b, "%s%s/", s->scheme_host, s->path_base);
	if (key != NULL) {
		if ((enc = s3_uri_encode(key, 1)) == NULL)
			return LB_E_NOMEM;
		lb_buf_addstr(b, enc);
		free(enc);
	}
	for (i = 0; i < q->n; i++)
		lb_buf_addf(b, "%c%s=%s", i == 0 ? '?' : '&', q->p[i].k, q->p[i].v);
	return b->err;
}

static void
sha256_hex(const void *buf, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	lb_hex(md, 32, out);
}

void
s3_md5_b64(const void *buf, size_t len, char out[32])
{
	uint8_t md[16];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 16);
}

void
s3_sha256_raw(const void *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL);
}

void
s3_b64_32(const uint8_t d[32], char out[48])
{
	EVP_EncodeBlock((unsigned char *)out, d, 32);
}

int
s3_checksum_refused(const struct s3_req *q)
{
	if (q->status == 501)
		return 1;
	return q->status == 400 && (strcmp(q->code, "InvalidRequest") == 0 ||
	    strcmp(q->code, "InvalidArgument") == 0 ||
	    strcmp(q->code, "MalformedXML") == 0 ||
	    strcmp(q->code, "NotImplemented") == 0);
}

void
s3_sha256_b64(const void *buf, size_t len, char out[48])
{
	uint8_t md[32];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 32);
}

/* ---------------------------------------------------------------- requests */

static size_t
req_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct s3_req *q = ud;
	size_t n = sz * nm;
	long code = 0;

	curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		/* Keep the start of an error body; drop the rest. */
		if (q->errbody.len < q->errbody.max)
			lb_buf_add(&q->errbody, data,
			    n < q->errbody.max - q->errbody.len ?
			    n : q->errbody.max - q->errbody.len);
		return n;
	}
	if (q->dest != NULL) {
		/* A server that ignores Range on a resumed GET would repeat
		 * bytes already delivered. */
		if (code == 200 && q->from > 0) {
			q->sink_rc = lb_err_set(q->sink_err, LB_E_PROTO,
			    "server ignored the Range of a resumed download");
			return 0;
		}
		if ((q->sink_rc = flt_write(q->dest, data, n, q->sink_err)) < 0)
			return 0;
		q->delivered += n;
		return n;
	}
	if (lb_buf_add(&q->resp, data, n) < 0) {
		q->sink_rc = lb_err_set(q->sink_err, LB_E_PROTO,
		    "s3 response larger than %zu bytes", q->resp.max);
		return 0;
	}
	return n;
}

static size_t
req_header(char *data, size_t sz, size_t nm, void *ud)
{
	struct s3_req *q = ud;
	size_t n = sz * nm, len;
	const char *v;

	if (n > 5 && n < 128 && strncasecmp(data, "date:", 5) == 0) {
		char d[128];

		memcpy(d, data + 5, n - 5);
		d[n - 5] = '\0';
		if ((q->date = curl_getdate(d, NULL)) < 0)
			q->date = 0;
	}
	if (n > 36 && n < 128 &&
	    strncasecmp(data, "x-amz-object-lock-retain-until-date:", 36) == 0) {
		char d[128];

		memcpy(d, data + 36, n - 36);
		d[n - 36] = '\0';
		for (v = d; *v == ' ' || *v == '\t'; v++)
			;
		if (s3_iso8601_parse(v, &q->lock_until) < 0)
			q->lock_until = 0;
	}
	if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		v = data + 5;
		len = n - 5;
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
		    v[len - 1] == ' '))
			len--;
		if (len < sizeof(q->etag)) {
			memcpy(q->etag, v, len);
			q->etag[len] = '\0';
		}
	}
	return n;
}

static int
req_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct s3_req *q = ud;

	(void)dt; (void)dn; (void)ut; (void)un;
	return q->cancel != NULL && *q->cancel;
}

static const char *
hint_for(const char *code)
{
	if (strcmp(code, "SignatureDoesNotMatch") == 0)
		return " (hint: check s3-secret-access-key)";
	if (strcmp(code, "InvalidAccessKeyId") == 0)
		return " (hint: check s3-access-key-id)";
	if (strcmp(code, "AuthorizationHeaderMalformed") == 0)
		return " (hint: check s3-region)";
	if (strcmp(code, "RequestTimeTooSkewed") == 0)
		return " (hint: check the system clock)";
	if (strcmp(code, "AccessDenied") == 0)
		return " (hint: check the credentials and the bucket policy)";
	if (strcmp(code, "ExpiredToken") == 0 ||
	    strcmp(code, "InvalidToken") == 0)
		return " (hint: check s3-session-token)";
	return "";
}

static int
retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int
tls_error(CURLcode c)
{
	return c == CURLE_SSL_CONNECT_ERROR || c == CURLE_PEER_FAILED_VERIFICATION ||
	    c == CURLE_SSL_CACERT_BADFILE || c == CURLE_SSL_CERTPROBLEM;
}

static void
backoff_sleep(int attempt)
{
	long ms = S3_BACKOFF_MIN_MS;
	unsigned int rnd = 0;
	struct timespec ts;
	int i;

	for (i = 1; i < attempt && ms < S3_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > S3_BACKOFF_MAX_MS)
		ms = S3_BACKOFF_MAX_MS;
	/* Jitter in [ms/2, ms] keeps parallel parts from retrying in step. */
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	ms = ms / 2 + (long)(rnd % (unsigned int)(ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The code of an S3 error answer that is neither "not found" nor a
 * bucket's absence.  A store that lacks a feature (s3rver lists no
 * multipart uploads) says 501 NotImplemented: its own code, so callers
 * decide on it and never on the message. */
static int
error_code(long st, const char *code)
{
	if (st == 501 || strcmp(code, "NotImplemented") == 0)
		return LB_E_UNSUPPORTED;
	if (st == 401 || st == 403)
		return LB_E_AUTH;
	return LB_E_REMOTE;
}

/* "bucket/key" or "bucket" for messages. */
static void
what_of(const struct s3 *s, const struct s3_req *q, char *buf, size_t sz)
{
	if (q->key != NULL)
		snprintf(buf, sz, "%s/%.300s", s->bucket, q->key);
	else
		snprintf(buf, sz, "%s", s->bucket);
}

static int
req_setup(struct s3 *s, struct s3_req *q, const char *url,
    struct curl_slist **hdrs, char *ebuf, char *range, size_t range_sz)
{
	char line[1200], sha[65];
	CURL *h = q->h;
	struct curl_slist *l = NULL, *t;
	uint64_t from;

	curl_easy_reset(h);
	/* A body's digest given by the caller serves every try and its
	 * x-amz-checksum-sha256 too: each byte hashed once. */
	if (q->body_sha256 != NULL)
		lb_hex(q->body_sha256, 32, sha);
	else
		sha256_hex(q->body != NULL ? q->body : "", q->body_len, sha);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sha);
	if ((t = curl_slist_append(l, line)) == NULL)
		goto nomem;
	l = t;
	if (s->session_token != NULL) {
		/* Built in a wiped buffer: the token is a secret. */
		snprintf(line, sizeof(line), "x-amz-security-token: %s",
		    s->session_token);
		t = curl_slist_append(l, line);
		OPENSSL_cleanse(line, sizeof(line));
		if (t == NULL)
			goto nomem;
		l = t;
	}
	if (q->content_md5 != NULL) {
		snprintf(line, sizeof(line), "Content-MD5: %s", q->content_md5);
		if ((t = curl_slist_append(l, line)) == NULL)
			goto nomem;
		l = t;
	}
	if (q->checksum_sha256 != NULL) {
		snprintf(line, sizeof(line), "x-amz-checksum-sha256: %s",
		    q->checksum_sha256);
		if ((t = curl_slist_append(l, line)) == NULL)
			goto nomem;
		l = t;
	}
	if (q->checksum_algorithm != NULL) {
		snprintf(line, sizeof(line), "x-amz-checksum-algorithm: %s",
		    q->checksum_algorithm);
		if ((t = curl_slist_append(l, line)) == NULL)
			goto nomem;
		l = t;
	}
	if (q->lock != NULL) {
		/* Custom headers: libcurl signs them with the rest. */
		struct tm tm;
		char until[32];

		gmtime_r(&q->lock->until, &tm);
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(line, sizeof(line), "x-amz-object-lock-mode: %s", q->lock->mode);
		if ((t = curl_slist_append(l, line)) == NULL)
			goto nomem;
		l = t;
		snprintf(line, sizeof(line),
		    "x-amz-object-lock-retain-until-date: %s", until);
		if ((t = curl_slist_append(l, line)) == NULL)
			goto nomem;
		l = t;
	}
	if (q->body != NULL) {
		t = curl_slist_append(l, strcmp(q->method, "POST") == 0 ?
		    "Content-Type: application/xml" :
		    "Content-Type: application/octet-stream");
		if (t == NULL)
			goto nomem;
		l = t;
	}
	*hdrs = l;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	/* Separate fields: an access key may contain ':' (tempauth's). */
	curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->stall_timeout_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, req_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, req_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, req_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, q);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (q->body != NULL) {
		/* POSTFIELDS with a custom method is what libcurl 7.88's
		 * SigV4 signs right; the buffer outlives the transfer. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)q->body_len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
	from = q->range_off + q->delivered;
	q->from = from;
	if (q->ranged || from > 0) {
		if (q->range_len > 0)
			snprintf(range, range_sz, "%" PRIu64 "-%" PRIu64, from,
			    q->range_off + q->range_len - 1);
		else
			snprintf(range, range_sz, "%" PRIu64 "-", from);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	return 0;
nomem:
	curl_slist_free_all(l);
	return -1;
}

int
s3_req_run(struct s3 *s, CURL *h, struct s3_req *q, struct lb_err *err)
{
	struct lb_buf url;
	struct curl_slist *hdrs = NULL;
	struct lb_err sink_err;
	char ebuf[CURL_ERROR_SIZE], range[64], what[400], msg[256], gave_up[48];
	CURLcode c = CURLE_OK;
	CURL *borrowed = NULL;
	int attempt, r = 0, retry;
	long st;

	lb_buf_init(&url, S3_URL_MAX);
	what_of(s, q, what, sizeof(what));
	snprintf(gave_up, sizeof(gave_up), " (gave up after %d tries)", S3_TRIES);
	if (h == NULL && (h = borrowed = handle_get(s)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (build_url(s, q->key, &q->q, &url) < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	q->h = h;
	lb_buf_free(&q->resp);
	lb_buf_init(&q->resp, q->resp_max ? q->resp_max : S3_XML_MAX);
	for (attempt = 1; attempt <= S3_TRIES; attempt++) {
		if (attempt > 1)
			backoff_sleep(attempt - 1);
		lb_buf_free(&q->errbody);
		lb_buf_init(&q->errbody, S3_ERRBODY_MAX);
		lb_buf_reset(&q->resp);
		q->etag[0] = '\0';
		q->code[0] = '\0';
		q->sink_rc = 0;
		lb_err_clear(&sink_err);
		q->sink_err = &sink_err;
		ebuf[0] = '\0';
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if (req_setup(s, q, lb_buf_str(&url), &hdrs, ebuf, range, sizeof(range)) < 0) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		q->date = 0;
		q->lock_until = 0;
		c = curl_easy_perform(h);
		if (q->date > 0) {
			pthread_mutex_lock(&s->pool_lock);
			s->clock_offset = (int64_t)q->date - (int64_t)time(NULL);
			s->have_clock = 1;
			pthread_mutex_unlock(&s->pool_lock);
		}
		st = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
		q->status = st;
		if (q->sink_rc < 0) {
			/* The destination failed: its error, never a retry. */
			if (err != NULL)
				*err = sink_err;
			r = q->sink_rc;
			goto out;
		}
		if (c == CURLE_ABORTED_BY_CALLBACK) {
			r = lb_err_set(err, LB_E_CANCELED, "s3 %s %s: canceled",
			    q->method, what);
			goto out;
		}
		if (c != CURLE_OK) {
			if (tls_error(c)) {
				r = lb_err_set(err, LB_E_TLS, "s3 %s %s: %s%s",
				    q->method, what, ebuf[0] ? ebuf :
				    curl_easy_strerror(c),
				    " (hint: check s3-ca-file)");
				goto out;
			}
			retry = retryable_curl(c);
			log_debug("s3 %s %s: try %d: %s", q->method, what,
			    attempt, ebuf[0] ? ebuf : curl_easy_strerror(c));
			if (retry && attempt < S3_TRIES)
				continue;
			r = lb_err_set(err, LB_E_NET, "s3 %s %s: %s%s", q->method,
			    what, ebuf[0] ? ebuf : curl_easy_strerror(c),
			    retry ? gave_up : "");
			goto out;
		}
		if (st >= 200 && st <= 299) {
			curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			    &q->content_length);
			r = 0;
			goto out;
		}
		q->code[0] = msg[0] = '\0';
		if (q->errbody.len > 0)
			s3_xml_parse_error(lb_buf_str(&q->errbody), q->errbody.len, q->code,
			    sizeof(q->code), msg, sizeof(msg));
		retry = (st >= 500 && st != 501) || st == 429 ||
		    strcmp(q->code, "SlowDown") == 0 ||
		    strcmp(q->code, "RequestTimeout") == 0 ||
		    strcmp(q->code, "InternalError") == 0;
		log_debug("s3 %s %s: try %d: http %ld %s", q->method, what,
		    attempt, st, q->code);
		if (retry && attempt < S3_TRIES)
			continue;
		if (strcmp(q->code, "NoSuchBucket") == 0 ||
		    (st == 404 && q->key == NULL && q->code[0] == '\0')) {
			r = lb_err_set(err, LB_E_NOTFOUND,
			    "s3 %s %s: bucket %s does not exist%s", q->method,
			    what, s->bucket, " (hint: check the repository url)");
		} else if (st == 404 && (q->code[0] == '\0' ||
		    strcmp(q->code, "NoSuchKey") == 0)) {
			r = lb_err_set(err, LB_E_NOTFOUND, "s3 %s %s: not found",
			    q->method, what);
		} else {
			r = lb_err_set(err, error_code(st, q->code),
			    "s3 %s %s: %ld %s%s%s%s%s", q->method,
			    what, st, q->code[0] ? q->code : "(no error code)",
			    msg[0] ? ": " : "", msg, hint_for(q->code),
			    retry ? gave_up : "");
		}
		goto out;
	}
out:
	if (borrowed != NULL) {
		/* Drop the pointers into this frame before the handle idles. */
		curl_easy_setopt(borrowed, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(borrowed, CURLOPT_ERRORBUFFER, NULL);
		handle_put(s, borrowed);
	}
	curl_slist_free_all(hdrs);
	lb_buf_free(&url);
	lb_buf_free(&q->errbody);
	return r;
}

void
s3_req_clear(struct s3_req *q)
{
	query_clear(&q->q);
	lb_buf_free(&q->resp);
	lb_buf_free(&q->errbody);
}

/* ---------------------------------------------------------------- client */

static int
valid_bucket(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) ||
		    b[i] == '-' || b[i] == '.' || b[i] == '_'))
			return 0;
	return 1;
}

int
s3_new(const struct s3_opts *o, struct s3 **out, struct lb_err *err)
{
	struct s3 *s;
	const char *region = o->region != NULL && *o->region ? o->region : "us-east-1";
	const char *ep = o->endpoint, *hostpart;
	char buf[1024], aws[256];
	size_t schemelen;
	int r = 0;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc < 0)
		return lb_err_set(err, LB_E_INTERNAL, "libcurl initialisation failed");
	if (o->bucket == NULL || !valid_bucket(o->bucket))
		return lb_err_set(err, LB_E_CONFIG, "invalid s3 bucket name \"%.80s\"",
		    o->bucket != NULL ? o->bucket : "");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (ep == NULL || *ep == '\0') {
		snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", region);
		ep = aws;
	}
	if (strncmp(ep, "http://", 7) == 0)
		schemelen = 7;
	else if (strncmp(ep, "https://", 8) == 0)
		schemelen = 8;
	else {
		r = lb_err_set(err, LB_E_CONFIG,
		    "s3 endpoint \"%.200s\" must start with http:// or https://", ep);
		goto out;
	}
	hostpart = ep + schemelen;
	if (*hostpart == '\0' || strchr(hostpart, '?') != NULL ||
	    strlen(ep) > 512) {
		r = lb_err_set(err, LB_E_CONFIG, "invalid s3 endpoint \"%.200s\"", ep);
		goto out;
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s%.*s", (int)schemelen, ep,
	    o->host_style ? o->bucket : "", o->host_style ? "." : "",
	    (int)(strlen(hostpart) - (hostpart[strlen(hostpart) - 1] == '/')),
	    hostpart);
	if ((s->scheme_host = strdup(buf)) == NULL)
		goto nomem;
	snprintf(buf, sizeof(buf), "%s%s", o->host_style ? "" : "/",
	    o->host_style ? "" : o->bucket);
	if ((s->path_base = strdup(buf)) == NULL ||
	    (s->bucket = strdup(o->bucket)) == NULL ||
	    (s->region = strdup(region)) == NULL)
		goto nomem;
	snprintf(buf, sizeof(buf), "s3://%s", o->bucket);
	if ((s->display = strdup(buf)) == NULL)
		goto nomem;
	snprintf(buf, sizeof(buf), "aws:amz:%s:s3", region);
	if ((s->sigv4 = strdup(buf)) == NULL)
		goto nomem;
	if (o->ca_file != NULL && (s->ca_file = strdup(o->ca_file)) == NULL)
		goto nomem;
	s->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 10;
	s->stall_timeout_s = o->stall_timeout_s > 0 ? o->stall_timeout_s : 60;
	/* 5 MiB is S3's smallest part but the last. */
	s->part_size = o->part_size >= (5u << 20) ? o->part_size : S3_PART_MIN;
	/* Test knob: small pages prove continuation without 1000s of keys. */
	s->page_keys = getenv("LIFEBOAT_S3_PAGE_KEYS") != NULL ?
	    atol(getenv("LIFEBOAT_S3_PAGE_KEYS")) : S3_PAGE_KEYS;
	if (s->page_keys < 1 || s->page_keys > S3_PAGE_KEYS)
		s->page_keys = S3_PAGE_KEYS;
	if ((r = s3_creds_resolve(s, o, err)) < 0)
		goto out;
	pthread_mutex_init(&s->pool_lock, NULL);
	s->pool_ready = 1;
	*out = s;
	s = NULL;
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	s3_free(s);
	return r;
}

void
s3_free(struct s3 *s)
{
	if (s == NULL)
		return;
	if (s->pool_ready) {
		while (s->pool_n > 0)
			curl_easy_cleanup(s->pool[--s->pool_n]);
		pthread_mutex_destroy(&s->pool_lock);
	}
	free(s->scheme_host);
	free(s->path_base);
	free(s->bucket);
	free(s->display);
	free(s->sigv4);
	free(s->region);
	free(s->ca_file);
	s3_secret_free(s->access_key);
	s3_secret_free(s->secret_key);
	s3_secret_free(s->session_token);
	free(s);
}

int
s3_clock_offset(struct s3 *s, int64_t *offset)
{
	int r;

	pthread_mutex_lock(&s->pool_lock);
	r = s->have_clock ? 0 : LB_E_NOTFOUND;
	*offset = s->clock_offset;
	pthread_mutex_unlock(&s->pool_lock);
	return r;
}

const char *
s3_bucket(const struct s3 *s)
{
	return s->display;
}
