/*
 * config.h: the configuration file, parsed once into an immutable struct.
 *
 * One table, config/options.def, declares every option (name, section,
 * type, default, range, secret?, reloadable?, one-line help), in the way
 * of Redis's static_configs[]; it drives the parser, validation,
 * `lifeboat config options` and contrib/lifeboat.conf.example, and gives
 * each option a typed id (CFG_REPO, CFG_S3_REGION...) for the getters.
 *
 * Format (in the spirit of pgbackrest.conf):
 *
 *     # comment            (a line starting with # or ; after blanks)
 *     [global]
 *     repo = s3://bucket/prefix
 *     [cluster:prod-1]     (one per etcd cluster; name [a-z0-9][a-z0-9._-]{0,62})
 *     endpoints = https://10.0.0.1:2379, https://10.0.0.2:2379
 *
 * A value runs to the end of its line (a # inside it is part of it); one
 * pair of double quotes around it is removed.  Unknown sections and keys,
 * keys outside a section, duplicates and invalid values are errors that
 * name the file and line: "lifeboat.conf:12: compress-level: 42 is out of
 * range 1..19".  Secret values never appear in errors or output.
 *
 * Secrets do not live in the file: they come from files named by options
 * (s3-secret-access-key-file, password-file) or from the environment,
 * read when asked for (cfg_s3_credentials, cfg_etcd_password).
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "common/secret.h"

struct cfg;

/* The id of every option: its name upper-cased, '-' turned into '_'
 * (s3-part-size is CFG_S3_PART_SIZE). */
enum cfg_opt {
#define CFG_OPT(id, ...) CFG_##id,
#include "config/options.def"
#undef CFG_OPT
	CFG_N_OPTS
};

/* The name of option id in the file ("s3-part-size"). */
const char *cfg_opt_name(enum cfg_opt id);

/* Largest configuration file accepted, and longest line. */
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_LINE_MAX 4096
#define CFG_CLUSTERS_MAX 256

/* Reads and parses path.  On success *out is a new configuration the
 * caller frees with cfg_free; on failure *out is NULL and err says where
 * and why (LB_E_CONFIG for the content, LB_E_IO when it cannot be read,
 * LB_E_NOTFOUND when it does not exist). */
int cfg_load(const char *path, struct cfg **out, struct lb_err *err);

/* Parses text, a NUL-terminated file image; name stands for the file in
 * messages.  Same contract as cfg_load. */
int cfg_parse_string(const char *text, const char *name, struct cfg **out,
    struct lb_err *err);

/* Frees c; NULL is fine. */
void cfg_free(struct cfg *c);

/* The name the configuration was loaded from (path or name). */
const char *cfg_source(const struct cfg *c);

/* Clusters, in the order of their sections in the file. */
size_t cfg_cluster_count(const struct cfg *c);
const char *cfg_cluster_name(const struct cfg *c, size_t i);
/* 1 if a [cluster:name] section exists, else 0. */
int cfg_has_cluster(const struct cfg *c, const char *name);

/*
 * Getters.  cluster is NULL for a [global] option and a cluster name
 * (one that exists) for a [cluster:NAME] option.  Asking for an unknown
 * option, an option of the other section, a cluster that does not exist or
 * a getter that does not fit the option's type is a bug in the caller and
 * aborts.  Options that are not set take their default.
 *
 * key is an id, cfg_get_str(c, NULL, CFG_CATALOG), so a misspelt option
 * does not compile; or a name, cfg_get_str(c, NULL, "catalog"), looked up
 * when it runs, for names that come from elsewhere (and the tests that
 * were written before the ids).  A C11 _Generic picks the function by the
 * type of key: a string is a name, anything else an id.
 */
#define CFG_BY_KEY_(fn, key) _Generic((key), \
	char *: fn##_by_name, const char *: fn##_by_name, default: fn##_by_id)

/* The value as written (quotes removed) or the default; NULL when the
 * option is unset and has no default.  Works for every type, secret ones
 * included (s3-access-key-id): never log what it returns for those. */
#define cfg_get_str(c, cluster, key) CFG_BY_KEY_(cfg_get_str, key)(c, cluster, key)
const char *cfg_get_str_by_id(const struct cfg *c, const char *cluster,
    enum cfg_opt id);
const char *cfg_get_str_by_name(const struct cfg *c, const char *cluster,
    const char *name);

/* What cfg_get_int returns for an option that takes "auto" (F_AUTO in
 * config/table.h; compress-level) and is set to it: 0, below the range of
 * every such option, so callers test for it (stream/zstd_filter.h's
 * ZSTD_LEVEL_AUTO is the same 0 for compress-level). */
#define CFG_AUTO 0

/* int: the number (CFG_AUTO for "auto"); bool: 1 or 0; duration: seconds; size: bytes; enum:
 * the index of the choice.  0 when unset without default. */
#define cfg_get_int(c, cluster, key) CFG_BY_KEY_(cfg_get_int, key)(c, cluster, key)
long long cfg_get_int_by_id(const struct cfg *c, const char *cluster,
    enum cfg_opt id);
long long cfg_get_int_by_name(const struct cfg *c, const char *cluster,
    const char *name);

/* A list option (endpoints, recipients): sets *out to the items, owned by
 * c, and returns their count (0 when unset). */
#define cfg_get_list(c, cluster, key, out) \
	CFG_BY_KEY_(cfg_get_list, key)(c, cluster, key, out)
size_t cfg_get_list_by_id(const struct cfg *c, const char *cluster,
    enum cfg_opt id, const char *const **out);
size_t cfg_get_list_by_name(const struct cfg *c, const char *cluster,
    const char *name, const char *const **out);

/* 1 if the option was set in the file, 0 if it has its default. */
#define cfg_is_set(c, cluster, key) CFG_BY_KEY_(cfg_is_set, key)(c, cluster, key)
int cfg_is_set_by_id(const struct cfg *c, const char *cluster, enum cfg_opt id);
int cfg_is_set_by_name(const struct cfg *c, const char *cluster, const char *name);

/* s3-object-lock: "off", or MODE:PERIOD with MODE governance or
 * compliance and PERIOD a number with s, m, h or d (at most 36500d).
 * *mode is CFG_LOCK_OFF, CFG_LOCK_GOVERNANCE or CFG_LOCK_COMPLIANCE and
 * *secs the period.  LB_E_CONFIG with the reason for a bad value. */
enum { CFG_LOCK_OFF, CFG_LOCK_GOVERNANCE, CFG_LOCK_COMPLIANCE };
int cfg_object_lock_parse(const char *v, int *mode, long long *secs,
    struct lb_err *err);

/* The s3-object-lock of cluster (its own, else [global]'s; NULL: [global]
 * only), parsed as above: CFG_LOCK_OFF when unset. */
void cfg_object_lock(const struct cfg *c, const char *cluster, int *mode,
    long long *secs);

/* S3 credentials.  The access key id is s3-access-key-id or else
 * $AWS_ACCESS_KEY_ID; the secret is the first line of
 * s3-secret-access-key-file or else $AWS_SECRET_ACCESS_KEY; the session
 * token is $AWS_SESSION_TOKEN, used only when both come from the
 * environment (a token belongs with the temporary keys it was issued
 * with).  Each out is a new string or NULL when there is none; the caller
 * frees them with lb_secret_free.  Fails with LB_E_CONFIG when only one of
 * id and secret is found or the secret file cannot be read. */
int cfg_s3_credentials(const struct cfg *c, char **access_key_id,
    char **secret_access_key, char **session_token, struct lb_err *err);

/* The etcd password of a cluster: the first line of its password-file,
 * or else $LIFEBOAT_ETCD_PASSWORD_<NAME> (the cluster name upper-cased,
 * '.' and '-' turned into '_').  *out is NULL when there is none; the
 * caller frees it with lb_secret_free.  Fails with LB_E_CONFIG when a
 * password is found for a cluster without user, or the file cannot be
 * read. */
int cfg_etcd_password(const struct cfg *c, const char *cluster, char **out,
    struct lb_err *err);

/* The environment variable cfg_etcd_password reads for cluster, into
 * buf; returns buf. */
char *cfg_etcd_password_env(const char *cluster, char *buf, size_t len);

/* Checks that new_cfg differs from old_cfg only in options that may
 * change on reload (SIGHUP); fails with LB_E_CONFIG naming the first
 * option that may not ("repo cannot change on reload (restart lifeboat)").
 * Clusters may come and go. */
int cfg_reload_check(const struct cfg *old_cfg, const struct cfg *new_cfg,
    struct lb_err *err);

/* Prints the effective configuration as INI, defaults included and
 * marked, secret values masked.  Returns 0 or LB_E_IO. */
int cfg_print(const struct cfg *c, FILE *fp);

/* Prints every option of the table: section, name, type and range,
 * default, flags and help (`lifeboat config options`). */
void cfg_print_options(FILE *fp);

/* Writes the example configuration generated from the table (the text of
 * contrib/lifeboat.conf.example).  Returns 0 or LB_E_IO. */
int cfg_write_example(FILE *fp);

/* Writes the manual page lifeboat.conf(5) in roff, generated from the
 * table like the example (`lifeboat config man`); version goes into the
 * page's footer.  Returns 0 or LB_E_IO. */
int cfg_write_man(FILE *fp, const char *version);

#endif
