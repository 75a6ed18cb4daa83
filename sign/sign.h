/*
 * sign.h: OpenSSH-compatible Ed25519 signing of manifests: keys in
 * OpenSSH's private key format, SSHSIG signatures (PROTOCOL.sshsig) and
 * trust in an allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS).
 *
 * Everything here interoperates with Debian's ssh-keygen: keys made by
 * `ssh-keygen -t ed25519 -N ''` load here and keys written here load there;
 * signatures made here pass `ssh-keygen -Y verify` and those of
 * `ssh-keygen -Y sign` verify here.  Only Ed25519 and unencrypted keys.
 *
 * Error codes: LB_E_CONFIG for key and allowed_signers files that cannot be
 * used (syntax, type, encryption, permissions), LB_E_NOTFOUND for a missing
 * file, LB_E_IO for other file system errors, LB_E_CORRUPT for a signature
 * that does not parse, LB_E_CRYPTO for one that parses but does not verify
 * (altered message, other namespace), LB_E_AUTH for a good signature by a
 * key the allowed signers do not trust.
 */
#ifndef LB_SIGN_H
#define LB_SIGN_H

#include <stddef.h>

#include "common/err.h"

struct sig_key;     /* an Ed25519 key: private and public, or public only */
struct sig_signers; /* a parsed allowed_signers file */

/* "SHA256:" + 43 characters of unpadded base64 + NUL. */
#define SIG_FINGERPRINT_LEN 51
/* Longest comment kept with a key. */
#define SIG_COMMENT_MAX 1024

/* Makes a new private key with the given comment (NULL: empty). */
int sig_key_generate(const char *comment, struct sig_key **out,
    struct lb_err *err);

/* Reads an unencrypted openssh-key-v1 file holding one ssh-ed25519 key (at
 * most 16 KiB).  Refuses a file that group or others may access, like ssh
 * does; every message names path and says why. */
int sig_key_load(const char *path, struct sig_key **out, struct lb_err *err);

/* The parser behind sig_key_load, on text already read; name is used in
 * messages only. */
int sig_key_parse(const char *text, size_t len, const char *name,
    struct sig_key **out, struct lb_err *err);

/* Writes key's private half to path in openssh-key-v1 format, mode 0600,
 * atomically; refuses (LB_E_EXISTS) if path exists.  key must be private. */
int sig_key_write(const struct sig_key *key, const char *path,
    struct lb_err *err);

/* "ssh-ed25519 AAAA... COMMENT" (no comment if empty, no newline) into a
 * malloc'd string. */
int sig_key_public_line(const struct sig_key *key, char **out,
    struct lb_err *err);

/* The fingerprint `ssh-keygen -l` prints: "SHA256:" + unpadded base64 of
 * the sha256 of the public key blob. */
void sig_key_fingerprint(const struct sig_key *key,
    char out[SIG_FINGERPRINT_LEN]);

/* 1 if both hold the same public key, else 0. */
int sig_key_equal(const struct sig_key *a, const struct sig_key *b);

/* 1 if key holds a private half (can sign). */
int sig_key_is_private(const struct sig_key *key);

/* Wipes the private half and frees; NULL is fine. */
void sig_key_free(struct sig_key *key);

/* Signs msg as `ssh-keygen -Y sign -n ns` would (sha512): *armored gets a
 * malloc'd "-----BEGIN SSH SIGNATURE-----" block, 70-column lines, ending
 * in a newline.  ns must be non-empty (lifeboat: "lifeboat-manifest"). */
int sig_sign(const struct sig_key *key, const void *msg, size_t len,
    const char *ns, char **armored, struct lb_err *err);

/* Checks an armored signature (at most 16 KiB) over msg: strict armor and
 * blob (version 1, exact lengths, nothing trailing), namespace equal to ns,
 * hash sha512 or sha256, a valid Ed25519 signature.  On success *signer
 * gets the public key that signed; the caller must still ask
 * sig_signers_trusts whether that key is trusted. */
int sig_verify(const void *msg, size_t len, const char *armored,
    size_t armored_len, const char *ns, struct sig_key **signer,
    struct lb_err *err);

/* Reads an allowed_signers file (at most 1 MiB): "principals [options]
 * keytype base64 [comment]" per line, '#' comments and blank lines.
 * Options: namespaces="...", valid-after=, valid-before= (checked against
 * the clock); cert-authority lines and keys other than ssh-ed25519 are
 * ignored (they can never match), as ssh-keygen would for an Ed25519
 * signature.  Unknown options and bad keys fail with file:line.  A file
 * without a single usable signer fails too. */
int sig_signers_load(const char *path, struct sig_signers **out,
    struct lb_err *err);

/* The parser behind sig_signers_load; name is used in messages only. */
int sig_signers_parse(const char *text, size_t len, const char *name,
    struct sig_signers **out, struct lb_err *err);

/* 0 if a line lists key for ns (non-empty) and principal (OpenSSH pattern lists with
 * '*', '?' and '!'; NULL principal: any line), valid now; else LB_E_AUTH
 * with a message naming the key's fingerprint and the file. */
int sig_signers_trusts(const struct sig_signers *s, const struct sig_key *key,
    const char *principal, const char *ns, struct lb_err *err);

/* NULL is fine. */
void sig_signers_free(struct sig_signers *s);

#endif
