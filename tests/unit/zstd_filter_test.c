/*
 * zstd_filter_test.c: the zstd stages round-trip any write pattern, speak
 * the standard format (the zstd CLI is the oracle both ways) and refuse
 * truncated, corrupt, trailing-garbage and oversized-window input.
 *
 * `zstd_filter_test bench [MiB]` instead measures levels 1, 3, 6 with 0,
 * 1, 2 worker threads on generated etcd-like data (the figures behind
 * ZSTD_DEFAULT_LEVEL and ZSTD_DEFAULT_THREADS).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stream/flt.h"
#include "stream/zstd_filter.h"
#include "tests/harness.h"

static char tmpdir[] = "/tmp/lb-zstd-test.XXXXXX";

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static const char *const kinds[] = {
	"pods", "pods", "pods", "replicasets", "services", "configmaps",
	"secrets", "events", "events", "leases", "endpointslices",
};

/* One revision of a Kubernetes-like object as etcd's bbolt holds it: a
 * binary revision key, then the object (JSON here, for readability; real
 * clusters mix protobuf).  Fields drawn from obj are the object's own and
 * repeat in each of its revisions; fields drawn from s change per
 * revision.  Secrets carry base64 of random bytes, which zstd cannot
 * shrink. */
static size_t
gen_object(uint64_t obj, uint64_t *s, uint64_t rev, char *p, size_t cap)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t o = obj * 0x9E3779B97F4A7C15ULL | 1;
	const char *kind = kinds[rnd(&o) % (sizeof(kinds) / sizeof(kinds[0]))];
	unsigned ns = (unsigned)(rnd(&o) % 40), app = (unsigned)(rnd(&o) % 200);
	uint64_t u1 = rnd(&o), u2 = rnd(&o), u3 = rnd(&o);
	size_t n, i, blob;

	if (cap < 32)
		return 0;
	/* mvcc key: 8-byte big-endian revision, '_', 8-byte sub revision */
	for (i = 0; i < 8; i++)
		p[i] = (char)(rev >> (56 - 8 * i));
	p[8] = '_';
	memset(p + 9, 0, 8);
	n = 17;
	n += (size_t)snprintf(p + n, cap - n,
	    "/registry/%s/team-%u/app-%u-%05llx{\"kind\":\"%s\",\"apiVersion\":\"v1\","
	    "\"metadata\":{\"name\":\"app-%u-%05llx\",\"namespace\":\"team-%u\","
	    "\"uid\":\"%08llx-%04llx-%04llx-%04llx-%012llx\",\"resourceVersion\":\"%llu\","
	    "\"creationTimestamp\":\"2026-%02u-%02uT%02u:%02u:%02uZ\","
	    "\"labels\":{\"app\":\"app-%u\",\"tier\":\"%s\",\"pod-template-hash\":\"%06llx\"},"
	    "\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
	    "\"apiVersion\":\"v1\",\"time\":\"2026-11-%02uT%02u:%02u:%02uZ\",\"fieldsType\":\"FieldsV1\"}]},"
	    "\"spec\":{\"containers\":[{\"name\":\"app-%u\",\"image\":\"registry.example.com/team-%u/app-%u:1.%u.%u\","
	    "\"resources\":{\"requests\":{\"cpu\":\"%um\",\"memory\":\"%uMi\"}},"
	    "\"ports\":[{\"containerPort\":%u,\"protocol\":\"TCP\"}]}],\"nodeName\":\"node-%u\"},"
	    "\"status\":{\"phase\":\"%s\",\"podIP\":\"10.%u.%u.%u\",\"restartCount\":%u",
	    kind, ns, app, (unsigned long long)(u1 & 0xfffff), kind, app,
	    (unsigned long long)(u1 & 0xfffff), ns,
	    (unsigned long long)(u2 >> 32), (unsigned long long)(u2 >> 16 & 0xffff),
	    (unsigned long long)(u2 & 0xffff), (unsigned long long)(u1 >> 48),
	    (unsigned long long)(u3 & 0xffffffffffffULL), (unsigned long long)rev,
	    (unsigned)(u3 % 12 + 1), (unsigned)(u3 >> 8 & 0xf) + 1,
	    (unsigned)(u3 >> 16 & 0xf), (unsigned)(u3 >> 24 & 0x1f), (unsigned)(u3 >> 32 & 0x1f),
	    app, app % 3 ? "backend" : "frontend", (unsigned long long)(u1 >> 40),
	    (unsigned)(rnd(s) % 28 + 1), (unsigned)(rnd(s) % 24), (unsigned)(rnd(s) % 60),
	    (unsigned)(rnd(s) % 60),
	    app, ns, app, (unsigned)(rnd(&o) % 30), (unsigned)(rnd(&o) % 10),
	    (unsigned)(rnd(&o) % 20 + 1) * 50, (unsigned)(rnd(&o) % 16 + 1) * 64,
	    (unsigned)(rnd(&o) % 9000 + 1000), (unsigned)(rnd(&o) % 64),
	    rnd(s) % 8 ? "Running" : "Pending",
	    (unsigned)(rnd(&o) % 256), (unsigned)(rnd(&o) % 256), (unsigned)(rnd(s) % 256),
	    (unsigned)(rnd(s) % 4));
	if (n >= cap)
		return 0;
	blob = strcmp(kind, "secrets") == 0 ? 200 + rnd(&o) % 1200 : 0;
	if (n + blob + 16 >= cap)
		return 0;
	if (blob > 0) {
		memcpy(p + n, ",\"data\":\"", 9);
		n += 9;
		for (i = 0; i < blob; i++)
			p[n++] = b64[rnd(&o) % 64];
		p[n++] = '"';
	}
	memcpy(p + n, "}}", 2);
	return n + 2;
}

/* Fills buf with 4 KiB bbolt-like pages: a small header, revisions of
 * objects from a pool of 50000 (a tenth of them hot, like leases and
 * events, and updated often), then zero padding where the page is not
 * full, as in a real database. */
static void
gen_etcd(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1, rev = 1000, obj;
	size_t off = 0, page, used, fill, n;

	while (off < len) {
		page = len - off < 4096 ? len - off : 4096;
		memset(buf + off, 0, page);
		fill = page * (55 + rnd(&s) % 45) / 100;
		used = page >= 16 ? 16 : page;
		if (page >= 16) {
			uint64_t id = off / 4096;
			memcpy(buf + off, &id, 8);
			buf[off + 8] = 0x02;
		}
		for (;;) {
			obj = rnd(&s) % 2 ? rnd(&s) % 5000 : rnd(&s) % 50000;
			n = gen_object(obj + seed * 100000, &s, rev, (char *)buf + off + used,
			    fill - used);
			if (n == 0 || used >= fill)
				break;
			used += n;
			rev++;
		}
		off += page;
	}
}

static void
gen_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1, v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rnd(&s);
		buf[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

/* A sink that drops bytes but remembers the largest single write, to
 * prove the stages hand on bounded chunks. */
struct null_sink {
	struct flt base;
	uint64_t bytes;
	size_t max_write;
};

static int
null_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct null_sink *n = (struct null_sink *)f;

	(void)buf;
	(void)err;
	n->bytes += len;
	if (len > n->max_write)
		n->max_write = len;
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
	struct null_sink *n = calloc(1, sizeof(*n));

	if (n != NULL)
		n->base.ops = &null_ops;
	return &n->base;
}

/* Writes data through chain in pieces whose sizes cycle through odd
 * values, then finishes it. */
static int
feed(struct flt *chain, const uint8_t *data, size_t len, struct lb_err *err)
{
	static const size_t sizes[] = { 1, 7, 4093, 3, 65537, 131073, 511, 1048577 };
	size_t off = 0, k = 0, n;
	int r;

	while (off < len) {
		n = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];
		if (n > len - off)
			n = len - off;
		if ((r = flt_write(chain, data + off, n, err)) < 0)
			return r;
		off += n;
	}
	return flt_finish(chain, err);
}

/* Compresses data into memory; returns a malloc'd copy of the frame. */
static uint8_t *
compress_mem(const uint8_t *data, size_t len, int level, int threads,
    size_t *out_len)
{
	struct lb_err err = { 0 };
	struct flt *mem = flt_mem_new((size_t)1 << 30), *z = NULL;
	const uint8_t *p;
	uint8_t *copy = NULL;

	if (mem == NULL || flt_zstd_new(level, threads, mem, &z, &err) < 0) {
		fprintf(stderr, "compress_mem: %s\n", err.msg);
		flt_free(mem);
		return NULL;
	}
	if (feed(z, data, len, &err) == 0) {
		p = flt_mem_data(mem, out_len);
		if ((copy = malloc(*out_len ? *out_len : 1)) != NULL)
			memcpy(copy, p, *out_len);
	} else {
		fprintf(stderr, "compress_mem: %s\n", err.msg);
	}
	flt_free(z);
	return copy;
}

/* Decompresses src into a memory sink, feeding it in odd pieces; on
 * success *mem_out holds the sink (caller frees). */
static int
decompress_mem(const uint8_t *src, size_t len, struct flt **mem_out,
    struct lb_err *err)
{
	struct flt *mem = flt_mem_new((size_t)1 << 30), *u = NULL;
	int r;

	*mem_out = NULL;
	if ((r = flt_unzstd_new(mem, &u, err)) < 0) {
		flt_free(mem);
		return r;
	}
	if ((r = feed(u, src, len, err)) == 0) {
		/* detach the sink so freeing u leaves it */
		u->next = NULL;
		*mem_out = mem;
	}
	flt_free(u);
	return r;
}

static uint8_t *sample;
static size_t sample_len;

/* 3 MiB etcd-like, then 1 MiB random, then 1 MiB of zeros. */
static void
make_sample(void)
{
	sample_len = 5u << 20;
	sample = malloc(sample_len);
	gen_etcd(sample, 3u << 20, 42);
	gen_random(sample + (3u << 20), 1u << 20, 7);
	memset(sample + (4u << 20), 0, 1u << 20);
}

static void
roundtrip(int level, int threads)
{
	struct lb_err err = { 0 };
	struct flt *mem = NULL;
	uint8_t *frame;
	size_t flen, dlen;
	const uint8_t *d;

	frame = compress_mem(sample, sample_len, level, threads, &flen);
	CHECK(frame != NULL);
	CHECK_INT(flen, <, sample_len * 2 / 5);
	if (decompress_mem(frame, flen, &mem, &err) != 0) {
		free(frame);
		TH_FAIL("decompress: %s", err.msg);
	}
	d = flt_mem_data(mem, &dlen);
	CHECK_INT(dlen, ==, sample_len);
	CHECK(memcmp(d, sample, sample_len) == 0);
	flt_free(mem);
	free(frame);
}

static void
roundtrip_single_thread_odd_writes(void)
{
	roundtrip(3, 0);
}

static void
roundtrip_two_workers_odd_writes(void)
{
	roundtrip(1, 2);
}

static void
roundtrip_empty_input(void)
{
	struct lb_err err = { 0 };
	struct flt *mem = NULL;
	uint8_t *frame;
	size_t flen, dlen;

	frame = compress_mem(sample, 0, 3, 0, &flen);
	CHECK(frame != NULL);
	CHECK_INT(flen, >, 0);
	CHECK_OK(decompress_mem(frame, flen, &mem, &err), &err);
	flt_mem_data(mem, &dlen);
	CHECK_INT(dlen, ==, 0);
	flt_free(mem);
	free(frame);
}

static int
write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(p, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL &&
	    fread(p, 1, (size_t)n, fp) != (size_t)n) {
		free(p);
		p = NULL;
	} else if (p != NULL) {
		*len = (size_t)n;
	}
	fclose(fp);
	return p;
}

/* Our frame, written through the atomic file sink, passes `zstd -t` and
 * `zstd -d` gives back the input byte for byte. */
static void
zstd_cli_reads_our_frame(void)
{
	struct lb_err err = { 0 };
	struct flt *file = NULL, *z = NULL;
	char zst[128], orig[128], cmd[512];

	snprintf(zst, sizeof(zst), "%s/ours.zst", tmpdir);
	snprintf(orig, sizeof(orig), "%s/ours.orig", tmpdir);
	CHECK(write_file(orig, sample, sample_len) == 0);
	CHECK_OK(flt_file_new(zst, 0600, &file, &err), &err);
	if (flt_zstd_new(3, 2, file, &z, &err) < 0) {
		flt_free(file);
		TH_FAIL("flt_zstd_new: %s", err.msg);
	}
	if (feed(z, sample, sample_len, &err) < 0) {
		flt_free(z);
		TH_FAIL("compress: %s", err.msg);
	}
	flt_free(z);
	snprintf(cmd, sizeof(cmd), "zstd -q -t %s", zst);
	CHECK_INT(system(cmd), ==, 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c %s | cmp -s - %s", zst, orig);
	CHECK_INT(system(cmd), ==, 0);
	/* and the oracle can say no: a changed original must not compare */
	sample[12345] ^= 1;
	CHECK(write_file(orig, sample, sample_len) == 0);
	sample[12345] ^= 1;
	CHECK(system(cmd) != 0);
}

/* A frame from `zstd -3` decodes to the original. */
static void
our_decoder_reads_zstd_cli_frame(void)
{
	struct lb_err err = { 0 };
	struct flt *mem = NULL;
	char orig[128], cmd[512], zst[128];
	uint8_t *frame;
	const uint8_t *d;
	size_t flen = 0, dlen;

	snprintf(orig, sizeof(orig), "%s/cli.orig", tmpdir);
	snprintf(zst, sizeof(zst), "%s/cli.orig.zst", tmpdir);
	CHECK(write_file(orig, sample, sample_len) == 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -f -3 %s -o %s", orig, zst);
	CHECK_INT(system(cmd), ==, 0);
	CHECK((frame = read_file(zst, &flen)) != NULL);
	if (decompress_mem(frame, flen, &mem, &err) != 0) {
		free(frame);
		TH_FAIL("decompress: %s", err.msg);
	}
	d = flt_mem_data(mem, &dlen);
	CHECK_INT(dlen, ==, sample_len);
	CHECK(memcmp(d, sample, sample_len) == 0);
	flt_free(mem);
	free(frame);
}

/* Runs frame through the decoder expecting LB_E_CORRUPT with want in the
 * message; returns the message through msg. */
static int
expect_corrupt(const uint8_t *frame, size_t len, const char *want,
    char *msg, size_t msg_len)
{
	struct lb_err err = { 0 };
	struct flt *mem = NULL;
	int r = decompress_mem(frame, len, &mem, &err);

	flt_free(mem);
	snprintf(msg, msg_len, "%s", err.msg);
	return r == LB_E_CORRUPT && err.code == LB_E_CORRUPT &&
	    strstr(err.msg, want) != NULL;
}

static void
truncated_frame_fails_on_finish(void)
{
	char msg[LB_ERR_MSG_MAX];
	uint8_t *frame;
	size_t flen;

	frame = compress_mem(sample, sample_len, 3, 0, &flen);
	CHECK(frame != NULL);
	/* cut in the middle, and just the 4-byte checksum off the end */
	if (!expect_corrupt(frame, flen / 2, "zstd frame is truncated", msg, sizeof(msg)) ||
	    !expect_corrupt(frame, flen - 4, "zstd frame is truncated", msg, sizeof(msg)) ||
	    !expect_corrupt(frame, 3, "zstd frame is truncated", msg, sizeof(msg)) ||
	    !expect_corrupt(frame, 0, "zstd stream is empty", msg, sizeof(msg))) {
		free(frame);
		TH_FAIL("wrong error: %s", msg);
	}
	free(frame);
}

static void
corrupt_frame_fails(void)
{
	char msg[LB_ERR_MSG_MAX];
	uint8_t *frame;
	size_t flen;
	int ok;

	frame = compress_mem(sample, sample_len, 3, 0, &flen);
	CHECK(frame != NULL);
	/* a flipped checksum byte: every block decodes, the checksum fails */
	frame[flen - 1] ^= 0x55;
	ok = expect_corrupt(frame, flen, "content checksum mismatch", msg, sizeof(msg));
	frame[flen - 1] ^= 0x55;
	if (!ok) {
		free(frame);
		TH_FAIL("checksum: wrong error: %s", msg);
	}
	/* bytes changed in the middle of the compressed data */
	memset(frame + flen / 3, 0xa5, 64);
	ok = expect_corrupt(frame, flen, "zstd frame is corrupt", msg, sizeof(msg));
	free(frame);
	if (!ok)
		TH_FAIL("middle: wrong error: %s", msg);
	/* not zstd at all */
	if (!expect_corrupt(sample, 4096, "not a zstd frame", msg, sizeof(msg)))
		TH_FAIL("plain: wrong error: %s", msg);
}

static void
trailing_garbage_fails(void)
{
	char msg[LB_ERR_MSG_MAX];
	uint8_t *frame, *two;
	size_t flen;
	struct lb_err err = { 0 };
	struct flt *mem = NULL;
	const uint8_t *d;
	size_t dlen;
	int ok;

	frame = compress_mem(sample, 100000, 3, 0, &flen);
	CHECK(frame != NULL);
	two = malloc(2 * flen + 16);
	memcpy(two, frame, flen);
	memcpy(two + flen, "garbage after the frame", 16);
	ok = expect_corrupt(two, flen + 16, "trailing garbage after frame 1", msg, sizeof(msg));
	/* even two bytes of it, while the start of a next frame's magic
	 * number is a truncated frame */
	ok = ok && expect_corrupt(two, flen + 2, "trailing garbage", msg, sizeof(msg));
	memcpy(two + flen, "\x28\xb5", 2);
	ok = ok && expect_corrupt(two, flen + 2, "truncated", msg, sizeof(msg));
	/* while two whole frames back to back are valid zstd */
	memcpy(two + flen, frame, flen);
	if (ok && decompress_mem(two, 2 * flen, &mem, &err) == 0) {
		d = flt_mem_data(mem, &dlen);
		ok = dlen == 200000 && memcmp(d, sample, 100000) == 0 &&
		    memcmp(d + 100000, sample, 100000) == 0;
	} else if (ok) {
		snprintf(msg, sizeof(msg), "%s", err.msg);
		ok = 0;
	}
	flt_free(mem);
	free(two);
	free(frame);
	if (!ok)
		TH_FAIL("wrong result: %s", msg);
}

/* A frame that declares a 1 GiB window (zstd --long=30 on a pipe) is
 * refused before anything large is allocated. */
static void
oversized_window_refused(void)
{
	char msg[LB_ERR_MSG_MAX], zst[128], cmd[512];
	uint8_t *frame;
	size_t flen = 0;
	int ok;

	snprintf(zst, sizeof(zst), "%s/long.zst", tmpdir);
	snprintf(cmd, sizeof(cmd),
	    "head -c 100000 /dev/zero | zstd -q --long=30 -c > %s", zst);
	CHECK_INT(system(cmd), ==, 0);
	CHECK((frame = read_file(zst, &flen)) != NULL);
	ok = expect_corrupt(frame, flen, "window larger than", msg, sizeof(msg));
	free(frame);
	if (!ok)
		TH_FAIL("wrong error: %s", msg);
}

/* 256 MiB of zeros (a decompression bomb in miniature) come out in
 * chunks no larger than libzstd's stream buffer. */
static void
output_chunks_are_bounded(void)
{
	struct lb_err err = { 0 };
	struct flt *sink = null_new(), *u = NULL;
	char zst[128], cmd[512];
	uint8_t *frame;
	size_t flen = 0;
	struct null_sink *ns = (struct null_sink *)sink;

	snprintf(zst, sizeof(zst), "%s/zeros.zst", tmpdir);
	snprintf(cmd, sizeof(cmd), "head -c 268435456 /dev/zero | zstd -q -1 -c > %s", zst);
	CHECK_INT(system(cmd), ==, 0);
	CHECK((frame = read_file(zst, &flen)) != NULL);
	CHECK_INT(flen, <, 100000);
	if (flt_unzstd_new(sink, &u, &err) < 0 || flt_write(u, frame, flen, &err) < 0 ||
	    flt_finish(u, &err) < 0) {
		free(frame);
		flt_free(u != NULL ? u : sink);
		TH_FAIL("decode: %s", err.msg);
	}
	free(frame);
	CHECK_INT(ns->bytes, ==, 268435456);
	CHECK_INT(ns->max_write, <=, 256 * 1024);
	flt_free(u);
}

/* compress-level auto: fed from memory as fast as it takes bytes, the
 * compressor is what holds the stream back, so the level goes down to
 * ZSTD_AUTO_LEVEL_MIN; fed at 3.3 MB/s (an upstream far slower than two
 * workers at level 3 even on a loaded machine, where a window of 1 MiB
 * takes 320 ms and the compressor would have to hold it back 40 ms) it
 * stays at ZSTD_AUTO_LEVEL_MAX.  Either frame
 * decodes to the input; without workers auto is the ceiling, fixed. */
static void
auto_level_follows_the_pipeline(void)
{
	size_t len = 24u << 20, off, n, flen, dlen;
	uint8_t *data = malloc(len), *frame;
	struct lb_err err = { 0 };
	struct flt *mem, *z = NULL, *out = NULL;
	struct zstd_levels lv;
	const uint8_t *d;
	struct timespec ts = { 0, 40 * 1000 * 1000 };

	CHECK(data != NULL);
	gen_etcd(data, len, 5);
	/* fast: the compressor is the bottleneck */
	mem = flt_mem_new((size_t)1 << 30);
	CHECK_OK(flt_zstd_new(ZSTD_LEVEL_AUTO, 2, mem, &z, &err), &err);
	CHECK_OK(feed(z, data, len, &err), &err);
	flt_zstd_levels(z, &lv);
	CHECK_INT(lv.adaptive, ==, 1);
	CHECK_INT(lv.max, ==, ZSTD_AUTO_LEVEL_MAX);
	CHECK_INT(lv.min, ==, ZSTD_AUTO_LEVEL_MIN);
	CHECK_INT(lv.most, <, ZSTD_AUTO_LEVEL_MAX);
	d = flt_mem_data(mem, &flen);
	frame = malloc(flen);
	CHECK(frame != NULL);
	memcpy(frame, d, flen);
	flt_free(z);
	CHECK_OK(decompress_mem(frame, flen, &out, &err), &err);
	d = flt_mem_data(out, &dlen);
	CHECK(dlen == len && memcmp(d, data, len) == 0);
	flt_free(out);
	free(frame);
	/* slow: 128 KiB every 40 ms, about 3.3 MB/s, 4 MiB in all */
	mem = null_new();
	CHECK_OK(flt_zstd_new(ZSTD_LEVEL_AUTO, 2, mem, &z, &err), &err);
	for (off = 0; off < (4u << 20); off += n) {
		n = 128u << 10;
		CHECK_OK(flt_write(z, data + off, n, &err), &err);
		nanosleep(&ts, NULL);
	}
	CHECK_OK(flt_finish(z, &err), &err);
	flt_zstd_levels(z, &lv);
	CHECK_INT(lv.most, ==, ZSTD_AUTO_LEVEL_MAX);
	flt_free(z);
	/* no workers: the ceiling, never changed */
	mem = null_new();
	CHECK_OK(flt_zstd_new(ZSTD_LEVEL_AUTO, 0, mem, &z, &err), &err);
	CHECK_OK(feed(z, data, 8u << 20, &err), &err);
	flt_zstd_levels(z, &lv);
	CHECK(lv.min == ZSTD_AUTO_LEVEL_MAX && lv.max == ZSTD_AUTO_LEVEL_MAX);
	flt_free(z);
	/* a fixed level is what it was told */
	mem = null_new();
	CHECK_OK(flt_zstd_new(5, 2, mem, &z, &err), &err);
	CHECK_OK(feed(z, data, 8u << 20, &err), &err);
	flt_zstd_levels(z, &lv);
	CHECK(lv.min == 5 && lv.max == 5 && lv.most == 5 && lv.adaptive == 0);
	flt_free(z);
	CHECK_INT(zstd_level_fixed(ZSTD_LEVEL_AUTO), ==, ZSTD_DEFAULT_LEVEL);
	CHECK_INT(zstd_level_fixed(7), ==, 7);
	free(data);
}

static void
bad_parameters_refused(void)
{
	struct lb_err err = { 0 };
	struct flt *sink = null_new(), *z = NULL;

	CHECK_INT(flt_zstd_new(-1, 0, sink, &z, &err), ==, LB_E_CONFIG);
	CHECK_STR(err.msg, "zstd level -1 is out of range 1..19");
	CHECK(z == NULL);
	CHECK_INT(flt_zstd_new(20, 0, sink, &z, &err), ==, LB_E_CONFIG);
	CHECK_INT(flt_zstd_new(3, -1, sink, &z, &err), ==, LB_E_CONFIG);
	CHECK_STR(err.msg, "zstd threads -1 is out of range 0..64");
	CHECK_INT(flt_zstd_new(3, 65, sink, &z, &err), ==, LB_E_CONFIG);
	/* the sink survives the failures and is still ours to free */
	CHECK_OK(flt_zstd_new(19, 64, sink, &z, &err), &err);
	CHECK_OK(flt_finish(z, &err), &err);
	flt_free(z);
}

/* bench */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench(size_t mib)
{
	static const int levels[] = { 1, 3, 6 };
	struct lb_err err = { 0 };
	size_t len = mib << 20, flen = 0;
	uint8_t *data = malloc(len), *frame = NULL;
	struct flt *sink, *z, *u;
	double t;
	int li, th;

	if (data == NULL)
		return 1;
	t = now();
	gen_etcd(data, len, 1);
	printf("generated %zu MiB of etcd-like data in %.1f s\n", mib, now() - t);
	printf("level threads  MB/s   ratio\n");
	for (li = 0; li < 3; li++) {
		for (th = 0; th <= 2; th++) {
			sink = null_new();
			if (flt_zstd_new(levels[li], th, sink, &z, &err) < 0)
				return 1;
			t = now();
			if (flt_write(z, data, len, &err) < 0 || flt_finish(z, &err) < 0) {
				fprintf(stderr, "bench: %s\n", err.msg);
				return 1;
			}
			t = now() - t;
			printf("%5d %7d %6.0f  x%.2f\n", levels[li], th,
			    (double)len / 1e6 / t,
			    (double)len / (double)((struct null_sink *)sink)->bytes);
			fflush(stdout);
			flt_free(z);
		}
	}
	frame = compress_mem(data, len, ZSTD_DEFAULT_LEVEL, ZSTD_DEFAULT_THREADS, &flen);
	sink = null_new();
	if (frame == NULL || flt_unzstd_new(sink, &u, &err) < 0)
		return 1;
	t = now();
	if (flt_write(u, frame, flen, &err) < 0 || flt_finish(u, &err) < 0)
		return 1;
	printf("decompress level %d: %.0f MB/s\n", ZSTD_DEFAULT_LEVEL,
	    (double)len / 1e6 / (now() - t));
	flt_free(u);
	free(frame);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	char cmd[64];
	int status;

	if (argc >= 2 && strcmp(argv[1], "bench") == 0)
		return bench(argc >= 3 ? (size_t)atoi(argv[2]) : 256);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_sample();
	RUN(roundtrip_single_thread_odd_writes);
	RUN(roundtrip_two_workers_odd_writes);
	RUN(roundtrip_empty_input);
	RUN(zstd_cli_reads_our_frame);
	RUN(our_decoder_reads_zstd_cli_frame);
	RUN(truncated_frame_fails_on_finish);
	RUN(corrupt_frame_fails);
	RUN(trailing_garbage_fails);
	RUN(oversized_window_refused);
	RUN(output_chunks_are_bounded);
	RUN(bad_parameters_refused);
	RUN(auto_level_follows_the_pipeline);
	free(sample);
	status = TH_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return status;
}
