/*
 * get.c: the getters of a parsed configuration, by id or by name
 * (config.h), and the check of what a reload may change.
 */
#include "config/table.h"

#include <string.h>

const char *
cfg_source(const struct cfg *c)
{
	return c->source;
}

size_t
cfg_cluster_count(const struct cfg *c)
{
	return c->n_clusters;
}

const char *
cfg_cluster_name(const struct cfg *c, size_t i)
{
	if (i >= c->n_clusters)
		cfg_bug("cluster index %zu of %zu", i, c->n_clusters);
	return c->clusters[i]->name;
}

int
cfg_has_cluster(const struct cfg *c, const char *name)
{
	return cfg_find_cluster(c, name) != NULL;
}

/* The value of option id in the section cluster names, aborting on a
 * misuse. */
static const struct val *
lookup(const struct cfg *c, const char *cluster, enum cfg_opt id)
{
	const struct section *s;

	if ((unsigned)id >= CFG_N_OPTS)
		cfg_bug("unknown option id %d", (int)id);
	if (cfg_opts[id].section != SEC_BOTH &&
	    (cfg_opts[id].section == SEC_GLOBAL) != (cluster == NULL))
		cfg_bug("option %s asked for %s", cfg_opts[id].name,
		    cluster == NULL ? "without a cluster" : "with a cluster");
	if (cluster == NULL)
		s = &c->global;
	else if ((s = cfg_find_cluster(c, cluster)) == NULL)
		cfg_bug("no cluster %s", cluster);
	/* A cluster's own value, else [global]'s. */
	if (cfg_opts[id].section == SEC_BOTH && cluster != NULL && s->v[id].text == NULL)
		s = &c->global;
	return &s->v[id];
}

/* The id of the option called name, aborting when there is none. */
static enum cfg_opt
id_of(const char *name)
{
	int i;

	if ((i = cfg_opt_find(name)) < 0)
		cfg_bug("unknown option %s", name);
	return (enum cfg_opt)i;
}

const char *
cfg_get_str_by_id(const struct cfg *c, const char *cluster, enum cfg_opt id)
{
	return lookup(c, cluster, id)->text;
}

const char *
cfg_get_str_by_name(const struct cfg *c, const char *cluster, const char *name)
{
	return cfg_get_str_by_id(c, cluster, id_of(name));
}

long long
cfg_get_int_by_id(const struct cfg *c, const char *cluster, enum cfg_opt id)
{
	const struct val *v = lookup(c, cluster, id);
	const struct opt *o = &cfg_opts[id];

	if (o->type != T_INT && o->type != T_BOOL && o->type != T_DURATION &&
	    o->type != T_SIZE && o->type != T_ENUM)
		cfg_bug("option %s is not a number", o->name);
	return v->num;
}

long long
cfg_get_int_by_name(const struct cfg *c, const char *cluster, const char *name)
{
	return cfg_get_int_by_id(c, cluster, id_of(name));
}

size_t
cfg_get_list_by_id(const struct cfg *c, const char *cluster, enum cfg_opt id,
    const char *const **out)
{
	const struct val *v = lookup(c, cluster, id);

	if (cfg_opts[id].type != T_LIST)
		cfg_bug("option %s is not a list", cfg_opts[id].name);
	*out = (const char *const *)v->items;
	return v->n_items;
}

size_t
cfg_get_list_by_name(const struct cfg *c, const char *cluster, const char *name,
    const char *const **out)
{
	return cfg_get_list_by_id(c, cluster, id_of(name), out);
}

int
cfg_is_set_by_id(const struct cfg *c, const char *cluster, enum cfg_opt id)
{
	return lookup(c, cluster, id)->line > 0;
}

int
cfg_is_set_by_name(const struct cfg *c, const char *cluster, const char *name)
{
	return cfg_is_set_by_id(c, cluster, id_of(name));
}

static int
same_text(const struct val *a, const struct val *b)
{
	if (a->text == NULL || b->text == NULL)
		return a->text == b->text;
	return strcmp(a->text, b->text) == 0;
}

int
cfg_reload_check(const struct cfg *old_cfg, const struct cfg *new_cfg,
    struct lb_err *err)
{
	const struct section *o, *n;
	size_t i, k;

	for (i = 0; i < CFG_N_OPTS; i++) {
		if (cfg_opts[i].flags & F_RELOAD)
			continue;
		if (cfg_opts[i].section != SEC_CLUSTER &&
		    !same_text(&old_cfg->global.v[i], &new_cfg->global.v[i]))
			return lb_err_set(err, LB_E_CONFIG, "%s cannot change on "
			    "reload (restart lifeboat)", cfg_opts[i].name);
		if (cfg_opts[i].section == SEC_GLOBAL)
			continue;
		for (k = 0; k < new_cfg->n_clusters; k++) {
			n = new_cfg->clusters[k];
			if ((o = cfg_find_cluster(old_cfg, n->name)) != NULL &&
			    !same_text(&o->v[i], &n->v[i]))
				return lb_err_set(err, LB_E_CONFIG, "[cluster:%s] %s cannot "
				    "change on reload (restart lifeboat)", n->name, cfg_opts[i].name);
		}
	}
	return 0;
}

void
cfg_object_lock(const struct cfg *c, const char *cluster, int *mode,
    long long *secs)
{
	const char *v = cfg_get_str(c, cluster, CFG_S3_OBJECT_LOCK);

	/* Checked when the file was read. */
	if (v == NULL || cfg_object_lock_parse(v, mode, secs, NULL) < 0) {
		*mode = CFG_LOCK_OFF;
		*secs = 0;
	}
}
