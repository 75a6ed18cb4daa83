/*
 * catalog.c: `lifeboat catalog SUBCOMMAND`: list, show and audit, for
 * people (tables, human sizes) and for scripts (--json).  Uses only the
 * public API of catalog.h.  Subcommands that need more than the catalog
 * (verify, rebuild, prune, export, import) have files of their own in
 * cmd/ and their entries in subcmds[].
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "common/log.h"

static int cmd_list(const struct lb_globals *g, int argc, char **argv);
static int cmd_show(const struct lb_globals *g, int argc, char **argv);
static int cmd_audit(const struct lb_globals *g, int argc, char **argv);
struct opts;
static int list_pitr(const struct lb_globals *g, const struct opts *o);

static const struct {
	const char *name;
	lb_cmd_fn fn;
	const char *summary;
} subcmds[] = {
	{ "list", cmd_list, "list backups, oldest first" },
	{ "show", cmd_show, "show one backup in full (ID or 'latest')" },
	{ "audit", cmd_audit, "list audit events (backups, verifications, prunes, restores)" },
	{ "verify", cmd_catalog_verify, "read back, decrypt and check backups end to end" },
	{ "rebuild", cmd_catalog_rebuild, "recreate the catalog from the repository's manifests" },
	{ "prune", cmd_catalog_prune, "delete backups the clusters' retention no longer keeps" },
	{ "export", cmd_catalog_export, "write one backup as a portable tar bundle" },
	{ "import", cmd_catalog_import, "read a bundle into the repository and the catalog" },
};

#define N_SUBCMDS (sizeof(subcmds) / sizeof(subcmds[0]))

enum { OPT_CATALOG = 1000, OPT_CLUSTER, OPT_SINCE, OPT_UNTIL, OPT_STATUS, OPT_JSON,
	OPT_PITR };

static const struct option long_opts[] = {
	{ "catalog", required_argument, NULL, OPT_CATALOG },
	{ "cluster", required_argument, NULL, OPT_CLUSTER },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pitr", no_argument, NULL, OPT_PITR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the subcommands' options parse into.  allowed says which options
 * a subcommand takes, so `show --since` is an error, not ignored. */
struct opts {
	const char *catalog;
	const char *cluster;
	const char *since, *until;
	const char *status;
	int json;
	int pitr;
	int help;
	char **args;   /* operands */
	int nargs;
};

#define A_CLUSTER 0x1
#define A_TIMES   0x2
#define A_STATUS  0x4
#define A_PITR    0x8

static int
parse_opts(int argc, char **argv, unsigned allowed, struct opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;   /* glibc: 0 re-initialises getopt for a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_CATALOG: o->catalog = optarg; break;
		case OPT_CLUSTER: if (!(allowed & A_CLUSTER)) goto bad; o->cluster = optarg; break;
		case OPT_SINCE: if (!(allowed & A_TIMES)) goto bad; o->since = optarg; break;
		case OPT_UNTIL: if (!(allowed & A_TIMES)) goto bad; o->until = optarg; break;
		case OPT_STATUS: if (!(allowed & A_STATUS)) goto bad; o->status = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_PITR: if (!(allowed & A_PITR)) goto bad; o->pitr = 1; break;
		case 'h': o->help = 1; break;
		default: goto bad;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
bad:
	if (optopt != 0 && ch == '?')
		fprintf(stderr, "lifeboat catalog %s: unknown option '-%c'\n", argv[0], optopt);
	else
		fprintf(stderr, "lifeboat catalog %s: unknown or misplaced option '%s'\n",
		    argv[0], argv[optind - 1]);
	return -1;
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: lifeboat catalog SUBCOMMAND [--catalog PATH] [OPTIONS]\n\n"
	    "subcommands:\n");
	for (i = 0; i < N_SUBCMDS; i++)
		fprintf(fp, "  %-8s %s\n", subcmds[i].name, subcmds[i].summary);
	fprintf(fp, "\n"
	    "  list [--cluster C] [--since T] [--until T] [--status S] [--json]\n"
	    "  list --pitr [--cluster C] [--json]   (the revisions and times a cluster\n"
	    "         can be restored to: a backup and the event-log segments after it)\n"
	    "  show ID|latest [--cluster C] [--json]   ('latest': newest complete backup)\n"
	    "  audit [--since T] [--until T] [--json]\n"
	    "  verify ID|latest|--all [--cluster C] [--identity FILE] [--json]\n"
	    "         [--insecure-skip-signature]\n"
	    "  rebuild [--threads N] [--insecure-skip-signature]\n"
	    "  prune [--dry-run] [--cluster C]\n"
	    "  export ID -o FILE.tar\n"
	    "  import FILE.tar [--insecure-skip-signature]\n\n"
	    "T is RFC 3339 (2026-11-21T10:00:00Z), a date (2026-11-21) or an age (24h, 7d).\n"
	    "S is running, complete, partial or failed.\n"
	    "The catalog is --catalog PATH, else $LIFEBOAT_CATALOG, else %s.\n",
	    CAT_DEFAULT_PATH);
}

int
cmd_catalog(const struct lb_globals *g, int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < N_SUBCMDS; i++)
		if (strcmp(argv[1], subcmds[i].name) == 0)
			return subcmds[i].fn(g, argc - 1, argv + 1);
	fprintf(stderr, "lifeboat catalog: unknown subcommand '%s' (see 'lifeboat catalog "
	    "--help')\n", argv[1]);
	return 2;
}

/* Prints err and returns the exit status for it. */
static int
fail(const struct lb_err *err)
{
	log_error("%s", err->msg);
	return lb_err_exit_status(err->code);
}

/* The catalog of --catalog, else $LIFEBOAT_CATALOG, else the one the
 * configuration names (as backup writes it), else the default path. */
static int
open_ro(const struct lb_globals *g, const struct opts *o, struct cat **c,
    struct lb_err *err)
{
	const char *env = getenv("LIFEBOAT_CATALOG");
	struct cfg *cfg = NULL;
	int r;

	if (o->catalog != NULL || (env != NULL && *env != '\0'))
		return cat_open(cat_default_path(o->catalog), CAT_OPEN_READONLY, c, err);
	if ((r = cfg_load(g->config_path, &cfg, err)) < 0) {
		/* No configuration is fine for a reader, unless one was named. */
		if (g->config_explicit || r != LB_E_NOTFOUND)
			/* a named file that is missing: a configuration error */
			return r == LB_E_NOTFOUND ? (err->code = LB_E_CONFIG) : r;
		lb_err_clear(err);
		return cat_open(cat_default_path(NULL), CAT_OPEN_READONLY, c, err);
	}
	r = cat_open(cfg_get_str(cfg, NULL, CFG_CATALOG), CAT_OPEN_READONLY, c, err);
	cfg_free(cfg);
	return r;
}

/* Closes a --json array and checks that stdout took everything. */
static int
flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("cannot write to standard output");
		return 1;
	}
	return 0;
}

/* --- human formatting ------------------------------------------------------- */

static const char *
human_size(int64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)v;
	int u = -1;

	if (v < 0)
		return "-";
	if (v < 1024) {
		snprintf(buf, len, "%lld B", (long long)v);
		return buf;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

/* "2026-11-21 23:45:00" for tables; "-" when absent. */
static const char *
human_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0 || gmtime_r(&tt, &tm) == NULL)
		return "-";
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static const char *
opt_num(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		return "-";
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* Snapshot bytes per stored byte, over the same member objects. */
static const char *
ratio(const struct cat_backup *b, char *buf, size_t len)
{
	int64_t snaps = cat_backup_snapshots_size(b);

	if (snaps <= 0 || b->stored_size <= 0)
		return "-";
	snprintf(buf, len, "%.2fx", (double)snaps / (double)b->stored_size);
	return buf;
}

/* Prints a JSON value as one element of a streamed array: memory stays
 * flat however many backups there are. */
static int
json_elem(json_t *v, int *count)
{
	char *s;

	if (v == NULL || (s = json_dumps(v, JSON_INDENT(2))) == NULL)
		return -1;
	printf("%s%s", *count == 0 ? "[\n" : ",\n", s);
	free(s);
	(*count)++;
	return 0;
}

static void
json_end(int count)
{
	printf(count == 0 ? "[]\n" : "\n]\n");
}

/* --- list ------------------------------------------------------------------- */

struct list_ctx {
	int json;
	int count;
	struct lb_err *err;
	struct cat *cat;
};

/* The backup's last drill as JSON (null when none): what list and show
 * --json add to a backup. */
static json_t *
drill_json(struct cat *c, const char *backup_id)
{
	struct cat_drill *d = NULL;
	struct lb_err e;
	json_t *o;

	if (cat_drill_last(c, NULL, backup_id, &d, &e) < 0)
		return json_null();
	o = cat_drill_to_json(d);
	cat_drill_free(d);
	return o != NULL ? o : json_null();
}

/* "ok, rto 1.86s" or "FAILED: why", and when, by which appliance. */
static void
drill_line(const char *lead, const struct cat_drill *d)
{
	char t[32];

	printf("%s%s %s", lead, cat_time_format(d->started_at, t, sizeof(t)),
	    strcmp(d->result, "ok") == 0 ? "ok" : "FAILED");
	if (d->rto_ms >= 0)
		printf(", rto %.2fs", (double)d->rto_ms / 1000.0);
	printf(" on %s", d->host != NULL ? d->host : "-");
	if (d->error != NULL)
		printf(": %s", d->error);
	printf("\n");
}

static int
list_row(const struct cat_backup *b, void *arg)
{
	struct list_ctx *x = arg;
	char t1[32], t2[32], n1[32], s1[32], s2[32], rt[32], mem[32];
	json_t *o;
	int r;

	if (x->json) {
		o = cat_backup_to_json(b);
		if (o != NULL)
			json_object_set_new(o, "drill", drill_json(x->cat, b->id));
		r = json_elem(o, &x->count);
		json_decref(o);
		return r < 0 ? lb_err_set(x->err, LB_E_NOMEM, "out of memory") : 0;
	}
	/* SNAPSHOTS and STORED are both over every member object of the
	 * backup, so RATIO is one divided by the other; one member's database
	 * size is in 'catalog show'. */
	if (x->count++ == 0)
		printf("%-28s %-19s %-12s %-7s %10s %10s %10s %6s %-8s %s\n", "ID", "STARTED",
		    "CLUSTER", "MEMBERS", "REVISION", "SNAPSHOTS", "STORED", "RATIO", "STATUS",
		    "VERIFIED");
	snprintf(mem, sizeof(mem), "%d/%d", b->members_ok, b->members_total);
	printf("%-28s %-19s %-12s %-7s %10s %10s %10s %6s %-8s %s%s%s\n", b->id,
	    human_time(b->started_at, t1, sizeof(t1)), b->cluster, mem,
	    opt_num(b->revision, n1, sizeof(n1)),
	    human_size(cat_backup_snapshots_size(b), s1, sizeof(s1)),
	    human_size(b->stored_size, s2, sizeof(s2)),
	    ratio(b, rt, sizeof(rt)), cat_status_name(b->status),
	    human_time(b->verified_at, t2, sizeof(t2)),
	    b->verify_status != NULL ? " " : "", b->verify_status != NULL ? b->verify_status : "");
	if (cat_is_future(b->started_at, (int64_t)time(NULL))) {
		printf("  ^ FUTURE: started after this host's clock (a clock ran ahead?): never "
		    "latest or --at, not counted by retention\n");
	}
	/* A line of its own, as FUTURE: the columns stay what scripts read. */
	if (b->locked_until > (int64_t)time(NULL))
		printf("  ^ LOCKED UNTIL %s (s3-object-lock): prune keeps it until then\n",
		    cat_time_format(b->locked_until, t1, sizeof(t1)));
	{
		struct cat_drill *d = NULL;
		struct lb_err e;
		if (cat_drill_last(x->cat, NULL, b->id, &d, &e) == 0)
			drill_line("  ^ DRILLED ", d);
		cat_drill_free(d);
	}
	return 0;
}

/* Turns --since/--until into Unix seconds; usage errors print here. */
static int
parse_times(const struct opts *o, int64_t *since, int64_t *until, struct lb_err *err)
{
	int64_t now = (int64_t)time(NULL);
	int r;

	*since = *until = 0;
	if (o->since != NULL && (r = cat_time_parse(o->since, now, since, err)) < 0)
		return lb_err_prefix(err, "--since: ");
	if (o->until != NULL && (r = cat_time_parse(o->until, now, until, err)) < 0)
		return lb_err_prefix(err, "--until: ");
	/* 0 means "no bound" in the API: the epoch itself is bound 1. */
	if (o->since != NULL && *since <= 0)
		*since = 1;
	if (o->until != NULL && *until <= 0)
		*until = 1;
	return 0;
}

static int
cmd_list(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cat_filter f = { .status = -1 };
	struct list_ctx x = { 0 };
	struct cat *c = NULL;
	struct opts o;
	int r, status = 0;

	(void)g;
	if (parse_opts(argc, argv, A_CLUSTER | A_TIMES | A_STATUS | A_PITR, &o) < 0)
		return 2;
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.pitr) {
		if (o.since != NULL || o.until != NULL || o.status != NULL) {
			fprintf(stderr, "lifeboat catalog list: --pitr takes --cluster and "
			    "--json only\n");
			return 2;
		}
		if (o.nargs != 0) {
			fprintf(stderr, "lifeboat catalog list: unexpected argument '%s'\n",
			    o.args[0]);
			return 2;
		}
		return list_pitr(g, &o);
	}
	if (o.nargs != 0) {
		fprintf(stderr, "lifeboat catalog list: unexpected argument '%s'\n", o.args[0]);
		return 2;
	}
	if (parse_times(&o, &f.since, &f.until, &err) < 0)
		return fail(&err);
	if (o.status != NULL && (f.status = cat_status_parse(o.status)) < 0) {
		fprintf(stderr, "lifeboat catalog list: --status: unknown status '%s' "
		    "(running, complete, partial or failed)\n", o.status);
		return 2;
	}
	f.cluster = o.cluster;
	if ((r = open_ro(g, &o, &c, &err)) < 0)
		return fail(&err);
	x.json = o.json;
	x.err = &err;
	x.cat = c;
	r = cat_backup_list(c, &f, CAT_WITH_MEMBERS, list_row, &x, &err);
	if (o.json)
		json_end(x.count);
	else if (x.count == 0 && r == 0)
		printf("no backups\n");
	if (r < 0)
		status = fail(&err);
	if (flush_stdout() != 0 && status == 0)
		status = 1;
	cat_close(c);
	return status;
}

/* --- list --pitr -------------------------------------------------------------- */

/* The clusters of the catalog's backups, each once (the windows start at
 * backups, so a cluster without one has none). */
struct clusters {
	char **v;
	size_t n, cap;
};

static int
cluster_cb(const struct cat_backup *b, void *arg)
{
	struct clusters *cl = arg;
	size_t i;

	for (i = 0; i < cl->n; i++)
		if (strcmp(cl->v[i], b->cluster) == 0)
			return 0;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 8;
		char **nv = realloc(cl->v, cap * sizeof(*nv));

		if (nv == NULL)
			return LB_E_NOMEM;
		cl->v = nv;
		cl->cap = cap;
	}
	if ((cl->v[cl->n] = strdup(b->cluster)) == NULL)
		return LB_E_NOMEM;
	cl->n++;
	return 0;
}

/* "2026-11-21 23:45:00.123" */
static const char *
human_time_ms(int64_t ms, char *buf, size_t len)
{
	char t[32];

	if (ms < 0)
		return "-";
	snprintf(buf, len, "%s.%03lld", human_time(ms / 1000, t, sizeof(t)),
	    (long long)(ms % 1000));
	return buf;
}

struct window_ctx {
	const char *cluster;
	int json;
	int count;
};

static int
window_row(const struct cat_pitr_window *w, void *arg)
{
	struct window_ctx *x = arg;
	char t1[32], t2[40], t3[32];
	json_t *o;
	int r;

	if (x->json) {
		/* RFC 3339 with the milliseconds the capture keeps */
		size_t n = strlen(cat_time_format(w->to_time_ms / 1000, t3, sizeof(t3)));

		if (n > 0 && t3[n - 1] == 'Z')
			t3[n - 1] = '\0';
		snprintf(t2, sizeof(t2), "%s.%03lldZ", t3, (long long)(w->to_time_ms % 1000));
		o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "cluster", x->cluster,
		    "backup_id", w->backup_id, "from_revision", (json_int_t)w->from_rev,
		    "to_revision", (json_int_t)w->to_rev,
		    "from_time", cat_time_format(w->from_time, t1, sizeof(t1)),
		    "to_time", t2, "segments", (json_int_t)w->segments);
		r = json_elem(o, &x->count);
		json_decref(o);
		return r < 0 ? LB_E_NOMEM : 0;
	}
	if (x->count++ == 0)
		printf("%-12s %-28s %12s %12s %-19s %-23s %8s\n", "CLUSTER", "BACKUP",
		    "FROM-REV", "TO-REV", "FROM", "TO", "SEGMENTS");
	printf("%-12s %-28s %12lld %12lld %-19s %-23s %8lld\n", x->cluster, w->backup_id,
	    (long long)w->from_rev, (long long)w->to_rev,
	    human_time(w->from_time, t1, sizeof(t1)),
	    human_time_ms(w->to_time_ms, t2, sizeof(t2)), (long long)w->segments);
	return 0;
}

/* `catalog list --pitr`: every window of each cluster, oldest first. */
static int
list_pitr(const struct lb_globals *g, const struct opts *o)
{
	struct lb_err err = { 0 };
	struct cat_filter f = { .status = CAT_COMPLETE, .cluster = o->cluster };
	struct clusters cl = { 0 };
	struct window_ctx x = { 0 };
	struct cat *c = NULL;
	size_t i;
	int r, status = 0;

	if ((r = open_ro(g, o, &c, &err)) < 0)
		return fail(&err);
	x.json = o->json;
	if ((r = cat_backup_list(c, &f, 0, cluster_cb, &cl, &err)) < 0 && err.code == 0)
		lb_err_set(&err, LB_E_NOMEM, "out of memory");
	for (i = 0; r >= 0 && i < cl.n; i++) {
		x.cluster = cl.v[i];
		if ((r = cat_pitr_windows(c, cl.v[i], window_row, &x, &err)) < 0 && err.code == 0)
			lb_err_set(&err, LB_E_NOMEM, "out of memory");
	}
	if (o->json)
		json_end(x.count);
	else if (x.count == 0 && r >= 0)
		printf("no point-in-time windows (pitr = on captures them once a backup "
		    "exists)\n");
	if (r < 0)
		status = fail(&err);
	if (flush_stdout() != 0 && status == 0)
		status = 1;
	for (i = 0; i < cl.n; i++)
		free(cl.v[i]);
	free(cl.v);
	cat_close(c);
	return status;
}

/* --- show ------------------------------------------------------------------- */

/* The backup's last drill: when, what came of it, its phases and the
 * Kubernetes objects it counted. */
static void
show_drill(struct cat *c, const char *backup_id)
{
	struct cat_drill *d = NULL;
	struct lb_err e;
	json_t *objs;
	const char *k;
	json_t *v;

	if (cat_drill_last(c, NULL, backup_id, &d, &e) < 0) {
		printf("drilled    never\n");
		return;
	}
	drill_line("drilled    ", d);
	if (d->rto_ms >= 0)
		printf("  phases   fetch %.2fs, restore %.2fs, start %.2fs, checks %.2fs\n",
		    (double)d->fetch_ms / 1000.0, (double)d->restore_ms / 1000.0,
		    (double)d->start_ms / 1000.0, (double)d->check_ms / 1000.0);
	if (d->revision >= 0)
		printf("  checked  revision %lld, %lld keys, hashkv %08llx, etcd %s\n",
		    (long long)d->revision, (long long)d->keys,
		    (unsigned long long)(d->hashkv >= 0 ? d->hashkv : 0),
		    d->etcd_version != NULL ? d->etcd_version : "-");
	if (d->objects != NULL && (objs = json_loads(d->objects, 0, NULL)) != NULL) {
		printf("  objects  %zu resource%s\n", json_object_size(objs),
		    json_object_size(objs) == 1 ? "" : "s");
		json_object_foreach(objs, k, v)
			printf("    %-40s %lld\n", k, (long long)json_integer_value(v));
		json_decref(objs);
	}
	cat_drill_free(d);
}

static void
show_human(struct cat *c, const struct cat_backup *b)
{
	char t[32], s1[32], s2[32], rt[32], n1[32];
	json_t *mf;
	char *txt;
	int i;

	printf("backup     %s\n", b->id);
	printf("cluster    %s%s%s%s\n", b->cluster, b->cluster_id ? " (id " : "",
	    b->cluster_id ? b->cluster_id : "", b->cluster_id ? ")" : "");
	printf("status     %s%s\n", cat_status_name(b->status),
	    cat_is_future(b->started_at, (int64_t)time(NULL)) ? " (FUTURE: started after "
	    "this host's clock; never latest or --at, not counted by retention)" : "");
	printf("started    %s\n", b->started_at >= 0 ? cat_time_format(b->started_at, t, sizeof(t)) : "-");
	if (b->finished_at >= 0)
		printf("finished   %s (%llds)\n", cat_time_format(b->finished_at, t, sizeof(t)),
		    (long long)(b->finished_at - b->started_at));
	printf("host       %s\n", b->host ? b->host : "-");
	printf("revision   %s\n", opt_num(b->revision, n1, sizeof(n1)));
	printf("db size    %s (one member's database)\n",
	    human_size(b->db_size, s1, sizeof(s1)));
	printf("stored     %s of member snapshots as %s (ratio %s)\n",
	    human_size(cat_backup_snapshots_size(b), s1, sizeof(s1)),
	    human_size(b->stored_size, s2, sizeof(s2)), ratio(b, rt, sizeof(rt)));
	if (b->verified_at >= 0)
		printf("verified   %s %s%s%s\n", cat_time_format(b->verified_at, t, sizeof(t)),
		    b->verify_status ? b->verify_status : "", b->verify_detail ? ": " : "",
		    b->verify_detail ? b->verify_detail : "");
	else
		printf("verified   never\n");
	if (b->error != NULL)
		printf("error      %s\n", b->error);
	printf("manifest   %s\n", b->manifest_key ? b->manifest_key : "-");
	if (b->locked_until > 0)
		printf("locked     until %s (s3-object-lock)\n",
		    cat_time_format(b->locked_until, t, sizeof(t)));
	printf("members    %d of %d ok\n", b->members_ok, b->members_total);
	for (i = 0; i < b->n_members; i++) {
		const struct cat_member *m = &b->members[i];
		printf("  %-12s %-16s %-6s rev %-10s %10s -> %10s  %s%s%s\n", m->name,
		    m->member_id ? m->member_id : "-", m->status,
		    opt_num(m->revision, n1, sizeof(n1)), human_size(m->db_size, s1, sizeof(s1)),
		    human_size(m->stored_size, s2, sizeof(s2)),
		    m->location ? m->location : "-", m->error ? "  error: " : "",
		    m->error ? m->error : "");
	}
	show_drill(c, b->id);
	if (b->manifest != NULL && (mf = json_loads(b->manifest, 0, NULL)) != NULL) {
		if ((txt = json_dumps(mf, JSON_INDENT(2))) != NULL)
			printf("\nmanifest:\n%s\n", txt);
		free(txt);
		json_decref(mf);
	}
}

static int
cmd_show(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cat_backup *b = NULL;
	struct cat *c = NULL;
	struct opts o;
	json_t *j = NULL;
	char *txt = NULL;
	int r, status = 0;
	const unsigned with = CAT_WITH_MEMBERS | CAT_WITH_MANIFEST;

	(void)g;
	if (parse_opts(argc, argv, A_CLUSTER, &o) < 0)
		return 2;
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.nargs != 1) {
		fprintf(stderr, "lifeboat catalog show: expected one backup id or 'latest'\n");
		return 2;
	}
	if ((r = open_ro(g, &o, &c, &err)) < 0)
		return fail(&err);
	if (strcmp(o.args[0], "latest") == 0)
		r = cat_backup_latest(c, o.cluster, CAT_COMPLETE, with, &b, &err);
	else if ((r = cat_backup_get(c, o.args[0], with, &b, &err)) == 0 &&
	    o.cluster != NULL && strcmp(o.cluster, b->cluster) != 0)
		r = lb_err_set(&err, LB_E_NOTFOUND, "catalog: backup %s belongs to cluster %s, "
		    "not %s", b->id, b->cluster, o.cluster);
	if (r < 0) {
		status = fail(&err);
		goto out;
	}
	if (o.json) {
		if ((j = cat_backup_to_json(b)) != NULL)
			json_object_set_new(j, "drill", drill_json(c, b->id));
		if (j == NULL ||
		    (txt = json_dumps(j, JSON_INDENT(2))) == NULL) {
			lb_err_set(&err, LB_E_NOMEM, "out of memory");
			status = fail(&err);
			goto out;
		}
		printf("%s\n", txt);
	} else {
		show_human(c, b);
	}
	status = flush_stdout();
out:
	free(txt);
	json_decref(j);
	cat_backup_free(b);
	cat_close(c);
	return status;
}

/* --- audit ------------------------------------------------------------------ */

struct audit_ctx {
	int json;
	int count;
	struct lb_err *err;
};

static int
audit_row(const struct cat_audit_event *e, void *arg)
{
	struct audit_ctx *x = arg;
	char t[32];
	json_t *o, *d;
	int r;

	if (x->json) {
		d = e->details != NULL ? json_loads(e->details, 0, NULL) : NULL;
		o = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:o}",
		    "id", (json_int_t)e->id, "at", cat_time_format(e->at, t, sizeof(t)),
		    "action", e->action, "cluster", e->cluster, "backup_id", e->backup_id,
		    "outcome", e->outcome, "os_user", e->os_user, "host", e->host,
		    "details", d != NULL ? d : json_null());
		r = json_elem(o, &x->count);
		json_decref(o);
		return r < 0 ? lb_err_set(x->err, LB_E_NOMEM, "out of memory") : 0;
	}
	if (x->count++ == 0)
		printf("%-6s %-20s %-8s %-12s %-28s %-8s %-20s %s\n", "ID", "AT", "ACTION",
		    "CLUSTER", "BACKUP", "OUTCOME", "BY", "DETAILS");
	printf("%-6lld %-20s %-8s %-12s %-28s %-8s %s@%-10s %s\n", (long long)e->id,
	    cat_time_format(e->at, t, sizeof(t)), e->action, e->cluster ? e->cluster : "-",
	    e->backup_id ? e->backup_id : "-", e->outcome, e->os_user ? e->os_user : "?",
	    e->host ? e->host : "?", e->details ? e->details : "");
	return 0;
}

static int
cmd_audit(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct audit_ctx x = { 0 };
	struct cat *c = NULL;
	struct opts o;
	int64_t since, until;
	int r, status = 0;

	(void)g;
	if (parse_opts(argc, argv, A_TIMES, &o) < 0)
		return 2;
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.nargs != 0) {
		fprintf(stderr, "lifeboat catalog audit: unexpected argument '%s'\n", o.args[0]);
		return 2;
	}
	if (parse_times(&o, &since, &until, &err) < 0)
		return fail(&err);
	if ((r = open_ro(g, &o, &c, &err)) < 0)
		return fail(&err);
	x.json = o.json;
	x.err = &err;
	r = cat_audit_list(c, since, until, audit_row, &x, &err);
	if (o.json)
		json_end(x.count);
	else if (x.count == 0 && r == 0)
		printf("no audit events\n");
	if (r < 0)
		status = fail(&err);
	if (flush_stdout() != 0 && status == 0)
		status = 1;
	cat_close(c);
	return status;
}
