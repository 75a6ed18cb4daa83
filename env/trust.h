/*
 * trust.h: whether a manifest is one of ours.  Anyone who can write to
 * the bucket can make a backup that decrypts with the appliance's
 * identity (the recipient is public by design) and a manifest that
 * describes it; only a signature by a trusted key tells the two apart.
 *
 * A manifest is trusted when its detached SSHSIG signature
 * (manifest.json.sig beside it, namespace lifeboat-manifest) verifies and
 * the key that made it is listed in `trusted-signers` (OpenSSH's
 * allowed_signers format) for that namespace.  Without trusted signers
 * configured nothing is checked, and the callers warn that backups can be
 * planted.  With --insecure-skip-signature a failed check is logged
 * loudly and passed, and the caller audits that it was.
 */
#ifndef LB_TRUST_H
#define LB_TRUST_H

#include <stddef.h>

#include "common/err.h"
#include "env/env.h"
#include "repo/head.h"
#include "repo/repo.h"
#include "sign/sign.h"

/* The most bytes of a signature file read. */
#define TRUST_SIG_MAX (16u * 1024)

/* What a check found. */
enum trust_result {
	TRUST_UNCHECKED = 0,   /* no trusted signers configured */
	TRUST_SIGNED,          /* signed by a trusted key */
	TRUST_SKIPPED          /* failed, passed by --insecure-skip-signature */
};

/* The pure check: json (len bytes) against sig (siglen bytes; NULL: there
 * is none) made in namespace ns, and trust.  0 when a trusted key signed
 * it, with its fingerprint in signer; else LB_E_AUTH (unsigned, or signed
 * by a key trust does not list for ns), LB_E_CRYPTO (altered: the
 * signature does not match the bytes) or LB_E_CORRUPT (a signature file
 * that does not parse), the message naming what ("manifest KEY") and
 * why. */
int trust_check(const struct sig_signers *trust, const char *ns, const char *what,
    const char *json, size_t len, const char *sig, size_t siglen,
    char signer[SIG_FINGERPRINT_LEN], struct lb_err *err);

/* Reads the signature of the object at key (key + ".sig") from repo into
 * *sig (malloc'd, NUL-terminated).  One that is not there is no error:
 * 0 with *sig NULL (trust_check then says "not signed"). */
int trust_fetch_sig(struct repo *repo, const char *key, char **sig, size_t *len,
    struct lb_err *err);

/* The check of a manifest (json, len bytes) of key mkey with its
 * signature in hand (sig, siglen; NULL: there is none), against e's
 * trusted signers and e->skip_signature: *res says what it found (NULL:
 * not wanted).  A failure is returned unless skipping, which logs it as
 * INSECURE.  For manifests read elsewhere than e->repo (a rebuild's
 * threads, a bundle). */
int env_trust_manifest_sig(const struct lb_env *e, const char *mkey, const char *json,
    size_t len, const char *sig, size_t siglen, enum trust_result *res, struct lb_err *err);

/* The same for a manifest read from e's repository at mkey: its
 * signature is read from there too. */
int env_trust_manifest(struct lb_env *e, const char *mkey, const char *json, size_t len,
    enum trust_result *res, struct lb_err *err);

/* What an audit event's details say of a result: "ok", "skipped",
 * "unchecked". */
const char *trust_result_name(enum trust_result res);

/* The head of cluster (repo/head.h) read from repo into *h: its
 * signature checked against trust in namespace HEAD_SIG_NS (trust NULL:
 * not checked), parsed, and of that cluster.  *found says whether the
 * object could be read at all; the error then names the head and why it
 * is not used (not signed, altered, untrusted, malformed, another
 * cluster's).  The backup continues the chain from it, restore from the
 * bucket compares it with what it found. */
int trust_head_read(struct repo *repo, const struct sig_signers *trust, const char *cluster,
    struct head *h, int *found, struct lb_err *err);

/* The warning every reader of backups gives once when no trusted signers
 * are configured (NULL when they are). */
const char *trust_unset_warning(const struct lb_env *e);

#endif
