/*
 * err.h: error codes and the caller-owned error struct.
 *
 * Every fallible function returns 0 or a negative LB_E_* code and, on
 * failure, fills a struct lb_err that the caller owns (libarchive's
 * archive_set_error, OpenSSH's ssherr).  The message is one line, lower
 * case, no final period, and never contains a secret.
 */
#ifndef LB_ERR_H
#define LB_ERR_H

#include <stddef.h>

/* One table of codes; each maps to an exit status in err.c. */
enum {
	LB_OK = 0,
	LB_E_INTERNAL = -1,  /* a bug: an invariant did not hold */
	LB_E_USAGE = -2,     /* bad command line */
	LB_E_CONFIG = -3,    /* bad configuration file or option value */
	LB_E_NOMEM = -4,
	LB_E_IO = -5,        /* local file system */
	LB_E_NOSPACE = -6,   /* ENOSPC / EDQUOT on the destination */
	LB_E_NET = -7,       /* connect, reset, timeout */
	LB_E_TLS = -8,       /* handshake, certificate */
	LB_E_AUTH = -9,      /* credentials refused */
	LB_E_PROTO = -10,    /* the peer spoke something unexpected */
	LB_E_REMOTE = -11,   /* the peer returned an error (grpc-status, S3 error) */
	LB_E_CORRUPT = -12,  /* data failed a check: hash, trailer, format */
	LB_E_CRYPTO = -13,   /* decryption or authentication failed */
	LB_E_NOTFOUND = -14,
	LB_E_EXISTS = -15,
	LB_E_PARTIAL = -16,  /* some of a set of jobs failed */
	LB_E_CANCELED = -17, /* stopped by a signal or by the caller */
	LB_E_BUSY = -18,     /* locked by someone else */
	LB_E_UNSUPPORTED = -19, /* the peer does not implement what was asked (S3 501) */
	LB_E_LOCKED = -20,   /* the store keeps it under S3 Object Lock: not yet deletable */
	LB_E_COMPACTED = -21, /* etcd no longer keeps the revisions asked for */
	LB_E_TOOBIG = -22,   /* one item is larger than lifeboat holds at once */
	LB_E__MIN = -23
};

#define LB_ERR_MSG_MAX 512

struct lb_err {
	int code;                   /* LB_E_*, 0 when no error was set */
	int sys_errno;              /* errno at the failure, 0 if none */
	char msg[LB_ERR_MSG_MAX];
};

/* Resets err to "no error". */
void lb_err_clear(struct lb_err *err);

/* Sets code and a printf-style message; returns code so callers can write
 * `return lb_err_set(err, LB_E_IO, "...")`.  err may be NULL. */
int lb_err_set(struct lb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like lb_err_set, and appends ": strerror(errnum)".  An errnum of ENOSPC or
 * EDQUOT turns the code into LB_E_NOSPACE. */
int lb_err_sys(struct lb_err *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepends context to the existing message ("etcd m2 (url): " + msg);
 * keeps the code.  Returns the code. */
int lb_err_prefix(struct lb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Short stable name of a code ("io", "tls", ...), for logs and JSON. */
const char *lb_err_name(int code);

/* Process exit status for a code: 0 ok, 1 failure, 2 usage or config,
 * 3 partial success. */
int lb_err_exit_status(int code);

#endif
