/*
 * scantool.c: streams a file through flt_bbolt_scan_new (bbolt_scan.h),
 * for the integration tests and for measuring throughput.  Not installed.
 *
 *   scantool [-c CHUNK] FILE         prints the result as one JSON object
 *   scantool -b MIB [-c CHUNK] FILE  reads FILE into memory, streams it
 *                                    again and again until MIB MiB went
 *                                    through, prints "MB/s N"
 *
 * The file is read in CHUNK-byte pieces (default 65536), so the stage sees
 * the splits a network stream would give.  Exits 1 with a line on stderr
 * on an I/O error; a file that is not bbolt still prints its result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "snapshot/bbolt_scan.h"
#include "stream/flt.h"

/* A sink that drops what it gets, so only the scan is measured. */
static int
null_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	(void)f; (void)buf; (void)len; (void)err;
	return 0;
}

static void
null_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops null_ops = { "null", null_write, NULL, null_free };

static struct flt *
null_new(void)
{
	struct flt *f = calloc(1, sizeof(*f));

	if (f != NULL)
		f->ops = &null_ops;
	return f;
}

static int
run(FILE *fp, const uint8_t *mem, size_t memlen, size_t chunk,
    struct bbolt_scan *res, struct lb_err *err)
{
	struct flt *sink = NULL, *f = NULL;
	uint8_t *buf = NULL;
	size_t n, off = 0;
	int rc = 0;

	if ((sink = null_new()) == NULL ||
	    (f = flt_bbolt_scan_new(sink)) == NULL ||
	    (fp != NULL && (buf = malloc(chunk)) == NULL)) {
		rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
		flt_free(sink);
		goto out;
	}
	for (;;) {
		if (fp != NULL) {
			if ((n = fread(buf, 1, chunk, fp)) == 0)
				break;
			rc = flt_write(f, buf, n, err);
		} else {
			if (off == memlen)
				break;
			n = memlen - off < chunk ? memlen - off : chunk;
			rc = flt_write(f, mem + off, n, err);
			off += n;
		}
		if (rc < 0)
			goto out;
	}
	if (fp != NULL && ferror(fp)) {
		rc = lb_err_sys(err, LB_E_IO, errno, "read");
		goto out;
	}
	if ((rc = flt_finish(f, err)) < 0)
		goto out;
	rc = flt_bbolt_scan_result(f, res, err);
out:
	free(buf);
	flt_free(f);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bbolt_scan res;
	struct lb_err err;
	struct timespec t0, t1;
	size_t chunk = 65536, len = 0, cap = 0, n;
	uint8_t *mem = NULL, *p;
	double mib = 0, done = 0, secs;
	json_t *o;
	FILE *fp;
	int c;

	lb_err_clear(&err);
	while ((c = getopt(argc, argv, "b:c:")) != -1) {
		if (c == 'b')
			mib = atof(optarg);
		else if (c == 'c')
			chunk = (size_t)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind + 1 != argc || chunk == 0) {
		fprintf(stderr, "usage: scantool [-b MIB] [-c CHUNK] FILE\n");
		return 2;
	}
	if ((fp = fopen(argv[optind], "rb")) == NULL) {
		fprintf(stderr, "scantool: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (mib <= 0) {
		c = run(fp, NULL, 0, chunk, &res, &err);
		fclose(fp);
		if (c < 0) {
			fprintf(stderr, "scantool: %s\n", err.msg);
			return 1;
		}
		o = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s}",
		    "is_bbolt", res.is_bbolt, "revision_known", res.revision_known,
		    "revision", (json_int_t)res.revision,
		    "revision_max_seen", (json_int_t)res.revision_max_seen,
		    "txid", (json_int_t)res.txid, "page_size", (json_int_t)res.page_size,
		    "db_size", (json_int_t)res.db_size,
		    "stream_bytes", (json_int_t)res.stream_bytes,
		    "trailer_room", res.trailer_room, "why", res.why);
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
		return 0;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((p = realloc(mem, cap)) == NULL)
				return 1;
			mem = p;
		}
		if ((n = fread(mem + len, 1, cap - len, fp)) == 0)
			break;
		len += n;
	}
	fclose(fp);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < mib * 1048576.0) {
		if (run(NULL, mem, len, chunk, &res, &err) < 0) {
			fprintf(stderr, "scantool: %s\n", err.msg);
			return 1;
		}
		done += (double)len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("MB/s %.0f (revision %llu, known %d)\n", done / 1e6 / secs,
	    (unsigned long long)res.revision, res.revision_known);
	free(mem);
	return 0;
}
