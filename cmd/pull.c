/*
 * cmd/pull.c: `lifeboat pull`: its options, usage and the printing of
 * what came of each member (a table, or --json).  The pull itself is
 * backup/pull.h's.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "backup/pull.h"
#include "common/buf.h"
#include "common/cancel.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/secret.h"

static void
pull_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lifeboat pull --endpoints URL[,URL...] --out-dir DIR [options]\n"
	    "\n"
	    "Pulls a snapshot from every member of the cluster (learners too) into\n"
	    "DIR/<member>.db, byte for byte what 'etcdctl snapshot save' writes,\n"
	    "with etcd's sha256 trailer verified while streaming.\n"
	    "\n"
	    "  --endpoints URLS        client URLs to discover the members from\n"
	    "  --out-dir DIR           existing directory for the snapshot files\n"
	    "  --cacert FILE           CA bundle to verify the members' certificates\n"
	    "  --cert FILE --key FILE  client certificate and key\n"
	    "  --user NAME             etcd user (needs the root role for snapshots)\n"
	    "  --password-file FILE    its password (or $LIFEBOAT_ETCD_PASSWORD)\n"
	    "  --connect-timeout SEC   default 10\n"
	    "  --stall-timeout SEC     give up after this long without data, default 60\n"
	    "  --parallel N            members pulled at once, default 3\n"
	    "  --json                  print the result as JSON\n"
	    "\n"
	    "Exit status: 0 every member pulled, 3 some, 1 none, 2 usage.\n");
}

static char **
split_list(const char *s, size_t *n)
{
	char *copy, *tok, *save = NULL, **v = NULL;
	size_t cap = 0;

	*n = 0;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		/* room for this one and the NULL after it; argv bounds the list */
		if (lb_vec_grow(&v, &cap, *n + 1, sizeof(*v), SIZE_MAX / sizeof(*v)) < 0)
			break;
		if ((v[*n] = strdup(tok)) == NULL)
			break;
		v[++*n] = NULL;
	}
	free(copy);
	return v;
}

static void
free_list(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
print_result_json(const struct pull_plan *p, const char *out_dir)
{
	json_t *root = json_object(), *arr = json_array();
	char id[17], hex[65], path[4096], name[128];
	size_t i, ok = 0;

	etcd_id_str(p->cluster_id, id);
	json_object_set_new(root, "cluster_id", json_string(id));
	for (i = 0; i < p->n; i++) {
		const struct pull_target *t = &p->t[i];
		json_t *m = json_object();

		json_object_set_new(m, "name", json_string(t->name));
		json_object_set_new(m, "id", json_string(t->id_hex));
		json_object_set_new(m, "endpoint", t->endpoint ?
		    json_string(t->endpoint) : json_null());
		json_object_set_new(m, "learner", json_boolean(t->is_learner));
		json_object_set_new(m, "leader", json_boolean(t->is_leader));
		json_object_set_new(m, "status", json_string(t->rc == 0 ? "ok" : "failed"));
		if (t->rc == 0) {
			ok++;
			pull_safe_name(t->name, name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s.db", out_dir, name);
			lb_hex(t->etcd_sha256, 32, hex);
			json_object_set_new(m, "file", json_string(path));
			json_object_set_new(m, "db_size", json_integer((json_int_t)t->db_size));
			json_object_set_new(m, "etcd_sha256", json_string(hex));
			json_object_set_new(m, "revision", json_integer(t->status.revision));
			json_object_set_new(m, "raft_index",
			    json_integer((json_int_t)t->status.raft_index));
			json_object_set_new(m, "raft_term",
			    json_integer((json_int_t)t->status.raft_term));
			json_object_set_new(m, "etcd_version", json_string(t->status.version));
		} else {
			json_object_set_new(m, "error", json_string(t->err.msg));
		}
		json_array_append_new(arr, m);
	}
	json_object_set_new(root, "members", arr);
	json_object_set_new(root, "pulled", json_integer((json_int_t)ok));
	json_object_set_new(root, "total", json_integer((json_int_t)p->n));
	json_dumpf(root, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(root);
}

static void
print_result_table(const struct pull_plan *p)
{
	char size[32], hex[65];
	size_t i;

	printf("%-16s %-8s %-7s %10s %10s  %s\n", "MEMBER", "ROLE", "STATUS",
	    "REVISION", "SIZE", "ETCD SHA256");
	for (i = 0; i < p->n; i++) {
		const struct pull_target *t = &p->t[i];
		const char *role = t->is_leader ? "leader" :
		    t->is_learner ? "learner" : "follower";

		if (t->rc != 0) {
			printf("%-16s %-8s %-7s %10s %10s  -\n", t->name, role,
			    "failed", "-", "-");
			continue;
		}
		lb_fmt_size(t->db_size, size, sizeof(size));
		lb_hex(t->etcd_sha256, 8, hex);
		printf("%-16s %-8s %-7s %10lld %10s  %s...\n", t->name, role, "ok",
		    (long long)t->status.revision, size, hex);
	}
}

/* Fills o's TLS and auth fields from the shared etcd options; the
 * password comes from a file or the environment, never from argv. */
static int
resolve_password(const char *user, const char *password_file, char **password,
    struct lb_err *err)
{
	*password = NULL;
	if (user == NULL)
		return 0;
	if (password_file != NULL)
		return lb_secret_read_file(password_file, password, err);
	if ((*password = lb_secret_from_env("LIFEBOAT_ETCD_PASSWORD")) != NULL)
		return 0;
	return lb_err_set(err, LB_E_USAGE, "no password for etcd user '%s' "
	    "(hint: --password-file FILE or $LIFEBOAT_ETCD_PASSWORD)", user);
}

int
cmd_pull(const struct lb_globals *g, int argc, char **argv)
{
	enum { O_CACERT = 256, O_CERT, O_KEY, O_USER, O_PWFILE, O_CTO, O_STO,
	    O_PAR, O_JSON };
	static const struct option longopts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "user", required_argument, NULL, O_USER },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "connect-timeout", required_argument, NULL, O_CTO },
		{ "stall-timeout", required_argument, NULL, O_STO },
		{ "parallel", required_argument, NULL, O_PAR },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct etcd_opts o = { 0 };
	struct pull_plan *plan = NULL;
	struct lb_err err;
	struct stat st;
	const char *endpoints = NULL, *password_file = NULL, *out_dir = NULL;
	char **eps = NULL, *password = NULL;
	size_t n_eps = 0, ok, i;
	int opt, json = 0, parallel = 3, status = 2;

	(void)g;
	lb_err_clear(&err);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "e:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoints = optarg; break;
		case 'o': out_dir = optarg; break;
		case O_CACERT: o.cacert = optarg; break;
		case O_CERT: o.cert = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_USER: o.user = optarg; break;
		case O_PWFILE: password_file = optarg; break;
		case O_CTO: o.connect_timeout_s = atol(optarg); break;
		case O_STO: o.stall_timeout_s = atol(optarg); break;
		case O_PAR: parallel = atoi(optarg); break;
		case O_JSON: json = 1; break;
		case 'h': pull_usage(stdout); return 0;
		default: pull_usage(stderr); return 2;
		}
	}
	if (optind != argc || endpoints == NULL || out_dir == NULL) {
		log_error("pull needs --endpoints and --out-dir (see 'lifeboat pull --help')");
		goto out;
	}
	if (stat(out_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("out-dir %s: %s", out_dir,
		    errno == ENOENT || !S_ISDIR(st.st_mode) ? "no such directory" :
		    strerror(errno));
		goto out;
	}
	if ((o.cert == NULL) != (o.key == NULL)) {
		log_error("--cert and --key go together");
		goto out;
	}
	if ((eps = split_list(endpoints, &n_eps)) == NULL || n_eps == 0) {
		log_error("--endpoints: no endpoint given");
		goto out;
	}
	if (etcd_endpoints_tls((const char *const *)eps, n_eps, o.cacert != NULL ||
	    o.cert != NULL || o.key != NULL, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	if (resolve_password(o.user, password_file, &password, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	o.password = password;
	o.cancel = &lb_cancel;
	lb_cancel_on_signals();

	status = 1;
	if (pull_plan_discover(eps, n_eps, &o, &plan, &err) < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	ok = pull_to_files(plan, &o, parallel, out_dir);
	for (i = 0; i < plan->n; i++)
		if (plan->t[i].rc < 0)
			log_error("%s", plan->t[i].err.msg);
	if (json)
		print_result_json(plan, out_dir);
	else
		print_result_table(plan);
	fflush(stdout);
	if (!json)
		log_info("pulled %zu of %zu members into %s", ok, plan->n, out_dir);
	status = ok == plan->n ? 0 : ok > 0 ? 3 : 1;
out:
	pull_plan_free(plan);
	free_list(eps);
	lb_secret_free(password);
	return status;
}
