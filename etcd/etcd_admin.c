/*
 * etcd_admin.c: MemberAdd, MemberRemove, MemberPromote, a count-only Range
 * and a paged keys-only one (etcd_admin.h),
 * encoded by hand from etcd's rpc.proto (only the fields used here).
 */
#include "etcd/etcd_admin.h"

#include <stdlib.h>
#include <string.h>

#include "common/pb.h"
#include "etcd/grpc.h"

/* RangeRequest fields */
enum { RQ_KEY = 1, RQ_RANGE_END = 2, RQ_LIMIT = 3, RQ_REVISION = 4,
    RQ_SERIALIZABLE = 7, RQ_KEYS_ONLY = 8, RQ_COUNT_ONLY = 9 };

static int
malformed(struct lb_err *err, const char *what)
{
	return lb_err_set(err, LB_E_PROTO, "malformed %s from etcd", what);
}

int
etcd_admin_decode_add(const uint8_t *buf, size_t len, uint64_t *id)
{
	struct pb_reader rd, mr;
	struct pb_field f, g;
	int k, found = 0;

	*id = 0;
	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num != 2 || f.wire != PB_BYTES)
			continue;
		pb_reader_init(&mr, f.data, f.len);
		while ((k = pb_next(&mr, &g)) > 0)
			if (g.num == 1 && g.wire == PB_VARINT) {
				*id = g.u64;
				found = 1;
			}
		if (k < 0)
			return -1;
	}
	return k < 0 || !found ? -1 : 0;
}

int
etcd_admin_decode_range(const uint8_t *buf, size_t len, int64_t *count,
    int64_t *header_rev)
{
	struct pb_reader rd, hr;
	struct pb_field f, g;
	int k;

	*count = 0;
	*header_rev = 0;
	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 4 && f.wire == PB_VARINT)
			*count = (int64_t)f.u64;
		else if (f.num == 1 && f.wire == PB_BYTES) {
			pb_reader_init(&hr, f.data, f.len);
			while ((k = pb_next(&hr, &g)) > 0)
				if (g.num == 3 && g.wire == PB_VARINT)
					*header_rev = (int64_t)g.u64;
			if (k < 0)
				return -1;
		}
	}
	return k < 0 ? -1 : 0;
}

int
etcd_admin_member_add(struct etcd_client *c, const char *const *peer_urls,
    size_t n, int learner, uint64_t *id, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[2048], *resp = NULL;
	size_t len = 0, i;
	int r;

	*id = 0;
	if (n == 0 || n > 8)
		return lb_err_set(err, LB_E_USAGE, "member add: 1 to 8 peer urls, not %zu", n);
	pb_writer_init(&w, req, sizeof(req));
	for (i = 0; i < n; i++)
		pb_put_string_field(&w, 1, peer_urls[i]);
	if (learner)
		pb_put_varint_field(&w, 2, 1);
	if (w.overflow)
		return lb_err_set(err, LB_E_USAGE, "member add: peer urls too long");
	if ((r = grpc_unary(etcd_conn(c), "/etcdserverpb.Cluster/MemberAdd", req,
	    w.len, &resp, &len, err)) < 0)
		goto out;
	if (etcd_admin_decode_add(resp, len, id) < 0)
		r = malformed(err, "member add response");
out:
	free(resp);
	return r;
}

/* A call whose request is one member id (field 1) and whose answer is
 * not needed. */
static int
member_call(struct etcd_client *c, const char *method, uint64_t id,
    struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[16], *resp = NULL;
	size_t len = 0;
	int r;

	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, id);
	r = grpc_unary(etcd_conn(c), method, req, w.len, &resp, &len, err);
	free(resp);
	return r;
}

int
etcd_admin_member_remove(struct etcd_client *c, uint64_t id, struct lb_err *err)
{
	return member_call(c, "/etcdserverpb.Cluster/MemberRemove", id, err);
}

int
etcd_admin_member_promote(struct etcd_client *c, uint64_t id, struct lb_err *err)
{
	return member_call(c, "/etcdserverpb.Cluster/MemberPromote", id, err);
}

int
etcd_admin_compact(struct etcd_client *c, int64_t rev, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32], *resp = NULL;
	size_t len = 0;
	int r;

	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)rev);    /* revision */
	pb_put_varint_field(&w, 2, 1);                /* physical */
	r = grpc_unary(etcd_conn(c), "/etcdserverpb.KV/Compact", req, w.len, &resp, &len,
	    err);
	free(resp);
	return r;
}

int
etcd_admin_count(struct etcd_client *c, int64_t rev, int serializable,
    int64_t *count, int64_t *header_rev, struct lb_err *err)
{
	static const uint8_t zero = 0;
	struct pb_writer w;
	uint8_t req[64], *resp = NULL;
	size_t len = 0;
	int r;

	*count = 0;
	*header_rev = 0;
	pb_writer_init(&w, req, sizeof(req));
	/* key "\0" with range_end "\0" is etcd's "every key". */
	pb_put_bytes_field(&w, RQ_KEY, &zero, 1);
	pb_put_bytes_field(&w, RQ_RANGE_END, &zero, 1);
	if (rev > 0)
		pb_put_varint_field(&w, RQ_REVISION, (uint64_t)rev);
	if (serializable)
		pb_put_varint_field(&w, RQ_SERIALIZABLE, 1);
	pb_put_varint_field(&w, RQ_COUNT_ONLY, 1);
	if ((r = grpc_unary(etcd_conn(c), "/etcdserverpb.KV/Range", req, w.len,
	    &resp, &len, err)) < 0)
		goto out;
	if (etcd_admin_decode_range(resp, len, count, header_rev) < 0)
		r = malformed(err, "range response");
out:
	free(resp);
	return r;
}

int
etcd_admin_decode_keys(const uint8_t *buf, size_t len, etcd_admin_key_fn cb,
    void *arg, int *more, int64_t *header_rev, size_t *n, int *cb_r)
{
	struct pb_reader rd, sub;
	struct pb_field f, g;
	int k;

	*more = 0;
	*header_rev = 0;
	*n = 0;
	*cb_r = 0;
	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 3 && f.wire == PB_VARINT)
			*more = f.u64 != 0;
		else if ((f.num == 1 || f.num == 2) && f.wire == PB_BYTES) {
			pb_reader_init(&sub, f.data, f.len);
			while ((k = pb_next(&sub, &g)) > 0) {
				if (f.num == 1 && g.num == 3 && g.wire == PB_VARINT)
					*header_rev = (int64_t)g.u64;
				else if (f.num == 2 && g.num == 1 && g.wire == PB_BYTES) {
					(*n)++;
					if (*cb_r == 0)
						*cb_r = cb(arg, g.data, g.len);
				}
			}
			if (k < 0)
				return -1;
		}
	}
	return k < 0 ? -1 : 0;
}

/* The last key of a page, kept to start the next page after it. */
struct page_last {
	etcd_admin_key_fn cb;
	void *arg;
	uint8_t *key;
	size_t len, cap;
	int nomem;
};

static int
note_last(void *arg, const uint8_t *key, size_t len)
{
	struct page_last *p = arg;

	if (len + 1 > p->cap) {
		uint8_t *k = realloc(p->key, len + 1);
		if (k == NULL) {
			p->nomem = 1;
			return LB_E_NOMEM;
		}
		p->key = k;
		p->cap = len + 1;
	}
	memcpy(p->key, key, len);
	p->len = len;
	return p->cb(p->arg, key, len);
}

int
etcd_admin_keys(struct etcd_client *c, const char *prefix, int64_t rev,
    size_t page, etcd_admin_key_fn cb, void *arg, int64_t *header_rev,
    struct lb_err *err)
{
	struct page_last last = { .cb = cb, .arg = arg };
	size_t plen = strlen(prefix), n, req_cap = plen + 2 * 4096 + 64;
	uint8_t *req = NULL, *resp = NULL, *end = NULL;
	struct pb_writer w;
	size_t len = 0;
	int64_t hrev = 0;
	int r = 0, more = 1, cb_r, first = 1;

	if (page == 0 || page > 1000)
		page = 1000;
	if (plen == 0)
		return lb_err_set(err, LB_E_USAGE, "etcd_admin_keys: empty prefix");
	/* range_end of a prefix: its last byte that is not 0xff, plus one */
	if ((end = malloc(plen)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(end, prefix, plen);
	while (plen > 0 && end[plen - 1] == 0xff)
		plen--;
	if (plen == 0) {
		r = lb_err_set(err, LB_E_USAGE, "etcd_admin_keys: prefix of 0xff bytes");
		goto out;
	}
	end[plen - 1]++;
	while (more) {
		size_t klen = first ? strlen(prefix) : last.len + 1;
		if (klen + plen + 64 > req_cap) {
			req_cap = klen + plen + 64;
			free(req);
			req = NULL;
		}
		if (req == NULL && (req = malloc(req_cap)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		pb_writer_init(&w, req, req_cap);
		if (first)
			pb_put_bytes_field(&w, RQ_KEY, prefix, klen);
		else {
			/* the next key after the last one: the same with a 0 byte */
			last.key[last.len] = 0;
			pb_put_bytes_field(&w, RQ_KEY, last.key, klen);
		}
		pb_put_bytes_field(&w, RQ_RANGE_END, end, plen);
		pb_put_varint_field(&w, RQ_LIMIT, (uint64_t)page);
		if (rev > 0)
			pb_put_varint_field(&w, RQ_REVISION, (uint64_t)rev);
		pb_put_varint_field(&w, RQ_SERIALIZABLE, 1);
		pb_put_varint_field(&w, RQ_KEYS_ONLY, 1);
		if (w.overflow) {
			r = lb_err_set(err, LB_E_INTERNAL, "etcd_admin_keys: request too long");
			goto out;
		}
		free(resp);
		resp = NULL;
		if ((r = grpc_unary(etcd_conn(c), "/etcdserverpb.KV/Range", req, w.len,
		    &resp, &len, err)) < 0)
			goto out;
		if (etcd_admin_decode_keys(resp, len, note_last, &last, &more, &hrev, &n,
		    &cb_r) < 0) {
			r = malformed(err, "range response");
			goto out;
		}
		if (last.nomem) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		if (cb_r != 0) {
			r = cb_r;
			goto out;
		}
		if (first && rev <= 0)
			rev = hrev;
		first = 0;
		if (n == 0)
			more = 0;
	}
	if (header_rev != NULL)
		*header_rev = rev;
out:
	free(req);
	free(resp);
	free(end);
	free(last.key);
	return r;
}
