/*
 * journal.c: the audit trail's objects in the repository (journal.h):
 * their keys and their JSON form.
 */
#include "repo/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "repo/manifest.h"

struct journal_record {
	json_t *root;
	char *details;             /* compact JSON text of "details" */
};

/* "2026-11-30T23:45:00.123Z" */
static void
fmt_ms(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[24];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", s, (int)(ms % 1000));
}

static int
parse_ms(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	int ms;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strlen(s) != 24 || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    sscanf(end, ".%3dZ", &ms) != 1 || end[4] != 'Z' || ms < 0)
		return -1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

int
journal_key(const struct journal_event *ev, const char rnd[7], char *out, size_t cap)
{
	time_t t = (time_t)(ev->at_ms / 1000);
	struct tm tm;
	char day[16], stamp[24];

	if (ev->cluster != NULL && !manifest_name_ok(ev->cluster, MANIFEST_NAME_MAX))
		return LB_E_INTERNAL;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if ((size_t)snprintf(out, cap, JOURNAL_PREFIX "%s/%s/%s.%03dZ-%.6s.json",
	    ev->cluster != NULL ? ev->cluster : "-", day, stamp, (int)(ev->at_ms % 1000),
	    rnd) >= cap)
		return LB_E_INTERNAL;
	return 0;
}

int
journal_to_json(const struct journal_event *ev, char **out, struct lb_err *err)
{
	json_t *o, *d = NULL;
	char at[32], *txt;
	size_t n;

	*out = NULL;
	if (ev->details != NULL && (d = json_loads(ev->details, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "journal: details are not JSON");
	fmt_ms(ev->at_ms, at);
	o = json_pack("{s:s,s:s,s:s,s:s*,s:s*,s:s,s:s*,s:s*,s:o*}", "format", JOURNAL_FORMAT,
	    "at", at, "action", ev->action, "cluster", ev->cluster, "backup_id",
	    ev->backup_id, "outcome", ev->outcome, "os_user", ev->os_user, "host", ev->host,
	    "details", d);
	if (o == NULL || (txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		json_decref(o);
		return lb_err_set(err, LB_E_NOMEM, "out of memory writing an audit event");
	}
	json_decref(o);
	n = strlen(txt);
	if ((*out = realloc(txt, n + 2)) == NULL) {
		free(txt);
		return lb_err_set(err, LB_E_NOMEM, "out of memory writing an audit event");
	}
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	return 0;
}

/* The string field name of o, NULL when absent or null; -1 when of
 * another type or longer than max. */
static int
opt_str(json_t *o, const char *name, size_t max, const char **out)
{
	json_t *v = json_object_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) > max)
		return -1;
	*out = json_string_value(v);
	return 0;
}

int
journal_parse(const char *json, size_t len, struct journal_record **rec,
    struct journal_event *ev, struct lb_err *err)
{
	struct journal_record *r;
	const char *what = NULL, *f = NULL, *at = NULL;
	json_error_t je;
	json_t *d;

	*rec = NULL;
	memset(ev, 0, sizeof(*ev));
	if (len > JOURNAL_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "audit event: larger than %u bytes",
		    JOURNAL_MAX);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if ((r->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(r->root)) {
		journal_record_free(r);
		return lb_err_set(err, LB_E_CORRUPT, "audit event: not a JSON object");
	}
	d = json_object_get(r->root, "details");
	if (opt_str(r->root, "format", 64, &f) < 0 || f == NULL || strcmp(f, JOURNAL_FORMAT) != 0)
		what = "format: expected " JOURNAL_FORMAT;
	else if (opt_str(r->root, "at", 32, &at) < 0 || parse_ms(at, &ev->at_ms) < 0)
		what = "at: expected a time (YYYY-MM-DDTHH:MM:SS.mmmZ)";
	else if (opt_str(r->root, "action", 32, &ev->action) < 0 || ev->action == NULL)
		what = "action: missing";
	else if (opt_str(r->root, "outcome", 64, &ev->outcome) < 0 || ev->outcome == NULL ||
	    *ev->outcome == '\0')
		what = "outcome: missing";
	else if (opt_str(r->root, "cluster", MANIFEST_NAME_MAX, &ev->cluster) < 0 ||
	    (ev->cluster != NULL && !manifest_name_ok(ev->cluster, MANIFEST_NAME_MAX)))
		what = "cluster: expected a cluster name";
	else if (opt_str(r->root, "backup_id", MANIFEST_ID_MAX, &ev->backup_id) < 0 ||
	    (ev->backup_id != NULL && !manifest_name_ok(ev->backup_id, MANIFEST_ID_MAX)))
		what = "backup_id: expected a backup id";
	else if (opt_str(r->root, "os_user", 256, &ev->os_user) < 0 ||
	    opt_str(r->root, "host", 256, &ev->host) < 0)
		what = "os_user, host: expected strings";
	else if (d != NULL && !json_is_null(d) && !json_is_object(d))
		what = "details: expected an object";
	if (what == NULL && json_is_object(d) &&
	    (r->details = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		what = "details: out of memory";
	if (what != NULL) {
		journal_record_free(r);
		memset(ev, 0, sizeof(*ev));
		return lb_err_set(err, LB_E_CORRUPT, "audit event: %s", what);
	}
	ev->details = r->details;
	*rec = r;
	return 0;
}

void
journal_record_free(struct journal_record *rec)
{
	if (rec == NULL)
		return;
	json_decref(rec->root);
	free(rec->details);
	free(rec);
}
