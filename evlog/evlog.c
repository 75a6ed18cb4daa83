/*
 * evlog.c: segment records written and parsed (evlog.h).  The encoder
 * computes each payload's size first and then writes it with pb.h into
 * one buffer, so a record goes down the chain in one write; the parser
 * takes records whole from the input when they are there and copies only
 * the ones split across writes.
 */
#include "evlog/evlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/crc32c.h"
#include "common/pb.h"
#include "repo/manifest.h"

/* Field numbers (README: "The event log"). */
enum { H_VERSION = 1, H_CLUSTER, H_CLUSTER_ID, H_FIRST_REV, H_PREV_SHA256,
	H_CREATED, H_LIFEBOAT };
enum { R_REVISION = 1, R_WALL, R_EVENT };
enum { E_TYPE = 1, E_KEY, E_VALUE, E_CREATE, E_MOD, E_VERSION, E_LEASE };
enum { L_ID = 1, L_TTL };
enum { F_FIRST_REV = 1, F_LAST_REV, F_REVISIONS, F_EVENTS, F_FIRST_TIME,
	F_LAST_TIME, F_SHA256, F_LEASES };

/* A record buffer this large or larger is freed after use, so one huge
 * revision does not pin 64 MiB for the rest of a segment. */
#define KEEP_BUF (4u * 1024 * 1024)

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Sizes of fields as put below: zero values and empty bytes are left
 * out, as proto3 does. */
static size_t
vfield_len(uint32_t num, uint64_t v)
{
	return v == 0 ? 0 : varint_len((uint64_t)num << 3) + varint_len(v);
}

static size_t
bfield_len(uint32_t num, size_t len)
{
	return len == 0 ? 0 : varint_len((uint64_t)num << 3) + varint_len(len) + len;
}

static void
put_v(struct pb_writer *w, uint32_t num, uint64_t v)
{
	if (v != 0)
		pb_put_varint_field(w, num, v);
}

static void
put_b(struct pb_writer *w, uint32_t num, const void *p, size_t len)
{
	if (len != 0)
		pb_put_bytes_field(w, num, p, len);
}

/* A varint alone (pb.h puts whole fields): the tag and length of an
 * embedded message whose fields follow. */
static void
put_raw_varint(struct pb_writer *w, uint64_t v)
{
	do {
		if (w->len >= w->cap) {
			w->overflow = 1;
			return;
		}
		w->buf[w->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static size_t
event_len(const struct etcd_kv_event *e)
{
	return vfield_len(E_TYPE, (uint64_t)e->type) + bfield_len(E_KEY, e->key_len) +
	    bfield_len(E_VALUE, e->type == ETCD_EV_PUT ? e->value_len : 0) +
	    vfield_len(E_CREATE, (uint64_t)e->create_revision) +
	    vfield_len(E_MOD, (uint64_t)e->mod_revision) +
	    vfield_len(E_VERSION, (uint64_t)e->version) +
	    vfield_len(E_LEASE, (uint64_t)e->lease);
}

/* writer */

struct evl_writer {
	struct flt *out;
	EVP_MD_CTX *sha;
	uint8_t *buf;                /* one record */
	size_t cap;
	int failed;                  /* sticky: the plaintext is cut short */
	int finished;
	uint64_t bytes;
	int64_t first_rev, next_rev;
	uint64_t revisions, events, leases;
	int64_t created_ms, first_time, last_wall;
};

static int
writer_fail(struct evl_writer *w, int r)
{
	if (w->failed == 0)
		w->failed = r;
	return r;
}

static int
writer_check(struct evl_writer *w, struct lb_err *err)
{
	if (w->failed != 0)
		return lb_err_set(err, w->failed, "evlog: the segment was abandoned after "
		    "an earlier failure");
	if (w->finished)
		return lb_err_set(err, LB_E_INTERNAL, "evlog: write after the footer");
	return 0;
}

/* Makes room for a record of payload len; returns the pb_writer over its
 * payload. */
static int
record_begin(struct evl_writer *w, size_t len, struct pb_writer *pw,
    struct lb_err *err)
{
	size_t need = len + EVL_FRAME_BYTES;

	if (need > w->cap) {
		uint8_t *p = realloc(w->buf, need);
		if (p == NULL)
			return writer_fail(w, lb_err_set(err, LB_E_NOMEM, "out of memory "
			    "for a record of %zu bytes", len));
		w->buf = p;
		w->cap = need;
	}
	pb_writer_init(pw, w->buf + 5, len);
	return 0;
}

/* Frames the payload pw holds (which must be exactly the size given to
 * record_begin), hashes it unless it is the footer, and writes it. */
static int
record_end(struct evl_writer *w, int type, const struct pb_writer *pw,
    struct lb_err *err)
{
	size_t total = pw->len + EVL_FRAME_BYTES;
	int r;

	if (pw->overflow || pw->len != pw->cap)
		return writer_fail(w, lb_err_set(err, LB_E_INTERNAL, "evlog: record of "
		    "type %d encoded to %zu bytes, %zu expected", type, pw->len, pw->cap));
	w->buf[0] = (uint8_t)type;
	put_le32(w->buf + 1, (uint32_t)pw->len);
	put_le32(w->buf + 5 + pw->len, lb_crc32c_final(lb_crc32c_update(LB_CRC32C_INIT,
	    w->buf, 5 + pw->len)));
	if (type != EVL_REC_FOOTER && EVP_DigestUpdate(w->sha, w->buf, total) != 1)
		return writer_fail(w, lb_err_set(err, LB_E_INTERNAL, "evlog: sha256 failed"));
	if ((r = flt_write(w->out, w->buf, total, err)) < 0)
		return writer_fail(w, r);
	w->bytes += total;
	if (w->cap >= KEEP_BUF) {
		free(w->buf);
		w->buf = NULL;
		w->cap = 0;
	}
	return 0;
}

int
evl_writer_new(struct flt *out, const struct evl_header *h, struct evl_writer **wp,
    struct lb_err *err)
{
	struct evl_writer *w = NULL;
	struct pb_writer pw;
	const char *ver = h->lifeboat_version != NULL ? h->lifeboat_version : "";
	size_t len;
	int r;

	*wp = NULL;
	if (h->version != EVL_VERSION)
		return lb_err_set(err, LB_E_INTERNAL, "evlog: cannot write format "
		    "version %u", h->version);
	if (!manifest_name_ok(h->cluster, EVL_CLUSTER_MAX))
		return lb_err_set(err, LB_E_USAGE, "evlog: cluster name '%.64s' is not "
		    "usable in object keys", h->cluster != NULL ? h->cluster : "");
	if (h->first_rev < 1)
		return lb_err_set(err, LB_E_USAGE, "evlog: first revision %lld: expected "
		    "1 or more", (long long)h->first_rev);
	if (strlen(ver) > EVL_VERSION_STR_MAX)
		return lb_err_set(err, LB_E_USAGE, "evlog: lifeboat version string longer "
		    "than %d bytes", EVL_VERSION_STR_MAX);
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	w->out = out;
	w->first_rev = w->next_rev = h->first_rev;
	w->created_ms = w->first_time = w->last_wall = h->created_ms;
	len = vfield_len(H_VERSION, h->version) + bfield_len(H_CLUSTER, strlen(h->cluster)) +
	    vfield_len(H_CLUSTER_ID, h->cluster_id) +
	    vfield_len(H_FIRST_REV, (uint64_t)h->first_rev) +
	    (h->has_prev ? bfield_len(H_PREV_SHA256, 32) : 0) +
	    vfield_len(H_CREATED, (uint64_t)h->created_ms) + bfield_len(H_LIFEBOAT, strlen(ver));
	if ((r = record_begin(w, len, &pw, err)) < 0)
		goto out;
	put_v(&pw, H_VERSION, h->version);
	put_b(&pw, H_CLUSTER, h->cluster, strlen(h->cluster));
	put_v(&pw, H_CLUSTER_ID, h->cluster_id);
	put_v(&pw, H_FIRST_REV, (uint64_t)h->first_rev);
	if (h->has_prev)
		put_b(&pw, H_PREV_SHA256, h->prev_sha256, 32);
	put_v(&pw, H_CREATED, (uint64_t)h->created_ms);
	put_b(&pw, H_LIFEBOAT, ver, strlen(ver));
	if ((r = record_end(w, EVL_REC_HEADER, &pw, err)) < 0)
		goto out;
	*wp = w;
	w = NULL;
out:
	evl_writer_free(w);
	return r;
}

int
evl_write_revision(struct evl_writer *w, int64_t rev, int64_t wall_ms,
    const struct etcd_kv_event *ev, size_t n, struct lb_err *err)
{
	struct pb_writer pw;
	size_t len, i, el;
	int r;

	if ((r = writer_check(w, err)) < 0)
		return r;
	if (rev != w->next_rev)
		return lb_err_set(err, LB_E_PROTO, "evlog: revision %lld where %lld was "
		    "expected (%s)", (long long)rev, (long long)w->next_rev,
		    rev > w->next_rev ? "a gap in the stream" : "a repeat in the stream");
	if (n == 0)
		return lb_err_set(err, LB_E_PROTO, "evlog: revision %lld without events",
		    (long long)rev);
	if (wall_ms < w->last_wall)
		wall_ms = w->last_wall;
	len = vfield_len(R_REVISION, (uint64_t)rev) + vfield_len(R_WALL, (uint64_t)wall_ms);
	for (i = 0; i < n; i++) {
		const struct etcd_kv_event *e = &ev[i];

		if (e->type != ETCD_EV_PUT && e->type != ETCD_EV_DELETE)
			return lb_err_set(err, LB_E_PROTO, "evlog: revision %lld event %zu: "
			    "unknown type %d", (long long)rev, i, e->type);
		if (e->key_len == 0)
			return lb_err_set(err, LB_E_PROTO, "evlog: revision %lld event %zu: "
			    "empty key", (long long)rev, i);
		if (e->mod_revision != rev)
			return lb_err_set(err, LB_E_PROTO, "evlog: revision %lld event %zu: "
			    "mod_revision %lld (an event of another revision)", (long long)rev,
			    i, (long long)e->mod_revision);
		/* Each part is checked alone first, so the sum cannot wrap. */
		if (e->key_len > EVL_RECORD_MAX || e->value_len > EVL_RECORD_MAX ||
		    (len += bfield_len(R_EVENT, event_len(e))) > EVL_RECORD_MAX)
			return lb_err_set(err, LB_E_TOOBIG, "evlog: revision %lld is "
			    "larger than the %u MiB a record may hold", (long long)rev,
			    EVL_RECORD_MAX >> 20);
	}
	if ((r = record_begin(w, len, &pw, err)) < 0)
		return r;
	put_v(&pw, R_REVISION, (uint64_t)rev);
	put_v(&pw, R_WALL, (uint64_t)wall_ms);
	for (i = 0; i < n && !pw.overflow; i++) {
		const struct etcd_kv_event *e = &ev[i];

		/* The event's tag and length, then its fields in place. */
		el = event_len(e);
		put_raw_varint(&pw, (uint64_t)R_EVENT << 3 | PB_BYTES);
		put_raw_varint(&pw, el);
		put_v(&pw, E_TYPE, (uint64_t)e->type);
		put_b(&pw, E_KEY, e->key, e->key_len);
		if (e->type == ETCD_EV_PUT)
			put_b(&pw, E_VALUE, e->value, e->value_len);
		put_v(&pw, E_CREATE, (uint64_t)e->create_revision);
		put_v(&pw, E_MOD, (uint64_t)e->mod_revision);
		put_v(&pw, E_VERSION, (uint64_t)e->version);
		put_v(&pw, E_LEASE, (uint64_t)e->lease);
	}
	if ((r = record_end(w, EVL_REC_REVISION, &pw, err)) < 0)
		return r;
	if (w->revisions == 0)
		w->first_time = wall_ms;
	w->last_wall = wall_ms;
	w->next_rev++;
	w->revisions++;
	w->events += n;
	return 0;
}

int
evl_write_lease(struct evl_writer *w, int64_t id, int64_t ttl, struct lb_err *err)
{
	struct pb_writer pw;
	int r;

	if ((r = writer_check(w, err)) < 0)
		return r;
	if (id == 0 || ttl < 0)
		return lb_err_set(err, LB_E_PROTO, "evlog: lease %lld with ttl %lld: expected "
		    "a non-zero id and a ttl of 0 or more", (long long)id, (long long)ttl);
	if ((r = record_begin(w, vfield_len(L_ID, (uint64_t)id) +
	    vfield_len(L_TTL, (uint64_t)ttl), &pw, err)) < 0)
		return r;
	put_v(&pw, L_ID, (uint64_t)id);
	put_v(&pw, L_TTL, (uint64_t)ttl);
	if ((r = record_end(w, EVL_REC_LEASE, &pw, err)) < 0)
		return r;
	w->leases++;
	return 0;
}

int
evl_writer_finish(struct evl_writer *w, int64_t last_time_ms, struct evl_footer *footer,
    struct lb_err *err)
{
	struct evl_footer f;
	struct pb_writer pw;
	unsigned int dlen = 0;
	int r;

	if ((r = writer_check(w, err)) < 0)
		return r;
	memset(&f, 0, sizeof(f));
	f.first_rev = w->first_rev;
	f.last_rev = w->next_rev - 1;
	f.revisions = w->revisions;
	f.events = w->events;
	f.leases = w->leases;
	f.first_time_ms = w->first_time;
	f.last_time_ms = last_time_ms < w->last_wall ? w->last_wall : last_time_ms;
	if (EVP_DigestFinal_ex(w->sha, f.sha256, &dlen) != 1 || dlen != 32)
		return writer_fail(w, lb_err_set(err, LB_E_INTERNAL, "evlog: sha256 failed"));
	if ((r = record_begin(w, vfield_len(F_FIRST_REV, (uint64_t)f.first_rev) +
	    vfield_len(F_LAST_REV, (uint64_t)f.last_rev) +
	    vfield_len(F_REVISIONS, f.revisions) + vfield_len(F_EVENTS, f.events) +
	    vfield_len(F_FIRST_TIME, (uint64_t)f.first_time_ms) +
	    vfield_len(F_LAST_TIME, (uint64_t)f.last_time_ms) +
	    bfield_len(F_SHA256, 32) + vfield_len(F_LEASES, f.leases), &pw, err)) < 0)
		return r;
	put_v(&pw, F_FIRST_REV, (uint64_t)f.first_rev);
	put_v(&pw, F_LAST_REV, (uint64_t)f.last_rev);
	put_v(&pw, F_REVISIONS, f.revisions);
	put_v(&pw, F_EVENTS, f.events);
	put_v(&pw, F_FIRST_TIME, (uint64_t)f.first_time_ms);
	put_v(&pw, F_LAST_TIME, (uint64_t)f.last_time_ms);
	put_b(&pw, F_SHA256, f.sha256, 32);
	put_v(&pw, F_LEASES, f.leases);
	if ((r = record_end(w, EVL_REC_FOOTER, &pw, err)) < 0)
		return r;
	w->finished = 1;
	if (footer != NULL)
		*footer = f;
	return 0;
}

uint64_t
evl_writer_bytes(const struct evl_writer *w)
{
	return w->bytes;
}

int64_t
evl_writer_next_rev(const struct evl_writer *w)
{
	return w->next_rev;
}

uint64_t
evl_writer_revisions(const struct evl_writer *w)
{
	return w->revisions;
}

int64_t
evl_writer_first_time(const struct evl_writer *w)
{
	return w->first_time;
}

void
evl_writer_free(struct evl_writer *w)
{
	if (w == NULL)
		return;
	EVP_MD_CTX_free(w->sha);
	free(w->buf);
	free(w);
}

/* parser */

struct evl_parse {
	struct flt base;
	struct evl_parse_cb cb;
	EVP_MD_CTX *sha;
	uint8_t hdr[5];              /* type and length of the record being read */
	size_t hdr_have;
	uint8_t *body;               /* payload and crc, when split across writes */
	size_t body_cap, body_have, need;
	uint64_t offset;             /* of the record being read */
	uint64_t index;              /* records before it */
	int failed;
	int have_header, have_footer;
	int64_t first_rev, next_rev;
	int64_t created_ms, first_time, last_wall;
	uint64_t revisions, events, leases;
	struct evl_header header;    /* its strings are the two below */
	char cluster[EVL_CLUSTER_MAX + 1];
	char version_str[EVL_VERSION_STR_MAX + 1];
	struct evl_footer footer;
	struct etcd_kv_event *ev;
	size_t ev_cap;
};

static const char *
type_name(int type)
{
	switch (type) {
	case EVL_REC_HEADER: return "header";
	case EVL_REC_REVISION: return "revision";
	case EVL_REC_LEASE: return "lease";
	case EVL_REC_FOOTER: return "footer";
	default: return "record";
	}
}

/* "evlog record 7 (revision, byte 1234): " before what is wrong. */
static int
bad(struct evl_parse *p, struct lb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
bad(struct evl_parse *p, struct lb_err *err, const char *fmt, ...)
{
	char what[LB_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return lb_err_set(err, LB_E_CORRUPT, "evlog record %llu (%s, byte %llu): %s",
	    (unsigned long long)p->index, type_name(p->hdr[0]),
	    (unsigned long long)p->offset, what);
}

/* A field of the wire type the format gives it; anything else is
 * corrupt, not a field to skip (an unknown number is skipped). */
static int
want_wire(struct evl_parse *p, const struct pb_field *f, int wire, const char *name,
    struct lb_err *err)
{
	if (f->wire != wire)
		return bad(p, err, "field %u (%s): wire type %d, expected %d", f->num, name,
		    f->wire, wire);
	return 0;
}

/* A varint that must fit an int64 of at least min. */
static int
want_i64(struct evl_parse *p, const struct pb_field *f, const char *name, int64_t min,
    int64_t *out, struct lb_err *err)
{
	int r;

	if ((r = want_wire(p, f, PB_VARINT, name, err)) < 0)
		return r;
	if ((int64_t)f->u64 < min)
		return bad(p, err, "%s %lld: expected %lld or more", name, (long long)f->u64,
		    (long long)min);
	*out = (int64_t)f->u64;
	return 0;
}

static int
text_ok(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
parse_header(struct evl_parse *p, const uint8_t *b, size_t len, struct lb_err *err)
{
	char cluster[EVL_CLUSTER_MAX + 1] = "", ver[EVL_VERSION_STR_MAX + 1] = "";
	struct evl_header h;
	struct pb_reader rd;
	struct pb_field f;
	int64_t v = 0;
	int r, have_rev = 0;

	memset(&h, 0, sizeof(h));
	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &f)) == 1) {
		switch (f.num) {
		case H_VERSION:
			if ((r = want_i64(p, &f, "version", 0, &v, err)) < 0)
				return r;
			h.version = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			break;
		case H_CLUSTER:
			if ((r = want_wire(p, &f, PB_BYTES, "cluster", err)) < 0)
				return r;
			if (f.len > EVL_CLUSTER_MAX)
				return bad(p, err, "cluster name of %zu bytes (at most %d)", f.len,
				    EVL_CLUSTER_MAX);
			memcpy(cluster, f.data, f.len);
			cluster[f.len] = '\0';
			break;
		case H_CLUSTER_ID:
			if ((r = want_wire(p, &f, PB_VARINT, "cluster_id", err)) < 0)
				return r;
			h.cluster_id = f.u64;
			break;
		case H_FIRST_REV:
			if ((r = want_i64(p, &f, "first_rev", 1, &h.first_rev, err)) < 0)
				return r;
			have_rev = 1;
			break;
		case H_PREV_SHA256:
			if ((r = want_wire(p, &f, PB_BYTES, "prev_sha256", err)) < 0)
				return r;
			if (f.len != 32)
				return bad(p, err, "prev_sha256 of %zu bytes, expected 32", f.len);
			memcpy(h.prev_sha256, f.data, 32);
			h.has_prev = 1;
			break;
		case H_CREATED:
			if ((r = want_wire(p, &f, PB_VARINT, "created", err)) < 0)
				return r;
			h.created_ms = (int64_t)f.u64;
			break;
		case H_LIFEBOAT:
			if ((r = want_wire(p, &f, PB_BYTES, "lifeboat_version", err)) < 0)
				return r;
			if (f.len > EVL_VERSION_STR_MAX || !text_ok(f.data, f.len))
				return bad(p, err, "lifeboat_version: not a short line of text");
			memcpy(ver, f.data, f.len);
			ver[f.len] = '\0';
			break;
		}
	}
	if (r < 0)
		return bad(p, err, "malformed protobuf payload");
	if (h.version == 0)
		return bad(p, err, "no format version");
	if (h.version != EVL_VERSION)
		return lb_err_set(err, LB_E_UNSUPPORTED, "evlog: segment format version %u "
		    "is newer than this lifeboat reads (%d)", h.version, EVL_VERSION);
	if (!manifest_name_ok(cluster, EVL_CLUSTER_MAX))
		return bad(p, err, "cluster name missing or not letters, digits, '.', '_' "
		    "or '-'");
	if (!have_rev)
		return bad(p, err, "no first_rev");
	memcpy(p->cluster, cluster, sizeof(cluster));
	memcpy(p->version_str, ver, sizeof(ver));
	p->header = h;
	p->header.cluster = p->cluster;
	p->header.lifeboat_version = p->version_str;
	p->have_header = 1;
	p->first_rev = p->next_rev = h.first_rev;
	p->created_ms = p->first_time = p->last_wall = h.created_ms;
	if (p->cb.on_header != NULL && (r = p->cb.on_header(p->cb.arg, &p->header,
	    err)) < 0)
		return r;
	return 0;
}

static int
parse_event(struct evl_parse *p, int64_t rev, size_t i, const uint8_t *b, size_t len,
    struct etcd_kv_event *e, struct lb_err *err)
{
	static const uint8_t empty[1];
	struct pb_reader rd;
	struct pb_field f;
	int64_t v = 0;
	int r;

	memset(e, 0, sizeof(*e));
	e->value = empty;
	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &f)) == 1) {
		switch (f.num) {
		case E_TYPE:
			if ((r = want_i64(p, &f, "event type", 0, &v, err)) < 0)
				return r;
			if (v != ETCD_EV_PUT && v != ETCD_EV_DELETE)
				return bad(p, err, "revision %lld event %zu: unknown type %lld",
				    (long long)rev, i, (long long)v);
			e->type = (int)v;
			break;
		case E_KEY:
			if ((r = want_wire(p, &f, PB_BYTES, "key", err)) < 0)
				return r;
			e->key = f.data;
			e->key_len = f.len;
			break;
		case E_VALUE:
			if ((r = want_wire(p, &f, PB_BYTES, "value", err)) < 0)
				return r;
			e->value = f.len > 0 ? f.data : empty;
			e->value_len = f.len;
			break;
		case E_CREATE:
			if ((r = want_wire(p, &f, PB_VARINT, "create_revision", err)) < 0)
				return r;
			e->create_revision = (int64_t)f.u64;
			break;
		case E_MOD:
			if ((r = want_wire(p, &f, PB_VARINT, "mod_revision", err)) < 0)
				return r;
			e->mod_revision = (int64_t)f.u64;
			break;
		case E_VERSION:
			if ((r = want_wire(p, &f, PB_VARINT, "version", err)) < 0)
				return r;
			e->version = (int64_t)f.u64;
			break;
		case E_LEASE:
			if ((r = want_wire(p, &f, PB_VARINT, "lease", err)) < 0)
				return r;
			e->lease = (int64_t)f.u64;
			break;
		}
	}
	if (r < 0)
		return bad(p, err, "revision %lld event %zu: malformed protobuf", (long long)rev, i);
	if (e->key_len == 0)
		return bad(p, err, "revision %lld event %zu: no key", (long long)rev, i);
	if (e->mod_revision != rev)
		return bad(p, err, "revision %lld event %zu: mod_revision %lld", (long long)rev,
		    i, (long long)e->mod_revision);
	if (e->type == ETCD_EV_DELETE && e->value_len != 0)
		return bad(p, err, "revision %lld event %zu: a delete with a value",
		    (long long)rev, i);
	return 0;
}

static int
parse_revision(struct evl_parse *p, const uint8_t *b, size_t len, struct lb_err *err)
{
	struct pb_reader rd;
	struct pb_field f;
	int64_t rev = 0, wall = 0;
	size_t n = 0;
	int r, have_rev = 0, have_wall = 0;

	/* The revision first, so events can be checked against it whatever
	 * the order of fields. */
	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &f)) == 1) {
		if (f.num == R_REVISION) {
			if ((r = want_i64(p, &f, "revision", 1, &rev, err)) < 0)
				return r;
			have_rev = 1;
		} else if (f.num == R_WALL) {
			if ((r = want_wire(p, &f, PB_VARINT, "wall time", err)) < 0)
				return r;
			wall = (int64_t)f.u64;
			have_wall = 1;
		}
	}
	if (r < 0)
		return bad(p, err, "malformed protobuf payload");
	if (!have_rev)
		return bad(p, err, "no revision number");
	if (rev != p->next_rev)
		return bad(p, err, "revision %lld where %lld was expected (%s)", (long long)rev,
		    (long long)p->next_rev, rev > p->next_rev ? "a gap" : "a repeat or going back");
	if (!have_wall || wall < p->last_wall)
		return bad(p, err, "revision %lld: wall time %lld before %lld (%s)",
		    (long long)rev, (long long)wall, (long long)p->last_wall,
		    p->revisions > 0 ? "the previous revision's" : "the header's created");
	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &f)) == 1) {
		if (f.num != R_EVENT)
			continue;
		if ((r = want_wire(p, &f, PB_BYTES, "event", err)) < 0)
			return r;
		if (lb_vec_grow(&p->ev, &p->ev_cap, n, sizeof(*p->ev), EVL_RECORD_MAX) < 0)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		if ((r = parse_event(p, rev, n, f.data, f.len, &p->ev[n], err)) < 0)
			return r;
		n++;
	}
	if (n == 0)
		return bad(p, err, "revision %lld without events", (long long)rev);
	if (p->revisions == 0)
		p->first_time = wall;
	p->last_wall = wall;
	p->next_rev++;
	p->revisions++;
	p->events += n;
	if (p->cb.on_revision != NULL && (r = p->cb.on_revision(p->cb.arg, rev, wall,
	    p->ev, n, err)) < 0)
		return r;
	return 0;
}

static int
parse_lease(struct evl_parse *p, const uint8_t *b, size_t len, struct lb_err *err)
{
	struct pb_reader rd;
	struct pb_field f;
	int64_t id = 0, ttl = 0;
	int r;

	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &f)) == 1) {
		if (f.num == L_ID) {
			if ((r = want_wire(p, &f, PB_VARINT, "lease id", err)) < 0)
				return r;
			id = (int64_t)f.u64;
		} else if (f.num == L_TTL &&
		    (r = want_i64(p, &f, "lease ttl", 0, &ttl, err)) < 0)
			return r;
	}
	if (r < 0)
		return bad(p, err, "malformed protobuf payload");
	if (id == 0)
		return bad(p, err, "lease without an id");
	p->leases++;
	if (p->cb.on_lease != NULL && (r = p->cb.on_lease(p->cb.arg, id, ttl, err)) < 0)
		return r;
	return 0;
}

static int
parse_footer(struct evl_parse *p, const uint8_t *b, size_t len, struct lb_err *err)
{
	struct evl_footer f, want;
	struct pb_reader rd;
	struct pb_field fl;
	unsigned int dlen = 0;
	int r, have_sha = 0;

	memset(&f, 0, sizeof(f));
	pb_reader_init(&rd, b, len);
	while ((r = pb_next(&rd, &fl)) == 1) {
		switch (fl.num) {
		case F_FIRST_REV:
		case F_LAST_REV:
		case F_REVISIONS:
		case F_EVENTS:
		case F_FIRST_TIME:
		case F_LAST_TIME:
		case F_LEASES:
			if ((r = want_wire(p, &fl, PB_VARINT, "count", err)) < 0)
				return r;
			if (fl.num == F_FIRST_REV)
				f.first_rev = (int64_t)fl.u64;
			else if (fl.num == F_LAST_REV)
				f.last_rev = (int64_t)fl.u64;
			else if (fl.num == F_REVISIONS)
				f.revisions = fl.u64;
			else if (fl.num == F_EVENTS)
				f.events = fl.u64;
			else if (fl.num == F_FIRST_TIME)
				f.first_time_ms = (int64_t)fl.u64;
			else if (fl.num == F_LAST_TIME)
				f.last_time_ms = (int64_t)fl.u64;
			else
				f.leases = fl.u64;
			break;
		case F_SHA256:
			if ((r = want_wire(p, &fl, PB_BYTES, "sha256", err)) < 0)
				return r;
			if (fl.len != 32)
				return bad(p, err, "sha256 of %zu bytes, expected 32", fl.len);
			memcpy(f.sha256, fl.data, 32);
			have_sha = 1;
			break;
		}
	}
	if (r < 0)
		return bad(p, err, "malformed protobuf payload");
	memset(&want, 0, sizeof(want));
	want.first_rev = p->first_rev;
	want.last_rev = p->next_rev - 1;
	want.revisions = p->revisions;
	want.events = p->events;
	want.leases = p->leases;
	want.first_time_ms = p->first_time;
	if (EVP_DigestFinal_ex(p->sha, want.sha256, &dlen) != 1 || dlen != 32)
		return lb_err_set(err, LB_E_INTERNAL, "evlog: sha256 failed");
#define SAME(field, name) \
	if (f.field != want.field) \
		return bad(p, err, "footer says %s %lld, the segment has %lld", name, \
		    (long long)f.field, (long long)want.field)
	SAME(first_rev, "first_rev");
	SAME(last_rev, "last_rev");
	SAME(revisions, "revisions");
	SAME(events, "events");
	SAME(leases, "leases");
	SAME(first_time_ms, "first_time");
#undef SAME
	if (f.last_time_ms < p->last_wall)
		return bad(p, err, "footer last_time %lld before the last revision's %lld",
		    (long long)f.last_time_ms, (long long)p->last_wall);
	if (!have_sha)
		return bad(p, err, "footer without sha256");
	if (memcmp(f.sha256, want.sha256, 32) != 0)
		return bad(p, err, "sha256 of the %llu bytes before the footer does not match "
		    "the footer's", (unsigned long long)p->offset);
	p->footer = f;
	p->have_footer = 1;
	if (p->cb.on_footer != NULL && (r = p->cb.on_footer(p->cb.arg, &f, err)) < 0)
		return r;
	return 0;
}

/* One whole record: body holds payload and crc (need bytes). */
static int
parse_record(struct evl_parse *p, const uint8_t *body, struct lb_err *err)
{
	size_t len = p->need - 4;
	int type = p->hdr[0];
	uint32_t crc;

	crc = lb_crc32c_update(LB_CRC32C_INIT, p->hdr, 5);
	crc = lb_crc32c_final(lb_crc32c_update(crc, body, len));
	if (crc != get_le32(body + len))
		return bad(p, err, "crc32c mismatch (stored %08x, computed %08x)",
		    get_le32(body + len), crc);
	if (type != EVL_REC_FOOTER && (EVP_DigestUpdate(p->sha, p->hdr, 5) != 1 ||
	    EVP_DigestUpdate(p->sha, body, p->need) != 1))
		return lb_err_set(err, LB_E_INTERNAL, "evlog: sha256 failed");
	if (!p->have_header && type != EVL_REC_HEADER)
		return bad(p, err, "the first record is not a header");
	switch (type) {
	case EVL_REC_HEADER:
		if (p->have_header)
			return bad(p, err, "a second header");
		return parse_header(p, body, len, err);
	case EVL_REC_REVISION:
		return parse_revision(p, body, len, err);
	case EVL_REC_LEASE:
		return parse_lease(p, body, len, err);
	case EVL_REC_FOOTER:
		return parse_footer(p, body, len, err);
	default:
		/* Checked when the type byte arrived: a skippable one. */
		return 0;
	}
}

static int
parse_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct evl_parse *p = (struct evl_parse *)f;
	const uint8_t *in = buf;
	size_t take;
	int r;

	if (p->failed)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: write after a failure");
	while (len > 0) {
		if (p->have_footer) {
			r = lb_err_set(err, LB_E_CORRUPT, "evlog: %zu or more bytes after the "
			    "footer (byte %llu)", len, (unsigned long long)p->offset);
			goto fail;
		}
		if (p->hdr_have < 5) {
			take = 5 - p->hdr_have < len ? 5 - p->hdr_have : len;
			memcpy(p->hdr + p->hdr_have, in, take);
			p->hdr_have += take;
			in += take;
			len -= take;
			if (p->hdr_have < 5)
				break;
			if (p->hdr[0] == 0 || (p->hdr[0] > EVL_REC_FOOTER &&
			    p->hdr[0] < EVL_REC_SKIPPABLE)) {
				r = bad(p, err, "unknown record type %d", p->hdr[0]);
				goto fail;
			}
			if (get_le32(p->hdr + 1) > EVL_RECORD_MAX) {
				r = bad(p, err, "length %u over the %u MiB limit",
				    get_le32(p->hdr + 1), EVL_RECORD_MAX >> 20);
				goto fail;
			}
			p->need = (size_t)get_le32(p->hdr + 1) + 4;
			p->body_have = 0;
			continue;
		}
		if (p->body_have == 0 && len >= p->need) {
			/* The whole record is here: no copy. */
			if ((r = parse_record(p, in, err)) < 0)
				goto fail;
			in += p->need;
			len -= p->need;
		} else {
			take = p->need - p->body_have < len ? p->need - p->body_have : len;
			/* Grown with what arrives, not with what a length
			 * claims: 5 hostile bytes do not allocate 64 MiB. */
			if (p->body_have + take > p->body_cap) {
				size_t cap = p->body_cap < 65536 ? 65536 : 2 * p->body_cap;
				uint8_t *nb;

				if (cap > p->need)
					cap = p->need;
				if (cap < p->body_have + take)
					cap = p->body_have + take;
				if ((nb = realloc(p->body, cap)) == NULL) {
					r = lb_err_set(err, LB_E_NOMEM, "out of memory");
					goto fail;
				}
				p->body = nb;
				p->body_cap = cap;
			}
			memcpy(p->body + p->body_have, in, take);
			p->body_have += take;
			in += take;
			len -= take;
			if (p->body_have < p->need)
				break;
			if ((r = parse_record(p, p->body, err)) < 0)
				goto fail;
			if (p->body_cap >= KEEP_BUF) {
				free(p->body);
				p->body = NULL;
				p->body_cap = 0;
			}
		}
		p->offset += 5 + p->need;
		p->index++;
		p->hdr_have = 0;
		p->body_have = 0;
	}
	return 0;
fail:
	p->failed = 1;
	return r;
}

static int
parse_finish(struct flt *f, struct lb_err *err)
{
	struct evl_parse *p = (struct evl_parse *)f;

	if (p->failed)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: finish after a failure");
	if (p->hdr_have > 0)
		return bad(p, err, "cut short: %zu of %zu bytes", p->hdr_have < 5 ?
		    p->hdr_have : 5 + p->body_have, p->hdr_have < 5 ? (size_t)5 :
		    5 + p->need);
	if (!p->have_header)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: empty segment (no header)");
	if (!p->have_footer)
		return lb_err_set(err, LB_E_CORRUPT, "evlog: segment cut short after %llu "
		    "bytes: no footer (last revision read %lld)",
		    (unsigned long long)p->offset, (long long)(p->next_rev - 1));
	return 0;
}

static void
parse_free(struct flt *f)
{
	struct evl_parse *p = (struct evl_parse *)f;

	EVP_MD_CTX_free(p->sha);
	free(p->body);
	free(p->ev);
	free(p);
}

static const struct flt_ops parse_ops = { "evlog", parse_write, parse_finish, parse_free };

int
evl_parse_new(const struct evl_parse_cb *cb, struct flt **out, struct lb_err *err)
{
	struct evl_parse *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	p->base.ops = &parse_ops;
	if (cb != NULL)
		p->cb = *cb;
	if ((p->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1) {
		parse_free(&p->base);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	*out = &p->base;
	return 0;
}

int
evl_parse_header(const struct flt *f, struct evl_header *out)
{
	const struct evl_parse *p = (const struct evl_parse *)f;

	if (!p->have_header)
		return LB_E_NOTFOUND;
	*out = p->header;
	return 0;
}

int
evl_parse_footer(const struct flt *f, struct evl_footer *out)
{
	const struct evl_parse *p = (const struct evl_parse *)f;

	if (!p->have_footer)
		return LB_E_NOTFOUND;
	*out = p->footer;
	return 0;
}
