/*
 * pull.h: discover the members of a cluster and pull a verified snapshot
 * from each one, in parallel, into a chain the caller builds per member.
 *
 * `lifeboat pull` builds a file sink per member; `lifeboat backup` builds
 * zstd -> age -> sha256 -> repository.  Either way this module puts etcd's
 * trailer check in front of the caller's chain and finishes the chain only
 * when the stream ended cleanly and the trailer matched, so a cut stream or
 * a bad hash never commits anything.
 */
#ifndef LB_PULL_H
#define LB_PULL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "etcd/etcd.h"
#include "stream/flt.h"

/* One member to pull, and afterwards what came of it. */
struct pull_target {
	uint64_t id;
	char id_hex[17];
	char *name;                /* member name, or its id if it has none */
	char *endpoint;            /* the client URL pulled from */
	int is_learner;
	int is_leader;
	/* results */
	int rc;                    /* 0 ok, else LB_E_*; err says why */
	struct lb_err err;
	struct etcd_status status; /* taken just before the snapshot */
	uint64_t bytes;            /* stream bytes: database + trailer */
	uint64_t db_size;
	uint8_t etcd_sha256[32];   /* etcd's trailer: sha256 of the database */
	struct timespec started, finished;   /* CLOCK_REALTIME */
};

struct pull_plan {
	uint64_t cluster_id;
	uint64_t leader;           /* member id, 0 if unknown */
	size_t n;
	struct pull_target *t;
};

/* Asks the given endpoints, in turn, for the member list; the first that
 * answers wins.  Fails only if none answers. */
int pull_plan_discover(char *const *endpoints, size_t n_endpoints,
    const struct etcd_opts *o, struct pull_plan **out, struct lb_err *err);

void pull_plan_free(struct pull_plan *p);

struct pull_hooks {
	/* Adds the caller's stages for target i to c, in reading order after
	 * etcd's trailer check, its sink last; the chain is freed by pull_run. */
	int (*make_chain)(void *arg, size_t i, struct pull_target *t,
	    struct flt_chain *c, struct lb_err *err);
	/* Optional: called after the chain finished, before it is freed, to
	 * read results off its stages (digests, sizes). */
	int (*finished)(void *arg, size_t i, struct pull_target *t,
	    struct lb_err *err);
	void *arg;
};

/* Pulls every target, at most `parallel` at once.  Each target's rc and
 * err say how it went; returns the number of targets pulled. */
size_t pull_run(struct pull_plan *p, const struct etcd_opts *o, int parallel,
    const struct pull_hooks *h);

/* A member name fit for a file name or object key: member names come from
 * the cluster, so anything but [A-Za-z0-9._-] becomes '_' and a leading
 * '.' too, keeping them from climbing out of a directory. */
void pull_safe_name(const char *name, char *out, size_t cap);

/* pull_run with a file sink per target: out_dir/<safe name>.db, written
 * atomically (what `lifeboat pull` stores).  Returns the number of
 * targets pulled. */
size_t pull_to_files(struct pull_plan *p, const struct etcd_opts *o,
    int parallel, const char *out_dir);

#endif
