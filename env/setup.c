/*
 * setup.c: configuration to repository, keys and etcd options (setup.h).
 */
#include "env/setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/secret.h"
#include "repo/journal.h"

static int
lock_mode(int cfg_mode)
{
	return cfg_mode == CFG_LOCK_COMPLIANCE ? REPO_LOCK_COMPLIANCE :
	    cfg_mode == CFG_LOCK_GOVERNANCE ? REPO_LOCK_GOVERNANCE : REPO_LOCK_NONE;
}

/* s3-object-lock to the repository's lock rules: a cluster's own keys and
 * its audit events get its lock, every other key the global one. */
static int
setup_repo_locks(const struct cfg *c, struct repo *repo, struct lb_err *err)
{
	char pfx[600];
	long long gsecs, secs;
	int gmode, mode, r;
	size_t i;

	cfg_object_lock(c, NULL, &gmode, &gsecs);
	if (gmode != CFG_LOCK_OFF) {
		if ((r = repo_lock_rule_add(repo, "", lock_mode(gmode), gsecs, err)) < 0)
			return r;
		/* config check --probe writes and deletes its object
		 * (ops/probe.h's PROBE_KEY_PREFIX): a lock would keep it. */
		if ((r = repo_lock_rule_add(repo, "lifeboat-probe-", REPO_LOCK_NONE, 0,
		    err)) < 0)
			return r;
	}
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);

		cfg_object_lock(c, name, &mode, &secs);
		if (mode == gmode && secs == gsecs)
			continue;
		snprintf(pfx, sizeof(pfx), "%s/", name);
		if ((r = repo_lock_rule_add(repo, pfx, lock_mode(mode), secs, err)) < 0)
			return r;
		snprintf(pfx, sizeof(pfx), JOURNAL_PREFIX "%s/", name);
		if ((r = repo_lock_rule_add(repo, pfx, lock_mode(mode), secs, err)) < 0)
			return r;
	}
	return 0;
}

int
setup_repo(const struct cfg *c, struct repo **out, struct lb_err *err)
{
	struct repo_opts o = { 0 };
	char *ak = NULL, *sk = NULL, *tok = NULL;
	const char *style;
	int r;

	*out = NULL;
	if ((o.url = cfg_get_str(c, NULL, CFG_REPO)) == NULL)
		return lb_err_set(err, LB_E_CONFIG, "%s: no repo configured "
		    "(hint: repo = file:///var/lib/lifeboat/repo or s3://bucket/prefix)",
		    cfg_source(c));
	o.s3_endpoint = cfg_get_str(c, NULL, CFG_S3_ENDPOINT);
	o.s3_region = cfg_get_str(c, NULL, CFG_S3_REGION);
	style = cfg_get_str(c, NULL, CFG_S3_URI_STYLE);
	o.s3_host_style = style != NULL && strcmp(style, "host") == 0;
	o.s3_ca_file = cfg_get_str(c, NULL, CFG_S3_CA_FILE);
	o.connect_timeout_s = (long)cfg_get_int(c, NULL, CFG_CONNECT_TIMEOUT);
	o.stall_timeout_s = (long)cfg_get_int(c, NULL, CFG_STALL_TIMEOUT);
	o.s3_part_size = (size_t)cfg_get_int(c, NULL, CFG_S3_PART_SIZE);
	if (strncmp(o.url, "s3://", 5) == 0 &&
	    (r = cfg_s3_credentials(c, &ak, &sk, &tok, err)) < 0)
		goto out;
	o.s3_access_key = ak;
	o.s3_secret_key = sk;
	o.s3_session_token = tok;
	if ((r = repo_open(&o, out, err)) == 0 && (r = setup_repo_locks(c, *out, err)) < 0) {
		repo_close(*out);
		*out = NULL;
	}
out:
	lb_secret_free(ak);
	lb_secret_free(sk);
	lb_secret_free(tok);
	return r;
}

/* The encryptor takes at most 64 recipients and says so itself when a
 * backup starts (age_stream.c); this bound only keeps a file that is not
 * a recipients file at all from being read whole into memory. */
#define SETUP_RECIPIENTS_MAX 1024

static int
add_recipient(struct setup_recipients *out, const char *s, const char *where,
    struct lb_err *err)
{
	struct age_recipient *rc = NULL;
	int r;

	if (out->n >= SETUP_RECIPIENTS_MAX)
		return lb_err_set(err, LB_E_CONFIG, "%s: more than %d recipients "
		    "(age encrypts to at most 64)", where, SETUP_RECIPIENTS_MAX);
	if ((r = age_recipient_parse(s, &rc, err)) < 0)
		return lb_err_prefix(err, "%s: ", where);
	if (lb_vec_grow(&out->v, &out->cap, out->n, sizeof(*out->v),
	    SETUP_RECIPIENTS_MAX) < 0) {
		age_recipient_free(rc);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	out->v[out->n++] = rc;
	return 0;
}

int
setup_recipients(const struct cfg *c, struct setup_recipients *out,
    struct lb_err *err)
{
	const char *const *list = NULL, *path;
	char line[512], where[600];
	FILE *fp = NULL;
	size_t i, n, lineno = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	n = cfg_get_list(c, NULL, CFG_RECIPIENTS, &list);
	for (i = 0; i < n && r == 0; i++)
		r = add_recipient(out, list[i], "recipients", err);
	if (r == 0 && (path = cfg_get_str(c, NULL, CFG_RECIPIENTS_FILE)) != NULL) {
		if ((fp = fopen(path, "re")) == NULL) {
			r = lb_err_sys(err, LB_E_CONFIG, errno, "recipients-file %s", path);
			goto out;
		}
		while (r == 0 && fgets(line, sizeof(line), fp) != NULL) {
			char *s = line;
			lineno++;
			s[strcspn(s, "\r\n")] = '\0';
			while (*s == ' ' || *s == '\t')
				s++;
			if (*s == '\0' || *s == '#')
				continue;
			snprintf(where, sizeof(where), "%s:%zu", path, lineno);
			r = add_recipient(out, s, where, err);
		}
	}
	if (r == 0 && out->n == 0)
		r = lb_err_set(err, LB_E_CONFIG, "%s: no recipients to encrypt to "
		    "(hint: recipients = age1... from 'lifeboat keygen')", cfg_source(c));
out:
	if (fp != NULL)
		fclose(fp);
	if (r < 0)
		setup_recipients_release(out);
	return r;
}

void
setup_recipients_release(struct setup_recipients *r)
{
	for (size_t i = 0; i < r->n; i++)
		age_recipient_free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int
setup_identity(const struct cfg *c, const char *path, struct age_identity **out,
    struct lb_err *err)
{
	*out = NULL;
	if (path == NULL && c != NULL)
		path = cfg_get_str(c, NULL, CFG_IDENTITY_FILE);
	if (path == NULL)
		return lb_err_set(err, LB_E_CONFIG, "no identity to decrypt with "
		    "(hint: identity-file in the config, or --identity FILE)");
	return age_identity_load(path, out, err);
}

int
setup_signing_key(const struct cfg *c, struct sig_key **out, struct lb_err *err)
{
	const char *path = cfg_get_str(c, NULL, CFG_SIGNING_KEY);
	int r;

	*out = NULL;
	if (path == NULL)
		return 0;
	if ((r = sig_key_load(path, out, err)) < 0) {
		lb_err_prefix(err, "signing-key: ");
		/* whatever it is, the configuration names a key that cannot sign */
		return err->code = r == LB_E_NOMEM ? r : LB_E_CONFIG;
	}
	return 0;
}

int
setup_trusted_signers(const struct cfg *c, const char *path, struct sig_signers **out,
    struct lb_err *err)
{
	int r;

	*out = NULL;
	if (path == NULL && c != NULL)
		path = cfg_get_str(c, NULL, CFG_TRUSTED_SIGNERS);
	if (path == NULL)
		return 0;
	if ((r = sig_signers_load(path, out, err)) < 0) {
		lb_err_prefix(err, "trusted-signers: ");
		return err->code = r == LB_E_NOMEM ? r : LB_E_CONFIG;
	}
	return 0;
}

int
setup_etcd_opts(const struct cfg *c, const char *cluster, struct etcd_opts *o,
    char **password, struct lb_err *err)
{
	int r;

	memset(o, 0, sizeof(*o));
	*password = NULL;
	o->cacert = cfg_get_str(c, cluster, CFG_CACERT);
	o->cert = cfg_get_str(c, cluster, CFG_CERT);
	o->key = cfg_get_str(c, cluster, CFG_KEY);
	o->user = cfg_get_str(c, cluster, CFG_USER);
	o->connect_timeout_s = (long)cfg_get_int(c, NULL, CFG_CONNECT_TIMEOUT);
	o->stall_timeout_s = (long)cfg_get_int(c, NULL, CFG_STALL_TIMEOUT);
	if ((r = cfg_etcd_password(c, cluster, password, err)) < 0)
		return r;
	if (o->user != NULL && *password == NULL) {
		char env[128];
		return lb_err_set(err, LB_E_CONFIG, "cluster %s: no password for etcd "
		    "user '%s' (hint: password-file, or $%s)", cluster, o->user,
		    cfg_etcd_password_env(cluster, env, sizeof(env)));
	}
	o->password = *password;
	return 0;
}
