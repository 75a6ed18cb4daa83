/*
 * pull.c: member discovery, the parallel pull of every member (pull.h),
 * and the `lifeboat pull` command.
 */
#include "backup/pull.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"

int
pull_plan_discover(char *const *endpoints, size_t n_endpoints,
    const struct etcd_opts *o, struct pull_plan **out, struct lb_err *err)
{
	struct etcd_members *ms = NULL;
	struct etcd_client *c = NULL;
	struct etcd_status st;
	struct pull_plan *p = NULL;
	struct lb_err e, best;
	size_t i;
	int r = LB_E_USAGE, tls;

	*out = NULL;
	if (n_endpoints == 0)
		return lb_err_set(err, LB_E_USAGE, "no etcd endpoints given");
	/* The members are reached the way the configuration reaches the
	 * cluster: never over plain http when it says TLS. */
	if ((tls = etcd_endpoints_tls((const char *const *)endpoints, n_endpoints,
	    o != NULL && (o->cacert != NULL || o->cert != NULL || o->key != NULL),
	    err)) < 0)
		return tls;
	lb_err_clear(&best);
	for (i = 0; i < n_endpoints; i++) {
		lb_err_clear(&e);
		if ((r = etcd_open(endpoints[i], o, &c, &e)) == 0 &&
		    (r = etcd_member_list(c, &ms, &e)) == 0)
			break;
		lb_err_prefix(&e, "etcd %s: ", endpoints[i]);
		log_debug("member list: %s", e.msg);
		/* A down member may be followed by one that answers; what is
		 * reported if none does is the first error a person must act
		 * on (a wrong password, TLS), not a down member's refusal. */
		if (best.code == 0 || (best.code == LB_E_NET && e.code != LB_E_NET) ||
		    r == LB_E_CANCELED)
			best = e;
		etcd_close(c);
		c = NULL;
		if (r == LB_E_CANCELED)
			break;
	}
	if (ms == NULL) {
		*err = best;
		r = best.code != 0 ? best.code : LB_E_INTERNAL;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->t = calloc(ms->n, sizeof(*p->t))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	p->cluster_id = ms->cluster_id;
	if (etcd_status(c, &st, err) == 0)
		p->leader = st.leader;
	for (i = 0; i < ms->n; i++) {
		const struct etcd_member *m = &ms->v[i];
		struct pull_target *t = &p->t[p->n++];
		const char *url;

		t->id = m->id;
		etcd_id_str(m->id, t->id_hex);
		t->is_learner = m->is_learner;
		t->is_leader = m->id == p->leader;
		t->name = strdup(m->name[0] != '\0' ? m->name : t->id_hex);
		/* No URL that fits: this member fails with t->err, the others
		 * are still pulled. */
		url = etcd_member_url(m, tls, &t->err);
		t->endpoint = url != NULL ? strdup(url) : NULL;
		if (t->name == NULL || (url != NULL && t->endpoint == NULL)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	pull_plan_free(p);
	etcd_members_free(ms);
	etcd_close(c);
	return r;
}

void
pull_plan_free(struct pull_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->t[i].name);
		free(p->t[i].endpoint);
	}
	free(p->t);
	free(p);
}

struct run_ctx {
	struct pull_plan *plan;
	const struct etcd_opts *opts;
	const struct pull_hooks *hooks;
	pthread_mutex_t lock;
	size_t next;
	size_t ok;
};

static void
pull_one(struct run_ctx *ctx, size_t i)
{
	struct pull_target *t = &ctx->plan->t[i];
	struct etcd_snapshot_info info;
	struct etcd_client *c = NULL;
	struct flt_chain *b = NULL;
	struct flt *head = NULL, *trailer;
	int r;

	clock_gettime(CLOCK_REALTIME, &t->started);
	if (t->endpoint == NULL) {
		/* discovery said why */
		r = t->err.code != 0 ? t->err.code : lb_err_set(&t->err, LB_E_NOTFOUND,
		    "member has no client URL");
		goto out;
	}
	lb_err_clear(&t->err);
	if ((r = etcd_open(t->endpoint, ctx->opts, &c, &t->err)) < 0 ||
	    (r = etcd_status(c, &t->status, &t->err)) < 0)
		goto out;
	if ((r = flt_chain_new(&b, &t->err)) < 0 ||
	    (r = flt_chain_add(b, flt_etcd_trailer_new(NULL), &trailer, &t->err)) < 0 ||
	    (r = ctx->hooks->make_chain(ctx->hooks->arg, i, t, b, &t->err)) < 0)
		goto out;
	r = flt_chain_build(b, &head, &t->err);
	b = NULL;
	if (r < 0)
		goto out;
	if ((r = etcd_snapshot(c, head, &info, &t->err)) < 0)
		goto out;
	t->bytes = info.bytes;
	if ((r = flt_finish(head, &t->err)) < 0)
		goto out;
	t->db_size = flt_etcd_trailer_db_size(trailer);
	flt_etcd_trailer_hash(trailer, t->etcd_sha256);
	if (ctx->hooks->finished != NULL &&
	    (r = ctx->hooks->finished(ctx->hooks->arg, i, t, &t->err)) < 0)
		goto out;
out:
	flt_chain_free(b);
	flt_free(head);
	etcd_close(c);
	clock_gettime(CLOCK_REALTIME, &t->finished);
	t->rc = r;
	if (r < 0 && t->endpoint != NULL)
		lb_err_prefix(&t->err, "etcd %s (%s): ", t->name, t->endpoint);
	else if (r < 0)
		lb_err_prefix(&t->err, "etcd %s: ", t->name);
}

static void *
pull_worker(void *arg)
{
	struct run_ctx *ctx = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&ctx->lock);
		i = ctx->next++;
		pthread_mutex_unlock(&ctx->lock);
		if (i >= ctx->plan->n)
			break;
		pull_one(ctx, i);
		if (ctx->plan->t[i].rc == 0) {
			pthread_mutex_lock(&ctx->lock);
			ctx->ok++;
			pthread_mutex_unlock(&ctx->lock);
		}
	}
	return NULL;
}

size_t
pull_run(struct pull_plan *p, const struct etcd_opts *o, int parallel,
    const struct pull_hooks *h)
{
	struct run_ctx ctx;
	pthread_t th[16];
	size_t i, n_threads;

	memset(&ctx, 0, sizeof(ctx));
	ctx.plan = p;
	ctx.opts = o;
	ctx.hooks = h;
	pthread_mutex_init(&ctx.lock, NULL);
	n_threads = parallel < 1 ? 1 : (size_t)parallel;
	if (n_threads > p->n)
		n_threads = p->n;
	if (n_threads > sizeof(th) / sizeof(th[0]))
		n_threads = sizeof(th) / sizeof(th[0]);
	/* One member at a time needs no thread of its own. */
	if (n_threads <= 1) {
		pull_worker(&ctx);
	} else {
		for (i = 0; i < n_threads; i++)
			if (pthread_create(&th[i], NULL, pull_worker, &ctx) != 0)
				break;
		n_threads = i;
		if (n_threads == 0)
			pull_worker(&ctx);
		for (i = 0; i < n_threads; i++)
			pthread_join(th[i], NULL);
	}
	pthread_mutex_destroy(&ctx.lock);
	return ctx.ok;
}

/* The `lifeboat pull` command: a file per member in --out-dir. */

struct pull_files {
	const char *out_dir;
};

void
pull_safe_name(const char *name, char *out, size_t cap)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < cap; i++) {
		char ch = name[i];
		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && i > 0) ? ch : '_';
	}
	out[i] = '\0';
}

static int
pull_file_chain(void *arg, size_t i, struct pull_target *t, struct flt_chain *c,
    struct lb_err *err)
{
	const struct pull_files *pf = arg;
	char name[128], path[4096];
	struct flt *f;
	int r;

	(void)i;
	pull_safe_name(t->name, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s.db", pf->out_dir, name);
	if ((r = flt_file_new(path, 0600, &f, err)) < 0)
		return r;
	return flt_chain_add(c, f, NULL, err);
}

static void
pull_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat pull --endpoints URL[,URL...] --out-dir DIR [options]\n"
	    "\n"
	    "Pulls a snapshot from every member of the cluster (learners too) into\n"
	    "DIR/<member>.db, byte for byte what 'etcdctl snapshot save' writes,\n"
	    "with etcd's sha256 trailer verified while streaming.\n"
	    "\n"
	    "  --endpoints URLS        client URLs to discover the members from\n"
	    "  --out-dir DIR           existing directory for the snapshot files\n"
	    "  --cacert FILE           CA bundle to verify the members' certificates\n"
	    "  --cert FILE --key FILE  client certificate and key\n"
	    "  --user NAME             etcd user (needs the root role for snapshots)\n"
	    "  --password-file FILE    its password (or $LIFEBOAT_ETCD_PASSWORD)\n"
	    "  --connect-timeout SEC   default 10\n"
	    "  --stall-timeout SEC     give up after this long without data, default 60\n"
	    "  --parallel N            members pulled at once, default 3\n"
	    "  --json                  print the result as JSON\n"
	    "\n"
	    "Exit status: 0 every member pulled, 3 some, 1 none, 2 usage.\n");
}

static char **
split_list(const char *s, size_t *n)
{
	char *copy, *tok, *save = NULL, **v = NULL, **nv;

	*n = 0;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if ((nv = realloc(v, (*n + 2) * sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((v[*n] = strdup(tok)) == NULL)
			break;
		v[++*n] = NULL;
	}
	free(copy);
	return v;
}

static void
free_list(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
print_result_json(const struct pull_plan *p, const char *out_dir)
{
	json_t *root = json_object(), *arr = json_array();
	char id[17], hex[65], path[4096], name[128];
	size_t i, ok = 0;

	etcd_id_str(p->cluster_id, id);
	json_object_set_new(root, "cluster_id", json_string(id));
	for (i = 0; i < p->n; i++) {
		const struct pull_target *t = &p->t[i];
		json_t *m = json_object();

		json_object_set_new(m, "name", json_string(t->name));
		json_object_set_new(m, "id", json_string(t->id_hex));
		json_object_set_new(m, "endpoint", t->endpoint ?
		    json_string(t->endpoint) : json_null());
		json_object_set_new(m, "learner", json_boolean(t->is_learner));
		json_object_set_new(m, "leader", json_boolean(t->is_leader));
		json_object_set_new(m, "status", json_string(t->rc == 0 ? "ok" : "failed"));
		if (t->rc == 0) {
			ok++;
			pull_safe_name(t->name, name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s.db", out_dir, name);
			lb_hex(t->etcd_sha256, 32, hex);
			json_object_set_new(m, "file", json_string(path));
			json_object_set_new(m, "db_size", json_integer((json_int_t)t->db_size));
			json_object_set_new(m, "etcd_sha256", json_string(hex));
			json_object_set_new(m, "revision", json_integer(t->status.revision));
			json_object_set_new(m, "raft_index",
			    json_integer((json_int_t)t->status.raft_index));
			json_object_set_new(m, "raft_term",
			    json_integer((json_int_t)t->status.raft_term));
			json_object_set_new(m, "etcd_version", json_string(t->status.version));
		} else {
			json_object_set_new(m, "error", json_string(t->err.msg));
		}
		json_array_append_new(arr, m);
	}
	json_object_set_new(root, "members", arr);
	json_object_set_new(root, "pulled", json_integer((json_int_t)ok));
	json_object_set_new(root, "total", json_integer((json_int_t)p->n));
	json_dumpf(root, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(root);
}

static void
print_result_table(const struct pull_plan *p)
{
	char size[32], hex[65];
	size_t i;

	printf("%-16s %-8s %-7s %10s %10s  %s\n", "MEMBER", "ROLE", "STATUS",
	    "REVISION", "SIZE", "ETCD SHA256");
	for (i = 0; i < p->n; i++) {
		const struct pull_target *t = &p->t[i];
		const char *role = t->is_leader ? "leader" :
		    t->is_learner ? "learner" : "follower";

		if (t->rc != 0) {
			printf("%-16s %-8s %-7s %10s %10s  -\n", t->name, role,
			    "failed", "-", "-");
			continue;
		}
		lb_fmt_size(t->db_size, size, sizeof(size));
		lb_hex(t->etcd_sha256, 8, hex);
		printf("%-16s %-8s %-7s %10lld %10s  %s...\n", t->name, role, "ok",
		    (long long)t->status.revision, size, hex);
	}
}

/* Fills o's TLS and auth fields from the shared etcd options; the
 * password comes from a file or the environment, never from argv. */
static int
resolve_password(const char *user, const char *password_file, char **password,
    struct lb_err *err)
{
	*password = NULL;
	if (user == NULL)
		return 0;
	if (password_file != NULL)
		return lb_secret_read_file(password_file, password, err);
	if ((*password = lb_secret_from_env("LIFEBOAT_ETCD_PASSWORD")) != NULL)
		return 0;
	return lb_err_set(err, LB_E_USAGE, "no password for etcd user '%s' "
	    "(hint: --password-file FILE or $LIFEBOAT_ETCD_PASSWORD)", user);
}

int
pull_cmd(const struct lb_globals *g, int argc, char **argv)
{
	enum { O_CACERT = 256, O_CERT, O_KEY, O_USER, O_PWFILE, O_CTO, O_STO,
	    O_PAR, O_JSON };
	static const struct option longopts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "user", required_argument, NULL, O_USER },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "connect-timeout", required_argument, NULL, O_CTO },
		{ "stall-timeout", required_argument, NULL, O_STO },
		{ "parallel", required_argument, NULL, O_PAR },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct etcd_opts o = { 0 };
	struct pull_plan *plan = NULL;
	struct pull_files pf = { NULL };
	struct pull_hooks hooks;
	struct lb_err err;
	struct stat st;
	const char *endpoints = NULL, *password_file = NULL;
	char **eps = NULL, *password = NULL;
	size_t n_eps = 0, ok, i;
	int opt, json = 0, parallel = 3, status = 2;

	(void)g;
	lb_err_clear(&err);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "e:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoints = optarg; break;
		case 'o': pf.out_dir = optarg; break;
		case O_CACERT: o.cacert = optarg; break;
		case O_CERT: o.cert = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_USER: o.user = optarg; break;
		case O_PWFILE: password_file = optarg; break;
		case O_CTO: o.connect_timeout_s = atol(optarg); break;
		case O_STO: o.stall_timeout_s = atol(optarg); break;
		case O_PAR: parallel = atoi(optarg); break;
		case O_JSON: json = 1; break;
		case 'h': pull_usage(stdout); return 0;
		default: pull_usage(stderr); return 2;
		}
	}
	if (optind != argc || endpoints == NULL || pf.out_dir == NULL) {
		log_error("pull needs --endpoints and --out-dir (see 'lifeboat pull --help')");
		goto out;
	}
	if (stat(pf.out_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("out-dir %s: %s", pf.out_dir,
		    errno == ENOENT || !S_ISDIR(st.st_mode) ? "no such directory" :
		    strerror(errno));
		goto out;
	}
	if ((o.cert == NULL) != (o.key == NULL)) {
		log_error("--cert and --key go together");
		goto out;
	}
	if ((eps = split_list(endpoints, &n_eps)) == NULL || n_eps == 0) {
		log_error("--endpoints: no endpoint given");
		goto out;
	}
	if (etcd_endpoints_tls((const char *const *)eps, n_eps, o.cacert != NULL ||
	    o.cert != NULL || o.key != NULL, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	if (resolve_password(o.user, password_file, &password, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	o.password = password;
	o.cancel = &lb_cancel;
	lb_cancel_on_signals();

	status = 1;
	if (pull_plan_discover(eps, n_eps, &o, &plan, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	hooks.make_chain = pull_file_chain;
	hooks.finished = NULL;
	hooks.arg = &pf;
	ok = pull_run(plan, &o, parallel, &hooks);
	for (i = 0; i < plan->n; i++)
		if (plan->t[i].rc < 0)
			log_error("%s", plan->t[i].err.msg);
	if (json)
		print_result_json(plan, pf.out_dir);
	else
		print_result_table(plan);
	fflush(stdout);
	if (!json)
		log_info("pulled %zu of %zu members into %s", ok, plan->n, pf.out_dir);
	status = ok == plan->n ? 0 : ok > 0 ? 3 : 1;
out:
	pull_plan_free(plan);
	free_list(eps);
	lb_secret_free(password);
	return status;
}
