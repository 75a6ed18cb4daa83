/*
 * restore.h: turns a backup into a running, checked etcd cluster.
 *
 * Three layers, each usable on its own:
 *   - the source: which backup (catalog or repository manifests), and one
 *     member object fetched, verified and decrypted into a plaintext
 *     snapshot file, falling back to the next member's object when one
 *     fails verification;
 *   - the machinery: etcd's own restore tool found and probed at run
 *     time, data directories prepared (never deleted), ports checked,
 *     etcd started detached from its config file;
 *   - the commands: `lifeboat restore cluster|member|seed|join`, which
 *     wait for health and check revision, key count and HashKV.
 * restore/ uses the rooms below it (etcd/, stream/, repo/, catalog/, env/),
 * never backup/, ops/ or snapd/.
 */
#ifndef LB_RESTORE_H
#define LB_RESTORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cli.h"
#include "config/config.h"
#include "common/err.h"
#include "repo/manifest.h"

struct cat;
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
};

struct restore_source_opts {
	const struct cfg *cfg;     /* repo, s3-*, identity-file, catalog */
	const char *identity_path; /* overrides identity-file; NULL: config */
	const char *catalog_path;  /* overrides catalog; NULL: config */
	int repo_only;             /* 1: read manifests from the repository,
	                            * never the catalog (--repo) */
	int need_identity;         /* 0 for --dry-run plans without a key */
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

/* The catalog, or NULL when there is none (for the audit event). */
struct cat *restore_source_catalog(struct restore_source *s);

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
 * host and a port.  *out is freed with restore_members_free. */
int restore_parse_members(const char *spec, int need_client,
    struct restore_member **out, size_t *n, struct lb_err *err);

void restore_members_free(struct restore_member *m, size_t n);

/* "m1=PEER,m2=PEER" for etcd's --initial-cluster (malloc'd). */
char *restore_initial_cluster(const struct restore_member *m, size_t n);

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
	int has_bump_revision;
	int has_mark_compacted;
	int has_skip_hash_check;   /* the trailer, checked by the fetch, is not hashed again */
};

/* Finds the tool: override (a path, --etcdutl) if given, else etcdutl
 * then etcdctl on PATH.  LB_E_NOTFOUND when there is none. */
int restore_tool_find(const char *override, struct restore_tool *t,
    struct lb_err *err);

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
};

/* Writes DATA_DIR.conf.yml, an etcd --config-file for m (mode 0600,
 * atomically); conf gets its path. */
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

/* ---- the command ------------------------------------------------------ */

/* `lifeboat restore cluster|member|seed|join ...`. */
int restore_cmd(const struct lb_globals *g, int argc, char **argv);

#endif
