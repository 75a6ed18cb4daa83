/*
 * head.h: a cluster's signed head, <cluster>/HEAD.json beside
 * <cluster>/HEAD.json.sig, rewritten by every backup run: the newest
 * backup of the cluster, its sequence and the sha256 of its manifest,
 * when it was signed and until when it is valid (a few schedule
 * intervals: the next runs rewrite it before then).
 *
 * What it tells a restore from the bucket alone that the manifests do
 * not: that nothing newer was deleted or withheld (a head past
 * valid_until means the appliance stopped rewriting it, or someone keeps
 * serving an old one), and, against the newest sequence an appliance's
 * catalog has seen, that the bucket was not rolled back.  It never blocks
 * a restore: an operator may have to restore from what is left.
 *
 * The JSON form is fixed for good ("format": "lifeboat-head/1"); the
 * signature is SSHSIG in namespace HEAD_SIG_NS, so a manifest's signature
 * cannot pass for a head's or the reverse.
 */
#ifndef LB_HEAD_H
#define LB_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define HEAD_FORMAT "lifeboat-head/1"
#define HEAD_NAME "HEAD.json"
#define HEAD_SIG_NS "lifeboat-head"
#define HEAD_MAX (64u * 1024)     /* largest head read */

/* A plain data record. */
struct head {
	char cluster[128];
	char backup_id[64];
	int64_t sequence;          /* of that backup's manifest; 0: format 1 */
	char manifest_sha256[65];  /* hex */
	int64_t signed_at;         /* unix seconds */
	int64_t valid_until;
	char signer[64];           /* "SHA256:..." or "" */
};

/* "<cluster>/HEAD.json" into out. */
int head_key(const char *cluster, char *out, size_t cap);

/* Serialises h (malloc'd, NUL-terminated). */
int head_to_json(const struct head *h, char **out, struct lb_err *err);

/* Parses and validates (format, names, hex, times in order); LB_E_CORRUPT
 * names the field. */
int head_parse(const char *json, size_t len, struct head *h, struct lb_err *err);

#endif
