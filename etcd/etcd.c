/*
 * etcd.c: etcd v3 requests and responses (etcd.h) on top of grpc.h.
 * Field numbers are from etcd's api/etcdserverpb/rpc.proto.
 */
#include "etcd/etcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/pb.h"
#include "etcd/grpc.h"

struct etcd_client {
	struct grpc_conn *conn;
	char *user;                /* for messages; NULL without auth */
};

/* ResponseHeader */
enum { HDR_CLUSTER_ID = 1, HDR_MEMBER_ID = 2, HDR_REVISION = 3, HDR_RAFT_TERM = 4 };

struct header {
	uint64_t cluster_id, member_id, raft_term;
	int64_t revision;
};

static int
decode_header(const uint8_t *buf, size_t len, struct header *h)
{
	struct pb_reader r;
	struct pb_field f;
	int k;

	pb_reader_init(&r, buf, len);
	while ((k = pb_next(&r, &f)) > 0) {
		if (f.wire != PB_VARINT)
			continue;
		switch (f.num) {
		case HDR_CLUSTER_ID: h->cluster_id = f.u64; break;
		case HDR_MEMBER_ID: h->member_id = f.u64; break;
		case HDR_REVISION: h->revision = (int64_t)f.u64; break;
		case HDR_RAFT_TERM: h->raft_term = f.u64; break;
		}
	}
	return k;
}

static int
malformed(struct lb_err *err, const char *what)
{
	return lb_err_set(err, LB_E_PROTO, "malformed %s from etcd", what);
}

static void
copy_str(char *dst, size_t cap, const struct pb_field *f)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;

	memcpy(dst, f->data, n);
	dst[n] = '\0';
}

static int
authenticate(struct etcd_client *c, const char *user, const char *password,
    struct lb_err *err)
{
	uint8_t req[1024], *resp = NULL;
	struct pb_writer w;
	struct pb_reader rd;
	struct pb_field f;
	char *token = NULL;
	size_t resp_len = 0;
	int r, k;

	pb_writer_init(&w, req, sizeof(req));
	pb_put_string_field(&w, 1, user);
	pb_put_string_field(&w, 2, password != NULL ? password : "");
	if (w.overflow) {
		r = lb_err_set(err, LB_E_USAGE, "user name or password too long");
		goto out;
	}
	r = grpc_unary(c->conn, "/etcdserverpb.Auth/Authenticate", req, w.len,
	    &resp, &resp_len, err);
	if (r < 0) {
		if (r == LB_E_AUTH)
			lb_err_prefix(err, "authentication as '%s' failed: ", user);
		goto out;
	}
	pb_reader_init(&rd, resp, resp_len);
	while ((k = pb_next(&rd, &f)) > 0)
		if (f.num == 2 && f.wire == PB_BYTES && token == NULL &&
		    (token = strndup((const char *)f.data, f.len)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
	if (k < 0 || token == NULL || *token == '\0') {
		r = malformed(err, "authenticate response");
		goto out;
	}
	r = grpc_conn_set_token(c->conn, token, err);
out:
	OPENSSL_cleanse(req, sizeof(req));
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	if (resp != NULL) {
		OPENSSL_cleanse(resp, resp_len);
		free(resp);
	}
	return r;
}

static int
is_https(const char *url)
{
	return strncmp(url, "https://", 8) == 0;
}

int
etcd_endpoints_tls(const char *const *endpoints, size_t n, int tls_files,
    struct lb_err *err)
{
	const char *plain = NULL, *tls = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_https(endpoints[i]))
			tls = tls != NULL ? tls : endpoints[i];
		else
			plain = plain != NULL ? plain : endpoints[i];
	}
	if (plain != NULL && tls != NULL)
		return lb_err_set(err, LB_E_CONFIG, "etcd endpoints mix plain http (%s) "
		    "and https (%s): the password and snapshots would cross the network "
		    "in clear on the first (hint: https:// for every endpoint)", plain, tls);
	if (plain != NULL && tls_files)
		return lb_err_set(err, LB_E_CONFIG, "etcd endpoint %s is plain http but "
		    "cacert, cert or key is set: the password and snapshots would cross "
		    "the network in clear (hint: https://)", plain);
	return tls != NULL;
}

const char *
etcd_member_url(const struct etcd_member *m, int tls, struct lb_err *err)
{
	size_t i;

	if (m->n_client_urls == 0) {
		lb_err_set(err, LB_E_NOTFOUND, "member has no client URL (not started yet?)");
		return NULL;
	}
	for (i = 0; !tls && i < m->n_client_urls; i++)
		if (strncmp(m->client_urls[i], "http://", 7) == 0)
			return m->client_urls[i];
	/* TLS where plain http was configured leaks nothing: take it. */
	for (i = 0; i < m->n_client_urls; i++)
		if (is_https(m->client_urls[i]))
			return m->client_urls[i];
	if (!tls)
		return m->client_urls[0];
	lb_err_set(err, LB_E_TLS, "member advertises no https client URL (only %s%s) "
	    "while the configured endpoints use https: not sending the password or "
	    "taking the snapshot in clear (hint: add an https URL to the member's "
	    "--advertise-client-urls)", m->client_urls[0],
	    m->n_client_urls > 1 ? ", ..." : "");
	return NULL;
}

int
etcd_open(const char *endpoint, const struct etcd_opts *o,
    struct etcd_client **out, struct lb_err *err)
{
	struct etcd_client *c;
	struct grpc_opts go = { 0 };
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (o != NULL) {
		go.cacert = o->cacert;
		go.cert = o->cert;
		go.key = o->key;
		go.connect_timeout_s = o->connect_timeout_s;
		go.stall_timeout_s = o->stall_timeout_s;
		go.cancel = o->cancel;
	}
	if ((r = grpc_conn_new(endpoint, &go, &c->conn, err)) < 0)
		goto out;
	if (o != NULL && o->user != NULL && (c->user = strdup(o->user)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (o != NULL && o->user != NULL &&
	    (r = authenticate(c, o->user, o->password, err)) < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	etcd_close(c);
	return r;
}

void
etcd_close(struct etcd_client *c)
{
	if (c == NULL)
		return;
	grpc_conn_free(c->conn);
	free(c->user);
	free(c);
}

struct grpc_conn *
etcd_conn(struct etcd_client *c)
{
	return c->conn;
}

const char *
etcd_endpoint(const struct etcd_client *c)
{
	return grpc_conn_endpoint(c->conn);
}

int
etcd_decode_status(const uint8_t *buf, size_t len, struct etcd_status *st)
{
	struct header h = { 0 };
	struct pb_reader rd;
	struct pb_field f;
	int k;

	memset(st, 0, sizeof(*st));
	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_BYTES) {
			if (decode_header(f.data, f.len, &h) < 0)
				return -1;
		} else if (f.num == 2 && f.wire == PB_BYTES) {
			copy_str(st->version, sizeof(st->version), &f);
		} else if (f.wire == PB_VARINT) {
			switch (f.num) {
			case 3: st->db_size = (int64_t)f.u64; break;
			case 4: st->leader = f.u64; break;
			case 5: st->raft_index = f.u64; break;
			case 6: st->raft_term = f.u64; break;
			case 7: st->raft_applied_index = f.u64; break;
			case 9: st->db_size_in_use = (int64_t)f.u64; break;
			case 10: st->is_learner = f.u64 != 0; break;
			}
		}
	}
	st->cluster_id = h.cluster_id;
	st->member_id = h.member_id;
	st->revision = h.revision;
	return k;
}

/* From 3.5 etcd wants a user even for Status ("etcdserver: user name is
 * empty"), so a cluster with auth on refuses a client without one at its
 * first call: say that it is about the user, which no etcd message does. */
static int
user_needed(const struct etcd_client *c, const char *what, int r,
    struct lb_err *err)
{
	if ((r != LB_E_AUTH && r != LB_E_REMOTE) || c->user != NULL ||
	    strstr(err->msg, "user name is empty") == NULL)
		return r;
	return lb_err_set(err, LB_E_AUTH, "etcd auth is enabled and no etcd user was "
	    "given, so %s was refused (hint: a user with the root role and its "
	    "password)", what);
}

int
etcd_status(struct etcd_client *c, struct etcd_status *st, struct lb_err *err)
{
	uint8_t *resp = NULL;
	size_t len = 0;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = grpc_unary(c->conn, "/etcdserverpb.Maintenance/Status", NULL, 0,
	    &resp, &len, err)) < 0) {
		r = user_needed(c, "Status", r, err);
		goto out;
	}
	if (etcd_decode_status(resp, len, st) < 0)
		r = malformed(err, "status response");
out:
	free(resp);
	return r;
}

static int
push_str(char ***v, size_t *n, size_t *cap, const struct pb_field *f)
{
	if (lb_vec_grow(v, cap, *n, sizeof(**v), ETCD_URLS_MAX) < 0 ||
	    ((*v)[*n] = strndup((const char *)f->data, f->len)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

static void
member_clear(struct etcd_member *m)
{
	size_t i;

	free(m->name);
	for (i = 0; i < m->n_peer_urls; i++)
		free(m->peer_urls[i]);
	for (i = 0; i < m->n_client_urls; i++)
		free(m->client_urls[i]);
	free(m->peer_urls);
	free(m->client_urls);
}

static int
decode_member(const uint8_t *buf, size_t len, struct etcd_member *m)
{
	struct pb_reader rd;
	struct pb_field f;
	int k;

	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_VARINT)
			m->id = f.u64;
		else if (f.num == 2 && f.wire == PB_BYTES) {
			free(m->name);
			if ((m->name = strndup((const char *)f.data, f.len)) == NULL)
				return -1;
		} else if (f.num == 3 && f.wire == PB_BYTES) {
			if (push_str(&m->peer_urls, &m->n_peer_urls,
			    &m->cap_peer_urls, &f) < 0)
				return -1;
		} else if (f.num == 4 && f.wire == PB_BYTES) {
			if (push_str(&m->client_urls, &m->n_client_urls,
			    &m->cap_client_urls, &f) < 0)
				return -1;
		} else if (f.num == 5 && f.wire == PB_VARINT)
			m->is_learner = f.u64 != 0;
	}
	if (k == 0 && m->name == NULL && (m->name = strdup("")) == NULL)
		return -1;
	return k;
}

int
etcd_decode_members(const uint8_t *buf, size_t len, struct etcd_members **out)
{
	struct etcd_members *ms;
	struct header h = { 0 };
	struct pb_reader rd;
	struct pb_field f;
	int k;

	*out = NULL;
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return -1;
	pb_reader_init(&rd, buf, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.wire != PB_BYTES)
			continue;
		if (f.num == 1 && decode_header(f.data, f.len, &h) < 0) {
			k = -1;
			break;
		}
		if (f.num != 2)
			continue;
		if (lb_vec_grow(&ms->v, &ms->cap, ms->n, sizeof(*ms->v),
		    ETCD_MEMBERS_MAX) < 0) {
			k = -1;
			break;
		}
		memset(&ms->v[ms->n], 0, sizeof(ms->v[0]));
		if (decode_member(f.data, f.len, &ms->v[ms->n++]) < 0) {
			k = -1;
			break;
		}
	}
	if (k < 0 || ms->n == 0) {
		etcd_members_free(ms);
		return -1;
	}
	ms->cluster_id = h.cluster_id;
	ms->answered_by = h.member_id;
	*out = ms;
	return 0;
}

int
etcd_member_list(struct etcd_client *c, struct etcd_members **out,
    struct lb_err *err)
{
	uint8_t *resp = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = grpc_unary(c->conn, "/etcdserverpb.Cluster/MemberList", NULL, 0,
	    &resp, &len, err)) < 0) {
		r = user_needed(c, "MemberList", r, err);
		goto out;
	}
	if (etcd_decode_members(resp, len, out) < 0)
		r = malformed(err, "member list");
out:
	free(resp);
	return r;
}

void
etcd_members_free(struct etcd_members *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		member_clear(&m->v[i]);
	free(m->v);
	free(m);
}

/* etcd lets only users with the root role call Snapshot and HashKV, and
 * refuses the others with grpc-status 2 "auth: permission denied", which
 * says nothing of the role: say it.  Status 2 (UNKNOWN) is no code to
 * decide on, so etcd's message text is what is matched. */
static int
root_role_needed(const struct etcd_client *c, const char *what, int r,
    struct lb_err *err)
{
	if ((r != LB_E_REMOTE && r != LB_E_AUTH) ||
	    strstr(err->msg, "permission denied") == NULL)
		return user_needed(c, what, r, err);
	if (c->user != NULL)
		return lb_err_set(err, LB_E_AUTH, "permission denied: %s needs an etcd "
		    "user with the root role, and '%s' has not got it (hint: etcdctl "
		    "user grant-role %s root)", what, c->user, c->user);
	return lb_err_set(err, LB_E_AUTH, "permission denied: %s needs the root "
	    "role, and the user of this connection (the client certificate's common "
	    "name) has not got it (hint: grant it the root role, or set user)", what);
}

struct snap_state {
	struct flt *dest;
	struct etcd_snapshot_info *info;
};

/* SnapshotResponse: header = 1, remaining_bytes = 2, blob = 3, version = 4 */
static int
on_snapshot_msg(void *arg, const uint8_t *msg, size_t len, struct lb_err *err)
{
	struct snap_state *s = arg;
	struct pb_reader rd;
	struct pb_field f;
	struct header h = { 0 };
	int k, r;

	pb_reader_init(&rd, msg, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 3 && f.wire == PB_BYTES) {
			if ((r = flt_write(s->dest, f.data, f.len, err)) < 0)
				return r;
			s->info->bytes += f.len;
		} else if (f.num == 1 && f.wire == PB_BYTES) {
			if (decode_header(f.data, f.len, &h) < 0)
				return malformed(err, "snapshot header");
			if (h.revision != 0)
				s->info->header_revision = h.revision;
		} else if (f.num == 4 && f.wire == PB_BYTES) {
			copy_str(s->info->version, sizeof(s->info->version), &f);
		}
	}
	return k < 0 ? malformed(err, "snapshot message") : 0;
}

int
etcd_snapshot(struct etcd_client *c, struct flt *dest,
    struct etcd_snapshot_info *info, struct lb_err *err)
{
	struct etcd_snapshot_info local;
	struct snap_state s;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	s.dest = dest;
	s.info = info;
	return root_role_needed(c, "a snapshot", grpc_call(c->conn,
	    "/etcdserverpb.Maintenance/Snapshot", NULL, 0, 1, on_snapshot_msg, &s, err),
	    err);
}

int
etcd_hashkv(struct etcd_client *c, int64_t rev, uint32_t *hash,
    int64_t *compact_rev, int64_t *header_rev, struct lb_err *err)
{
	struct header h = { 0 };
	struct pb_writer w;
	struct pb_reader rd;
	struct pb_field f;
	uint8_t req[16], *resp = NULL;
	size_t len = 0;
	int r, k;

	*hash = 0;
	if (compact_rev != NULL)
		*compact_rev = 0;
	pb_writer_init(&w, req, sizeof(req));
	if (rev > 0)
		pb_put_varint_field(&w, 1, (uint64_t)rev);
	if ((r = grpc_unary(c->conn, "/etcdserverpb.Maintenance/HashKV", req, w.len,
	    &resp, &len, err)) < 0) {
		r = root_role_needed(c, "HashKV", r, err);
		goto out;
	}
	pb_reader_init(&rd, resp, len);
	while ((k = pb_next(&rd, &f)) > 0) {
		if (f.num == 1 && f.wire == PB_BYTES)
			decode_header(f.data, f.len, &h);
		else if (f.num == 2 && f.wire == PB_VARINT)
			*hash = (uint32_t)f.u64;
		else if (f.num == 3 && f.wire == PB_VARINT && compact_rev != NULL)
			*compact_rev = (int64_t)f.u64;
	}
	if (k < 0) {
		r = malformed(err, "hashkv response");
		goto out;
	}
	if (header_rev != NULL)
		*header_rev = h.revision;
out:
	free(resp);
	return r;
}

void
etcd_id_str(uint64_t id, char out[17])
{
	snprintf(out, 17, "%" PRIx64, id);
}
