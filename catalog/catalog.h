/*
 * catalog.h: the local SQLite catalog of backups and the audit log.
 *
 * The catalog is a cache of the repository (every backup row can be
 * rebuilt from the manifest written next to its objects) plus the audit
 * trail, which cannot.  One file, WAL mode, shared by the daemon and the
 * CLI: every connection waits up to a busy timeout for the other's write
 * lock, and every write is one transaction.  The schema carries its
 * version in PRAGMA user_version; opening applies the missing migrations
 * in one transaction and refuses a catalog newer than this binary.
 *
 * Times are Unix seconds (UTC) in the API and RFC 3339 UTC in JSON.
 * Every fallible function returns 0 or a negative LB_E_* code and fills
 * err.  A corrupt file gives LB_E_CORRUPT with a hint to run
 * 'lifeboat catalog rebuild'; a full disk LB_E_NOSPACE; a read-only one
 * LB_E_IO; a lock held longer than the busy timeout LB_E_BUSY.
 */
#ifndef LB_CATALOG_H
#define LB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CAT_DEFAULT_PATH "/var/lib/lifeboat/catalog.db"
#define CAT_SCHEMA_VERSION 6
#define CAT_BUSY_TIMEOUT_MS 10000
#define CAT_MANIFEST_MAX (1024 * 1024)  /* bytes; larger manifests are refused */
#define CAT_ID_MAX 64                   /* backup ids: [A-Za-z0-9._-], at most this long */

struct cat;

enum cat_status {
	CAT_RUNNING = 0,
	CAT_COMPLETE,
	CAT_PARTIAL,
	CAT_FAILED
};

enum cat_action {
	CAT_ACT_BACKUP = 0,
	CAT_ACT_VERIFY,
	CAT_ACT_PRUNE,
	CAT_ACT_REBUILD,
	CAT_ACT_EXPORT,
	CAT_ACT_IMPORT,
	CAT_ACT_RESTORE,
	CAT_ACT_DRILL,
	CAT_ACT_PITR          /* a gap in a capture, a replay proof */
};

/* cat_open flags. */
#define CAT_OPEN_READONLY 0x1  /* never create, migrate or write (list, show) */

/* One member snapshot of a backup.  Absent numbers are -1, absent strings
 * NULL (a failed member has no object). */
struct cat_member {
	char *name;
	char *member_id;      /* 16 hex digits, as etcd prints it */
	char *endpoint;
	int learner;
	char *status;         /* "ok" or "failed" */
	int64_t revision;
	int64_t raft_index;
	int64_t raft_term;
	int64_t db_size;      /* bytes of the plaintext snapshot */
	char *etcd_sha256;    /* etcd's own trailer hash, 64 hex */
	char *location;       /* object key in the repository */
	int64_t stored_size;  /* bytes of the stored (compressed, encrypted) object */
	char *sha256;         /* of the stored bytes, 64 hex */
	char *error;
};

/* One backup.  Absent numbers are -1 (times too), absent strings NULL.
 * members and manifest are filled only when asked for (CAT_WITH_*). */
struct cat_backup {
	char *id;
	char *cluster;
	char *cluster_id;
	enum cat_status status;
	int64_t started_at;
	int64_t finished_at;
	int64_t revision;
	int64_t db_size;
	int64_t stored_size;
	int members_ok;
	int members_total;
	int64_t verified_at;
	char *verify_status;  /* "ok", "failed" or NULL if never verified */
	char *verify_detail;
	char *error;
	char *manifest_key;
	char *host;
	char *manifest;       /* the manifest JSON text, CAT_WITH_MANIFEST */
	int64_t locked_until; /* S3 Object Lock's retain-until, 0: none known */
	struct cat_member *members;  /* CAT_WITH_MEMBERS, sorted by name */
	int n_members;
	int members_loaded;   /* 1 when members were asked for */
};

/* What to load with each backup. */
#define CAT_WITH_MEMBERS  0x1
#define CAT_WITH_MANIFEST 0x2

/* Selection for cat_backup_list; zero fields mean "any". */
struct cat_filter {
	const char *cluster;
	int status;           /* -1 any, else an enum cat_status */
	int64_t since;        /* started_at >= since when > 0 */
	int64_t until;        /* started_at < until when > 0 */
	int newest_first;     /* default oldest first */
	int64_t limit;        /* at most this many when > 0 */
	int skip_future;      /* leave out backups cat_is_future calls future */
};

/* One audit event.  details is JSON text (an object) or NULL. */
struct cat_audit_event {
	int64_t id;
	int64_t at;
	const char *action;
	const char *cluster;
	const char *backup_id;
	const char *outcome;
	const char *os_user;
	const char *host;
	const char *details;
	const char *ref;       /* key of its copy in the repository's audit trail
	                        * (repo/journal.h); NULL: none */
};

/* Called once per backup; b and all it points to live until the callback
 * returns.  Return 0 to go on; any other value stops the iteration and is
 * returned by the iterator (use a negative LB_E_* with err set). */
typedef int (*cat_backup_cb)(const struct cat_backup *b, void *arg);
typedef int (*cat_audit_cb)(const struct cat_audit_event *e, void *arg);

/* --- opening ----------------------------------------------------------- */

/* Opens the catalog at path.  Without CAT_OPEN_READONLY, creates missing
 * parent directories (0700) and the file (0600), switches to WAL and
 * applies missing migrations in one transaction.  A schema newer than
 * CAT_SCHEMA_VERSION is refused (LB_E_CONFIG).  With CAT_OPEN_READONLY, a
 * missing file is LB_E_NOTFOUND and an older schema is read as it is
 * (what later versions added reads as empty).  *out is set only on
 * success; close it with cat_close. */
int cat_open(const char *path, unsigned flags, struct cat **out, struct lb_err *err);

/* Closes the catalog; NULL is fine. */
void cat_close(struct cat *c);

/* The schema version of the open catalog (CAT_SCHEMA_VERSION, or older
 * when opened read-only). */
int cat_schema_version(const struct cat *c);

/* Changes how long a statement waits for another connection's lock
 * (default CAT_BUSY_TIMEOUT_MS). */
void cat_set_busy_timeout(struct cat *c, int ms);

/* 0 when c takes a write now (a write transaction begun, then rolled
 * back), else LB_E_BUSY or another negative LB_E_*: what a deletion that
 * must be recorded after it asks before it starts. */
int cat_writable(struct cat *c, struct lb_err *err);

/* The catalog path: --catalog if given, else $LIFEBOAT_CATALOG, else
 * CAT_DEFAULT_PATH. */
const char *cat_default_path(const char *flag);

/* --- writing backups --------------------------------------------------- */

/* Records that a backup started: a row with status running.  backup_id
 * must be new (LB_E_EXISTS otherwise); started_at is Unix seconds; host
 * may be NULL (this host's name is used). */
int cat_backup_begin(struct cat *c, const char *cluster, const char *backup_id,
    int64_t started_at, const char *host, struct lb_err *err);

/* Ends a running backup with status complete, partial or failed.  error
 * (may be NULL) is a one-line reason.  With manifest_json, records the
 * manifest as cat_record_manifest does; its backup_id and status must be
 * the ones given.  A backup that is not running gives LB_E_EXISTS, an
 * unknown one LB_E_NOTFOUND.  finished_at comes from the manifest, or is
 * now without one. */
int cat_backup_finish(struct cat *c, const char *backup_id, enum cat_status status,
    const char *error, const char *manifest_json, struct lb_err *err);

/* Parses a lifeboat-manifest/1 document and inserts or replaces its
 * backup and members (backup's last step, and rebuild).  A malformed
 * manifest gives LB_E_CORRUPT and a message naming the field
 * ("manifest: members[1].stored_sha256: expected 64 hex digits").  The
 * manifest key is derived from the first member's object key. */
int cat_record_manifest(struct cat *c, const char *manifest_json, struct lb_err *err);

/* Same, with the repository key the manifest was read from (rebuild);
 * manifest_key NULL derives it. */
int cat_record_manifest_key(struct cat *c, const char *manifest_json,
    const char *manifest_key, struct lb_err *err);

/* Records a verification of backup_id at time at (Unix seconds; 0 = now):
 * ok or not, and a one-line detail (may be NULL). */
int cat_set_verified(struct cat *c, const char *backup_id, int64_t at, int ok,
    const char *detail, struct lb_err *err);

/* Removes a backup and its members (prune); the audit rows stay.
 * LB_E_NOTFOUND if there is no such backup. */
/* Records until when the repository keeps backup_id's objects under S3
 * Object Lock (0: none); prune skips it until then. */
int cat_set_locked_until(struct cat *c, const char *backup_id, int64_t until,
    struct lb_err *err);

int cat_delete_backup(struct cat *c, const char *backup_id, struct lb_err *err);

/* --- audit --------------------------------------------------------------- */

/* Records an audit event at the current time, with this process's
 * effective user and host name (cat_audit_add).  cluster, backup_id and
 * details_json may be NULL; details_json must be a JSON object.  Audit
 * rows cannot be changed or deleted through SQLite (triggers abort). */
int cat_audit(struct cat *c, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *details_json,
    struct lb_err *err);

/* Adds ev (its id ignored; at 0: now; os_user and host NULL: this
 * process's, as cat_whoami gives them) unless an event with the same ref
 * is there already, so that an event read back from the repository's
 * audit trail (a rebuild) is recorded once.  *inserted says which.  An
 * action the catalog does not know fails (the table's CHECK). */
int cat_audit_add(struct cat *c, const struct cat_audit_event *ev, int *inserted,
    struct lb_err *err);

/* Whether an audit event names ref (cat_audit_event.ref): 1 yes, 0 no. */
int cat_audit_has_ref(struct cat *c, const char *ref, struct lb_err *err);

/* Who and where an audit event is recorded as: the effective user's name
 * (else "uid N") and the host name. */
void cat_whoami(char *user, size_t ulen, char *host, size_t hlen);

/* Calls cb for each audit event with since <= at < until (0 = unbounded),
 * oldest first. */
int cat_audit_list(struct cat *c, int64_t since, int64_t until, cat_audit_cb cb,
    void *arg, struct lb_err *err);

/* Records that cluster was at revision at time at (a sample the daemon
 * takes between backups); replaces the cluster's previous sample. */
int cat_revision_note(struct cat *c, const char *cluster, int64_t at, int64_t revision,
    struct lb_err *err);

/* The manifest (JSON text, malloc'd into *json) at the end of cluster's
 * chain: of the highest sequence, else of the newest backup that has
 * one; LB_E_NOTFOUND when none has. */
int cat_manifest_last(struct cat *c, const char *cluster, char **json,
    struct lb_err *err);

/* The highest manifest sequence of cluster the catalog holds (0: none):
 * what a head in the bucket must not be behind (repo/head.h). */
int cat_sequence_max(struct cat *c, const char *cluster, int64_t *max,
    struct lb_err *err);

/* The revisions the catalog knows cluster handed out, oldest first: each
 * backup run's highest member revision (its audit event's revision_seen:
 * complete, partial and failed runs alike), each backup's own, and the
 * daemon's latest sample (cat_revision_note).  cb gets (unix time,
 * revision); a non-zero return stops and is returned. */
typedef int (*cat_revision_cb)(int64_t at, int64_t revision, void *arg);
int cat_revisions(struct cat *c, const char *cluster, cat_revision_cb cb, void *arg,
    struct lb_err *err);

/* --- reading ------------------------------------------------------------- */

/* Calls cb for each backup matching f (NULL = all), ordered by
 * started_at then id.  with: CAT_WITH_* flags. */
int cat_backup_list(struct cat *c, const struct cat_filter *f, unsigned with,
    cat_backup_cb cb, void *arg, struct lb_err *err);

/* Calls cb for each backup still marked running (in cluster, or all when
 * NULL): left behind by a run that died, for the next run to reconcile. */
int cat_backups_running(struct cat *c, const char *cluster, cat_backup_cb cb,
    void *arg, struct lb_err *err);

/* Loads one backup by id into *out (free with cat_backup_free).
 * LB_E_NOTFOUND if there is none. */
int cat_backup_get(struct cat *c, const char *backup_id, unsigned with,
    struct cat_backup **out, struct lb_err *err);

/* Loads the newest backup (by started_at) with the given status (-1 any)
 * in cluster (NULL = any cluster), leaving out backups stamped in the
 * future (cat_is_future).  LB_E_NOTFOUND if there is none. */
int cat_backup_latest(struct cat *c, const char *cluster, int status,
    unsigned with, struct cat_backup **out, struct lb_err *err);

/* Frees a backup from cat_backup_get/latest; NULL is fine. */
void cat_backup_free(struct cat_backup *b);

/* The bytes of every member snapshot the backup holds (the plaintext
 * behind stored_size; db_size is one member's database), or -1 when the
 * catalog does not know them. */
int64_t cat_backup_snapshots_size(const struct cat_backup *b);

/* Builds the JSON object the CLI prints for a backup (new reference):
 * id, cluster, status, times in RFC 3339, sizes in bytes, members, and the
 * manifest as an object when loaded.  Returns NULL when out of memory.
 * Declared as void * so this header does not need jansson.h: it is a
 * json_t *. */
void *cat_backup_to_json(const struct cat_backup *b);

/* --- restore drills (drill.c) ------------------------------------------ */

/* One restore drill (restore/drill.h): a backup restored into a scratch
 * etcd, started and checked.  Absent numbers are -1, absent strings
 * NULL; times are Unix seconds, durations milliseconds. */
struct cat_drill {
	int64_t id;           /* set by the catalog */
	char *cluster;
	char *backup_id;
	int64_t started_at;
	int64_t finished_at;
	char *result;         /* "ok" or "failed" */
	char *error;          /* why it failed, NULL when ok */
	int64_t rto_ms;       /* start to serving and checked, fetch included */
	int64_t fetch_ms, restore_ms, start_ms, check_ms;
	int64_t revision;
	int64_t keys;         /* live keys */
	int64_t hashkv;       /* 0..2^32-1, -1: not taken */
	char *etcd_version;   /* of the etcd that served it */
	char *objects;        /* JSON object text {"pods": 12, ...}, or NULL */
	char *os_user, *host; /* who ran it (cat_whoami): the appliance */
};

typedef int (*cat_drill_cb)(const struct cat_drill *d, void *arg);

/* Records drill d (its id, os_user and host ignored: this process's, as
 * cat_whoami gives them).  A catalog older than schema 5 opened read-only
 * cannot record one (LB_E_CONFIG). */
int cat_drill_add(struct cat *c, const struct cat_drill *d, struct lb_err *err);

/* The newest drill of cluster (NULL: any) and, when backup_id is not
 * NULL, of that backup, into *out (free with cat_drill_free).
 * LB_E_NOTFOUND, err untouched, when there is none. */
int cat_drill_last(struct cat *c, const char *cluster, const char *backup_id,
    struct cat_drill **out, struct lb_err *err);

/* Calls cb for each drill of cluster (NULL: all) started at or after
 * since, oldest first (the status page's RTO chart). */
int cat_drill_list(struct cat *c, const char *cluster, int64_t since,
    cat_drill_cb cb, void *arg, struct lb_err *err);

/* Frees a drill from cat_drill_last; NULL is fine. */
void cat_drill_free(struct cat_drill *d);

/* The JSON object the CLI prints for a drill (a json_t *, new
 * reference; NULL when out of memory): times in RFC 3339, durations in
 * seconds, objects as an object. */
void *cat_drill_to_json(const struct cat_drill *d);

/* --- point-in-time recovery (pitr.c) --------------------------------------
 * The event log's segments (evlog/segment.h) as the capture stored them,
 * and the gaps where the capture lost the thread.  Revisions are etcd's;
 * times of revisions are Unix milliseconds, when lifeboat received them. */

/* One stored segment.  Absent numbers are -1, absent strings NULL. */
struct cat_segment {
	int64_t id;           /* set by the catalog */
	char *cluster;
	char *cluster_id;     /* 16 hex digits */
	int64_t first_rev, last_rev;
	int64_t first_time_ms, last_time_ms;
	int64_t revisions, events;
	char *object;         /* key of the .evlog.zst.age object */
	int64_t stored_size;
	char *stored_sha256;  /* 64 hex */
	char *prev_sha256;    /* the previous segment's stored_sha256, or NULL */
	char *signer;         /* fingerprint, NULL when unsigned */
	char *host;
	int64_t created_at;
	int64_t verified_at;
	char *verify_status;  /* "ok", "failed" or NULL */
	char *verify_detail;
};

typedef int (*cat_segment_cb)(const struct cat_segment *s, void *arg);

/* Records segment s (its id ignored).  A segment whose object is
 * recorded already is left as it is: *inserted (may be NULL) says
 * which, so a rebuild adds each once.  Older schema: LB_E_CONFIG. */
int cat_segment_add(struct cat *c, const struct cat_segment *s, int *inserted,
    struct lb_err *err);

/* 1 when a segment with this object is recorded, 0 when not (or the
 * schema has no event log), negative on a catalog error. */
int cat_segment_known(struct cat *c, const char *object, struct lb_err *err);

/* Calls cb for each segment of cluster that holds a revision in
 * [from_rev, to_rev] (to_rev < 0: no upper bound), by first_rev, then
 * last_rev, then id.  Overlapping segments (two captures after a
 * failover) are all listed: the reader dedups by revision. */
int cat_segments_range(struct cat *c, const char *cluster, int64_t from_rev,
    int64_t to_rev, cat_segment_cb cb, void *arg, struct lb_err *err);

/* The segment of cluster with the highest last_rev into *out (free with
 * cat_segment_free); LB_E_NOTFOUND, err untouched, when there is none. */
int cat_segment_last(struct cat *c, const char *cluster, struct cat_segment **out,
    struct lb_err *err);

/* Records the outcome of a segment's verification (read back, decrypted,
 * parsed, or replayed). */
int cat_segment_verified(struct cat *c, const char *object, int ok,
    const char *detail, struct lb_err *err);

/* Removes a segment's row: the caller holds the proof that its object
 * is garbage (ops/prune.c). */
int cat_segment_delete(struct cat *c, const char *object, struct lb_err *err);

void cat_segment_free(struct cat_segment *s);

/* The JSON object the CLI prints for a segment (json_t *, new reference). */
void *cat_segment_to_json(const struct cat_segment *s);

/* A gap: revisions after after_rev up to resume_rev (exclusive; -1 until
 * the chain starts again) were not captured, for reason ("compacted",
 * "capture down", ...).  Recorded once per (cluster, after_rev). */
int cat_gap_add(struct cat *c, const char *cluster, int64_t after_rev,
    int64_t resume_rev, const char *reason, struct lb_err *err);

/* A window a cluster can be restored to: every revision from the
 * complete backup's (from_rev) to to_rev, whose times run from the
 * backup's start to to_time_ms (the last captured revision's).  Each
 * window starts at the oldest complete backup inside one unbroken run of
 * segments; the run's later backups lie inside it. */
struct cat_pitr_window {
	char backup_id[CAT_ID_MAX + 1];
	int64_t from_rev, to_rev;
	int64_t from_time;        /* the backup's started_at, Unix seconds */
	int64_t to_time_ms;
	int64_t segments;
};
typedef int (*cat_window_cb)(const struct cat_pitr_window *w, void *arg);

/* Calls cb for each window of cluster, oldest first.  A catalog older
 * than schema 6 has none. */
int cat_pitr_windows(struct cat *c, const char *cluster, cat_window_cb cb, void *arg,
    struct lb_err *err);

/* --- the status page (status.c) ------------------------------------------
 * Reads bounded by a LIMIT on an index, so the daemon's page costs the
 * same whatever the catalog holds (snapd/status.h). */

/* One backup as a chart point.  Absent numbers are -1. */
struct cat_point {
	int64_t started_at;
	int64_t duration_s;   /* finished_at - started_at */
	int64_t db_size;      /* one member's database, bytes */
	int64_t stored_size;  /* every member's stored object, bytes */
};
typedef int (*cat_point_cb)(const struct cat_point *p, void *arg);

/* Calls cb for cluster's complete and partial backups started at or
 * after since, newest first, at most limit of them. */
int cat_status_points(struct cat *c, const char *cluster, int64_t since, int64_t limit,
    cat_point_cb cb, void *arg, struct lb_err *err);

/* cluster's backups started at or after since, per status:
 * counts[enum cat_status]. */
int cat_status_counts(struct cat *c, const char *cluster, int64_t since, int64_t counts[4],
    struct lb_err *err);

/* The newest verification of a backup of cluster started at or after
 * since; LB_E_NOTFOUND when there is none. */
struct cat_verify_info {
	char backup_id[CAT_ID_MAX + 1];
	int64_t at;
	int ok;
	char detail[256];     /* truncated */
};
int cat_status_last_verify(struct cat *c, const char *cluster, int64_t since,
    struct cat_verify_info *out, struct lb_err *err);

/* Calls cb for the newest limit audit events, newest first. */
int cat_audit_newest(struct cat *c, int64_t limit, cat_audit_cb cb, void *arg,
    struct lb_err *err);

/* --- names and times ----------------------------------------------------- */

const char *cat_status_name(enum cat_status s);
/* Returns the enum cat_status for name, or -1. */
int cat_status_parse(const char *name);
const char *cat_action_name(enum cat_action a);

/* Parses a point in time: RFC 3339 ("2026-11-21T10:00:00Z", with optional
 * fraction and offset), a date ("2026-11-21", midnight UTC) or a duration
 * ago ("90s", "30m", "24h", "7d", "2w") counted back from now.  A bad one
 * is LB_E_USAGE naming the value. */
int cat_time_parse(const char *s, int64_t now, int64_t *out, struct lb_err *err);

/* A backup stamped more than CAT_FUTURE_SKEW_S after the reader's clock
 * was taken with a clock that ran ahead (or this one runs behind).  Such
 * a stamp would otherwise stay "latest" and fill retention slots until
 * the real time catches up with it, shadowing every newer backup: it is
 * listed with a flag, kept, and never chosen as latest or by --at, and
 * never counted by retention.  Five minutes is far beyond what NTP
 * leaves and far below a wrong date, year or time zone. */
#define CAT_FUTURE_SKEW_S 300

/* 1 if started_at is more than CAT_FUTURE_SKEW_S after now, else 0. */
int cat_is_future(int64_t started_at, int64_t now);

/* Checks that a backup id's leading time (YYYYMMDDTHHMMSS) and the
 * manifest's started_at agree within CAT_ID_SKEW_S: a manifest read from
 * the repository that fails this is invalid (LB_E_CORRUPT), since keys and
 * "newest" are ordered by id and --at by started_at. */
#define CAT_ID_SKEW_S 60
int cat_backup_time_check(const char *backup_id, const char *started_at,
    struct lb_err *err);

/* Formats Unix seconds as "2026-11-21T23:45:00Z" into buf (>= 21 bytes). */
char *cat_time_format(int64_t t, char *buf, size_t len);

#endif
