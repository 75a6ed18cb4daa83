#!/bin/sh
# pitr_capture_test.sh: the capture of point-in-time recovery (issue 15)
# in the daemon, against a real 3-member etcd and a file:// repository,
# or with PITR_REPO=s3 an S3 one (s3rver; the default in the ASan suite,
# so make check runs both kinds at no extra cost).  The checks read the
# bucket from outside lifeboat: the file system, or s3rver's directory
# and plain HTTP (s3rver checks no signature).
#
# Proves: config check refuses pitr = on without recipients; with
# pitr = on, snapd watches the cluster from the backup's
# revision + 1 and stores segments every pitr-segment-interval whose
# revisions run contiguously from there to the cluster's revision, in the
# catalog and in the bucket alike; a segment decrypts with Debian's age
# and zstd to a plaintext that starts with its header record, and the
# records hold every revision once (a txn of several keys in one record,
# a lease record before the put that names the lease, with its TTL);
# the lifeboat_pitr_* metrics are served; `catalog list --pitr` shows a
# window from the backup to the current revision; killing the member the
# watch is on moves the capture to another with no gap; SIGHUP starts the
# capture again on the new configuration, with no gap; SIGTERM stores
# the open segment; after writes while snapd was down and a backup past
# them, the chain goes on after its last segment (no revision left out);
# a compaction past the capture while snapd was down records a gap in the catalog and the audit log, an immediate backup is
# taken and a new chain starts from it.  The catalog rebuilt from the
# bucket has the same segments.
. "$(dirname "$0")/../lib.sh"

KIND=${PITR_REPO:-$([ "${LIFEBOAT_SUITE:-}" = asan ] && echo s3 || echo file)}
case $KIND in
file)
	REPO_CONF="repo = file://$T/repo"
	WAL=$T/repo/c1/wal
	OBJ="" ;;
s3)
	s3rver_start pitr || { fail setup "s3rver did not start"; exit 1; }
	printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"; chmod 600 "$T/s3.secret"
	REPO_CONF="repo = s3://$S3_BUCKET/lb
s3-endpoint = $S3_ENDPOINT
s3-region = $S3_REGION
s3-access-key-id = $S3_ACCESS_KEY
s3-secret-access-key-file = $T/s3.secret"
	# s3rver keeps object KEY as the file KEY._S3rver_object
	WAL=$T/s3rver/$S3_BUCKET/lb/c1/wal
	OBJ=._S3rver_object ;;
*)	fail setup "PITR_REPO=$KIND: file or s3"; exit 1 ;;
esac
echo "# repository: $KIND"
# wal_files SUFFIX: the files holding the event log's objects whose keys
# end in SUFFIX, in key order
wal_files() { find "$WAL" -name "*$1$OBJ" 2>/dev/null | sort; }

etcd_cluster e 3 || { fail setup "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EPS=$e_endpoints
ec() { etcdctl --endpoints "$EPS" "$@"; }
head_rev() {
	ec endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
print(max(s["Status"]["header"]["revision"] for s in json.load(sys.stdin)))'
}

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)
"$LIFEBOAT" keygen --signing -o "$T/sign.key" >"$T/sign.pub" 2>/dev/null ||
	{ fail keygen_signing "failed"; exit 1; }
echo "lifeboat $(cat "$T/sign.pub")" >"$T/trusted"
PORT=$(free_port)
CAT=$T/cat.db
cat >"$T/l.conf" <<EOF
[global]
$REPO_CONF
recipients = $RCPT
catalog = $CAT
metrics-listen = 127.0.0.1:$PORT
drill-schedule = off
signing-key = $T/sign.key
trusted-signers = $T/trusted
[cluster:c1]
endpoints = $(echo "$EPS" | sed 's/,/, /g')
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
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
captured_to() { [ "$(metric 'lifeboat_pitr_last_revision{cluster="c1"}')" -ge "$1" ]; }
q() { sqlite3 "$CAT" "$1" 2>/dev/null; }
completes() { q "SELECT count(*) FROM backups WHERE cluster = 'c1' AND status = 'complete'"; }
backup_rev() { q "SELECT max(revision) FROM backups WHERE cluster = 'c1' AND status = 'complete'"; }

# covered FROM TO: the catalog's segments hold every revision FROM..TO
covered() { segments_cover "$CAT" c1 "$1" "$2"; }

# pitr = on without recipients: config check says so (exit 2).
sed '/^recipients = /d' "$T/l.conf" >"$T/norcpt.conf"
norcpt() {
	"$LIFEBOAT" --config "$T/norcpt.conf" config check >/dev/null 2>"$T/norcpt.err"
	[ $? = 2 ] && grep -q 'pitr = on needs recipients' "$T/norcpt.err"
}
check config_check_pitr_needs_recipients norcpt

# The catch-up at start takes the first backup; the capture starts after it.
start || { fail start "snapd did not serve /metrics: $(tail -n 3 "$T/snapd.log")"; exit 1; }
check first_backup wait_for 20 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM backups WHERE status = 'complete'\" 2>/dev/null)\" -ge 1 ]"
B1=$(backup_rev)

# --- writes of every kind ------------------------------------------------
for i in 1 2 3 4 5; do ec put "/k/$i" "value $i" >/dev/null; done
ec del /k/2 >/dev/null
printf '\nput /txn/a A\nput /txn/b B\ndel /k/3\n\n\n' | ec txn >/dev/null
LEASE=$(ec lease grant 60 | awk '{ print $2 }')
ec put --lease="$LEASE" /leased held >/dev/null
ec put /k/6 "$(head -c 60000 /dev/urandom | base64 -w0)" >/dev/null
R1=$(head_rev)
check segments_cover_writes wait_for 20 covered $((B1 + 1)) "$R1"

# The bucket has an object and a manifest for each catalog row.
nobj=$(wal_files .evlog.zst.age | wc -l)
nman=$(wal_files .evlog.json | wc -l)
nrow=$(q "SELECT count(*) FROM segments")
if [ "$nobj" -ge 1 ] && [ "$nobj" = "$nman" ] && [ "$nman" = "$nrow" ]; then ok bucket_matches_catalog
else fail bucket_matches_catalog "objects $nobj, manifests $nman, catalog rows $nrow"; fi

# Each manifest is signed, and OpenSSH checks it.
sigs_ok() {
	for j in $(wal_files .evlog.json); do
		ssh-keygen -Y verify -f "$T/trusted" -I lifeboat -n lifeboat-evlog \
		    -s "${j%"$OBJ"}.sig$OBJ" <"$j" >/dev/null 2>&1 || { echo "$j"; return 1; }
	done
}
check segment_manifests_signed sigs_ok

# Break-glass: Debian's age and zstd open a segment; its plaintext starts
# with the header record (type 1).
obj=$(wal_files .evlog.zst.age | head -n 1)
first=$(age -d -i "$T/id.txt" "$obj" | zstd -d | head -c 1 | od -An -tx1 | tr -d ' ')
if [ "$first" = 01 ]; then ok segment_opens_with_age_zstd
else fail segment_opens_with_age_zstd "first byte '$first' of $obj"; fi

# Every segment's records, read by contrib/evlog-dump.py (the break-glass
# reader, apart from lifeboat's parser: it checks every CRC and the
# footer's hash): revisions once each, the txn in one record, the lease
# record before the put on it.
parse_all() {
	for f in $(wal_files .evlog.zst.age); do
		age -d -i "$T/id.txt" "$f" | zstd -dq |
		    python3 "$TOP/contrib/evlog-dump.py" || { echo "$f: evlog-dump failed"; return 1; }
		echo '{"record": "end"}'
	done | python3 -c '
import json, sys
lease_id = int(sys.argv[1], 16)
revs, leases, types, txn, lease_before = [], {}, [], False, False
for line in sys.stdin:
    r = json.loads(line)
    t = r["record"]
    if t == "end":
        if types[0] != "header" or types[-1] != "footer": sys.exit("records %s" % types)
        types = []
        continue
    types.append(t)
    if t == "lease":
        leases[r["id"]] = r.get("ttl", 0)
    if t == "revision":
        revs.append(r["revision"])
        evs = r["events"]
        if sorted(e["key"] for e in evs) == sorted(["/txn/a", "/txn/b", "/k/3"]): txn = True
        for e in evs:
            if e.get("lease") == lease_id and e["key"] == "/leased":
                lease_before = lease_id in leases
if sorted(revs) != revs or len(set(revs)) != len(revs): sys.exit("revisions out of order or repeated")
if any(b != a + 1 for a, b in zip(revs, revs[1:])):
    print("note: revisions jump (several chains)", file=sys.stderr)
if not txn: sys.exit("no record holds the txn of /txn/a, /txn/b and the delete of /k/3")
if not lease_before: sys.exit("no lease record before the put on lease %x" % lease_id)
if leases.get(lease_id) != 60: sys.exit("lease %x recorded with ttl %s" % (lease_id, leases.get(lease_id)))
' "$LEASE"
}
check segment_records parse_all

# --- metrics and windows -------------------------------------------------
lr=$(metric 'lifeboat_pitr_last_revision{cluster="c1"}')
so=$(metric 'lifeboat_pitr_segments_total{cluster="c1",result="ok"}')
lag=$(metric 'lifeboat_pitr_lag_seconds{cluster="c1"}')
lagr=$(metric 'lifeboat_pitr_lag_revisions{cluster="c1"}')
gaps=$(metric 'lifeboat_pitr_gaps_total{cluster="c1"}')
if [ "${lr:-0}" -ge "$R1" ] && [ "${so:-0}" -ge 1 ] && [ -n "$lag" ] && [ -n "$lagr" ] &&
    [ "${gaps:-x}" = 0 ]; then ok pitr_metrics
else fail pitr_metrics "last_revision=$lr (want >= $R1) segments ok=$so lag=$lag/$lagr gaps=$gaps"; fi

window_to() {
	"$LIFEBOAT" catalog list --pitr --cluster c1 --catalog "$CAT" --json | python3 -c '
import json, sys
ws = json.load(sys.stdin)
sys.exit(0 if ws and ws[-1]["to_revision"] >= int(sys.argv[1]) and
    ws[-1]["from_revision"] <= int(sys.argv[2]) else "windows: %s" % ws)' "$1" "$2"
}
check catalog_list_pitr window_to "$R1" "$B1"
check catalog_list_pitr_table sh -c "'$LIFEBOAT' catalog list --pitr --catalog '$CAT' | grep -q '^c1 '"

# --- the watch's member dies ---------------------------------------------
url=$(grep -o 'capture: watching [^ ]*' "$T/snapd.log" | tail -n 1 | awk '{ print $3 }')
m=""
for i in 1 2 3; do [ "$(cat "$T/e/m$i.url")" = "$url" ] && m=$i; done
if [ -z "$m" ]; then
	fail member_failover "the log names no member the watch is on"
else
	etcd_stop e "$m"
	for i in 1 2 3 4 5 6 7 8; do ec put "/after/$i" "v$i" >/dev/null 2>&1; done
	R2=$(head_rev)
	if wait_for 30 covered $((B1 + 1)) "$R2" && [ "$(q 'SELECT count(*) FROM pitr_gaps')" = 0 ]; then
		ok member_failover
	else
		fail member_failover "segments do not cover $((B1 + 1))..$R2 or a gap: $(tail -n 5 "$T/snapd.log")"
	fi
	etcd_start e "$m"
	wait_for 30 etcdctl --endpoints "$(cat "$T/e/m$m.url")" endpoint health
fi

# --- SIGHUP: the capture starts again on the new configuration ----------
starts=$(grep -c 'capture thread starts' "$T/snapd.log")
sed -i 's/^pitr-segment-interval = 2s/pitr-segment-interval = 1s/' "$T/l.conf"
kill -HUP "$(cat "$T/snapd.pid")"
wait_for 10 sh -c "[ \$(grep -c 'capture thread starts' '$T/snapd.log') -gt $starts ]"
for i in 1 2 3; do ec put "/reloaded/$i" "v$i" >/dev/null; done
R5=$(head_rev)
if wait_for 20 covered $((B1 + 1)) "$R5" && [ "$(q 'SELECT count(*) FROM pitr_gaps')" = 0 ]; then
	ok reload_restarts_capture
else
	fail reload_restarts_capture "segments do not cover $((B1 + 1))..$R5: $(tail -n 3 "$T/snapd.log")"
fi

# --- SIGTERM stores the open segment ------------------------------------
ec put /last-before-stop x >/dev/null
R3=$(head_rev)
# captured (the metric moves at each of the capture's ticks), then stopped
# at once: the segment holding R3 is still open
wait_for 10 captured_to "$R3"
stop
check stop_stores_open_segment covered $((B1 + 1)) "$R3"

# --- a backup newer than the last segment ---------------------------------
# Writes while snapd is down, then a backup past them (the CLI's; a
# holder that died with its open segment leaves the same): the chain goes
# on after its last segment, while etcd has the revisions, rather than
# from that backup, which holds its own revision only.
for i in 1 2 3; do ec put "/unseen/$i" "v$i" >/dev/null; done
"$LIFEBOAT" --config "$T/l.conf" backup >"$T/cli-backup.out" 2>&1 ||
	fail cli_backup "$(tail -n 2 "$T/cli-backup.out")"
ec put /after-cli-backup z >/dev/null
R6=$(head_rev)
start || fail restart "snapd did not start again"
if wait_for 20 covered $((B1 + 1)) "$R6" && [ "$(q 'SELECT count(*) FROM pitr_gaps')" = 0 ]; then
	ok chain_goes_on_past_newer_backup
else
	fail chain_goes_on_past_newer_backup "segments do not cover $((B1 + 1))..$R6 or a gap: $(grep 'capture: ' "$T/snapd.log" | tail -n 2 | cut -c 1-300)"
fi
stop

# --- a compaction past the capture while it was down ---------------------
BACKUPS=$(completes)
for i in 1 2 3 4 5; do ec put "/down/$i" "v$i" >/dev/null; done
ec compact "$(head_rev)" >/dev/null
start || fail restart "snapd did not start again"
check gap_recorded wait_for 20 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM pitr_gaps WHERE cluster = 'c1' AND after_rev >= $R3\" 2>/dev/null)\" -ge 1 ]"
check gap_audited sh -c "'$LIFEBOAT' catalog audit --catalog '$CAT' --json | grep -q '\"pitr\"'"
check immediate_backup wait_for 20 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM backups WHERE cluster = 'c1' AND status = 'complete'\")\" -gt $BACKUPS ]"
B2=$(backup_rev)
ec put /after-gap y >/dev/null
R4=$(head_rev)
check new_chain_after_gap wait_for 20 covered $((B2 + 1)) "$R4"
check gap_resume_recorded sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT resume_rev FROM pitr_gaps ORDER BY rowid DESC LIMIT 1\")\" = $((B2 + 1)) ]"
gaps=$(metric 'lifeboat_pitr_gaps_total{cluster="c1"}')
if [ "${gaps:-0}" -ge 1 ]; then ok gap_metric; else fail gap_metric "gaps_total=$gaps"; fi
stop

# --- the bucket alone ----------------------------------------------------
rebuilt() {
	LIFEBOAT_CATALOG=$T/rebuilt.db "$LIFEBOAT" --config "$T/l.conf" catalog rebuild >"$T/rebuild.out" 2>&1 || return 1
	[ "$(sqlite3 "$T/rebuilt.db" 'SELECT first_rev, last_rev, stored_sha256 FROM segments ORDER BY object')" = \
	  "$(q 'SELECT first_rev, last_rev, stored_sha256 FROM segments ORDER BY object')" ]
}
check rebuild_records_segments rebuilt
# A manifest altered in the bucket no longer matches its signature: a
# rebuild leaves that segment out.
j=$(wal_files .evlog.json | head -n 1)
sed 's/"hostname": *"[^"]*"/"hostname": "planted"/' "$j" >"$T/planted.json"
if [ "$KIND" = file ]; then
	cp "$T/planted.json" "$j"
else
	key=${j#"$T/s3rver/$S3_BUCKET/"}
	curl -sf -o /dev/null -X PUT --data-binary @"$T/planted.json" \
	    "$S3_ENDPOINT/$S3_BUCKET/${key%"$OBJ"}" || fail plant "s3rver refused the put of $key"
fi
altered() {
	LIFEBOAT_CATALOG=$T/rebuilt2.db "$LIFEBOAT" --config "$T/l.conf" catalog rebuild >"$T/rebuild2.out" 2>&1
	[ "$(sqlite3 "$T/rebuilt2.db" 'SELECT count(*) FROM segments')" = "$(($(q 'SELECT count(*) FROM segments') - 1))" ] &&
	    grep -q "1 not recorded" "$T/rebuild2.out"
}
check rebuild_refuses_altered_segment altered
