/*
 * parse.c: the configuration file (format in config.h): sections and
 * keys, each value parsed by value.c; then defaults, required options and
 * what one option cannot say alone (pairs, TLS of the endpoints).  Every
 * error names the file and the line.
 */
#include "config/table.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "etcd/etcd.h"

struct parser {
	const char *name;
	struct cfg *c;
	struct section *cur;
	unsigned line;
	unsigned global_line;
	struct lb_err *err;
};

static int
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME:LINE: " + message, LB_E_CONFIG. */
static int
perr(struct parser *p, const char *fmt, ...)
{
	char msg[LB_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		return lb_err_set(p->err, LB_E_CONFIG, "%s:%u: %s", p->name, p->line, msg);
	return lb_err_set(p->err, LB_E_CONFIG, "%s: %s", p->name, msg);
}

static int
valid_cluster_name(const char *s)
{
	size_t i;

	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if ((!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    strchr("._-", s[i]) == NULL) || i > 62)
			return 0;
	return 1;
}

static void
section_clear(struct section *s)
{
	size_t i;

	for (i = 0; i < CFG_N_OPTS; i++)
		cfg_val_clear(&s->v[i]);
	free(s->name);
	s->name = NULL;
}

struct section *
cfg_find_cluster(const struct cfg *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_clusters; i++)
		if (strcmp(c->clusters[i]->name, name) == 0)
			return c->clusters[i];
	return NULL;
}

static int
parse_section(struct parser *p, const char *s, size_t len)
{
	char name[CFG_LINE_MAX];
	struct section *sec;
	const char *a = s, *b = s + len;

	if (len < 2 || s[len - 1] != ']')
		return perr(p, "section header does not end with ]");
	a++;
	b--;
	cfg_trim_span(&a, &b);
	memcpy(name, a, (size_t)(b - a));
	name[b - a] = '\0';
	if (strcmp(name, "global") == 0) {
		if (p->global_line > 0)
			return perr(p, "duplicate section [global] (first at line %u)",
			    p->global_line);
		p->global_line = p->line;
		p->c->global.line = p->line;
		p->cur = &p->c->global;
		return 0;
	}
	if (strcmp(name, "cluster") == 0)
		return perr(p, "section [cluster] needs a name: [cluster:NAME]");
	if (strncmp(name, "cluster:", 8) != 0)
		return perr(p, "unknown section [%s] (expected [global] or [cluster:NAME])",
		    name);
	if (!valid_cluster_name(name + 8))
		return perr(p, "bad cluster name '%s' (1 to 63 of a-z, 0-9, '.', '_', '-', "
		    "starting with a letter or digit)", name + 8);
	if ((sec = cfg_find_cluster(p->c, name + 8)) != NULL)
		return perr(p, "duplicate section [%s] (first at line %u)", name, sec->line);
	if (p->c->n_clusters >= CFG_CLUSTERS_MAX)
		return perr(p, "more than %d clusters", CFG_CLUSTERS_MAX);
	if (lb_vec_grow(&p->c->clusters, &p->c->cap_clusters, p->c->n_clusters,
	    sizeof(*p->c->clusters), CFG_CLUSTERS_MAX) < 0)
		return lb_err_set(p->err, LB_E_NOMEM, "out of memory");
	if ((sec = calloc(1, sizeof(*sec))) == NULL ||
	    (sec->name = strdup(name + 8)) == NULL) {
		free(sec);
		return lb_err_set(p->err, LB_E_NOMEM, "out of memory");
	}
	sec->line = p->line;
	p->c->clusters[p->c->n_clusters++] = sec;
	p->cur = sec;
	return 0;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp, row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

static int
unknown_key(struct parser *p, const char *key, enum opt_section sec)
{
	char where[80];
	size_t i, d, best = 99;
	const char *guess = NULL;

	if (sec == SEC_GLOBAL)
		snprintf(where, sizeof(where), "[global]");
	else
		snprintf(where, sizeof(where), "[cluster:%s]", p->cur->name);
	for (i = 0; i < CFG_N_OPTS; i++) {
		if (cfg_opts[i].section != sec && cfg_opts[i].section != SEC_BOTH)
			continue;
		if ((d = edit_distance(key, cfg_opts[i].name)) < best) {
			best = d;
			guess = cfg_opts[i].name;
		}
	}
	if (guess != NULL && best <= 2 && best < strlen(key) / 2)
		return perr(p, "unknown key %s in %s (did you mean %s?)", key, where, guess);
	return perr(p, "unknown key %s in %s (see 'lifeboat config options')", key, where);
}

static int
parse_kv(struct parser *p, const char *s, size_t len)
{
	char key[CFG_LINE_MAX], value[CFG_LINE_MAX], w[LB_ERR_MSG_MAX];
	const char *eq = memchr(s, '=', len), *a, *b;
	enum opt_section sec;
	struct val *v;
	int i;

	if (eq == NULL)
		return perr(p, "expected key = value");
	a = s;
	b = eq;
	cfg_trim_span(&a, &b);
	if (a == b)
		return perr(p, "expected key = value, the key is missing");
	memcpy(key, a, (size_t)(b - a));
	key[b - a] = '\0';
	for (i = 0; key[i] != '\0'; i++)
		if (!islower((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) &&
		    key[i] != '-' && key[i] != '_')
			return perr(p, "bad key name (keys are lower case, like compress-level)");
	if (p->cur == NULL)
		return perr(p, "key %s is outside a section (hint: start with [global])", key);
	sec = p->cur == &p->c->global ? SEC_GLOBAL : SEC_CLUSTER;
	if ((i = cfg_opt_find(key)) < 0)
		return unknown_key(p, key, sec);
	if (cfg_opts[i].section == SEC_GLOBAL && sec == SEC_CLUSTER)
		return perr(p, "%s belongs in [global], not in [cluster:%s]", key,
		    p->cur->name);
	if (cfg_opts[i].section == SEC_CLUSTER && sec == SEC_GLOBAL)
		return perr(p, "%s belongs in a [cluster:NAME] section, not in [global]", key);
	v = &p->cur->v[i];
	if (v->text != NULL)
		return perr(p, "duplicate key %s (first set at line %u)", key, v->line);
	a = eq + 1;
	b = s + len;
	cfg_trim_span(&a, &b);
	/* one pair of double quotes around the whole value is dropped */
	if (b - a >= 2 && a[0] == '"' && b[-1] == '"') {
		a++;
		b--;
	}
	if (a == b)
		return perr(p, "%s has no value", key);
	memcpy(value, a, (size_t)(b - a));
	value[b - a] = '\0';
	w[0] = '\0';
	if (cfg_parse_value(&cfg_opts[i], value, v, w, sizeof(w)) < 0)
		return perr(p, "%s: %s", key, w);
	v->line = p->line;
	return 0;
}

/* Fills unset options with their defaults.  A default that does not
 * parse is a bug in the table, found by the unit tests.  An option of
 * both sections gets its default in [global], where a cluster that does
 * not set it looks (get.c). */
static int
apply_defaults(struct parser *p, struct section *s, enum opt_section sec)
{
	char w[LB_ERR_MSG_MAX];
	size_t i;

	for (i = 0; i < CFG_N_OPTS; i++) {
		int here = cfg_opts[i].section == sec ||
		    (sec == SEC_GLOBAL && cfg_opts[i].section == SEC_BOTH);

		if (!here || s->v[i].text != NULL || cfg_opts[i].def == NULL)
			continue;
		if (cfg_parse_value(&cfg_opts[i], cfg_opts[i].def, &s->v[i], w, sizeof(w)) < 0)
			return lb_err_set(p->err, LB_E_INTERNAL, "default of %s: %s",
			    cfg_opts[i].name, w);
	}
	return 0;
}

static int
is_set(const struct section *s, enum cfg_opt id)
{
	return s->v[id].line > 0;
}

/* Plain http endpoints where the section asks for TLS (or beside https
 * ones) would carry the password and the snapshots in clear. */
static int
check_endpoints_tls(struct parser *p, const struct section *s)
{
	const struct val *ep = &s->v[CFG_ENDPOINTS];
	struct lb_err e;

	if (ep->n_items == 0 || etcd_endpoints_tls((const char *const *)ep->items,
	    ep->n_items, is_set(s, CFG_CACERT) || is_set(s, CFG_CERT) || is_set(s, CFG_KEY),
	    &e) >= 0)
		return 0;
	p->line = ep->line;
	return perr(p, "[cluster:%s] %s", s->name, e.msg);
}

/* What one option cannot say alone: required options, pairs. */
static int
check_section(struct parser *p, struct section *s, enum opt_section sec)
{
	size_t i;
	int r;

	p->line = s->line;
	for (i = 0; i < CFG_N_OPTS; i++) {
		if (cfg_opts[i].section != sec || !(cfg_opts[i].flags & F_REQUIRED) ||
		    s->v[i].text != NULL)
			continue;
		if (sec == SEC_GLOBAL)
			return perr(p, "[global] needs %s (%s)", cfg_opts[i].name,
			    cfg_opts[i].help);
		return perr(p, "[cluster:%s] needs %s (%s)", s->name, cfg_opts[i].name,
		    cfg_opts[i].help);
	}
	/* Object Lock is S3's: a file repository cannot keep the promise. */
	if (s->v[CFG_S3_OBJECT_LOCK].text != NULL &&
	    strcmp(s->v[CFG_S3_OBJECT_LOCK].text, "off") != 0 &&
	    (p->c->global.v[CFG_REPO].text == NULL ||
	    strncmp(p->c->global.v[CFG_REPO].text, "s3://", 5) != 0)) {
		p->line = s->v[CFG_S3_OBJECT_LOCK].line;
		return perr(p, "s3-object-lock needs an s3:// repo (S3 Object Lock), "
		    "but repo is %.200s", p->c->global.v[CFG_REPO].text != NULL ?
		    p->c->global.v[CFG_REPO].text : "unset");
	}
	if (sec == SEC_CLUSTER) {
		if (is_set(s, CFG_CERT) != is_set(s, CFG_KEY))
			return perr(p, "[cluster:%s] sets %s without %s", s->name,
			    is_set(s, CFG_CERT) ? "cert" : "key", is_set(s, CFG_CERT) ? "key" : "cert");
		if (is_set(s, CFG_PASSWORD_FILE) && !is_set(s, CFG_USER))
			return perr(p, "[cluster:%s] sets password-file without user", s->name);
		if ((r = check_endpoints_tls(p, s)) < 0)
			return r;
	}
	return 0;
}

static int
parse_text(struct parser *p, const char *text)
{
	const char *line = text, *nl, *a, *b;
	size_t i;
	int r;

	/* a UTF-8 byte order mark, as some editors write */
	if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (p->line = 1; *line != '\0'; p->line++) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (nl - line >= CFG_LINE_MAX)
			return perr(p, "line longer than %d characters", CFG_LINE_MAX);
		a = line;
		b = nl;
		line = *nl == '\0' ? nl : nl + 1;
		cfg_trim_span(&a, &b);
		if (a == b || *a == '#' || *a == ';')
			continue;
		for (i = 0; a + i < b; i++)
			if (iscntrl((unsigned char)a[i]) && a[i] != '\t')
				return perr(p, "control character in line");
		r = *a == '[' ? parse_section(p, a, (size_t)(b - a)) :
		    parse_kv(p, a, (size_t)(b - a));
		if (r < 0)
			return r;
	}
	p->line = 0;
	if (p->global_line == 0)
		return perr(p, "no [global] section (it needs at least repo)");
	if ((r = apply_defaults(p, &p->c->global, SEC_GLOBAL)) < 0 ||
	    (r = check_section(p, &p->c->global, SEC_GLOBAL)) < 0)
		return r;
	for (i = 0; i < p->c->n_clusters; i++)
		if ((r = apply_defaults(p, p->c->clusters[i], SEC_CLUSTER)) < 0 ||
		    (r = check_section(p, p->c->clusters[i], SEC_CLUSTER)) < 0)
			return r;
	return 0;
}

int
cfg_parse_string(const char *text, const char *name, struct cfg **out,
    struct lb_err *err)
{
	struct parser p = { 0 };
	struct cfg *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->source = strdup(name)) == NULL) {
		free(c);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	p.name = name;
	p.c = c;
	p.err = err;
	if ((r = parse_text(&p, text)) < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	cfg_free(c);
	return r;
}

int
cfg_load(const char *path, struct cfg **out, struct lb_err *err)
{
	struct stat st;
	FILE *fp = NULL;
	char *buf = NULL;
	size_t n;
	int r = 0;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		r = lb_err_sys(err, errno == ENOENT ? LB_E_NOTFOUND : LB_E_IO, errno,
		    "cannot read configuration %s", path);
		goto out;
	}
	/* a directory opens, then fails to read: it is the wrong path given,
	 * a configuration error like a missing file (a pipe is fine) */
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		r = lb_err_set(err, LB_E_CONFIG, "configuration %s is a directory "
		    "(hint: --config names the file, e.g. %s/lifeboat.conf)", path, path);
		goto out;
	}
	if ((buf = malloc(CFG_FILE_MAX + 1)) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, CFG_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		r = lb_err_sys(err, LB_E_IO, errno, "cannot read configuration %s", path);
		goto out;
	}
	if (n > CFG_FILE_MAX) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: larger than %d bytes", path,
		    CFG_FILE_MAX);
		goto out;
	}
	if (memchr(buf, '\0', n) != NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "%s: contains a NUL byte (not a text file?)",
		    path);
		goto out;
	}
	buf[n] = '\0';
	r = cfg_parse_string(buf, path, out, err);
out:
	if (fp != NULL)
		fclose(fp);
	free(buf);
	return r;
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	section_clear(&c->global);
	for (i = 0; i < c->n_clusters; i++) {
		section_clear(c->clusters[i]);
		free(c->clusters[i]);
	}
	free(c->clusters);
	free(c->source);
	free(c);
}
