/*
 * segment.h: event-log segments as repository objects: names, the JSON
 * manifest beside each one, and writing and reading them.
 *
 * A segment object is its plaintext (evlog.h) in one zstd frame in an
 * age file, exactly like a snapshot object, so the break-glass read is
 * `age -d -i key.txt OBJ | zstd -d`.  Beside it lie
 *
 *	<cluster>/wal/YYYY/MM/DD/<first>-<last>.evlog.zst.age   the object
 *	<cluster>/wal/YYYY/MM/DD/<first>-<last>.evlog.json      its manifest
 *	<cluster>/wal/YYYY/MM/DD/<first>-<last>.evlog.json.sig  SSHSIG, when signed
 *
 * (revisions in 20 digits, so names sort by revision; the date is the
 * first revision's, UTC).  The object goes first, then the signature,
 * then the manifest: a segment without a manifest does not exist.
 *
 * The JSON form ("lifeboat-evlog/1") is fixed for good: fields may be
 * added, never renamed or removed.
 */
#ifndef LB_EVL_SEGMENT_H
#define LB_EVL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "evlog/evlog.h"
#include "repo/repo.h"
#include "sign/sign.h"
#include "stream/age.h"

#define EVL_META_FORMAT "lifeboat-evlog/1"
#define EVL_SIG_NS "lifeboat-evlog"          /* ssh-keygen -Y verify -n */
#define EVL_META_MAX (1u << 20)              /* largest manifest read */
#define EVL_OBJECT_SUFFIX ".evlog.zst.age"
#define EVL_META_SUFFIX ".evlog.json"
#define EVL_SIG_SUFFIX ".evlog.json.sig"

/* Plaintext at which a segment is full (pitr-segment-size): default and
 * the most a caller may ask.  A segment holds at most its size plus one
 * record. */
#define EVL_SEGMENT_SIZE_DEFAULT (16u * 1024 * 1024)
#define EVL_SEGMENT_SIZE_MAX (256u * 1024 * 1024)

/* Longest stored object evl_segment_read takes: a full segment of
 * EVL_SEGMENT_SIZE_MAX plus a record, incompressible, with age's
 * overhead. */
#define EVL_STORED_MAX ((size_t)EVL_SEGMENT_SIZE_MAX + EVL_RECORD_MAX + \
	((size_t)EVL_SEGMENT_SIZE_MAX + EVL_RECORD_MAX) / 64 + (1u << 20))

/* Longest key: a cluster name of EVL_CLUSTER_MAX and the rest. */
#define EVL_KEY_MAX 256

struct evl_keys {
	char object[EVL_KEY_MAX];
	char meta[EVL_KEY_MAX];
	char sig[EVL_KEY_MAX];
};

/* The three keys of the segment of cluster holding first_rev..last_rev
 * (last_rev == first_rev - 1 for an empty one) whose first time is
 * first_time_ms.  LB_E_USAGE for a cluster name manifest_name_ok refuses
 * or revisions out of range. */
int evl_keys(const char *cluster, int64_t first_rev, int64_t last_rev,
    int64_t first_time_ms, struct evl_keys *out, struct lb_err *err);

/* A segment manifest: a plain record, fields read and set directly;
 * strings are malloc'd and owned by it. */
struct evl_meta {
	char *cluster;
	uint64_t cluster_id;         /* JSON: hex, as etcdctl prints it; 0 unknown */
	int64_t first_rev;
	int64_t last_rev;            /* first_rev - 1 when revisions is 0 */
	int64_t first_time_ms;       /* JSON: RFC 3339 UTC with ms */
	int64_t last_time_ms;        /* up to here nothing else happened */
	uint64_t revisions;
	uint64_t events;
	uint64_t leases;             /* LEASE records */
	uint64_t plain_size;         /* bytes of plaintext */
	char *object;                /* key of the object */
	uint64_t stored_size;
	char *stored_sha256;         /* hex, of the stored bytes */
	char *prev_sha256;           /* hex, of the previous segment's object; NULL first */
	char **recipients;           /* age recipient fingerprints */
	size_t n_recipients;
	char *signer;                /* "SHA256:..."; NULL unsigned */
	char *compression;           /* "zstd" */
	int compress_level;
	char *encryption;            /* "age-v1" */
	char *lifeboat_version;
	char *hostname;
};

/* An empty manifest with compression, encryption and lifeboat_version
 * set; NULL when out of memory. */
struct evl_meta *evl_meta_new(void);

/* NULL is fine. */
void evl_meta_free(struct evl_meta *m);

/* Serialises to JSON (malloc'd, NUL-terminated). */
int evl_meta_to_json(const struct evl_meta *m, char **out, struct lb_err *err);

/* Parses and checks JSON (at most EVL_META_MAX): format EVL_META_FORMAT,
 * every field present but prev_sha256, signer and hostname, with the
 * right type; cluster a valid name, hashes 64 hex digits, first_rev >= 1,
 * last_rev == first_rev + revisions - 1, last_time >= first_time, object
 * the key evl_keys gives for these fields.  Errors name the field
 * ("evlog manifest: last_rev: missing"), LB_E_CORRUPT. */
int evl_meta_parse(const char *json, size_t len, struct evl_meta **out,
    struct lb_err *err);

/* LB_E_CORRUPT unless key is m's own manifest key (a manifest copied
 * under another name must not pass for that segment). */
int evl_meta_check_key(const struct evl_meta *m, const char *key,
    struct lb_err *err);


/*
 * Writing a segment.  The capture opens one, writes revisions and leases
 * as they arrive (they are compressed and encrypted at once into memory:
 * at most a full segment's stored bytes), and puts it when it is full or
 * its interval is over.
 */
struct evl_segment;

struct evl_segment_opts {
	const char *cluster;
	uint64_t cluster_id;             /* 0: unknown */
	int64_t first_rev;               /* the revision after the previous segment's last */
	const uint8_t *prev_sha256;      /* 32 bytes: stored sha256 of the previous
	                                  * segment's object; NULL: first of a chain */
	int64_t created_ms;              /* 0: now */
	struct age_recipient *const *rcpts;   /* copied */
	size_t n_rcpts;
	int level;                       /* zstd; 0: ZSTD_DEFAULT_LEVEL */
	int threads;                     /* zstd workers; 0: in the calling thread */
	size_t size;                     /* full at this much plaintext; 0: default */
};

int evl_segment_open(const struct evl_segment_opts *o, struct evl_segment **out,
    struct lb_err *err);

/* evl_write_revision and evl_write_lease on the segment's writer.  A full
 * segment takes no more (LB_E_INTERNAL: put it and open the next). */
int evl_segment_revision(struct evl_segment *s, int64_t rev, int64_t wall_ms,
    const struct etcd_kv_event *ev, size_t n, struct lb_err *err);
int evl_segment_lease(struct evl_segment *s, int64_t id, int64_t ttl,
    struct lb_err *err);

/* 1 once the plaintext reached the segment's size: time to put it. */
int evl_segment_full(const struct evl_segment *s);

/* Plaintext bytes so far, revisions so far, and the revision the next
 * evl_segment_revision must carry. */
uint64_t evl_segment_plain_bytes(const struct evl_segment *s);
uint64_t evl_segment_revisions(const struct evl_segment *s);
int64_t evl_segment_next_rev(const struct evl_segment *s);

/* Closes the segment (footer with last_time_ms, the end of the zstd
 * frame and of the age file) and stores it on repo: the object, then the
 * signature made with signer (NULL: unsigned), then the manifest.
 * *meta (may be NULL) gets the manifest written.  A failed put (the
 * store was away) may be called again, with the same segment: the bytes
 * are kept, the close happens once, and a later last_time_ms is ignored. */
int evl_segment_put(struct evl_segment *s, struct repo *repo,
    const struct sig_key *signer, int64_t last_time_ms, struct evl_meta **meta,
    struct lb_err *err);

/* The stored sha256 of the object, once put (or closed by a failed put):
 * the next segment's prev_sha256.  LB_E_NOTFOUND before. */
int evl_segment_stored_sha256(const struct evl_segment *s, uint8_t out[32]);

/* NULL is fine; nothing is stored by freeing. */
void evl_segment_free(struct evl_segment *s);

/*
 * Reading a segment: repo_get -> sha256 -> age decrypt -> zstd -d ->
 * parser.  With expected_sha256 (64 hex digits, from the manifest or the
 * catalog) the stored bytes (at most EVL_STORED_MAX) are read into memory
 * and checked before anything is decrypted, so no callback ever sees a
 * segment whose stored bytes changed; without it they stream.
 */
struct evl_read_info {
	uint64_t stored_size;
	char stored_sha256[65];
	uint64_t plain_size;
	/* the header's */
	char cluster[EVL_CLUSTER_MAX + 1];
	uint64_t cluster_id;
	int has_prev;
	uint8_t prev_sha256[32];
	int64_t created_ms;
	struct evl_footer footer;
};

/* Reads segment object key with identity id through the parser with
 * callbacks cb (may be NULL: checks only); *info (may be NULL) gets what
 * was read.  LB_E_NOTFOUND when the object is absent, LB_E_CORRUPT on a
 * stored sha256 mismatch or a bad segment, LB_E_CRYPTO when id opens no
 * recipient; callback codes come back as they are.  Messages start with
 * the key. */
int evl_segment_read(struct repo *repo, const char *key,
    const struct age_identity *id, const char *expected_sha256,
    const struct evl_parse_cb *cb, struct evl_read_info *info,
    struct lb_err *err);

/* LB_E_CORRUPT unless what evl_segment_read found inside the object
 * agrees with its manifest m: cluster, cluster id, prev_sha256, the
 * footer's revisions, counts and times, and the stored sha256 and size.
 * The manifest lies in plaintext beside the object; this ties the two. */
int evl_meta_check_read(const struct evl_meta *m, const struct evl_read_info *info,
    struct lb_err *err);

#endif
