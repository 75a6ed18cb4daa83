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
 * its ResponseHeader (field 1 in every etcd response; header field 3). */
static int
call_varints(struct etcd_client *c, const char *method, const struct pb_writer *w,
    uint64_t v[9], struct lb_err *err)
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
out:
	free(resp);
	return r;
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
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseGrant", &w, v, err)) < 0)
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
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseRevoke", &w, v, err)) < 0)
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
	if ((r = call_varints(c, "/etcdserverpb.Lease/LeaseKeepAlive", &w, v, err)) < 0)
		return lb_err_prefix(err, "lease keepalive: ");
	*ttl = (int64_t)v[3];
	if (revision != NULL)
		*revision = (int64_t)v[0];
	if (*ttl <= 0)
		return lb_err_set(err, LB_E_NOTFOUND, "lease %llx has expired",
		    (unsigned long long)id);
	return 0;
}

/* A Txn with one Compare on key and, on success, optionally one Put. */
static int
txn(struct etcd_client *c, const char *key, int target, int64_t operand,
    const char *value, int64_t lease, int *succeeded, struct lb_err *err)
{
	uint8_t cmp[KEY_MAX + 64], put[KEY_MAX + VAL_MAX + 64], op[KEY_MAX + VAL_MAX + 80];
	uint8_t req[2 * KEY_MAX + VAL_MAX + 256];
	struct pb_writer wc, wp, wo, w;
	uint64_t v[9];
	int r;

	*succeeded = 0;
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
	if (wc.overflow)
		w.overflow = 1;
	if ((r = call_varints(c, "/etcdserverpb.KV/Txn", &w, v, err)) < 0)
		return lb_err_prefix(err, "lock %s: ", key);
	*succeeded = v[2] != 0;
	return 0;
}

int
etcd_key_create(struct etcd_client *c, const char *key, const char *value,
    int64_t lease, int *created, struct lb_err *err)
{
	return txn(c, key, TARGET_CREATE, 0, value, lease, created, err);
}

int
etcd_key_has_lease(struct etcd_client *c, const char *key, int64_t lease,
    int *held, struct lb_err *err)
{
	return txn(c, key, TARGET_LEASE, lease, NULL, 0, held, err);
}
