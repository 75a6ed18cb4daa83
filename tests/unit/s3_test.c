/*
 * s3_test.c: the server-free parts of the S3 client: SigV4 URI encoding,
 * the expat parsers of S3's answers (real answers captured from AWS docs'
 * examples and from s3rver/Swift), and option/credential validation.
 * Requests against real servers are in tests/integration/repo_test.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "repo/s3.h"

static void
uri_encode_keeps_unreserved_and_uppercases_hex(void)
{
	char *e = s3_uri_encode("a-Z_0.9~ !=/é+*", 0);

	CHECK_STR(e, "a-Z_0.9~%20%21%3D%2F%C3%A9%2B%2A");
	free(e);
	e = s3_uri_encode("dir/sub dir/k=v", 1);
	CHECK_STR(e, "dir/sub%20dir/k%3Dv");
	free(e);
	e = s3_uri_encode("", 1);
	CHECK_STR(e, "");
	free(e);
}

static const char list_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
	"<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
	"<Contents><Key>p/a &amp; b</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
	"<ETag>&quot;x&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents><Key>p/\xc3\xa9</Key><Size>18446744073709551615</Size></Contents>"
	"</ListBucketResult>";

static void
list_parser_reads_keys_sizes_and_token(void)
{
	struct s3_xml_list l;
	struct lb_err err;

	CHECK_OK(s3_xml_parse_list(list_page, strlen(list_page), &l, &err), &err);
	CHECK_INT(l.n, ==, 2);
	CHECK_INT(l.truncated, ==, 1);
	CHECK_STR(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	CHECK_STR(l.items[0].key, "p/a & b");
	CHECK_INT(l.items[0].size, ==, 12);
	CHECK_STR(l.items[1].key, "p/\xc3\xa9");
	CHECK(l.items[1].size == UINT64_MAX);
	s3_xml_list_clear(&l);
}

static void
list_parser_rejects_bad_answers(void)
{
	static const char *bad[] = {
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key>",
		"<Error><Code>AccessDenied</Code></Error>",
		"<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>",
		"",
	};
	struct s3_xml_list l;
	struct lb_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (s3_xml_parse_list(bad[i], strlen(bad[i]), &l, &err) != LB_E_PROTO)
			TH_FAIL("accepted bad list #%zu", i);
		CHECK(l.items == NULL);
	}
}

static void
uploads_parser_reads_ids_and_times(void)
{
	static const char xml[] =
		"<ListMultipartUploadsResult><Bucket>b</Bucket>"
		"<NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>"
		"<IsTruncated>true</IsTruncated>"
		"<Upload><Key>k1</Key><UploadId>u1</UploadId>"
		"<Initiated>2024-02-29T12:00:01.000Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	struct s3_xml_list l;
	struct lb_err err;

	CHECK_OK(s3_xml_parse_list(xml, strlen(xml), &l, &err), &err);
	CHECK_INT(l.n, ==, 1);
	CHECK_STR(l.items[0].upload_id, "u1");
	CHECK_INT(l.items[0].initiated, ==, 1709208001);
	CHECK_STR(l.next_key_marker, "k2");
	CHECK_STR(l.next_upload_marker, "u2");
	s3_xml_list_clear(&l);
}

static void
error_parser_gives_code_and_one_line_message(void)
{
	static const char xml[] =
		"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
		"<Message>The request signature\nwe calculated</Message>"
		"<StringToSign>AWS4-HMAC-SHA256</StringToSign></Error>";
	char code[32], msg[64];

	CHECK_INT(s3_xml_parse_error(xml, strlen(xml), code, sizeof(code), msg,
	    sizeof(msg)), ==, 0);
	CHECK_STR(code, "SignatureDoesNotMatch");
	CHECK_STR(msg, "The request signature we calculated");
	CHECK_INT(s3_xml_parse_error("<html>503</html>", 16, code, sizeof(code),
	    msg, sizeof(msg)), ==, LB_E_PROTO);
	CHECK_STR(code, "");
}

static void
initiate_and_complete_parsers(void)
{
	static const char init[] =
		"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
		"<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
	static const char done[] =
		"<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
	static const char late_error[] =
		"<Error><Code>InternalError</Code><Message>oops</Message></Error>";
	struct lb_err err;
	char *id = NULL;

	CHECK_OK(s3_xml_parse_upload_id(init, strlen(init), &id, &err), &err);
	CHECK_STR(id, "VXBsb2FkIElE");
	free(id);
	CHECK_INT(s3_xml_parse_upload_id("<InitiateMultipartUploadResult/>", 32,
	    &id, &err), ==, LB_E_PROTO);
	CHECK_OK(s3_xml_parse_complete(done, strlen(done), &err), &err);
	CHECK_INT(s3_xml_parse_complete(late_error, strlen(late_error), &err), ==,
	    LB_E_REMOTE);
	CHECK_CONTAINS(err.msg, "InternalError: oops");
}

static void
options_are_checked(void)
{
	struct s3_opts o;
	struct s3 *s = NULL;
	struct lb_err err;

	memset(&o, 0, sizeof(o));
	o.bucket = "ok-bucket";
	o.endpoint = "ftp://x";
	o.access_key = "a";
	o.secret_key = "b";
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "http:// or https://");
	o.endpoint = "http://127.0.0.1:1";
	o.bucket = "Bad_Bucket";
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	o.bucket = "ok-bucket";
	o.secret_key = NULL;
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	CHECK(s == NULL);
	o.secret_key = "b";
	CHECK_OK(s3_new(&o, &s, &err), &err);
	CHECK_STR(s3_bucket(s), "s3://ok-bucket");
	s3_free(s);
	s3_free(NULL);
}

static void
credentials_come_from_the_shared_file(void)
{
	char path[] = "/tmp/lb-s3-creds-XXXXXX";
	struct s3_opts o;
	struct s3 *s = NULL;
	struct lb_err err;
	FILE *f;
	int fd;

	CHECK((fd = mkstemp(path)) >= 0);
	f = fdopen(fd, "w");
	fputs("[other]\naws_access_key_id = X\n\n[backup] \n"
	    "aws_access_key_id = AK:with:colons\naws_secret_access_key=sk\n", f);
	fclose(f);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	memset(&o, 0, sizeof(o));
	o.bucket = "ok-bucket";
	o.endpoint = "http://127.0.0.1:1";
	setenv("AWS_PROFILE", "backup", 1);
	CHECK_OK(s3_new(&o, &s, &err), &err);
	s3_free(s);
	s = NULL;
	/* [other] has no secret: refused with the profile and file named. */
	setenv("AWS_PROFILE", "other", 1);
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "profile other");
	setenv("AWS_PROFILE", "nosuch", 1);
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	unlink(path);
	CHECK_INT(s3_new(&o, &s, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "no s3 credentials");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

/* AWS's ListObjectVersions example, as versitygw answers it too: a
 * version, a delete marker, and a truncated page with both markers. */
static void
versions_parser_reads_versions_and_delete_markers(void)
{
	static const char xml[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix>c/m.json</Prefix><IsTruncated>true</IsTruncated>"
	    "<NextKeyMarker>c/m.json</NextKeyMarker>"
	    "<NextVersionIdMarker>01JDX0000000000000000000VB</NextVersionIdMarker>"
	    "<DeleteMarker><Key>c/m.json</Key><VersionId>01JDX0000000000000000000DM</VersionId>"
	    "<IsLatest>true</IsLatest></DeleteMarker>"
	    "<Version><Key>c/m.json</Key><VersionId>01JDX0000000000000000000VA</VersionId>"
	    "<IsLatest>false</IsLatest><Size>3</Size></Version>"
	    "</ListVersionsResult>";
	static const char no_id[] =
	    "<ListVersionsResult><Version><Key>k</Key></Version></ListVersionsResult>";
	struct s3_xml_list l;
	struct lb_err err;

	CHECK_OK(s3_xml_parse_list(xml, strlen(xml), &l, &err), &err);
	CHECK_INT(l.n, ==, 2);
	CHECK_INT(l.truncated, ==, 1);
	CHECK_STR(l.next_key_marker, "c/m.json");
	CHECK_STR(l.next_upload_marker, "01JDX0000000000000000000VB");
	CHECK_STR(l.items[0].version_id, "01JDX0000000000000000000DM");
	CHECK_INT(l.items[0].delete_marker, ==, 1);
	CHECK_STR(l.items[1].key, "c/m.json");
	CHECK_STR(l.items[1].version_id, "01JDX0000000000000000000VA");
	CHECK_INT(l.items[1].delete_marker, ==, 0);
	CHECK_INT(l.items[1].size, ==, 3);
	s3_xml_list_clear(&l);
	/* A version without its id cannot be deleted: a bad answer. */
	CHECK_INT(s3_xml_parse_list(no_id, strlen(no_id), &l, &err), ==, LB_E_PROTO);
}

int
main(void)
{
	RUN(uri_encode_keeps_unreserved_and_uppercases_hex);
	RUN(list_parser_reads_keys_sizes_and_token);
	RUN(list_parser_rejects_bad_answers);
	RUN(versions_parser_reads_versions_and_delete_markers);
	RUN(uploads_parser_reads_ids_and_times);
	RUN(error_parser_gives_code_and_one_line_message);
	RUN(initiate_and_complete_parsers);
	RUN(options_are_checked);
	RUN(credentials_come_from_the_shared_file);
	return TH_DONE();
}
