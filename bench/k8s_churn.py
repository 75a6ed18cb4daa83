#!/usr/bin/env python3
"""k8s_churn.py: the write pattern of a Kubernetes control plane, played
against one etcd through its v3 JSON gateway, for the point-in-time
recovery benchmark (bench/pitr_bench.sh) and tests.

What a cluster of N nodes writes (kubelet and controller defaults):
- every node renews its Lease object every 10 s (~400 B);
- every node reports its status every 60 s (~6 KiB);
- pods (P per node) change status every 5 min on average (~4 KiB), each
  write a transaction that compares the pod's mod_revision, as the API
  server does; one in 20 also updates its ReplicaSet in the same txn;
- events (~800 B) are created at E per node per minute, attached to a
  lease of one hour (one lease per minute of creation, as the API server
  shares them), so etcd itself deletes them when it expires;
- the API server compacts every 5 min (--compact-period) to the revision
  it recorded one period before, so the first period compacts nothing.

Time is simulated: --speed S runs S simulated seconds per real second, and
leases get TTL / S real seconds, so their expiry keeps its place in the
stream.  --seconds D is the simulated duration.  --max, instead, writes as
fast as the member takes (the capture's throughput test), for at most
--real-seconds.  With --compact-hold FILE, no compaction is made while
FILE exists and the revision recorded before is forgotten (as by an API
server that restarts): a test holds them over a lock takeover, which
lasts many simulated minutes at a high --speed.  The object content
depends only on --seed.  Prints a line "compacted to REV at head HEAD"
to stderr at each compaction, and one JSON line at the end: writes,
revisions, bytes of values, compactions (count, and [head, revision]
of each), the first and last revision, real seconds.
Standard library only.
"""
import argparse
import base64
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


class Etcd:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def post(self, path, body):
        data = json.dumps(body).encode()
        for attempt in range(3):
            try:
                self.conn.request("POST", path, data, {"Content-Type": "application/json"})
                r = self.conn.getresponse()
                out = json.loads(r.read() or b"{}")
                if r.status != 200:
                    raise RuntimeError("%s: %d %s" % (path, r.status, out))
                return out
            except (OSError, http.client.HTTPException):
                if attempt == 2:
                    raise
                self.conn.close()
                time.sleep(0.2)


def obj(rng, kind, name, size):
    """A JSON object of about size bytes: structure, labels, a little noise."""
    head = {"kind": kind, "apiVersion": "v1",
            "metadata": {"name": name, "uid": "%032x" % rng.getrandbits(128),
                         "labels": {"app": name.split("-")[0], "tier": "backend"}},
            "status": {"phase": rng.choice(["Running", "Pending", "Succeeded"]),
                       "conditions": []}}
    s = json.dumps(head)
    cond = ',{"type":"Ready","status":"True","lastProbeTime":"%d"}'
    while len(s) < size:
        s += cond % rng.getrandbits(32)
    return s[:size]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--first-node", type=int, default=0,
                    help="number nodes from here (several writers side by side)")
    ap.add_argument("--pods-per-node", type=int, default=30)
    ap.add_argument("--events-per-node-minute", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=600, help="simulated seconds")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--max", action="store_true", help="no pacing: as fast as etcd takes")
    ap.add_argument("--real-seconds", type=float, default=0,
                    help="stop after this many real seconds (with --max: a rate test)")
    ap.add_argument("--no-compact", action="store_true")
    ap.add_argument("--compact-period", type=float, default=300,
                    help="simulated seconds between compactions (the API server's 5 min)")
    ap.add_argument("--compact-hold", metavar="FILE",
                    help="no compaction while FILE exists")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.compact_period <= 0:
        ap.error("--compact-period must be above 0")
    rng = random.Random(a.seed)
    e = Etcd(a.endpoint)
    stats = {"writes": 0, "txns": 0, "value_bytes": 0, "compactions": 0,
             "compacted": []}
    mods = {}          # pod key -> mod_revision, for the txn compares
    leases = {}        # simulated minute -> lease id
    first_rev = None
    rev = 0

    def put_ops(kvs, lease=0):
        ops = []
        for k, v in kvs:
            p = {"key": b64(k), "value": b64(v)}
            if lease:
                p["lease"] = str(lease)
            ops.append({"request_put": p})
            stats["value_bytes"] += len(v)
        return ops

    def txn(compare, kvs, lease=0):
        nonlocal rev, first_rev
        r = e.post("/v3/kv/txn", {"compare": compare, "success": put_ops(kvs, lease)})
        rev = int(r["header"]["revision"])
        if first_rev is None:
            first_rev = rev
        stats["writes"] += len(kvs)
        stats["txns"] += 1
        return r.get("succeeded", False)

    # the periodic writers: (period in simulated seconds, action)
    def node_lease(i):
        txn([], [("/registry/leases/kube-node-lease/node-%d" % i,
                  obj(rng, "Lease", "node-%d" % i, 400))])

    def node_status(i):
        txn([], [("/registry/minions/node-%d" % i, obj(rng, "Node", "node-%d" % i, 6000))])

    def pod_status(i, j):
        key = "/registry/pods/ns-%d/pod-%d-%d" % (i % 10, i, j)
        kvs = [(key, obj(rng, "Pod", "pod-%d-%d" % (i, j), 4000))]
        if rng.random() < 0.05:
            kvs.append(("/registry/replicasets/ns-%d/rs-%d" % (i % 10, i),
                        obj(rng, "ReplicaSet", "rs-%d" % i, 2000)))
        cmp = [{"key": b64(key), "target": "MOD", "result": "EQUAL",
                "mod_revision": str(mods.get(key, 0))}]
        if txn(cmp, kvs):
            mods[key] = rev
        else:              # someone else's write, as the API server retries
            mods[key] = 0
            txn([], kvs)
            mods[key] = rev

    def event(t):
        minute = int(t // 60)
        if minute not in leases:
            ttl = max(2, int(3600 / a.speed))
            leases[minute] = int(e.post("/v3/lease/grant", {"TTL": ttl})["ID"])
        name = "ev-%d-%d" % (minute, rng.getrandbits(24))
        txn([], [("/registry/events/ns-%d/%s" % (rng.randrange(10), name),
                  obj(rng, "Event", name, 800))], leases[minute])

    schedule = []      # (next simulated time, period, action, args)
    for i in range(a.first_node, a.first_node + a.nodes):
        schedule.append([rng.uniform(0, 10), 10, node_lease, (i,)])
        schedule.append([rng.uniform(0, 60), 60, node_status, (i,)])
        for j in range(a.pods_per_node):
            schedule.append([rng.uniform(0, 300), 300, pod_status, (i, j)])
    ev_period = 60.0 / max(a.events_per_node_minute * a.nodes, 1e-9)
    schedule.append([0.0, ev_period, event, None])
    if not a.no_compact:
        schedule.append([a.compact_period, a.compact_period, None, None])
    compact_at = 0

    start = time.monotonic()
    while True:
        schedule.sort(key=lambda s: s[0])
        s = schedule[0]
        t = s[0]
        if t >= a.seconds or (a.real_seconds and
                              time.monotonic() - start >= a.real_seconds):
            break
        if not a.max:
            wait = start + t / a.speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        if s[2] is None:   # compaction to the revision of one period ago
            if a.compact_hold and os.path.exists(a.compact_hold):
                compact_at = 0
            else:
                # nothing written since the last one: etcd would refuse it
                if compact_at > (stats["compacted"][-1][1] if stats["compacted"] else 0):
                    e.post("/v3/kv/compaction", {"revision": str(compact_at)})
                    stats["compactions"] += 1
                    stats["compacted"].append([rev, compact_at])
                    print("compacted to %d at head %d" % (compact_at, rev),
                          file=sys.stderr, flush=True)
                compact_at = rev
        elif s[3] is None:
            s[2](t)
        else:
            s[2](*s[3])
        s[0] += s[1]
    stats.update({"first_revision": first_rev, "last_revision": rev,
                  "real_seconds": round(time.monotonic() - start, 3),
                  "simulated_seconds": a.seconds})
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
