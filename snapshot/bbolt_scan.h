/*
 * bbolt_scan.h: an observer filter stage that reads etcd's revision out of
 * a bbolt database as it streams past, without seeking and in bounded
 * memory: a 256 KiB window, 256 KiB of leaf records, 16 bytes per branch
 * page seen (capped at 4 MiB, about 2^18 branch pages, so roughly 60 GiB
 * of 4 KiB pages); under 1 MiB in all for an 8 GiB etcd database.
 *
 * The stream is what etcd's Maintenance.Snapshot (bbolt's Tx.WriteTo)
 * sends: meta pages 0 and 1, then every page in file order, then etcd's
 * 32-byte sha256 trailer (ignored here: flt_etcd_trailer_new checks it).
 * A raw member db file streams the same way.
 *
 * The revision is the one `etcdctl snapshot status` and bbolt_inspect_*
 * report: the main revision (first 8 bytes, big-endian) of the last key of
 * bucket "key".  It is found by resolving the live tree after the stream
 * ends, from compact records of the pages that can lie on the path (every
 * branch page, the leaves holding bucket "key", and the leaves with the
 * highest revision-shaped last keys), not by taking the highest revision
 * seen in any page: freed pages can hold higher revisions than the live
 * tree (see bbolt_scan.c).  When a record the path needs was not kept (a
 * cap reached, a page it could not parse) the revision is reported as
 * unknown, never as a guess.  Not owned here: validating the database
 * (bbolt_inspect_* does that from a file), key counts, hashes.
 */
#ifndef LB_BBOLT_SCAN_H
#define LB_BBOLT_SCAN_H

#include <stdint.h>

#include "common/err.h"
#include "stream/flt.h"

/* What the scan found; a plain struct of results. */
struct bbolt_scan {
	int is_bbolt;               /* a valid meta page 0 or 1 (magic, version 2, FNV-64a) */
	int revision_known;         /* 1: revision is exact; 0: see why */
	uint64_t revision;          /* main revision of the last key of bucket "key"; 0 if unknown */
	uint64_t revision_max_seen; /* diagnostics: highest revision-shaped last key of any leaf,
	                             * live or freed; may exceed revision */
	uint64_t txid;              /* txid of the meta page used */
	uint64_t root_pgid;         /* root bucket page of that meta */
	uint64_t db_size;           /* high water mark * page size: tx.Size() */
	uint64_t stream_bytes;      /* every byte that went through the stage */
	uint32_t page_size;
	int trailer_room;           /* stream_bytes == db_size + 32 (etcd's trailer fits) */
	char why[128];              /* when !is_bbolt or !revision_known: the reason */
};

/* An observer stage: passes every byte to next untouched and scans it.
 * It never fails the chain because of what the bytes are (garbage gives
 * is_bbolt 0 in the result).  Returns NULL when out of memory. */
struct flt *flt_bbolt_scan_new(struct flt *next);

/* Fills *out with what the stage f (made by flt_bbolt_scan_new) found.
 * Valid after flt_finish; before it, returns LB_E_INTERNAL. */
int flt_bbolt_scan_result(const struct flt *f, struct bbolt_scan *out,
    struct lb_err *err);

#endif
