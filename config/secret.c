/*
 * secret.c: the secrets the configuration names, read when asked for:
 * S3 credentials and etcd passwords, from the files named by options or
 * from the environment (config.h).  They are never kept in struct cfg.
 */
#include "config/table.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"

static char *
env_dup(const char *name)
{
	return lb_secret_from_env(name);
}

int
cfg_s3_credentials(const struct cfg *c, char **access_key_id,
    char **secret_access_key, char **session_token, struct lb_err *err)
{
	const char *id = cfg_get_str(c, NULL, CFG_S3_ACCESS_KEY_ID);
	const char *file = cfg_get_str(c, NULL, CFG_S3_SECRET_ACCESS_KEY_FILE);
	char *kid = NULL, *sec = NULL, *tok = NULL;
	int r = 0;

	*access_key_id = *secret_access_key = *session_token = NULL;
	if (id != NULL)
		kid = strdup(id);
	else
		kid = env_dup("AWS_ACCESS_KEY_ID");
	if (id != NULL && kid == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	if (file != NULL) {
		if ((r = lb_secret_read_file(file, &sec, err)) < 0) {
			lb_err_prefix(err, "s3-secret-access-key-file: ");
			goto out;
		}
	} else {
		sec = env_dup("AWS_SECRET_ACCESS_KEY");
	}
	if ((kid == NULL) != (sec == NULL)) {
		r = lb_err_set(err, LB_E_CONFIG, "s3 credentials are incomplete: %s "
		    "(hint: set both s3-access-key-id and s3-secret-access-key-file, or "
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
		    kid == NULL ? "a secret access key but no access key id" :
		    "an access key id but no secret access key");
		goto out;
	}
	if (id == NULL && file == NULL && kid != NULL)
		tok = env_dup("AWS_SESSION_TOKEN");
	*access_key_id = kid;
	*secret_access_key = sec;
	*session_token = tok;
	kid = sec = tok = NULL;
out:
	lb_secret_free(kid);
	lb_secret_free(sec);
	lb_secret_free(tok);
	return r;
}

char *
cfg_etcd_password_env(const char *cluster, char *buf, size_t len)
{
	size_t i, n;

	n = (size_t)snprintf(buf, len, "LIFEBOAT_ETCD_PASSWORD_%s", cluster);
	for (i = sizeof("LIFEBOAT_ETCD_PASSWORD_") - 1; i < n && i < len; i++) {
		if (buf[i] == '.' || buf[i] == '-')
			buf[i] = '_';
		else
			buf[i] = (char)toupper((unsigned char)buf[i]);
	}
	return buf;
}

int
cfg_etcd_password(const struct cfg *c, const char *cluster, char **out,
    struct lb_err *err)
{
	const char *file = cfg_get_str(c, cluster, CFG_PASSWORD_FILE);
	char env[128], *pw = NULL;
	int r = 0;

	*out = NULL;
	if (file != NULL) {
		if ((r = lb_secret_read_file(file, &pw, err)) < 0) {
			lb_err_prefix(err, "cluster %s: password-file: ", cluster);
			goto out;
		}
	} else {
		pw = env_dup(cfg_etcd_password_env(cluster, env, sizeof(env)));
	}
	if (pw != NULL && cfg_get_str(c, cluster, CFG_USER) == NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "cluster %s: %s is set but the cluster "
		    "has no user", cluster, env);
		goto out;
	}
	*out = pw;
	pw = NULL;
out:
	lb_secret_free(pw);
	return r;
}
