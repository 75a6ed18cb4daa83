/*
 * secret.h: secrets (passwords, keys) read from a file or the environment,
 * and wiped when freed.
 */
#ifndef LB_SECRET_H
#define LB_SECRET_H

#include "common/err.h"

/* Reads a secret (password, key) from the first line of path, without
 * the newline, into a malloc'd string.  The file must not be readable by
 * others than its owner and group... only a warning is logged if it is.
 * The caller wipes and frees it (lb_secret_free). */
int lb_secret_read_file(const char *path, char **out, struct lb_err *err);

/* Duplicates the value of environment variable name, or NULL if unset. */
char *lb_secret_from_env(const char *name);

/* Wipes and frees a secret; NULL is fine. */
void lb_secret_free(char *s);

#endif
