/*
 * rebuild.c: `lifeboat catalog rebuild [--threads N]`: options and the
 * summary; the rebuild itself is ops_rebuild (ops/ops.h).  Exits with
 * LB_E_PARTIAL's status when a manifest was malformed or not trusted, an
 * object missing or a row kept unproven.  Warns once when no trusted
 * signers are configured.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "env/trust.h"
#include "ops/ops.h"

#define REBUILD_USAGE "usage: lifeboat catalog rebuild [--threads N] [--catalog PATH] " \
	"[--insecure-skip-signature]\n" \
	"\n" \
	"Recreates the catalog from the repository's manifests alone and takes the\n" \
	"audit trail back; a row is dropped only when its manifest is proven\n" \
	"absent.  With trusted-signers, a manifest not signed by one of them is\n" \
	"not recorded.  --threads N: manifests read at once.\n" \
	"Exit status: 0 done, 3 some manifests malformed or refused, 1 failed.\n"

int
cmd_catalog_rebuild(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "catalog", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "insecure-skip-signature", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lb_err err = { 0 };
	struct lb_env e = { 0 };
	struct ops_rebuild_result res;
	const char *catalog = NULL, *warn;
	int ch, n_threads = OPS_REBUILD_THREADS, status = 2, skip_sig = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': catalog = optarg; break;
		case 't':
			n_threads = atoi(optarg);
			if (n_threads < 1 || n_threads > OPS_REBUILD_THREADS_MAX) {
				fprintf(stderr, "lifeboat catalog rebuild: --threads: 1 to %d\n",
				    OPS_REBUILD_THREADS_MAX);
				return 2;
			}
			break;
		case 'S': skip_sig = 1; break;
		case 'h':
			fputs(REBUILD_USAGE, stdout);
			return 0;
		default:
			fputs(REBUILD_USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(REBUILD_USAGE, stderr);
		return 2;
	}
	if (env_open(g->config_path, catalog, ENV_REPO | ENV_CAT, &e, &err) < 0) {
		status = cmd_fail(&err);
		goto out;
	}
	e.skip_signature = skip_sig;
	if ((warn = trust_unset_warning(&e)) != NULL)
		log_warn("%s", warn);
	if (ops_rebuild(&e, n_threads, &res, &err) < 0) {
		status = cmd_fail(&err);
		goto out;
	}
	printf("rebuild: %zu manifest(s) in %s, %zu recorded, %zu malformed, %zu with "
	    "missing objects, %zu dropped, %.1fs\n", res.manifests, repo_url(e.repo),
	    res.recorded, res.malformed, res.missing, res.dropped, res.seconds);
	if (res.untrusted > 0)
		printf("rebuild: %zu of the malformed: not trusted (unsigned, altered, or "
		    "signed by a key trusted-signers does not list; see the log)\n",
		    res.untrusted);
	if (res.skipped_signature > 0)
		printf("rebuild: INSECURE: %zu manifest(s) recorded though their signature "
		    "check failed (--insecure-skip-signature)\n", res.skipped_signature);
	if (res.kept > 0)
		printf("rebuild: %zu backup(s) not in the listing kept: their manifests were "
		    "not proven absent\n", res.kept);
	printf("rebuild: audit trail: %zu event(s) taken back, %zu known already, %zu "
	    "not taken (see the log)\n", res.events, res.events_known, res.events_refused);
	if (res.segments > 0)
		printf("rebuild: event log: %zu segment(s), %zu recorded now, %zu known "
		    "already, %zu not recorded (see the log)\n", res.segments,
		    res.segments_added, res.segments_known, res.segments_refused);
	status = res.malformed + res.missing + res.kept > 0 ?
	    lb_err_exit_status(LB_E_PARTIAL) : 0;
out:
	env_close(&e);
	return status;
}
