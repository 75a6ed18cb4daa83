/*
 * age.h: the age v1 file format (c2sp.org/age) with X25519 recipients,
 * as streaming filters for the chain of flt.h, plus the keys it needs.
 *
 * Backups are written to public recipients ("age1..."), so the appliance
 * never needs a private key to take one; the identity ("AGE-SECRET-KEY-1...",
 * in an age-keygen style file) is needed only to restore or verify.  Files
 * written here open with `age -d -i key.txt`, and files from `age -r` open
 * here.  Only X25519 is implemented: no scrypt, plugins, armor or
 * post-quantum types (stanzas of other types are skipped when decrypting).
 *
 * Error codes: LB_E_CONFIG for keys and identity files that do not parse,
 * LB_E_CRYPTO when no key of the identity opens any recipient stanza,
 * LB_E_CORRUPT for anything wrong with the file itself (header syntax,
 * header MAC, a chunk that fails authentication, truncation, trailing data).
 */
#ifndef LB_AGE_H
#define LB_AGE_H

#include <stddef.h>

#include "common/err.h"
#include "common/secret.h"
#include "stream/flt.h"

struct age_recipient;
struct age_identity;

/* "sha256:" + 16 hex digits + NUL. */
#define AGE_FINGERPRINT_LEN 24

/* Parses an "age1..." recipient (Bech32, all lower or all upper case). */
int age_recipient_parse(const char *s, struct age_recipient **out,
    struct lb_err *err);

void age_recipient_free(struct age_recipient *r);

/* The canonical lower-case "age1..." string; lives as long as r. */
const char *age_recipient_string(const struct age_recipient *r);

/* "sha256:" and the first 16 hex digits of sha256(32-byte public key): names
 * the key in manifests without giving anything away. */
void age_recipient_fingerprint(const struct age_recipient *r,
    char out[AGE_FINGERPRINT_LEN]);

/* Parses identity text in age-keygen's format: lines starting with '#' and
 * blank lines are skipped, every other line is one AGE-SECRET-KEY-1... key
 * (at least one, at most 64).  Messages never quote a key line. */
int age_identity_parse(const char *text, struct age_identity **out,
    struct lb_err *err);

/* Reads and parses an identity file (at most 64 KiB); warns if others can
 * read it. */
int age_identity_load(const char *path, struct age_identity **out,
    struct lb_err *err);

/* Wipes the secret keys and frees; NULL is fine. */
void age_identity_free(struct age_identity *id);

/* Number of keys in id (at least 1). */
size_t age_identity_count(const struct age_identity *id);

/* The public recipient of key i of id (i < age_identity_count). */
int age_identity_recipient(const struct age_identity *id, size_t i,
    struct age_recipient **out, struct lb_err *err);

/* Generates a new key: *identity_file_text gets a malloc'd identity file in
 * age-keygen's format ("# created: ...", "# public key: age1...", the key
 * line), *recipient the malloc'd "age1..." string.  The caller frees the
 * text with lb_secret_free and the recipient with free. */
int age_keygen(char **identity_file_text, char **recipient, struct lb_err *err);

/* Writes identity_file_text (from age_keygen) to a new file at path, mode
 * 0600, atomically and never over an existing file (LB_E_EXISTS then, with
 * a hint), and fsyncs the directory. */
int age_identity_write_new(const char *path, const char *identity_file_text,
    struct lb_err *err);

/* An encrypting stage: everything written is encrypted to the n (1 to 64)
 * recipients, which are copied (the caller may free them afterwards).  The
 * header is emitted with the first bytes of output; plaintext is held
 * until a 64 KiB chunk is full and more follows, or until finish.  On
 * success the stage owns next; on failure the caller still does. */
int flt_age_enc_new(struct age_recipient *const *rcpts, size_t n,
    struct flt *next, struct flt **out, struct lb_err *err);

/* A decrypting stage: parses the header as bytes arrive (bounded: 64 KiB,
 * 256 stanzas), unwraps the file key with one of id's keys, checks the
 * header MAC, then passes on each 64 KiB chunk once it is authenticated
 * and known not to be the last, or at finish the final one.  Nothing
 * unauthenticated reaches next.  finish fails if the file was truncated.
 * id must outlive the stage.  Ownership of next as for flt_age_enc_new. */
int flt_age_dec_new(const struct age_identity *id, struct flt *next,
    struct flt **out, struct lb_err *err);


#endif
