/*
 * err.c: the error table and the message helpers of err.h.
 */
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
	int exit_status;
} err_table[] = {
	{ LB_OK, "ok", 0 },
	{ LB_E_INTERNAL, "internal", 1 },
	{ LB_E_USAGE, "usage", 2 },
	{ LB_E_CONFIG, "config", 2 },
	{ LB_E_NOMEM, "nomem", 1 },
	{ LB_E_IO, "io", 1 },
	{ LB_E_NOSPACE, "nospace", 1 },
	{ LB_E_NET, "net", 1 },
	{ LB_E_TLS, "tls", 1 },
	{ LB_E_AUTH, "auth", 1 },
	{ LB_E_PROTO, "protocol", 1 },
	{ LB_E_REMOTE, "remote", 1 },
	{ LB_E_CORRUPT, "corrupt", 1 },
	{ LB_E_CRYPTO, "crypto", 1 },
	{ LB_E_NOTFOUND, "notfound", 1 },
	{ LB_E_EXISTS, "exists", 1 },
	{ LB_E_PARTIAL, "partial", 3 },
	{ LB_E_CANCELED, "canceled", 1 },
	{ LB_E_BUSY, "busy", 1 },
	/* 1 like LB_E_REMOTE, which these answers were before they had a
	 * code of their own: no exit status changed with it. */
	{ LB_E_UNSUPPORTED, "unsupported", 1 },
	{ LB_E_LOCKED, "locked", 1 },
	{ LB_E_COMPACTED, "compacted", 1 },
	{ LB_E_TOOBIG, "toobig", 1 },
};

void
lb_err_clear(struct lb_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

static void
err_vset(struct lb_err *err, int code, int errnum, const char *fmt, va_list ap)
{
	size_t n;

	err->code = code;
	err->sys_errno = errnum;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum != 0) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	}
}

int
lb_err_set(struct lb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	err_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int
lb_err_sys(struct lb_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (errnum == ENOSPC || errnum == EDQUOT)
		code = LB_E_NOSPACE;
	if (err == NULL)
		return code;
	va_start(ap, fmt);
	err_vset(err, code, errnum, fmt, ap);
	va_end(ap);
	return code;
}

int
lb_err_prefix(struct lb_err *err, const char *fmt, ...)
{
	char old[LB_ERR_MSG_MAX];
	size_t n, m;
	va_list ap;

	if (err == NULL)
		return LB_E_INTERNAL;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	m = strnlen(old, sizeof(old) - 1);
	if (m > sizeof(err->msg) - 1 - n)
		m = sizeof(err->msg) - 1 - n;
	memcpy(err->msg + n, old, m);
	err->msg[n + m] = '\0';
	return err->code;
}

const char *
lb_err_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].name;
	return "unknown";
}

int
lb_err_exit_status(int code)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].exit_status;
	return 1;
}
