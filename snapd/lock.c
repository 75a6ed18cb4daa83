/*
 * lock.c: the per-cluster election of lock.h on top of etcd/etcd_lock.
 * A mutex guards the lease id and the etcd client, which the run thread
 * (at each slot), the renewing thread and the release at shutdown share;
 * a second one, never held across a call to etcd, the holder last seen.
 */
#include "snapd/lock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "env/setup.h"
#include "etcd/etcd.h"
#include "etcd/etcd_lock.h"

struct snapd_lock {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char cluster[128];
	char key[1024];
	char owner[256];
	/* Another's owner string, last seen, or "".  Under hmu, not mu: mu
	 * is held across calls to etcd, and the status page, which reads
	 * this under the daemon's mutex, must not wait for one. */
	pthread_mutex_t hmu;
	char holder[256];
	struct etcd_client *ec;    /* opened by the last lock_acquire */
	int64_t lease;             /* 0: not held */
	int off;                   /* no write access: lock disabled */
	pthread_t keeper;
	int keeping, stop;
	const volatile sig_atomic_t *cancel;
	lock_revision_fn note;     /* lock_note_revisions: set before use */
	lock_reopen_fn reopen;     /* lock_set_reopen: set before use */
	void *reopen_arg;
	void *note_arg;
	double note_every;
};

int
lock_new(const char *cluster, const char *prefix, const char *owner,
    const volatile sig_atomic_t *cancel, struct snapd_lock **out, struct lb_err *err)
{
	struct snapd_lock *l;

	*out = NULL;
	if (strlen(prefix) + strlen(cluster) >= sizeof(l->key))
		return lb_err_set(err, LB_E_CONFIG, "lock-prefix too long");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return lb_err_set(err, LB_E_NOMEM, "out of memory");
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->hmu, NULL);
	pthread_cond_init(&l->cv, NULL);
	snprintf(l->cluster, sizeof(l->cluster), "%s", cluster);
	snprintf(l->key, sizeof(l->key), "%s%s", prefix, cluster);
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	l->cancel = cancel;
	*out = l;
	return 0;
}

void
lock_note_revisions(struct snapd_lock *l, double every, lock_revision_fn fn, void *arg)
{
	l->note = fn;
	l->note_arg = arg;
	l->note_every = every;
}

void
lock_set_reopen(struct snapd_lock *l, lock_reopen_fn fn, void *arg)
{
	l->reopen = fn;
	l->reopen_arg = arg;
}

static void
keep_stop(struct snapd_lock *l)
{
	int join;

	pthread_mutex_lock(&l->mu);
	join = l->keeping;
	l->stop = 1;
	l->keeping = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (join)
		pthread_join(l->keeper, NULL);
}

void
lock_free(struct snapd_lock *l)
{
	if (l == NULL)
		return;
	keep_stop(l);
	etcd_close(l->ec);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->hmu);
	free(l);
}

int
lock_open_any(const struct cfg *c, const char *cluster,
    const volatile sig_atomic_t *cancel, struct etcd_client **out, struct lb_err *err)
{
	const char *const *eps = NULL;
	struct etcd_opts o;
	char *password = NULL;
	size_t n, i;
	int r;

	*out = NULL;
	if ((r = setup_etcd_opts(c, cluster, &o, &password, err)) < 0)
		return r;
	o.cancel = cancel;
	n = cfg_get_list(c, cluster, CFG_ENDPOINTS, &eps);
	r = lb_err_set(err, LB_E_CONFIG, "cluster %s has no endpoints", cluster);
	for (i = 0; i < n; i++) {
		if ((r = etcd_open(eps[i], &o, out, err)) == 0)
			break;
	}
	lb_secret_free(password);
	return r;
}

/* Renews the lease every LOCK_TTL_S / 3 seconds while there is one.  A
 * failure is logged once per series, not every few seconds. */
static void *
keeper_main(void *arg)
{
	struct snapd_lock *l = arg;
	struct timespec ts;
	struct lb_err err;
	int64_t ttl, rev = 0, noted_rev = 0;
	double noted_at = 0, now;
	int failing = 0, r;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LOCK_TTL_S / 3;
		while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
			;
		if (l->stop || l->lease == 0 || l->ec == NULL)
			continue;
		r = etcd_lease_keepalive(l->ec, l->lease, &ttl, &rev, &err);
		if (r < 0 && r != LB_E_NOTFOUND && l->reopen != NULL) {
			/* the member went away: another one renews before the
			 * lease runs out (a watch on it may be moving too) */
			struct etcd_client *ec = NULL;
			struct lb_err e2;

			if (l->reopen(l->reopen_arg, l->cluster, &ec, &e2) == 0) {
				etcd_close(l->ec);
				l->ec = ec;
				r = etcd_lease_keepalive(l->ec, l->lease, &ttl, &rev, &err);
			}
		}
		if (r == LB_E_NOTFOUND) {
			log_warn("cluster=%s lock=%s lost: %s", l->cluster, l->key, err.msg);
			__atomic_store_n(&l->lease, 0, __ATOMIC_RELAXED);
		} else if (r < 0 && !failing) {
			log_warn("cluster=%s lock keepalive: %s (retrying)", l->cluster, err.msg);
		} else if (r == 0 && failing) {
			log_info("cluster=%s lock keepalive works again", l->cluster);
		}
		failing = r < 0;
		now = lb_mono_now();
		if (r == 0 && l->note != NULL && rev > 0 && rev != noted_rev &&
		    (noted_at == 0 || now - noted_at >= l->note_every)) {
			/* unlocked: the catalog may make it wait a moment, and
			 * lock_acquire must not wait behind that */
			pthread_mutex_unlock(&l->mu);
			l->note(l->note_arg, l->cluster, rev, time(NULL));
			pthread_mutex_lock(&l->mu);
			noted_rev = rev;
			noted_at = now;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void
set_holder(struct snapd_lock *l, const char *holder)
{
	pthread_mutex_lock(&l->hmu);
	snprintf(l->holder, sizeof(l->holder), "%s", holder);
	pthread_mutex_unlock(&l->hmu);
}

int
lock_acquire(struct snapd_lock *l, const struct cfg *c, int *held, struct lb_err *err)
{
	struct etcd_client *ec = NULL;
	char holder[sizeof(l->holder)];
	int64_t id = 0, ttl = 0;
	int r = 0, ok = 0;

	*held = 0;
	pthread_mutex_lock(&l->mu);
	if (l->off) {
		*held = 1;
		goto out;
	}
	/* A fresh client each slot picks up changed endpoints or TLS files. */
	if ((r = lock_open_any(c, l->cluster, l->cancel, &ec, err)) < 0)
		goto out;
	etcd_close(l->ec);
	l->ec = ec;
	if (l->lease != 0) {
		/* Still ours?  Renew, then check the key sits on our lease. */
		if (etcd_lease_keepalive(ec, l->lease, &ttl, NULL, err) == 0 &&
		    etcd_key_has_lease(ec, l->key, l->lease, &ok, err) == 0 && ok) {
			*held = 1;
			goto out;
		}
		log_warn("cluster=%s lock=%s lost (%s)", l->cluster, l->key,
		    err->code != 0 ? err->msg : "the key is no longer on our lease");
		lb_err_clear(err);
		__atomic_store_n(&l->lease, 0, __ATOMIC_RELAXED);
	}
	if ((r = etcd_lease_grant(ec, LOCK_TTL_S, &id, &ttl, err)) < 0)
		goto auth;
	if ((r = etcd_key_create(ec, l->key, l->owner, id, &ok, holder, sizeof(holder),
	    err)) < 0 || !ok) {
		struct lb_err rerr;
		etcd_lease_revoke(ec, id, &rerr);
		if (r < 0)
			goto auth;
		/* for the status page: who runs the slots instead of us */
		set_holder(l, holder);
		goto out;
	}
	set_holder(l, "");
	__atomic_store_n(&l->lease, id, __ATOMIC_RELAXED);
	*held = 1;
	log_info("cluster=%s lock=%s taken lease=%llx ttl=%lld", l->cluster, l->key,
	    (unsigned long long)id, (long long)ttl);
	if (!l->keeping) {
		l->stop = 0;
		if (pthread_create(&l->keeper, NULL, keeper_main, l) == 0)
			l->keeping = 1;
		else
			log_warn("cluster=%s lock: cannot start the renewing thread; the "
			    "lock lasts %ds per slot", l->cluster, LOCK_TTL_S);
	}
	goto out;
auth:
	if (r == LB_E_AUTH) {
		l->off = 1;
		*held = 1;
		log_warn("cluster=%s lock off: no write access to %s in etcd (%s); "
		    "this daemon runs every slot, so do not run a second one for it",
		    l->cluster, l->key, err->msg);
		lb_err_clear(err);
		r = 0;
	}
out:
	pthread_mutex_unlock(&l->mu);
	return r;
}

void
lock_release(struct snapd_lock *l, const struct cfg *c)
{
	struct etcd_client *ec = NULL;
	struct lb_err err;
	int64_t lease;
	int r = -1;

	keep_stop(l);
	pthread_mutex_lock(&l->mu);
	lease = l->lease;
	__atomic_store_n(&l->lease, 0, __ATOMIC_RELAXED);
	if (lease != 0 && l->ec != NULL)
		r = etcd_lease_revoke(l->ec, lease, &err);
	pthread_mutex_unlock(&l->mu);
	if (lease == 0)
		return;
	/* The kept connection may be gone; one more try on a new one. */
	if (r < 0 && (r = lock_open_any(c, l->cluster, NULL, &ec, &err)) == 0)
		r = etcd_lease_revoke(ec, lease, &err);
	if (r < 0 && err.code != LB_E_NOTFOUND)
		log_warn("cluster=%s lock release: %s (it expires within %ds)",
		    l->cluster, err.msg, LOCK_TTL_S);
	else
		log_info("cluster=%s lock=%s released", l->cluster, l->key);
	etcd_close(ec);
}

int
lock_is_off(const struct snapd_lock *l)
{
	return __atomic_load_n(&l->off, __ATOMIC_RELAXED);
}

int
lock_is_held(const struct snapd_lock *l)
{
	return __atomic_load_n(&l->lease, __ATOMIC_RELAXED) != 0;
}

void
lock_holder(struct snapd_lock *l, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	pthread_mutex_lock(&l->hmu);
	snprintf(buf, cap, "%s", l->holder);
	pthread_mutex_unlock(&l->hmu);
}
