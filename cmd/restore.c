/*
 * cmd/restore.c: `lifeboat restore cluster|member|seed|join`: its options
 * and usage, the fetch progress, the plan of a dry run and the report
 * (text, or --json).  The restore itself, its order and its roll back are
 * restore/run.c's (restore.h).
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cancel.h"
#include "common/clock.h"
#include "common/fmt.h"
#include "common/log.h"
#include "restore/replay.h"
#include "restore/restore.h"

/* --bump-revision not given: sized from what the catalog recorded of the
 * cluster (restore/bump.c). */
#define BUMP_SIZED (-1LL)

/* The options: what restore/ needs, and how the members are given. */
struct opts {
	struct restore_opts r;
	const char *members, *base_dir, *name, *initial_cluster;
	const char *data_dir, *client_url, *peer_url;
	int json;
};

struct restore_cli {
	const struct lb_globals *g;
	const struct opts *o;
	struct restore_run run;
	int tty;
	double fetch_t0, fetch_log;    /* progress of the current object */
	char fetch_member[64];
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
	    "      [--replace] [--cluster NAME]\n"
	    "      adds a member to a running (seeded) cluster as a learner, starts it,\n"
	    "      waits until it has caught up and promotes it; with --replace, a dead\n"
	    "      member of the same name is removed first (one that answers is not);\n"
	    "      --cluster names the config section whose etcd user the checks use\n"
	    "\n"
	    "which backup (not for join):\n"
	    "  --cluster NAME      the cluster of the backup\n"
	    "  --backup ID|latest  (default latest complete)\n"
	    "  --at TIME           the newest complete backup taken at or before TIME\n"
	    "                      (RFC 3339, a date, or a duration ago such as 6h)\n"
	    "  --to-revision R     to a point: the newest complete backup at or below R,\n"
	    "                      then the event log's revisions after it replayed up\n"
	    "                      to R (every revision is one etcd transaction, so R\n"
	    "                      never splits one); refused when the log does not\n"
	    "                      reach R, naming the last captured revision and time\n"
	    "  --to-time T         to a point: the last revision whose recorded time is\n"
	    "                      at or before T (RFC 3339, milliseconds allowed)\n"
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
	    "                      in these six paths {name} stands for each member's\n"
	    "                      name, for one certificate per member:\n"
	    "                      --peer-cert /etc/etcd/pki/{name}-peer.crt\n"
	    "  --client-cert F --client-key F   lifeboat's own certificate for the\n"
	    "                      checks (default --cert/--key, which must then allow\n"
	    "                      client auth; each member's own with {name})\n"
	    "  --user NAME         etcd user of the checks, with the root role: a\n"
	    "                      restored cluster keeps the backup's users and auth\n"
	    "                      (default: user of the cluster's config section, also\n"
	    "                      with --repo; for join, of --cluster's)\n"
	    "  --password-file F   its password (or $LIFEBOAT_ETCD_PASSWORD)\n"
	    "  --bump-revision N   with etcdutl 3.5.10+: move revisions on by N and mark\n"
	    "                      them compacted, so Kubernetes' watchers relist (default:\n"
	    "                      sized from the revisions recorded for the cluster; 0: none)\n"
	    "  --timeout SECONDS   to become healthy (default 120)\n"
	    "  --force             move non-empty data dirs aside (DIR.lifeboat-TIME)\n"
	    "  --dry-run           print the plan, change nothing\n"
	    "  --insecure-skip-signature  restore a backup whose manifest is not\n"
	    "                      signed by a key of trusted-signers (unsigned, altered\n"
	    "                      or another key's: possibly planted); loud, audited\n"
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
	    "holds); after a revision bump, that every member's HashKV at the bumped\n"
	    "revision equals the hash of the snapshot's live keys and values, computed\n"
	    "from the file before the restore.  A failure after the first change stops what was started, removes\n"
	    "what restore created and moves the old data dirs back.\n"
	    "\n"
	    "Exit status: 0 restored (and checked with --start), 1 failed, 2 usage.\n");
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_CLUSTER = 256, O_BACKUP, O_AT, O_MEMBER, O_REPO, O_IDENTITY,
	    O_CATALOG, O_S3EP, O_S3REG, O_MEMBERS, O_BASE, O_NAME, O_IC, O_TOKEN,
	    O_DATA, O_CLIENT, O_PEER, O_SEED, O_ETCDUTL, O_ETCDBIN, O_CERT, O_KEY,
	    O_CACERT, O_PCERT, O_PKEY, O_PCACERT, O_START, O_UNIT, O_FORCE, O_DRY,
	    O_JSON, O_TIMEOUT, O_BUMP, O_CCERT, O_CKEY, O_REPLACE, O_USER, O_PWFILE,
	    O_SKIPSIG, O_TOREV, O_TOTIME };
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
		{ "replace", no_argument, NULL, O_REPLACE },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "bump-revision", required_argument, NULL, O_BUMP },
		{ "client-cert", required_argument, NULL, O_CCERT },
		{ "client-key", required_argument, NULL, O_CKEY },
		{ "user", required_argument, NULL, O_USER },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "insecure-skip-signature", no_argument, NULL, O_SKIPSIG },
		{ "to-revision", required_argument, NULL, O_TOREV },
		{ "to-time", required_argument, NULL, O_TOTIME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;
	char *e;

	o->r.timeout_s = 120;
	o->r.bump = BUMP_SIZED;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_CLUSTER: o->r.cluster = optarg; break;
		case O_BACKUP: o->r.backup = optarg; break;
		case O_AT: o->r.at_s = optarg; break;
		case O_MEMBER: o->r.member = optarg; break;
		case O_REPO: o->r.repo = optarg; break;
		case O_IDENTITY: o->r.identity = optarg; break;
		case O_CATALOG: o->r.catalog = optarg; break;
		case O_S3EP: o->r.s3_endpoint = optarg; break;
		case O_S3REG: o->r.s3_region = optarg; break;
		case O_MEMBERS: o->members = optarg; break;
		case O_BASE: o->base_dir = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_IC: o->initial_cluster = optarg; break;
		case O_TOKEN: o->r.token = optarg; break;
		case O_DATA: o->data_dir = optarg; break;
		case O_CLIENT: o->client_url = optarg; break;
		case O_PEER: o->peer_url = optarg; break;
		case O_SEED: o->r.seed = optarg; break;
		case O_ETCDUTL: o->r.etcdutl = optarg; break;
		case O_ETCDBIN: o->r.eo.etcd_bin = optarg; break;
		case O_CERT: o->r.eo.cert = optarg; break;
		case O_KEY: o->r.eo.key = optarg; break;
		case O_CACERT: o->r.eo.cacert = optarg; break;
		case O_PCERT: o->r.eo.peer_cert = optarg; break;
		case O_PKEY: o->r.eo.peer_key = optarg; break;
		case O_PCACERT: o->r.eo.peer_cacert = optarg; break;
		case O_CCERT: o->r.client_cert = optarg; break;
		case O_CKEY: o->r.client_key = optarg; break;
		case O_USER: o->r.user = optarg; break;
		case O_PWFILE: o->r.password_file = optarg; break;
		case O_SKIPSIG: o->r.skip_signature = 1; break;
		case O_START: o->r.start = 1; break;
		case O_UNIT: o->r.unit_dir = optarg; break;
		case O_FORCE: o->r.force = 1; break;
		case O_REPLACE: o->r.replace = 1; break;
		case O_DRY: o->r.dry_run = 1; break;
		case O_JSON: o->json = 1; break;
		case O_TIMEOUT:
			o->r.timeout_s = strtol(optarg, &e, 10);
			if (*e != '\0' || o->r.timeout_s < 1 || o->r.timeout_s > 86400) {
				log_error("--timeout: expected 1..86400 seconds");
				return -1;
			}
			break;
		case O_BUMP:
			o->r.bump = strtoll(optarg, &e, 10);
			if (*e != '\0' || o->r.bump < 0) {
				log_error("--bump-revision: expected a number >= 0");
				return -1;
			}
			break;
		case O_TOREV: {
			long long v = strtoll(optarg, &e, 10);
			if (*e != '\0' || v < 1) {
				log_error("--to-revision: expected a revision >= 1");
				return -1;
			}
			o->r.to_revision = v;
			break;
		}
		case O_TOTIME: o->r.to_time = optarg; break;
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

/* ---- progress and report ------------------------------------------------------- */

/* On a terminal one line redrawn with bytes and rate; off one, a log line
 * every 10 s and at the end. */
static void
on_progress(void *arg, const char *member, uint64_t done, uint64_t total,
    int finished)
{
	struct restore_cli *c = arg;
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

/* The bump and where its size came from. */
static void
print_bump(const struct restore_run *c)
{
	const struct restore_bump *b = &c->bump;

	if (c->bump_n == 0)
		return;
	if (c->o->bump > 0) {
		printf("  bump        %lld revisions (--bump-revision)\n", (long long)c->bump_n);
		return;
	}
	printf("  bump        %lld revisions: highest recorded %lld (%zu record%s), then "
	    "%.0f/s since the newest (%s)\n", (long long)c->bump_n, (long long)b->high,
	    b->points, b->points == 1 ? "" : "s", b->rate_used, b->rate > 0 ?
	    "twice the peak measured" : "no rate measured: etcd's guide's 1500/s");
}

/* What the restore to a point covered, and what it did not. */
static json_t *
pitr_json(const struct restore_run *c)
{
	const struct restore_pitr *p = &c->pitr;
	char t1[40], t2[40], t3[40];
	json_t *o;

	o = json_pack("{s:I,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:f,s:s}",
	    "target_revision", (json_int_t)p->target_rev,
	    "target_revision_time", replay_format_ms(p->target_rev_time_ms, t1, sizeof(t1)),
	    "base_revision", (json_int_t)p->base_rev,
	    "last_captured_revision", (json_int_t)p->covered_rev,
	    "last_captured_time", replay_format_ms(p->covered_time_ms, t2, sizeof(t2)),
	    "replayed_revisions", (json_int_t)p->revisions,
	    "replayed_events", (json_int_t)p->events,
	    "segments_read", (json_int_t)p->segments,
	    "overlapping_revisions", (json_int_t)p->overlap,
	    "leases_kept_alive_from_backup", (json_int_t)p->leases_base,
	    "leases_recreated", (json_int_t)p->leases_created,
	    "leases_with_default_ttl", (json_int_t)p->leases_default_ttl,
	    "fsync_off", p->fsync_off, "replay_seconds", p->seconds,
	    "not_covered", "revisions after the target; auth, membership and when "
	    "leases were last renewed are not in the event log");
	if (o != NULL && p->target_time_ms >= 0)
		json_object_set_new(o, "to_time", json_string(replay_format_ms(p->target_time_ms,
		    t3, sizeof(t3))));
	/* the captured revisions after the target, not restored */
	if (o != NULL && p->covered_rev > p->target_rev)
		json_object_set_new(o, "not_restored_revisions", json_pack("[I,I]",
		    (json_int_t)(p->target_rev + 1), (json_int_t)p->covered_rev));
	if (o != NULL && p->note[0] != '\0')
		json_object_set_new(o, "note", json_string(p->note));
	return o;
}

static void
print_pitr(const struct restore_run *c)
{
	const struct restore_pitr *p = &c->pitr;
	char t1[40], t2[40], t3[40];

	if (p->target_time_ms >= 0)
		printf("  to time     %s: the last revision at or before it is %lld\n",
		    replay_format_ms(p->target_time_ms, t3, sizeof(t3)),
		    (long long)p->target_rev);
	printf("  to revision %lld (time %s), from the backup's revision %lld: %llu "
	    "revision%s, %llu events replayed from %zu segment%s in %.2fs%s\n",
	    (long long)p->target_rev, replay_format_ms(p->target_rev_time_ms, t1, sizeof(t1)),
	    (long long)p->base_rev, (unsigned long long)p->revisions,
	    p->revisions == 1 ? "" : "s", (unsigned long long)p->events, p->segments,
	    p->segments == 1 ? "" : "s", p->seconds, p->fsync_off ? " (fsync off)" : "");
	if (p->note[0] != '\0')
		printf("  %s\n", p->note);
	if (p->overlap > 0)
		printf("  %llu revisions were in two segments (two captures): equal, applied once\n",
		    (unsigned long long)p->overlap);
	if (p->leases_created > 0 || p->leases_base > 0)
		printf("  leases: %llu of the backup kept alive, %llu re-created with their ids "
		    "(%llu with the default TTL of %d s: no TTL recorded)\n",
		    (unsigned long long)p->leases_base, (unsigned long long)p->leases_created,
		    (unsigned long long)p->leases_default_ttl, REPLAY_UNKNOWN_TTL);
	if (p->covered_rev > p->target_rev)
		printf("  not restored: revisions %lld..%lld, after the target (the event log "
		    "reaches %lld, up to %s)\n", (long long)(p->target_rev + 1),
		    (long long)p->covered_rev, (long long)p->covered_rev,
		    replay_format_ms(p->covered_time_ms, t2, sizeof(t2)));
	else
		printf("  the target is the last captured revision (the capture knows the "
		    "cluster up to %s)\n", replay_format_ms(p->covered_time_ms, t2, sizeof(t2)));
	printf("  a revision is one whole etcd transaction: a target never splits one; "
	    "auth, membership and when leases were last renewed are not in the event log\n");
}

static void
print_plan(void *arg, const struct restore_run *c, const char *ic,
    const char *token)
{
	const struct manifest *mf = restore_source_manifest(c->src);
	size_t order[256], n = 0, i;
	struct lb_err e;

	(void)arg;
	printf("plan (dry run: nothing is changed)\n");
	printf("  backup      %s of cluster %s (%s, from the %s), revision %lld\n",
	    mf->backup_id, mf->cluster, mf->status, restore_source_origin(c->src),
	    (long long)mf->revision);
	printf("  signature   %s\n", strcmp(restore_source_signature(c->src), "ok") == 0 ?
	    "signed by a trusted key" : strcmp(restore_source_signature(c->src), "skipped") == 0 ?
	    "NOT TRUSTED, restored anyway (--insecure-skip-signature)" :
	    "not checked (no trusted-signers)");
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
	printf("  tool        %s snapshot restore (etcd %s)%s\n", c->tool.path,
	    c->tool.version[0] ? c->tool.version : "?", c->bump_n > 0 ?
	    " --bump-revision --mark-compacted" :
	    " (no --bump-revision: revisions may go backwards for watchers)");
	print_bump(c);
	if (c->pitr.active) {
		char t[40];
		printf("  to point    revision %lld: replay %lld revision%s after the backup's "
		    "%lld from the event log (%s; it reaches revision %lld, up to %s)\n",
		    (long long)c->pitr.target_rev, (long long)(c->pitr.target_rev -
		    c->pitr.base_rev), c->pitr.target_rev - c->pitr.base_rev == 1 ? "" : "s",
		    (long long)c->pitr.base_rev, c->pitr.segs ? "segments" : "-",
		    (long long)c->pitr.covered_rev,
		    replay_format_ms(c->pitr.covered_time_ms, t, sizeof(t)));
	}
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

/* Without --start: how to start each restored member by hand. */
static void
print_by_hand(void *arg, const struct restore_run *c, const struct restore_member *m,
    const char *conf)
{
	const struct restore_cli *cli = arg;

	if (cli->o->json)
		return;
	if (conf != NULL)
		printf("start %s: %s --config-file %s\n", m->name,
		    c->o->eo.etcd_bin ? c->o->eo.etcd_bin : "etcd", conf);
	else
		printf("start %s: etcd --name %s --data-dir %s --listen-peer-urls %s "
		    "... (the restored data dir holds the membership)\n",
		    m->name, m->name, m->data_dir, m->peer_url);
}

static void
print_join_plan(void *arg, const struct restore_run *c, size_t seed_members,
    int64_t seed_revision, const char *ic)
{
	const struct restore_member *self = &c->all[0];

	(void)arg;
	printf("plan (dry run: nothing is changed)\n"
	    "  seed        %s: %zu members, revision %lld\n"
	    "  member add  %s with peer %s\n"
	    "  cluster     %s (state existing)\n"
	    "  data dir    %s\n"
	    "  then        start etcd, wait until it has caught up\n",
	    c->o->seed, seed_members, (long long)seed_revision, self->name,
	    self->peer_url, ic, self->data_dir);
}

static void
print_report(const struct restore_run *c, int json, const char *status,
    const struct lb_err *err, double secs)
{
	const struct manifest *mf = c->src ? restore_source_manifest(c->src) : NULL;
	size_t i;

	if (json) {
		json_t *o = json_pack("{s:s,s:s,s:f}", "status", status, "mode",
		    restore_mode_name(c->o->mode), "seconds", secs);
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
		json_object_set_new(o, "bump_revision", json_integer(c->bump_n));
		if (c->pitr.active)
			json_object_set_new(o, "to_point", pitr_json(c));
		if (c->revision > 0) {
			json_object_set_new(o, "revision", json_integer(c->revision));
			json_object_set_new(o, "keys", json_integer(c->keys));
			json_object_set_new(o, "hashkv", json_integer(c->hash));
			json_object_set_new(o, "hashkv_matches_backup",
			    json_boolean(c->hash_vs_backup == 1 || c->hash_vs_backup == 2));
			if (c->pitr.replayed)
				json_object_set_new(o, "hashkv_matches_replay",
				    json_boolean(c->hash_vs_backup == 3 ||
				    (c->bump_n == 0 && c->hash == c->pitr.hashkv)));
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
	if (c->o->mode == RESTORE_JOIN) {
		printf("joined member %s: pid %ld, %s, revision %lld, log %s.log\n",
		    c->all[0].name, (long)c->all[0].pid, c->all[0].client_url,
		    (long long)c->revision, c->all[0].data_dir);
		return;
	}
	printf("restored backup %s of cluster %s from member %s's object%s in %.1fs\n",
	    mf->backup_id, mf->cluster, c->got.member->name,
	    c->got.failed ? " (after objects that failed verification)" : "", secs);
	if (c->pitr.active)
		print_pitr(c);
	if (c->revision > 0) {
		printf("  healthy: %zu member%s checked, one leader\n", c->n_local,
		    c->n_local == 1 ? "" : "s");
		printf("  revision %lld (backup %lld), %lld keys, HashKV %08x on every member\n",
		    (long long)c->revision, (long long)c->got.member->revision,
		    (long long)c->keys, c->hash);
		printf("  %s\n", c->hash_vs_backup == 1 ? "HashKV matches the backup's record" :
		    c->hash_vs_backup == 2 ? (c->pitr.replayed ? "keys and values match the "
		    "replayed snapshot (HashKV of its live keys)" : "keys and values match "
		    "the backup (HashKV of its live keys)") : c->hash_vs_backup == 3 ?
		    "HashKV at the target matches the replay's" : c->note);
		print_bump(c);
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

/* ---- the members ------------------------------------------------------------------------ */

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
setup_members(const struct opts *o, struct restore_run *c, struct lb_err *err)
{
	const char *mn = restore_mode_name(o->r.mode);
	size_t i;
	int r;

	switch (o->r.mode) {
	case RESTORE_CLUSTER:
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
	case RESTORE_MEMBER:
		if (need(o->name, "--name", mn) || need(o->initial_cluster,
		    "--initial-cluster", mn) || need(o->initial_cluster, "--initial-cluster",
		    mn) || need(o->r.token, "--initial-cluster-token", mn) ||
		    need(o->data_dir, "--data-dir", mn) ||
		    (o->r.start && need(o->client_url, "--client-url (with --start)", mn)))
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
	case RESTORE_SEED:
	case RESTORE_JOIN:
		if (need(o->name, "--name", mn) || need(o->peer_url, "--peer-url", mn) ||
		    need(o->client_url, "--client-url", mn) ||
		    need(o->data_dir, "--data-dir", mn) ||
		    (o->r.mode == RESTORE_JOIN && need(o->r.seed, "--seed", mn)))
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

/* ---- the command ------------------------------------------------------------------------ */

int
cmd_restore(const struct lb_globals *g, int argc, char **argv)
{
	struct opts o = { 0 };
	struct restore_cli c = { 0 };
	struct restore_run *run = &c.run;
	struct lb_err err;
	double t0 = lb_mono_now();
	int r, status = 2;

	lb_err_clear(&err);
	c.g = g;
	c.o = &o;
	o.r.config_path = g->config_path;
	o.r.config_explicit = g->config_explicit;
	run->o = &o.r;
	run->hooks.progress = on_progress;
	run->hooks.plan = print_plan;
	run->hooks.join_plan = print_join_plan;
	run->hooks.by_hand = print_by_hand;
	run->hooks.arg = &c;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "cluster") == 0)
		o.r.mode = RESTORE_CLUSTER;
	else if (strcmp(argv[1], "member") == 0)
		o.r.mode = RESTORE_MEMBER;
	else if (strcmp(argv[1], "seed") == 0)
		o.r.mode = RESTORE_SEED;
	else if (strcmp(argv[1], "join") == 0)
		o.r.mode = RESTORE_JOIN;
	else {
		log_error("restore: unknown mode '%s' (cluster, member, seed or join)", argv[1]);
		return 2;
	}
	if ((r = parse_args(argc - 1, argv + 1, &o)) != 0)
		return r > 0 ? 0 : 2;
	c.tty = isatty(STDERR_FILENO);
	lb_cancel_on_signals();
	if ((r = setup_members(&o, run, &err)) < 0) {
		if (err.code != 0)
			log_error("%s", err.msg);
		goto out;
	}
	status = 1;
	if ((r = restore_execute(run, &err)) < 0)
		goto fail;
	if (!o.r.dry_run)
		restore_audit(run, "ok", NULL);
	print_report(run, o.json, o.r.dry_run ? "planned" : "ok", NULL, lb_mono_now() - t0);
	status = 0;
	goto out;
fail:
	status = lb_err_exit_status(r);
	if (status == 0)
		status = 1;
	log_error("restore failed: %s", err.msg);
	if (run->changed)
		restore_roll_back(run);
	restore_audit(run, "failed", &err);
	if (o.json)
		print_report(run, o.json, "failed", &err, lb_mono_now() - t0);
out:
	restore_run_release(run);
	return status;
}
