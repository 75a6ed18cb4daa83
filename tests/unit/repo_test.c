/*
 * repo_test.c: the repository interface in process, on the file driver
 * (real files in a temp directory): URL parsing, key rules, atomic puts
 * and aborts, ranges, listing order and early stop, delete pruning,
 * orphan cleanup.  The S3 driver is proven against real servers by
 * tests/integration/repo_test.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../harness.h"
#include "repo/repo.h"

static char root[64];
static char url[128];

static struct repo *
open_repo(void)
{
	struct repo_opts o;
	struct repo *r = NULL;
	struct lb_err err;

	memset(&o, 0, sizeof(o));
	o.url = url;
	if (repo_open(&o, &r, &err) < 0)
		printf("# repo_open: %s\n", err.msg);
	return r;
}

static void
urls_are_checked(void)
{
	static const char *bad[] = {
		"http://x/y", "file://relative/path", "s3://", "s3:///prefix",
		"s3://Bad_Bucket/x", "s3://bucket/a/../b", "",
	};
	struct repo_opts o;
	struct repo *r = NULL;
	struct lb_err err;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.s3_access_key = "a";
	o.s3_secret_key = "b";
	o.s3_endpoint = "http://127.0.0.1:1";
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.url = bad[i];
		if (repo_open(&o, &r, &err) != LB_E_CONFIG)
			TH_FAIL("accepted %s (%s)", bad[i], err.msg);
		CHECK(r == NULL);
	}
	r = open_repo();
	CHECK(r != NULL);
	CHECK_STR(repo_url(r), url);
	repo_close(r);
	repo_close(NULL);
}

static void
keys_are_checked(void)
{
	static const char *bad[] = {
		"", "/a", "a//b", "a/./b", "a/../b", "..", "a/", "x.lifeboat-123456",
		"d/y.lifeboat-abc", "a\nb",
	};
	struct repo *r = open_repo();
	struct flt *sink = NULL;
	struct lb_err err;
	size_t i;

	CHECK(r != NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (repo_put_new(r, bad[i], &sink, &err) != LB_E_USAGE) {
			flt_free(sink);
			repo_close(r);
			TH_FAIL("accepted key \"%s\"", bad[i]);
		}
	}
	repo_close(r);
}

/* Object Lock is S3's: a file repository refuses a rule and has no lock. */
static void
file_repo_has_no_locks(void)
{
	struct repo *r = open_repo();
	struct lb_err err;
	int64_t until = 1;

	CHECK(r != NULL);
	CHECK_INT(repo_lock_rule_add(r, "", REPO_LOCK_COMPLIANCE, 60, &err), ==,
	    LB_E_UNSUPPORTED);
	CHECK_INT(repo_has_locks(r), ==, 0);
	CHECK_INT(repo_lock_until_for(r, "c/x", 1000, NULL), ==, 0);
	CHECK_OK(repo_lock_check(r, &err), &err);
	CHECK_OK(repo_put_buf(r, "c/x", "x", 1, &err), &err);
	CHECK_OK(repo_locked_until(r, "c/x", &until, &err), &err);
	CHECK_INT(until, ==, 0);
	CHECK_INT(repo_locked_until(r, "c/y", &until, &err), ==, LB_E_NOTFOUND);
	repo_close(r);
}

static void
put_is_atomic_and_private(void)
{
	struct repo *r = open_repo();
	struct flt *sink = NULL;
	struct lb_err err;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[256];

	CHECK(r != NULL);
	CHECK_OK(repo_put_new(r, "c1/2024/obj", &sink, &err), &err);
	CHECK_OK(flt_write(sink, "abc", 3, &err), &err);
	/* Not visible before finish. */
	CHECK_INT(repo_stat(r, "c1/2024/obj", NULL, &err), ==, LB_E_NOTFOUND);
	CHECK_OK(flt_write(sink, "def", 3, &err), &err);
	CHECK_OK(flt_finish(sink, &err), &err);
	flt_free(sink);
	CHECK_OK(repo_get_buf(r, "c1/2024/obj", 100, &buf, &len, &err), &err);
	CHECK_INT(len, ==, 6);
	CHECK(memcmp(buf, "abcdef", 6) == 0);
	free(buf);
	snprintf(path, sizeof(path), "%s/c1/2024/obj", root);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, ==, 0600);
	snprintf(path, sizeof(path), "%s/c1/2024", root);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 0777, ==, 0700);
	repo_close(r);
}

static void
free_without_finish_leaves_nothing(void)
{
	struct repo *r = open_repo();
	struct flt *sink = NULL;
	struct lb_err err;
	int n = -1;

	CHECK(r != NULL);
	CHECK_OK(repo_put_new(r, "aborted/x", &sink, &err), &err);
	CHECK_OK(flt_write(sink, "partial", 7, &err), &err);
	flt_free(sink);
	CHECK_INT(repo_stat(r, "aborted/x", NULL, &err), ==, LB_E_NOTFOUND);
	/* No temp file left for cleanup to find either. */
	CHECK_OK(repo_cleanup_orphans(r, NULL, 0, &n, &err), &err);
	CHECK_INT(n, ==, 0);
	repo_close(r);
}

static void
ranges_read_the_right_bytes(void)
{
	struct repo *r = open_repo();
	struct flt *mem = flt_mem_new(100);
	struct lb_err err;
	const uint8_t *d;
	size_t len;

	CHECK(r != NULL && mem != NULL);
	CHECK_OK(repo_put_buf(r, "digits", "0123456789", 10, &err), &err);
	CHECK_OK(repo_get(r, "digits", 3, 4, mem, &err), &err);
	CHECK_OK(repo_get(r, "digits", 8, 0, mem, &err), &err);
	CHECK_OK(repo_get(r, "digits", 0, 100, mem, &err), &err);
	d = flt_mem_data(mem, &len);
	CHECK_INT(len, ==, 16);
	CHECK(memcmp(d, "3456890123456789", 16) == 0);
	CHECK(repo_get(r, "digits", 10, 0, mem, &err) < 0);
	flt_free(mem);
	repo_close(r);
}

struct seen {
	char keys[512];
	int calls, stop_at;
};

static int
collect(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;

	(void)size;
	if (++s->calls == s->stop_at)
		return -42;
	strncat(s->keys, key, sizeof(s->keys) - strlen(s->keys) - 2);
	strcat(s->keys, ",");
	return 0;
}

static void
list_is_bytewise_sorted_and_stoppable(void)
{
	static const char *keys[] = { "l/a/c", "l/B", "l/a/b", "l/a-b", "m/x" };
	struct repo *r = open_repo();
	struct seen s;
	struct lb_err err;
	size_t i;

	CHECK(r != NULL);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK_OK(repo_put_buf(r, keys[i], "x", 1, &err), &err);
	memset(&s, 0, sizeof(s));
	CHECK_OK(repo_list(r, "l/", collect, &s, &err), &err);
	/* '-' (0x2d) sorts before '/' (0x2f), as S3 lists. */
	CHECK_STR(s.keys, "l/B,l/a-b,l/a/b,l/a/c,");
	memset(&s, 0, sizeof(s));
	CHECK_OK(repo_list(r, "l/a/", collect, &s, &err), &err);
	CHECK_STR(s.keys, "l/a/b,l/a/c,");
	memset(&s, 0, sizeof(s));
	CHECK_OK(repo_list(r, "l/a", collect, &s, &err), &err);
	CHECK_STR(s.keys, "l/a-b,l/a/b,l/a/c,");
	memset(&s, 0, sizeof(s));
	CHECK_OK(repo_list(r, "none/", collect, &s, &err), &err);
	CHECK_STR(s.keys, "");
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	CHECK_INT(repo_list(r, "l/", collect, &s, &err), ==, -42);
	CHECK_STR(s.keys, "l/B,");
	repo_close(r);
}

static void
delete_prunes_empty_dirs_only(void)
{
	struct repo *r = open_repo();
	struct lb_err err;
	char path[256];

	CHECK(r != NULL);
	CHECK_OK(repo_put_buf(r, "p/q/r/one", "1", 1, &err), &err);
	CHECK_OK(repo_put_buf(r, "p/two", "2", 1, &err), &err);
	CHECK_OK(repo_delete(r, "p/q/r/one", &err), &err);
	snprintf(path, sizeof(path), "%s/p/q", root);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/p", root);
	CHECK(access(path, F_OK) == 0);
	CHECK_INT(repo_delete(r, "p/q/r/one", &err), ==, LB_E_NOTFOUND);
	CHECK_INT(repo_delete(r, "p", &err), ==, LB_E_NOTFOUND);
	CHECK_OK(repo_delete(r, "p/two", &err), &err);
	CHECK(access(path, F_OK) != 0);
	CHECK(access(root, F_OK) == 0);
	repo_close(r);
}

static void
cleanup_removes_only_old_temp_files(void)
{
	struct repo *r = open_repo();
	struct lb_err err;
	char old[256], young[256], obj[256], cmd[400];
	FILE *f;
	int n = -1;

	CHECK(r != NULL);
	CHECK_OK(repo_put_buf(r, "t/obj", "o", 1, &err), &err);
	snprintf(old, sizeof(old), "%s/t/obj.lifeboat-AAAAAA", root);
	snprintf(young, sizeof(young), "%s/t/obj.lifeboat-BBBBBB", root);
	snprintf(obj, sizeof(obj), "%s/t/obj", root);
	CHECK((f = fopen(old, "w")) != NULL);
	fclose(f);
	CHECK((f = fopen(young, "w")) != NULL);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "touch -d '3 hours ago' '%s'", old);
	CHECK(system(cmd) == 0);
	CHECK_OK(repo_cleanup_orphans(r, NULL, 3600, &n, &err), &err);
	CHECK_INT(n, ==, 1);
	CHECK(access(old, F_OK) != 0);
	CHECK(access(young, F_OK) == 0);
	CHECK(access(obj, F_OK) == 0);
	unlink(young);
	repo_close(r);
}

int
main(void)
{
	char cmd[128];
	int rc;

	snprintf(root, sizeof(root), "/tmp/lb-repo-test-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	/* A root below the temp dir that repo_open must create. */
	strcat(root, "/repo");
	snprintf(url, sizeof(url), "file://%s", root);
	RUN(urls_are_checked);
	RUN(keys_are_checked);
	RUN(file_repo_has_no_locks);
	RUN(put_is_atomic_and_private);
	RUN(free_without_finish_leaves_nothing);
	RUN(ranges_read_the_right_bytes);
	RUN(list_is_bytewise_sorted_and_stoppable);
	RUN(delete_prunes_empty_dirs_only);
	RUN(cleanup_removes_only_old_temp_files);
	rc = TH_DONE();
	root[strlen(root) - 5] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
