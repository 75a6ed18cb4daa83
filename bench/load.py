#!/usr/bin/env python3
# bench/load.py: fills one etcd member with Kubernetes-like objects until its
# backend database reaches a target size, so that snapshot benchmarks run on
# data that looks like a real control plane's.
#
# Keys are /registry/<resource>/<namespace>/<name> over a few hundred
# namespaces; values are JSON objects of mixed sizes (mostly 1-8 KiB, some
# 50-200 KiB configmaps and secrets, a few ~1 MiB), part structure and text
# (compressible) and part random base64 and uuids (not).  Object i depends only
# on (seed, i), so two runs with the same seed write the same bytes.
#
# Writes go through etcd's v3 JSON gateway as /v3/kv/txn requests of many puts
# each, from several threads; the member must accept large requests
# (--max-request-bytes >= 8 MiB, --max-txn-ops >= 1024; bench/lib.sh sets both).
# Standard library only.

import argparse
import base64
import http.client
import json
import queue
import random
import sys
import threading
import time
import urllib.parse

UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1000, "KIB": 1 << 10,
         "M": 1 << 20, "MB": 1000 ** 2, "MIB": 1 << 20,
         "G": 1 << 30, "GB": 1000 ** 3, "GIB": 1 << 30}

# resource, weight, (kind, apiVersion)
RESOURCES = [
    ("events", 28, ("Event", "v1")),
    ("pods", 24, ("Pod", "v1")),
    ("configmaps", 14, ("ConfigMap", "v1")),
    ("secrets", 10, ("Secret", "v1")),
    ("replicasets", 7, ("ReplicaSet", "apps/v1")),
    ("deployments", 6, ("Deployment", "apps/v1")),
    ("services/specs", 4, ("Service", "v1")),
    ("leases", 4, ("Lease", "coordination.k8s.io/v1")),
    ("serviceaccounts", 3, ("ServiceAccount", "v1")),
]
NAMESPACES = 300
WORDS = ("app web api worker cache db queue frontend backend payments search "
         "auth gateway metrics logging billing orders users inventory mail "
         "scheduler ingress proxy batch report export import sync notify "
         "true false enabled disabled replicas timeout retries endpoint port "
         "http https grpc tcp udp image tag registry pull always never "
         "memory cpu limits requests 100m 250m 512Mi 1Gi 2Gi env value name "
         "volume mount path config secret key token level info warn debug").split()


def parse_size(text):
    t = text.strip().upper()
    i = len(t)
    while i > 0 and not t[i - 1].isdigit():
        i -= 1
    num, unit = t[:i], t[i:]
    if not num or unit not in UNITS:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 64MiB, 1GiB)" % text)
    return int(float(num) * UNITS[unit])


def text_pool(seed):
    """A few thousand config-like lines, drawn from to fill values cheaply."""
    rng = random.Random(seed ^ 0x5EED)
    lines = []
    for _ in range(4096):
        k = rng.randint(3, 9)
        words = rng.choices(WORDS, k=k)
        lines.append("%s: %s  # %s" % (words[0], "-".join(words[1:-1]) or words[1],
                                        " ".join(rng.choices(WORDS, k=3))))
    return lines


def pick_size(rng, resource):
    """Value size in bytes by resource: mostly small, a heavy tail."""
    r = rng.random()
    if resource == "configmaps":
        if r < 0.01:
            return rng.randint(900 << 10, 1100 << 10)
        if r < 0.16:
            return rng.randint(50 << 10, 200 << 10)
        return rng.randint(1 << 10, 8 << 10)
    if resource == "secrets":
        if r < 0.05:
            return rng.randint(50 << 10, 120 << 10)
        return rng.randint(1 << 10, 4 << 10)
    if resource in ("events", "leases", "serviceaccounts"):
        return rng.randint(600, 2 << 10)
    return rng.randint(2 << 10, 8 << 10)


def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def make_object(seed, i, pool, weights):
    """Key and value bytes of object i: a function of (seed, i) only."""
    rng = random.Random(seed * 1000003 + i)
    res, _, (kind, api) = rng.choices(RESOURCES, cum_weights=weights)[0]
    ns = "ns-%03d" % rng.randrange(NAMESPACES)
    name = "%s-%s-%05x" % (rng.choice(WORDS), rng.choice(WORDS), i & 0xFFFFF)
    if res == "leases":
        ns = "kube-node-lease"
    size = pick_size(rng, res)
    obj = {
        "apiVersion": api, "kind": kind,
        "metadata": {
            "name": name, "namespace": ns, "uid": uuid(rng),
            "resourceVersion": str(1000 + i),
            "creationTimestamp": "2024-%02d-%02dT%02d:%02d:%02dZ" % (
                rng.randint(1, 12), rng.randint(1, 28), rng.randrange(24),
                rng.randrange(60), rng.randrange(60)),
            "labels": {"app": rng.choice(WORDS), "tier": rng.choice(WORDS),
                       "pod-template-hash": "%010x" % rng.getrandbits(40)},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                            "{\"kind\":\"%s\"}" % kind},
        },
    }
    base = len(json.dumps(obj))
    left = max(0, size - base - 64)
    # Secrets are nearly all random base64; the rest is about 40% random
    # (certificates, tokens, hashes) and 60% repetitive configuration text.
    rand_share = 0.9 if res == "secrets" else 0.4
    nrand = int(left * rand_share)
    blob = base64.b64encode(rng.randbytes(nrand * 3 // 4)).decode()
    text = ""
    ntext = left - len(blob)
    if ntext > 0:
        lines = rng.choices(pool, k=ntext // 40 + 1)
        text = "\n".join(lines)[:ntext]
    obj["data"] = {"config.yaml": text, "tls.crt": blob}
    key = "/registry/%s/%s/%s" % (res, ns, name)
    return key.encode(), json.dumps(obj, separators=(",", ":")).encode()


def b64(b):
    return base64.b64encode(b).decode("ascii")


class Etcd:
    """One keep-alive connection to the gateway (one per thread)."""

    def __init__(self, url, timeout=120):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise SystemExit("load.py: only http:// endpoints (got %s)" % url)
        self.host, self.port, self.timeout = u.hostname, u.port or 2379, timeout
        self.conn = None

    def post(self, path, body):
        data = json.dumps(body).encode()
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port,
                                                           timeout=self.timeout)
                self.conn.request("POST", path, data,
                                  {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                out = resp.read()
                if resp.status != 200:
                    raise SystemExit("load.py: %s: http %d: %s" % (
                        path, resp.status, out[:300].decode(errors="replace")))
                return json.loads(out)
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                if attempt == 2:
                    raise SystemExit("load.py: %s: %s" % (path, e))
                time.sleep(0.5)
        return None


def db_size(url):
    return int(Etcd(url).post("/v3/maintenance/status", {})["dbSize"])


def settled_db_size(url):
    """dbSize once etcd has committed what it acknowledged: the backend
    commits every 100 ms, so two equal readings 150 ms apart."""
    last = db_size(url)
    for _ in range(50):
        time.sleep(0.15)
        size = db_size(url)
        if size == last:
            break
        last = size
    return last


def main():
    ap = argparse.ArgumentParser(
        description="fill an etcd member with Kubernetes-like objects")
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--size", required=True, type=parse_size,
                    help="target backend db size, e.g. 256MiB, 1GiB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--batch-bytes", type=parse_size, default=2 << 20,
                    help="raw bytes per txn (default 2MiB)")
    ap.add_argument("--batch-ops", type=int, default=1000,
                    help="puts per txn at most (default 1000)")
    ap.add_argument("--json", action="store_true",
                    help="print the summary as one JSON line")
    a = ap.parse_args()

    pool = text_pool(a.seed)
    weights, acc = [], 0
    for _, w, _ in RESOURCES:
        acc += w
        weights.append(acc)

    work = queue.Queue(maxsize=a.threads * 2)
    failed = []

    def worker():
        etcd = Etcd(a.endpoint)
        while True:
            txn = work.get()
            try:
                if txn is not None and not failed:
                    etcd.post("/v3/kv/txn", {"success": txn})
            except SystemExit as e:
                failed.append(str(e))
            finally:
                work.task_done()
            if txn is None:
                return

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(a.threads)]
    for t in threads:
        t.start()

    t0 = time.monotonic()
    # The db size is checked at fixed points of the written (raw) bytes,
    # after every write before the point has landed and been committed, so
    # the stopping object does not depend on thread timing: at half the
    # target, then every 2% of it from 76% on (the db is ~1.13x the raw
    # bytes here, so about eight checks, each of which drains the pipeline).
    def checkpoint(k):
        return a.size // 2 if k == 0 else a.size * (74 + 2 * k) // 100

    k = i = nbytes = 0
    next_check = checkpoint(0)
    size = db_size(a.endpoint)
    batch, bbytes = [], 0
    while size < a.size and not failed:
        key, val = make_object(a.seed, i, pool, weights)
        i += 1
        batch.append({"requestPut": {"key": b64(key), "value": b64(val)}})
        bbytes += len(key) + len(val)
        nbytes += len(key) + len(val)
        if bbytes >= a.batch_bytes or len(batch) >= a.batch_ops:
            work.put(batch)
            batch, bbytes = [], 0
        if nbytes >= next_check:
            if batch:
                work.put(batch)
                batch, bbytes = [], 0
            work.join()
            size = settled_db_size(a.endpoint)
            k += 1
            next_check = checkpoint(k)
            print("load: %d objects, %.0f MiB written, db %.0f MiB" % (
                i, nbytes / 2**20, size / 2**20), file=sys.stderr)
    if batch and not failed:
        work.put(batch)
    for _ in threads:
        work.put(None)
    work.join()
    if failed:
        print(failed[0], file=sys.stderr)
        return 1
    size = settled_db_size(a.endpoint)
    secs = time.monotonic() - t0
    summary = {"objects": i, "bytes_written": nbytes, "db_size": size,
               "seconds": round(secs, 2),
               "mib_per_second": round(nbytes / 2**20 / secs, 1) if secs else 0}
    if a.json:
        print(json.dumps(summary))
    else:
        print("load: %d objects, %.1f MiB of values, db %.1f MiB, %.1f s (%.1f MiB/s)"
              % (i, nbytes / 2**20, size / 2**20, secs, summary["mib_per_second"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
