/*
 * cmd.c: `lifeboat restore cluster|member|seed|join` (restore.h): the
 * order of the steps, what is checked before anything changes, the roll
 * back when a step fails after that, and the checks of the running result.
 *
 * The order is the safety: every check that can fail without touching the
 * target (arguments, tool, etcd binary, ports, data dirs, the backup, the
 * identity, the whole object fetched and verified into a plaintext file)
 * runs first; only then are data dirs moved aside and restored.  From that
 * point a failure stops what was started, removes what restore created and
 * moves the old data dirs back.
 */
#include "restore/restore.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "etcd/etcd.h"
#include "etcd/etcd_admin.h"
#include "common/log.h"

/* Revisions added on restore when the tool can (etcdutl 3.5+): etcd's
 * documentation suggests a bump well above the writes the lost cluster
 * may have made after the backup, so watchers never see a revision again. */
#define DEFAULT_BUMP 1000000000LL

enum mode { M_CLUSTER, M_MEMBER, M_SEED, M_JOIN };

struct opts {
	enum mode mode;
	const char *cluster, *backup, *at_s, *member, *repo, *identity, *catalog;
	const char *s3_endpoint, *s3_region;
	const char *members, *base_dir, *name, *initial_cluster, *token;
	const char *data_dir, *client_url, *peer_url, *seed;
	const char *etcdutl, *unit_dir;
	const char *client_cert, *client_key;   /* lifeboat's own, for the checks */
	struct restore_etcd_opts eo;
	int start, force, dry_run, json;
	long timeout_s;
	long long bump;
};

struct ctx {
	const struct lb_globals *g;
	struct opts *o;
	struct restore_member *all;    /* every member of the cluster */
	size_t n_all;
	size_t local[64];              /* indexes into all restored here */
	size_t n_local;
	struct restore_tool tool;
	struct restore_source *src;
	struct restore_fetched got;
	struct etcd_opts etcd;
	char snap[4200];               /* the plaintext snapshot file */
	int tty;
	double fetch_t0, fetch_log;    /* progress of the current object */
	char fetch_member[64];
	int changed;                   /* target touched: roll back on failure */
	double t_restore, t_up;        /* seconds: etcd's restore, start to checked */
	/* results of the checks */
	int64_t revision, keys;
	uint32_t hash;
	int hash_vs_backup;            /* 1 matched, 0 not checkable */
	char note[256];
};

/* ---- arguments ------------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat restore MODE [options]\n"
	    "\n"
	    "modes:\n"
	    "  cluster --members m1=PEER_URL@CLIENT_URL,... --base-dir DIR [--start]\n"
	    "      every member restored here, under DIR/NAME, in parallel\n"
	    "  member --name N --initial-cluster m1=PEER_URL,... --initial-cluster-token T\n"
	    "      --data-dir DIR [--client-url URL] [--start]\n"
	    "      one member of a cluster restored from the same backup on each machine\n"
	    "  seed --name N --peer-url URL --client-url URL --data-dir DIR [--start]\n"
	    "      a one-member cluster from the backup, for members to join\n"
	    "  join --seed CLIENT_URL --name N --peer-url URL --client-url URL --data-dir DIR\n"
	    "      adds a member to a running (seeded) cluster and starts it\n"
	    "\n"
	    "which backup (not for join):\n"
	    "  --cluster NAME      the cluster of the backup\n"
	    "  --backup ID|latest  (default latest complete)\n"
	    "  --at TIME           the newest complete backup taken at or before TIME\n"
	    "                      (RFC 3339, a date, or a duration ago such as 6h)\n"
	    "  --member NAME       use this member's object first (default: highest revision)\n"
	    "  --repo URL          read manifests from this repository, not the catalog\n"
	    "  --identity FILE     age identity (default: identity-file of the config)\n"
	    "  --catalog PATH      the catalog (default: catalog of the config)\n"
	    "  --s3-endpoint URL, --s3-region R   with --repo s3://... and no config\n"
	    "\n"
	    "how:\n"
	    "  --start             start etcd for each member restored, wait until the\n"
	    "                      cluster is healthy and check its data\n"
	    "  --write-systemd-unit DIR  also write etcd-NAME.service into DIR\n"
	    "  --etcdutl PATH      etcd's restore tool (default: etcdutl, else etcdctl)\n"
	    "  --etcd-bin PATH     etcd (default: etcd on PATH)\n"
	    "  --cert F --key F --cacert F              client TLS of the members\n"
	    "  --peer-cert F --peer-key F --peer-cacert F   peer TLS\n"
	    "  --client-cert F --client-key F   lifeboat's own certificate for the\n"
	    "                      checks (default --cert/--key, which must then allow\n"
	    "                      client auth)\n"
	    "  --bump-revision N   with etcdutl (default %lld; 0: none)\n"
	    "  --timeout SECONDS   to become healthy (default 120)\n"
	    "  --force             move non-empty data dirs aside (DIR.lifeboat-TIME)\n"
	    "  --dry-run           print the plan, change nothing\n"
	    "  --json              print the report as JSON\n"
	    "\n"
	    "Nothing at the target changes until the chosen member object has been\n"
	    "fetched and verified (sha256 of the stored bytes, age, zstd, etcd's hash)\n"
	    "into a plaintext snapshot file beside the data dirs, which is removed at\n"
	    "the end; an object that fails is reported and the next member's is used.\n"
	    "With --start, restore waits for one leader, then checks that the revision\n"
	    "is at least the backup's, that every member holds the same number of keys\n"
	    "and the same HashKV at that revision, and that HashKV equals the one the\n"
	    "backup recorded (when the backup recorded one at a revision the snapshot\n"
	    "holds).  A failure after the first change stops what was started, removes\n"
	    "what restore created and moves the old data dirs back.\n"
	    "\n"
	    "Exit status: 0 restored (and checked with --start), 1 failed, 2 usage.\n",
	    DEFAULT_BUMP);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLUSTER = 256, O_BACKUP, O_AT, O_MEMBER, O_REPO, O_IDENTITY,
	    O_CATALOG, O_S3EP, O_S3REG, O_MEMBERS, O_BASE, O_NAME, O_IC, O_TOKEN,
	    O_DATA, O_CLIENT, O_PEER, O_SEED, O_ETCDUTL, O_ETCDBIN, O_CERT, O_KEY,
	    O_CACERT, O_PCERT, O_PKEY, O_PCACERT, O_START, O_UNIT, O_FORCE, O_DRY,
	    O_JSON, O_TIMEOUT, O_BUMP, O_CCERT, O_CKEY };
	static const struct option lo[] = {
		{ "cluster", required_argument, NULL, O_CLUSTER },
		{ "backup", required_argument, NULL, O_BACKUP },
		{ "at", required_argument, NULL, O_AT },
		{ "member", required_argument, NULL, O_MEMBER },
		{ "repo", required_argument, NULL, O_REPO },
		{ "identity", required_argument, NULL, O_IDENTITY },
		{ "catalog", required_argument, NULL, O_CATALOG },
		{ "s3-endpoint", required_argument, NULL, O_S3EP },
		{ "s3-region", required_argument, NULL, O_S3REG },
		{ "members", required_argument, NULL, O_MEMBERS },
		{ "base-dir", required_argument, NULL, O_BASE },
		{ "name", required_argument, NULL, O_NAME },
		{ "initial-cluster", required_argument, NULL, O_IC },
		{ "initial-cluster-token", required_argument, NULL, O_TOKEN },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "client-url", required_argument, NULL, O_CLIENT },
		{ "peer-url", required_argument, NULL, O_PEER },
		{ "seed", required_argument, NULL, O_SEED },
		{ "etcdutl", required_argument, NULL, O_ETCDUTL },
		{ "etcd-bin", required_argument, NULL, O_ETCDBIN },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "peer-cert", required_argument, NULL, O_PCERT },
		{ "peer-key", required_argument, NULL, O_PKEY },
		{ "peer-cacert", required_argument, NULL, O_PCACERT },
		{ "start", no_argument, NULL, O_START },
		{ "write-systemd-unit", required_argument, NULL, O_UNIT },
		{ "force", no_argument, NULL, O_FORCE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "bump-revision", required_argument, NULL, O_BUMP },
		{ "client-cert", required_argument, NULL, O_CCERT },
		{ "client-key", required_argument, NULL, O_CKEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;
	char *e;

	o->timeout_s = 120;
	o->bump = DEFAULT_BUMP;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_CLUSTER: o->cluster = optarg; break;
		case O_BACKUP: o->backup = optarg; break;
		case O_AT: o->at_s = optarg; break;
		case O_MEMBER: o->member = optarg; break;
		case O_REPO: o->repo = optarg; break;
		case O_IDENTITY: o->identity = optarg; break;
		case O_CATALOG: o->catalog = optarg; break;
		case O_S3EP: o->s3_endpoint = optarg; break;
		case O_S3REG: o->s3_region = optarg; break;
		case O_MEMBERS: o->members = optarg; break;
		case O_BASE: o->base_dir = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_IC: o->initial_cluster = optarg; break;
		case O_TOKEN: o->token = optarg; break;
		case O_DATA: o->data_dir = optarg; break;
		case O_CLIENT: o->client_url = optarg; break;
		case O_PEER: o->peer_url = optarg; break;
		case O_SEED: o->seed = optarg; break;
		case O_ETCDUTL: o->etcdutl = optarg; break;
		case O_ETCDBIN: o->eo.etcd_bin = optarg; break;
		case O_CERT: o->eo.cert = optarg; break;
		case O_KEY: o->eo.key = optarg; break;
		case O_CACERT: o->eo.cacert = optarg; break;
		case O_PCERT: o->eo.peer_cert = optarg; break;
		case O_PKEY: o->eo.peer_key = optarg; break;
		case O_PCACERT: o->eo.peer_cacert = optarg; break;
		case O_CCERT: o->client_cert = optarg; break;
		case O_CKEY: o->client_key = optarg; break;
		case O_START: o->start = 1; break;
		case O_UNIT: o->unit_dir = optarg; break;
		case O_FORCE: o->force = 1; break;
		case O_DRY: o->dry_run = 1; break;
		case O_JSON: o->json = 1; break;
		case O_TIMEOUT:
			o->timeout_s = strtol(optarg, &e, 10);
			if (*e != '\0' || o->timeout_s < 1 || o->timeout_s > 86400) {
				log_error("--timeout: expected 1..86400 seconds");
				return -1;
			}
			break;
		case O_BUMP:
			o->bump = strtoll(optarg, &e, 10);
			if (*e != '\0' || o->bump < 0) {
				log_error("--bump-revision: expected a number >= 0");
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		log_error("restore: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

/* Every option a mode needs, named when missing. */
static int
need(const char *v, const char *flag, const char *mode)
{
	if (v != NULL)
		return 0;
	log_error("restore %s: %s is required", mode, flag);
	return -1;
}

/* ---- configuration --------------------------------------------------------- */

static int
has_newline(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* The configuration file when there is one; with --repo, a configuration
 * made of the flags (and the file's s3 options and identity when it
 * exists), so the bucket and an identity file are enough. */
static int
load_cfg(const struct lb_globals *g, const struct opts *o, struct cfg **out,
    struct lb_err *err)
{
	struct cfg *file = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int r;

	*out = NULL;
	r = cfg_load(g->config_path, &file, err);
	if (r < 0 && !(r == LB_E_NOTFOUND && !g->config_explicit && o->repo != NULL))
		/* no configuration is a configuration error (exit 2) */
		return r == LB_E_NOTFOUND ? (err->code = LB_E_CONFIG) : r;
	if (o->repo == NULL) {
		*out = file;
		return 0;
	}
	lb_err_clear(err);
	if (has_newline(o->repo) || has_newline(o->s3_endpoint) ||
	    has_newline(o->s3_region)) {
		r = lb_err_set(err, LB_E_USAGE, "--repo and --s3-*: no line breaks");
		goto out;
	}
	if ((fp = open_memstream(&text, &len)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	fprintf(fp, "[global]\nrepo = %s\n", o->repo);
	{
		static const char *const keep[] = { "s3-endpoint", "s3-region",
		    "s3-uri-style", "s3-ca-file", "s3-access-key-id",
		    "s3-secret-access-key-file", "identity-file", "catalog" };
		size_t i;
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			const char *v = NULL;
			if (strcmp(keep[i], "s3-endpoint") == 0 && o->s3_endpoint != NULL)
				v = o->s3_endpoint;
			else if (strcmp(keep[i], "s3-region") == 0 && o->s3_region != NULL)
				v = o->s3_region;
			else if (file != NULL && cfg_is_set(file, NULL, keep[i]))
				v = cfg_get_str(file, NULL, keep[i]);
			if (v != NULL)
				fprintf(fp, "%s = %s\n", keep[i], v);
		}
	}
	if (fclose(fp) != 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	r = cfg_parse_string(text, "--repo", out, err);
out:
	free(text);
	cfg_free(file);
	return r;
}

/* ---- progress and report ------------------------------------------------------- */

/* On a terminal one line redrawn with bytes and rate; off one, a log line
 * every 10 s and at the end. */
static void
on_progress(void *arg, const char *member, uint64_t done, uint64_t total,
    int finished)
{
	struct ctx *c = arg;
	char a[32], b[32], rate[32];
	double now = lb_mono_now(), el;

	if (c->g->quiet || c->o->json)
		return;
	if (c->fetch_t0 == 0.0 || strcmp(c->fetch_member, member) != 0) {
		c->fetch_t0 = c->fetch_log = now;
		snprintf(c->fetch_member, sizeof(c->fetch_member), "%s", member);
	}
	el = now - c->fetch_t0;
	lb_fmt_size(done, a, sizeof(a));
	lb_fmt_size(total, b, sizeof(b));
	lb_fmt_size(el > 0.01 ? (uint64_t)((double)done / el) : 0, rate, sizeof(rate));
	if (c->tty) {
		fprintf(stderr, "\r  fetch %s: %s / %s (%3.0f%%) %s/s%s", member, a, b,
		    total ? 100.0 * (double)done / (double)total : 100.0, rate,
		    finished ? "\n" : "   ");
		fflush(stderr);
	} else if (finished || now - c->fetch_log >= 10.0) {
		c->fetch_log = now;
		log_info("fetch %s: %s / %s, %s/s", member, a, b, rate);
	}
	if (finished)
		c->fetch_t0 = 0.0;
}

static const char *
mode_name(enum mode m)
{
	static const char *const n[] = { "cluster", "member", "seed", "join" };
	return n[m];
}

/* A join restores no backup, so it has no source and no catalog from
 * it: its event goes to the catalog of this machine's configuration (or
 * --catalog), and only when that catalog already exists. */
static void
audit_join(struct ctx *c, const char *outcome, const struct lb_err *err)
{
	const struct restore_member *self = &c->all[0];
	struct cfg *cfg = NULL;
	struct cat *cat = NULL;
	struct lb_err e;
	const char *path = c->o->catalog;
	char *js = NULL;
	json_t *d;

	if (path == NULL && cfg_load(c->g->config_path, &cfg, &e) == 0)
		path = cfg_get_str(cfg, NULL, "catalog");
	if (path == NULL || access(path, F_OK) != 0 || cat_open(path, 0, &cat, &e) < 0)
		goto out;
	d = json_pack("{s:s,s:s,s:s,s:s,s:s*,s:b,s:s*}", "mode", "join", "seed",
	    c->o->seed, "name", self->name, "peer_url", self->peer_url, "client_url",
	    self->client_url, "start", c->o->start, "error",
	    err != NULL && err->code != 0 ? err->msg : NULL);
	if (d != NULL && (js = json_dumps(d, JSON_COMPACT)) != NULL &&
	    cat_audit(cat, CAT_ACT_RESTORE, c->o->cluster, NULL, outcome, js, &e) < 0)
		log_warn("catalog audit: %s", e.msg);
	free(js);
	json_decref(d);
out:
	cat_close(cat);
	cfg_free(cfg);
}

static void
audit(struct ctx *c, const char *outcome, const struct lb_err *err)
{
	const struct manifest *mf;
	struct cat *cat;
	struct lb_err e;
	json_t *d;
	char *js;
	size_t i;

	if (c->o->mode == M_JOIN && c->n_all > 0) {
		audit_join(c, outcome, err);
		return;
	}
	if (c->src == NULL || (cat = restore_source_catalog(c->src)) == NULL)
		return;
	mf = restore_source_manifest(c->src);
	d = json_pack("{s:s,s:s,s:b,s:b}", "mode", mode_name(c->o->mode),
	    "from", restore_source_origin(c->src), "start", c->o->start,
	    "dry_run", c->o->dry_run);
	if (d == NULL)
		return;
	if (c->got.member != NULL) {
		json_object_set_new(d, "member_object", json_string(c->got.member->name));
		json_object_set_new(d, "objects_failed", json_integer((json_int_t)c->got.failed));
	}
	json_t *ms = json_array();
	for (i = 0; i < c->n_local; i++)
		json_array_append_new(ms, json_string(c->all[c->local[i]].name));
	json_object_set_new(d, "members", ms);
	if (c->revision > 0) {
		json_object_set_new(d, "revision", json_integer(c->revision));
		json_object_set_new(d, "keys", json_integer(c->keys));
	}
	if (err != NULL && err->code != 0)
		json_object_set_new(d, "error", json_string(err->msg));
	if ((js = json_dumps(d, JSON_COMPACT)) != NULL &&
	    cat_audit(cat, CAT_ACT_RESTORE, mf->cluster, mf->backup_id, outcome, js,
	    &e) < 0)
		log_warn("catalog audit: %s", e.msg);
	free(js);
	json_decref(d);
}

/* ---- roll back --------------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Stops what restore started, removes the data dirs it created, and moves
 * back what --force moved aside.  A data dir is removed only when created
 * is set, which happens only after restore_dir_prepare found it absent or
 * empty, or moved the old one aside: whatever is in it now, restore put
 * there.  A dir that was not empty without --force is refused before
 * anything changes, and is never touched (restore_test: data_dir_not_empty,
 * rolled_back_old_dir_back). */
static void
roll_back(struct ctx *c)
{
	size_t i;
	int did = 0;

	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		did |= m->pid > 0 || m->moved_to[0] != '\0' ||
		    (m->created && access(m->data_dir, F_OK) == 0);
		restore_etcd_stop(m);
		if (m->created && nftw(m->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
		    errno != ENOENT)
			log_warn("roll back: cannot remove %s: %s", m->data_dir, strerror(errno));
		if (m->moved_to[0] != '\0') {
			if (rename(m->moved_to, m->data_dir) < 0)
				log_error("roll back: cannot move %s back to %s: %s", m->moved_to,
				    m->data_dir, strerror(errno));
			else
				log_warn("roll back: %s moved back to %s", m->moved_to, m->data_dir);
		}
	}
	if (did)
		log_warn("rolled back: the data dirs are as they were before the restore");
}

/* ---- checks before anything changes ------------------------------------------------- */

static int
readable(const char *path, const char *flag, struct lb_err *err)
{
	if (path != NULL && access(path, R_OK) != 0)
		return lb_err_sys(err, LB_E_CONFIG, errno, "%s %s", flag, path);
	return 0;
}

static int
preflight(struct ctx *c, struct lb_err *err)
{
	struct opts *o = c->o;
	size_t i;
	int r;

	if ((r = readable(o->eo.cert, "--cert", err)) < 0 ||
	    (r = readable(o->eo.key, "--key", err)) < 0 ||
	    (r = readable(o->eo.cacert, "--cacert", err)) < 0 ||
	    (r = readable(o->eo.peer_cert, "--peer-cert", err)) < 0 ||
	    (r = readable(o->eo.peer_key, "--peer-key", err)) < 0 ||
	    (r = readable(o->eo.peer_cacert, "--peer-cacert", err)) < 0 ||
	    (r = readable(o->client_cert, "--client-cert", err)) < 0 ||
	    (r = readable(o->client_key, "--client-key", err)) < 0)
		return r;
	if (o->mode != M_JOIN && (r = restore_tool_find(o->etcdutl, &c->tool, err)) < 0)
		return r;
	if (o->start || o->mode == M_JOIN) {
		const char *bin = o->eo.etcd_bin != NULL ? o->eo.etcd_bin : "etcd";
		char path[4200];
		/* the same search restore_etcd_start does, before anything
		 * is changed */
		if (restore_find_exe(bin, path, sizeof(path)) != 0)
			return lb_err_set(err, LB_E_NOTFOUND, "etcd binary %s not found "
			    "(hint: --etcd-bin PATH)", bin);
	}
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if (o->start || o->mode == M_JOIN) {
			if ((r = restore_port_check(m->peer_url, err)) < 0 ||
			    (r = restore_port_check(m->client_url, err)) < 0)
				return lb_err_prefix(err, "member %s: ", m->name);
		}
		/* only look: --force's move happens after the fetch */
		if ((r = restore_dir_is_empty(m->data_dir, err)) < 0)
			return r;
		if (r == 0 && !o->force)
			return lb_err_set(err, LB_E_EXISTS, "data dir %s is not empty (hint: "
			    "--force moves it aside to %s.lifeboat-<time>, nothing is "
			    "deleted)", m->data_dir, m->data_dir);
	}
	return 0;
}

/* ---- after start: health and the data checks ------------------------------------------- */

/* Did a member etcd restore started exit already?  Then its log says why. */
static int
exited(struct restore_member *m, struct lb_err *err)
{
	char log_path[4200];
	int st;

	if (m->pid <= 0 || waitpid(m->pid, &st, WNOHANG) != m->pid)
		return 0;
	m->pid = 0;
	snprintf(log_path, sizeof(log_path), "%s.log", m->data_dir);
	return lb_err_set(err, LB_E_REMOTE, "etcd %s exited %s %d right after start "
	    "(see %s)", m->name, WIFEXITED(st) ? "with status" : "on signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log_path);
}

/* Waits until every member in idx answers Status and all name the same
 * leader (want_leader), or, without want_leader, only answers. */
static int
wait_healthy(struct ctx *c, const size_t *idx, size_t n, int want_leader,
    struct etcd_status *st, struct lb_err *err)
{
	double deadline = lb_mono_now() + (double)c->o->timeout_s;
	struct etcd_client *ec = NULL;
	struct lb_err e;
	size_t i;
	int r;

	for (;;) {
		uint64_t leader = 0;
		int ok = 1;

		lb_err_clear(&e);
		for (i = 0; i < n && ok; i++) {
			struct restore_member *m = &c->all[idx[i]];
			if ((r = exited(m, err)) < 0)
				return r;
			ec = NULL;
			if (etcd_open(m->client_url, &c->etcd, &ec, &e) < 0 ||
			    etcd_status(ec, &st[i], &e) < 0) {
				lb_err_prefix(&e, "etcd %s: ", m->name);
				ok = 0;
			} else if (want_leader && (st[i].leader == 0 ||
			    (leader != 0 && st[i].leader != leader))) {
				lb_err_set(&e, LB_E_NET, "etcd %s: no leader elected yet", m->name);
				ok = 0;
			} else
				leader = st[i].leader;
			etcd_close(ec);
		}
		if (ok)
			return 0;
		if (lb_cancel)
			return lb_err_set(err, LB_E_CANCELED, "interrupted while waiting for "
			    "etcd");
		if (lb_mono_now() > deadline) {
			*err = e;
			return lb_err_prefix(err, "not healthy after %ld s: ", c->o->timeout_s);
		}
		usleep(50000);
	}
}

/* Revision, key count and HashKV, on every member in idx.
 *
 * What the key count is compared with: the snapshot carries no count
 * of its own (etcdctl's totalKey counts every bbolt key, revisions and
 * tombstones included), so each member counts the keys live at one
 * revision R (a serializable count_only Range from its own store) and all
 * must agree; that they hold the backup's data is shown by HashKV, which
 * covers every key and value: all members' HashKV at R agree, and when
 * the manifest recorded a HashKV at a revision the snapshot contains and
 * revisions were not bumped, the restored members give that same hash. */
/* One member's count and HashKV, run in its own thread: each member
 * hashes its whole store, so the members work at the same time. */
struct member_check {
	const struct ctx *c;
	const struct restore_member *m;
	int64_t rev, rev2;          /* rev2: a second HashKV revision, or 0 */
	int64_t count;
	uint32_t hash, hash2;
	int r;
	struct lb_err err;
	pthread_t th;
};

static void *
member_check_run(void *arg)
{
	struct member_check *k = arg;
	struct etcd_client *ec = NULL;
	int64_t hrev;

	lb_err_clear(&k->err);
	if ((k->r = etcd_open(k->m->client_url, &k->c->etcd, &ec, &k->err)) < 0 ||
	    (k->r = etcd_admin_count(ec, k->rev, 1, &k->count, &hrev, &k->err)) < 0 ||
	    (k->r = etcd_hashkv(ec, k->rev, &k->hash, NULL, NULL, &k->err)) < 0 ||
	    (k->rev2 > 0 && (k->r = etcd_hashkv(ec, k->rev2, &k->hash2, NULL, NULL,
	    &k->err)) < 0))
		lb_err_prefix(&k->err, "etcd %s: ", k->m->name);
	etcd_close(ec);
	return NULL;
}

static int
check_data(struct ctx *c, const size_t *idx, size_t n, struct lb_err *err)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	const struct manifest_member *mm = c->got.member;
	struct etcd_status st[64];
	struct member_check k[64];
	int64_t rev = 0, crev = 0;
	size_t i, started = 0;
	int r;

	if ((r = wait_healthy(c, idx, n, 1, st, err)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (rev == 0 || st[i].revision < rev)
			rev = st[i].revision;
	if (rev < mm->revision)
		return lb_err_set(err, LB_E_CORRUPT, "restored revision %lld is below the "
		    "backup's %lld", (long long)rev, (long long)mm->revision);
	c->revision = rev;
	/* the backup's HashKV can be compared only at a revision the snapshot
	 * holds, and only if revisions were not bumped (mark-compacted) */
	if (!(c->tool.has_bump_revision && c->o->bump > 0) && mm->has_hashkv &&
	    mf->consistency_revision > 0 && mf->consistency_revision <= mm->revision)
		crev = mf->consistency_revision;
	memset(k, 0, sizeof(k));
	for (i = 0; i < n; i++) {
		k[i].c = c;
		k[i].m = &c->all[idx[i]];
		k[i].rev = rev;
		k[i].rev2 = i == 0 && crev != rev ? crev : 0;
		if (pthread_create(&k[i].th, NULL, member_check_run, &k[i]) != 0) {
			r = lb_err_set(err, LB_E_NOMEM, "cannot start a thread");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(k[i].th, NULL);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		if (k[i].r < 0) {
			*err = k[i].err;
			return k[i].r;
		}
	c->keys = k[0].count;
	c->hash = k[0].hash;
	for (i = 1; i < n; i++)
		if (k[i].count != c->keys || k[i].hash != c->hash)
			return lb_err_set(err, LB_E_CORRUPT, "members disagree at revision "
			    "%lld: %s has %lld keys (HashKV %08x), %s has %lld (HashKV %08x)",
			    (long long)rev, k[0].m->name, (long long)c->keys, c->hash,
			    k[i].m->name, (long long)k[i].count, k[i].hash);
	c->hash_vs_backup = 0;
	if (crev > 0) {
		uint32_t h = crev == rev ? k[0].hash : k[0].hash2;
		if (h != mm->hashkv)
			return lb_err_set(err, LB_E_CORRUPT, "HashKV at revision %lld is %08x, "
			    "the backup recorded %08x: the restored data differ from the "
			    "backup", (long long)crev, h, mm->hashkv);
		c->hash_vs_backup = 1;
	} else
		snprintf(c->note, sizeof(c->note), "the backup's HashKV (revision %lld) "
		    "cannot be compared: %s", (long long)mf->consistency_revision,
		    !mm->has_hashkv || mf->consistency_revision <= 0 ? "none recorded" :
		    mf->consistency_revision > mm->revision ? "taken after the snapshot" :
		    "revisions were bumped");
	return 0;
}

/* ---- the restore --------------------------------------------------------------- */

static void
print_plan(struct ctx *c, const char *ic, const char *token)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	size_t order[256], n = 0, i;
	struct lb_err e;

	printf("plan (dry run: nothing is changed)\n");
	printf("  backup      %s of cluster %s (%s, from the %s), revision %lld\n",
	    mf->backup_id, mf->cluster, mf->status, restore_source_origin(c->src),
	    (long long)mf->revision);
	if (restore_source_order(c->src, c->o->member, order, 256, &n, &e) == 0)
		for (i = 0; i < n; i++)
			printf("  object %zu    %s (member %s, revision %lld, %llu bytes)\n",
			    i + 1, mf->members[order[i]].object, mf->members[order[i]].name,
			    (long long)mf->members[order[i]].revision,
			    (unsigned long long)mf->members[order[i]].stored_size);
	else
		printf("  objects     none usable: %s\n", e.msg);
	printf("  verify      sha256 of stored bytes, age, zstd -d, etcd trailer -> %s\n",
	    c->snap);
	printf("  tool        %s snapshot restore%s\n", c->tool.path,
	    c->tool.has_bump_revision && c->o->bump > 0 ? " --bump-revision --mark-compacted" :
	    " (no --bump-revision: revisions may go backwards for watchers)");
	printf("  cluster     %s (token %s)\n", ic, token);
	for (i = 0; i < c->n_local; i++) {
		const struct restore_member *m = &c->all[c->local[i]];
		int empty = restore_dir_is_empty(m->data_dir, &e);
		printf("  member      %s: data dir %s%s, peer %s, client %s\n", m->name,
		    m->data_dir, empty == 0 ? " (not empty: moved aside)" : "",
		    m->peer_url, m->client_url ? m->client_url : "-");
	}
	printf("  then        %s\n", c->o->start ? "start etcd, wait for a leader, "
	    "check revision, key count and HashKV" : "write etcd config files and "
	    "print how to start them");
}

static void
print_report(struct ctx *c, const char *status, const struct lb_err *err, double secs)
{
	const struct manifest *mf = c->src ? restore_source_manifest(c->src) : NULL;
	size_t i;

	if (c->o->json) {
		json_t *o = json_pack("{s:s,s:s,s:f}", "status", status, "mode",
		    mode_name(c->o->mode), "seconds", secs);
		json_t *ms = json_array();
		if (mf != NULL) {
			json_object_set_new(o, "backup_id", json_string(mf->backup_id));
			json_object_set_new(o, "cluster", json_string(mf->cluster));
		}
		if (c->got.member != NULL) {
			json_object_set_new(o, "member_object", json_string(c->got.member->name));
			json_object_set_new(o, "objects_failed",
			    json_integer((json_int_t)c->got.failed));
		}
		if (c->revision > 0) {
			json_object_set_new(o, "revision", json_integer(c->revision));
			json_object_set_new(o, "keys", json_integer(c->keys));
			json_object_set_new(o, "hashkv", json_integer(c->hash));
			json_object_set_new(o, "hashkv_matches_backup",
			    json_boolean(c->hash_vs_backup));
		}
		for (i = 0; i < c->n_local; i++) {
			const struct restore_member *m = &c->all[c->local[i]];
			json_array_append_new(ms, json_pack("{s:s,s:s,s:s?,s:I}", "name",
			    m->name, "data_dir", m->data_dir, "client_url", m->client_url,
			    "pid", (json_int_t)m->pid));
		}
		json_object_set_new(o, "members", ms);
		if (err != NULL && err->code != 0)
			json_object_set_new(o, "error", json_string(err->msg));
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return;
	}
	if ((err != NULL && err->code != 0) || c->o->dry_run)
		return;
	if (c->o->mode == M_JOIN) {
		printf("joined member %s: pid %ld, %s, revision %lld, log %s.log\n",
		    c->all[0].name, (long)c->all[0].pid, c->all[0].client_url,
		    (long long)c->revision, c->all[0].data_dir);
		return;
	}
	printf("restored backup %s of cluster %s from member %s's object%s in %.1fs\n",
	    mf->backup_id, mf->cluster, c->got.member->name,
	    c->got.failed ? " (after objects that failed verification)" : "", secs);
	if (c->revision > 0) {
		printf("  healthy: %zu member%s checked, one leader\n", c->n_local,
		    c->n_local == 1 ? "" : "s");
		printf("  revision %lld (backup %lld), %lld keys, HashKV %08x on every member\n",
		    (long long)c->revision, (long long)c->got.member->revision,
		    (long long)c->keys, c->hash);
		printf("  %s\n", c->hash_vs_backup ? "HashKV matches the backup's record" :
		    c->note);
		printf("  times: fetch and verify %.2fs, etcd restore %.2fs, start to "
		    "checked %.2fs\n", c->got.seconds, c->t_restore, c->t_up);
	} else if (c->note[0] != '\0')
		printf("  not checked: %s\n", c->note);
	for (i = 0; i < c->n_local; i++) {
		const struct restore_member *m = &c->all[c->local[i]];
		if (m->pid > 0)
			printf("  %s: pid %ld, %s, log %s.log\n", m->name, (long)m->pid,
			    m->client_url, m->data_dir);
	}
}

/* Everything from the fetch on, for cluster, member and seed. */
static int
run_restore(struct ctx *c, struct lb_err *err)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	struct opts *o = c->o;
	char *ic = NULL, token[128], logp[4200], conf[4200], unit[4200], dirbuf[4200];
	char *parent;
	double t0;
	pid_t pids[64];
	size_t i;
	int r;

	if ((ic = restore_initial_cluster(c->all, c->n_all)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(token, sizeof(token), "%s", o->token != NULL ? o->token : mf->backup_id);
	o->eo.token = token;
	o->eo.state = "new";
	snprintf(dirbuf, sizeof(dirbuf), "%s", c->all[c->local[0]].data_dir);
	parent = dirname(dirbuf);
	snprintf(c->snap, sizeof(c->snap), "%s/.lifeboat-restore-%s.db", parent,
	    mf->backup_id);
	if (o->dry_run) {
		print_plan(c, ic, token);
		r = 0;
		goto out;
	}
	if (!c->tool.has_bump_revision)
		log_warn("%s cannot bump revisions on restore (etcd 3.4): revisions may go "
		    "backwards for watchers, and Kubernetes clients must relist", c->tool.path);
	/* the directory of the data dirs (--base-dir): made if missing */
	if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
		r = lb_err_sys(err, LB_E_IO, errno, "mkdir %s", parent);
		goto out;
	}
	log_info("fetching backup %s (%s) from the %s", mf->backup_id, mf->cluster,
	    restore_source_origin(c->src));
	if ((r = restore_fetch(c->src, o->member, c->snap, on_progress, c, &c->got,
	    err)) < 0)
		goto out;
	if (c->got.failed > 0)
		log_warn("used member %s's object after %zu that failed verification",
		    c->got.member->name, c->got.failed);
	log_info("verified snapshot of member %s, revision %lld, %llu bytes (%.1fs)",
	    c->got.member->name, (long long)c->got.member->revision,
	    (unsigned long long)c->got.member->db_size, c->got.seconds);
	if (lb_cancel) {
		r = lb_err_set(err, LB_E_CANCELED, "interrupted before anything was changed");
		goto out;
	}
	/* from here the target changes */
	c->changed = 1;
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if ((r = restore_dir_prepare(m->data_dir, o->force, m->moved_to,
		    sizeof(m->moved_to), err)) < 0)
			goto out;
		m->created = 1;
	}
	t0 = lb_mono_now();
	log_info("restoring %zu data dir%s with %s", c->n_local, c->n_local == 1 ? "" : "s",
	    c->tool.path);
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		/* a data dir that exists empty is taken by the tool only if absent */
		rmdir(m->data_dir);
		snprintf(logp, sizeof(logp), "%s.restore.log", m->data_dir);
		if ((r = restore_tool_spawn(&c->tool, c->snap, m, ic, token, o->bump, logp,
		    &pids[i], err)) < 0) {
			size_t j;
			for (j = 0; j < i; j++)
				waitpid(pids[j], NULL, 0);
			goto out;
		}
	}
	for (i = 0, r = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		struct lb_err e;
		char what[200];
		snprintf(logp, sizeof(logp), "%s.restore.log", m->data_dir);
		snprintf(what, sizeof(what), "snapshot restore of %s", m->name);
		if (restore_wait(pids[i], what, logp, &e) < 0 && r == 0) {
			*err = e;
			r = e.code;
		}
	}
	if (r == 0 && lb_cancel)
		r = lb_err_set(err, LB_E_CANCELED, "interrupted");
	if (r < 0)
		goto out;
	c->t_restore = lb_mono_now() - t0;
	t0 = lb_mono_now();
	for (i = 0; i < c->n_local; i++) {
		struct restore_member *m = &c->all[c->local[i]];
		if (m->client_url == NULL)
			continue;
		if ((r = restore_write_config(&o->eo, m, ic, conf, sizeof(conf), err)) < 0)
			goto out;
		if (o->unit_dir != NULL) {
			snprintf(unit, sizeof(unit), "%s/etcd-%s.service", o->unit_dir, m->name);
			if ((r = restore_write_unit(&o->eo, m->name, conf, unit, err)) < 0)
				goto out;
			log_info("wrote %s", unit);
		}
		if (o->start) {
			if ((r = restore_etcd_start(&o->eo, m, conf, err)) < 0)
				goto out;
			log_info("started etcd %s (pid %ld)", m->name, (long)m->pid);
		} else if (!o->json)
			printf("start %s: %s --config-file %s\n", m->name,
			    o->eo.etcd_bin ? o->eo.etcd_bin : "etcd", conf);
	}
	if (!o->start) {
		for (i = 0; i < c->n_local; i++)
			if (c->all[c->local[i]].client_url == NULL && !o->json)
				printf("start %s: etcd --name %s --data-dir %s --listen-peer-urls %s "
				    "... (the restored data dir holds the membership)\n",
				    c->all[c->local[i]].name, c->all[c->local[i]].name,
				    c->all[c->local[i]].data_dir, c->all[c->local[i]].peer_url);
		r = 0;
		goto out;
	}
	if (o->mode == M_MEMBER) {
		struct etcd_status st[1];
		long full = o->timeout_s;
		/* etcd serves clients only once a quorum runs, and the other
		 * members may not be restored yet: a short wait, then checks
		 * only if the cluster came up (the last member started sees it) */
		o->timeout_s = full < 10 ? full : 10;
		r = wait_healthy(c, c->local, 1, 1, st, err);
		o->timeout_s = full;
		if (r < 0) {
			struct restore_member *m = &c->all[c->local[0]];
			if ((r = exited(m, err)) < 0)
				goto out;
			lb_err_clear(err);
			snprintf(c->note, sizeof(c->note), "no quorum yet: restore and start "
			    "the other members");
			log_info("etcd %s runs; the cluster answers once a quorum of members "
			    "runs (restore and start the others)", m->name);
			goto out;
		}
	}
	log_info("waiting for a leader and checking the data");
	r = check_data(c, c->local, c->n_local, err);
	c->t_up = lb_mono_now() - t0;
out:
	if (c->snap[0] != '\0' && !o->dry_run)
		unlink(c->snap);
	free(ic);
	return r;
}

/* ---- join ---------------------------------------------------------------------------- */

static int
run_join(struct ctx *c, struct lb_err *err)
{
	struct opts *o = c->o;
	struct restore_member *self = &c->all[0];
	struct etcd_client *seed = NULL;
	struct etcd_members *ms = NULL;
	struct etcd_status sst, st[1];
	const char *peers[1];
	char *ic = NULL, conf[4200], unit[4200];
	uint64_t id = 0;
	double deadline;
	size_t i, len;
	int r, added = 0;

	if ((r = etcd_open(o->seed, &c->etcd, &seed, err)) < 0 ||
	    (r = etcd_status(seed, &sst, err)) < 0 ||
	    (r = etcd_member_list(seed, &ms, err)) < 0) {
		lb_err_prefix(err, "seed %s is not reachable: ", o->seed);
		goto out;
	}
	if (sst.leader == 0) {
		r = lb_err_set(err, LB_E_NET, "seed %s has no leader: not joining", o->seed);
		goto out;
	}
	for (i = 0; i < ms->n; i++) {
		if (ms->v[i].name[0] == '\0') {
			r = lb_err_set(err, LB_E_BUSY, "member %s (%s) is still joining: one "
			    "join at a time (retry when it runs)", ms->v[i].n_peer_urls ?
			    ms->v[i].peer_urls[0] : "?", "not started yet");
			goto out;
		}
		if (strcmp(ms->v[i].name, self->name) == 0) {
			r = lb_err_set(err, LB_E_EXISTS, "the cluster has a member named %s "
			    "already", self->name);
			goto out;
		}
	}
	len = strlen(self->name) + strlen(self->peer_url) + 2;
	for (i = 0; i < ms->n; i++)
		len += strlen(ms->v[i].name) + 2 +
		    (ms->v[i].n_peer_urls ? strlen(ms->v[i].peer_urls[0]) : 0);
	if ((ic = malloc(len)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	ic[0] = '\0';
	for (i = 0; i < ms->n; i++)
		if (ms->v[i].n_peer_urls > 0)
			sprintf(ic + strlen(ic), "%s=%s,", ms->v[i].name, ms->v[i].peer_urls[0]);
	sprintf(ic + strlen(ic), "%s=%s", self->name, self->peer_url);
	if (o->dry_run) {
		printf("plan (dry run: nothing is changed)\n"
		    "  seed        %s: %zu members, revision %lld\n"
		    "  member add  %s with peer %s\n"
		    "  cluster     %s (state existing)\n"
		    "  data dir    %s\n"
		    "  then        start etcd, wait until it has caught up\n",
		    o->seed, ms->n, (long long)sst.revision, self->name, self->peer_url,
		    ic, self->data_dir);
		r = 0;
		goto out;
	}
	c->changed = 1;
	if ((r = restore_dir_prepare(self->data_dir, o->force, self->moved_to,
	    sizeof(self->moved_to), err)) < 0)
		goto out;
	self->created = 1;
	peers[0] = self->peer_url;
	/* etcd refuses a new member until every member has been connected
	 * for a while (5 s in 3.4: "unhealthy cluster"), which is the case
	 * right after the previous join: wait for it, up to --timeout. */
	deadline = lb_mono_now() + (double)o->timeout_s;
	while ((r = etcd_admin_member_add(seed, peers, 1, &id, err)) < 0 &&
	    strstr(err->msg, "unhealthy cluster") != NULL && lb_mono_now() < deadline) {
		log_info("the cluster is not ready for a new member yet; retrying");
		lb_err_clear(err);
		sleep(1);
	}
	if (r < 0) {
		lb_err_prefix(err, "member add on %s: ", o->seed);
		goto out;
	}
	added = 1;
	log_info("added member %s (%016" PRIx64 ") to the cluster of %s", self->name, id,
	    o->seed);
	o->eo.state = "existing";
	if ((r = restore_write_config(&o->eo, self, ic, conf, sizeof(conf), err)) < 0)
		goto out;
	if (o->unit_dir != NULL) {
		snprintf(unit, sizeof(unit), "%s/etcd-%s.service", o->unit_dir, self->name);
		if ((r = restore_write_unit(&o->eo, self->name, conf, unit, err)) < 0)
			goto out;
	}
	if ((r = restore_etcd_start(&o->eo, self, conf, err)) < 0)
		goto out;
	log_info("started etcd %s (pid %ld); waiting until it has caught up", self->name,
	    (long)self->pid);
	for (;;) {
		if ((r = wait_healthy(c, c->local, 1, 1, st, err)) < 0)
			goto out;
		if (st[0].raft_applied_index >= sst.raft_index && st[0].revision >= sst.revision)
			break;
		usleep(200000);
	}
	c->revision = st[0].revision;
	r = 0;
out:
	if (r < 0 && added) {
		struct lb_err e;
		restore_etcd_stop(self);
		if (etcd_admin_member_remove(seed, id, &e) < 0)
			log_error("roll back: member remove of %s (%016" PRIx64 ") on %s: %s",
			    self->name, id, o->seed, e.msg);
		else
			log_warn("roll back: member %s removed from the cluster again",
			    self->name);
	}
	etcd_members_free(ms);
	etcd_close(seed);
	free(ic);
	return r;
}

/* ---- the command ------------------------------------------------------------------------ */

static int
member_of(const char *name, const char *peer, const char *client,
    const char *data_dir, struct restore_member **out, struct lb_err *err)
{
	struct restore_member *m;
	char spec[1200];
	size_t n;
	int r;

	if ((size_t)snprintf(spec, sizeof(spec), "%s=%s@%s", name, peer, client) >=
	    sizeof(spec))
		return lb_err_set(err, LB_E_USAGE, "urls too long");
	if ((r = restore_parse_members(spec, 1, &m, &n, err)) < 0)
		return r;
	if ((m->data_dir = strdup(data_dir)) == NULL) {
		restore_members_free(m, n);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

/* Builds c->all and c->local from the mode's options. */
static int
setup_members(struct ctx *c, struct lb_err *err)
{
	struct opts *o = c->o;
	const char *mn = mode_name(o->mode);
	size_t i;
	int r;

	switch (o->mode) {
	case M_CLUSTER:
		if (need(o->members, "--members", mn) || need(o->base_dir, "--base-dir", mn))
			return LB_E_USAGE;
		if ((r = restore_parse_members(o->members, 1, &c->all, &c->n_all, err)) < 0)
			return r;
		for (i = 0; i < c->n_all; i++) {
			if (asprintf(&c->all[i].data_dir, "%s/%s", o->base_dir,
			    c->all[i].name) < 0)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			c->local[c->n_local++] = i;
		}
		return 0;
	case M_MEMBER:
		if (need(o->name, "--name", mn) || need(o->initial_cluster,
		    "--initial-cluster", mn) || need(o->initial_cluster, "--initial-cluster",
		    mn) || need(o->token, "--initial-cluster-token", mn) ||
		    need(o->data_dir, "--data-dir", mn) ||
		    (o->start && need(o->client_url, "--client-url (with --start)", mn)))
			return LB_E_USAGE;
		if ((r = restore_parse_members(o->initial_cluster, 0, &c->all, &c->n_all,
		    err)) < 0)
			return r;
		for (i = 0; i < c->n_all; i++)
			if (strcmp(c->all[i].name, o->name) == 0)
				break;
		if (i == c->n_all)
			return lb_err_set(err, LB_E_USAGE, "--name %s is not in --initial-cluster",
			    o->name);
		if ((c->all[i].data_dir = strdup(o->data_dir)) == NULL ||
		    (o->client_url != NULL && (c->all[i].client_url = strdup(o->client_url)) == NULL))
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
		if (o->client_url != NULL && (r = restore_url_hostport(o->client_url,
		    (char[256]){ 0 }, 256, &(int){ 0 }, err)) < 0)
			return r;
		c->local[c->n_local++] = i;
		return 0;
	case M_SEED:
	case M_JOIN:
		if (need(o->name, "--name", mn) || need(o->peer_url, "--peer-url", mn) ||
		    need(o->client_url, "--client-url", mn) ||
		    need(o->data_dir, "--data-dir", mn) ||
		    (o->mode == M_JOIN && need(o->seed, "--seed", mn)))
			return LB_E_USAGE;
		if ((r = member_of(o->name, o->peer_url, o->client_url, o->data_dir,
		    &c->all, err)) < 0)
			return r;
		c->n_all = 1;
		c->local[c->n_local++] = 0;
		return 0;
	}
	return LB_E_INTERNAL;
}

int
restore_cmd(const struct lb_globals *g, int argc, char **argv)
{
	struct opts o = { 0 };
	struct ctx c = { 0 };
	struct cfg *cfg = NULL;
	struct restore_source_opts so = { 0 };
	struct restore_select sel = { 0 };
	struct lb_err err;
	double t0 = lb_mono_now();
	int r, status = 2;

	lb_err_clear(&err);
	c.g = g;
	c.o = &o;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "cluster") == 0)
		o.mode = M_CLUSTER;
	else if (strcmp(argv[1], "member") == 0)
		o.mode = M_MEMBER;
	else if (strcmp(argv[1], "seed") == 0)
		o.mode = M_SEED;
	else if (strcmp(argv[1], "join") == 0)
		o.mode = M_JOIN;
	else {
		log_error("restore: unknown mode '%s' (cluster, member, seed or join)", argv[1]);
		return 2;
	}
	if ((r = parse_args(argc - 1, argv + 1, &o)) != 0)
		return r > 0 ? 0 : 2;
	c.tty = isatty(STDERR_FILENO);
	lb_cancel_on_signals();
	if ((r = setup_members(&c, &err)) < 0) {
		if (err.code != 0)
			log_error("%s", err.msg);
		goto out;
	}
	c.etcd.cacert = o.eo.cacert;
	c.etcd.cert = o.client_cert != NULL ? o.client_cert : o.eo.cert;
	c.etcd.key = o.client_key != NULL ? o.client_key : o.eo.key;
	c.etcd.connect_timeout_s = 5;
	c.etcd.stall_timeout_s = 30;
	c.etcd.cancel = &lb_cancel;
	status = 1;
	if ((r = preflight(&c, &err)) < 0)
		goto fail;
	if (o.mode == M_JOIN) {
		if ((r = run_join(&c, &err)) < 0)
			goto fail;
		goto done;
	}
	if (o.at_s != NULL && o.backup != NULL) {
		r = lb_err_set(&err, LB_E_USAGE, "--backup and --at exclude each other");
		goto fail;
	}
	sel.cluster = o.cluster;
	sel.backup_id = o.backup;
	if (o.at_s != NULL && (r = cat_time_parse(o.at_s, (int64_t)time(NULL), &sel.at,
	    &err)) < 0) {
		lb_err_prefix(&err, "--at: ");
		goto fail;
	}
	sel.at_set = o.at_s != NULL;
	if ((r = load_cfg(g, &o, &cfg, &err)) < 0)
		goto fail;
	so.cfg = cfg;
	so.identity_path = o.identity;
	so.catalog_path = o.catalog;
	so.repo_only = o.repo != NULL;
	so.need_identity = 1;
	if ((r = restore_source_open(&so, &sel, &c.src, &err)) < 0)
		goto fail;
	if ((r = run_restore(&c, &err)) < 0)
		goto fail;
done:
	if (!o.dry_run)
		audit(&c, "ok", NULL);
	print_report(&c, o.dry_run ? "planned" : "ok", NULL, lb_mono_now() - t0);
	status = 0;
	goto out;
fail:
	status = lb_err_exit_status(r);
	if (status == 0)
		status = 1;
	log_error("restore failed: %s", err.msg);
	if (c.changed)
		roll_back(&c);
	audit(&c, "failed", &err);
	if (o.json)
		print_report(&c, "failed", &err, lb_mono_now() - t0);
out:
	restore_source_close(c.src);
	restore_members_free(c.all, c.n_all);
	cfg_free(cfg);
	return status;
}
