/*
 * etcd_lock.c: Lease.LeaseGrant/LeaseRevoke/LeaseKeepAlive and the two
 * KV.Txn shapes of a lock (etcd_lock.h).  Encoded by hand with common/pb.h;
 * responses are read for the fields named below and nothing else.
 */
#include "etcd/etcd_lock.h"

#include <stdlib.h>
#include <string.h>

#include "common/pb.h"
#include "etcd/grpc.h"

/* rpc.proto numbers. */
enum { CMP_EQUAL = 0 };
enum { TARGET_CREATE = 1, TARGET_LEASE = 4 };
#define KEY_MAX 1024
#define VAL_MAX 1024

static int
malformed(struct lb_err *err, const char *what)
{
	return lb_err_set(err, LB_E_PROTO, "etcd sent a malformed %s", what);
}

/* Calls method with req and reads varint fields 1..8 of the response
 * into v (fields that are absent stay 0), and into v[0] the revision of
 * its ResponseHeader (field 1 in every etcd response; header field 3).
 * With holder (cap bytes), also the value of a Txn's range answer
 * (etcd_decode_txn_value), "" when it has none. */
static int
call_varints(struct etcd_client *c, const char *method, const struct pb_writer *w,
    uint64_t v[9], char *holder, size_t cap, struct lb_err *err)
{
	struct pb_reader rd, hd;
	struct pb_field f, h;
	uint8_t *resp = NULL;
	size_t len = 0;
	int r, k;

	memset(v, 0, 9 * sizeof(v[0]));
	if (w->overflow)
		return lb_err_set(err, LB_E_INTERNAL, "etcd request too large");
	if ((r = grpc_unary(etcd_conn(c), method, w->buf, w->len, &resp, &len, err)) < 0)
		goto out;
	pb_reader_init(&rd, resp, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.wire == PB_VARINT && f.num >= 1 && f.num <= 8)
			v[f.num] = f.u64;
		if (f.wire != PB_BYTES || f.num != 1)
			continue;
		pb_reader_init(&hd, f.data, f.len);
		while ((k = pb_next(&hd, &h)) > 0)
			if (h.wire == PB_VARINT && h.num == 3)
				v[0] = h.u64;
		if (k < 0)
			break;
	}
	if (k < 0)
		r = malformed(err, method);
	else if (holder != NULL && etcd_decode_txn_value(resp, len, holder, cap) < 0)
		holder[0] = '\0';   /* only shown to people: not worth failing the call */
out:
	free(resp);
	return r;
}

/* The first field of the message m[0..len) numbered num and of wire type
 * PB_BYTES into *out: 1 if there is one, 0 if none, -1 if m is malformed. */
static int
bytes_field(const uint8_t *m, size_t len, uint32_t num, struct pb_field *out)
{
	struct pb_reader rd;
	struct pb_field f;
	int k, found = 0;

	pb_reader_init(&rd, m, len);
	while ((k = pb_next(&rd, &f)) > 0)
		if (!found && f.num == num && f.wire == PB_BYTES) {
			*out = f;
			found = 1;
		}
	return k < 0 ? -1 : found;
}

int
etcd_decode_txn_value(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	struct pb_field op, range, kv, val;
	size_t i, n;
	int k;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	/* TxnResponse.responses (3) -> ResponseOp.response_range (1) ->
	 * RangeResponse.kvs (2) -> mvccpb.KeyValue.value (5); one range in
	 * the ops, one key in the range. */
	if ((k = bytes_field(buf, len, 3, &op)) <= 0)
		return k;
	if ((k = bytes_field(op.data, op.len, 1, &range)) <= 0)
		return k;
	if ((k = bytes_field(range.data, range.len, 2, &kv)) <= 0)
		return k;
	if ((k = bytes_field(kv.data, kv.len, 5, &val)) <= 0)
		return k;
	/* Another appliance's words, for a web page and a log: printable
	 * ASCII only, so it is valid UTF-8 and holds no control character. */
	n = val.len < cap - 1 ? val.len : cap - 1;
	for (i = 0; i < n; i++)
		out[i] = val.data[i] >= 0x20 && val.data[i] < 0x7f ? (char)val.data[i] : '?';
	out[n] = '\0';
	return 0;
}

int
etcd_lease_grant(struct etcd_client *c, int64_t ttl, int64_t *id, int64_t *granted,
    struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32];
	uint64_t v[9];
	int r;

	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)ttl);
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseGrant", &w, v, NULL, 0, err)) < 0)
		return lb_err_prefix(err, "lease grant: ");
	if (v[2] == 0)
		return lb_err_set(err, LB_E_PROTO, "lease grant: etcd returned no lease id");
	*id = (int64_t)v[2];
	*granted = (int64_t)v[3];
	return 0;
}

int
etcd_lease_revoke(struct etcd_client *c, int64_t id, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32];
	uint64_t v[9];
	int r;

	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)id);
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseRevoke", &w, v, NULL, 0, err)) < 0)
		lb_err_prefix(err, "lease revoke: ");
	return r;
}

int
etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl,
    int64_t *revision, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32];
	uint64_t v[9];
	int r;

	*ttl = 0;
	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)id);
	/* A bidirectional stream; one request and the end of our half is a
	 * complete exchange for etcd (it answers, then sees EOF). */
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseKeepAlive", &w, v, NULL, 0, err)) < 0)
		return lb_err_prefix(err, "lease keepalive: ");
	*ttl = (int64_t)v[3];
	if (revision != NULL)
		*revision = (int64_t)v[0];
	if (*ttl <= 0)
		return lb_err_set(err, LB_E_NOTFOUND, "lease %llx has expired",
		    (unsigned long long)id);
	return 0;
}

/* A Txn with one Compare on key and, on success, optionally one Put;
 * with holder, on failure a Range of key, whose value goes to holder
 * (cap bytes; "" when the Txn succeeded or the key has no value). */
static int
txn(struct etcd_client *c, const char *key, int target, int64_t operand,
    const char *value, int64_t lease, int *succeeded, char *holder, size_t cap,
    struct lb_err *err)
{
	uint8_t cmp[KEY_MAX + 64], put[KEY_MAX + VAL_MAX + 64], op[KEY_MAX + VAL_MAX + 80];
	uint8_t rng[KEY_MAX + 16], rop[KEY_MAX + 32];
	uint8_t req[3 * KEY_MAX + VAL_MAX + 320];
	struct pb_writer wc, wp, wo, wr, wro, w;
	uint64_t v[9];
	int r;

	*succeeded = 0;
	if (cap == 0)
		holder = NULL;
	if (holder != NULL)
		holder[0] = '\0';
	if (strlen(key) > KEY_MAX || (value != NULL && strlen(value) > VAL_MAX))
		return lb_err_set(err, LB_E_CONFIG, "lock key or value too long");
	pb_writer_init(&wc, cmp, sizeof(cmp));
	pb_put_varint_field(&wc, 1, CMP_EQUAL);
	pb_put_varint_field(&wc, 2, (uint64_t)target);
	pb_put_string_field(&wc, 3, key);
	/* A oneof member is sent even when zero, so etcd sees which one. */
	pb_put_varint_field(&wc, target == TARGET_CREATE ? 5 : 8, (uint64_t)operand);
	pb_writer_init(&w, req, sizeof(req));
	pb_put_bytes_field(&w, 1, cmp, wc.len);
	if (value != NULL) {
		pb_writer_init(&wp, put, sizeof(put));
		pb_put_string_field(&wp, 1, key);
		pb_put_string_field(&wp, 2, value);
		pb_put_varint_field(&wp, 3, (uint64_t)lease);
		pb_writer_init(&wo, op, sizeof(op));
		pb_put_bytes_field(&wo, 2, put, wp.len);   /* RequestOp.request_put */
		pb_put_bytes_field(&w, 2, op, wo.len);     /* TxnRequest.success */
		if (wp.overflow || wo.overflow)
			w.overflow = 1;
	}
	if (holder != NULL) {
		pb_writer_init(&wr, rng, sizeof(rng));
		pb_put_string_field(&wr, 1, key);          /* RangeRequest.key */
		pb_writer_init(&wro, rop, sizeof(rop));
		pb_put_bytes_field(&wro, 1, rng, wr.len);  /* RequestOp.request_range */
		pb_put_bytes_field(&w, 3, rop, wro.len);   /* TxnRequest.failure */
		if (wr.overflow || wro.overflow)
			w.overflow = 1;
	}
	if (wc.overflow)
		w.overflow = 1;
	if ((r = call_varints(c, "/etcdserverpb.KV/Txn", &w, v, holder, cap, err)) < 0)
		return lb_err_prefix(err, "lock %s: ", key);
	*succeeded = v[2] != 0;
	if (*succeeded && holder != NULL)
		holder[0] = '\0';
	return 0;
}

int
etcd_key_create(struct etcd_client *c, const char *key, const char *value,
    int64_t lease, int *created, char *holder, size_t cap, struct lb_err *err)
{
	return txn(c, key, TARGET_CREATE, 0, value, lease, created, holder, cap, err);
}

int
etcd_key_has_lease(struct etcd_client *c, const char *key, int64_t lease,
    int *held, struct lb_err *err)
{
	return txn(c, key, TARGET_LEASE, lease, NULL, 0, held, NULL, 0, err);
}
