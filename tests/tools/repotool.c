/*
 * repotool.c: drives the repository API (repo.h) from the shell, for the
 * integration tests only (tests/integration/repo_test.sh).  Not installed.
 *
 *   repotool URL put KEY < data          stream stdin through repo_put_new
 *   repotool URL putbuf KEY < data       repo_put_buf
 *   repotool URL putabort KEY < data     write stdin, then free unfinished
 *   repotool URL get KEY [OFF [LEN]]     repo_get to stdout
 *   repotool URL getbuf KEY MAX          repo_get_buf to stdout
 *   repotool URL list [PREFIX]           "KEY SIZE" lines
 *   repotool URL delete|stat KEY
 *   repotool URL cleanup MAX_AGE_S       prints "cleaned N"
 *   repotool URL uploads [PREFIX]        S3 only: lists multipart uploads
 *
 * S3 settings come from S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY,
 * S3_SECRET_KEY, S3_SESSION_TOKEN, S3_HOST_STYLE, S3_CA_FILE; with
 * REPOTOOL_LOCK=SECONDS every key is written under a COMPLIANCE lock of
 * that length (repo_lock_rule_add), as s3-object-lock does.  On failure
 * prints "repotool: CODE-NAME: message" and exits 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/flt.h"
#include "repo/repo.h"
#include "repo/s3.h"

static int
print_cb(void *arg, const char *key, uint64_t size)
{
	(void)arg;
	printf("%s %" PRIu64 "\n", key, size);
	return 0;
}

static int
upload_cb(void *arg, const struct s3_xml_item *it)
{
	(void)arg;
	printf("%s %s %lld\n", it->key, it->upload_id, (long long)it->initiated);
	return 0;
}

static int
slurp(uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16;
	ssize_t n;

	*len = 0;
	if ((*buf = malloc(cap)) == NULL)
		return -1;
	while ((n = read(0, *buf + *len, cap - *len)) > 0) {
		*len += (size_t)n;
		if (*len == cap && (*buf = realloc(*buf, cap *= 2)) == NULL)
			return -1;
	}
	return n < 0 ? -1 : 0;
}

static int
uploads(const char *url, const char *prefix, struct lb_err *err)
{
	struct s3_opts o;
	struct s3 *s = NULL;
	char bucket[256];
	int r;

	memset(&o, 0, sizeof(o));
	snprintf(bucket, sizeof(bucket), "%.*s", (int)strcspn(url + 5, "/"), url + 5);
	o.bucket = bucket;
	o.endpoint = getenv("S3_ENDPOINT");
	o.region = getenv("S3_REGION");
	o.access_key = getenv("S3_ACCESS_KEY");
	o.secret_key = getenv("S3_SECRET_KEY");
	if ((r = s3_new(&o, &s, err)) == 0)
		r = s3_list_uploads(s, prefix, upload_cb, NULL, err);
	s3_free(s);
	return r;
}

int
main(int argc, char **argv)
{
	struct repo_opts o;
	struct repo *r = NULL;
	struct lb_err err;
	struct flt *sink = NULL, *out = NULL;
	uint8_t *buf = NULL, chunk[65536];
	uint64_t size = 0;
	size_t len = 0;
	ssize_t n;
	const char *cmd;
	int rc = 0, cleaned = 0;

	lb_err_clear(&err);
	if (argc < 3) {
		fprintf(stderr, "usage: repotool URL CMD [ARGS]\n");
		return 2;
	}
	cmd = argv[2];
	if (strcmp(cmd, "uploads") == 0) {
		rc = uploads(argv[1], argc > 3 ? argv[3] : "", &err);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.url = argv[1];
	o.s3_endpoint = getenv("S3_ENDPOINT");
	o.s3_region = getenv("S3_REGION");
	o.s3_access_key = getenv("S3_ACCESS_KEY");
	o.s3_secret_key = getenv("S3_SECRET_KEY");
	o.s3_session_token = getenv("S3_SESSION_TOKEN");
	o.s3_ca_file = getenv("S3_CA_FILE");
	o.s3_host_style = getenv("S3_HOST_STYLE") != NULL;
	o.stall_timeout_s = 20;
	if ((rc = repo_open(&o, &r, &err)) < 0 ||
	    (getenv("REPOTOOL_LOCK") != NULL && (rc = repo_lock_rule_add(r, "",
	    REPO_LOCK_COMPLIANCE, atoll(getenv("REPOTOOL_LOCK")), &err)) < 0))
		goto out;
	if ((strcmp(cmd, "put") == 0 || strcmp(cmd, "putabort") == 0) && argc == 4) {
		if ((rc = repo_put_new(r, argv[3], &sink, &err)) < 0)
			goto out;
		while ((n = read(0, chunk, sizeof(chunk))) > 0)
			if ((rc = flt_write(sink, chunk, (size_t)n, &err)) < 0)
				goto out;
		if (strcmp(cmd, "put") == 0)
			rc = flt_finish(sink, &err);
	} else if (strcmp(cmd, "putbuf") == 0 && argc == 4) {
		if (slurp(&buf, &len) < 0) {
			rc = lb_err_set(&err, LB_E_IO, "read stdin");
			goto out;
		}
		rc = repo_put_buf(r, argv[3], buf, len, &err);
	} else if (strcmp(cmd, "get") == 0 && argc >= 4 && argc <= 6) {
		out = flt_fd_new(1, "stdout");
		rc = repo_get(r, argv[3], argc > 4 ? strtoull(argv[4], NULL, 10) : 0,
		    argc > 5 ? strtoull(argv[5], NULL, 10) : 0, out, &err);
		if (rc == 0)
			rc = flt_finish(out, &err);
	} else if (strcmp(cmd, "getbuf") == 0 && argc == 5) {
		if ((rc = repo_get_buf(r, argv[3], strtoul(argv[4], NULL, 10), &buf,
		    &len, &err)) == 0)
			fwrite(buf, 1, len, stdout);
	} else if (strcmp(cmd, "list") == 0 && argc <= 4) {
		rc = repo_list(r, argc > 3 ? argv[3] : "", print_cb, NULL, &err);
	} else if (strcmp(cmd, "delete") == 0 && argc == 4) {
		rc = repo_delete(r, argv[3], &err);
	} else if (strcmp(cmd, "stat") == 0 && argc == 4) {
		if ((rc = repo_stat(r, argv[3], &size, &err)) == 0)
			printf("%" PRIu64 "\n", size);
	} else if (strcmp(cmd, "cleanup") == 0 && argc == 4) {
		if ((rc = repo_cleanup_orphans(r, NULL, atol(argv[3]), &cleaned, &err)) == 0)
			printf("cleaned %d\n", cleaned);
	} else {
		fprintf(stderr, "repotool: bad command\n");
		rc = LB_E_USAGE;
		lb_err_set(&err, rc, "bad command %s", cmd);
	}
out:
	flt_free(sink);
	flt_free(out);
	free(buf);
	repo_close(r);
	if (rc < 0) {
		fprintf(stderr, "repotool: %s: %s\n", lb_err_name(rc), err.msg);
		return 1;
	}
	return 0;
}
