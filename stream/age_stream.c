/*
 * age_stream.c: the age v1 file format as two filters of the chain
 * (age.h): flt_age_enc writes the header and the STREAM payload,
 * flt_age_dec parses the header as bytes arrive, unwraps the file key,
 * checks the header MAC and then opens the payload one 64 KiB chunk at a
 * time.  Keys and Bech32 live in age.c.
 *
 * The decoder is as strict as the reference implementation (and the C2SP
 * testkit): canonical unpadded base64, stanza bodies wrapped at exactly 64
 * columns and ended by a short line, a final chunk that is empty only when
 * the whole payload is, nothing after the final chunk.
 */
#include "stream/age_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/b64.h"

#define INTRO "age-encryption.org/v1\n"
#define X25519_INFO "age-encryption.org/v1/X25519"
#define FILE_KEY_LEN 16
#define NONCE_LEN 16              /* payload nonce, after the header */
#define TAG_LEN 16
#define CHUNK (64 * 1024)
#define ENC_CHUNK (CHUNK + TAG_LEN)
#define MAC_LEN 32
#define B64_LINE 64               /* columns of a full stanza body line */
#define HEADER_MAX (64 * 1024)    /* bounds memory and work before the MAC */
#define STANZAS_MAX 256
#define MAX_RECIPIENTS 64

/* primitives */

/* ChaCha20-Poly1305 nonce of STREAM chunk counter, last flag in byte 11. */
static void
chunk_nonce(uint8_t nonce[12], uint64_t counter, int last)
{
	int i;

	memset(nonce, 0, 12);
	for (i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

static EVP_CIPHER_CTX *
aead_new(const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx;
	EVP_CIPHER *c;

	if ((c = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL)) == NULL)
		return NULL;
	if ((ctx = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_CipherInit_ex(ctx, c, NULL, key, NULL, -1) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		ctx = NULL;
	}
	EVP_CIPHER_free(c);
	return ctx;
}

/* Seals len bytes (at most one chunk) from in into out, the tag right after
 * the ciphertext.  in == out is fine. */
static int
aead_seal(EVP_CIPHER_CTX *ctx, const uint8_t nonce[12], const uint8_t *in,
    size_t len, uint8_t *out)
{
	int n = 0, f = 0;

	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    (len > 0 && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, out + n, &f) != 1 ||
	    (size_t)n + (size_t)f != len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + len) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Opens len bytes of ciphertext and tag (len >= TAG_LEN) into out; -1 if
 * the tag does not verify, and then out holds nothing to be used. */
static int
aead_open(EVP_CIPHER_CTX *ctx, const uint8_t nonce[12], const uint8_t *in,
    size_t len, uint8_t *out)
{
	size_t clen = len - TAG_LEN;
	uint8_t tag[TAG_LEN];
	int n = 0, f = 0;

	memcpy(tag, in + clen, TAG_LEN);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) != 1 ||
	    (clen > 0 && EVP_DecryptUpdate(ctx, out, &n, in, (int)clen) != 1) ||
	    EVP_DecryptFinal_ex(ctx, out + n, &f) != 1 ||
	    (size_t)n + (size_t)f != clen) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int
hmac_sha256(const uint8_t key[32], const uint8_t *data, size_t len,
    uint8_t out[MAC_LEN])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *mac;
	size_t n = 0;
	int r = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, key, 32, params) == 1 &&
	    EVP_MAC_update(ctx, data, len) == 1 &&
	    EVP_MAC_final(ctx, out, &n, MAC_LEN) == 1 && n == MAC_LEN)
		r = 0;
	if (r < 0)
		ERR_clear_error();
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

/* MAC of the header bytes up to and including "---". */
static int
header_mac(const uint8_t file_key[FILE_KEY_LEN], const uint8_t *hdr,
    size_t len, uint8_t out[MAC_LEN])
{
	uint8_t key[32];
	int r;

	r = age_hkdf(file_key, FILE_KEY_LEN, NULL, 0, "header", key);
	if (r == 0)
		r = hmac_sha256(key, hdr, len, out);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* X25519 stanza body key: HKDF(shared, share || recipient, info). */
static int
x25519_wrap_key(const uint8_t shared[32], const uint8_t share[32],
    const uint8_t rcpt[32], uint8_t key[32])
{
	uint8_t salt[64];

	memcpy(salt, share, 32);
	memcpy(salt + 32, rcpt, 32);
	return age_hkdf(shared, 32, salt, sizeof(salt), X25519_INFO, key);
}

/* One-shot AEAD with the all-zero nonce of the stanza bodies. */
static int
wrap_crypt(const uint8_t key[32], int seal, const uint8_t *in, size_t len,
    uint8_t *out)
{
	static const uint8_t zero_nonce[12];
	EVP_CIPHER_CTX *ctx;
	int r = -1;

	if ((ctx = aead_new(key)) != NULL)
		r = seal ? aead_seal(ctx, zero_nonce, in, len, out) :
		    aead_open(ctx, zero_nonce, in, len, out);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* encryption */

struct age_enc {
	struct flt base;
	EVP_CIPHER_CTX *ctx;     /* holds the payload key */
	uint8_t *hdr;            /* header and payload nonce, until sent */
	size_t hdr_len;
	uint64_t counter;
	size_t plen;             /* plaintext bytes waiting in buf */
	uint8_t buf[ENC_CHUNK];  /* one chunk, sealed in place */
};

static int
enc_emit(struct age_enc *e, const uint8_t *in, size_t len, int last,
    struct lb_err *err)
{
	uint8_t nonce[12];
	int r;

	if (e->hdr != NULL) {
		if ((r = flt_write(e->base.next, e->hdr, e->hdr_len, err)) < 0)
			return r;
		free(e->hdr);
		e->hdr = NULL;
	}
	chunk_nonce(nonce, e->counter, last);
	if (aead_seal(e->ctx, nonce, in, len, e->buf) < 0)
		return lb_err_set(err, LB_E_INTERNAL, "age: chacha20-poly1305 "
		    "encryption failed");
	e->counter++;
	return flt_write(e->base.next, e->buf, len + TAG_LEN, err);
}

static int
enc_write(struct flt *f, const void *data, size_t len, struct lb_err *err)
{
	struct age_enc *e = (struct age_enc *)f;
	const uint8_t *p = data;
	size_t take;
	int r;

	while (len > 0) {
		/* A full chunk goes out only once more follows: the last chunk
		 * must carry the final flag, even when it is full. */
		if (e->plen == CHUNK) {
			if ((r = enc_emit(e, e->buf, CHUNK, 0, err)) < 0)
				return r;
			e->plen = 0;
		}
		if (e->plen == 0 && len > CHUNK) {
			/* Whole chunks straight from the caller: no copy. */
			if ((r = enc_emit(e, p, CHUNK, 0, err)) < 0)
				return r;
			p += CHUNK;
			len -= CHUNK;
			continue;
		}
		take = CHUNK - e->plen < len ? CHUNK - e->plen : len;
		memcpy(e->buf + e->plen, p, take);
		e->plen += take;
		p += take;
		len -= take;
	}
	return 0;
}

static int
enc_finish(struct flt *f, struct lb_err *err)
{
	struct age_enc *e = (struct age_enc *)f;
	int r;

	/* An empty plaintext still gets its one (empty) final chunk. */
	r = enc_emit(e, e->buf, e->plen, 1, err);
	OPENSSL_cleanse(e->buf, sizeof(e->buf));
	e->plen = 0;
	return r;
}

static void
enc_free(struct flt *f)
{
	struct age_enc *e = (struct age_enc *)f;

	EVP_CIPHER_CTX_free(e->ctx);
	free(e->hdr);
	OPENSSL_cleanse(e->buf, sizeof(e->buf));
	free(e);
}

static const struct flt_ops enc_ops = {
	"age-encrypt", enc_write, enc_finish, enc_free
};

/* Appends one X25519 stanza for recipient pk to the header at *o. */
static int
enc_stanza(const uint8_t file_key[FILE_KEY_LEN], const uint8_t pk[32],
    char *hdr, size_t *o, struct lb_err *err)
{
	uint8_t esk[32], share[32], shared[32], key[32], body[FILE_KEY_LEN + TAG_LEN];
	int r = 0;

	if (RAND_priv_bytes(esk, sizeof(esk)) != 1 ||
	    age_x25519_base(esk, share) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot make an ephemeral "
		    "X25519 key");
		goto out;
	}
	if (age_x25519(esk, pk, shared) < 0) {
		r = lb_err_set(err, LB_E_CONFIG, "age recipient is a low-order "
		    "point, not a usable X25519 public key");
		goto out;
	}
	if (x25519_wrap_key(shared, share, pk, key) < 0 ||
	    wrap_crypt(key, 1, file_key, FILE_KEY_LEN, body) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot wrap the file key");
		goto out;
	}
	memcpy(hdr + *o, "-> X25519 ", 10);
	*o += 10;
	*o += lb_b64_encode(share, sizeof(share), hdr + *o, 0);
	hdr[(*o)++] = '\n';
	/* 32 bytes are 43 columns: one short line ends the body. */
	*o += lb_b64_encode(body, sizeof(body), hdr + *o, 0);
	hdr[(*o)++] = '\n';
out:
	OPENSSL_cleanse(esk, sizeof(esk));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int
flt_age_enc_new(struct age_recipient *const *rcpts, size_t n,
    struct flt *next, struct flt **out, struct lb_err *err)
{
	uint8_t file_key[FILE_KEY_LEN], mac[MAC_LEN], pkey[32];
	struct age_enc *e;
	size_t i, o, cap;
	int r = 0;

	*out = NULL;
	if (n == 0 || n > MAX_RECIPIENTS)
		return lb_err_set(err, LB_E_CONFIG, "age: %zu recipients given, "
		    "1 to %d supported", n, MAX_RECIPIENTS);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	e->base.ops = &enc_ops;
	/* intro, per stanza "-> X25519 " 43 "\n" 43 "\n", "--- " 43 "\n", nonce */
	cap = sizeof(INTRO) + n * 98 + 48 + NONCE_LEN;
	if ((e->hdr = malloc(cap)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (RAND_priv_bytes(file_key, sizeof(file_key)) != 1) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: no random bytes for the "
		    "file key");
		goto out;
	}
	memcpy(e->hdr, INTRO, sizeof(INTRO) - 1);
	o = sizeof(INTRO) - 1;
	for (i = 0; i < n; i++)
		if ((r = enc_stanza(file_key, rcpts[i]->pk, (char *)e->hdr, &o,
		    err)) < 0)
			goto out;
	memcpy(e->hdr + o, "---", 3);
	o += 3;
	if (header_mac(file_key, e->hdr, o, mac) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot compute the header mac");
		goto out;
	}
	e->hdr[o++] = ' ';
	o += lb_b64_encode(mac, sizeof(mac), (char *)e->hdr + o, 0);
	e->hdr[o++] = '\n';
	if (RAND_bytes(e->hdr + o, NONCE_LEN) != 1 ||
	    age_hkdf(file_key, FILE_KEY_LEN, e->hdr + o, NONCE_LEN, "payload",
	    pkey) < 0 || (e->ctx = aead_new(pkey)) == NULL) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot set up the payload key");
		goto out;
	}
	e->hdr_len = o + NONCE_LEN;
	e->base.next = next;
	*out = &e->base;
	e = NULL;
out:
	OPENSSL_cleanse(file_key, sizeof(file_key));
	OPENSSL_cleanse(pkey, sizeof(pkey));
	if (e != NULL)
		enc_free(&e->base);
	return r;
}

/* decryption */

enum dec_state {
	DEC_INTRO,      /* reading the version line */
	DEC_STANZA,     /* expecting "-> " or "---" */
	DEC_BODY,       /* reading a stanza body */
	DEC_NONCE,      /* header done, reading the payload nonce */
	DEC_PAYLOAD,
	DEC_DONE,
	DEC_FAILED
};

struct x25519_stanza {
	uint8_t share[32];
	uint8_t body[FILE_KEY_LEN + TAG_LEN];
};

struct age_dec {
	struct flt base;
	const struct age_identity *id;
	enum dec_state state;
	int failed_code;
	/* header */
	uint8_t hdr[HEADER_MAX];
	size_t hlen, line_start, lineno;
	size_t nstanzas, nx;
	int scrypt_seen;
	int cur_x25519;          /* the stanza being read is X25519 */
	size_t body_len;
	struct x25519_stanza x[STANZAS_MAX];
	uint8_t file_key[FILE_KEY_LEN];
	/* payload */
	uint8_t nonce[NONCE_LEN];
	size_t nonce_len;
	EVP_CIPHER_CTX *ctx;
	uint64_t counter;
	size_t clen;
	uint8_t cbuf[ENC_CHUNK];
	uint8_t out[CHUNK];
};

static int
dec_corrupt(struct age_dec *d, struct lb_err *err, const char *what)
{
	return lb_err_set(err, LB_E_CORRUPT, "malformed age header, line %zu: %s",
	    d->lineno, what);
}

/* Checks "-> arg arg..." (every argument one or more VCHAR) and notes an
 * X25519 stanza's share. */
static int
dec_stanza_line(struct age_dec *d, const char *s, size_t n, struct lb_err *err)
{
	const char *arg[3] = { NULL, NULL, NULL }, *end = s + n, *p;
	size_t alen[3] = { 0, 0, 0 }, nargs = 0, got;

	if (n < 4 || memcmp(s, "-> ", 3) != 0)
		return dec_corrupt(d, err, "expected a stanza (->) or the mac (---)");
	for (p = s + 2; p < end; ) {
		const char *a = ++p;  /* skip the space */

		while (p < end && *p != ' ') {
			if (*p < 33 || *p > 126)
				return dec_corrupt(d, err, "invalid character in a "
				    "stanza argument");
			p++;
		}
		if (p == a)
			return dec_corrupt(d, err, "empty stanza argument");
		if (nargs < 3) {
			arg[nargs] = a;
			alen[nargs] = (size_t)(p - a);
		}
		nargs++;
	}
	if (++d->nstanzas > STANZAS_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "age header has more than %d "
		    "recipient stanzas", STANZAS_MAX);
	d->cur_x25519 = alen[0] == 6 && memcmp(arg[0], "X25519", 6) == 0;
	if (alen[0] == 6 && memcmp(arg[0], "scrypt", 6) == 0)
		d->scrypt_seen = 1;
	d->body_len = 0;
	if (!d->cur_x25519)
		return 0;
	if (nargs != 2)
		return dec_corrupt(d, err, "X25519 stanza needs exactly one argument");
	if (lb_b64_decode(arg[1], alen[1], d->x[d->nx].share, 32, &got, 0) < 0 ||
	    got != 32)
		return dec_corrupt(d, err, "X25519 share is not canonical base64 "
		    "of 32 bytes");
	return 0;
}

static int
dec_body_line(struct age_dec *d, const char *s, size_t n, struct lb_err *err)
{
	uint8_t b[48];
	size_t got;

	if (n > B64_LINE)
		return dec_corrupt(d, err, "stanza body line longer than 64 columns");
	if (lb_b64_decode(s, n, b, sizeof(b), &got, 0) < 0) {
		if ((n >= 3 && memcmp(s, "---", 3) == 0) ||
		    (n >= 2 && memcmp(s, "->", 2) == 0))
			return dec_corrupt(d, err, "stanza body does not end with a "
			    "short line");
		return dec_corrupt(d, err, "stanza body is not canonical base64");
	}
	if (d->cur_x25519) {
		/* Checked before any decryption (partitioning oracles). */
		if (d->body_len + got > sizeof(d->x[0].body))
			return dec_corrupt(d, err, "X25519 stanza body is not 32 bytes");
		memcpy(d->x[d->nx].body + d->body_len, b, got);
	}
	d->body_len += got;
	if (n == B64_LINE)
		return 0;
	if (d->cur_x25519) {
		if (d->body_len != sizeof(d->x[0].body))
			return dec_corrupt(d, err, "X25519 stanza body is not 32 bytes");
		d->nx++;
	}
	d->state = DEC_STANZA;
	return 0;
}

/* Tries every key on every X25519 stanza; then checks the MAC over the
 * first mac_len bytes of the header. */
static int
dec_unwrap(struct age_dec *d, const uint8_t mac[MAC_LEN], size_t mac_len,
    struct lb_err *err)
{
	uint8_t shared[32], key[32], want[MAC_LEN];
	const struct age_key *k;
	size_t i, j;
	int found = 0, r = 0;

	if (d->scrypt_seen && d->nstanzas > 1)
		return lb_err_set(err, LB_E_CORRUPT, "malformed age header: an "
		    "scrypt stanza must be the only one");
	for (i = 0; i < d->id->n && !found; i++) {
		k = &d->id->keys[i];
		for (j = 0; j < d->nx && !found; j++) {
			if (age_x25519(k->sk, d->x[j].share, shared) < 0) {
				r = lb_err_set(err, LB_E_CORRUPT, "malformed age header: "
				    "X25519 share of stanza %zu is a low-order point", j + 1);
				goto out;
			}
			if (x25519_wrap_key(shared, d->x[j].share, k->pk, key) < 0) {
				r = lb_err_set(err, LB_E_INTERNAL, "age: hkdf failed");
				goto out;
			}
			found = wrap_crypt(key, 0, d->x[j].body, sizeof(d->x[j].body),
			    d->file_key) == 0;
		}
	}
	if (!found) {
		r = lb_err_set(err, LB_E_CRYPTO, "wrong identity: none of its %zu "
		    "key(s) opens any of the file's %zu recipient stanza(s), %zu of "
		    "them X25519 (hint: use the identity whose age1... recipient "
		    "was configured when the backup was written%s)", d->id->n,
		    d->nstanzas, d->nx, d->scrypt_seen ?
		    "; passphrase-encrypted files are not supported" : "");
		goto out;
	}
	if (header_mac(d->file_key, d->hdr, mac_len, want) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot compute the header mac");
		goto out;
	}
	if (CRYPTO_memcmp(want, mac, MAC_LEN) != 0)
		r = lb_err_set(err, LB_E_CORRUPT, "age header mac does not match: "
		    "the header was modified or damaged");
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

static int
dec_mac_line(struct age_dec *d, const char *s, size_t n, struct lb_err *err)
{
	uint8_t mac[MAC_LEN];
	size_t got;

	/* "--- " and 43 characters of base64; nothing else. */
	if (n != 4 + 43 || s[3] != ' ' ||
	    lb_b64_decode(s + 4, 43, mac, sizeof(mac), &got, 0) < 0 || got != MAC_LEN)
		return dec_corrupt(d, err, "malformed mac line");
	if (d->nstanzas == 0)
		return dec_corrupt(d, err, "no recipient stanza");
	d->state = DEC_NONCE;
	return dec_unwrap(d, mac, d->line_start + 3, err);
}

/* Handles the complete header line at line_start (without its LF). */
static int
dec_line(struct age_dec *d, struct lb_err *err)
{
	const char *s = (const char *)d->hdr + d->line_start;
	size_t n = d->hlen - d->line_start - 1;
	int r;

	d->lineno++;
	switch (d->state) {
	case DEC_INTRO:
		if (n == sizeof(INTRO) - 2 && memcmp(s, INTRO, n) == 0) {
			d->state = DEC_STANZA;
			return 0;
		}
		if (n > 19 && memcmp(s, INTRO, 19) == 0)
			return lb_err_set(err, LB_E_CORRUPT, "unsupported age format "
			    "version (only age-encryption.org/v1 is known)");
		return lb_err_set(err, LB_E_CORRUPT, "not an age file: it does not "
		    "start with age-encryption.org/v1");
	case DEC_STANZA:
		if (n >= 3 && memcmp(s, "---", 3) == 0)
			return dec_mac_line(d, s, n, err);
		if ((r = dec_stanza_line(d, s, n, err)) == 0)
			d->state = DEC_BODY;
		return r;
	case DEC_BODY:
		return dec_body_line(d, s, n, err);
	default:
		return lb_err_set(err, LB_E_INTERNAL, "age: header state %d",
		    (int)d->state);
	}
}

/* Takes header bytes up to the end of the header; *used says how many. */
static int
dec_header(struct age_dec *d, const uint8_t *p, size_t len, size_t *used,
    struct lb_err *err)
{
	const uint8_t *nl;
	size_t take;
	int r;

	*used = 0;
	while (len > 0 && d->state < DEC_NONCE) {
		nl = memchr(p, '\n', len);
		take = nl != NULL ? (size_t)(nl - p) + 1 : len;
		if (take > HEADER_MAX - d->hlen)
			return lb_err_set(err, LB_E_CORRUPT, "age header is larger than "
			    "%d bytes", HEADER_MAX);
		memcpy(d->hdr + d->hlen, p, take);
		d->hlen += take;
		p += take;
		len -= take;
		*used += take;
		/* Reject other data at once rather than after a whole line. */
		if (d->state == DEC_INTRO && memcmp(d->hdr, INTRO,
		    d->hlen < 19 ? d->hlen : 19) != 0)
			return lb_err_set(err, LB_E_CORRUPT, "not an age file: it does "
			    "not start with age-encryption.org/v1");
		if (nl == NULL)
			break;
		if ((r = dec_line(d, err)) < 0)
			return r;
		d->line_start = d->hlen;
	}
	return 0;
}

/* Opens the chunk in cbuf as final or not; emits it if it verifies. */
static int
dec_open(struct age_dec *d, int last, struct lb_err *err)
{
	uint8_t nonce[12];

	chunk_nonce(nonce, d->counter, last);
	if (aead_open(d->ctx, nonce, d->cbuf, d->clen, d->out) < 0)
		return 1;
	d->counter++;
	return flt_write(d->base.next, d->out, d->clen - TAG_LEN, err);
}

static int
dec_chunk_failed(struct age_dec *d, struct lb_err *err)
{
	return lb_err_set(err, LB_E_CORRUPT, "age payload chunk %llu (at "
	    "plaintext offset %llu) failed authentication: the file was "
	    "modified or damaged", (unsigned long long)d->counter,
	    (unsigned long long)d->counter * CHUNK);
}

static int
dec_payload(struct age_dec *d, const uint8_t *p, size_t len, struct lb_err *err)
{
	size_t take;
	int r;

	while (len > 0) {
		if (d->clen == ENC_CHUNK) {
			/* More follows, so this is not the last chunk, unless it is a
			 * full final chunk with trailing data behind it. */
			if ((r = dec_open(d, 0, err)) < 0)
				return r;
			if (r > 0) {
				if (dec_open(d, 1, err) == 0)
					return lb_err_set(err, LB_E_CORRUPT, "trailing data "
					    "after the end of the age payload");
				return dec_chunk_failed(d, err);
			}
			d->clen = 0;
		}
		take = ENC_CHUNK - d->clen < len ? ENC_CHUNK - d->clen : len;
		memcpy(d->cbuf + d->clen, p, take);
		d->clen += take;
		p += take;
		len -= take;
	}
	return 0;
}

static int
dec_start_payload(struct age_dec *d, struct lb_err *err)
{
	uint8_t key[32];
	int r = 0;

	if (age_hkdf(d->file_key, FILE_KEY_LEN, d->nonce, NONCE_LEN, "payload",
	    key) < 0 || (d->ctx = aead_new(key)) == NULL)
		r = lb_err_set(err, LB_E_INTERNAL, "age: cannot set up the payload key");
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(d->file_key, sizeof(d->file_key));
	d->state = DEC_PAYLOAD;
	return r;
}

static int
dec_write1(struct age_dec *d, const uint8_t *p, size_t len, struct lb_err *err)
{
	size_t used, take;
	int r;

	if (d->state < DEC_NONCE) {
		if ((r = dec_header(d, p, len, &used, err)) < 0)
			return r;
		p += used;
		len -= used;
	}
	if (d->state == DEC_NONCE && len > 0) {
		take = NONCE_LEN - d->nonce_len < len ? NONCE_LEN - d->nonce_len : len;
		memcpy(d->nonce + d->nonce_len, p, take);
		d->nonce_len += take;
		p += take;
		len -= take;
		if (d->nonce_len == NONCE_LEN && (r = dec_start_payload(d, err)) < 0)
			return r;
	}
	if (d->state == DEC_PAYLOAD && len > 0)
		return dec_payload(d, p, len, err);
	return 0;
}

static int
dec_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct age_dec *d = (struct age_dec *)f;
	int r;

	if (d->state == DEC_FAILED)
		return lb_err_set(err, d->failed_code, "age: input after an "
		    "earlier decryption error");
	if ((r = dec_write1(d, buf, len, err)) < 0) {
		d->state = DEC_FAILED;
		d->failed_code = r;
	}
	return r;
}

static int
dec_finish1(struct age_dec *d, struct lb_err *err)
{
	int r;

	switch (d->state) {
	case DEC_INTRO:
		if (d->hlen == 0)
			return lb_err_set(err, LB_E_CORRUPT, "not an age file: it is empty");
		/* fall through */
	case DEC_STANZA:
	case DEC_BODY:
		return lb_err_set(err, LB_E_CORRUPT, "age file is truncated in its "
		    "header (%zu bytes)", d->hlen);
	case DEC_NONCE:
		return lb_err_set(err, LB_E_CORRUPT, "age file is truncated: the "
		    "payload nonce is missing");
	case DEC_PAYLOAD:
		break;
	default:
		return lb_err_set(err, LB_E_INTERNAL, "age: finish in state %d",
		    (int)d->state);
	}
	if (d->clen == 0)
		return lb_err_set(err, LB_E_CORRUPT, "age file is truncated after "
		    "%llu chunks: the final chunk is missing",
		    (unsigned long long)d->counter);
	if (d->clen == TAG_LEN && d->counter > 0)
		return lb_err_set(err, LB_E_CORRUPT, "age payload ends with an "
		    "empty final chunk, which is not allowed after other chunks");
	if (d->clen < TAG_LEN)
		return lb_err_set(err, LB_E_CORRUPT, "age file is truncated inside "
		    "chunk %llu", (unsigned long long)d->counter);
	if ((r = dec_open(d, 1, err)) <= 0) {
		d->state = DEC_DONE;
		return r;
	}
	/* A full chunk that opens as not final: the file was cut after it.
	 * It is authentic, so it goes on before the error, as age does. */
	if (d->clen == ENC_CHUNK && (r = dec_open(d, 0, err)) <= 0)
		return r < 0 ? r : lb_err_set(err, LB_E_CORRUPT, "age file is "
		    "truncated after %llu chunks: the final chunk is missing",
		    (unsigned long long)d->counter);
	return dec_chunk_failed(d, err);
}

static int
dec_finish(struct flt *f, struct lb_err *err)
{
	struct age_dec *d = (struct age_dec *)f;
	int r;

	if (d->state == DEC_FAILED)
		return lb_err_set(err, d->failed_code, "age: finish after an "
		    "earlier decryption error");
	if ((r = dec_finish1(d, err)) < 0) {
		d->state = DEC_FAILED;
		d->failed_code = r;
	}
	return r;
}

static void
dec_free(struct flt *f)
{
	struct age_dec *d = (struct age_dec *)f;

	EVP_CIPHER_CTX_free(d->ctx);
	OPENSSL_cleanse(d->file_key, sizeof(d->file_key));
	OPENSSL_cleanse(d->out, sizeof(d->out));
	free(d);
}

static const struct flt_ops dec_ops = {
	"age-decrypt", dec_write, dec_finish, dec_free
};

int
flt_age_dec_new(const struct age_identity *id, struct flt *next,
    struct flt **out, struct lb_err *err)
{
	struct age_dec *d;

	*out = NULL;
	if (id == NULL || id->n == 0)
		return lb_err_set(err, LB_E_INTERNAL, "age: decryption needs an "
		    "identity");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	d->base.ops = &dec_ops;
	d->base.next = next;
	d->id = id;
	d->state = DEC_INTRO;
	*out = &d->base;
	return 0;
}
