/*
 * trailer.h: filter stages that know the shape of an etcd snapshot: a
 * bbolt database followed by etcd's 32-byte sha256 trailer.
 */
#ifndef LB_TRAILER_H
#define LB_TRAILER_H

#include <stdint.h>

#include "stream/flt.h"

/* Checks etcd's snapshot trailer: the last 32 bytes of the stream must be
 * the sha256 of all bytes before them.  finish fails with LB_E_CORRUPT when
 * they are not (or the stream is shorter than 32 bytes). */
struct flt *flt_etcd_trailer_new(struct flt *next);
/* Bytes before the trailer (the bbolt database size); valid after finish. */
uint64_t flt_etcd_trailer_db_size(const struct flt *f);
/* The trailer itself (etcd's sha256 of the database); valid after finish. */
void flt_etcd_trailer_hash(const struct flt *f, uint8_t out[32]);

/* Bounds a snapshot's plaintext (the database and etcd's trailer) by the
 * manifest's db_size: a write that would take it past db_size + 32 bytes
 * fails with LB_E_CORRUPT and passes nothing on.  Put it right after the
 * decompressor, so a small object that expands without end is stopped at
 * once; restore and verify both use it. */
struct flt *flt_snapshot_bound_new(struct flt *next, uint64_t db_size);

#endif
