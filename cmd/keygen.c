/*
 * keygen.c: `lifeboat keygen -o FILE`: a new age identity, written to a
 * new file (or stdout), and its recipient printed; with --signing, a new
 * Ed25519 signing key in OpenSSH's format and its public line.  The keys
 * and the file writing are age's (stream/age.h) and sign/'s; only options
 * and printing live here.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sign/sign.h"
#include "stream/age.h"

static void
keygen_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat keygen -o FILE\n"
	    "       lifeboat keygen --signing -o FILE\n"
	    "\n"
	    "Generates an age X25519 identity (the private key that opens backups)\n"
	    "and writes it to FILE in age-keygen's format, mode 0600; FILE must not\n"
	    "exist.  Prints the public recipient (age1...) on stdout: put it in the\n"
	    "configuration and keep FILE offline.  With -o -, the identity goes to\n"
	    "stdout and the recipient to stderr.\n"
	    "\n"
	    "With --signing, generates the key that signs manifests instead: Ed25519\n"
	    "in OpenSSH's private key format (unencrypted, mode 0600; `ssh-keygen -t\n"
	    "ed25519 -N ''` makes an equivalent one), for `signing-key`.  Prints its\n"
	    "public line (ssh-ed25519 AAAA... lifeboat@HOST): put it into the\n"
	    "`trusted-signers` file (OpenSSH's allowed_signers format) of every\n"
	    "machine that restores or verifies, as \"lifeboat ssh-ed25519 AAAA...\".\n");
}

/* --signing: the key to path (never stdout: it stays on the appliance),
 * its public line to stdout. */
static int
keygen_signing(const char *path, struct lb_err *err)
{
	struct sig_key *key = NULL;
	char host[256] = "", comment[300], *line = NULL;
	int r;

	if (strcmp(path, "-") == 0)
		return lb_err_set(err, LB_E_USAGE, "--signing writes to a file, not stdout");
	gethostname(host, sizeof(host) - 1);
	snprintf(comment, sizeof(comment), "lifeboat@%s", host[0] != '\0' ? host : "localhost");
	if ((r = sig_key_generate(comment, &key, err)) < 0 ||
	    (r = sig_key_write(key, path, err)) < 0 ||
	    (r = sig_key_public_line(key, &line, err)) < 0)
		goto out;
	printf("%s\n", line);
out:
	free(line);
	sig_key_free(key);
	return r;
}

int
cmd_keygen(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	const char *path = NULL;
	char *text = NULL, *rcpt = NULL;
	int i, r = 0, signing = 0;

	(void)g;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			keygen_usage(stdout);
			return 0;
		} else if ((strcmp(argv[i], "-o") == 0 ||
		    strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strncmp(argv[i], "--output=", 9) == 0) {
			path = argv[i] + 9;
		} else if (strcmp(argv[i], "--signing") == 0) {
			signing = 1;
		} else {
			fprintf(stderr, "lifeboat keygen: unexpected argument '%s'\n",
			    argv[i]);
			keygen_usage(stderr);
			return 2;
		}
	}
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "lifeboat keygen: -o FILE is required\n");
		keygen_usage(stderr);
		return 2;
	}
	if (signing) {
		r = keygen_signing(path, &err);
		goto out;
	}
	if ((r = age_keygen(&text, &rcpt, &err)) < 0)
		goto out;
	if (strcmp(path, "-") == 0) {
		if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
			r = lb_err_sys(&err, LB_E_IO, errno, "write identity to stdout");
			goto out;
		}
		fprintf(stderr, "public key: %s\n", rcpt);
	} else {
		if ((r = age_identity_write_new(path, text, &err)) < 0)
			goto out;
		printf("%s\n", rcpt);
	}
out:
	if (r < 0)
		log_error("keygen: %s", err.msg);
	lb_secret_free(text);
	free(rcpt);
	return r < 0 ? lb_err_exit_status(r) : 0;
}
