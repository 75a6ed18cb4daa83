/*
 * b64.c: strict base64 (b64.h).
 */
#include "common/b64.h"

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
lb_b64_encode(const uint8_t *in, size_t n, char *out, int pad)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = b64_chars[(v >> 6) & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (n - i == 0)
		return o;
	v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
	out[o++] = b64_chars[v >> 18];
	out[o++] = b64_chars[(v >> 12) & 63];
	if (n - i == 2)
		out[o++] = b64_chars[(v >> 6) & 63];
	while (pad && o % 4 != 0)
		out[o++] = '=';
	return o;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
lb_b64_decode(const char *in, size_t n, uint8_t *out, size_t max, size_t *outlen, int pad)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0, v;

	if (pad) {
		/* the '='s (one or two, at the end of a whole quantum) go */
		if (n % 4 != 0)
			return -1;
		if (n > 0 && in[n - 1] == '=')
			n -= n > 1 && in[n - 2] == '=' ? 2 : 1;
	}
	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > max)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_value(in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	*outlen = o;
	return 0;
}
