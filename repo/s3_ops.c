/*
 * s3_ops.c: the requests of s3.h, one per operation: the bucket check,
 * PUT, GET (with its Range), HEAD and DELETE of an object, the paged
 * listings of objects and of multipart uploads (with their guards
 * against a server that would list for ever), and the abort of an
 * upload.  The request loop itself is in s3.c.
 */
#include "repo/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

int
s3_check_bucket(struct s3 *s, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	if (s3_query_add(&q.q, "list-type", "2") < 0 ||
	    s3_query_add(&q.q, "max-keys", "1") < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	r = s3_req_run(s, NULL, &q, err);
out:
	s3_req_clear(&q);
	return r;
}

int
s3_put_object(struct s3 *s, const char *key, const void *buf, size_t len,
    const struct s3_lock *lock, struct lb_err *err)
{
	struct s3_req q;
	char md5[32], sha[48];
	uint8_t d[32];
	int r;

	/* One sha256 of the body: SigV4's payload hash and the checksum S3
	 * checks (and demands with a lock).  Content-MD5 only for a server
	 * that refused the checksum header, and only with a lock. */
	s3_sha256_raw(len > 0 ? buf : "", len, d);
	s3_b64_32(d, sha);
	memset(&q, 0, sizeof(q));
	q.method = "PUT";
	q.key = key;
	q.body = len > 0 ? buf : "";
	q.body_len = len;
	q.body_sha256 = d;
	q.lock = lock;
	if (__atomic_load_n(&s->ck_refused, __ATOMIC_RELAXED)) {
		if (lock != NULL) {
			s3_md5_b64(buf, len, md5);
			q.content_md5 = md5;
		}
	} else {
		q.checksum_sha256 = sha;
	}
	r = s3_req_run(s, NULL, &q, err);
	if (r < 0 && q.checksum_sha256 != NULL && s3_checksum_refused(&q)) {
		log_info("s3 PUT %s/%s: the server refused x-amz-checksum-sha256 "
		    "(%ld %s): no checksum header from now on", s->bucket, key, q.status,
		    q.code);
		__atomic_store_n(&s->ck_refused, 1, __ATOMIC_RELAXED);
		s3_req_clear(&q);
		memset(&q, 0, sizeof(q));
		q.method = "PUT";
		q.key = key;
		q.body = len > 0 ? buf : "";
		q.body_len = len;
		q.body_sha256 = d;
		q.lock = lock;
		if (lock != NULL) {
			s3_md5_b64(buf, len, md5);
			q.content_md5 = md5;
		}
		lb_err_clear(err);
		r = s3_req_run(s, NULL, &q, err);
	}
	s3_req_clear(&q);
	return r;
}

int
s3_get_object(struct s3 *s, const char *key, uint64_t offset, uint64_t length,
    struct flt *dest, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.key = key;
	q.dest = dest;
	q.range_off = offset;
	q.range_len = length;
	q.ranged = offset > 0 || length > 0;
	r = s3_req_run(s, NULL, &q, err);
	s3_req_clear(&q);
	return r;
}

int
s3_head_object(struct s3 *s, const char *key, uint64_t *size, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "HEAD";
	q.key = key;
	if ((r = s3_req_run(s, NULL, &q, err)) == 0 && size != NULL)
		*size = q.content_length >= 0 ? (uint64_t)q.content_length : 0;
	s3_req_clear(&q);
	return r;
}

int
s3_delete_object(struct s3 *s, const char *key, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.key = key;
	r = s3_req_run(s, NULL, &q, err);
	s3_req_clear(&q);
	return r;
}

int
s3_object_lock_enabled(struct s3 *s, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "GET";
	if (s3_query_add(&q.q, "object-lock", "") < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	q.resp_max = 64 * 1024;
	if ((r = s3_req_run(s, NULL, &q, err)) == 0) {
		/* <ObjectLockConfiguration><ObjectLockEnabled>Enabled</...>:
		 * one fixed element, no need for a parser. */
		r = strstr(lb_buf_str(&q.resp), ">Enabled<") != NULL;
	} else if (strcmp(q.code, "ObjectLockConfigurationNotFoundError") == 0 ||
	    (q.status == 404 && strcmp(q.code, "NoSuchBucket") != 0)) {
		lb_err_clear(err);
		r = 0;
	}
out:
	s3_req_clear(&q);
	return r;
}

int
s3_retain_until(struct s3 *s, const char *key, const char *version_id,
    time_t *until, struct lb_err *err)
{
	struct s3_req q;
	int r;

	*until = 0;
	memset(&q, 0, sizeof(q));
	q.method = "HEAD";
	q.key = key;
	if (version_id != NULL && s3_query_add(&q.q, "versionId", version_id) < 0)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	else if ((r = s3_req_run(s, NULL, &q, err)) == 0)
		*until = q.lock_until;
	s3_req_clear(&q);
	return r;
}

int
s3_delete_version(struct s3 *s, const char *key, const char *version_id,
    struct lb_err *err)
{
	struct s3_req q;
	struct lb_err e2 = { 0 };
	time_t until = 0;
	struct tm tm;
	char when[32] = "a date the store did not say";
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.key = key;
	if (s3_query_add(&q.q, "versionId", version_id) < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = s3_req_run(s, NULL, &q, err)) == 0 || q.status != 403)
		goto out;
	/* A 403 to a DELETE by version from credentials that just listed
	 * the bucket is the lock (AWS and versitygw: AccessDenied, "object
	 * protected by object lock"), not a credentials error: say until
	 * when, from the version's own retain-until. */
	if (s3_retain_until(s, key, version_id, &until, &e2) < 0 || until == 0)
		goto out;
	gmtime_r(&until, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = lb_err_set(err, LB_E_LOCKED, "s3 DELETE %s/%.300s version %.64s: "
	    "locked until %s (S3 Object Lock)", s->bucket, key, version_id, when);
out:
	s3_req_clear(&q);
	return r;
}

/* One page of a listing: runs q (its query built) and parses the answer
 * into l; what names the listing in errors. */
static int
list_page(struct s3 *s, struct s3_req *q, const char *what, const char *prefix,
    struct s3_xml_list *l, struct lb_err *err)
{
	int r;

	if ((r = s3_req_run(s, NULL, q, err)) < 0)
		return r;
	if ((r = s3_xml_parse_list(lb_buf_str(&q->resp), q->resp.len, l, err)) < 0)
		return lb_err_prefix(err, "s3 %s %s/%s: ", what, s->bucket, prefix);
	s3_req_clear(q);
	return 0;
}

int
s3_list(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const char *key, uint64_t size), void *arg,
    struct lb_err *err)
{
	struct s3_xml_list l;
	char *token = NULL, *last = NULL, mk[24];
	struct s3_req q;
	size_t i;
	int r = 0;

	memset(&l, 0, sizeof(l));
	snprintf(mk, sizeof(mk), "%ld", s->page_keys);
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.method = "GET";
		if (s3_query_add(&q.q, "list-type", "2") < 0 ||
		    s3_query_add(&q.q, "max-keys", mk) < 0 ||
		    s3_query_add(&q.q, "prefix", prefix) < 0 ||
		    (token != NULL &&
		    s3_query_add(&q.q, "continuation-token", token) < 0)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			break;
		}
		if ((r = list_page(s, &q, "list", prefix, &l, err)) < 0)
			break;
		/* A server that answers a page again (the same token, or keys
		 * that do not move forward) would list for ever: every page must
		 * start after the last key of the one before. */
		if (l.n > 0 && last != NULL && strcmp(l.items[0].key, last) <= 0) {
			r = lb_err_set(err, LB_E_PROTO, "s3 list %s/%s: the server listed key "
			    "'%.200s' again or out of order after '%.200s' (a listing that "
			    "would never end): stopped", s->bucket, prefix, l.items[0].key, last);
			break;
		}
		for (i = 0; i < l.n; i++)
			if ((r = cb(arg, l.items[i].key, l.items[i].size)) < 0)
				goto out;
		if (!l.truncated)
			break;
		if (token != NULL && l.next_token != NULL && strcmp(token, l.next_token) == 0) {
			r = lb_err_set(err, LB_E_PROTO, "s3 list %s/%s: the server repeated "
			    "continuation token '%.64s' (a listing that would never end): "
			    "stopped", s->bucket, prefix, token);
			break;
		}
		if (l.n > 0) {
			free(last);
			if ((last = strdup(l.items[l.n - 1].key)) == NULL) {
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
				break;
			}
		}
		free(token);
		token = l.next_token;
		l.next_token = NULL;
		s3_xml_list_clear(&l);
	}
out:
	s3_req_clear(&q);
	s3_xml_list_clear(&l);
	free(token);
	free(last);
	return r;
}

/* A listing paged by two markers, key and an id (?uploads: upload-id-
 * marker, ?versions: version-id-marker): cb for each item of each page. */
static int
list_by_markers(struct s3 *s, const char *sub, const char *id_marker, const char *what,
    const char *prefix, int (*cb)(void *arg, const struct s3_xml_item *it), void *arg,
    struct lb_err *err)
{
	struct s3_xml_list l;
	char *km = NULL, *im = NULL;
	struct s3_req q;
	size_t i;
	int r = 0;

	memset(&l, 0, sizeof(l));
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.method = "GET";
		if (s3_query_add(&q.q, sub, "") < 0 ||
		    s3_query_add(&q.q, "prefix", prefix) < 0 ||
		    (km != NULL && s3_query_add(&q.q, "key-marker", km) < 0) ||
		    (im != NULL && s3_query_add(&q.q, id_marker, im) < 0)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			break;
		}
		if ((r = list_page(s, &q, what, prefix, &l, err)) < 0)
			break;
		for (i = 0; i < l.n; i++)
			if ((r = cb(arg, &l.items[i])) < 0)
				goto out;
		if (!l.truncated || l.next_key_marker == NULL)
			break;
		/* The same markers again would list for ever. */
		if (km != NULL && strcmp(km, l.next_key_marker) == 0 &&
		    (im == NULL) == (l.next_upload_marker == NULL) &&
		    (im == NULL || strcmp(im, l.next_upload_marker) == 0)) {
			r = lb_err_set(err, LB_E_PROTO, "s3 %s %s/%s: the server repeated its "
			    "markers ('%.200s') (a listing that would never end): stopped",
			    what, s->bucket, prefix, km);
			break;
		}
		free(km);
		free(im);
		km = l.next_key_marker;
		im = l.next_upload_marker;
		l.next_key_marker = l.next_upload_marker = NULL;
		s3_xml_list_clear(&l);
	}
out:
	s3_req_clear(&q);
	s3_xml_list_clear(&l);
	free(km);
	free(im);
	return r;
}

int
s3_list_uploads(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const struct s3_xml_item *it), void *arg, struct lb_err *err)
{
	return list_by_markers(s, "uploads", "upload-id-marker", "list uploads", prefix,
	    cb, arg, err);
}

int
s3_list_versions(struct s3 *s, const char *prefix,
    int (*cb)(void *arg, const struct s3_xml_item *it), void *arg, struct lb_err *err)
{
	return list_by_markers(s, "versions", "version-id-marker", "list versions", prefix,
	    cb, arg, err);
}

int
s3_abort_upload(struct s3 *s, const char *key, const char *upload_id,
    struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "DELETE";
	q.key = key;
	if (s3_query_add(&q.q, "uploadId", upload_id) < 0)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	else
		r = s3_req_run(s, NULL, &q, err);
	/* Gone already (completed, or aborted by someone else): S3's code
	 * says so; the message stays S3's. */
	if (r < 0 && strcmp(q.code, "NoSuchUpload") == 0) {
		r = LB_E_NOTFOUND;
		if (err != NULL)
			err->code = r;
	}
	s3_req_clear(&q);
	return r;
}
