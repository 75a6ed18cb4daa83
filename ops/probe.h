/*
 * probe.h: `lifeboat config check --probe`: what the configuration names
 * reached the way a backup reaches it, so a wrong certificate, password,
 * role or bucket policy shows up now and not at the first backup.
 */
#ifndef LB_PROBE_H
#define LB_PROBE_H

#include <stdio.h>

#include "config/config.h"

/* The prefix of the one object the probe writes and deletes at the root
 * of the repository, followed by 32 random hex digits.  Backups live
 * under "<cluster>/", so no backup key can be a probe key; no leading dot,
 * as ".lifeboat-" marks temp files that orphan cleanup removes. */
#define PROBE_KEY_PREFIX "lifeboat-probe-"

/* Probes the repository (list, write, read back, delete a probe object)
 * and every etcd endpoint of every cluster (TLS, authentication, status,
 * and the start of a snapshot, which needs the root role), printing one
 * line per check to out ("ok ..." or "FAILED ...: the cause").  Returns
 * the number of checks that failed. */
int probe_config(const struct cfg *c, FILE *out);

#endif
