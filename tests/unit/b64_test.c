/*
 * b64_test.c: common/b64.c against RFC 4648's test vectors, padded and
 * unpadded, and the non-canonical texts it must refuse.
 */
#include <string.h>

#include "common/b64.h"
#include "harness.h"

static const char *const vectors[][3] = {   /* bytes, padded, unpadded */
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void
rfc4648_vectors(void)
{
	char out[16];
	uint8_t back[16];
	size_t i, n, len;
	int pad;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		for (pad = 0; pad <= 1; pad++) {
			const char *want = vectors[i][pad ? 1 : 2];
			n = lb_b64_encode((const uint8_t *)vectors[i][0], strlen(vectors[i][0]), out, pad);
			CHECK_INT(n, ==, strlen(want));
			CHECK_INT(n, ==, LB_B64_LEN(strlen(vectors[i][0]), pad));
			CHECK(memcmp(out, want, n) == 0);
			CHECK_INT(lb_b64_decode(want, strlen(want), back, sizeof(back), &len, pad), ==, 0);
			CHECK_INT(len, ==, strlen(vectors[i][0]));
			CHECK(memcmp(back, vectors[i][0], len) == 0);
		}
	}
}

/* One byte string, one text: everything else is refused. */
static void
refuses_non_canonical(void)
{
	static const char *const padded_bad[] = {
		"Zh==", "Zm9=", "Zg", "Zg=", "Z===", "====", "Zg==Zg==", "Zm9v\n", "Zm 9v", "Zg=A",
	};
	static const char *const unpadded_bad[] = {
		"Zh", "Zm9", "Zg==", "Z", "Zm9vY", "Zm-v", "Zm_v",
	};
	uint8_t out[16];
	size_t i, len;

	for (i = 0; i < sizeof(padded_bad) / sizeof(padded_bad[0]); i++)
		CHECK_INT(lb_b64_decode(padded_bad[i], strlen(padded_bad[i]), out, sizeof(out),
		    &len, 1), ==, -1);
	for (i = 0; i < sizeof(unpadded_bad) / sizeof(unpadded_bad[0]); i++)
		CHECK_INT(lb_b64_decode(unpadded_bad[i], strlen(unpadded_bad[i]), out, sizeof(out),
		    &len, 0), ==, -1);
	/* within max, and not beyond */
	CHECK_INT(lb_b64_decode("Zm9vYmFy", 8, out, 6, &len, 1), ==, 0);
	CHECK_INT(lb_b64_decode("Zm9vYmFy", 8, out, 5, &len, 1), ==, -1);
	CHECK_INT(lb_b64_decode("Zm9vYg", 6, out, 3, &len, 0), ==, -1);
}

int
main(void)
{
	RUN(rfc4648_vectors);
	RUN(refuses_non_canonical);
	return TH_DONE();
}
