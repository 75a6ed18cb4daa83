/*
 * etcd_watch_test.c: the decoding half of etcd_watch (etcd_watch.h) on
 * hand-encoded WatchResponse messages: several revisions in one
 * response, fragments joined and delivered as they complete revisions,
 * bounded by one revision, progress and created responses, a
 * compacted and another cancel, events below the start revision, and
 * malformed or out-of-order input; and the TxnRequest of etcd_txn_apply.
 * The same calls against real etcd: tests/integration/watch_test.sh.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pb.h"
#include "etcd/etcd_watch.h"
#include "harness.h"

/* ---- encoding WatchResponse messages ---- */

struct ev_spec {
	int type;
	const char *key;
	const char *value;
	int64_t create, mod, version, lease;
};

static size_t
enc_event(const struct ev_spec *e, uint8_t *out, size_t cap)
{
	uint8_t kv[512];
	struct pb_writer wk, w;

	pb_writer_init(&wk, kv, sizeof(kv));
	pb_put_string_field(&wk, 1, e->key);
	if (e->create)
		pb_put_varint_field(&wk, 2, (uint64_t)e->create);
	pb_put_varint_field(&wk, 3, (uint64_t)e->mod);
	if (e->version)
		pb_put_varint_field(&wk, 4, (uint64_t)e->version);
	if (e->value != NULL)
		pb_put_string_field(&wk, 5, e->value);
	if (e->lease)
		pb_put_varint_field(&wk, 6, (uint64_t)e->lease);
	pb_writer_init(&w, out, cap);
	if (e->type)
		pb_put_varint_field(&w, 1, (uint64_t)e->type);
	pb_put_bytes_field(&w, 2, kv, wk.len);
	return w.overflow || wk.overflow ? 0 : w.len;
}

struct resp_spec {
	int64_t hdr_rev;
	int created, canceled, fragment;
	int64_t compact;
	const char *reason;
};

static size_t
enc_resp(const struct resp_spec *s, const struct ev_spec *ev, size_t n,
    uint8_t *out, size_t cap)
{
	uint8_t hdr[32], e[1024];
	struct pb_writer wh, w;
	size_t i, el;

	pb_writer_init(&wh, hdr, sizeof(hdr));
	pb_put_varint_field(&wh, 1, 0xcdf818194e3a8c32ull);   /* cluster_id */
	pb_put_varint_field(&wh, 3, (uint64_t)s->hdr_rev);
	pb_writer_init(&w, out, cap);
	pb_put_bytes_field(&w, 1, hdr, wh.len);
	pb_put_varint_field(&w, 2, 0);      /* watch_id (etcd omits zero; harmless) */
	if (s->created)
		pb_put_varint_field(&w, 3, 1);
	if (s->canceled)
		pb_put_varint_field(&w, 4, 1);
	if (s->compact)
		pb_put_varint_field(&w, 5, (uint64_t)s->compact);
	if (s->reason != NULL)
		pb_put_string_field(&w, 6, s->reason);
	if (s->fragment)
		pb_put_varint_field(&w, 7, 1);
	for (i = 0; i < n; i++) {
		if ((el = enc_event(&ev[i], e, sizeof(e))) == 0)
			return 0;
		pb_put_bytes_field(&w, 11, e, el);
	}
	return w.overflow ? 0 : w.len;
}

/* ---- a recording callback ---- */

struct rec {
	char log[4096];
	size_t len;
	int fail_at_rev;            /* on_revision of this revision fails */
};

static void __attribute__((format(printf, 2, 3)))
add(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(r->log) - r->len)
		r->len += (size_t)n;
}

static int
on_revision(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct rec *r = arg;

	if (rev == r->fail_at_rev)
		return lb_err_set(err, LB_E_IO, "callback failed at %lld", (long long)rev);
	add(r, "rev %lld n %lld:", (long long)rev, (long long)n);
	for (size_t i = 0; i < n; i++) {
		add(r, " %s %.*s=%.*s c%lld m%lld v%lld l%lld",
		    ev[i].type == ETCD_EV_PUT ? "put" : "del", (int)ev[i].key_len,
		    (const char *)ev[i].key, (int)ev[i].value_len,
		    ev[i].value != NULL ? (const char *)ev[i].value : "",
		    (long long)ev[i].create_revision, (long long)ev[i].mod_revision,
		    (long long)ev[i].version, (long long)ev[i].lease);
		if (ev[i].mod_revision != rev || (ev[i].type == ETCD_EV_DELETE &&
		    ev[i].value != NULL) || (ev[i].type == ETCD_EV_PUT && ev[i].value == NULL))
			return lb_err_set(err, LB_E_INTERNAL, "bad event delivered");
	}
	add(r, "\n");
	return 0;
}

static int
on_progress(void *arg, int64_t rev, struct lb_err *err)
{
	(void)err;
	add(arg, "progress %lld\n", (long long)rev);
	return 0;
}

static struct etcd_watch_dec *
dec_new(int64_t start, struct rec *r)
{
	struct etcd_watch_cb cb = { on_revision, on_progress, NULL, NULL, NULL };
	struct etcd_watch_dec *d = NULL;
	struct lb_err err;

	memset(r, 0, sizeof(*r));
	cb.arg = r;
	lb_err_clear(&err);
	if (etcd_watch_dec_new(start, &cb, &d, &err) < 0)
		return NULL;
	return d;
}

static int
feed(struct etcd_watch_dec *d, const struct resp_spec *s, const struct ev_spec *ev,
    size_t n, struct lb_err *err)
{
	uint8_t buf[8192];
	size_t len = enc_resp(s, ev, n, buf, sizeof(buf));

	if (len == 0)
		return lb_err_set(err, LB_E_INTERNAL, "test message too large");
	return etcd_watch_dec_feed(d, buf, len, err);
}

static void
test_revisions_in_one_response(void)
{
	struct ev_spec ev[] = {
		{ 0, "a", "1", 5, 5, 1, 0 },
		{ 0, "b", "", 5, 5, 1, 7 },
		{ 1, "a", NULL, 0, 6, 0, 0 },
		{ 0, "c", "3", 4, 8, 2, 0 },
	};
	struct resp_spec s = { 8, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(5, &r)) != NULL);
	CHECK_OK(feed(d, &s, ev, 4, &err), &err);
	etcd_watch_dec_free(d);
	CHECK_STR(r.log,
	    "rev 5 n 2: put a=1 c5 m5 v1 l0 put b= c5 m5 v1 l7\n"
	    "rev 6 n 1: del a= c0 m6 v0 l0\n"
	    "rev 8 n 1: put c=3 c4 m8 v2 l0\n");
}

static void
test_fragments_joined(void)
{
	struct ev_spec ev[] = {
		{ 0, "k1", "v1", 9, 9, 1, 0 },
		{ 0, "k2", "v2", 9, 9, 1, 0 },
		{ 0, "k3", "v3", 9, 9, 1, 0 },
		{ 0, "k4", "v4", 10, 10, 1, 0 },
	};
	struct resp_spec f = { 10, 0, 0, 1, 0, NULL }, last = { 10, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(9, &r)) != NULL);
	CHECK_OK(feed(d, &f, ev, 1, &err), &err);
	CHECK_OK(feed(d, &f, ev + 1, 1, &err), &err);
	CHECK_INT(r.len, ==, 0);               /* nothing before the last fragment */
	CHECK_OK(feed(d, &last, ev + 2, 2, &err), &err);
	CHECK_STR(r.log,
	    "rev 9 n 3: put k1=v1 c9 m9 v1 l0 put k2=v2 c9 m9 v1 l0 put k3=v3 c9 m9 v1 l0\n"
	    "rev 10 n 1: put k4=v4 c10 m10 v1 l0\n");
	/* and the next response stands on its own */
	ev[0].mod = ev[0].create = 11;
	CHECK_OK(feed(d, &last, ev, 1, &err), &err);
	CHECK_CONTAINS(r.log, "rev 11 n 1: put k1=v1 c11 m11");
	etcd_watch_dec_free(d);
}

static void
test_progress_and_created(void)
{
	struct ev_spec ev[] = { { 0, "a", "1", 21, 21, 1, 0 } };
	struct resp_spec created = { 30, 1, 0, 0, 0, NULL };
	struct resp_spec prog = { 20, 0, 0, 0, 0, NULL };
	struct resp_spec evr = { 21, 0, 0, 0, 0, NULL };
	struct resp_spec stale = { 20, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(21, &r)) != NULL);
	/* created at store revision 30: only start - 1 is known complete */
	CHECK_OK(feed(d, &created, NULL, 0, &err), &err);
	CHECK_OK(feed(d, &prog, NULL, 0, &err), &err);
	CHECK_OK(feed(d, &evr, ev, 1, &err), &err);
	CHECK_OK(feed(d, &stale, NULL, 0, &err), &err);   /* below 21: dropped */
	prog.hdr_rev = 25;
	CHECK_OK(feed(d, &prog, NULL, 0, &err), &err);
	CHECK_STR(r.log, "progress 20\nprogress 20\nrev 21 n 1: put a=1 c21 m21 v1 l0\n"
	    "progress 25\n");
	/* a revision at or below a progress is an etcd bug, not news */
	ev[0].mod = 24;
	CHECK_INT(feed(d, &evr, ev, 1, &err), ==, LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "revision 24 after revision 25");
	etcd_watch_dec_free(d);
}

static void
test_below_start_dropped(void)
{
	/* etcd_watch asks for start - 1 too (progress on an idle cluster) */
	struct ev_spec ev[] = {
		{ 0, "old", "x", 6, 6, 1, 0 },
		{ 0, "new", "y", 7, 7, 1, 0 },
	};
	struct resp_spec s = { 7, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(7, &r)) != NULL);
	CHECK_OK(feed(d, &s, ev, 1, &err), &err);
	CHECK_INT(r.len, ==, 0);
	CHECK_OK(feed(d, &s, ev, 2, &err), &err);
	CHECK_STR(r.log, "rev 7 n 1: put new=y c7 m7 v1 l0\n");
	etcd_watch_dec_free(d);
}

static void
test_cancels(void)
{
	struct resp_spec comp = { 50, 0, 1, 0, 42, "mvcc: required revision has been compacted" };
	struct resp_spec other = { 50, 1, 1, 0, 0, "permission denied" };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(10, &r)) != NULL);
	CHECK_INT(feed(d, &comp, NULL, 0, &err), ==, LB_E_COMPACTED);
	CHECK_INT(etcd_watch_dec_compact_rev(d), ==, 42);
	CHECK_CONTAINS(err.msg, "compacted its history up to revision 42");
	etcd_watch_dec_free(d);
	CHECK((d = dec_new(10, &r)) != NULL);
	CHECK_INT(feed(d, &other, NULL, 0, &err), ==, LB_E_REMOTE);
	CHECK_CONTAINS(err.msg, "permission denied");
	CHECK_INT(etcd_watch_dec_compact_rev(d), ==, 0);
	etcd_watch_dec_free(d);
}

static void
test_malformed(void)
{
	struct ev_spec ev[] = {
		{ 0, "a", "1", 5, 5, 1, 0 },
		{ 0, "b", "1", 4, 4, 1, 0 },
	};
	struct resp_spec s = { 8, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;
	uint8_t buf[1024];
	size_t len;

	lb_err_clear(&err);
	/* truncated anywhere */
	len = enc_resp(&s, ev, 1, buf, sizeof(buf));
	for (size_t cut = 1; cut < len; cut++) {
		CHECK((d = dec_new(1, &r)) != NULL);
		int rc = etcd_watch_dec_feed(d, buf, cut, &err);
		etcd_watch_dec_free(d);
		/* a cut between fields is a valid shorter message (here a
		 * progress), never a partial event */
		if (rc != 0)
			CHECK_INT(rc, ==, LB_E_PROTO);
		else
			CHECK(strstr(r.log, "rev ") == NULL);
	}
	/* out of order inside a response */
	CHECK((d = dec_new(1, &r)) != NULL);
	CHECK_INT(feed(d, &s, ev, 2, &err), ==, LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "out of order");
	etcd_watch_dec_free(d);
	/* a revision repeated in a later response */
	CHECK((d = dec_new(1, &r)) != NULL);
	CHECK_OK(feed(d, &s, ev, 1, &err), &err);
	CHECK_INT(feed(d, &s, ev, 1, &err), ==, LB_E_PROTO);
	etcd_watch_dec_free(d);
	/* an event of an unknown type, without a kv, without a key */
	{
		uint8_t bad[3][16] = { { 0x08, 0x05, 0x12, 0x02, 0x18, 0x05 },
		    { 0x08, 0x01 }, { 0x12, 0x02, 0x18, 0x05 } };
		size_t bl[3] = { 6, 2, 4 };
		for (int i = 0; i < 3; i++) {
			struct pb_writer w;
			pb_writer_init(&w, buf, sizeof(buf));
			pb_put_bytes_field(&w, 11, bad[i], bl[i]);
			CHECK((d = dec_new(1, &r)) != NULL);
			CHECK_INT(etcd_watch_dec_feed(d, buf, w.len, &err), ==, LB_E_PROTO);
			etcd_watch_dec_free(d);
		}
	}
	/* a callback's failure is the feed's */
	CHECK((d = dec_new(1, &r)) != NULL);
	r.fail_at_rev = 5;
	CHECK_INT(feed(d, &s, ev, 1, &err), ==, LB_E_IO);
	etcd_watch_dec_free(d);
}

static void
test_fragments_deliver_early(void)
{
	struct ev_spec ev[] = {
		{ 0, "k1", "v1", 9, 9, 1, 0 },
		{ 0, "k2", "v2", 10, 10, 1, 0 },
		{ 0, "k3", "v3", 10, 10, 1, 0 },
		{ 0, "k4", "v4", 11, 11, 1, 0 },
		{ 0, "k5", "v5", 12, 12, 1, 0 },
	};
	struct resp_spec f = { 12, 0, 0, 1, 0, NULL }, last = { 12, 0, 0, 0, 0, NULL };
	struct etcd_watch_dec *d;
	struct lb_err err;
	struct rec r;

	lb_err_clear(&err);
	CHECK((d = dec_new(9, &r)) != NULL);
	/* a fragment delivers what it completes: not its last revision */
	CHECK_OK(feed(d, &f, ev, 2, &err), &err);
	CHECK_STR(r.log, "rev 9 n 1: put k1=v1 c9 m9 v1 l0\n");
	CHECK_OK(feed(d, &f, ev + 2, 2, &err), &err);
	CHECK_STR(r.log, "rev 9 n 1: put k1=v1 c9 m9 v1 l0\n"
	    "rev 10 n 2: put k2=v2 c10 m10 v1 l0 put k3=v3 c10 m10 v1 l0\n");
	CHECK_OK(feed(d, &last, ev + 4, 1, &err), &err);
	CHECK_CONTAINS(r.log, "rev 11 n 1: put k4=v4 c11 m11 v1 l0\n"
	    "rev 12 n 1: put k5=v5 c12 m12 v1 l0\n");
	etcd_watch_dec_free(d);
}

/* A WatchResponse of one event at rev with a value of vlen zero bytes,
 * fragment set or not; its length, 0 if it does not fit cap. */
static size_t
enc_big(uint8_t *out, size_t cap, int64_t rev, size_t vlen, int fragment)
{
	uint8_t *kv = malloc(vlen + 64), *ev = malloc(vlen + 96), *zeros = calloc(1, vlen);
	struct pb_writer wk, we, w;
	size_t len = 0;

	if (kv != NULL && ev != NULL && zeros != NULL) {
		pb_writer_init(&wk, kv, vlen + 64);
		pb_put_string_field(&wk, 1, "big");
		pb_put_varint_field(&wk, 2, (uint64_t)rev);
		pb_put_varint_field(&wk, 3, (uint64_t)rev);
		pb_put_varint_field(&wk, 4, 1);
		pb_put_bytes_field(&wk, 5, zeros, vlen);
		pb_writer_init(&we, ev, vlen + 96);
		pb_put_bytes_field(&we, 2, kv, wk.len);
		pb_writer_init(&w, out, cap);
		if (fragment)
			pb_put_varint_field(&w, 7, 1);
		pb_put_bytes_field(&w, 11, ev, we.len);
		len = w.overflow || we.overflow || wk.overflow ? 0 : w.len;
	}
	free(kv);
	free(ev);
	free(zeros);
	return len;
}

struct count {
	int revisions;
	size_t bytes;
	int fragments;              /* on_fragment calls */
	size_t kept_max;
};

static void
on_frag(void *arg, int64_t rev, size_t kept)
{
	struct count *c = arg;

	(void)rev;
	c->fragments++;
	if (kept > c->kept_max)
		c->kept_max = kept;
}

static int
count_rev(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct count *c = arg;

	(void)rev;
	(void)err;
	c->revisions++;
	for (size_t i = 0; i < n; i++)
		c->bytes += ev[i].value_len;
	return 0;
}

/* A batch of many revisions in one fragmented response, far past the
 * bound in all, goes through (one revision at a time is kept); one
 * revision past the bound is LB_E_TOOBIG, naming it. */
static void
test_fragment_bound(void)
{
	size_t big = 4u * 1024 * 1024, len;
	uint8_t *msg = malloc(big + 256);
	struct etcd_watch_cb cb = { count_rev, NULL, NULL, NULL, on_frag };
	struct etcd_watch_dec *d = NULL;
	struct count c = { 0, 0, 0, 0 };
	struct lb_err err;
	int rc = 0, i;

	CHECK(msg != NULL);
	cb.arg = &c;
	lb_err_clear(&err);
	CHECK_OK(etcd_watch_dec_new(1, &cb, &d, &err), &err);
	for (i = 1; i <= 40 && rc == 0; i++) {
		len = enc_big(msg, big + 256, i, big, i < 40);
		CHECK(len > 0);
		rc = etcd_watch_dec_feed(d, msg, len, &err);
	}
	CHECK_OK(rc, &err);
	CHECK_INT(c.revisions, ==, 40);
	CHECK(c.bytes == (size_t)40 * big);
	/* each fragment but the last told; one revision kept at a time */
	CHECK_INT(c.fragments, ==, 39);
	CHECK(c.kept_max < big + 1024);
	etcd_watch_dec_free(d);

	CHECK_OK(etcd_watch_dec_new(1, &cb, &d, &err), &err);
	len = enc_big(msg, big + 256, 1, big, 1);
	for (i = 0; i < 40 && rc == 0; i++)
		rc = etcd_watch_dec_feed(d, msg, len, &err);
	etcd_watch_dec_free(d);
	free(msg);
	CHECK_INT(rc, ==, LB_E_TOOBIG);
	CHECK_INT(i, ==, 16);           /* 64 MiB / (4 MiB and a little) */
	CHECK_CONTAINS(err.msg, "revision 1 holds more than the 64 MiB");
}

static void
test_txn_encode(void)
{
	static uint8_t val[200000];
	struct etcd_kv_event ev[3];
	struct pb_reader rd, ro, ri;
	struct pb_field f, o, x;
	uint8_t *req = NULL;
	size_t len = 0;
	struct lb_err err;
	int n = 0;

	memset(ev, 0, sizeof(ev));
	memset(val, 'v', sizeof(val));
	ev[0].type = ETCD_EV_PUT;
	ev[0].key = (const uint8_t *)"k0";
	ev[0].key_len = 2;
	ev[0].value = val;
	ev[0].value_len = sizeof(val);
	ev[0].lease = 0x694d7a5c1b2e3f40;
	ev[1].type = ETCD_EV_DELETE;
	ev[1].key = (const uint8_t *)"k1";
	ev[1].key_len = 2;
	ev[2].type = ETCD_EV_PUT;
	ev[2].key = (const uint8_t *)"k2";
	ev[2].key_len = 2;
	lb_err_clear(&err);
	CHECK_OK(etcd_txn_encode(ev, 3, &req, &len, &err), &err);
	pb_reader_init(&rd, req, len);
	while (pb_next(&rd, &f) > 0) {
		CHECK_INT(f.num, ==, 2);                        /* success */
		pb_reader_init(&ro, f.data, f.len);
		CHECK_INT(pb_next(&ro, &o), ==, 1);
		CHECK_INT(o.num, ==, n == 1 ? 3 : 2);           /* delete_range : put */
		CHECK_INT(pb_next(&ro, &x), ==, 0);
		pb_reader_init(&ri, o.data, o.len);
		CHECK_INT(pb_next(&ri, &x), ==, 1);
		CHECK(x.num == 1 && x.len == 2 && x.data[1] == '0' + n);
		if (n == 0) {
			CHECK_INT(pb_next(&ri, &x), ==, 1);
			CHECK(x.num == 2 && x.len == sizeof(val));
			CHECK_INT(pb_next(&ri, &x), ==, 1);
			CHECK(x.num == 3 && x.u64 == 0x694d7a5c1b2e3f40ull);
		} else if (n == 2) {
			CHECK_INT(pb_next(&ri, &x), ==, 1);        /* an empty value, sent */
			CHECK(x.num == 2 && x.len == 0);
		}
		CHECK_INT(pb_next(&ri, &x), ==, 0);
		n++;
	}
	free(req);
	CHECK_INT(n, ==, 3);
	ev[1].type = 7;
	CHECK_INT(etcd_txn_encode(ev, 3, &req, &len, &err), ==, LB_E_INTERNAL);
}

int
main(void)
{
	RUN(test_revisions_in_one_response);
	RUN(test_fragments_joined);
	RUN(test_fragments_deliver_early);
	RUN(test_progress_and_created);
	RUN(test_below_start_dropped);
	RUN(test_cancels);
	RUN(test_malformed);
	RUN(test_fragment_bound);
	RUN(test_txn_encode);
	return TH_DONE();
}
