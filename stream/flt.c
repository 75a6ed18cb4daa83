/*
 * flt.c: the chain mechanics of flt.h and the small standard stages
 * (sha256, byte count, etcd trailer check, file, fd and memory sinks).
 * Transforms with state of their own (zstd, age) live in their modules.
 */
#include "stream/flt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "common/buf.h"

int
flt_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	if (f == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "filter chain has no sink");
	if (len == 0)
		return 0;
	return f->ops->write(f, buf, len, err);
}

int
flt_finish(struct flt *f, struct lb_err *err)
{
	int r;

	for (; f != NULL; f = f->next) {
		if (f->finished)
			continue;
		if (f->ops->finish != NULL && (r = f->ops->finish(f, err)) < 0)
			return r;
		f->finished = 1;
	}
	return 0;
}

void
flt_free(struct flt *f)
{
	struct flt *next;

	while (f != NULL) {
		next = f->next;
		f->ops->free(f);
		f = next;
	}
}

/* chain builder */

struct flt_chain {
	struct flt *stage[FLT_CHAIN_MAX];
	size_t n;
};

int
flt_chain_new(struct flt_chain **out, struct lb_err *err)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}

int
flt_chain_add(struct flt_chain *c, struct flt *stage, struct flt **handle,
    struct lb_err *err)
{
	if (handle != NULL)
		*handle = NULL;
	if (stage == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (c->n == FLT_CHAIN_MAX) {
		flt_free(stage);
		return lb_err_set(err, LB_E_INTERNAL, "filter chain longer than %d stages",
		    FLT_CHAIN_MAX);
	}
	c->stage[c->n++] = stage;
	if (handle != NULL)
		*handle = stage;
	return 0;
}

int
flt_chain_build(struct flt_chain *c, struct flt **head, struct lb_err *err)
{
	size_t i;

	*head = NULL;
	if (c->n == 0) {
		flt_chain_free(c);
		return lb_err_set(err, LB_E_INTERNAL, "empty filter chain");
	}
	/* From the sink back: a stage added whole (a sink with stages of its
	 * own) keeps its next, only the last of it is linked on. */
	for (i = c->n - 1; i > 0; i--) {
		struct flt *last = c->stage[i - 1];

		while (last->next != NULL)
			last = last->next;
		last->next = c->stage[i];
	}
	*head = c->stage[0];
	free(c);
	return 0;
}

void
flt_chain_free(struct flt_chain *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		flt_free(c->stage[i]);
	free(c);
}

static int
pass_on(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	return flt_write(f->next, buf, len, err);
}

/* sha256 observer */

struct flt_sha256 {
	struct flt base;
	EVP_MD_CTX *ctx;
	uint8_t digest[32];
};

static int
sha256_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_sha256 *s = (struct flt_sha256 *)f;

	if (EVP_DigestUpdate(s->ctx, buf, len) != 1)
		return lb_err_set(err, LB_E_INTERNAL, "sha256 update failed");
	return pass_on(f, buf, len, err);
}

static int
sha256_finish(struct flt *f, struct lb_err *err)
{
	struct flt_sha256 *s = (struct flt_sha256 *)f;
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(s->ctx, s->digest, &n) != 1 || n != 32)
		return lb_err_set(err, LB_E_INTERNAL, "sha256 final failed");
	return 0;
}

static void
sha256_free(struct flt *f)
{
	struct flt_sha256 *s = (struct flt_sha256 *)f;

	EVP_MD_CTX_free(s->ctx);
	free(s);
}

static const struct flt_ops sha256_ops = {
	"sha256", sha256_write, sha256_finish, sha256_free
};

struct flt *
flt_sha256_new(struct flt *next)
{
	struct flt_sha256 *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base.ops = &sha256_ops;
	s->base.next = next;
	if ((s->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->ctx);
		free(s);
		return NULL;
	}
	return &s->base;
}

void
flt_sha256_digest(const struct flt *f, uint8_t out[32])
{
	memcpy(out, ((const struct flt_sha256 *)f)->digest, 32);
}

/* byte count observer */

struct flt_count {
	struct flt base;
	uint64_t bytes;
};

static int
count_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	((struct flt_count *)f)->bytes += len;
	return pass_on(f, buf, len, err);
}

static void
plain_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops count_ops = { "count", count_write, NULL, plain_free };

struct flt *
flt_count_new(struct flt *next)
{
	struct flt_count *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base.ops = &count_ops;
	c->base.next = next;
	return &c->base;
}

uint64_t
flt_count_bytes(const struct flt *f)
{
	return ((const struct flt_count *)f)->bytes;
}

/* check stage: a veto on the whole stream */

struct flt_check {
	struct flt base;
	flt_check_fn check;
	void *arg;
};

static int
check_finish(struct flt *f, struct lb_err *err)
{
	struct flt_check *c = (struct flt_check *)f;

	return c->check(c->arg, err);
}

static const struct flt_ops check_ops = { "check", pass_on, check_finish, plain_free };

struct flt *
flt_check_new(struct flt *next, flt_check_fn check, void *arg)
{
	struct flt_check *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base.ops = &check_ops;
	c->base.next = next;
	c->check = check;
	c->arg = arg;
	return &c->base;
}

/* fd sink: a buffered writer used by both the file and the fd sink */

#define SINK_BUF (512 * 1024)

struct flt_fd {
	struct flt base;
	int fd;
	int own_fd;           /* file sink: close and maybe unlink */
	char *path;           /* final path (file sink) */
	char *tmp;            /* temp path (file sink) */
	const char *name;
	size_t used;
	uint8_t buf[SINK_BUF];
};

static int
fd_flush(struct flt_fd *s, struct lb_err *err)
{
	size_t off = 0;
	ssize_t n;

	while (off < s->used) {
		n = write(s->fd, s->buf + off, s->used - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return lb_err_sys(err, LB_E_IO, errno, "write %s",
			    s->tmp != NULL ? s->tmp : s->name);
		}
		off += (size_t)n;
	}
	s->used = 0;
	return 0;
}

static int
fd_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_fd *s = (struct flt_fd *)f;
	const uint8_t *p = buf;
	size_t take;
	int r;

	while (len > 0) {
		take = SINK_BUF - s->used < len ? SINK_BUF - s->used : len;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		len -= take;
		if (s->used == SINK_BUF && (r = fd_flush(s, err)) < 0)
			return r;
	}
	return 0;
}

static int
fd_finish(struct flt *f, struct lb_err *err)
{
	return fd_flush((struct flt_fd *)f, err);
}

static void
fd_free(struct flt *f)
{
	free(f);
}

static const struct flt_ops fd_ops = { "fd", fd_write, fd_finish, fd_free };

struct flt *
flt_fd_new(int fd, const char *name)
{
	struct flt_fd *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base.ops = &fd_ops;
	s->fd = fd;
	s->name = name;
	return &s->base;
}

/* file sink: the fd sink plus the atomic-rename dance */

static int
fsync_dir_of(const char *path, struct lb_err *err)
{
	char *copy, *dir;
	int fd, r = 0;

	if ((copy = strdup(path)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = lb_err_sys(err, LB_E_IO, errno, "open directory %s", dir);
	else if (fsync(fd) < 0)
		r = lb_err_sys(err, LB_E_IO, errno, "fsync directory %s", dir);
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

static int
file_finish(struct flt *f, struct lb_err *err)
{
	struct flt_fd *s = (struct flt_fd *)f;
	int r;

	if ((r = fd_flush(s, err)) < 0)
		return r;
	if (fsync(s->fd) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "fsync %s", s->tmp);
	if (close(s->fd) < 0) {
		s->fd = -1;
		return lb_err_sys(err, LB_E_IO, errno, "close %s", s->tmp);
	}
	s->fd = -1;
	if (rename(s->tmp, s->path) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "rename %s to %s",
		    s->tmp, s->path);
	free(s->tmp);
	s->tmp = NULL;
	return fsync_dir_of(s->path, err);
}

static void
file_free(struct flt *f)
{
	struct flt_fd *s = (struct flt_fd *)f;

	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp != NULL)
		unlink(s->tmp);
	free(s->tmp);
	free(s->path);
	free(s);
}

static const struct flt_ops file_ops = { "file", fd_write, file_finish, file_free };

int
flt_file_new(const char *path, mode_t mode, struct flt **out, struct lb_err *err)
{
	struct flt_fd *s;
	size_t n;
	int r = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	s->base.ops = &file_ops;
	s->fd = -1;
	n = strlen(path) + sizeof(".lifeboat-XXXXXX");
	if ((s->path = strdup(path)) == NULL || (s->tmp = malloc(n)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	/* A dot-prefixed suffix keeps the temp file beside its target (same
	 * file system, so rename is atomic) and easy to find as an orphan. */
	snprintf(s->tmp, n, "%s.lifeboat-XXXXXX", path);
	if ((s->fd = mkostemp(s->tmp, O_CLOEXEC)) < 0) {
		free(s->tmp);
		s->tmp = NULL;
		r = lb_err_sys(err, LB_E_IO, errno, "create temp file for %s", path);
		goto out;
	}
	if (fchmod(s->fd, mode) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "chmod %s", s->tmp);
		goto out;
	}
	s->name = s->path;
	*out = &s->base;
	s = NULL;
out:
	if (s != NULL)
		file_free(&s->base);
	return r;
}

/* memory sink */

struct flt_mem {
	struct flt base;
	struct lb_buf b;           /* its maximum is the caller's max */
};

static int
mem_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_mem *m = (struct flt_mem *)f;

	if (lb_buf_add(&m->b, buf, len) == 0)
		return 0;
	if (m->b.too_big)
		return lb_err_set(err, LB_E_CORRUPT,
		    "object larger than the %zu bytes allowed", m->b.max);
	return lb_err_set(err, LB_E_NOMEM, "out of memory");
}

static void
mem_free(struct flt *f)
{
	struct flt_mem *m = (struct flt_mem *)f;

	lb_buf_free(&m->b);
	free(m);
}

static const struct flt_ops mem_ops = { "memory", mem_write, NULL, mem_free };

struct flt *
flt_mem_new(size_t max)
{
	struct flt_mem *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->base.ops = &mem_ops;
	lb_buf_init(&m->b, max);
	return &m->base;
}

const uint8_t *
flt_mem_data(const struct flt *f, size_t *len)
{
	const struct flt_mem *m = (const struct flt_mem *)f;

	*len = m->b.len;
	return (const uint8_t *)m->b.p;
}

/* thread boundary: a ring of FLT_THREAD_BUFS buffers.  The writer fills
 * the one at (head + count) % N and hands it over by count++; the thread
 * writes the one at head into next and gives it back by head++, count--.
 * Neither index moves under the other's feet, so only the counters need
 * the lock. */

struct flt_thread {
	struct flt base;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* count or state changed */
	uint8_t *buf[FLT_THREAD_BUFS];
	size_t len[FLT_THREAD_BUFS];
	unsigned head, count;        /* mu */
	size_t fill;                 /* writer: bytes in the buffer being filled */
	int running;                 /* writer: the thread exists */
	int draining, abandon;       /* mu: finish waits, free gives up */
	int failed;                  /* mu: err holds the thread's error */
	struct lb_err err;
};

static void *
thread_main(void *arg)
{
	struct flt_thread *t = arg;
	struct lb_err e;
	unsigned i;

	lb_err_clear(&e);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (t->count == 0 && !t->draining && !t->abandon)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->abandon || t->count == 0)
			break;
		i = t->head;
		pthread_mutex_unlock(&t->mu);
		if (flt_write(t->base.next, t->buf[i], t->len[i], &e) < 0) {
			pthread_mutex_lock(&t->mu);
			t->failed = 1;
			t->err = e;
			break;
		}
		pthread_mutex_lock(&t->mu);
		t->head = (t->head + 1) % FLT_THREAD_BUFS;
		t->count--;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Waits for a free buffer; returns its index, or -1 with err set when
 * the thread has failed. */
static int
thread_slot(struct flt_thread *t, struct lb_err *err)
{
	int i;

	pthread_mutex_lock(&t->mu);
	while (t->count == FLT_THREAD_BUFS && !t->failed)
		pthread_cond_wait(&t->cv, &t->mu);
	if (t->failed) {
		*err = t->err;
		i = -1;
	} else {
		i = (int)((t->head + t->count) % FLT_THREAD_BUFS);
	}
	pthread_mutex_unlock(&t->mu);
	return i;
}

static void
thread_hand_over(struct flt_thread *t, int i)
{
	pthread_mutex_lock(&t->mu);
	t->len[i] = t->fill;
	t->count++;
	t->fill = 0;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static int
thread_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_thread *t = (struct flt_thread *)f;
	const uint8_t *p = buf;
	size_t n;
	int i;

	while (len > 0) {
		if ((i = thread_slot(t, err)) < 0)
			return err->code != 0 ? err->code : LB_E_INTERNAL;
		n = FLT_THREAD_BUF_SIZE - t->fill;
		if (n > len)
			n = len;
		memcpy(t->buf[i] + t->fill, p, n);
		t->fill += n;
		p += n;
		len -= n;
		if (t->fill == FLT_THREAD_BUF_SIZE)
			thread_hand_over(t, i);
	}
	return 0;
}

static int
thread_finish(struct flt *f, struct lb_err *err)
{
	struct flt_thread *t = (struct flt_thread *)f;
	int i, failed;

	if (t->fill > 0) {
		if ((i = thread_slot(t, err)) < 0)
			goto joined;
		thread_hand_over(t, i);
	}
joined:
	pthread_mutex_lock(&t->mu);
	t->draining = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	t->running = 0;
	pthread_mutex_lock(&t->mu);
	failed = t->failed;
	if (failed)
		*err = t->err;
	pthread_mutex_unlock(&t->mu);
	return failed ? (err->code != 0 ? err->code : LB_E_INTERNAL) : 0;
}

static void
thread_free(struct flt *f)
{
	struct flt_thread *t = (struct flt_thread *)f;
	int i;

	if (t->running) {
		pthread_mutex_lock(&t->mu);
		t->abandon = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->th, NULL);
	}
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	for (i = 0; i < FLT_THREAD_BUFS; i++)
		free(t->buf[i]);
	free(t);
}

static const struct flt_ops thread_ops = {
	"thread", thread_write, thread_finish, thread_free
};

int
flt_thread_new(struct flt *next, struct flt **out, struct lb_err *err)
{
	struct flt_thread *t;
	int i;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	t->base.ops = &thread_ops;
	t->base.next = next;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (i = 0; i < FLT_THREAD_BUFS; i++)
		if ((t->buf[i] = malloc(FLT_THREAD_BUF_SIZE)) == NULL)
			goto nomem;
	if (pthread_create(&t->th, NULL, thread_main, t) != 0)
		goto nomem;
	t->running = 1;
	*out = &t->base;
	return 0;
nomem:
	t->base.next = NULL;
	thread_free(&t->base);
	return lb_err_set(err, LB_E_NOMEM, "out of memory (thread stage)");
}
