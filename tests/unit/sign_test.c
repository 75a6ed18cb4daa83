/*
 * sign_test.c: tests of sign/sign.h with Debian's ssh-keygen as the
 * oracle, both ways: its keys load and sign here and its `-Y verify`
 * accepts our signatures; its `-Y sign` signatures verify here and our
 * key files load there.  Then the refusals: an altered message, another
 * namespace, an untrusted key, damaged armor, unusable key files, and the
 * allowed_signers rules (patterns, options, times).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sign/sign.h"
#include "tests/harness.h"

#define NS "lifeboat-manifest"

static char tmpdir[] = "/tmp/lb-sign-XXXXXX";
static const char msg[] = "{\"format\":1,\"cluster\":\"prod\"}\n";

static int
write_file(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(d, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static char *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc(65537);
	size_t k = 0;

	if (f != NULL && b != NULL) {
		k = fread(b, 1, 65536, f);
		b[k] = '\0';
	}
	if (f != NULL)
		fclose(f);
	if (f == NULL) {
		free(b);
		return NULL;
	}
	if (n != NULL)
		*n = k;
	return b;
}

static int
sh(const char *fmt, const char *a, const char *b)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

static void
path(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", tmpdir, name);
}

/* An ssh-keygen Ed25519 key at NAME (and NAME.pub), no passphrase. */
static int
keygen(const char *name, const char *comment)
{
	char p[256], cmd[2048];

	path(p, name);
	snprintf(cmd, sizeof(cmd), "rm -f %s %s.pub; ssh-keygen -q -t ed25519 "
	    "-N '' -C '%s' -f %s", p, p, comment, p);
	return system(cmd);
}

/* allowed_signers NAME: "PRINCIPALS [OPTS] <public line of key>". */
static int
signers_file(const char *name, const char *head, const struct sig_key *k)
{
	char p[256], *line = NULL, buf[4096];
	struct lb_err err;
	int r;

	path(p, name);
	if (sig_key_public_line(k, &line, &err) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "# trusted\n\n%s %s\n", head, line);
	r = write_file(p, buf, strlen(buf));
	free(line);
	return r;
}

static int
verify_buf(const char *sig, const char *m, size_t n, const char *ns,
    struct sig_key **signer, struct lb_err *err)
{
	return sig_verify(m, n, sig, strlen(sig), ns, signer, err);
}

static void
sshkeygen_key_loads_signs_and_its_verify_accepts(void)
{
	char k[256], pub[256], as[256], m[256], s[256], *line = NULL, *want;
	char *sig = NULL, fp[SIG_FINGERPRINT_LEN], cmd[2048];
	struct sig_key *key = NULL;
	struct lb_err err = { 0 };
	FILE *p;

	CHECK_INT(keygen("k1", "alice@host"), ==, 0);
	path(k, "k1");
	path(pub, "k1.pub");
	path(as, "as1");
	path(m, "m1");
	path(s, "m1.sig");
	CHECK_OK(sig_key_load(k, &key, &err), &err);
	CHECK(sig_key_is_private(key));
	CHECK_OK(sig_key_public_line(key, &line, &err), &err);
	want = read_file(pub, NULL);
	CHECK(want != NULL);
	want[strcspn(want, "\n")] = '\0';
	CHECK_STR(line, want);
	free(want);
	free(line);
	sig_key_fingerprint(key, fp);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -f %s | cut -d' ' -f2", pub);
	CHECK((p = popen(cmd, "r")) != NULL);
	CHECK(fgets(cmd, sizeof(cmd), p) != NULL);
	pclose(p);
	cmd[strcspn(cmd, "\n")] = '\0';
	CHECK_STR(fp, cmd);

	CHECK_OK(sig_sign(key, msg, strlen(msg), NS, &sig, &err), &err);
	CHECK(strncmp(sig, "-----BEGIN SSH SIGNATURE-----\n", 30) == 0);
	CHECK_INT(strcspn(sig + 30, "\n"), ==, 70);
	CHECK(write_file(m, msg, strlen(msg)) == 0);
	CHECK(write_file(s, sig, strlen(sig)) == 0);
	free(sig);
	CHECK(signers_file("as1", "lifeboat", key) == 0);
	sig_key_free(key);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y verify -f %s -I lifeboat -n "
	    NS " -s %s < %s >/dev/null 2>&1", as, s, m);
	CHECK_INT(system(cmd), ==, 0);
	/* the oracle can say no: another namespace, another principal */
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y verify -f %s -I lifeboat -n "
	    "file -s %s < %s >/dev/null 2>&1", as, s, m);
	CHECK(system(cmd) != 0);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y verify -f %s -I mallory -n "
	    NS " -s %s < %s >/dev/null 2>&1", as, s, m);
	CHECK(system(cmd) != 0);
	CHECK(sh("echo x >> %s; true %s", m, "") == 0);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y verify -f %s -I lifeboat -n "
	    NS " -s %s < %s >/dev/null 2>&1", as, s, m);
	CHECK(system(cmd) != 0);
}

static void
sshkeygen_signatures_verify_here(void)
{
	static const char *const algs[] = { "sha512", "sha256" };
	char k[256], m[256], s[256], *sig;
	struct sig_key *key = NULL, *signer = NULL;
	struct sig_signers *ss = NULL;
	struct lb_err err = { 0 };

	CHECK_INT(keygen("k2", "bob@host"), ==, 0);
	path(k, "k2");
	path(m, "m2");
	path(s, "m2.sig");
	CHECK_OK(sig_key_load(k, &key, &err), &err);
	CHECK(write_file(m, msg, strlen(msg)) == 0);
	CHECK(signers_file("as2", "lifeboat namespaces=\"" NS "\"", key) == 0);
	path(k, "as2");
	CHECK_OK(sig_signers_load(k, &ss, &err), &err);
	path(k, "k2");
	for (size_t i = 0; i < 2; i++) {
		char cmd[2048];

		snprintf(cmd, sizeof(cmd), "rm -f %s; ssh-keygen -q -Y sign -O "
		    "hashalg=%s -f %s -n " NS " %s 2>/dev/null", s, algs[i], k, m);
		CHECK_INT(system(cmd), ==, 0);
		CHECK((sig = read_file(s, NULL)) != NULL);
		if (verify_buf(sig, msg, strlen(msg), NS, &signer, &err) < 0) {
			free(sig);
			TH_FAIL("%s: %s", algs[i], err.msg);
		}
		free(sig);
		CHECK(sig_key_equal(signer, key));
		CHECK(!sig_key_is_private(signer));
		CHECK_OK(sig_signers_trusts(ss, signer, "lifeboat", NS, &err), &err);
		CHECK_OK(sig_signers_trusts(ss, signer, NULL, NS, &err), &err);
		CHECK_INT(sig_signers_trusts(ss, signer, "mallory", NS, &err), ==,
		    LB_E_AUTH);
		CHECK_INT(sig_signers_trusts(ss, signer, NULL, "git", &err), ==,
		    LB_E_AUTH);
		sig_key_free(signer);
		signer = NULL;
	}
	sig_signers_free(ss);
	sig_key_free(key);
}

static void
written_key_loads_in_sshkeygen_and_signs_there(void)
{
	char k[256], m[256], s[256], cmd[2048], *line = NULL, *got, *sig;
	struct sig_key *key = NULL, *back = NULL, *signer = NULL;
	struct lb_err err = { 0 };
	struct stat st;

	path(k, "lk");
	path(m, "m3");
	path(s, "m3.sig");
	unlink(k);
	CHECK_OK(sig_key_generate("lifeboat@test", &key, &err), &err);
	CHECK_OK(sig_key_write(key, k, &err), &err);
	CHECK(stat(k, &st) == 0);
	CHECK_INT(st.st_mode & 0777, ==, 0600);
	CHECK_INT(sig_key_write(key, k, &err), ==, LB_E_EXISTS);
	CHECK_OK(sig_key_public_line(key, &line, &err), &err);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s > %s.pub", k, k);
	CHECK_INT(system(cmd), ==, 0);
	snprintf(cmd, sizeof(cmd), "%s.pub", k);
	got = read_file(cmd, NULL);
	CHECK(got != NULL);
	got[strcspn(got, "\n")] = '\0';
	CHECK_INT(strncmp(got, line, 80), ==, 0); /* type and key */
	free(got);
	free(line);
	CHECK_OK(sig_key_load(k, &back, &err), &err);
	CHECK(sig_key_equal(back, key));
	sig_key_free(back);
	/* the key signs in ssh-keygen, and that verifies here */
	CHECK(write_file(m, msg, strlen(msg)) == 0);
	snprintf(cmd, sizeof(cmd), "rm -f %s; ssh-keygen -q -Y sign -f %s -n "
	    NS " %s 2>/dev/null", s, k, m);
	CHECK_INT(system(cmd), ==, 0);
	CHECK((sig = read_file(s, NULL)) != NULL);
	if (verify_buf(sig, msg, strlen(msg), NS, &signer, &err) < 0) {
		free(sig);
		TH_FAIL("%s", err.msg);
	}
	free(sig);
	CHECK(sig_key_equal(signer, key));
	sig_key_free(signer);
	sig_key_free(key);
}

static void
altered_message_namespace_or_armor_refused(void)
{
	struct sig_key *key = NULL, *other = NULL, *signer = NULL;
	struct sig_signers *ss = NULL;
	struct lb_err err = { 0 };
	char *sig = NULL, *bad, as[256], m2[sizeof(msg)];
	size_t n;

	CHECK_OK(sig_key_generate("a", &key, &err), &err);
	CHECK_OK(sig_key_generate("b", &other, &err), &err);
	CHECK_OK(sig_sign(key, msg, strlen(msg), NS, &sig, &err), &err);
	n = strlen(sig);
	CHECK_OK(verify_buf(sig, msg, strlen(msg), NS, &signer, &err), &err);
	sig_key_free(signer);
	signer = NULL;
	/* one byte of the message */
	memcpy(m2, msg, sizeof(msg));
	m2[5] ^= 1;
	CHECK_INT(verify_buf(sig, m2, strlen(m2), NS, &signer, &err), ==,
	    LB_E_CRYPTO);
	CHECK_CONTAINS(err.msg, "altered");
	CHECK_INT(verify_buf(sig, msg, strlen(msg) - 1, NS, &signer, &err), ==,
	    LB_E_CRYPTO);
	/* another namespace */
	CHECK_INT(verify_buf(sig, msg, strlen(msg), "git", &signer, &err), ==,
	    LB_E_CRYPTO);
	CHECK_CONTAINS(err.msg, "namespace");
	/* truncated armor, and the base64 cut short */
	CHECK_INT(sig_verify(msg, strlen(msg), sig, n - 10, NS, &signer, &err),
	    ==, LB_E_CORRUPT);
	bad = strdup(sig);
	CHECK(bad != NULL);
	memmove(bad + 40, bad + 44, n - 43);
	CHECK(verify_buf(bad, msg, strlen(msg), NS, &signer, &err) < 0);
	strcpy(bad, sig);
	/* every single character of the body flipped: never accepted */
	for (size_t i = 30; i < n - 29; i++) {
		if (bad[i] == '\n')
			continue;
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (verify_buf(bad, msg, strlen(msg), NS, &signer, &err) == 0) {
			sig_key_free(signer);
			free(bad);
			TH_FAIL("flipped byte %zu accepted", i);
		}
		bad[i] = sig[i];
	}
	/* trailing bytes after the footer */
	free(bad);
	CHECK(asprintf(&bad, "%sx\n", sig) > 0);
	CHECK_INT(verify_buf(bad, msg, strlen(msg), NS, &signer, &err), ==,
	    LB_E_CORRUPT);
	free(bad);
	/* a good signature by a key that is not trusted */
	CHECK(signers_file("as4", "lifeboat", other) == 0);
	path(as, "as4");
	CHECK_OK(sig_signers_load(as, &ss, &err), &err);
	CHECK_OK(verify_buf(sig, msg, strlen(msg), NS, &signer, &err), &err);
	CHECK_INT(sig_signers_trusts(ss, signer, "lifeboat", NS, &err), ==,
	    LB_E_AUTH);
	CHECK_CONTAINS(err.msg, "does not trust");
	CHECK_CONTAINS(err.msg, "SHA256:");
	CHECK(sig_signers_trusts(ss, other, "lifeboat", NS, &err) == 0);
	sig_signers_free(ss);
	sig_key_free(signer);
	sig_key_free(key);
	sig_key_free(other);
	free(sig);
}

/* sig's blob, edited by edit(), armored again on one line and verified. */
static int
reverify(const char *sig, void (*edit)(unsigned char *, size_t *),
    struct lb_err *err)
{
	unsigned char blob[1024], b64[1500];
	char body[1500], armored[1600];
	struct sig_key *signer = NULL;
	size_t n = 0, bn;
	int r;

	for (const char *p = sig + 30; strncmp(p, "-----END", 8) != 0; p++)
		if (*p != '\n')
			body[n++] = *p;
	body[n] = '\0';
	bn = (size_t)EVP_DecodeBlock(blob, (unsigned char *)body, (int)n);
	while (n > 0 && body[--n] == '=')
		bn--;
	edit(blob, &bn);
	EVP_EncodeBlock(b64, blob, (int)bn);
	snprintf(armored, sizeof(armored), "-----BEGIN SSH SIGNATURE-----\n%s\n"
	    "-----END SSH SIGNATURE-----\n", b64);
	r = sig_verify(msg, strlen(msg), armored, strlen(armored), NS, &signer,
	    err);
	sig_key_free(signer);
	return r;
}

static void edit_none(unsigned char *b, size_t *n) { (void)b; (void)n; }
static void edit_version(unsigned char *b, size_t *n) { (void)n; b[9] = 2; }
static void edit_hash(unsigned char *b, size_t *n) { (void)n; memcpy(b + 94, "sha384", 6); }
static void edit_append(unsigned char *b, size_t *n) { b[(*n)++] = 0; }
static void edit_cut(unsigned char *b, size_t *n) { (void)b; (*n)--; }

static void
signature_blob_fields_checked(void)
{
	struct sig_key *key = NULL;
	struct lb_err err = { 0 };
	char *sig = NULL;

	CHECK_OK(sig_key_generate("", &key, &err), &err);
	CHECK_OK(sig_sign(key, msg, strlen(msg), NS, &sig, &err), &err);
	sig_key_free(key);
	/* one line of base64 is fine (ssh-keygen's parser ignores widths) */
	CHECK_OK(reverify(sig, edit_none, &err), &err);
	CHECK_INT(reverify(sig, edit_version, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "version");
	CHECK_INT(reverify(sig, edit_hash, &err), ==, LB_E_CORRUPT);
	CHECK_CONTAINS(err.msg, "sha512");
	CHECK_INT(reverify(sig, edit_append, &err), ==, LB_E_CORRUPT);
	CHECK_INT(reverify(sig, edit_cut, &err), ==, LB_E_CORRUPT);
	free(sig);
}

static void
unusable_key_files_refused_with_reason(void)
{
	struct sig_key *key = NULL;
	struct lb_err err = { 0 };
	char p[256], cmd[2048];

	CHECK_INT(keygen("k5", "c"), ==, 0);
	path(p, "k5");
	CHECK(chmod(p, 0640) == 0);
	CHECK_INT(sig_key_load(p, &key, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, p);
	CHECK_CONTAINS(err.msg, "too open");
	CHECK(chmod(p, 0600) == 0);
	CHECK_OK(sig_key_load(p, &key, &err), &err);
	sig_key_free(key);
	key = NULL;
	/* encrypted */
	snprintf(cmd, sizeof(cmd), "rm -f %s; ssh-keygen -q -t ed25519 -N "
	    "secretpw -f %s", p, p);
	CHECK_INT(system(cmd), ==, 0);
	CHECK_INT(sig_key_load(p, &key, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "encrypted");
	CHECK_CONTAINS(err.msg, p);
	/* another type */
	snprintf(cmd, sizeof(cmd), "rm -f %s; ssh-keygen -q -t ecdsa -N '' "
	    "-f %s", p, p);
	CHECK_INT(system(cmd), ==, 0);
	CHECK_INT(sig_key_load(p, &key, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "ssh-ed25519");
	/* not a key, and missing */
	CHECK(write_file(p, "hello\n", 6) == 0);
	CHECK_INT(sig_key_load(p, &key, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "not an OpenSSH private key");
	unlink(p);
	CHECK_INT(sig_key_load(p, &key, &err), ==, LB_E_NOTFOUND);
	CHECK(key == NULL);
}

/* allowed_signers text with one key substituted for @K@. */
static int
signers_text(const char *tmpl, const struct sig_key *k,
    struct sig_signers **out, struct lb_err *err)
{
	char *line = NULL, buf[4096], *o = buf;
	const char *t;
	int r;

	if ((r = sig_key_public_line(k, &line, err)) < 0)
		return r;
	line[strcspn(line, " ") + 1 + 68] = '\0'; /* type and key only */
	for (t = tmpl; *t != '\0'; ) {
		if (strncmp(t, "@K@", 3) == 0) {
			o += sprintf(o, "%s", line);
			t += 3;
		} else {
			*o++ = *t++;
		}
	}
	*o = '\0';
	free(line);
	return sig_signers_parse(buf, strlen(buf), "as", out, err);
}

static void
allowed_signers_rules(void)
{
	struct sig_key *k = NULL, *o = NULL;
	struct sig_signers *s = NULL;
	struct lb_err err = { 0 };

	CHECK_OK(sig_key_generate("", &k, &err), &err);
	CHECK_OK(sig_key_generate("", &o, &err), &err);
	/* patterns with negation, quoted principals, comments, CRLF */
	CHECK_OK(signers_text("  # c\r\n\n*@example.com,!eve@example.com @K@ "
	    "comment here\r\n\"a b,lifeboat\" NAMESPACES=\"x,lifeboat-*\" @K@\n"
	    "other ssh-rsa AAAAB3NzaC1yc2E=\n", k, &s, &err), &err);
	CHECK_OK(sig_signers_trusts(s, k, "ops@example.com", "any", &err), &err);
	CHECK_INT(sig_signers_trusts(s, k, "eve@example.com", "any", &err), ==,
	    LB_E_AUTH);
	CHECK_OK(sig_signers_trusts(s, k, "a b", NS, &err), &err);
	CHECK_OK(sig_signers_trusts(s, k, "lifeboat", NS, &err), &err);
	CHECK_INT(sig_signers_trusts(s, k, "lifeboat", "git", &err), ==,
	    LB_E_AUTH);
	CHECK_INT(sig_signers_trusts(s, o, NULL, NS, &err), ==, LB_E_AUTH);
	sig_signers_free(s);
	s = NULL;
	/* validity times: expired and not yet valid lines do not trust */
	CHECK_OK(signers_text("p valid-before=\"20200101Z\" @K@\n"
	    "q valid-after=\"299901011200Z\",namespaces=\"*\" @K@\n"
	    "r valid-after=\"20200101\",valid-before=\"29990101000000Z\" @K@\n",
	    k, &s, &err), &err);
	CHECK_INT(sig_signers_trusts(s, k, "p", NS, &err), ==, LB_E_AUTH);
	CHECK_INT(sig_signers_trusts(s, k, "q", NS, &err), ==, LB_E_AUTH);
	CHECK_OK(sig_signers_trusts(s, k, "r", NS, &err), &err);
	sig_signers_free(s);
	s = NULL;
	/* cert-authority lines are ignored, and said so */
	CHECK_OK(signers_text("*@x cert-authority @K@\nme @K@\n", o, &s, &err),
	    &err);
	CHECK_INT(sig_signers_trusts(s, o, "a@x", NS, &err), ==, LB_E_AUTH);
	CHECK_CONTAINS(err.msg, "cert-authority");
	CHECK_OK(sig_signers_trusts(s, o, "me", NS, &err), &err);
	sig_signers_free(s);
	s = NULL;
	/* refusals, with the line */
	CHECK_INT(signers_text("\np frobnicate=\"1\" @K@\n", k, &s, &err), ==,
	    LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "as:2: unknown option");
	CHECK_INT(signers_text("p valid-after=\"2020\" @K@\n", k, &s, &err), ==,
	    LB_E_CONFIG);
	CHECK_INT(signers_text("p ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n", k, &s,
	    &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "bad ssh-ed25519 key");
	CHECK_INT(signers_text("# nothing\n", k, &s, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "no ssh-ed25519 signer");
	CHECK_INT(signers_text("lonely\n", k, &s, &err), ==, LB_E_CONFIG);
	CHECK(s == NULL);
	sig_key_free(k);
	sig_key_free(o);
}

int
main(void)
{
	char cmd[64];
	int status;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(sshkeygen_key_loads_signs_and_its_verify_accepts);
	RUN(sshkeygen_signatures_verify_here);
	RUN(written_key_loads_in_sshkeygen_and_signs_there);
	RUN(altered_message_namespace_or_armor_refused);
	RUN(signature_blob_fields_checked);
	RUN(unusable_key_files_refused_with_reason);
	RUN(allowed_signers_rules);
	status = TH_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		status = 1;
	return status;
}
