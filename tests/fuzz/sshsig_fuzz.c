/*
 * sshsig_fuzz.c: libFuzzer harness for the parsers of sign/ that read
 * outside bytes: an armored SSHSIG signature from a bucket, an
 * allowed_signers file, an OpenSSH private key file and a public line.
 *
 * The first byte picks the parser, the rest is its input.  A signature is
 * checked over the fixed message "lifeboat\n", so a seed made with
 * `ssh-keygen -Y sign -n lifeboat-manifest` reaches the signature check;
 * a parsed allowed_signers file is then asked about the signer.
 * Invariants: no crash, leak or read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign/sign.h"

#define NS "lifeboat-manifest"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char msg[] = "lifeboat\n";
	struct sig_key *key = NULL;
	struct sig_signers *s = NULL;
	struct lb_err err;
	char *text;

	if (size < 1)
		return 0;
	/* the parsers that take C strings get a NUL-terminated copy */
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (sig_verify(msg, sizeof(msg) - 1, (const char *)data + 1,
		    size - 1, NS, &key, &err) == 0) {
			char fp[SIG_FINGERPRINT_LEN];

			sig_key_fingerprint(key, fp);
		}
		break;
	case 1:
		if (sig_signers_parse(text, size - 1, "fuzz", &s, &err) == 0 &&
		    sig_key_generate(NULL, &key, &err) == 0) {
			sig_signers_trusts(s, key, "lifeboat", NS, &err);
			sig_signers_trusts(s, key, NULL, NS, &err);
		}
		break;
	case 2:
		if (sig_key_parse((const char *)data + 1, size - 1, "fuzz", &key,
		    &err) == 0) {
			char *sig = NULL;

			if (sig_sign(key, msg, sizeof(msg) - 1, NS, &sig, &err) == 0)
				free(sig);
		}
		break;
	default:
		if (sig_key_parse_public(text, &key, &err) == 0) {
			char *line = NULL;

			if (sig_key_public_line(key, &line, &err) == 0)
				free(line);
		}
		break;
	}
	sig_signers_free(s);
	sig_key_free(key);
	free(text);
	return 0;
}
