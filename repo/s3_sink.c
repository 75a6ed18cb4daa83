/*
 * s3_sink.c: the upload sink of s3.h (s3_upload_new), the last stage of a
 * filter chain.  Bytes fill one of S3_PART_SLOTS part buffers (up to
 * S3_PART_SLOTS_MAX when the store is slower than the pipeline); a full one
 * goes to a thread of its own as one part of a multipart upload, and the
 * slot is reused only after its part is done, so memory stays bounded
 * whatever the object's size.  An object that fits in one part is a
 * single PUT; a sink freed unfinished aborts its upload.
 */
#include "repo/s3_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"

#define S3_PART_GROW_EVERY 2000          /* parts per part-size step */
#define S3_MAX_PARTS 10000
/* The completion body: per part 55 bytes of tags and its ETag (S3's are
 * a quoted MD5, 34 bytes), so 10000 parts take about 0.9 MiB; twice that
 * leaves room for the longer ETags of other stores. */
#define S3_COMPLETE_MAX (2 * 1024 * 1024)

struct slot {
	struct upload *u;
	CURL *h;
	pthread_t th;
	int running;
	int done;                  /* atomic: its thread has finished */
	uint8_t *buf;
	size_t cap, len;
	unsigned int part;
	char etag[128];
	char cksum[48];            /* base64 sha256 of the part, "" under md5 */
	int rc;
	struct lb_err err;
};

struct upload {
	struct flt base;
	struct s3 *s;
	char *key;
	char *upload_id;
	uint64_t size_hint;
	size_t base_part;
	unsigned int parts;        /* parts handed to a thread so far */
	struct slot slots[S3_PART_SLOTS_MAX];
	int nslots;                /* in use: S3_PART_SLOTS, grown as needed */
	int cur;                   /* the slot being filled */
	char (*etags)[128];
	char (*cksums)[48];        /* per part, for the completion (sha256 mode) */
	size_t etags_cap, cksums_cap;
	int md5;                   /* no x-amz-checksum on parts (s->ck_refused
	                            * at initiation): Content-MD5 if locked */
	int rc;                    /* sticky first failure */
	struct lb_err err;
	volatile int cancel;
	int committed;
	struct s3_lock lock;       /* lock.mode NULL: none */
};

static void *
part_thread(void *arg)
{
	struct slot *sl = arg;
	struct upload *u = sl->u;
	struct s3_req q;
	char md5[32], pn[16];
	uint8_t d[32];

	memset(&q, 0, sizeof(q));
	/* One sha256 of the part: SigV4's payload hash and, unless the
	 * server refused it, the part's x-amz-checksum-sha256.  MD5 only
	 * for such a server, and only on a locked upload. */
	s3_sha256_raw(sl->buf, sl->len, d);
	q.body_sha256 = d;
	sl->cksum[0] = '\0';
	if (u->md5) {
		if (u->lock.mode != NULL) {
			s3_md5_b64(sl->buf, sl->len, md5);
			q.content_md5 = md5;
		}
	} else {
		s3_b64_32(d, sl->cksum);
		q.checksum_sha256 = sl->cksum;
	}
	snprintf(pn, sizeof(pn), "%u", sl->part);
	q.method = "PUT";
	q.key = u->key;
	q.body = sl->buf;
	q.body_len = sl->len;
	q.cancel = &u->cancel;
	lb_err_clear(&sl->err);
	if (s3_query_add(&q.q, "partNumber", pn) < 0 ||
	    s3_query_add(&q.q, "uploadId", u->upload_id) < 0)
		sl->rc = lb_err_set(&sl->err, LB_E_NOMEM, "out of memory");
	else
		sl->rc = s3_req_run(u->s, sl->h, &q, &sl->err);
	if (sl->rc == 0 && q.etag[0] == '\0')
		sl->rc = lb_err_set(&sl->err, LB_E_PROTO,
		    "s3 PUT %s/%s part %u: no ETag in the answer", u->s->bucket,
		    u->key, sl->part);
	snprintf(sl->etag, sizeof(sl->etag), "%s", q.etag);
	s3_req_clear(&q);
	__atomic_store_n(&sl->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Waits for the slot's part, recording its ETag or its failure. */
static void
slot_join(struct upload *u, struct slot *sl)
{
	if (!sl->running)
		return;
	pthread_join(sl->th, NULL);
	sl->running = 0;
	if (sl->rc < 0) {
		if (u->rc == 0) {
			u->rc = sl->rc;
			u->err = sl->err;
		}
	} else {
		memcpy(u->etags[sl->part - 1], sl->etag, sizeof(sl->etag));
		memcpy(u->cksums[sl->part - 1], sl->cksum, sizeof(sl->cksum));
	}
	sl->len = 0;
}

/* Part size for part number n: a size hint picks one that fits in 9000
 * parts; without one, it grows every S3_PART_GROW_EVERY parts so that
 * 10,000 parts hold far more than etcd's 8 GiB. */
static size_t
part_size_for(const struct upload *u, unsigned int n)
{
	return u->base_part * (1 + (n - 1) / S3_PART_GROW_EVERY);
}

static int
upload_initiate(struct upload *u, struct lb_err *err)
{
	struct s3_req q;
	int r;

	memset(&q, 0, sizeof(q));
	q.method = "POST";
	q.key = u->key;
	q.body = "";
	q.body_len = 0;
	/* The lock goes on the upload; S3 ignores it on parts. */
	q.lock = u->lock.mode != NULL ? &u->lock : NULL;
	/* Parts carry x-amz-checksum-sha256, which S3 takes only on an
	 * upload started with the algorithm (and then wants each part's in
	 * the completion). */
	u->md5 = __atomic_load_n(&u->s->ck_refused, __ATOMIC_RELAXED);
	if (!u->md5)
		q.checksum_algorithm = "SHA256";
	if (s3_query_add(&q.q, "uploads", "") < 0) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	r = s3_req_run(u->s, NULL, &q, err);
	if (r < 0 && !u->md5 && s3_checksum_refused(&q)) {
		log_info("s3 POST %s/%s: the server refused x-amz-checksum-algorithm "
		    "(%ld %s): no checksum header from now on", u->s->bucket, u->key,
		    q.status, q.code);
		__atomic_store_n(&u->s->ck_refused, 1, __ATOMIC_RELAXED);
		u->md5 = 1;
		s3_req_clear(&q);
		memset(&q, 0, sizeof(q));
		lb_err_clear(err);
		q.method = "POST";
		q.key = u->key;
		q.body = "";
		q.body_len = 0;
		q.lock = u->lock.mode != NULL ? &u->lock : NULL;
		if (s3_query_add(&q.q, "uploads", "") < 0) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		r = s3_req_run(u->s, NULL, &q, err);
	}
	if (r == 0 && (r = s3_xml_parse_upload_id(lb_buf_str(&q.resp), q.resp.len,
	    &u->upload_id, err)) < 0)
		lb_err_prefix(err, "s3 POST %s/%s: ", u->s->bucket, u->key);
out:
	s3_req_clear(&q);
	return r;
}

/* Makes a failure sticky: later writes and finish report it again. */
static int
upload_fail(struct upload *u, int r, const struct lb_err *err)
{
	if (u->rc == 0) {
		u->rc = r;
		if (err != NULL)
			u->err = *err;
	}
	return r;
}

/* The slot to fill next: one that is idle or whose part is done; when
 * every part is still in flight the store is behind the pipeline (its
 * latency, on a real endpoint tens of milliseconds per request, is what
 * keeps parts in flight), so one more slot while under
 * S3_PART_SLOTS_MAX; past it, bounded memory: wait for the oldest. */
static int
next_slot(struct upload *u)
{
	int i, oldest = -1;

	for (i = 0; i < u->nslots; i++) {
		struct slot *sl = &u->slots[i];
		if (!sl->running || __atomic_load_n(&sl->done, __ATOMIC_ACQUIRE)) {
			slot_join(u, sl);
			return i;
		}
		if (oldest < 0 || sl->part < u->slots[oldest].part)
			oldest = i;
	}
	if (u->nslots < S3_PART_SLOTS_MAX) {
		log_debug("s3 upload of %s: %d parts in flight, one more slot",
		    u->key, u->nslots);
		return u->nslots++;
	}
	slot_join(u, &u->slots[oldest]);
	return oldest;
}

/* Hands the current slot to a thread and moves to the next slot. */
static int
upload_dispatch(struct upload *u, struct lb_err *err)
{
	struct slot *sl = &u->slots[u->cur];
	int r;

	if (u->upload_id == NULL && (r = upload_initiate(u, err)) < 0)
		return upload_fail(u, r, err);
	if (u->parts >= S3_MAX_PARTS)
		return lb_err_set(err, LB_E_INTERNAL, "s3 upload of %s exceeds %d parts",
		    u->key, S3_MAX_PARTS);
	if (lb_vec_grow(&u->etags, &u->etags_cap, u->parts, sizeof(*u->etags),
	    S3_MAX_PARTS) < 0 ||
	    lb_vec_grow(&u->cksums, &u->cksums_cap, u->parts, sizeof(*u->cksums),
	    S3_MAX_PARTS) < 0)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (sl->h == NULL && (sl->h = curl_easy_init()) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	sl->part = ++u->parts;
	sl->u = u;
	if (pthread_create(&sl->th, NULL, part_thread, sl) != 0)
		return lb_err_set(err, LB_E_INTERNAL, "cannot start an upload thread");
	sl->done = 0;
	sl->running = 1;
	u->cur = next_slot(u);
	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	return 0;
}

static int
upload_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct upload *u = (struct upload *)f;
	const uint8_t *p = buf;
	struct slot *sl;
	size_t want, take;
	void *nb;
	int r;

	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	while (len > 0) {
		sl = &u->slots[u->cur];
		want = part_size_for(u, u->parts + 1);
		if (sl->cap != want) {
			if ((nb = realloc(sl->buf, want)) == NULL)
				return lb_err_set(err, LB_E_NOMEM, "out of memory");
			sl->buf = nb;
			sl->cap = want;
		}
		take = want - sl->len < len ? want - sl->len : len;
		memcpy(sl->buf + sl->len, p, take);
		sl->len += take;
		p += take;
		len -= take;
		if (sl->len == want && (r = upload_dispatch(u, err)) < 0)
			return r;
	}
	return 0;
}

/* The completion, with each part's ChecksumSHA256 when with_ck (and
 * the parts carried one); *refused is set when the server refused the
 * body for them (s3_checksum_refused). */
static int
upload_complete(struct upload *u, int with_ck, int *refused, struct lb_err *err)
{
	struct lb_buf body;
	struct s3_req q;
	unsigned int i;
	const char *c;
	int r = 0;

	memset(&q, 0, sizeof(q));
	lb_buf_init(&body, S3_COMPLETE_MAX);
	lb_buf_addstr(&body, "<CompleteMultipartUpload>");
	for (i = 0; i < u->parts; i++) {
		lb_buf_addf(&body, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		for (c = u->etags[i]; *c; c++) {
			if (*c == '&')
				lb_buf_addstr(&body, "&amp;");
			else if (*c == '<')
				lb_buf_addstr(&body, "&lt;");
			else
				lb_buf_add(&body, c, 1);
		}
		lb_buf_addstr(&body, "</ETag>");
		if (with_ck && u->cksums[i][0] != '\0')
			lb_buf_addf(&body, "<ChecksumSHA256>%s</ChecksumSHA256>",
			    u->cksums[i]);
		lb_buf_addstr(&body, "</Part>");
	}
	/* the buffer's error sticks: one check for all of the above */
	if (lb_buf_addstr(&body, "</CompleteMultipartUpload>") < 0)
		goto nomem;
	q.method = "POST";
	q.key = u->key;
	q.body = lb_buf_str(&body);
	q.body_len = body.len;
	if (s3_query_add(&q.q, "uploadId", u->upload_id) < 0)
		goto nomem;
	r = s3_req_run(u->s, NULL, &q, err);
	*refused = r < 0 && with_ck && !u->md5 && s3_checksum_refused(&q);
	if (r == 0 && (r = s3_xml_parse_complete(lb_buf_str(&q.resp), q.resp.len,
	    err)) < 0)
		lb_err_prefix(err, "s3 POST %s/%s: ", u->s->bucket, u->key);
	goto out;
nomem:
	r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	s3_req_clear(&q);
	lb_buf_free(&body);
	return r;
}

static int
upload_finish(struct flt *f, struct lb_err *err)
{
	struct upload *u = (struct upload *)f;
	struct slot *sl = &u->slots[u->cur];
	int i, r, refused = 0;

	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	if (u->parts == 0) {
		/* Small object: one PUT, no multipart state to clean up. */
		if ((r = s3_put_object(u->s, u->key, sl->buf != NULL ? sl->buf :
		    (const uint8_t *)"", sl->len, u->lock.mode != NULL ? &u->lock :
		    NULL, err)) < 0)
			return r;
		u->committed = 1;
		return 0;
	}
	if (sl->len > 0 && (r = upload_dispatch(u, err)) < 0)
		return r;
	for (i = 0; i < u->nslots; i++)
		slot_join(u, &u->slots[i]);
	if (u->rc < 0) {
		if (err != NULL)
			*err = u->err;
		return u->rc;
	}
	if ((r = upload_complete(u, 1, &refused, err)) < 0 && refused) {
		/* A server that validates the completion against the schema
		 * of before checksums (Swift's s3api): complete without them
		 * (the parts' bodies were checked against their SigV4 payload
		 * hash all the same) and leave checksums out from now on. */
		log_info("s3 POST %s/%s: the server refused the parts' checksums "
		    "in the completion (%s): no checksum header from now on",
		    u->s->bucket, u->key, err != NULL ? err->msg : "");
		__atomic_store_n(&u->s->ck_refused, 1, __ATOMIC_RELAXED);
		lb_err_clear(err);
		r = upload_complete(u, 0, &refused, err);
	}
	if (r < 0)
		return upload_fail(u, r, err);
	u->committed = 1;
	return 0;
}

static void
upload_free(struct flt *f)
{
	struct upload *u = (struct upload *)f;
	struct lb_err e;
	int i;

	u->cancel = 1;
	for (i = 0; i < u->nslots; i++)
		slot_join(u, &u->slots[i]);
	if (u->upload_id != NULL && !u->committed) {
		lb_err_clear(&e);
		if (s3_abort_upload(u->s, u->key, u->upload_id, &e) < 0)
			log_warn("abort of s3 multipart upload %s failed: %s "
			    "(cleanup-orphans removes it later)", u->key, e.msg);
	}
	for (i = 0; i < u->nslots; i++) {
		if (u->slots[i].h != NULL)
			curl_easy_cleanup(u->slots[i].h);
		free(u->slots[i].buf);
	}
	free(u->etags);
	free(u->cksums);
	free(u->upload_id);
	free(u->key);
	free(u);
}

static const struct flt_ops upload_ops = {
	"s3", upload_write, upload_finish, upload_free
};

int
s3_upload_new(struct s3 *s, const char *key, uint64_t size_hint,
    const struct s3_lock *lock, struct flt **out, struct lb_err *err)
{
	struct upload *u;
	uint64_t want;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->key = strdup(key)) == NULL) {
		free(u);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	u->base.ops = &upload_ops;
	u->s = s;
	u->nslots = S3_PART_SLOTS;
	u->size_hint = size_hint;
	if (lock != NULL)
		u->lock = *lock;
	u->base_part = s->part_size;
	want = size_hint / 9000 + 1;
	if (want > u->base_part) {
		/* Whole MiB, so parts are easy to read in server logs. */
		want = (want + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
		u->base_part = (size_t)want;
	}
	*out = &u->base;
	return 0;
}
