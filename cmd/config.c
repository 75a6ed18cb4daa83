/*
 * config.c: `lifeboat config check [--probe]|options|example`.  check
 * loads the configuration (--config), reads every secret and certificate
 * file it names, prints the effective configuration with secrets masked,
 * and reports what would fail once running (verify-schedule without a
 * readable identity, a time zone not in the tz database, pitr without
 * recipients); --probe also
 * reaches the repository and every etcd endpoint.  Exit status 0, 2 on a
 * configuration error or problem, 1 when a probe failed.
 *
 * The configuration module parses and prints; this command adds what only
 * a command does: reading the files and secrets the configuration names,
 * the problems that would show once running, and the probe (ops/probe.h).
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "config/config.h"
#include "env/setup.h"
#include "repo/manifest.h"
#include "ops/probe.h"
#include "scheduler/cron.h"

/* The signing key and the trusted signers load now, not at the first
 * backup; that the two agree where both are set; and, where no trusted
 * signers are set, that backups can be planted. */
static int
check_signing(const struct cfg *c, struct lb_err *err)
{
	struct sig_signers *trust = NULL;
	struct sig_key *key = NULL;
	struct lb_err e;
	int r;

	if ((r = setup_signing_key(c, &key, err)) < 0 ||
	    (r = setup_trusted_signers(c, NULL, &trust, err)) < 0)
		goto out;
	if (key == NULL)
		log_warn("no signing-key: manifests are not signed, so nothing tells this "
		    "appliance's backups from planted ones (hint: lifeboat keygen --signing)");
	if (trust == NULL)
		log_warn("%s", "no trusted-signers: restore and verify here take a backup "
		    "anyone with write access to the bucket planted as good");
	else if (key != NULL && sig_signers_trusts(trust, key, NULL, MANIFEST_SIG_NS, &e) < 0)
		log_warn("trusted-signers does not list signing-key: %s (restore and "
		    "verify here would refuse this appliance's own backups)", e.msg);
out:
	sig_key_free(key);
	sig_signers_free(trust);
	return r;
}

/* Every file the configuration names must be readable now, rather than
 * at 3 a.m.; the identity may be kept offline, so it only warns. */
static int
check_files(const struct cfg *c, struct lb_err *err)
{
	static const enum cfg_opt gfiles[] = { CFG_S3_CA_FILE, CFG_RECIPIENTS_FILE };
	static const enum cfg_opt cfiles[] = { CFG_CACERT, CFG_CERT, CFG_KEY };
	const char *path;
	char *a = NULL, *b = NULL, *t = NULL;
	size_t i, k;
	int r;

	for (i = 0; i < 2; i++)
		if ((path = cfg_get_str(c, NULL, gfiles[i])) != NULL && access(path, R_OK) < 0)
			return lb_err_sys(err, LB_E_CONFIG, errno, "%s: cannot read %s",
			    cfg_opt_name(gfiles[i]), path);
	if ((path = cfg_get_str(c, NULL, CFG_IDENTITY_FILE)) != NULL &&
	    access(path, R_OK) < 0)
		log_warn("identity-file %s is not readable here: verification and "
		    "restore need it", path);
	if ((r = check_signing(c, err)) < 0 ||
	    (r = cfg_s3_credentials(c, &a, &b, &t, err)) < 0)
		return r;
	lb_secret_free(a);
	lb_secret_free(b);
	lb_secret_free(t);
	for (k = 0; k < cfg_cluster_count(c); k++) {
		const char *name = cfg_cluster_name(c, k);

		for (i = 0; i < 3; i++)
			if ((path = cfg_get_str(c, name, cfiles[i])) != NULL &&
			    access(path, R_OK) < 0)
				return lb_err_sys(err, LB_E_CONFIG, errno,
				    "cluster %s: %s: cannot read %s", name,
				    cfg_opt_name(cfiles[i]), path);
		if ((r = cfg_etcd_password(c, name, &a, err)) < 0)
			return r;
		lb_secret_free(a);
		a = NULL;
	}
	return 0;
}

/* What parses but would fail once the daemon runs, each problem named
 * with its fix (all of them, not the first).  Returns the number of
 * problems; the warnings do not count. */
static int
check_runtime(const struct cfg *c)
{
	const char *id = cfg_get_str(c, NULL, CFG_IDENTITY_FILE);
	const char *tz = cfg_get_str(c, NULL, CFG_TIMEZONE);
	const char *const *list = NULL;
	size_t i;
	int bad = 0;

	if (!sched_tz_valid(tz)) {
		log_error("timezone: %s is not in the tz database: lifeboat snapd would "
		    "refuse to start", tz);
		bad++;
	}
	/* drill-schedule has a default; without the identity it is off, and
	 * says so here rather than by a failing drill a day */
	if (id == NULL && cfg_cluster_count(c) > 0)
		log_warn("identity-file is not set: scheduled restore drills are off "
		    "(drill-schedule); another appliance holding the identity can drill "
		    "these backups (see the README's \"Restore drills\")");
	for (i = 0; i < cfg_cluster_count(c); i++) {
		const char *name = cfg_cluster_name(c, i);

		/* The daemon would start and /healthz stay 200 while every
		 * scheduled verification fails. */
		if (cfg_get_str(c, name, CFG_VERIFY_SCHEDULE) != NULL) {
			if (id == NULL) {
				log_error("[cluster:%s] verify-schedule is set but identity-file "
				    "is not: every scheduled verification would fail (set "
				    "identity-file to the age identity, readable by lifeboat "
				    "snapd)", name);
				bad++;
			} else if (access(id, R_OK) < 0) {
				log_error("[cluster:%s] verify-schedule needs identity-file %s, "
				    "which cannot be read here (%s): every scheduled "
				    "verification would fail", name, id, strerror(errno));
				bad++;
			}
		}
		/* Segments are encrypted like backups: without a recipient the
		 * capture would fail at its first segment, every time. */
		if (cfg_get_int(c, name, CFG_PITR) != 0 &&
		    cfg_get_list(c, NULL, CFG_RECIPIENTS, &list) == 0 &&
		    cfg_get_str(c, NULL, CFG_RECIPIENTS_FILE) == NULL) {
			log_error("[cluster:%s] pitr = on needs recipients (or recipients-file): "
			    "event-log segments are encrypted like backups", name);
			bad++;
		}
		if (cfg_get_str(c, name, CFG_RETENTION) == NULL)
			log_warn("[cluster:%s] no retention: every backup is kept and prune "
			    "deletes nothing (set e.g. retention = keep-last=12,keep-daily=14)",
			    name);
	}
	return bad;
}

int
cmd_config(const struct lb_globals *g, int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cfg *c = NULL;
	int r, probe = 0, bad, failed = 0;

	int help = 0, i;

	/* --help anywhere: `config check --help` as much as `config --help` */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			help = 1;
	if (help) {
		argc = 2;
		argv[1] = "--help";
	}
	if (argc == 2 && strcmp(argv[1], "options") == 0) {
		cfg_print_options(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "example") == 0)
		return cfg_write_example(stdout) == 0 ? 0 : 1;
	if (argc == 2 && strcmp(argv[1], "man") == 0)
		return cfg_write_man(stdout, LB_VERSION) == 0 ? 0 : 1;
	if (argc == 3 && strcmp(argv[1], "check") == 0 && strcmp(argv[2], "--probe") == 0) {
		probe = 1;
		argc = 2;
	}
	if (argc != 2 || strcmp(argv[1], "check") != 0) {
		fprintf(argc == 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) ? stdout : stderr,
		    "usage: lifeboat config check [--probe]\n"
		    "                                 load the configuration, read the files it "
		    "names, print it (secrets masked)\n"
		    "                                 and say what would fail once running; "
		    "--probe: also reach the\n"
		    "                                 repository (write and delete a probe "
		    "object) and every etcd endpoint\n"
		    "       lifeboat config options   list every option\n"
		    "       lifeboat config example   print an example configuration\n"
		    "       lifeboat config man       print the manual page lifeboat.conf(5) (roff)\n");
		return argc == 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) ? 0 : 2;
	}
	if ((r = cfg_load(g->config_path, &c, &err)) < 0 ||
	    (r = check_files(c, &err)) < 0) {
		if (r == LB_E_NOTFOUND && !g->config_explicit)
			lb_err_prefix(&err, "no configuration (hint: --config FILE or "
			    "$LIFEBOAT_CONFIG): ");
		log_error("%s", err.msg);
		cfg_free(c);
		/* a missing file is as much a configuration problem as a bad one */
		return r == LB_E_NOTFOUND ? lb_err_exit_status(LB_E_CONFIG) :
		    lb_err_exit_status(r);
	}
	r = cfg_print(c, stdout);
	bad = check_runtime(c);
	if (probe) {
		printf("\n# probe\n");
		failed = probe_config(c, stdout);
	}
	cfg_free(c);
	if (bad > 0)
		return lb_err_exit_status(LB_E_CONFIG);
	if (failed > 0) {
		log_error("probe: %d check%s failed", failed, failed == 1 ? "" : "s");
		return 1;
	}
	return r == 0 ? 0 : 1;
}
