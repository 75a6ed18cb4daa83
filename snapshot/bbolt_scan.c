/*
 * bbolt_scan.c: the streaming revision scan of bbolt_scan.h.
 *
 * Why not "the highest revision in any leaf": the stream holds every page
 * below the high water mark, freed ones included, and a freed page can
 * hold a revision above the live tree's last key:
 *  - compaction deletes a tombstone at the compaction revision (etcd's
 *    keyIndex.compact drops a generation's last revision when it is a
 *    tombstone), so after `put a; del a; compact` the live "key" bucket
 *    ends below the tombstone, while the page that held it may survive as
 *    a freed page (etcdctl then reports the lower revision);
 *  - Tx.WriteTo copies the file while etcd keeps committing: pages that
 *    were free in the snapshot's transaction are reused by later commits
 *    before the copy reaches them, so they carry revisions newer than the
 *    snapshot.  That is the normal case on a busy cluster.
 * What bbolt does guarantee is that the pages reachable from the snapshot
 * transaction's meta root are not rewritten while it is open.  So the scan
 * keeps small records of pages that may lie on the path from that root to
 * the last key of bucket "key", and walks the path when the stream ends:
 *  - every branch page: its last child and the child a search for "key"
 *    takes (16 bytes; a second record only when those differ);
 *  - every leaf holding an element "key" that is a bucket: the bucket's
 *    root page, or for an inline bucket the revision of its last key;
 *  - the TOPK leaves with the highest revision-shaped last keys: the live
 *    last leaf is among them unless TOPK freed leaves beat or tie it.
 * A page on the path without a record (a cap reached, a page in a shape
 * etcd does not write) makes the revision unknown, never a guess: each
 * page id occurs once in the stream, so a record for a page on the live
 * path always describes the live page.
 *
 * Every page boundary below the high water mark whose 16-byte header
 * names its own page id and is a branch or a leaf starts a span (the page
 * and its overflow pages), even inside another span: a freed span's
 * overflow pages may have been reused one by one, so following overflow
 * counts could skip live pages.  A span is parsed from a window of recent
 * bytes once it is complete or SPAN_BUF bytes long; a longer leaf (large
 * values) keeps only the element bytes it needs (its last key, a
 * candidate "key" element) as they stream past.
 *
 * When the revision is unknown (each case makes the path miss a record):
 *  - more than TOPK freed leaves whose last revision beats or ties the
 *    live last leaf (heavy writes reusing many free pages during the copy);
 *  - more than BRANCH_MAX branch pages, KEYCHILD_MAX branch pages whose
 *    search for "key" differs from their last child, or ROOTLEAF_MAX
 *    leaves holding a "key" bucket;
 *  - a last key of bucket "key" that is not an etcd revision key, or has
 *    main >= 2^48 or sub >= 2^32 (etcdctl would still print its first 8
 *    bytes);
 *  - an inline "key" bucket inside a leaf longer than the window, a leaf
 *    longer than the window whose element array does not fit in it, a
 *    branch page longer than the window, more than MAX_SPANS spans open
 *    at once (freed spans overlapping live pages), a truncated stream.
 * Nothing here depends on how the bytes are split into writes: spans are
 * opened and closed at their exact stream offsets.
 */
#include "snapshot/bbolt_scan.h"
#include "common/buf.h"
#include "common/bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BB_MAGIC        0xED0CDAEDu
#define BB_VERSION      2u
#define BB_HDR          16u
#define BB_ELEM         16u
#define BB_META_END     (BB_HDR + 64u)  /* header + meta, checksum included */
#define BB_BRANCH       0x01u
#define BB_LEAF         0x02u
#define BB_BUCKET_FLAG  0x01u
#define BB_PS_MIN       512u
#define BB_PS_MAX       (1u << 20)
#define TRAILER_LEN     32u
#define SPAN_BUF_MIN    (64u * 1024u)   /* span prefix parsed in the window */
#define MAX_SPANS       64              /* spans open at once */
#define NCAND           4               /* "key" candidates kept per long leaf */
#define CAP_LEN         19u             /* "key" + bucket header; last key is <= 18 */
#define TOPK            (1u << 14)      /* leaves kept by highest last revision */
#define BRANCH_MAX      (1u << 18)      /* 4 MiB of branch records */
#define KEYCHILD_MAX    (1u << 14)
#define ROOTLEAF_MAX    (1u << 14)
#define MAX_DEPTH       64
#define REV_MAIN_MAX    (1ull << 48)    /* plausibility: no real etcd gets near */
#define REV_SUB_MAX     (1ull << 32)

enum { KR_PAGE, KR_INLINE, KR_BAD };

struct cap {
	uint64_t off;           /* stream offset */
	uint32_t len, have;
	uint32_t vsize;
	uint8_t b[CAP_LEN];
};

struct span {
	uint64_t start, len, pgid;
	uint16_t flags, count;
	int streaming;
	int has_last, ncand, cand_lost;
	struct cap last;
	struct cap cand[NCAND];
};

struct pair {
	uint64_t pgid, v;
};

struct rootleaf {
	uint64_t pgid, v;
	int state;
};

struct scan {
	struct flt base;
	uint64_t total;         /* bytes seen */
	int done;               /* finish ran */
	int dead;               /* not bbolt: stop scanning */
	/* meta pages */
	uint8_t m0[BB_META_END], m1[BB_META_END];
	uint32_t m0_have, m1_have;
	uint64_t m1_off;        /* candidate offset of meta 1 (its page size) */
	int m0_state;           /* 0 pending, 1 valid, -1 invalid */
	int chosen;
	uint32_t ps;
	uint64_t root, hwm, txid, db_end;
	const char *m0_why, *m1_why;
	/* window over stream bytes [win_off, pos) */
	uint8_t *win;
	size_t win_cap, win_len;
	uint64_t win_off, pos;
	uint32_t span_buf;
	uint64_t next_pg;
	struct span spans[MAX_SPANS];
	int nspans;
	uint64_t spans_lost;
	/* records */
	struct pair *br;        /* branch: last child */
	size_t nbr, capbr;
	struct pair *kc;        /* branch: child for "key" when not the last */
	size_t nkc, capkc;
	struct rootleaf *rl;
	size_t nrl, caprl;
	struct pair *top;       /* min-heap on v (revision) */
	size_t ntop;
	int br_full, kc_full, rl_full, top_dropped;
	uint64_t max_seen;
	struct bbolt_scan res;
};

static void why(struct scan *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
why(struct scan *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->res.why, sizeof(s->res.why), fmt, ap);
	va_end(ap);
}

/* An etcd revision key of bucket "key": 8-byte main, '_', 8-byte sub, and
 * 't' for a tombstone.  The bounds keep out names of other buckets (auth
 * users, roles) that happen to have the same length and a '_'. */
static int
rev_shaped(const uint8_t *k, uint32_t n, uint64_t *main_rev)
{
	if ((n != 17 && n != 18) || k[8] != '_' || (n == 18 && k[17] != 't'))
		return 0;
	if (be64(k) >= REV_MAIN_MAX || be64(k + 9) >= REV_SUB_MAX)
		return 0;
	*main_rev = be64(k);
	return 1;
}

/* Whether key k sorts at or before "key" (bytes.Compare order). */
static int
le_key(const uint8_t *k, uint32_t n)
{
	int c = memcmp(k, "key", n < 3 ? n : 3);

	return c < 0 || (c == 0 && n <= 3);
}

/* Appends to a growable array of elements of size sz, up to max.  Once
 * per branch page or root leaf, not per byte: the call costs nothing
 * measurable (scantool -b). */
static int
push(void **arr, size_t *n, size_t *cap, size_t max, size_t sz,
    const void *e)
{
	if (lb_vec_grow(arr, cap, *n, sz, max) < 0)
		return -1;
	memcpy((uint8_t *)*arr + *n * sz, e, sz);
	(*n)++;
	return 0;
}

static void
rec_branch(struct scan *s, uint64_t pgid, uint64_t key_child, uint64_t last)
{
	struct pair b = { pgid, last }, k = { pgid, key_child };

	if (push((void **)&s->br, &s->nbr, &s->capbr, BRANCH_MAX, sizeof(b), &b) < 0)
		s->br_full = 1;
	else if (key_child != last &&
	    push((void **)&s->kc, &s->nkc, &s->capkc, KEYCHILD_MAX, sizeof(k), &k) < 0)
		s->kc_full = 1;
}

static void
rec_rootleaf(struct scan *s, uint64_t pgid, int state, uint64_t v)
{
	struct rootleaf r = { pgid, v, state };

	if (push((void **)&s->rl, &s->nrl, &s->caprl, ROOTLEAF_MAX, sizeof(r), &r) < 0)
		s->rl_full = 1;
}

static void
heap_down(struct pair *h, size_t n, size_t i)
{
	struct pair t;
	size_t c;

	for (; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && h[c + 1].v < h[c].v)
			c++;
		if (h[i].v <= h[c].v)
			break;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
	}
}

/* Keeps leaf pgid among the TOPK highest last revisions. */
static void
rec_leaf(struct scan *s, uint64_t pgid, uint64_t rev)
{
	struct pair t;
	size_t i;

	if (rev > s->max_seen)
		s->max_seen = rev;
	if (s->top == NULL)
		return;
	if (s->ntop < TOPK) {
		i = s->ntop++;
		s->top[i].pgid = pgid;
		s->top[i].v = rev;
		/* Sift up. */
		while (i > 0 && s->top[(i - 1) / 2].v > s->top[i].v) {
			t = s->top[i];
			s->top[i] = s->top[(i - 1) / 2];
			s->top[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
		return;
	}
	s->top_dropped = 1;
	if (rev <= s->top[0].v)
		return;
	s->top[0].pgid = pgid;
	s->top[0].v = rev;
	heap_down(s->top, s->ntop, 0);
}

/* The "key" bucket element of a leaf: its value v of vsize bytes, all in
 * memory.  A root of 0 means an inline bucket: a leaf page in the value. */
static void
key_bucket(struct scan *s, uint64_t pgid, const uint8_t *v, uint32_t vsize)
{
	const uint8_t *ip = v + 16, *e;
	uint64_t ilen, koff;
	uint32_t cnt, ksize;

	if (vsize < 16) {
		rec_rootleaf(s, pgid, KR_BAD, 0);
		return;
	}
	if (le64(v) != 0) {
		rec_rootleaf(s, pgid, KR_PAGE, le64(v));
		return;
	}
	ilen = vsize - 16;
	if (ilen < BB_HDR || le16(ip + 8) != BB_LEAF) {
		rec_rootleaf(s, pgid, KR_BAD, 0);
		return;
	}
	cnt = le16(ip + 10);
	if (cnt == 0) {
		rec_rootleaf(s, pgid, KR_INLINE, 0);
		return;
	}
	if (BB_HDR + (uint64_t)cnt * BB_ELEM > ilen) {
		rec_rootleaf(s, pgid, KR_BAD, 0);
		return;
	}
	e = ip + BB_HDR + (uint64_t)(cnt - 1) * BB_ELEM;
	ksize = le32(e + 8);
	koff = (uint64_t)(e - ip) + le32(e + 4);
	/* As etcdctl: the first 8 bytes of the last key, whatever its shape. */
	if (ksize < 8 || koff + ksize > ilen)
		rec_rootleaf(s, pgid, KR_BAD, 0);
	else {
		rec_rootleaf(s, pgid, KR_INLINE, be64(ip + koff));
		if (be64(ip + koff) > s->max_seen)
			s->max_seen = be64(ip + koff);
	}
}

/* A whole branch or leaf span in memory. */
static void
parse_full(struct scan *s, const struct span *sp, const uint8_t *b)
{
	const uint8_t *e;
	uint64_t koff, len = sp->len, rev;
	uint32_t i, ksize, vsize, best = 0, nkey = 0;

	if (BB_HDR + (uint64_t)sp->count * BB_ELEM > len || sp->count == 0)
		return;
	if (sp->flags == BB_BRANCH) {
		for (i = 0; i < sp->count; i++) {
			e = b + BB_HDR + (uint64_t)i * BB_ELEM;
			koff = (uint64_t)(e - b) + le32(e);
			ksize = le32(e + 4);
			if (koff + ksize > len)
				return;
			/* bbolt's seek: the last child whose key is <= the key. */
			if (le_key(b + koff, ksize))
				best = i;
		}
		rec_branch(s, sp->pgid, le64(b + BB_HDR + (uint64_t)best * BB_ELEM + 8),
		    le64(e + 8));
		return;
	}
	for (i = 0; i < sp->count; i++) {
		e = b + BB_HDR + (uint64_t)i * BB_ELEM;
		koff = (uint64_t)(e - b) + le32(e + 4);
		ksize = le32(e + 8);
		vsize = le32(e + 12);
		if (koff + ksize + vsize > len)
			return;
		if (i + 1 == sp->count && rev_shaped(b + koff, ksize, &rev))
			rec_leaf(s, sp->pgid, rev);
		if ((le32(e) & BB_BUCKET_FLAG) && ksize == 3 &&
		    memcmp(b + koff, "key", 3) == 0) {
			if (nkey++ > 0) {
				/* Two "key" elements: not a page bbolt writes. */
				rec_rootleaf(s, sp->pgid, KR_BAD, 0);
				return;
			}
			key_bucket(s, sp->pgid, b + koff + 3, vsize);
		}
	}
}

/* A leaf longer than the window: b holds its first span_buf bytes.  Sets
 * up captures of the last key and of "key" candidates; returns -1 if the
 * leaf cannot be followed. */
static int
setup_stream(struct scan *s, struct span *sp, const uint8_t *b)
{
	const uint8_t *e;
	struct cap *c;
	uint64_t koff;
	uint32_t i, ksize, vsize;

	if (sp->count == 0 || BB_HDR + (uint64_t)sp->count * BB_ELEM > s->span_buf)
		return -1;
	for (i = 0; i < sp->count; i++) {
		e = b + BB_HDR + (uint64_t)i * BB_ELEM;
		koff = (uint64_t)(e - b) + le32(e + 4);
		ksize = le32(e + 8);
		vsize = le32(e + 12);
		if (koff + ksize + vsize > sp->len)
			return -1;
		if (i + 1 == sp->count && (ksize == 17 || ksize == 18)) {
			c = &sp->last;
			c->off = sp->start + koff;
			c->len = ksize;
			c->vsize = vsize;
			sp->has_last = 1;
		}
		if ((le32(e) & BB_BUCKET_FLAG) && ksize == 3) {
			if (sp->ncand == NCAND) {
				sp->cand_lost = 1;
				continue;
			}
			c = &sp->cand[sp->ncand++];
			c->off = sp->start + koff;
			c->len = 3 + (vsize < 16 ? vsize : 16);
			c->vsize = vsize;
		}
	}
	sp->streaming = 1;
	return 0;
}

/* Copies into c what of its range the window holds. */
static void
fill(struct scan *s, struct cap *c, uint64_t now)
{
	uint64_t from = c->off + c->have, to = c->off + c->len;

	if (to > now)
		to = now;
	if (from >= to || from < s->win_off)
		return;
	memcpy(c->b + c->have, s->win + (from - s->win_off), (size_t)(to - from));
	c->have += (uint32_t)(to - from);
}

static void
finish_stream(struct scan *s, struct span *sp)
{
	struct cap *c;
	uint64_t rev;
	int i, nkey = 0;

	if (sp->has_last && sp->last.have == sp->last.len &&
	    rev_shaped(sp->last.b, sp->last.len, &rev))
		rec_leaf(s, sp->pgid, rev);
	for (i = 0; i < sp->ncand; i++) {
		c = &sp->cand[i];
		if (c->have != c->len || memcmp(c->b, "key", 3) != 0)
			continue;
		nkey++;
	}
	if (nkey > 1 || (nkey == 0 && sp->cand_lost)) {
		rec_rootleaf(s, sp->pgid, KR_BAD, 0);
		return;
	}
	for (i = 0; i < sp->ncand; i++) {
		c = &sp->cand[i];
		if (c->have != c->len || memcmp(c->b, "key", 3) != 0)
			continue;
		/* An inline bucket's body was not kept: unknown if on the path. */
		if (c->vsize < 16 || le64(c->b + 3) == 0)
			rec_rootleaf(s, sp->pgid, KR_BAD, 0);
		else
			rec_rootleaf(s, sp->pgid, KR_PAGE, le64(c->b + 3));
	}
}

/* Moves the open spans on to stream offset now (<= pos): parses those
 * complete or SPAN_BUF long, fills the captures of long leaves. */
static void
spans_to(struct scan *s, uint64_t now)
{
	struct span *sp;
	const uint8_t *h;
	uint64_t lim;
	int i, k, gone;

	for (i = 0; i < s->nspans; i++) {
		sp = &s->spans[i];
		gone = 0;
		if (!sp->streaming) {
			lim = sp->len < s->span_buf ? sp->len : s->span_buf;
			if (now < sp->start + lim)
				continue;
			h = s->win + (sp->start - s->win_off);
			if (sp->len <= s->span_buf) {
				parse_full(s, sp, h);
				gone = 1;
			} else if (sp->flags != BB_LEAF || setup_stream(s, sp, h) < 0) {
				s->spans_lost++;
				gone = 1;
			}
		}
		if (!gone) {
			if (sp->has_last)
				fill(s, &sp->last, now);
			for (k = 0; k < sp->ncand; k++)
				fill(s, &sp->cand[k], now);
			if (now >= sp->start + sp->len) {
				finish_stream(s, sp);
				gone = 1;
			}
		}
		if (gone)
			s->spans[i--] = s->spans[--s->nspans];
	}
}

/* Handles what the window's new bytes complete, in stream order, so
 * spans that end before a page boundary are closed before it opens one. */
static void
advance(struct scan *s)
{
	struct span *sp;
	const uint8_t *h;
	uint64_t off;
	uint32_t ovf;

	while (s->next_pg < s->hwm &&
	    (off = s->next_pg * s->ps) + BB_HDR <= s->pos) {
		spans_to(s, off);
		h = s->win + (off - s->win_off);
		ovf = le32(h + 12);
		if (le64(h) == s->next_pg &&
		    (le16(h + 8) == BB_BRANCH || le16(h + 8) == BB_LEAF) &&
		    (uint64_t)ovf < s->hwm - s->next_pg) {
			if (s->nspans == MAX_SPANS) {
				s->spans_lost++;
			} else {
				sp = &s->spans[s->nspans++];
				memset(sp, 0, sizeof(*sp));
				sp->start = off;
				sp->len = ((uint64_t)ovf + 1) * s->ps;
				sp->pgid = s->next_pg;
				sp->flags = le16(h + 8);
				sp->count = le16(h + 10);
			}
		}
		s->next_pg++;
	}
	spans_to(s, s->pos);
}

/* Feeds database bytes at stream offset s->pos through the window. */
static void
win_feed(struct scan *s, const uint8_t *p, size_t n)
{
	uint64_t keep;
	size_t k;
	int i;

	while (n > 0) {
		if (s->win_len == s->win_cap) {
			keep = s->next_pg < s->hwm ? s->next_pg * s->ps : s->pos;
			if (keep > s->pos)
				keep = s->pos;
			for (i = 0; i < s->nspans; i++)
				if (!s->spans[i].streaming && s->spans[i].start < keep)
					keep = s->spans[i].start;
			memmove(s->win, s->win + (keep - s->win_off),
			    (size_t)(s->pos - keep));
			s->win_len = (size_t)(s->pos - keep);
			s->win_off = keep;
		}
		k = s->win_cap - s->win_len;
		if (k > n)
			k = n;
		memcpy(s->win + s->win_len, p, k);
		s->win_len += k;
		s->pos += k;
		p += k;
		n -= k;
		advance(s);
	}
}

/* Validates a meta page (header + 64 bytes): magic, version, FNV-64a. */
static const char *
meta_check(const uint8_t *pg)
{
	const uint8_t *m = pg + BB_HDR;
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t ps = le32(m + 8);
	int i;

	for (i = 0; i < 56; i++)
		h = (h ^ m[i]) * 0x100000001b3ull;
	if (le32(m) != BB_MAGIC)
		return "bad magic";
	if (le32(m + 4) != BB_VERSION)
		return "unsupported version";
	if (le64(m + 56) != h)
		return "checksum mismatch";
	if (ps < BB_PS_MIN || ps > BB_PS_MAX || (ps & (ps - 1)))
		return "bad page size";
	return NULL;
}

/* Takes meta page pg as current (as bbolt: the valid one, higher txid). */
static void
choose(struct scan *s, const uint8_t *pg)
{
	const uint8_t *m = pg + BB_HDR;

	s->chosen = 1;
	s->ps = le32(m + 8);
	s->root = le64(m + 16);
	s->hwm = le64(m + 40);
	s->txid = le64(m + 48);
	s->res.is_bbolt = 1;
	if (s->hwm < 2 || s->hwm > UINT64_MAX / s->ps) {
		why(s, "meta page: high water mark %llu out of range",
		    (unsigned long long)s->hwm);
		s->dead = 1;
		return;
	}
	s->db_end = s->hwm * s->ps;
	s->span_buf = s->ps > SPAN_BUF_MIN ? s->ps : SPAN_BUF_MIN;
	s->win_cap = 4 * (size_t)s->span_buf;
	s->next_pg = 2;
	s->win_off = s->pos = 2 * (uint64_t)s->ps;
	if ((s->win = malloc(s->win_cap)) == NULL ||
	    (s->top = malloc(TOPK * sizeof(*s->top))) == NULL) {
		why(s, "out of memory");
		s->dead = 1;
	}
}

/* Copies the part of [off, off+n) that chunk [at, at+len) holds. */
static void
grab(uint8_t *dst, uint64_t off, uint32_t n, uint32_t *have,
    uint64_t at, const uint8_t *p, size_t len)
{
	uint64_t from = off + *have, to = off + n;

	if (to > at + len)
		to = at + len;
	if (from < at || from >= to)
		return;
	memcpy(dst + *have, p + (from - at), (size_t)(to - from));
	*have += (uint32_t)(to - from);
}

/* The meta pages: meta 0 at 0 gives the page size; meta 1 is looked for
 * at that size, or at every possible size when meta 0 is damaged. */
static void
prologue(struct scan *s, uint64_t at, const uint8_t *p, size_t len)
{
	if (s->m0_state == 0) {
		grab(s->m0, 0, BB_META_END, &s->m0_have, at, p, len);
		if (s->m0_have < BB_META_END)
			return;
		s->m0_why = meta_check(s->m0);
		s->m0_state = s->m0_why == NULL ? 1 : -1;
		s->m1_off = s->m0_why == NULL ? le32(s->m0 + BB_HDR + 8) : BB_PS_MIN;
		s->m1_why = "missing";
	}
	while (!s->chosen && !s->dead) {
		grab(s->m1, s->m1_off, BB_META_END, &s->m1_have, at, p, len);
		if (s->m1_have < BB_META_END)
			return;
		s->m1_why = meta_check(s->m1);
		if (s->m1_why == NULL && le32(s->m1 + BB_HDR + 8) != s->m1_off)
			s->m1_why = "page size differs";
		if (s->m0_state == 1) {
			if (s->m1_why == NULL &&
			    le64(s->m1 + BB_HDR + 48) > le64(s->m0 + BB_HDR + 48))
				choose(s, s->m1);
			else
				choose(s, s->m0);
		} else if (s->m1_why == NULL) {
			choose(s, s->m1);
		} else if (s->m1_off >= BB_PS_MAX) {
			why(s, "not a bbolt database: meta page 0: %s; no valid meta "
			    "page 1", s->m0_why);
			s->dead = 1;
		} else {
			s->m1_off <<= 1;
			s->m1_have = 0;
		}
	}
}

static int
scan_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct scan *s = (struct scan *)f;
	const uint8_t *p = buf;
	uint64_t at = s->total, skip;
	size_t n = len;

	s->total += len;
	if (!s->dead && !s->chosen)
		prologue(s, at, p, n);
	if (s->chosen && !s->dead && at + n > s->pos && s->pos < s->db_end) {
		skip = s->pos > at ? s->pos - at : 0;
		/* The window starts at page 2; it is fed in order. */
		if (skip <= n && at + skip == s->pos) {
			n -= (size_t)skip;
			if ((uint64_t)n > s->db_end - s->pos)
				n = (size_t)(s->db_end - s->pos);
			win_feed(s, p + skip, n);
		}
	}
	return flt_write(f->next, buf, len, err);
}

static int
cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return x->pgid < y->pgid ? -1 : x->pgid > y->pgid;
}

static int
cmp_rootleaf(const void *a, const void *b)
{
	const struct rootleaf *x = a, *y = b;

	return x->pgid < y->pgid ? -1 : x->pgid > y->pgid;
}

static const struct pair *
find(const struct pair *arr, size_t n, uint64_t pgid)
{
	struct pair k = { pgid, 0 };

	return n ? bsearch(&k, arr, n, sizeof(k), cmp_pair) : NULL;
}

/* Walks root -> bucket "key" -> its last leaf over the records. */
static void
resolve(struct scan *s)
{
	const struct pair *b, *k;
	const struct rootleaf *r = NULL;
	struct rootleaf rk;
	uint64_t pg = s->root;
	size_t i;
	int depth;

	if (s->nbr > 0)
		qsort(s->br, s->nbr, sizeof(*s->br), cmp_pair);
	if (s->nkc > 0)
		qsort(s->kc, s->nkc, sizeof(*s->kc), cmp_pair);
	if (s->nrl > 0)
		qsort(s->rl, s->nrl, sizeof(*s->rl), cmp_rootleaf);
	for (depth = 0; depth < MAX_DEPTH; depth++) {
		if ((b = find(s->br, s->nbr, pg)) != NULL) {
			k = find(s->kc, s->nkc, pg);
			if (k == NULL && s->kc_full) {
				why(s, "branch records full");
				return;
			}
			pg = k != NULL ? k->v : b->v;
			continue;
		}
		rk.pgid = pg;
		r = s->nrl ? bsearch(&rk, s->rl, s->nrl, sizeof(rk), cmp_rootleaf) : NULL;
		break;
	}
	if (r == NULL || r->state == KR_BAD) {
		why(s, "root bucket page %llu: no usable record (%s)",
		    (unsigned long long)pg, s->br_full || s->rl_full ? "records "
		    "full" : s->spans_lost ? "pages not followed" : "bucket key not found");
		return;
	}
	if (r->state == KR_INLINE) {
		s->res.revision = r->v;
		s->res.revision_known = 1;
		return;
	}
	for (pg = r->v, depth = 0; depth < MAX_DEPTH; depth++) {
		if ((b = find(s->br, s->nbr, pg)) == NULL)
			break;
		pg = b->v;
	}
	for (i = 0; i < s->ntop; i++) {
		if (s->top[i].pgid == pg) {
			s->res.revision = s->top[i].v;
			s->res.revision_known = 1;
			return;
		}
	}
	why(s, "last leaf %llu of bucket key: no record (%s)",
	    (unsigned long long)pg, s->top_dropped ? "more freed leaves with "
	    "higher revisions than kept" : s->br_full ? "branch records full" :
	    s->spans_lost ? "pages not followed" : "not an etcd revision key");
}

static int
scan_finish(struct flt *f, struct lb_err *err)
{
	struct scan *s = (struct scan *)f;
	struct bbolt_scan *o = &s->res;

	(void)err;
	o->stream_bytes = s->total;
	o->revision_max_seen = s->max_seen;
	if (!s->chosen) {
		if (o->why[0] == '\0')
			why(s, "not a bbolt database: %s", s->m0_state == 0 ?
			    "stream too short for a meta page" : s->m0_state < 0 ?
			    s->m0_why : "meta page 1 incomplete");
		/* A valid meta 0 whose meta 1 never arrived: as bbolt, use it. */
		if (s->m0_state == 1)
			choose(s, s->m0);
	}
	if (s->chosen) {
		o->is_bbolt = 1;
		o->page_size = s->ps;
		o->txid = s->txid;
		o->root_pgid = s->root;
		o->db_size = s->db_end;
		o->trailer_room = s->db_end != 0 && s->total == s->db_end + TRAILER_LEN;
		if (s->dead)
			;
		else if (s->total < s->db_end)
			why(s, "stream ended at byte %llu of a %llu-byte database",
			    (unsigned long long)s->total,
			    (unsigned long long)s->db_end);
		else
			resolve(s);
	}
	s->done = 1;
	return 0;
}

static void
scan_free(struct flt *f)
{
	struct scan *s = (struct scan *)f;

	free(s->win);
	free(s->br);
	free(s->kc);
	free(s->rl);
	free(s->top);
	free(s);
}

static const struct flt_ops scan_ops = {
	"bbolt-scan", scan_write, scan_finish, scan_free
};

struct flt *
flt_bbolt_scan_new(struct flt *next)
{
	struct scan *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->base.ops = &scan_ops;
	s->base.next = next;
	return &s->base;
}

int
flt_bbolt_scan_result(const struct flt *f, struct bbolt_scan *out,
    struct lb_err *err)
{
	const struct scan *s = (const struct scan *)f;

	if (f == NULL || f->ops != &scan_ops || !s->done)
		return lb_err_set(err, LB_E_INTERNAL, "bbolt scan result read "
		    "before the stream finished");
	*out = s->res;
	return 0;
}
