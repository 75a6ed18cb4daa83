/*
 * buf.h: the growable buffers of the control path, each with a maximum.
 *
 * Text built for people or peers (S3 request bodies, XML answers read
 * back, the daemon's /metrics page) and lists that grow as they are read
 * (listings, members, keys) must never grow without bound because a peer
 * sent more than it should.  So every buffer and vector is given its
 * maximum when it is made, as curl's dynbuf is, and a write past it fails
 * instead of allocating.
 *
 * struct lb_buf is a value (embedded in what owns it, zeroed by
 * lb_buf_init); its fields are read directly, written only here.  Errors
 * are sticky: after a failed add, later adds do nothing and return the
 * same code, so a caller building text may check once at the end.
 */
#ifndef LB_BUF_H
#define LB_BUF_H

#include <stddef.h>

struct lb_buf {
	char *p;        /* the bytes, NUL-terminated once anything was added */
	size_t len;     /* bytes used, without the NUL */
	size_t cap;     /* bytes allocated */
	size_t max;     /* most bytes it may hold, without the NUL */
	int err;        /* 0, or the first failure (LB_E_NOMEM) */
	int too_big;    /* 1 when that failure was an add past max */
};

void lb_buf_init(struct lb_buf *b, size_t max);

/* Appends len bytes (data must not point into b itself: it may move).
 * 0, or LB_E_NOMEM when memory ran out or the buffer would pass its
 * maximum (then too_big is set). */
int lb_buf_add(struct lb_buf *b, const void *data, size_t len);
int lb_buf_addstr(struct lb_buf *b, const char *s);
int lb_buf_addf(struct lb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text so far; "" when nothing was added. */
const char *lb_buf_str(const struct lb_buf *b);

/* Empties b for reuse: its memory stays, its error is cleared. */
void lb_buf_reset(struct lb_buf *b);

/* Hands the bytes to the caller (who frees them; NULL when nothing was
 * added) and empties b. */
char *lb_buf_take(struct lb_buf *b);

/* Frees what b holds; b is then empty and may be reused. */
void lb_buf_free(struct lb_buf *b);

/* Makes room in the array *vp (of elements of elem bytes, *cap of them
 * allocated, n used) for one more, doubling from 8.  0, or LB_E_NOMEM
 * when memory ran out or n + 1 would pass max elements; *vp and *cap are
 * unchanged then.  vp is the address of the array pointer:
 *	if ((r = lb_vec_grow(&l->v, &l->cap, l->n, sizeof(*l->v), 4096)) < 0)
 */
int lb_vec_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t max);

#endif
