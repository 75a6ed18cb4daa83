/*
 * evlog_test.c: the event-log segment format (evlog/evlog.h) and segment
 * objects (evlog/segment.h).  Round trips whose oracle is the writer
 * itself (the parser's callbacks drive a second writer, which must give
 * the same bytes), every split of the input, each corruption the format
 * promises to catch (records crafted by hand where the writer refuses to
 * make them), the JSON manifest, and segments put on and read from a
 * file:// repository with a real age key, decrypted once more by
 * Debian's `age -d | zstd -d` as the outside oracle.
 *
 * `evlog_test corpus DIR` writes seed segments for tests/fuzz/evlog_fuzz.c;
 * `evlog_test bench` measures a full segment written and read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "../harness.h"
#include "common/crc32c.h"
#include "common/fmt.h"
#include "common/pb.h"
#include "common/secret.h"
#include "evlog/evlog.h"
#include "evlog/segment.h"
#include "repo/repo.h"
#include "sign/sign.h"
#include "stream/age.h"

#define BIG (1536 * 1024)              /* a value near etcd's 1.5 MiB limit */
#define T0 1764583711123LL             /* 2025-12-01T10:08:31.123Z */

static char tmpdir[] = "/tmp/lb-evlog-XXXXXX";

/* A buffer that fills once and is then read many times. */
struct bytes {
	uint8_t *p;
	size_t len;
};

static uint8_t *bigval;

static struct etcd_kv_event
ev_put(const char *key, const void *val, size_t vlen, int64_t rev, int64_t create,
    int64_t version, int64_t lease)
{
	struct etcd_kv_event e;

	memset(&e, 0, sizeof(e));
	e.type = ETCD_EV_PUT;
	e.key = (const uint8_t *)key;
	e.key_len = strlen(key);
	e.value = val;
	e.value_len = vlen;
	e.create_revision = create;
	e.mod_revision = rev;
	e.version = version;
	e.lease = lease;
	return e;
}

static struct etcd_kv_event
ev_del(const char *key, int64_t rev)
{
	struct etcd_kv_event e;

	memset(&e, 0, sizeof(e));
	e.type = ETCD_EV_DELETE;
	e.key = (const uint8_t *)key;
	e.key_len = strlen(key);
	e.mod_revision = rev;
	return e;
}

static void
header_init(struct evl_header *h, int64_t first_rev)
{
	memset(h, 0, sizeof(*h));
	h->version = EVL_VERSION;
	h->cluster = "prod-1";
	h->cluster_id = 0xcdf818194e3a8c32ULL;
	h->first_rev = first_rev;
	h->has_prev = 1;
	memset(h->prev_sha256, 0xab, 32);
	h->created_ms = T0;
	h->lifeboat_version = LB_VERSION;
}

/* The standard segment: revisions 10..13 (or ..12 without the big one)
 * with a three-event transaction, an empty value, deletes, leases and,
 * with big, a 1.5 MiB value.  Written into w. */
static int
write_standard(struct evl_writer *w, int big, struct lb_err *err)
{
	struct etcd_kv_event e[3];
	int r;

	e[0] = ev_put("/registry/pods/a", "1", 1, 10, 10, 1, 0);
	if ((r = evl_write_revision(w, 10, T0 + 5, e, 1, err)) < 0 ||
	    (r = evl_write_lease(w, 0x694d7ab1c2d3e4f5LL, 60, err)) < 0)
		return r;
	e[0] = ev_put("/registry/b", "", 0, 11, 11, 1, 0);
	e[1] = ev_put("/registry/leases/c", "held", 4, 11, 9, 3, 0x694d7ab1c2d3e4f5LL);
	e[2] = ev_del("/registry/pods/a", 11);
	if ((r = evl_write_revision(w, 11, T0 + 7, e, 3, err)) < 0 ||
	    (r = evl_write_lease(w, 7, 0, err)) < 0)
		return r;
	e[0] = ev_del("/registry/b", 12);
	if ((r = evl_write_revision(w, 12, T0 + 7, e, 1, err)) < 0)
		return r;
	if (big) {
		e[0] = ev_put("/big", bigval, BIG, 13, 13, 1, 0);
		e[1] = ev_put("/big2", bigval + 1, BIG - 1, 13, 13, 1, 0);
		if ((r = evl_write_revision(w, 13, T0 + 9, e, 2, err)) < 0)
			return r;
	}
	return 0;
}

/* Writes the standard segment into memory. */
static int
make_segment_prev(int big, int has_prev, struct bytes *out, struct evl_footer *f)
{
	struct flt *mem = flt_mem_new(16u << 20);
	struct evl_writer *w = NULL;
	struct evl_header h;
	struct lb_err err;
	const uint8_t *d;
	int r;

	header_init(&h, 10);
	h.has_prev = has_prev;
	if ((r = evl_writer_new(mem, &h, &w, &err)) < 0 ||
	    (r = write_standard(w, big, &err)) < 0 ||
	    (r = evl_writer_finish(w, T0 + 30000, f, &err)) < 0) {
		printf("# make_segment: %s\n", err.msg);
		goto out;
	}
	d = flt_mem_data(mem, &out->len);
	out->p = malloc(out->len);
	memcpy(out->p, d, out->len);
out:
	evl_writer_free(w);
	flt_free(mem);
	return r;
}

static int
make_segment(int big, struct bytes *out, struct evl_footer *f)
{
	return make_segment_prev(big, 1, out, f);
}

/* Callbacks that write what they are given into a second writer: the
 * round trip's oracle is byte equality with the original. */
struct copy {
	struct flt *mem;
	struct evl_writer *w;
	int headers, revisions, leases, footers;
	uint64_t events;
	int saw_big, saw_empty_put, saw_delete;
	int64_t lease_ids[4];
};

static int
c_header(void *arg, const struct evl_header *h, struct lb_err *err)
{
	struct copy *c = arg;

	c->headers++;
	return evl_writer_new(c->mem, h, &c->w, err);
}

static int
c_revision(void *arg, int64_t rev, int64_t wall, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct copy *c = arg;

	c->revisions++;
	c->events += n;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].value_len == BIG && memcmp(ev[i].value, bigval, BIG) == 0)
			c->saw_big++;
		if (ev[i].type == ETCD_EV_PUT && ev[i].value_len == 0 && ev[i].value != NULL)
			c->saw_empty_put++;
		if (ev[i].type == ETCD_EV_DELETE)
			c->saw_delete++;
	}
	return evl_write_revision(c->w, rev, wall, ev, n, err);
}

static int
c_lease(void *arg, int64_t id, int64_t ttl, struct lb_err *err)
{
	struct copy *c = arg;

	if (c->leases < 4)
		c->lease_ids[c->leases] = id;
	c->leases++;
	return evl_write_lease(c->w, id, ttl, err);
}

static int
c_footer(void *arg, const struct evl_footer *f, struct lb_err *err)
{
	struct copy *c = arg;

	c->footers++;
	return evl_writer_finish(c->w, f->last_time_ms, NULL, err);
}

static void
copy_init(struct copy *c, struct evl_parse_cb *cb)
{
	memset(c, 0, sizeof(*c));
	c->mem = flt_mem_new(16u << 20);
	cb->on_header = c_header;
	cb->on_revision = c_revision;
	cb->on_lease = c_lease;
	cb->on_footer = c_footer;
	cb->arg = c;
}

static void
copy_free(struct copy *c)
{
	evl_writer_free(c->w);
	flt_free(c->mem);
}

/* Feeds b into a fresh parser in pieces of step bytes (0: at once) and
 * finishes it. */
static int
parse_bytes(const uint8_t *p, size_t len, size_t step, const struct evl_parse_cb *cb,
    struct evl_footer *f, struct lb_err *err)
{
	struct flt *ps = NULL;
	size_t off = 0, k;
	int r;

	if ((r = evl_parse_new(cb, &ps, err)) < 0)
		return r;
	while (off < len) {
		k = step == 0 || step > len - off ? len - off : step;
		if ((r = flt_write(ps, p + off, k, err)) < 0)
			goto out;
		off += k;
	}
	if ((r = flt_finish(ps, err)) < 0)
		goto out;
	if (f != NULL && evl_parse_footer(ps, f) != 0)
		r = LB_E_INTERNAL;
out:
	flt_free(ps);
	return r;
}

static void
round_trip_is_byte_exact(void)
{
	struct evl_parse_cb cb;
	struct evl_footer f, pf;
	struct bytes seg;
	struct copy c;
	struct lb_err err;
	const uint8_t *d;
	size_t n;

	CHECK_OK(make_segment(1, &seg, &f), &err);
	CHECK_INT(f.first_rev, ==, 10);
	CHECK_INT(f.last_rev, ==, 13);
	CHECK_INT(f.revisions, ==, 4);
	CHECK_INT(f.events, ==, 7);
	CHECK_INT(f.leases, ==, 2);
	CHECK_INT(f.first_time_ms, ==, T0 + 5);
	CHECK_INT(f.last_time_ms, ==, T0 + 30000);
	copy_init(&c, &cb);
	CHECK_OK(parse_bytes(seg.p, seg.len, 0, &cb, &pf, &err), &err);
	CHECK(memcmp(&pf, &f, sizeof(f)) == 0);
	CHECK_INT(c.headers, ==, 1);
	CHECK_INT(c.revisions, ==, 4);
	CHECK_INT(c.events, ==, 7);
	CHECK_INT(c.leases, ==, 2);
	CHECK_INT(c.footers, ==, 1);
	CHECK_INT(c.saw_big, ==, 1);
	CHECK_INT(c.saw_empty_put, ==, 1);
	CHECK_INT(c.saw_delete, ==, 2);
	CHECK_INT(c.lease_ids[0], ==, 0x694d7ab1c2d3e4f5LL);
	CHECK_INT(c.lease_ids[1], ==, 7);
	d = flt_mem_data(c.mem, &n);
	CHECK_INT(n, ==, seg.len);
	CHECK(memcmp(d, seg.p, n) == 0);
	copy_free(&c);
	free(seg.p);
}

/* The footer's sha256 is of the bytes before the footer record; found
 * by walking the records. */
static size_t
footer_offset(const uint8_t *p, size_t len)
{
	size_t off = 0, l;

	while (off + 5 <= len) {
		l = (size_t)p[off + 1] | (size_t)p[off + 2] << 8 | (size_t)p[off + 3] << 16 |
		    (size_t)p[off + 4] << 24;
		if (p[off] == EVL_REC_FOOTER)
			return off;
		off += 9 + l;
	}
	return 0;
}

static void
footer_hash_covers_what_precedes(void)
{
	struct evl_footer f;
	struct bytes seg;
	struct lb_err err;
	uint8_t sha[32];
	size_t fo;

	CHECK_OK(make_segment(0, &seg, &f), &err);
	fo = footer_offset(seg.p, seg.len);
	CHECK(fo > 0);
	SHA256(seg.p, fo, sha);
	CHECK(memcmp(sha, f.sha256, 32) == 0);
	/* The first record is the header, type 1, and the crc is the
	 * Castagnoli crc of type, length and payload. */
	CHECK_INT(seg.p[0], ==, EVL_REC_HEADER);
	{
		size_t l = (size_t)seg.p[1] | (size_t)seg.p[2] << 8;
		uint32_t crc = lb_crc32c_final(lb_crc32c_update(LB_CRC32C_INIT, seg.p, 5 + l));
		CHECK_INT(seg.p[5 + l], ==, crc & 0xff);
		CHECK_INT(seg.p[5 + l + 3], ==, crc >> 24);
	}
	free(seg.p);
}

static void
every_split_parses(void)
{
	static const size_t steps[] = { 1, 2, 3, 5, 8, 13, 4096, 65537 };
	struct evl_parse_cb cb;
	struct evl_footer f, pf;
	struct bytes seg, big;
	struct copy c;
	struct lb_err err;
	struct flt *ps;
	const uint8_t *d;
	size_t i, n;

	CHECK_OK(make_segment(0, &seg, &f), &err);
	/* Two pieces, cut at every byte. */
	for (i = 0; i <= seg.len; i++) {
		copy_init(&c, &cb);
		CHECK_OK(evl_parse_new(&cb, &ps, &err), &err);
		if (flt_write(ps, seg.p, i, &err) != 0 || flt_write(ps, seg.p + i,
		    seg.len - i, &err) != 0 || flt_finish(ps, &err) != 0)
			TH_FAIL("cut at %zu: %s", i, err.msg);
		flt_free(ps);
		d = flt_mem_data(c.mem, &n);
		if (n != seg.len || memcmp(d, seg.p, n) != 0)
			TH_FAIL("cut at %zu: a different copy", i);
		copy_free(&c);
	}
	/* Writes of a byte at a time, and other odd sizes, with the big one. */
	CHECK_OK(make_segment(1, &big, &f), &err);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		copy_init(&c, &cb);
		if (parse_bytes(big.p, big.len, steps[i], &cb, &pf, &err) != 0)
			TH_FAIL("writes of %zu: %s", steps[i], err.msg);
		d = flt_mem_data(c.mem, &n);
		CHECK(n == big.len && memcmp(d, big.p, n) == 0);
		CHECK(memcmp(&pf, &f, sizeof(f)) == 0);
		copy_free(&c);
	}
	free(seg.p);
	free(big.p);
}

/* Expects parsing p to fail with code, and the message to say what. */
static int
expect_bad(const uint8_t *p, size_t len, size_t step, int code, const char *what)
{
	struct lb_err err;
	int r;

	lb_err_clear(&err);
	r = parse_bytes(p, len, step, NULL, NULL, &err);
	if (r != code || strstr(err.msg, what) == NULL) {
		printf("# expected %d '%s', got %d '%s'\n", code, what, r, err.msg);
		return -1;
	}
	return 0;
}

static void
corruption_is_caught(void)
{
	struct evl_footer f;
	struct bytes seg;
	struct lb_err err;
	uint8_t *p;
	size_t i, fo;

	CHECK_OK(make_segment(0, &seg, &f), &err);
	p = malloc(seg.len + 16);
	/* Every single-bit flip anywhere fails: crc, length, type or the
	 * footer's checks (the footer's own payload is covered by its crc). */
	for (i = 0; i < seg.len; i++) {
		memcpy(p, seg.p, seg.len);
		p[i] ^= 0x10;
		if (parse_bytes(p, seg.len, 0, NULL, NULL, &err) != LB_E_CORRUPT)
			TH_FAIL("a flipped bit at byte %zu was not caught", i);
	}
	/* A byte of a payload, and of a crc, by name. */
	memcpy(p, seg.p, seg.len);
	p[20] ^= 1;
	CHECK(expect_bad(p, seg.len, 0, LB_E_CORRUPT, "crc32c mismatch") == 0);
	memcpy(p, seg.p, seg.len);
	p[footer_offset(p, seg.len) - 1] ^= 0x80;
	CHECK(expect_bad(p, seg.len, 0, LB_E_CORRUPT, "crc32c mismatch") == 0);
	/* Every truncation fails, at a write or at finish. */
	for (i = 0; i < seg.len; i++)
		if (parse_bytes(seg.p, i, 0, NULL, NULL, &err) != LB_E_CORRUPT)
			TH_FAIL("truncated to %zu bytes was accepted", i);
	fo = footer_offset(seg.p, seg.len);
	CHECK(expect_bad(seg.p, fo, 0, LB_E_CORRUPT, "no footer") == 0);
	CHECK(expect_bad(seg.p, fo + 3, 0, LB_E_CORRUPT, "cut short") == 0);
	CHECK(expect_bad(seg.p, 0, 0, LB_E_CORRUPT, "no header") == 0);
	/* Anything after the footer: one byte, or a whole segment again. */
	memcpy(p, seg.p, seg.len);
	p[seg.len] = 0;
	CHECK(expect_bad(p, seg.len + 1, 0, LB_E_CORRUPT, "after the footer") == 0);
	CHECK(expect_bad(p, seg.len + 1, 1, LB_E_CORRUPT, "after the footer") == 0);
	free(p);
	p = malloc(2 * seg.len);
	memcpy(p, seg.p, seg.len);
	memcpy(p + seg.len, seg.p, seg.len);
	CHECK(expect_bad(p, 2 * seg.len, 0, LB_E_CORRUPT, "after the footer") == 0);
	free(p);
	free(seg.p);
}

/* Hand-made records, for what the writer refuses to make. */
struct craft {
	uint8_t buf[4096];
	size_t len;
};

static void
craft_rec(struct craft *c, int type, const uint8_t *payload, size_t len)
{
	uint8_t *r = c->buf + c->len;
	uint32_t crc;

	r[0] = (uint8_t)type;
	r[1] = (uint8_t)len;
	r[2] = (uint8_t)(len >> 8);
	r[3] = (uint8_t)(len >> 16);
	r[4] = (uint8_t)(len >> 24);
	memcpy(r + 5, payload, len);
	crc = lb_crc32c_final(lb_crc32c_update(LB_CRC32C_INIT, r, 5 + len));
	r[5 + len] = (uint8_t)crc;
	r[6 + len] = (uint8_t)(crc >> 8);
	r[7 + len] = (uint8_t)(crc >> 16);
	r[8 + len] = (uint8_t)(crc >> 24);
	c->len += 9 + len;
}

static void
craft_header(struct craft *c, uint64_t version, int64_t first_rev)
{
	uint8_t b[256];
	struct pb_writer w;

	pb_writer_init(&w, b, sizeof(b));
	pb_put_varint_field(&w, 1, version);
	pb_put_string_field(&w, 2, "prod-1");
	pb_put_varint_field(&w, 4, (uint64_t)first_rev);
	pb_put_varint_field(&w, 6, T0);
	craft_rec(c, EVL_REC_HEADER, b, w.len);
}

/* A revision with one put of key k whose mod_revision is mod. */
static void
craft_revision(struct craft *c, int64_t rev, int64_t mod, int64_t wall)
{
	uint8_t b[256], e[128];
	struct pb_writer w, we;

	pb_writer_init(&we, e, sizeof(e));
	pb_put_string_field(&we, 2, "k");
	pb_put_bytes_field(&we, 3, "v", 1);
	pb_put_varint_field(&we, 5, (uint64_t)mod);
	pb_writer_init(&w, b, sizeof(b));
	pb_put_varint_field(&w, 1, (uint64_t)rev);
	pb_put_varint_field(&w, 2, (uint64_t)wall);
	pb_put_bytes_field(&w, 3, e, we.len);
	craft_rec(c, EVL_REC_REVISION, b, w.len);
}

/* A footer whose hash is right for what precedes and whose counts are
 * given. */
static void
craft_footer(struct craft *c, int64_t first, int64_t last, uint64_t revs, uint64_t evs,
    int64_t first_time, int64_t last_time)
{
	uint8_t b[256], sha[32];
	struct pb_writer w;

	SHA256(c->buf, c->len, sha);
	pb_writer_init(&w, b, sizeof(b));
	pb_put_varint_field(&w, 1, (uint64_t)first);
	pb_put_varint_field(&w, 2, (uint64_t)last);
	pb_put_varint_field(&w, 3, revs);
	pb_put_varint_field(&w, 4, evs);
	pb_put_varint_field(&w, 5, (uint64_t)first_time);
	pb_put_varint_field(&w, 6, (uint64_t)last_time);
	pb_put_bytes_field(&w, 7, sha, 32);
	craft_rec(c, EVL_REC_FOOTER, b, w.len);
}

static void
crafted_segments_are_judged(void)
{
	static const uint8_t skip[] = { 1, 2, 3 };
	struct craft c;
	struct lb_err err;

	/* A good one made by hand: an independent encoder agrees. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 5, T0);
	craft_revision(&c, 6, 6, T0 + 1);
	craft_footer(&c, 5, 6, 2, 2, T0, T0 + 1000);
	CHECK_OK(parse_bytes(c.buf, c.len, 0, NULL, NULL, &err), &err);
	/* A skippable record type is skipped; an unknown one below 128 is not. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_rec(&c, 200, skip, sizeof(skip));
	craft_revision(&c, 5, 5, T0);
	craft_footer(&c, 5, 5, 1, 1, T0, T0);
	CHECK_OK(parse_bytes(c.buf, c.len, 0, NULL, NULL, &err), &err);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_rec(&c, 9, skip, sizeof(skip));
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "unknown record type 9") == 0);
	/* A gap, a repeat, a first revision other than the header's. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 5, T0);
	craft_revision(&c, 7, 7, T0);
	craft_footer(&c, 5, 7, 2, 2, T0, T0);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "revision 7 where 6 was expected "
	    "(a gap)") == 0);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 5, T0);
	craft_revision(&c, 5, 5, T0);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "a repeat") == 0);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 4, 4, T0);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "revision 4 where 5") == 0);
	/* An event of another revision inside a revision record. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 4, T0);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "mod_revision 4") == 0);
	/* Time going back. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 5, T0 + 10);
	craft_revision(&c, 6, 6, T0 + 9);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "wall time") == 0);
	/* Wrong footer counts, each. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_revision(&c, 5, 5, T0);
	craft_revision(&c, 6, 6, T0);
	{
		struct craft base = c;
		craft_footer(&c, 5, 6, 3, 2, T0, T0);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "footer says revisions 3, "
		    "the segment has 2") == 0);
		c = base;
		craft_footer(&c, 5, 6, 2, 1, T0, T0);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "footer says events 1") == 0);
		c = base;
		craft_footer(&c, 5, 7, 2, 2, T0, T0);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "footer says last_rev 7") == 0);
		c = base;
		craft_footer(&c, 4, 6, 2, 2, T0, T0);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "footer says first_rev 4") == 0);
		c = base;
		craft_footer(&c, 5, 6, 2, 2, T0 + 1, T0 + 1);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "first_time") == 0);
		c = base;
		craft_footer(&c, 5, 6, 2, 2, T0, T0 - 1);
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "last_time") == 0);
		/* A footer whose hash is of other bytes. */
		c = base;
		c.buf[10] ^= 1;     /* inside the header: its crc is now wrong too */
		craft_footer(&c, 5, 6, 2, 2, T0, T0);
		c.buf[10] ^= 1;
		CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "sha256 of the") == 0);
	}
	/* Headers: missing, doubled, a newer version. */
	memset(&c, 0, sizeof(c));
	craft_revision(&c, 5, 5, T0);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "not a header") == 0);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_header(&c, 1, 5);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "a second header") == 0);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 2, 5);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_UNSUPPORTED, "version 2 is newer") == 0);
	/* A length over the cap fails at once, before 64 MiB are awaited. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	c.buf[c.len] = EVL_REC_REVISION;
	c.buf[c.len + 1] = 1;
	c.buf[c.len + 2] = 0;
	c.buf[c.len + 3] = 0;
	c.buf[c.len + 4] = 4;     /* 64 MiB + 1 */
	CHECK(expect_bad(c.buf, c.len + 5, 0, LB_E_CORRUPT, "over the 64 MiB limit") == 0);
	/* Malformed protobuf inside a good crc. */
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_rec(&c, EVL_REC_REVISION, (const uint8_t *)"\x08\xff", 2);
	CHECK(expect_bad(c.buf, c.len, 0, LB_E_CORRUPT, "malformed protobuf") == 0);
}

static void
writer_refuses_bad_input(void)
{
	struct flt *mem = flt_mem_new(1u << 20);
	struct evl_writer *w = NULL;
	struct etcd_kv_event e;
	struct evl_header h;
	struct lb_err err;

	header_init(&h, 0);
	CHECK(evl_writer_new(mem, &h, &w, &err) == LB_E_USAGE);
	h.first_rev = 3;
	h.cluster = "../x";
	CHECK(evl_writer_new(mem, &h, &w, &err) == LB_E_USAGE);
	h.cluster = "c";
	CHECK_OK(evl_writer_new(mem, &h, &w, &err), &err);
	CHECK_INT(evl_writer_next_rev(w), ==, 3);
	e = ev_put("k", "v", 1, 4, 4, 1, 0);
	CHECK(evl_write_revision(w, 4, T0, &e, 1, &err) == LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "a gap");
	CHECK(evl_write_revision(w, 3, T0, &e, 0, &err) == LB_E_PROTO);
	CHECK(evl_write_revision(w, 3, T0, &e, 1, &err) == LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "mod_revision 4");
	e = ev_put("", "v", 1, 3, 3, 1, 0);
	CHECK(evl_write_revision(w, 3, T0, &e, 1, &err) == LB_E_PROTO);
	e = ev_put("k", "v", (size_t)EVL_RECORD_MAX + 1, 3, 3, 1, 0);
	CHECK(evl_write_revision(w, 3, T0, &e, 1, &err) == LB_E_TOOBIG);
	CHECK_CONTAINS(err.msg, "64 MiB");
	CHECK(evl_write_lease(w, 0, 5, &err) == LB_E_PROTO);
	/* Nothing refused was written: the segment is still good. */
	e = ev_put("k", "v", 1, 3, 3, 1, 0);
	CHECK_OK(evl_write_revision(w, 3, T0 + 100, &e, 1, &err), &err);
	/* A clock that steps back is taken as standing still. */
	e = ev_put("k", "v", 1, 4, 3, 2, 0);
	CHECK_OK(evl_write_revision(w, 4, T0 + 50, &e, 1, &err), &err);
	CHECK_OK(evl_writer_finish(w, T0, NULL, &err), &err);
	CHECK(evl_write_lease(w, 5, 5, &err) == LB_E_INTERNAL);
	{
		const uint8_t *d;
		size_t n;
		struct evl_footer f;
		d = flt_mem_data(mem, &n);
		CHECK_OK(parse_bytes(d, n, 0, NULL, &f, &err), &err);
		CHECK_INT(f.last_time_ms, ==, T0 + 100);
		CHECK_INT(f.revisions, ==, 2);
	}
	evl_writer_free(w);
	flt_free(mem);
}

static void
empty_segment_round_trips(void)
{
	struct flt *mem = flt_mem_new(1u << 20);
	struct evl_writer *w = NULL;
	struct evl_header h;
	struct evl_footer f, pf;
	struct lb_err err;
	const uint8_t *d;
	size_t n;

	header_init(&h, 100);
	h.has_prev = 0;
	CHECK_OK(evl_writer_new(mem, &h, &w, &err), &err);
	CHECK_OK(evl_writer_finish(w, T0 + 30000, &f, &err), &err);
	CHECK_INT(f.revisions, ==, 0);
	CHECK_INT(f.last_rev, ==, 99);
	CHECK_INT(f.first_time_ms, ==, T0);
	d = flt_mem_data(mem, &n);
	CHECK_OK(parse_bytes(d, n, 1, NULL, &pf, &err), &err);
	CHECK(memcmp(&f, &pf, sizeof(f)) == 0);
	evl_writer_free(w);
	flt_free(mem);
}

/* the manifest */

static struct evl_meta *
sample_meta(void)
{
	struct evl_meta *m = evl_meta_new();
	struct evl_keys k;
	struct lb_err err;

	m->cluster = strdup("prod-1");
	m->cluster_id = 0xcdf818194e3a8c32ULL;
	m->first_rev = 10;
	m->last_rev = 13;
	m->first_time_ms = T0 + 5;
	m->last_time_ms = T0 + 30000;
	m->revisions = 4;
	m->events = 7;
	m->leases = 2;
	m->plain_size = 3 * 1024 * 1024;
	evl_keys("prod-1", 10, 13, T0 + 5, &k, &err);
	m->object = strdup(k.object);
	m->stored_size = 123456;
	m->stored_sha256 = strdup("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	m->prev_sha256 = strdup("ab00000000000000000000000000000000000000000000000000000000000000");
	m->recipients = calloc(2, sizeof(char *));
	m->recipients[0] = strdup("sha256:0123456789abcdef");
	m->recipients[1] = strdup("sha256:fedcba9876543210");
	m->n_recipients = 2;
	m->signer = strdup("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
	m->compress_level = 3;
	m->hostname = strdup("appliance-1");
	return m;
}

static void
keys_sort_by_revision(void)
{
	struct evl_keys k;
	struct lb_err err;

	CHECK_OK(evl_keys("prod-1", 10, 13, T0, &k, &err), &err);
	CHECK_STR(k.object, "prod-1/wal/2025/12/01/00000000000000000010-"
	    "00000000000000000013.evlog.zst.age");
	CHECK_STR(k.meta, "prod-1/wal/2025/12/01/00000000000000000010-"
	    "00000000000000000013.evlog.json");
	CHECK_STR(k.sig, "prod-1/wal/2025/12/01/00000000000000000010-"
	    "00000000000000000013.evlog.json.sig");
	CHECK_OK(evl_keys("c", 100, 99, 0, &k, &err), &err);
	CHECK_STR(k.object, "c/wal/1970/01/01/00000000000000000100-"
	    "00000000000000000099.evlog.zst.age");
	CHECK(evl_keys("c", 100, 98, 0, &k, &err) == LB_E_USAGE);
	CHECK(evl_keys("c", 0, 0, 0, &k, &err) == LB_E_USAGE);
	CHECK(evl_keys("a/b", 1, 1, 0, &k, &err) == LB_E_USAGE);
	CHECK(evl_keys("c", 1, 1, -1, &k, &err) == LB_E_USAGE);
	CHECK(strcmp("c/wal/2025/12/01/00000000000000000009-00000000000000000010",
	    "c/wal/2025/12/01/00000000000000000010-00000000000000000010") < 0);
}

static void
manifest_round_trips(void)
{
	struct evl_meta *m = sample_meta(), *back = NULL;
	struct evl_keys k;
	struct lb_err err;
	char *json = NULL, *json2 = NULL;

	CHECK_OK(evl_meta_to_json(m, &json, &err), &err);
	CHECK_CONTAINS(json, "\"format\": \"lifeboat-evlog/1\"");
	CHECK_CONTAINS(json, "\"first_time\": \"2025-12-01T10:08:31.128Z\"");
	CHECK_CONTAINS(json, "\"last_time\": \"2025-12-01T10:09:01.123Z\"");
	CHECK_CONTAINS(json, "\"cluster_id\": \"cdf818194e3a8c32\"");
	CHECK_OK(evl_meta_parse(json, strlen(json), &back, &err), &err);
	CHECK_STR(back->cluster, "prod-1");
	CHECK_INT(back->cluster_id, ==, 0xcdf818194e3a8c32ULL);
	CHECK_INT(back->first_time_ms, ==, T0 + 5);
	CHECK_INT(back->last_time_ms, ==, T0 + 30000);
	CHECK_INT(back->leases, ==, 2);
	CHECK_INT(back->n_recipients, ==, 2);
	CHECK_STR(back->recipients[1], "sha256:fedcba9876543210");
	CHECK_STR(back->signer, m->signer);
	CHECK_STR(back->prev_sha256, m->prev_sha256);
	CHECK_OK(evl_meta_to_json(back, &json2, &err), &err);
	CHECK_STR(json2, json);
	evl_keys("prod-1", 10, 13, T0 + 5, &k, &err);
	CHECK_OK(evl_meta_check_key(back, k.meta, &err), &err);
	CHECK(evl_meta_check_key(back, "prod-1/wal/2025/12/01/x.evlog.json", &err) ==
	    LB_E_CORRUPT);
	/* Optional fields absent: the first of a chain, unsigned. */
	free(back->prev_sha256);
	free(back->signer);
	back->prev_sha256 = back->signer = NULL;
	back->cluster_id = 0;
	free(json2);
	CHECK_OK(evl_meta_to_json(back, &json2, &err), &err);
	CHECK_CONTAINS(json2, "\"prev_sha256\": null");
	evl_meta_free(back);
	back = NULL;
	CHECK_OK(evl_meta_parse(json2, strlen(json2), &back, &err), &err);
	CHECK(back->prev_sha256 == NULL && back->signer == NULL && back->cluster_id == 0);
	evl_meta_free(back);
	evl_meta_free(m);
	free(json);
	free(json2);
}

/* Parses json after f(root) changed it; returns the code, *msg the message. */
static int
parse_changed(const char *json, void (*f)(json_t *, const char *), const char *field,
    char *msg)
{
	json_t *root = json_loads(json, 0, NULL);
	struct evl_meta *m = NULL;
	struct lb_err err;
	char *s;
	int r;

	f(root, field);
	s = json_dumps(root, 0);
	lb_err_clear(&err);
	r = evl_meta_parse(s, strlen(s), &m, &err);
	snprintf(msg, LB_ERR_MSG_MAX, "%s", err.msg);
	evl_meta_free(m);
	free(s);
	json_decref(root);
	return r;
}

static void
del_field(json_t *o, const char *f)
{
	json_object_del(o, f);
}

static void
set_bad(json_t *o, const char *f)
{
	json_object_set_new(o, f, json_string(strcmp(f, "format") == 0 ?
	    "lifeboat-evlog/2" : "x"));
}

static void
manifest_rejects_bad_fields(void)
{
	static const char *required[] = {
		"format", "cluster", "first_rev", "last_rev", "first_time", "last_time",
		"revisions", "events", "leases", "plain_size", "object", "stored_size",
		"stored_sha256", "recipients", "compression", "encryption",
	};
	static const char *optional[] = {
		"cluster_id", "prev_sha256", "signer", "compress_level", "lifeboat_version",
		"hostname",
	};
	static const char *typed[] = {
		"format", "first_rev", "first_time", "stored_sha256", "prev_sha256", "signer",
		"cluster", "object", "recipients", "cluster_id", "events",
	};
	struct evl_meta *m = sample_meta(), *back = NULL;
	struct lb_err err;
	char *json = NULL, msg[LB_ERR_MSG_MAX];
	size_t i;

	CHECK_OK(evl_meta_to_json(m, &json, &err), &err);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (parse_changed(json, del_field, required[i], msg) != LB_E_CORRUPT)
			TH_FAIL("accepted a manifest without %s", required[i]);
		if (strstr(msg, required[i]) == NULL)
			TH_FAIL("without %s: message '%s' does not name it", required[i], msg);
	}
	for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (parse_changed(json, del_field, optional[i], msg) != 0)
			TH_FAIL("refused a manifest without %s: %s", optional[i], msg);
	for (i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		if (parse_changed(json, set_bad, typed[i], msg) != LB_E_CORRUPT)
			TH_FAIL("accepted %s: \"x\"", typed[i]);
		if (strstr(msg, typed[i]) == NULL)
			TH_FAIL("%s: message '%s' does not name it", typed[i], msg);
	}
	CHECK(parse_changed(json, set_bad, "format", msg) == LB_E_CORRUPT);
	CHECK_CONTAINS(msg, "unsupported 'lifeboat-evlog/2'");
	CHECK(evl_meta_parse("[1]", 3, &back, &err) == LB_E_CORRUPT);
	CHECK(evl_meta_parse("{", 1, &back, &err) == LB_E_CORRUPT);
	/* last_rev that does not follow from first_rev and revisions. */
	m->last_rev = 14;
	free(json);
	CHECK_OK(evl_meta_to_json(m, &json, &err), &err);
	CHECK(evl_meta_parse(json, strlen(json), &back, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "last_rev 14");
	/* An object under another name. */
	m->last_rev = 13;
	free(m->object);
	m->object = strdup("prod-1/wal/2025/12/02/00000000000000000010-"
	    "00000000000000000013.evlog.zst.age");
	free(json);
	CHECK_OK(evl_meta_to_json(m, &json, &err), &err);
	CHECK(evl_meta_parse(json, strlen(json), &back, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "object");
	evl_meta_free(m);
	free(json);
}

/* segments on a repository */

struct keyset {
	struct age_identity *id;
	struct age_recipient *rcpt;
	char path[128];
};

static int
keyset_new(struct keyset *k, const char *name)
{
	struct lb_err err = { 0 };
	char *text = NULL, *r = NULL;
	FILE *f;
	int rc;

	memset(k, 0, sizeof(*k));
	snprintf(k->path, sizeof(k->path), "%s/%s.key", tmpdir, name);
	rc = age_keygen(&text, &r, &err);
	if (rc == 0)
		rc = age_identity_parse(text, &k->id, &err);
	if (rc == 0)
		rc = age_recipient_parse(r, &k->rcpt, &err);
	if (rc == 0 && (f = fopen(k->path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
		chmod(k->path, 0600);
	}
	if (rc != 0)
		printf("# keyset_new: %s\n", err.msg);
	free(r);
	lb_secret_free(text);
	return rc;
}

static void
keyset_free(struct keyset *k)
{
	age_identity_free(k->id);
	age_recipient_free(k->rcpt);
}

static struct repo *
open_repo(const char *name)
{
	struct repo_opts o;
	struct repo *r = NULL;
	struct lb_err err;
	char url[256];

	memset(&o, 0, sizeof(o));
	snprintf(url, sizeof(url), "file://%s/%s", tmpdir, name);
	o.url = url;
	if (repo_open(&o, &r, &err) < 0)
		printf("# repo_open: %s\n", err.msg);
	return r;
}

static void
seg_opts(struct evl_segment_opts *o, struct keyset *k, int64_t first_rev)
{
	memset(o, 0, sizeof(*o));
	o->cluster = "prod-1";
	o->cluster_id = 0xcdf818194e3a8c32ULL;
	o->first_rev = first_rev;
	o->created_ms = T0;
	o->rcpts = &k->rcpt;
	o->n_rcpts = 1;
}

static int
file_bytes(const char *path, struct bytes *b)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b->p = malloc((size_t)n + 1);
	b->len = fread(b->p, 1, (size_t)n, f);
	fclose(f);
	return 0;
}

/* Writes the standard segment through a segment object: the capture's way. */
static int
put_standard(struct repo *repo, struct keyset *k, const uint8_t *prev,
    const struct sig_key *signer, struct evl_meta **meta, uint8_t sha[32],
    struct lb_err *err)
{
	struct evl_segment_opts o;
	struct evl_segment *s = NULL;
	int r;

	seg_opts(&o, k, 10);
	o.prev_sha256 = prev;
	if ((r = evl_segment_open(&o, &s, err)) < 0)
		goto out;
	/* The same events as write_standard, through the segment. */
	{
		struct etcd_kv_event e[3];
		e[0] = ev_put("/registry/pods/a", "1", 1, 10, 10, 1, 0);
		if ((r = evl_segment_revision(s, 10, T0 + 5, e, 1, err)) < 0 ||
		    (r = evl_segment_lease(s, 0x694d7ab1c2d3e4f5LL, 60, err)) < 0)
			goto out;
		e[0] = ev_put("/registry/b", "", 0, 11, 11, 1, 0);
		e[1] = ev_put("/registry/leases/c", "held", 4, 11, 9, 3, 0x694d7ab1c2d3e4f5LL);
		e[2] = ev_del("/registry/pods/a", 11);
		if ((r = evl_segment_revision(s, 11, T0 + 7, e, 3, err)) < 0 ||
		    (r = evl_segment_lease(s, 7, 0, err)) < 0)
			goto out;
		e[0] = ev_del("/registry/b", 12);
		if ((r = evl_segment_revision(s, 12, T0 + 7, e, 1, err)) < 0)
			goto out;
		e[0] = ev_put("/big", bigval, BIG, 13, 13, 1, 0);
		e[1] = ev_put("/big2", bigval + 1, BIG - 1, 13, 13, 1, 0);
		if ((r = evl_segment_revision(s, 13, T0 + 9, e, 2, err)) < 0)
			goto out;
	}
	if (evl_segment_stored_sha256(s, sha) != LB_E_NOTFOUND) {
		r = lb_err_set(err, LB_E_INTERNAL, "a stored sha256 before the put");
		goto out;
	}
	if ((r = evl_segment_put(s, repo, signer, T0 + 30000, meta, err)) < 0)
		goto out;
	r = evl_segment_stored_sha256(s, sha);
out:
	evl_segment_free(s);
	return r;
}

static void
segment_put_and_read(void)
{
	struct repo *repo = open_repo("r1");
	struct keyset k, other;
	struct evl_meta *m = NULL, *m2 = NULL, *mp = NULL;
	struct evl_read_info info;
	struct evl_parse_cb cb;
	struct evl_footer f;
	struct bytes seg, obj, js;
	struct copy c;
	struct lb_err err;
	uint8_t sha[32], sha2[32];
	char path[512], hex[65];
	const uint8_t *d;
	size_t n;

	CHECK(repo != NULL);
	CHECK_OK(keyset_new(&k, "k1"), &err);
	CHECK_OK(keyset_new(&other, "k2"), &err);
	CHECK_OK(put_standard(repo, &k, NULL, NULL, &m, sha, &err), &err);
	CHECK_STR(m->object, "prod-1/wal/2025/12/01/00000000000000000010-"
	    "00000000000000000013.evlog.zst.age");
	CHECK(m->prev_sha256 == NULL && m->signer == NULL);
	CHECK_INT(m->revisions, ==, 4);
	CHECK_INT(m->events, ==, 7);
	lb_hex(sha, 32, hex);
	CHECK_STR(m->stored_sha256, hex);
	/* The stored object is what the manifest says. */
	snprintf(path, sizeof(path), "%s/r1/%s", tmpdir, m->object);
	CHECK(file_bytes(path, &obj) == 0);
	CHECK_INT(obj.len, ==, m->stored_size);
	SHA256(obj.p, obj.len, sha2);
	CHECK(memcmp(sha, sha2, 32) == 0);
	/* And so is the manifest beside it, and no signature. */
	snprintf(path, sizeof(path), "%s/r1/prod-1/wal/2025/12/01/00000000000000000010-"
	    "00000000000000000013.evlog.json", tmpdir);
	CHECK(file_bytes(path, &js) == 0);
	CHECK_OK(evl_meta_parse((const char *)js.p, js.len, &mp, &err), &err);
	CHECK_STR(mp->stored_sha256, hex);
	CHECK_INT(mp->plain_size, ==, m->plain_size);
	strcat(path, ".sig");
	CHECK(access(path, F_OK) != 0);
	/* Read back with the sha256 checked first, the plaintext equal to
	 * the writer's own. */
	CHECK_OK(make_segment_prev(1, 0, &seg, &f), &err);
	CHECK_INT(m->plain_size, ==, seg.len);
	copy_init(&c, &cb);
	CHECK_OK(evl_segment_read(repo, m->object, k.id, m->stored_sha256, &cb, &info, &err),
	    &err);
	d = flt_mem_data(c.mem, &n);
	CHECK(n == seg.len && memcmp(d, seg.p, n) == 0);
	CHECK_INT(info.stored_size, ==, obj.len);
	CHECK_STR(info.stored_sha256, hex);
	CHECK_INT(info.plain_size, ==, seg.len);
	CHECK(memcmp(&info.footer, &f, sizeof(f)) == 0);
	CHECK_STR(info.cluster, "prod-1");
	CHECK_INT(info.cluster_id, ==, 0xcdf818194e3a8c32ULL);
	CHECK(!info.has_prev);
	CHECK_INT(info.created_ms, ==, T0);
	CHECK_OK(evl_meta_check_read(mp, &info, &err), &err);
	info.footer.events++;
	CHECK(evl_meta_check_read(mp, &info, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "events");
	info.footer.events--;
	info.has_prev = 1;
	CHECK(evl_meta_check_read(mp, &info, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "prev_sha256");
	info.has_prev = 0;
	info.cluster_id++;
	CHECK(evl_meta_check_read(mp, &info, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "cluster id");
	copy_free(&c);
	/* Streamed, without an expected sha256: the same. */
	memset(&info, 0, sizeof(info));
	CHECK_OK(evl_segment_read(repo, m->object, k.id, NULL, NULL, &info, &err), &err);
	CHECK_STR(info.stored_sha256, hex);
	CHECK_INT(info.stored_size, ==, obj.len);
	/* Another identity opens nothing; another sha256 reads nothing. */
	CHECK(evl_segment_read(repo, m->object, other.id, NULL, NULL, NULL, &err) ==
	    LB_E_CRYPTO);
	copy_init(&c, &cb);
	hex[0] = hex[0] == '0' ? '1' : '0';
	CHECK(evl_segment_read(repo, m->object, k.id, hex, &cb, NULL, &err) == LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "stored sha256 mismatch");
	CHECK_CONTAINS(err.msg, m->object);
	CHECK_INT(c.headers, ==, 0);
	copy_free(&c);
	CHECK(evl_segment_read(repo, "prod-1/wal/none.evlog.zst.age", k.id, NULL, NULL,
	    NULL, &err) == LB_E_NOTFOUND);
	/* A changed stored byte: refused before decryption with the sha256,
	 * by age's authentication without. */
	snprintf(path, sizeof(path), "%s/r1/%s", tmpdir, m->object);
	obj.p[obj.len / 2] ^= 1;
	{
		FILE *fo = fopen(path, "wb");
		fwrite(obj.p, 1, obj.len, fo);
		fclose(fo);
	}
	copy_init(&c, &cb);
	CHECK(evl_segment_read(repo, m->object, k.id, m->stored_sha256, &cb, NULL, &err) ==
	    LB_E_CORRUPT);
	CHECK_INT(c.headers, ==, 0);
	copy_free(&c);
	CHECK(evl_segment_read(repo, m->object, k.id, NULL, NULL, NULL, &err) == LB_E_CORRUPT);
	/* The next segment of the chain, signed, names the first's object. */
	{
		struct sig_key *sk = NULL;
		struct sig_key *who = NULL;
		struct bytes sig;
		struct repo *repo2 = open_repo("r2");

		CHECK_OK(sig_key_generate("evlog-test", &sk, &err), &err);
		CHECK_OK(put_standard(repo2, &k, sha, sk, &m2, sha2, &err), &err);
		lb_hex(sha, 32, hex);
		CHECK_STR(m2->prev_sha256, hex);
		CHECK(m2->signer != NULL && strncmp(m2->signer, "SHA256:", 7) == 0);
		CHECK_OK(evl_segment_read(repo2, m2->object, k.id, m2->stored_sha256, NULL,
		    &info, &err), &err);
		CHECK(info.has_prev && memcmp(info.prev_sha256, sha, 32) == 0);
		CHECK_OK(evl_meta_check_read(m2, &info, &err), &err);
		snprintf(path, sizeof(path), "%s/r2/prod-1/wal/2025/12/01/"
		    "00000000000000000010-00000000000000000013.evlog.json", tmpdir);
		evl_meta_free(mp);
		mp = NULL;
		free(js.p);
		CHECK(file_bytes(path, &js) == 0);
		strcat(path, ".sig");
		CHECK(file_bytes(path, &sig) == 0);
		CHECK_OK(sig_verify(js.p, js.len, (const char *)sig.p, sig.len, EVL_SIG_NS,
		    &who, &err), &err);
		CHECK(sig_key_equal(who, sk));
		sig_key_free(who);
		who = NULL;
		CHECK(sig_verify(js.p, js.len, (const char *)sig.p, sig.len,
		    "lifeboat-manifest", &who, &err) != 0);
		sig_key_free(who);
		sig_key_free(sk);
		free(sig.p);
		repo_close(repo2);
	}
	keyset_free(&k);
	keyset_free(&other);
	evl_meta_free(m);
	evl_meta_free(m2);
	evl_meta_free(mp);
	free(seg.p);
	free(obj.p);
	free(js.p);
	repo_close(repo);
}

static void
segment_fills_and_retries(void)
{
	struct repo *repo = open_repo("r3");
	struct evl_segment_opts o;
	struct evl_segment *s = NULL;
	struct evl_meta *m = NULL;
	struct etcd_kv_event e;
	struct keyset k;
	struct lb_err err;
	int64_t rev;
	char val[100];

	CHECK(repo != NULL);
	CHECK_OK(keyset_new(&k, "k3"), &err);
	seg_opts(&o, &k, 1);
	o.size = 1000;
	o.threads = 1;
	CHECK_OK(evl_segment_open(&o, &s, &err), &err);
	memset(val, 'x', sizeof(val));
	for (rev = 1; !evl_segment_full(s); rev++) {
		e = ev_put("/k", val, sizeof(val), rev, 1, rev, 0);
		CHECK_OK(evl_segment_revision(s, rev, T0 + rev, &e, 1, &err), &err);
	}
	CHECK(evl_segment_plain_bytes(s) >= 1000);
	CHECK_INT(evl_segment_next_rev(s), ==, rev);
	CHECK_INT(evl_segment_revisions(s), ==, rev - 1);
	e = ev_put("/k", val, sizeof(val), rev, 1, rev, 0);
	CHECK(evl_segment_revision(s, rev, T0 + rev, &e, 1, &err) == LB_E_INTERNAL);
	CHECK_CONTAINS(err.msg, "full");
	/* A put to a repository that is gone fails; the next one succeeds
	 * with the same bytes. */
	{
		struct repo *gone = open_repo("r4");
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "chmod 0500 %s/r4", tmpdir);
		CHECK(system(cmd) == 0);
		if (geteuid() != 0)
			CHECK(evl_segment_put(s, gone, NULL, T0 + 60000, NULL, &err) < 0);
		snprintf(cmd, sizeof(cmd), "chmod 0700 %s/r4", tmpdir);
		CHECK(system(cmd) == 0);
		repo_close(gone);
	}
	CHECK_OK(evl_segment_put(s, repo, NULL, T0 + 60000, &m, &err), &err);
	CHECK_INT(m->revisions, ==, rev - 1);
	CHECK_INT(m->last_time_ms, ==, T0 + 60000);
	CHECK_OK(evl_segment_read(repo, m->object, k.id, m->stored_sha256, NULL, NULL, &err),
	    &err);
	evl_meta_free(m);
	m = NULL;
	CHECK_OK(evl_segment_put(s, repo, NULL, T0 + 90000, &m, &err), &err);
	CHECK_INT(m->last_time_ms, ==, T0 + 60000);
	evl_segment_free(s);
	s = NULL;
	/* An empty segment: an idle cluster's interval, closed on time. */
	evl_meta_free(m);
	m = NULL;
	seg_opts(&o, &k, 500);
	CHECK_OK(evl_segment_open(&o, &s, &err), &err);
	CHECK_OK(evl_segment_put(s, repo, NULL, T0 + 30000, &m, &err), &err);
	CHECK_STR(m->object, "prod-1/wal/2025/12/01/00000000000000000500-"
	    "00000000000000000499.evlog.zst.age");
	CHECK_OK(evl_segment_read(repo, m->object, k.id, m->stored_sha256, NULL, NULL, &err),
	    &err);
	evl_segment_free(s);
	evl_meta_free(m);
	keyset_free(&k);
	repo_close(repo);
}

/* Debian's age and zstd, which no one here wrote, read the object: the
 * break-glass path works, and its plaintext is the writer's. */
static void
age_and_zstd_read_the_object(void)
{
	struct repo *repo = open_repo("r5");
	struct evl_meta *m = NULL;
	struct evl_footer f;
	struct bytes seg, out;
	struct keyset k;
	struct lb_err err;
	char cmd[1024], outp[256];
	uint8_t sha[32];

	if (system("command -v age >/dev/null && command -v zstd >/dev/null") != 0)
		TH_FAIL("age or zstd is not installed (make deps)");
	CHECK(repo != NULL);
	CHECK_OK(keyset_new(&k, "k5"), &err);
	CHECK_OK(put_standard(repo, &k, NULL, NULL, &m, sha, &err), &err);
	snprintf(outp, sizeof(outp), "%s/plain.evlog", tmpdir);
	snprintf(cmd, sizeof(cmd), "age -d -i %s %s/r5/%s | zstd -d -q -o %s", k.path,
	    tmpdir, m->object, outp);
	CHECK(system(cmd) == 0);
	CHECK(file_bytes(outp, &out) == 0);
	CHECK_OK(make_segment_prev(1, 0, &seg, &f), &err);
	CHECK_INT(out.len, ==, seg.len);
	CHECK(memcmp(out.p, seg.p, seg.len) == 0);
	free(out.p);
	free(seg.p);
	evl_meta_free(m);
	keyset_free(&k);
	repo_close(repo);
}

/* Seeds for the fuzzer: a small segment, an empty one, a crafted one. */
static int
write_corpus(const char *dir)
{
	struct evl_footer f;
	struct bytes seg;
	struct craft c;
	char path[512];
	FILE *fo;

	if (make_segment(0, &seg, &f) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/standard", dir);
	if ((fo = fopen(path, "wb")) == NULL)
		return 1;
	fwrite(seg.p, 1, seg.len, fo);
	fclose(fo);
	free(seg.p);
	memset(&c, 0, sizeof(c));
	craft_header(&c, 1, 5);
	craft_rec(&c, 200, (const uint8_t *)"x", 1);
	craft_revision(&c, 5, 5, T0);
	craft_footer(&c, 5, 5, 1, 1, T0, T0);
	snprintf(path, sizeof(path), "%s/crafted", dir);
	if ((fo = fopen(path, "wb")) == NULL)
		return 1;
	fwrite(c.buf, 1, c.len, fo);
	fclose(fo);
	{
		struct evl_meta *m = sample_meta();
		struct lb_err err;
		char *json = NULL;

		snprintf(path, sizeof(path), "%s/manifest.json", dir);
		if (evl_meta_to_json(m, &json, &err) != 0 || (fo = fopen(path, "wb")) == NULL)
			return 1;
		fputs(json, fo);
		fclose(fo);
		free(json);
		evl_meta_free(m);
	}
	return 0;
}

/* `evlog_test bench`: revisions of Kubernetes-like objects (a 1 KiB
 * JSON-ish value, a few fields changing) through a full 16 MiB segment
 * (zstd 3, one thread, age), then read back through the parser: CPU per
 * revision and MB/s of plaintext, for the capture's numbers. */
static int
bench_main(void)
{
	struct repo *repo;
	struct evl_segment_opts o;
	struct evl_segment *s = NULL;
	struct evl_meta *m = NULL;
	struct etcd_kv_event e;
	struct keyset k;
	struct lb_err err;
	char key[64], val[1024];
	clock_t c0, c1, c2;
	uint64_t lcg = 1;
	int64_t rev;

	if (mkdtemp(tmpdir) == NULL || keyset_new(&k, "kb") != 0 ||
	    (repo = open_repo("rb")) == NULL)
		return 1;
	seg_opts(&o, &k, 1);
	if (evl_segment_open(&o, &s, &err) != 0)
		goto fail;
	c0 = clock();
	for (rev = 1; !evl_segment_full(s); rev++) {
		snprintf(key, sizeof(key), "/registry/pods/default/pod-%05lld", (long long)(rev % 5000));
		snprintf(val, sizeof(val), "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%05lld\","
		    "\"resourceVersion\":\"%lld\",\"uid\":\"%08llx-7d3c\"},\"status\":{\"phase\":"
		    "\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		    (long long)(rev % 5000), (long long)rev, (unsigned long long)(rev * 2654435761u));
		/* The rest a managedFields-like tail, half of it new each time
		 * (base64-like), so zstd has real work. */
		for (size_t i = strlen(val); i < sizeof(val); i++)
			val[i] = i % 2 == 0 ? "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
			    [(lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL) >> 58] :
			    "managedFields"[i % 13];
		e = ev_put(key, val, sizeof(val), rev, rev > 5000 ? rev - 5000 : rev, 1 + rev / 5000, 0);
		if (evl_segment_revision(s, rev, T0 + rev, &e, 1, &err) != 0)
			goto fail;
	}
	if (evl_segment_put(s, repo, NULL, T0 + rev, &m, &err) != 0)
		goto fail;
	c1 = clock();
	if (evl_segment_read(repo, m->object, k.id, m->stored_sha256, NULL, NULL, &err) != 0)
		goto fail;
	c2 = clock();
	printf("segment of %llu revisions, %llu plaintext bytes, %llu stored (x%.1f)\n",
	    (unsigned long long)m->revisions, (unsigned long long)m->plain_size,
	    (unsigned long long)m->stored_size, (double)m->plain_size / (double)m->stored_size);
	printf("write (evlog+zstd 3+age): %.3f s cpu = %.0f MB/s, %.1f us per revision\n",
	    (double)(c1 - c0) / CLOCKS_PER_SEC, (double)m->plain_size / ((double)(c1 - c0) /
	    CLOCKS_PER_SEC) / 1e6, (double)(c1 - c0) / CLOCKS_PER_SEC * 1e6 / (double)m->revisions);
	printf("read (sha256+age+zstd -d+parse): %.3f s cpu = %.0f MB/s\n",
	    (double)(c2 - c1) / CLOCKS_PER_SEC, (double)m->plain_size / ((double)(c2 - c1) /
	    CLOCKS_PER_SEC) / 1e6);
	evl_meta_free(m);
	evl_segment_free(s);
	keyset_free(&k);
	repo_close(repo);
	snprintf(key, sizeof(key), "rm -rf %s", tmpdir);
	return system(key) != 0;
fail:
	printf("bench: %s\n", err.msg);
	return 1;
}

int
main(int argc, char **argv)
{
	char cmd[128];
	int r;

	bigval = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		bigval[i] = (uint8_t)(i * 7 + (i >> 11));
	if (argc == 3 && strcmp(argv[1], "corpus") == 0)
		return write_corpus(argv[2]);
	if (argc == 2 && strcmp(argv[1], "bench") == 0)
		return bench_main();
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(round_trip_is_byte_exact);
	RUN(footer_hash_covers_what_precedes);
	RUN(every_split_parses);
	RUN(corruption_is_caught);
	RUN(crafted_segments_are_judged);
	RUN(writer_refuses_bad_input);
	RUN(empty_segment_round_trips);
	RUN(keys_sort_by_revision);
	RUN(manifest_round_trips);
	RUN(manifest_rejects_bad_fields);
	RUN(segment_put_and_read);
	RUN(segment_fills_and_retries);
	RUN(age_and_zstd_read_the_object);
	r = TH_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		r = 1;
	free(bigval);
	return r;
}
