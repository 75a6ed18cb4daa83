/*
 * age_test.c: tests of the age module (stream/age.h): Bech32 keys and
 * identity files, encrypt/decrypt round trips through the filter chain in
 * odd write sizes, tampering and truncation, and the C2SP testkit vectors
 * in tests/unit/age_testkit (the zlib-compressed ones stored inflated).
 *
 * With arguments it is also the tests-only tool that
 * tests/integration/age_test.sh drives against the real age CLI:
 *   age_test enc RECIPIENT... <plain >file.age
 *   age_test dec IDENTITY-FILE <file.age >plain
 *   age_test bench [MIB]      encryption throughput into a null sink
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "stream/age.h"
#include "tests/harness.h"

#define TESTKIT_DIR "tests/unit/age_testkit"
#define OUT_MAX (64u << 20)

/* From the age specification (c2sp.org/age): an identity and its
 * recipient; the fingerprint was computed independently (python). */
#define SPEC_IDENTITY \
	"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
#define SPEC_RECIPIENT \
	"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
#define SPEC_FINGERPRINT "sha256:82dab32a9aedffb4"

struct key {
	struct age_identity *id;
	struct age_recipient *rcpt;
};

static void
key_free(struct key *k)
{
	age_identity_free(k->id);
	age_recipient_free(k->rcpt);
	k->id = NULL;
	k->rcpt = NULL;
}

static int
key_new(struct key *k)
{
	struct lb_err err = { 0 };
	char *text = NULL, *r = NULL;
	int rc;

	k->id = NULL;
	k->rcpt = NULL;
	rc = age_keygen(&text, &r, &err);
	if (rc == 0)
		rc = age_identity_parse(text, &k->id, &err);
	if (rc == 0)
		rc = age_recipient_parse(r, &k->rcpt, &err);
	if (rc != 0)
		fprintf(stdout, "# key_new: %s\n", err.msg);
	free(r);
	lb_secret_free(text);
	return rc;
}

/* Feeds in through a fresh stage (enc if id is NULL) in writes of step
 * bytes (0: all at once; steps cycle through a list of odd sizes if
 * step == SIZE_MAX).  Returns the stage's result; *out gets a malloc'd
 * copy of whatever reached the sink, even on failure. */
static int
run_filter(struct age_recipient *const *rcpts, size_t n,
    const struct age_identity *id, const uint8_t *in, size_t len, size_t step,
    uint8_t **out, size_t *outlen, struct lb_err *err)
{
	static const size_t odd[] = { 1, 7777, 65536, 3, 131073, 16, 65552, 2 };
	struct flt *sink, *f = NULL;
	const uint8_t *data;
	size_t off = 0, take, k = 0, dlen;
	int r;

	lb_err_clear(err);
	*out = NULL;
	*outlen = 0;
	sink = flt_mem_new(OUT_MAX);
	r = id == NULL ? flt_age_enc_new(rcpts, n, sink, &f, err) :
	    flt_age_dec_new(id, sink, &f, err);
	if (r < 0) {
		flt_free(sink);
		return r;
	}
	while (r == 0 && off < len) {
		take = step == 0 ? len : step == SIZE_MAX ? odd[k++ % 8] : step;
		if (take > len - off)
			take = len - off;
		r = flt_write(f, in + off, take, err);
		off += take;
	}
	if (r == 0)
		r = flt_finish(f, err);
	data = flt_mem_data(sink, &dlen);
	*out = malloc(dlen + 1);
	if (dlen > 0)
		memcpy(*out, data, dlen);
	*outlen = dlen;
	flt_free(f);
	return r;
}

static uint8_t *
pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len + 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

static void
test_spec_key_vector(void)
{
	struct lb_err err = { 0 };
	struct age_identity *id = NULL;
	struct age_recipient *r = NULL, *r2 = NULL;
	char fp[AGE_FINGERPRINT_LEN];

	CHECK_OK(age_identity_parse("# from the spec\n" SPEC_IDENTITY "\n", &id,
	    &err), &err);
	CHECK_INT(age_identity_count(id), ==, 1);
	CHECK_OK(age_identity_recipient(id, 0, &r, &err), &err);
	CHECK_STR(age_recipient_string(r), SPEC_RECIPIENT);
	CHECK_OK(age_recipient_parse(SPEC_RECIPIENT, &r2, &err), &err);
	CHECK_STR(age_recipient_string(r2), SPEC_RECIPIENT);
	age_recipient_fingerprint(r2, fp);
	CHECK_STR(fp, SPEC_FINGERPRINT);
	age_identity_free(id);
	age_recipient_free(r);
	age_recipient_free(r2);
}

static void
test_bech32_round_trip_and_errors(void)
{
	struct lb_err err = { 0 };
	struct age_recipient *r = NULL;
	struct age_identity *id = NULL;
	char *text = NULL, *rcpt = NULL, bad[128], *line;
	int i;

	CHECK_OK(age_keygen(&text, &rcpt, &err), &err);
	CHECK_CONTAINS(text, "# created: ");
	CHECK_CONTAINS(text, "# public key: ");
	CHECK_CONTAINS(text, rcpt);
	CHECK_OK(age_recipient_parse(rcpt, &r, &err), &err);
	CHECK_STR(age_recipient_string(r), rcpt);
	age_recipient_free(r);
	r = NULL;
	/* Every single-character change breaks the checksum. */
	for (i = 4; (size_t)i < strlen(rcpt); i += 7) {
		snprintf(bad, sizeof(bad), "%s", rcpt);
		bad[i] = bad[i] == 'q' ? 'p' : 'q';
		CHECK_INT(age_recipient_parse(bad, &r, &err), ==, LB_E_CONFIG);
		CHECK(r == NULL);
	}
	snprintf(bad, sizeof(bad), "%s", rcpt);
	bad[10] = 'z' == bad[10] ? 'x' : 'z';
	CHECK_INT(age_recipient_parse(bad, &r, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "checksum");
	/* Mixed case, truncation, a secret key as recipient. */
	snprintf(bad, sizeof(bad), "%s", rcpt);
	bad[5] = 'A';
	CHECK_INT(age_recipient_parse(bad, &r, &err), ==, LB_E_CONFIG);
	snprintf(bad, sizeof(bad), "%s", rcpt);
	bad[strlen(bad) - 8] = '\0';
	CHECK_INT(age_recipient_parse(bad, &r, &err), ==, LB_E_CONFIG);
	CHECK_INT(age_recipient_parse(SPEC_IDENTITY, &r, &err), ==, LB_E_CONFIG);
	/* A corrupted key line is refused without being quoted. */
	line = strstr(text, "AGE-SECRET-KEY-1");
	CHECK(line != NULL);
	line[30] = line[30] == 'Q' ? 'P' : 'Q';
	CHECK_INT(age_identity_parse(text, &id, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "line 3");
	CHECK(strstr(err.msg, "AGE-SECRET-KEY-1") == NULL);
	CHECK(id == NULL);
	free(rcpt);
	lb_secret_free(text);
}

static void
test_identity_file_format(void)
{
	struct lb_err err = { 0 };
	struct age_identity *id = NULL;
	struct age_recipient *r = NULL;
	char *t1 = NULL, *t2 = NULL, *r1 = NULL, *r2 = NULL, buf[1024];

	CHECK_OK(age_keygen(&t1, &r1, &err), &err);
	CHECK_OK(age_keygen(&t2, &r2, &err), &err);
	/* Two age-keygen files concatenated, blank lines, CRLF endings. */
	snprintf(buf, sizeof(buf), "%s\n\r\n%s", t1, t2);
	CHECK_OK(age_identity_parse(buf, &id, &err), &err);
	CHECK_INT(age_identity_count(id), ==, 2);
	CHECK_OK(age_identity_recipient(id, 1, &r, &err), &err);
	CHECK_STR(age_recipient_string(r), r2);
	age_identity_free(id);
	id = NULL;
	CHECK_INT(age_identity_parse("# only a comment\n\n", &id, &err), ==,
	    LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "no AGE-SECRET-KEY");
	CHECK_INT(age_identity_parse("hello\n", &id, &err), ==, LB_E_CONFIG);
	CHECK_INT(age_identity_parse("AGE-PLUGIN-YUBIKEY-1ABC\n", &id, &err), ==,
	    LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "plugin");
	CHECK_INT(age_identity_parse(" " SPEC_IDENTITY "\n", &id, &err), ==,
	    LB_E_CONFIG);
	CHECK_INT(age_identity_parse("age-secret-key-1gfpyysjzgfpyysjzgfpyysjzg"
	    "fpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex\n", &id, &err), ==,
	    LB_E_CONFIG);
	CHECK(id == NULL);
	age_recipient_free(r);
	free(r1);
	free(r2);
	lb_secret_free(t1);
	lb_secret_free(t2);
}

static void
test_identity_load_file(void)
{
	struct lb_err err = { 0 };
	struct age_identity *id = NULL;
	char path[] = "/tmp/lifeboat-age-test.XXXXXX";
	char *text = NULL, *rcpt = NULL;
	int fd;

	CHECK_OK(age_keygen(&text, &rcpt, &err), &err);
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CHECK_OK(age_identity_load(path, &id, &err), &err);
	CHECK_INT(age_identity_count(id), ==, 1);
	age_identity_free(id);
	unlink(path);
	CHECK_INT(age_identity_load(path, &id, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, path);
	free(rcpt);
	lb_secret_free(text);
}

static void
test_round_trip_sizes(void)
{
	static const size_t sizes[] = {
		0, 1, 65535, 65536, 65537, 3 * 65536, (1u << 20) + 7
	};
	static const size_t steps[] = { 0, 1, 7777, SIZE_MAX };
	struct lb_err err = { 0 };
	struct key k;
	uint8_t *in, *enc, *dec;
	size_t i, j, elen, dlen, chunks;

	CHECK(key_new(&k) == 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		in = pattern(sizes[i], (unsigned)i);
		for (j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			/* Byte-at-a-time only where it stays quick. */
			if (steps[j] == 1 && sizes[i] > 3 * 65536)
				continue;
			if (run_filter(&k.rcpt, 1, NULL, in, sizes[i], steps[j], &enc,
			    &elen, &err) != 0)
				TH_FAIL("encrypt %zu step %zu: %s", sizes[i], steps[j],
				    err.msg);
			/* Header, nonce, and one tag per chunk; an empty plaintext
			 * still has one (empty) chunk, a full last chunk no extra. */
			chunks = sizes[i] == 0 ? 1 : (sizes[i] + 65535) / 65536;
			CHECK(elen > sizes[i] + 16 * chunks + 16);
			CHECK(memcmp(enc, "age-encryption.org/v1\n-> X25519 ", 32) == 0);
			if (run_filter(NULL, 0, k.id, enc, elen, steps[j], &dec, &dlen,
			    &err) != 0)
				TH_FAIL("decrypt %zu step %zu: %s", sizes[i], steps[j],
				    err.msg);
			CHECK_INT(dlen, ==, sizes[i]);
			CHECK(sizes[i] == 0 || memcmp(dec, in, dlen) == 0);
			free(enc);
			free(dec);
		}
		free(in);
	}
	key_free(&k);
}

static void
test_two_recipients_each_opens(void)
{
	struct lb_err err = { 0 };
	struct key a, b, c;
	struct age_recipient *both[2];
	uint8_t *in = pattern(100000, 7), *enc, *dec;
	size_t elen, dlen;

	CHECK(key_new(&a) == 0 && key_new(&b) == 0 && key_new(&c) == 0);
	both[0] = a.rcpt;
	both[1] = b.rcpt;
	CHECK_OK(run_filter(both, 2, NULL, in, 100000, 4096, &enc, &elen, &err),
	    &err);
	CHECK_OK(run_filter(NULL, 0, a.id, enc, elen, 0, &dec, &dlen, &err), &err);
	CHECK(dlen == 100000 && memcmp(dec, in, dlen) == 0);
	free(dec);
	CHECK_OK(run_filter(NULL, 0, b.id, enc, elen, 0, &dec, &dlen, &err), &err);
	CHECK(dlen == 100000 && memcmp(dec, in, dlen) == 0);
	free(dec);
	/* A third key does not, and nothing comes out. */
	CHECK_INT(run_filter(NULL, 0, c.id, enc, elen, 0, &dec, &dlen, &err), ==,
	    LB_E_CRYPTO);
	CHECK_CONTAINS(err.msg, "wrong identity");
	CHECK_CONTAINS(err.msg, "hint:");
	CHECK_INT(dlen, ==, 0);
	free(dec);
	free(enc);
	free(in);
	key_free(&a);
	key_free(&b);
	key_free(&c);
}

static void
test_multi_key_identity(void)
{
	struct lb_err err = { 0 };
	struct age_identity *id = NULL;
	struct age_recipient *r = NULL;
	char *t1 = NULL, *t2 = NULL, *r1 = NULL, *r2 = NULL, buf[1024];
	uint8_t *enc, *dec;
	size_t elen, dlen;

	CHECK_OK(age_keygen(&t1, &r1, &err), &err);
	CHECK_OK(age_keygen(&t2, &r2, &err), &err);
	snprintf(buf, sizeof(buf), "%s%s", t1, t2);
	CHECK_OK(age_identity_parse(buf, &id, &err), &err);
	/* Encrypted to the second key only: the identity still opens it. */
	CHECK_OK(age_recipient_parse(r2, &r, &err), &err);
	CHECK_OK(run_filter(&r, 1, NULL, (const uint8_t *)"hello", 5, 0, &enc,
	    &elen, &err), &err);
	CHECK_OK(run_filter(NULL, 0, id, enc, elen, 0, &dec, &dlen, &err), &err);
	CHECK(dlen == 5 && memcmp(dec, "hello", 5) == 0);
	free(enc);
	free(dec);
	age_identity_free(id);
	age_recipient_free(r);
	free(r1);
	free(r2);
	lb_secret_free(t1);
	lb_secret_free(t2);
}

/* Offset of the payload nonce: just after the "--- mac" line. */
static size_t
payload_offset(const uint8_t *enc, size_t elen)
{
	const uint8_t *p = enc, *nl;

	while ((nl = memchr(p, '\n', elen - (size_t)(p - enc))) != NULL) {
		if (memcmp(p, "---", 3) == 0)
			return (size_t)(nl - enc) + 1;
		p = nl + 1;
	}
	return 0;
}

static void
test_truncation_fails(void)
{
	struct lb_err err = { 0 };
	struct key k;
	const size_t len = 3 * 65536 + 5;
	uint8_t *in = pattern(len, 3), *enc, *dec;
	size_t elen, dlen, hdr, cuts[10], i;
	int r;

	CHECK(key_new(&k) == 0);
	CHECK_OK(run_filter(&k.rcpt, 1, NULL, in, len, 0, &enc, &elen, &err), &err);
	hdr = payload_offset(enc, elen);
	CHECK(hdr > 0);
	cuts[0] = 0;
	cuts[1] = 30;                       /* inside the header */
	cuts[2] = hdr - 1;                  /* mac line without its LF */
	cuts[3] = hdr;                      /* no nonce */
	cuts[4] = hdr + 16;                 /* nonce, no chunk */
	cuts[5] = hdr + 16 + 1000;          /* inside the first chunk */
	cuts[6] = hdr + 16 + 65552;         /* at a chunk boundary */
	cuts[7] = hdr + 16 + 3 * 65552;     /* all full chunks, no final one */
	cuts[8] = elen - 1;                 /* one byte short */
	cuts[9] = hdr + 16 + 2 * 65552 + 8; /* inside the third chunk's start */
	for (i = 0; i < 10; i++) {
		r = run_filter(NULL, 0, k.id, enc, cuts[i], 7777, &dec, &dlen, &err);
		if (r != LB_E_CORRUPT)
			TH_FAIL("cut at %zu of %zu: got %d (%s)", cuts[i], elen, r,
			    err.msg);
		/* What came out is authentic: a prefix, and short of the end. */
		CHECK(dlen < len && (dlen == 0 || memcmp(dec, in, dlen) == 0));
		free(dec);
	}
	CHECK_INT(run_filter(NULL, 0, k.id, enc, cuts[6], 0, &dec, &dlen, &err), ==,
	    LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "truncated");
	free(dec);
	free(enc);
	free(in);
	key_free(&k);
}

static void
test_tampering_fails(void)
{
	struct lb_err err = { 0 };
	struct key k;
	const size_t len = 3 * 65536 + 100;
	uint8_t *in = pattern(len, 5), *enc, *dec, *bad, *tmp;
	size_t elen, dlen, hdr, c0;
	int r;

	CHECK(key_new(&k) == 0);
	CHECK_OK(run_filter(&k.rcpt, 1, NULL, in, len, 0, &enc, &elen, &err), &err);
	hdr = payload_offset(enc, elen);
	bad = malloc(elen);

	/* The version line. */
	memcpy(bad, enc, elen);
	bad[5] ^= 1;
	r = run_filter(NULL, 0, k.id, bad, elen, 0, &dec, &dlen, &err);
	CHECK_INT(r, ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "not an age file");
	free(dec);
	/* The wrapped file key: the stanza no longer opens. */
	memcpy(bad, enc, elen);
	bad[hdr - 49 - 10] ^= 0x01;
	r = run_filter(NULL, 0, k.id, bad, elen, 0, &dec, &dlen, &err);
	CHECK(r == LB_E_CRYPTO || r == LB_E_CORRUPT);
	CHECK_INT(dlen, ==, 0);
	free(dec);
	/* The MAC itself ('A' <-> 'B' keeps the base64 valid). */
	memcpy(bad, enc, elen);
	bad[hdr - 10] = bad[hdr - 10] == 'A' ? 'B' : 'A';
	r = run_filter(NULL, 0, k.id, bad, elen, 0, &dec, &dlen, &err);
	CHECK_INT(r, ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "mac does not match");
	CHECK_INT(dlen, ==, 0);
	free(dec);
	/* The payload nonce, then a byte of each chunk. */
	memcpy(bad, enc, elen);
	bad[hdr + 3] ^= 0x80;
	CHECK_INT(run_filter(NULL, 0, k.id, bad, elen, 0, &dec, &dlen, &err), ==,
	    LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "chunk 0");
	CHECK_INT(dlen, ==, 0);
	free(dec);
	for (c0 = 0; c0 < 4; c0++) {
		memcpy(bad, enc, elen);
		bad[hdr + 16 + c0 * 65552 + 40] ^= 0x04;
		CHECK_INT(run_filter(NULL, 0, k.id, bad, elen, 1000, &dec, &dlen,
		    &err), ==, LB_E_CORRUPT);
		CHECK_CONTAINS(err.msg, "failed authentication");
		CHECK_INT(dlen, ==, c0 * 65536);
		free(dec);
	}
	/* Chunks 0 and 1 swapped. */
	memcpy(bad, enc, elen);
	tmp = malloc(65552);
	memcpy(tmp, bad + hdr + 16, 65552);
	memcpy(bad + hdr + 16, bad + hdr + 16 + 65552, 65552);
	memcpy(bad + hdr + 16 + 65552, tmp, 65552);
	free(tmp);
	CHECK_INT(run_filter(NULL, 0, k.id, bad, elen, 0, &dec, &dlen, &err), ==,
	    LB_E_CORRUPT);
	CHECK_INT(dlen, ==, 0);
	free(dec);
	/* Trailing bytes after the final chunk. */
	tmp = malloc(elen + 20);
	memcpy(tmp, enc, elen);
	memset(tmp + elen, 0, 20);
	CHECK_INT(run_filter(NULL, 0, k.id, tmp, elen + 20, 0, &dec, &dlen, &err),
	    ==, LB_E_CORRUPT);
	free(dec);
	free(tmp);
	free(bad);
	free(enc);
	free(in);
	key_free(&k);
}

static void
test_full_final_chunk_then_trailing_data(void)
{
	struct lb_err err = { 0 };
	struct key k;
	uint8_t *in = pattern(65536, 9), *enc, *dec, *more;
	size_t elen, dlen;

	CHECK(key_new(&k) == 0);
	CHECK_OK(run_filter(&k.rcpt, 1, NULL, in, 65536, 0, &enc, &elen, &err),
	    &err);
	/* A full final chunk: exactly one chunk, no empty one after it. */
	CHECK_INT(elen - payload_offset(enc, elen), ==, 16 + 65552);
	more = malloc(elen + 1);
	memcpy(more, enc, elen);
	more[elen] = 'x';
	CHECK_INT(run_filter(NULL, 0, k.id, more, elen + 1, 0, &dec, &dlen, &err),
	    ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "trailing data");
	free(dec);
	free(more);
	free(enc);
	free(in);
	key_free(&k);
}

static void
test_not_age_rejected_early(void)
{
	struct lb_err err = { 0 };
	struct key k;
	struct flt *f = NULL;

	CHECK(key_new(&k) == 0);
	CHECK_OK(flt_age_dec_new(k.id, flt_mem_new(1024), &f, &err), &err);
	/* The first bytes of a zstd frame are refused on the spot. */
	CHECK_INT(flt_write(f, "\x28\xb5\x2f\xfd", 4, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "not an age file");
	CHECK_INT(flt_finish(f, &err), ==, LB_E_CORRUPT);
	flt_free(f);
	key_free(&k);
}

/* testkit vectors */

static int
hex_sha256(const uint8_t *p, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];
	unsigned int n = 0;
	int i;

	if (EVP_Digest(p, len, d, &n, EVP_sha256(), NULL) != 1)
		return -1;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Runs one vector; returns NULL or why it failed. */
static const char *
testkit_one(const char *path, size_t step, char *why, size_t whysz)
{
	struct lb_err err = { 0 };
	struct age_identity *id = NULL;
	char expect[64] = "", payload[65] = "", idtext[1024] = "", got[65];
	uint8_t *buf, *dec = NULL;
	size_t len, off = 0, dlen = 0, nl;
	int r, want;

	if ((buf = read_all(path, &len)) == NULL)
		return "cannot read";
	/* "key: value" lines up to an empty line, then the age file. */
	while (off < len && buf[off] != '\n') {
		char line[256];

		nl = (size_t)((uint8_t *)memchr(buf + off, '\n', len - off) - buf);
		snprintf(line, sizeof(line), "%.*s", (int)(nl - off), buf + off);
		if (strncmp(line, "expect: ", 8) == 0)
			snprintf(expect, sizeof(expect), "%.60s", line + 8);
		else if (strncmp(line, "payload: ", 9) == 0)
			snprintf(payload, sizeof(payload), "%.64s", line + 9);
		else if (strncmp(line, "identity: ", 10) == 0)
			snprintf(idtext + strlen(idtext), sizeof(idtext) - strlen(idtext),
			    "%s\n", line + 10);
		else if (strncmp(line, "armored: ", 9) == 0 ||
		    strncmp(line, "passphrase: ", 12) == 0 ||
		    strncmp(line, "compressed: ", 12) == 0) {
			free(buf);
			return NULL;  /* features lifeboat does not have */
		}
		off = nl + 1;
	}
	off++;
	if (idtext[0] == '\0')  /* a vector that fails before any key is used */
		snprintf(idtext, sizeof(idtext), "%s\n", SPEC_IDENTITY);
	if (age_identity_parse(idtext, &id, &err) != 0) {
		snprintf(why, whysz, "identity: %s", err.msg);
		free(buf);
		return why;
	}
	r = run_filter(NULL, 0, id, buf + off, len - off, step, &dec, &dlen, &err);
	want = strcmp(expect, "success") == 0 ? 0 :
	    strcmp(expect, "no match") == 0 ? LB_E_CRYPTO : LB_E_CORRUPT;
	hex_sha256(dec, dlen, got);
	if (r != want)
		snprintf(why, whysz, "expect %s, got %d: %s", expect, r, err.msg);
	else if ((r == 0 || strcmp(expect, "payload failure") == 0) &&
	    strcmp(got, payload) != 0)
		snprintf(why, whysz, "expect %s: payload hash %s, want %s (%zu bytes)",
		    expect, got, payload, dlen);
	else if (r != 0 && strcmp(expect, "payload failure") != 0 && dlen != 0)
		snprintf(why, whysz, "%zu bytes released on a header failure", dlen);
	else
		why = NULL;
	age_identity_free(id);
	free(dec);
	free(buf);
	return why;
}

static void
test_c2sp_testkit(void)
{
	static const size_t steps[] = { 0, 1, 7777, SIZE_MAX };
	char path[512], why[600];
	struct dirent *de;
	const char *w;
	int n = 0;
	size_t i;
	DIR *dir;

	CHECK((dir = opendir(TESTKIT_DIR)) != NULL);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", TESTKIT_DIR, de->d_name);
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			if ((w = testkit_one(path, steps[i], why, sizeof(why))) != NULL) {
				closedir(dir);
				TH_FAIL("%s (step %zu): %s", de->d_name, steps[i], w);
			}
		}
		n++;
	}
	closedir(dir);
	/* The vectors are data in the tree: make sure they were all found. */
	CHECK_INT(n, >=, 60);
}

/* tool mode for the integration test */

static int
tool_pump(struct flt *f, struct lb_err *err)
{
	static uint8_t buf[1 << 20];
	ssize_t n;
	int r;

	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lb_err_sys(err, LB_E_IO, errno, "read stdin");
		if (n == 0)
			break;
		if ((r = flt_write(f, buf, (size_t)n, err)) < 0)
			return r;
	}
	return flt_finish(f, err);
}

static int
tool_main(int argc, char **argv)
{
	struct age_recipient *rcpts[64];
	struct age_identity *id = NULL;
	struct lb_err err = { 0 };
	struct flt *sink, *f = NULL;
	size_t n = 0;
	int i, r = 0;

	sink = flt_fd_new(1, "stdout");
	if (strcmp(argv[1], "enc") == 0) {
		for (i = 2; i < argc && n < 64 && r == 0; i++)
			r = age_recipient_parse(argv[i], &rcpts[n++], &err);
		if (r == 0)
			r = flt_age_enc_new(rcpts, n, sink, &f, &err);
		while (n > 0)
			age_recipient_free(rcpts[--n]);
	} else if (strcmp(argv[1], "dec") == 0 && argc == 3) {
		r = age_identity_load(argv[2], &id, &err);
		if (r == 0)
			r = flt_age_dec_new(id, sink, &f, &err);
	} else {
		fprintf(stderr, "usage: age_test [enc RECIPIENT... | dec IDENTITY | "
		    "bench [MIB]]\n");
		flt_free(sink);
		return 2;
	}
	if (r == 0) {
		r = tool_pump(f, &err);
		flt_free(f);
	} else {
		flt_free(sink);
	}
	age_identity_free(id);
	if (r != 0)
		fprintf(stderr, "age_test: %s: %s\n", lb_err_name(r), err.msg);
	return r == 0 ? 0 : 1;
}

/* A sink that drops everything, to time the encryption alone. */
static int
null_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	(void)f;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

static void
null_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops null_ops = { "null", null_write, NULL, null_free };

static double
cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Pushes mib MiB through chain f in writes of 1 MiB or 1 MiB - 1 bytes (so
 * the stages work off chunk boundaries); returns cpu seconds or -1. */
static double
bench_run(struct flt *f, size_t mib, const uint8_t *buf)
{
	struct lb_err err = { 0 };
	double t = cpu_seconds();
	size_t i;

	for (i = 0; i < mib; i++)
		if (flt_write(f, buf + (i & 1), (1 << 20) - (i & 1), &err) != 0)
			return -1;
	if (flt_finish(f, &err) != 0)
		return -1;
	return cpu_seconds() - t;
}

static struct flt *
null_new(void)
{
	struct flt *f = calloc(1, sizeof(*f));

	f->ops = &null_ops;
	return f;
}

/* CPU time, not wall time: on a shared machine the wall clock says little.
 * The second figure is encryption and decryption chained. */
static int
bench_main(int argc, char **argv)
{
	size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
	struct lb_err err = { 0 };
	struct flt *f = NULL, *d = NULL;
	uint8_t *buf = pattern(1 << 20, 1);
	double enc, both;
	struct key k;

	if (key_new(&k) != 0 || flt_age_enc_new(&k.rcpt, 1, null_new(), &f,
	    &err) != 0 || (enc = bench_run(f, mib, buf)) < 0)
		return 1;
	flt_free(f);
	if (flt_age_dec_new(k.id, null_new(), &d, &err) != 0 ||
	    flt_age_enc_new(&k.rcpt, 1, d, &f, &err) != 0 ||
	    (both = bench_run(f, mib, buf)) < 0)
		return 1;
	flt_free(f);
	printf("age encrypt: %zu MiB in %.3f s cpu = %.0f MB/s per core\n", mib,
	    enc, (double)mib * 1048576.0 / enc / 1e6);
	printf("age decrypt: %zu MiB in %.3f s cpu = %.0f MB/s per core\n", mib,
	    both - enc, (double)mib * 1048576.0 / (both - enc) / 1e6);
	key_free(&k);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench_main(argc, argv);
	if (argc > 1)
		return tool_main(argc, argv);
	RUN(test_spec_key_vector);
	RUN(test_bech32_round_trip_and_errors);
	RUN(test_identity_file_format);
	RUN(test_identity_load_file);
	RUN(test_round_trip_sizes);
	RUN(test_two_recipients_each_opens);
	RUN(test_multi_key_identity);
	RUN(test_truncation_fails);
	RUN(test_tampering_fails);
	RUN(test_full_final_chunk_then_trailing_data);
	RUN(test_not_age_rejected_early);
	RUN(test_c2sp_testkit);
	return TH_DONE();
}
