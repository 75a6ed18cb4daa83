/*
 * etcd_watch.c: Watch on the whole keyspace, and the Txn and Lease calls
 * of a replay (etcd_watch.h).
 *
 * Fragments: with fragment=true etcd splits one WatchResponse whose
 * events exceed its --max-request-bytes into several messages, each a
 * whole WatchResponse with fragment=true but the last.  One response can
 * carry up to a thousand revisions (etcd's watchBatchMaxRevs) when the
 * watch catches up, far more than one revision, so the fragments are not
 * all joined first: each is decoded as it comes, the revisions it
 * completes are delivered, and only the events of its last revision
 * (which the next fragment may go on with) are kept, as field-11 entries
 * to which the next fragment's bytes are appended.  Protobuf messages
 * merge by concatenation (repeated fields append, the others take the
 * last value), so what is kept plus the next fragment decodes as one
 * response.  Memory is then one revision plus one fragment, whatever the
 * batch.
 *
 * Revisions: etcd's watchable store batches events so that one
 * revision's events are never split between two responses (its
 * eventBatch stops only at a change of revision), so each revision is
 * delivered at the end of the response that holds it, without waiting
 * for the next one; a revision that shows up again in a later response
 * is refused rather than delivered twice.
 */
#include "etcd/etcd_watch.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/pb.h"
#include "etcd/grpc.h"

struct etcd_watch_dec {
	struct etcd_watch_cb cb;
	int64_t start_rev;
	int64_t delivered;          /* every revision <= this one was delivered */
	int64_t compact_rev;
	struct lb_buf join;         /* a revision's events kept, then the
	                             * fragment that goes on (len 0: none) */
	struct etcd_kv_event *ev;   /* decoded events of one response */
	struct pb_field *raw;       /* each one's bytes (data, len) */
	size_t ev_cap;
};

static int
malformed(struct lb_err *err, const char *what)
{
	return lb_err_set(err, LB_E_PROTO, "etcd sent a malformed %s", what);
}

int
etcd_watch_dec_new(int64_t start_rev, const struct etcd_watch_cb *cb,
    struct etcd_watch_dec **out, struct lb_err *err)
{
	struct etcd_watch_dec *d;

	*out = NULL;
	if (cb == NULL || cb->on_revision == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "etcd watch without on_revision");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	d->cb = *cb;
	d->start_rev = start_rev;
	d->delivered = start_rev > 0 ? start_rev - 1 : 0;
	lb_buf_init(&d->join, ETCD_WATCH_JOIN_MAX);
	*out = d;
	return 0;
}

void
etcd_watch_dec_free(struct etcd_watch_dec *d)
{
	if (d == NULL)
		return;
	lb_buf_free(&d->join);
	free(d->ev);
	free(d->raw);
	free(d);
}

int64_t
etcd_watch_dec_compact_rev(const struct etcd_watch_dec *d)
{
	return d->compact_rev;
}

/* mvccpb.Event {1 type, 2 kv, 3 prev_kv} with mvccpb.KeyValue {1 key,
 * 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease}. */
static int
decode_event(const uint8_t *p, size_t len, struct etcd_kv_event *e)
{
	struct pb_reader rd, kr;
	struct pb_field f, k;
	int r, have_kv = 0;

	memset(e, 0, sizeof(*e));
	pb_reader_init(&rd, p, len);
	while ((r = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_VARINT) {
			if (f.u64 > ETCD_EV_DELETE)
				return -1;
			e->type = (int)f.u64;
		} else if (f.num == 2 && f.wire == PB_BYTES) {
			/* a repeated kv would be merged by protobuf; etcd sends one */
			if (have_kv++)
				return -1;
			pb_reader_init(&kr, f.data, f.len);
			while ((r = pb_next(&kr, &k)) > 0) {
				if (k.wire == PB_BYTES && k.num == 1) {
					e->key = k.data;
					e->key_len = k.len;
				} else if (k.wire == PB_BYTES && k.num == 5) {
					e->value = k.data;
					e->value_len = k.len;
				} else if (k.wire == PB_VARINT && k.num >= 2 && k.num <= 6 &&
				    k.num != 5) {
					int64_t v = (int64_t)k.u64;
					if (k.num == 2)
						e->create_revision = v;
					else if (k.num == 3)
						e->mod_revision = v;
					else if (k.num == 4)
						e->version = v;
					else
						e->lease = v;
				}
			}
			if (r < 0)
				return -1;
		}
	}
	if (r < 0 || !have_kv || e->key_len == 0 || e->mod_revision <= 0)
		return -1;
	if (e->type == ETCD_EV_DELETE) {
		e->value = NULL;
		e->value_len = 0;
	} else if (e->value == NULL) {
		e->value = (const uint8_t *)"";   /* an empty value */
	}
	return 0;
}

/* Delivers the events of one response, grouped by revision.  With
 * *keep (a fragment, more to come) the last revision is not delivered:
 * *keep is set to the index of its first event, or to n_events when
 * there was none. */
static int
deliver(struct etcd_watch_dec *d, const uint8_t *msg, size_t len,
    size_t n_events, size_t *keep, struct lb_err *err)
{
	struct pb_reader rd;
	struct pb_field f;
	size_t i = 0, j, end;
	int r;

	if (n_events > d->ev_cap) {
		struct etcd_kv_event *nv = realloc(d->ev, n_events * sizeof(*nv));
		struct pb_field *nr;
		if (nv == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		d->ev = nv;
		if ((nr = realloc(d->raw, n_events * sizeof(*nr))) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		d->raw = nr;
		d->ev_cap = n_events;
	}
	pb_reader_init(&rd, msg, len);
	while ((r = pb_next(&rd, &f)) > 0) {
		if (f.num != 11 || f.wire != PB_BYTES)
			continue;
		d->raw[i] = f;
		if (decode_event(f.data, f.len, &d->ev[i]) < 0)
			return malformed(err, "watch event");
		if (i > 0 && d->ev[i].mod_revision < d->ev[i - 1].mod_revision)
			return lb_err_set(err, LB_E_PROTO, "etcd sent watch events out of "
			    "order (revision %lld after %lld)",
			    (long long)d->ev[i].mod_revision,
			    (long long)d->ev[i - 1].mod_revision);
		i++;
	}
	if (r < 0 || i != n_events)
		return malformed(err, "watch response");
	/* The revision before start_rev, which etcd_watch asks for too (see
	 * there), is not the caller's. */
	for (i = 0; i < n_events && d->ev[i].mod_revision < d->start_rev; i++)
		;
	end = n_events;
	if (keep != NULL) {
		for (end = n_events; end > i && d->ev[end - 1].mod_revision ==
		    d->ev[n_events - 1].mod_revision; end--)
			;
		*keep = end;
	}
	if (i == end)
		return 0;
	if (d->ev[i].mod_revision <= d->delivered)
		return lb_err_set(err, LB_E_PROTO, "etcd sent revision %lld after "
		    "revision %lld was complete (a revision split or repeated)",
		    (long long)d->ev[i].mod_revision, (long long)d->delivered);
	for (; i < end; i = j) {
		for (j = i + 1; j < end && d->ev[j].mod_revision == d->ev[i].mod_revision; j++)
			;
		if ((r = d->cb.on_revision(d->cb.arg, d->ev[i].mod_revision, d->ev + i,
		    j - i, err)) < 0)
			return r;
		d->delivered = d->ev[i].mod_revision;
	}
	return 0;
}

/* etcdserverpb.WatchResponse {1 header {3 revision}, 2 watch_id,
 * 3 created, 4 canceled, 5 compact_revision, 6 cancel_reason,
 * 7 fragment, 11 events}. */
static int
handle(struct etcd_watch_dec *d, const uint8_t *msg, size_t len,
    struct lb_err *err)
{
	struct pb_reader rd, hr;
	struct pb_field f, h;
	int64_t hdr_rev = 0, compact = 0;
	const uint8_t *reason = NULL;
	size_t reason_len = 0, n_events = 0;
	int created = 0, canceled = 0, r;

	pb_reader_init(&rd, msg, len);
	while ((r = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_BYTES) {
			pb_reader_init(&hr, f.data, f.len);
			while ((r = pb_next(&hr, &h)) > 0)
				if (h.num == 3 && h.wire == PB_VARINT)
					hdr_rev = (int64_t)h.u64;
			if (r < 0)
				break;
		} else if (f.num == 3 && f.wire == PB_VARINT) {
			created = f.u64 != 0;
		} else if (f.num == 4 && f.wire == PB_VARINT) {
			canceled = f.u64 != 0;
		} else if (f.num == 5 && f.wire == PB_VARINT) {
			compact = (int64_t)f.u64;
		} else if (f.num == 6 && f.wire == PB_BYTES) {
			reason = f.data;
			reason_len = f.len;
		} else if (f.num == 11 && f.wire == PB_BYTES) {
			n_events++;
		}
	}
	if (r < 0)
		return malformed(err, "watch response");
	if (canceled) {
		if (compact > 0) {
			d->compact_rev = compact;
			return lb_err_set(err, LB_E_COMPACTED, "etcd has compacted its "
			    "history up to revision %lld: the watch from revision %lld "
			    "cannot be served", (long long)compact,
			    (long long)d->start_rev);
		}
		return lb_err_set(err, LB_E_REMOTE, "etcd canceled the watch: %.*s",
		    reason_len > 0 ? (int)(reason_len < 200 ? reason_len : 200) : 9,
		    reason_len > 0 ? (const char *)reason : "no reason");
	}
	if (n_events > 0)
		return deliver(d, msg, len, n_events, NULL, err);
	if (created && d->start_rev > 0) {
		/* The created header's revision is the store's, possibly past
		 * revisions still to be sent; start_rev - 1 is what holds. */
		hdr_rev = d->start_rev - 1;
	} else if (hdr_rev < d->delivered) {
		return 0;   /* stale: says nothing new */
	}
	if (hdr_rev > d->delivered)
		d->delivered = hdr_rev;
	if (d->cb.on_progress == NULL)
		return 0;
	return d->cb.on_progress(d->cb.arg, hdr_rev, err);
}

/* Whether field 7 (fragment) of a WatchResponse is set; -1 malformed. */
static int
is_fragment(const uint8_t *msg, size_t len)
{
	struct pb_reader rd;
	struct pb_field f;
	int r, frag = 0;

	pb_reader_init(&rd, msg, len);
	while ((r = pb_next(&rd, &f)) > 0)
		if (f.num == 7 && f.wire == PB_VARINT)
			frag = f.u64 != 0;
	return r < 0 ? -1 : frag;
}

/* A fragment is in d->join (after what was kept): delivers the
 * revisions it completes and keeps the events of its last one. */
static int
keep_last(struct etcd_watch_dec *d, struct lb_err *err)
{
	struct pb_reader rd;
	struct pb_field f;
	struct pb_writer w;
	uint8_t *buf;
	size_t n = 0, keep, i, cap = 0;
	int r;

	pb_reader_init(&rd, (const uint8_t *)d->join.p, d->join.len);
	while ((r = pb_next(&rd, &f)) > 0)
		n += f.num == 11 && f.wire == PB_BYTES;
	if (r < 0)
		return malformed(err, "watch response fragment");
	if (n == 0)
		return 0;
	if ((r = deliver(d, (const uint8_t *)d->join.p, d->join.len, n, &keep, err)) < 0)
		return r;
	/* the kept events point into join: copied out, then back */
	for (i = keep; i < n; i++)
		cap += d->raw[i].len + 1 + 10;
	if ((buf = malloc(cap > 0 ? cap : 1)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	pb_writer_init(&w, buf, cap);
	for (i = keep; i < n; i++)
		pb_put_bytes_field(&w, 11, d->raw[i].data, d->raw[i].len);
	lb_buf_reset(&d->join);
	r = w.overflow ? lb_err_set(err, LB_E_INTERNAL, "watch: kept events overflow") :
	    lb_buf_add(&d->join, buf, w.len) < 0 ?
	    lb_err_set(err, LB_E_NOMEM, "out of memory") : 0;
	free(buf);
	if (r == 0 && keep < n && d->cb.on_fragment != NULL)
		d->cb.on_fragment(d->cb.arg, d->ev[keep].mod_revision, d->join.len);
	return r;
}

int
etcd_watch_dec_feed(struct etcd_watch_dec *d, const uint8_t *msg, size_t len,
    struct lb_err *err)
{
	int frag, r;

	if ((frag = is_fragment(msg, len)) < 0)
		return malformed(err, "watch response");
	if (!frag && d->join.len == 0)
		return handle(d, msg, len, err);
	if (lb_buf_add(&d->join, msg, len) < 0) {
		if (d->join.too_big)
			return lb_err_set(err, LB_E_TOOBIG, "etcd watch: revision %lld "
			    "holds more than the %u MiB of events lifeboat keeps for "
			    "one revision", (long long)(d->delivered + 1),
			    ETCD_WATCH_JOIN_MAX >> 20);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	if (frag)
		return keep_last(d, err);
	/* The last fragment's fragment=false is the last value: the joined
	 * message decodes as a whole one. */
	r = handle(d, (const uint8_t *)d->join.p, d->join.len, err);
	lb_buf_reset(&d->join);
	return r;
}

struct watch_run {
	struct etcd_watch_dec *dec;
	const struct etcd_watch_cb *cb;
	double last_tick;
	int stopped;                /* the caller's on_tick ended the watch */
};

static int
on_msg(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	struct watch_run *w = arg;

	return etcd_watch_dec_feed(w->dec, msg, len, err);
}

/* libcurl's progress callback runs many times a second while data flows;
 * the caller asked for about once a second. */
static int
on_tick(void *arg, struct lb_err *err)
{
	struct watch_run *w = arg;
	double now = lb_mono_now();
	int r;

	if (w->cb->on_tick == NULL || now - w->last_tick < 0.9)
		return 0;
	w->last_tick = now;
	r = w->cb->on_tick(w->cb->arg, err);
	if (r > 0)
		w->stopped = 1;
	return r;
}

/* One Watch call from revision from, fed to run's decoder. */
static int
watch_from(struct etcd_client *c, int64_t from, struct watch_run *run,
    struct lb_err *err)
{
	static const uint8_t all[1] = { 0 };
	uint8_t create[64], req[80];
	struct pb_writer wc, w;
	struct grpc_stream_opts so;
	int r;

	/* WatchCreateRequest {1 key, 2 range_end, 3 start_revision,
	 * 4 progress_notify, 8 fragment} in WatchRequest.create_request (1). */
	pb_writer_init(&wc, create, sizeof(create));
	pb_put_bytes_field(&wc, 1, all, 1);
	pb_put_bytes_field(&wc, 2, all, 1);
	pb_put_varint_field(&wc, 3, (uint64_t)from);
	pb_put_varint_field(&wc, 4, 1);
	pb_put_varint_field(&wc, 8, 1);
	pb_writer_init(&w, req, sizeof(req));
	pb_put_bytes_field(&w, 1, create, wc.len);
	if (wc.overflow || w.overflow)
		return lb_err_set(err, LB_E_INTERNAL, "etcd watch request too large");
	so.on_tick = on_tick;
	so.arg = run;
	/* One request, then our half of the stream closes: etcd's watch
	 * server ends its receive loop on EOF but keeps the watch and its
	 * sending side until the call ends. */
	r = grpc_stream(etcd_conn(c), "/etcdserverpb.Watch/Watch", w.buf, w.len,
	    &so, on_msg, run, err);
	if (r == 0 && !run->stopped)
		/* etcd ended the call with an OK status: not asked for */
		r = lb_err_set(err, LB_E_NET, "etcd closed the watch stream");
	return r;
}

int
etcd_watch(struct etcd_client *c, int64_t start_rev,
    const struct etcd_watch_cb *cb, int64_t *compact_rev, struct lb_err *err)
{
	struct watch_run run;
	int64_t from;
	int r;

	if (compact_rev != NULL)
		*compact_rev = 0;
	if (start_rev <= 0)
		return lb_err_set(err, LB_E_INTERNAL, "etcd watch from revision %lld",
		    (long long)start_rev);
	memset(&run, 0, sizeof(run));
	run.cb = cb;
	/* etcd (3.6 at least) sends no progress notification to a watch
	 * whose start revision is above the store's revision, so a watch
	 * from the next revision of an idle cluster would hear nothing until
	 * the next write.  Asking for one revision more (dropped by the
	 * decoder) keeps the start at or below the store's revision; when
	 * that revision is exactly the compacted one, from start_rev it is. */
	from = start_rev > 1 ? start_rev - 1 : start_rev;
	for (;;) {
		if ((r = etcd_watch_dec_new(start_rev, cb, &run.dec, err)) < 0)
			return r;
		run.last_tick = lb_mono_now();
		r = watch_from(c, from, &run, err);
		if (r != LB_E_COMPACTED || from == start_rev ||
		    etcd_watch_dec_compact_rev(run.dec) > start_rev)
			break;
		etcd_watch_dec_free(run.dec);
		run.dec = NULL;
		lb_err_clear(err);
		from = start_rev;
	}
	if (r == LB_E_COMPACTED && compact_rev != NULL)
		*compact_rev = etcd_watch_dec_compact_rev(run.dec);
	if (r < 0)
		lb_err_prefix(err, "watch from revision %lld: ", (long long)start_rev);
	etcd_watch_dec_free(run.dec);
	return r;
}

/* Bytes of a varint. */
static size_t
vsize(uint64_t v)
{
	size_t n = 1;

	while (v > 0x7f) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The tag and length of a length-delimited field whose bytes follow. */
static void
put_len(struct pb_writer *w, uint32_t num, uint64_t len)
{
	uint64_t v = (uint64_t)num << 3 | PB_BYTES;

	for (int i = 0; i < 2; i++, v = len) {
		do {
			if (w->len >= w->cap) {
				w->overflow = 1;
				return;
			}
			w->buf[w->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v != 0);
	}
}

/* Bytes of a length-delimited field numbered below 16. */
static size_t
bsize(size_t len)
{
	return 1 + vsize(len) + len;
}

/* PutRequest {1 key, 2 value, 3 lease} or DeleteRangeRequest {1 key}. */
static size_t
op_inner_size(const struct etcd_kv_event *e)
{
	size_t n = bsize(e->key_len);

	if (e->type == ETCD_EV_PUT) {
		n += bsize(e->value_len);
		if (e->lease != 0)
			n += 1 + vsize((uint64_t)e->lease);
	}
	return n;
}

int
etcd_txn_encode(const struct etcd_kv_event *ev, size_t n, uint8_t **out,
    size_t *len, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t *buf = NULL;
	size_t total = 0, i, in, op;

	*out = NULL;
	*len = 0;
	for (i = 0; i < n; i++) {
		if (ev[i].type != ETCD_EV_PUT && ev[i].type != ETCD_EV_DELETE)
			return lb_err_set(err, LB_E_INTERNAL, "event of type %d", ev[i].type);
		op = bsize(op_inner_size(&ev[i]));    /* RequestOp */
		total += bsize(op);                   /* TxnRequest.success */
		if (total > GRPC_REQ_MAX)
			return lb_err_set(err, LB_E_USAGE, "a transaction of %zu events "
			    "exceeds the request limit of %u bytes", n, GRPC_REQ_MAX);
	}
	if ((buf = malloc(total ? total : 1)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	pb_writer_init(&w, buf, total);
	for (i = 0; i < n; i++) {
		const struct etcd_kv_event *e = &ev[i];
		in = op_inner_size(e);
		/* TxnRequest.success (2) -> RequestOp.request_put (2) or
		 * request_delete_range (3); written field by field so nothing
		 * is built twice. */
		put_len(&w, 2, bsize(in));
		put_len(&w, e->type == ETCD_EV_PUT ? 2 : 3, in);
		pb_put_bytes_field(&w, 1, e->key, e->key_len);
		if (e->type == ETCD_EV_PUT) {
			pb_put_bytes_field(&w, 2, e->value != NULL ? e->value :
			    (const uint8_t *)"", e->value_len);
			if (e->lease != 0)
				pb_put_varint_field(&w, 3, (uint64_t)e->lease);
		}
	}
	if (w.overflow || w.len != total) {
		free(buf);
		return lb_err_set(err, LB_E_INTERNAL, "transaction size miscounted");
	}
	*out = buf;
	*len = total;
	return 0;
}

/* The revision in a response's header (field 1, header field 3). */
static int
header_rev(const uint8_t *m, size_t len, int64_t *rev)
{
	struct pb_reader rd, hd;
	struct pb_field f, h;
	int k;

	*rev = 0;
	pb_reader_init(&rd, m, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num != 1 || f.wire != PB_BYTES)
			continue;
		pb_reader_init(&hd, f.data, f.len);
		while ((k = pb_next(&hd, &h)) > 0)
			if (h.num == 3 && h.wire == PB_VARINT)
				*rev = (int64_t)h.u64;
		if (k < 0)
			return -1;
	}
	return k;
}

int
etcd_txn_apply(struct etcd_client *c, const struct etcd_kv_event *ev, size_t n,
    int64_t *rev, struct lb_err *err)
{
	uint8_t *req = NULL, *resp = NULL;
	size_t len = 0, rlen = 0;
	int r;

	*rev = 0;
	if ((r = etcd_txn_encode(ev, n, &req, &len, err)) < 0)
		goto out;
	if ((r = grpc_unary(etcd_conn(c), "/etcdserverpb.KV/Txn", req, len, &resp,
	    &rlen, err)) < 0) {
		lb_err_prefix(err, "txn of %zu events (%zu bytes): ", n, len);
		goto out;
	}
	if (header_rev(resp, rlen, rev) < 0 || *rev <= 0)
		r = malformed(err, "txn response");
out:
	free(req);
	free(resp);
	return r;
}

/* The varint fields 1..8 of a response into v[1..8] (absent: 0). */
static int
varints(const uint8_t *m, size_t len, int64_t v[9])
{
	struct pb_reader rd;
	struct pb_field f;
	int k;

	memset(v, 0, 9 * sizeof(v[0]));
	pb_reader_init(&rd, m, len);
	while ((k = pb_next(&rd, &f)) > 0)
		if (f.wire == PB_VARINT && f.num >= 1 && f.num <= 8)
			v[f.num] = (int64_t)f.u64;
	return k;
}

int
etcd_lease_grant_id(struct etcd_client *c, int64_t id, int64_t ttl,
    struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32], *resp = NULL;
	size_t rlen = 0;
	int64_t v[9];
	int r;

	/* LeaseGrantRequest {1 TTL, 2 ID} */
	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)ttl);
	pb_put_varint_field(&w, 2, (uint64_t)id);
	r = grpc_unary(etcd_conn(c), "/etcdserverpb.Lease/LeaseGrant", w.buf, w.len,
	    &resp, &rlen, err);
	if (r < 0) {
		/* etcd's ErrGRPCLeaseExist, FAILED_PRECONDITION: only its text
		 * tells it from other refusals. */
		if (strstr(err->msg, "lease already exists") != NULL)
			err->code = r = LB_E_EXISTS;
		lb_err_prefix(err, "lease grant %llx: ", (unsigned long long)id);
		goto out;
	}
	/* LeaseGrantResponse {1 header, 2 ID, 3 TTL, 4 error} */
	if (varints(resp, rlen, v) < 0 || v[2] != id)
		r = malformed(err, "lease grant response");
out:
	free(resp);
	return r;
}

int
etcd_lease_ttl(struct etcd_client *c, int64_t id, int64_t *granted,
    int64_t *remaining, struct lb_err *err)
{
	struct pb_writer w;
	uint8_t req[32], *resp = NULL;
	size_t rlen = 0;
	int64_t v[9];
	int r;

	*granted = *remaining = 0;
	/* LeaseTimeToLiveRequest {1 ID, 2 keys} */
	pb_writer_init(&w, req, sizeof(req));
	pb_put_varint_field(&w, 1, (uint64_t)id);
	r = grpc_unary(etcd_conn(c), "/etcdserverpb.Lease/LeaseTimeToLive", w.buf,
	    w.len, &resp, &rlen, err);
	if (r < 0) {
		if (strstr(err->msg, "requested lease not found") != NULL)
			err->code = r = LB_E_NOTFOUND;
		lb_err_prefix(err, "lease time-to-live %llx: ", (unsigned long long)id);
		goto out;
	}
	/* LeaseTimeToLiveResponse {1 header, 2 ID, 3 TTL, 4 grantedTTL};
	 * TTL -1 for a lease that has expired or never existed. */
	if (varints(resp, rlen, v) < 0) {
		r = malformed(err, "lease time-to-live response");
		goto out;
	}
	if (v[3] < 0) {
		r = lb_err_set(err, LB_E_NOTFOUND, "lease %llx not found",
		    (unsigned long long)id);
		goto out;
	}
	*remaining = v[3];
	*granted = v[4];
out:
	free(resp);
	return r;
}

int
etcd_lease_list(struct etcd_client *c, int64_t **ids, size_t *n,
    struct lb_err *err)
{
	struct pb_reader rd, lr;
	struct pb_field f, l;
	uint8_t *resp = NULL;
	int64_t *v = NULL;
	size_t rlen = 0, cnt = 0, i = 0;
	int r, k;

	*ids = NULL;
	*n = 0;
	/* LeaseLeasesRequest {} -> LeaseLeasesResponse {1 header,
	 * 2 repeated LeaseStatus {1 ID}} */
	if ((r = grpc_unary(etcd_conn(c), "/etcdserverpb.Lease/LeaseLeases", "", 0,
	    &resp, &rlen, err)) < 0) {
		lb_err_prefix(err, "lease list: ");
		goto out;
	}
	pb_reader_init(&rd, resp, rlen);
	while ((k = pb_next(&rd, &f)) > 0)
		if (f.num == 2 && f.wire == PB_BYTES)
			cnt++;
	if (k < 0) {
		r = malformed(err, "lease list");
		goto out;
	}
	if (cnt == 0)
		goto out;
	if ((v = calloc(cnt, sizeof(*v))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	pb_reader_init(&rd, resp, rlen);
	while (pb_next(&rd, &f) > 0) {
		if (f.num != 2 || f.wire != PB_BYTES)
			continue;
		pb_reader_init(&lr, f.data, f.len);
		while ((k = pb_next(&lr, &l)) > 0)
			if (l.num == 1 && l.wire == PB_VARINT)
				v[i] = (int64_t)l.u64;
		if (k < 0 || v[i] == 0) {
			r = malformed(err, "lease list");
			goto out;
		}
		i++;
	}
	*ids = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	free(resp);
	return r;
}
