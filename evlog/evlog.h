/*
 * evlog.h: the plaintext of an event-log segment (point-in-time
 * recovery), record by record: a writer that emits it into a filter
 * chain, and a push parser that is itself a chain sink.  Segment objects
 * on a repository (zstd, age, the JSON manifest) are segment.h's.
 *
 * The format is fixed for good once released (the README's "The event
 * log" says it byte by byte).  A segment is a sequence of records, each
 *
 *	type (1 byte) | length (u32 LE) | payload (protobuf) | crc32c (u32 LE)
 *
 * with the crc over type, length and payload.  HEADER first, then
 * REVISION and LEASE records in the order they happened, FOOTER last and
 * nothing after it.  Revisions increase by exactly one (one record holds
 * every event of one etcd revision, one transaction), the first is the
 * header's first_rev, and the footer repeats the counts and carries the
 * sha256 of every byte before it.  Payload fields may be added in later
 * versions (readers skip unknown field numbers); record types 128-255
 * are reserved for records an older reader may skip, and an unknown type
 * below 128 is refused.  A header version other than EVL_VERSION is
 * refused: a change that old readers must not misread gets a new version.
 */
#ifndef LB_EVLOG_H
#define LB_EVLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/etcd_watch.h"
#include "stream/flt.h"

#define EVL_VERSION 1

enum {
	EVL_REC_HEADER = 1,
	EVL_REC_REVISION = 2,
	EVL_REC_LEASE = 3,
	EVL_REC_FOOTER = 4,
	EVL_REC_SKIPPABLE = 128      /* types from here on may be skipped */
};

/* Largest payload of one record: one revision of many 1.5 MiB values. */
#define EVL_RECORD_MAX (64u * 1024 * 1024)
/* Type, length and crc around every payload. */
#define EVL_FRAME_BYTES 9
/* Longest cluster name (repo/manifest.h's MANIFEST_NAME_MAX) and
 * lifeboat version string a header may carry. */
#define EVL_CLUSTER_MAX 128
#define EVL_VERSION_STR_MAX 64

/* The first record.  Strings are NUL-terminated; a parsed header's live
 * only during the callback. */
struct evl_header {
	uint32_t version;            /* EVL_VERSION */
	const char *cluster;         /* passes manifest_name_ok */
	uint64_t cluster_id;         /* 0: unknown */
	int64_t first_rev;           /* >= 1: the revision this segment starts at */
	int has_prev;                /* 0: the first segment of a chain */
	uint8_t prev_sha256[32];     /* stored sha256 of the previous segment's object */
	int64_t created_ms;          /* Unix ms, when the segment was opened */
	const char *lifeboat_version;
};

/* The last record.  An empty segment (no revision: an idle cluster whose
 * capture still closes segments on time) has revisions 0, last_rev ==
 * first_rev - 1 and first_time_ms the header's created_ms. */
struct evl_footer {
	int64_t first_rev;
	int64_t last_rev;
	uint64_t revisions;
	uint64_t events;
	uint64_t leases;             /* LEASE records */
	int64_t first_time_ms;       /* wall time of the first revision */
	int64_t last_time_ms;        /* nothing else happened up to this time */
	uint8_t sha256[32];          /* of every plaintext byte before the footer */
};

/*
 * Writing.  The writer emits records into out (which it does not own,
 * and does not finish: the caller finishes its chain after
 * evl_writer_finish).  A failed write leaves the plaintext cut short, so
 * every later call fails with the same code: the segment is abandoned.
 */
struct evl_writer;

/* Checks h (version EVL_VERSION, a valid cluster name, first_rev >= 1)
 * and writes the HEADER record. */
int evl_writer_new(struct flt *out, const struct evl_header *h,
    struct evl_writer **w, struct lb_err *err);

/* Writes one REVISION record: the n >= 1 events of revision rev, in
 * etcd's order, each with a non-empty key and mod_revision == rev.  rev
 * must be the next one (first_rev, then one more each time; LB_E_PROTO
 * otherwise: a gap or repeat in the stream).  wall_ms is when lifeboat
 * received it; a clock that steps back is taken as standing still, so
 * times never decrease within a segment.  A record over EVL_RECORD_MAX
 * fails with LB_E_TOOBIG, writing nothing. */
int evl_write_revision(struct evl_writer *w, int64_t rev, int64_t wall_ms,
    const struct etcd_kv_event *ev, size_t n, struct lb_err *err);

/* Writes one LEASE record: lease id (non-zero) and its granted TTL in
 * seconds (0: unknown). */
int evl_write_lease(struct evl_writer *w, int64_t id, int64_t ttl,
    struct lb_err *err);

/* Writes the FOOTER; last_time_ms (raised to the last revision's time if
 * below it) is the time up to which nothing else happened.  *footer
 * (may be NULL) gets what was written.  Nothing may be written after. */
int evl_writer_finish(struct evl_writer *w, int64_t last_time_ms,
    struct evl_footer *footer, struct lb_err *err);

/* Plaintext bytes written so far. */
uint64_t evl_writer_bytes(const struct evl_writer *w);

/* The revision the next evl_write_revision must carry. */
int64_t evl_writer_next_rev(const struct evl_writer *w);

/* Revisions written so far. */
uint64_t evl_writer_revisions(const struct evl_writer *w);

/* Wall time of the first revision, or created_ms while there is none. */
int64_t evl_writer_first_time(const struct evl_writer *w);

/* NULL is fine.  Does not touch out. */
void evl_writer_free(struct evl_writer *w);

/*
 * Reading.  Callbacks run as records complete, whatever the split of the
 * bytes written; pointers they get live only during the call.  A
 * callback returning < 0 fails the write with that code.  Every check
 * failure is LB_E_CORRUPT with a message naming the record and byte
 * offset and what is wrong (a newer format version: LB_E_UNSUPPORTED).
 * Callbacks may have run for records before a failure: a segment is
 * good only when flt_finish of the parser returned 0.
 */
struct evl_parse_cb {
	int (*on_header)(void *arg, const struct evl_header *h, struct lb_err *err);
	int (*on_revision)(void *arg, int64_t rev, int64_t wall_ms,
	    const struct etcd_kv_event *ev, size_t n, struct lb_err *err);
	int (*on_lease)(void *arg, int64_t id, int64_t ttl, struct lb_err *err);
	/* After the footer's checks passed; finish still checks that nothing
	 * follows it. */
	int (*on_footer)(void *arg, const struct evl_footer *f, struct lb_err *err);
	void *arg;
};

/* A sink stage that parses a segment's plaintext; every callback may be
 * NULL (cb itself too: checks only).  cb is copied.  finish fails when
 * the footer is missing or a record is cut short. */
int evl_parse_new(const struct evl_parse_cb *cb, struct flt **out,
    struct lb_err *err);

/* The header parsed by f (an evl_parse_new stage): 0 once it was read,
 * LB_E_NOTFOUND before.  Its strings live as long as f. */
int evl_parse_header(const struct flt *f, struct evl_header *out);

/* The footer parsed by f (an evl_parse_new stage): 0 once it was read,
 * LB_E_NOTFOUND before. */
int evl_parse_footer(const struct flt *f, struct evl_footer *out);

#endif
