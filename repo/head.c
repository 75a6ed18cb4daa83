/*
 * head.c: the signed head of a cluster (head.h): its key and JSON form.
 */
#include "repo/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "repo/manifest.h"

int
head_key(const char *cluster, char *out, size_t cap)
{
	if (!manifest_name_ok(cluster, MANIFEST_NAME_MAX) ||
	    (size_t)snprintf(out, cap, "%s/%s", cluster, HEAD_NAME) >= cap)
		return LB_E_INTERNAL;
	return 0;
}

static void
fmt_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly, as fmt_time writes it. */
static int
parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strlen(s) != 20 || (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
head_to_json(const struct head *h, char **out, struct lb_err *err)
{
	char signed_at[32], valid_until[32];
	json_t *o;

	fmt_time(h->signed_at, signed_at);
	fmt_time(h->valid_until, valid_until);
	o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s*}", "format", HEAD_FORMAT,
	    "cluster", h->cluster, "backup_id", h->backup_id, "sequence",
	    (json_int_t)h->sequence, "manifest_sha256", h->manifest_sha256,
	    "signed_at", signed_at, "valid_until", valid_until, "signer",
	    h->signer[0] != '\0' ? h->signer : NULL);
	*out = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (*out == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory writing the head");
	return 0;
}

/* Copies string field name of o into buf (cap bytes); -1 if absent or
 * too long. */
static int
get_str(json_t *o, const char *name, char *buf, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, name));

	if (s == NULL || strlen(s) >= cap)
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

int
head_parse(const char *json, size_t len, struct head *h, struct lb_err *err)
{
	const char *what = NULL;
	char t1[32], t2[32];
	json_error_t je;
	json_t *o, *seq;

	memset(h, 0, sizeof(*h));
	if (len > HEAD_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "head: larger than %u bytes", HEAD_MAX);
	if ((o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "head: not valid JSON: %s", je.text);
	seq = json_object_get(o, "sequence");
	if (!json_is_object(o) || json_string_value(json_object_get(o, "format")) == NULL ||
	    strcmp(json_string_value(json_object_get(o, "format")), HEAD_FORMAT) != 0)
		what = "format: expected " HEAD_FORMAT;
	else if (get_str(o, "cluster", h->cluster, sizeof(h->cluster)) < 0 ||
	    !manifest_name_ok(h->cluster, MANIFEST_NAME_MAX))
		what = "cluster: expected a cluster name";
	else if (get_str(o, "backup_id", h->backup_id, sizeof(h->backup_id)) < 0 ||
	    !manifest_name_ok(h->backup_id, MANIFEST_ID_MAX))
		what = "backup_id: expected a backup id";
	else if (!json_is_integer(seq) || json_integer_value(seq) < 0)
		what = "sequence: expected a non-negative integer";
	else if (get_str(o, "manifest_sha256", h->manifest_sha256,
	    sizeof(h->manifest_sha256)) < 0 || strlen(h->manifest_sha256) != 64 ||
	    strspn(h->manifest_sha256, "0123456789abcdef") != 64)
		what = "manifest_sha256: expected 64 hex digits";
	else if (get_str(o, "signed_at", t1, sizeof(t1)) < 0 || parse_time(t1, &h->signed_at) < 0 ||
	    get_str(o, "valid_until", t2, sizeof(t2)) < 0 || parse_time(t2, &h->valid_until) < 0 ||
	    h->valid_until < h->signed_at)
		what = "signed_at, valid_until: expected two times (YYYY-MM-DDTHH:MM:SSZ), in order";
	else if (json_object_get(o, "signer") != NULL && !json_is_null(json_object_get(o, "signer")) &&
	    (get_str(o, "signer", h->signer, sizeof(h->signer)) < 0 ||
	    strncmp(h->signer, "SHA256:", 7) != 0))
		what = "signer: expected a key fingerprint (SHA256:...)";
	if (what == NULL)
		h->sequence = (int64_t)json_integer_value(seq);
	json_decref(o);
	return what != NULL ? lb_err_set(err, LB_E_CORRUPT, "head: %s", what) : 0;
}
