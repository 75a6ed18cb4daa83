/*
 * s3_xml.c: the parsers of S3's XML answers (s3.h): error bodies, object
 * and multipart-upload listings, the answers to initiating and completing
 * a multipart upload.  expat does the parsing; each answer is one whole
 * bounded body, and anything not well-formed (or with a DOCTYPE) fails
 * with LB_E_PROTO.  Fuzzed by tests/fuzz/s3xml_fuzz.c.
 */
#include "repo/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <expat.h>

#define S3_XML_TEXT_MAX 4096       /* one element's text: a key is at most 1024 */
/* Items of one page: S3 sends at most 1000 (max-keys, max-uploads), but
 * a lenient server may send more, and the body is bounded anyway
 * (S3_XML_MAX in s3.c): 100000 keeps such a page readable. */
#define S3_XML_ITEMS_MAX 100000

struct xp {
	XML_Parser p;
	int depth;
	char names[8][48];
	struct lb_buf text;
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
	lb_buf_reset(&x->text);
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
	    x->names[x->depth], lb_buf_str(&x->text));
	lb_buf_reset(&x->text);
}

static void XMLCALL
xp_text(void *ud, const XML_Char *s, int len)
{
	struct xp *x = ud;

	if (lb_buf_add(&x->text, s, (size_t)len) < 0) {
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
	lb_buf_init(&x.text, S3_XML_TEXT_MAX);
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
	lb_buf_free(&x.text);
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

int
s3_iso8601_parse(const char *s, time_t *out)
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
	size_t cap;                /* items allocated in l */
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
	int in_item = strcmp(parent, "Contents") == 0 ||
	    strcmp(parent, "Upload") == 0 || strcmp(parent, "Version") == 0 ||
	    strcmp(parent, "DeleteMarker") == 0;

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
	} else if (in_item && strcmp(name, "VersionId") == 0) {
		free(c->cur.version_id);
		c->cur.version_id = xdup(text, &c->bad);
	} else if (in_item && strcmp(name, "Initiated") == 0) {
		if (s3_iso8601_parse(text, &c->cur.initiated) < 0)
			c->bad = 1;
	} else if (strcmp(name, "Contents") == 0 || strcmp(name, "Upload") == 0 ||
	    strcmp(name, "Version") == 0 || strcmp(name, "DeleteMarker") == 0) {
		c->cur.delete_marker = strcmp(name, "DeleteMarker") == 0;
		if (c->cur.key == NULL ||
		    (strcmp(name, "Upload") == 0 && c->cur.upload_id == NULL) ||
		    (name[0] == 'V' || name[0] == 'D' ? c->cur.version_id == NULL : 0) ||
		    lb_vec_grow(&l->items, &c->cap, l->n, sizeof(*l->items),
		    S3_XML_ITEMS_MAX) < 0) {
			c->bad = 1;
			return;
		}
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
	} else if (strcmp(name, "NextUploadIdMarker") == 0 ||
	    strcmp(name, "NextVersionIdMarker") == 0) {
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
		free(l->items[i].version_id);
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
	    strcmp(root, "ListMultipartUploadsResult") != 0 &&
	    strcmp(root, "ListVersionsResult") != 0)
		r = lb_err_set(err, LB_E_PROTO,
		    "unexpected s3 list response <%.40s>", root);
	else if (out->truncated && out->next_token == NULL &&
	    out->next_key_marker == NULL)
		r = lb_err_set(err, LB_E_PROTO,
		    "s3 list response is truncated without a continuation token");
	free(c.cur.key);
	free(c.cur.upload_id);
	free(c.cur.version_id);
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
