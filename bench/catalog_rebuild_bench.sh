#!/bin/sh
# catalog_rebuild_bench.sh: how long `lifeboat catalog rebuild` takes to
# recreate the catalog from N manifests (default 10000) in s3rver, each
# with one tiny member object.  Target: under a minute for 10,000.
#
#   sh bench/catalog_rebuild_bench.sh [N] [THREADS]
#
# The bucket is filled with plain HTTP PUTs (s3rver does not check
# signatures), 8 at a time, so the setup does not pay one process per
# object; the timed part is lifeboat alone: one listing, N GETs on
# THREADS connections, batched catalog writes.
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TOP/tests/lib.sh"

N=${1:-10000}
THREADS=${2:-4}
cd "$TOP" || exit 1
s3rver_start bench || exit 1
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY

echo "filling s3rver with $N manifests and $N objects..."
t0=$(date +%s)
python3 - "$S3_ENDPOINT" "$S3_BUCKET" "$N" <<'PY' || exit 1
import concurrent.futures, datetime, hashlib, json, sys, urllib.request
ep, bucket, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
def put(key, data):
    req = urllib.request.Request("%s/%s/bench/%s" % (ep, bucket, key), data=data, method="PUT")
    urllib.request.urlopen(req, timeout=60).read()
def one(i):
    t = base + datetime.timedelta(minutes=10 * i)
    bid = t.strftime("%Y%m%dT%H%M%SZ") + "-%06x" % i
    d = "prod/%s/%s/%s/%s/" % (bid[:4], bid[4:6], bid[6:8], bid)
    obj = b"age-encryption.org/v1 tiny object %d" % i
    iso = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    h = hashlib.sha256(obj).hexdigest()
    m = {"format": "lifeboat-manifest/1", "backup_id": bid, "cluster": "prod",
         "cluster_id": "cdf818194e3a8c32", "status": "complete", "started_at": iso,
         "finished_at": iso, "lifeboat_version": "bench", "hostname": "bench",
         "revision": 1000 + i, "db_size": 20480, "stored_size": len(obj),
         "compression": {"algorithm": "zstd", "level": 3, "threads": 2},
         "encryption": {"format": "age-v1", "recipients": ["sha256:0123456789abcdef"]},
         "members": [{"name": "m1", "id": "8e9e05c52164694d", "status": "ok",
                      "revision": 1000 + i, "raft_index": 5, "raft_term": 2,
                      "db_size": 20480, "etcd_sha256": h, "object": d + "m1.db.zst.age",
                      "stored_size": len(obj), "stored_sha256": h}]}
    put(d + "m1.db.zst.age", obj)
    put(d + "manifest.json", json.dumps(m).encode())
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(one, range(n)))
PY
echo "filled in $(( $(date +%s) - t0 ))s"

mkdir -p "$T/cat"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/bench.conf" <<CONF
[global]
repo = s3://$S3_BUCKET/bench
recipients = $(cat "$T/rcpt")
catalog = $T/cat/catalog.db
s3-endpoint = $S3_ENDPOINT
[cluster:prod]
endpoints = http://127.0.0.1:2379
CONF
start=$(python3 -c 'import time; print(time.time())')
"$LIFEBOAT" --config "$T/bench.conf" catalog rebuild --threads "$THREADS" || exit 1
end=$(python3 -c 'import time; print(time.time())')
rows=$(sqlite3 "$T/cat/catalog.db" 'SELECT count(*) FROM backups')
python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print('rebuild: %d manifests, %s rows, %.1fs wall, %.0f manifests/s (threads %s)' % (int(sys.argv[3]), sys.argv[4], s, int(sys.argv[3]) / s, sys.argv[5]))" \
    "$start" "$end" "$N" "$rows" "$THREADS"
[ "$rows" -eq "$N" ] || { echo "FAIL: $rows rows, want $N"; exit 1; }
