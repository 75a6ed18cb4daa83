/*
 * inspect.c: `lifeboat inspect FILE [--json]`: prints what the bbolt
 * reader (snapshot/bbolt.h) found in an etcd snapshot.  Exits 0 if the
 * database is readable and its trailer is not bad, 1 with one line on
 * stderr otherwise, 2 on a usage error.
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/fmt.h"
#include "snapshot/bbolt.h"

static int
print_json(const char *path, const struct bbolt_info *in, const char *sha)
{
	json_t *o;
	int rc;

	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s?, s:s?}",
	    "file", path,
	    "revision", (json_int_t)in->revision,
	    "compact_revision", (json_int_t)in->compact_revision,
	    "consistent_index", (json_int_t)in->consistent_index,
	    "total_keys", (json_int_t)in->total_keys,
	    "hash", (json_int_t)in->hash,
	    "db_size", (json_int_t)in->db_size,
	    "file_size", (json_int_t)in->file_size,
	    "page_size", (json_int_t)in->page_size,
	    "txid", (json_int_t)in->txid,
	    "trailer", bbolt_trailer_name(in->trailer),
	    "sha256", sha,
	    "storage_version", in->storage_version[0] ? in->storage_version : NULL,
	    "cluster_version", in->cluster_version[0] ? in->cluster_version : NULL);
	if (o == NULL)
		return -1;
	rc = json_dumpf(o, stdout, JSON_COMPACT);
	json_decref(o);
	if (rc == 0)
		putchar('\n');
	return rc;
}

static void
inspect_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat inspect FILE [--json]\n"
	    "\n"
	    "Reads an etcd snapshot (or a copy of member/snap/db) without etcd and\n"
	    "prints what 'etcdctl snapshot status' prints, checks etcd's sha256\n"
	    "trailer and the bbolt structure.  Exits 1 if the file is damaged.\n"
	    "\n"
	    "  --json   one JSON object (revision, total_keys, hash, db_size, ...)\n");
}

int
cmd_inspect(const struct lb_globals *g, int argc, char **argv)
{
	struct bbolt_info info;
	struct lb_err err;
	const char *path = NULL;
	char sha[65];
	int i, json = 0, opts = 1, rc;

	(void)g;
	lb_err_clear(&err);
	for (i = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
		} else if (opts && strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (opts && (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)) {
			inspect_usage(stdout);
			return 0;
		} else if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "lifeboat inspect: unknown option '%s' "
			    "(see 'lifeboat inspect --help')\n", argv[i]);
			return 2;
		} else if (path != NULL) {
			fprintf(stderr, "lifeboat inspect: one FILE only "
			    "(see 'lifeboat inspect --help')\n");
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (path == NULL) {
		inspect_usage(stderr);
		return 2;
	}
	if ((rc = bbolt_inspect_file(path, &info, &err)) < 0) {
		fprintf(stderr, "lifeboat inspect: %s\n", err.msg);
		return lb_err_exit_status(rc);
	}
	lb_hex(info.sha256, sizeof(info.sha256), sha);
	if (json) {
		if (print_json(path, &info, sha) < 0) {
			fprintf(stderr, "lifeboat inspect: cannot format JSON\n");
			return 1;
		}
	} else {
		printf("file:             %s\n", path);
		printf("revision:         %llu\n", (unsigned long long)info.revision);
		printf("compact revision: %llu\n",
		    (unsigned long long)info.compact_revision);
		printf("consistent index: %llu\n",
		    (unsigned long long)info.consistent_index);
		printf("total keys:       %llu\n", (unsigned long long)info.total_keys);
		printf("hash:             %x\n", info.hash);
		printf("db size:          %llu\n", (unsigned long long)info.db_size);
		printf("file size:        %llu\n", (unsigned long long)info.file_size);
		printf("page size:        %u\n", info.page_size);
		printf("bbolt txid:       %llu\n", (unsigned long long)info.txid);
		printf("trailer:          %s\n", bbolt_trailer_name(info.trailer));
		printf("sha256:           %s\n", sha);
		printf("storage version:  %s\n", info.storage_version[0] ? info.storage_version : "-");
		printf("cluster version:  %s\n", info.cluster_version[0] ? info.cluster_version : "-");
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "lifeboat inspect: cannot write output\n");
		return 1;
	}
	if (info.trailer == BBOLT_TRAILER_BAD) {
		fprintf(stderr, "lifeboat inspect: %s: etcd sha256 trailer mismatch: "
		    "the file is damaged\n", path);
		return 1;
	}
	return 0;
}
