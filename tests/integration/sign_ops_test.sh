#!/bin/sh
# sign_ops_test.sh: the signature check of `catalog verify`, `catalog
# rebuild` and `catalog import` (issue 13) against real signed backups of a
# real etcd, in a file:// repository and in s3rver.  Planted backups are
# real backups copied under a new id (the objects decrypt with the
# appliance's identity, the manifest is valid): one unsigned, one signed by
# another key with Debian's `ssh-keygen -Y sign`; a signed manifest edited
# by one byte stands for an altered one.  Debian's `ssh-keygen -Y verify`
# is the oracle for a signature lifeboat wrote.
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1
REPOTOOL=$(dirname "$LIFEBOAT")/tools/repotool
[ -x "$REPOTOOL" ] || { fail build_repotool "$REPOTOOL missing (make test)"; exit 1; }
command -v ssh-keygen >/dev/null || { fail ssh_keygen "ssh-keygen missing"; exit 1; }

etcd_cluster e 1 || { fail etcd_cluster "did not start"; exit 1; }
i=0
while [ $i -lt 50 ]; do
	etcdctl --endpoints "$e_endpoints" put "/registry/k$i" "value-$i" >/dev/null
	i=$((i + 1))
done

mkdir -p "$T/cat" "$T/cat2" "$T/cat3" "$T/cat4" "$T/cat5"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null || { fail keygen "failed"; exit 1; }
check keygen_signing sh -c "'$LIFEBOAT' keygen --signing -o '$T/sign.key' >'$T/sign.pub'"
check keygen_signing_public_line grep -Eq '^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ lifeboat@' "$T/sign.pub"
ssh-keygen -q -t ed25519 -N '' -C other -f "$T/other" || { fail ssh_keygen_other "failed"; exit 1; }
echo "lifeboat $(cat "$T/sign.pub")" >"$T/trusted"
echo "lifeboat $(cat "$T/other.pub")" >"$T/trusted_other"
RCPT=$(cat "$T/rcpt")

# conf FILE REPO CATALOG [EXTRA...]: signs with sign.key; EXTRA lines go
# to [global] (trusted-signers or not).
conf() {
	f=$1; repo=$2; cat=$3; shift 3
	{
		echo "[global]"
		echo "repo = $repo"
		echo "recipients = $RCPT"
		echo "catalog = $cat"
		echo "identity-file = $T/id.txt"
		echo "signing-key = $T/sign.key"
		echo "s3-endpoint = ${S3_ENDPOINT:-http://127.0.0.1:1}"
		echo "s3-region = us-east-1"
		for l in "$@"; do echo "$l"; done
		echo "[cluster:prod]"
		echo "endpoints = $e_endpoints"
	} >"$f"
}
conf "$T/t.conf" "file://$T/repo" "$T/cat/catalog.db" "trusted-signers = $T/trusted"
conf "$T/n.conf" "file://$T/repo" "$T/cat/catalog.db"
# LT: trusted signers configured; LN: none; both on the same repo and catalog.
LT() { LIFEBOAT_CATALOG=$T/cat/catalog.db "$LIFEBOAT" --config "$T/t.conf" "$@"; }
LN() { LIFEBOAT_CATALOG=$T/cat/catalog.db "$LIFEBOAT" --config "$T/n.conf" "$@"; }
WARN='no trusted-signers configured: a backup anyone with write access'

check backup_signed_1 LT backup --cluster prod --no-progress
check backup_signed_2 LT backup --cluster prod --no-progress
check backup_signed_3 LT backup --cluster prod --no-progress
LT catalog list --json >"$T/list0.json"
ids() { python3 -c "import json,sys; print(' '.join(b['id'] for b in sorted(json.load(open(sys.argv[1])), key=lambda b: b['id'])))" "$1"; }
set -- $(ids "$T/list0.json")
B1=$1 B2=$2 B3=$3
mkey() { python3 -c "import json,sys; print([b for b in json.load(open(sys.argv[1])) if b['id']==sys.argv[2]][0]['manifest_key'])" "$T/list0.json" "$1"; }
M1=$(mkey "$B1") M3=$(mkey "$B3")
D1=$(dirname "$M1")
check backup_wrote_signature test -s "$T/repo/$M1.sig"

# --- the oracle: Debian's ssh-keygen on a real backup's manifest -----------------
check oracle_ssh_keygen_verifies sh -c "ssh-keygen -Y verify -f '$T/trusted' -I lifeboat \
    -n lifeboat-manifest -s '$T/repo/$M1.sig' <'$T/repo/$M1'"
# ... and it can fail: another key is not the signer.
check oracle_other_key_refused sh -c "! ssh-keygen -Y verify -f '$T/trusted_other' \
    -I lifeboat -n lifeboat-manifest -s '$T/repo/$M1.sig' <'$T/repo/$M1' 2>/dev/null"

# --- verify: signed backups pass ---------------------------------------------------
check verify_signed_all LT catalog verify --all
check verify_signed_no_warning sh -c "! grep -q '$WARN' '$T/check.out'"
pycheck verify_signed_audited_ok '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
v = [e for e in ev if e["action"] == "verify"]
assert len(v) == 3 and all(e["outcome"] == "ok" and e["details"]["signature"] == "ok" for e in v), v
' "$LIFEBOAT" "$T/cat/catalog.db"

# --- planted backups -----------------------------------------------------------------
# plant NEWID: copies B1's directory to NEWID's, the id rewritten in the
# manifest (backup_id and object keys), without B1's signature.  The id
# keeps B1's time (it must agree with started_at), another suffix.
plant() {
	nd=$(dirname "$D1")/$1
	mkdir -p "$T/repo/$nd"
	for f in "$T/repo/$D1"/*; do
		case $f in *.sig|*/manifest.json) continue ;; esac
		cp "$f" "$T/repo/$nd/$(basename "$f" | sed "s/$B1/$1/")"
	done
	sed "s/$B1/$1/g" "$T/repo/$M1" >"$T/repo/$nd/manifest.json"
}
P1=$(echo "$B1" | sed 's/-[0-9a-f]*$/-0bad01/')
P2=$(echo "$B1" | sed 's/-[0-9a-f]*$/-0bad02/')
plant "$P1"
plant "$P2"
PM1=$(dirname "$D1")/$P1/manifest.json
PM2=$(dirname "$D1")/$P2/manifest.json
ssh-keygen -q -Y sign -f "$T/other" -n lifeboat-manifest "$T/repo/$PM2" 2>/dev/null
check planted_other_signed test -s "$T/repo/$PM2.sig"
# What ssh-keygen signed verifies with ssh-keygen (the plant is well formed).
check oracle_planted_other_verifies sh -c "ssh-keygen -Y verify -f '$T/trusted_other' \
    -I lifeboat -n lifeboat-manifest -s '$T/repo/$PM2.sig' <'$T/repo/$PM2'"
# A one-byte edit of a signed manifest: a space of its indentation becomes
# a tab (the JSON still parses, and says the same).
cp "$T/repo/$M3" "$T/m3.orig"
python3 - "$T/repo/$M3" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
i = d.index(b'\n  "') + 1
d[i] = 0x09
open(p, 'wb').write(bytes(d))
json = __import__('json'); json.loads(bytes(d))
PY
check altered_one_byte test "$(cmp -l "$T/m3.orig" "$T/repo/$M3" | wc -l)" -eq 1

# Without trusted signers the plants are taken (that is the hole): rebuild
# records them, and warns once.
check_exit rebuild_untrusted_config_warns 0 "$WARN" LN catalog rebuild
check rebuild_untrusted_config_warns_once test "$(grep -c "$WARN" "$T/ce.err")" -eq 1
check_exit verify_untrusted_config_passes_plant 0 "$WARN" LN catalog verify "$P1"
check verify_untrusted_config_warns_once test "$(grep -c "$WARN" "$T/ce.err")" -eq 1
pycheck verify_untrusted_config_audited_unchecked '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
v = [e for e in ev if e["action"] == "verify" and e["backup_id"] == sys.argv[3]]
assert len(v) == 1 and v[0]["outcome"] == "ok" and v[0]["details"]["signature"] == "unchecked", v
' "$LIFEBOAT" "$T/cat/catalog.db" "$P1"

# --- verify with trusted signers -------------------------------------------------------
verify_status_is() {
	check "$1" test "$(LT catalog show "$2" --json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["verify_status"])')" = "$3"
}
check_exit verify_refuses_unsigned 1 "manifest $PM1 is not signed" LT catalog verify "$P1"
check verify_refuses_unsigned_says_failed grep -q "verified $P1 (prod): FAILED" "$T/ce.out"
verify_status_is verify_unsigned_recorded_failed "$P1" failed
check_exit verify_refuses_other_key 1 "manifest $PM2 is signed by a key that is not trusted" \
    LT catalog verify "$P2"
verify_status_is verify_other_key_recorded_failed "$P2" failed
check_exit verify_refuses_altered 1 "manifest $M3 was altered after it was signed" \
    LT catalog verify "$B3"
verify_status_is verify_altered_recorded_failed "$B3" failed
check_exit verify_all_refuses_the_three 1 "not signed" LT catalog verify --all
check verify_all_passes_the_good sh -c "grep -q 'verified $B1 (prod): ok' '$T/ce.out' &&
    grep -q 'verified $B2 (prod): ok' '$T/ce.out' && [ \$(grep -c FAILED '$T/ce.out') -eq 3 ]"
pycheck verify_refusals_audited '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
v = [e for e in ev if e["action"] == "verify" and e["backup_id"] in sys.argv[3:]]
f = [e for e in v if e["outcome"] == "failed"]
assert len(f) == 6, v
assert all(e["details"]["signature"] == "failed" and e["details"]["members"] == 0 for e in f), f
assert any("altered" in e["details"]["error"] for e in f), f
' "$LIFEBOAT" "$T/cat/catalog.db" "$P1" "$P2" "$B3"

# The catalog's copy is not proof: a signed manifest in the bucket that the
# catalog records otherwise fails (B2's copy in the catalog is changed).
python3 - "$T/cat/catalog.db" "$B2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cols = [r[1] for r in db.execute("pragma table_info(backups)")]
assert "manifest" in cols, cols
n = db.execute("update backups set manifest = replace(manifest, '\"prod\"', '\"prod\" ') where id = ?", (sys.argv[2],)).rowcount
assert n == 1
db.commit()
PY
check_exit verify_catalog_copy_differs 1 "catalog's copy of the manifest of backup $B2 is not the signed manifest" \
    LT catalog verify "$B2"

# --insecure-skip-signature: passes, loudly, and audited.
check_exit verify_skip_passes 0 "INSECURE: manifest $PM1 is not signed" \
    LT catalog verify "$P1" --insecure-skip-signature
verify_status_is verify_skip_recorded_ok "$P1" ok
pycheck verify_skip_audited '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
v = [e for e in ev if e["action"] == "verify" and e["backup_id"] == sys.argv[3]]
assert v[-1]["outcome"] == "ok" and v[-1]["details"]["signature"] == "skipped", v
' "$LIFEBOAT" "$T/cat/catalog.db" "$P1"
check_exit verify_usage_has_flag 0 "insecure-skip-signature" \
    sh -c "'$LIFEBOAT' catalog verify --help 1>&2"

# --- rebuild --------------------------------------------------------------------------
# A fresh catalog from the bucket with trusted signers: only the two good
# backups are recorded, the three others reported with their reason.
conf "$T/t2.conf" "file://$T/repo" "$T/cat2/catalog.db" "trusted-signers = $T/trusted"
L2() { LIFEBOAT_CATALOG=$T/cat2/catalog.db "$LIFEBOAT" --config "$T/t2.conf" "$@"; }
CHECK_EXIT_ALL=1 check_exit rebuild_refuses_three 3 "5 manifest\(s\) in .* 2 recorded, 3 malformed" \
    L2 catalog rebuild
check rebuild_says_untrusted grep -q "3 of the malformed: not trusted" "$T/ce.out"
check rebuild_reason_unsigned grep -q "$PM1: manifest $PM1 is not signed.*(not recorded)" "$T/ce.out"
check rebuild_reason_other_key grep -q "$PM2: manifest $PM2 is signed by a key that is not trusted.*(not recorded)" "$T/ce.out"
check rebuild_reason_altered grep -q "$M3: manifest $M3 was altered after it was signed.*(not recorded)" "$T/ce.out"
check rebuild_no_warning sh -c "! grep -q '$WARN' '$T/ce.out'"
L2 catalog list --json >"$T/list2.json"
check rebuild_recorded_only_good test "$(ids "$T/list2.json")" = "$B1 $B2"
pycheck rebuild_audited '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
r = [e for e in ev if e["action"] == "rebuild"]    # the last is its own
assert r[-1]["outcome"] == "partial", r
d = r[-1]["details"]
assert d["untrusted"] == 3 and d["malformed"] == 3 and d["signature"] == "ok", d
' "$LIFEBOAT" "$T/cat2/catalog.db"
# On the catalog that recorded the plants before trusted signers were
# configured, a rebuild marks their rows failed.
LT catalog rebuild >/dev/null 2>&1
verify_status_is rebuild_marks_old_row_failed "$P1" failed
# --insecure-skip-signature: everything recorded, said loudly.
conf "$T/t3.conf" "file://$T/repo" "$T/cat3/catalog.db" "trusted-signers = $T/trusted"
L3() { LIFEBOAT_CATALOG=$T/cat3/catalog.db "$LIFEBOAT" --config "$T/t3.conf" "$@"; }
CHECK_EXIT_ALL=1 check_exit rebuild_skip_records_all 0 "INSECURE: 3 manifest\(s\) recorded" \
    L3 catalog rebuild --insecure-skip-signature
check rebuild_skip_logs_each test "$(grep -c 'INSECURE: manifest' "$T/ce.out")" -eq 3
L3 catalog list --json >"$T/list3.json"
check rebuild_skip_recorded_five test "$(ids "$T/list3.json" | wc -w)" -eq 5
pycheck rebuild_skip_audited '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
r = [e for e in ev if e["action"] == "rebuild"]    # the last is its own
assert r[-1]["details"]["signature"] == "skipped", r
' "$LIFEBOAT" "$T/cat3/catalog.db"

# --- export and import ------------------------------------------------------------------
# Bundles from the catalog that has every backup (export checks nothing);
# the signature travels second, right after the manifest.
for b in "$B1" "$P1" "$P2" "$B3"; do
	L3 catalog export "$b" -o "$T/$b.tar" >/dev/null 2>&1 || fail export_bundles "$b failed"
done
pycheck export_carries_signature '
import tarfile
n = tarfile.open(sys.argv[1]).getnames()
assert n[:2] == [sys.argv[2], sys.argv[2] + ".sig"] and len(n) == 3, n
assert tarfile.open(sys.argv[3]).extractfile(n[1]).read() == open(sys.argv[4], "rb").read()
n = tarfile.open(sys.argv[5]).getnames()
assert not any(x.endswith(".sig") for x in n), n
' "$T/$B1.tar" "$M1" "$T/$B1.tar" "$T/repo/$M1.sig" "$T/$P1.tar"

conf "$T/t4.conf" "file://$T/repo4" "$T/cat4/catalog.db" "trusted-signers = $T/trusted"
L4() { LIFEBOAT_CATALOG=$T/cat4/catalog.db "$LIFEBOAT" --config "$T/t4.conf" "$@"; }
check_exit import_refuses_unsigned 1 "bundle $T/$P1.tar: not imported: manifest $PM1 is not signed" \
    L4 catalog import "$T/$P1.tar"
check_exit import_refuses_other_key 1 "not imported: manifest $PM2 is signed by a key that is not trusted" \
    L4 catalog import "$T/$P2.tar"
check_exit import_refuses_altered 1 "not imported: manifest $M3 was altered after it was signed" \
    L4 catalog import "$T/$B3.tar"
# nothing but the refusals' own audit events
check import_refused_wrote_nothing sh -c "[ ! -e '$T/repo4' ] || [ -z \"\$(find '$T/repo4' -path '*/.audit' -prune -o -type f -print)\" ]"
check import_refused_recorded_nothing sh -c "[ \"\$(LIFEBOAT_CATALOG='$T/cat4/catalog.db' '$LIFEBOAT' catalog list --json)\" = '[]' ]"
check import_signed L4 catalog import "$T/$B1.tar"
check import_wrote_signature cmp "$T/repo/$M1.sig" "$T/repo4/$M1.sig"
check oracle_imported_verifies sh -c "ssh-keygen -Y verify -f '$T/trusted' -I lifeboat \
    -n lifeboat-manifest -s '$T/repo4/$M1.sig' <'$T/repo4/$M1'"
check verify_imported L4 catalog verify "$B1"
check_exit import_skip_passes 0 "INSECURE: manifest $PM1 is not signed" \
    L4 catalog import "$T/$P1.tar" --insecure-skip-signature
pycheck import_audited '
ev = json.loads(os.popen(sys.argv[1] + " catalog audit --json --catalog " + sys.argv[2]).read())
v = [(e["outcome"], e["backup_id"], e["details"]["signature"]) for e in ev if e["action"] == "import"]
want = [("failed", sys.argv[4], "failed"), ("failed", sys.argv[5], "failed"),
        ("failed", sys.argv[6], "failed"), ("ok", sys.argv[3], "ok"), ("ok", sys.argv[4], "skipped")]
assert v == want, v
' "$LIFEBOAT" "$T/cat4/catalog.db" "$B1" "$P1" "$P2" "$B3"
# Without trusted signers, import warns.
conf "$T/n5.conf" "file://$T/repo5" "$T/cat5/catalog.db"
check_exit import_untrusted_config_warns 0 "$WARN" \
    env LIFEBOAT_CATALOG="$T/cat5/catalog.db" "$LIFEBOAT" --config "$T/n5.conf" catalog import "$T/$P2.tar"

# --- s3rver: a signed backup in a bucket ---------------------------------------------------
if s3rver_start lbsign; then
	export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
	mkdir -p "$T/cats"
	conf "$T/s.conf" "s3://$S3_BUCKET/lb" "$T/cats/catalog.db" "trusted-signers = $T/trusted"
	LS() { LIFEBOAT_CATALOG=$T/cats/catalog.db "$LIFEBOAT" --config "$T/s.conf" "$@"; }
	check s3_backup_signed LS backup --cluster prod --no-progress
	SM=$(LS catalog show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest_key"])')
	"$REPOTOOL" "s3://$S3_BUCKET/lb" getbuf "$SM" 1000000 >"$T/s_manifest.json"
	"$REPOTOOL" "s3://$S3_BUCKET/lb" getbuf "$SM.sig" 100000 >"$T/s_manifest.json.sig"
	check s3_oracle_verifies sh -c "ssh-keygen -Y verify -f '$T/trusted' -I lifeboat \
	    -n lifeboat-manifest -s '$T/s_manifest.json.sig' <'$T/s_manifest.json'"
	check s3_verify_signed LS catalog verify latest
	# The signature replaced by one of another key over the same bytes.
	cp "$T/s_manifest.json" "$T/s_other.json"
	ssh-keygen -q -Y sign -f "$T/other" -n lifeboat-manifest "$T/s_other.json" 2>/dev/null
	check s3_other_signed test -s "$T/s_other.json.sig"
	"$REPOTOOL" "s3://$S3_BUCKET/lb" putbuf "$SM.sig" <"$T/s_other.json.sig"
	check_exit s3_verify_refuses_other_key 1 "signed by a key that is not trusted" \
	    LS catalog verify latest
	check_exit s3_rebuild_refuses_other_key 3 "signed by a key that is not trusted" \
	    LS catalog rebuild
else
	fail s3rver_start "did not start"
fi
