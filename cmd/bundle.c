/*
 * bundle.c: `lifeboat catalog export ID -o FILE.tar` and `lifeboat
 * catalog import FILE.tar`: options and the one line that says what was
 * done; the bundles themselves are ops_export and ops_import (ops/ops.h).
 * Import warns once when no trusted signers are configured.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "common/log.h"
#include "env/trust.h"
#include "ops/ops.h"

int
cmd_catalog_export(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "catalog", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *use = "usage: lifeboat catalog export ID -o FILE.tar "
	    "[--catalog PATH]\n"
	    "\n"
	    "Writes one backup (its objects, still encrypted, its manifest and the\n"
	    "manifest's signature) as one tar bundle, for another repository such\n"
	    "as an air-gapped site's (catalog import).\n";
	struct lb_err err = { 0 };
	struct lb_env e = { 0 };
	const char *catalog = NULL, *out = NULL;
	uint64_t bytes = 0;
	int ch, status = 2;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': catalog = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind != argc - 1 || out == NULL) {
		fputs(use, stderr);
		return 2;
	}
	if (env_open(g->config_path, catalog, ENV_REPO | ENV_CAT, &e, &err) < 0 ||
	    ops_export(&e, argv[optind], out, &bytes, &err) < 0) {
		status = cmd_fail(&err);
		goto done;
	}
	printf("exported %s to %s (%llu bytes of objects)\n", argv[optind], out,
	    (unsigned long long)bytes);
	status = 0;
done:
	env_close(&e);
	return status;
}

int
cmd_catalog_import(const struct lb_globals *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "catalog", required_argument, NULL, 'c' },
		{ "insecure-skip-signature", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *use = "usage: lifeboat catalog import FILE.tar [--catalog PATH] "
	    "[--insecure-skip-signature]\n"
	    "\n"
	    "Reads a bundle (catalog export) into the repository and the catalog.\n"
	    "Refuses a backup id already there (the very same manifest is skipped)\n"
	    "and never overwrites or deletes a key it did not write; with\n"
	    "trusted-signers, a bundle whose manifest is not signed by one of them is\n"
	    "refused before anything is written.\n";
	struct lb_err err = { 0 };
	struct lb_env e = { 0 };
	struct ops_import_result res;
	const char *catalog = NULL, *warn;
	int ch, status = 2, skip_sig = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': catalog = optarg; break;
		case 'S': skip_sig = 1; break;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(use, stderr);
		return 2;
	}
	if (env_open(g->config_path, catalog, ENV_REPO | ENV_CAT, &e, &err) < 0) {
		status = cmd_fail(&err);
		goto done;
	}
	e.skip_signature = skip_sig;
	if ((warn = trust_unset_warning(&e)) != NULL)
		log_warn("%s", warn);
	if (ops_import(&e, argv[optind], &res, &err) < 0) {
		status = cmd_fail(&err);
		goto done;
	}
	if (res.skipped)
		printf("%s (%s) is already in %s with the same manifest: nothing imported\n",
		    res.backup_id, res.cluster, repo_url(e.repo));
	else
		printf("imported %s (%s) from %s into %s (%llu bytes of objects)\n",
		    res.backup_id, res.cluster, argv[optind], repo_url(e.repo),
		    (unsigned long long)res.bytes);
	status = 0;
done:
	env_close(&e);
	return status;
}
