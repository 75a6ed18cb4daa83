/*
 * drill.c: restore drills (drill.h).  The order: sweep what killed
 * drills left, find the backup, refuse a disk too small, pick the etcd
 * of the snapshot's version, make and lock the scratch directory, fetch
 * and verify the snapshot into it, restore it with etcd's tool (then the
 * plaintext file goes), start etcd on loopback, check it, count the
 * Kubernetes objects; then, whatever happened, stop etcd (its pid only),
 * wipe the directory and record the outcome.  An ok drill of a cluster
 * with an event log then runs the A -> B proof of the drilled backup
 * (replay.h), after the drill's etcd is gone, timed apart from the RTO.
 */
#include "restore/drill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "common/cancel.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "env/setup.h"
#include "etcd/etcd_admin.h"
#include "restore/replay.h"
#include "restore/restore.h"

#define REGISTRY "/registry/"
#define LOCK_NAME "lock"
#define MEMBER_NAME "drill"

/* ---- Kubernetes objects per resource -------------------------------------- */

static int
res_char_ok(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* Adds one to name's count: objects[] is sorted by name, but for the
 * "other" entry, kept last once it exists (other_slot). */
static int
count_add(struct drill_report *rep, const char *name, size_t len, int other)
{
	size_t n = rep->n_objects, lo = 0, hi = n - (rep->other_slot ? 1 : 0), i;
	struct drill_object_count *o = rep->objects, *grown;

	if (!other) {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strncmp(o[mid].resource, name, len);
			if (c == 0 && o[mid].resource[len] != '\0')
				c = 1;
			if (c == 0) {
				o[mid].count++;
				return 0;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		other = n - (rep->other_slot ? 1 : 0) >= DRILL_RESOURCES_MAX;
	}
	if (other) {
		if (rep->other_slot) {
			o[n - 1].count++;
			return 0;
		}
		name = "other";
		len = 5;
		lo = n;
	}
	if ((grown = realloc(o, (n + 1) * sizeof(*o))) == NULL)
		return LB_E_NOMEM;
	rep->objects = o = grown;
	for (i = n; i > lo; i--)
		o[i] = o[i - 1];
	if ((o[lo].resource = strndup(name, len)) == NULL) {
		for (i = lo; i < n; i++)
			o[i] = o[i + 1];
		return LB_E_NOMEM;
	}
	o[lo].count = 1;
	rep->n_objects++;
	if (other)
		rep->other_slot = 1;
	return 0;
}

int
drill_count_key(struct drill_report *rep, const uint8_t *key, size_t len)
{
	const size_t pl = sizeof(REGISTRY) - 1;
	const char *k = (const char *)key;
	size_t seg, end, i;
	int dot = 0, bad = 0;

	if (len < pl || memcmp(key, REGISTRY, pl) != 0)
		return 0;
	rep->objects_total++;
	for (seg = pl; seg < len && k[seg] != '/'; seg++)
		dot |= k[seg] == '.';
	end = seg;
	/* a group's resources live one level down: /registry/GROUP/RESOURCE/... */
	if (dot && end < len)
		for (end = seg + 1; end < len && k[end] != '/'; end++)
			;
	if (end == pl || end - pl > 253)
		bad = 1;
	for (i = pl; i < end && !bad; i++)
		bad = !(res_char_ok((unsigned char)k[i]) || (dot && i == seg));
	return count_add(rep, k + pl, end - pl, bad);
}

static int
count_cb(void *arg, const uint8_t *key, size_t len)
{
	return drill_count_key(arg, key, len);
}

/* ---- the sweep --------------------------------------------------------------- */

int
drill_cmdline_is_etcd_in(const char *buf, size_t len, const char *dir)
{
	size_t dl = strlen(dir), i = 0;
	const char *arg0 = buf, *base;
	int named = 0;

	if (len == 0 || dl == 0)
		return 0;
	base = strrchr(arg0, '/') != NULL ? strrchr(arg0, '/') + 1 : arg0;
	if (strnlen(arg0, len) == len || strcmp(base, "etcd") != 0)
		return 0;
	while (i < len) {
		const char *a = buf + i;
		size_t al = strnlen(a, len - i);
		/* the config file's path, DIR/etcd.conf.yml */
		if (al > dl && strncmp(a, dir, dl) == 0 && a[dl] == '/')
			named = 1;
		i += al + 1;
	}
	return named;
}

/* The etcd a dead drill left running in dir, stopped: its pid from
 * dir/etcd.pid, signalled only when /proc/PID/cmdline is etcd's and
 * names dir (a pid file outlives its process, and the pid may be
 * another program's by now).  SIGTERM, then SIGKILL after 5 s. */
static void
stop_orphan(const char *dir)
{
	char path[4400], buf[8192];
	long pid = 0;
	ssize_t n;
	FILE *fp;
	int fd, i;

	snprintf(path, sizeof(path), "%s/etcd.pid", dir);
	if ((fp = fopen(path, "re")) == NULL)
		return;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	if (pid <= 1)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || !drill_cmdline_is_etcd_in(buf, (size_t)n, dir)) {
		if (n > 0)
			log_warn("drill sweep: pid %ld of %s is not its etcd now; not "
			    "signalled", pid, dir);
		return;
	}
	log_warn("drill sweep: stopping etcd pid %ld left running in %s", pid, dir);
	kill((pid_t)pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		usleep(50000);
		/* gone, or a zombie (empty cmdline) waiting for its reaper */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return;
		n = read(fd, buf, 1);
		close(fd);
		if (n <= 0)
			return;
	}
	kill((pid_t)pid, SIGKILL);
}

/* Why removing a drill-* directory whose lock we could take is safe: a
 * drill makes its directory under a temporary name (.new-*), creates the
 * lock file in it and takes the lock (flock, LOCK_EX), and only then
 * renames it to drill-*; it holds that lock until its wipe is over (the
 * lock file is the last thing it removes, with the directory).  So a
 * drill-* directory is locked for as long as a running drill owns it:
 * one whose lock we get, or whose lock file is gone (a drill killed in
 * its own wipe), belongs to no running drill.  flock dies with its
 * process, SIGKILL included, and is per open file, so even another drill
 * in this same process keeps its directory (drill_test: sweep_*). */
int
drill_sweep(const char *drill_dir, struct lb_err *err)
{
	char path[4200], lock[4300];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int removed = 0, fd;

	if ((d = opendir(drill_dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		return lb_err_sys(err, LB_E_IO, errno, "drill-dir %s", drill_dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "drill-", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", drill_dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(lock, sizeof(lock), "%s/" LOCK_NAME, path);
		fd = open(lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT)
			continue;
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);          /* held: a running drill's */
			continue;
		}
		stop_orphan(path);
		if (restore_wipe(path) < 0)
			log_warn("drill sweep: cannot remove %s: %s", path, strerror(errno));
		else {
			log_info("drill sweep: removed %s, left by a drill that did not "
			    "finish", path);
			removed++;
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return removed;
}

/* ---- the report ------------------------------------------------------------------ */

void
drill_report_free(struct drill_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	free(rep->cluster);
	free(rep->backup_id);
	for (i = 0; i < rep->n_objects; i++)
		free(rep->objects[i].resource);
	free(rep->objects);
	rep->cluster = rep->backup_id = NULL;
	rep->objects = NULL;
	rep->n_objects = 0;
}

static json_t *
objects_json(const struct drill_report *rep)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o != NULL && i < rep->n_objects; i++)
		json_object_set_new(o, rep->objects[i].resource,
		    json_integer((json_int_t)rep->objects[i].count));
	return o;
}

const char *
drill_proof_name(int proof)
{
	switch (proof) {
	case DRILL_PROOF_OK: return "ok";
	case DRILL_PROOF_FAILED: return "failed";
	case DRILL_PROOF_NO_PAIR: return "no pair";
	default: return NULL;
	}
}

/* The proof as JSON (null when not run): the drill's output and its
 * audit event carry the same object. */
static json_t *
proof_json(const struct drill_report *rep)
{
	if (rep->proof == DRILL_PROOF_NONE)
		return json_null();
	return json_pack("{s:s,s:s?,s:s?,s:o,s:o,s:b,s:f,s:s}", "result",
	    drill_proof_name(rep->proof), "from", rep->proof_from[0] != '\0' ?
	    rep->proof_from : NULL, "to", rep->backup_id, "from_revision",
	    rep->proof_from[0] != '\0' ? json_integer(rep->proof_from_rev) : json_null(),
	    "to_revision", rep->proof_from[0] != '\0' ? json_integer(rep->proof_to_rev) :
	    json_null(), "hashkv_compared", rep->proof_hashkv_compared, "seconds",
	    rep->proof_s, "detail", rep->proof_detail);
}

void *
drill_report_json(const struct drill_report *rep)
{
	char t1[32], t2[32], hash[16];
	json_t *o;

	snprintf(hash, sizeof(hash), "%08x", rep->hashkv);
	o = json_pack("{s:s?,s:s?,s:s,s:s?,s:s,s:s,s:f,s:{s:f,s:f,s:f,s:f},"
	    "s:o,s:o,s:s?,s:s,s:s?,s:s?,s:I,s:I,s:o}",
	    "cluster", rep->cluster, "backup_id", rep->backup_id,
	    "result", rep->result != NULL ? rep->result : "failed",
	    "error", rep->error[0] != '\0' ? rep->error : NULL,
	    "started_at", cat_time_format(rep->started_at, t1, sizeof(t1)),
	    "finished_at", cat_time_format(rep->finished_at, t2, sizeof(t2)),
	    "rto_seconds", rep->rto_s, "phase_seconds", "fetch", rep->fetch_s,
	    "restore", rep->restore_s, "start", rep->start_s, "checks", rep->check_s,
	    "revision", rep->revision >= 0 ? json_integer(rep->revision) : json_null(),
	    "keys", rep->keys >= 0 ? json_integer(rep->keys) : json_null(),
	    "hashkv", rep->hashkv_set ? hash : NULL,
	    "hashkv_vs_backup", rep->hash_vs_backup == 1 ? "equal" :
	    rep->hashkv_set ? "not compared" : "not checked",
	    "etcd_version", rep->etcd_version[0] != '\0' ? rep->etcd_version : NULL,
	    "snapshot_version", rep->snap_version[0] != '\0' ? rep->snap_version : NULL,
	    "db_size", (json_int_t)rep->db_size,
	    "kubernetes_objects", (json_int_t)rep->objects_total,
	    "objects", objects_json(rep));
	if (o != NULL)
		json_object_set_new(o, "pitr_proof", proof_json(rep));
	return o;
}

/* ---- pieces of the drill ----------------------------------------------------------- */

static int
mkdir_p(const char *dir, struct lb_err *err)
{
	char buf[4096], *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", dir) >= sizeof(buf))
		return lb_err_set(err, LB_E_CONFIG, "drill-dir %s: path too long", dir);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return lb_err_sys(err, LB_E_IO, errno, "drill-dir: mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return lb_err_sys(err, LB_E_IO, errno, "drill-dir: mkdir %s", buf);
	return 0;
}

/* The etcd of the snapshot's version: from drill-etcd-dirs, the first
 * directory whose etcd is the snapshot's minor, else one a minor newer
 * (an upgrade, warned); without the option, etcd and its tool on PATH,
 * checked the same way.  etcd_bin gets the server's path. */
static int
pick_etcd(const struct cfg *cfg, const char *snap_version, char *etcd_bin, size_t cap,
    struct restore_tool *tool, char *version, size_t vcap, struct lb_err *err)
{
	const char *const *dirs = NULL;
	size_t n = cfg_get_list(cfg, NULL, CFG_DRILL_ETCD_DIRS, &dirs), i;
	char bin[4200], tl[4200], ver[32], seen[512] = "";
	int best = -1, best_step = 9, step, r;
	struct lb_err e;

	if (n == 0) {
		if (restore_find_exe("etcd", etcd_bin, cap) < 0)
			return lb_err_set(err, LB_E_NOTFOUND, "no etcd on PATH (hint: "
			    "drill-etcd-dirs)");
		if ((r = restore_etcd_version(etcd_bin, version, vcap, err)) < 0 ||
		    (r = restore_compat(etcd_bin, version, snap_version, err)) < 0 ||
		    (r = restore_tool_find(NULL, tool, err)) < 0)
			return r;
		if (r == 1)
			log_warn("drill: etcd %s runs a snapshot of etcd %s (an upgrade by one "
			    "minor version)", version, snap_version);
		return 0;
	}
	for (i = 0; i < n; i++) {
		snprintf(bin, sizeof(bin), "%s/etcd", dirs[i]);
		if (access(bin, X_OK) != 0 || restore_etcd_version(bin, ver, sizeof(ver), &e) < 0)
			continue;
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%s",
		    seen[0] != '\0' ? ", " : "", ver);
		step = restore_compat(bin, ver, snap_version, &e);
		if (step >= 0 && step < best_step) {
			best = (int)i;
			best_step = step;
			snprintf(version, vcap, "%s", ver);
		}
	}
	if (best < 0) {
		int ma = 0, mi = 0;
		restore_version_minor(snap_version, &ma, &mi);
		return lb_err_set(err, LB_E_UNSUPPORTED, "no etcd in drill-etcd-dirs can run a "
		    "snapshot of etcd %s (found: %s): add a directory with etcd %d.%d (or "
		    "%d.%d) and its etcdutl", snap_version, seen[0] != '\0' ? seen : "none",
		    ma, mi, ma, mi + 1);
	}
	snprintf(etcd_bin, cap, "%s/etcd", dirs[best]);
	snprintf(tl, sizeof(tl), "%s/etcdutl", dirs[best]);
	if (access(tl, X_OK) != 0)
		snprintf(tl, sizeof(tl), "%s/etcdctl", dirs[best]);
	if (best_step == 1)
		log_warn("drill: etcd %s (%s) runs a snapshot of etcd %s (an upgrade by one "
		    "minor version: no etcd of its own minor in drill-etcd-dirs)", version,
		    dirs[best], snap_version);
	return restore_tool_find(tl, tool, err);
}

struct pick {
	char **ids;
	size_t n, cap;
};

static int
pick_add(const struct cat_backup *b, void *arg)
{
	struct pick *p = arg;
	char **g;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		if ((g = realloc(p->ids, p->cap * sizeof(*g))) == NULL)
			return LB_E_NOMEM;
		p->ids = g;
	}
	if ((p->ids[p->n] = strdup(b->id)) == NULL)
		return LB_E_NOMEM;
	p->n++;
	return 0;
}

/* A complete backup of cluster at random, from the catalog. */
static int
pick_random(const char *catalog, const char *cluster, char **out, struct lb_err *err)
{
	struct cat_filter f = { .cluster = cluster, .status = CAT_COMPLETE, .skip_future = 1 };
	struct pick p = { 0 };
	struct cat *c = NULL;
	uint32_t x = 0;
	size_t i;
	int r;

	*out = NULL;
	if ((r = cat_open(catalog, CAT_OPEN_READONLY, &c, err)) < 0)
		return r == LB_E_NOTFOUND ? lb_err_set(err, LB_E_CONFIG, "--backup random "
		    "picks from the catalog, and %s does not exist (hint: 'lifeboat catalog "
		    "rebuild')", catalog) : r;
	r = cat_backup_list(c, &f, 0, pick_add, &p, err);
	cat_close(c);
	if (r == LB_E_NOMEM)
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
	if (r == 0 && p.n == 0)
		r = lb_err_set(err, LB_E_NOTFOUND, "no complete backup of cluster %s in the "
		    "catalog %s", cluster, catalog);
	if (r == 0) {
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = (uint32_t)time(NULL) ^ (uint32_t)getpid();
		*out = p.ids[x % p.n];
		p.ids[x % p.n] = NULL;
	}
	for (i = 0; i < p.n; i++)
		free(p.ids[i]);
	free(p.ids);
	return r;
}

/* The scratch directory: made as .new-<pid>-<random> and locked, then
 * renamed drill-<pid>-<random> (drill_sweep's proof).  *lock_fd holds
 * the lock until the drill ends. */
static int
make_workdir(const char *drill_dir, char *dir, size_t cap, int *lock_fd,
    struct lb_err *err)
{
	char tmp[4200], lock[4300];
	uint32_t x = 0;
	int fd;

	*lock_fd = -1;
	if (getrandom(&x, sizeof(x), 0) != sizeof(x))
		x = (uint32_t)lb_wall_ms();
	snprintf(tmp, sizeof(tmp), "%s/.new-%ld-%08x", drill_dir, (long)getpid(), x);
	if ((size_t)snprintf(dir, cap, "%s/drill-%ld-%08x", drill_dir, (long)getpid(), x) >= cap)
		return lb_err_set(err, LB_E_CONFIG, "drill-dir %s: path too long", drill_dir);
	if (mkdir(tmp, 0700) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "mkdir %s", tmp);
	snprintf(lock, sizeof(lock), "%s/" LOCK_NAME, tmp);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    flock(fd, LOCK_EX) < 0 || rename(tmp, dir) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(lock);
		rmdir(tmp);
		return lb_err_sys(err, LB_E_IO, e, "drill directory %s", dir);
	}
	*lock_fd = fd;
	return 0;
}

/* Removes dir: everything but the lock file first, the lock file and the
 * directory last, so that the lock is held while anything else is
 * there (drill_sweep). */
static int
rm_but_lock(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	if (ftw->level == 0)
		return 0;
	if (flag != FTW_DP && ftw->level == 1 && strcmp(path + ftw->base, LOCK_NAME) == 0)
		return 0;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void
wipe_workdir(const char *dir, int lock_fd)
{
	char lock[4300];

	if (nftw(dir, rm_but_lock, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		log_warn("drill: cannot wipe %s: %s (the next drill's sweep retries)", dir,
		    strerror(errno));
	snprintf(lock, sizeof(lock), "%s/" LOCK_NAME, dir);
	unlink(lock);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("drill: cannot remove %s: %s", dir, strerror(errno));
	if (lock_fd >= 0)
		close(lock_fd);
}

/* The last line of etcd's log, into the error of a failed drill: the log
 * itself is wiped with the directory. */
static void
add_log_tail(const char *work, struct lb_err *err)
{
	char path[4300], buf[4096], *end, *line;
	struct lb_err e = *err;
	ssize_t n;
	off_t size;
	int fd;

	snprintf(path, sizeof(path), "%s/etcd.log", work);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	n = size < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1,
	    size > (off_t)sizeof(buf) - 1 ? size - (off_t)(sizeof(buf) - 1) : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (end = buf + n; end > buf && (end[-1] == '\n' || end[-1] == '\r'); end--)
		*(end - 1) = '\0';
	line = (line = strrchr(buf, '\n')) != NULL ? line + 1 : buf;
	if (*line != '\0')
		lb_err_set(err, e.code, "%s; etcd's log ended: %.300s", e.msg, line);
}

static int
canceled(const struct drill_opts *o, struct lb_err *err, const char *when)
{
	if (lb_cancel || (o->cancel != NULL && *o->cancel))
		return lb_err_set(err, LB_E_CANCELED, "drill interrupted %s", when);
	return 0;
}

static double
since(double t)
{
	return lb_mono_now() - t;
}

/* The catalog row and the audit event: what the drill found, either way. */
static void
record(struct restore_source *src, const struct drill_report *rep)
{
	struct cat *cat = restore_source_catalog(src);
	struct cat_drill d = { 0 };
	char *objs = NULL, *js = NULL;
	json_t *o, *a;
	struct lb_err e;

	if ((o = objects_json(rep)) != NULL)
		objs = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	d.cluster = rep->cluster;
	d.backup_id = rep->backup_id;
	d.started_at = rep->started_at;
	d.finished_at = rep->finished_at;
	d.result = (char *)rep->result;
	d.error = rep->error[0] != '\0' ? (char *)rep->error : NULL;
	d.rto_ms = rep->rto_s > 0 ? (int64_t)(rep->rto_s * 1000) : -1;
	d.fetch_ms = rep->fetch_s > 0 ? (int64_t)(rep->fetch_s * 1000) : -1;
	d.restore_ms = rep->restore_s > 0 ? (int64_t)(rep->restore_s * 1000) : -1;
	d.start_ms = rep->start_s > 0 ? (int64_t)(rep->start_s * 1000) : -1;
	d.check_ms = rep->check_s > 0 ? (int64_t)(rep->check_s * 1000) : -1;
	d.revision = rep->revision;
	d.keys = rep->keys;
	d.hashkv = rep->hashkv_set ? (int64_t)rep->hashkv : -1;
	d.etcd_version = rep->etcd_version[0] != '\0' ? (char *)rep->etcd_version : NULL;
	d.objects = rep->n_objects > 0 || strcmp(rep->result, "ok") == 0 ? objs : NULL;
	if (cat != NULL && cat_drill_add(cat, &d, &e) < 0)
		log_warn("drill: not recorded in the catalog: %s", e.msg);
	a = json_pack("{s:s,s:o,s:o,s:o,s:s?,s:s?}", "result", rep->result,
	    "rto_seconds", rep->rto_s > 0 ? json_real(rep->rto_s) : json_null(),
	    "revision", rep->revision >= 0 ? json_integer(rep->revision) : json_null(),
	    "keys", rep->keys >= 0 ? json_integer(rep->keys) : json_null(),
	    "etcd_version", d.etcd_version, "error", d.error);
	if (a != NULL && rep->proof != DRILL_PROOF_NONE)
		json_object_set_new(a, "pitr_proof", proof_json(rep));
	if (a != NULL && (js = json_dumps(a, JSON_COMPACT)) != NULL)
		restore_source_audit_action(src, "drill", rep->result, js);
	json_decref(a);
	free(js);
	free(objs);
}

/* ---- the A -> B proof --------------------------------------------------------------- */

static void
take_proof(void *arg, const struct replay_proof *p)
{
	struct drill_report *rep = arg;

	snprintf(rep->proof_from, sizeof(rep->proof_from), "%s", p->a_id);
	rep->proof_from_rev = p->a_rev;
	rep->proof_to_rev = p->b_rev;
	rep->proof_hashkv_compared = p->hashkv_compared;
	snprintf(rep->proof_detail, sizeof(rep->proof_detail), "%s", p->detail);
}

/* The proof of the drilled backup, when the catalog has event-log
 * segments of its cluster reaching its revision (failed ones too: a
 * proof that failed before must fail again, not be skipped): the drill
 * proves the window it touches.  No
 * earlier backup in B's window is not a failure (nothing to prove);
 * anything else that is not a proof is.  0 or LB_E_CORRUPT. */
static int
prove(const struct drill_opts *o, const char *drill_dir, struct restore_source *src,
    struct drill_report *rep, struct lb_err *err)
{
	struct cat *cat = restore_source_catalog(src);
	struct replay_proof_opts po = { 0 };
	struct cat_segment *last = NULL;
	struct lb_err e;
	size_t pairs = 0;
	int64_t reach;
	double t;
	int r;

	lb_err_clear(&e);
	if (cat == NULL)
		return 0;
	if ((r = cat_segment_last(cat, rep->cluster, &last, &e)) < 0) {
		if (r != LB_E_NOTFOUND)
			log_warn("drill: the event log of %s unknown: %s", rep->cluster, e.msg);
		return 0;
	}
	reach = last->last_rev;
	cat_segment_free(last);
	if (reach < rep->revision)
		return 0;
	po.cfg = o->cfg;
	po.cluster = rep->cluster;
	po.identity_path = o->identity_path;
	po.catalog_path = o->catalog_path;
	po.backup_b = rep->backup_id;
	po.window_only = 1;     /* a gap before B: B starts a window, no pair */
	po.work_dir = drill_dir;
	po.skip_signature = o->skip_signature;
	log_info("drill: proving %s from the backup before it and the event log",
	    rep->backup_id);
	t = lb_mono_now();
	r = replay_prove(&po, take_proof, rep, &pairs, &e);
	rep->proof_s = since(t);
	if (r == 0) {
		rep->proof = DRILL_PROOF_OK;
		return 0;
	}
	if (r == LB_E_NOTFOUND) {
		rep->proof = DRILL_PROOF_NO_PAIR;
		if (rep->proof_detail[0] == '\0')
			snprintf(rep->proof_detail, sizeof(rep->proof_detail), "%s", e.msg);
		log_info("drill: no point-in-time proof of %s: %s", rep->backup_id,
		    rep->proof_detail);
		return 0;
	}
	rep->proof = DRILL_PROOF_FAILED;
	if (rep->proof_detail[0] == '\0')
		snprintf(rep->proof_detail, sizeof(rep->proof_detail), "not proved: %.480s",
		    e.msg);
	log_error("PITR PROOF FAILED in the drill of %s: %s", rep->backup_id,
	    rep->proof_detail);
	return lb_err_set(err, LB_E_CORRUPT, "the point-in-time proof %s -> %s failed: "
	    "%.400s", rep->proof_from[0] != '\0' ? rep->proof_from : "?", rep->backup_id,
	    rep->proof_detail);
}

/* ---- the drill -------------------------------------------------------------------- */

/* After the start: wait until it serves, then restore's checks (no
 * bump: HashKV is compared with the backup's record), then the
 * objects under /registry/ at the checked revision. */
static int
check(const struct drill_opts *o, struct restore_source *src,
    const struct restore_fetched *got, struct restore_member *m,
    struct drill_report *rep, double *t, struct lb_err *err)
{
	struct restore_opts ro = { .mode = RESTORE_CLUSTER, .timeout_s = 60, .start = 1 };
	struct restore_run rr = { 0 };
	struct etcd_status st;
	struct etcd_opts eo;
	struct etcd_client *ec = NULL;
	char *password = NULL;
	const char *cluster = rep->cluster;
	int r;

	rr.o = &ro;
	rr.all = m;
	rr.n_all = 1;
	rr.local[0] = 0;
	rr.n_local = 1;
	rr.src = src;
	rr.got = *got;
	rr.etcd.connect_timeout_s = 5;
	rr.etcd.stall_timeout_s = 30;
	rr.etcd.cancel = o->cancel != NULL ? o->cancel : &lb_cancel;
	/* the restored data keep the cluster's users and auth: the checks
	 * log in as backup does, with the cluster's configured user */
	if (cfg_has_cluster(o->cfg, cluster) && cfg_get_str(o->cfg, cluster, CFG_USER) != NULL) {
		if ((r = setup_etcd_opts(o->cfg, cluster, &eo, &password, err)) < 0)
			goto out;
		rr.etcd.user = eo.user;
		rr.etcd.password = password;
	}
	if ((r = restore_wait_healthy(&rr, rr.local, 1, 1, &st, err)) < 0)
		goto out;
	rep->start_s = since(*t);
	*t = lb_mono_now();
	if ((r = restore_check_data(&rr, rr.local, 1, err)) < 0)
		goto out;
	rep->revision = rr.revision;
	rep->keys = rr.keys;
	rep->hashkv = rr.hash;
	rep->hashkv_set = 1;
	rep->hash_vs_backup = rr.hash_vs_backup;
	snprintf(rep->note, sizeof(rep->note), "%s", rr.note);
	if ((r = etcd_open(m->client_url, &rr.etcd, &ec, err)) < 0 ||
	    (r = etcd_admin_keys(ec, REGISTRY, rr.revision, 1000, count_cb, rep, NULL,
	    err)) < 0) {
		if (r == LB_E_NOMEM)
			lb_err_set(err, r, "out of memory");
		lb_err_prefix(err, "counting the objects under " REGISTRY ": ");
		goto out;
	}
	rep->check_s = since(*t);
out:
	etcd_close(ec);
	lb_secret_free(password);
	return r;
}

/* One drill at a time on an appliance: each holds a scratch etcd, a core
 * and twice its database on disk.  The daemon starts one at a time; this
 * lock, on drill-dir itself (no file of its own in it), also keeps a
 * `lifeboat drill` by hand from running beside it. */
static int
appliance_lock(const char *drill_dir, int *fd, struct lb_err *err)
{
	int e;

	if ((*fd = open(drill_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "%s", drill_dir);
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	e = errno;
	close(*fd);
	*fd = -1;
	if (e == EWOULDBLOCK)
		return lb_err_set(err, LB_E_BUSY, "another drill runs on this appliance "
		    "(drill-dir %s): one at a time", drill_dir);
	return lb_err_sys(err, LB_E_IO, e, "lock %s", drill_dir);
}

static int
run_locked(const struct drill_opts *o, const char *drill_dir, struct drill_report *rep,
    struct lb_err *err);

int
drill_run(const struct drill_opts *o, struct drill_report *rep, struct lb_err *err)
{
	const char *drill_dir = cfg_get_str(o->cfg, NULL, CFG_DRILL_DIR);
	int fd = -1, r;

	memset(rep, 0, sizeof(*rep));
	rep->result = "failed";
	rep->revision = rep->keys = -1;
	rep->started_at = (int64_t)time(NULL);
	lb_err_clear(err);
	if (drill_dir == NULL || drill_dir[0] != '/')
		return lb_err_set(err, LB_E_CONFIG, "drill-dir must be an absolute path");
	if ((r = mkdir_p(drill_dir, err)) < 0 || (r = appliance_lock(drill_dir, &fd, err)) < 0)
		return r;
	r = run_locked(o, drill_dir, rep, err);
	close(fd);
	return r;
}

static int
run_locked(const struct drill_opts *o, const char *drill_dir, struct drill_report *rep,
    struct lb_err *err)
{
	const char *catalog = o->catalog_path != NULL ? o->catalog_path :
	    cfg_get_str(o->cfg, NULL, CFG_CATALOG);
	struct restore_source_opts so = { 0 };
	struct restore_select sel = { 0 };
	struct restore_source *src = NULL;
	struct restore_fetched got = { 0 };
	struct restore_member m = { 0 };
	struct restore_etcd_opts eo = { 0 };
	struct restore_tool tool;
	const struct manifest *mf;
	struct statvfs vfs;
	struct lb_err sweep_err;
	char work[4200] = "", snap[4300] = "", data[4300], logp[4300], conf[4400];
	char peer[64], client[64], ic[128], etcd_bin[4200], *random_id = NULL;
	uint64_t db_size = 0, need, avail;
	double t0 = lb_mono_now(), t;
	int lock_fd = -1, pp, cp, r, started = 0;
	pid_t pid;
	size_t i;

	if (drill_sweep(drill_dir, &sweep_err) < 0)
		log_warn("drill sweep: %s", sweep_err.msg);

	/* which backup */
	sel.cluster = o->cluster;
	if (o->backup == NULL || strcmp(o->backup, "latest") == 0 ||
	    strcmp(o->backup, "random") == 0) {
		/* a named backup names its cluster; the newest needs one */
		if (sel.cluster == NULL && cfg_cluster_count(o->cfg) == 1)
			sel.cluster = cfg_cluster_name(o->cfg, 0);
		if (sel.cluster == NULL)
			return lb_err_set(err, LB_E_USAGE, "which cluster? the configuration "
			    "has %zu (hint: --cluster NAME)", cfg_cluster_count(o->cfg));
		if (o->backup != NULL && strcmp(o->backup, "random") == 0) {
			if ((r = pick_random(catalog, sel.cluster, &random_id, err)) < 0)
				return r;
			sel.backup_id = random_id;
		}
	} else
		sel.backup_id = o->backup;
	so.cfg = o->cfg;
	so.identity_path = o->identity_path;
	so.catalog_path = o->catalog_path;
	so.need_identity = 1;
	so.skip_signature = o->skip_signature;
	r = restore_source_open(&so, &sel, &src, err);
	free(random_id);
	if (r < 0)
		return r;
	mf = restore_source_manifest(src);
	if ((rep->cluster = strdup(mf->cluster)) == NULL ||
	    (rep->backup_id = strdup(mf->backup_id)) == NULL) {
		restore_source_close(src);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	if (o->cluster != NULL && strcmp(o->cluster, mf->cluster) != 0) {
		r = lb_err_set(err, LB_E_USAGE, "backup %s is of cluster %s, not %s",
		    mf->backup_id, mf->cluster, o->cluster);
		restore_source_close(src);
		return r;
	}
	/* from here the outcome is recorded */
	for (i = 0; i < mf->n_members; i++)
		if (mf->members[i].db_size > 0 && (uint64_t)mf->members[i].db_size > db_size)
			db_size = (uint64_t)mf->members[i].db_size;
	need = 2 * db_size + (uint64_t)DRILL_DISK_MARGIN;
	if (statvfs(drill_dir, &vfs) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "statvfs %s", drill_dir);
		goto out;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		r = lb_err_set(err, LB_E_NOSPACE, "drill-dir %s has %llu bytes free, the "
		    "drill needs %llu (twice the database's %llu bytes plus 64 MiB)",
		    drill_dir, (unsigned long long)avail, (unsigned long long)need,
		    (unsigned long long)db_size);
		goto out;
	}
	restore_manifest_version(mf, rep->snap_version, sizeof(rep->snap_version));
	if ((r = pick_etcd(o->cfg, rep->snap_version, etcd_bin, sizeof(etcd_bin), &tool,
	    rep->etcd_version, sizeof(rep->etcd_version), err)) < 0)
		goto out;
	if ((r = make_workdir(drill_dir, work, sizeof(work), &lock_fd, err)) < 0) {
		work[0] = '\0';
		goto out;
	}
	if ((r = restore_pick_ports(&pp, &cp, err)) < 0)
		goto out;
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pp);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", cp);
	snprintf(ic, sizeof(ic), MEMBER_NAME "=%s", peer);
	snprintf(data, sizeof(data), "%s/etcd", work);
	m.name = MEMBER_NAME;
	m.peer_url = peer;
	m.client_url = client;
	m.data_dir = data;

	/* fetch and verify: sha256, age, zstd, etcd's trailer, the manifest */
	snprintf(snap, sizeof(snap), "%s/snapshot.db", work);
	t = lb_mono_now();
	log_info("drill: fetching backup %s (%s) into %s", mf->backup_id, mf->cluster, work);
	if ((r = restore_fetch(src, NULL, snap, NULL, NULL, &got, err)) < 0)
		goto out;
	rep->fetch_s = since(t);
	rep->db_size = got.db_size;
	if ((r = canceled(o, err, "after the fetch")) < 0)
		goto out;

	/* etcd's restore tool; then the plaintext file goes at once */
	t = lb_mono_now();
	snprintf(logp, sizeof(logp), "%s/restore.log", work);
	if ((r = restore_tool_spawn(&tool, snap, &m, ic, mf->backup_id, 0, logp, &pid,
	    err)) < 0)
		goto out;
	r = restore_wait(pid, "snapshot restore", logp, err);
	unlink(snap);
	snap[0] = '\0';
	if (r < 0)
		goto out;
	rep->restore_s = since(t);
	if ((r = canceled(o, err, "after the restore")) < 0)
		goto out;

	/* start: loopback, no TLS, its own token */
	t = lb_mono_now();
	eo.etcd_bin = etcd_bin;
	eo.token = mf->backup_id;
	eo.state = "new";
	if ((r = restore_write_config(&eo, &m, ic, conf, sizeof(conf), err)) < 0 ||
	    (r = restore_etcd_start(&eo, &m, conf, err)) < 0)
		goto out;
	started = 1;
	log_info("drill: started etcd %s (pid %ld) on %s", rep->etcd_version, (long)m.pid,
	    client);
	if ((r = check(o, src, &got, &m, rep, &t, err)) < 0)
		goto out;
	rep->rto_s = since(t0);
	rep->result = "ok";
out:
	if (r < 0 && started && m.pid == 0)
		add_log_tail(work, err);     /* etcd exited: its log says why */
	restore_etcd_stop(&m);
	if (snap[0] != '\0')
		unlink(snap);
	if (work[0] != '\0')
		wipe_workdir(work, lock_fd);
	else if (lock_fd >= 0)
		close(lock_fd);
	/* after the drill's etcd and files are gone: the proof needs the disk */
	if (r == 0 && (r = prove(o, drill_dir, src, rep, err)) < 0)
		rep->result = "failed";
	rep->finished_at = (int64_t)time(NULL);
	if (r < 0)
		snprintf(rep->error, sizeof(rep->error), "%s", err->msg);
	record(src, rep);
	rep->recorded = 1;
	restore_source_close(src);
	return r;
}
