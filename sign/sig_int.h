/*
 * sig_int.h: what the files of sign/ share: SSH wire encoding (uint32 and
 * length-prefixed strings, RFC 4251), strict base64, the key's insides.
 * Not for use outside sign/.
 */
#ifndef LB_SIG_INT_H
#define LB_SIG_INT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/b64.h"
#include "common/err.h"
#include "sign/sign.h"

#define SIG_ED25519 "ssh-ed25519"
#define SIG_PUBLEN 32
#define SIG_SIGLEN 64
/* string "ssh-ed25519" + string pk */
#define SIG_BLOBLEN (4 + 11 + 4 + SIG_PUBLEN)

struct sig_key {
	EVP_PKEY *pkey;            /* NULL for a public-only key */
	uint8_t pub[SIG_PUBLEN];
	char *comment;             /* never NULL */
};

/* A writer into a fixed array; an overflow sets bad and writes nothing. */
struct wr {
	uint8_t *p;
	size_t len, cap;
	int bad;
};

void wr_bytes(struct wr *w, const void *d, size_t n);
void wr_u32(struct wr *w, uint32_t v);
void wr_str(struct wr *w, const void *d, size_t n);

/* A reader; each call returns -1 (and reads nothing) past the end. */
struct rd {
	const uint8_t *p;
	size_t len;
};

int rd_u32(struct rd *r, uint32_t *v);
int rd_str(struct rd *r, const uint8_t **d, size_t *n);
/* A string that must equal s exactly. */
int rd_str_is(struct rd *r, const char *s);

/* The public key blob of pub into out[SIG_BLOBLEN]. */
void sig_pubblob(const uint8_t pub[SIG_PUBLEN], uint8_t out[SIG_BLOBLEN]);
/* Parses a public key blob (exactly, nothing trailing) into pub. */
int sig_pubblob_parse(const uint8_t *b, size_t n, uint8_t pub[SIG_PUBLEN]);
/* A new public-only key. */
int sig_key_from_pub(const uint8_t pub[SIG_PUBLEN], const char *comment,
    struct sig_key **out, struct lb_err *err);


/* Base64 body of armored text between header and footer lines, newlines
 * dropped; decoded into a malloc'd *out. -1 on any deviation. */
int sig_dearmor(const char *text, size_t len, const char *begin,
    const char *end, uint8_t **out, size_t *outlen);
/* Armors blob with 70-column lines into a malloc'd string; NULL if OOM. */
char *sig_armor(const uint8_t *blob, size_t n, const char *begin,
    const char *end);

/* Reads at most max bytes of path into a malloc'd NUL-terminated buffer;
 * private: refuse unless S_ISREG and no group/other permission bits. */
int sig_read_file(const char *path, size_t max, int private, char **out,
    size_t *outlen, struct lb_err *err);

#endif
