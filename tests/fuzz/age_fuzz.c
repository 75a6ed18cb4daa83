/*
 * age_fuzz.c: libFuzzer harness for the age decrypting filter
 * (flt_age_dec_new), the parser of the outside bytes a restore reads.
 *
 * The first input byte picks the size of the writes the rest is fed in,
 * so header lines, the nonce and chunks get split at every position.  The
 * identity is the one of the C2SP testkit, so the seed corpus (testkit
 * files and age CLI output for that key) reaches the payload code.
 * Invariants: no crash or leak, and never more plaintext out than bytes in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/age.h"

#define FUZZ_IDENTITY \
	"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0\n"

struct count_sink {
	struct flt base;
	size_t bytes;
};

static int
count_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	(void)buf;
	(void)err;
	((struct count_sink *)f)->bytes += len;
	return 0;
}

static void
count_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops count_ops = { "count", count_write, NULL, count_free };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct age_identity *id;
	static const size_t steps[8] = { 0, 1, 2, 3, 17, 64, 4096, 65553 };
	struct lb_err err = { 0 };
	struct count_sink *sink;
	struct flt *f = NULL;
	size_t step, off = 0, take;
	int r = 0;

	if (id == NULL && age_identity_parse(FUZZ_IDENTITY, &id, &err) != 0)
		abort();
	if (size == 0)
		return 0;
	step = steps[data[0] & 7];
	data++;
	size--;
	if ((sink = calloc(1, sizeof(*sink))) == NULL)
		return 0;
	sink->base.ops = &count_ops;
	if (flt_age_dec_new(id, &sink->base, &f, &err) != 0) {
		free(sink);
		return 0;
	}
	while (r == 0 && off < size) {
		take = step == 0 || step > size - off ? size - off : step;
		r = flt_write(f, data + off, take, &err);
		off += take;
	}
	if (r == 0)
		r = flt_finish(f, &err);
	if (sink->bytes > size || (r != 0 && err.msg[0] == '\0'))
		abort();
	flt_free(f);
	return 0;
}
