/*
 * manifest.c: manifest.json written and parsed with jansson (manifest.h).
 * One table per object lists its fields, so writing, parsing and
 * validation cannot drift apart.
 */
#include "repo/manifest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/sha.h>
#include <openssl/rand.h>

#include "common/buf.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define MANIFEST_STR_MAX 4096

enum ftype { F_STR, F_I64, F_U64, F_BOOL, F_INT };

/* REQ: always required; OKREQ: required of a member whose status is ok. */
enum { OPT = 0, REQ = 1, OKREQ = 2 };

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	int need;
};

#define MF(n, t, f, r) { n, t, offsetof(struct manifest, f), r }
static const struct field backup_fields[] = {
	MF("backup_id", F_STR, backup_id, REQ),
	MF("cluster", F_STR, cluster, REQ),
	MF("cluster_id", F_STR, cluster_id, OPT),
	MF("status", F_STR, status, REQ),
	MF("started_at", F_STR, started_at, REQ),
	MF("finished_at", F_STR, finished_at, REQ),
	MF("lifeboat_version", F_STR, lifeboat_version, OPT),
	MF("hostname", F_STR, hostname, OPT),
	MF("leader", F_STR, leader, OPT),
	MF("etcd_version", F_STR, etcd_version, OPT),
	MF("revision", F_I64, revision, REQ),
	MF("db_size", F_U64, db_size, REQ),
	MF("stored_size", F_U64, stored_size, REQ),
	/* format 2 */
	MF("sequence", F_I64, sequence, OPT),
	MF("previous_manifest_sha256", F_STR, previous_sha256, OPT),
	MF("signer", F_STR, signer, OPT),
};

#define MM(n, t, f, r) { n, t, offsetof(struct manifest_member, f), r }
static const struct field member_fields[] = {
	MM("name", F_STR, name, REQ),
	MM("id", F_STR, id, REQ),
	MM("endpoint", F_STR, endpoint, OPT),
	MM("learner", F_BOOL, learner, OPT),
	MM("leader", F_BOOL, leader, OPT),
	MM("status", F_STR, status, REQ),
	MM("error", F_STR, error, OPT),
	MM("etcd_version", F_STR, etcd_version, OPT),
	MM("revision", F_I64, revision, OKREQ),
	MM("raft_index", F_U64, raft_index, OPT),
	MM("raft_term", F_U64, raft_term, OPT),
	MM("db_size", F_U64, db_size, OKREQ),
	MM("etcd_sha256", F_STR, etcd_sha256, OKREQ),
	MM("object", F_STR, object, OKREQ),
	MM("stored_size", F_U64, stored_size, OKREQ),
	MM("stored_sha256", F_STR, stored_sha256, OKREQ),
	MM("started_at", F_STR, started_at, OPT),
	MM("finished_at", F_STR, finished_at, OPT),
	/* informational: the zstd levels this member's jobs were given */
	MM("compress_level", F_INT, compress_level, OPT),
	MM("compress_level_min", F_INT, compress_level_min, OPT),
	MM("compress_level_max", F_INT, compress_level_max, OPT),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static void
free_fields(void *obj, const struct field *fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fs[i].type == F_STR)
			free(*(char **)((char *)obj + fs[i].off));
}

struct manifest *
manifest_new(void)
{
	struct manifest *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->consistent = -1;
	if ((m->compression = strdup("zstd")) == NULL ||
	    (m->encryption = strdup("age-v1")) == NULL ||
	    (m->lifeboat_version = strdup(LB_VERSION)) == NULL) {
		manifest_free(m);
		return NULL;
	}
	return m;
}

void
manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_members; i++)
		free_fields(&m->members[i], member_fields, NFIELDS(member_fields));
	free(m->members);
	for (i = 0; i < m->n_recipients; i++)
		free(m->recipients[i]);
	free(m->recipients);
	free_fields(m, backup_fields, NFIELDS(backup_fields));
	free(m->compression);
	free(m->encryption);
	free(m->consistency_error);
	free(m);
}

struct manifest_member *
manifest_add_member(struct manifest *m)
{
	struct manifest_member *mm;

	if (lb_vec_grow(&m->members, &m->members_cap, m->n_members,
	    sizeof(*m->members), MANIFEST_ADD_MAX) < 0)
		return NULL;
	mm = &m->members[m->n_members++];
	memset(mm, 0, sizeof(*mm));
	return mm;
}

static int
put_fields(json_t *o, const void *obj, const struct field *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = (const char *)obj + fs[i].off;
		json_t *v = NULL;

		switch (fs[i].type) {
		case F_STR: {
			const char *s = *(char *const *)p;
			v = s != NULL ? json_string(s) : json_null();
			break;
		}
		case F_I64: v = json_integer(*(const int64_t *)p); break;
		case F_U64: v = json_integer((json_int_t)*(const uint64_t *)p); break;
		case F_BOOL: v = json_boolean(*(const int *)p); break;
		case F_INT: v = json_integer(*(const int *)p); break;
		}
		if (v == NULL || json_object_set_new(o, fs[i].name, v) < 0)
			return -1;
	}
	return 0;
}

int
manifest_to_json(const struct manifest *m, char **out, struct lb_err *err)
{
	json_t *root = json_object(), *arr = json_array(), *rc = json_array();
	json_t *comp = json_object(), *enc = json_object(), *cons = json_object();
	json_t *hashes = json_object();
	int r = 0;
	size_t i;

	*out = NULL;
	if (root == NULL || arr == NULL || rc == NULL || comp == NULL ||
	    enc == NULL || cons == NULL || hashes == NULL)
		goto nomem;
	if (json_object_set_new(root, "format", json_string(MANIFEST_FORMAT)) < 0 ||
	    put_fields(root, m, backup_fields, NFIELDS(backup_fields)) < 0)
		goto nomem;
	json_object_set_new(comp, "algorithm", json_string(m->compression));
	json_object_set_new(comp, "level", json_integer(m->compress_level));
	json_object_set_new(comp, "threads", json_integer(m->compress_threads));
	json_object_set_new(comp, "auto", json_boolean(m->compress_auto));
	json_object_set_new(root, "compression", comp);
	comp = NULL;
	for (i = 0; i < m->n_recipients; i++)
		json_array_append_new(rc, json_string(m->recipients[i]));
	json_object_set_new(enc, "format", json_string(m->encryption));
	json_object_set_new(enc, "recipients", rc);
	rc = NULL;
	json_object_set_new(root, "encryption", enc);
	enc = NULL;
	for (i = 0; i < m->n_members; i++) {
		const struct manifest_member *mm = &m->members[i];
		json_t *o = json_object();
		if (o == NULL || put_fields(o, mm, member_fields, NFIELDS(member_fields)) < 0 ||
		    json_array_append_new(arr, o) < 0) {
			json_decref(o);
			goto nomem;
		}
		if (mm->has_hashkv)
			json_object_set_new(hashes, mm->name, json_integer(mm->hashkv));
	}
	json_object_set_new(cons, "revision", json_integer(m->consistency_revision));
	json_object_set_new(cons, "consistent", m->consistent < 0 ? json_null() :
	    json_boolean(m->consistent));
	json_object_set_new(cons, "hashes", hashes);
	hashes = NULL;
	json_object_set_new(cons, "error", m->consistency_error != NULL ?
	    json_string(m->consistency_error) : json_null());
	json_object_set_new(root, "consistency", cons);
	cons = NULL;
	json_object_set_new(root, "members", arr);
	arr = NULL;
	if ((*out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto nomem;
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory writing the manifest");
out:
	json_decref(root);
	json_decref(arr);
	json_decref(rc);
	json_decref(comp);
	json_decref(enc);
	json_decref(cons);
	json_decref(hashes);
	return r;
}

static int
get_fields(const json_t *o, void *obj, const struct field *fs, size_t n,
    int ok_member, const char *where, struct lb_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(o, fs[i].name);
		char *p = (char *)obj + fs[i].off;
		int need = fs[i].need == REQ || (fs[i].need == OKREQ && ok_member);
		const char *want;

		if (v == NULL || json_is_null(v)) {
			if (need)
				return lb_err_set(err, LB_E_CORRUPT,
				    "manifest: %s%s: missing", where, fs[i].name);
			continue;
		}
		switch (fs[i].type) {
		case F_STR:
			want = "expected a string";
			if (!json_is_string(v))
				goto type;
			/* A NUL inside would cut the string short unseen. */
			want = "string too long or with a NUL byte";
			if (json_string_length(v) > MANIFEST_STR_MAX ||
			    strlen(json_string_value(v)) != json_string_length(v))
				goto type;
			if ((*(char **)p = strdup(json_string_value(v))) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			break;
		case F_I64:
		case F_U64:
		case F_INT:
			want = "expected an integer";
			if (!json_is_integer(v))
				goto type;
			want = "expected a non-negative integer";
			if (json_integer_value(v) < 0)
				goto type;
			if (fs[i].type == F_I64)
				*(int64_t *)p = json_integer_value(v);
			else if (fs[i].type == F_U64)
				*(uint64_t *)p = (uint64_t)json_integer_value(v);
			else
				*(int *)p = (int)json_integer_value(v);
			break;
		case F_BOOL:
			want = "expected true or false";
			if (!json_is_boolean(v))
				goto type;
			*(int *)p = json_is_true(v);
			break;
		}
		continue;
type:
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %s%s: %s",
		    where, fs[i].name, want);
	}
	return 0;
}

static int
is_hex(const char *s, size_t min, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i >= min && i <= max;
}

/* Object keys come from the bucket: refuse any that could climb out of
 * the repository or the backup's directory. */
static int
safe_key(const char *k)
{
	return k[0] != '\0' && k[0] != '/' && strstr(k, "..") == NULL &&
	    strchr(k, '\\') == NULL;
}

int
manifest_name_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

#define NAME_WANT "expected letters, digits, '.', '_' or '-'"

/* The checks beyond types: names that become keys and file names, hex
 * ids, one member per name, and "complete" meaning every member is ok. */
static int
check_backup(const struct manifest *m, struct lb_err *err)
{
	if (!manifest_name_ok(m->backup_id, MANIFEST_ID_MAX))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: backup_id: " NAME_WANT);
	if (!manifest_name_ok(m->cluster, MANIFEST_NAME_MAX))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: cluster: " NAME_WANT);
	if (m->cluster_id != NULL && !is_hex(m->cluster_id, 1, 16))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: cluster_id: expected a "
		    "cluster id in hex");
	if (strcmp(m->status, "complete") != 0 && strcmp(m->status, "partial") != 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: status: expected \"complete\" "
		    "or \"partial\", not '%.32s'", m->status);
	if (m->previous_sha256 != NULL && !is_hex(m->previous_sha256, 64, 64))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: previous_manifest_sha256: "
		    "expected 64 hex digits");
	if (m->signer != NULL && (strncmp(m->signer, "SHA256:", 7) != 0 ||
	    strlen(m->signer) > 64))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: signer: expected a key "
		    "fingerprint (SHA256:...)");
	return 0;
}

static int
check_member(const struct manifest *m, size_t i, const char *where,
    struct lb_err *err)
{
	const struct manifest_member *mm = &m->members[i];

	if (!manifest_name_ok(mm->name, MANIFEST_NAME_MAX))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %sname: " NAME_WANT, where);
	for (size_t j = 0; j < i; j++)
		if (strcmp(m->members[j].name, mm->name) == 0)
			return lb_err_set(err, LB_E_CORRUPT, "manifest: %sname: duplicate "
			    "'%s'", where, mm->name);
	if (!is_hex(mm->id, 1, 16))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %sid: expected a member id "
		    "in hex", where);
	if (strcmp(mm->status, "ok") != 0 && strcmp(mm->status, "failed") != 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %sstatus: expected \"ok\" "
		    "or \"failed\"", where);
	/* A failed member may lack its facts, but what it has must be sound. */
	if (mm->stored_sha256 != NULL && !is_hex(mm->stored_sha256, 64, 64))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %sstored_sha256: expected "
		    "64 hex digits", where);
	if (mm->etcd_sha256 != NULL && !is_hex(mm->etcd_sha256, 64, 64))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %setcd_sha256: expected "
		    "64 hex digits", where);
	if (mm->object != NULL && !safe_key(mm->object))
		return lb_err_set(err, LB_E_CORRUPT, "manifest: %sobject: expected a relative object "
		    "key without '..', not '%.200s'", where, mm->object);
	return 0;
}

int
manifest_parse(const char *json, size_t len, struct manifest **out,
    struct lb_err *err)
{
	struct manifest *m = NULL;
	json_error_t je;
	json_t *root, *v, *arr;
	char where[64];
	size_t i, n_ok = 0;
	int r = 0;

	*out = NULL;
	if (len > MANIFEST_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: larger than %u bytes",
		    MANIFEST_MAX);
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return lb_err_set(err, LB_E_CORRUPT, "manifest: not valid JSON: %s "
		    "(line %d)", je.text, je.line);
	if (!json_is_object(root)) {
		r = lb_err_set(err, LB_E_CORRUPT, "manifest: not a JSON object");
		goto out;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || (strcmp(json_string_value(v), MANIFEST_FORMAT) != 0 &&
	    strcmp(json_string_value(v), MANIFEST_FORMAT_1) != 0)) {
		r = lb_err_set(err, LB_E_CORRUPT, json_is_string(v) ?
		    "manifest: format: unsupported '%.64s' (this lifeboat reads %s and %s)" :
		    "manifest: format: missing (this lifeboat reads %s%.0s and %s)",
		    json_is_string(v) ? json_string_value(v) : MANIFEST_FORMAT,
		    MANIFEST_FORMAT_1, MANIFEST_FORMAT);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	m->consistent = -1;
	if ((r = get_fields(root, m, backup_fields, NFIELDS(backup_fields), 1, "",
	    err)) < 0)
		goto out;
	if ((r = check_backup(m, err)) < 0)
		goto out;
	v = json_object_get(root, "compression");
	if (json_is_object(v)) {
		json_t *a = json_object_get(v, "algorithm");
		if (json_is_string(a) && (m->compression = strdup(json_string_value(a))) == NULL)
			goto nomem;
		m->compress_level = (int)json_integer_value(json_object_get(v, "level"));
		m->compress_threads = (int)json_integer_value(json_object_get(v, "threads"));
		m->compress_auto = json_is_true(json_object_get(v, "auto"));
	}
	v = json_object_get(root, "encryption");
	if (json_is_object(v)) {
		json_t *f = json_object_get(v, "format"), *rs = json_object_get(v, "recipients");
		if (json_is_string(f) && (m->encryption = strdup(json_string_value(f))) == NULL)
			goto nomem;
		if (json_is_array(rs) && json_array_size(rs) > 0) {
			if ((m->recipients = calloc(json_array_size(rs), sizeof(char *))) == NULL)
				goto nomem;
			for (i = 0; i < json_array_size(rs); i++) {
				const char *s = json_string_value(json_array_get(rs, i));
				if (s == NULL)
					continue;
				if ((m->recipients[m->n_recipients] = strdup(s)) == NULL)
					goto nomem;
				m->n_recipients++;
			}
		}
	}
	v = json_object_get(root, "consistency");
	if (json_is_object(v)) {
		m->consistency_revision = json_integer_value(json_object_get(v, "revision"));
		json_t *cv = json_object_get(v, "consistent");
		m->consistent = json_is_boolean(cv) ? json_is_true(cv) : -1;
		const char *ce = json_string_value(json_object_get(v, "error"));
		if (ce != NULL && (m->consistency_error = strdup(ce)) == NULL)
			goto nomem;
	}
	arr = json_object_get(root, "members");
	if (arr == NULL || json_is_null(arr) || !json_is_array(arr) ||
	    json_array_size(arr) == 0 || json_array_size(arr) > MANIFEST_MEMBERS_MAX) {
		r = lb_err_set(err, LB_E_CORRUPT, "manifest: members: %s",
		    arr == NULL || json_is_null(arr) ? "missing" : !json_is_array(arr) ?
		    "expected an array" : json_array_size(arr) == 0 ? "empty" :
		    "more members than lifeboat supports (" STR(MANIFEST_MEMBERS_MAX) ")");
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i), *st;
		struct manifest_member *mm;
		int ok;

		snprintf(where, sizeof(where), "members[%zu].", i);
		if (!json_is_object(o)) {
			r = lb_err_set(err, LB_E_CORRUPT, "manifest: members[%zu]: expected an "
			    "object", i);
			goto out;
		}
		st = json_object_get(o, "status");
		ok = json_is_string(st) && strcmp(json_string_value(st), "ok") == 0;
		if ((mm = manifest_add_member(m)) == NULL)
			goto nomem;
		if ((r = get_fields(o, mm, member_fields, NFIELDS(member_fields), ok,
		    where, err)) < 0 || (r = check_member(m, i, where, err)) < 0)
			goto out;
		n_ok += ok;
	}
	/* Each member's HashKV at consistency.revision, by member name. */
	v = json_object_get(json_object_get(root, "consistency"), "hashes");
	for (i = 0; json_is_object(v) && i < m->n_members; i++) {
		const json_t *h = json_object_get(v, m->members[i].name);
		if (json_is_integer(h) && json_integer_value(h) >= 0 &&
		    json_integer_value(h) <= 0xffffffffLL) {
			m->members[i].hashkv = (uint32_t)json_integer_value(h);
			m->members[i].has_hashkv = 1;
		}
	}
	/* "complete" is a promise that every member can be restored from. */
	if (strcmp(m->status, "complete") == 0 && n_ok != m->n_members) {
		r = lb_err_set(err, LB_E_CORRUPT, "manifest: status: \"complete\" but not "
		    "every member is ok");
		goto out;
	}
	*out = m;
	m = NULL;
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	manifest_free(m);
	json_decref(root);
	return r;
}

const struct manifest_member *
manifest_best_member(const struct manifest *m)
{
	const struct manifest_member *best = NULL;

	for (size_t i = 0; i < m->n_members; i++) {
		const struct manifest_member *mm = &m->members[i];
		if (mm->status == NULL || strcmp(mm->status, "ok") != 0)
			continue;
		if (best == NULL || mm->revision > best->revision)
			best = mm;
	}
	return best;
}

void
manifest_now(char out[32])
{
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
manifest_new_backup_id(char out[32])
{
	unsigned char rnd[3] = { 0 };
	struct timespec now;
	struct tm tm;
	char ts[20], buf[64];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	/* Milliseconds keep ids in time order within a second; the random
	 * tail keeps two appliances' ids apart. */
	(void)RAND_bytes(rnd, sizeof(rnd));
	snprintf(buf, sizeof(buf), "%s.%03dZ-%02x%02x%02x", ts,
	    (int)(now.tv_nsec / 1000000) % 1000, rnd[0], rnd[1], rnd[2]);
	snprintf(out, 32, "%.31s", buf);
}

int
manifest_backup_dir(const char *cluster, const char *backup_id, char *out,
    size_t cap)
{
	/* The id starts with YYYYMMDD. */
	if (strlen(backup_id) < 8)
		return -1;
	int n = snprintf(out, cap, "%s/%.4s/%.2s/%.2s/%s/", cluster, backup_id,
	    backup_id + 4, backup_id + 6, backup_id);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
manifest_key(const char *cluster, const char *backup_id, char *out, size_t cap)
{
	char dir[1024];

	if (manifest_backup_dir(cluster, backup_id, dir, sizeof(dir)) < 0)
		return -1;
	int n = snprintf(out, cap, "%s%s", dir, MANIFEST_NAME);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
manifest_check_key(const struct manifest *m, const char *key, struct lb_err *err)
{
	char want[1100];

	if (manifest_key(m->cluster, m->backup_id, want, sizeof(want)) < 0 ||
	    strcmp(want, key) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "manifest of backup %s (cluster %s) is "
		    "not at its own key %s", m->backup_id, m->cluster, want);
	return 0;
}

void
manifest_sha256_hex(const char *json, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)json, len, md);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

int
manifest_chain_after(struct manifest *m, const char *prev_json, struct lb_err *err)
{
	struct manifest *prev = NULL;
	char h[65];
	int r;

	free(m->previous_sha256);
	m->previous_sha256 = NULL;
	m->sequence = 1;
	if (prev_json == NULL)
		return 0;
	if ((r = manifest_parse(prev_json, strlen(prev_json), &prev, err)) < 0)
		return lb_err_prefix(err, "previous manifest: ");
	if (m->cluster != NULL && strcmp(prev->cluster, m->cluster) != 0) {
		r = lb_err_set(err, LB_E_CORRUPT, "previous manifest: of cluster %s, not %s",
		    prev->cluster, m->cluster);
		goto out;
	}
	manifest_sha256_hex(prev_json, strlen(prev_json), h);
	if ((m->previous_sha256 = strdup(h)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	m->sequence = prev->sequence + 1;
out:
	manifest_free(prev);
	return r;
}
