/*
 * compat.c: which etcd may restore, and then run, a snapshot of which
 * etcd version.
 *
 * etcd's rule, in its own words and code:
 *   - "restoring requires server to match the minor 3.X version of server
 *     that created the snapshot (for example 3.4 snapshot can be only
 *     restored into 3.4 server)": etcd issue #13070, the reason the
 *     Snapshot RPC gained its `version` field in 3.6 (rpc.proto:
 *     "Informs which etcd server version should be used when restoring
 *     the snapshot").
 *   - From 3.6 the server enforces it at start (bootstrap.go calls
 *     schema.Validate): a data dir of a newer minor fails with
 *     `version "3.7.0" is not supported`, after the restore has written
 *     it; CHANGELOG-3.6: "etcd will no longer start on data dir created
 *     by newer versions".  A 3.5 server checks nothing and runs a newer
 *     schema silently.
 *   - Upgrades and downgrades go one minor at a time (etcd's upgrade and
 *     downgrade guides); a server one minor newer migrates the schema of
 *     the older data dir at start, which is what every rolling upgrade
 *     does.
 *   - etcdutl's restore itself checks no version, in any release.
 * So lifeboat allows the same minor, allows one minor newer with a
 * warning (the restored cluster is then an upgrade of the lost one), and
 * refuses anything older or two minors newer before the target is
 * touched, naming the etcdutl to use.  Below the rule: where a restore
 * finds the snapshot's version, and the check of its tool and etcd.
 */
#include "restore/restore.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "snapshot/bbolt.h"

int
restore_version_minor(const char *v, int *major, int *minor)
{
	char *e;
	long a, b;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	a = strtol(v, &e, 10);
	if (*e != '.' || e[1] < '0' || e[1] > '9')
		return -1;
	b = strtol(e + 1, &e, 10);
	if ((*e != '\0' && *e != '.') || a > 99 || b > 99)
		return -1;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

int
restore_compat(const char *prog, const char *prog_version,
    const char *snap_version, struct lb_err *err)
{
	int pa, pb, sa, sb, step;

	if (restore_version_minor(snap_version, &sa, &sb) < 0)
		return 0;      /* nothing to compare: the caller says so */
	if (restore_version_minor(prog_version, &pa, &pb) < 0)
		return lb_err_set(err, LB_E_UNSUPPORTED, "%s does not say its version, "
		    "so it cannot be matched to the snapshot's etcd %d.%d (hint: use "
		    "etcd %d.%d's own tools)", prog, sa, sb, sa, sb);
	step = pa == sa ? pb - sb : (pa - sa) * 100;
	if (step == 0)
		return 0;
	if (step == 1)
		return 1;
	return lb_err_set(err, LB_E_UNSUPPORTED, "%s is etcd %d.%d, but the snapshot "
	    "is of etcd %d.%d: etcd restores a snapshot only with its own minor "
	    "version (or, as an upgrade, the next one); restore it with etcd %d.%d "
	    "(or %d.%d)'s restore tool and server", prog, pa, pb, sa, sb, sa, sb, sa, sb + 1);
}

/* The etcd version a backup's snapshot belongs to, from its manifest: the
 * lowest member's.  A cluster runs at its lowest member's minor (during a
 * rolling upgrade the cluster version, and with it the snapshot's schema,
 * moves only when the last member is new), and every member's snapshot is
 * of that schema. */
void
restore_manifest_version(const struct manifest *mf, char *out, size_t cap)
{
	const char *low = NULL;
	int la = 0, lb = 0, a, b;
	size_t i;

	for (i = 0; i < mf->n_members; i++) {
		const char *v = mf->members[i].etcd_version;
		if (restore_version_minor(v, &a, &b) == 0 &&
		    (low == NULL || a < la || (a == la && b < lb))) {
			low = v;
			la = a;
			lb = b;
		}
	}
	if (low == NULL && restore_version_minor(mf->etcd_version, &a, &b) == 0)
		low = mf->etcd_version;
	snprintf(out, cap, "%s", low != NULL ? low : "");
}

/* Checks prog (version have) against the snapshot's version. */
static int
compat_one(struct restore_run *c, const char *prog, const char *have,
    struct lb_err *err)
{
	int r = restore_compat(prog, have, c->snap_version, err);

	if (r == 1)
		log_warn("%s is etcd %s and the snapshot etcd %s (from %s): the restored "
		    "cluster is an upgrade by one minor version", prog, have,
		    c->snap_version, c->snap_version_from);
	return r < 0 ? r : 0;
}

int
restore_versions_check(struct restore_run *c, struct lb_err *err)
{
	const struct restore_opts *o = c->o;
	const char *bin = o->eo.etcd_bin != NULL ? o->eo.etcd_bin : "etcd";
	int r;

	if (o->mode != RESTORE_JOIN &&
	    (r = compat_one(c, c->tool.path, c->tool.version, err)) < 0)
		return r;
	if (o->start || o->mode == RESTORE_JOIN) {
		if ((r = restore_etcd_version(bin, c->etcd_version, sizeof(c->etcd_version),
		    err)) < 0 || (r = compat_one(c, bin, c->etcd_version, err)) < 0)
			return r;
	}
	return 0;
}

int
restore_versions_from_file(struct restore_run *c, struct lb_err *err)
{
	struct bbolt_info in;
	int r;

	if (c->snap_version[0] != '\0')
		return 0;
	if ((r = bbolt_inspect_file(c->snap, &in, err)) < 0)
		return r;
	snprintf(c->snap_version, sizeof(c->snap_version), "%s",
	    in.storage_version[0] ? in.storage_version : in.cluster_version);
	c->snap_version_from = in.storage_version[0] ? "its storage version" :
	    "its cluster version";
	if (c->snap_version[0] == '\0') {
		log_warn("neither the backup nor its snapshot says which etcd took it: "
		    "restoring with %s unchecked", c->tool.path);
		return 0;
	}
	return restore_versions_check(c, err);
}
