#!/bin/sh
# pitr_workload_test.sh: point-in-time recovery (issue 15) under a
# Kubernetes-like workload (bench/k8s_churn.py: txns, leases that expire,
# deletes, and a compaction every simulated minute, 3 s real here, to the
# revision of the minute before, as the API server does every 5 min) with
# two appliances (two snapd, their own catalogs, one file:// repository,
# one 3-member etcd) taking full backups and capturing; the one holding
# the lock is killed with -9 mid-stream and the other takes over.
#
# Compactions are held over the takeover only: it lasts until the dead
# holder's lock lease expires (15 s real, 300 simulated seconds at this
# speed), and a compaction past its last stored segment in that time is
# a gap, rightly recorded (pitr_capture_test.sh proves that).
#
# Proves: compactions to rising revisions (the churn's and etcd's own
# compact revision agree) under the holder and under the survivor, with
# a full backup taken between them; the event log in the bucket stays
# contiguous across the takeover (every revision from the first backup's
# on is in a segment; a revision in two segments holds the same events in
# both, decoded by contrib/evlog-dump.py after age -d | zstd -d); no gap
# recorded (the capture keeps ahead of the compactions); after the
# writers stop the survivor catches up; `catalog verify --all --pitr`
# passes; a restore --to-revision R (R in the middle of the workload,
# after the takeover) from the survivor's catalog, and from the bucket
# alone, gives exactly the source's keys at R (etcdctl get --rev R taken
# while R was still uncompacted).
. "$(dirname "$0")/../lib.sh"

SCALE=30
export LIFEBOAT_SNAPD_TIMESCALE="$SCALE@$(date +%s)"

etcd_cluster e 3 || { fail setup "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EPS=$e_endpoints
EP1=${EPS%%,*}
ec() { etcdctl --endpoints "$EPS" "$@"; }
head_rev() {
	ec endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
print(max(s["Status"]["header"]["revision"] for s in json.load(sys.stdin)))'
}

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)

# write_conf NAME: its own catalog and metrics port, the shared bucket;
# backups every 10 min of the daemon's clock (20 s real).
write_conf() {
	port=$(free_port)
	echo "$port" >"$T/$1.port"
	cat >"$T/$1.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $RCPT
catalog = $T/$1.db
identity-file = $T/id.txt
drill-dir = $T/drill-$1
metrics-listen = 127.0.0.1:$port
drill-schedule = off
[cluster:c1]
endpoints = $(echo "$EPS" | sed 's/,/, /g')
schedule = @every 10m
pitr = on
pitr-segment-interval = 2s
EOF
}
start() {
	"$LIFEBOAT" --config "$T/$1.conf" snapd 2>>"$T/$1.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/$1.pid"
	wait_for 10 curl -sf "http://127.0.0.1:$(cat "$T/$1.port")/metrics"
}
metric() { curl -s "http://127.0.0.1:$(cat "$T/$1.port")/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
lockstate() {
	curl -sf "http://127.0.0.1:$(cat "$T/$1.port")/api/status" | python3 -c '
import json, sys
print([c for c in json.load(sys.stdin)["clusters"] if c["name"] == "c1"][0]["lock"]["state"])' 2>/dev/null
}
q() { sqlite3 "$T/$1.db" "$2" 2>/dev/null; }

write_conf a
write_conf b
t0=$(date +%s)
start a || { fail start "a did not serve /metrics: $(tail -n 3 "$T/a.log")"; exit 1; }
start b || { fail start "b did not serve /metrics: $(tail -n 3 "$T/b.log")"; exit 1; }
check first_backup wait_for 20 sh -c "[ \"\$(sqlite3 '$T/a.db' \"SELECT count(*) FROM backups WHERE status = 'complete'\" 2>/dev/null)\$(sqlite3 '$T/b.db' \"SELECT count(*) FROM backups WHERE status = 'complete'\" 2>/dev/null)\" != 00 ]"
B1=$({ q a "SELECT min(revision) FROM backups WHERE status = 'complete'"; q b "SELECT min(revision) FROM backups WHERE status = 'complete'"; } | grep . | sort -n | head -n 1)

# compact_rev: etcd's own compact revision (HashKV's answer carries it)
compact_rev() {
	etcdctl --endpoints "$EP1" endpoint hashkv -w json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["HashKV"].get("compact_revision", 0))'
}
# churn_compacted: the revision of the churn's last compaction, 0: none
churn_compacted() {
	sed -n 's/^compacted to \([0-9]*\) .*/\1/p' "$T/churn.err" | tail -n 1 | grep . || echo 0
}
compactions() { grep -c '^compacted to' "$T/churn.err"; }

# --- the workload: 960 simulated seconds at 20x (48 s real) ---------------
HOLD=$T/compact.hold
python3 "$TOP/bench/k8s_churn.py" "$EP1" --nodes 5 --seconds 960 --speed 20 \
    --compact-period 60 --compact-hold "$HOLD" >"$T/churn.out" 2>"$T/churn.err" &
CHURN=$!
echo $CHURN >>"$T/pids"

# the holder: the daemon whose status says "held"
holder=""
wait_for 20 sh -c "[ \"\$(curl -sf http://127.0.0.1:$(cat "$T/a.port")/api/status | grep -c '\"held\"')\$(curl -sf http://127.0.0.1:$(cat "$T/b.port")/api/status | grep -c '\"held\"')\" != 00 ]"
if [ "$(lockstate a)" = held ]; then holder=a; survivor=b
elif [ "$(lockstate b)" = held ]; then holder=b; survivor=a
else fail holder "neither holds the lock: a $(lockstate a), b $(lockstate b)"; exit 1; fi
# two compactions (simulated minutes 2 and 3) while the holder captures,
# then none until the survivor has taken over
check compactions_under_holder wait_for 20 sh -c "[ \$(grep -c '^compacted to' '$T/churn.err') -ge 2 ]"
touch "$HOLD"
sleep 0.5
C1=$(churn_compacted)
# mid-stream, the holder's segments stored past the compaction, then kill -9
stored() { [ "$(q $holder "SELECT max(last_rev) FROM segments WHERE cluster = 'c1'")" -ge "$1" ] 2>/dev/null; }
check holder_stored_past_compaction wait_for 10 stored "$C1"
KILLREV=$(head_rev)
kill -9 "$(cat "$T/$holder.pid")"
echo "# killed $holder at revision $KILLREV after $(compactions) compactions, the last to $C1 ($(($(date +%s) - t0)) s)"
check etcd_compact_revision_is_churns test "$(compact_rev)" = "$C1"
check takeover wait_for 40 sh -c "[ \"\$(curl -sf http://127.0.0.1:$(cat "$T/$survivor.port")/metrics | awk '\$1 == \"lifeboat_pitr_last_revision{cluster=\\\"c1\\\"}\" { print \$2 }')\" -gt $KILLREV ] 2>/dev/null"
TAKEREV=$(head_rev)
rm -f "$HOLD"
echo "# taken over at revision $TAKEREV, compactions again ($(($(date +%s) - t0)) s)"

# R: mid-workload, after the takeover; the source's keys at R kept while
# R is uncompacted: the churn compacts at most to the revision it
# recorded a period (3 s) before, and R is read after any it recorded
# then.  (Not HashKV: it covers every revision from the compact revision
# to R, and the source's compactions differ from the restore's history,
# which starts at its backup.)
sleep 3
R=$(head_rev)
ec get "" --prefix --rev "$R" -w json >"$T/r.json"
echo "# R $R ($(($(date +%s) - t0)) s)"
wait $CHURN
check churn_ok test $? -eq 0
END=$(head_rev)
echo "# churn: $(cat "$T/churn.out"); END $END ($(($(date +%s) - t0)) s)"
check compactions_happened sh -c "[ \"\$(etcdctl --endpoints '$EP1' get / --rev 2 2>&1 | grep -c compacted)\" -ge 1 ]"
# at least 3, each to a revision above the one before, at least one
# under the survivor; etcd's compact revision is the churn's last
pycheck compactions_rising '
c = json.loads(open(sys.argv[1]).read())["compacted"]
to = [x[1] for x in c]
assert len(c) >= 3, "%d compactions: %s" % (len(c), c)
assert all(b > a for a, b in zip(to, to[1:])), "not rising: %s" % to
assert c[-1][0] > int(sys.argv[2]), "none after the takeover (at %s): %s" % (sys.argv[2], c)
assert int(sys.argv[3]) == to[-1], "etcd compact revision %s, the churn last compacted to %d" % (sys.argv[3], to[-1])
' "$T/churn.out" "$TAKEREV" "$(compact_rev)"
# a full backup (either appliance) between the first compaction and the last
pycheck backup_among_compactions '
c = json.loads(open(sys.argv[1]).read())["compacted"]
revs = [int(x) for x in sys.argv[2:] if x]
assert any(c[0][0] < r < c[-1][0] for r in revs), "backups at %s, compactions at heads %d..%d" % (revs, c[0][0], c[-1][0])
' "$T/churn.out" $(q a "SELECT revision FROM backups WHERE status = 'complete'") $(q b "SELECT revision FROM backups WHERE status = 'complete'")

# --- the survivor catches up ---------------------------------------------
captured() { [ "$(metric $survivor 'lifeboat_pitr_last_revision{cluster="c1"}')" -ge "$1" ] 2>/dev/null; }
check survivor_caught_up wait_for 30 captured "$END"
# the segment holding END closes pitr-segment-interval after its first
covered() { segments_cover "$T/$survivor.db" c1 "$1" "$2"; }
check survivor_catalog_covers wait_for 20 covered $((B1 + 1)) "$END"
check no_gap_recorded test "$(q a 'SELECT count(*) FROM pitr_gaps')$(q b 'SELECT count(*) FROM pitr_gaps')" = 00
kill -TERM "$(cat "$T/$survivor.pid")"
wait_for 30 sh -c "! kill -0 $(cat "$T/$survivor.pid")"

# --- the bucket's event log: contiguous, one history per revision --------
bucket_log() {
	for f in $(find "$T/repo/c1/wal" -name '*.evlog.zst.age' | sort); do
		echo "{\"record\": \"segment\", \"name\": \"$f\"}"
		age -d -i "$T/id.txt" "$f" | zstd -dq |
		    python3 "$TOP/contrib/evlog-dump.py" || { echo "$f: evlog-dump failed"; return 1; }
	done | python3 -c '
import json, sys
first, end = int(sys.argv[1]), int(sys.argv[2])
seen, segs, dup = {}, 0, 0
for line in sys.stdin:
    r = json.loads(line)
    if r["record"] == "segment":
        segs += 1
        continue
    if r["record"] != "revision": continue
    v = json.dumps(r["events"], sort_keys=True)
    rv = r["revision"]
    if rv in seen:
        dup += 1
        if seen[rv] != v: sys.exit("revision %d: two different histories" % rv)
    seen[rv] = v
missing = [x for x in range(first, end + 1) if x not in seen]
# a revision of etcd holds events unless it was a compaction (no events)
if missing:
    sys.exit("%d revisions of %d..%d in no segment, first %d" % (len(missing), first, end, missing[0]))
print("# bucket: %d segments, %d revisions, %d in two segments" % (segs, len(seen), dup))
' "$1" "$2"
}
check bucket_log_contiguous bucket_log $((B1 + 1)) "$END"

# --- the A -> B proof on every pair --------------------------------------
LB="$LIFEBOAT --config $T/$survivor.conf"
$LB catalog verify --all --pitr >"$T/verify.out" 2>"$T/verify.err"
check verify_all_pitr_exit_0 test $? -eq 0
check verify_all_pitr_replayed grep -q "replay .* -> .*: ok" "$T/verify.out"
echo "# verify: $(grep -c 'replay .*: ok' "$T/verify.out") pairs ($(($(date +%s) - t0)) s)"

# --- restore to R from the survivor's catalog ----------------------------
RCL="http://127.0.0.1:$(free_port)"
$LB restore cluster --cluster c1 --to-revision "$R" --bump-revision 0 \
    --members "r1=http://127.0.0.1:$(free_port)@$RCL" --base-dir "$T/rcat" --start \
    >"$T/rcat.out" 2>&1
rrc=$?
track "$T/rcat"
check catalog_restore_exit_0 test "$rrc" -eq 0
etcdctl --endpoints "$RCL" get "" --prefix --rev "$R" -w json >"$T/rcat.json"
check catalog_restore_keys_equal_source same_keys "$T/r.json" "$T/rcat.json"
stop_all "$T/rcat"

# --- the same from the bucket alone --------------------------------------
RCL="http://127.0.0.1:$(free_port)"
env -u LIFEBOAT_CONFIG "$LIFEBOAT" restore cluster --repo "file://$T/repo" --identity "$T/id.txt" \
    --cluster c1 --to-revision "$R" --bump-revision 0 \
    --members "r1=http://127.0.0.1:$(free_port)@$RCL" --base-dir "$T/rrepo" --start \
    >"$T/rrepo.out" 2>&1
rrc=$?
track "$T/rrepo"
check repo_restore_exit_0 test "$rrc" -eq 0
etcdctl --endpoints "$RCL" get "" --prefix --rev "$R" -w json >"$T/rrepo.json"
check repo_restore_keys_equal_source same_keys "$T/r.json" "$T/rrepo.json"
stop_all "$T/rrepo"
echo "# pitr_workload_test: $(($(date +%s) - t0)) s after the cluster started (etcd $TEST_ETCD_VERSION)"
