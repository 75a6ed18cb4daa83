/*
 * b64.h: strict base64 (RFC 4648, standard alphabet) for the formats that
 * carry it: age's header (unpadded) and OpenSSH's keys and signatures
 * (padded).  Decoding accepts only the canonical encoding (unused low bits
 * zero, padding only where it belongs), so one byte string has one text:
 * a parser of signed or authenticated data must not accept two.
 */
#ifndef LB_B64_H
#define LB_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters lb_b64_encode writes for n bytes. */
#define LB_B64_LEN(n, pad) ((pad) ? 4 * (((n) + 2) / 3) : ((n) * 4 + 2) / 3)

/* Encodes n bytes into out (LB_B64_LEN bytes, no NUL), with '=' padding
 * when pad; returns the characters written. */
size_t lb_b64_encode(const uint8_t *in, size_t n, char *out, int pad);

/* Decodes exactly n characters into out (at most max bytes): padded
 * (n a multiple of 4, '=' only at the end) when pad, else unpadded (no
 * '=').  -1 unless canonical and within max. */
int lb_b64_decode(const char *in, size_t n, uint8_t *out, size_t max, size_t *outlen,
    int pad);

#endif
