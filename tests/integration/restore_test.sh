#!/bin/sh
# restore_test.sh: `lifeboat restore` against real etcd 3.4 and the real
# `lifeboat backup`: a 3-member cluster is backed up twice (file://
# repository, catalog), stopped and deleted, then rebuilt with `restore
# cluster --start`, `restore member` and seed + join; every key is read back
# with etcdctl and compared with what was written.  Also: from the
# repository alone after the catalog is gone (--repo), an older backup by
# --at, a corrupted member object (fallback), and the safety errors.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c1 3 || { fail setup "etcd cluster did not start"; exit 1; }
EP=$c1_endpoints
EP1=$(cat "$T/c1/m1.url")

# put_many PREFIX N: N keys with values of varied sizes, over the JSON
# gateway (one process, fast).
put_many() {
	python3 - "$EP1" "$1" "$2" <<'PY'
import base64, json, sys, urllib.request
ep, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def put(k, v):
    body = json.dumps({"key": base64.b64encode(k.encode()).decode(),
                       "value": base64.b64encode(v.encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
for i in range(n):
    put("%s/ns%d/obj%d" % (prefix, i % 5, i), ("v%d-" % i) * (1 + (i % 7) * 300))
PY
}

# dump ENDPOINTS FILE: every key and value, sorted, one "key value" line.
dump() {
	etcdctl --endpoints "$1" get "" --prefix -w json 2>/dev/null | python3 -c '
import base64, json, sys
d = json.load(sys.stdin)
for kv in sorted(d.get("kvs", []), key=lambda kv: kv["key"]):
    print(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode())
' >"$2"
}

# members SPEC-VAR: three fresh members r1..r3 (PEER@CLIENT); sets
# $MEMBERS and $CLIENTS (comma separated client URLs).
new_members() {
	MEMBERS=""; CLIENTS=""
	for n in r1 r2 r3; do
		c="http://127.0.0.1:$(free_port)"
		MEMBERS="${MEMBERS:+$MEMBERS,}$n=http://127.0.0.1:$(free_port)@$c"
		CLIENTS="${CLIENTS:+$CLIENTS,}$c"
	done
}


put_many /registry/a 150
etcdctl --endpoints "$EP" del /registry/a/ns1/obj1 >/dev/null
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
[cluster:c1]
endpoints = $EP
EOF
LB="$LIFEBOAT --config $T/lb.conf"
$LB backup --no-progress >"$T/b1.out" 2>&1 || { fail backup1 "$(cat "$T/b1.out")"; exit 1; }
B1=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/b1.out")
dump "$EP" "$T/want1"
sleep 2
AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 2
put_many /registry/b 80
etcdctl --endpoints "$EP" put /registry/a/ns0/obj0 changed >/dev/null
$LB backup --no-progress >"$T/b2.out" 2>&1 || { fail backup2 "$(cat "$T/b2.out")"; exit 1; }
B2=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/b2.out")
dump "$EP" "$T/want2"
check two_backups test -n "$B1" -a -n "$B2" -a "$B1" != "$B2"
check dumps_differ sh -c "! cmp -s '$T/want1' '$T/want2'"
check dump_has_keys test "$(wc -l <"$T/want2")" -ge 229

# The cluster is lost.
for i in 1 2 3; do etcd_stop c1 "$i"; done
rm -rf "$T/c1"

# --- dry run: prints the plan, touches nothing ---
new_members
$LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/dry" --dry-run >"$T/dry.out" 2>&1
check dry_run_exit_0 test $? -eq 0
check dry_run_plan grep -q "backup      $B2" "$T/dry.out"
check dry_run_touches_nothing test ! -e "$T/dry"

# --- 3: whole cluster, latest backup, from the catalog ---
# With secrets in lifeboat's environment, as a wrapper or a unit would
# set them: neither the restore tool nor the etcd members get them.  The
# tool runs through a wrapper that records its environment.
new_members
tool=$(command -v etcdutl || command -v etcdctl)
mkdir -p "$T/wrap"
printf '#!/bin/sh\nenv >>"%s/tool.env"\nexec "%s" "$@"\n' "$T" "$tool" >"$T/wrap/$(basename "$tool")"
chmod +x "$T/wrap/$(basename "$tool")"
env AWS_ACCESS_KEY_ID=AKIALEAKTEST AWS_SECRET_ACCESS_KEY=leak-aws-secret \
    AWS_SESSION_TOKEN=leak-aws-token LIFEBOAT_ETCD_PASSWORD_PROD=leak-etcd-pw \
    LIFEBOAT_RESTORE_PROBE=leak-other \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/rc" --start \
    --etcdutl "$T/wrap/$(basename "$tool")" >"$T/rc.out" 2>&1
rc=$?
track "$T/rc"
for m in r1 r2 r3; do
	tr '\0' '\n' <"/proc/$(cat "$T/rc/$m.pid")/environ" >"$T/$m.env" 2>/dev/null
done
check child_env_etcd_read test -s "$T/r1.env" -a -s "$T/r3.env"
check child_env_etcd_no_secrets sh -c "! grep -h -e '^AWS_' -e '^LIFEBOAT_' -e leak- '$T'/r[123].env"
check child_env_etcd_keeps_path grep -q '^PATH=' "$T/r2.env"
check child_env_tool_ran test -s "$T/tool.env"
check child_env_tool_no_secrets sh -c "! grep -e '^AWS_' -e '^LIFEBOAT_' -e leak- '$T/tool.env'"
check child_env_tool_api_3 grep -qx 'ETCDCTL_API=3' "$T/tool.env"
check cluster_restore_exit_0 test "$rc" -eq 0
check cluster_report grep -q "3 members checked, one leader" "$T/rc.out"
check cluster_hashkv_matches_backup grep -q "keys and values match the backup (HashKV of its live keys)" "$T/rc.out"
dump "$CLIENTS" "$T/got"
check cluster_every_key_back cmp "$T/want2" "$T/got"
check cluster_three_members test "$(etcdctl --endpoints "$CLIENTS" member list | wc -l)" -eq 3
for m in r1 r2 r3; do
	check "cluster_${m}_own_data" sh -c "etcdctl --endpoints '$(echo "$CLIENTS" | cut -d, -f"${m#r}")' \
	    get --consistency=s /registry/a/ns0/obj0 --print-value-only | grep -qx changed"
done
check plaintext_removed sh -c "! ls -a '$T/rc' | grep -q lifeboat-restore"
check config_mode_0600 test "$(stat -c %a "$T/rc/r1.conf.yml")" = 600
check audit_event sh -c "$LB catalog audit --catalog '$T/catalog.db' | grep restore | grep -q '\"mode\":\"cluster\"'"
stop_all "$T/rc"

# --- from the repository alone: catalog gone, older backup by id ---
mv "$T/catalog.db" "$T/catalog.db.away"
new_members
env -u LIFEBOAT_CONFIG "$LIFEBOAT" restore cluster --repo "file://$T/repo" --identity "$T/id.txt" \
    --cluster c1 --backup "$B1" --members "$MEMBERS" --base-dir "$T/rr" --start >"$T/rr.out" 2>&1
check_rc=$?
track "$T/rr"
check repo_only_exit_0 test "$check_rc" -eq 0
dump "$CLIENTS" "$T/got"
check repo_only_backup1_keys cmp "$T/want1" "$T/got"
stop_all "$T/rr"
mv "$T/catalog.db.away" "$T/catalog.db"

# --- --at: the newest complete backup at or before a time (catalog) ---
new_members
$LB restore cluster --cluster c1 --at "$AT" --members "$MEMBERS" --base-dir "$T/ra" --start >"$T/ra.out" 2>&1
check_rc=$?
track "$T/ra"
check at_exit_0 test "$check_rc" -eq 0
dump "$CLIENTS" "$T/got"
check at_restores_older_backup cmp "$T/want1" "$T/got"
check at_names_backup1 grep -q "restored backup $B1" "$T/ra.out"
stop_all "$T/ra"
check_fails at_before_any 'no complete backup of cluster c1 taken at or before' \
    $LB restore cluster --cluster c1 --at 2001-01-01 --members "$MEMBERS" --base-dir "$T/ra0"
# 1970-01-01T00:00:00Z is time 0, not "no --at": an error naming the oldest
# backup, from the catalog and from the repository.
check_fails at_epoch_catalog "taken at or before 1970-01-01T00:00:00Z in the catalog; the oldest is $B1" \
    $LB restore cluster --cluster c1 --at 1970-01-01T00:00:00Z --members "$MEMBERS" \
    --base-dir "$T/ra0" --dry-run
check_fails at_epoch_repo "taken at or before 1970-01-01T00:00:00Z in file://$T/repo; the oldest is $B1" \
    $LB restore cluster --repo "file://$T/repo" --cluster c1 --at 1970-01-01T00:00:00Z \
    --members "$MEMBERS" --base-dir "$T/ra0" --dry-run
check_fails at_before_1970_catalog "the oldest is $B1" \
    $LB restore cluster --cluster c1 --at 1970-01-01T00:00:00+01:00 --members "$MEMBERS" \
    --base-dir "$T/ra0" --dry-run

# --- bad manifests in the bucket do not block a restore from the others ---
# Newer keys holding: a manifest over the size limit, a copy of B1's at
# another backup's key, and one whose far-future id disagrees with its
# old started_at.  Each is skipped with a warning naming its key.
cp -r "$T/repo" "$T/repo8"
MK1=$(find "$T/repo" -path "*$B1*" -name manifest.json)
mkdir -p "$T/repo8/c1/2099/01/01/20990101T000000Z-huge00" "$T/repo8/c1/2097/01/01/20970101T000000Z-copy00"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/repo8/c1/2099/01/01/20990101T000000Z-huge00/manifest.json"
cp "$MK1" "$T/repo8/c1/2097/01/01/20970101T000000Z-copy00/manifest.json"
python3 - "$MK1" "$T/repo8" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
m["backup_id"] = "20980101T000000Z-future"
d = os.path.join(sys.argv[2], "c1/2098/01/01/20980101T000000Z-future")
os.makedirs(d)
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(m))
PY
R8="$LB restore cluster --repo file://$T/repo8 --cluster c1 --members $MEMBERS --base-dir $T/r8 --dry-run"
$R8 >"$T/r8.out" 2>&1
check bad_manifests_latest_is_b2 grep -q "backup      $B2" "$T/r8.out"
check bad_manifest_oversized_named grep -q "20990101T000000Z-huge00/manifest.json: .*; skipped" "$T/r8.out"
check bad_manifest_wrong_key_named grep -q "20970101T000000Z-copy00/manifest.json: manifest of backup $B1 .*not at its own key.*; skipped" "$T/r8.out"
check bad_manifest_id_time_named grep -q "20980101T000000Z-future/manifest.json: backup 20980101T000000Z-future: its id and started_at .* disagree.*; skipped" "$T/r8.out"
$R8 --at "$AT" >"$T/r8at.out" 2>&1
check bad_manifests_at_is_b1 grep -q "backup      $B1" "$T/r8at.out"
# An unreadable manifest (every GET answers 500) in a fake S3: a real
# server cannot be made to fail one key on demand.
fport=$(free_port)
python3 "$TOP/tests/fake_s3.py" "$fport" "$T/fake.log" >"$T/fake.out" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$fport/fakeb/?list-type=2"
for k in "${MK1#"$T/repo/"}" "$(cd "$T/repo" && find . -path "*$B2*" -name manifest.json | cut -c3-)" \
    c1/2099/01/02/20990102T000000Z-x500/manifest.json; do
	[ -f "$T/repo/$k" ] || echo '{}' >"$T/x500.json"
	f=$T/repo/$k; [ -f "$f" ] || f=$T/x500.json
	curl -sf -X PUT --data-binary "@$f" "http://127.0.0.1:$fport/fakeb/lb/$k" >/dev/null
done
sed "s|^\[global\]|[global]\ns3-endpoint = http://127.0.0.1:$fport|" "$T/lb.conf" >"$T/lbf.conf"
AWS_ACCESS_KEY_ID=fake AWS_SECRET_ACCESS_KEY=fake "$LIFEBOAT" --config "$T/lbf.conf" restore cluster \
    --repo s3://fakeb/lb --cluster c1 --members "$MEMBERS" --base-dir "$T/r8" --dry-run >"$T/r8s.out" 2>&1
check unreadable_manifest_latest_is_b2 grep -q "backup      $B2" "$T/r8s.out"
check unreadable_manifest_named grep -q "20990102T000000Z-x500/manifest.json: .*500.*; skipped" "$T/r8s.out"
# Asked for by id, the unreadable one is not "not found": the error says why.
AWS_ACCESS_KEY_ID=fake AWS_SECRET_ACCESS_KEY=fake "$LIFEBOAT" --config "$T/lbf.conf" restore cluster \
    --repo s3://fakeb/lb --cluster c1 --backup 20990102T000000Z-x500 --members "$MEMBERS" \
    --base-dir "$T/r8n" --dry-run >"$T/r8n.out" 2>&1
check unreadable_manifest_by_id_says_why grep -q "backup 20990102T000000Z-x500 not found in .*1 manifest skipped, the last .*x500/manifest.json: .*500" "$T/r8n.out"

# --- a decompression bomb: 64 MiB of zeros in a few KB, whose manifest
# says db_size 20480: restore stops at the first byte past 20480 + 32 ---
BD=c1/2025/01/01/20250101T000000Z-bomb01
mkdir -p "$T/repo9/$BD"
head -c 67108864 /dev/zero | zstd -q -c | age -r "$(cat "$T/rcpt")" >"$T/repo9/$BD/m1.db.zst.age"
python3 - "$MK1" "$T/repo9" "$BD" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
repo, d = sys.argv[2], sys.argv[3]
obj = open(os.path.join(repo, d, "m1.db.zst.age"), "rb").read()
mm = [x for x in m["members"] if x["name"] == "m1"][0]
mm.update(object=d + "/m1.db.zst.age", stored_size=len(obj),
          stored_sha256=hashlib.sha256(obj).hexdigest(), db_size=20480)
m["members"] = [mm]
m.update(backup_id=d.split("/")[-1], started_at="2025-01-01T00:00:00Z",
         finished_at="2025-01-01T00:00:01Z", stored_size=len(obj), status="complete")
open(os.path.join(repo, d, "manifest.json"), "w").write(json.dumps(m))
PY
check_fails bomb_stopped "decompresses to more than the manifest's db_size 20480 .*stopped at byte 20513" \
    $LB restore cluster --repo "file://$T/repo9" --cluster c1 --backup 20250101T000000Z-bomb01 \
    --members "$MEMBERS" --base-dir "$T/r9"
check bomb_nothing_left sh -c "! find '$T/r9' -type f 2>/dev/null | grep -q ."

# --- a corrupted member object: fallback to the next member's ---
DIR2=$(dirname "$(find "$T/repo" -path "*$B2*" -name m2.db.zst.age)")
cp "$DIR2/m2.db.zst.age" "$T/m2.orig"
python3 - "$DIR2/m2.db.zst.age" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(bytes(b))
PY
new_members
$LB restore cluster --cluster c1 --member m2 --members "$MEMBERS" --base-dir "$T/rf" --start >"$T/rf.out" 2>&1
check_rc=$?
track "$T/rf"
check fallback_exit_0 test "$check_rc" -eq 0
check fallback_says_so grep -Eq "member m2 object .*m2.db.zst.age: .*; trying member m[13]" "$T/rf.out"
check fallback_reported grep -q "after objects that failed verification" "$T/rf.out"
dump "$CLIENTS" "$T/got"
check fallback_every_key_back cmp "$T/want2" "$T/got"
stop_all "$T/rf"

# Every object tampered (one flipped byte) or truncated: a clear error, and
# nothing at the target.
for m in m1 m3; do cp "$DIR2/$m.db.zst.age" "$T/$m.orig"; done
# (an XOR, so the byte surely changes: writing a fixed 'X' left the
# object intact whenever its header already had an 'X' there)
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 1]))' "$DIR2/m1.db.zst.age"
truncate -s -100 "$DIR2/m3.db.zst.age"
new_members
check_fails all_objects_bad "no member object of backup $B2 passed verification" \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/rbad" --start
check all_bad_nothing_created sh -c "! ls '$T/rbad' 2>/dev/null | grep -q r1"
check all_bad_no_plaintext sh -c "! ls -a '$T/rbad' 2>/dev/null | grep -q lifeboat-restore"
for m in m1 m2 m3; do cp "$T/$m.orig" "$DIR2/$m.db.zst.age"; done

# --- safety errors, each before anything changes ---
new_members
mkdir -p "$T/rs/r1"; echo precious >"$T/rs/r1/file"
check_fails data_dir_not_empty 'data dir .*/rs/r1 is not empty' \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/rs"
check not_empty_untouched grep -qx precious "$T/rs/r1/file"
"$LIFEBOAT" keygen -o "$T/other.txt" >/dev/null 2>&1
check_fails wrong_identity 'wrong identity' \
    $LB restore cluster --cluster c1 --identity "$T/other.txt" --members "$MEMBERS" --base-dir "$T/rw"
check wrong_identity_nothing_created test ! -e "$T/rw/r1"
check_fails missing_identity 'identity: .*nope.txt' \
    $LB restore cluster --cluster c1 --identity "$T/nope.txt" --members "$MEMBERS" --base-dir "$T/rw"
check_fails unknown_backup 'backup 20990101T000000Z-000000 not found' \
    $LB restore cluster --backup 20990101T000000Z-000000 --members "$MEMBERS" --base-dir "$T/rw"
check_fails unknown_backup_repo 'backup 20990101T000000Z-000000 not found in file://' \
    $LB restore cluster --repo "file://$T/repo" --cluster c1 --backup 20990101T000000Z-000000 \
    --members "$MEMBERS" --base-dir "$T/rw"
bp=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$bp)); s.listen(); time.sleep(60)" &
echo $! >>"$T/pids"; busy=$!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $bp))"
check_fails port_in_use "port $bp is already in use" \
    $LB restore cluster --cluster c1 --members "r1=http://127.0.0.1:$(free_port)@http://127.0.0.1:$bp" \
    --base-dir "$T/rp" --start
check port_in_use_nothing_created test ! -e "$T/rp"
kill "$busy"
check_fails etcd_missing 'etcd binary /nonexistent/etcd not found' \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/re" --start --etcd-bin /nonexistent/etcd
check_fails tool_missing 'etcd restore tool /nonexistent/etcdutl not found' \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/re" --etcdutl /nonexistent/etcdutl
check_fails bad_members "expected PEER_URL@CLIENT_URL" \
    $LB restore cluster --cluster c1 --members "r1=http://127.0.0.1:1" --base-dir "$T/re"

# --force moves a non-empty dir aside; an etcd that dies at start is
# rolled back: the restored dir removed and the old one moved back.
# an etcd that says its version, as restore asks first, then fails to start
printf '#!/bin/sh\n[ "$1" = --version ] && exec %s --version\nexit 3\n' "$(command -v etcd)" \
    >"$T/false-etcd"
chmod +x "$T/false-etcd"
check_fails start_fails_rolled_back 'etcd r1 exited with status 3 right after start' \
    $LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/rs" --start --force \
    --etcd-bin "$T/false-etcd"
check rolled_back_old_dir_back grep -qx precious "$T/rs/r1/file"
check rolled_back_no_aside sh -c "! ls '$T/rs' | grep -q 'r1.lifeboat-'"
check rolled_back_r2_removed test ! -e "$T/rs/r2"
new_members
$LB restore cluster --cluster c1 --members "$MEMBERS" --base-dir "$T/rs" --force --start >"$T/rs.out" 2>&1
check_rc=$?
track "$T/rs"
check force_exit_0 test "$check_rc" -eq 0
check force_moved_aside sh -c "grep -qx precious '$T'/rs/r1.lifeboat-*/file"
dump "$CLIENTS" "$T/got"
check force_every_key_back cmp "$T/want2" "$T/got"
stop_all "$T/rs"

# --- 2: per member, from the same backup, started one by one ---
IC=""; MC=""
for n in p1 p2 p3; do
	pp=$(free_port); cp=$(free_port)
	IC="${IC:+$IC,}$n=http://127.0.0.1:$pp"
	echo "http://127.0.0.1:$cp" >"$T/$n.client"
	MC="${MC:+$MC,}http://127.0.0.1:$cp"
done
mkdir -p "$T/pm"
for n in p1 p2 p3; do
	$LB restore member --cluster c1 --name "$n" --initial-cluster "$IC" \
	    --initial-cluster-token tok-$$ --data-dir "$T/pm/$n" \
	    --client-url "$(cat "$T/$n.client")" --start >"$T/pm-$n.out" 2>&1
	echo $? >"$T/pm-$n.rc"
	track "$T/pm"
done
check member_mode_exit_0 test "$(cat "$T/pm-p1.rc" "$T/pm-p2.rc" "$T/pm-p3.rc" | tr -d '\n')" = 000
check member_mode_first_waits grep -q "not checked: no quorum yet" "$T/pm-p1.out"
check member_mode_last_checks grep -q "keys and values match the backup (HashKV of its live keys)" "$T/pm-p3.out"
dump "$MC" "$T/got"
check member_mode_every_key_back cmp "$T/want2" "$T/got"
stop_all "$T/pm"

# Without --start: config files and the command to start them.
mkdir -p "$T/pn" "$T/units"
$LB restore member --cluster c1 --name p1 --initial-cluster "$IC" --initial-cluster-token t \
    --data-dir "$T/pn/p1" --client-url "$(cat "$T/p1.client")" \
    --write-systemd-unit "$T/units" >"$T/pn.out" 2>&1
check member_no_start_prints_command grep -q "etcd --config-file $T/pn/p1.conf.yml" "$T/pn.out"
check member_no_start_not_running test ! -e "$T/pn/p1.pid"
check systemd_unit grep -q "^ExecStart=\".*etcd\" --config-file \"$T/pn/p1.conf.yml\"" \
    "$T/units/etcd-p1.service"
# The config file as written starts the member (etcd reads it, not us).
etcd --config-file "$T/pn/p1.conf.yml" >"$T/pn/p1.log" 2>&1 &
echo $! >>"$T/pids"; p1pid=$!
sleep 2
check config_file_starts_etcd sh -c "kill -0 $p1pid && grep -q 'configuring client listeners' '$T/pn/p1.log' && grep -q '\"name\":\"p1\"' '$T/pn/p1.log'"
kill "$p1pid" 2>/dev/null

# --- 1: seed, then two joins ---
S1C=http://127.0.0.1:$(free_port); S1P=http://127.0.0.1:$(free_port)
$LB restore seed --cluster c1 --backup "$B2" --name s1 --client-url "$S1C" --peer-url "$S1P" \
    --data-dir "$T/sj/s1" --start >"$T/seed.out" 2>&1
check_rc=$?
track "$T/sj"
check seed_exit_0 test "$check_rc" -eq 0
for n in s2 s3; do
	$LB restore join --seed "$S1C" --name "$n" --client-url "http://127.0.0.1:$(free_port)" \
	    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/$n" >"$T/join-$n.out" 2>&1
	echo $? >"$T/join-$n.rc"
	track "$T/sj"
done
check join_exit_0 test "$(cat "$T/join-s2.rc" "$T/join-s3.rc" | tr -d '\n')" = 00
check seeded_three_members test "$(etcdctl --endpoints "$S1C" member list | grep -c started)" -eq 3
S3C=$(sed -n 's/.*pid [0-9]*, \(http[^,]*\),.*/\1/p' "$T/join-s3.out")
dump "$S3C" "$T/got"
check joined_member_every_key_back cmp "$T/want2" "$T/got"
check_fails join_existing_name 'has a member named s2 already' \
    "$LIFEBOAT" restore join --seed "$S1C" --name s2 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/x"
# A member added but never started is "still joining": a second join waits.
wait_for 30 etcdctl --endpoints "$S1C" member add ghost --peer-urls "http://127.0.0.1:$(free_port)"
check_fails join_refused_while_joining 'is still joining' \
    "$LIFEBOAT" restore join --seed "$S1C" --name s4 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s4"
GID=$(etcdctl --endpoints "$S1C" member list | grep unstarted | cut -d, -f1)
etcdctl --endpoints "$S1C" member remove "$GID" >/dev/null 2>&1
# A join whose member fails to start is removed again.
check_fails join_start_fails 'etcd s5 exited' \
    $LB restore join --seed "$S1C" --name s5 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s5" --etcd-bin "$T/false-etcd"
check join_failed_member_removed test "$(etcdctl --endpoints "$S1C" member list | wc -l)" -eq 3
$LB catalog audit --json >"$T/join-audit.json"
check joins_audited python3 -c '
import json, sys
ev = [(e["outcome"], e["details"]["name"]) for e in json.load(open(sys.argv[1]))
      if e["action"] == "restore" and (e["details"] or {}).get("mode") == "join"]
assert ev == [("ok", "s2"), ("ok", "s3"), ("failed", "s5")], ev
' "$T/join-audit.json"
stop_all "$T/sj"
check_fails join_seed_down "seed $S1C is not reachable" \
    "$LIFEBOAT" restore join --seed "$S1C" --name s6 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s6"
check join_seed_down_nothing_created test ! -e "$T/sj/s6"

# --- TLS: a cluster that wants client certificates, backed up and restored
# with client and peer TLS; lifeboat checks it with its own client cert ---
etcd_cluster c2 3 tls || { fail tls_setup "tls cluster did not start"; exit 1; }
CT="--cacert $T/certs/ca.crt --cert $T/certs/client.crt --key $T/certs/client.key"
for k in a b c; do
	# shellcheck disable=SC2086
	etcdctl --endpoints "$c2_endpoints" $CT put "/tls/$k" "secret-$k" >/dev/null
done
cat >>"$T/lb.conf" <<EOF
[cluster:c2]
endpoints = $c2_endpoints
cacert = $T/certs/ca.crt
cert = $T/certs/client.crt
key = $T/certs/client.key
EOF
$LB backup --cluster c2 --no-progress >"$T/b3.out" 2>&1
check tls_backup grep -q "complete: 3/3" "$T/b3.out"
for i in 1 2 3; do etcd_stop c2 "$i"; done
MEMBERS=""; CLIENTS=""
for n in t1 t2 t3; do
	c="https://127.0.0.1:$(free_port)"
	MEMBERS="${MEMBERS:+$MEMBERS,}$n=https://127.0.0.1:$(free_port)@$c"
	CLIENTS="${CLIENTS:+$CLIENTS,}$c"
done
$LB restore cluster --cluster c2 --members "$MEMBERS" --base-dir "$T/rt" --start \
    --cert "$T/certs/server.crt" --key "$T/certs/server.key" --cacert "$T/certs/ca.crt" \
    --peer-cert "$T/certs/server.crt" --peer-key "$T/certs/server.key" \
    --peer-cacert "$T/certs/ca.crt" \
    --client-cert "$T/certs/client.crt" --client-key "$T/certs/client.key" >"$T/rt.out" 2>&1
check_rc=$?
track "$T/rt"
check tls_restore_exit_0 test "$check_rc" -eq 0
check tls_hashkv_matches_backup grep -q "keys and values match the backup (HashKV of its live keys)" "$T/rt.out"
# shellcheck disable=SC2086
etcdctl --endpoints "$CLIENTS" $CT get /tls --prefix --print-value-only >"$T/tls.got" 2>&1
check tls_every_key_back test "$(tr '\n' ' ' <"$T/tls.got")" = "secret-a secret-b secret-c "
check tls_refuses_without_cert sh -c "! etcdctl --endpoints '$CLIENTS' --cacert '$T/certs/ca.crt' \
    --command-timeout 3s get /tls/b >/dev/null 2>&1"
check tls_config_names_files grep -q "client-cert-auth: true" "$T/rt/t1.conf.yml"
stop_all "$T/rt"
