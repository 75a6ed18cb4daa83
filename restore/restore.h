/*
 * restore.h: turns a backup into a running, checked etcd cluster.
 *
 * Four layers, each usable on its own:
 *   - the source: which backup (catalog or repository manifests), and one
 *     member object fetched, verified and decrypted into a plaintext
 *     snapshot file, falling back to the next member's object when one
 *     fails verification;
 *   - the machinery: etcd's own restore tool found and probed at run
 *     time, data directories prepared (never deleted), ports checked,
 *     etcd started detached from its config file;
 *   - the run (run.c): a restore of a cluster, a member, a seed or a join,
 *     in the order that keeps the target safe, and its roll back;
 *   - the checks (check.c): after start, health, revision, key count and
 *     HashKV.
 * `lifeboat restore` (cmd/restore.c) parses the options into a
 * restore_run, calls restore_execute and prints what came of it.
 * restore/ uses the rooms below it (etcd/, stream/, repo/, catalog/, env/),
 * never backup/, ops/ or snapd/, and never prints: what the command shows
 * reaches it through the run's hooks.
 */
#ifndef LB_RESTORE_H
#define LB_RESTORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "common/err.h"
#include "etcd/etcd.h"
#include "repo/manifest.h"
#include "snapshot/livehash.h"

struct age_identity;
struct cat;
struct lb_env;
struct repo;
struct restore_source;

/* ---- the source ------------------------------------------------------- */

/* Which backup.  backup_id "latest" (or NULL without at_set) means the
 * newest complete backup of cluster; with at_set, the newest complete
 * backup started at or before at (Unix seconds; 0 is 1970-01-01, not
 * "unset"), and none is LB_E_NOTFOUND naming the oldest there is.  A named
 * backup_id may be partial (it is restorable while one member object is
 * good). */
struct restore_select {
	const char *cluster;       /* required unless backup_id names one */
	const char *backup_id;
	int64_t at;
	int at_set;                /* 1: --at was given */
	int64_t max_rev;           /* > 0: the newest complete backup whose
	                            * revision is at most this (--to-revision) */
};

struct restore_source_opts {
	const struct cfg *cfg;     /* repo, s3-*, identity-file, catalog */
	const char *identity_path; /* overrides identity-file; NULL: config */
	const char *catalog_path;  /* overrides catalog; NULL: config */
	int repo_only;             /* 1: read manifests from the repository,
	                            * never the catalog (--repo) */
	int need_identity;         /* 0 for --dry-run plans without a key */
	int skip_signature;        /* --insecure-skip-signature (env/trust.h) */
};

/* Opens the repository, loads the identity and finds the backup: from the
 * catalog when one exists at the configured path and repo_only is 0, else
 * from the manifests in the repository.  Nothing is written (a catalog is
 * opened only if its file exists).  LB_E_NOTFOUND names what was asked
 * for; a wrong or missing identity fails here with LB_E_CONFIG. */
int restore_source_open(const struct restore_source_opts *o,
    const struct restore_select *sel, struct restore_source **out,
    struct lb_err *err);

void restore_source_close(struct restore_source *s);

/* The manifest of the chosen backup; lives as long as s. */
const struct manifest *restore_source_manifest(const struct restore_source *s);

/* "catalog" or "repository": where the backup was found. */
const char *restore_source_origin(const struct restore_source *s);

/* What the signature check of its manifest found (env/trust.h): "ok",
 * "unchecked" (no trusted signers) or "skipped" (--insecure-skip-signature
 * passed one that failed). */
const char *restore_source_signature(const struct restore_source *s);

/* What the check of the cluster's head found, from the bucket only
 * (NULL from the catalog): "ok", "stale", "rollback", "ahead" (newer
 * backups named but not found), "untrusted" or "missing". */
const char *restore_source_head(const struct restore_source *s);

/* The catalog, or NULL when there is none. */
struct cat *restore_source_catalog(struct restore_source *s);

/* The opened configuration, repository, catalog and trusted signers. */
const struct lb_env *restore_source_env(const struct restore_source *s);

/* The repository and the identity (NULL without need_identity). */
struct repo *restore_source_repo(struct restore_source *s);
const struct age_identity *restore_source_identity(const struct restore_source *s);

/* The restore's audit event (details: JSON text of an object): to the
 * catalog when there is one, and to the repository's audit trail
 * (repo/journal.h), so a restore from the bucket alone leaves a trace. */
void restore_source_audit(struct restore_source *s, const char *outcome,
    const char *details);

/* The same for another action of the backup (a drill: "drill"). */
void restore_source_audit_action(struct restore_source *s, const char *action,
    const char *outcome, const char *details);

/* Member objects in the order restore tries them: prefer first when not
 * NULL (LB_E_NOTFOUND if the backup has no good object of that name),
 * then by revision, highest first.  Fills idx[] with indexes into the
 * manifest's members; *n is how many (at most cap). */
int restore_source_order(const struct restore_source *s, const char *prefer,
    size_t *idx, size_t cap, size_t *n, struct lb_err *err);

/* Progress of a fetch: bytes of the stored object read so far. */
typedef void (*restore_progress_fn)(void *arg, const char *member,
    uint64_t done, uint64_t total, int finished);

struct restore_fetched {
	const struct manifest_member *member;  /* the object that was used */
	size_t failed;             /* objects that failed verification first */
	uint64_t db_size;          /* plaintext bytes (db + trailer) */
	double seconds;
};

/* Streams member objects through sha256 of the stored bytes, age, zstd -d
 * and etcd's trailer check into path (mode 0600, written atomically): the
 * file exists only if every check passed, including the stored size and
 * sha256 and etcd's hash recorded in the manifest.  An object that fails
 * is reported (log_warn) and the next one in restore_source_order is
 * tried; an identity that opens no object stops at once (LB_E_CRYPTO). */
int restore_fetch(struct restore_source *s, const char *prefer,
    const char *path, restore_progress_fn progress, void *arg,
    struct restore_fetched *got, struct lb_err *err);

/* ---- members and the machinery --------------------------------------- */

struct restore_member {
	char *name;
	char *peer_url;
	char *client_url;          /* NULL when not given (member mode) */
	char *data_dir;
	pid_t pid;                 /* etcd, once started */
	char moved_to[4096];       /* where a non-empty data dir went, or "" */
	int created;               /* 1 if restore created data_dir */
};

/* Parses "m1=PEER@CLIENT,m2=PEER@CLIENT" (cluster mode, client required)
 * or "m1=PEER,m2=PEER" (--initial-cluster, client_url NULL).  Names are
 * [A-Za-z0-9._-]{1,63} and unique; URLs are http:// or https:// with a
 * host and a port; at most RESTORE_MEMBERS_MAX members (etcd itself
 * advises against more than 7).  *out is freed with restore_members_free. */
#define RESTORE_MEMBERS_MAX 64
int restore_parse_members(const char *spec, int need_client,
    struct restore_member **out, size_t *n, struct lb_err *err);

void restore_members_free(struct restore_member *m, size_t n);

/* "m1=PEER,m2=PEER" for etcd's --initial-cluster (malloc'd). */
char *restore_initial_cluster(const struct restore_member *m, size_t n);

/* Removes dir and all in it, not following links nor crossing mounts; 0
 * when it is gone (or never was), -1 with errno.  Only for a directory
 * this process made for its own scratch etcd or work files (mkdtemp, or a
 * drill's directory under its lock): nothing else is ever passed. */
int restore_wipe(const char *dir);

/* Two free loopback ports for a scratch etcd (drills, the replay): both
 * chosen by the kernel at once, so they differ, and closed for etcd to
 * bind (another process may take one first: etcd then fails to start and
 * says so). */
int restore_pick_ports(int *a, int *b, struct lb_err *err);

/* The host and port of an http(s) URL; LB_E_USAGE when it has none. */
int restore_url_hostport(const char *url, char *host, size_t cap, int *port,
    struct lb_err *err);

/* Binds host:port of url for a moment: LB_E_BUSY naming the URL if it is
 * in use. */
int restore_port_check(const char *url, struct lb_err *err);

/* 1 if dir is absent or empty, 0 if it holds something, or an error. */
int restore_dir_is_empty(const char *dir, struct lb_err *err);

/* A path for name: as given when it has a '/', else the first executable
 * match on PATH.  0 or -1. */
int restore_find_exe(const char *name, char *out, size_t cap);

/* Makes dir ready for a restore: absent or empty is fine (an absent one
 * is left for the tool to create); a non-empty one is refused with
 * LB_E_EXISTS unless force, and then renamed to DIR.lifeboat-<time>
 * (moved_to), never deleted. */
int restore_dir_prepare(const char *dir, int force, char *moved_to,
    size_t cap, struct lb_err *err);

/* etcd's restore tool: etcdutl (3.5+) or etcdctl (3.4), probed with
 * `snapshot restore --help` for the revision flags. */
struct restore_tool {
	char path[4096];
	int is_etcdutl;
	int has_bump_revision;     /* and --mark-compacted: etcdutl 3.5.10+ */
	int has_skip_hash_check;   /* the trailer, checked by the fetch, is not hashed again */
	char version[32];          /* what `TOOL version` says, "" if nothing */
};

/* Finds the tool: override (a path, --etcdutl) if given, else etcdutl
 * then etcdctl on PATH.  LB_E_NOTFOUND when there is none. */
int restore_tool_find(const char *override, struct restore_tool *t,
    struct lb_err *err);

/* What `BIN --version` says for etcd binary bin (a path, or a name on
 * PATH): "3.6.16", or "" when it prints no version. */
int restore_etcd_version(const char *bin, char *out, size_t cap,
    struct lb_err *err);

/* "3.6.16" or "3.6.0" -> 3, 6.  -1 when v is not a version. */
int restore_version_minor(const char *v, int *major, int *minor);

/* Whether prog (etcd's restore tool or its server, of prog_version) may
 * restore or run a snapshot of etcd snap_version (compat.c has etcd's
 * rules and their sources): 0 when it is the same minor, or snap_version
 * is not a version; 1 when prog is one minor newer (an upgrade: allowed,
 * the caller warns); LB_E_UNSUPPORTED, naming the version to use, when
 * older or newer by more. */
int restore_compat(const char *prog, const char *prog_version,
    const char *snap_version, struct lb_err *err);

/* How far to bump revisions (bump.c says why and how): fed every
 * revision lifeboat recorded for the cluster, in time order. */
struct restore_bump {
	int64_t high;              /* highest revision recorded */
	int64_t last_at, last_rev; /* the newest record */
	double rate;               /* peak revisions/s between two records, 0: none */
	size_t points;
	/* set by restore_bump_size */
	double rate_used;          /* revisions/s projected since the newest record */
	int64_t n;                 /* the bump */
};

void restore_bump_add(struct restore_bump *b, int64_t at, int64_t revision);

/* The bump for a backup at backup_rev restored at now (Unix seconds). */
int64_t restore_bump_size(struct restore_bump *b, int64_t backup_rev, int64_t now);

/* The etcd version of a backup's snapshot from its manifest (its lowest
 * member's: the cluster version, which the snapshot's schema follows),
 * "" when none says. */
void restore_manifest_version(const struct manifest *mf, char *out, size_t cap);

/* Starts `TOOL snapshot restore SNAPSHOT --name --data-dir
 * --initial-cluster --initial-cluster-token --initial-advertise-peer-urls`
 * (+ --bump-revision N --mark-compacted where supported and bump > 0),
 * output to log_path; *pid to wait for with restore_wait. */
int restore_tool_spawn(const struct restore_tool *t, const char *snapshot,
    const struct restore_member *m, const char *initial_cluster,
    const char *token, int64_t bump, const char *log_path, pid_t *pid,
    struct lb_err *err);

/* Waits for pid; LB_E_REMOTE naming what and the last line of log_path
 * if it did not exit 0. */
int restore_wait(pid_t pid, const char *what, const char *log_path,
    struct lb_err *err);

/* How etcd is started for a member. */
struct restore_etcd_opts {
	const char *etcd_bin;      /* NULL: etcd from PATH */
	const char *cert, *key, *cacert;            /* client TLS (server side) */
	const char *peer_cert, *peer_key, *peer_cacert;
	const char *token;         /* initial-cluster-token */
	const char *state;         /* "new" or "existing" */
	/* a scratch member (replay.h): 0 leaves etcd's defaults */
	int unsafe_no_fsync;       /* etcd 3.5+ only */
	long long max_request_bytes, max_txn_ops, quota_backend_bytes;
};

/* The TLS files of o for the member called name: out is o with every
 * "{name}" in cert, key, cacert, peer_cert, peer_key and peer_cacert
 * replaced by name (kubeadm's and most hand-built PKIs keep one
 * certificate per member), the new paths in buf; a path without the
 * template is kept as it is.  LB_E_USAGE when a path gets too long. */
#define RESTORE_TLS_FILES 6
int restore_member_tls(const struct restore_etcd_opts *o, const char *name,
    struct restore_etcd_opts *out, char buf[RESTORE_TLS_FILES][4096],
    struct lb_err *err);

/* Writes DATA_DIR.conf.yml, an etcd --config-file for m (mode 0600,
 * atomically), with m's own TLS files (restore_member_tls); conf gets its
 * path.  No secret goes into it: etcd's auth lives in its data. */
int restore_write_config(const struct restore_etcd_opts *o,
    const struct restore_member *m, const char *initial_cluster,
    char *conf, size_t cap, struct lb_err *err);

/* Writes a systemd unit running etcd with conf to unit_path. */
int restore_write_unit(const struct restore_etcd_opts *o, const char *name,
    const char *conf, const char *unit_path, struct lb_err *err);

/* Starts etcd --config-file conf detached (own session), stdout and
 * stderr to DATA_DIR.log, pid written to DATA_DIR.pid; m->pid is set. */
int restore_etcd_start(const struct restore_etcd_opts *o,
    struct restore_member *m, const char *conf, struct lb_err *err);

/* Sends SIGTERM to a member restore started and waits up to 10 s, then
 * SIGKILL.  Only m->pid is signalled. */
void restore_etcd_stop(struct restore_member *m);

/* ---- the run ---------------------------------------------------------- */

enum restore_mode { RESTORE_CLUSTER, RESTORE_MEMBER, RESTORE_SEED, RESTORE_JOIN };

/* "cluster", "member", "seed" or "join". */
const char *restore_mode_name(enum restore_mode m);

/* What to restore and how (the command's options). */
struct restore_opts {
	enum restore_mode mode;
	const char *config_path;   /* the configuration file */
	int config_explicit;       /* 1: named, so it must exist even with repo */
	const char *cluster, *backup, *at_s, *member, *repo, *identity, *catalog;
	const char *s3_endpoint, *s3_region;
	const char *token;         /* initial-cluster-token; NULL: the backup id */
	const char *seed;          /* join: a client URL of the running cluster */
	const char *etcdutl, *unit_dir;
	const char *client_cert, *client_key;   /* lifeboat's own, for the checks */
	const char *user;          /* etcd user of the checks; NULL: the
	                            * cluster's in the configuration, if any */
	const char *password_file; /* its password; NULL: $LIFEBOAT_ETCD_PASSWORD */
	struct restore_etcd_opts eo;
	int start, force, dry_run;
	int replace;               /* join: remove a dead member of the same name */
	int skip_signature;        /* --insecure-skip-signature */
	long timeout_s;            /* to become healthy */
	long long bump;            /* --bump-revision; < 0: sized (bump.c) */
	int64_t to_revision;       /* > 0: --to-revision (point-in-time, replay.h) */
	const char *to_time;       /* --to-time, or NULL */
};

struct replay_segments;

/* A restore to a point (--to-revision, --to-time): what was chosen and
 * what the replay did (topoint.c). */
struct restore_pitr {
	int active;                /* 1: --to-revision or --to-time */
	int64_t target_rev;        /* the revision restored to */
	int64_t target_time_ms;    /* --to-time, else -1 */
	int64_t target_rev_time_ms;/* the wall time of target_rev, -1 unknown */
	int64_t base_rev;          /* the backup's (member object's) revision */
	int64_t covered_rev;       /* the event log reaches this far from base_rev */
	int64_t covered_time_ms;   /* ... and knows nothing else happened until then */
	struct replay_segments *segs;
	int replayed;              /* 1: the snapshot restored is the replay's */
	uint64_t revisions, events, leases_base, leases_created, leases_default_ttl;
	uint64_t overlap;
	size_t segments;
	uint32_t hashkv;           /* at target_rev, on the scratch member */
	int fsync_off;
	double seconds;
	char note[256];
};

struct restore_run;

/* What the run shows, given to the command that started it. */
struct restore_hooks {
	/* Fetch progress (restore_fetch). */
	restore_progress_fn progress;
	/* dry_run of cluster, member or seed: the plan, in place of the
	 * restore; r->snap and r->tool are set. */
	void (*plan)(void *arg, const struct restore_run *r,
	    const char *initial_cluster, const char *token);
	/* dry_run of join: what the seed said and the cluster joined. */
	void (*join_plan)(void *arg, const struct restore_run *r,
	    size_t seed_members, int64_t seed_revision, const char *initial_cluster);
	/* Without start: member m is restored, to be started by hand with
	 * conf (NULL: no client URL, its data dir holds the membership). */
	void (*by_hand)(void *arg, const struct restore_run *r,
	    const struct restore_member *m, const char *conf);
	void *arg;
};

/* One restore: the caller fills o, hooks and the members; restore_execute
 * fills the rest. */
struct restore_run {
	struct restore_opts *o;
	struct restore_hooks hooks;
	struct restore_member *all;    /* every member of the cluster */
	size_t n_all;
	size_t local[RESTORE_MEMBERS_MAX]; /* indexes into all restored here */
	size_t n_local;
	/* set by restore_execute */
	struct cfg *cfg;               /* the configuration it read */
	struct cfg *file_cfg;          /* the file's, for credentials (NULL: none) */
	struct restore_tool tool;
	struct restore_source *src;    /* NULL for join */
	struct restore_fetched got;
	struct etcd_opts etcd;         /* how the checks reach the members */
	char *password;                /* of etcd.user: a secret, wiped on release */
	char check_tls[3][4096];       /* etcd's cacert, cert, key: {name} replaced */
	struct restore_etcd_opts check_tmpl; /* the same, {name} kept (restore_check_opts) */
	char snap[4200];               /* the plaintext snapshot file */
	char snap_version[32];         /* etcd version of the snapshot, "" unknown */
	const char *snap_version_from; /* where it was read */
	char etcd_version[32];         /* of the etcd binary restore starts */
	struct restore_bump bump;      /* how the bump was sized (o->bump < 0) */
	int64_t bump_n;                /* the bump given to the tool, 0: none */
	int changed;                   /* target touched: roll back on failure */
	double t_restore, t_up;        /* seconds: etcd's restore, start to checked */
	/* results of the checks */
	int64_t revision, keys;
	uint32_t hash;
	/* with a bump: what HashKV at live.bumped must be (livehash.h),
	 * computed from snap before the restore */
	struct livehash live;
	int has_live;
	/* 1: HashKV matched the backup's record, 2: matched live (the
	 * backup's live keys and values), 3: matched the replay's scratch
	 * member at the target revision, 0: not checkable */
	int hash_vs_backup;
	char note[256];                /* why something was not checked */
	struct restore_pitr pitr;      /* --to-revision / --to-time */
};

/* Runs the restore r->o asks for: first every check that can fail without
 * touching the target (files, tool, etcd binary, ports, data dirs, the
 * backup, the identity, the object fetched and verified), then the
 * restore; with start, waits for health and checks the data (check.c).
 * On failure r->changed says whether restore_roll_back has work to do. */
int restore_execute(struct restore_run *r, struct lb_err *err);

/* Undoes what a failed restore_execute changed: stops what it started,
 * removes the data dirs it created, moves back what force moved aside. */
void restore_roll_back(struct restore_run *r);

/* Records the restore (outcome "ok" or "failed", err its reason) in the
 * catalog, when there is one; a join in this machine's catalog. */
void restore_audit(struct restore_run *r, const char *outcome,
    const struct lb_err *err);

/* Frees what r holds (members, source, configuration); r is then empty
 * but for o and hooks. */
void restore_run_release(struct restore_run *r);

/* Refuses, before anything changes, a restore tool or an etcd binary
 * that cannot restore or run the snapshot of r->snap_version (compat.c);
 * warns for an upgrade by one minor. */
int restore_versions_check(struct restore_run *r, struct lb_err *err);

/* After the fetch, for a manifest that names no version: the version etcd
 * wrote into the snapshot itself (meta/storageVersion from 3.6, else
 * cluster/clusterVersion), then restore_versions_check. */
int restore_versions_from_file(struct restore_run *r, struct lb_err *err);

/* Sets r->bump_n: 0 when the tool cannot bump or --bump-revision 0, the
 * option's value when given, else sized from what the catalog recorded
 * of the cluster (bump.c), or from the backup alone without a catalog. */
void restore_bump_choose(struct restore_run *r, const struct manifest *mf);

/* ---- to a point (topoint.c) ------------------------------------------- */

/* After the source is open: for --to-time the target revision (the
 * last whose recorded time is <= the time, read from the segments; a
 * backup holding revisions after it is replaced by an older one), the
 * segments from the backup's revision on, and the refusal of a target
 * the event log does not reach (naming the last captured revision and
 * time).  Nothing is fetched or changed. */
int restore_pitr_prepare(struct restore_run *r, struct restore_source_opts *so,
    struct restore_select *sel, struct lb_err *err);

/* After the fetch of the base into r->snap: replays it to the target in
 * a scratch member under dir (replay.h) and puts the replayed snapshot in
 * r->snap's place.  A target equal to the base's revision needs none. */
int restore_pitr_replay(struct restore_run *r, const char *dir, struct lb_err *err);

/* ---- join (join.c) ----------------------------------------------------- */

/* The join mode, after check_tls, preflight and the checks' credentials:
 * adds r's member to the cluster of r->o->seed (restore.h's usage). */
int restore_join(struct restore_run *r, struct lb_err *err);

/* The join's audit event: to the catalog of this machine's configuration
 * (or --catalog), only when that catalog exists already. */
void restore_audit_join(struct restore_run *r, const char *outcome,
    const struct lb_err *err);

/* ---- after start: health and the data checks (check.c) ----------------- */

/* How the checks reach the member called name: r->etcd with the client
 * TLS files whose paths hold {name} made that member's (each member may
 * have its own CA); files holds the paths. */
int restore_check_opts(const struct restore_run *r, const char *name,
    struct etcd_opts *eo, char files[RESTORE_TLS_FILES][4096], struct lb_err *err);

/* LB_E_REMOTE, naming its log, when etcd that restore started for m has
 * exited already; else 0. */
int restore_exited(struct restore_member *m, struct lb_err *err);

/* Waits up to r->o->timeout_s until every member in idx answers Status
 * and, with want_leader, all name the same leader; st[i] gets member
 * idx[i]'s Status.  An auth error ends the wait at once
 * (restore_auth_error): waiting cannot mend a credential. */
int restore_wait_healthy(struct restore_run *r, const size_t *idx, size_t n,
    int want_leader, struct etcd_status *st, struct lb_err *err);

/* For an LB_E_AUTH error from etcd during the checks (the restored
 * cluster keeps the backup's users and auth state, a join talks to the
 * seed's): says which credential the checks need.  Returns err->code;
 * other errors pass unchanged. */
int restore_auth_error(const struct restore_run *r, struct lb_err *err);

/* Waits for a leader, then checks revision, key count and HashKV on
 * every member in idx, and HashKV against the backup's record when that
 * can be compared; fills r's results. */
int restore_check_data(struct restore_run *r, const size_t *idx, size_t n,
    struct lb_err *err);

#endif
