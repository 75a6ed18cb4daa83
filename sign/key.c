/*
 * key.c: Ed25519 keys in OpenSSH's formats: the openssh-key-v1 private
 * key file (PROTOCOL.key, unencrypted only), the public line and its
 * SHA256 fingerprint.  The private half lives only in an EVP_PKEY and in
 * stack buffers that are wiped before return.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sign/sig_int.h"

#define KEY_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_END "-----END OPENSSH PRIVATE KEY-----"
/* "openssh-key-v1" with its NUL. */
#define KEY_MAGIC "openssh-key-v1"
#define KEY_MAGIC_LEN 15
#define KEY_FILE_MAX (16u << 10)
/* The "none" cipher's block size, to which the private section is padded. */
#define KEY_BLOCK 8
#define KEY_BLOB_MAX (512 + SIG_COMMENT_MAX)

static int
key_new(EVP_PKEY *pkey, const uint8_t pub[SIG_PUBLEN], const char *comment,
    struct sig_key **out, struct lb_err *err)
{
	struct sig_key *k = calloc(1, sizeof(*k));

	if (k == NULL || (k->comment = strdup(comment ? comment : "")) == NULL) {
		free(k);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	k->pkey = pkey;
	memcpy(k->pub, pub, SIG_PUBLEN);
	*out = k;
	return 0;
}

int
sig_key_from_pub(const uint8_t pub[SIG_PUBLEN], const char *comment,
    struct sig_key **out, struct lb_err *err)
{
	return key_new(NULL, pub, comment, out, err);
}

void
sig_key_free(struct sig_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey); /* OpenSSL wipes the raw key it holds */
	free(key->comment);
	free(key);
}

int
sig_key_is_private(const struct sig_key *key)
{
	return key->pkey != NULL;
}

int
sig_key_equal(const struct sig_key *a, const struct sig_key *b)
{
	return CRYPTO_memcmp(a->pub, b->pub, SIG_PUBLEN) == 0;
}

/* The private key from its 32-byte seed, checked against pub. */
static int
pkey_from_seed(const uint8_t *seed, const uint8_t pub[SIG_PUBLEN],
    EVP_PKEY **out)
{
	uint8_t got[SIG_PUBLEN];
	size_t gl = sizeof(got);
	EVP_PKEY *p;

	p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (p == NULL || EVP_PKEY_get_raw_public_key(p, got, &gl) != 1 ||
	    gl != SIG_PUBLEN || CRYPTO_memcmp(got, pub, SIG_PUBLEN) != 0) {
		EVP_PKEY_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int
sig_key_generate(const char *comment, struct sig_key **out,
    struct lb_err *err)
{
	uint8_t pub[SIG_PUBLEN];
	size_t pl = sizeof(pub);
	EVP_PKEY *p;
	int r;

	*out = NULL;
	if (comment != NULL && strlen(comment) > SIG_COMMENT_MAX)
		return lb_err_set(err, LB_E_USAGE, "key comment too long");
	p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (p == NULL || EVP_PKEY_get_raw_public_key(p, pub, &pl) != 1) {
		EVP_PKEY_free(p);
		return lb_err_set(err, LB_E_CRYPTO, "ed25519 key generation failed");
	}
	if ((r = key_new(p, pub, comment, out, err)) < 0)
		EVP_PKEY_free(p);
	return r;
}

/* Checks the private section: checkints, one ssh-ed25519 key matching pub
 * (its 64-byte secret is seed || pub), the comment, padding 1, 2, 3... */
static int
parse_private(struct rd r, const uint8_t pub[SIG_PUBLEN], const char *name,
    struct sig_key **out, struct lb_err *err)
{
	const uint8_t *pk, *sk, *cm;
	size_t pkl, skl, cml;
	uint32_t c1, c2;
	EVP_PKEY *p = NULL;
	char comment[SIG_COMMENT_MAX + 1];
	int rc;

	if (r.len % KEY_BLOCK != 0 || rd_u32(&r, &c1) < 0 ||
	    rd_u32(&r, &c2) < 0 || c1 != c2)
		return lb_err_set(err, LB_E_CONFIG, "%s: private section is "
		    "damaged (check integers differ)", name);
	if (rd_str_is(&r, SIG_ED25519) < 0 || rd_str(&r, &pk, &pkl) < 0 ||
	    pkl != SIG_PUBLEN || rd_str(&r, &sk, &skl) < 0 ||
	    skl != 2 * SIG_PUBLEN || rd_str(&r, &cm, &cml) < 0)
		return lb_err_set(err, LB_E_CONFIG, "%s: private section is not "
		    "one ssh-ed25519 key", name);
	if (r.len >= KEY_BLOCK)
		return lb_err_set(err, LB_E_CONFIG, "%s: trailing data after "
		    "the key", name);
	for (size_t i = 0; i < r.len; i++)
		if (r.p[i] != i + 1)
			return lb_err_set(err, LB_E_CONFIG, "%s: bad padding", name);
	if (cml > SIG_COMMENT_MAX || memchr(cm, '\0', cml) != NULL)
		return lb_err_set(err, LB_E_CONFIG, "%s: bad key comment", name);
	if (CRYPTO_memcmp(pk, pub, SIG_PUBLEN) != 0 ||
	    CRYPTO_memcmp(sk + 32, pub, SIG_PUBLEN) != 0 ||
	    pkey_from_seed(sk, pub, &p) < 0)
		return lb_err_set(err, LB_E_CONFIG, "%s: private key does not "
		    "match its public key", name);
	memcpy(comment, cm, cml);
	comment[cml] = '\0';
	if ((rc = key_new(p, pub, comment, out, err)) < 0)
		EVP_PKEY_free(p);
	return rc;
}

int
sig_key_parse(const char *text, size_t len, const char *name,
    struct sig_key **out, struct lb_err *err)
{
	uint8_t *blob = NULL, pub[SIG_PUBLEN];
	const uint8_t *cipher, *pk, *priv;
	size_t n = 0, cl, pkl, privl;
	uint32_t nkeys;
	struct rd r;
	int rc;

	*out = NULL;
	if (len > KEY_FILE_MAX)
		return lb_err_set(err, LB_E_CONFIG, "%s: too large for a key", name);
	if (sig_dearmor(text, len, KEY_BEGIN, KEY_END, &blob, &n) < 0)
		return lb_err_set(err, LB_E_CONFIG, "%s: not an OpenSSH private "
		    "key (\"%s\" armor with base64)", name, KEY_BEGIN);
	r = (struct rd){ blob, n };
	if (n < KEY_MAGIC_LEN || memcmp(blob, KEY_MAGIC, KEY_MAGIC_LEN) != 0) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: not an openssh-key-v1 "
		    "key", name);
		goto out;
	}
	r.p += KEY_MAGIC_LEN;
	r.len -= KEY_MAGIC_LEN;
	if (rd_str(&r, &cipher, &cl) < 0) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: truncated key", name);
		goto out;
	}
	if (cl != 4 || memcmp(cipher, "none", 4) != 0) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: the key is encrypted, which "
		    "lifeboat does not support (hint: ssh-keygen -p -N '' -f %s)",
		    name, name);
		goto out;
	}
	if (rd_str_is(&r, "none") < 0 || rd_str_is(&r, "") < 0 ||
	    rd_u32(&r, &nkeys) < 0 || nkeys != 1) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: expected one key with kdf "
		    "\"none\"", name);
		goto out;
	}
	if (rd_str(&r, &pk, &pkl) < 0 || rd_str(&r, &priv, &privl) < 0 ||
	    r.len != 0) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: truncated key or trailing "
		    "data", name);
		goto out;
	}
	if (sig_pubblob_parse(pk, pkl, pub) < 0) {
		rc = lb_err_set(err, LB_E_CONFIG, "%s: not an ssh-ed25519 key "
		    "(the only type lifeboat signs with)", name);
		goto out;
	}
	rc = parse_private((struct rd){ priv, privl }, pub, name, out, err);
out:
	OPENSSL_cleanse(blob, n);
	free(blob);
	return rc;
}

int
sig_key_load(const char *path, struct sig_key **out, struct lb_err *err)
{
	char *text = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	if ((r = sig_read_file(path, KEY_FILE_MAX, 1, &text, &n, err)) < 0)
		return r;
	r = sig_key_parse(text, n, path, out, err);
	OPENSSL_cleanse(text, n);
	free(text);
	return r;
}

/* The armored file into a malloc'd string; the caller wipes it. */
static int
key_serialize(const struct sig_key *key, char **out, struct lb_err *err)
{
	uint8_t priv[KEY_BLOB_MAX], blob[KEY_BLOB_MAX + 128], sk[64];
	uint8_t pb[SIG_BLOBLEN];
	struct wr w = { priv, 0, sizeof(priv), 0 };
	struct wr b = { blob, 0, sizeof(blob), 0 };
	size_t skl = 32;
	uint32_t check;
	int r = 0;

	if (EVP_PKEY_get_raw_private_key(key->pkey, sk, &skl) != 1 || skl != 32 ||
	    RAND_bytes((uint8_t *)&check, sizeof(check)) != 1) {
		r = lb_err_set(err, LB_E_CRYPTO, "cannot export the private key");
		goto out;
	}
	memcpy(sk + 32, key->pub, SIG_PUBLEN);
	wr_u32(&w, check);
	wr_u32(&w, check);
	wr_str(&w, SIG_ED25519, strlen(SIG_ED25519));
	wr_str(&w, key->pub, SIG_PUBLEN);
	wr_str(&w, sk, sizeof(sk));
	wr_str(&w, key->comment, strlen(key->comment));
	for (uint8_t i = 1; w.len % KEY_BLOCK != 0; i++)
		wr_bytes(&w, &i, 1);
	sig_pubblob(key->pub, pb);
	wr_bytes(&b, KEY_MAGIC, KEY_MAGIC_LEN);
	wr_str(&b, "none", 4);
	wr_str(&b, "none", 4);
	wr_str(&b, "", 0);
	wr_u32(&b, 1);
	wr_str(&b, pb, sizeof(pb));
	wr_str(&b, priv, w.len);
	if (w.bad || b.bad) {
		r = lb_err_set(err, LB_E_INTERNAL, "key does not fit its buffer");
		goto out;
	}
	if ((*out = sig_armor(blob, b.len, KEY_BEGIN, KEY_END)) == NULL)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(blob, sizeof(blob));
	return r;
}

/* Written to a temporary file, then linked into place: atomic, and
 * link() fails if path exists, so a key is never overwritten. */
int
sig_key_write(const struct sig_key *key, const char *path, struct lb_err *err)
{
	char *text = NULL, *tmp = NULL, *dir = NULL;
	size_t n = 0, off = 0;
	int fd = -1, r;

	if (key->pkey == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "%s: no private key to write",
		    path);
	if ((r = key_serialize(key, &text, err)) < 0)
		return r;
	n = strlen(text);
	if ((tmp = malloc(strlen(path) + 8)) == NULL ||
	    (dir = strdup(path)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	sprintf(tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) { /* mode 0600 */
		r = lb_err_sys(err, LB_E_IO, errno, "%s", tmp);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	while (off < n) {
		ssize_t k = write(fd, text + off, n - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = lb_err_sys(err, LB_E_IO, errno, "%s", tmp);
			goto out;
		}
		off += (size_t)k;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = lb_err_sys(err, LB_E_IO, errno, "%s", tmp);
		goto out;
	}
	fd = -1;
	if (link(tmp, path) < 0) {
		r = lb_err_sys(err, errno == EEXIST ? LB_E_EXISTS : LB_E_IO, errno,
		    "%s", path);
		goto out;
	}
	{
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) { /* tmp is unlinked below */
			fsync(dfd);
			close(dfd);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	OPENSSL_cleanse(text, n);
	free(text);
	free(tmp);
	free(dir);
	return r;
}

int
sig_key_public_line(const struct sig_key *key, char **out, struct lb_err *err)
{
	uint8_t blob[SIG_BLOBLEN];
	char b64[4 * ((SIG_BLOBLEN + 2) / 3) + 1];

	sig_pubblob(key->pub, blob);
	b64[lb_b64_encode(blob, sizeof(blob), b64, 1)] = '\0';
	if (asprintf(out, "%s %s%s%s", SIG_ED25519, b64,
	    key->comment[0] ? " " : "", key->comment) < 0) {
		*out = NULL;
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	return 0;
}

void
sig_key_fingerprint(const struct sig_key *key, char out[SIG_FINGERPRINT_LEN])
{
	uint8_t blob[SIG_BLOBLEN], h[SHA256_DIGEST_LENGTH];
	char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	size_t n;

	sig_pubblob(key->pub, blob);
	SHA256(blob, sizeof(blob), h);
	n = lb_b64_encode(h, sizeof(h), b64, 0);     /* OpenSSH drops the '=' */
	b64[n] = '\0';
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, n + 1); /* 43 characters and the NUL */
}
