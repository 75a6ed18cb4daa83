/*
 * flt.h: the streaming filter chain every byte of a snapshot goes through.
 *
 * A chain is a singly linked list of stages.  Observers (sha256, byte
 * count, etcd trailer check) pass bytes on untouched and expose a result
 * after finish; transforms (zstd, age) emit their own bytes to the next
 * stage; sinks (file, memory, S3) end the chain.  Each stage owns the next
 * one, so freeing the head frees the chain.  Freeing a chain that was not
 * finished aborts it: sinks remove temp files and abort uploads, so an
 * error anywhere leaves nothing half-written at the destination.
 *
 * Implementing a stage: embed struct flt as the first member, fill ops, and
 * hand bytes on with flt_write(f->next, ...).  finish must flush what the
 * stage still holds into next; flt_finish then finishes next itself.
 */
#ifndef LB_FLT_H
#define LB_FLT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct flt;

struct flt_ops {
	const char *name;
	/* Consumes all of buf or fails. */
	int (*write)(struct flt *f, const void *buf, size_t len, struct lb_err *err);
	/* Flushes what the stage holds into f->next; NULL if nothing to do. */
	int (*finish)(struct flt *f, struct lb_err *err);
	/* Frees the stage's own state (not next); aborts if not finished. */
	void (*free)(struct flt *f);
};

struct flt {
	const struct flt_ops *ops;
	struct flt *next;
	int finished;
};

/* Feeds len bytes into the chain at f. */
int flt_write(struct flt *f, const void *buf, size_t len, struct lb_err *err);

/* Finishes f, then every stage after it, in order.  A stage that fails
 * its finish (a bad trailer, a hash mismatch) stops the chain before the
 * sink commits. */
int flt_finish(struct flt *f, struct lb_err *err);

/* Frees f and every stage after it; NULL is fine. */
void flt_free(struct flt *f);

/* A chain builder, so that a chain reads in the order bytes flow: stages
 * are added source side first and the sink last, each made unlinked (its
 * next NULL), and flt_chain_build links them from the sink back.  The
 * builder owns every stage added until build hands the head over, so one
 * flt_chain_free after any failure frees them all (an unfinished sink
 * aborts: no temp file, no upload left behind).
 *
 *   if ((r = flt_chain_new(&c, err)) < 0 ||
 *       (r = flt_chain_add(c, flt_count_new(NULL), &count, err)) < 0 ||
 *       (r = flt_unzstd_new(NULL, &t, err)) < 0 ||
 *       (r = flt_chain_add(c, t, NULL, err)) < 0 || ...
 *       (r = flt_chain_build(c, &head, err)) < 0)
 *
 * A handle (the stage added, through *handle) reads that stage's result
 * (flt_count_bytes, flt_sha256_digest, ...) for as long as the built
 * chain lives. */
struct flt_chain;

#define FLT_CHAIN_MAX 16

/* An empty builder. */
int flt_chain_new(struct flt_chain **out, struct lb_err *err);

/* Appends stage, which the builder owns from now on, even when this
 * fails.  NULL (a constructor out of memory) fails with LB_E_NOMEM, more
 * than FLT_CHAIN_MAX stages with LB_E_INTERNAL.  handle may be NULL. */
int flt_chain_add(struct flt_chain *c, struct flt *stage, struct flt **handle,
    struct lb_err *err);

/* Links the stages added, each owning the next, and hands the first over
 * in *head; frees the builder (on failure too, with its stages). */
int flt_chain_build(struct flt_chain *c, struct flt **head, struct lb_err *err);

/* Frees the builder and every stage added; NULL is fine. */
void flt_chain_free(struct flt_chain *c);

/* Observers. */
struct flt *flt_sha256_new(struct flt *next);
/* The digest of everything written; valid after finish. */
void flt_sha256_digest(const struct flt *f, uint8_t out[32]);

struct flt *flt_count_new(struct flt *next);
uint64_t flt_count_bytes(const struct flt *f);

/* A veto: passes bytes on untouched, and its finish calls check(arg),
 * which judges the whole stream from what the stages before it found (a
 * bbolt scan's verdict, say).  A check that fails stops the chain before
 * the stages after it finish, so the sink never commits. */
typedef int (*flt_check_fn)(void *arg, struct lb_err *err);
struct flt *flt_check_new(struct flt *next, flt_check_fn check, void *arg);

/* A thread boundary: bytes written here are copied into a few buffers of
 * its own and written into next by a thread of the stage, so that the
 * stages after it (hashing, writing a file) run beside the ones before
 * it (decrypting, decompressing) instead of after them.  next and its
 * followers are touched only by that thread until finish returns, and an
 * error of theirs comes back from a later write or from finish.  Costs
 * FLT_THREAD_BUFS * FLT_THREAD_BUF_SIZE bytes. */
#define FLT_THREAD_BUFS 4
#define FLT_THREAD_BUF_SIZE (1024 * 1024)
int flt_thread_new(struct flt *next, struct flt **out, struct lb_err *err);

/* Sinks. */

/* Writes to path atomically: a temp file in the same directory, fsync on
 * finish, rename over path, fsync of the directory.  Without finish, the
 * temp file is removed.  mode is applied to the new file. */
int flt_file_new(const char *path, mode_t mode, struct flt **out,
    struct lb_err *err);

/* Writes to an already open descriptor (stdout); does not close it. */
struct flt *flt_fd_new(int fd, const char *name);

/* Collects into memory, failing past max bytes; for tests and small
 * objects such as manifests. */
struct flt *flt_mem_new(size_t max);
const uint8_t *flt_mem_data(const struct flt *f, size_t *len);

#endif
