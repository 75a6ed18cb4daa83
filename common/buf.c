/*
 * buf.c: bounded growable buffers and vectors (buf.h).
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define BUF_MIN_CAP 256

void
lb_buf_init(struct lb_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Room for len more bytes and the NUL, or the sticky error. */
static int
reserve(struct lb_buf *b, size_t len)
{
	size_t cap, need;
	char *p;

	if (b->err != 0)
		return b->err;
	if (len > b->max - b->len) {
		b->too_big = 1;
		return b->err = LB_E_NOMEM;
	}
	need = b->len + len;
	/* the NUL must fit too (only a max of SIZE_MAX gets here) */
	if (need == SIZE_MAX)
		return b->err = LB_E_NOMEM;
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : BUF_MIN_CAP;
	while (cap < need + 1)
		cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
	/* never more than the maximum needs (written so that a max of
	 * SIZE_MAX does not wrap to 0) */
	if (cap - 1 > b->max)
		cap = b->max + 1;
	if ((p = realloc(b->p, cap)) == NULL)
		return b->err = LB_E_NOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
lb_buf_add(struct lb_buf *b, const void *data, size_t len)
{
	int r;

	if ((r = reserve(b, len)) < 0)
		return r;
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int
lb_buf_addstr(struct lb_buf *b, const char *s)
{
	return lb_buf_add(b, s, strlen(s));
}

int
lb_buf_addf(struct lb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	if (b->err != 0)
		return b->err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->err = LB_E_NOMEM;
	if ((r = reserve(b, (size_t)n)) < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *
lb_buf_str(const struct lb_buf *b)
{
	return b->p != NULL ? b->p : "";
}

void
lb_buf_reset(struct lb_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
	b->err = 0;
	b->too_big = 0;
}

char *
lb_buf_take(struct lb_buf *b)
{
	char *p = b->p;

	lb_buf_init(b, b->max);
	return p;
}

void
lb_buf_free(struct lb_buf *b)
{
	free(b->p);
	lb_buf_init(b, b->max);
}

int
lb_vec_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t max)
{
	void *v, *nv;
	size_t want;

	if (n < *cap)
		return 0;
	if (n >= max || elem == 0)
		return LB_E_NOMEM;
	want = *cap == 0 ? 8 : *cap > max / 2 ? max : *cap * 2;
	if (want > max)
		want = max;
	if (want > SIZE_MAX / elem)
		return LB_E_NOMEM;
	/* vp is the address of a pointer of some other type (struct x **):
	 * copied as bytes rather than read through a void **, which that
	 * object is not. */
	memcpy(&v, vp, sizeof(v));
	if ((nv = realloc(v, want * elem)) == NULL)
		return LB_E_NOMEM;
	memcpy(vp, &nv, sizeof(nv));
	*cap = want;
	return 0;
}
