/*
 * signers.c: OpenSSH's allowed_signers file (ssh-keygen(1), ALLOWED
 * SIGNERS) and the question "is this key trusted for this principal and
 * namespace now?", answered as `ssh-keygen -Y verify` would for a plain
 * Ed25519 key.  Certificates are not supported: cert-authority lines are
 * kept out of the answer (only counted), which can never widen trust.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sign/sig_int.h"

#define SIGNERS_FILE_MAX (1u << 20)
#define SIGNERS_LINE_MAX 8192
#define SIGNERS_MAX 4096

struct signer {
	char *principals;   /* pattern list */
	char *namespaces;   /* pattern list, NULL: any namespace */
	time_t after, before; /* 0: no bound */
	uint8_t pub[SIG_PUBLEN];
};

struct sig_signers {
	char *name;
	struct signer *v;
	size_t n, cap, ignored_ca;
};

void
sig_signers_free(struct sig_signers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].principals);
		free(s->v[i].namespaces);
	}
	free(s->v);
	free(s->name);
	free(s);
}

/* '*' and '?' glob of n bytes of pat over all of str; the classic
 * backtrack to the last star, so it stays O(len(pat) * len(str)). */
static int
glob(const char *pat, size_t n, const char *str)
{
	size_t p = 0, star = (size_t)-1;
	const char *s = str, *mark = NULL;

	while (*s != '\0') {
		if (p < n && (pat[p] == '?' || pat[p] == *s)) {
			p++;
			s++;
		} else if (p < n && pat[p] == '*') {
			star = p++;
			mark = s;
		} else if (star != (size_t)-1) {
			p = star + 1;
			s = ++mark;
		} else {
			return 0;
		}
	}
	while (p < n && pat[p] == '*')
		p++;
	return p == n;
}

/* OpenSSH's pattern-list rule: a matching "!pattern" denies outright,
 * otherwise any matching pattern accepts. */
static int
match_list(const char *str, const char *list)
{
	int ok = 0;

	while (*list != '\0') {
		size_t n = strcspn(list, ",");
		int neg = list[0] == '!';

		if (glob(list + neg, n - (size_t)neg, str)) {
			if (neg)
				return 0;
			ok = 1;
		}
		list += n + (list[n] == ',');
	}
	return ok;
}

/* YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]: local time unless Z. */
static int
parse_time(const char *v, time_t *out)
{
	size_t n = strlen(v);
	int utc = n > 0 && v[n - 1] == 'Z', f[6] = { 0, 0, 0, 0, 0, 0 };
	struct tm tm = { 0 };

	n -= (size_t)utc;
	if (n != 8 && n != 12 && n != 14)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)v[i]))
			return -1;
	f[0] = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
	    (v[3] - '0');
	for (size_t i = 4, k = 1; i < n; i += 2, k++)
		f[k] = (v[i] - '0') * 10 + (v[i + 1] - '0');
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
	    f[4] > 59 || f[5] > 59)
		return -1;
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	tm.tm_isdst = -1;
	*out = utc ? timegm(&tm) : mktime(&tm);
	return *out <= 0 ? -1 : 0;
}

/* One whitespace-delimited field, or a double-quoted one; NUL-terminates
 * it in place and advances *cp past it and the blanks after. */
static char *
field(char **cp)
{
	char *s = *cp, *e;

	if (*s == '"') {
		if ((e = strchr(++s, '"')) == NULL)
			return NULL;
	} else {
		/* options may hold blanks inside quotes */
		int q = 0;

		for (e = s; *e != '\0' && (q || (*e != ' ' && *e != '\t')); e++)
			if (*e == '"')
				q = !q;
	}
	if (*e != '\0')
		*e++ = '\0';
	e += strspn(e, " \t");
	*cp = e;
	return s;
}

/* A quoted option value "..." after "key=", copied; *p moves past it. */
static char *
quoted(const char **p)
{
	const char *s = *p, *e;
	char *v;

	if (*s != '"' || (e = strchr(s + 1, '"')) == NULL)
		return NULL;
	if ((v = strndup(s + 1, (size_t)(e - s - 1))) != NULL)
		*p = e + 1;
	return v;
}

/* The options field; *ca set for cert-authority.  Returns a reason or
 * NULL when all is well. */
static const char *
parse_options(const char *o, struct signer *e, int *ca)
{
	while (*o != '\0') {
		char *v = NULL;

		if (strncasecmp(o, "cert-authority", 14) == 0 &&
		    (o[14] == ',' || o[14] == '\0')) {
			*ca = 1;
			o += 14;
		} else if (strncasecmp(o, "namespaces=", 11) == 0) {
			o += 11;
			if (e->namespaces != NULL || (v = quoted(&o)) == NULL)
				return "bad namespaces=\"...\" option";
			e->namespaces = v;
		} else if (strncasecmp(o, "valid-after=", 12) == 0 ||
		    strncasecmp(o, "valid-before=", 13) == 0) {
			int before = tolower((unsigned char)o[6]) == 'b';
			time_t t;

			o += before ? 13 : 12;
			if ((v = quoted(&o)) == NULL || parse_time(v, &t) < 0) {
				free(v);
				return "bad valid-after/valid-before time";
			}
			free(v);
			*(before ? &e->before : &e->after) = t;
		} else {
			return "unknown option";
		}
		if (*o == ',' && *++o == '\0')
			return "option list ends in a comma";
		else if (*o != '\0' && o[-1] != ',')
			return "unknown option";
	}
	if (e->after && e->before && e->before <= e->after)
		return "valid-before is not after valid-after";
	return NULL;
}

/* One non-comment line; *e is filled when it names an ssh-ed25519 key
 * (returns 1), 0 for lines that can never match, -1 with *why. */
static int
parse_line(char *cp, struct signer *e, struct sig_signers *s,
    const char **why)
{
	char *princ, *opts = NULL, *type, *b64;
	uint8_t blob[SIG_BLOBLEN + 3];
	size_t bl;
	int ca = 0;

	if ((princ = field(&cp)) == NULL || *princ == '\0' || *cp == '\0') {
		*why = "expected principals, [options,] key type and key";
		return -1;
	}
	/* key types never contain '=' and none is called cert-authority */
	if (strchr(cp, '=') != NULL && strcspn(cp, "=") < strcspn(cp, " \t"))
		opts = field(&cp);
	else if (strncasecmp(cp, "cert-authority", 14) == 0 &&
	    (cp[14] == ',' || cp[14] == ' ' || cp[14] == '\t'))
		opts = field(&cp);
	if (opts != NULL && (*why = parse_options(opts, e, &ca)) != NULL)
		return -1;
	if ((type = field(&cp)) == NULL || *type == '\0' ||
	    (b64 = field(&cp)) == NULL || *b64 == '\0') {
		*why = "expected a key type and a key";
		return -1;
	}
	if (ca) {
		s->ignored_ca++;
		return 0;
	}
	if (strcmp(type, SIG_ED25519) != 0)
		return 0; /* can never have made an Ed25519 signature */
	if (strlen(b64) != 4 * ((SIG_BLOBLEN + 2) / 3) ||
	    lb_b64_decode(b64, strlen(b64), blob, sizeof(blob), &bl, 1) < 0 ||
	    sig_pubblob_parse(blob, bl, e->pub) < 0) {
		*why = "bad ssh-ed25519 key";
		return -1;
	}
	if ((e->principals = strdup(princ)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 1;
}

int
sig_signers_parse(const char *text, size_t len, const char *name,
    struct sig_signers **out, struct lb_err *err)
{
	struct sig_signers *s = NULL;
	char *line = NULL;
	int r = 0, lineno = 0;

	*out = NULL;
	if (len > SIGNERS_FILE_MAX)
		return lb_err_set(err, LB_E_CONFIG, "%s: larger than %u bytes",
		    name, SIGNERS_FILE_MAX);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (line = malloc(SIGNERS_LINE_MAX + 1)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t pos = 0; pos < len; ) {
		const char *nl = memchr(text + pos, '\n', len - pos), *why = NULL;
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct signer e = { 0 };
		char *cp;
		int k;

		lineno++;
		if (n > SIGNERS_LINE_MAX || memchr(text + pos, '\0', n) != NULL) {
			r = lb_err_set(err, LB_E_CONFIG, "%s:%d: line too long or "
			    "not text", name, lineno);
			goto out;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		cp = line + strspn(line, " \t");
		if (*cp == '#' || *cp == '\0')
			continue;
		if ((k = parse_line(cp, &e, s, &why)) <= 0) {
			free(e.namespaces);
			if (k == 0)
				continue;
			r = lb_err_set(err, LB_E_CONFIG, "%s:%d: %s", name, lineno,
			    why);
			goto out;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			struct signer *v;

			if (s->n >= SIGNERS_MAX ||
			    (v = realloc(s->v, cap * sizeof(*v))) == NULL) {
				free(e.principals);
				free(e.namespaces);
				r = lb_err_set(err, LB_E_CONFIG, "%s:%d: more than %d "
				    "signers", name, lineno, SIGNERS_MAX);
				goto out;
			}
			s->v = v;
			s->cap = cap;
		}
		s->v[s->n++] = e;
	}
	if (s->n == 0) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: no ssh-ed25519 signer in "
		    "it%s", name, s->ignored_ca ? " (cert-authority lines are "
		    "not supported)" : "");
		goto out;
	}
	*out = s;
	s = NULL;
out:
	free(line);
	sig_signers_free(s);
	return r;
}

int
sig_signers_load(const char *path, struct sig_signers **out,
    struct lb_err *err)
{
	char *text = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	if ((r = sig_read_file(path, SIGNERS_FILE_MAX, 0, &text, &n, err)) < 0)
		return r;
	r = sig_signers_parse(text, n, path, out, err);
	free(text);
	return r;
}

int
sig_signers_trusts(const struct sig_signers *s, const struct sig_key *key,
    const char *principal, const char *ns, struct lb_err *err)
{
	char fp[SIG_FINGERPRINT_LEN];
	time_t now = time(NULL);

	for (size_t i = 0; i < s->n; i++) {
		const struct signer *e = &s->v[i];

		if (CRYPTO_memcmp(e->pub, key->pub, SIG_PUBLEN) != 0)
			continue;
		if (principal != NULL && !match_list(principal, e->principals))
			continue;
		if (e->namespaces != NULL && !match_list(ns, e->namespaces))
			continue;
		if ((e->after && now < e->after) || (e->before && now > e->before))
			continue;
		return 0;
	}
	sig_key_fingerprint(key, fp);
	return lb_err_set(err, LB_E_AUTH, "signed by %s, which %s does not trust "
	    "for namespace \"%s\"%s%s%s%s", fp, s->name, ns,
	    principal ? " and principal \"" : "", principal ? principal : "",
	    principal ? "\"" : "", s->ignored_ca ? " (its cert-authority lines "
	    "are not supported)" : "");
}
