/*
 * replay_test.c: the parts of restore/replay.h that need no etcd: how far
 * segments reach without a gap (overlaps, holes, empty segments), times
 * for --to-time, and segments written with evlog on a file repository,
 * listed from the bucket alone and searched for the last revision at or
 * before a time.  The replay itself is tests/integration/pitr_restore_test.sh.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env/env.h"
#include "evlog/segment.h"
#include "repo/repo.h"
#include "restore/replay.h"
#include "stream/age.h"

static void
add(struct replay_segments *s, int64_t first, int64_t last, int64_t t1, int64_t t2)
{
	struct replay_segment *g;

	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	g = &s->v[s->n++];
	memset(g, 0, sizeof(*g));
	g->object = strdup("o");
	g->stored_sha256 = strdup("00");
	g->first_rev = first;
	g->last_rev = last;
	g->first_time_ms = t1;
	g->last_time_ms = t2;
	g->revisions = last - first + 1;
}

static void
coverage_runs_and_holes(void)
{
	struct replay_segments s = { 0 };
	int64_t last, t;

	replay_coverage(&s, 10, &last, &t);
	CHECK_INT(last, ==, 9);
	CHECK_INT(t, ==, -1);
	add(&s, 5, 12, 100, 200);      /* starts before the base: fine */
	add(&s, 13, 20, 200, 300);
	add(&s, 15, 18, 250, 260);     /* inside another capture's: no change */
	add(&s, 22, 30, 400, 500);     /* revision 21 missing */
	replay_coverage(&s, 10, &last, &t);
	CHECK_INT(last, ==, 20);
	CHECK_INT(t, ==, 300);
	replay_coverage(&s, 22, &last, &t);
	CHECK_INT(last, ==, 30);
	replay_coverage(&s, 21, &last, &t);
	CHECK_INT(last, ==, 20);       /* nothing holds 21 */
	replay_segments_free(&s);
}

static void
coverage_overlap_extends(void)
{
	struct replay_segments s = { 0 };
	int64_t last, t;

	add(&s, 1, 10, 0, 100);
	add(&s, 6, 14, 60, 140);       /* a failover's capture, overlapping */
	add(&s, 15, 15, 150, 150);
	replay_coverage(&s, 1, &last, &t);
	CHECK_INT(last, ==, 15);
	CHECK_INT(t, ==, 150);
	replay_segments_free(&s);
}

static void
time_parse_and_format(void)
{
	struct lb_err err;
	int64_t ms = 0;
	char buf[40];

	CHECK_OK(replay_parse_time("2026-12-01T10:13:08.123Z", &ms, &err), &err);
	CHECK_INT(ms, ==, 1796119988123LL);
	CHECK_STR(replay_format_ms(ms, buf, sizeof(buf)), "2026-12-01T10:13:08.123Z");
	CHECK_OK(replay_parse_time("2026-12-01T10:13:08.5Z", &ms, &err), &err);
	CHECK_INT(ms % 1000, ==, 500);
	CHECK_OK(replay_parse_time("2026-12-01T10:13:08Z", &ms, &err), &err);
	CHECK_INT(ms % 1000, ==, 0);
	CHECK(replay_parse_time("yesterday-ish", &ms, &err) < 0);
	CHECK_STR(replay_format_ms(-1, buf, sizeof(buf)), "unknown");
}

/* Segments of revisions first..last, one PUT each, revision r at time
 * base + 1000 * r, put on repo. */
static int
put_segment(struct repo *repo, struct age_recipient *rc, int64_t first, int64_t last,
    int64_t base, struct lb_err *err)
{
	struct evl_segment_opts o = { 0 };
	struct evl_segment *s = NULL;
	struct etcd_kv_event ev = { 0 };
	char key[32];
	int64_t r;
	int rc2;

	o.cluster = "c1";
	o.first_rev = first;
	o.created_ms = base + 1000 * first;
	o.rcpts = &rc;
	o.n_rcpts = 1;
	if ((rc2 = evl_segment_open(&o, &s, err)) < 0)
		return rc2;
	for (r = first; r <= last; r++) {
		snprintf(key, sizeof(key), "/k%lld", (long long)r);
		ev.type = ETCD_EV_PUT;
		ev.key = (const uint8_t *)key;
		ev.key_len = strlen(key);
		ev.value = (const uint8_t *)"v";
		ev.value_len = 1;
		ev.create_revision = ev.mod_revision = r;
		ev.version = 1;
		if ((rc2 = evl_segment_revision(s, r, base + 1000 * r, &ev, 1, err)) < 0)
			goto out;
	}
	rc2 = evl_segment_put(s, repo, NULL, base + 1000 * last + 500, NULL, err);
out:
	evl_segment_free(s);
	return rc2;
}

static void
segments_from_the_bucket(void)
{
	char dir[] = "/tmp/replay_test.XXXXXX", url[64], *idtext = NULL, *rcpt = NULL;
	struct repo_opts ro = { 0 };
	struct repo *repo = NULL;
	struct age_identity *id = NULL;
	struct age_recipient *rc = NULL;
	struct replay_segments s = { 0 };
	struct lb_env env = { 0 };
	struct lb_err err;
	int64_t base = 1796119988000LL, last, t, rev, rt;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "file://%s", dir);
	ro.url = url;
	CHECK_OK(repo_open(&ro, &repo, &err), &err);
	CHECK_OK(age_keygen(&idtext, &rcpt, &err), &err);
	CHECK_OK(age_identity_parse(idtext, &id, &err), &err);
	CHECK_OK(age_recipient_parse(rcpt, &rc, &err), &err);
	CHECK_OK(put_segment(repo, rc, 11, 14, base, &err), &err);
	CHECK_OK(put_segment(repo, rc, 15, 19, base, &err), &err);
	CHECK_OK(put_segment(repo, rc, 13, 17, base, &err), &err);   /* overlap */
	CHECK_OK(put_segment(repo, rc, 21, 22, base, &err), &err);   /* after a hole */
	env.repo = repo;
	CHECK_OK(replay_segments_repo(&env, "c1", 12, -1, &s, &err), &err);
	CHECK_INT(s.n, ==, 4);
	CHECK_INT(s.v[0].first_rev, ==, 11);
	CHECK_INT(s.v[1].first_rev, ==, 13);
	CHECK_INT(s.v[2].first_rev, ==, 15);
	CHECK_STR(s.origin, "repository");
	replay_coverage(&s, 12, &last, &t);
	CHECK_INT(last, ==, 19);
	CHECK_INT(t, ==, base + 19000 + 500);
	/* the last revision at or before a time, read from the segment */
	CHECK_OK(replay_resolve_time(repo, id, &s, 10, base + 16400, &rev, &rt, &err), &err);
	CHECK_INT(rev, ==, 16);
	CHECK_INT(rt, ==, base + 16000);
	CHECK_OK(replay_resolve_time(repo, id, &s, 10, base + 5000, &rev, &rt, &err), &err);
	CHECK_INT(rev, ==, 10);        /* none: the revision after which it looked */
	replay_segments_free(&s);
	/* another cluster's range is not listed; a bound leaves segments out */
	CHECK_OK(replay_segments_repo(&env, "c1", 20, 21, &s, &err), &err);
	CHECK_INT(s.n, ==, 1);
	replay_segments_free(&s);
	CHECK_OK(replay_segments_repo(&env, "c2", 1, -1, &s, &err), &err);
	CHECK_INT(s.n, ==, 0);
	replay_segments_free(&s);
	age_recipient_free(rc);
	age_identity_free(id);
	free(idtext);
	free(rcpt);
	repo_close(repo);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
}

int
main(void)
{
	RUN(coverage_runs_and_holes);
	RUN(coverage_overlap_extends);
	RUN(time_parse_and_format);
	RUN(segments_from_the_bucket);
	return TH_DONE();
}
