/*
 * s3_int.h: what the files of the S3 client share and nobody else uses
 * (only repo/s3*.c include it).  s3.c owns the client and the request
 * loop (URLs, SigV4 by libcurl, retries, error answers to messages);
 * s3_creds.c where credentials come from; s3_ops.c the object and
 * listing requests of s3.h; s3_xml.c the parsers of S3's XML answers;
 * s3_sink.c the multipart upload sink.
 */
#ifndef LB_S3_INT_H
#define LB_S3_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "repo/s3.h"

#define S3_TRIES 5                        /* tries of one request, the first included */
#define S3_POOL_MAX 8                     /* idle easy handles kept */

struct s3 {
	char *scheme_host;   /* "http://127.0.0.1:9000" or "https://bucket.host" */
	char *path_base;     /* "" (host style) or "/bucket" (path style) */
	char *bucket;
	char *display;       /* "s3://bucket" */
	char *sigv4;         /* "aws:amz:REGION:s3" */
	char *region;
	char *ca_file;
	char *access_key;
	char *secret_key;
	char *session_token;
	long connect_timeout_s;
	long stall_timeout_s;
	long page_keys;
	size_t part_size;
	/* Idle easy handles (each keeps its connections), shared by the
	 * threads that run requests on this client at once. */
	pthread_mutex_t pool_lock;
	CURL *pool[S3_POOL_MAX];
	size_t pool_n;
	int pool_ready;
	/* The server's clock (its Date header) minus ours at its last
	 * answer, under pool_lock: an independent clock (s3_clock_offset). */
	int64_t clock_offset;
	int have_clock;
	/* atomic: 1 once the server refused x-amz-checksum-sha256 (on a PUT,
	 * as a multipart upload's algorithm or in its completion;
	 * s3_checksum_refused).  From then on no checksum header, as SigV4's
	 * payload hash already has the server check every body, except
	 * Content-MD5 where an Object Lock demands a digest. */
	int ck_refused;
};

/* A request's query string, encoded as added and sorted when the URL is
 * built (SigV4 as libcurl 7.88 signs it wants the canonical order). */
struct s3_query {
	int n;
	struct { char *k, *v; } p[6];
};

/* Adds k=v (both percent-encoded); -1 when full or out of memory. */
int s3_query_add(struct s3_query *q, const char *k, const char *v);

/* One request: the caller fills the first part (zeroed otherwise), runs it
 * with s3_req_run and reads the results, then calls s3_req_clear. */
struct s3_req {
	const char *method;
	const char *key;            /* NULL: the bucket itself */
	struct s3_query q;
	const void *body;
	size_t body_len;
	const char *content_md5;    /* base64 or NULL */
	const struct s3_lock *lock; /* Object Lock headers, or NULL */
	const char *checksum_sha256; /* x-amz-checksum-sha256 (base64) or NULL */
	const char *checksum_algorithm; /* x-amz-checksum-algorithm or NULL */
	const uint8_t *body_sha256; /* the body's sha256 (32 bytes), computed
	                             * once by the caller, or NULL: computed
	                             * for x-amz-content-sha256 on each try */
	uint64_t range_off, range_len;
	int ranged;
	struct flt *dest;           /* GET: stream here; else collect in resp */
	size_t resp_max;
	volatile int *cancel;       /* non-zero: abort the transfer */
	/* results */
	long status;
	struct lb_buf resp;         /* bounded by resp_max (s3_req_run) */
	char etag[128];
	char code[64];              /* S3's error code of a failure, "" if none */
	time_t date;                /* the answer's Date header, 0: none */
	time_t lock_until;          /* x-amz-object-lock-retain-until-date, 0: none */
	uint64_t delivered;         /* bytes handed to dest over all tries */
	uint64_t from;              /* first byte asked for in this try */
	curl_off_t content_length;
	/* per try */
	CURL *h;
	int sink_rc;
	struct lb_err *sink_err;
	struct lb_buf errbody;
};

/* Runs q with retries, on h or (h NULL) on a handle of the pool.  On an
 * S3 error fills err with "s3 METHOD bucket/key: STATUS Code: message
 * (hint)" and keeps S3's error code in q->code. */
int s3_req_run(struct s3 *s, CURL *h, struct s3_req *q, struct lb_err *err);

/* Frees what the request holds (query, answer); the struct may be reused
 * after a memset. */
void s3_req_clear(struct s3_req *q);

/* Base64 of the MD5 of buf, for Content-MD5. */
void s3_md5_b64(const void *buf, size_t len, char out[32]);

/* Base64 of the SHA-256 of buf, for x-amz-checksum-sha256. */
void s3_sha256_b64(const void *buf, size_t len, char out[48]);

/* The raw SHA-256 of buf, and its base64 (x-amz-checksum-sha256). */
void s3_sha256_raw(const void *buf, size_t len, uint8_t out[32]);
void s3_b64_32(const uint8_t d[32], char out[48]);

/* 1 when a request that carried a checksum header (x-amz-checksum-*)
 * failed in a way that says the server does not take it: 400 with
 * InvalidRequest, InvalidArgument, MalformedXML or NotImplemented, or
 * 501.  A wrong digest (BadDigest, XAmzContentSHA256Mismatch) is not
 * that.  The caller then sets s->ck_refused and sends Content-MD5. */
int s3_checksum_refused(const struct s3_req *q);

/* "2026-12-02T02:24:09Z" (fractions ignored) to Unix seconds: 0 or -1. */
int s3_iso8601_parse(const char *s, time_t *out);

/* Fills s's access key, secret key and session token from o, else from
 * the AWS_* environment, else from the shared credentials file. */
int s3_creds_resolve(struct s3 *s, const struct s3_opts *o, struct lb_err *err);

/* Wipes and frees a secret string; NULL is fine. */
void s3_secret_free(char *p);

#endif
