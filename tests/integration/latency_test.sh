#!/bin/sh
# latency_test.sh: a store 50 ms away (s3fault.py's delay_ms in front of
# s3rver, on every request) must not hold a backup back: the upload sink
# adds part slots while every part is still in flight (repo/s3.h), so more
# than the 2 parts of a store on loopback are seen under way at once at
# the relay, the backup completes, its manifest records the compression
# levels used, and catalog verify reads the object back.  The pull's and
# both backups' times (50 ms away and on loopback) are printed for a
# reader ('# ' lines); nothing asserts on them (make check never times:
# the machine is shared).
. "$(dirname "$0")/../lib.sh"

d=$T/lat; mkdir -p "$d"
cp=$(free_port); pp=$(free_port)
etcd --name lat --data-dir "$d/data" --listen-client-urls "http://127.0.0.1:$cp" \
    --advertise-client-urls "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "lat=http://127.0.0.1:$pp" >"$d/etcd.log" 2>&1 &
echo $! >>"$T/pids"
ep=http://127.0.0.1:$cp
wait_for 20 etcdctl --endpoints "$ep" endpoint health ||
    { fail setup "etcd did not start"; exit 1; }
# ~48 MiB of values, two thirds random: ~40 MiB stored, 8 parts of 5 MiB
python3 - "$ep" <<'PY'
import base64, json, os, sys, urllib.request
for i in range(400):
    v = os.urandom(80000) + b"x" * 40000
    body = json.dumps({"key": base64.b64encode(b"/registry/blob%d" % i).decode(),
                       "value": base64.b64encode(v).decode()}).encode()
    urllib.request.urlopen(sys.argv[1] + "/v3/kv/put", body).read()
PY

s3rver_start || { fail setup "s3rver did not start"; exit 1; }
echo '{"delay_ms": 50}' >"$T/faults.json"
s3fault_start "$T/faults.json" || { fail setup "fault relay did not start"; exit 1; }
printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"; chmod 600 "$T/s3.secret"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lat.conf" <<CONF
[global]
repo = s3://$S3_BUCKET/lat
s3-endpoint = $S3_FAULT_ENDPOINT
s3-region = $S3_REGION
s3-access-key-id = $S3_ACCESS_KEY
s3-secret-access-key-file = $T/s3.secret
s3-part-size = 5MiB
recipients = $(cat "$T/rcpt")
identity-file = $T/id.txt
catalog = $T/lat.db
[cluster:lat]
endpoints = $ep
CONF

now() { python3 -c 'import time; print(time.monotonic())'; }
mkdir -p "$T/pulled"
t0=$(now)
check pull "$LIFEBOAT" pull --endpoints "$ep" --out-dir "$T/pulled" --quiet
t1=$(now)
check backup_50ms_away "$LIFEBOAT" --config "$T/lat.conf" backup --quiet
t2=$(now)
# the same backup to the store on loopback, for the reader's comparison
sed -e "s|^s3-endpoint = .*|s3-endpoint = $S3_ENDPOINT|" -e "s|^repo = .*|repo = s3://$S3_BUCKET/near|" \
    -e "s|^catalog = .*|catalog = $T/near.db|" "$T/lat.conf" >"$T/near.conf"
check backup_on_loopback "$LIFEBOAT" --config "$T/near.conf" backup --quiet
t3=$(now)
python3 -c 'import sys; a, b, c, d = map(float, sys.argv[1:]); print("# pull %.2f s; backup to a store 50 ms away %.2f s (%.2fx the pull), to the same store on loopback %.2f s (%.2fx): the latency costs %.2fx (not asserted)" % (b - a, c - b, (c - b) / (b - a), d - c, (d - c) / (b - a), (c - b) / (d - c)))' "$t0" "$t1" "$t2" "$t3"
parts=$(grep -c '^PEAK .*partNumber' "$T/s3fault.log")
peak=$(sed -n 's/^PEAK \([0-9]*\) PUT .*partNumber.*/\1/p' "$T/s3fault.log" | tail -n 1)
echo "# peak requests under way at the relay: ${peak:-none} ($parts new peaks during part PUTs)"
# 3 slots keep 2 parts in flight; a third means the sink grew
check parts_in_flight_grew test "${peak:-0}" -ge 3
check manifest_levels_recorded python3 - "$T" <<'PY'
import glob, json, os, sys
m = [os.path.join(r, f) for r, _, fs in os.walk(sys.argv[1] + "/s3rver") for f in fs
     if f == "manifest.json._S3rver_object"]
assert m, "no manifest in s3rver's directory"
j = json.load(open(m[0]))
c, mm = j["compression"], j["members"][0]
assert c["auto"] is True and 1 <= c["level"] <= 3, c
assert 1 <= mm["compress_level_min"] <= mm["compress_level"] <= mm["compress_level_max"] <= 3, mm
PY
check verify_reads_it_back env LIFEBOAT_CATALOG="$T/lat.db" \
    "$LIFEBOAT" --config "$T/lat.conf" catalog verify latest --identity "$T/id.txt"
