/*
 * rebuild.c: `lifeboat catalog rebuild` (cmd/rebuild.c): the catalog
 * recreated from the repository alone, for the night the appliance is
 * gone.  One listing of the repository gives every manifest and every
 * object with its size; a few threads (each with its own repository connection) fetch the
 * manifests and record them in batched transactions.  A manifest that
 * does not parse, or sits in the wrong directory, is reported and not
 * recorded; one whose objects are missing or of the wrong size is
 * recorded with a failed verification naming the member, so it is never
 * listed as good.  Where trusted signers are configured, a manifest that
 * is unsigned, altered or signed by a key they do not list is not
 * recorded either (and a row the catalog already has for it is marked
 * failed): a rebuild must not turn a planted backup into a good one.
 * Catalog rows whose manifest is gone (not listed, and not found when
 * read directly) are dropped.  The event log's segment manifests
 * (*.evlog.json) are recorded too, checked the same way.
 */
#include "catalog/cat_impl.h"
#include "ops/ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/cancel.h"
#include "common/err.h"
#include "common/log.h"
#include "env/segment.h"
#include "env/setup.h"
#include "repo/journal.h"
#include "repo/manifest.h"

#define REBUILD_BATCH 256

struct obj {
	char *key;
	uint64_t size;
};

/* What one manifest came to. */
struct slot {
	char *key;
	char *problem;      /* why it was not recorded, or NULL */
	char *missing;      /* recorded, but an object is missing: why */
	int untrusted;      /* not recorded: its signature check failed */
	enum trust_result trust;
	char backup_id[MANIFEST_ID_MAX + 1];
	char cluster[MANIFEST_NAME_MAX + 1];
};

struct rb {
	struct lb_env *e;
	/* Both bounded by one listing of the repository (REPO_LIST_MAX). */
	struct obj *objs;          /* every key, bytewise sorted (repo_list order) */
	size_t n_objs, cap_objs;
	struct slot *slots;        /* manifests */
	size_t n_slots, cap_slots;
	int too_many;
	size_t next;               /* next slot to fetch, under mu */
	pthread_mutex_t mu;        /* next, the catalog, the batch */
	int in_tx, batch;
	int fatal;                 /* a catalog error: stop */
	struct lb_err fatal_err;
};

static int
is_manifest_key(const char *key)
{
	size_t n = strlen(key), m = strlen(MANIFEST_NAME);

	return n > m && key[n - m - 1] == '/' && strcmp(key + n - m, MANIFEST_NAME) == 0;
}

static int
list_cb(void *arg, const char *key, uint64_t size)
{
	struct rb *x = arg;

	if (x->n_objs >= REPO_LIST_MAX) {
		x->too_many = 1;
		return LB_E_NOMEM;
	}
	if (lb_vec_grow(&x->objs, &x->cap_objs, x->n_objs, sizeof(*x->objs),
	    REPO_LIST_MAX) < 0 ||
	    (x->objs[x->n_objs].key = strdup(key)) == NULL)
		return LB_E_NOMEM;
	x->objs[x->n_objs++].size = size;
	if (!is_manifest_key(key))
		return 0;
	/* never past the bound: there are fewer manifests than keys */
	if (lb_vec_grow(&x->slots, &x->cap_slots, x->n_slots, sizeof(*x->slots),
	    REPO_LIST_MAX) < 0)
		return LB_E_NOMEM;
	memset(&x->slots[x->n_slots], 0, sizeof(x->slots[0]));
	if ((x->slots[x->n_slots].key = strdup(key)) == NULL)
		return LB_E_NOMEM;
	x->n_slots++;
	return 0;
}

static int
obj_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obj *)a)->key, ((const struct obj *)b)->key);
}

static const struct obj *
find_obj(const struct rb *x, const char *key)
{
	struct obj k = { (char *)key, 0 };

	if (x->n_objs == 0)
		return NULL;
	return bsearch(&k, x->objs, x->n_objs, sizeof(k), obj_cmp);
}

/* Checks what the catalog cannot: the manifest lives in its backup's own
 * directory, and every object it names exists with the size it says. */
static int
check_manifest(const struct rb *x, struct slot *s, const struct manifest *m,
    struct lb_err *err)
{
	size_t i;

	if (manifest_check_key(m, s->key, err) < 0)
		return LB_E_CORRUPT;
	/* Ids order the keys and "newest"; started_at orders --at and
	 * retention: a manifest where they disagree is not believed. */
	if (cat_backup_time_check(m->backup_id, m->started_at, err) < 0)
		return LB_E_CORRUPT;
	snprintf(s->backup_id, sizeof(s->backup_id), "%s", m->backup_id);
	snprintf(s->cluster, sizeof(s->cluster), "%s", m->cluster);
	for (i = 0; i < m->n_members && s->missing == NULL; i++) {
		const struct manifest_member *mm = &m->members[i];
		const struct obj *o;
		char buf[LB_ERR_MSG_MAX];

		if (mm->object == NULL || strcmp(mm->status, "ok") != 0)
			continue;
		if ((o = find_obj(x, mm->object)) == NULL)
			snprintf(buf, sizeof(buf), "member %s: object %s is missing from the "
			    "repository", mm->name, mm->object);
		else if (o->size != mm->stored_size)
			snprintf(buf, sizeof(buf), "member %s: object %s is %llu bytes, the "
			    "manifest says %llu", mm->name, mm->object,
			    (unsigned long long)o->size, (unsigned long long)mm->stored_size);
		else
			continue;
		if ((s->missing = strdup(buf)) == NULL)
			return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	return 0;
}

/* The signature check of the manifest at s->key (json, len bytes) read
 * with repo, the worker's own connection. */
static int
check_signature(const struct rb *x, struct repo *repo, struct slot *s, const char *json,
    size_t len, struct lb_err *err)
{
	char *sig = NULL;
	size_t siglen = 0;
	int r;

	if (x->e->trust == NULL)
		return 0;
	if ((r = trust_fetch_sig(repo, s->key, &sig, &siglen, err)) < 0)
		return lb_err_prefix(err, "cannot read its signature: ");
	if ((r = env_trust_manifest_sig(x->e, s->key, json, len, sig, siglen, &s->trust, err)) < 0)
		s->untrusted = r != LB_E_NOMEM;
	free(sig);
	return r;
}

/* Records one manifest inside the shared batch transaction. */
static int
record(struct rb *x, const char *json, const char *key, struct lb_err *err)
{
	int r = 0;

	pthread_mutex_lock(&x->mu);
	if (x->fatal) {
		r = LB_E_CANCELED;
		goto out;
	}
	if (!x->in_tx) {
		if ((r = cat_tx_write(x->e->cat, &x->fatal_err)) < 0) {
			x->fatal = 1;
			goto out;
		}
		x->in_tx = 1;
	}
	/* A manifest that fails parses before any row is written, so the
	 * batch stays clean; a SQLite failure ends the rebuild. */
	if ((r = cat_manifest_record_tx(x->e->cat, json, key, NULL, -1, err)) < 0) {
		if (r != LB_E_CORRUPT) {
			x->fatal = 1;
			x->fatal_err = *err;
		}
		goto out;
	}
	if (++x->batch >= REBUILD_BATCH) {
		x->batch = 0;
		x->in_tx = 0;
		if ((r = cat_tx_commit(x->e->cat, &x->fatal_err)) < 0)
			x->fatal = 1;
	}
out:
	pthread_mutex_unlock(&x->mu);
	return r;
}

static void *
worker(void *arg)
{
	struct rb *x = arg;
	struct repo *repo = NULL;
	struct lb_err err = { 0 };
	struct slot *s;
	struct manifest *m = NULL;
	uint8_t *buf = NULL;
	size_t len, i;
	int r;

	if (setup_repo(x->e->cfg, &repo, &err) < 0) {
		pthread_mutex_lock(&x->mu);
		x->fatal = 1;
		x->fatal_err = err;
		pthread_mutex_unlock(&x->mu);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&x->mu);
		i = x->next++;
		r = x->fatal;
		pthread_mutex_unlock(&x->mu);
		if (r || i >= x->n_slots || lb_cancel)
			break;
		s = &x->slots[i];
		lb_err_clear(&err);
		if ((r = repo_get_buf(repo, s->key, CAT_MANIFEST_MAX, &buf, &len, &err)) < 0 ||
		    (r = manifest_parse((const char *)buf, len, &m, &err)) < 0 ||
		    (r = check_manifest(x, s, m, &err)) < 0 ||
		    (r = check_signature(x, repo, s, (const char *)buf, len, &err)) < 0)
			goto next;
		/* The catalog wants a NUL-terminated text; repo_get_buf's buffer
		 * is exactly len bytes. */
		{
			char *txt = malloc(len + 1);
			if (txt == NULL) {
				r = lb_err_set(&err, LB_E_NOMEM, "out of memory");
				goto next;
			}
			memcpy(txt, buf, len);
			txt[len] = '\0';
			r = record(x, txt, s->key, &err);
			free(txt);
		}
next:
		if (r < 0 && r != LB_E_CANCELED && (s->problem = strdup(err.msg)) == NULL)
			s->problem = NULL;
		if (r < 0) {
			free(s->missing);
			s->missing = NULL;
		}
		manifest_free(m);
		m = NULL;
		free(buf);
		buf = NULL;
	}
	repo_close(repo);
	return NULL;
}

/* Catalog rows (with a manifest) whose manifest is no longer in the
 * repository: a prune that was interrupted, or a bucket restored from an
 * older copy. */
struct stale {
	const struct rb *x;
	char **ids;
	char **keys;               /* their manifest keys */
	size_t n, cap_ids, cap_keys;
	int too_many;
};

static int
stale_cb(const struct cat_backup *b, void *arg)
{
	struct stale *st = arg;

	if (b->manifest_key == NULL || (b->status != CAT_COMPLETE && b->status != CAT_PARTIAL))
		return 0;
	if (find_obj(st->x, b->manifest_key) != NULL)
		return 0;
	/* Catalog rows mirror the repository's manifests: bounded as a
	 * listing is. */
	if (st->n >= REPO_LIST_MAX) {
		st->too_many = 1;
		return LB_E_NOMEM;
	}
	if (lb_vec_grow(&st->keys, &st->cap_keys, st->n, sizeof(*st->keys),
	    REPO_LIST_MAX) < 0 ||
	    lb_vec_grow(&st->ids, &st->cap_ids, st->n, sizeof(*st->ids),
	    REPO_LIST_MAX) < 0)
		return LB_E_NOMEM;
	if ((st->ids[st->n] = strdup(b->id)) == NULL ||
	    (st->keys[st->n] = strdup(b->manifest_key)) == NULL) {
		free(st->ids[st->n]);
		return LB_E_NOMEM;
	}
	st->n++;
	return 0;
}

/* At most this many refused events are named in the log, each; the rest
 * are counted (a trail of unsigned events would otherwise fill it). */
#define REBUILD_EVENTS_NAMED 10

/* The audit trail (repo/journal.h) back into the catalog: every event
 * object of the listing the catalog does not name yet, checked like a
 * manifest where trusted signers are set (namespace JOURNAL_SIG_NS).  A
 * bad one is logged and counted, never fatal: history is not a backup. */
static void
import_journal(struct lb_env *e, const struct rb *x, struct ops_rebuild_result *res)
{
	struct journal_record *rec;
	struct journal_event ev;
	struct cat_audit_event ce;
	struct lb_err err;
	char signer[SIG_FINGERPRINT_LEN], what[600], *sig;
	uint8_t *buf;
	size_t k, len, siglen, kl;
	int r, added;

	for (k = 0; k < x->n_objs; k++) {
		const char *key = x->objs[k].key;

		kl = strlen(key);
		if (strncmp(key, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) != 0 || kl < 5 ||
		    strcmp(key + kl - 5, ".json") != 0)
			continue;
		buf = NULL;
		sig = NULL;
		rec = NULL;
		siglen = 0;
		lb_err_clear(&err);
		if ((r = cat_audit_has_ref(e->cat, key, &err)) < 0)
			goto refused;
		if (r > 0) {                 /* known: not even read */
			res->events_known++;
			continue;
		}
		snprintf(what, sizeof(what), "audit event %s", key);
		if (repo_get_buf(e->repo, key, JOURNAL_MAX, &buf, &len, &err) < 0 ||
		    (e->trust != NULL &&
		    (trust_fetch_sig(e->repo, key, &sig, &siglen, &err) < 0 ||
		    trust_check(e->trust, JOURNAL_SIG_NS, what, (const char *)buf, len, sig,
		    siglen, signer, &err) < 0)) ||
		    journal_parse((const char *)buf, len, &rec, &ev, &err) < 0)
			goto refused;
		ce = (struct cat_audit_event){ .at = ev.at_ms / 1000, .action = ev.action,
		    .cluster = ev.cluster, .backup_id = ev.backup_id, .outcome = ev.outcome,
		    .os_user = ev.os_user, .host = ev.host, .details = ev.details, .ref = key };
		if (cat_audit_add(e->cat, &ce, &added, &err) < 0)
			goto refused;
		if (added)
			res->events++;
		else
			res->events_known++;
		goto next;
refused:
		if (res->events_refused++ < REBUILD_EVENTS_NAMED)
			log_warn("rebuild: %s: %s; not taken", key, err.msg);
next:
		journal_record_free(rec);
		free(buf);
		free(sig);
	}
	if (res->events_refused > REBUILD_EVENTS_NAMED)
		log_warn("rebuild: %zu more audit event(s) not taken, for reasons like those above",
		    res->events_refused - REBUILD_EVENTS_NAMED);
}

/* The event log's segments (point-in-time recovery) back into the
 * catalog: every segment manifest of the listing, checked like a backup's
 * (signature where trusted signers are set, namespace lifeboat-evlog; its
 * own key; its object there with its size), recorded unless known.  A
 * segment that is not recorded is logged and counted: the windows it
 * would have made are shorter, no backup is lost.  One the catalog has
 * (by its object, the key evl_keys derives from the manifest's) is not
 * read again: a standby rebuilds on every takeover, and a bucket holds
 * thousands of segments a day (two GETs each). */
static void
import_segments(struct lb_env *e, const struct rb *x, struct ops_rebuild_result *res)
{
	struct evl_meta *m;
	struct lb_err err;
	const struct obj *o;
	size_t k, kl, sl = strlen(EVL_META_SUFFIX);
	char object[EVL_KEY_MAX];
	int added, known;

	for (k = 0; k < x->n_objs && !lb_cancel; k++) {
		const char *key = x->objs[k].key;

		kl = strlen(key);
		if (kl <= sl || strcmp(key + kl - sl, EVL_META_SUFFIX) != 0)
			continue;
		res->segments++;
		m = NULL;
		lb_err_clear(&err);
		if (kl - sl + sizeof(EVL_OBJECT_SUFFIX) <= sizeof(object)) {
			snprintf(object, sizeof(object), "%.*s%s", (int)(kl - sl), key,
			    EVL_OBJECT_SUFFIX);
			if ((known = cat_segment_known(e->cat, object, &err)) < 0)
				goto refused;
			if (known) {
				res->segments_known++;
				continue;
			}
		}
		if (env_segment_read(e, NULL, key, &m, NULL, &err) < 0)
			goto refused;
		if ((o = find_obj(x, m->object)) == NULL) {
			lb_err_set(&err, LB_E_NOTFOUND, "its object %s is missing", m->object);
			goto refused;
		}
		if (o->size != m->stored_size) {
			lb_err_set(&err, LB_E_CORRUPT, "its object %s is %llu bytes, the manifest "
			    "says %llu", m->object, (unsigned long long)o->size,
			    (unsigned long long)m->stored_size);
			goto refused;
		}
		if (m->revisions == 0)       /* an empty segment holds no revision */
			goto next;
		if (env_segment_add(e, m, &added, &err) < 0)
			goto refused;
		res->segments_added += added != 0;
		goto next;
refused:
		if (res->segments_refused++ < REBUILD_EVENTS_NAMED)
			log_warn("rebuild: segment %s: %s; not recorded", key, err.msg);
next:
		evl_meta_free(m);
	}
	if (res->segments_refused > REBUILD_EVENTS_NAMED)
		log_warn("rebuild: %zu more segment(s) not recorded, for reasons like those "
		    "above", res->segments_refused - REBUILD_EVENTS_NAMED);
}

int
ops_rebuild(struct lb_env *e, int threads, struct ops_rebuild_result *res,
    struct lb_err *err)
{
	struct rb x = { 0 };
	struct stale st = { 0 };
	pthread_t th[OPS_REBUILD_THREADS_MAX];
	struct timespec t0, t1;
	int n_threads = threads, started = 0, i, r = 0;
	size_t k;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_init(&x.mu, NULL);
	x.e = e;
	if (n_threads < 1 || n_threads > OPS_REBUILD_THREADS_MAX) {
		r = lb_err_set(err, LB_E_USAGE, "rebuild: threads: 1 to %d",
		    OPS_REBUILD_THREADS_MAX);
		goto out;
	}
	if ((r = repo_list(e->repo, "", list_cb, &x, err)) < 0) {
		if (err->code == 0 && x.too_many)
			r = lb_err_set(err, LB_E_NOMEM, "more than %u objects listing the "
			    "repository", REPO_LIST_MAX);
		else if (err->code == 0)
			r = lb_err_set(err, LB_E_NOMEM, "out of memory listing the repository");
		goto out;
	}
	/* Listings are bytewise sorted already; sorting again makes the
	 * binary search safe whatever a server does. */
	if (x.n_objs > 0)
		qsort(x.objs, x.n_objs, sizeof(x.objs[0]), obj_cmp);
	if ((size_t)n_threads > x.n_slots)
		n_threads = x.n_slots > 0 ? (int)x.n_slots : 1;
	for (i = 0; i < n_threads; i++) {
		if (pthread_create(&th[i], NULL, worker, &x) != 0)
			break;
		started++;
	}
	if (started == 0)
		worker(&x);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (x.in_tx && !x.fatal && cat_tx_commit(e->cat, &x.fatal_err) < 0)
		x.fatal = 1;
	if (x.fatal || lb_cancel) {
		if (x.in_tx)
			cat_tx_rollback(e->cat);
		if (!x.fatal)
			lb_err_set(&x.fatal_err, LB_E_CANCELED, "rebuild canceled");
		lb_err_prefix(&x.fatal_err, "rebuild: ");
		*err = x.fatal_err;
		r = err->code < 0 ? err->code : LB_E_INTERNAL;
		goto out;
	}
	res->manifests = x.n_slots;
	for (k = 0; k < x.n_slots; k++) {
		struct slot *s = &x.slots[k];
		struct lb_err e2 = { 0 };

		if (s->problem != NULL) {
			res->malformed++;
			log_error("rebuild: %s: %s (not recorded)", s->key, s->problem);
			if (!s->untrusted)
				continue;
			/* A row from before trusted signers were configured must
			 * not stay good; one that is not there is fine. */
			res->untrusted++;
			if (s->backup_id[0] != '\0' && cat_set_verified(e->cat, s->backup_id, 0, 0,
			    s->problem, &e2) < 0 && e2.code != LB_E_NOTFOUND)
				log_error("rebuild: backup %s: %s", s->backup_id, e2.msg);
			continue;
		}
		res->skipped_signature += s->trust == TRUST_SKIPPED;
		res->recorded++;
		if (s->missing == NULL)
			continue;
		res->missing++;
		log_error("rebuild: backup %s: %s (recorded as failed verification)",
		    s->backup_id, s->missing);
		if (cat_set_verified(e->cat, s->backup_id, 0, 0, s->missing, &e2) < 0)
			log_error("rebuild: backup %s: %s", s->backup_id, e2.msg);
	}
	st.x = &x;
	if ((r = cat_backup_list(e->cat, NULL, 0, stale_cb, &st, err)) < 0) {
		if (err->code == 0 && st.too_many)
			lb_err_set(err, LB_E_NOMEM, "rebuild: more than %u catalog "
			    "backups without their manifest", REPO_LIST_MAX);
		goto out;
	}
	for (k = 0; k < st.n; k++) {
		lb_err_clear(err);
		/* What makes this deletion certain: the manifest is not in a
		 * listing that completed, and a direct read of its key says it
		 * is not there (404 / ENOENT).  A listing can miss a key (a
		 * store's eventual consistency, a server's bug); a read that
		 * fails otherwise (5xx, timeout) proves nothing: the row stays
		 * for a later rebuild. */
		if (repo_absent(e->repo, st.keys[k], err) != 1) {
			res->kept++;
			log_warn("rebuild: kept backup %s: its manifest %s is not in the listing "
			    "but %s", st.ids[k], st.keys[k], err->code != 0 ? err->msg :
			    "is there when read directly");
			continue;
		}
		lb_err_clear(err);
		if (cat_delete_backup(e->cat, st.ids[k], err) < 0) {
			log_error("rebuild: %s", err->msg);
			continue;
		}
		res->dropped++;
		log_warn("rebuild: dropped backup %s from the catalog: its manifest is no "
		    "longer in the repository", st.ids[k]);
	}
	lb_err_clear(err);
	import_segments(e, &x, res);
	import_journal(e, &x, res);
	r = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ops_audit(e, CAT_ACT_REBUILD, NULL, NULL,
	    res->malformed + res->missing + res->kept == 0 ? "ok" : "partial",
	    "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:f}", "repo",
	    repo_url(e->repo),
	    "manifests", (json_int_t)res->manifests, "recorded", (json_int_t)res->recorded,
	    "malformed", (json_int_t)res->malformed,
	    "missing_objects", (json_int_t)res->missing,
	    "dropped", (json_int_t)res->dropped, "kept_unproven", (json_int_t)res->kept,
	    "untrusted", (json_int_t)res->untrusted,
	    "events", (json_int_t)res->events,
	    "segments", (json_int_t)res->segments_added,
	    "segments_known", (json_int_t)res->segments_known,
	    "signature", e->trust == NULL ? "unchecked" :
	    res->skipped_signature > 0 ? "skipped" : "ok",
	    "seconds", res->seconds);
out:
	for (k = 0; k < x.n_objs; k++)
		free(x.objs[k].key);
	free(x.objs);
	for (k = 0; k < x.n_slots; k++) {
		free(x.slots[k].key);
		free(x.slots[k].problem);
		free(x.slots[k].missing);
	}
	free(x.slots);
	for (k = 0; k < st.n; k++) {
		free(st.ids[k]);
		free(st.keys[k]);
	}
	free(st.ids);
	free(st.keys);
	pthread_mutex_destroy(&x.mu);
	return r;
}
