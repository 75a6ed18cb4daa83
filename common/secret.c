/*
 * secret.c: secrets from files and the environment (secret.h).  Secrets
 * never come from argv alone: a password on the command line is visible to
 * every user through ps.
 */
#include "common/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "common/log.h"

#define SECRET_MAX 4096

int
lb_secret_read_file(const char *path, char **out, struct lb_err *err)
{
	char buf[SECRET_MAX];
	struct stat st;
	FILE *fp = NULL;
	size_t n;
	int r = 0;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		r = lb_err_sys(err, LB_E_CONFIG, errno, "cannot read secret file %s", path);
		goto out;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("secret file %s is readable by everyone (hint: chmod 600)", path);
	if (fgets(buf, sizeof(buf), fp) == NULL) {
		r = lb_err_set(err, LB_E_CONFIG, "secret file %s is empty", path);
		goto out;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		r = lb_err_set(err, LB_E_CONFIG, "secret file %s is empty", path);
		goto out;
	}
	if ((*out = strdup(buf)) == NULL)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fp != NULL)
		fclose(fp);
	return r;
}

char *
lb_secret_from_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strdup(v) : NULL;
}

void
lb_secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
