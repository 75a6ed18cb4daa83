/*
 * flt_test.c: the filter chain and its standard stages: the etcd trailer
 * check over every way a stream can be split, sha256 against a known
 * vector, and the atomic file sink.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "harness.h"
#include "snapshot/trailer.h"
#include "stream/flt.h"

/* A snapshot-shaped stream: data followed by sha256(data). */
static uint8_t *
make_snapshot(size_t data_len, size_t *len)
{
	uint8_t *buf = malloc(data_len + 32);

	for (size_t i = 0; i < data_len; i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 8));
	SHA256(buf, data_len, buf + data_len);
	*len = data_len + 32;
	return buf;
}

/* Feeds buf in chunks of `step` bytes through trailer -> mem. */
static int
run_trailer(const uint8_t *buf, size_t len, size_t step, uint64_t *db_size,
    struct lb_err *err)
{
	struct flt *mem = flt_mem_new(1 << 24), *t = flt_etcd_trailer_new(mem);
	size_t off, got;
	int r = 0;

	for (off = 0; off < len && r == 0; off += step)
		r = flt_write(t, buf + off, len - off < step ? len - off : step, err);
	if (r == 0)
		r = flt_finish(t, err);
	if (r == 0) {
		*db_size = flt_etcd_trailer_db_size(t);
		/* Observers pass every byte on untouched. */
		if (memcmp(flt_mem_data(mem, &got), buf, len) != 0 || got != len)
			r = -100;
	}
	flt_free(t);
	return r;
}

static void
trailer_accepts_good_stream_in_any_split(void)
{
	static const size_t sizes[] = { 0, 1, 31, 32, 33, 4096, 100000 };
	static const size_t steps[] = { 1, 7, 31, 32, 33, 4096, 1 << 20 };
	struct lb_err err;
	uint64_t db = 0;
	size_t len;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *buf = make_snapshot(sizes[i], &len);
		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			if (sizes[i] > 5000 && steps[j] == 1)
				continue;
			int r = run_trailer(buf, len, steps[j], &db, &err);
			if (r != 0) {
				free(buf);
				TH_FAIL("size %zu step %zu: %d %s", sizes[i], steps[j], r, err.msg);
			}
			if (db != sizes[i]) {
				free(buf);
				TH_FAIL("db size %llu, want %zu", (unsigned long long)db, sizes[i]);
			}
		}
		free(buf);
	}
}

static void
trailer_rejects_flipped_bytes(void)
{
	struct lb_err err;
	uint64_t db;
	size_t len;
	uint8_t *buf = make_snapshot(70000, &len);
	size_t where[] = { 0, 35000, 69999, 70000, 70031 };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		buf[where[i]] ^= 0x40;
		int r = run_trailer(buf, len, 4093, &db, &err);
		buf[where[i]] ^= 0x40;
		if (r != LB_E_CORRUPT) {
			free(buf);
			TH_FAIL("flip at %zu: got %d", where[i], r);
		}
	}
	free(buf);
	CHECK_CONTAINS(err.msg, "sha256 trailer does not match");
}

static void
trailer_rejects_short_stream(void)
{
	struct lb_err err;
	uint64_t db;
	uint8_t buf[31] = { 0 };

	CHECK_INT(run_trailer(buf, sizeof(buf), 5, &db, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "too short");
}

static void
sha256_matches_known_vector(void)
{
	struct flt *mem = flt_mem_new(64), *s = flt_sha256_new(mem);
	struct lb_err err;
	uint8_t d[32];
	static const uint8_t want[4] = { 0xba, 0x78, 0x16, 0xbf };  /* sha256("abc") */

	CHECK_OK(flt_write(s, "a", 1, &err), &err);
	CHECK_OK(flt_write(s, "bc", 2, &err), &err);
	CHECK_OK(flt_finish(s, &err), &err);
	flt_sha256_digest(s, d);
	flt_free(s);
	CHECK(memcmp(d, want, 4) == 0);
}

static void
file_sink_is_atomic(void)
{
	char dir[] = "/tmp/lifeboat-flt.XXXXXX", path[256], cmd[300];
	struct lb_err err;
	struct flt *f;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/x.db", dir);

	/* Freed before finish: nothing at the destination, no temp left. */
	CHECK_OK(flt_file_new(path, 0600, &f, &err), &err);
	CHECK_OK(flt_write(f, "partial", 7, &err), &err);
	flt_free(f);
	CHECK(stat(path, &st) < 0);

	CHECK_OK(flt_file_new(path, 0640, &f, &err), &err);
	CHECK_OK(flt_write(f, "complete", 8, &err), &err);
	CHECK(stat(path, &st) < 0);          /* not visible before finish */
	CHECK_OK(flt_finish(f, &err), &err);
	flt_free(f);
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, ==, 8);
	CHECK_INT(st.st_mode & 0777, ==, 0640);

	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1 && rm -r %s", dir, dir);
	CHECK_INT(system(cmd), ==, 0);
}

static void
file_sink_reports_missing_directory(void)
{
	struct lb_err err;
	struct flt *f = NULL;

	CHECK_INT(flt_file_new("/nonexistent-dir/x.db", 0600, &f, &err), ==, LB_E_IO);
	CHECK(f == NULL);
	CHECK_CONTAINS(err.msg, "/nonexistent-dir/x.db");
	CHECK_CONTAINS(err.msg, "No such file or directory");
}

static void
mem_sink_enforces_its_limit(void)
{
	struct flt *m = flt_mem_new(10);
	struct lb_err err;
	int r;

	CHECK_OK(flt_write(m, "0123456789", 10, &err), &err);
	r = flt_write(m, "x", 1, &err);
	flt_free(m);
	CHECK_INT(r, <, 0);
}

/* Through a thread stage every byte arrives in order, whatever the split;
 * the trailer behind it still sees the whole stream. */
static void
thread_stage_passes_everything_in_order(void)
{
	static const size_t steps[] = { 777, 4093, FLT_THREAD_BUF_SIZE, 3 * FLT_THREAD_BUF_SIZE + 5 };
	struct lb_err err;
	size_t len, got, off, i;
	uint8_t *buf = make_snapshot(9 * FLT_THREAD_BUF_SIZE + 123, &len);

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct flt *mem = flt_mem_new(1 << 26), *tr = flt_etcd_trailer_new(mem), *th;
		size_t step = steps[i];

		CHECK_OK(flt_thread_new(tr, &th, &err), &err);
		for (off = 0; off < len; off += step)
			CHECK_OK(flt_write(th, buf + off, len - off < step ? len - off : step,
			    &err), &err);
		CHECK_OK(flt_finish(th, &err), &err);
		CHECK(memcmp(flt_mem_data(mem, &got), buf, len) == 0);
		CHECK_INT(got, ==, len);
		CHECK_INT(flt_etcd_trailer_db_size(tr), ==, len - 32);
		flt_free(th);
	}
	free(buf);
}

/* An error behind the thread comes back to the writer (at a later write
 * or at finish), and freeing an unfinished thread stage stops its thread. */
static void
thread_stage_reports_errors_and_frees(void)
{
	uint8_t chunk[64 * 1024];
	struct lb_err err;
	struct flt *th;
	int r = 0, i;

	memset(chunk, 'x', sizeof(chunk));
	CHECK_OK(flt_thread_new(flt_mem_new(100), &th, &err), &err);
	for (i = 0; i < 200 && r == 0; i++)   /* 12.5 MiB: past every buffer */
		r = flt_write(th, chunk, sizeof(chunk), &err);
	if (r == 0)
		r = flt_finish(th, &err);
	CHECK_INT(r, <, 0);
	CHECK(err.msg[0] != '\0');
	flt_free(th);

	CHECK_OK(flt_thread_new(flt_mem_new(1 << 24), &th, &err), &err);
	CHECK_OK(flt_write(th, chunk, sizeof(chunk), &err), &err);
	flt_free(th);                           /* never finished */
}

static int
refuse(void *arg, struct lb_err *err)
{
	return *(int *)arg ? lb_err_set(err, LB_E_CORRUPT, "not acceptable") : 0;
}

/* The check stage's veto comes before the sink commits: a refused stream
 * leaves nothing at the destination (backup's bbolt check depends on it). */
static void
check_stage_vetoes_the_commit(void)
{
	char dir[] = "/tmp/lifeboat-flt.XXXXXX", path[256], cmd[300];
	struct lb_err err;
	struct flt *sink, *f;
	struct stat st;
	int no = 1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/x.db", dir);
	CHECK_OK(flt_file_new(path, 0600, &sink, &err), &err);
	CHECK((f = flt_check_new(sink, refuse, &no)) != NULL);
	CHECK_OK(flt_write(f, "bytes", 5, &err), &err);
	CHECK_INT(flt_finish(f, &err), ==, LB_E_CORRUPT);
	CHECK_STR(err.msg, "not acceptable");
	flt_free(f);
	CHECK(stat(path, &st) < 0);

	no = 0;
	CHECK_OK(flt_file_new(path, 0600, &sink, &err), &err);
	CHECK((f = flt_check_new(sink, refuse, &no)) != NULL);
	CHECK_OK(flt_write(f, "bytes", 5, &err), &err);
	CHECK_OK(flt_finish(f, &err), &err);
	flt_free(f);
	CHECK(stat(path, &st) == 0 && st.st_size == 5);
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1 && rm -r %s", dir, dir);
	CHECK_INT(system(cmd), ==, 0);
}

/* Exactly db_size + 32 bytes pass; the first byte beyond fails, passing
 * nothing of that write on. */
static void
bound_stops_at_first_byte_beyond(void)
{
	struct lb_err err = { 0 };
	struct flt *mem = flt_mem_new(1 << 20), *b;
	uint8_t buf[100] = { 0 };
	size_t got;

	CHECK((b = flt_snapshot_bound_new(mem, 100)) != NULL);
	CHECK_OK(flt_write(b, buf, 100, &err), &err);
	CHECK_OK(flt_write(b, buf, 32, &err), &err);
	CHECK_INT(flt_write(b, buf, 1, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "db_size 100");
	CHECK_CONTAINS(err.msg, "stopped at byte 133");
	flt_mem_data(mem, &got);
	CHECK_INT(got, ==, 132);
	flt_free(b);
	/* one write that crosses the bound at once */
	CHECK((b = flt_snapshot_bound_new(flt_mem_new(1 << 20), 10)) != NULL);
	CHECK_INT(flt_write(b, buf, 43, &err), ==, LB_E_CORRUPT);
	flt_free(b);
}

int
main(void)
{
	RUN(bound_stops_at_first_byte_beyond);
	RUN(trailer_accepts_good_stream_in_any_split);
	RUN(trailer_rejects_flipped_bytes);
	RUN(trailer_rejects_short_stream);
	RUN(sha256_matches_known_vector);
	RUN(file_sink_is_atomic);
	RUN(file_sink_reports_missing_directory);
	RUN(mem_sink_enforces_its_limit);
	RUN(thread_stage_passes_everything_in_order);
	RUN(thread_stage_reports_errors_and_frees);
	RUN(check_stage_vetoes_the_commit);
	return TH_DONE();
}
