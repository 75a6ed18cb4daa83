/*
 * bbolt.c: the read-only bbolt reader of bbolt.h.
 *
 * Format (go.etcd.io/bbolt, little-endian on every platform etcd ships):
 * the file is an array of pages of page_size bytes.  Pages 0 and 1 are meta
 * pages; the valid one with the higher txid is current.  Every page starts
 * with a 16-byte header (id, flags, count, overflow); a page and its
 * `overflow` followers form one span.  Branch and leaf pages hold `count`
 * 16-byte elements whose key (and value) sit at an offset relative to the
 * element itself.  A leaf element flagged as a bucket holds a 16-byte bucket
 * header (root page, sequence); root 0 means the bucket's single leaf page
 * follows inline in the value.
 *
 * Every read goes through rd_pread or a window (a small cache of file
 * bytes), each checked against the database length; pages are marked in a
 * bitmap as they are visited, so a page reached twice stops the walk.
 */
#include "snapshot/bbolt.h"
#include "common/bytes.h"
#include "common/crc32c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define BB_MAGIC        0xED0CDAEDu
#define BB_VERSION      2u
#define BB_HDR          16u     /* id u64, flags u16, count u16, overflow u32 */
#define BB_ELEM         16u     /* branch: pos, ksize, pgid; leaf: flags, pos, ksize, vsize */
#define BB_META_LEN     64u
#define BB_META_SUMMED  56u     /* meta bytes the checksum covers */
#define BB_BRANCH       0x01u
#define BB_LEAF         0x02u
#define BB_FREELIST     0x10u
#define BB_BUCKET_FLAG  0x01u
#define BB_BUCKET_HDR   16u     /* root pgid u64, sequence u64 */
#define BB_NO_FREELIST  UINT64_MAX
#define BB_PS_MIN       512u
#define BB_PS_MAX       (1u << 20)
#define MAX_DEPTH       48      /* fan-out >= 2, so 2^48 pages would be needed */
#define MAX_NEST        16      /* buckets in buckets; etcd uses one level */
#define WIN_CAP         (256u * 1024u)
#define BATCH           32u     /* elements copied to the stack at a time */
#define TRAILER_LEN     32u
#define HEAD_LEN        32u     /* leading bytes of a key kept for naming */

enum kind { K_ROOT, K_TOP, K_DEEP };
enum top { T_OTHER, T_KEY, T_META, T_CLUSTER };

struct win {
	uint8_t *buf;
	uint64_t off;
	size_t len;
};

/* The state of one inspection. */
struct rd {
	const char *name;
	int fd;                 /* -1 when reading mem */
	const uint8_t *mem;
	uint64_t db_len;        /* the file without etcd's trailer */
	uint32_t ps;
	uint64_t hwm;           /* meta pgid: valid pages are [0, hwm) */
	uint8_t *reach;         /* one bit per page, set when visited */
	uint8_t *freed;         /* one bit per page in the freelist; NULL if none */
	struct win ew, dw;      /* windows for elements and for keys and values */
	uint32_t crc;           /* etcd's hash, running (common/crc32c.h) */
	struct bbolt_info *out;
	struct lb_err *err;
	/* bbolt_key_foreach: called for each entry of bucket "key"; kv holds
	 * a copy of the entry read from a file (grown to the largest). */
	bbolt_key_fn visit;
	void *visit_arg;
	uint8_t *kv;
	size_t kv_cap;
};

struct region {
	uint64_t off, len;      /* bytes of the page span (or inline page) */
	uint64_t pgid;          /* 0 for an inline page */
	uint16_t flags, count;
};

static int corrupt(struct rd *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets LB_E_CORRUPT with the file name in front. */
static int
corrupt(struct rd *r, const char *fmt, ...)
{
	char msg[LB_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lb_err_set(r->err, LB_E_CORRUPT, "%s: %s", r->name, msg);
}

static int
truncated(struct rd *r, uint64_t off, uint64_t n)
{
	return corrupt(r, "truncated or damaged bbolt database: needs bytes up to "
	    "%llu, has %llu", (unsigned long long)(off + n),
	    (unsigned long long)r->db_len);
}

/* Reads exactly n bytes at off of the database. */
static int
rd_pread(struct rd *r, uint64_t off, void *dst, size_t n)
{
	size_t done = 0;
	ssize_t k;

	if (off > r->db_len || n > r->db_len - off)
		return truncated(r, off, n);
	if (r->fd < 0) {
		memcpy(dst, r->mem + off, n);
		return 0;
	}
	while (done < n) {
		k = pread(r->fd, (uint8_t *)dst + done, n - done, (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return lb_err_sys(r->err, LB_E_IO, errno, "%s: read", r->name);
		if (k == 0)
			return corrupt(r, "file shrank while being read");
		done += (size_t)k;
	}
	return 0;
}

/* Points *p at n bytes at off (n <= WIN_CAP).  A miss refills the window
 * with as much as fits up to limit, the end of the region being walked, so
 * the next elements or keys of the same page are already there.  *p is
 * valid until the next call on the same window. */
static int
win_get(struct rd *r, struct win *w, uint64_t off, size_t n, uint64_t limit,
    const uint8_t **p)
{
	uint64_t want;
	int rc;

	if (off > r->db_len || n > r->db_len - off)
		return truncated(r, off, n);
	if (r->fd < 0) {
		*p = r->mem + off;
		return 0;
	}
	if (n > WIN_CAP)
		return lb_err_set(r->err, LB_E_INTERNAL, "bbolt window overrun");
	if (w->len > 0 && off >= w->off && off + n <= w->off + w->len) {
		*p = w->buf + (off - w->off);
		return 0;
	}
	want = limit > off ? limit - off : 0;
	if (want > WIN_CAP)
		want = WIN_CAP;
	if (want < n)
		want = n;
	if (want > r->db_len - off)
		want = r->db_len - off;
	w->len = 0;
	if ((rc = rd_pread(r, off, w->buf, (size_t)want)) < 0)
		return rc;
	w->off = off;
	w->len = (size_t)want;
	*p = w->buf;
	return 0;
}

/* Feeds [off, off+len) to the crc (if hash) and copies its first bytes
 * into head (up to headlen), in window-sized pieces. */
static int
stream(struct rd *r, uint64_t off, uint64_t len, uint64_t limit, int hash,
    uint8_t *head, size_t headlen)
{
	const uint8_t *p;
	uint64_t done = 0;
	size_t n, h;
	int rc;

	while (done < len) {
		n = len - done > WIN_CAP ? WIN_CAP : (size_t)(len - done);
		if ((rc = win_get(r, &r->dw, off + done, n, limit, &p)) < 0)
			return rc;
		if (hash && r->visit == NULL)  /* a visitor's walk wants no status */
			r->crc = lb_crc32c_update(r->crc, p, n);
		if (done < headlen) {
			h = headlen - (size_t)done < n ? headlen - (size_t)done : n;
			memcpy(head + done, p, h);
		}
		done += n;
	}
	return 0;
}

static int
bit_test_set(uint8_t *map, uint64_t i)
{
	int was = (map[i >> 3] >> (i & 7)) & 1;

	map[i >> 3] |= (uint8_t)(1u << (i & 7));
	return was;
}

static int
bit_test(const uint8_t *map, uint64_t i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

/* Reads the header of page pgid and checks what bbolt's tx.Check checks:
 * in bounds, referenced once, not free, a branch or a leaf. */
static int
load_page(struct rd *r, uint64_t pgid, struct region *reg)
{
	const uint8_t *p;
	uint64_t off, span, i;
	uint32_t overflow;
	int rc;

	if (pgid < 2 || pgid >= r->hwm)
		return corrupt(r, "damaged bbolt database: page %llu out of bounds "
		    "(high water mark %llu)", (unsigned long long)pgid,
		    (unsigned long long)r->hwm);
	off = pgid * r->ps;
	if ((rc = win_get(r, &r->ew, off, BB_HDR, off + r->ps, &p)) < 0)
		return rc;
	if (le64(p) != pgid)
		return corrupt(r, "damaged bbolt database: page %llu has the header "
		    "of page %llu", (unsigned long long)pgid,
		    (unsigned long long)le64(p));
	reg->pgid = pgid;
	reg->flags = le16(p + 8);
	reg->count = le16(p + 10);
	overflow = le32(p + 12);
	if ((uint64_t)overflow >= r->hwm - pgid)
		return corrupt(r, "damaged bbolt database: page %llu overflows past "
		    "the high water mark", (unsigned long long)pgid);
	span = (uint64_t)overflow + 1;
	for (i = 0; i < span; i++) {
		if (bit_test_set(r->reach, pgid + i))
			return corrupt(r, "damaged bbolt database: page %llu: multiple "
			    "references", (unsigned long long)(pgid + i));
		if (r->freed != NULL && bit_test(r->freed, pgid + i))
			return corrupt(r, "damaged bbolt database: page %llu: reachable "
			    "freed", (unsigned long long)(pgid + i));
	}
	if (reg->flags != BB_BRANCH && reg->flags != BB_LEAF)
		return corrupt(r, "damaged bbolt database: page %llu: invalid type "
		    "0x%x", (unsigned long long)pgid, reg->flags);
	reg->off = off;
	reg->len = span * r->ps;
	if (BB_HDR + (uint64_t)reg->count * BB_ELEM > reg->len)
		return corrupt(r, "damaged bbolt database: page %llu: %u elements do "
		    "not fit", (unsigned long long)pgid, reg->count);
	return 0;
}

static int walk_page(struct rd *r, const struct region *reg, int depth,
    int nest, enum kind kind, enum top top);

/* Opens the bucket whose 16-byte header is the value at [voff, voff+vlen)
 * and walks its tree. */
static int
walk_bucket(struct rd *r, uint64_t voff, uint64_t vlen, uint64_t limit,
    int nest, enum kind kind, enum top top)
{
	struct region reg;
	const uint8_t *p;
	uint64_t root;
	int rc;

	if (nest > MAX_NEST)
		return corrupt(r, "damaged bbolt database: buckets nested deeper "
		    "than %d", MAX_NEST);
	if (vlen < BB_BUCKET_HDR)
		return corrupt(r, "damaged bbolt database: bucket value of %llu "
		    "bytes", (unsigned long long)vlen);
	if ((rc = win_get(r, &r->dw, voff, BB_BUCKET_HDR, limit, &p)) < 0)
		return rc;
	root = le64(p);
	if (root != 0) {
		if ((rc = load_page(r, root, &reg)) < 0)
			return rc;
		return walk_page(r, &reg, 0, nest, kind, top);
	}
	/* An inline bucket: one leaf page inside the value. */
	reg.pgid = 0;
	reg.off = voff + BB_BUCKET_HDR;
	reg.len = vlen - BB_BUCKET_HDR;
	if (reg.len < BB_HDR)
		return corrupt(r, "damaged bbolt database: inline bucket of %llu "
		    "bytes", (unsigned long long)reg.len);
	if ((rc = win_get(r, &r->dw, reg.off, BB_HDR, limit, &p)) < 0)
		return rc;
	reg.flags = le16(p + 8);
	reg.count = le16(p + 10);
	if (reg.flags != BB_LEAF)
		return corrupt(r, "damaged bbolt database: inline bucket page of "
		    "type 0x%x", reg.flags);
	if (BB_HDR + (uint64_t)reg.count * BB_ELEM > reg.len)
		return corrupt(r, "damaged bbolt database: inline bucket: %u "
		    "elements do not fit", reg.count);
	return walk_page(r, &reg, 0, nest, kind, top);
}

/* A key's first bytes, fit for a message (no control characters). */
static const char *
printable(const uint8_t *head, uint32_t len, char dst[HEAD_LEN + 1])
{
	uint32_t i, n = len < HEAD_LEN ? len : HEAD_LEN;

	for (i = 0; i < n; i++)
		dst[i] = head[i] >= 0x20 && head[i] < 0x7f ? (char)head[i] : '?';
	dst[n] = '\0';
	return dst;
}

/* A version string etcd stores ("3.6.0"): kept only when it looks like
 * one, so a hostile file cannot put arbitrary text into a message. */
static void
version_copy(char dst[BBOLT_VERSION_LEN], const uint8_t *v, uint32_t len)
{
	uint32_t i;

	if (len == 0 || len >= BBOLT_VERSION_LEN)
		return;
	for (i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || v[i] == '.'))
			return;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Hands the entry [koff, koff+ksize) [voff, voff+vsize) of bucket "key"
 * to the visitor; the caller checked that both lie inside their page. */
static int
visit_entry(struct rd *r, uint64_t koff, uint32_t ksize, uint64_t voff,
    uint32_t vsize)
{
	size_t need = (size_t)ksize + vsize;
	uint8_t *nb;
	int rc;

	if (r->fd < 0) {
		if (koff > r->db_len || need > r->db_len - koff)
			return truncated(r, koff, need);
		return r->visit(r->visit_arg, r->mem + koff, ksize, r->mem + voff,
		    vsize, r->err);
	}
	if (need > r->kv_cap) {
		if ((nb = realloc(r->kv, need)) == NULL)
			return lb_err_set(r->err, LB_E_NOMEM, "out of memory");
		r->kv = nb;
		r->kv_cap = need;
	}
	/* key and value are adjacent: voff == koff + ksize */
	if (need > 0 && (rc = rd_pread(r, koff, r->kv, need)) < 0)
		return rc;
	return r->visit(r->visit_arg, r->kv, ksize, r->kv + ksize, vsize, r->err);
}

/* One leaf element, as etcd's status sees it: top-level keys name buckets;
 * in those buckets every entry counts and is hashed (a nested bucket by its
 * key only, as bbolt's ForEach gives it a nil value). */
static int
leaf_elem(struct rd *r, const struct region *reg, const uint8_t *e,
    uint64_t eoff, int nest, enum kind kind, enum top top)
{
	uint64_t end = reg->off + reg->len, koff, voff;
	uint32_t flags = le32(e), ksize = le32(e + 8), vsize = le32(e + 12);
	uint8_t head[HEAD_LEN], vhead[BBOLT_VERSION_LEN];
	char name[HEAD_LEN + 1];
	enum top child = T_OTHER;
	int rc, bucket = (flags & BB_BUCKET_FLAG) != 0;

	koff = eoff + le32(e + 4);
	voff = koff + ksize;
	if (voff + vsize > end)
		return corrupt(r, "damaged bbolt database: %s %llu: element out of "
		    "its page", reg->pgid ? "page" : "inline page at",
		    (unsigned long long)(reg->pgid ? reg->pgid : reg->off));
	if (kind == K_DEEP)
		return bucket ? walk_bucket(r, voff, vsize, end, nest + 1, K_DEEP,
		    T_OTHER) : 0;
	memset(head, 0, sizeof(head));
	if ((rc = stream(r, koff, ksize, end, 1, head, sizeof(head))) < 0)
		return rc;
	switch (kind) {
	case K_ROOT:
		if (!bucket)
			return corrupt(r, "not an etcd database: top-level key "
			    "'%s' is not a bucket", printable(head, ksize, name));
		if (ksize == 3 && memcmp(head, "key", 3) == 0)
			child = T_KEY;
		else if (ksize == 4 && memcmp(head, "meta", 4) == 0)
			child = T_META;
		else if (ksize == 7 && memcmp(head, "cluster", 7) == 0)
			child = T_CLUSTER;
		return walk_bucket(r, voff, vsize, end, nest + 1, K_TOP, child);
	case K_TOP:
		r->out->total_keys++;
		if (top == T_KEY) {
			if (ksize < 8)
				return corrupt(r, "not an etcd database: key of %u "
				    "bytes in bucket 'key'", ksize);
			r->out->revision = be64(head);
			if (r->visit != NULL) {
				if (bucket)
					return corrupt(r, "not an etcd database: a bucket "
					    "in bucket 'key'");
				return visit_entry(r, koff, ksize, voff, vsize);
			}
		}
		if (bucket)
			return walk_bucket(r, voff, vsize, end, nest + 1, K_DEEP, T_OTHER);
		if ((rc = stream(r, voff, vsize, end, 1, vhead, sizeof(vhead))) < 0)
			return rc;
		if (top == T_META && vsize >= 8) {
			if (ksize == 18 && memcmp(head, "finishedCompactRev", 18) == 0)
				r->out->compact_revision = be64(vhead);
			else if (ksize == 16 && memcmp(head, "consistent_index", 16) == 0)
				r->out->consistent_index = be64(vhead);
		}
		if (top == T_META && ksize == 14 && memcmp(head, "storageVersion", 14) == 0)
			version_copy(r->out->storage_version, vhead, vsize);
		else if (top == T_CLUSTER && ksize == 14 &&
		    memcmp(head, "clusterVersion", 14) == 0)
			version_copy(r->out->cluster_version, vhead, vsize);
		return 0;
	case K_DEEP:
		break;
	}
	return 0;
}

/* Walks the tree under reg in key order, depth first. */
static int
walk_page(struct rd *r, const struct region *reg, int depth, int nest,
    enum kind kind, enum top top)
{
	uint8_t batch[BATCH * BB_ELEM];
	const uint8_t *p, *e;
	struct region child;
	uint64_t eoff, end = reg->off + reg->len;
	uint32_t i, j, n;
	int rc;

	if (depth > MAX_DEPTH)
		return corrupt(r, "damaged bbolt database: tree deeper than %d "
		    "levels", MAX_DEPTH);
	for (i = 0; i < reg->count; i += n) {
		n = reg->count - i < BATCH ? reg->count - i : BATCH;
		eoff = reg->off + BB_HDR + (uint64_t)i * BB_ELEM;
		if ((rc = win_get(r, &r->ew, eoff, n * BB_ELEM, end, &p)) < 0)
			return rc;
		/* Copied: walking a child reuses the window. */
		memcpy(batch, p, n * BB_ELEM);
		for (j = 0; j < n; j++) {
			e = batch + j * BB_ELEM;
			if (reg->flags == BB_LEAF) {
				rc = leaf_elem(r, reg, e, eoff + j * BB_ELEM, nest,
				    kind, top);
			} else if (eoff + j * BB_ELEM + le32(e) + le32(e + 4) > end) {
				rc = corrupt(r, "damaged bbolt database: page %llu: "
				    "branch key out of its page",
				    (unsigned long long)reg->pgid);
			} else if ((rc = load_page(r, le64(e + 8), &child)) == 0) {
				rc = walk_page(r, &child, depth + 1, nest, kind, top);
			}
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Marks the freelist's pages reachable and the pages it lists free; a
 * page listed twice is "already freed" as in bbolt's check. */
static int
read_freelist(struct rd *r, uint64_t pgid)
{
	const uint8_t *p;
	uint64_t off, span, i, start, count, end;
	uint32_t overflow;
	uint16_t flags;
	int rc;

	if (pgid < 2 || pgid >= r->hwm)
		return corrupt(r, "damaged bbolt database: freelist page %llu out "
		    "of bounds", (unsigned long long)pgid);
	off = pgid * r->ps;
	if ((rc = win_get(r, &r->ew, off, BB_HDR + 8, off + r->ps, &p)) < 0)
		return rc;
	flags = le16(p + 8);
	count = le16(p + 10);
	overflow = le32(p + 12);
	if (le64(p) != pgid || flags != BB_FREELIST)
		return corrupt(r, "damaged bbolt database: page %llu is not a "
		    "freelist page", (unsigned long long)pgid);
	if ((uint64_t)overflow >= r->hwm - pgid)
		return corrupt(r, "damaged bbolt database: freelist overflows past "
		    "the high water mark");
	span = (uint64_t)overflow + 1;
	for (i = 0; i < span; i++)
		bit_test_set(r->reach, pgid + i);
	start = off + BB_HDR;
	/* 0xFFFF means the real count is in the first slot. */
	if (count == 0xFFFF) {
		count = le64(p + BB_HDR);
		start += 8;
	}
	end = off + span * r->ps;
	if (count > (end - start) / 8)
		return corrupt(r, "damaged bbolt database: freelist of %llu pages "
		    "does not fit its page", (unsigned long long)count);
	for (i = 0; i < count; i++) {
		uint64_t id;

		if ((rc = win_get(r, &r->ew, start + i * 8, 8, end, &p)) < 0)
			return rc;
		id = le64(p);
		if (id < r->hwm && bit_test_set(r->freed, id))
			return corrupt(r, "damaged bbolt database: page %llu: already "
			    "freed", (unsigned long long)id);
	}
	return 0;
}

struct meta {
	uint32_t ps;
	uint64_t root, freelist, pgid, txid;
	const char *why;        /* NULL when valid */
};

/* Reads and validates the meta page at off (magic, version, FNV-64a). */
static int
read_meta(struct rd *r, uint64_t off, struct meta *m)
{
	uint8_t b[BB_HDR + BB_META_LEN];
	const uint8_t *p = b + BB_HDR;
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	if (off > r->db_len || r->db_len - off < sizeof(b)) {
		m->why = "missing";
		return 0;
	}
	if ((rc = rd_pread(r, off, b, sizeof(b))) < 0)
		return rc;
	for (i = 0; i < BB_META_SUMMED; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	m->ps = le32(p + 8);
	m->root = le64(p + 16);
	m->freelist = le64(p + 32);
	m->pgid = le64(p + 40);
	m->txid = le64(p + 48);
	if (le32(p) != BB_MAGIC)
		m->why = "bad magic";
	else if (le32(p + 4) != BB_VERSION)
		m->why = "unsupported version";
	else if (le64(p + 56) != h)
		m->why = "checksum mismatch";
	else if (m->ps < BB_PS_MIN || m->ps > BB_PS_MAX || (m->ps & (m->ps - 1)))
		m->why = "bad page size";
	return 0;
}

/* Finds the page size and the current meta, as bbolt's Open does: meta 0
 * gives the page size; if it is damaged, meta 1 is looked for at each
 * possible page size. */
static int
pick_meta(struct rd *r, struct meta *cur)
{
	struct meta m0, m1 = { 0 };
	const char *why1 = NULL;
	uint32_t ps;
	int rc;

	if ((rc = read_meta(r, 0, &m0)) < 0)
		return rc;
	if (m0.why != NULL && strcmp(m0.why, "missing") == 0)
		return corrupt(r, "not a bbolt database (file of %llu bytes is too "
		    "short)", (unsigned long long)r->db_len);
	m1.why = "missing";
	if (m0.why == NULL) {
		if ((rc = read_meta(r, m0.ps, &m1)) < 0)
			return rc;
		if (m1.why == NULL && m1.ps != m0.ps)
			m1.why = "page size differs from meta page 0";
	} else {
		/* Keep the most telling reason: a meta page with the right
		 * magic but a bad checksum says more than "missing". */
		for (ps = BB_PS_MIN; ps <= BB_PS_MAX; ps <<= 1) {
			if ((rc = read_meta(r, ps, &m1)) < 0)
				return rc;
			if (m1.why == NULL && m1.ps == ps)
				break;
			if (m1.why != NULL && strcmp(m1.why, "missing") != 0 &&
			    strcmp(m1.why, "bad magic") != 0 && why1 == NULL)
				why1 = m1.why;
			m1.why = why1 != NULL ? why1 : "missing";
		}
	}
	if (m0.why != NULL && m1.why != NULL) {
		if (strcmp(m0.why, "bad magic") == 0 && strcmp(m1.why, "missing") == 0)
			return corrupt(r, "not a bbolt database (bad magic at meta "
			    "page 0)");
		return corrupt(r, "damaged bbolt database: meta page 0: %s; meta "
		    "page 1: %s", m0.why, m1.why);
	}
	if (m0.why == NULL && (m1.why != NULL || m0.txid >= m1.txid))
		*cur = m0;
	else
		*cur = m1;
	r->ps = cur->ps;
	return 0;
}

/* sha256 of the database bytes, and etcd's trailer check. */
static int
hash_db(struct rd *r, uint64_t file_len)
{
	uint8_t trailer[TRAILER_LEN];
	EVP_MD_CTX *ctx = NULL;
	const uint8_t *p;
	uint64_t off;
	size_t n;
	int rc = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = lb_err_set(r->err, LB_E_NOMEM, "sha256 init failed");
		goto out;
	}
	for (off = 0; off < r->db_len; off += n) {
		n = r->db_len - off > WIN_CAP ? WIN_CAP : (size_t)(r->db_len - off);
		if ((rc = win_get(r, &r->dw, off, n, r->db_len, &p)) < 0)
			goto out;
		if (EVP_DigestUpdate(ctx, p, n) != 1) {
			rc = lb_err_set(r->err, LB_E_INTERNAL, "sha256 update failed");
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, r->out->sha256, NULL) != 1) {
		rc = lb_err_set(r->err, LB_E_INTERNAL, "sha256 final failed");
		goto out;
	}
	r->out->trailer = BBOLT_TRAILER_ABSENT;
	if (file_len != r->db_len) {
		/* The trailer lies past db_len: read it without the bounds. */
		r->db_len = file_len;
		rc = rd_pread(r, file_len - TRAILER_LEN, trailer, TRAILER_LEN);
		r->db_len = file_len - TRAILER_LEN;
		if (rc < 0)
			goto out;
		r->out->trailer = memcmp(trailer, r->out->sha256, TRAILER_LEN) == 0 ?
		    BBOLT_TRAILER_OK : BBOLT_TRAILER_BAD;
	}
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int
inspect(struct rd *r, uint64_t file_len)
{
	struct bbolt_info *out = r->out;
	struct region root;
	struct meta m = { 0 };
	uint64_t i;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->file_size = file_len;
	r->crc = LB_CRC32C_INIT;
	/* etcd's rule (snapshot restore): a trailer iff size % 512 == 32. */
	r->db_len = file_len;
	if (file_len % 512 == TRAILER_LEN)
		r->db_len = file_len - TRAILER_LEN;
	if ((rc = pick_meta(r, &m)) < 0)
		goto out;
	if (m.pgid < 4 || m.pgid > r->db_len / r->ps) {
		rc = m.pgid < 4 ?
		    corrupt(r, "damaged bbolt database: high water mark %llu",
		    (unsigned long long)m.pgid) :
		    corrupt(r, "truncated bbolt database: needs %llu bytes, has %llu",
		    (unsigned long long)m.pgid * r->ps,
		    (unsigned long long)r->db_len);
		goto out;
	}
	r->hwm = m.pgid;
	out->page_size = r->ps;
	out->db_size = m.pgid * r->ps;
	out->txid = m.txid;
	/* After the cheap checks: a big file that is not bbolt is refused
	 * without reading all of it.  A walk for a visitor skips it: its
	 * caller verified the file before. */
	if (r->visit == NULL && (rc = hash_db(r, file_len)) < 0)
		goto out;
	if ((r->reach = calloc(1, (size_t)(r->hwm / 8 + 1))) == NULL) {
		rc = lb_err_set(r->err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	bit_test_set(r->reach, 0);
	bit_test_set(r->reach, 1);
	/* etcd syncs no freelist (NoFreelistSync): bbolt rebuilds it from
	 * the unreachable pages, so only a synced one can be checked. */
	if (m.freelist != BB_NO_FREELIST) {
		if ((r->freed = calloc(1, (size_t)(r->hwm / 8 + 1))) == NULL) {
			rc = lb_err_set(r->err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = read_freelist(r, m.freelist)) < 0)
			goto out;
	}
	if ((rc = load_page(r, m.root, &root)) < 0 ||
	    (rc = walk_page(r, &root, 0, 0, K_ROOT, T_OTHER)) < 0)
		goto out;
	if (r->freed != NULL) {
		for (i = 0; i < r->hwm; i++)
			if (!bit_test(r->reach, i) && !bit_test(r->freed, i)) {
				rc = corrupt(r, "damaged bbolt database: page %llu: "
				    "unreachable unfreed", (unsigned long long)i);
				goto out;
			}
	}
	out->hash = lb_crc32c_final(r->crc);
out:
	free(r->reach);
	free(r->freed);
	r->reach = r->freed = NULL;
	if (rc < 0 && out->trailer == BBOLT_TRAILER_BAD && r->err != NULL) {
		n = strlen(r->err->msg);
		snprintf(r->err->msg + n, sizeof(r->err->msg) - n,
		    " (and the etcd sha256 trailer does not match)");
	}
	return rc;
}

/* One walk over bytes in memory; visit (may be NULL) sees bucket "key". */
static int
run_buf(const uint8_t *buf, size_t len, const char *name, struct bbolt_info *out,
    bbolt_key_fn visit, void *arg, struct lb_err *err)
{
	struct rd *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	r->name = name;
	r->fd = -1;
	r->mem = buf;
	r->out = out;
	r->err = err;
	r->visit = visit;
	r->visit_arg = arg;
	rc = inspect(r, len);
	free(r);
	return rc;
}

int
bbolt_inspect_buf(const uint8_t *buf, size_t len, const char *name,
    struct bbolt_info *out, struct lb_err *err)
{
	return run_buf(buf, len, name, out, NULL, NULL, err);
}

/* Opens path and runs inspect with visit (NULL: a plain inspection). */
static int
run_file(const char *path, struct bbolt_info *out, bbolt_key_fn visit,
    void *arg, struct lb_err *err)
{
	struct rd *r = NULL;
	struct stat st;
	int rc, fd = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = lb_err_sys(err, errno == ENOENT ? LB_E_NOTFOUND : LB_E_IO, errno,
		    "%s: cannot open", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = lb_err_sys(err, LB_E_IO, errno, "%s: cannot stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = lb_err_set(err, LB_E_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ew.buf = malloc(WIN_CAP)) == NULL ||
	    (r->dw.buf = malloc(WIN_CAP)) == NULL) {
		rc = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->name = path;
	r->fd = fd;
	r->out = out;
	r->err = err;
	r->visit = visit;
	r->visit_arg = arg;
	rc = inspect(r, (uint64_t)st.st_size);
out:
	if (r != NULL) {
		free(r->ew.buf);
		free(r->dw.buf);
		free(r->kv);
		free(r);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int
bbolt_inspect_file(const char *path, struct bbolt_info *out, struct lb_err *err)
{
	return run_file(path, out, NULL, NULL, err);
}

int
bbolt_key_foreach_file(const char *path, bbolt_key_fn fn, void *arg,
    struct lb_err *err)
{
	struct bbolt_info info;

	return run_file(path, &info, fn, arg, err);
}

int
bbolt_key_foreach_buf(const uint8_t *buf, size_t len, const char *name,
    bbolt_key_fn fn, void *arg, struct lb_err *err)
{
	struct bbolt_info info;

	return run_buf(buf, len, name, &info, fn, arg, err);
}

const char *
bbolt_trailer_name(int trailer)
{
	switch (trailer) {
	case BBOLT_TRAILER_OK:
		return "ok";
	case BBOLT_TRAILER_BAD:
		return "mismatch";
	default:
		return "absent";
	}
}
