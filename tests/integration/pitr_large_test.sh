#!/bin/sh
# pitr_large_test.sh: the capture of point-in-time recovery on revisions
# and batches larger than what it holds at once, against a real etcd.
#
# Proves: a capture that catches up on 80 MiB of values written while
# the daemon was down (etcd sends them as one fragmented batch of many
# revisions, past the 64 MiB the capture keeps for one revision) takes
# them all, with no gap; a single revision larger than that (a range
# delete of 48 keys of 1.4 MiB each: 67 MiB of delete events) is not
# retried for ever but recorded as a gap with the reason "too-large",
# audited, a backup is taken at once and a new chain starts from it;
# `catalog rebuild` reads again only the segments its catalog lacks; a
# restore to the revision before the delete replays the large keys.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c 1 || { fail setup "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EP=$c_endpoints
rev() { etcdctl --endpoints "$EP" get /nothing -w fields | sed -n 's/^"Revision" : //p'; }

# gw put-values N SIZE PREFIX | put-keys N SIZE PREFIX | del PREFIX:
# through etcd's JSON gateway (keys and values larger than an argument)
gw() {
	python3 - "$EP" "$@" <<'PY'
import base64, json, sys, urllib.request
ep, op = sys.argv[1], sys.argv[2]
b = lambda s: base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()
def call(path, body):
    return json.load(urllib.request.urlopen(ep + path, json.dumps(body).encode()))
if op == "del":
    p = sys.argv[3].encode()
    call("/v3/kv/deleterange", {"key": b(p), "range_end": b(p[:-1] + bytes([p[-1] + 1]))})
else:
    n, size, prefix = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    for i in range(n):
        fill = bytes([65 + (i + j) % 26 for j in range(size)])
        if op == "put-values":
            call("/v3/kv/put", {"key": b("%s%03d" % (prefix, i)), "value": b(fill)})
        else:
            call("/v3/kv/put", {"key": b(prefix.encode() + b"%03d-" % i + fill), "value": b("v")})
PY
}

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)
PORT=$(free_port)
CAT=$T/cat.db
cat >"$T/l.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $RCPT
catalog = $CAT
identity-file = $T/id.txt
metrics-listen = 127.0.0.1:$PORT
drill-schedule = off
[cluster:c]
endpoints = $EP
schedule = @every 1h
pitr = on
pitr-segment-interval = 2s
EOF
start() {
	"$LIFEBOAT" --config "$T/l.conf" snapd 2>>"$T/snapd.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/snapd.pid"
	wait_for 10 curl -sf "http://127.0.0.1:$PORT/metrics"
}
stop() {
	pid=$(cat "$T/snapd.pid")
	kill -TERM "$pid" 2>/dev/null
	wait_for 30 sh -c "! kill -0 $pid"
}
q() { sqlite3 "$CAT" "$1" 2>/dev/null; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
captured_to() { [ "$(metric 'lifeboat_pitr_last_revision{cluster="c"}')" -ge "$1" ] 2>/dev/null; }
# covered FROM TO: the catalog's segments hold every revision FROM..TO
covered() { segments_cover "$CAT" c "$1" "$2"; }

etcdctl --endpoints "$EP" put /registry/first x >/dev/null
start || { fail start "snapd did not start: $(tail -n 3 "$T/snapd.log")"; exit 1; }
check first_backup wait_for 20 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM backups WHERE status = 'complete'\" 2>/dev/null)\" -ge 1 ]"
B1=$(q "SELECT max(revision) FROM backups WHERE status = 'complete'")
check capture_started wait_for 20 captured_to "$B1"
# the catch-up's backup is the one the capture starts from: no second one
sleep 3
check one_backup_at_start test "$(q "SELECT count(*) FROM backups")" = 1
stop

# ---- a batch of many revisions past the bound, while the daemon was down ----
gw put-values 80 1048576 /registry/configmaps/cm || fail put_values "gateway"
R1=$(rev)
start || { fail restart "snapd did not start"; exit 1; }
check batch_captured wait_for 60 captured_to "$R1"
check batch_covered wait_for 20 covered $((B1 + 1)) "$R1"
check batch_no_gap test "$(q 'SELECT count(*) FROM pitr_gaps')" = 0

# ---- one revision past the bound: a gap, not a loop ------------------------
gw put-keys 48 1468000 /registry/big/ || fail put_keys "gateway"
RK=$(rev)
check big_keys_captured wait_for 60 captured_to "$RK"
check big_keys_covered wait_for 20 covered $((B1 + 1)) "$RK"
gw del /registry/big/ || fail del "gateway"
RD=$(rev)
check too_large_gap wait_for 30 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM pitr_gaps WHERE reason = 'too-large' AND after_rev = $((RD - 1))\" 2>/dev/null)\" = 1 ]"
check too_large_logged grep -q "revision $RD holds more than the 64 MiB" "$T/snapd.log"
"$LIFEBOAT" catalog audit --catalog "$CAT" --json >"$T/audit.json"
check too_large_audited python3 -c '
import json, sys
d = [a["details"] for a in json.load(open(sys.argv[1])) if a["action"] == "pitr"]
assert any(x.get("reason") == "too-large" and x.get("revision") == int(sys.argv[2]) for x in d), d
' "$T/audit.json" "$RD"
check backup_after_gap wait_for 30 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM backups WHERE status = 'complete' AND revision >= $RD\" 2>/dev/null)\" -ge 1 ]"
etcdctl --endpoints "$EP" put /registry/after x >/dev/null
RA=$(rev)
B2=$(q "SELECT max(revision) FROM backups WHERE status = 'complete'")
check new_chain wait_for 30 covered $((B2 + 1)) "$RA"
check gap_resumed test "$(q "SELECT resume_rev FROM pitr_gaps WHERE reason = 'too-large'")" = $((B2 + 1))
check no_retry_loop test "$(grep -c 'moving to another member' "$T/snapd.log")" = 0
stop

# ---- a rebuild reads only the segments its catalog does not have -----------
NSEG=$(q "SELECT count(*) FROM segments")
"$LIFEBOAT" --config "$T/l.conf" catalog rebuild >"$T/rebuild.out" 2>&1
check rebuild_skips_known grep -q "event log: $NSEG segment(s), 0 recorded now, $NSEG known already, 0 not recorded" "$T/rebuild.out"
"$LIFEBOAT" --config "$T/l.conf" catalog rebuild --catalog "$T/fresh.db" >"$T/rebuild2.out" 2>&1
check rebuild_fresh_reads_all grep -q "event log: $NSEG segment(s), $NSEG recorded now, 0 known already" "$T/rebuild2.out"

# ---- restore to the revision before the delete: the big keys replayed -------
RCL="http://127.0.0.1:$(free_port)"
"$LIFEBOAT" --config "$T/l.conf" restore cluster --cluster c --to-revision $((RD - 1)) \
    --members "r1=http://127.0.0.1:$(free_port)@$RCL" --base-dir "$T/r" --start \
    >"$T/r.out" 2>"$T/r.err"
rrc=$?
track "$T/r"
check restore_before_delete test "$rrc" -eq 0
check restored_big_keys test "$(etcdctl --endpoints "$RCL" get /registry/big/ --prefix \
    --keys-only | grep -c .)" -eq 48
check restored_values test "$(etcdctl --endpoints "$RCL" get /registry/configmaps/cm079 \
    --print-value-only | wc -c)" -ge 1048576
stop_all "$T/r"
