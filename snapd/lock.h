/*
 * lock.h: one runner per cluster among several daemons (high availability).
 *
 * Each daemon that backs up a cluster asks that cluster's etcd, before a
 * scheduled run, for the key <lock-prefix><cluster>, created only if
 * absent (Txn on create revision 0) and attached to a lease of
 * LOCK_TTL_S seconds.  The daemon that creates it runs the slot and
 * keeps the lease alive from a thread of the lock (every LOCK_TTL_S / 3
 * seconds) and re-checks at each slot that the key is still on its lease,
 * so the others skip; when it stops, it revokes the lease, and when it
 * dies the lease expires and another daemon takes over at its next slot.
 * Slots are aligned to the clock (cron.h), so each slot yields one backup.
 *
 * A user without write access to the key (etcd auth) cannot take the
 * lock: it is then turned off for that cluster, with a warning in the
 * log, and this daemon runs every slot itself.
 */
#ifndef LB_SNAPD_LOCK_H
#define LB_SNAPD_LOCK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "common/err.h"

struct etcd_client;

/* Lease TTL in seconds: a dead holder's lock frees after this long. */
#define LOCK_TTL_S 15

struct snapd_lock;

/* A lock for cluster named by prefix + cluster; owner is the value put
 * into the key (host and pid, for people reading etcd); calls to etcd
 * stop when *cancel turns non-zero (NULL: never). */
int lock_new(const char *cluster, const char *prefix, const char *owner,
    const volatile sig_atomic_t *cancel, struct snapd_lock **out,
    struct lb_err *err);

/* What the renewing thread hands the daemon: the revision the cluster
 * had at time `at` (wall clock), from a renewal's answer. */
typedef void (*lock_revision_fn)(void *arg, const char *cluster, int64_t revision,
    time_t at);

/* Asks the renewing thread to call fn with the revision in each
 * renewal's answer, at most every `every` seconds and only when it moved,
 * outside the lock's mutex.  The daemon records it in the catalog, so a
 * restore's revision bump knows how far the cluster got between backups
 * (restore/bump.c).  Call before the first lock_acquire. */
void lock_note_revisions(struct snapd_lock *l, double every, lock_revision_fn fn,
    void *arg);

/* How the renewing thread reaches the cluster again when the member it
 * talks to fails: a client to any member that answers (*out), from the
 * daemon's current configuration.  Without it the renewals stay on that
 * member, and the lease expires while it is down. */
typedef int (*lock_reopen_fn)(void *arg, const char *cluster,
    struct etcd_client **out, struct lb_err *err);

/* Sets l's reopen function; call before the first lock_acquire. */
void lock_set_reopen(struct snapd_lock *l, lock_reopen_fn fn, void *arg);

/* A client to the first of cluster's endpoints in c that answers; calls
 * stop when *cancel turns non-zero.  What lock_acquire opens, for
 * reopen functions. */
int lock_open_any(const struct cfg *c, const char *cluster,
    const volatile sig_atomic_t *cancel, struct etcd_client **out, struct lb_err *err);

/* Frees l (stops renewing but does not revoke: call lock_release
 * first); NULL is fine. */
void lock_free(struct snapd_lock *l);

/* Takes the lock or confirms this daemon still holds it.  *held is 1 when
 * this daemon may run the slot (also when the lock is off), 0 when another
 * holds it.  Fails (LB_E_NET, ...) when no member could be asked.  The
 * client opened here stays with l for the renewals, so c need not
 * outlive the call. */
int lock_acquire(struct snapd_lock *l, const struct cfg *c, int *held,
    struct lb_err *err);

/* Stops renewing and revokes the lease if this daemon holds the lock
 * (logs failures); c is the current configuration. */
void lock_release(struct snapd_lock *l, const struct cfg *c);

/* 1 while the lock is off for lack of write access. */
int lock_is_off(const struct snapd_lock *l);
/* 1 while this daemon holds the lock. */
int lock_is_held(const struct snapd_lock *l);

/* The owner string of the appliance that held the lock when this daemon
 * last failed to take it (printable ASCII, as etcd_key_create gives it)
 * into buf (cap bytes); "" when unknown or since this daemon took it.
 * Does not wait for a call to etcd in progress. */
void lock_holder(struct snapd_lock *l, char *buf, size_t cap);

#endif
