/*
 * s3.h: a small S3 client on libcurl's SigV4 signing, for the repository
 * layer (repo.h).  It owns request building (canonical URLs that libcurl
 * 7.88 signs right, see STRICT-S3.md), retries with backoff, parsing S3's
 * XML with expat, and the multipart upload sink.  It does not know about
 * repository prefixes: keys here are full object keys in one bucket.
 *
 * Errors carry S3's answer in the message and its meaning in the code:
 * LB_E_NOTFOUND (no such key or bucket), LB_E_AUTH (401, 403),
 * LB_E_UNSUPPORTED (501 NotImplemented), LB_E_REMOTE (any other answer),
 * LB_E_NET and LB_E_TLS (no answer).  Callers decide on the code.
 *
 * Memory: an upload sink starts with S3_PART_SLOTS part buffers of the
 * current part size (5 MiB until part 2000, then growing): 2 parts in
 * flight while the third fills, enough on loopback.  A store further away
 * holds each part longer (its latency per request): when every slot's part
 * is still in flight as the next is needed, the sink adds a slot, up to
 * S3_PART_SLOTS_MAX (4 x 5 MiB = 20 MiB, 3 parts in flight).  Measured
 * peaks of a 1 GiB backup (README, Performance): with 8 MiB parts and 2 MiB
 * zstd jobs, 67 MiB with 3 slots (so 75 with 4); with 5 MiB parts (S3's
 * smallest), 54 MiB with 4.
 */
#ifndef LB_S3_H
#define LB_S3_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "stream/flt.h"

#define S3_PART_SLOTS 3
#define S3_PART_SLOTS_MAX 4
#define S3_PART_MIN (5u * 1024 * 1024)

struct s3;

struct s3_opts {
	const char *endpoint;      /* http(s)://host[:port]; NULL: AWS for region */
	const char *region;        /* NULL: us-east-1 */
	int host_style;            /* 1: bucket.host/key, 0: host/bucket/key */
	const char *ca_file;       /* NULL: the system's CAs */
	const char *bucket;
	const char *access_key;    /* all three NULL: AWS_* env, then the */
	const char *secret_key;    /* shared credentials file (profile    */
	const char *session_token; /* $AWS_PROFILE or default)            */
	long connect_timeout_s;    /* 0: 10 s */
	long stall_timeout_s;      /* 0: 60 s below 1 byte/s aborts a transfer */
	size_t part_size;          /* first part size of uploads; 0: S3_PART_MIN */
};

/* Creates a client; resolves credentials; does no network I/O. */
int s3_new(const struct s3_opts *o, struct s3 **out, struct lb_err *err);

/* Frees the client and wipes its secrets; NULL is fine. */
void s3_free(struct s3 *s);

/* Checks that the bucket exists and that the credentials are accepted
 * (a ListObjectsV2 of one key): "bucket X does not exist" and the like. */
int s3_check_bucket(struct s3 *s, struct lb_err *err);

/* S3 Object Lock of an object written: mode "GOVERNANCE" or
 * "COMPLIANCE", retained until (Unix seconds).  AWS demands a checksum
 * with a lock: every PUT and part sends x-amz-checksum-sha256 (the body's
 * sha256, already computed for SigV4's payload hash; a multipart upload
 * is started with x-amz-checksum-algorithm SHA256 and completed with each
 * part's), so no byte is hashed twice for one purpose.  A server that
 * refuses those headers (Swift's s3api refuses ChecksumSHA256 in the
 * completion) gets none from then on, except Content-MD5 on a locked PUT
 * or part. */
struct s3_lock {
	const char *mode;
	time_t until;
};

/* One PUT of a buffer already in memory; lock may be NULL. */
int s3_put_object(struct s3 *s, const char *key, const void *buf, size_t len,
    const struct s3_lock *lock, struct lb_err *err);

/* A sink that uploads what it is given to key: one PUT on finish if the
 * whole object fits in one part, else a multipart upload with
 * S3_PART_SLOTS - 1 parts in flight, up to S3_PART_SLOTS_MAX - 1 while the
 * store lags (see Memory above).  Freed unfinished, it aborts the
 * multipart upload.  size_hint (0: unknown) only picks the part size.
 * lock (may be NULL, copied) goes on the PUT or CreateMultipartUpload. */
int s3_upload_new(struct s3 *s, const char *key, uint64_t size_hint,
    const struct s3_lock *lock, struct flt **out, struct lb_err *err);

/* The bucket's Object Lock: 1 enabled, 0 not configured (404
 * ObjectLockConfigurationNotFoundError), < 0 when it cannot tell. */
int s3_object_lock_enabled(struct s3 *s, struct lb_err *err);

/* The retain-until of key's current version (version_id NULL) or of one
 * version (HEAD): 0 when it has no lock.  LB_E_NOTFOUND if absent. */
int s3_retain_until(struct s3 *s, const char *key, const char *version_id,
    time_t *until, struct lb_err *err);

struct s3_xml_item;            /* one entry of a listing (below) */

/* ListObjectVersions under prefix, all pages: cb for every version and
 * delete marker (key, version_id, delete_marker of struct s3_xml_item). */
int s3_list_versions(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const struct s3_xml_item *it), void *arg, struct lb_err *err);

/* DELETE of one version (or delete marker).  A version the bucket still
 * retains (S3: 403 AccessDenied) fails with LB_E_LOCKED, "locked until
 * DATE", never LB_E_AUTH. */
int s3_delete_version(struct s3 *s, const char *key, const char *version_id,
    struct lb_err *err);

/* GETs key (bytes offset.. offset+length-1, length 0 = to the end) into
 * dest with flt_write, resuming with a Range after a broken transfer. */
int s3_get_object(struct s3 *s, const char *key, uint64_t offset,
    uint64_t length, struct flt *dest, struct lb_err *err);

/* HEAD: LB_E_NOTFOUND if absent. */
int s3_head_object(struct s3 *s, const char *key, uint64_t *size,
    struct lb_err *err);

/* DELETE (S3 answers 204 for absent keys too: callers HEAD first). */
int s3_delete_object(struct s3 *s, const char *key, struct lb_err *err);

/* ListObjectsV2 under prefix, all pages, in key order. */
int s3_list(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err);

/* ListMultipartUploads under prefix, all pages: cb for every upload
 * (key, upload_id, initiated of struct s3_xml_item).  A store that cannot
 * list uploads (s3rver: 501 NotImplemented) fails with LB_E_UNSUPPORTED,
 * as does any request such a store refuses that way. */
int s3_list_uploads(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const struct s3_xml_item *it), void *arg, struct lb_err *err);

/* AbortMultipartUpload: LB_E_NOTFOUND when the upload is gone already
 * (S3's NoSuchUpload: completed, or aborted by someone else). */
int s3_abort_upload(struct s3 *s, const char *key, const char *upload_id,
    struct lb_err *err);

/* For messages: "s3://bucket" (never credentials). */
const char *s3_bucket(const struct s3 *s);

/* The server's clock minus this host's, in seconds, from the Date header
 * of its last answer (to the second; a request takes a moment, so only a
 * difference of minutes means anything).  LB_E_NOTFOUND before any
 * answer with a Date. */
int s3_clock_offset(struct s3 *s, int64_t *offset);

/* Percent-encodes src as RFC 3986 wants for SigV4 (A-Z a-z 0-9 - _ . ~
 * kept, upper-case hex); keep_slash keeps '/' (paths).  Returns a malloc'd
 * string or NULL when out of memory. */
char *s3_uri_encode(const char *src, int keep_slash);

/*
 * The XML parsers, exposed for the fuzzer and unit tests.  Each parses one
 * whole response body with expat and fails with LB_E_PROTO on anything
 * that is not well-formed.
 */
struct s3_xml_list {            /* ListBucketResult, ListMultipartUploadsResult,
                                   ListVersionsResult */
	int truncated;
	char *next_token;         /* NextContinuationToken */
	char *next_key_marker;    /* NextKeyMarker (uploads, versions) */
	char *next_upload_marker; /* NextUploadIdMarker, NextVersionIdMarker */
	size_t n;
	struct s3_xml_item {
		char *key;
		uint64_t size;
		char *upload_id;
		time_t initiated;
		char *version_id;     /* versions: Version and DeleteMarker */
		int delete_marker;
	} *items;
};
int s3_xml_parse_list(const char *xml, size_t len, struct s3_xml_list *out,
    struct lb_err *err);
void s3_xml_list_clear(struct s3_xml_list *l);

/* <Error><Code>..</Code><Message>..</Message></Error>: code and message
 * (bounded, may be empty) copied into the caller's buffers. */
int s3_xml_parse_error(const char *xml, size_t len, char *code, size_t code_sz,
    char *msg, size_t msg_sz);

/* InitiateMultipartUploadResult's UploadId (malloc'd). */
int s3_xml_parse_upload_id(const char *xml, size_t len, char **upload_id,
    struct lb_err *err);

/* CompleteMultipartUploadResult: fails with LB_E_REMOTE when the body is
 * an <Error> (S3 may answer 200 and then fail). */
int s3_xml_parse_complete(const char *xml, size_t len, struct lb_err *err);

#endif
