/*
 * sshsig_fuzz.c: libFuzzer harness for the parsers of sign/ that read
 * outside bytes: an armored SSHSIG signature from a bucket, an
 * allowed_signers file and an OpenSSH private key file.
 *
 * The first byte picks the parser, the rest is its input.  A signature is
 * checked over the fixed message "lifeboat\n", so a seed made with
 * `ssh-keygen -Y sign -n lifeboat-manifest` reaches the signature check;
 * a parsed allowed_signers file is asked about the signer of SEED_SIG
 * (the seed "sig"), whose key the seed "signers" lists.
 * Invariants: no crash, leak or read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign/sign.h"

#define NS "lifeboat-manifest"
#define SEED_SIG \
	"-----BEGIN SSH SIGNATURE-----\n" \
	"U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgXFuAtfKTT1nQsgM4v9+2XQwsxi\n" \
	"lzf/OVIaA8NEhT6HIAAAARbGlmZWJvYXQtbWFuaWZlc3QAAAAAAAAABnNoYTUxMgAAAFMA\n" \
	"AAALc3NoLWVkMjU1MTkAAABA0U93u16mqHrYD9XzmqqGcBZA28C8KPNTjH6Y0oSoqtAAuY\n" \
	"J4FGGazdQ1iFTAckbxed7CLwC9w70nkCAjXVL7Cw==\n" \
	"-----END SSH SIGNATURE-----\n"

static const char msg[] = "lifeboat\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sig_key *seed_signer;
	struct sig_key *key = NULL;
	struct sig_signers *s = NULL;
	struct lb_err err;

	if (seed_signer == NULL && sig_verify(msg, sizeof(msg) - 1, SEED_SIG,
	    strlen(SEED_SIG), NS, &seed_signer, &err) < 0)
		abort();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (sig_verify(msg, sizeof(msg) - 1, (const char *)data + 1,
		    size - 1, NS, &key, &err) == 0) {
			char fp[SIG_FINGERPRINT_LEN];

			sig_key_fingerprint(key, fp);
		}
		break;
	case 1:
		if (sig_signers_parse((const char *)data + 1, size - 1, "fuzz",
		    &s, &err) == 0) {
			sig_signers_trusts(s, seed_signer, "ops@example.com", NS,
			    &err);
			sig_signers_trusts(s, seed_signer, NULL, NS, &err);
		}
		break;
	default:
		if (sig_key_parse((const char *)data + 1, size - 1, "fuzz", &key,
		    &err) == 0) {
			char *sig = NULL;

			if (sig_sign(key, msg, sizeof(msg) - 1, NS, &sig, &err) == 0)
				free(sig);
		}
		break;
	}
	sig_signers_free(s);
	sig_key_free(key);
	return 0;
}
