#!/bin/sh
# pitr_restore_test.sh: restore to a point (issue 15) against a real etcd
# (the suite's version) and the real `lifeboat backup`, with the event log
# captured by tests/tools/evlogcap from a real watch (independent of the
# daemon's capture): a workload of txns writing several keys, leases with
# a 5 s TTL (one expires, its keys deleted by etcd), deletes, a value near
# 1.5 MiB, a compaction between the two backups.  Then: restore
# --to-revision in the middle of a segment, the restored keys equal to the
# source's at that revision (etcdctl get --rev, and HashKV); --to-time;
# from the bucket alone; a target beyond the last segment refused naming
# the last captured revision; the A -> B proof of `catalog verify --pitr`
# passing, and failing loudly once a segment is rewritten (well formed,
# encrypted again) with one value changed.
. "$(dirname "$0")/../lib.sh"

TOOLS=${TOOLS:-$(dirname "$LIFEBOAT")/tools}
CAP=$TOOLS/evlogcap
[ -x "$CAP" ] || { fail setup "no $CAP (make test builds it)"; exit 1; }

# the source: one member; it must accept the 1.4 MiB value
etcd_cluster c1 1 || { fail setup "etcd did not start"; exit 1; }
EP=$c1_endpoints

rev() {
	etcdctl --endpoints "$EP" get /nothing -w fields | sed -n 's/^"Revision" : //p'
}

# gw OP ARGS [-- OP ARGS]...: the workload through etcd's JSON gateway
# (txns, leases, values larger than an argument may be), several
# operations in one process; a lease's id is printed, and "@N" as a
# put's lease is the Nth lease granted in the same call
gw() {
	python3 - "$EP" "$@" <<'PY'
import base64, json, sys, urllib.request
ep = sys.argv[1]
b = lambda s: base64.b64encode(s.encode() if isinstance(s, str) else s).decode()
def call(path, body):
    return json.load(urllib.request.urlopen(ep + path, json.dumps(body).encode()))
ops, cur = [], []
for a in sys.argv[2:]:
    if a == "--":
        ops.append(cur)
        cur = []
    else:
        cur.append(a)
ops.append(cur)
leases = []
for op, *args in ops:
    if op == "put":
        body = {"key": b(args[0]), "value": b(args[1])}
        if len(args) > 2:
            body["lease"] = leases[int(args[2][1:])] if args[2].startswith("@") else args[2]
        call("/v3/kv/put", body)
    elif op == "big":
        call("/v3/kv/put", {"key": b(args[0]), "value": b(bytes([65 + i % 26 for i in range(int(args[1]))]))})
    elif op == "txn":
        t = []
        for a in args:
            if a.startswith("-"):
                t.append({"requestDeleteRange": {"key": b(a[1:])}})
            else:
                k, v = a.split("=", 1)
                t.append({"requestPut": {"key": b(k), "value": b(v)}})
        call("/v3/kv/txn", {"success": t})
    elif op == "lease":
        leases.append(call("/v3/lease/grant", {"TTL": args[0]})["ID"])
        print(leases[-1])
    elif op == "del":
        body = {"key": b(args[0])}
        if len(args) > 1:
            body["range_end"] = b(args[1])
        call("/v3/kv/deleterange", body)
    elif op == "compact":
        call("/v3/kv/compaction", {"revision": args[0], "physical": True})
PY
}

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
drill-dir = $T/drill
[cluster:c1]
endpoints = $EP
EOF
LB="$LIFEBOAT --config $T/lb.conf"
t0=$(date +%s)

# ---- backup A, then the capture from its revision on -----------------------
gw put /registry/pods/default/p1 v1 -- put /registry/pods/default/p2 v2 -- \
    put /registry/pods/default/p3 v3 -- put /registry/pods/default/p4 v4 -- \
    put /registry/pods/default/p5 v5 -- txn /registry/a=1 /registry/b=2 /registry/c=3
$LB backup --no-progress >"$T/bA.out" 2>&1 || { fail backupA "$(cat "$T/bA.out")"; exit 1; }
A=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/bA.out")
REVA=$(rev)
SEGREVS=4
"$CAP" capture "$EP" "file://$T/repo" "$(cat "$T/rcpt")" c1 $((REVA + 1)) "@$T/stop" \
    $SEGREVS "$T/catalog.db" >"$T/cap.out" 2>"$T/cap.err" &
CAPPID=$!
echo $CAPPID >>"$T/pids"
# a second capture (a failover's: one segment REVA+2..REVA+6 across the
# first's two first ones) into the bucket only, not the catalog
"$CAP" capture "$EP" "file://$T/repo" "$(cat "$T/rcpt")" c1 $((REVA + 2)) $((REVA + 6)) \
    100 >"$T/cap2.out" 2>"$T/cap2.err" &
CAP2PID=$!
echo $CAP2PID >>"$T/pids"
sleep 0.5

# ---- the workload ------------------------------------------------------------
# lease 0 expires (etcd deletes its key), 1 lives on, 2 lives at MID
# but not at B; a txn of several keys and a delete; a value near
# 1.5 MiB; a range delete (x and y in one revision)
gw lease 5 -- lease 30 -- put /registry/leases/node1 hb1 @0 -- \
    put /registry/leases/node2 hb2 @1 -- \
    txn /registry/pods/default/p1=moved /registry/pods/default/p6=new -/registry/a -- \
    big /registry/configmaps/big 1468000 -- del /registry/pods/default/p2 -- \
    txn /registry/x=1 /registry/y=2 /registry/z=3 /registry/b=changed -- \
    put /registry/leases/node2 hb2b @1 -- lease 5 -- put /registry/events/e1 ev1 @2 -- \
    del /registry/x /registry/y0 >"$T/leases"
# MID: inside a segment, neither its first nor its last revision
while [ $(( ($(rev) - REVA) % SEGREVS )) -lt 2 ]; do gw put /registry/pad "$(rev)"; done
MID=$(rev)
etcdctl --endpoints "$EP" get "" --prefix --rev "$MID" -w json >"$T/mid.json"
MIDHASH=$(etcdctl --endpoints "$EP" endpoint hashkv --rev "$MID" -w json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])')
sleep 1.2
# a lease may expire meanwhile: the revision at TMID is between R1 and R2
R1=$(rev)
TMID=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
R2=$(rev)
sleep 1.2
gw put /registry/pods/default/p7 after-tmid -- txn /registry/pods/default/p1=again /registry/c=-
# wait for lease 1's expiry (its key deleted by etcd, a revision of its own)
wait_for 15 sh -c "[ -z \"\$(etcdctl --endpoints '$EP' get /registry/leases/node1 --print-value-only)\" ]" ||
    fail lease_expired "/registry/leases/node1 still there"
gw put /registry/after-expiry 1
gw compact $(( $(rev) - 2 ))

# ---- backup B, more writes, the capture stopped ------------------------------
$LB backup --no-progress >"$T/bB.out" 2>&1 || { fail backupB "$(cat "$T/bB.out")"; exit 1; }
B=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/bB.out")
REVB=$(rev)
gw put /registry/late 1 -- put /registry/late 2
END=$(rev)
echo "$END" >"$T/stop"
wait_for 15 sh -c "! kill -0 $CAPPID" || fail capture_stopped "evlogcap still runs"
wait $CAPPID
check capture_ok test $? -eq 0 -a "$(wc -l <"$T/cap.out")" -ge 3
wait_for 15 sh -c "! kill -0 $CAP2PID" || fail capture2_stopped "evlogcap still runs"
wait $CAP2PID
check capture2_ok test $? -eq 0 -a "$(wc -l <"$T/cap2.out")" -eq 1
# what the capture delivered last: END, or later when a lease expired
# before it read the stop file
LAST=$(tail -n 1 "$T/cap.out" | cut -d' ' -f3)
echo "# backups $A (rev $REVA), $B (rev $REVB); MID $MID; END $END; $(wc -l <"$T/cap.out") segments"

# restore_at NAME ARGS...: restore cluster r1 into $T/NAME with --start
# --json, the member tracked; sets $RCL (its client URL)
restore_at() {
	name=$1; shift
	RCL="http://127.0.0.1:$(free_port)"
	$LB restore cluster --members "r1=http://127.0.0.1:$(free_port)@$RCL" \
	    --base-dir "$T/$name" --start --json "$@" >"$T/$name.json" 2>"$T/$name.err"
	rrc=$?
	track "$T/$name"
	return $rrc
}


# ---- --to-revision in the middle of a segment ----------------------------------
restore_at rmid --cluster c1 --to-revision "$MID" --bump-revision 0
check to_revision_exit_0 test $? -eq 0
pycheck to_revision_report '
d = json.load(open(sys.argv[1]))
p = d["to_point"]
assert d["status"] == "ok" and d["backup_id"] == sys.argv[2], d
assert p["target_revision"] == int(sys.argv[3]) and p["base_revision"] == int(sys.argv[4]), p
assert p["replayed_revisions"] == int(sys.argv[3]) - int(sys.argv[4]), p
assert p["last_captured_revision"] == int(sys.argv[5]), p
assert p["leases_recreated"] >= 3, p
assert d["hashkv_matches_replay"] is True, d
assert p["not_restored_revisions"] == [int(sys.argv[3]) + 1, int(sys.argv[5])], p
' "$T/rmid.json" "$A" "$MID" "$REVA" "$LAST"
etcdctl --endpoints "$RCL" get "" --prefix --rev "$MID" -w json >"$T/rmid.got.json"
check to_revision_keys_equal_source same_keys "$T/mid.json" "$T/rmid.got.json"
check to_revision_hashkv_equal_source test "$(etcdctl --endpoints "$RCL" endpoint hashkv \
    --rev "$MID" -w json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])')" = "$MIDHASH"
check to_revision_big_value test "$(etcdctl --endpoints "$RCL" get /registry/configmaps/big \
    --print-value-only | wc -c)" -ge 1468000
check to_revision_plaintext_removed sh -c "! ls -a '$T/rmid' | grep -q -e lifeboat-restore -e lifeboat-replay"
stop_all "$T/rmid"

# ---- --to-time: the last revision at or before it (MID, unless a lease
# expired right then) ------------------------------------------------------------
restore_at rtime --cluster c1 --to-time "$TMID" --bump-revision 0
check to_time_exit_0 test $? -eq 0
pycheck to_time_target '
p = json.load(open(sys.argv[1]))["to_point"]
assert int(sys.argv[2]) <= p["target_revision"] <= int(sys.argv[3]), (p, sys.argv)
assert p["target_revision_time"] <= p["to_time"], p
' "$T/rtime.json" "$R1" "$R2"
stop_all "$T/rtime"

# ---- from the bucket alone: no catalog, no configuration ----------------------
mv "$T/catalog.db" "$T/catalog.db.away"
RCL="http://127.0.0.1:$(free_port)"
env -u LIFEBOAT_CONFIG "$LIFEBOAT" restore cluster --repo "file://$T/repo" --identity "$T/id.txt" \
    --cluster c1 --to-revision "$END" --members "r1=http://127.0.0.1:$(free_port)@$RCL" \
    --base-dir "$T/rrepo" --start >"$T/rrepo.out" 2>&1
rrc=$?
track "$T/rrepo"
check repo_only_exit_0 test "$rrc" -eq 0
check repo_only_from_b grep -q "restored backup $B" "$T/rrepo.out"
check repo_only_report grep -q "to revision $END" "$T/rrepo.out"
# the bump reaches past the last captured revision, known from the log
# (3.4's etcdctl cannot bump)
[ "$TEST_ETCD_VERSION" = 3.4 ] ||
	check repo_only_bump_from_log grep -q "highest recorded $LAST " "$T/rrepo.out"
check repo_only_last_key test "$(etcdctl --endpoints "$RCL" get /registry/late --print-value-only)" = 2
stop_all "$T/rrepo"
# and from A: the two captures overlap, each revision compared, applied once
RCL="http://127.0.0.1:$(free_port)"
env -u LIFEBOAT_CONFIG "$LIFEBOAT" restore cluster --repo "file://$T/repo" --identity "$T/id.txt" \
    --cluster c1 --to-revision "$MID" --members "r1=http://127.0.0.1:$(free_port)@$RCL" \
    --base-dir "$T/rrepo2" --start --bump-revision 0 --json >"$T/rrepo2.json" 2>"$T/rrepo2.err"
rrc=$?
track "$T/rrepo2"
check repo_only_overlap_exit_0 test "$rrc" -eq 0
pycheck repo_only_overlap_deduped '
p = json.load(open(sys.argv[1]))["to_point"]
assert p["target_revision"] == int(sys.argv[2]) and p["overlapping_revisions"] > 0, p
' "$T/rrepo2.json" "$MID"
etcdctl --endpoints "$RCL" get "" --prefix --rev "$MID" -w json >"$T/rrepo2.got.json"
check repo_only_overlap_keys_equal_source same_keys "$T/mid.json" "$T/rrepo2.got.json"
stop_all "$T/rrepo2"
mv "$T/catalog.db.away" "$T/catalog.db"

# ---- a target past the event log -----------------------------------------------
check_exit beyond_refused 1 "revision $((LAST + 5)) is beyond the event log.*last captured revision is $LAST" \
    $LB restore cluster --cluster c1 --to-revision $((LAST + 5)) \
    --members "r1=http://127.0.0.1:$(free_port)@http://127.0.0.1:$(free_port)" --base-dir "$T/rno"
check beyond_touches_nothing test ! -e "$T/rno/r1"

# ---- the A -> B proof --------------------------------------------------------------
# A has no earlier backup: nothing to prove, which is not a failure
$LB catalog verify "$A" --pitr >"$T/v0.out" 2>"$T/v0.err"
check proof_first_backup_nothing test $? -eq 0
check proof_first_backup_says grep -q "replay: nothing to prove for $A" "$T/v0.out"
$LB catalog verify "$B" --pitr >"$T/v1.out" 2>"$T/v1.err"
check proof_exit_0 test $? -eq 0
check proof_ok grep -q "replay $A -> $B (revisions $REVA..$REVB): ok" "$T/v1.out"
# B recorded HashKV at its snapshot's revision; the scratch member,
# compacted where B's store was, must give the same
check proof_hashkv_vs_record grep -q "HashKV [0-9a-f]* at $REVB equals $B's record" "$T/v1.out"
check proof_recorded python3 -c "
import sqlite3, sys
c = sqlite3.connect('$T/catalog.db')
rows = c.execute(\"select count(*) from segments where verify_status = 'ok'\").fetchone()[0]
aud = c.execute(\"select count(*) from audit where action = 'pitr' and outcome = 'ok'\").fetchone()[0]
sys.exit(0 if rows >= 1 and aud == 1 else 'segments ok %d, audit %d' % (rows, aud))"

# a drill of B proves the window it touches: A -> B, timed apart from its RTO
$LB drill --cluster c1 --backup "$B" --json >"$T/d1.json" 2>"$T/d1.err"
check drill_proof_exit_0 test $? -eq 0
pycheck drill_proof_ok '
d = json.load(open(sys.argv[1]))
p = d["pitr_proof"]
assert d["result"] == "ok" and d["backup_id"] == sys.argv[3], d
assert p["result"] == "ok" and p["from"] == sys.argv[2] and p["to"] == sys.argv[3], p
assert p["from_revision"] == int(sys.argv[4]) and p["to_revision"] == int(sys.argv[5]), p
assert p["seconds"] > 0 and d["rto_seconds"] > 0, d
' "$T/d1.json" "$A" "$B" "$REVA" "$REVB"

# a segment between A and B rewritten with one value changed: well formed,
# encrypted again, its manifest and catalog row replaced
# (the segment that holds the put of /registry/pods/default/p6, alive at B)
for SEG in $(awk -v b="$REVB" '$2 <= b { print $4 }' "$T/cap.out"); do
	"$CAP" tamper "file://$T/repo" "$T/id.txt" "$(cat "$T/rcpt")" "$SEG" \
	    /registry/pods/default/p6 "$T/catalog.db" >"$T/tam.out" 2>&1 && break
done
check tamper_done grep -q tampered "$T/tam.out"
check_exit proof_fails_tampered 1 "PITR PROOF FAILED: $A -> $B" $LB catalog verify "$B" --pitr
check proof_failure_recorded python3 -c "
import sqlite3, sys
c = sqlite3.connect('$T/catalog.db')
aud = c.execute(\"select count(*) from audit where action = 'pitr' and outcome = 'failed'\").fetchone()[0]
sys.exit(0 if aud == 1 else 'audit failed %d' % aud)"
# a drill of B runs the same proof, and fails with it, loudly and audited
$LB drill --cluster c1 --backup "$B" --json >"$T/d2.json" 2>"$T/d2.err"
check drill_tampered_exit_1 test $? -eq 1
check drill_tampered_loud grep -q "PITR PROOF FAILED in the drill of $B" "$T/d2.err"
pycheck drill_tampered_report '
d = json.load(open(sys.argv[1]))
p = d["pitr_proof"]
assert d["result"] == "failed" and "point-in-time proof" in d["error"], d
assert p["result"] == "failed" and p["from"] == sys.argv[2], p
assert d["rto_seconds"] > 0 and d["revision"] is not None, d
' "$T/d2.json" "$A"
check drill_tampered_audited python3 -c "
import json, sqlite3, sys
c = sqlite3.connect('$T/catalog.db')
r = c.execute(\"select details from audit where action = 'drill' and outcome = 'failed'\").fetchall()
sys.exit(0 if len(r) == 1 and json.loads(r[0][0])['pitr_proof']['result'] == 'failed' else repr(r))"
# the segments of a failed proof are not replayed from the catalog again
check_exit failed_proof_segments_unused 1 "revision $MID is beyond the event log" \
    $LB restore cluster --cluster c1 --to-revision "$MID" \
    --members "r1=http://127.0.0.1:$(free_port)@http://127.0.0.1:$(free_port)" --base-dir "$T/rno2"
echo "# pitr_restore_test: $(($(date +%s) - t0)) s after the cluster started (etcd $TEST_ETCD_VERSION)"
