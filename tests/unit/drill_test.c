/*
 * drill_test.c: the parts of a drill that need no etcd: the count of
 * Kubernetes objects per resource, the keys-only Range's decoder, the
 * sweep's proof (a locked drill-* directory stays, an unlocked one goes,
 * a pid that is not that directory's etcd is never signalled), and the
 * catalog's drills table.  A drill against etcd: tests/integration/
 * drill_test.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "common/pb.h"
#include "etcd/etcd_admin.h"
#include "harness.h"
#include "restore/drill.h"

static char tmpdir[256];

static int64_t
count_of(const struct drill_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_objects; i++)
		if (strcmp(r->objects[i].resource, name) == 0)
			return r->objects[i].count;
	return -1;
}

static int
add(struct drill_report *r, const char *key)
{
	return drill_count_key(r, (const uint8_t *)key, strlen(key));
}

static void
test_count_resources(void)
{
	struct drill_report r = { 0 };
	size_t i;

	CHECK_INT(add(&r, "/registry/pods/default/a"), ==, 0);
	CHECK_INT(add(&r, "/registry/pods/default/b"), ==, 0);
	CHECK_INT(add(&r, "/registry/configmaps/kube-system/x"), ==, 0);
	CHECK_INT(add(&r, "/registry/apiregistration.k8s.io/apiservices/v1.apps"), ==, 0);
	CHECK_INT(add(&r, "/registry/apiregistration.k8s.io/apiservices/v1."), ==, 0);
	CHECK_INT(add(&r, "/registry/ranges/serviceips"), ==, 0);
	CHECK_INT(add(&r, "/registry/masterleases"), ==, 0);
	/* not under /registry/: not counted at all */
	CHECK_INT(add(&r, "/registryx/pods/a"), ==, 0);
	CHECK_INT(add(&r, "/other/pods/a"), ==, 0);
	CHECK_INT(add(&r, "/registry"), ==, 0);
	/* a name that is not [A-Za-z0-9._-], and an empty one: "other" */
	CHECK_INT(add(&r, "/registry/p\xc3\xa9" "ds/a"), ==, 0);
	CHECK_INT(add(&r, "/registry//a"), ==, 0);
	CHECK_INT(r.objects_total, ==, 9);
	CHECK_INT(count_of(&r, "pods"), ==, 2);
	CHECK_INT(count_of(&r, "configmaps"), ==, 1);
	CHECK_INT(count_of(&r, "apiregistration.k8s.io/apiservices"), ==, 2);
	CHECK_INT(count_of(&r, "ranges"), ==, 1);
	CHECK_INT(count_of(&r, "masterleases"), ==, 1);
	CHECK_INT(count_of(&r, "other"), ==, 2);
	CHECK_STR(r.objects[r.n_objects - 1].resource, "other");
	/* sorted but for "other", last */
	for (i = 1; i + 1 < r.n_objects; i++)
		CHECK(strcmp(r.objects[i - 1].resource, r.objects[i].resource) < 0);
	drill_report_free(&r);
}

/* Past DRILL_RESOURCES_MAX distinct resources the rest count as "other";
 * a resource really named "other" is one of the sorted ones. */
static void
test_count_bounded(void)
{
	struct drill_report r = { 0 };
	char key[64];
	int i;

	CHECK_INT(add(&r, "/registry/other/x"), ==, 0);
	for (i = 0; i < DRILL_RESOURCES_MAX + 10; i++) {
		snprintf(key, sizeof(key), "/registry/r%05d/x", i);
		CHECK_INT(add(&r, key), ==, 0);
		CHECK_INT(add(&r, key), ==, 0);
	}
	CHECK_INT(r.n_objects, ==, DRILL_RESOURCES_MAX + 1);
	CHECK(r.other_slot);
	CHECK_STR(r.objects[r.n_objects - 1].resource, "other");
	CHECK_INT(r.objects[r.n_objects - 1].count, ==, 2 * 11);
	CHECK_INT(count_of(&r, "r00000"), ==, 2);
	CHECK_INT(r.objects_total, ==, 1 + 2 * (DRILL_RESOURCES_MAX + 10));
	drill_report_free(&r);
}

struct seen {
	int n;
	char last[64];
};

static int
seen_key(void *arg, const uint8_t *key, size_t len)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, (const char *)key);
	return 0;
}

/* A RangeResponse as etcd sends it: header (revision), kvs with keys
 * only, more. */
static void
test_decode_keys(void)
{
	uint8_t hdr[32], kv[2][64], msg[256];
	struct pb_writer w, h, k;
	struct seen s = { 0 };
	int64_t rev;
	size_t n;
	int more, cb_r, i;
	const char *keys[2] = { "/registry/pods/a", "/registry/pods/b" };

	pb_writer_init(&h, hdr, sizeof(hdr));
	pb_put_varint_field(&h, 3, 4242);
	pb_writer_init(&w, msg, sizeof(msg));
	pb_put_bytes_field(&w, 1, hdr, h.len);
	for (i = 0; i < 2; i++) {
		pb_writer_init(&k, kv[i], sizeof(kv[i]));
		pb_put_string_field(&k, 1, keys[i]);
		pb_put_varint_field(&k, 2, 7);     /* create_revision, skipped */
		pb_put_bytes_field(&w, 2, kv[i], k.len);
	}
	pb_put_varint_field(&w, 3, 1);
	pb_put_varint_field(&w, 4, 5000);
	CHECK(!w.overflow);
	CHECK_INT(etcd_admin_decode_keys(msg, w.len, seen_key, &s, &more, &rev, &n,
	    &cb_r), ==, 0);
	CHECK_INT(s.n, ==, 2);
	CHECK_STR(s.last, "/registry/pods/b");
	CHECK_INT(more, ==, 1);
	CHECK_INT(rev, ==, 4242);
	CHECK_INT(n, ==, 2);
	/* cut inside the last key: malformed */
	CHECK_INT(etcd_admin_decode_keys(msg, w.len - 6, seen_key, &s, &more, &rev, &n,
	    &cb_r), ==, -1);
}

static void
test_cmdline(void)
{
	static const char etcd[] = "/opt/etcd/etcd\0--config-file\0/d/drill-1-a/etcd.conf.yml";
	static const char other_dir[] = "etcd\0--config-file\0/d/drill-1-ab/etcd.conf.yml";
	static const char not_etcd[] = "/usr/bin/sleep\0/d/drill-1-a/etcd.conf.yml";
	static const char etcdctl[] = "etcdctl\0/d/drill-1-a/x";

	CHECK_INT(drill_cmdline_is_etcd_in(etcd, sizeof(etcd), "/d/drill-1-a"), ==, 1);
	CHECK_INT(drill_cmdline_is_etcd_in(other_dir, sizeof(other_dir), "/d/drill-1-a"), ==, 0);
	CHECK_INT(drill_cmdline_is_etcd_in(not_etcd, sizeof(not_etcd), "/d/drill-1-a"), ==, 0);
	CHECK_INT(drill_cmdline_is_etcd_in(etcdctl, sizeof(etcdctl), "/d/drill-1-a"), ==, 0);
	CHECK_INT(drill_cmdline_is_etcd_in("", 0, "/d/drill-1-a"), ==, 0);
}

static void
touch(const char *dir, const char *name, const char *text)
{
	char p[600];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fp = fopen(p, "w")) != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
}

static int
exists(const char *dir, const char *name)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* The sweep's proof: a drill-* directory whose lock is held (here by
 * another open file of this very process, as a second drill in a daemon
 * would hold it) stays; unlocked ones and one without a lock file go,
 * with what is in them; other names stay; a pid file naming a process
 * that is not that directory's etcd (this test's own child) is not
 * signalled. */
static void
test_sweep(void)
{
	char d[400], sub[500], lock[600], pid[32];
	struct lb_err err = { 0 };
	pid_t child;
	int fd, st;

	snprintf(d, sizeof(d), "%s/sweep", tmpdir);
	CHECK_INT(mkdir(d, 0700), ==, 0);
	snprintf(sub, sizeof(sub), "%s/drill-held", d);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	touch(sub, "lock", "");
	touch(sub, "snapshot.db", "plaintext");
	snprintf(lock, sizeof(lock), "%s/lock", sub);
	CHECK((fd = open(lock, O_RDWR)) >= 0);
	CHECK_INT(flock(fd, LOCK_EX), ==, 0);
	snprintf(sub, sizeof(sub), "%s/drill-dead", d);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	touch(sub, "lock", "");
	CHECK_INT(mkdir(strcat(sub, "/etcd"), 0700), ==, 0);
	touch(sub, "member", "x");
	snprintf(sub, sizeof(sub), "%s/drill-nolock", d);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	snprintf(sub, sizeof(sub), "%s/drill-pid", d);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	touch(sub, "lock", "");
	if ((child = fork()) == 0) {
		pause();
		_exit(0);
	}
	CHECK(child > 0);
	snprintf(pid, sizeof(pid), "%ld\n", (long)child);
	touch(sub, "etcd.pid", pid);
	snprintf(sub, sizeof(sub), "%s/keep", d);
	CHECK_INT(mkdir(sub, 0700), ==, 0);
	touch(d, "drill-file", "not a directory");

	CHECK_INT(drill_sweep(d, &err), ==, 3);
	CHECK(exists(d, "drill-held"));
	CHECK(exists(d, "drill-held/snapshot.db"));
	CHECK(!exists(d, "drill-dead"));
	CHECK(!exists(d, "drill-nolock"));
	CHECK(!exists(d, "drill-pid"));
	CHECK(exists(d, "keep"));
	CHECK(exists(d, "drill-file"));
	/* the child was not signalled: it still runs */
	CHECK_INT(waitpid(child, &st, WNOHANG), ==, 0);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	/* once the lock is let go, the next sweep takes it */
	close(fd);
	CHECK_INT(drill_sweep(d, &err), ==, 1);
	CHECK(!exists(d, "drill-held"));
	/* an absent drill-dir is nothing to sweep */
	snprintf(sub, sizeof(sub), "%s/absent", tmpdir);
	CHECK_INT(drill_sweep(sub, &err), ==, 0);
}

static int
drill_cb(const struct cat_drill *d, void *arg)
{
	int *n = arg;

	(void)d;
	(*n)++;
	return 0;
}

static void
test_catalog_drills(void)
{
	struct cat_drill d = { 0 }, *got = NULL;
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	char path[400];
	json_t *j;
	int n = 0;

	snprintf(path, sizeof(path), "%s/cat.db", tmpdir);
	CHECK_OK(cat_open(path, 0, &c, &err), &err);
	CHECK_INT(cat_drill_last(c, "prod", NULL, &got, &err), ==, LB_E_NOTFOUND);
	d.cluster = "prod";
	d.backup_id = "b1";
	d.started_at = 1000;
	d.finished_at = 1010;
	d.result = "ok";
	d.rto_ms = 9500;
	d.fetch_ms = d.restore_ms = d.start_ms = d.check_ms = 100;
	d.revision = 77;
	d.keys = 70;
	d.hashkv = 0xdeadbeefLL;
	d.etcd_version = "3.6.16";
	d.objects = "{\"pods\":3}";
	CHECK_OK(cat_drill_add(c, &d, &err), &err);
	d.backup_id = "b2";
	d.started_at = 2000;
	d.result = "failed";
	d.error = "HashKV differs";
	d.rto_ms = d.revision = d.keys = d.hashkv = -1;
	d.objects = NULL;
	CHECK_OK(cat_drill_add(c, &d, &err), &err);
	CHECK_OK(cat_drill_last(c, "prod", NULL, &got, &err), &err);
	CHECK_STR(got->backup_id, "b2");
	CHECK_STR(got->result, "failed");
	CHECK_INT(got->rto_ms, ==, -1);
	CHECK(got->host != NULL && got->os_user != NULL);
	cat_drill_free(got);
	got = NULL;
	CHECK_OK(cat_drill_last(c, NULL, "b1", &got, &err), &err);
	CHECK_INT(got->hashkv, ==, 0xdeadbeefLL);
	CHECK_INT(got->rto_ms, ==, 9500);
	j = cat_drill_to_json(got);
	CHECK(j != NULL);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "objects"), "pods")),
	    ==, 3);
	CHECK_STR(json_string_value(json_object_get(j, "hashkv")), "deadbeef");
	json_decref(j);
	cat_drill_free(got);
	CHECK_OK(cat_drill_list(c, "prod", 1500, drill_cb, &n, &err), &err);
	CHECK_INT(n, ==, 1);
	n = 0;
	CHECK_OK(cat_drill_list(c, NULL, 0, drill_cb, &n, &err), &err);
	CHECK_INT(n, ==, 2);
	/* the audit action of schema 5 */
	CHECK_OK(cat_audit(c, CAT_ACT_DRILL, "prod", "b1", "ok", "{\"rto_seconds\": 9.5}",
	    &err), &err);
	cat_close(c);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lifeboat-drill-unit.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(test_count_resources);
	RUN(test_count_bounded);
	RUN(test_decode_keys);
	RUN(test_cmdline);
	RUN(test_sweep);
	RUN(test_catalog_drills);
	if (nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TH_DONE();
}
