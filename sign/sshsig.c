/*
 * sshsig.c: detached, armored SSHSIG signatures (PROTOCOL.sshsig) with
 * Ed25519.  The signed data binds the namespace and hash name, so a
 * signature made for one purpose (git commits, say) never passes as a
 * lifeboat manifest's.  Whether the signer is trusted is signers.c's job.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "sign/sig_int.h"

#define SIG_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define SIG_END "-----END SSH SIGNATURE-----"
#define SIG_MAGIC "SSHSIG"
#define SIG_VERSION 1
#define SIG_ARMOR_MAX (16u << 10)
#define SIG_NS_MAX 256
/* magic, namespace, reserved, hash name, hash: what Ed25519 signs. */
#define SIG_TBS_MAX (6 + 4 + SIG_NS_MAX + 4 + 4 + 6 + 4 + SHA512_DIGEST_LENGTH)

/* H(msg) with the named hash; 0 or -1 for an unknown name. */
static int
msg_hash(const char *alg, size_t alg_len, const void *msg, size_t len,
    uint8_t h[SHA512_DIGEST_LENGTH], size_t *hl)
{
	if (alg_len == 6 && memcmp(alg, "sha512", 6) == 0) {
		SHA512(msg, len, h);
		*hl = SHA512_DIGEST_LENGTH;
	} else if (alg_len == 6 && memcmp(alg, "sha256", 6) == 0) {
		SHA256(msg, len, h);
		*hl = SHA256_DIGEST_LENGTH;
	} else {
		return -1;
	}
	return 0;
}

static void
to_be_signed(struct wr *w, const char *ns, size_t nsl, const char *alg,
    const uint8_t *h, size_t hl)
{
	wr_bytes(w, SIG_MAGIC, 6);
	wr_str(w, ns, nsl);
	wr_str(w, "", 0);
	wr_str(w, alg, strlen(alg));
	wr_str(w, h, hl);
}

static int
check_ns(const char *ns, struct lb_err *err)
{
	if (ns == NULL || ns[0] == '\0' || strlen(ns) > SIG_NS_MAX)
		return lb_err_set(err, LB_E_INTERNAL, "signature namespace must "
		    "be 1 to %d bytes", SIG_NS_MAX);
	return 0;
}

int
sig_sign(const struct sig_key *key, const void *msg, size_t len,
    const char *ns, char **armored, struct lb_err *err)
{
	uint8_t h[SHA512_DIGEST_LENGTH], tbs[SIG_TBS_MAX], sig[SIG_SIGLEN];
	uint8_t sigblob[4 + 11 + 4 + SIG_SIGLEN], pb[SIG_BLOBLEN];
	uint8_t blob[SIG_TBS_MAX + sizeof(sigblob) + sizeof(pb) + 16];
	struct wr t = { tbs, 0, sizeof(tbs), 0 };
	struct wr s = { sigblob, 0, sizeof(sigblob), 0 };
	struct wr b = { blob, 0, sizeof(blob), 0 };
	EVP_MD_CTX *ctx = NULL;
	size_t hl, sl = sizeof(sig);
	int r;

	*armored = NULL;
	if ((r = check_ns(ns, err)) < 0)
		return r;
	if (key->pkey == NULL)
		return lb_err_set(err, LB_E_INTERNAL, "signing needs a private key");
	msg_hash("sha512", 6, msg, len, h, &hl);
	to_be_signed(&t, ns, strlen(ns), "sha512", h, hl);
	/* Ed25519 takes no digest of its own: md NULL, one-shot sign */
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &sl, tbs, t.len) != 1 || sl != SIG_SIGLEN) {
		r = lb_err_set(err, LB_E_CRYPTO, "ed25519 signing failed");
		goto out;
	}
	wr_str(&s, SIG_ED25519, strlen(SIG_ED25519));
	wr_str(&s, sig, sl);
	sig_pubblob(key->pub, pb);
	wr_bytes(&b, SIG_MAGIC, 6);
	wr_u32(&b, SIG_VERSION);
	wr_str(&b, pb, sizeof(pb));
	wr_str(&b, ns, strlen(ns));
	wr_str(&b, "", 0);
	wr_str(&b, "sha512", 6);
	wr_str(&b, sigblob, s.len);
	if (t.bad || s.bad || b.bad) {
		r = lb_err_set(err, LB_E_INTERNAL, "signature does not fit its "
		    "buffer");
		goto out;
	}
	if ((*armored = sig_armor(blob, b.len, SIG_BEGIN, SIG_END)) == NULL)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* The fields of a parsed signature blob, pointing into it. */
struct parsed {
	uint8_t pub[SIG_PUBLEN];
	const uint8_t *ns, *alg, *sig;
	size_t nsl, algl;
};

static int
parse_blob(const uint8_t *blob, size_t n, struct parsed *p, struct lb_err *err)
{
	struct rd r = { blob, n }, s;
	const uint8_t *pk, *res, *sb;
	size_t pkl, resl, sbl, sl;
	uint32_t ver;

	if (n < 6 || memcmp(blob, SIG_MAGIC, 6) != 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: no SSHSIG magic");
	r.p += 6;
	r.len -= 6;
	if (rd_u32(&r, &ver) < 0 || ver != SIG_VERSION)
		return lb_err_set(err, LB_E_CORRUPT, "signature: unsupported "
		    "SSHSIG version");
	if (rd_str(&r, &pk, &pkl) < 0 || rd_str(&r, &p->ns, &p->nsl) < 0 ||
	    rd_str(&r, &res, &resl) < 0 || rd_str(&r, &p->alg, &p->algl) < 0 ||
	    rd_str(&r, &sb, &sbl) < 0 || r.len != 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: truncated or "
		    "trailing data");
	/* reserved is not covered by the signature: only the empty one that
	 * every signer writes is accepted, so a blob has one encoding */
	if (resl != 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: reserved field "
		    "is not empty");
	if (sig_pubblob_parse(pk, pkl, p->pub) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: signer is not an "
		    "ssh-ed25519 key");
	s = (struct rd){ sb, sbl };
	if (rd_str_is(&s, SIG_ED25519) < 0 || rd_str(&s, &p->sig, &sl) < 0 ||
	    sl != SIG_SIGLEN || s.len != 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: not an "
		    "ssh-ed25519 signature");
	return 0;
}

int
sig_verify(const void *msg, size_t len, const char *armored,
    size_t armored_len, const char *ns, struct sig_key **signer,
    struct lb_err *err)
{
	uint8_t *blob = NULL, h[SHA512_DIGEST_LENGTH], tbs[SIG_TBS_MAX];
	struct wr t = { tbs, 0, sizeof(tbs), 0 };
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	struct parsed p;
	size_t n = 0, hl;
	char alg[7];
	int r;

	*signer = NULL;
	if ((r = check_ns(ns, err)) < 0)
		return r;
	if (armored_len > SIG_ARMOR_MAX)
		return lb_err_set(err, LB_E_CORRUPT, "signature: larger than %u "
		    "bytes", SIG_ARMOR_MAX);
	if (sig_dearmor(armored, armored_len, SIG_BEGIN, SIG_END, &blob, &n) < 0)
		return lb_err_set(err, LB_E_CORRUPT, "signature: not an armored "
		    "SSH signature (\"%s\" block of base64)", SIG_BEGIN);
	if ((r = parse_blob(blob, n, &p, err)) < 0)
		goto out;
	if (p.nsl != strlen(ns) || memcmp(p.ns, ns, p.nsl) != 0) {
		r = lb_err_set(err, LB_E_CRYPTO, "signature: made for another "
		    "namespace than \"%s\"", ns);
		goto out;
	}
	if (p.algl >= sizeof(alg) ||
	    msg_hash((const char *)p.alg, p.algl, msg, len, h, &hl) < 0) {
		r = lb_err_set(err, LB_E_CORRUPT, "signature: hash is neither "
		    "sha512 nor sha256");
		goto out;
	}
	memcpy(alg, p.alg, p.algl);
	alg[p.algl] = '\0';
	to_be_signed(&t, ns, p.nsl, alg, h, hl);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p.pub,
	    SIG_PUBLEN);
	if (t.bad || pk == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1) {
		r = lb_err_set(err, LB_E_CRYPTO, "signature: cannot set up "
		    "ed25519 verification");
		goto out;
	}
	if (EVP_DigestVerify(ctx, p.sig, SIG_SIGLEN, tbs, t.len) != 1) {
		r = lb_err_set(err, LB_E_CRYPTO, "signature: does not match the "
		    "data (altered since it was signed)");
		goto out;
	}
	r = sig_key_from_pub(p.pub, NULL, signer, err);
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	free(blob);
	return r;
}
