/*
 * catalog_fixture.c: prepares catalogs for the integration tests through
 * the catalog's public API only (tests-only; never installed).
 *
 *   catalog_fixture DB record MANIFEST-FILE...        cat_record_manifest
 *   catalog_fixture DB begin CLUSTER ID RFC3339       cat_backup_begin
 *   catalog_fixture DB verify ID ok|failed DETAIL     cat_set_verified
 *   catalog_fixture DB audit ACTION CLUSTER ID OUTCOME [DETAILS-JSON]
 *
 * Exits 0 on success, 1 with the error message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (fp == NULL)
		return NULL;
	if ((buf = calloc(1, CAT_MANIFEST_MAX + 2)) != NULL) {
		n = fread(buf, 1, CAT_MANIFEST_MAX + 1, fp);
		buf[n] = '\0';
	}
	fclose(fp);
	return buf;
}

static int
action(const char *s)
{
	int a;

	for (a = CAT_ACT_BACKUP; a <= CAT_ACT_RESTORE; a++)
		if (strcmp(s, cat_action_name((enum cat_action)a)) == 0)
			return a;
	return -1;
}

int
main(int argc, char **argv)
{
	struct lb_err err = { 0 };
	struct cat *c = NULL;
	int64_t t;
	char *doc;
	int i, r = LB_E_USAGE;

	if (argc < 3) {
		fprintf(stderr, "usage: catalog_fixture DB record|begin|verify|audit ...\n");
		return 2;
	}
	if ((r = cat_open(argv[1], 0, &c, &err)) < 0)
		goto out;
	if (strcmp(argv[2], "record") == 0) {
		for (i = 3; i < argc && r == 0; i++) {
			if ((doc = slurp(argv[i])) == NULL) {
				r = lb_err_set(&err, LB_E_IO, "cannot read %s", argv[i]);
				break;
			}
			r = cat_record_manifest(c, doc, &err);
			free(doc);
		}
	} else if (strcmp(argv[2], "begin") == 0 && argc == 6) {
		if ((r = cat_time_parse(argv[5], 0, &t, &err)) == 0)
			r = cat_backup_begin(c, argv[3], argv[4], t, NULL, &err);
	} else if (strcmp(argv[2], "verify") == 0 && argc == 6) {
		r = cat_set_verified(c, argv[3], 0, strcmp(argv[4], "ok") == 0, argv[5], &err);
	} else if (strcmp(argv[2], "audit") == 0 && (argc == 7 || argc == 8) &&
	    action(argv[3]) >= 0) {
		r = cat_audit(c, (enum cat_action)action(argv[3]), argv[4], argv[5], argv[6],
		    argc == 8 ? argv[7] : NULL, &err);
	} else {
		r = lb_err_set(&err, LB_E_USAGE, "bad fixture command");
	}
out:
	cat_close(c);
	if (r < 0) {
		fprintf(stderr, "catalog_fixture: %s\n", err.msg);
		return 1;
	}
	return 0;
}
