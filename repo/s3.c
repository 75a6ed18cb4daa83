/*
 * s3.c: the S3 client of s3.h.  Owns canonical URL building, the request
 * loop (SigV4 by libcurl, retries with backoff and jitter, error XML to a
 * readable message), credentials from the environment or the shared
 * credentials file, the multipart upload sink and the expat parsers of
 * S3's XML answers.  Knows nothing of repository prefixes.
 */
#include "repo/s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"

#define S3_TRIES 5
#define S3_BACKOFF_MIN_MS 100
#define S3_BACKOFF_MAX_MS 5000
#define S3_ERRBODY_MAX (16 * 1024)
#define S3_XML_MAX (16 * 1024 * 1024)  /* a list page of 1000 keys is ~350 KiB */
#define S3_XML_TEXT_MAX 4096
#define S3_XML_ITEMS_MAX 100000
#define S3_PART_GROW_EVERY 2000          /* parts per part-size step */
#define S3_MAX_PARTS 10000
#define S3_PAGE_KEYS 1000
#define S3_POOL_MAX 8                     /* idle easy handles kept */

struct s3 {
	char *scheme_host;   /* "http://127.0.0.1:9000" or "https://bucket.host" */
	char *path_base;     /* "" (host style) or "/bucket" (path style) */
	char *bucket;
	char *display;       /* "s3://bucket" */
	char *sigv4;         /* "aws:amz:REGION:s3" */
	char *region;
	char *ca_file;
	char *access_key;
	char *secret_key;
	char *session_token;
	long connect_timeout_s;
	long stall_timeout_s;
	long page_keys;
	size_t part_size;
	/* Idle easy handles (each keeps its connections), shared by the
	 * threads that run requests on this client at once. */
	pthread_mutex_t pool_lock;
	CURL *pool[S3_POOL_MAX];
	size_t pool_n;
	int pool_ready;
	/* The server's clock (its Date header) minus ours at its last
	 * answer, under pool_lock: an independent clock (s3_clock_offset). */
	int64_t clock_offset;
	int have_clock;
};

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

static void
secret_free(char *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

/* ---------------------------------------------------------------- dynbuf */

struct dbuf {
	char *p;
	size_t len, cap, max;
	int overflow;
};

static int
dbuf_add(struct dbuf *b, const void *data, size_t len)
{
	size_t cap;
	char *p;

	if (len > b->max - b->len) {
		b->overflow = 1;
		return -1;
	}
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int
dbuf_printf(struct dbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
dbuf_printf(struct dbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return dbuf_add(b, tmp, (size_t)n);
}

static void
dbuf_free(struct dbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
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
struct query {
	int n;
	struct { char *k, *v; } p[6];
};

static int
query_add(struct query *q, const char *k, const char *v)
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
query_clear(struct query *q)
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

/* Builds scheme://host/path?query into b. */
static int
build_url(const struct s3 *s, const char *key, struct query *q, struct dbuf *b)
{
	char *enc = NULL;
	int i, r = -1;

	qsort(q->p, (size_t)q->n, sizeof(q->p[0]), query_cmp);
	if (dbuf_printf(b, "%s%s/", s->scheme_host, s->path_base) < 0)
		goto out;
	if (key != NULL) {
		if ((enc = s3_uri_encode(key, 1)) == NULL ||
		    dbuf_add(b, enc, strlen(enc)) < 0)
			goto out;
	}
	for (i = 0; i < q->n; i++) {
		if (dbuf_add(b, i == 0 ? "?" : "&", 1) < 0 ||
		    dbuf_add(b, q->p[i].k, strlen(q->p[i].k)) < 0 ||
		    dbuf_add(b, "=", 1) < 0 ||
		    dbuf_add(b, q->p[i].v, strlen(q->p[i].v)) < 0)
			goto out;
	}
	r = 0;
out:
	free(enc);
	return r;
}

static void
hex_encode(const uint8_t *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const void *buf, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	hex_encode(md, 32, out);
}

static void
md5_b64(const void *buf, size_t len, char out[32])
{
	uint8_t md[16];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 16);
}

/* ---------------------------------------------------------------- XML */

struct xp {
	XML_Parser p;
	int depth;
	char names[8][48];
	struct dbuf text;
	int bad;
	void (*end)(struct xp *x, const char *parent, const char *name,
	    const char *text);
	void *arg;
};

static const char *
local_name(const char *n)
{
	const char *c = strrchr(n, ':');

	return c != NULL ? c + 1 : n;
}

static void XMLCALL
xp_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xp *x = ud;

	(void)attrs;
	if (x->depth >= 8) {
		x->bad = 1;
		XML_StopParser(x->p, XML_FALSE);
		return;
	}
	snprintf(x->names[x->depth], sizeof(x->names[0]), "%s", local_name(name));
	x->depth++;
	x->text.len = 0;
	if (x->text.p != NULL)
		x->text.p[0] = '\0';
}

static void XMLCALL
xp_end(void *ud, const XML_Char *name)
{
	struct xp *x = ud;

	(void)name;
	if (x->depth <= 0)
		return;
	x->depth--;
	x->end(x, x->depth > 0 ? x->names[x->depth - 1] : "",
	    x->names[x->depth], x->text.p != NULL ? x->text.p : "");
	x->text.len = 0;
	if (x->text.p != NULL)
		x->text.p[0] = '\0';
}

static void XMLCALL
xp_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;

	if (dbuf_add(&x->text, s, (size_t)len) < 0) {
		x->bad = 1;
		XML_StopParser(x->p, XML_FALSE);
	}
}

/* A DOCTYPE has no business in an S3 answer; refusing it also keeps
 * entity tricks out. */
static void XMLCALL
xp_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	struct xp *x = ud;

	(void)name; (void)sysid; (void)pubid; (void)has_internal;
	x->bad = 1;
	XML_StopParser(x->p, XML_FALSE);
}

/* Parses xml, calling end() at every element end; 0 or -1. */
static int
xp_run(const char *xml, size_t len,
    void (*end)(struct xp *, const char *, const char *, const char *),
    void *arg, char *root, size_t root_sz)
{
	struct xp x;
	int r = -1;

	memset(&x, 0, sizeof(x));
	x.text.max = S3_XML_TEXT_MAX;
	x.end = end;
	x.arg = arg;
	if (len > INT32_MAX || (x.p = XML_ParserCreate(NULL)) == NULL)
		return -1;
	XML_SetUserData(x.p, &x);
	XML_SetElementHandler(x.p, xp_start, xp_end);
	XML_SetCharacterDataHandler(x.p, xp_text);
	XML_SetStartDoctypeDeclHandler(x.p, xp_doctype);
	if (XML_Parse(x.p, xml, (int)len, XML_TRUE) == XML_STATUS_OK && !x.bad)
		r = 0;
	if (root != NULL)
		snprintf(root, root_sz, "%s", x.names[0]);
	XML_ParserFree(x.p);
	dbuf_free(&x.text);
	return r;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
parse_iso8601(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 0;
}

struct list_ctx {
	struct s3_xml_list *l;
	struct s3_xml_item cur;
	int bad;
};

static char *
xdup(const char *s, int *bad)
{
	char *p = strdup(s);

	if (p == NULL)
		*bad = 1;
	return p;
}

static void
list_end(struct xp *x, const char *parent, const char *name, const char *text)
{
	struct list_ctx *c = x->arg;
	struct s3_xml_list *l = c->l;
	struct s3_xml_item *items;
	int in_item = strcmp(parent, "Contents") == 0 ||
	    strcmp(parent, "Upload") == 0;

	if (c->bad)
		return;
	if (in_item && strcmp(name, "Key") == 0) {
		free(c->cur.key);
		c->cur.key = xdup(text, &c->bad);
	} else if (in_item && strcmp(name, "Size") == 0) {
		if (parse_u64(text, &c->cur.size) < 0)
			c->bad = 1;
	} else if (in_item && strcmp(name, "UploadId") == 0) {
		free(c->cur.upload_id);
		c->cur.upload_id = xdup(text, &c->bad);
	} else if (in_item && strcmp(name, "Initiated") == 0) {
		if (parse_iso8601(text, &c->cur.initiated) < 0)
			c->bad = 1;
	} else if (strcmp(name, "Contents") == 0 || strcmp(name, "Upload") == 0) {
		if (c->cur.key == NULL || l->n >= S3_XML_ITEMS_MAX ||
		    (strcmp(name, "Upload") == 0 && c->cur.upload_id == NULL)) {
			c->bad = 1;
			return;
		}
		if ((items = realloc(l->items, (l->n + 1) * sizeof(*items))) == NULL) {
			c->bad = 1;
			return;
		}
		l->items = items;
		l->items[l->n++] = c->cur;
		memset(&c->cur, 0, sizeof(c->cur));
	} else if (strcmp(name, "IsTruncated") == 0) {
		l->truncated = strcmp(text, "true") == 0;
	} else if (strcmp(name, "NextContinuationToken") == 0) {
		free(l->next_token);
		l->next_token = xdup(text, &c->bad);
	} else if (strcmp(name, "NextKeyMarker") == 0) {
		free(l->next_key_marker);
		l->next_key_marker = xdup(text, &c->bad);
	} else if (strcmp(name, "NextUploadIdMarker") == 0) {
		free(l->next_upload_marker);
		l->next_upload_marker = xdup(text, &c->bad);
	}
}

void
s3_xml_list_clear(struct s3_xml_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].upload_id);
	}
	free(l->items);
	free(l->next_token);
	free(l->next_key_marker);
	free(l->next_upload_marker);
	memset(l, 0, sizeof(*l));
}

int
s3_xml_parse_list(const char *xml, size_t len, struct s3_xml_list *out,
    struct lb_err *err)
{
	struct list_ctx c;
	char root[48] = "";
	int r = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.l = out;
	if (xp_run(xml, len, list_end, &c, root, sizeof(root)) < 0 || c.bad)
		r = lb_err_set(err, LB_E_PROTO, "malformed s3 list response");
	else if (strcmp(root, "ListBucketResult") != 0 &&
	    strcmp(root, "ListMultipartUploadsResult") != 0)
		r = lb_err_set(err, LB_E_PROTO,
		    "unexpected s3 list response <%.40s>", root);
	else if (out->truncated && out->next_token == NULL &&
	    out->next_key_marker == NULL)
		r = lb_err_set(err, LB_E_PROTO,
		    "s3 list response is truncated without a continuation token");
	free(c.cur.key);
	free(c.cur.upload_id);
	if (r < 0)
		s3_xml_list_clear(out);
	return r;
}

struct kv_ctx {
	const char *want[2];
	char *dst[2];
	size_t dst_sz[2];
	int found[2];
};

static void
kv_end(struct xp *x, const char *parent, const char *name, const char *text)
{
	struct kv_ctx *c = x->arg;
	int i;

	/* Only direct children of the root count (depth 1 parent). */
	if (x->depth != 1)
		return;
	(void)parent;
	for (i = 0; i < 2; i++) {
		if (c->want[i] != NULL && strcmp(name, c->want[i]) == 0) {
			snprintf(c->dst[i], c->dst_sz[i], "%s", text);
			c->found[i] = 1;
		}
	}
}

int
s3_xml_parse_error(const char *xml, size_t len, char *code, size_t code_sz,
    char *msg, size_t msg_sz)
{
	struct kv_ctx c;
	char root[48] = "";
	size_t i;

	memset(&c, 0, sizeof(c));
	c.want[0] = "Code";
	c.want[1] = "Message";
	c.dst[0] = code;
	c.dst_sz[0] = code_sz;
	c.dst[1] = msg;
	c.dst_sz[1] = msg_sz;
	code[0] = '\0';
	msg[0] = '\0';
	if (xp_run(xml, len, kv_end, &c, root, sizeof(root)) < 0 ||
	    strcmp(root, "Error") != 0 || !c.found[0]) {
		code[0] = '\0';
		msg[0] = '\0';
		return LB_E_PROTO;
	}
	/* Keep messages on one line and printable. */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20)
			msg[i] = ' ';
	for (i = 0; code[i] != '\0'; i++)
		if (!isalnum((unsigned char)code[i]))
			code[i] = '?';
	return 0;
}

int
s3_xml_parse_upload_id(const char *xml, size_t len, char **upload_id,
    struct lb_err *err)
{
	struct kv_ctx c;
	char root[48] = "", id[1024];

	*upload_id = NULL;
	memset(&c, 0, sizeof(c));
	c.want[0] = "UploadId";
	c.dst[0] = id;
	c.dst_sz[0] = sizeof(id);
	if (xp_run(xml, len, kv_end, &c, root, sizeof(root)) < 0 ||
	    strcmp(root, "InitiateMultipartUploadResult") != 0 || !c.found[0] ||
	    id[0] == '\0')
		return lb_err_set(err, LB_E_PROTO,
		    "malformed s3 initiate-multipart-upload response");
	if ((*upload_id = strdup(id)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}

int
s3_xml_parse_complete(const char *xml, size_t len, struct lb_err *err)
{
	struct kv_ctx c;
	char root[48] = "", code[64], msg[256];

	memset(&c, 0, sizeof(c));
	c.want[0] = "Code";
	c.dst[0] = code;
	c.dst_sz[0] = sizeof(code);
	c.want[1] = "Message";
	c.dst[1] = msg;
	c.dst_sz[1] = sizeof(msg);
	code[0] = msg[0] = '\0';
	if (xp_run(xml, len, kv_end, &c, root, sizeof(root)) < 0)
		return lb_err_set(err, LB_E_PROTO,
		    "malformed s3 complete-multipart-upload response");
	if (strcmp(root, "Error") == 0) {
		s3_xml_parse_error(xml, len, code, sizeof(code), msg, sizeof(msg));
		return lb_err_set(err, LB_E_REMOTE,
		    "complete multipart upload failed: %s: %s", code, msg);
	}
	if (strcmp(root, "CompleteMultipartUploadResult") != 0)
		return lb_err_set(err, LB_E_PROTO,
		    "unexpected s3 complete-multipart-upload response <%.40s>", root);
	return 0;
}

/* ---------------------------------------------------------------- requests */

struct req {
	const char *method;
	const char *key;            /* NULL: the bucket itself */
	struct query q;
	const void *body;
	size_t body_len;
	const char *content_md5;    /* base64 or NULL */
	uint64_t range_off, range_len;
	int ranged;
	struct flt *dest;           /* GET: stream here; else collect in resp */
	size_t resp_max;
	volatile int *cancel;       /* non-zero: abort the transfer */
	/* results */
	long status;
	struct dbuf resp;
	char etag[128];
	time_t date;                /* the answer's Date header, 0: none */
	uint64_t delivered;         /* bytes handed to dest over all tries */
	uint64_t from;              /* first byte asked for in this try */
	curl_off_t content_length;
	/* per try */
	CURL *h;
	int sink_rc;
	struct lb_err *sink_err;
	struct dbuf errbody;
};

static size_t
req_write(char *data, size_t sz, size_t nm, void *ud)
{
	struct req *q = ud;
	size_t n = sz * nm;
	long code = 0;

	curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		/* Keep the start of an error body; drop the rest. */
		if (q->errbody.len < q->errbody.max)
			dbuf_add(&q->errbody, data,
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
	if (dbuf_add(&q->resp, data, n) < 0) {
		q->sink_rc = lb_err_set(q->sink_err, LB_E_PROTO,
		    "s3 response larger than %zu bytes", q->resp.max);
		return 0;
	}
	return n;
}

static size_t
req_header(char *data, size_t sz, size_t nm, void *ud)
{
	struct req *q = ud;
	size_t n = sz * nm, len;
	const char *v;

	if (n > 5 && n < 128 && strncasecmp(data, "date:", 5) == 0) {
		char d[128];

		memcpy(d, data + 5, n - 5);
		d[n - 5] = '\0';
		if ((q->date = curl_getdate(d, NULL)) < 0)
			q->date = 0;
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
	struct req *q = ud;

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

/* "bucket/key" or "bucket" for messages. */
static void
what_of(const struct s3 *s, const struct req *q, char *buf, size_t sz)
{
	if (q->key != NULL)
		snprintf(buf, sz, "%s/%.300s", s->bucket, q->key);
	else
		snprintf(buf, sz, "%s", s->bucket);
}

static int
req_setup(struct s3 *s, struct req *q, const char *url,
    struct curl_slist **hdrs, char *ebuf, char *range, size_t range_sz)
{
	char line[1200], sha[65];
	CURL *h = q->h;
	struct curl_slist *l = NULL, *t;
	uint64_t from;

	curl_easy_reset(h);
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

/* Runs one request with retries.  On an S3 error fills err with
 * "s3 METHOD bucket/key: STATUS Code: message (hint)". */
static int
req_run(struct s3 *s, CURL *h, struct req *q, struct lb_err *err)
{
	struct dbuf url = { .max = 64 * 1024 };
	struct curl_slist *hdrs = NULL;
	struct lb_err sink_err;
	char ebuf[CURL_ERROR_SIZE], range[64], what[400], code[64], msg[256];
	CURLcode c = CURLE_OK;
	CURL *borrowed = NULL;
	int attempt, r = 0, retry;
	long st;

	what_of(s, q, what, sizeof(what));
	if (h == NULL && (h = borrowed = handle_get(s)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (build_url(s, q->key, &q->q, &url) < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	q->h = h;
	q->resp.max = q->resp_max ? q->resp_max : S3_XML_MAX;
	for (attempt = 1; attempt <= S3_TRIES; attempt++) {
		if (attempt > 1)
			backoff_sleep(attempt - 1);
		dbuf_free(&q->errbody);
		q->errbody.max = S3_ERRBODY_MAX;
		q->resp.len = 0;
		q->etag[0] = '\0';
		q->sink_rc = 0;
		lb_err_clear(&sink_err);
		q->sink_err = &sink_err;
		ebuf[0] = '\0';
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if (req_setup(s, q, url.p, &hdrs, ebuf, range, sizeof(range)) < 0) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		q->date = 0;
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
			    retry ? " (gave up after 5 tries)" : "");
			goto out;
		}
		if (st >= 200 && st <= 299) {
			curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			    &q->content_length);
			r = 0;
			goto out;
		}
		code[0] = msg[0] = '\0';
		if (q->errbody.len > 0)
			s3_xml_parse_error(q->errbody.p, q->errbody.len, code,
			    sizeof(code), msg, sizeof(msg));
		retry = (st >= 500 && st != 501) || st == 429 ||
		    strcmp(code, "SlowDown") == 0 ||
		    strcmp(code, "RequestTimeout") == 0 ||
		    strcmp(code, "InternalError") == 0;
		log_debug("s3 %s %s: try %d: http %ld %s", q->method, what,
		    attempt, st, code);
		if (retry && attempt < S3_TRIES)
			continue;
		if (strcmp(code, "NoSuchBucket") == 0 ||
		    (st == 404 && q->key == NULL && code[0] == '\0')) {
			r = lb_err_set(err, LB_E_NOTFOUND,
			    "s3 %s %s: bucket %s does not exist%s", q->method,
			    what, s->bucket, " (hint: check the repository url)");
		} else if (st == 404 && (code[0] == '\0' ||
		    strcmp(code, "NoSuchKey") == 0)) {
			r = lb_err_set(err, LB_E_NOTFOUND, "s3 %s %s: not found",
			    q->method, what);
		} else {
			r = lb_err_set(err, st == 401 || st == 403 ? LB_E_AUTH :
			    LB_E_REMOTE, "s3 %s %s: %ld %s%s%s%s%s", q->method,
			    what, st, code[0] ? code : "(no error code)",
			    msg[0] ? ": " : "", msg, hint_for(code),
			    retry ? " (gave up after 5 tries)" : "");
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
	dbuf_free(&url);
	dbuf_free(&q->errbody);
	return r;
}

static void
req_clear(struct req *q)
{
	query_clear(&q->q);
	dbuf_free(&q->resp);
	dbuf_free(&q->errbody);
}

/* ---------------------------------------------------------------- client */

/* Reads key = value pairs of one [profile] from an AWS credentials file. */
static int
creds_from_file(struct s3 *s, struct lb_err *err)
{
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	char def[4096], line[2048], want[256], *k, *v, *e, **dst;
	int in = 0, r = 0;
	FILE *f;

	if (profile == NULL || *profile == '\0')
		profile = "default";
	if (path == NULL || *path == '\0') {
		if (getenv("HOME") == NULL)
			return lb_err_set(err, LB_E_CONFIG,
			    "no s3 credentials: set s3-access-key-id and s3-secret-access-key");
		snprintf(def, sizeof(def), "%s/.aws/credentials", getenv("HOME"));
		path = def;
	}
	if ((f = fopen(path, "re")) == NULL)
		return lb_err_sys(err, LB_E_CONFIG, errno,
		    "no s3 credentials: set s3-access-key-id and s3-secret-access-key, or AWS_ACCESS_KEY_ID; cannot read %s", path);
	snprintf(want, sizeof(want), "[%s]", profile);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		for (k = line; isspace((unsigned char)*k); k++)
			;
		if (*k == '[') {
			e = k + strlen(k);
			while (e > k && isspace((unsigned char)e[-1]))
				*--e = '\0';
			in = strcmp(k, want) == 0;
			continue;
		}
		if (!in || *k == '#' || *k == ';' || (v = strchr(k, '=')) == NULL)
			continue;
		for (e = v; e > k && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		for (v++; isspace((unsigned char)*v); v++)
			;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		dst = strcmp(k, "aws_access_key_id") == 0 ? &s->access_key :
		    strcmp(k, "aws_secret_access_key") == 0 ? &s->secret_key :
		    strcmp(k, "aws_session_token") == 0 ? &s->session_token : NULL;
		if (dst != NULL) {
			secret_free(*dst);
			if ((*dst = strdup(v)) == NULL)
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (r == 0 && (s->access_key == NULL || s->secret_key == NULL))
		r = lb_err_set(err, LB_E_CONFIG,
		    "no s3 credentials for profile %s in %s", profile, path);
	return r;
}

static int
resolve_creds(struct s3 *s, const struct s3_opts *o, struct lb_err *err)
{
	const char *ak = o->access_key, *sk = o->secret_key, *tok = o->session_token;

	if (ak == NULL && sk == NULL) {
		ak = getenv("AWS_ACCESS_KEY_ID");
		sk = getenv("AWS_SECRET_ACCESS_KEY");
		tok = getenv("AWS_SESSION_TOKEN");
		if (ak == NULL || sk == NULL)
			return creds_from_file(s, err);
	}
	if (ak == NULL || sk == NULL)
		return lb_err_set(err, LB_E_CONFIG,
		    "s3 credentials need both an access key id and a secret access key");
	if ((s->access_key = strdup(ak)) == NULL ||
	    (s->secret_key = strdup(sk)) == NULL ||
	    (tok != NULL && *tok != '\0' && (s->session_token = strdup(tok)) == NULL))
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}

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
	if ((r = resolve_creds(s, o, err)) < 0)
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
	secret_free(s->access_key);
	secret_free(s->secret_key);
	secret_free(s->session_token);
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

int
s3_check_bucket(struct s3 *s, struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	if (query_add(&q.q, "list-type", "2") < 0 ||
	    query_add(&q.q, "max-keys", "1") < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	r = req_run(s, NULL, &q, err);
out:
	req_clear(&q);
	return r;
}

int
s3_put_object(struct s3 *s, const char *key, const void *buf, size_t len,
    struct lb_err *err)
{
	struct req q;
	char md5[32];
	int r;

	memset(&q, 0, sizeof(q));
	md5_b64(buf, len, md5);
	q.method = "PUT";
	q.key = key;
	q.body = len > 0 ? buf : "";
	q.body_len = len;
	q.content_md5 = md5;
	r = req_run(s, NULL, &q, err);
	req_clear(&q);
	return r;
}

int
s3_get_object(struct s3 *s, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.key = key;
	q.dest = dest;
	q.range_off = offset;
	q.range_len = length;
	q.ranged = offset > 0 || length > 0;
	r = req_run(s, NULL, &q, err);
	req_clear(&q);
	return r;
}

int
s3_head_object(struct s3 *s, const char *key, uint64_t *size, struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "HEAD";
	q.key = key;
	if ((r = req_run(s, NULL, &q, err)) == 0 && size != NULL)
		*size = q.content_length >= 0 ? (uint64_t)q.content_length : 0;
	req_clear(&q);
	return r;
}

int
s3_delete_object(struct s3 *s, const char *key, struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.key = key;
	r = req_run(s, NULL, &q, err);
	req_clear(&q);
	return r;
}

/* One page of a listing: runs q (its query built) and parses the answer
 * into l; what names the listing in errors. */
static int
list_page(struct s3 *s, struct req *q, const char *what, const char *prefix,
    struct s3_xml_list *l, struct lb_err *err)
{
	int r;

	if ((r = req_run(s, NULL, q, err)) < 0)
		return r;
	if ((r = s3_xml_parse_list(q->resp.p ? q->resp.p : "", q->resp.len, l, err)) < 0)
		return lb_err_prefix(err, "s3 %s %s/%s: ", what, s->bucket, prefix);
	req_clear(q);
	return 0;
}

int
s3_list(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err)
{
	struct s3_xml_list l;
	char *token = NULL, *last = NULL, mk[24];
	struct req q;
	size_t i;
	int r = 0;

	memset(&l, 0, sizeof(l));
	snprintf(mk, sizeof(mk), "%ld", s->page_keys);
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.method = "GET";
		if (query_add(&q.q, "list-type", "2") < 0 ||
		    query_add(&q.q, "max-keys", mk) < 0 ||
		    query_add(&q.q, "prefix", prefix) < 0 ||
		    (token != NULL &&
		    query_add(&q.q, "continuation-token", token) < 0)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			break;
		}
		if ((r = list_page(s, &q, "list", prefix, &l, err)) < 0)
			break;
		/* A server that answers a page again (the same token, or keys
		 * that do not move forward) would list for ever: every page must
		 * start after the last key of the one before. */
		if (l.n > 0 && last != NULL && strcmp(l.items[0].key, last) <= 0) {
			r = lb_err_set(err, LB_E_PROTO, "s3 list %s/%s: the server listed key "
			    "'%.200s' again or out of order after '%.200s' (a listing that "
			    "would never end): stopped", s->bucket, prefix, l.items[0].key, last);
			break;
		}
		for (i = 0; i < l.n; i++)
			if ((r = cb(arg, l.items[i].key, l.items[i].size)) < 0)
				goto out;
		if (!l.truncated)
			break;
		if (token != NULL && l.next_token != NULL && strcmp(token, l.next_token) == 0) {
			r = lb_err_set(err, LB_E_PROTO, "s3 list %s/%s: the server repeated "
			    "continuation token '%.64s' (a listing that would never end): "
			    "stopped", s->bucket, prefix, token);
			break;
		}
		if (l.n > 0) {
			free(last);
			if ((last = strdup(l.items[l.n - 1].key)) == NULL) {
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
				break;
			}
		}
		free(token);
		token = l.next_token;
		l.next_token = NULL;
		s3_xml_list_clear(&l);
	}
out:
	req_clear(&q);
	s3_xml_list_clear(&l);
	free(token);
	free(last);
	return r;
}

int
s3_list_uploads(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const char *key, const char *upload_id,
    time_t initiated), void *arg, struct lb_err *err)
{
	struct s3_xml_list l;
	char *km = NULL, *um = NULL;
	struct req q;
	size_t i;
	int r = 0;

	memset(&l, 0, sizeof(l));
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.method = "GET";
		if (query_add(&q.q, "uploads", "") < 0 ||
		    query_add(&q.q, "prefix", prefix) < 0 ||
		    (km != NULL && query_add(&q.q, "key-marker", km) < 0) ||
		    (um != NULL && query_add(&q.q, "upload-id-marker", um) < 0)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			break;
		}
		if ((r = list_page(s, &q, "list uploads", prefix, &l, err)) < 0)
			break;
		for (i = 0; i < l.n; i++)
			if ((r = cb(arg, l.items[i].key, l.items[i].upload_id,
			    l.items[i].initiated)) < 0)
				goto out;
		if (!l.truncated || l.next_key_marker == NULL)
			break;
		/* The same markers again would list for ever. */
		if (km != NULL && strcmp(km, l.next_key_marker) == 0 &&
		    (um == NULL) == (l.next_upload_marker == NULL) &&
		    (um == NULL || strcmp(um, l.next_upload_marker) == 0)) {
			r = lb_err_set(err, LB_E_PROTO, "s3 list uploads %s/%s: the server "
			    "repeated its markers ('%.200s') (a listing that would never end): "
			    "stopped", s->bucket, prefix, km);
			break;
		}
		free(km);
		free(um);
		km = l.next_key_marker;
		um = l.next_upload_marker;
		l.next_key_marker = l.next_upload_marker = NULL;
		s3_xml_list_clear(&l);
	}
out:
	req_clear(&q);
	s3_xml_list_clear(&l);
	free(km);
	free(um);
	return r;
}

static int
abort_with(struct s3 *s, CURL *h, const char *key, const char *upload_id,
    struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.key = key;
	if (query_add(&q.q, "uploadId", upload_id) < 0)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	else
		r = req_run(s, h, &q, err);
	req_clear(&q);
	return r;
}

int
s3_abort_upload(struct s3 *s, const char *key, const char *upload_id,
    struct lb_err *err)
{
	return abort_with(s, NULL, key, upload_id, err);
}

/* ---------------------------------------------------------------- upload */

struct slot {
	struct upload *u;
	CURL *h;
	pthread_t th;
	int running;
	uint8_t *buf;
	size_t cap, len;
	unsigned int part;
	char etag[128];
	int rc;
	struct lb_err err;
};

struct upload {
	struct flt base;
	struct s3 *s;
	char *key;
	char *upload_id;
	uint64_t size_hint;
	size_t base_part;
	unsigned int parts;        /* parts handed to a thread so far */
	struct slot slots[S3_PART_SLOTS];
	int cur;                   /* the slot being filled */
	char (*etags)[128];
	size_t etags_cap;
	int rc;                    /* sticky first failure */
	struct lb_err err;
	volatile int cancel;
	int committed;
};

static void *
part_thread(void *arg)
{
	struct slot *sl = arg;
	struct upload *u = sl->u;
	struct req q;
	char md5[32], pn[16];

	memset(&q, 0, sizeof(q));
	md5_b64(sl->buf, sl->len, md5);
	snprintf(pn, sizeof(pn), "%u", sl->part);
	q.method = "PUT";
	q.key = u->key;
	q.body = sl->buf;
	q.body_len = sl->len;
	q.content_md5 = md5;
	q.cancel = &u->cancel;
	lb_err_clear(&sl->err);
	if (query_add(&q.q, "partNumber", pn) < 0 ||
	    query_add(&q.q, "uploadId", u->upload_id) < 0)
		sl->rc = lb_err_set(&sl->err, LB_E_NOMEM, "out of memory");
	else
		sl->rc = req_run(u->s, sl->h, &q, &sl->err);
	if (sl->rc == 0 && q.etag[0] == '\0')
		sl->rc = lb_err_set(&sl->err, LB_E_PROTO,
		    "s3 PUT %s/%s part %u: no ETag in the answer", u->s->bucket,
		    u->key, sl->part);
	snprintf(sl->etag, sizeof(sl->etag), "%s", q.etag);
	req_clear(&q);
	return NULL;
}

/* Waits for the slot's part, recording its ETag or its failure. */
static void
slot_join(struct upload *u, struct slot *sl)
{
	if (!sl->running)
		return;
	pthread_join(sl->th, NULL);
	sl->running = 0;
	if (sl->rc < 0) {
		if (u->rc == 0) {
			u->rc = sl->rc;
			u->err = sl->err;
		}
	} else {
		memcpy(u->etags[sl->part - 1], sl->etag, sizeof(sl->etag));
	}
	sl->len = 0;
}

/* Part size for part number n: a size hint picks one that fits in 9000
 * parts; without one, it grows every S3_PART_GROW_EVERY parts so that
 * 10,000 parts hold far more than etcd's 8 GiB. */
static size_t
part_size_for(const struct upload *u, unsigned int n)
{
	return u->base_part * (1 + (n - 1) / S3_PART_GROW_EVERY);
}

static int
upload_initiate(struct upload *u, struct lb_err *err)
{
	struct req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.key = u->key;
	q.body = "";
	q.body_len = 0;
	if (query_add(&q.q, "uploads", "") < 0)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	else if ((r = req_run(u->s, NULL, &q, err)) == 0 &&
	    (r = s3_xml_parse_upload_id(q.resp.p ? q.resp.p : "", q.resp.len,
	    &u->upload_id, err)) < 0)
		lb_err_prefix(err, "s3 POST %s/%s: ", u->s->bucket, u->key);
	req_clear(&q);
	return r;
}

/* Makes a failure sticky: later writes and finish report it again. */
static int
upload_fail(struct upload *u, int r, const struct lb_err *err)
{
	if (u->rc == 0) {
		u->rc = r;
		if (err != NULL)
			u->err = *err;
	}
	return r;
}

/* Hands the current slot to a thread and moves to the next slot. */
static int
upload_dispatch(struct upload *u, struct lb_err *err)
{
	struct slot *sl = &u->slots[u->cur];
	size_t i;
	void *p;
	int r;

	if (u->upload_id == NULL && (r = upload_initiate(u, err)) < 0)
		return upload_fail(u, r, err);
	if (u->parts >= S3_MAX_PARTS)
		return lb_err_set(err, LB_E_INTERNAL, "s3 upload of %s exceeds %d parts",
		    u->key, S3_MAX_PARTS);
	if (u->parts >= u->etags_cap) {
		i = u->etags_cap ? u->etags_cap * 2 : 64;
		if ((p = realloc(u->etags, i * sizeof(*u->etags))) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		u->etags = p;
		u->etags_cap = i;
	}
	if (sl->h == NULL && (sl->h = curl_easy_init()) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	sl->part = ++u->parts;
	sl->u = u;
	if (pthread_create(&sl->th, NULL, part_thread, sl) != 0)
		return lb_err_set(err, LB_E_INTERNAL, "cannot start an upload thread");
	sl->running = 1;
	u->cur = (u->cur + 1) % S3_PART_SLOTS;
	/* Bounded memory: wait for the oldest part before reusing its slot. */
	slot_join(u, &u->slots[u->cur]);
	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	return 0;
}

static int
upload_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct upload *u = (struct upload *)f;
	const uint8_t *p = buf;
	struct slot *sl;
	size_t want, take;
	void *nb;
	int r;

	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	while (len > 0) {
		sl = &u->slots[u->cur];
		want = part_size_for(u, u->parts + 1);
		if (sl->cap != want) {
			if ((nb = realloc(sl->buf, want)) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			sl->buf = nb;
			sl->cap = want;
		}
		take = want - sl->len < len ? want - sl->len : len;
		memcpy(sl->buf + sl->len, p, take);
		sl->len += take;
		p += take;
		len -= take;
		if (sl->len == want && (r = upload_dispatch(u, err)) < 0)
			return r;
	}
	return 0;
}

static int
upload_complete(struct upload *u, struct lb_err *err)
{
	struct dbuf body = { .max = 2 * 1024 * 1024 };
	struct req q;
	unsigned int i;
	const char *c;
	int r = 0;

	memset(&q, 0, sizeof(q));
	if (dbuf_printf(&body, "<CompleteMultipartUpload>") < 0)
		goto nomem;
	for (i = 0; i < u->parts; i++) {
		if (dbuf_printf(&body, "<Part><PartNumber>%u</PartNumber><ETag>",
		    i + 1) < 0)
			goto nomem;
		for (c = u->etags[i]; *c; c++)
			if ((*c == '&' ? dbuf_add(&body, "&amp;", 5) :
			    *c == '<' ? dbuf_add(&body, "&lt;", 4) :
			    dbuf_add(&body, c, 1)) < 0)
				goto nomem;
		if (dbuf_printf(&body, "</ETag></Part>") < 0)
			goto nomem;
	}
	if (dbuf_printf(&body, "</CompleteMultipartUpload>") < 0)
		goto nomem;
	q.method = "POST";
	q.key = u->key;
	q.body = body.p;
	q.body_len = body.len;
	if (query_add(&q.q, "uploadId", u->upload_id) < 0)
		goto nomem;
	if ((r = req_run(u->s, NULL, &q, err)) == 0 &&
	    (r = s3_xml_parse_complete(q.resp.p ? q.resp.p : "", q.resp.len,
	    err)) < 0)
		lb_err_prefix(err, "s3 POST %s/%s: ", u->s->bucket, u->key);
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	req_clear(&q);
	dbuf_free(&body);
	return r;
}

static int
upload_finish(struct flt *f, struct lb_err *err)
{
	struct upload *u = (struct upload *)f;
	struct slot *sl = &u->slots[u->cur];
	int i, r;

	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	if (u->parts == 0) {
		/* Small object: one PUT, no multipart state to clean up. */
		if ((r = s3_put_object(u->s, u->key, sl->buf != NULL ? sl->buf :
		    (const uint8_t *)"", sl->len, err)) < 0)
			return r;
		u->committed = 1;
		return 0;
	}
	if (sl->len > 0 && (r = upload_dispatch(u, err)) < 0)
		return r;
	for (i = 0; i < S3_PART_SLOTS; i++)
		slot_join(u, &u->slots[i]);
	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	if ((r = upload_complete(u, err)) < 0)
		return upload_fail(u, r, err);
	u->committed = 1;
	return 0;
}

static void
upload_free(struct flt *f)
{
	struct upload *u = (struct upload *)f;
	struct lb_err e;
	int i;

	u->cancel = 1;
	for (i = 0; i < S3_PART_SLOTS; i++)
		slot_join(u, &u->slots[i]);
	if (u->upload_id != NULL && !u->committed) {
		lb_err_clear(&e);
		if (abort_with(u->s, NULL, u->key, u->upload_id, &e) < 0)
			log_warn("abort of s3 multipart upload %s failed: %s "
			    "(cleanup-orphans removes it later)", u->key, e.msg);
	}
	for (i = 0; i < S3_PART_SLOTS; i++) {
		if (u->slots[i].h != NULL)
			curl_easy_cleanup(u->slots[i].h);
		free(u->slots[i].buf);
	}
	free(u->etags);
	free(u->upload_id);
	free(u->key);
	free(u);
}

static const struct flt_ops upload_ops = {
	"s3", upload_write, upload_finish, upload_free
};

int
s3_upload_new(struct s3 *s, const char *key, uint64_t size_hint,
    struct flt **out, struct lb_err *err)
{
	struct upload *u;
	uint64_t want;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->key = strdup(key)) == NULL) {
		free(u);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	u->base.ops = &upload_ops;
	u->s = s;
	u->size_hint = size_hint;
	u->base_part = s->part_size;
	want = size_hint / 9000 + 1;
	if (want > u->base_part) {
		/* Whole MiB, so parts are easy to read in server logs. */
		want = (want + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
		u->base_part = (size_t)want;
	}
	*out = &u->base;
	return 0;
}
