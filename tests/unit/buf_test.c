/*
 * buf_test.c: bounded buffers and vectors (common/buf.h): they grow, they
 * stop at their maximum, and a failure sticks.
 */
#include "harness.h"
#include "common/buf.h"
#include "common/err.h"

static void
text_grows_and_reads_back(void)
{
	struct lb_buf b;
	int i;

	lb_buf_init(&b, 1 << 20);
	CHECK_STR(lb_buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		CHECK_INT(lb_buf_addf(&b, "%d,", i), ==, 0);
	CHECK_INT(b.len, ==, 3890);
	CHECK(strncmp(lb_buf_str(&b), "0,1,2,", 6) == 0);
	CHECK(strcmp(lb_buf_str(&b) + b.len - 4, "999,") == 0);
	lb_buf_reset(&b);
	CHECK_INT(lb_buf_addstr(&b, "again"), ==, 0);
	CHECK_STR(lb_buf_str(&b), "again");
	lb_buf_free(&b);
}

static void
the_maximum_holds_and_the_error_sticks(void)
{
	struct lb_buf b;
	char *p;

	lb_buf_init(&b, 10);
	CHECK_INT(lb_buf_add(&b, "0123456789", 10), ==, 0);
	CHECK_INT(b.cap, <=, 11);
	CHECK_INT(lb_buf_add(&b, "x", 1), ==, LB_E_NOMEM);
	CHECK_INT(b.too_big, ==, 1);
	CHECK_STR(lb_buf_str(&b), "0123456789");
	lb_buf_free(&b);
	/* sticky: even what would fit is refused now */
	CHECK_INT(lb_buf_addf(&b, "%s", "01234567890"), ==, LB_E_NOMEM);
	CHECK_INT(lb_buf_add(&b, "a", 1), ==, LB_E_NOMEM);
	CHECK_INT(b.len, ==, 0);
	lb_buf_free(&b);
	lb_buf_init(&b, 10);
	CHECK_INT(lb_buf_addstr(&b, "kept"), ==, 0);
	p = lb_buf_take(&b);
	CHECK_STR(p, "kept");
	CHECK(b.p == NULL && b.len == 0);
	free(p);
}

static void
vectors_grow_to_their_maximum(void)
{
	int *v = NULL;
	size_t n = 0, cap = 0;

	while (n < 100) {
		CHECK_INT(lb_vec_grow(&v, &cap, n, sizeof(*v), 100), ==, 0);
		CHECK_INT(cap, >, n);
		v[n] = (int)n;
		n++;
	}
	CHECK_INT(cap, ==, 100);
	CHECK_INT(lb_vec_grow(&v, &cap, n, sizeof(*v), 100), ==, LB_E_NOMEM);
	CHECK_INT(cap, ==, 100);
	CHECK_INT(v[99], ==, 99);
	free(v);
}

/* A maximum of SIZE_MAX means "no maximum of its own": it must neither
 * wrap the capacity to 0 nor refuse small text. */
static void
the_largest_maximum_does_not_wrap(void)
{
	struct lb_buf b;
	char *v = NULL;
	size_t cap = 0;
	int i;

	lb_buf_init(&b, SIZE_MAX);
	for (i = 0; i < 100; i++)
		CHECK_INT(lb_buf_addstr(&b, "0123456789"), ==, 0);
	CHECK_INT(b.len, ==, 1000);
	CHECK_INT(b.cap, >, 1000);
	lb_buf_free(&b);
	CHECK_INT(lb_vec_grow(&v, &cap, 0, 1, SIZE_MAX), ==, 0);
	CHECK_INT(cap, ==, 8);
	free(v);
}

int
main(void)
{
	RUN(text_grows_and_reads_back);
	RUN(the_maximum_holds_and_the_error_sticks);
	RUN(vectors_grow_to_their_maximum);
	RUN(the_largest_maximum_does_not_wrap);
	return TH_DONE();
}
