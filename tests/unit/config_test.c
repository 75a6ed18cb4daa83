/*
 * config_test.c: the configuration parser accepts a full file and gives
 * every value back typed, fills defaults, names file and line in each kind
 * of error (exact messages), never echoes a secret, takes secrets from
 * files and the environment, and keeps contrib/lifeboat.conf.example equal
 * to what the option table generates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config/config.h"
#include "stream/zstd_filter.h"
#include "tests/harness.h"

#define R1 "age10qfsx08dz538plp5x86w376cghuklq3yvvgcs98zwpzrcvyv8pksn4a6ta"
#define R2 "age1examplexamplexamplexamplexamplexamplexamplexamplexaqsdjxrv"

static char tmpdir[] = "/tmp/lb-config-test.XXXXXX";

static const char full[] =
    "\xef\xbb\xbf# a full configuration\r\n"
    "[global]\r\n"
    "repo = s3://my-backups.example/etcd/prod\n"
    "s3-endpoint = https://minio.local:9000\n"
    "s3-region = eu-west-3\n"
    "s3-uri-style = host\n"
    "s3-ca-file = /etc/lifeboat/ca.pem\n"
    "s3-access-key-id = AKIAEXAMPLEKEY\n"
    "s3-secret-access-key-file = /etc/lifeboat/s3-secret\n"
    "s3-part-size = 128 MiB\n"
    "  recipients = " R1 " ,  " R2 "\n"
    "recipients-file = /etc/lifeboat/recipients.txt\n"
    "identity-file = /root/key.txt\n"
    "; another comment style\n"
    "catalog = /srv/lifeboat/catalog.db\n"
    "compress-level = 6\n"
    "compress-threads = 0\n"
    "log-level = debug\n"
    "metrics-listen = [::1]:9100\n"
    "max-concurrent-clusters = 4\n"
    "timezone = Europe/Paris\n"
    "connect-timeout = 1m30s\n"
    "stall-timeout = \"2m\"\n"
    "\n"
    "[cluster:prod-eu.1]\n"
    "endpoints = https://10.0.0.1:2379,https://10.0.0.2:2379, https://[fd00::3]:2379\n"
    "enabled = no\n"
    "cacert = /etc/lifeboat/prod/ca.pem\n"
    "cert = /etc/lifeboat/prod/cert.pem\n"
    "key = /etc/lifeboat/prod/key.pem\n"
    "user = backup\n"
    "password-file = /etc/lifeboat/prod/password\n"
    "schedule = 0 */4 * * *\n"
    "retention = keep-last=7, keep-daily=14,keep-yearly=3\n"
    "verify-schedule = @daily\n"
    "lock-prefix = /ops/lifeboat/\n"
    "[ cluster:dev ]\n"
    "endpoints = http://127.0.0.1:2379\n";

static void
full_file_gives_every_value_back(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	const char *const *list;

	CHECK_OK(cfg_parse_string(full, "lifeboat.conf", &c, &err), &err);
	CHECK_STR(cfg_source(c), "lifeboat.conf");
	CHECK_STR(cfg_get_str(c, NULL, "repo"), "s3://my-backups.example/etcd/prod");
	CHECK_STR(cfg_get_str(c, NULL, "s3-region"), "eu-west-3");
	CHECK_STR(cfg_get_str(c, NULL, "s3-uri-style"), "host");
	CHECK_INT(cfg_get_int(c, NULL, "s3-uri-style"), ==, 1);
	CHECK_INT(cfg_get_int(c, NULL, "s3-part-size"), ==, 128LL << 20);
	CHECK_INT(cfg_get_list(c, NULL, "recipients", &list), ==, 2);
	CHECK_STR(list[0], R1);
	CHECK_STR(list[1], R2);
	CHECK_STR(cfg_get_str(c, NULL, "catalog"), "/srv/lifeboat/catalog.db");
	CHECK_INT(cfg_get_int(c, NULL, "compress-level"), ==, 6);
	CHECK_INT(cfg_get_int(c, NULL, "compress-threads"), ==, 0);
	CHECK_STR(cfg_get_str(c, NULL, "log-level"), "debug");
	CHECK_STR(cfg_get_str(c, NULL, "metrics-listen"), "[::1]:9100");
	CHECK_INT(cfg_get_int(c, NULL, "max-concurrent-clusters"), ==, 4);
	CHECK_STR(cfg_get_str(c, NULL, "timezone"), "Europe/Paris");
	CHECK_INT(cfg_get_int(c, NULL, "connect-timeout"), ==, 90);
	CHECK_INT(cfg_get_int(c, NULL, "stall-timeout"), ==, 120);
	CHECK_STR(cfg_get_str(c, NULL, "stall-timeout"), "2m");

	CHECK_INT(cfg_cluster_count(c), ==, 2);
	CHECK_STR(cfg_cluster_name(c, 0), "prod-eu.1");
	CHECK_STR(cfg_cluster_name(c, 1), "dev");
	CHECK(cfg_has_cluster(c, "dev"));
	CHECK(!cfg_has_cluster(c, "qa"));
	CHECK_INT(cfg_get_list(c, "prod-eu.1", "endpoints", &list), ==, 3);
	CHECK_STR(list[0], "https://10.0.0.1:2379");
	CHECK_STR(list[2], "https://[fd00::3]:2379");
	CHECK_INT(cfg_get_int(c, "prod-eu.1", "enabled"), ==, 0);
	CHECK_INT(cfg_get_int(c, "dev", "enabled"), ==, 1);
	CHECK_STR(cfg_get_str(c, "prod-eu.1", "user"), "backup");
	CHECK_STR(cfg_get_str(c, "prod-eu.1", "schedule"), "0 */4 * * *");
	CHECK_STR(cfg_get_str(c, "prod-eu.1", "retention"),
	    "keep-last=7, keep-daily=14,keep-yearly=3");
	CHECK_STR(cfg_get_str(c, "prod-eu.1", "verify-schedule"), "@daily");
	CHECK_STR(cfg_get_str(c, "prod-eu.1", "lock-prefix"), "/ops/lifeboat/");
	CHECK(cfg_get_str(c, "dev", "user") == NULL);
	CHECK(cfg_is_set(c, "prod-eu.1", "schedule"));
	CHECK(!cfg_is_set(c, "dev", "schedule"));
	cfg_free(c);
}

static void
defaults_fill_what_is_not_set(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	const char *const *list;

	CHECK_OK(cfg_parse_string("[global]\nrepo = file:///var/backups\n"
	    "[cluster:a]\nendpoints = https://e:2379\n", "t.conf", &c, &err), &err);
	CHECK_STR(cfg_get_str(c, NULL, "s3-region"), "us-east-1");
	CHECK_STR(cfg_get_str(c, NULL, "s3-uri-style"), "path");
	CHECK_INT(cfg_get_int(c, NULL, "s3-part-size"), ==, 5LL << 20);
	CHECK_STR(cfg_get_str(c, NULL, "catalog"), "/var/lib/lifeboat/catalog.db");
	/* auto by default; callers that cannot adapt map it to the default */
	CHECK_INT(cfg_get_int(c, NULL, "compress-level"), ==, CFG_AUTO);
	CHECK_INT(zstd_level_fixed((int)cfg_get_int(c, NULL, "compress-level")), ==,
	    ZSTD_DEFAULT_LEVEL);
	CHECK_INT(cfg_get_int(c, NULL, "compress-threads"), ==, ZSTD_DEFAULT_THREADS);
	CHECK_STR(cfg_get_str(c, NULL, "log-level"), "info");
	CHECK_STR(cfg_get_str(c, NULL, "metrics-listen"), "127.0.0.1:9793");
	CHECK_INT(cfg_get_int(c, NULL, "max-concurrent-clusters"), ==, 2);
	CHECK_STR(cfg_get_str(c, NULL, "timezone"), "UTC");
	CHECK_INT(cfg_get_int(c, NULL, "connect-timeout"), ==, 10);
	CHECK_INT(cfg_get_int(c, NULL, "stall-timeout"), ==, 60);
	CHECK(cfg_get_str(c, NULL, "s3-endpoint") == NULL);
	CHECK(cfg_get_str(c, NULL, "identity-file") == NULL);
	CHECK_INT(cfg_get_list(c, NULL, "recipients", &list), ==, 0);
	CHECK_STR(cfg_get_str(c, "a", "schedule"), "@every 10m");
	CHECK_STR(cfg_get_str(c, "a", "lock-prefix"), "/lifeboat/lock/");
	CHECK_INT(cfg_get_int(c, "a", "enabled"), ==, 1);
	CHECK(cfg_get_str(c, "a", "verify-schedule") == NULL);
	/* no retention unless written down (restic, pgBackRest): prune and
	 * the daemon then keep every backup, and config check says so */
	CHECK(cfg_get_str(c, "a", "retention") == NULL);
	CHECK(!cfg_is_set(c, NULL, "compress-level"));
	CHECK(cfg_is_set(c, NULL, "repo"));
	cfg_free(c);
}

/* Parses text as "lifeboat.conf" and expects exactly msg. */
static int
fails_with(const char *text, const char *msg, char *got, size_t got_len)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	int r = cfg_parse_string(text, "lifeboat.conf", &c, &err);

	cfg_free(c);
	snprintf(got, got_len, "%s (r=%d)", r == 0 ? "parsed" : err.msg, r);
	return r == LB_E_CONFIG && c == NULL && strcmp(err.msg, msg) == 0;
}

#define G "[global]\nrepo = file:///b\n"
#define CL "[cluster:c1]\nendpoints = https://e:2379\n"

/* 600 and 39 bytes of a long lock-prefix */
#define LONG40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG600 LONG40 LONG40 LONG40 LONG40 LONG40 LONG40 LONG40 LONG40 LONG40 \
	LONG40 LONG40 LONG40 LONG40 LONG40 LONG40 "aaaaaaaaaaaaaaa"

static const struct {
	const char *text, *msg;
} bad[] = {
	/* the brief's own example, at line 12 */
	{ "# 1\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n[global]\nrepo = file:///b\n"
	  "compress-level = 42\n",
	  "lifeboat.conf:12: compress-level: 42 is out of range 1..19" },
	{ G "compress-level = 3\ncompress-level = 4\n",
	  "lifeboat.conf:4: duplicate key compress-level (first set at line 3)" },
	{ G "compres-level = 3\n",
	  "lifeboat.conf:3: unknown key compres-level in [global] (did you mean compress-level?)" },
	{ G CL "endpoint = https://x:1\n",
	  "lifeboat.conf:5: unknown key endpoint in [cluster:c1] (did you mean endpoints?)" },
	{ G "s3-object-lock = compliance:30d\n",
	  "lifeboat.conf:3: s3-object-lock needs an s3:// repo (S3 Object Lock), but repo "
	  "is file:///b" },
	{ G CL "s3-object-lock = governance:1d\n",
	  "lifeboat.conf:5: s3-object-lock needs an s3:// repo (S3 Object Lock), but repo "
	  "is file:///b" },
	{ G "s3-object-lock = Governance:1d\n",
	  "lifeboat.conf:3: s3-object-lock: 'Governance:1d' is not governance:PERIOD, "
	  "compliance:PERIOD or off (e.g. governance:14d)" },
	{ G "s3-object-lock = governance:14\n",
	  "lifeboat.conf:3: s3-object-lock: 'governance:14': the period is a number with "
	  "s, m, h or d (e.g. governance:14d)" },
	{ G "s3-object-lock = compliance:36501d\n",
	  "lifeboat.conf:3: s3-object-lock: 'compliance:36501d': the period must be "
	  "between 1s and 36500d" },
	{ G "frobnicate = 1\n",
	  "lifeboat.conf:3: unknown key frobnicate in [global] (see 'lifeboat config options')" },
	{ G "endpoints = https://x:1\n",
	  "lifeboat.conf:3: endpoints belongs in a [cluster:NAME] section, not in [global]" },
	{ G CL "repo = file:///c\n",
	  "lifeboat.conf:5: repo belongs in [global], not in [cluster:c1]" },
	{ G "[clusters:x]\n",
	  "lifeboat.conf:3: unknown section [clusters:x] (expected [global] or [cluster:NAME])" },
	{ G "[cluster]\n", "lifeboat.conf:3: section [cluster] needs a name: [cluster:NAME]" },
	{ G "[cluster:Prod]\n",
	  "lifeboat.conf:3: bad cluster name 'Prod' (1 to 63 of a-z, 0-9, '.', '_', '-', "
	  "starting with a letter or digit)" },
	{ G CL "[cluster:c1]\n", "lifeboat.conf:5: duplicate section [cluster:c1] (first at line 3)" },
	{ G "[global]\n", "lifeboat.conf:3: duplicate section [global] (first at line 1)" },
	{ G "[global\n", "lifeboat.conf:3: section header does not end with ]" },
	{ "repo = file:///b\n[global]\n",
	  "lifeboat.conf:1: key repo is outside a section (hint: start with [global])" },
	{ G "compress-level 3\n", "lifeboat.conf:3: expected key = value" },
	{ G "= 3\n", "lifeboat.conf:3: expected key = value, the key is missing" },
	{ G "Compress-Level = 3\n",
	  "lifeboat.conf:3: bad key name (keys are lower case, like compress-level)" },
	{ G "s3-region =   \n", "lifeboat.conf:3: s3-region has no value" },
	{ G "compress-level = three\n", "lifeboat.conf:3: compress-level: three is not auto or a whole number" },
	{ G "compress-level = 0\n", "lifeboat.conf:3: compress-level: 0 is out of range 1..19" },
	{ G "connect-timeout = 10\n",
	  "lifeboat.conf:3: connect-timeout: 10 needs a unit (s, m, h, d or w)" },
	{ G "connect-timeout = 10 s\n",
	  "lifeboat.conf:3: connect-timeout: 10 s is not a duration (like 90s, 10m, 2h, 1d)" },
	{ G "stall-timeout = 1d\n", "lifeboat.conf:3: stall-timeout: 1d is out of range 5s..1h" },
	{ G "s3-part-size = 4MiB\n", "lifeboat.conf:3: s3-part-size: 4MiB is out of range 5MiB..5GiB" },
	{ G "s3-part-size = 64MB\n",
	  "lifeboat.conf:3: s3-part-size: 64MB is not a size (like 64MiB; units KiB, MiB, GiB, TiB)" },
	{ G CL "enabled = maybe\n", "lifeboat.conf:5: enabled: maybe is not yes or no" },
	{ G "s3-uri-style = virtual\n",
	  "lifeboat.conf:3: s3-uri-style: virtual is not one of path,host" },
	{ G "catalog = var/catalog.db\n",
	  "lifeboat.conf:3: catalog: var/catalog.db is not an absolute path" },
	{ "[global]\nrepo = ftp://host/x\n",
	  "lifeboat.conf:2: repo: ftp://host/x is neither file:///PATH nor s3://BUCKET/PREFIX" },
	{ "[global]\nrepo = file://relative/x\n",
	  "lifeboat.conf:2: repo: file://relative/x: a file repository needs an absolute path (file:///PATH)" },
	{ "[global]\nrepo = s3://My_Bucket/x\n",
	  "lifeboat.conf:2: repo: s3://My_Bucket/x: a bucket name has only a-z, 0-9, '.' and '-'" },
	{ "[global]\nrepo = s3://bucket/a/../b\n",
	  "lifeboat.conf:2: repo: s3://bucket/a/../b: the prefix may not contain .." },
	{ "[global]\nrepo = s3://bucket/a//b\n",
	  "lifeboat.conf:2: repo: s3://bucket/a//b: the prefix has an empty path segment" },
	{ G "[cluster:x]\nendpoints = grpc://e:2379\n",
	  "lifeboat.conf:4: endpoints: grpc://e:2379 is not an http:// or https:// URL" },
	{ G "[cluster:x]\nendpoints = https://e:2379/v3\n",
	  "lifeboat.conf:4: endpoints: https://e:2379/v3: a URL here has no path" },
	{ G "[cluster:x]\nendpoints = https://e:99999\n",
	  "lifeboat.conf:4: endpoints: https://e:99999: bad port" },
	{ G "[cluster:x]\nendpoints = https://a:1,,https://b:1\n",
	  "lifeboat.conf:4: endpoints: empty item in the list" },
	{ G "[cluster:x]\nendpoints = https://a:1, https://a:1\n",
	  "lifeboat.conf:4: endpoints: https://a:1 is listed twice" },
	{ G "[cluster:x]\nendpoints = https://user:pw@a:1\n",
	  "lifeboat.conf:4: endpoints: https: credentials do not belong in a URL" },
	/* one character changed in a real recipient */
	{ G "recipients = age10qfsx08dz538plp5x86w376cghuklq3yvvgcs98zwpzrcvyv8pksn4a6tq\n",
	  "lifeboat.conf:3: recipients: age10qfsx08dz538plp5x86w376cghuklq3yvvgcs98zwpzrcvyv8pksn4a6tq"
	  " is not an age recipient (checksum mismatch: a typo?)" },
	{ G "recipients = age1abc\n",
	  "lifeboat.conf:3: recipients: age1abc is not an age recipient (age1 and 58 characters)" },
	/* schedule and retention are parsed by the parsers the daemon and
	 * prune use (scheduler/), so what passes here runs there */
	{ G CL "retention = keep-last=7,keep-forever=1\n",
	  "lifeboat.conf:5: retention: unknown rule 'keep-forever' (keep-last, keep-hourly, "
	  "keep-daily, keep-weekly, keep-monthly or keep-yearly)" },
	{ G CL "retention = keep-daily=0\n",
	  "lifeboat.conf:5: retention: every count is 0, which would delete every backup "
	  "but the newest verified one (leave retention unset to keep everything)" },
	{ G CL "retention = keep-daily=3,keep-daily=4\n",
	  "lifeboat.conf:5: retention: keep-daily is given twice" },
	{ G CL "retention = keep-last=2000000\n",
	  "lifeboat.conf:5: retention: keep-last: 2000000 is more than 1000000" },
	{ G CL "retention = keep-last=1,\n",
	  "lifeboat.conf:5: retention: '' is not keep-PERIOD=N" },
	{ G CL "schedule = every day\n",
	  "lifeboat.conf:5: schedule: every day: minute: 'every' is not a value, range "
	  "or step" },
	{ G CL "schedule = @every 30s\n",
	  "lifeboat.conf:5: schedule: @every 30s: more often than once a minute "
	  "(the shortest interval is 1m)" },
	{ G CL "schedule = 61 * * * *\n",
	  "lifeboat.conf:5: schedule: 61 * * * *: minute: '61' is out of range 0..59" },
	{ G CL "schedule = 0 0 31 2 *\n",
	  "lifeboat.conf:5: schedule: 0 0 31 2 *: never fires (no month given has the day "
	  "of month given)" },
	{ G CL "verify-schedule = 0 0 30 2 *\n",
	  "lifeboat.conf:5: verify-schedule: 0 0 30 2 *: never fires (no month given has "
	  "the day of month given)" },
	{ G CL "lock-prefix = /" LONG600 "\n",
	  "lifeboat.conf:5: lock-prefix: /" LONG40 "...: longer than 512 bytes" },
	{ G CL "schedule = @every 1w\n",
	  "lifeboat.conf:5: schedule: @every 1w: not a duration (like 90s, 10m, 1h30m, 1d)" },
	{ G "metrics-listen = 9793\n",
	  "lifeboat.conf:3: metrics-listen: 9793 is not HOST:PORT or off" },
	{ G "timezone = ../../etc/passwd\n",
	  "lifeboat.conf:3: timezone: ../../etc/passwd is not a time zone name "
	  "(like UTC or Europe/Paris)" },
	{ "[global]\ncatalog = /x\n",
	  "lifeboat.conf:1: [global] needs repo (where backups are stored: file:///PATH or "
	  "s3://BUCKET/PREFIX)" },
	{ "# empty\n", "lifeboat.conf: no [global] section (it needs at least repo)" },
	{ G "\n[cluster:c2]\nuser = u\n",
	  "lifeboat.conf:4: [cluster:c2] needs endpoints (etcd client URLs of the members, "
	  "comma-separated; each is snapshotted)" },
	{ G CL "cert = /c.pem\n", "lifeboat.conf:3: [cluster:c1] sets cert without key" },
	{ G CL "password-file = /pw\n",
	  "lifeboat.conf:3: [cluster:c1] sets password-file without user" },
	/* plain http where the section asks for TLS: the password would leak */
	{ G "[cluster:c1]\nendpoints = http://e:2379\ncacert = /ca.pem\n",
	  "lifeboat.conf:4: [cluster:c1] etcd endpoint http://e:2379 is plain http but "
	  "cacert, cert or key is set: the password and snapshots would cross the network "
	  "in clear (hint: https://)" },
	{ G "[cluster:c1]\ncert = /c.pem\nkey = /k.pem\nendpoints = http://e:2379\n",
	  "lifeboat.conf:6: [cluster:c1] etcd endpoint http://e:2379 is plain http but "
	  "cacert, cert or key is set: the password and snapshots would cross the network "
	  "in clear (hint: https://)" },
	{ G "[cluster:c1]\nendpoints = https://a:2379, http://b:2379\n",
	  "lifeboat.conf:4: [cluster:c1] etcd endpoints mix plain http (http://b:2379) and "
	  "https (https://a:2379): the password and snapshots would cross the network in "
	  "clear on the first (hint: https:// for every endpoint)" },
	{ G "log-level = info\x01\n", "lifeboat.conf:3: control character in line" },
	/* a secret value is never echoed, even when it is wrong */
	{ G "s3-access-key-id = AKIA SECRET\n",
	  "lifeboat.conf:3: s3-access-key-id: invalid value (not shown: it is secret)" },
};

static void
each_error_names_file_and_line(void)
{
	char got[LB_ERR_MSG_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!fails_with(bad[i].text, bad[i].msg, got, sizeof(got)))
			TH_FAIL("case %zu: want \"%s\", got \"%s\"", i, bad[i].msg, got);
}

/* In [global] and per cluster, the cluster's own winning; "off" too. */
static void
object_lock_global_and_per_cluster(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	long long secs;
	int mode;

	CHECK_OK(cfg_parse_string("[global]\nrepo = s3://bkt/p\n"
	    "s3-object-lock = governance:14d\n"
	    "[cluster:a]\nendpoints = https://e:2379\ns3-object-lock = compliance:90s\n"
	    "[cluster:b]\nendpoints = https://e:2379\n"
	    "[cluster:c]\nendpoints = https://e:2379\ns3-object-lock = off\n",
	    "t", &c, &err), &err);
	cfg_object_lock(c, NULL, &mode, &secs);
	CHECK_INT(mode, ==, CFG_LOCK_GOVERNANCE);
	CHECK_INT(secs, ==, 14 * 86400);
	cfg_object_lock(c, "a", &mode, &secs);
	CHECK_INT(mode, ==, CFG_LOCK_COMPLIANCE);
	CHECK_INT(secs, ==, 90);
	cfg_object_lock(c, "b", &mode, &secs);
	CHECK_INT(mode, ==, CFG_LOCK_GOVERNANCE);
	CHECK_INT(secs, ==, 14 * 86400);
	cfg_object_lock(c, "c", &mode, &secs);
	CHECK_INT(mode, ==, CFG_LOCK_OFF);
	cfg_free(c);
	c = NULL;
	CHECK_OK(cfg_parse_string("[global]\nrepo = file:///b\ns3-object-lock = off\n",
	    "t", &c, &err), &err);
	cfg_object_lock(c, NULL, &mode, &secs);
	CHECK_INT(mode, ==, CFG_LOCK_OFF);
	cfg_free(c);
}

static void
long_line_refused(void)
{
	char *text = malloc(CFG_LINE_MAX + 64), got[LB_ERR_MSG_MAX + 32];
	int ok;

	snprintf(text, 64, "[global]\nrepo = file:///");
	memset(text + strlen(text), 'a', CFG_LINE_MAX);
	text[CFG_LINE_MAX + 20] = '\0';
	ok = fails_with(text, "lifeboat.conf:2: line longer than 4096 characters", got,
	    sizeof(got));
	free(text);
	if (!ok)
		TH_FAIL("got %s", got);
}

static void
durations_and_sizes(void)
{
	static const struct { const char *in; long long secs; } d[] = {
		{ "90s", 90 }, { "10m", 600 }, { "1h", 3600 }, { "1m30s", 90 },
		{ "5s", 5 }, { "\"59m60s\"", 3600 },
	};
	static const struct { const char *in; long long bytes; } s[] = {
		{ "5MiB", 5LL << 20 }, { "64 MiB", 64LL << 20 }, { "1GiB", 1LL << 30 },
		{ "5368709120", 5LL << 30 }, { "6144K", 6LL << 20 }, { "5G", 5LL << 30 },
	};
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char text[256], got[LB_ERR_MSG_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(text, sizeof(text), G "stall-timeout = %s\n", d[i].in);
		CHECK_OK(cfg_parse_string(text, "t", &c, &err), &err);
		CHECK_INT(cfg_get_int(c, NULL, "stall-timeout"), ==, d[i].secs);
		cfg_free(c);
	}
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		snprintf(text, sizeof(text), G "s3-part-size = %s\n", s[i].in);
		CHECK_OK(cfg_parse_string(text, "t", &c, &err), &err);
		CHECK_INT(cfg_get_int(c, NULL, "s3-part-size"), ==, s[i].bytes);
		cfg_free(c);
	}
	/* a day and a week parse (then fail the range) */
	if (!fails_with(G "connect-timeout = 2d\n",
	    "lifeboat.conf:3: connect-timeout: 2d is out of range 1s..10m", got, sizeof(got)) ||
	    !fails_with(G "connect-timeout = 1w\n",
	    "lifeboat.conf:3: connect-timeout: 1w is out of range 1s..10m", got, sizeof(got)) ||
	    !fails_with(G "connect-timeout = 99999999999999999999s\n",
	    "lifeboat.conf:3: connect-timeout: 99999999999999999999s is too long a duration",
	    got, sizeof(got)) ||
	    !fails_with(G "s3-part-size = 99999999999999999999\n",
	    "lifeboat.conf:3: s3-part-size: 99999999999999999999 is too large a size",
	    got, sizeof(got)))
		TH_FAIL("got %s", got);
	CHECK_OK(cfg_parse_string(G "[cluster:x]\nendpoints = http://e:1\n"
	    "schedule = @every 1d\nverify-schedule = @every 1h30m\n", "t", &c, &err), &err);
	cfg_free(c);
}

/* A recipient fresh from age-keygen is accepted: the oracle is age. */
static void
age_keygen_recipient_accepted(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char rcp[128] = "", text[512];
	FILE *fp = popen("age-keygen 2>/dev/null | sed -n 's/^# public key: //p'", "r");

	CHECK(fp != NULL);
	if (fgets(rcp, sizeof(rcp), fp) == NULL)
		rcp[0] = '\0';
	pclose(fp);
	rcp[strcspn(rcp, "\n")] = '\0';
	CHECK_INT(strlen(rcp), ==, 62);
	snprintf(text, sizeof(text), G "recipients = %s\n", rcp);
	CHECK_OK(cfg_parse_string(text, "t", &c, &err), &err);
	cfg_free(c);
}

static int
write_file(const char *path, const char *text, int mode)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fputs(text, fp);
	if (fclose(fp) != 0)
		return -1;
	return chmod(path, (mode_t)mode);
}

static void
env_supplies_secrets_the_file_does_not(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char *id = NULL, *sec = NULL, *tok = NULL, *pw = NULL, env[128];

	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("LIFEBOAT_ETCD_PASSWORD_PROD_EU_1", "envpw", 1);
	CHECK_STR(cfg_etcd_password_env("prod-eu.1", env, sizeof(env)),
	    "LIFEBOAT_ETCD_PASSWORD_PROD_EU_1");
	CHECK_OK(cfg_parse_string(G "[cluster:prod-eu.1]\nendpoints = https://e:1\n"
	    "user = root\n[cluster:nouser]\nendpoints = https://e:1\n", "t", &c, &err), &err);
	CHECK_OK(cfg_s3_credentials(c, &id, &sec, &tok, &err), &err);
	CHECK_STR(id, "AKIAENV");
	CHECK_STR(sec, "envsecret");
	CHECK_STR(tok, "envtoken");
	lb_secret_free(id);
	lb_secret_free(sec);
	lb_secret_free(tok);
	CHECK_OK(cfg_etcd_password(c, "prod-eu.1", &pw, &err), &err);
	CHECK_STR(pw, "envpw");
	lb_secret_free(pw);
	/* no env for this one: no password, no error */
	CHECK_OK(cfg_etcd_password(c, "nouser", &pw, &err), &err);
	CHECK(pw == NULL);
	setenv("LIFEBOAT_ETCD_PASSWORD_NOUSER", "x", 1);
	CHECK_INT(cfg_etcd_password(c, "nouser", &pw, &err), ==, LB_E_CONFIG);
	CHECK_STR(err.msg, "cluster nouser: LIFEBOAT_ETCD_PASSWORD_NOUSER is set but the "
	    "cluster has no user");
	unsetenv("LIFEBOAT_ETCD_PASSWORD_NOUSER");
	/* half a pair is an error that names what is missing */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_INT(cfg_s3_credentials(c, &id, &sec, &tok, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "an access key id but no secret access key");
	CHECK(id == NULL && sec == NULL && tok == NULL);
	unsetenv("AWS_ACCESS_KEY_ID");
	CHECK_OK(cfg_s3_credentials(c, &id, &sec, &tok, &err), &err);
	CHECK(id == NULL && sec == NULL && tok == NULL);
	cfg_free(c);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("LIFEBOAT_ETCD_PASSWORD_PROD_EU_1");
}

static void
files_win_over_env(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char *id = NULL, *sec = NULL, *tok = NULL, *pw = NULL;
	char s3f[128], pwf[128], text[1024];

	snprintf(s3f, sizeof(s3f), "%s/s3-secret", tmpdir);
	snprintf(pwf, sizeof(pwf), "%s/etcd-pw", tmpdir);
	CHECK(write_file(s3f, "filesecret\n", 0600) == 0);
	CHECK(write_file(pwf, "filepw\r\nsecond line\n", 0600) == 0);
	snprintf(text, sizeof(text), G "s3-access-key-id = AKIAFILE\n"
	    "s3-secret-access-key-file = %s\n[cluster:p]\nendpoints = https://e:1\n"
	    "user = u\npassword-file = %s\n", s3f, pwf);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	setenv("LIFEBOAT_ETCD_PASSWORD_P", "envpw", 1);
	CHECK_OK(cfg_parse_string(text, "t", &c, &err), &err);
	CHECK_OK(cfg_s3_credentials(c, &id, &sec, &tok, &err), &err);
	CHECK_STR(id, "AKIAFILE");
	CHECK_STR(sec, "filesecret");
	/* an env session token does not belong with keys from the file */
	CHECK(tok == NULL);
	lb_secret_free(id);
	lb_secret_free(sec);
	CHECK_OK(cfg_etcd_password(c, "p", &pw, &err), &err);
	CHECK_STR(pw, "filepw");
	lb_secret_free(pw);
	unlink(pwf);
	CHECK_INT(cfg_etcd_password(c, "p", &pw, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "cluster p: password-file: cannot read secret file");
	cfg_free(c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("LIFEBOAT_ETCD_PASSWORD_P");
}

static char *
capture(int (*fn)(FILE *), const struct cfg *c, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	if (fp == NULL)
		return NULL;
	if (fn != NULL)
		fn(fp);
	else
		cfg_print(c, fp);
	fclose(fp);
	return buf;
}

static void
print_masks_secrets(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char *out;
	size_t len;

	CHECK_OK(cfg_parse_string(full, "lifeboat.conf", &c, &err), &err);
	out = capture(NULL, c, &len);
	cfg_free(c);
	CHECK(out != NULL);
	if (strstr(out, "AKIAEXAMPLEKEY") != NULL) {
		free(out);
		TH_FAIL("the access key id is printed");
	}
	CHECK_CONTAINS(out, "s3-access-key-id = ********\n");
	CHECK_CONTAINS(out, "compress-level = 6\n");
	CHECK_CONTAINS(out, "[cluster:dev]\nendpoints = http://127.0.0.1:2379\n"
	    "enabled = yes    # default\n");
	CHECK_CONTAINS(out, "# etcd password: password-file");
	/* dev sets no retention: the effective configuration says what that means */
	CHECK_CONTAINS(out, "# retention: none, every backup is kept (prune deletes nothing)\n");
	free(out);
}

static void
example_file_matches_the_table(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	FILE *fp = fopen("contrib/lifeboat.conf.example", "r");
	char *gen, *file, *p, *q;
	size_t glen, flen;

	CHECK(fp != NULL);
	file = malloc(1 << 20);
	flen = fread(file, 1, (1 << 20) - 1, fp);
	file[flen] = '\0';
	fclose(fp);
	gen = capture(cfg_write_example, NULL, &glen);
	if (gen == NULL || glen != flen || memcmp(gen, file, flen) != 0) {
		free(gen);
		free(file);
		TH_FAIL("contrib/lifeboat.conf.example is stale: regenerate it with "
		    "`build/lifeboat config example > contrib/lifeboat.conf.example`");
	}
	free(file);
	/* it parses as it is, and with every option uncommented, so every
	 * example value is valid too */
	if (cfg_parse_string(gen, "example", &c, &err) != 0) {
		free(gen);
		TH_FAIL("example: %s", err.msg);
	}
	cfg_free(c);
	for (p = q = gen; *p != '\0'; p++)
		if (!(*p == '#' && (p == gen || p[-1] == '\n') && p[1] >= 'a' && p[1] <= 'z'))
			*q++ = *p;
	*q = '\0';
	if (cfg_parse_string(gen, "uncommented", &c, &err) != 0) {
		free(gen);
		TH_FAIL("uncommented example: %s", err.msg);
	}
	CHECK_INT(cfg_is_set(c, NULL, "compress-level"), ==, 1);
	cfg_free(c);
	free(gen);
}

static int
print_options(FILE *fp)
{
	cfg_print_options(fp);
	return 0;
}

static void
options_listing_shows_the_table(void)
{
	size_t len;
	char *out = capture(print_options, NULL, &len);

	CHECK(out != NULL);
	CHECK_CONTAINS(out, "  compress-level             auto|int 1..19, default auto, reloadable\n");
	CHECK_CONTAINS(out, "  s3-access-key-id           string, secret, reloadable\n");
	CHECK_CONTAINS(out, "[cluster:NAME]\n  endpoints                  list, 1..32 items, "
	    "required, reloadable\n");
	CHECK_CONTAINS(out, "at most once a minute (@every 1m)");
	CHECK_CONTAINS(out, "(unset: every backup is kept, prune deletes nothing)");
	free(out);
}

static void
reload_refuses_fixed_options(void)
{
	struct lb_err err = { 0 };
	struct cfg *a = NULL, *b = NULL, *d = NULL;

	CHECK_OK(cfg_parse_string(G CL, "a", &a, &err), &err);
	CHECK_OK(cfg_parse_string(G "compress-level = 9\n" CL "[cluster:new]\n"
	    "endpoints = https://n:1\n", "b", &b, &err), &err);
	CHECK_OK(cfg_reload_check(a, b, &err), &err);
	CHECK_OK(cfg_parse_string("[global]\nrepo = file:///other\n" CL, "d", &d, &err), &err);
	CHECK_INT(cfg_reload_check(a, d, &err), ==, LB_E_CONFIG);
	CHECK_STR(err.msg, "repo cannot change on reload (restart lifeboat)");
	cfg_free(a);
	cfg_free(b);
	cfg_free(d);
}

static void
load_reads_files(void)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	CHECK_INT(cfg_load(path, &c, &err), ==, LB_E_NOTFOUND);
	CHECK_CONTAINS(err.msg, "cannot read configuration");
	snprintf(path, sizeof(path), "%s/nul.conf", tmpdir);
	CHECK(write_file(path, "[global]\nrepo = file:///b\n", 0644) == 0);
	CHECK_OK(cfg_load(path, &c, &err), &err);
	CHECK_STR(cfg_source(c), path);
	cfg_free(c);
	/* a NUL byte cuts no line short: it is refused */
	{
		FILE *fp = fopen(path, "a");

		fputc('\0', fp);
		fputs("compress-level = 99\n", fp);
		fclose(fp);
	}
	CHECK_INT(cfg_load(path, &c, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "contains a NUL byte");
	CHECK(c == NULL);
	/* a directory given for the file: a configuration error (exit 2),
	 * as a missing file is, not an I/O error (exit 1) */
	CHECK_INT(cfg_load(tmpdir, &c, &err), ==, LB_E_CONFIG);
	CHECK_CONTAINS(err.msg, "is a directory");
	CHECK_INT(lb_err_exit_status(err.code), ==, 2);
	CHECK(c == NULL);
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
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	RUN(full_file_gives_every_value_back);
	RUN(defaults_fill_what_is_not_set);
	RUN(each_error_names_file_and_line);
	RUN(object_lock_global_and_per_cluster);
	RUN(long_line_refused);
	RUN(durations_and_sizes);
	RUN(age_keygen_recipient_accepted);
	RUN(env_supplies_secrets_the_file_does_not);
	RUN(files_win_over_env);
	RUN(print_masks_secrets);
	RUN(example_file_matches_the_table);
	RUN(options_listing_shows_the_table);
	RUN(reload_refuses_fixed_options);
	RUN(load_reads_files);
	status = TH_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return status;
}
