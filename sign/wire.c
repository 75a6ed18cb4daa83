/*
 * wire.c: SSH wire encoding, base64, armor and bounded file reads for
 * sign/.  Strict by design: a signature or key that deviates in any byte
 * from what OpenSSH writes is refused, so there is one accepted encoding.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sign/sig_int.h"

void
wr_bytes(struct wr *w, const void *d, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

void
wr_u32(struct wr *w, uint32_t v)
{
	const uint8_t b[4] = { v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff };

	wr_bytes(w, b, 4);
}

void
wr_str(struct wr *w, const void *d, size_t n)
{
	if (n > UINT32_MAX) {
		w->bad = 1;
		return;
	}
	wr_u32(w, (uint32_t)n);
	wr_bytes(w, d, n);
}

int
rd_u32(struct rd *r, uint32_t *v)
{
	if (r->len < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->len -= 4;
	return 0;
}

int
rd_str(struct rd *r, const uint8_t **d, size_t *n)
{
	struct rd save = *r;
	uint32_t l;

	if (rd_u32(r, &l) < 0 || l > r->len) {
		*r = save;
		return -1;
	}
	*d = r->p;
	*n = l;
	r->p += l;
	r->len -= l;
	return 0;
}

int
rd_str_is(struct rd *r, const char *s)
{
	const uint8_t *d;
	size_t n;

	if (rd_str(r, &d, &n) < 0 || n != strlen(s) || memcmp(d, s, n) != 0)
		return -1;
	return 0;
}

void
sig_pubblob(const uint8_t pub[SIG_PUBLEN], uint8_t out[SIG_BLOBLEN])
{
	struct wr w = { out, 0, SIG_BLOBLEN, 0 };

	wr_str(&w, SIG_ED25519, strlen(SIG_ED25519));
	wr_str(&w, pub, SIG_PUBLEN);
}

int
sig_pubblob_parse(const uint8_t *b, size_t n, uint8_t pub[SIG_PUBLEN])
{
	struct rd r = { b, n };
	const uint8_t *k;
	size_t kl;

	if (rd_str_is(&r, SIG_ED25519) < 0 || rd_str(&r, &k, &kl) < 0 ||
	    kl != SIG_PUBLEN || r.len != 0)
		return -1;
	memcpy(pub, k, SIG_PUBLEN);
	return 0;
}

/* Exactly: begin "\n", lines of base64, end, at most one "\n".  Lines
 * of any width are accepted (ssh-keygen's parser ignores them too). */
int
sig_dearmor(const char *text, size_t len, const char *begin, const char *end,
    uint8_t **out, size_t *outlen)
{
	size_t bl = strlen(begin), el = strlen(end), i, n = 0;
	char *body = NULL;
	int r = -1;

	*out = NULL;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len < bl + 1 + el + 1 || memcmp(text, begin, bl) != 0 ||
	    text[bl] != '\n' || memcmp(text + len - el, end, el) != 0 ||
	    text[len - el - 1] != '\n')
		return -1;
	if ((body = malloc(len)) == NULL)
		return -1;
	for (i = bl + 1; i < len - el; i++) {
		if (text[i] == '\n') {
			if (text[i - 1] == '\n') /* no empty lines */
				goto out;
		} else {
			body[n++] = text[i];
		}
	}
	if (n == 0 || (*out = malloc(n / 4 * 3 + 1)) == NULL)
		goto out;
	if (lb_b64_decode(body, n, *out, n / 4 * 3 + 1, outlen, 1) < 0) {
		OPENSSL_cleanse(*out, n / 4 * 3 + 1);
		free(*out);
		*out = NULL;
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(body, len);
	free(body);
	return r;
}

char *
sig_armor(const uint8_t *blob, size_t n, const char *begin, const char *end)
{
	size_t bl = 4 * ((n + 2) / 3), o;
	char *b = malloc(bl + 1), *t;

	if (b == NULL)
		return NULL;
	b[lb_b64_encode(blob, n, b, 1)] = '\0';
	t = malloc(strlen(begin) + strlen(end) + bl + bl / 70 + 4);
	if (t != NULL) {
		o = (size_t)sprintf(t, "%s\n", begin);
		for (size_t i = 0; i < bl; i += 70) {
			size_t w = bl - i < 70 ? bl - i : 70;

			memcpy(t + o, b + i, w);
			o += w;
			t[o++] = '\n';
		}
		sprintf(t + o, "%s\n", end);
	}
	OPENSSL_cleanse(b, bl);
	free(b);
	return t;
}

int
sig_read_file(const char *path, size_t max, int private, char **out,
    size_t *outlen, struct lb_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, r = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return lb_err_sys(err, errno == ENOENT ? LB_E_NOTFOUND : LB_E_IO,
		    errno, "%s", path);
	if (fstat(fd, &st) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & 077)) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: permissions %04o are too "
		    "open for a private key: group or others have access "
		    "(hint: chmod 600 %s)", path, (unsigned)(st.st_mode & 07777),
		    path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: larger than %zu bytes",
		    path, max);
		goto out;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, max + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = lb_err_sys(err, LB_E_IO, errno, "%s", path);
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			r = lb_err_set(err, LB_E_CONFIG, "%s: larger than %zu "
			    "bytes", path, max);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, max + 1);
		free(buf);
	}
	close(fd);
	return r;
}
