/*
 * journal.h: the audit trail kept in the repository, beside the backups,
 * so that it outlives the appliance and its catalog: every audit event
 * is also one small object, written once and never rewritten (so Object
 * Lock can hold it like the backups), signed like a manifest where there
 * is a signing key.  `catalog rebuild` reads them back into the catalog's
 * audit table; a restore from the bucket alone, with no catalog, records
 * itself only here.
 *
 * Keys: .audit/<cluster>/<YYYY>/<MM>/<DD>/<YYYYMMDDTHHMMSS.mmmZ>-<6 hex>.json
 * (".audit": no cluster may be named with a leading dot, so it never
 * meets one; "-" for events of no cluster, such as a rebuild).  The
 * object's signature, when there is one, is the key + ".sig", namespace
 * JOURNAL_SIG_NS.
 *
 * The JSON form is fixed for good ("format": "lifeboat-audit/1"): fields
 * may be added, never renamed or removed.
 */
#ifndef LB_JOURNAL_H
#define LB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define JOURNAL_FORMAT "lifeboat-audit/1"
#define JOURNAL_PREFIX ".audit/"
#define JOURNAL_SIG_NS "lifeboat-audit"
#define JOURNAL_MAX (64u * 1024)      /* largest event object read */
#define JOURNAL_KEY_MAX 512           /* room for a key and its NUL */

/* One event, as the catalog's audit table holds it.  Strings may be NULL
 * where the table allows it (cluster, backup_id, os_user, host, details);
 * details is JSON text of an object. */
struct journal_event {
	int64_t at_ms;             /* unix milliseconds */
	const char *action;        /* "backup", "verify", ... (cat_action_name) */
	const char *cluster;
	const char *backup_id;
	const char *outcome;
	const char *os_user;
	const char *host;
	const char *details;
};

/* The key of ev's object into out: its cluster's folder and day, its
 * time, and rnd (6 hex digits the caller draws) so that two events of one
 * millisecond do not meet. */
int journal_key(const struct journal_event *ev, const char rnd[7], char *out, size_t cap);

/* Serialises ev (malloc'd, NUL-terminated, one line ending in '\n'). */
int journal_to_json(const struct journal_event *ev, char **out, struct lb_err *err);

/* A parsed event; its strings point into storage owned by the record. */
struct journal_record;

/* Parses and validates (format, action and outcome present, names that
 * could be keys, details an object); LB_E_CORRUPT names the field.  *ev
 * points into *rec: free it with journal_record_free. */
int journal_parse(const char *json, size_t len, struct journal_record **rec,
    struct journal_event *ev, struct lb_err *err);

/* NULL is fine. */
void journal_record_free(struct journal_record *rec);

#endif
