/*
 * s3_creds.c: where the S3 client's credentials come from (s3_int.h):
 * the options, else the AWS_* environment, else one profile of the shared
 * credentials file.  Secrets are wiped when freed and never put into a
 * message.
 */
#include "repo/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void
s3_secret_free(char *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

/* Reads key = value pairs of one [profile] from an AWS credentials file. */
static int
creds_from_file(struct s3 *s, struct lb_err *err)
{
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	char def[4096], line[2048], want[256], *k, *v, *e, **dst;
	int in = 0, r = 0;
	FILE *f;

	if (profile == NULL || *profile == '\0')
		profile = "default";
	if (path == NULL || *path == '\0') {
		if (getenv("HOME") == NULL)
			return lb_err_set(err, LB_E_CONFIG,
			    "no s3 credentials: set s3-access-key-id and s3-secret-access-key");
		snprintf(def, sizeof(def), "%s/.aws/credentials", getenv("HOME"));
		path = def;
	}
	if ((f = fopen(path, "re")) == NULL)
		return lb_err_sys(err, LB_E_CONFIG, errno,
		    "no s3 credentials: set s3-access-key-id and s3-secret-access-key, or AWS_ACCESS_KEY_ID; cannot read %s", path);
	snprintf(want, sizeof(want), "[%s]", profile);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		for (k = line; isspace((unsigned char)*k); k++)
			;
		if (*k == '[') {
			e = k + strlen(k);
			while (e > k && isspace((unsigned char)e[-1]))
				*--e = '\0';
			in = strcmp(k, want) == 0;
			continue;
		}
		if (!in || *k == '#' || *k == ';' || (v = strchr(k, '=')) == NULL)
			continue;
		for (e = v; e > k && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		for (v++; isspace((unsigned char)*v); v++)
			;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		dst = strcmp(k, "aws_access_key_id") == 0 ? &s->access_key :
		    strcmp(k, "aws_secret_access_key") == 0 ? &s->secret_key :
		    strcmp(k, "aws_session_token") == 0 ? &s->session_token : NULL;
		if (dst != NULL) {
			s3_secret_free(*dst);
			if ((*dst = strdup(v)) == NULL)
				r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (r == 0 && (s->access_key == NULL || s->secret_key == NULL))
		r = lb_err_set(err, LB_E_CONFIG,
		    "no s3 credentials for profile %s in %s", profile, path);
	return r;
}

int
s3_creds_resolve(struct s3 *s, const struct s3_opts *o, struct lb_err *err)
{
	const char *ak = o->access_key, *sk = o->secret_key, *tok = o->session_token;

	if (ak == NULL && sk == NULL) {
		ak = getenv("AWS_ACCESS_KEY_ID");
		sk = getenv("AWS_SECRET_ACCESS_KEY");
		tok = getenv("AWS_SESSION_TOKEN");
		if (ak == NULL || sk == NULL)
			return creds_from_file(s, err);
	}
	if (ak == NULL || sk == NULL)
		return lb_err_set(err, LB_E_CONFIG,
		    "s3 credentials need both an access key id and a secret access key");
	if ((s->access_key = strdup(ak)) == NULL ||
	    (s->secret_key = strdup(sk)) == NULL ||
	    (tok != NULL && *tok != '\0' && (s->session_token = strdup(tok)) == NULL))
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	return 0;
}
