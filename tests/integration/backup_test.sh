#!/bin/sh
# lifeboat backup end to end with real parts: a 3-member etcd 3.4, file://
# and s3:// repositories (s3rver, and the SigV4-checking strict server),
# Debian's age, zstd and etcdctl as the oracles of the stored format, and
# the break-glass path that needs nothing of lifeboat.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c1 3 || { fail setup "etcd cluster did not start"; exit 1; }
EP=$c1_endpoints
EP1=$(cat "$T/c1/m1.url")
python3 - "$EP1" <<'PY'
import base64, json, sys, urllib.request
ep = sys.argv[1]
for i in range(400):
    v = json.dumps({"kind": "ConfigMap", "metadata": {"name": "cm%d" % i, "namespace": "ns%d" % (i % 9)},
                    "data": {"blob": ("%08x" % (i * 2654435761 % 2**32)) * (10 + i % 200)}})
    body = json.dumps({"key": base64.b64encode(("/registry/configmaps/ns%d/cm%d" % (i % 9, i)).encode()).decode(),
                       "value": base64.b64encode(v.encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
PY
etcdctl --endpoints "$EP1" get --print-value-only /registry/configmaps/ns5/cm23 >"$T/cm23.want"
REV=$(etcdctl --endpoints "$EP1" endpoint status -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt1" 2>/dev/null
age-keygen -o "$T/id2.txt" 2>/dev/null
age-keygen -y "$T/id2.txt" >"$T/rcpt2"

# write_conf FILE REPO [extra global lines]
write_conf() {
	f=$1; repo=$2; shift 2
	{
		echo "[global]"
		echo "repo = $repo"
		echo "recipients = $(cat "$T/rcpt1"), $(cat "$T/rcpt2")"
		echo "catalog = $T/catalog.db"
		echo "identity-file = $T/id.txt"
		for l in "$@"; do echo "$l"; done
		echo
		echo "[cluster:c1]"
		echo "endpoints = $EP"
	} >"$f"
}

# --- file:// repository -------------------------------------------------
write_conf "$T/file.conf" "file://$T/repo"
check backup_to_file_repo "$LIFEBOAT" --config "$T/file.conf" backup
dir=$(dirname "$(find "$T/repo" -name manifest.json | head -n 1)")
check three_objects_and_manifest test "$(ls "$dir" | tr '\n' ' ')" = "m1.db.zst.age m2.db.zst.age m3.db.zst.age manifest.json "
check object_mode_0600 test "$(stat -c %a "$dir/m1.db.zst.age")" = 600

# The stored format, opened by Debian's own tools, with either recipient.
for m in m1 m2 m3; do
	age -d -i "$T/id.txt" "$dir/$m.db.zst.age" | zstd -dq >"$T/$m.db"
	got=$(snaptool snapshot status -w json "$T/$m.db" 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
	check "age_zstd_etcdctl_oracle_$m" test "$got" = "$REV"
done
check second_recipient_opens sh -c "age -d -i '$T/id2.txt' '$dir/m2.db.zst.age' | zstd -dq | cmp -s - '$T/m2.db'"
check zstd_frame_is_standard sh -c "age -d -i '$T/id.txt' '$dir/m3.db.zst.age' | zstd -tq"

check manifest_matches_objects python3 - "$dir" "$REV" <<'PY'
import hashlib, json, os, sys
d, rev = sys.argv[1], int(sys.argv[2])
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["format"] == "lifeboat-manifest/2" and m["status"] == "complete", m
assert m["revision"] == rev and len(m["members"]) == 3
assert len(m["encryption"]["recipients"]) == 2 and m["compression"]["algorithm"] == "zstd"
assert m["consistency"]["consistent"] is True and len(m["consistency"]["hashes"]) == 3
assert sum(x["leader"] for x in m["members"]) == 1
root = d[: d.index("/c1/")]
for x in m["members"]:
    data = open(os.path.join(root, x["object"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == x["stored_sha256"], x["name"]
    assert len(data) == x["stored_size"]
    assert x["revision"] == rev and x["db_size"] > 0 and len(x["etcd_sha256"]) == 64
PY

# The etcd trailer inside the plaintext is etcd's own sha256 of the db.
check plaintext_has_etcd_trailer python3 - "$T/m1.db" <<'PY'
import hashlib, sys
b = open(sys.argv[1], "rb").read()
assert len(b) % 512 == 32 and hashlib.sha256(b[:-32]).digest() == b[-32:]
PY

LIFEBOAT_CATALOG=$T/catalog.db "$LIFEBOAT" catalog list --json >"$T/list.json"
check catalog_records_complete python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert len(b) == 1 and b[0]["status"] == "complete" and len(b[0]["members"]) == 3, b
' "$T/list.json"
LIFEBOAT_CATALOG=$T/catalog.db "$LIFEBOAT" catalog audit --json >"$T/audit.json"
check catalog_audit_event python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert any(e["action"] == "backup" and e["outcome"] == "complete" for e in a), a
' "$T/audit.json"

# Off a terminal, progress is logged; --quiet silences it.
"$LIFEBOAT" --config "$T/file.conf" backup >"$T/prog.out" 2>"$T/prog.err"
check progress_logged_off_terminal grep -q 'progress m1 .*pulled' "$T/prog.err"
# The sizes say what they measure: one member's db, then all the
# snapshots and what they were stored as (the ratio of those two).
check result_line_sizes_labelled grep -Eq '^c1: backup [^ ]+ complete: 3/3 members, revision [0-9]+, db [0-9.]+ [KM]iB, snapshots [0-9.]+ [KM]iB stored as [0-9.]+ [KM]iB \(ratio [0-9.]+\), ' "$T/prog.out"
# On a terminal (script(1) gives it one), each member's line is drawn
# in place: a carriage return before it, a clear-to-end-of-line after.
script -qec "'$LIFEBOAT' --config '$T/file.conf' backup" /dev/null >"$T/tty.out" 2>&1
esc=$(printf '\033')
check progress_drawn_on_terminal grep -q "m1 .*pulled.*$esc\[K" "$T/tty.out"
"$LIFEBOAT" --config "$T/file.conf" backup --quiet >/dev/null 2>"$T/quiet.err"
check quiet_is_quiet test ! -s "$T/quiet.err"

# A one-member cluster: nothing can diverge, so its manifest says
# consistent (not false) and records the member's HashKV for restore.
etcd_cluster s1 1 || fail s1_setup "one-member cluster did not start"
printf '[global]\nrepo = file://%s/repo1\nrecipients = %s\ncatalog = %s/c1m.db\n[cluster:s1]\nendpoints = %s\n' \
    "$T" "$(cat "$T/rcpt1")" "$T" "$s1_endpoints" >"$T/one.conf"
check backup_one_member "$LIFEBOAT" --config "$T/one.conf" backup
check one_member_manifest_consistent python3 -c '
import json, sys, glob
m = json.load(open(glob.glob(sys.argv[1] + "/s1/*/*/*/*/manifest.json")[0]))
c = m["consistency"]
assert c["consistent"] is True and len(c["hashes"]) == 1 and c["revision"] > 0, c
' "$T/repo1"
etcd_stop s1 1

# A second backup of the cluster while one runs (its lock held): refused,
# the cluster named once.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(60)' \
    "$T/catalog.db.c1.lock" "$T/locked" &
lockpid=$!
echo "$lockpid" >>"$T/pids"
wait_for 10 test -e "$T/locked"
check_fails concurrent_backup_refused '^lifeboat: error: cluster c1: another backup of this cluster is running on this machine \(lock .*catalog.db.c1.lock held\)$' \
    "$LIFEBOAT" --config "$T/file.conf" backup
check concurrent_backup_cluster_named_once sh -c "! grep -q 'c1: cluster c1' '$T/cf.err' '$T/cf.out'"
kill "$lockpid"

# Break-glass: only the repository and the identity, no lifeboat.
obj=$(find "$T/repo" -name m2.db.zst.age | head -n 1)
age -d -i "$T/id.txt" "$obj" | zstd -dq >"$T/bg.db"
pp=$(free_port); cp=$(free_port)
snaptool snapshot restore "$T/bg.db" --name bg --data-dir "$T/bg.data" \
    --initial-cluster "bg=http://127.0.0.1:$pp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pp" >/dev/null 2>&1
etcd --name bg --data-dir "$T/bg.data" --listen-client-urls "http://127.0.0.1:$cp" \
    --advertise-client-urls "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" \
    >"$T/bg.log" 2>&1 &
echo $! >>"$T/pids"; bgpid=$!
wait_for 20 etcdctl --endpoints "http://127.0.0.1:$cp" endpoint health
etcdctl --endpoints "http://127.0.0.1:$cp" get --print-value-only /registry/configmaps/ns5/cm23 >"$T/cm23.got"
check break_glass_restore_reads_back cmp -s "$T/cm23.want" "$T/cm23.got"
kill "$bgpid"

# --- bad input: one clear line, non-zero exit, nothing stored -----------
check_fails config_missing 'lifeboat.conf|no such file|cannot read' \
    "$LIFEBOAT" --config "$T/nope/lifeboat.conf" backup
# A directory for --config, or a missing file: exit 2 (configuration), from
# every command that reads it.
for cmd in "config check" backup "catalog list" "catalog prune"; do
	n=$(echo "$cmd" | tr ' ' _)
	# shellcheck disable=SC2086
	"$LIFEBOAT" --config "$T" $cmd >/dev/null 2>"$T/cdir.err"
	check "config_dir_exit_2_$n" test $? -eq 2
	check "config_dir_says_directory_$n" grep -q "configuration $T is a directory" "$T/cdir.err"
	# shellcheck disable=SC2086
	"$LIFEBOAT" --config "$T/nope.conf" $cmd >/dev/null 2>/dev/null
	check "config_missing_exit_2_$n" test $? -eq 2
done
printf '[global]\nrepo = file://%s/r2\nrecipients = %s\ncompres-level = 3\n' "$T" "$(cat "$T/rcpt1")" >"$T/bad1.conf"
check_fails config_unknown_option 'bad1.conf:4: .*compres-level' "$LIFEBOAT" --config "$T/bad1.conf" backup
printf '[global]\nrepo = ftp://x\n' >"$T/bad2.conf"
check_fails config_bad_repo_url 'bad2.conf:2: repo' "$LIFEBOAT" --config "$T/bad2.conf" backup
printf '[global]\nrepo = file://%s/r3\ncatalog = %s/c3.db\n[cluster:c1]\nendpoints = %s\n' "$T" "$T" "$EP" >"$T/bad3.conf"
check_fails no_recipients 'no recipients' "$LIFEBOAT" --config "$T/bad3.conf" backup
check no_recipients_stores_nothing test ! -e "$T/r3/c1"
check_fails unknown_cluster 'no \[cluster:zz\] section' "$LIFEBOAT" --config "$T/file.conf" backup --cluster zz
# Plain http beside TLS files would send the password and snapshots in clear.
make_certs "$T/certs"
printf '[global]\nrepo = file://%s/r5\nrecipients = %s\ncatalog = %s/c5.db\n[cluster:c1]\nendpoints = %s\ncacert = %s/certs/ca.crt\n' \
    "$T" "$(cat "$T/rcpt1")" "$T" "$EP" "$T" >"$T/bad5.conf"
check_fails config_http_with_cacert 'bad5.conf:6: \[cluster:c1\] etcd endpoint http://127.0.0.1:[0-9]+ is plain http but cacert' \
    "$LIFEBOAT" --config "$T/bad5.conf" backup
"$LIFEBOAT" --config "$T/bad5.conf" config check >/dev/null 2>&1
check config_http_with_cacert_exit_2 test $? -eq 2
check config_http_with_cacert_stores_nothing test ! -e "$T/r5/c1"

# --- s3:// on s3rver ---------------------------------------------------
RT=$(dirname "$LIFEBOAT")/tools/repotool
if s3rver_start lifeboat-test; then
	printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"; chmod 600 "$T/s3.secret"
	write_conf "$T/s3.conf" "s3://lifeboat-test/backups" "s3-endpoint = $S3_ENDPOINT" \
	    "s3-access-key-id = $S3_ACCESS_KEY" "s3-secret-access-key-file = $T/s3.secret"
	check backup_to_s3rver "$LIFEBOAT" --config "$T/s3.conf" backup
	"$RT" "s3://lifeboat-test/backups" list c1/ >"$T/s3.list" 2>&1
	# three member objects, the manifest, and the cluster's head
	check s3rver_has_five_objects test "$(grep -c '^c1/' "$T/s3.list")" -eq 5
	check s3rver_has_audit_event sh -c "'$RT' s3://lifeboat-test/backups list .audit/ | grep -q '^\.audit/c1/.*\.json'"
	check s3rver_has_head grep -q 'c1/HEAD.json' "$T/s3.list"
	printf '[global]\nrepo = s3://no-such-bucket/x\ns3-endpoint = %s\ns3-access-key-id = %s\ns3-secret-access-key-file = %s\nrecipients = %s\ncatalog = %s/c4.db\n[cluster:c1]\nendpoints = %s\n' \
	    "$S3_ENDPOINT" "$S3_ACCESS_KEY" "$T/s3.secret" "$(cat "$T/rcpt1")" "$T" "$EP" >"$T/nobucket.conf"
	check_fails s3_bucket_missing 'no-such-bucket.*(does not exist|NoSuchBucket)' \
	    "$LIFEBOAT" --config "$T/nobucket.conf" backup
else
	fail s3rver_start "s3rver did not start"
fi

# --- s3:// on the strict server: signatures checked ---------------------
if strict_s3_start; then
	printf '%s\n' "$S3_SECRET_KEY" >"$T/strict.secret"
	printf 'not-the-secret\n' >"$T/wrong.secret"
	chmod 600 "$T/strict.secret" "$T/wrong.secret"
	write_conf "$T/strict.conf" "s3://$S3_BUCKET/lb" "s3-endpoint = $S3_ENDPOINT" \
	    "s3-region = $S3_REGION" "s3-access-key-id = $S3_ACCESS_KEY" \
	    "s3-secret-access-key-file = $T/strict.secret"
	check backup_to_strict_s3 "$LIFEBOAT" --config "$T/strict.conf" backup
	sed "s|$T/strict.secret|$T/wrong.secret|" "$T/strict.conf" >"$T/wrong.conf"
	check_fails strict_s3_wrong_secret 'SignatureDoesNotMatch' \
	    "$LIFEBOAT" --config "$T/wrong.conf" backup
	check secret_not_in_errors sh -c "! grep -q -e not-the-secret -e '$S3_SECRET_KEY' '$T/cf.err'"
else
	echo "SKIP strict_s3: $strict_s3_why"
fi

# --- a member down: a partial backup, exit 3, still restorable ----------
etcd_stop c1 3
"$LIFEBOAT" --config "$T/file.conf" backup --json >"$T/partial.json" 2>"$T/partial.err"
check partial_exit_3 test $? -eq 3
check partial_names_member grep -Eq 'etcd m3 \(http://127.0.0.1:[0-9]+\): cannot connect' "$T/partial.err"
check partial_manifest python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))[0]
assert r["status"] == "partial" and r["members_ok"] == 2 and r["members_total"] == 3, r
' "$T/partial.json"

# --- the whole cluster down: failed, nothing stored ----------------------
etcd_stop c1 1
etcd_stop c1 2
stored() { find "$T/repo" -type f -not -path '*/.audit/*' | wc -l; }
events() { find "$T/repo/.audit" -type f -name '*.json' | wc -l; }
before=$(stored); ev0=$(events)
check_fails cluster_down_fails 'cluster c1: .*cannot connect' "$LIFEBOAT" --config "$T/file.conf" backup
check cluster_down_stores_nothing test "$(stored)" -eq "$before"
# ... but its failure is in the repository's audit trail
check cluster_down_audited_in_repo test "$(events)" -eq $((ev0 + 1))
LIFEBOAT_CATALOG=$T/catalog.db "$LIFEBOAT" catalog list --json --status failed >"$T/failed.json"
# Failed attempts are recorded too (the wrong S3 secret above is one).
check catalog_records_failed python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len([r for r in rows if "cannot connect" in (r.get("error") or "")]) == 1, rows' "$T/failed.json"
