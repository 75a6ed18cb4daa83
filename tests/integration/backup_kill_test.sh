#!/bin/sh
# A backup killed with SIGKILL mid-upload leaves a "running" catalog row and
# half-written data; the next backup of the same cluster settles both: the
# row becomes failed, the temp file or multipart upload is removed, and no
# listing shows anything broken.  A slow relay in front of a real member
# keeps the transfer under way long enough to kill it.
. "$(dirname "$0")/../lib.sh"

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
conf() {   # conf FILE REPO ENDPOINT [extra global lines]
	f=$1; repo=$2; ep=$3; shift 3
	{
		printf '[global]\nrepo = %s\nrecipients = %s\ncatalog = %s\n' \
		    "$repo" "$(cat "$T/rcpt")" "$T/catalog-${f##*/}.db"
		for l in "$@"; do echo "$l"; done
		printf '[cluster:k]\nendpoints = %s\n' "$ep"
	} >"$f"
}

# kill_mid_backup CONF WHAT CMD...: starts a backup, waits until CMD
# succeeds (the upload has begun), then kills it with SIGKILL.
kill_mid_backup() {
	cf=$1; what=$2; shift 2
	"$LIFEBOAT" --config "$cf" backup --quiet >"$T/killed.out" 2>&1 &
	bpid=$!
	echo "$bpid" >>"$T/pids"
	if wait_for 30 "$@"; then
		kill -9 "$bpid"
		wait "$bpid" 2>/dev/null
		ok "killed_mid_upload_$what"
	else
		fail "killed_mid_upload_$what" "no upload in progress seen"
	fi
}

running_rows() {
	LIFEBOAT_CATALOG=$1 "$LIFEBOAT" catalog list --status running --json |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

ep=$(slow_member slow 3000000) || { fail setup "slow member"; exit 1; }

# --- file:// repository: a temp file beside the object ------------------
conf "$T/file.conf" "file://$T/repo" "$ep"
has_temp() { find "$T/repo" -name '*.lifeboat-*' | grep -q .; }
kill_mid_backup "$T/file.conf" file has_temp
check file_dangling_running_row test "$(running_rows "$T/catalog-file.conf.db")" = 1
check file_next_backup_completes "$LIFEBOAT" --config "$T/file.conf" backup --quiet
check file_no_temp_left sh -c "! find '$T/repo' -name '*.lifeboat-*' | grep -q ."
check file_no_running_row test "$(running_rows "$T/catalog-file.conf.db")" = 0
LIFEBOAT_CATALOG=$T/catalog-file.conf.db "$LIFEBOAT" catalog list --json >"$T/file.json"
check file_killed_marked_failed python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert [x["status"] for x in b] == ["failed", "complete"], b
' "$T/file.json"
check file_only_complete_has_manifest test "$(find "$T/repo" -name manifest.json | wc -l)" -eq 1

# --- strict S3: an open multipart upload ----------------------------------
if strict_s3_start; then
	printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"; chmod 600 "$T/s3.secret"
	conf "$T/s3.conf" "s3://$S3_BUCKET/kill" "$ep" "s3-endpoint = $S3_ENDPOINT" \
	    "s3-region = $S3_REGION" "s3-access-key-id = $S3_ACCESS_KEY" \
	    "s3-secret-access-key-file = $T/s3.secret"
	RT=$(dirname "$LIFEBOAT")/tools/repotool
	uploads() { "$RT" "s3://$S3_BUCKET" uploads kill/ 2>/dev/null | grep -c .; }
	has_upload() { [ "$(uploads)" -gt 0 ]; }
	kill_mid_backup "$T/s3.conf" s3 has_upload
	check s3_next_backup_completes "$LIFEBOAT" --config "$T/s3.conf" backup --quiet
	# Whether the orphan upload is gone cannot be asserted here: Swift
	# updates its upload listing asynchronously, so a fresh upload may be
	# missing from it or linger after its abort.  repo_test.sh proves the
	# abort of an orphan upload on this server with an older upload.
	check s3_no_running_row test "$(running_rows "$T/catalog-s3.conf.db")" = 0
	LIFEBOAT_CATALOG=$T/catalog-s3.conf.db "$LIFEBOAT" catalog list --json >"$T/s3.json"
	check s3_killed_marked_failed python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert [x["status"] for x in b] == ["failed", "complete"], b
' "$T/s3.json"
else
	echo "SKIP strict_s3: $strict_s3_why"
fi

# --- settling deletes only with proof that the run never finished ----------
# A complete backup whose row is set back to running looks like a run that
# died after its manifest.  Unless the manifest is certainly absent and no
# spooled record names the id, settling must leave every byte of it alone.
conf "$T/proof.conf" "file://$T/repo-proof" "$ep"
PC=$T/catalog-proof.conf.db
"$LIFEBOAT" --config "$T/proof.conf" backup --quiet >"$T/proof.out" 2>&1
pid_=$(LIFEBOAT_CATALOG=$PC "$LIFEBOAT" catalog list --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
bdir=$(dirname "$(find "$T/repo-proof" -path "*/$pid_/manifest.json")")
files() { find "$bdir" -type f 2>/dev/null | sort | xargs -r sha256sum; }
files >"$T/proof.before"
check proof_backup_has_objects test "$(wc -l <"$T/proof.before")" -ge 2
unfinish() { sqlite3 "$PC" "UPDATE backups SET status='running' WHERE id='$pid_'"; }
status_of() {
	sqlite3 "$PC" "SELECT status FROM backups WHERE id='$pid_'"
}

# The catalog write-locked by another session: the manifest can be read but
# not recorded (it used to be deleted with its objects).
unfinish
catalog_lock "$PC" 45
"$LIFEBOAT" --config "$T/proof.conf" backup --quiet >"$T/proof-locked.out" 2>&1
kill "$lock_pid" 2>/dev/null; wait "$lock_pid" 2>/dev/null
files >"$T/proof.after"
check proof_locked_catalog_keeps_complete_backup cmp "$T/proof.before" "$T/proof.after"
check proof_locked_catalog_says_why grep -q "cannot be recorded now" "$T/proof-locked.out"
check proof_locked_then_recorded_complete sh -c '
	"$1" --config "$2" backup --quiet >/dev/null 2>&1
	test "$(sqlite3 "$3" "SELECT status FROM backups WHERE id='\''$4'\''")" = complete
' sh "$LIFEBOAT" "$T/proof.conf" "$PC" "$pid_"
# settling it audited: its first run's event, and the settlement's
check proof_settled_audited test "$(sqlite3 "$PC" "SELECT count(*) FROM audit
    WHERE backup_id='$pid_' AND action='backup' AND outcome='complete'")" -eq 2

# A manifest that cannot be read (over the 4 MiB a manifest may have):
# no proof either way, nothing goes, the row stays running.
unfinish
cp "$bdir/manifest.json" "$T/manifest.keep"
head -c 5000000 /dev/zero >"$bdir/manifest.json"
files >"$T/proof.before2"
"$LIFEBOAT" --config "$T/proof.conf" backup --quiet >"$T/proof-big.out" 2>&1
files >"$T/proof.after2"
check proof_unreadable_manifest_keeps_backup cmp "$T/proof.before2" "$T/proof.after2"
check proof_unreadable_manifest_row_running test "$(status_of)" = running
cp "$T/manifest.keep" "$bdir/manifest.json"

# The manifest absent, but a spooled record names the id (its end waits for
# the catalog): nothing goes either.
mv "$bdir/manifest.json" "$T/manifest.keep"
mkdir -p "$PC.pending"
printf '{"cluster":"k","backup_id":"%s","started_at":0,"status":"failed"}' "$pid_" \
    >"$PC.pending/k.$pid_.json.bad"
files >"$T/proof.before3"
"$LIFEBOAT" --config "$T/proof.conf" backup --quiet >"$T/proof-spool.out" 2>&1
files >"$T/proof.after3"
check proof_spooled_record_keeps_backup cmp "$T/proof.before3" "$T/proof.after3"
check proof_spooled_record_row_running test "$(status_of)" = running
# With the proof complete (no manifest, no spooled record), it goes.
rm -f "$PC.pending/k.$pid_.json.bad"
"$LIFEBOAT" --config "$T/proof.conf" backup --quiet >"$T/proof-gone.out" 2>&1
check proof_certain_garbage_removed test ! -e "$bdir"
check proof_certain_garbage_marked_failed test "$(status_of)" = failed

# --- a failed run removes what it stored only when no manifest names it -----
# s3rver behind the fault relay.  A manifest PUT whose answer is lost (the
# server stored it) used to fail the run and delete its member objects,
# leaving a manifest that names nothing.
if s3rver_start && s3fault_start "$T/faults.json"; then
	conf "$T/f.conf" "s3://$S3_BUCKET/f" "$ep" "s3-endpoint = $S3_FAULT_ENDPOINT" \
	    "s3-region = $S3_REGION" "s3-access-key-id = $S3_ACCESS_KEY" \
	    "s3-secret-access-key-file = $T/s3r.secret" "identity-file = $T/id.txt"
	printf '%s\n' "$S3_SECRET_KEY" >"$T/s3r.secret"; chmod 600 "$T/s3r.secret"
	FC=$T/catalog-f.conf.db
	LF() { LIFEBOAT_CATALOG=$FC "$LIFEBOAT" --config "$T/f.conf" "$@"; }
	last_status() {
		sqlite3 "$FC" "SELECT status FROM backups ORDER BY id DESC LIMIT 1"
	}
	manifests() { find "$T/s3rver/$S3_BUCKET" -name 'manifest.json*' | grep -c .; }
	# objects in the bucket, but for the audit trail (a failed run adds to it)
	stored() { find "$T/s3rver/$S3_BUCKET" -path '*/.audit' -prune -o -type f -print | grep -c .; }

	echo '{"plost": 1, "match": "manifest.json", "method": "PUT"}' >"$T/faults.json"
	LF backup --quiet >"$T/lost.out" 2>&1
	check lost_answer_fault_injected grep -q "FAULT lost PUT .*manifest.json" "$T/s3fault.log"
	check lost_answer_backup_complete test "$(last_status)" = complete
	: >"$T/faults.json"
	check lost_answer_backup_verifies LF catalog verify latest

	echo '{"p503": 1, "match": "manifest.json", "method": "PUT"}' >"$T/faults.json"
	n0=$(stored)
	LF backup --quiet >"$T/m503.out" 2>&1
	check manifest_refused_run_failed test "$(last_status)" = failed
	check manifest_refused_objects_removed test "$(stored)" -eq "$n0"

	# The manifest refused and the store unable to say whether it is
	# there: in doubt nothing goes and the row stays running; the next
	# run, with the store well again, settles it.
	echo '{"p503": 1, "match": "manifest.json"}' >"$T/faults.json"
	n0=$(stored)
	LF backup --quiet >"$T/doubt.out" 2>&1
	check doubt_row_stays_running test "$(last_status)" = running
	check doubt_objects_kept test "$(stored)" -gt "$n0"
	check doubt_says_why grep -q "the next run of cluster k settles it" "$T/doubt.out"
	: >"$T/faults.json"
	LF backup --quiet >"$T/settled.out" 2>&1
	check doubt_settled_next_run test "$(sqlite3 "$FC" \
	    "SELECT count(*) FROM backups WHERE status='running'")" -eq 0
	check doubt_leftovers_removed test \
	    "$(find "$T/s3rver/$S3_BUCKET" -name '*.db.zst.age*' | grep -c .)" -eq \
	    "$(( $(manifests) * 1 ))"
else
	echo "SKIP s3fault: s3rver or the fault relay did not start"
fi
