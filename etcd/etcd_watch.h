/*
 * etcd_watch.h: PLACEHOLDER for the evlog branch.  Only the event type
 * and struct of the PITR interface contract (notes/pitr-spec.md, part B),
 * so that evlog/ builds before B's watch lands; B's etcd_watch.h replaces
 * this file at merge.
 */
#ifndef LB_ETCD_WATCH_H
#define LB_ETCD_WATCH_H

#include <stddef.h>
#include <stdint.h>

enum { ETCD_EV_PUT = 0, ETCD_EV_DELETE = 1 };   /* mvccpb.Event.EventType */

struct etcd_kv_event {                          /* points into the response */
	int type;
	const uint8_t *key;   size_t key_len;
	const uint8_t *value; size_t value_len;     /* PUT only */
	int64_t create_revision, mod_revision, version, lease;
};

#endif
