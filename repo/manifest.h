/*
 * manifest.h: the record of one backup, stored as manifest.json next to
 * its member objects and written last.  A backup without a manifest is
 * incomplete and never offered for restore.
 *
 * The JSON form is fixed for good: fields may be added, never renamed or
 * removed.  Format 2 ("lifeboat-manifest/2", written from the second
 * wave on) adds the chain of a cluster's backups (sequence and the sha256
 * of the previous manifest) and the signer's key fingerprint; the
 * signature itself lies beside the manifest (MANIFEST_SIG_NAME).  Format
 * 1 manifests are still read.  The catalog is rebuilt from manifests, and
 * restore reads them when no catalog exists, so this module is the one
 * place that writes and parses them.
 */
#ifndef LB_MANIFEST_H
#define LB_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define MANIFEST_FORMAT "lifeboat-manifest/2"
#define MANIFEST_FORMAT_1 "lifeboat-manifest/1"
#define MANIFEST_NAME "manifest.json"
/* The detached SSHSIG signature of manifest.json, beside it, and the
 * namespace it is made in (ssh-keygen -Y verify -n lifeboat-manifest). */
#define MANIFEST_SIG_NAME "manifest.json.sig"
#define MANIFEST_SIG_NS "lifeboat-manifest"
#define MANIFEST_MAX (4u * 1024 * 1024)  /* largest manifest read */
#define MANIFEST_ID_MAX 64        /* backup_id: at most this many bytes */
#define MANIFEST_NAME_MAX 128     /* cluster and member names */
#define MANIFEST_MEMBERS_MAX 64   /* members of a manifest read back */
/* Members manifest_add_member takes: a backup writes one per member of
 * its cluster, and etcd's member list is read up to 1024 (etcd.h's
 * ETCD_MEMBERS_MAX; repo does not include etcd). */
#define MANIFEST_ADD_MAX 1024

/* A plain data record, not an object: fields are read and set directly. */
struct manifest_member {
	char *name;
	char *id;                  /* hex, as etcdctl prints it */
	char *endpoint;
	int learner;
	int leader;
	char *status;              /* "ok" or "failed" */
	char *error;               /* NULL when ok */
	char *etcd_version;
	int64_t revision;          /* of the snapshot itself */
	uint64_t raft_index;
	uint64_t raft_term;
	uint64_t db_size;
	char *etcd_sha256;         /* hex: etcd's trailer */
	char *object;              /* key relative to the repository root */
	uint64_t stored_size;
	char *stored_sha256;       /* hex: sha256 of the stored bytes */
	char *started_at;          /* RFC 3339 UTC */
	char *finished_at;
	int has_hashkv;
	uint32_t hashkv;           /* HashKV at consistency_revision */
	/* Informational (decompression needs none of it): the zstd level
	 * that compressed most of this member's bytes and the lowest and
	 * highest a job was given; 0 when not recorded (older manifests,
	 * failed members).  They differ only with compress-level auto. */
	int compress_level;
	int compress_level_min;
	int compress_level_max;
};

struct manifest {
	char *backup_id;
	char *cluster;
	char *cluster_id;
	char *status;              /* "complete" or "partial" */
	char *started_at;
	char *finished_at;
	char *lifeboat_version;
	char *hostname;
	char *leader;              /* member name */
	char *etcd_version;
	int64_t revision;          /* highest member revision */
	uint64_t db_size;          /* of the member with that revision */
	uint64_t stored_size;      /* all member objects together */
	char *compression;         /* "zstd" */
	int compress_level;        /* fixed: as configured; auto: the level
	                            * most bytes of all members got */
	int compress_threads;
	int compress_auto;         /* 1: compress-level auto ("auto": true) */
	char *encryption;          /* "age-v1" */
	char **recipients;         /* fingerprints */
	size_t n_recipients;
	int64_t consistency_revision;   /* 0: not checked */
	int consistent;                 /* 1 if every HashKV agreed, 0 if
	                                 * they differ, -1 not compared
	                                 * ("consistent": null) */
	char *consistency_error;        /* why it could not be checked */
	int64_t sequence;          /* the cluster's backups, 1, 2, ...; 0: none (format 1) */
	char *previous_sha256;     /* hex: of the cluster's previous manifest; NULL: first */
	char *signer;              /* "SHA256:..." of the signing key; NULL: unsigned */
	struct manifest_member *members;
	size_t n_members;
	size_t members_cap;        /* allocated (manifest_add_member's) */
};

/* An empty manifest with the fixed fields set; NULL when out of memory. */
struct manifest *manifest_new(void);
void manifest_free(struct manifest *m);

/* Appends a zeroed member and returns it (NULL when out of memory or
 * past MANIFEST_ADD_MAX members). */
struct manifest_member *manifest_add_member(struct manifest *m);

/* Serialises to JSON (malloc'd, NUL-terminated). */
int manifest_to_json(const struct manifest *m, char **out, struct lb_err *err);

/* Parses and validates JSON; errors name the field ("manifest: members[1].
 * stored_sha256: missing").  A format other than MANIFEST_FORMAT is
 * refused.  Beyond types it checks: backup_id, cluster and member names
 * pass manifest_name_ok; cluster and member ids are hex; member names are
 * unique; member status is "ok" or "failed" and backup status "complete"
 * (every member ok) or "partial"; hashes are 64 hex digits; object keys
 * are relative without "..".  Times are not parsed here. */
int manifest_parse(const char *json, size_t len, struct manifest **out,
    struct lb_err *err);

/* out = the sha256 of a manifest's bytes, in hex: what the next
 * manifest of the cluster records as previous_manifest_sha256. */
void manifest_sha256_hex(const char *json, size_t len, char out[65]);

/* Links m after prev_json, the manifest at the end of its cluster's
 * chain (NULL: m is the first): sequence one higher (1 after a format 1
 * manifest, which has none) and previous_sha256 its hash.  prev_json that
 * does not parse, or is of another cluster, is LB_E_CORRUPT. */
int manifest_chain_after(struct manifest *m, const char *prev_json, struct lb_err *err);

/* 1 if s may name a backup, cluster or member (it becomes part of object
 * keys and file names): 1..max of [A-Za-z0-9._-], not starting with '.'
 * or '-'. */
int manifest_name_ok(const char *s, size_t max);

/* The member object of the highest revision that is "ok", or NULL. */
const struct manifest_member *manifest_best_member(const struct manifest *m);

/* Backup ids sort by time: "20261121T234500.123Z-3f9a1c" (UTC to the
 * millisecond, then 6 random hex digits).  out holds 32. */
void manifest_new_backup_id(char out[32]);

/* "<cluster>/<YYYY>/<MM>/<DD>/<backup-id>/" from a backup id. */
int manifest_backup_dir(const char *cluster, const char *backup_id,
    char *out, size_t cap);

/* manifest_backup_dir + MANIFEST_NAME: where backup_id's manifest lives. */
int manifest_key(const char *cluster, const char *backup_id, char *out, size_t cap);

/* LB_E_CORRUPT unless m was read from key, its own backup's manifest key:
 * a manifest copied under another backup's key must not pass for that
 * backup (keys sort by id, and "newest" is read from them). */
int manifest_check_key(const struct manifest *m, const char *key, struct lb_err *err);

/* Now as RFC 3339 UTC ("2026-11-21T23:45:00Z"); out holds 32. */
void manifest_now(char out[32]);

#endif
