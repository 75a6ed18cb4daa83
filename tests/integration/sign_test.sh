#!/bin/sh
# sign_test.sh: signed manifests, against a real etcd, a file:// repository
# and Debian's ssh-keygen as the oracle.  A backup with signing-key writes
# manifest.json.sig (SSHSIG) that `ssh-keygen -Y verify` accepts, and
# chains each cluster's manifests (sequence, sha256 of the previous one).
# Keys made by either side load in the other; a signature made by
# `ssh-keygen -Y sign` is trusted by lifeboat once its key is listed.
# With trusted-signers, restore refuses by id a planted backup (encrypted
# to the real recipient, a valid manifest) that is unsigned or signed by
# another key, and a one-byte edit of a signed manifest; "latest" skips
# them for the newest trusted backup; both from the bucket (--repo) and
# from the catalog.  The signed head (HEAD.json + .sig, ssh-keygen checks
# it too) reports a rollback, a stale head and a deleted newest backup
# when restoring from the bucket, without blocking.
# --insecure-skip-signature restores one anyway, loudly, and the audit
# says so.  Without trusted-signers, restore and config check warn.  A
# second appliance on the bucket continues the chain from the head.
# `catalog verify --all` walks the chain: gaps prune left pass, a backup
# deleted behind lifeboat's back does not.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c1 1 || { fail setup "etcd did not start"; exit 1; }
EP=$c1_endpoints
etcdctl --endpoints "$EP" put /k/one 1 >/dev/null

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
"$LIFEBOAT" keygen --signing -o "$T/sign.key" >"$T/sign.pub" 2>"$T/kg.err"
check keygen_signing_public_line grep -Eq '^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ lifeboat@' "$T/sign.pub"
check keygen_signing_mode_0600 test "$(stat -c %a "$T/sign.key")" = 600
# lifeboat's key loads in ssh-keygen and gives the same public key
check keygen_key_loads_in_ssh_keygen sh -c "[ \"\$(ssh-keygen -y -f '$T/sign.key' | cut -d' ' -f1,2)\" = \"\$(cut -d' ' -f1,2 '$T/sign.pub')\" ]"
echo "lifeboat $(cut -d' ' -f1,2 "$T/sign.pub")" >"$T/allowed"

conf() {   # conf FILE [EXTRA-GLOBAL-LINES]
	cat >"$1" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
${2:-}
[cluster:c1]
endpoints = $EP
EOF
}
conf "$T/lb.conf" "signing-key = $T/sign.key
trusted-signers = $T/allowed"
conf "$T/plain.conf"
LB="$LIFEBOAT --config $T/lb.conf"

check config_check_signing_ok sh -c "$LB config check >'$T/cc.out' 2>&1 && ! grep -q 'warn.*\(trusted-signers\|signing-key\)' '$T/cc.out'"
CHECK_EXIT_ALL=1 check_exit config_check_warns_unset 0 'no trusted-signers: restore and verify here take a backup' \
    "$LIFEBOAT" --config "$T/plain.conf" config check

cp "$T/sign.key" "$T/open.key"; chmod 644 "$T/open.key"
conf "$T/open.conf" "signing-key = $T/open.key"
check_exit config_check_refuses_open_key 2 "signing-key: .*open.key" \
    "$LIFEBOAT" --config "$T/open.conf" config check
check_exit backup_refuses_open_key 2 "signing-key: .*open.key" \
    "$LIFEBOAT" --config "$T/open.conf" backup --no-progress
check open_key_no_backup test ! -d "$T/repo"

$LB backup --no-progress >"$T/b1.out" 2>&1
cp "$T/repo/c1/HEAD.json" "$T/head1.json"; cp "$T/repo/c1/HEAD.json.sig" "$T/head1.json.sig"
etcdctl --endpoints "$EP" put /k/two 2 >/dev/null
$LB backup --no-progress >"$T/b2.out" 2>&1
check two_backups sh -c "grep -q complete '$T/b1.out' && grep -q complete '$T/b2.out'"
M1=$(find "$T/repo" -name manifest.json | sort | sed -n 1p)
M2=$(find "$T/repo" -name manifest.json | sort | sed -n 2p)
B2=$(basename "$(dirname "$M2")")

# --- the format: ssh-keygen is the oracle --------------------------------
check sig_beside_manifest test -s "$M2.sig"
check sig_armored head -n 1 "$M2.sig" | grep -qx -- '-----BEGIN SSH SIGNATURE-----'
check ssh_keygen_verifies ssh-keygen -Y verify -f "$T/allowed" -I lifeboat \
    -n lifeboat-manifest -s "$M2.sig" <"$M2"
check ssh_keygen_other_namespace_fails sh -c "! ssh-keygen -Y verify -f '$T/allowed' \
    -I lifeboat -n file -s '$M2.sig' <'$M2' >/dev/null 2>&1"
python3 - "$M1" "$M2" "$(ssh-keygen -lf "$T/sign.pub" | cut -d' ' -f2)" >"$T/chain.out" 2>&1 <<'PY'
import hashlib, json, sys
m1, m2 = (json.load(open(p)) for p in sys.argv[1:3])
assert m1["format"] == m2["format"] == "lifeboat-manifest/2", (m1["format"], m2["format"])
assert m1["sequence"] == 1 and m1["previous_manifest_sha256"] is None, m1["sequence"]
assert m2["sequence"] == 2, m2["sequence"]
want = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
assert m2["previous_manifest_sha256"] == want, (m2["previous_manifest_sha256"], want)
assert m1["signer"] == m2["signer"] == sys.argv[3], (m2["signer"], sys.argv[3])
PY
check chain_sequence_previous_signer test $? -eq 0 -a ! -s "$T/chain.out"

# --- planted backups ----------------------------------------------------
# plant ID FROM: a manifest at ID's key, a copy of FROM with its id and
# times moved on a minute (so it is the newest), pointing at FROM's
# objects: encrypted to the real recipient, valid in every other way.
plant() {
	python3 - "$2" "$T/repo" "$1" <<'PY'
import datetime, json, os, sys
m = json.load(open(sys.argv[1]))
t = datetime.datetime.strptime(m["started_at"], "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(minutes=1)
m["backup_id"] = t.strftime("%Y%m%dT%H%M%S") + ".000Z-" + sys.argv[3]
m["started_at"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
m["finished_at"] = m["started_at"]
d = os.path.join(sys.argv[2], m["cluster"], t.strftime("%Y/%m/%d"), m["backup_id"])
os.makedirs(d)
json.dump(m, open(os.path.join(d, "manifest.json"), "w"), indent=2)
print(m["backup_id"])
PY
}
P1=$(plant 0000aa "$M2")
PM1=$(find "$T/repo" -path "*$P1/manifest.json")
new_member() { S1C=http://127.0.0.1:$(free_port); S1P=http://127.0.0.1:$(free_port); }
dry() {   # dry [ARGS...]: a restore plan from the bucket alone
	new_member
	$LB restore seed --repo "file://$T/repo" --cluster c1 --name s1 --client-url "$S1C" \
	    --peer-url "$S1P" --data-dir "$T/dry/s1" --dry-run "$@"
}
check_exit planted_unsigned_refused_by_id 1 "refused: manifest .*$P1/manifest.json is not signed" \
    dry --backup "$P1"
CHECK_EXIT_ALL=1 check_exit planted_unsigned_skipped_for_latest 0 "backup +$B2 of cluster c1" dry
check planted_skip_said grep -q "$P1/manifest.json is not signed.*skipped" "$T/ce.out"
check plan_says_signed grep -q 'signature   signed by a trusted key' "$T/ce.out"

# signed by another key (ssh-keygen's), not trusted here
ssh-keygen -q -t ed25519 -N '' -C other -f "$T/other.key"
ssh-keygen -q -Y sign -f "$T/other.key" -n lifeboat-manifest "$PM1" 2>/dev/null
check other_key_signature_made test -s "$PM1.sig"
check_exit planted_other_key_refused_by_id 1 "manifest .*$P1/manifest.json is signed by a key that is not trusted" \
    dry --backup "$P1"
# ... which ssh-keygen's signature makes trusted once listed: interop
echo "other $(cut -d' ' -f1,2 "$T/other.key.pub")" >>"$T/allowed"
CHECK_EXIT_ALL=1 check_exit ssh_keygen_signature_trusted 0 "backup +$P1 of cluster c1" dry --backup "$P1"
echo "lifeboat $(cut -d' ' -f1,2 "$T/sign.pub")" >"$T/allowed"

# a one-byte edit of a signed manifest (the real newest one)
cp "$M2" "$T/m2.orig"
sed -i '0,/"revision": \([0-9]\)/s//"revision": 9\1/' "$M2"
check one_byte_edit_made sh -c "! cmp -s '$M2' '$T/m2.orig'"
check_exit altered_refused_by_id 1 "manifest .*$B2/manifest.json was altered after it was signed" \
    dry --backup "$B2"
cp "$T/m2.orig" "$M2"

# --- the signed head ------------------------------------------------------
H=$T/repo/c1/HEAD.json
check head_ssh_keygen_verifies ssh-keygen -Y verify -f "$T/allowed" -I lifeboat \
    -n lifeboat-head -s "$H.sig" <"$H"
check head_names_newest python3 -c "
import json, sys; h = json.load(open('$H'))
assert h['format'] == 'lifeboat-head/1' and h['backup_id'] == '$B2' and h['sequence'] == 2, h
assert h['valid_until'] > h['signed_at'], h"
cp "$H" "$T/head2.json"; cp "$H.sig" "$T/head2.json.sig"
CHECK_EXIT_ALL=1 check_exit head_ok_no_alarm 0 "backup +$B2 of cluster c1" dry
check head_ok_says_nothing sh -c "! grep -Eq 'ROLLBACK|STALE|MISSING' '$T/ce.out'"
# an older signed head put back: a rollback, reported, not blocking
cp "$T/head1.json" "$H"; cp "$T/head1.json.sig" "$H.sig"
CHECK_EXIT_ALL=1 check_exit head_rollback_reported 0 "ROLLBACK: head c1/HEAD.json names backup .* at sequence 1, but this appliance's catalog has seen sequence 2" dry
# a head past valid_until (made and signed by hand with the same key)
python3 - "$T/head2.json" "$H" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
h["signed_at"], h["valid_until"] = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"
json.dump(h, open(sys.argv[2], "w"))
PY
rm -f "$H.sig"; ssh-keygen -q -Y sign -f "$T/sign.key" -n lifeboat-head "$H" 2>/dev/null
CHECK_EXIT_ALL=1 check_exit head_stale_reported 0 "STALE HEAD: head c1/HEAD.json was valid until 2026-01-01" dry
# a head whose signature does not match: not used, said so
cp "$T/head2.json" "$H"
CHECK_EXIT_ALL=1 check_exit head_altered_not_used 0 "head c1/HEAD.json was altered after it was signed" dry
cp "$T/head2.json.sig" "$H.sig"
# the newest backup deleted: the head still names it
mv "$M2" "$T/m2.away"
CHECK_EXIT_ALL=1 check_exit head_missing_backup_reported 0 "MISSING BACKUPS: head c1/HEAD.json names backup $B2 \(sequence 2\)" dry
mv "$T/m2.away" "$M2"

# --insecure-skip-signature: restores the planted one, loudly, audited
new_member
$LB restore seed --repo "file://$T/repo" --cluster c1 --backup "$P1" --name s1 \
    --client-url "$S1C" --peer-url "$S1P" --data-dir "$T/skip/s1" --start \
    --insecure-skip-signature >"$T/skip.out" 2>&1
rc=$?
track "$T/skip"
check skip_restores test "$rc" -eq 0
check skip_is_loud grep -q "INSECURE: manifest .*$P1/manifest.json is signed by a key that is not trusted" "$T/skip.out"
check skip_audited sh -c "$LB catalog audit --json | grep -q '\"signature\": *\"skipped\"'"
# ... and in the bucket's audit trail, which outlives the appliance
check skip_audited_in_repo sh -c "grep -l '\"action\":\"restore\"' \$(find '$T/repo/.audit/c1' -name '*.json') | xargs grep -q '\"signature\":\"skipped\"'"
stop_all "$T/skip"

# --- from the catalog -------------------------------------------------------
# A planted manifest recorded in the catalog (as a rebuild without checks
# would have) is refused by id; a signed one restores, with --start.
"$(dirname "$LIFEBOAT")/tools/catalog_fixture" "$T/catalog.db" record "$PM1" >"$T/fx.out" 2>&1 ||
	fail catalog_fixture "$(cat "$T/fx.out")"
check_exit catalog_planted_refused 1 "refused: manifest .*$P1/manifest.json is signed by a key that is not trusted" \
    $LB restore seed --backup "$P1" --cluster c1 --name s1 --client-url "$S1C" \
    --peer-url "$S1P" --data-dir "$T/cat/s1" --dry-run
new_member
$LB restore seed --cluster c1 --backup "$B2" --name s1 --client-url "$S1C" --peer-url "$S1P" \
    --data-dir "$T/good/s1" --start >"$T/good.out" 2>&1
rc=$?
track "$T/good"
check catalog_signed_restores test "$rc" -eq 0
check restored_keys sh -c "[ \"\$(etcdctl --endpoints '$S1C' get /k/two --print-value-only)\" = 2 ]"
check good_audited_ok sh -c "$LB catalog audit --json | grep -q '\"signature\": *\"ok\"'"
stop_all "$T/good"

# --- no trusted signers: restore warns --------------------------------------
new_member
CHECK_EXIT_ALL=1 check_exit unset_restore_warns 0 'no trusted-signers configured: a backup anyone with write access' \
    "$LIFEBOAT" --config "$T/plain.conf" restore seed --repo "file://$T/repo" --cluster c1 \
    --backup "$B2" --name s1 --client-url "$S1C" --peer-url "$S1P" --data-dir "$T/u/s1" --dry-run
check unset_plan_says grep -q 'signature   not checked (no trusted-signers)' "$T/ce.out"

# --- a second appliance on the same bucket (its own, empty catalog) -------
# continues the chain from the head, not from 1
conf "$T/lb2.conf" "signing-key = $T/sign.key
trusted-signers = $T/allowed"
sed -i "s|^catalog = .*|catalog = $T/catalog2.db|" "$T/lb2.conf"
"$LIFEBOAT" --config "$T/lb2.conf" backup --no-progress >"$T/b3.out" 2>&1
M3=$(find "$T/repo" -name manifest.json -newer "$M2" ! -path "*$P1*" | head -n 1)
check second_appliance_continues_chain python3 -c "
import hashlib, json
m = json.load(open('$M3'))
assert m['sequence'] == 3, m['sequence']
assert m['previous_manifest_sha256'] == hashlib.sha256(open('$M2', 'rb').read()).hexdigest()"
check second_appliance_head_moved grep -q '"sequence": 3' "$T/repo/c1/HEAD.json"
# the first appliance's next run fails (its catalog's chain ends at 2): the
# head it renews must not go back to 2
sed "s|^endpoints = .*|endpoints = http://127.0.0.1:$(free_port)|" "$T/lb.conf" >"$T/down.conf"
"$LIFEBOAT" --config "$T/down.conf" backup --no-progress >"$T/b4.out" 2>&1
check failed_run_keeps_newer_head sh -c "grep -q '\"sequence\": 3' '$T/repo/c1/HEAD.json' &&
    grep -q 'head kept: it names backup .* at sequence 3' '$T/b4.out'"

# --- catalog verify --all walks each cluster's chain ------------------------
# Gaps prune left are explained by its audit events; a backup deleted
# behind lifeboat's back (then dropped by a rebuild) is not.
conf "$T/ch.conf" "signing-key = $T/sign.key
trusted-signers = $T/allowed"
sed -i "s|^catalog = .*|catalog = $T/ch.db|; s|^repo = .*|repo = file://$T/chrepo|" "$T/ch.conf"
printf 'retention = keep-last=2\n' >>"$T/ch.conf"
CH="$LIFEBOAT --config $T/ch.conf"
for i in 1 2 3 4; do $CH backup --no-progress >/dev/null 2>&1; done
$CH catalog prune >"$T/prune.out" 2>&1
CHECK_EXIT_ALL=1 check_exit chain_pruned_gaps_explained 0 \
    "cluster c1: chain of 2 backups, sequence 3 to 4; 2 gaps left by prune, 0 unexplained" \
    $CH catalog verify --all
# A prune whose audit event the catalog refuses (a trigger stands in for
# a lock that starts between the deletes) deletes the objects but keeps
# the rows, so the chain never has a gap no event explains; the next
# prune audits and finishes.
$CH backup --no-progress >/dev/null 2>&1
sqlite3 "$T/ch.db" "CREATE TRIGGER test_refuse_prune BEFORE INSERT ON audit
    WHEN NEW.action = 'prune' BEGIN SELECT RAISE(ABORT, 'test: audit refused'); END"
$CH catalog prune >"$T/prune2.out" 2>&1
check prune_unaudited_keeps_rows sh -c "grep -q 'catalog rows stay until a prune can audit' '$T/prune2.out' &&
    test \"\$(sqlite3 '$T/ch.db' 'SELECT count(*) FROM backups')\" = 3 &&
    test \"\$(find '$T/chrepo' -name manifest.json | wc -l)\" = 2"
sqlite3 "$T/ch.db" "DROP TRIGGER test_refuse_prune"
$CH catalog prune >"$T/prune3.out" 2>&1
CHECK_EXIT_ALL=1 check_exit prune_audited_then_rows_go 0 \
    "cluster c1: chain of 2 backups, sequence 4 to 5; 3 gaps left by prune, 0 unexplained" \
    $CH catalog verify --all
$CH backup --no-progress >/dev/null 2>&1
M4=$(find "$T/chrepo" -name manifest.json | sort | sed -n 2p)
rm -rf "$(dirname "$M4")"
$CH catalog rebuild >"$T/rebuild.out" 2>&1
CHECK_EXIT_ALL=1 check_exit chain_deleted_backup_unexplained 1 \
    "chain: cluster c1: 1 backup missing from the chain \(sequence 5, before .*\) that prune did not delete" \
    $CH catalog verify --all

# --- the audit trail survives the catalog -----------------------------------
# Every event is also a signed object under .audit/ in the repository; a
# rebuild into a new catalog takes the history back, each event once.
n_events=$(find "$T/chrepo/.audit" -name '*.json' | wc -l)
check audit_trail_in_repo test "$n_events" -ge 7
check audit_trail_signed sh -c "f=\$(find '$T/chrepo/.audit' -name '*.json' | head -n 1);
    printf 'lifeboat %s\n' \"\$(cut -d' ' -f1,2 '$T/sign.pub')\" >'$T/allowed_audit';
    ssh-keygen -Y verify -f '$T/allowed_audit' -I lifeboat -n lifeboat-audit -s \"\$f.sig\" <\"\$f\""
$CH catalog audit --json >"$T/audit_before.json"
# An event planted in the trail (unsigned) is not taken back.
mkdir -p "$T/chrepo/.audit/c1/2026/01/01"
printf '{"format":"lifeboat-audit/1","at":"2026-01-01T00:00:00.000Z","action":"restore","cluster":"c1","outcome":"ok","os_user":"mallory","host":"x"}\n' \
    >"$T/chrepo/.audit/c1/2026/01/01/20260101T000000.000Z-abcdef.json"
rm -f "$T/ch.db" "$T/ch.db-wal" "$T/ch.db-shm"
$CH catalog rebuild >"$T/rebuild2.out" 2>&1
check rebuild_takes_history_back grep -Eq "audit trail: [1-9][0-9]* event\(s\) taken back, 0 known already, 1 not taken" "$T/rebuild2.out"
check rebuild_refuses_planted_event grep -q "20260101T000000.000Z-abcdef.json: .*not signed" "$T/rebuild2.out"
$CH catalog audit --json >"$T/audit_after.json"
# every event of the lost catalog is back, once, as it was
pycheck rebuild_history_equal '
key = lambda e: json.dumps([e[k] for k in ("at", "action", "cluster", "backup_id", "outcome", "os_user", "host", "details")], sort_keys=True)
before = json.load(open(sys.argv[1]))
after = sorted(json.load(open(sys.argv[2])), key=lambda e: e["id"])
assert after[-1]["action"] == "rebuild", after[-1]    # its own, after the others
assert sorted(map(key, before)) == sorted(map(key, after[:-1])), (len(before), len(after))
assert not any(e["os_user"] == "mallory" for e in after)
' "$T/audit_before.json" "$T/audit_after.json"
$CH catalog rebuild >"$T/rebuild3.out" 2>&1
check rebuild_twice_no_duplicates grep -Eq "audit trail: 0 event\(s\) taken back, [1-9][0-9]* known already, 1 not taken" "$T/rebuild3.out"
