/*
 * gate.c: the manifest's veto on an object (gate.h).  One order of checks
 * for every command; the cheap, certain ones (sizes, hashes) come before
 * what the bbolt scan inferred.
 */
#include "snapshot/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/fmt.h"
#include "snapshot/bbolt_scan.h"
#include "snapshot/trailer.h"

static int
judge_stored(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct lb_err *err)
{
	uint8_t d[32];
	char hex[65];
	uint64_t n;

	if (o->count != NULL && w->stored_size >= 0 &&
	    (n = flt_count_bytes(o->count)) != (uint64_t)w->stored_size) {
		if (words == GATE_WORDS_RESTORE)
			return lb_err_set(err, LB_E_CORRUPT, "stored size %llu, manifest "
			    "says %llu", (unsigned long long)n,
			    (unsigned long long)w->stored_size);
		return lb_err_set(err, LB_E_CORRUPT, "stored size %llu, manifest has %lld",
		    (unsigned long long)n, (long long)w->stored_size);
	}
	if (o->sha256 != NULL && w->stored_sha256 != NULL) {
		flt_sha256_digest(o->sha256, d);
		lb_hex(d, sizeof(d), hex);
		if (strcasecmp(hex, w->stored_sha256) == 0)
			return 0;
		if (words == GATE_WORDS_RESTORE)
			return lb_err_set(err, LB_E_CORRUPT, "sha256 of the stored object "
			    "is %.16s..., manifest says %.16s...", hex, w->stored_sha256);
		return lb_err_set(err, LB_E_CORRUPT, "stored sha256 mismatch: manifest "
		    "has %.16s..., object has %.16s...", w->stored_sha256, hex);
	}
	return 0;
}

static int
judge_trailer(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct lb_err *err)
{
	uint8_t d[32];
	char hex[65];
	uint64_t db;

	if (o->trailer == NULL)
		return 0;
	if (w->etcd_sha256 != NULL) {
		flt_etcd_trailer_hash(o->trailer, d);
		lb_hex(d, sizeof(d), hex);
		if (strcasecmp(hex, w->etcd_sha256) != 0) {
			if (words == GATE_WORDS_RESTORE)
				return lb_err_set(err, LB_E_CORRUPT, "etcd's snapshot hash "
				    "differs from the manifest's");
			return lb_err_set(err, LB_E_CORRUPT, "etcd sha256 %.16s... differs "
			    "from the manifest's %.16s...", hex, w->etcd_sha256);
		}
	}
	db = flt_etcd_trailer_db_size(o->trailer);
	if (w->db_size >= 0 && db != (uint64_t)w->db_size)
		return lb_err_set(err, LB_E_CORRUPT, "database is %llu bytes, manifest "
		    "has %lld", (unsigned long long)db, (long long)w->db_size);
	return 0;
}

static int
judge_scan(const struct gate_want *w, const struct gate_obs *o,
    struct gate_seen *seen, struct lb_err *err)
{
	struct bbolt_scan sc;
	int r;

	if (o->scan == NULL)
		return 0;
	if ((r = flt_bbolt_scan_result(o->scan, &sc, err)) < 0)
		return r;
	if (!sc.is_bbolt) {
		/* Restore leaves that to etcdutl, which reads the file whole. */
		if (w->bbolt)
			return lb_err_set(err, LB_E_CORRUPT, "bbolt: %s", sc.why);
		return 0;
	}
	if (o->trailer != NULL && sc.db_size != flt_etcd_trailer_db_size(o->trailer))
		return lb_err_set(err, LB_E_CORRUPT, "bbolt: its meta page says %llu "
		    "bytes, the snapshot holds %llu", (unsigned long long)sc.db_size,
		    (unsigned long long)flt_etcd_trailer_db_size(o->trailer));
	if (!sc.revision_known) {
		snprintf(seen->revision_note, sizeof(seen->revision_note), "%s", sc.why);
	} else if (w->revision >= 0 && sc.revision != (uint64_t)w->revision) {
		return lb_err_set(err, LB_E_CORRUPT, "snapshot revision is %llu, the "
		    "manifest has %lld", (unsigned long long)sc.revision,
		    (long long)w->revision);
	} else {
		seen->revision_checked = 1;
	}
	return 0;
}

int
gate_judge(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct gate_seen *seen, struct lb_err *err)
{
	struct gate_seen dummy;
	int r;

	if (seen == NULL)
		seen = &dummy;
	memset(seen, 0, sizeof(*seen));
	if ((r = judge_stored(w, o, words, err)) < 0 ||
	    (r = judge_trailer(w, o, words, err)) < 0)
		return r;
	return judge_scan(w, o, seen, err);
}

/* The veto stage: the record copied, so the stage lives as long as the
 * chain does and no longer. */
struct flt_gate {
	struct flt base;
	struct gate_want want;
	struct gate_obs obs;
	enum gate_words words;
	char *stored_sha256, *etcd_sha256;
};

static int
gate_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	return flt_write(f->next, buf, len, err);
}

static int
gate_finish(struct flt *f, struct lb_err *err)
{
	struct flt_gate *g = (struct flt_gate *)f;

	return gate_judge(&g->want, &g->obs, g->words, NULL, err);
}

static void
gate_free(struct flt *f)
{
	struct flt_gate *g = (struct flt_gate *)f;

	free(g->stored_sha256);
	free(g->etcd_sha256);
	free(g);
}

static const struct flt_ops gate_ops = { "verify", gate_write, gate_finish, gate_free };

int
gate_new(const struct gate_want *w, const struct gate_obs *o,
    enum gate_words words, struct flt *next, struct flt **out,
    struct lb_err *err)
{
	struct flt_gate *g;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	g->base.ops = &gate_ops;
	g->base.next = next;
	g->want = *w;
	g->obs = *o;
	g->words = words;
	if ((w->stored_sha256 != NULL &&
	    (g->stored_sha256 = strdup(w->stored_sha256)) == NULL) ||
	    (w->etcd_sha256 != NULL && (g->etcd_sha256 = strdup(w->etcd_sha256)) == NULL)) {
		g->base.next = NULL;
		gate_free(&g->base);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	g->want.stored_sha256 = g->stored_sha256;
	g->want.etcd_sha256 = g->etcd_sha256;
	*out = &g->base;
	return 0;
}
