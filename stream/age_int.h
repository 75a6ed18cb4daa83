/*
 * age_int.h: what the two halves of the age module share and nobody else
 * uses: the key structs and the few OpenSSL primitives both need.
 * age.c owns keys, Bech32 and identity files; age_stream.c owns the file
 * format (header and STREAM payload).
 */
#ifndef LB_AGE_INT_H
#define LB_AGE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "stream/age.h"

#define AGE_KEY_LEN 32
#define AGE_IDENTITY_MAX_KEYS 64
/* "age1" + 52 data characters + 6 checksum characters, and a NUL. */
#define AGE_RECIPIENT_STR_MAX 64

struct age_recipient {
	uint8_t pk[AGE_KEY_LEN];
	char str[AGE_RECIPIENT_STR_MAX];
};

struct age_key {
	uint8_t sk[AGE_KEY_LEN];
	uint8_t pk[AGE_KEY_LEN];
};

struct age_identity {
	size_t n;
	struct age_key keys[AGE_IDENTITY_MAX_KEYS];
};

/* X25519 of sk with the base point. Returns 0 or -1. */
int age_x25519_base(const uint8_t sk[AGE_KEY_LEN], uint8_t pk[AGE_KEY_LEN]);

/* X25519(sk, peer); -1 on failure, including an all-zero result (a
 * low-order peer point), which the spec says to reject. */
int age_x25519(const uint8_t sk[AGE_KEY_LEN], const uint8_t peer[AGE_KEY_LEN],
    uint8_t out[AGE_KEY_LEN]);

/* HKDF-SHA-256 with 32 bytes of output.  Returns 0 or -1. */
int age_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
    size_t salt_len, const char *info, uint8_t out[32]);

#endif
