/*
 * grpc_test.c: gRPC message framing over arbitrary splits, its limits, and
 * the decoding of etcd's Status and MemberList responses and of the lock
 * holder in a failed Txn's range answer, from messages built field by
 * field.
 */
#include "harness.h"
#include "etcd/etcd.h"
#include "etcd/etcd_lock.h"
#include "etcd/grpc.h"
#include "common/pb.h"

struct got {
	size_t n;
	size_t total;
	uint8_t last[64];
	size_t last_len;
};

static int
collect(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	struct got *g = arg;

	(void)err;
	g->n++;
	g->total += len;
	g->last_len = len < sizeof(g->last) ? len : sizeof(g->last);
	memcpy(g->last, msg, g->last_len);
	return 0;
}

static size_t
frame(uint8_t *out, const void *msg, uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	memcpy(out + 5, msg, len);
	return len + 5;
}

static void
deframe_any_split(void)
{
	static uint8_t stream[3 * 40000];
	static uint8_t msg[39000];
	size_t len = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	len += frame(stream + len, msg, sizeof(msg));
	len += frame(stream + len, "", 0);
	len += frame(stream + len, "tail", 4);
	for (size_t step = 1; step < 70000; step = step * 3 + 1) {
		struct grpc_deframer d = { 0 };
		struct got g = { 0 };
		struct lb_err err;

		for (size_t off = 0; off < len; off += step)
			CHECK_OK(grpc_deframe(&d, stream + off,
			    len - off < step ? len - off : step, collect, &g, &err), &err);
		CHECK(grpc_deframe_clean(&d));
		grpc_deframer_release(&d);
		CHECK_INT(g.n, ==, 3);
		CHECK_INT(g.total, ==, sizeof(msg) + 4);
		CHECK(g.last_len == 4 && memcmp(g.last, "tail", 4) == 0);
	}
}

static void
deframe_rejects_compressed_and_oversized(void)
{
	struct grpc_deframer d = { 0 };
	struct got g = { 0 };
	struct lb_err err;
	uint8_t compressed[6] = { 1, 0, 0, 0, 1, 'x' };
	uint8_t huge[5] = { 0, 0x7f, 0xff, 0xff, 0xff };

	CHECK_INT(grpc_deframe(&d, compressed, 6, collect, &g, &err), ==, LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "compressed");
	grpc_deframer_release(&d);
	CHECK_INT(grpc_deframe(&d, huge, 5, collect, &g, &err), ==, LB_E_PROTO);
	CHECK_CONTAINS(err.msg, "exceeds the limit");
	grpc_deframer_release(&d);
}

static void
deframe_notices_a_cut_message(void)
{
	struct grpc_deframer d = { 0 };
	struct got g = { 0 };
	struct lb_err err;
	uint8_t part[8] = { 0, 0, 0, 0, 10, 'a', 'b', 'c' };

	CHECK_OK(grpc_deframe(&d, part, sizeof(part), collect, &g, &err), &err);
	CHECK(!grpc_deframe_clean(&d));
	CHECK_INT(g.n, ==, 0);
	grpc_deframer_release(&d);
}

static void
decode_status_fields(void)
{
	uint8_t hdr[64], msg[256];
	struct pb_writer w, h;
	struct etcd_status st;

	pb_writer_init(&h, hdr, sizeof(hdr));
	pb_put_varint_field(&h, 1, 0xcdf818194e3a8c32ULL);
	pb_put_varint_field(&h, 2, 42);
	pb_put_varint_field(&h, 3, 1234);
	pb_writer_init(&w, msg, sizeof(msg));
	pb_put_bytes_field(&w, 1, hdr, h.len);
	pb_put_string_field(&w, 2, "3.4.23");
	pb_put_varint_field(&w, 3, 1 << 20);
	pb_put_varint_field(&w, 4, 42);
	pb_put_varint_field(&w, 5, 99);
	pb_put_varint_field(&w, 6, 3);
	pb_put_varint_field(&w, 10, 1);
	pb_put_varint_field(&w, 99, 7);       /* an unknown field is skipped */
	CHECK(!w.overflow);
	CHECK_INT(etcd_decode_status(msg, w.len, &st), ==, 0);
	CHECK(st.cluster_id == 0xcdf818194e3a8c32ULL);
	CHECK_INT(st.member_id, ==, 42);
	CHECK_INT(st.revision, ==, 1234);
	CHECK_STR(st.version, "3.4.23");
	CHECK_INT(st.db_size, ==, 1 << 20);
	CHECK_INT(st.leader, ==, 42);
	CHECK_INT(st.raft_index, ==, 99);
	CHECK_INT(st.raft_term, ==, 3);
	CHECK_INT(st.is_learner, ==, 1);
	/* Cut inside the version string: malformed. */
	CHECK_INT(etcd_decode_status(msg, h.len + 6, &st), ==, -1);
}

static void
decode_members(void)
{
	uint8_t m1[128], m2[128], msg[512];
	struct pb_writer w, a, b;
	struct etcd_members *ms = NULL;

	pb_writer_init(&a, m1, sizeof(m1));
	pb_put_varint_field(&a, 1, 0x8e9e05c52164694dULL);
	pb_put_string_field(&a, 2, "m1");
	pb_put_string_field(&a, 3, "http://127.0.0.1:2380");
	pb_put_string_field(&a, 4, "http://127.0.0.1:2379");
	pb_writer_init(&b, m2, sizeof(m2));
	pb_put_varint_field(&b, 1, 7);
	pb_put_string_field(&b, 3, "http://127.0.0.1:2382");
	pb_put_varint_field(&b, 5, 1);
	pb_writer_init(&w, msg, sizeof(msg));
	pb_put_bytes_field(&w, 2, m1, a.len);
	pb_put_bytes_field(&w, 2, m2, b.len);
	CHECK_INT(etcd_decode_members(msg, w.len, &ms), ==, 0);
	CHECK_INT(ms->n, ==, 2);
	CHECK_STR(ms->v[0].name, "m1");
	CHECK_INT(ms->v[0].n_client_urls, ==, 1);
	CHECK_STR(ms->v[0].client_urls[0], "http://127.0.0.1:2379");
	CHECK_STR(ms->v[1].name, "");        /* not started: no name */
	CHECK_INT(ms->v[1].n_client_urls, ==, 0);
	CHECK_INT(ms->v[1].is_learner, ==, 1);
	etcd_members_free(ms);
	CHECK_INT(etcd_decode_members(msg, 0, &ms), ==, -1);   /* no members */
}

/* A TxnResponse {succeeded=false, responses=[{response_range={kvs=[kv]}}]}
 * whose key's value is value[0..len); 0 if it did not fit. */
static size_t
txn_range_response(uint8_t *msg, size_t cap, const void *value, size_t len)
{
	uint8_t kv[512], rr[600], op[640];
	struct pb_writer k, r, o, w;

	pb_writer_init(&k, kv, sizeof(kv));
	pb_put_string_field(&k, 1, "/lifeboat/lock/c1");
	pb_put_varint_field(&k, 2, 5);
	pb_put_bytes_field(&k, 5, value, len);
	pb_put_varint_field(&k, 6, 0x694d7c1a2b);
	pb_writer_init(&r, rr, sizeof(rr));
	pb_put_bytes_field(&r, 2, kv, k.len);
	pb_put_varint_field(&r, 4, 1);
	pb_writer_init(&o, op, sizeof(op));
	pb_put_bytes_field(&o, 1, rr, r.len);
	pb_writer_init(&w, msg, cap);
	pb_put_varint_field(&w, 2, 0);
	pb_put_bytes_field(&w, 3, op, o.len);
	return k.overflow || r.overflow || o.overflow || w.overflow ? 0 : w.len;
}

static void
decode_txn_holder(void)
{
	static const uint8_t odd[] = "h\x01st\xc3\xa9 pid 9\x7f";
	uint8_t msg[1024], put[64], op[80];
	struct pb_writer p, o, w;
	char out[16];
	size_t n;

	n = txn_range_response(msg, sizeof(msg), "m2 pid 4242", 11);
	CHECK(n > 0);
	CHECK_INT(etcd_decode_txn_value(msg, n, out, sizeof(out)), ==, 0);
	CHECK_STR(out, "m2 pid 4242");
	/* cut to the buffer; anything but printable ASCII made '?' */
	n = txn_range_response(msg, sizeof(msg), odd, sizeof(odd) - 1);
	CHECK_INT(etcd_decode_txn_value(msg, n, out, 10), ==, 0);
	CHECK_STR(out, "h?st?? pi");
	/* a succeeded Txn answers with a put: no holder */
	pb_writer_init(&p, put, sizeof(put));
	pb_put_varint_field(&p, 1, 0);
	pb_writer_init(&o, op, sizeof(op));
	pb_put_bytes_field(&o, 2, put, p.len);
	pb_writer_init(&w, msg, sizeof(msg));
	pb_put_varint_field(&w, 2, 1);
	pb_put_bytes_field(&w, 3, op, o.len);
	CHECK_INT(etcd_decode_txn_value(msg, w.len, out, sizeof(out)), ==, 0);
	CHECK_STR(out, "");
	/* cut inside the range answer: malformed, and nothing kept */
	n = txn_range_response(msg, sizeof(msg), "m2 pid 4242", 11);
	CHECK_INT(etcd_decode_txn_value(msg, n - 3, out, sizeof(out)), ==, -1);
	CHECK_STR(out, "");
}

static void
pb_rejects_truncated_varint_and_length(void)
{
	static const uint8_t bad_varint[] = { 0x08, 0xff, 0xff };
	static const uint8_t bad_len[] = { 0x12, 0x05, 'a' };
	struct pb_reader r;
	struct pb_field f;

	pb_reader_init(&r, bad_varint, sizeof(bad_varint));
	CHECK_INT(pb_next(&r, &f), ==, -1);
	pb_reader_init(&r, bad_len, sizeof(bad_len));
	CHECK_INT(pb_next(&r, &f), ==, -1);
}

int
main(void)
{
	RUN(deframe_any_split);
	RUN(deframe_rejects_compressed_and_oversized);
	RUN(deframe_notices_a_cut_message);
	RUN(decode_status_fields);
	RUN(decode_members);
	RUN(decode_txn_holder);
	RUN(pb_rejects_truncated_varint_and_length);
	return TH_DONE();
}
