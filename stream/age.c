/*
 * age.c: age keys (age.h): Bech32 as BIP 173 without its length limit,
 * "age1..." recipients, age-keygen style identity files, key generation,
 * plus the X25519 and HKDF primitives that age_stream.c shares
 * (age_int.h).  The file format lives in age_stream.c; the `keygen`
 * command in cmd/keygen.c.
 */
#include "stream/age_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/fmt.h"
#include "common/log.h"

#define RECIPIENT_HRP "age"
#define IDENTITY_HRP "AGE-SECRET-KEY-"
#define IDENTITY_FILE_MAX (64 * 1024)
/* Longest key line we look at: an X25519 identity is 74 characters. */
#define KEY_LINE_MAX 256

/* OpenSSL primitives */

int
age_x25519_base(const uint8_t sk[AGE_KEY_LEN], uint8_t pk[AGE_KEY_LEN])
{
	EVP_PKEY *k;
	size_t len = AGE_KEY_LEN;
	int r = -1;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, AGE_KEY_LEN);
	if (k != NULL && EVP_PKEY_get_raw_public_key(k, pk, &len) == 1 &&
	    len == AGE_KEY_LEN)
		r = 0;
	EVP_PKEY_free(k);
	if (r < 0)
		ERR_clear_error();
	return r;
}

int
age_x25519(const uint8_t sk[AGE_KEY_LEN], const uint8_t peer[AGE_KEY_LEN],
    uint8_t out[AGE_KEY_LEN])
{
	static const uint8_t zero[AGE_KEY_LEN];
	EVP_PKEY *mine = NULL, *theirs = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = AGE_KEY_LEN;
	int r = -1;

	mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, AGE_KEY_LEN);
	theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
	    AGE_KEY_LEN);
	if (mine == NULL || theirs == NULL ||
	    (ctx = EVP_PKEY_CTX_new(mine, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, theirs) != 1 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1 || len != AGE_KEY_LEN)
		goto out;
	/* OpenSSL refuses an all-zero result too; this says so in our terms. */
	if (CRYPTO_memcmp(out, zero, AGE_KEY_LEN) == 0)
		goto out;
	r = 0;
out:
	if (r < 0) {
		OPENSSL_cleanse(out, AGE_KEY_LEN);
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(mine);
	EVP_PKEY_free(theirs);
	return r;
}

int
age_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
    size_t salt_len, const char *info, uint8_t out[32])
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf;
	EVP_KDF_CTX *ctx = NULL;
	int r = -1;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikm_len);
	/* An absent salt is HashLen zero bytes, the same HMAC key as empty. */
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, 32, params) == 1)
		r = 0;
out:
	if (r < 0)
		ERR_clear_error();
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

/* Bech32 (BIP 173) */

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

static const char b32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
b32_polymod_step(uint32_t chk, uint8_t v)
{
	static const uint32_t gen[5] = {
		0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3
	};
	uint32_t top = chk >> 25;
	int i;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

/* The checksum state after the expanded human-readable part, which is
 * always taken in lower case. */
static uint32_t
b32_hrp_state(const char *hrp, size_t n)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; i < n; i++)
		chk = b32_polymod_step(chk, (uint8_t)(ascii_lower(hrp[i]) >> 5));
	chk = b32_polymod_step(chk, 0);
	for (i = 0; i < n; i++)
		chk = b32_polymod_step(chk, (uint8_t)(ascii_lower(hrp[i]) & 31));
	return chk;
}

/* Encodes data as hrp "1" data checksum, in upper case if upper (the case
 * of hrp is taken as given).  Returns 0, or -1 if out is too small. */
static int
b32_encode(const char *hrp, const uint8_t *data, size_t len, int upper,
    char *out, size_t outsz)
{
	size_t hlen = strlen(hrp), o = 0, i;
	uint32_t chk, acc = 0;
	int bits = 0, c;

	/* 8 bits per byte in 5-bit groups, the separator, 6 checksum groups. */
	if (hlen + 1 + (len * 8 + 4) / 5 + 6 + 1 > outsz)
		return -1;
	chk = b32_hrp_state(hrp, hlen);
	memcpy(out, hrp, hlen);
	o = hlen;
	out[o++] = '1';
	for (i = 0; i <= len; i++) {
		if (i < len) {
			acc = (acc << 8) | data[i];
			bits += 8;
		} else if (bits > 0) {
			acc <<= 5 - bits;  /* pad the last group with zero bits */
			bits = 5;
		}
		while (bits >= 5) {
			bits -= 5;
			c = (int)((acc >> bits) & 31);
			chk = b32_polymod_step(chk, (uint8_t)c);
			out[o++] = b32_charset[c];
		}
	}
	for (i = 0; i < 6; i++)
		chk = b32_polymod_step(chk, 0);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		out[o++] = b32_charset[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
	if (upper)
		for (i = 0; i < o; i++)
			out[i] = (char)ascii_upper(out[i]);
	return 0;
}

/* Decodes a Bech32 string of n characters whose human-readable part must
 * be exactly hrp (case-sensitive, as age compares it) into exactly want
 * bytes.  Returns NULL or a reason, which never quotes the input. */
static const char *
b32_decode(const char *s, size_t n, const char *hrp, uint8_t *out, size_t want)
{
	size_t pos, i, hlen = strlen(hrp), o = 0;
	int lower = 0, upper = 0, bits = 0, v;
	uint32_t chk, acc = 0;
	const char *q;

	for (i = 0; i < n; i++) {
		if (s[i] < 33 || s[i] > 126)
			return "invalid character";
		lower |= s[i] >= 'a' && s[i] <= 'z';
		upper |= s[i] >= 'A' && s[i] <= 'Z';
	}
	if (lower && upper)
		return "mixed upper and lower case";
	for (pos = n; pos > 0 && s[pos - 1] != '1'; pos--)
		;
	if (pos < 2 || pos + 6 > n)
		return "no bech32 separator";
	pos--;
	if (pos != hlen || memcmp(s, hrp, hlen) != 0)
		return "wrong key type";
	chk = b32_hrp_state(s, pos);
	for (i = pos + 1; i < n; i++) {
		if ((q = strchr(b32_charset, ascii_lower(s[i]))) == NULL || *q == '\0')
			return "invalid bech32 character";
		v = (int)(q - b32_charset);
		chk = b32_polymod_step(chk, (uint8_t)v);
		if (i + 6 >= n)
			continue;  /* checksum groups carry no data */
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o == want)
				return "wrong key length";
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (chk != 1)
		return "bad bech32 checksum";
	/* Leftover bits are padding: fewer than 5, all zero (BIP 173). */
	if (o != want || bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return "wrong key length";
	return NULL;
}

/* recipients */

static int
recipient_from_pk(const uint8_t pk[AGE_KEY_LEN], struct age_recipient **out,
    struct lb_err *err)
{
	struct age_recipient *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	memcpy(r->pk, pk, AGE_KEY_LEN);
	if (b32_encode(RECIPIENT_HRP, pk, AGE_KEY_LEN, 0, r->str,
	    sizeof(r->str)) < 0) {
		free(r);
		return lb_err_set(err, LB_E_INTERNAL, "age recipient does not fit");
	}
	*out = r;
	return 0;
}

int
age_recipient_parse(const char *s, struct age_recipient **out,
    struct lb_err *err)
{
	uint8_t pk[AGE_KEY_LEN];
	const char *why;
	size_t n = strlen(s);

	*out = NULL;
	if (n > 200)
		return lb_err_set(err, LB_E_CONFIG,
		    "age recipient is %zu characters long, not an age1... key", n);
	if (strncmp(s, "age1", 4) != 0)
		return lb_err_set(err, LB_E_CONFIG,
		    "age recipient '%.80s' does not start with age1 (hint: only "
		    "X25519 recipients from age-keygen or lifeboat keygen are "
		    "supported)", s);
	if ((why = b32_decode(s, n, RECIPIENT_HRP, pk, sizeof(pk))) != NULL)
		return lb_err_set(err, LB_E_CONFIG, "age recipient '%.80s': %s",
		    s, why);
	return recipient_from_pk(pk, out, err);
}

void
age_recipient_free(struct age_recipient *r)
{
	free(r);
}

const char *
age_recipient_string(const struct age_recipient *r)
{
	return r->str;
}

void
age_recipient_fingerprint(const struct age_recipient *r,
    char out[AGE_FINGERPRINT_LEN])
{
	uint8_t d[32];
	unsigned int dlen = 0;

	memcpy(out, "sha256:", 7);
	if (EVP_Digest(r->pk, AGE_KEY_LEN, d, &dlen, EVP_sha256(), NULL) != 1)
		memset(d, 0, sizeof(d));  /* cannot happen with the default provider */
	/* "sha256:", 16 hex digits of the first 8 bytes, the NUL: 24 bytes */
	lb_hex(d, 8, out + 7);
}

/* identities */

int
age_identity_parse(const char *text, struct age_identity **out,
    struct lb_err *err)
{
	struct age_identity *id;
	const char *line = text, *end, *why;
	size_t n, lineno = 0;
	int r = 0;

	*out = NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	for (; *line != '\0'; line = *end == '\n' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		n = (size_t)(end - line);
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (strncmp(line, "AGE-PLUGIN-", 11) == 0) {
			r = lb_err_set(err, LB_E_CONFIG, "identity line %zu: age "
			    "plugin identities are not supported", lineno);
			goto out;
		}
		if (n > KEY_LINE_MAX || strncmp(line, IDENTITY_HRP "1", 16) != 0) {
			r = lb_err_set(err, LB_E_CONFIG, "identity line %zu is not "
			    "an AGE-SECRET-KEY-1... key or a # comment", lineno);
			goto out;
		}
		if (id->n == AGE_IDENTITY_MAX_KEYS) {
			r = lb_err_set(err, LB_E_CONFIG, "identity has more than %d "
			    "keys", AGE_IDENTITY_MAX_KEYS);
			goto out;
		}
		if ((why = b32_decode(line, n, IDENTITY_HRP, id->keys[id->n].sk,
		    AGE_KEY_LEN)) != NULL) {
			r = lb_err_set(err, LB_E_CONFIG, "identity line %zu: %s",
			    lineno, why);
			goto out;
		}
		if (age_x25519_base(id->keys[id->n].sk, id->keys[id->n].pk) < 0) {
			r = lb_err_set(err, LB_E_INTERNAL, "identity line %zu: "
			    "cannot compute the public key", lineno);
			goto out;
		}
		id->n++;
	}
	if (id->n == 0) {
		r = lb_err_set(err, LB_E_CONFIG, "identity has no AGE-SECRET-KEY-1... "
		    "key");
		goto out;
	}
	*out = id;
	id = NULL;
out:
	age_identity_free(id);
	return r;
}

int
age_identity_load(const char *path, struct age_identity **out,
    struct lb_err *err)
{
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t got;
	int fd, r = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return lb_err_sys(err, LB_E_CONFIG, errno, "cannot open identity %s",
		    path);
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) &&
	    S_ISREG(st.st_mode))
		log_warn("identity %s is readable by others than its owner "
		    "(hint: chmod 600)", path);
	if ((buf = malloc(IDENTITY_FILE_MAX + 1)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	/* Read one byte past the limit to tell a full file from a long one. */
	while (len <= IDENTITY_FILE_MAX) {
		got = read(fd, buf + len, IDENTITY_FILE_MAX + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = lb_err_sys(err, LB_E_CONFIG, errno, "read identity %s", path);
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > IDENTITY_FILE_MAX) {
		r = lb_err_set(err, LB_E_CONFIG, "identity %s is larger than %d "
		    "bytes, not an age identity file", path, IDENTITY_FILE_MAX);
		goto out;
	}
	if (memchr(buf, '\0', len) != NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "identity %s is not a text file",
		    path);
		goto out;
	}
	buf[len] = '\0';
	if ((r = age_identity_parse(buf, out, err)) < 0)
		lb_err_prefix(err, "%s: ", path);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	return r;
}

void
age_identity_free(struct age_identity *id)
{
	if (id == NULL)
		return;
	OPENSSL_cleanse(id, sizeof(*id));
	free(id);
}

size_t
age_identity_count(const struct age_identity *id)
{
	return id->n;
}

int
age_identity_recipient(const struct age_identity *id, size_t i,
    struct age_recipient **out, struct lb_err *err)
{
	*out = NULL;
	if (i >= id->n)
		return lb_err_set(err, LB_E_INTERNAL, "identity has no key %zu", i);
	return recipient_from_pk(id->keys[i].pk, out, err);
}

/* key generation */

/* RFC 3339 local time as age-keygen writes it ("Z" for UTC). */
static void
rfc3339_now(char *out, size_t outsz)
{
	time_t now = time(NULL);
	struct tm tm;
	long off;
	size_t n;

	localtime_r(&now, &tm);
	n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	if (off == 0)
		snprintf(out + n, outsz - n, "Z");
	else
		snprintf(out + n, outsz - n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
		    labs(off) / 60, labs(off) % 60);
}

int
age_keygen(char **identity_file_text, char **recipient, struct lb_err *err)
{
	uint8_t sk[AGE_KEY_LEN], pk[AGE_KEY_LEN];
	char key[KEY_LINE_MAX], rcpt[AGE_RECIPIENT_STR_MAX], when[64];
	char *text = NULL;
	size_t tlen;
	int r = 0;

	*identity_file_text = NULL;
	*recipient = NULL;
	if (RAND_priv_bytes(sk, sizeof(sk)) != 1 || age_x25519_base(sk, pk) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "cannot generate an X25519 key");
		goto out;
	}
	if (b32_encode(IDENTITY_HRP, sk, sizeof(sk), 1, key, sizeof(key)) < 0 ||
	    b32_encode(RECIPIENT_HRP, pk, sizeof(pk), 0, rcpt, sizeof(rcpt)) < 0) {
		r = lb_err_set(err, LB_E_INTERNAL, "cannot encode the new key");
		goto out;
	}
	rfc3339_now(when, sizeof(when));
	tlen = strlen(when) + strlen(rcpt) + strlen(key) + 64;
	if ((text = malloc(tlen)) == NULL || (*recipient = strdup(rcpt)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(text, tlen, "# created: %s\n# public key: %s\n%s\n", when, rcpt,
	    key);
	*identity_file_text = text;
	text = NULL;
out:
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(key, sizeof(key));
	if (text != NULL)
		lb_secret_free(text);
	return r;
}

/* A temp file beside path is fsync'd, then hard-linked to path (link
 * fails with EEXIST where rename would replace). */
int
age_identity_write_new(const char *path, const char *text, struct lb_err *err)
{
	size_t len = strlen(text), off = 0, n = strlen(path) + 32;
	char *tmp, *copy = NULL;
	int fd = -1, dfd, r = 0;
	ssize_t w;

	if ((tmp = malloc(n)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	snprintf(tmp, n, "%s.lifeboat-XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "create temp file for %s", path);
		free(tmp);
		return r;
	}
	if (fchmod(fd, 0600) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "chmod %s", tmp);
		goto out;
	}
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			r = lb_err_sys(err, LB_E_IO, errno, "write %s", tmp);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "fsync %s", tmp);
		goto out;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			r = lb_err_set(err, LB_E_EXISTS, "%s already exists (hint: "
			    "keygen never overwrites a key; pick a new file name)", path);
		else
			r = lb_err_sys(err, LB_E_IO, errno, "create %s", path);
		goto out;
	}
	if ((copy = strdup(path)) != NULL &&
	    (dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
out:
	close(fd);
	unlink(tmp);
	free(tmp);
	free(copy);
	return r;
}
