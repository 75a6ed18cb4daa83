/*
 * catalog.c: opening the catalog (files, pragmas, schema migrations),
 * mapping SQLite failures to lifeboat errors, and the writes that are not
 * manifests: backup begin/finish, verification, deletion and audit.
 * Manifests are in manifest.c, reads in query.c.
 */
#include "catalog/cat_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* "LBCT": set in PRAGMA application_id so another program's SQLite file
 * is never migrated into a catalog by mistake. */
#define CAT_APP_ID 0x4c424354

#define REBUILD_HINT "(hint: move the file aside and run 'lifeboat catalog rebuild')"

/*
 * Migrations, applied in order in one transaction on open; migration i
 * brings the schema from version i to i + 1.  Never edit a released one:
 * append a new one and bump CAT_SCHEMA_VERSION.  Migrations only add
 * (tables, columns, indexes), so a read-only open may read an older
 * schema; a reader of what a later migration added checks c->version.
 */
static const char *const migrations[CAT_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE clusters ("
	"  name TEXT PRIMARY KEY,"
	"  cluster_id TEXT"
	");"
	"CREATE TABLE backups ("
	"  id TEXT PRIMARY KEY,"
	"  cluster TEXT NOT NULL REFERENCES clusters(name),"
	"  cluster_id TEXT,"
	"  status TEXT NOT NULL"
	"    CHECK (status IN ('running', 'complete', 'partial', 'failed')),"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER,"
	"  revision INTEGER,"
	"  db_size INTEGER,"
	"  stored_size INTEGER,"
	"  members_ok INTEGER NOT NULL DEFAULT 0,"
	"  members_total INTEGER NOT NULL DEFAULT 0,"
	"  verified_at INTEGER,"
	"  verify_status TEXT CHECK (verify_status IN ('ok', 'failed')),"
	"  verify_detail TEXT,"
	"  error TEXT,"
	"  manifest_key TEXT,"
	"  manifest TEXT,"
	"  host TEXT"
	");"
	/* list --cluster C --since T, and show latest --cluster C */
	"CREATE INDEX backups_cluster_started ON backups (cluster, started_at, id);"
	"CREATE INDEX backups_cluster_status_started ON backups (cluster, status, started_at, id);"
	/* list --since T across clusters, show latest, running rows */
	"CREATE INDEX backups_started ON backups (started_at, id);"
	"CREATE INDEX backups_status_started ON backups (status, started_at, id);"
	"CREATE TABLE members ("
	"  backup_id TEXT NOT NULL REFERENCES backups(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  member_id TEXT,"
	"  endpoint TEXT,"
	"  learner INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),"
	"  revision INTEGER,"
	"  raft_index INTEGER,"
	"  raft_term INTEGER,"
	"  db_size INTEGER,"
	"  etcd_sha256 TEXT,"
	"  location TEXT,"
	"  stored_size INTEGER,"
	"  sha256 TEXT,"
	"  error TEXT,"
	"  PRIMARY KEY (backup_id, name)"
	") WITHOUT ROWID;"
	/* No foreign key to backups: the audit trail outlives pruned backups. */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('backup', 'verify', 'prune',"
	"    'rebuild', 'export', 'import', 'restore')),"
	"  cluster TEXT,"
	"  backup_id TEXT,"
	"  outcome TEXT NOT NULL,"
	"  os_user TEXT,"
	"  host TEXT,"
	"  details TEXT"
	");"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
	/* 1 -> 2: the daemon's samples of each cluster's revision between
	 * backups (cat_revision_note): one row per cluster, overwritten, so
	 * it neither grows nor needs pruning. */
	"CREATE TABLE revision_seen ("
	"  cluster TEXT PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  revision INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 2 -> 3: the key of each event's copy in the repository's audit
	 * trail (repo/journal.h), so that a rebuild reading it back adds it
	 * once (cat_audit_add); NULL for events that have none. */
	"ALTER TABLE audit ADD COLUMN ref TEXT;"
	"CREATE UNIQUE INDEX audit_ref ON audit (ref) WHERE ref IS NOT NULL;",
	/* 3 -> 4: until when S3 Object Lock keeps a backup (NULL: not
	 * known or not locked); prune skips it until then. */
	"ALTER TABLE backups ADD COLUMN locked_until INTEGER;",
	/* 4 -> 5: restore drills (catalog/drill.c), and the audit action
	 * 'drill'.  A CHECK cannot be altered in SQLite: the audit table is
	 * copied into one with the wider CHECK, ids and refs kept.  DROP
	 * TABLE's implicit delete fires no trigger, and the triggers and
	 * indexes are made again on the new table. */
	"CREATE TABLE drills ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  cluster TEXT NOT NULL,"
	"  backup_id TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER NOT NULL,"
	"  result TEXT NOT NULL CHECK (result IN ('ok', 'failed')),"
	"  error TEXT,"
	"  rto_ms INTEGER,"
	"  fetch_ms INTEGER,"
	"  restore_ms INTEGER,"
	"  start_ms INTEGER,"
	"  check_ms INTEGER,"
	"  revision INTEGER,"
	"  keys INTEGER,"
	"  hashkv INTEGER,"
	"  etcd_version TEXT,"
	"  objects TEXT,"
	"  os_user TEXT,"
	"  host TEXT"
	");"
	"CREATE INDEX drills_cluster_started ON drills (cluster, started_at);"
	"CREATE INDEX drills_backup_started ON drills (backup_id, started_at);"
	"CREATE TABLE audit5 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('backup', 'verify', 'prune',"
	"    'rebuild', 'export', 'import', 'restore', 'drill')),"
	"  cluster TEXT,"
	"  backup_id TEXT,"
	"  outcome TEXT NOT NULL,"
	"  os_user TEXT,"
	"  host TEXT,"
	"  details TEXT,"
	"  ref TEXT"
	");"
	"INSERT INTO audit5 (id, at, action, cluster, backup_id, outcome, os_user,"
	"  host, details, ref) SELECT id, at, action, cluster, backup_id, outcome,"
	"  os_user, host, details, ref FROM audit;"
	"DROP TABLE audit;"
	"ALTER TABLE audit5 RENAME TO audit;"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE UNIQUE INDEX audit_ref ON audit (ref) WHERE ref IS NOT NULL;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
	/* 5 -> 6: point-in-time recovery (catalog/pitr.c): the event log's
	 * segments, the gaps in a cluster's capture, and the audit action
	 * 'pitr' (gaps, replay proofs), the audit table copied once more as
	 * in 4 -> 5.  Two captures after a failover may store overlapping
	 * segments under different names: rows are per object. */
	"CREATE TABLE segments ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  cluster TEXT NOT NULL,"
	"  cluster_id TEXT,"
	"  first_rev INTEGER NOT NULL,"
	"  last_rev INTEGER NOT NULL CHECK (last_rev >= first_rev),"
	"  first_time_ms INTEGER NOT NULL,"
	"  last_time_ms INTEGER NOT NULL,"
	"  revisions INTEGER NOT NULL,"
	"  events INTEGER NOT NULL,"
	"  object TEXT NOT NULL UNIQUE,"
	"  stored_size INTEGER NOT NULL,"
	"  stored_sha256 TEXT NOT NULL,"
	"  prev_sha256 TEXT,"
	"  signer TEXT,"
	"  host TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  verified_at INTEGER,"
	"  verify_status TEXT CHECK (verify_status IN ('ok', 'failed')),"
	"  verify_detail TEXT"
	");"
	"CREATE INDEX segments_cluster_rev ON segments (cluster, first_rev, last_rev);"
	"CREATE INDEX segments_cluster_time ON segments (cluster, last_time_ms);"
	"CREATE TABLE pitr_gaps ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  cluster TEXT NOT NULL,"
	"  after_rev INTEGER NOT NULL,"
	"  resume_rev INTEGER,"
	"  reason TEXT NOT NULL,"
	"  detected_at INTEGER NOT NULL"
	");"
	"CREATE INDEX pitr_gaps_cluster ON pitr_gaps (cluster, after_rev);"
	"CREATE TABLE audit6 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('backup', 'verify', 'prune',"
	"    'rebuild', 'export', 'import', 'restore', 'drill', 'pitr')),"
	"  cluster TEXT,"
	"  backup_id TEXT,"
	"  outcome TEXT NOT NULL,"
	"  os_user TEXT,"
	"  host TEXT,"
	"  details TEXT,"
	"  ref TEXT"
	");"
	"INSERT INTO audit6 (id, at, action, cluster, backup_id, outcome, os_user,"
	"  host, details, ref) SELECT id, at, action, cluster, backup_id, outcome,"
	"  os_user, host, details, ref FROM audit;"
	"DROP TABLE audit;"
	"ALTER TABLE audit6 RENAME TO audit;"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE UNIQUE INDEX audit_ref ON audit (ref) WHERE ref IS NOT NULL;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
};

static const char *const status_names[] = { "running", "complete", "partial", "failed" };
static const char *const action_names[] = {
	"backup", "verify", "prune", "rebuild", "export", "import", "restore", "drill",
	"pitr"
};

const char *
cat_status_name(enum cat_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "unknown";
}

int
cat_status_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < 4; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

const char *
cat_action_name(enum cat_action a)
{
	return (unsigned)a < sizeof(action_names) / sizeof(action_names[0]) ?
	    action_names[a] : "unknown";
}

const char *
cat_default_path(const char *flag)
{
	const char *env;

	if (flag != NULL && *flag != '\0')
		return flag;
	if ((env = getenv("LIFEBOAT_CATALOG")) != NULL && *env != '\0')
		return env;
	return CAT_DEFAULT_PATH;
}

int
cat_name_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];
		if (i >= max || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* --- errors and statements ---------------------------------------------- */

int
cat_sqlerr(const struct cat *c, int rc, const char *what, struct lb_err *err)
{
	const char *path = c != NULL && c->path != NULL ? c->path : "?";
	const char *msg = c != NULL && c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
	int sys = c != NULL && c->db != NULL ? sqlite3_system_errno(c->db) : 0;

	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return lb_err_set(err, LB_E_CORRUPT, "catalog %s: %s: %s %s",
		    path, what, msg, REBUILD_HINT);
	case SQLITE_FULL:
		return lb_err_set(err, LB_E_NOSPACE, "catalog %s: %s: disk full "
		    "(hint: free space on the file system holding the catalog)", path, what);
	case SQLITE_READONLY:
		return lb_err_set(err, LB_E_IO, "catalog %s: %s: read-only: %s "
		    "(hint: check the permissions of the file and its directory, "
		    "and that the file system is mounted read-write)", path, what, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return lb_err_set(err, LB_E_BUSY, "catalog %s: %s: still locked by another "
		    "process after %d ms", path, what, c != NULL ? c->busy_ms : 0);
	case SQLITE_NOMEM:
		return lb_err_set(err, LB_E_NOMEM, "catalog %s: %s: out of memory", path, what);
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_PERM:
		if (sys != 0)
			return lb_err_sys(err, LB_E_IO, sys, "catalog %s: %s: %s", path, what, msg);
		return lb_err_set(err, LB_E_IO, "catalog %s: %s: %s", path, what, msg);
	default:
		return lb_err_set(err, LB_E_INTERNAL, "catalog %s: %s: %s", path, what, msg);
	}
}

int
cat_exec(struct cat *c, const char *sql, const char *what, struct lb_err *err)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : cat_sqlerr(c, rc, what, err);
}

int
cat_prepare(struct cat *c, const char *sql, sqlite3_stmt **st, struct lb_err *err)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : cat_sqlerr(c, rc, "prepare", err);
}

int
cat_tx_write(struct cat *c, struct lb_err *err)
{
	if (c->flags & CAT_OPEN_READONLY)
		return lb_err_set(err, LB_E_INTERNAL, "catalog %s: opened read-only", c->path);
	return cat_exec(c, "BEGIN IMMEDIATE", "begin", err);
}

int
cat_writable(struct cat *c, struct lb_err *err)
{
	int r;

	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	cat_tx_rollback(c);
	return 0;
}

int
cat_tx_read(struct cat *c, struct lb_err *err)
{
	return cat_exec(c, "BEGIN", "begin", err);
}

int
cat_tx_commit(struct cat *c, struct lb_err *err)
{
	int r = cat_exec(c, "COMMIT", "commit", err);

	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

void
cat_tx_rollback(struct cat *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int
cat_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
	    : sqlite3_bind_null(st, i);
}

int
cat_bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
	return v >= 0 ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

int64_t
cat_col_opt(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

int
cat_col_str(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	*out = NULL;
	return s == NULL || (*out = strdup((const char *)s)) != NULL ? 0 : -1;
}

/* Runs a query that returns one integer. */
static int
query_int(struct cat *c, const char *sql, int64_t *out, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		r = 0;
	} else {
		r = cat_sqlerr(c, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, sql, err);
	}
	sqlite3_finalize(st);
	return r;
}

/* --- opening -------------------------------------------------------------- */

/* mkdir -p of path's directory, 0700 for what it creates. */
static int
make_parents(const char *path, struct lb_err *err)
{
	char dir[4096];
	char *p;
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return lb_err_set(err, LB_E_CONFIG, "catalog path too long");
	memcpy(dir, path, n + 1);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST)
				return lb_err_sys(err, LB_E_IO, errno,
				    "catalog %s: cannot create directory %s", path, dir);
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

/* Creates the file 0600 ourselves: SQLite would use 0644 minus umask, and
 * gives the -wal and -shm files the mode of the database file.  Only a
 * file that does not exist yet is opened here (O_EXCL): close() drops
 * every POSIX lock this process holds on the file, so closing a
 * descriptor of a catalog that another thread's connection has open
 * would silently take away that connection's locks (SQLite's "how to
 * corrupt", 2.2); another process could then checkpoint and remove the
 * WAL under it ("disk I/O error", seen with the daemon's runs beside a
 * sqlite3 shell), or write beside it. */
static int
create_file(const char *path, struct lb_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0) {
		if (errno == EROFS || errno == EACCES || errno == EPERM)
			return lb_err_sys(err, LB_E_IO, errno, "catalog %s: cannot create "
			    "(hint: check the directory's permissions and that the file "
			    "system is mounted read-write)", path);
		return lb_err_sys(err, LB_E_IO, errno, "catalog %s: cannot create", path);
	}
	close(fd);
	return 0;
}

static int
migrate(struct cat *c, struct lb_err *err)
{
	int64_t v, app, tables;
	char sql[96];
	int r;

	/* Up to date (the common case): no write lock needed, so opening
	 * does not wait behind another process's long write transaction. */
	if (query_int(c, "PRAGMA user_version", &v, err) == 0 && v == CAT_SCHEMA_VERSION &&
	    query_int(c, "PRAGMA application_id", &app, err) == 0 && app == CAT_APP_ID) {
		c->version = CAT_SCHEMA_VERSION;
		return 0;
	}
	lb_err_clear(err);
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	/* Read inside the write transaction: two processes opening a new
	 * catalog at once must not both apply migration 0. */
	if ((r = query_int(c, "PRAGMA user_version", &v, err)) < 0 ||
	    (r = query_int(c, "PRAGMA application_id", &app, err)) < 0 ||
	    (r = query_int(c, "SELECT count(*) FROM sqlite_schema", &tables, err)) < 0)
		goto out;
	if (app != CAT_APP_ID && (app != 0 || tables != 0)) {
		r = lb_err_set(err, LB_E_CONFIG, "catalog %s: not a lifeboat catalog "
		    "(another program's SQLite database?)", c->path);
		goto out;
	}
	if (v > CAT_SCHEMA_VERSION) {
		r = lb_err_set(err, LB_E_CONFIG, "catalog %s: schema version %lld is newer "
		    "than this lifeboat knows (%d); upgrade lifeboat", c->path,
		    (long long)v, CAT_SCHEMA_VERSION);
		goto out;
	}
	for (; v < CAT_SCHEMA_VERSION; v++)
		if ((r = cat_exec(c, migrations[v], "migrate schema", err)) < 0)
			goto out;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
	    CAT_APP_ID, CAT_SCHEMA_VERSION);
	if ((r = cat_exec(c, sql, "migrate schema", err)) < 0)
		goto out;
	r = cat_tx_commit(c, err);
	c->version = CAT_SCHEMA_VERSION;
out:
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

/* A read-only open cannot migrate: it only checks what it finds. */
static int
check_readonly(struct cat *c, struct lb_err *err)
{
	int64_t v, app;
	int r;

	if ((r = query_int(c, "PRAGMA user_version", &v, err)) < 0 ||
	    (r = query_int(c, "PRAGMA application_id", &app, err)) < 0)
		return r;
	if (app != CAT_APP_ID)
		return lb_err_set(err, LB_E_CONFIG, "catalog %s: not a lifeboat catalog", c->path);
	if (v > CAT_SCHEMA_VERSION)
		return lb_err_set(err, LB_E_CONFIG, "catalog %s: schema version %lld is newer "
		    "than this lifeboat knows (%d); upgrade lifeboat", c->path,
		    (long long)v, CAT_SCHEMA_VERSION);
	if (v < 1)
		return lb_err_set(err, LB_E_CONFIG, "catalog %s: empty (no schema yet)", c->path);
	c->version = (int)v;
	return 0;
}

int
cat_open(const char *path, unsigned flags, struct cat **out, struct lb_err *err)
{
	struct cat *c = NULL;
	struct stat st;
	int r = 0, rc, oflags;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return lb_err_set(err, LB_E_CONFIG, "catalog path is empty");
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	c->flags = flags;
	c->busy_ms = CAT_BUSY_TIMEOUT_MS;
	if (flags & CAT_OPEN_READONLY) {
		if (stat(path, &st) < 0) {
			if (errno == ENOENT)
				r = lb_err_set(err, LB_E_NOTFOUND, "catalog %s does not exist "
				    "(no backup recorded yet?) (hint: check --catalog or "
				    "$LIFEBOAT_CATALOG)", path);
			else
				r = lb_err_sys(err, LB_E_IO, errno, "catalog %s", path);
			goto out;
		}
		oflags = SQLITE_OPEN_READONLY;
	} else {
		if ((r = make_parents(path, err)) < 0 || (r = create_file(path, err)) < 0)
			goto out;
		oflags = SQLITE_OPEN_READWRITE;
	}
	rc = sqlite3_open_v2(path, &c->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = cat_sqlerr(c, rc, "open", err);
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, c->busy_ms);
	/* The first statements read the header and the schema: garbage shows
	 * up here as SQLITE_NOTADB. */
	if ((r = cat_exec(c, "PRAGMA foreign_keys = ON", "open", err)) < 0 ||
	    (r = cat_exec(c, "SELECT count(*) FROM sqlite_schema", "open", err)) < 0)
		goto out;
	if (flags & CAT_OPEN_READONLY) {
		r = check_readonly(c, err);
		goto out;
	}
	{
		sqlite3_stmt *stj = NULL;
		const unsigned char *mode;

		if ((r = cat_prepare(c, "PRAGMA journal_mode = WAL", &stj, err)) < 0)
			goto out;
		rc = sqlite3_step(stj);
		mode = rc == SQLITE_ROW ? sqlite3_column_text(stj, 0) : NULL;
		if (rc != SQLITE_ROW)
			r = cat_sqlerr(c, rc, "switch to WAL", err);
		else if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
			r = lb_err_set(err, LB_E_IO, "catalog %s: cannot use WAL mode (got %s)",
			    path, mode != NULL ? (const char *)mode : "nothing");
		sqlite3_finalize(stj);
		if (r < 0)
			goto out;
	}
	r = migrate(c, err);
out:
	if (r < 0)
		cat_close(c);
	else
		*out = c;
	return r;
}

void
cat_close(struct cat *c)
{
	if (c == NULL)
		return;
	/* Keeps the planner's statistics fresh, as SQLite advises on close;
	 * cheap when nothing changed. */
	if (c->db != NULL && !(c->flags & CAT_OPEN_READONLY) && c->version > 0)
		sqlite3_exec(c->db, "PRAGMA optimize", NULL, NULL, NULL);
	sqlite3_close_v2(c->db);
	free(c->path);
	free(c);
}

int
cat_schema_version(const struct cat *c)
{
	return c->version;
}

void
cat_set_busy_timeout(struct cat *c, int ms)
{
	c->busy_ms = ms;
	sqlite3_busy_timeout(c->db, ms);
}

/* --- writes ---------------------------------------------------------------- */

/* Runs one prepared write to completion. */
static int
step_done(struct cat *c, sqlite3_stmt *st, const char *what, struct lb_err *err)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : cat_sqlerr(c, rc, what, err);
}

static void
this_host(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "unknown");
	buf[len - 1] = '\0';
}

int
cat_backup_begin(struct cat *c, const char *cluster, const char *backup_id,
    int64_t started_at, const char *host, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	char hostbuf[256];
	int r, rc;

	if (!cat_name_ok(backup_id, CAT_ID_MAX))
		return lb_err_set(err, LB_E_INTERNAL, "bad backup id '%s'", backup_id ? backup_id : "");
	if (!cat_name_ok(cluster, 128))
		return lb_err_set(err, LB_E_CONFIG, "bad cluster name '%s'", cluster ? cluster : "");
	if (host == NULL) {
		this_host(hostbuf, sizeof(hostbuf));
		host = hostbuf;
	}
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "INSERT INTO clusters (name) VALUES (?1) "
	    "ON CONFLICT (name) DO NOTHING", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	if ((r = step_done(c, st, "record backup start", err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "INSERT INTO backups (id, cluster, status, started_at, host) "
	    "VALUES (?1, ?2, 'running', ?3, ?4)", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, backup_id);
	cat_bind_text(st, 2, cluster);
	sqlite3_bind_int64(st, 3, started_at);
	cat_bind_text(st, 4, host);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		r = lb_err_set(err, LB_E_EXISTS, "catalog: backup %s already exists", backup_id);
		goto out;
	} else if (rc != SQLITE_DONE) {
		r = cat_sqlerr(c, rc, "record backup start", err);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

/* Reads the status of backup_id: the enum, or a negative LB_E_*. */
static int
backup_status(struct cat *c, const char *backup_id, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = cat_prepare(c, "SELECT status FROM backups WHERE id = ?1", &st, err)) < 0)
		return r;
	cat_bind_text(st, 1, backup_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = cat_status_parse((const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_DONE)
		r = lb_err_set(err, LB_E_NOTFOUND, "catalog: no backup %s", backup_id);
	else
		r = cat_sqlerr(c, rc, "read backup", err);
	sqlite3_finalize(st);
	return r;
}

int
cat_backup_finish(struct cat *c, const char *backup_id, enum cat_status status,
    const char *error, const char *manifest_json, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, cur;

	if (status == CAT_RUNNING || (unsigned)status > CAT_FAILED)
		return lb_err_set(err, LB_E_INTERNAL, "cat_backup_finish: status must be "
		    "complete, partial or failed");
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((cur = backup_status(c, backup_id, err)) < 0) {
		r = cur;
		goto out;
	}
	if (cur != CAT_RUNNING) {
		r = lb_err_set(err, LB_E_EXISTS, "catalog: backup %s is already %s",
		    backup_id, cat_status_name((enum cat_status)cur));
		goto out;
	}
	if (manifest_json != NULL &&
	    (r = cat_manifest_record_tx(c, manifest_json, NULL, backup_id, (int)status, err)) < 0)
		goto out;
	if ((r = cat_prepare(c, manifest_json != NULL ?
	    "UPDATE backups SET error = coalesce(?3, error) WHERE id = ?1" :
	    "UPDATE backups SET status = ?2, finished_at = ?4, error = ?3 WHERE id = ?1",
	    &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, backup_id);
	cat_bind_text(st, 2, cat_status_name(status));
	cat_bind_text(st, 3, error);
	if (manifest_json == NULL)
		sqlite3_bind_int64(st, 4, cat_now());
	if ((r = step_done(c, st, "record backup end", err)) < 0)
		goto out;
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

/* One UPDATE or DELETE keyed by backup id, in its own transaction;
 * LB_E_NOTFOUND when it touched no row. */
static int
write_by_id(struct cat *c, const char *sql, const char *backup_id, int64_t at,
    const char *s1, const char *s2, const char *what, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, sql, &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, backup_id);
	if (sqlite3_bind_parameter_count(st) >= 2) {
		if (at > 0)
			sqlite3_bind_int64(st, 2, at);
		else
			sqlite3_bind_null(st, 2);
	}
	if (sqlite3_bind_parameter_count(st) >= 4) {
		cat_bind_text(st, 3, s1);
		cat_bind_text(st, 4, s2);
	}
	if ((r = step_done(c, st, what, err)) < 0)
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		r = lb_err_set(err, LB_E_NOTFOUND, "catalog: no backup %s", backup_id);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

int
cat_set_verified(struct cat *c, const char *backup_id, int64_t at, int ok,
    const char *detail, struct lb_err *err)
{
	return write_by_id(c, "UPDATE backups SET verified_at = ?2, verify_status = ?3, "
	    "verify_detail = ?4 WHERE id = ?1", backup_id, at > 0 ? at : cat_now(),
	    ok ? "ok" : "failed", detail, "record verification", err);
}

int
cat_set_locked_until(struct cat *c, const char *backup_id, int64_t until,
    struct lb_err *err)
{
	if (c->version < 4)
		return lb_err_set(err, LB_E_CONFIG, "catalog %s: schema %d has no lock "
		    "column (open it for writing to upgrade it)", c->path, c->version);
	return write_by_id(c, "UPDATE backups SET locked_until = ?2 WHERE id = ?1",
	    backup_id, until, NULL, NULL, "record the object lock", err);
}

int
cat_delete_backup(struct cat *c, const char *backup_id, struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	/* Members go first explicitly, whatever the foreign key setting of
	 * whoever created the file. */
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "DELETE FROM members WHERE backup_id = ?1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, backup_id);
	if ((r = step_done(c, st, "delete backup", err)) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = cat_prepare(c, "DELETE FROM backups WHERE id = ?1", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, backup_id);
	if ((r = step_done(c, st, "delete backup", err)) < 0)
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		r = lb_err_set(err, LB_E_NOTFOUND, "catalog: no backup %s", backup_id);
		goto out;
	}
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}

/* --- audit ------------------------------------------------------------------ */

void
cat_whoami(char *user, size_t ulen, char *host, size_t hlen)
{
	struct passwd *pw;

	/* getpwuid is not thread-safe, but the struct is only read here at
	 * once; the daemon audits from one thread. */
	if ((pw = getpwuid(geteuid())) != NULL)
		snprintf(user, ulen, "%s", pw->pw_name);
	else
		snprintf(user, ulen, "uid %u", (unsigned)geteuid());
	this_host(host, hlen);
}

int
cat_audit(struct cat *c, enum cat_action action, const char *cluster,
    const char *backup_id, const char *outcome, const char *details_json,
    struct lb_err *err)
{
	struct cat_audit_event ev = { .action = cat_action_name(action), .cluster = cluster,
	    .backup_id = backup_id, .outcome = outcome, .details = details_json };
	int added;

	if ((unsigned)action > CAT_ACT_PITR)
		return lb_err_set(err, LB_E_INTERNAL, "cat_audit: bad action");
	return cat_audit_add(c, &ev, &added, err);
}

int
cat_audit_add(struct cat *c, const struct cat_audit_event *ev, int *inserted,
    struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	json_t *details = NULL;
	json_error_t jerr;
	char *compact = NULL, host[256], user[64];
	int r;

	*inserted = 0;
	if (ev->action == NULL || ev->outcome == NULL || *ev->outcome == '\0')
		return lb_err_set(err, LB_E_INTERNAL, "audit event without action or outcome");
	if (ev->details != NULL) {
		details = json_loads(ev->details, JSON_REJECT_DUPLICATES, &jerr);
		if (details == NULL || !json_is_object(details)) {
			r = lb_err_set(err, LB_E_INTERNAL, "audit event: details are not a JSON "
			    "object: %s", details == NULL ? jerr.text : "wrong type");
			goto out;
		}
		if ((compact = json_dumps(details, JSON_COMPACT)) == NULL) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
	}
	cat_whoami(user, sizeof(user), host, sizeof(host));
	if ((r = cat_tx_write(c, err)) < 0)
		goto out;
	if ((r = cat_prepare(c, "INSERT INTO audit (at, action, cluster, backup_id, outcome, "
	    "os_user, host, details, ref) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	    "ON CONFLICT (ref) WHERE ref IS NOT NULL DO NOTHING", &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, ev->at != 0 ? ev->at : cat_now());
	cat_bind_text(st, 2, ev->action);
	cat_bind_text(st, 3, ev->cluster);
	cat_bind_text(st, 4, ev->backup_id);
	cat_bind_text(st, 5, ev->outcome);
	cat_bind_text(st, 6, ev->os_user != NULL ? ev->os_user : user);
	cat_bind_text(st, 7, ev->host != NULL ? ev->host : host);
	cat_bind_text(st, 8, compact);
	cat_bind_text(st, 9, ev->ref);
	if ((r = step_done(c, st, "record audit event", err)) < 0)
		goto out;
	*inserted = sqlite3_changes(c->db) > 0;
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	json_decref(details);
	free(compact);
	return r;
}

int
cat_revision_note(struct cat *c, const char *cluster, int64_t at, int64_t revision,
    struct lb_err *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (c->version < 2)
		return lb_err_set(err, LB_E_CONFIG, "catalog %s: schema version %d has no "
		    "revision samples (open it for writing to upgrade it)", c->path, c->version);
	if ((r = cat_tx_write(c, err)) < 0)
		return r;
	if ((r = cat_prepare(c, "INSERT INTO revision_seen (cluster, at, revision) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (cluster) DO UPDATE SET "
	    "at = excluded.at, revision = excluded.revision", &st, err)) < 0)
		goto out;
	cat_bind_text(st, 1, cluster);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int64(st, 3, revision);
	if ((r = step_done(c, st, "record the revision seen", err)) < 0)
		goto out;
	r = cat_tx_commit(c, err);
out:
	sqlite3_finalize(st);
	if (r < 0)
		cat_tx_rollback(c);
	return r;
}
