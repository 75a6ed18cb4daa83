#!/bin/sh
# drill_test.sh: `lifeboat drill` against a real etcd (the suite's version)
# and the real `lifeboat backup`: a drill of a backup with Kubernetes-like
# keys reports etcdctl's own counts per resource and the backup's
# revision, records a catalog row and an audit event (catalog list, show,
# --json), and leaves nothing in drill-dir.  Then the failures: a drill
# killed with SIGKILL while its etcd runs is cleaned by the next drill's
# sweep (a locked directory stays), a disk too small is refused, a
# tampered backup fails and is recorded as failed; version selection
# between two etcd directories; a second appliance with the identity
# drills backups taken by one with only the recipient.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c1 1 || { fail setup "etcd did not start"; exit 1; }
EP=$c1_endpoints

# Kubernetes-like keys: core resources and a group's (more pods than one
# page of the count), plus a key outside /registry/ that is not counted.
python3 - "$EP" <<'PY'
import base64, json, sys, urllib.request
ep = sys.argv[1]
def put(k, v):
    body = json.dumps({"key": base64.b64encode(k.encode()).decode(),
                       "value": base64.b64encode(v.encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
for i in range(1205):
    put("/registry/pods/ns%d/pod%d" % (i % 3, i), "p" * (i % 50))
for i in range(7):
    put("/registry/configmaps/default/cm%d" % i, "c")
for i in range(3):
    put("/registry/apiregistration.k8s.io/apiservices/v1.x%d" % i, "a")
put("/registry/ranges/serviceips", "r")
put("/other/key", "x")
PY
etcdctl --endpoints "$EP" del /registry/pods/ns0/pod0 >/dev/null

# count PREFIX: etcdctl's own count of the keys under PREFIX
count() {
	etcdctl --endpoints "$EP" get "$1" --prefix --count-only -w fields |
	    sed -n 's/^"Count" : //p'
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
$LB backup --no-progress >"$T/b1.out" 2>&1 || { fail backup "$(cat "$T/b1.out")"; exit 1; }
B1=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/b1.out")
REV=$(etcdctl --endpoints "$EP" get /x -w json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])')
PODS=$(count /registry/pods/)
CMS=$(count /registry/configmaps/)
ALL=$(count "")

# ---- an ok drill ------------------------------------------------------------
$LB drill --json >"$T/d1.json" 2>"$T/d1.err"
check drill_ok_exit test $? -eq 0
pycheck drill_ok_report '
d = json.load(open(sys.argv[1]))
assert d["result"] == "ok", d
assert d["backup_id"] == sys.argv[2], d
assert d["revision"] == int(sys.argv[3]), (d["revision"], sys.argv[3])
assert d["keys"] == int(sys.argv[6]), (d["keys"], sys.argv[6])
o = d["objects"]
assert o["pods"] == int(sys.argv[4]) and o["configmaps"] == int(sys.argv[5]), o
assert o["apiregistration.k8s.io/apiservices"] == 3 and o["ranges"] == 1, o
assert d["kubernetes_objects"] == sum(o.values()) == int(sys.argv[6]) - 1, d
assert d["hashkv_vs_backup"] == "equal", d
assert d["rto_seconds"] > 0, d
assert d["rto_seconds"] >= sum(d["phase_seconds"].values()) - 0.01, d
assert d["etcd_version"].startswith(sys.argv[7] + "."), d
' "$T/d1.json" "$B1" "$REV" "$PODS" "$CMS" "$ALL" "$TEST_ETCD_VERSION"
check drill_dir_empty sh -c "[ -z \"\$(ls -A '$T/drill')\" ]"
check drill_no_plaintext sh -c "! find '$T' -name 'snapshot.db' | grep -q ."
$LB drill >"$T/d1.txt" 2>&1
check drill_text_report grep -q "drill of backup $B1 (c1): ok" "$T/d1.txt"
check drill_text_objects grep -Eq "^ +pods +$PODS\$" "$T/d1.txt"

# ---- the records --------------------------------------------------------------
check list_drilled sh -c "$LB catalog list | grep -A3 '^$B1' | grep -q '  ^ DRILLED .* ok, rto '"
$LB catalog show "$B1" >"$T/show.txt" 2>&1
check show_drilled grep -q '^drilled .* ok, rto ' "$T/show.txt"
check show_objects grep -Eq "^ +pods +$PODS\$" "$T/show.txt"
$LB catalog show "$B1" --json >"$T/show.json" 2>&1
pycheck show_json_drill '
d = json.load(open(sys.argv[1]))["drill"]
assert d["result"] == "ok" and d["backup_id"] == sys.argv[2], d
assert d["objects"]["pods"] == int(sys.argv[3]) and d["rto_seconds"] > 0, d
assert d["host"], d
' "$T/show.json" "$B1" "$PODS"
$LB catalog audit --json >"$T/audit.json" 2>&1
pycheck audit_drill_event '
ev = [e for e in json.load(open(sys.argv[1])) if e["action"] == "drill"]
assert len(ev) == 2 and all(e["outcome"] == "ok" for e in ev), ev
assert ev[0]["backup_id"] == sys.argv[2] and ev[0]["details"]["rto_seconds"] > 0, ev
' "$T/audit.json" "$B1"
check audit_drill_in_repo sh -c "grep -rl '\"action\":\"drill\"' '$T/repo' | grep -q ."

# ---- killed: the next drill's sweep ---------------------------------------------
# A drill killed with SIGKILL once its etcd serves leaves the directory
# and etcd; a directory whose lock is held (another drill's) stays.
$LB drill >"$T/k.out" 2>&1 &
KPID=$!
wait_for 30 sh -c "ls '$T'/drill/drill-*/etcd.pid" >/dev/null 2>&1
KDIR=$(ls -d "$T"/drill/drill-* 2>/dev/null | head -n 1)
KETCD=$(cat "$KDIR/etcd.pid" 2>/dev/null)
kill -9 "$KPID"
wait "$KPID" 2>/dev/null
echo "$KETCD" >>"$T/pids"
check killed_left_etcd kill -0 "$KETCD"
mkdir -p "$T/drill/drill-held"
: >"$T/drill/drill-held/lock"
flock "$T/drill/drill-held/lock" sleep 60 &
HELD=$!
echo "$HELD" >>"$T/pids"
wait_for 5 sh -c "! flock -n '$T/drill/drill-held/lock' true"
mkdir -p "$T/drill/drill-stale" "$T/drill/keep-me"
: >"$T/drill/drill-stale/lock"
$LB drill >"$T/d2.out" 2>&1
check after_kill_drill_ok grep -q ": ok" "$T/d2.out"
check sweep_stopped_etcd wait_for 10 sh -c "! kill -0 $KETCD"
check sweep_removed_dir test ! -e "$KDIR"
check sweep_removed_stale test ! -e "$T/drill/drill-stale"
check sweep_kept_locked test -d "$T/drill/drill-held"
check sweep_kept_other test -d "$T/drill/keep-me"
kill "$HELD" 2>/dev/null
rm -rf "$T/drill/drill-held" "$T/drill/keep-me"

# One drill at a time per appliance: while another holds drill-dir (here
# flock(1) stands in for it), a drill is refused and touches nothing.
flock -o "$T/drill" sleep 10 &
HOLD=$!
echo "$HOLD" >>"$T/pids"
wait_for 5 sh -c "! flock -n '$T/drill' true"
check_exit one_drill_at_a_time 1 "another drill runs on this appliance \(drill-dir $T/drill\): one at a time" \
    $LB drill
check one_drill_nothing_left sh -c "[ -z \"\$(ls -A '$T/drill')\" ]"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null

# ---- a disk too small ---------------------------------------------------------------
# A 8 MiB tmpfs: less than 64 MiB, whatever the database.
mkdir -p "$T/small"
if mount -t tmpfs -o size=8m tmpfs "$T/small" 2>/dev/null; then
	sed "s|^drill-dir = .*|drill-dir = $T/small|" "$T/lb.conf" >"$T/small.conf"
	check_exit disk_refused 1 "drill-dir $T/small has [0-9]+ bytes free, the drill needs [0-9]+" \
	    "$LIFEBOAT" --config "$T/small.conf" drill
	check disk_refused_nothing_left sh -c "[ -z \"\$(ls -A '$T/small')\" ]"
	umount "$T/small"
else
	echo "# skipped disk_refused: cannot mount a tmpfs here"
fi

# ---- a tampered backup: failed, and recorded as failed ---------------------------
etcdctl --endpoints "$EP" put /registry/pods/ns1/late v >/dev/null
$LB backup --no-progress >"$T/b2.out" 2>&1 || { fail backup2 "$(cat "$T/b2.out")"; exit 1; }
B2=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/b2.out")
OBJ=$(find "$T/repo" -path "*$B2*" -type f ! -name '*.json' ! -name '*.sig' | head -n 1)
python3 - "$OBJ" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
check_exit tampered_fails 1 "drill of backup $B2 failed" $LB drill --backup "$B2"
check tampered_recorded sh -c "$LB catalog show '$B2' | grep -q '^drilled .* FAILED'"
check tampered_nothing_left sh -c "[ -z \"\$(ls -A '$T/drill')\" ]"
pycheck tampered_audit '
ev = [e for e in json.load(open(sys.argv[1])) if e["action"] == "drill" and e["backup_id"] == sys.argv[2]]
assert len(ev) == 1 and ev[0]["outcome"] == "failed" and ev[0]["details"]["error"], ev
' /dev/stdin "$B2" <<EOF
$($LB catalog audit --json)
EOF

# ---- the etcd of the snapshot's version ------------------------------------------
# Two directories: the suite's version and another; the drill takes the
# one of the snapshot's minor wherever it stands in the list.
case $TEST_ETCD_VERSION in 3.5) OTHER=3.6 ;; *) OTHER=3.5 ;; esac
ODIR=$(sh "$TOP/scripts/etcd-peers.sh" --dir "$OTHER" 2>/dev/null)
# (under ASan: the pick is the same C, run by the plain suite)
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# skipped version selection under asan"
elif [ -n "$ODIR" ] && [ -x "$ODIR/etcd" ]; then
	sed "s|^drill-dir = .*|&\ndrill-etcd-dirs = $ODIR, $TEST_ETCD_DIR|" "$T/lb.conf" >"$T/v.conf"
	"$LIFEBOAT" --config "$T/v.conf" drill --backup "$B1" --json >"$T/v.json" 2>"$T/v.err"
	pycheck version_picked '
d = json.load(open(sys.argv[1]))
assert d["result"] == "ok" and d["etcd_version"].startswith(sys.argv[2] + "."), d
' "$T/v.json" "$TEST_ETCD_VERSION"
	sed "s|^drill-dir = .*|&\ndrill-etcd-dirs = $ODIR|" "$T/lb.conf" >"$T/v2.conf"
	if [ "$OTHER" = 3.5 ]; then
		check_exit version_none 1 "no etcd in drill-etcd-dirs can run a snapshot of etcd $TEST_ETCD_VERSION" \
		    "$LIFEBOAT" --config "$T/v2.conf" drill --backup "$B1"
	fi
else
	echo "# skipped version selection: etcd $OTHER is not built"
fi

# ---- an etcd that dies at start: failed, its log's last line in the error ----------
mkdir -p "$T/badetcd"
printf '#!/bin/sh\ncase "$1" in --version) "%s/etcd" --version ;; *) echo "boom: cannot serve"; exit 1 ;; esac\n' \
    "$TEST_ETCD_DIR" >"$T/badetcd/etcd"
chmod +x "$T/badetcd/etcd"
ln -s "$TEST_ETCD_DIR/etcdutl" "$T/badetcd/etcdutl" 2>/dev/null ||
    ln -s "$TEST_ETCD_DIR/etcdctl" "$T/badetcd/etcdctl"
sed "s|^drill-dir = .*|&\ndrill-etcd-dirs = $T/badetcd|" "$T/lb.conf" >"$T/bad.conf"
check_exit etcd_dies 1 "exited with status 1 right after start.*etcd's log ended: boom" \
    "$LIFEBOAT" --config "$T/bad.conf" drill --backup "$B1"
check etcd_dies_nothing_left sh -c "[ -z \"\$(ls -A '$T/drill')\" ]"

# ---- a second appliance: recipients only here, the identity there ------------------
# On s3rver when it runs here (else a file repository): appliance 1 has
# only the recipient and its own catalog; appliance 2 the identity, the
# bucket and a catalog of its own, rebuilt from the bucket.
echo S3RVER >"$T/s3secret"
if s3rver_start drill >/dev/null 2>&1; then
	REPO="repo = s3://drill/lb
s3-endpoint = $S3_ENDPOINT
s3-access-key-id = S3RVER
s3-secret-access-key-file = $T/s3secret"
	echo "# second appliance on s3rver"
else
	REPO="repo = file://$T/repo2"
	echo "# second appliance on a file repository (no s3rver here)"
fi
printf '[global]\n%s\nrecipients = %s\ncatalog = %s\ndrill-dir = %s\n[cluster:c1]\nendpoints = %s\n' \
    "$REPO" "$(cat "$T/rcpt")" "$T/a1.db" "$T/a1drill" "$EP" >"$T/a1.conf"
printf '[global]\n%s\nidentity-file = %s\ncatalog = %s\ndrill-dir = %s\n[cluster:c1]\nendpoints = %s\n' \
    "$REPO" "$T/id.txt" "$T/a2.db" "$T/a2drill" "$EP" >"$T/a2.conf"
etcdctl --endpoints "$EP" put /registry/secrets/default/s1 v >/dev/null
"$LIFEBOAT" --config "$T/a1.conf" backup --no-progress >"$T/b3.out" 2>&1
B3=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/b3.out")
check a1_backup test -n "$B3"
check_exit a1_drill_needs_identity 2 "identity" "$LIFEBOAT" --config "$T/a1.conf" drill
"$LIFEBOAT" --config "$T/a1.conf" config check >"$T/a1.check" 2>&1
check a1_config_says_off grep -q "scheduled restore drills are off" "$T/a1.check"
"$LIFEBOAT" --config "$T/a2.conf" catalog rebuild >"$T/a2.rebuild" 2>&1
check a2_rebuilt sh -c "'$LIFEBOAT' --config '$T/a2.conf' catalog list | grep -q '^$B3'"
"$LIFEBOAT" --config "$T/a2.conf" drill --json >"$T/a2.json" 2>"$T/a2.err"
pycheck a2_drill_ok '
d = json.load(open(sys.argv[1]))
assert d["result"] == "ok" and d["backup_id"] == sys.argv[2], d
assert d["objects"]["secrets"] == 1, d
' "$T/a2.json" "$B3"
check a2_recorded_own_catalog sh -c "'$LIFEBOAT' --config '$T/a2.conf' catalog show '$B3' | grep -q '^drilled .* ok'"
check a1_catalog_untouched sh -c "'$LIFEBOAT' --config '$T/a1.conf' catalog show '$B3' | grep -q '^drilled  *never'"
check a2_nothing_left sh -c "[ -z \"\$(ls -A '$T/a2drill')\" ]"

# ---- random -------------------------------------------------------------------------
$LB drill --backup random --json >"$T/r.json" 2>"$T/r.err"
pycheck random_pick '
d = json.load(open(sys.argv[1]))
assert d["backup_id"] in sys.argv[2:], d
' "$T/r.json" "$B1" "$B2" "$B3"
check_exit usage_bad_flag 2 "usage: lifeboat drill" $LB drill --nope
