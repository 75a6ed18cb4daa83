/*
 * trailer.c: the two stages that know an etcd snapshot's shape (trailer.h).
 */
#include "snapshot/trailer.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static void
stage_free(struct flt *f)
{
	free(f);
}

#define TRAILER_LEN 32   /* etcd's sha256 after the database */

/* snapshot size bound: the manifest says how big the plaintext is, so a
 * small object that decompresses into far more (a zstd bomb, or a
 * manifest that lies) is stopped at its first byte beyond that, before
 * the disk fills or the time runs out. */

struct flt_bound {
	struct flt base;
	uint64_t bytes, max, db_size;
};

static int
bound_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_bound *b = (struct flt_bound *)f;

	if (len > b->max - b->bytes)
		return lb_err_set(err, LB_E_CORRUPT, "the snapshot decompresses to more than "
		    "the manifest's db_size %llu + etcd's %d-byte trailer: stopped at byte "
		    "%llu (a decompression bomb or a wrong manifest)",
		    (unsigned long long)b->db_size, TRAILER_LEN,
		    (unsigned long long)b->max + 1);
	b->bytes += len;
	return flt_write(f->next, buf, len, err);
}

static const struct flt_ops bound_ops = { "size-bound", bound_write, NULL, stage_free };

struct flt *
flt_snapshot_bound_new(struct flt *next, uint64_t db_size)
{
	struct flt_bound *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->base.ops = &bound_ops;
	b->base.next = next;
	b->db_size = db_size;
	b->max = db_size > UINT64_MAX - TRAILER_LEN ? UINT64_MAX : db_size + TRAILER_LEN;
	return &b->base;
}

/* etcd trailer check: hashes every byte that can no longer be part of the
 * last 32, which it keeps in a small window until the stream ends. */

struct flt_trailer {
	struct flt base;
	EVP_MD_CTX *ctx;
	uint8_t tail[TRAILER_LEN];
	size_t tail_len;
	uint64_t total;
};

static int
trailer_hash(struct flt_trailer *t, const void *buf, size_t len,
    struct lb_err *err)
{
	if (len > 0 && EVP_DigestUpdate(t->ctx, buf, len) != 1)
		return lb_err_set(err, LB_E_INTERNAL, "sha256 update failed");
	return 0;
}

static int
trailer_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_trailer *t = (struct flt_trailer *)f;
	const uint8_t *p = buf;
	size_t spill;
	int r;

	t->total += len;
	if (len >= TRAILER_LEN) {
		if ((r = trailer_hash(t, t->tail, t->tail_len, err)) < 0 ||
		    (r = trailer_hash(t, p, len - TRAILER_LEN, err)) < 0)
			return r;
		memcpy(t->tail, p + len - TRAILER_LEN, TRAILER_LEN);
		t->tail_len = TRAILER_LEN;
	} else {
		spill = t->tail_len + len > TRAILER_LEN ?
		    t->tail_len + len - TRAILER_LEN : 0;
		if ((r = trailer_hash(t, t->tail, spill, err)) < 0)
			return r;
		memmove(t->tail, t->tail + spill, t->tail_len - spill);
		t->tail_len -= spill;
		memcpy(t->tail + t->tail_len, p, len);
		t->tail_len += len;
	}
	return flt_write(f->next, buf, len, err);
}

static int
trailer_finish(struct flt *f, struct lb_err *err)
{
	struct flt_trailer *t = (struct flt_trailer *)f;
	uint8_t digest[32];
	unsigned int n = 0;

	if (t->tail_len < TRAILER_LEN)
		return lb_err_set(err, LB_E_CORRUPT,
		    "snapshot is %llu bytes, too short for etcd's sha256 trailer",
		    (unsigned long long)t->total);
	if (EVP_DigestFinal_ex(t->ctx, digest, &n) != 1)
		return lb_err_set(err, LB_E_INTERNAL, "sha256 final failed");
	if (CRYPTO_memcmp(digest, t->tail, TRAILER_LEN) != 0)
		return lb_err_set(err, LB_E_CORRUPT,
		    "snapshot sha256 trailer does not match its %llu bytes of data",
		    (unsigned long long)(t->total - TRAILER_LEN));
	return 0;
}

static void
trailer_free(struct flt *f)
{
	struct flt_trailer *t = (struct flt_trailer *)f;

	EVP_MD_CTX_free(t->ctx);
	free(t);
}

static const struct flt_ops trailer_ops = {
	"etcd-trailer", trailer_write, trailer_finish, trailer_free
};

struct flt *
flt_etcd_trailer_new(struct flt *next)
{
	struct flt_trailer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->base.ops = &trailer_ops;
	t->base.next = next;
	if ((t->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(t->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(t->ctx);
		free(t);
		return NULL;
	}
	return &t->base;
}

uint64_t
flt_etcd_trailer_db_size(const struct flt *f)
{
	const struct flt_trailer *t = (const struct flt_trailer *)f;

	return t->total >= TRAILER_LEN ? t->total - TRAILER_LEN : 0;
}

void
flt_etcd_trailer_hash(const struct flt *f, uint8_t out[32])
{
	memcpy(out, ((const struct flt_trailer *)f)->tail, TRAILER_LEN);
}
