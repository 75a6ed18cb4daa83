/*
 * proc.c: the machinery of a restore (restore.h): member specs, ports,
 * data directories, etcd's restore tool and etcd itself.  Child processes
 * are started with posix_spawn and an argv, never through a shell.
 */
#include "restore/restore.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "stream/flt.h"
#include "common/log.h"

extern char **environ;

/* ---- member specs and URLs ---------------------------------------------- */

static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
restore_wipe(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int
restore_pick_ports(int *a, int *b, struct lb_err *err)
{
	int fd[2] = { -1, -1 }, *out[2] = { a, b }, i, r = 0;

	/* both bound (port 0) at once, so the kernel gives two different
	 * ones, then closed for etcd to take */
	for (i = 0; i < 2; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		if ((fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(fd[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd[i], (struct sockaddr *)&sa, &sl) < 0) {
			r = lb_err_sys(err, LB_E_IO, errno, "cannot pick a loopback port");
			break;
		}
		*out[i] = ntohs(sa.sin_port);
	}
	for (i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return r;
}

int
restore_url_hostport(const char *url, char *host, size_t cap, int *port,
    struct lb_err *err)
{
	const char *p, *h, *c, *end;
	char *e;
	long v;

	if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return lb_err_set(err, LB_E_USAGE, "%s: url must start with http:// or "
		    "https://", url);
	end = p + strcspn(p, "/");
	if (*end == '/' && end[1] != '\0')
		return lb_err_set(err, LB_E_USAGE, "%s: url must not have a path", url);
	h = p;
	if (*p == '[') {
		if ((c = memchr(p, ']', (size_t)(end - p))) == NULL || c[1] != ':')
			return lb_err_set(err, LB_E_USAGE, "%s: bad ipv6 address", url);
		h = p + 1;
		c++;
	} else if ((c = memchr(p, ':', (size_t)(end - p))) == NULL)
		return lb_err_set(err, LB_E_USAGE, "%s: url needs a port", url);
	if ((size_t)(c - h) - (*p == '[') >= cap || c == h)
		return lb_err_set(err, LB_E_USAGE, "%s: bad host", url);
	memcpy(host, h, (size_t)(c - h) - (*p == '['));
	host[(size_t)(c - h) - (*p == '[')] = '\0';
	errno = 0;
	v = strtol(c + 1, &e, 10);
	if (e == c + 1 || e != end || v < 1 || v > 65535)
		return lb_err_set(err, LB_E_USAGE, "%s: bad port", url);
	*port = (int)v;
	return 0;
}

static int
check_url(const char *url, struct lb_err *err)
{
	char host[256];
	int port;

	return restore_url_hostport(url, host, sizeof(host), &port, err);
}

void
restore_members_free(struct restore_member *m, size_t n)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].peer_url);
		free(m[i].client_url);
		free(m[i].data_dir);
	}
	free(m);
}

int
restore_parse_members(const char *spec, int need_client,
    struct restore_member **out, size_t *n, struct lb_err *err)
{
	struct restore_member *v = NULL;
	char *copy = NULL, *item, *save = NULL, *eq, *at;
	size_t k = 0, i, cap = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if ((copy = strdup(spec)) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		struct restore_member *m;

		if (lb_vec_grow(&v, &cap, k, sizeof(*v), RESTORE_MEMBERS_MAX) < 0) {
			r = k >= RESTORE_MEMBERS_MAX ?
			    lb_err_set(err, LB_E_USAGE, "too many members (at most %d)",
			    RESTORE_MEMBERS_MAX) : lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		m = &v[k];
		memset(m, 0, sizeof(*m));
		k++;
		if ((eq = strchr(item, '=')) == NULL || !name_ok(item, (size_t)(eq - item))) {
			r = lb_err_set(err, LB_E_USAGE, "'%s': expected NAME=PEER_URL%s with "
			    "NAME of letters, digits, '.', '_' or '-'", item,
			    need_client ? "@CLIENT_URL" : "");
			goto out;
		}
		*eq++ = '\0';
		at = strchr(eq, '@');
		if (need_client && at == NULL) {
			r = lb_err_set(err, LB_E_USAGE, "member %s: expected PEER_URL@CLIENT_URL",
			    item);
			goto out;
		}
		if (at != NULL)
			*at++ = '\0';
		if ((m->name = strdup(item)) == NULL || (m->peer_url = strdup(eq)) == NULL ||
		    (at != NULL && (m->client_url = strdup(at)) == NULL)) {
			r = lb_err_set(err, LB_E_NOMEM, "out of memory");
			goto out;
		}
		if ((r = check_url(m->peer_url, err)) < 0 ||
		    (m->client_url != NULL && (r = check_url(m->client_url, err)) < 0)) {
			lb_err_prefix(err, "member %s: ", m->name);
			goto out;
		}
		for (i = 0; i + 1 < k; i++)
			if (strcmp(v[i].name, m->name) == 0) {
				r = lb_err_set(err, LB_E_USAGE, "member %s given twice", m->name);
				goto out;
			}
	}
	if (k == 0) {
		r = lb_err_set(err, LB_E_USAGE, "no members given");
		goto out;
	}
	*out = v;
	*n = k;
	v = NULL;
out:
	restore_members_free(v, k);
	free(copy);
	return r;
}

char *
restore_initial_cluster(const struct restore_member *m, size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(m[i].name) + strlen(m[i].peer_url) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, m[i].name);
		strcat(s, "=");
		strcat(s, m[i].peer_url);
	}
	return s;
}

int
restore_port_check(const char *url, struct lb_err *err)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256], port_s[8];
	int port, fd = -1, r, one = 1;

	if ((r = restore_url_hostport(url, host, sizeof(host), &port, err)) < 0)
		return r;
	snprintf(port_s, sizeof(port_s), "%d", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port_s, &hints, &ai) != 0 || ai == NULL) {
		r = lb_err_set(err, LB_E_USAGE, "%s: cannot resolve %s", url, host);
		goto out;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = lb_err_sys(err, LB_E_IO, errno, "socket");
		goto out;
	}
	/* as etcd will: a port in TIME_WAIT is not "in use" */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = errno == EADDRINUSE ?
		    lb_err_set(err, LB_E_BUSY, "%s: port %d is already in use", url, port) :
		    lb_err_sys(err, LB_E_IO, errno, "%s: cannot bind", url);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return r;
}

/* ---- data directories ----------------------------------------------------- */

int
restore_dir_is_empty(const char *dir, struct lb_err *err)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 1;
		return lb_err_sys(err, errno == ENOTDIR ? LB_E_EXISTS : LB_E_IO, errno,
		    "data dir %s", dir);
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

int
restore_dir_prepare(const char *dir, int force, char *moved_to, size_t cap,
    struct lb_err *err)
{
	struct tm tm;
	time_t now;
	int r;

	moved_to[0] = '\0';
	if ((r = restore_dir_is_empty(dir, err)) != 0)
		return r < 0 ? r : 0;
	if (!force)
		return lb_err_set(err, LB_E_EXISTS, "data dir %s is not empty (hint: "
		    "--force moves it aside to %s.lifeboat-<time>, nothing is deleted)",
		    dir, dir);
	now = time(NULL);
	gmtime_r(&now, &tm);
	if ((size_t)snprintf(moved_to, cap, "%s.lifeboat-%04d%02d%02dT%02d%02d%02dZ", dir,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec) >= cap) {
		moved_to[0] = '\0';
		return lb_err_set(err, LB_E_USAGE, "data dir %s: path too long", dir);
	}
	if (access(moved_to, F_OK) == 0) {
		moved_to[0] = '\0';
		return lb_err_set(err, LB_E_EXISTS, "data dir %s: %s.lifeboat-<time> "
		    "exists already; retry in a second", dir, dir);
	}
	if (rename(dir, moved_to) < 0) {
		int e = errno;
		moved_to[0] = '\0';
		return lb_err_sys(err, LB_E_IO, e, "cannot move data dir %s aside", dir);
	}
	log_warn("data dir %s was not empty: moved to %s", dir, moved_to);
	return 0;
}

/* ---- child processes -------------------------------------------------------- */

/* The environment of etcd and its restore tool: an allow-list, not
 * lifeboat's own environment.  Ours holds secrets (AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, LIFEBOAT_ETCD_PASSWORD_*, whatever a wrapper adds)
 * that a long-running etcd would keep readable in /proc/PID/environ for
 * its whole life; a deny-list misses the next new one.  Kept: what finds
 * programs and files (PATH, HOME, TMPDIR, USER, LOGNAME), time and
 * language (TZ, LANG, LANGUAGE, LC_*), the Go runtime's tuning
 * (GOMAXPROCS, GOMEMLIMIT, GOGC) and ETCD_UNSUPPORTED_ARCH, which etcd
 * reads itself even with a config file.  Other ETCD_* are not passed:
 * etcd takes its whole configuration from the file restore writes and
 * ignores them then.  ETCDCTL_API=3 is set, so an etcdctl restore tool
 * speaks v3 whatever the caller's shell says.  The pointers are
 * environ's own (posix_spawn copies them); free only the array. */
static char **
child_env(void)
{
	static const char *const keep[] = { "PATH", "HOME", "TMPDIR", "USER",
	    "LOGNAME", "TZ", "LANG", "LANGUAGE", "GOMAXPROCS", "GOMEMLIMIT", "GOGC",
	    "ETCD_UNSUPPORTED_ARCH" };
	static char api[] = "ETCDCTL_API=3";
	size_t n = 0, k = 0, i, len;
	char **env;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *e = environ[i], *eq = strchr(e, '=');
		size_t j;

		if (eq == NULL)
			continue;
		len = (size_t)(eq - e);
		if (len > 3 && strncmp(e, "LC_", 3) == 0) {
			env[k++] = environ[i];
			continue;
		}
		for (j = 0; j < sizeof(keep) / sizeof(keep[0]); j++)
			if (strlen(keep[j]) == len && strncmp(e, keep[j], len) == 0) {
				env[k++] = environ[i];
				break;
			}
	}
	env[k] = api;
	return env;
}

/* Runs argv with stdin from /dev/null and stdout+stderr to log_path (or
 * to a pipe when capture is not NULL, read back into capture). */
static int
spawn(char *const argv[], const char *log_path, int setsid_, pid_t *pid,
    struct lb_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char **env;
	int rc;

	if ((env = child_env()) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log_path,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (setsid_)
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	rc = posix_spawnp(pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	if (rc != 0)
		return lb_err_sys(err, rc == ENOENT ? LB_E_NOTFOUND : LB_E_IO, rc,
		    "cannot run %s", argv[0]);
	return 0;
}

static void
last_line(const char *path, char *out, size_t cap)
{
	char buf[4096], *p, *e;
	ssize_t n;
	off_t size;
	int fd;

	out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0,
	    SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	p = (e = strrchr(buf, '\n')) != NULL ? e + 1 : buf;
	snprintf(out, cap, "%.*s", (int)(cap - 1), p);
}

int
restore_wait(pid_t pid, const char *what, const char *log_path,
    struct lb_err *err)
{
	char line[300];
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return lb_err_sys(err, LB_E_INTERNAL, errno, "waitpid %s", what);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	last_line(log_path, line, sizeof(line));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return lb_err_set(err, LB_E_NOTFOUND, "%s: could not be run", what);
	return lb_err_set(err, LB_E_REMOTE, "%s failed (%s %d, see %s): %s", what,
	    WIFEXITED(st) ? "exit status" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log_path, line);
}

/* A path for name: as given when it has a '/', else the first match on
 * PATH that can be executed. */
int
restore_find_exe(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p, *e;
	char buf[4096];

	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) != 0)
			return -1;
		snprintf(out, cap, "%s", name);
		return 0;
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		if (e == p)
			continue;
		if ((size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, name) >=
		    sizeof(buf))
			continue;
		if (access(buf, X_OK) == 0) {
			snprintf(out, cap, "%s", buf);
			return 0;
		}
	}
	return -1;
}

/* Runs argv and keeps what it printed (stdout and stderr, up to cap - 1
 * bytes) in buf: for the --help and version probes. */
static int
probe(char *const argv[], char *buf, size_t cap, struct lb_err *err)
{
	char path[] = "/tmp/lifeboat-probe-XXXXXX";
	ssize_t n;
	pid_t pid;
	int fd, r, st;

	buf[0] = '\0';
	if ((fd = mkstemp(path)) < 0)
		return lb_err_sys(err, LB_E_IO, errno, "temp file for %s", argv[0]);
	if ((r = spawn(argv, path, 0, &pid, err)) == 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		n = pread(fd, buf, cap - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	unlink(path);
	return r;
}

/* The version a program prints after "version: " (etcdutl and etcdctl:
 * "etcdutl version: 3.6.16"; etcd: "etcd Version: 3.6.16"), or "". */
static void
version_of(const char *text, char *out, size_t cap)
{
	const char *p = strcasestr(text, "version: ");
	size_t n = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	for (p += 9; n + 1 < cap && (isdigit((unsigned char)p[n]) || p[n] == '.'); n++)
		out[n] = p[n];
	out[n] = '\0';
}

int
restore_tool_find(const char *override, struct restore_tool *t,
    struct lb_err *err)
{
	char buf[16384];
	const char *base;
	char *argv[5];
	int r;

	memset(t, 0, sizeof(*t));
	if (override != NULL) {
		if (restore_find_exe(override, t->path, sizeof(t->path)) < 0)
			return lb_err_set(err, LB_E_NOTFOUND, "etcd restore tool %s not found "
			    "or not executable", override);
	} else if (restore_find_exe("etcdutl", t->path, sizeof(t->path)) < 0 &&
	    restore_find_exe("etcdctl", t->path, sizeof(t->path)) < 0)
		return lb_err_set(err, LB_E_NOTFOUND, "neither etcdutl nor etcdctl found "
		    "on PATH (hint: install etcd's client tools or give --etcdutl PATH)");
	base = (base = strrchr(t->path, '/')) != NULL ? base + 1 : t->path;
	t->is_etcdutl = strstr(base, "etcdutl") != NULL;
	argv[0] = t->path;
	argv[1] = "snapshot";
	argv[2] = "restore";
	argv[3] = "--help";
	argv[4] = NULL;
	if ((r = probe(argv, buf, sizeof(buf), err)) < 0)
		return r;
	if (strstr(buf, "--data-dir") == NULL)
		return lb_err_set(err, LB_E_NOTFOUND, "%s does not look like etcd's restore "
		    "tool ('snapshot restore --help' lists no --data-dir)", t->path);
	/* etcdutl takes the two only together (3.5.10+) */
	t->has_bump_revision = strstr(buf, "--bump-revision") != NULL &&
	    strstr(buf, "--mark-compacted") != NULL;
	t->has_skip_hash_check = strstr(buf, "--skip-hash-check") != NULL;
	argv[1] = "version";
	argv[2] = NULL;
	if ((r = probe(argv, buf, sizeof(buf), err)) < 0)
		return r;
	version_of(buf, t->version, sizeof(t->version));
	return 0;
}

int
restore_etcd_version(const char *bin, char *out, size_t cap, struct lb_err *err)
{
	char buf[4096], path[4200];
	char *argv[3];
	int r;

	if (restore_find_exe(bin, path, sizeof(path)) != 0)
		return lb_err_set(err, LB_E_NOTFOUND, "etcd binary %s not found "
		    "(hint: --etcd-bin PATH)", bin);
	argv[0] = path;
	argv[1] = "--version";
	argv[2] = NULL;
	if ((r = probe(argv, buf, sizeof(buf), err)) < 0)
		return r;
	version_of(buf, out, cap);
	return 0;
}

int
restore_tool_spawn(const struct restore_tool *t, const char *snapshot,
    const struct restore_member *m, const char *initial_cluster,
    const char *token, int64_t bump, const char *log_path, pid_t *pid,
    struct lb_err *err)
{
	char bump_s[32];
	char *argv[20];
	int a = 0;

	argv[a++] = (char *)t->path;
	argv[a++] = "snapshot";
	argv[a++] = "restore";
	argv[a++] = (char *)snapshot;
	argv[a++] = "--name";
	argv[a++] = m->name;
	argv[a++] = "--data-dir";
	argv[a++] = m->data_dir;
	argv[a++] = "--initial-cluster";
	argv[a++] = (char *)initial_cluster;
	argv[a++] = "--initial-cluster-token";
	argv[a++] = (char *)token;
	argv[a++] = "--initial-advertise-peer-urls";
	argv[a++] = m->peer_url;
	/* The fetch checked etcd's trailer hash as the bytes went by: a
	 * second pass over the whole file in each of the tool's processes
	 * (one per member) would only cost time.  The tool still strips it. */
	if (t->has_skip_hash_check)
		argv[a++] = "--skip-hash-check";
	if (bump > 0 && t->has_bump_revision) {
		snprintf(bump_s, sizeof(bump_s), "%lld", (long long)bump);
		argv[a++] = "--bump-revision";
		argv[a++] = bump_s;
		argv[a++] = "--mark-compacted";
	}
	argv[a] = NULL;
	return spawn(argv, log_path, 0, pid, err);
}

/* ---- etcd --------------------------------------------------------------- */

/* A YAML single-quoted scalar: quotes doubled, nothing else special. */
static void
yaml_str(FILE *fp, const char *key, const char *v, const char *indent)
{
	fprintf(fp, "%s%s: '", indent, key);
	for (; *v != '\0'; v++) {
		if (*v == '\'')
			fputc('\'', fp);
		fputc(*v, fp);
	}
	fputs("'\n", fp);
}

static int
write_file(const char *path, const char *text, size_t len, mode_t mode,
    struct lb_err *err)
{
	struct flt *f = NULL;
	int r;

	if ((r = flt_file_new(path, mode, &f, err)) < 0)
		return r;
	if ((r = flt_write(f, text, len, err)) == 0)
		r = flt_finish(f, err);
	flt_free(f);
	return r;
}

/* tmpl with every "{name}" replaced by name, into out; *res is out, or
 * tmpl itself (NULL too) when it has no "{name}". */
static int
expand_name(const char *tmpl, const char *name, char *out, size_t cap,
    const char **res, struct lb_err *err)
{
	const char *s = tmpl, *p;
	size_t n = 0, k;

	*res = tmpl;
	if (tmpl == NULL || strstr(tmpl, "{name}") == NULL)
		return 0;
	out[0] = '\0';
	while (s != NULL) {
		p = strstr(s, "{name}");
		k = (size_t)snprintf(out + n, cap - n, "%.*s%s",
		    p != NULL ? (int)(p - s) : (int)strlen(s), s, p != NULL ? name : "");
		if (k >= cap - n)
			return lb_err_set(err, LB_E_USAGE, "member %s: path too long with "
			    "{name} replaced (at most %zu bytes): %.64s...", name, cap - 1, tmpl);
		n += k;
		s = p != NULL ? p + 6 : NULL;
	}
	*res = out;
	return 0;
}

int
restore_member_tls(const struct restore_etcd_opts *o, const char *name,
    struct restore_etcd_opts *out, char buf[RESTORE_TLS_FILES][4096],
    struct lb_err *err)
{
	const char **f[RESTORE_TLS_FILES] = { &out->cert, &out->key, &out->cacert,
	    &out->peer_cert, &out->peer_key, &out->peer_cacert };
	size_t i;
	int r;

	*out = *o;
	for (i = 0; i < RESTORE_TLS_FILES; i++)
		if ((r = expand_name(*f[i], name, buf[i], sizeof(buf[i]), f[i], err)) < 0)
			return r;
	return 0;
}

int
restore_write_config(const struct restore_etcd_opts *mo,
    const struct restore_member *m, const char *initial_cluster,
    char *conf, size_t cap, struct lb_err *err)
{
	struct restore_etcd_opts own, *o = &own;
	char files[RESTORE_TLS_FILES][4096];
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int r;

	if ((size_t)snprintf(conf, cap, "%s.conf.yml", m->data_dir) >= cap)
		return lb_err_set(err, LB_E_USAGE, "data dir %s: path too long", m->data_dir);
	if ((r = restore_member_tls(mo, m->name, o, files, err)) < 0)
		return r;
	if ((fp = open_memstream(&text, &len)) == NULL)
		return lb_err_sys(err, LB_E_NOMEM, errno, "open_memstream");
	fprintf(fp, "# etcd configuration written by lifeboat restore\n");
	yaml_str(fp, "name", m->name, "");
	yaml_str(fp, "data-dir", m->data_dir, "");
	yaml_str(fp, "listen-client-urls", m->client_url, "");
	yaml_str(fp, "advertise-client-urls", m->client_url, "");
	yaml_str(fp, "listen-peer-urls", m->peer_url, "");
	yaml_str(fp, "initial-advertise-peer-urls", m->peer_url, "");
	yaml_str(fp, "initial-cluster", initial_cluster, "");
	yaml_str(fp, "initial-cluster-state", o->state != NULL ? o->state : "new", "");
	if (o->token != NULL)
		yaml_str(fp, "initial-cluster-token", o->token, "");
	fprintf(fp, "logger: 'zap'\nlog-outputs: ['stderr']\n");
	if (o->unsafe_no_fsync)
		fprintf(fp, "unsafe-no-fsync: true\n");
	if (o->max_request_bytes > 0)
		fprintf(fp, "max-request-bytes: %lld\n", o->max_request_bytes);
	if (o->max_txn_ops > 0)
		fprintf(fp, "max-txn-ops: %lld\n", o->max_txn_ops);
	if (o->quota_backend_bytes > 0)
		fprintf(fp, "quota-backend-bytes: %lld\n", o->quota_backend_bytes);
	if (o->cert != NULL || o->cacert != NULL) {
		fprintf(fp, "client-transport-security:\n");
		if (o->cert != NULL)
			yaml_str(fp, "cert-file", o->cert, "  ");
		if (o->key != NULL)
			yaml_str(fp, "key-file", o->key, "  ");
		if (o->cacert != NULL) {
			yaml_str(fp, "trusted-ca-file", o->cacert, "  ");
			fprintf(fp, "  client-cert-auth: true\n");
		}
	}
	if (o->peer_cert != NULL || o->peer_cacert != NULL) {
		fprintf(fp, "peer-transport-security:\n");
		if (o->peer_cert != NULL)
			yaml_str(fp, "cert-file", o->peer_cert, "  ");
		if (o->peer_key != NULL)
			yaml_str(fp, "key-file", o->peer_key, "  ");
		if (o->peer_cacert != NULL) {
			yaml_str(fp, "trusted-ca-file", o->peer_cacert, "  ");
			fprintf(fp, "  client-cert-auth: true\n");
		}
	}
	if (fclose(fp) != 0) {
		free(text);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	r = write_file(conf, text, len, 0600, err);
	free(text);
	return r;
}

int
restore_write_unit(const struct restore_etcd_opts *o, const char *name,
    const char *conf, const char *unit_path, struct lb_err *err)
{
	char bin[4096];
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int r;

	if (restore_find_exe(o->etcd_bin != NULL ? o->etcd_bin : "etcd", bin, sizeof(bin)) < 0)
		snprintf(bin, sizeof(bin), "%s", o->etcd_bin != NULL ? o->etcd_bin :
		    "/usr/bin/etcd");
	if ((fp = open_memstream(&text, &len)) == NULL)
		return lb_err_sys(err, LB_E_NOMEM, errno, "open_memstream");
	fprintf(fp,
	    "# written by lifeboat restore\n"
	    "[Unit]\n"
	    "Description=etcd member %s (restored by lifeboat)\n"
	    "After=network-online.target\n"
	    "Wants=network-online.target\n"
	    "\n"
	    "[Service]\n"
	    "Type=notify\n"
	    "ExecStart=\"%s\" --config-file \"%s\"\n"
	    "Restart=on-failure\n"
	    "LimitNOFILE=65536\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n", name, bin, conf);
	if (fclose(fp) != 0) {
		free(text);
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	}
	r = write_file(unit_path, text, len, 0644, err);
	free(text);
	return r;
}

int
restore_etcd_start(const struct restore_etcd_opts *o, struct restore_member *m,
    const char *conf, struct lb_err *err)
{
	char log_path[4200], pid_path[4200], bin[4096], pid_s[32];
	char *argv[4];
	int r;

	if (restore_find_exe(o->etcd_bin != NULL ? o->etcd_bin : "etcd", bin, sizeof(bin)) < 0)
		return lb_err_set(err, LB_E_NOTFOUND, "etcd binary %s not found (hint: "
		    "--etcd-bin PATH)", o->etcd_bin != NULL ? o->etcd_bin : "etcd");
	snprintf(log_path, sizeof(log_path), "%s.log", m->data_dir);
	snprintf(pid_path, sizeof(pid_path), "%s.pid", m->data_dir);
	argv[0] = bin;
	argv[1] = "--config-file";
	argv[2] = (char *)conf;
	argv[3] = NULL;
	if ((r = spawn(argv, log_path, 1, &m->pid, err)) < 0)
		return r;
	snprintf(pid_s, sizeof(pid_s), "%ld\n", (long)m->pid);
	if ((r = write_file(pid_path, pid_s, strlen(pid_s), 0644, err)) < 0)
		return r;
	return 0;
}

void
restore_etcd_stop(struct restore_member *m)
{
	int i, st;

	if (m->pid <= 0)
		return;
	kill(m->pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(m->pid, &st, WNOHANG) == m->pid)
			goto done;
		usleep(100000);
	}
	kill(m->pid, SIGKILL);
	waitpid(m->pid, &st, 0);
done:
	m->pid = 0;
}
