/*
 * probe.c: reaching the repository and the etcd members with the
 * configuration's settings (probe.h).  Each check goes through the code a
 * backup uses (setup_repo, setup_etcd_opts, etcd_open), so its error is
 * the one a backup would give.
 */
#include "ops/probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/secret.h"
#include "env/setup.h"
#include "etcd/etcd.h"
#include "repo/repo.h"

static int
count_key(void *arg, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

static int
probe_repo(const struct cfg *c, FILE *out)
{
	static const char body[] = "written by lifeboat config check --probe; "
	    "deleted by it a moment later\n";
	struct lb_err err = { 0 };
	struct repo *repo = NULL;
	uint8_t rnd[16];
	char key[64], hex[33];
	const char *step = "open";
	uint64_t size = 0;
	int r, n = 0, written = 0;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		r = lb_err_set(&err, LB_E_INTERNAL, "no random bytes for the probe key");
		goto out;
	}
	lb_hex(rnd, sizeof(rnd), hex);
	snprintf(key, sizeof(key), PROBE_KEY_PREFIX "%s", hex);
	if ((r = setup_repo(c, &repo, &err)) < 0)
		goto out;
	step = "list";
	if ((r = repo_list(repo, PROBE_KEY_PREFIX, count_key, &n, &err)) < 0)
		goto out;
	step = "write";
	if ((r = repo_put_buf(repo, key, body, sizeof(body) - 1, &err)) < 0)
		goto out;
	written = 1;
	step = "read back";
	if ((r = repo_stat(repo, key, &size, &err)) < 0)
		goto out;
	if (size != sizeof(body) - 1) {
		r = lb_err_set(&err, LB_E_PROTO, "%s has %llu bytes, %zu were written", key,
		    (unsigned long long)size, sizeof(body) - 1);
		goto out;
	}
	step = "delete";
	/* Garbage for certain: the key holds 128 random bits this run drew,
	 * and this run wrote it a moment ago; nothing else names it. */
	if ((r = repo_delete(repo, key, &err)) < 0)
		goto out;
	written = 0;
out:
	if (r == 0)
		fprintf(out, "ok      repository %s: listed, wrote, read back and deleted %s\n",
		    repo_url(repo), key);
	else
		fprintf(out, "FAILED  repository %s: %s: %s%s%s\n", repo != NULL ?
		    repo_url(repo) : cfg_get_str(c, NULL, CFG_REPO), step, err.msg,
		    written ? "; the probe object is left behind: " : "",
		    written ? key : "");
	repo_close(repo);
	return r < 0;
}

/* A sink that stops the snapshot at its first bytes: by then etcd has
 * checked the caller's permission, which is all the probe asks. */
struct first_bytes {
	struct flt f;
	uint64_t n;
};

static int
first_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	(void)buf;
	((struct first_bytes *)f)->n += len;
	return lb_err_set(err, LB_E_CANCELED, "probe: snapshot started");
}

static void
first_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops first_ops = { "probe", first_write, NULL, first_free };

static int
probe_endpoint(const char *cluster, const char *ep, const struct etcd_opts *o,
    FILE *out)
{
	struct lb_err err = { 0 };
	struct etcd_client *ec = NULL;
	struct etcd_status st;
	struct etcd_snapshot_info info;
	struct first_bytes *fb = NULL;
	const char *step = "connect";
	char id[17];
	int r;

	/* the connection, TLS and authentication happen at the first call */
	if ((r = etcd_open(ep, o, &ec, &err)) < 0 ||
	    (r = etcd_status(ec, &st, &err)) < 0)
		goto out;
	step = "snapshot";
	if ((fb = calloc(1, sizeof(*fb))) == NULL) {
		r = lb_err_set(&err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	fb->f.ops = &first_ops;
	memset(&info, 0, sizeof(info));
	r = etcd_snapshot(ec, &fb->f, &info, &err);
	if (fb->n > 0) {
		lb_err_clear(&err);
		r = 0;
	} else if (r == 0) {
		r = lb_err_set(&err, LB_E_PROTO, "the snapshot stream ended empty");
	}   /* a missing root role: etcd_snapshot says so itself */
out:
	if (r == 0) {
		etcd_id_str(st.member_id, id);
		fprintf(out, "ok      cluster %s %s: etcd %s, member %s, revision %lld, "
		    "snapshot allowed%s%s\n", cluster, ep, st.version, id,
		    (long long)st.revision, o->user != NULL ? " to user " : "",
		    o->user != NULL ? o->user : "");
	} else {
		fprintf(out, "FAILED  cluster %s %s: %s: %s\n", cluster, ep, step, err.msg);
	}
	if (fb != NULL)
		flt_free(&fb->f);
	etcd_close(ec);
	return r < 0;
}

int
probe_config(const struct cfg *c, FILE *out)
{
	struct lb_err err = { 0 };
	const char *const *eps;
	size_t i, k, n;
	int bad = probe_repo(c, out);

	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);
		struct etcd_opts o;
		char *pw = NULL;

		lb_err_clear(&err);
		if (setup_etcd_opts(c, name, &o, &pw, &err) < 0) {
			fprintf(out, "FAILED  cluster %s: %s\n", name, err.msg);
			bad++;
			continue;
		}
		n = cfg_get_list(c, name, CFG_ENDPOINTS, &eps);
		for (k = 0; k < n; k++)
			bad += probe_endpoint(name, eps[k], &o, out);
		lb_secret_free(pw);
	}
	fflush(out);
	return bad;
}
