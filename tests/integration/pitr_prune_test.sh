#!/bin/sh
# pitr_prune_test.sh: the event log's retention in `catalog prune` against
# a real etcd and the real `lifeboat backup`, the log captured by
# tests/tools/evlogcap from a real watch into the catalog: backups A and B,
# segments from A on, retention keep-last=1.  --dry-run lists the
# segments at or below B's revision and deletes nothing; a store that
# fails the first deletion (an immutable manifest, chattr +i) keeps
# every segment, the failure audited, exit 1; then the prune deletes
# exactly the segments at or below B's revision (manifest, object, row),
# audited, keeps the rest, and a restore to a revision after B still
# gives the source's keys at that revision.
. "$(dirname "$0")/../lib.sh"

TOOLS=${TOOLS:-$(dirname "$LIFEBOAT")/tools}
CAP=$TOOLS/evlogcap
[ -x "$CAP" ] || { fail setup "no $CAP (make test builds it)"; exit 1; }
etcd_cluster c1 1 || { fail setup "etcd did not start"; exit 1; }
EP=$c1_endpoints
t0=$(date +%s)

rev() {
	etcdctl --endpoints "$EP" get /nothing -w fields | sed -n 's/^"Revision" : //p'
}
puts() {
	for i in $(seq "$2"); do etcdctl --endpoints "$EP" put "/registry/$1/$i" "v$i" >/dev/null; done
}
segrows() {
	python3 -c "import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute('select count(*) from segments').fetchone()[0])" \
	    "$T/catalog.db"
}

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
[cluster:c1]
endpoints = $EP
retention = keep-last=1
EOF
LB="$LIFEBOAT --config $T/lb.conf"

puts a 3
$LB backup --no-progress >"$T/bA.out" 2>&1 || { fail backupA "$(cat "$T/bA.out")"; exit 1; }
REVA=$(rev)
"$CAP" capture "$EP" "file://$T/repo" "$(cat "$T/rcpt")" c1 $((REVA + 1)) "@$T/stop" \
    2 "$T/catalog.db" >"$T/cap.out" 2>"$T/cap.err" &
CAPPID=$!
echo $CAPPID >>"$T/pids"
sleep 0.5
puts b 7
$LB backup --no-progress >"$T/bB.out" 2>&1 || { fail backupB "$(cat "$T/bB.out")"; exit 1; }
B=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/bB.out")
REVB=$(rev)
puts c 3
MID=$(rev)
etcdctl --endpoints "$EP" get "" --prefix --rev "$MID" -w json >"$T/mid.json"
puts d 3
END=$(rev)
echo "$END" >"$T/stop"
wait_for 20 sh -c "! kill -0 $CAPPID" || fail capture_stopped "evlogcap still runs"
wait $CAPPID
check capture_ok test $? -eq 0
NSEG=$(wc -l <"$T/cap.out")
NGONE=$(awk -v b="$REVB" '$3 <= b' "$T/cap.out" | wc -l)
FIRSTOBJ=$(head -n 1 "$T/cap.out" | cut -d' ' -f4)
FIRSTMETA=${FIRSTOBJ%.evlog.zst.age}.evlog.json
echo "# A at $REVA, B at $REVB, MID $MID, END $END: $NSEG segments, $NGONE at or below B"
check some_segments_below_b test "$NGONE" -ge 2 -a "$NSEG" -gt "$NGONE"

# ---- --dry-run: listed, nothing deleted -----------------------------------------
$LB catalog prune --dry-run >"$T/dry.out" 2>&1
check dry_run_exit_0 test $? -eq 0
check dry_run_lists_segments grep -Eq "would delete $NGONE event-log segment\(s\), revisions $((REVA + 1))-[0-9]+: at or below revision $REVB of $B" "$T/dry.out"
check dry_run_deletes_nothing test "$(segrows)" -eq "$NSEG" -a -f "$T/repo/$FIRSTMETA"

# ---- a store that fails the first deletion: every segment stays ------------------
# (an immutable manifest: unlink fails even for root; a file system
# without chattr skips this part)
if chattr +i "$T/repo/$FIRSTMETA" 2>/dev/null; then
	check_exit store_error_exit_1 1 "prune segment .*$(basename "$FIRSTOBJ")" $LB catalog prune
	chattr -i "$T/repo/$FIRSTMETA"
	check store_error_keeps_rows test "$(segrows)" -eq "$NSEG"
	check store_error_keeps_objects test -f "$T/repo/$FIRSTOBJ"
	pycheck store_error_audited '
import sqlite3
c = sqlite3.connect(sys.argv[1])
r = c.execute("select count(*) from audit where action = \"prune\" and outcome = \"failed\" "
    "and json_extract(details, \"$.segment\") = ?", (sys.argv[2],)).fetchone()[0]
assert r == 1, r
' "$T/catalog.db" "$FIRSTOBJ"
else
	echo "# no chattr +i here: the store-error part skipped"
fi

# ---- the prune: at or below B's revision goes, the rest stays -------------------
$LB catalog prune >"$T/prune.out" 2>&1
check prune_exit_0 test $? -eq 0
check prune_says_segments grep -q "delete  $NGONE event-log segment(s)" "$T/prune.out"
pycheck prune_segments_by_revision '
import sqlite3
b = int(sys.argv[2]); t = sys.argv[4]
rows = {r[0] for r in sqlite3.connect(sys.argv[1]).execute("select object from segments")}
for line in open(sys.argv[3]):
    _, first, last, obj = line.split()
    meta = obj[:-len(".evlog.zst.age")] + ".evlog.json"
    there = [os.path.exists(os.path.join(t, "repo", k)) for k in (obj, meta)]
    if int(last) <= b:
        assert obj not in rows and there == [False, False], (line, there)
    else:
        assert obj in rows and there == [True, True], (line, there)
' "$T/catalog.db" "$REVB" "$T/cap.out" "$T"
pycheck prune_segments_audited '
import sqlite3
c = sqlite3.connect(sys.argv[1])
r = c.execute("select details from audit where action = \"prune\" and outcome = \"ok\" "
    "and json_extract(details, \"$.segments\") is not null").fetchall()
assert len(r) == 1, r
d = json.loads(r[0][0])
assert d["segments"] == int(sys.argv[2]) and d["oldest_kept_revision"] == int(sys.argv[3]), d
assert d["first_revision"] == int(sys.argv[4]) and d["last_revision"] <= int(sys.argv[3]), d
assert d["oldest_kept_backup"] == sys.argv[5], d
' "$T/catalog.db" "$NGONE" "$REVB" "$((REVA + 1))" "$B"

# ---- a point in the kept window still restores ----------------------------------
RCL="http://127.0.0.1:$(free_port)"
$LB restore cluster --cluster c1 --to-revision "$MID" --bump-revision 0 \
    --members "r1=http://127.0.0.1:$(free_port)@$RCL" --base-dir "$T/rmid" --start \
    >"$T/rmid.out" 2>&1
rrc=$?
track "$T/rmid"
check restore_after_prune_exit_0 test "$rrc" -eq 0
etcdctl --endpoints "$RCL" get "" --prefix --rev "$MID" -w json >"$T/rmid.got.json" 2>/dev/null
pycheck restore_after_prune_keys '
def kvs(p):
    return sorted((kv["key"], kv.get("value", ""), kv["mod_revision"]) for kv in json.load(open(p)).get("kvs", []))
a, b = kvs(sys.argv[1]), kvs(sys.argv[2])
assert a == b and len(a) == 13, (len(a), len(b))
' "$T/mid.json" "$T/rmid.got.json"
stop_all "$T/rmid"
echo "# pitr_prune_test: $(($(date +%s) - t0)) s after the cluster started (etcd $TEST_ETCD_VERSION)"
