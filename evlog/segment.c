/*
 * segment.c: segment objects on a repository (segment.h): keys, the JSON
 * manifest (jansson), the write chain writer -> zstd -> age -> sha256 ->
 * memory and the read chain sha256 -> age -> zstd -d -> parser.
 */
#include "evlog/segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "common/clock.h"
#include "common/fmt.h"
#include "repo/manifest.h"
#include "stream/zstd_filter.h"

#define META_STR_MAX 4096
#define META_RECIPIENTS_MAX 64

/* keys and times */

/* "2026-12-01T10:08:31.123Z" (out holds 32); -1 for a time gmtime
 * cannot take. */
static int
fmt_ms(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return -1;
	if (strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return -1;
	snprintf(out + 19, 13, ".%03dZ", (int)(ms % 1000));
	return 0;
}

/* The exact form fmt_ms writes, nothing else. */
static int
parse_ms(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	int frac;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 24 || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    end != s + 19 || end[0] != '.' || end[1] < '0' || end[1] > '9' ||
	    end[2] < '0' || end[2] > '9' || end[3] < '0' || end[3] > '9' || end[4] != 'Z')
		return -1;
	frac = (end[1] - '0') * 100 + (end[2] - '0') * 10 + (end[3] - '0');
	*out = (int64_t)timegm(&tm) * 1000 + frac;
	return *out < 0 ? -1 : 0;
}

int
evl_keys(const char *cluster, int64_t first_rev, int64_t last_rev,
    int64_t first_time_ms, struct evl_keys *k, struct lb_err *err)
{
	char stem[EVL_KEY_MAX];
	time_t t = (time_t)(first_time_ms / 1000);
	struct tm tm;
	int n;

	if (!manifest_name_ok(cluster, EVL_CLUSTER_MAX))
		return lb_err_set(err, LB_E_USAGE, "evlog: cluster name '%.64s' is not "
		    "usable in object keys", cluster != NULL ? cluster : "");
	if (first_rev < 1 || last_rev < first_rev - 1)
		return lb_err_set(err, LB_E_USAGE, "evlog: revisions %lld-%lld: not a range",
		    (long long)first_rev, (long long)last_rev);
	if (first_time_ms < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return lb_err_set(err, LB_E_USAGE, "evlog: time %lld ms out of range",
		    (long long)first_time_ms);
	n = snprintf(stem, sizeof(stem), "%s/wal/%04d/%02d/%02d/%020lld-%020lld", cluster,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, (long long)first_rev,
	    (long long)last_rev);
	/* EVL_KEY_MAX leaves room for the longest name: never true. */
	if (n < 0 || (size_t)n + sizeof(EVL_SIG_SUFFIX) > EVL_KEY_MAX)
		return lb_err_set(err, LB_E_INTERNAL, "evlog: key too long");
	memcpy(k->object, stem, (size_t)n);
	memcpy(k->object + n, EVL_OBJECT_SUFFIX, sizeof(EVL_OBJECT_SUFFIX));
	memcpy(k->meta, stem, (size_t)n);
	memcpy(k->meta + n, EVL_META_SUFFIX, sizeof(EVL_META_SUFFIX));
	memcpy(k->sig, stem, (size_t)n);
	memcpy(k->sig + n, EVL_SIG_SUFFIX, sizeof(EVL_SIG_SUFFIX));
	return 0;
}

/* the manifest */

struct evl_meta *
evl_meta_new(void)
{
	struct evl_meta *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->compression = strdup("zstd")) == NULL ||
	    (m->encryption = strdup("age-v1")) == NULL ||
	    (m->lifeboat_version = strdup(LB_VERSION)) == NULL) {
		evl_meta_free(m);
		return NULL;
	}
	return m;
}

void
evl_meta_free(struct evl_meta *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_recipients; i++)
		free(m->recipients[i]);
	free(m->recipients);
	free(m->cluster);
	free(m->object);
	free(m->stored_sha256);
	free(m->prev_sha256);
	free(m->signer);
	free(m->compression);
	free(m->encryption);
	free(m->lifeboat_version);
	free(m->hostname);
	free(m);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int
evl_meta_to_json(const struct evl_meta *m, char **out, struct lb_err *err)
{
	char first[32], last[32], cid[17];
	json_t *root = NULL, *rc = NULL;
	size_t i;

	*out = NULL;
	if (fmt_ms(m->first_time_ms, first) < 0 || fmt_ms(m->last_time_ms, last) < 0)
		return lb_err_set(err, LB_E_INTERNAL, "evlog manifest: times %lld..%lld ms "
		    "out of range", (long long)m->first_time_ms, (long long)m->last_time_ms);
	snprintf(cid, sizeof(cid), "%llx", (unsigned long long)m->cluster_id);
	if ((rc = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < m->n_recipients; i++)
		if (json_array_append_new(rc, json_string(m->recipients[i])) < 0)
			goto nomem;
	/* The order people read it in: what, when, where, how. */
	root = json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:s, s:I, s:s, s:o, s:o, s:o, s:s, s:i, s:s, s:o, s:o}",
	    "format", EVL_META_FORMAT,
	    "cluster", m->cluster,
	    "cluster_id", m->cluster_id != 0 ? json_string(cid) : json_null(),
	    "first_rev", (json_int_t)m->first_rev,
	    "last_rev", (json_int_t)m->last_rev,
	    "first_time", first,
	    "last_time", last,
	    "revisions", (json_int_t)m->revisions,
	    "events", (json_int_t)m->events,
	    "leases", (json_int_t)m->leases,
	    "plain_size", (json_int_t)m->plain_size,
	    "object", m->object,
	    "stored_size", (json_int_t)m->stored_size,
	    "stored_sha256", m->stored_sha256,
	    "prev_sha256", str_or_null(m->prev_sha256),
	    "recipients", rc,
	    "signer", str_or_null(m->signer),
	    "compression", m->compression,
	    "compress_level", m->compress_level,
	    "encryption", m->encryption,
	    "lifeboat_version", str_or_null(m->lifeboat_version),
	    "hostname", str_or_null(m->hostname));
	rc = NULL;                 /* "o" stole it, even on failure */
	if (root == NULL || (*out = json_dumps(root, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER)) == NULL)
		goto nomem;
	json_decref(root);
	return 0;
nomem:
	json_decref(root);
	json_decref(rc);
	return lb_err_set(err, LB_E_NOMEM, "out of memory writing the evlog manifest "
	    "(or a string in it is not UTF-8)");
}

/* Field getters: req says whether absence (or null) fails. */

static int
get_str(const json_t *o, const char *name, int req, char **out, struct lb_err *err)
{
	const json_t *v = json_object_get(o, name);

	if (v == NULL || json_is_null(v)) {
		if (req)
			return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s: missing", name);
		return 0;
	}
	/* A NUL inside would cut the string short unseen. */
	if (!json_is_string(v) || json_string_length(v) > META_STR_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s: expected a "
		    "string (without NUL, at most %d bytes)", name, META_STR_MAX);
	if ((*out = strdup(json_string_value(v))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}

static int
get_int(const json_t *o, const char *name, int req, int64_t min, int64_t *out,
    struct lb_err *err)
{
	const json_t *v = json_object_get(o, name);

	if (v == NULL || json_is_null(v)) {
		if (req)
			return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s: missing", name);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s: expected an "
		    "integer of %lld or more", name, (long long)min);
	*out = json_integer_value(v);
	return 0;
}

static int
get_time(const json_t *o, const char *name, int64_t *out, struct lb_err *err)
{
	char *s = NULL;
	int r;

	if ((r = get_str(o, name, 1, &s, err)) < 0)
		return r;
	if (parse_ms(s, out) < 0)
		r = lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s: expected "
		    "YYYY-MM-DDTHH:MM:SS.mmmZ, not '%.40s'", name, s);
	free(s);
	return r;
}

static int
is_hex(const char *s, size_t min, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i >= min && i <= max;
}

/* The checks beyond types. */
static int
check_meta(const struct evl_meta *m, struct lb_err *err)
{
	struct evl_keys k;
	struct lb_err e2;

	if (!manifest_name_ok(m->cluster, EVL_CLUSTER_MAX))
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: cluster: expected "
		    "letters, digits, '.', '_' or '-'");
	if (m->last_rev != m->first_rev - 1 + (int64_t)m->revisions)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: last_rev %lld with "
		    "first_rev %lld and %llu revisions", (long long)m->last_rev,
		    (long long)m->first_rev, (unsigned long long)m->revisions);
	if (m->last_time_ms < m->first_time_ms)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: last_time before "
		    "first_time");
	if (!is_hex(m->stored_sha256, 64, 64))
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: stored_sha256: "
		    "expected 64 hex digits");
	if (m->prev_sha256 != NULL && !is_hex(m->prev_sha256, 64, 64))
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: prev_sha256: "
		    "expected 64 hex digits");
	if (m->signer != NULL && (strncmp(m->signer, "SHA256:", 7) != 0 ||
	    strlen(m->signer) > 64))
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: signer: expected a "
		    "key fingerprint (SHA256:...)");
	if (evl_keys(m->cluster, m->first_rev, m->last_rev, m->first_time_ms, &k, &e2) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: %s", e2.msg);
	if (strcmp(m->object, k.object) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: object: '%.200s', "
		    "expected '%s' for its cluster, revisions and first time", m->object,
		    k.object);
	return 0;
}

int
evl_meta_parse(const char *json, size_t len, struct evl_meta **out, struct lb_err *err)
{
	struct evl_meta *m = NULL;
	json_error_t je;
	json_t *root, *v;
	char *cid = NULL;
	int64_t x;
	size_t i;
	int r = 0;

	*out = NULL;
	if (len > EVL_META_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: larger than %u bytes",
		    EVL_META_MAX);
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest: not valid JSON: %s "
		    "(line %d)", je.text, je.line);
	if (!json_is_object(root)) {
		r = lb_err_set(err, LB_E_CORRUPT, "evlog manifest: not a JSON object");
		goto out;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), EVL_META_FORMAT) != 0) {
		r = json_is_string(v) ? lb_err_set(err, LB_E_CORRUPT, "evlog manifest: "
		    "format: unsupported '%.64s' (this lifeboat reads %s)",
		    json_string_value(v), EVL_META_FORMAT) : lb_err_set(err, LB_E_CORRUPT,
		    "evlog manifest: format: missing (this lifeboat reads %s)", EVL_META_FORMAT);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = get_str(root, "cluster", 1, &m->cluster, err)) < 0 ||
	    (r = get_str(root, "cluster_id", 0, &cid, err)) < 0 ||
	    (r = get_int(root, "first_rev", 1, 1, &m->first_rev, err)) < 0 ||
	    (r = get_int(root, "last_rev", 1, 0, &m->last_rev, err)) < 0 ||
	    (r = get_time(root, "first_time", &m->first_time_ms, err)) < 0 ||
	    (r = get_time(root, "last_time", &m->last_time_ms, err)) < 0)
		goto out;
	if ((r = get_int(root, "revisions", 1, 0, &x, err)) < 0)
		goto out;
	m->revisions = (uint64_t)x;
	if ((r = get_int(root, "events", 1, 0, &x, err)) < 0)
		goto out;
	m->events = (uint64_t)x;
	if ((r = get_int(root, "leases", 1, 0, &x, err)) < 0)
		goto out;
	m->leases = (uint64_t)x;
	if ((r = get_int(root, "plain_size", 1, 0, &x, err)) < 0)
		goto out;
	m->plain_size = (uint64_t)x;
	if ((r = get_str(root, "object", 1, &m->object, err)) < 0 ||
	    (r = get_int(root, "stored_size", 1, 0, &x, err)) < 0)
		goto out;
	m->stored_size = (uint64_t)x;
	x = 0;
	if ((r = get_str(root, "stored_sha256", 1, &m->stored_sha256, err)) < 0 ||
	    (r = get_str(root, "prev_sha256", 0, &m->prev_sha256, err)) < 0 ||
	    (r = get_str(root, "signer", 0, &m->signer, err)) < 0 ||
	    (r = get_str(root, "compression", 1, &m->compression, err)) < 0 ||
	    (r = get_int(root, "compress_level", 0, 0, &x, err)) < 0 ||
	    (r = get_str(root, "encryption", 1, &m->encryption, err)) < 0 ||
	    (r = get_str(root, "lifeboat_version", 0, &m->lifeboat_version, err)) < 0 ||
	    (r = get_str(root, "hostname", 0, &m->hostname, err)) < 0)
		goto out;
	m->compress_level = x > ZSTD_LEVEL_MAX ? ZSTD_LEVEL_MAX : (int)x;
	if (cid != NULL) {
		char *end;
		if (!is_hex(cid, 1, 16)) {
			r = lb_err_set(err, LB_E_CORRUPT, "evlog manifest: cluster_id: expected "
			    "a cluster id in hex");
			goto out;
		}
		m->cluster_id = strtoull(cid, &end, 16);
	}
	v = json_object_get(root, "recipients");
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > META_RECIPIENTS_MAX) {
		r = lb_err_set(err, LB_E_CORRUPT, "evlog manifest: recipients: %s",
		    v == NULL ? "missing" : "expected an array of 1 to 64 fingerprints");
		goto out;
	}
	if ((m->recipients = calloc(json_array_size(v), sizeof(char *))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(v); i++) {
		const char *s = json_string_value(json_array_get(v, i));
		if (s == NULL || strlen(s) > META_STR_MAX) {
			r = lb_err_set(err, LB_E_CORRUPT, "evlog manifest: recipients[%zu]: "
			    "expected a string", i);
			goto out;
		}
		if ((m->recipients[i] = strdup(s)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		m->n_recipients++;
	}
	if ((r = check_meta(m, err)) < 0)
		goto out;
	*out = m;
	m = NULL;
out:
	free(cid);
	evl_meta_free(m);
	json_decref(root);
	return r;
}

int
evl_meta_check_key(const struct evl_meta *m, const char *key, struct lb_err *err)
{
	struct evl_keys k;
	int r;

	if ((r = evl_keys(m->cluster, m->first_rev, m->last_rev, m->first_time_ms, &k,
	    err)) < 0)
		return r;
	if (strcmp(key, k.meta) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "evlog manifest %.200s describes the "
		    "segment %s", key, k.meta);
	return 0;
}

/* writing */

struct evl_segment {
	struct flt *chain;           /* zstd -> age -> sha256 -> count -> memory */
	struct flt *sha, *count, *mem;
	struct evl_writer *w;
	char *cluster;
	uint64_t cluster_id;
	char *prev_hex;              /* NULL: first of a chain */
	char (*fpr)[AGE_FINGERPRINT_LEN];
	size_t n_fpr;
	int level;
	size_t size;
	int failed;                  /* sticky: closing failed */
	int closed;
	struct evl_footer footer;
	uint64_t plain;
	uint8_t stored_sha[32];
	struct evl_keys keys;
};

int
evl_segment_open(const struct evl_segment_opts *o, struct evl_segment **out,
    struct lb_err *err)
{
	struct evl_segment *s = NULL;
	struct flt_chain *c = NULL;
	struct flt *t = NULL;
	struct evl_header h;
	size_t i, max;
	int r;

	*out = NULL;
	if (o->size > EVL_SEGMENT_SIZE_MAX)
		return lb_err_set(err, LB_E_CONFIG, "evlog: segment size %zu over the "
		    "%u MiB allowed", o->size, EVL_SEGMENT_SIZE_MAX >> 20);
	if (o->n_rcpts == 0)
		return lb_err_set(err, LB_E_CONFIG, "evlog: no recipient to encrypt to");
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->cluster = strdup(o->cluster != NULL ? o->cluster : "")) == NULL ||
	    (s->fpr = calloc(o->n_rcpts, sizeof(*s->fpr))) == NULL)
		goto nomem;
	s->cluster_id = o->cluster_id;
	s->level = o->level != 0 ? o->level : ZSTD_DEFAULT_LEVEL;
	s->size = o->size != 0 ? o->size : EVL_SEGMENT_SIZE_DEFAULT;
	s->n_fpr = o->n_rcpts;
	for (i = 0; i < o->n_rcpts; i++)
		age_recipient_fingerprint(o->rcpts[i], s->fpr[i]);
	if (o->prev_sha256 != NULL) {
		if ((s->prev_hex = malloc(65)) == NULL)
			goto nomem;
		lb_hex(o->prev_sha256, 32, s->prev_hex);
	}
	/* A full segment plus one record, incompressible, and age's
	 * overhead: the memory sink can never be what fails. */
	max = s->size + EVL_RECORD_MAX + EVL_FRAME_BYTES;
	max += max / 64 + (1u << 20);
	if ((r = flt_chain_new(&c, err)) < 0)
		goto out;
	if ((r = flt_zstd_new(s->level, o->threads, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_age_enc_new(o->rcpts, o->n_rcpts, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_sha256_new(NULL), &s->sha, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &s->count, err)) < 0 ||
	    (r = flt_chain_add(c, flt_mem_new(max), &s->mem, err)) < 0)
		goto out;
	r = flt_chain_build(c, &s->chain, err);
	c = NULL;
	if (r < 0)
		goto out;
	memset(&h, 0, sizeof(h));
	h.version = EVL_VERSION;
	h.cluster = s->cluster;
	h.cluster_id = o->cluster_id;
	h.first_rev = o->first_rev;
	if (o->prev_sha256 != NULL) {
		h.has_prev = 1;
		memcpy(h.prev_sha256, o->prev_sha256, 32);
	}
	h.created_ms = o->created_ms != 0 ? o->created_ms : lb_wall_ms();
	h.lifeboat_version = LB_VERSION;
	if ((r = evl_writer_new(s->chain, &h, &s->w, err)) < 0)
		goto out;
	*out = s;
	s = NULL;
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	flt_chain_free(c);
	evl_segment_free(s);
	return r;
}

static int
seg_writable(const struct evl_segment *s, struct lb_err *err)
{
	if (s->closed || s->failed)
		return lb_err_set(err, LB_E_INTERNAL, "evlog: segment already closed");
	if (evl_segment_full(s))
		return lb_err_set(err, LB_E_INTERNAL, "evlog: segment is full (%llu bytes): "
		    "put it and open the next", (unsigned long long)evl_writer_bytes(s->w));
	return 0;
}

int
evl_segment_revision(struct evl_segment *s, int64_t rev, int64_t wall_ms,
    const struct etcd_kv_event *ev, size_t n, struct lb_err *err)
{
	int r;

	if ((r = seg_writable(s, err)) < 0)
		return r;
	return evl_write_revision(s->w, rev, wall_ms, ev, n, err);
}

int
evl_segment_lease(struct evl_segment *s, int64_t id, int64_t ttl, struct lb_err *err)
{
	int r;

	if ((r = seg_writable(s, err)) < 0)
		return r;
	return evl_write_lease(s->w, id, ttl, err);
}

int
evl_segment_full(const struct evl_segment *s)
{
	return evl_writer_bytes(s->w) >= s->size;
}

uint64_t
evl_segment_plain_bytes(const struct evl_segment *s)
{
	return evl_writer_bytes(s->w);
}

uint64_t
evl_segment_revisions(const struct evl_segment *s)
{
	return evl_writer_revisions(s->w);
}

int64_t
evl_segment_next_rev(const struct evl_segment *s)
{
	return evl_writer_next_rev(s->w);
}

/* Footer, end of the zstd frame, end of the age file, once. */
static int
seg_close(struct evl_segment *s, int64_t last_time_ms, struct lb_err *err)
{
	int r;

	if (s->failed)
		return lb_err_set(err, s->failed, "evlog: closing the segment failed before");
	if (s->closed)
		return 0;
	if ((r = evl_writer_finish(s->w, last_time_ms, &s->footer, err)) < 0 ||
	    (r = flt_finish(s->chain, err)) < 0 ||
	    (r = evl_keys(s->cluster, s->footer.first_rev, s->footer.last_rev,
	    s->footer.first_time_ms, &s->keys, err)) < 0) {
		s->failed = r;
		return r;
	}
	s->plain = evl_writer_bytes(s->w);
	flt_sha256_digest(s->sha, s->stored_sha);
	s->closed = 1;
	return 0;
}

static int
seg_meta(const struct evl_segment *s, const struct sig_key *signer,
    struct evl_meta **out, struct lb_err *err)
{
	struct evl_meta *m = evl_meta_new();
	char host[256] = "", fp[SIG_FINGERPRINT_LEN];
	size_t i;

	*out = NULL;
	if (m == NULL)
		goto nomem;
	gethostname(host, sizeof(host) - 1);
	m->cluster_id = s->cluster_id;
	m->first_rev = s->footer.first_rev;
	m->last_rev = s->footer.last_rev;
	m->first_time_ms = s->footer.first_time_ms;
	m->last_time_ms = s->footer.last_time_ms;
	m->revisions = s->footer.revisions;
	m->events = s->footer.events;
	m->leases = s->footer.leases;
	m->plain_size = s->plain;
	m->stored_size = flt_count_bytes(s->count);
	m->compress_level = s->level;
	if ((m->cluster = strdup(s->cluster)) == NULL ||
	    (m->object = strdup(s->keys.object)) == NULL ||
	    (m->stored_sha256 = malloc(65)) == NULL ||
	    (s->prev_hex != NULL && (m->prev_sha256 = strdup(s->prev_hex)) == NULL) ||
	    (m->hostname = strdup(host)) == NULL ||
	    (m->recipients = calloc(s->n_fpr, sizeof(char *))) == NULL)
		goto nomem;
	lb_hex(s->stored_sha, 32, m->stored_sha256);
	for (i = 0; i < s->n_fpr; i++) {
		if ((m->recipients[i] = strdup(s->fpr[i])) == NULL)
			goto nomem;
		m->n_recipients++;
	}
	if (signer != NULL) {
		sig_key_fingerprint(signer, fp);
		if ((m->signer = strdup(fp)) == NULL)
			goto nomem;
	}
	*out = m;
	return 0;
nomem:
	evl_meta_free(m);
	return lb_err_set(err, LB_E_NOMEM, "out of memory");
}

int
evl_segment_put(struct evl_segment *s, struct repo *repo, const struct sig_key *signer,
    int64_t last_time_ms, struct evl_meta **meta, struct lb_err *err)
{
	struct evl_meta *m = NULL;
	char *json = NULL, *sig = NULL;
	const uint8_t *data;
	size_t len;
	int r;

	if (meta != NULL)
		*meta = NULL;
	if ((r = seg_close(s, last_time_ms, err)) < 0)
		return r;
	if ((r = seg_meta(s, signer, &m, err)) < 0 ||
	    (r = evl_meta_to_json(m, &json, err)) < 0)
		goto out;
	if (signer != NULL && (r = sig_sign(signer, json, strlen(json), EVL_SIG_NS, &sig,
	    err)) < 0)
		goto out;
	data = flt_mem_data(s->mem, &len);
	if ((r = repo_put_buf(repo, s->keys.object, data, len, err)) < 0) {
		lb_err_prefix(err, "segment %s: ", s->keys.object);
		goto out;
	}
	/* The signature, then the manifest last: until the manifest exists
	 * the segment does not, and once it does its signature is there. */
	if (sig != NULL && (r = repo_put_buf(repo, s->keys.sig, sig, strlen(sig), err)) < 0) {
		lb_err_prefix(err, "segment signature %s: ", s->keys.sig);
		goto out;
	}
	if ((r = repo_put_buf(repo, s->keys.meta, json, strlen(json), err)) < 0) {
		lb_err_prefix(err, "segment manifest %s: ", s->keys.meta);
		goto out;
	}
	if (meta != NULL) {
		*meta = m;
		m = NULL;
	}
out:
	evl_meta_free(m);
	free(json);
	free(sig);
	return r;
}

int
evl_segment_stored_sha256(const struct evl_segment *s, uint8_t out[32])
{
	if (!s->closed)
		return LB_E_NOTFOUND;
	memcpy(out, s->stored_sha, 32);
	return 0;
}

void
evl_segment_free(struct evl_segment *s)
{
	if (s == NULL)
		return;
	evl_writer_free(s->w);
	flt_free(s->chain);
	free(s->cluster);
	free(s->prev_hex);
	free(s->fpr);
	free(s);
}

/* reading */

int
evl_segment_read(struct repo *repo, const char *key, const struct age_identity *id,
    const char *expected_sha256, const struct evl_parse_cb *cb,
    struct evl_read_info *info, struct lb_err *err)
{
	struct flt_chain *c = NULL;
	struct flt *chain = NULL, *t = NULL, *sha = NULL, *count = NULL, *pcount, *parser;
	struct flt *mem = NULL;
	struct evl_header h;
	const uint8_t *buf = NULL;
	uint8_t d[32];
	char hex[65];
	size_t len = 0;
	int r;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (expected_sha256 != NULL && (strlen(expected_sha256) != 64 ||
	    strspn(expected_sha256, "0123456789abcdefABCDEF") != 64))
		return lb_err_set(err, LB_E_USAGE, "segment %s: expected sha256 '%.70s' is "
		    "not 64 hex digits", key, expected_sha256);
	if (expected_sha256 != NULL) {
		/* All of it, checked, before a byte is decrypted. */
		if ((mem = flt_mem_new(EVL_STORED_MAX)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		if ((r = repo_get(repo, key, 0, 0, mem, err)) < 0)
			goto out;
		buf = flt_mem_data(mem, &len);
		SHA256(buf, len, d);
		lb_hex(d, 32, hex);
		if (strcasecmp(hex, expected_sha256) != 0) {
			r = lb_err_set(err, LB_E_CORRUPT, "stored sha256 mismatch: expected "
			    "%.16s..., the object has %.16s... (changed or damaged in the "
			    "repository)", expected_sha256, hex);
			goto out;
		}
	}
	if ((r = flt_chain_new(&c, err)) < 0)
		goto out;
	if (expected_sha256 == NULL &&
	    ((r = flt_chain_add(c, flt_sha256_new(NULL), &sha, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &count, err)) < 0))
		goto out;
	if ((r = flt_age_dec_new(id, NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_unzstd_new(NULL, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, NULL, err)) < 0 ||
	    (r = flt_chain_add(c, flt_count_new(NULL), &pcount, err)) < 0 ||
	    (r = evl_parse_new(cb, &t, err)) < 0 ||
	    (r = flt_chain_add(c, t, &parser, err)) < 0)
		goto out;
	r = flt_chain_build(c, &chain, err);
	c = NULL;
	if (r < 0)
		goto out;
	if (mem != NULL)
		r = flt_write(chain, buf, len, err);
	else
		r = repo_get(repo, key, 0, 0, chain, err);
	if (r < 0 || (r = flt_finish(chain, err)) < 0)
		goto out;
	if (info != NULL) {
		if (sha != NULL) {
			flt_sha256_digest(sha, d);
			lb_hex(d, 32, hex);
			info->stored_size = flt_count_bytes(count);
		} else {
			info->stored_size = len;
		}
		memcpy(info->stored_sha256, hex, 65);
		info->plain_size = flt_count_bytes(pcount);
		evl_parse_footer(parser, &info->footer);
		evl_parse_header(parser, &h);
		snprintf(info->cluster, sizeof(info->cluster), "%s", h.cluster);
		info->cluster_id = h.cluster_id;
		info->has_prev = h.has_prev;
		memcpy(info->prev_sha256, h.prev_sha256, 32);
		info->created_ms = h.created_ms;
	}
out:
	if (r < 0 && r != LB_E_NOMEM)
		lb_err_prefix(err, "segment %s: ", key);
	flt_chain_free(c);
	flt_free(chain);
	flt_free(mem);
	return r;
}

int
evl_meta_check_read(const struct evl_meta *m, const struct evl_read_info *info,
    struct lb_err *err)
{
	const struct evl_footer *f = &info->footer;
	char prev[65];

#define SAME(a, b, name) \
	if ((int64_t)(a) != (int64_t)(b)) \
		return lb_err_set(err, LB_E_CORRUPT, "evlog: %s: the manifest says %lld, " \
		    "the segment %lld", name, (long long)(a), (long long)(b))
	SAME(m->first_rev, f->first_rev, "first_rev");
	SAME(m->last_rev, f->last_rev, "last_rev");
	SAME(m->revisions, f->revisions, "revisions");
	SAME(m->events, f->events, "events");
	SAME(m->leases, f->leases, "leases");
	SAME(m->first_time_ms, f->first_time_ms, "first_time (ms)");
	SAME(m->last_time_ms, f->last_time_ms, "last_time (ms)");
	SAME(m->plain_size, info->plain_size, "plain_size");
	SAME(m->stored_size, info->stored_size, "stored_size");
#undef SAME
	if (strcmp(m->cluster, info->cluster) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: the manifest is of cluster %s, "
		    "the segment of %s", m->cluster, info->cluster);
	if (m->cluster_id != info->cluster_id)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: the manifest is of cluster id "
		    "%llx, the segment of %llx", (unsigned long long)m->cluster_id,
		    (unsigned long long)info->cluster_id);
	if (strcasecmp(m->stored_sha256, info->stored_sha256) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: stored sha256: the manifest says "
		    "%.16s..., the object has %.16s...", m->stored_sha256, info->stored_sha256);
	if (info->has_prev)
		lb_hex(info->prev_sha256, 32, prev);
	if ((m->prev_sha256 == NULL) != !info->has_prev ||
	    (info->has_prev && strcasecmp(m->prev_sha256, prev) != 0))
		return lb_err_set(err, LB_E_CORRUPT, "evlog: prev_sha256: the manifest says "
		    "%.16s, the segment %.16s", m->prev_sha256 != NULL ? m->prev_sha256 :
		    "none", info->has_prev ? prev : "none");
	return 0;
}
