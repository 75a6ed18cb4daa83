/*
 * cli.c: secrets from files and the environment (cli.h).  Secrets never
 * come from argv alone: a password on the command line is visible to every
 * user through ps.
 */
#include "common/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

volatile sig_atomic_t lb_cancel;

static void
on_cancel_signal(int sig)
{
	(void)sig;
	lb_cancel = 1;
}

void
lb_cancel_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void
lb_fmt_size(uint64_t bytes, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

void
lb_fmt_when(int64_t t, int64_t now, char *out, size_t cap)
{
	int64_t d = now >= t ? now - t : t - now;
	char date[32] = "?", ago[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	if (d < 120)
		snprintf(ago, sizeof(ago), "%lld s", (long long)d);
	else if (d < 2 * 3600)
		snprintf(ago, sizeof(ago), "%lld min", (long long)(d / 60));
	else if (d < 2 * 86400)
		snprintf(ago, sizeof(ago), "%lld h", (long long)(d / 3600));
	else
		snprintf(ago, sizeof(ago), "%lld d", (long long)(d / 86400));
	snprintf(out, cap, "%s, %s%s", date, now >= t ? "" : "in ", ago);
	if (now >= t)
		snprintf(out + strlen(out), cap - strlen(out), " ago");
}

void
lb_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

double
lb_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
