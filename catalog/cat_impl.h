/*
 * cat_impl.h: what the catalog's .c files share and nobody else sees: the
 * connection struct, SQLite error mapping and transaction helpers.
 * Include only from the catalog's own .c files; the public contract is
 * catalog.h.
 */
#ifndef LB_CAT_IMPL_H
#define LB_CAT_IMPL_H

#include <sqlite3.h>

#include "catalog/catalog.h"

struct cat {
	sqlite3 *db;
	char *path;
	unsigned flags;
	int version;
	int busy_ms;
};

/* Maps a SQLite failure to an LB_E_* code and a message naming the
 * catalog and what was being done; returns the code. */
int cat_sqlerr(const struct cat *c, int rc, const char *what, struct lb_err *err);

/* Runs SQL without results. */
int cat_exec(struct cat *c, const char *sql, const char *what, struct lb_err *err);

/* Prepares one statement. */
int cat_prepare(struct cat *c, const char *sql, sqlite3_stmt **st, struct lb_err *err);

/* Write transactions take the write lock up front (BEGIN IMMEDIATE) so
 * two writers never deadlock upgrading from a read lock. */
int cat_tx_write(struct cat *c, struct lb_err *err);
int cat_tx_read(struct cat *c, struct lb_err *err);
int cat_tx_commit(struct cat *c, struct lb_err *err);
void cat_tx_rollback(struct cat *c);

/* Binds text, or NULL when s is NULL. */
int cat_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Binds an integer, or NULL when v < 0 (absent). */
int cat_bind_opt(sqlite3_stmt *st, int i, int64_t v);
/* Column i as an integer, -1 when NULL (absent). */
int64_t cat_col_opt(sqlite3_stmt *st, int i);
/* Column i as a new string in *out, NULL when NULL; -1: out of memory. */
int cat_col_str(sqlite3_stmt *st, int i, char **out);

int64_t cat_now(void);

/* Calls cb for each audit event "SELECT <the audit columns> FROM audit
 * <rest>" reads, ?1 and ?2 in rest bound to a and b, in a read
 * transaction of its own (query.c). */
int cat_audit_rows(struct cat *c, const char *rest, int64_t a, int64_t b,
    cat_audit_cb cb, void *arg, struct lb_err *err);

/* Backup ids and names (cluster, member) go into object keys and file
 * names: [A-Za-z0-9._-], not starting with '.' or '-', 1..max bytes. */
int cat_name_ok(const char *s, size_t max);

/* Strict RFC 3339 ("2026-11-21T23:45:00Z", optional fraction and offset)
 * to Unix seconds; -1 if s is not one. */
int cat_time_rfc3339(const char *s, int64_t *out);

/* Records a manifest inside the caller's write transaction (manifest.c).
 * want_id and want_status (NULL and -1 for any) must match the manifest;
 * key NULL derives the manifest key from the members' objects. */
int cat_manifest_record_tx(struct cat *c, const char *json, const char *key,
    const char *want_id, int want_status, struct lb_err *err);

#endif
