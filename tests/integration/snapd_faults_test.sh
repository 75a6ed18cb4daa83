#!/bin/sh
# snapd_faults_test.sh: the daemon through the faults of its life, against
# a real etcd, s3rver and SQLite, on the test clock (an `@every 1m`
# schedule fires every 2 real seconds) unless said otherwise.
#
# Proves: a member down gives partial backups and health stays good, and
# the next run after it is back is full; two daemons on one cluster for
# 20 slots of schedule (an hour: tests/tools/snapd_ha_hour.sh) take exactly
# one backup per slot; S3 down for several runs fails those runs (health goes bad) and
# the daemon recovers by itself when it is back, with nothing dangling; a
# long read of the catalog does not hold backups up, and a write lock held
# past the busy timeout loses no backup from the catalog (spooled, then
# recorded); SIGKILL mid-backup and a restart leave one failed row, then
# complete backups, no duplicate and no dangling object; the wall clock
# jumping forwards runs one backup (not one per slot it skipped), jumping
# backwards recomputes the next slot; jitter delays runs within its bound.
. "$(dirname "$0")/../lib.sh"

SCALE=30
T0=$(date +%s)
export LIFEBOAT_SNAPD_TIMESCALE="$SCALE@$T0"

cport=$(free_port); pport=$(free_port)
EP=http://127.0.0.1:$cport
etcd --name m1 --data-dir "$T/m1.data" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "m1=http://127.0.0.1:$pport" >"$T/etcd.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 30 etcdctl --endpoints "$EP" endpoint health || { fail setup "etcd did not start"; exit 1; }
etcdctl --endpoints "$EP" put greeting hello >/dev/null

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)

# write_conf NAME ENDPOINT SCHEDULE [EXTRA-GLOBAL-LINE...]: $T/NAME.conf
# with its own catalog and metrics port; repo file://$T/repo-NAME unless
# an extra line sets one.
write_conf() {
	n=$1; ep=$2; sch=$3; shift 3
	free_port >"$T/$n.port"
	{
		printf '[global]\nrecipients = %s\ncatalog = %s\nmetrics-listen = 127.0.0.1:%s\n' \
		    "$RCPT" "$T/$n.db" "$(cat "$T/$n.port")"
		printf '%s\n' "$@" | grep -q '^repo' || echo "repo = file://$T/repo-$n"
		printf '%s\n' "$@"
		printf '[cluster:c1]\nendpoints = %s\nschedule = %s\n' "$ep" "$sch"
		[ -z "${JITTER:-}" ] || echo "jitter = $JITTER"
	} >"$T/$n.conf"
}
# start NAME [ENV=VALUE...]: the daemon in the background, pid in $T/NAME.pid.
start() {
	n=$1; shift
	env "$@" "$LIFEBOAT" --config "$T/$n.conf" snapd 2>>"$T/$n.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/$n.pid"
	wait_for 10 curl -sf "http://127.0.0.1:$(cat "$T/$n.port")/metrics"
}
stop() { kill "$(cat "$T/$1.pid")"; wait_for 40 sh -c "! kill -0 $(cat "$T/$1.pid") 2>/dev/null"; }
url() { echo "http://127.0.0.1:$(cat "$T/$1.port")$2"; }
metric() { curl -s "$(url "$1" /metrics)" | awk -v m="$2" '$1 == m { print $2 }'; }
count() { metric "$1" "lifeboat_backups_total{cluster=\"c1\",outcome=\"$2\"}"; }
count_at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
status_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$(url "$1" /healthz)")" = "$2" ]; }
rows() { LIFEBOAT_CATALOG=$T/$1.db "$LIFEBOAT" catalog list --json 2>/dev/null; }
with_status() { rows "$1" | python3 -c 'import json,sys; print(sum(b["status"] == sys.argv[1] for b in json.load(sys.stdin)))' "$2"; }
completes() { with_status "$1" complete; }
completes_at_least() { [ "$(completes "$1")" -ge "$2" ]; }

# consistent NAME REPO-URL: see catalog_matches_repo in lib.sh.
consistent() {
	rows "$1" >"$T/$1.rows.json"
	catalog_matches_repo "$T/$1.rows.json" "$2"
}

# --- two daemons for an hour of schedule: exactly one backup per slot -----
# HA_SLOTS slots of @every 1m (2 real seconds each): every slot from the
# first to the last has one complete backup, taken by whichever daemon
# holds the etcd lock, and none has two.  make check runs 20 slots; the
# full hour is tests/tools/snapd_ha_hour.sh (LIFEBOAT_HA_SLOTS=60).
HA_SLOTS=${LIFEBOAT_HA_SLOTS:-20}
write_conf ha1 "$EP" "@every 1m"
write_conf ha2 "$EP" "@every 1m"
start ha1 || fail ha1_start "$(tail -n 3 "$T/ha1.log")"
start ha2 || fail ha2_start "$(tail -n 3 "$T/ha2.log")"
sleep $((HA_SLOTS * 2 + 1))
stop ha1
stop ha2
grep -h 'outcome=complete' "$T/ha1.log" "$T/ha2.log" |
    sed 's/.*slot=\([0-9]*\).*/\1/' | sort -n >"$T/ha.slots"
check ha_hour_one_backup_per_slot python3 -c '
import sys
# (the catch-up run at start is not on a slot)
s = [int(x) for x in open(sys.argv[1]) if int(x) % 60 == 0]
want = int(sys.argv[2])
assert len(s) >= want - want // 12 - 1, "only %d backups in %d slots" % (len(s), want)
assert len(s) == len(set(s)), "a slot twice"
gaps = [b - a for a, b in zip(s, s[1:]) if b - a != 60]
assert not gaps, "slots missed: %s" % gaps
' "$T/ha.slots" "$HA_SLOTS"
check ha_hour_both_took_part sh -c "grep -q 'skipped: another lifeboat holds the lock' '$T/ha1.log' '$T/ha2.log'"

# --- a member down: partial backups, health still good, then full again ---
etcd_cluster three 3 || fail setup "3-member cluster"
write_conf part "$three_endpoints" "@every 1m"
start part || fail part_start "$(tail -n 3 "$T/part.log")"
check part_full_first wait_for 30 count_at_least part complete 1
etcd_stop three 3
check part_member_down_partial wait_for 30 count_at_least part partial 3
check part_last_outcome_partial test "$(metric part 'lifeboat_backup_last_outcome{cluster="c1",outcome="partial"}')" = 1
# Three partial runs took more than two intervals: health holds.
check part_health_good status_is part 200
etcd_start three 3
n=$(count part complete)
check part_full_again wait_for 30 count_at_least part complete $((n + 1))
stop part

# --- S3 down for several runs, and back -----------------------------------
if s3rver_start; then
	S3PID=$(tail -n 1 "$T/pids")
	S3PORT=${S3_ENDPOINT##*:}
	printf 'S3RVER\n' >"$T/s3.secret"; chmod 600 "$T/s3.secret"
	write_conf s3 "$EP" "@every 1m" "repo = s3://$S3_BUCKET/faults" \
	    "s3-endpoint = $S3_ENDPOINT" "s3-region = $S3_REGION" \
	    "s3-access-key-id = $S3_ACCESS_KEY" "s3-secret-access-key-file = $T/s3.secret" \
	    "connect-timeout = 1s"
	start s3 || fail s3_start "$(tail -n 3 "$T/s3.log")"
	check s3_backups_before wait_for 30 count_at_least s3 complete 2
	kill "$S3PID"; wait_for 10 sh -c "! kill -0 $S3PID 2>/dev/null"
	base=$(count s3 failed)
	check s3_down_runs_fail wait_for 60 count_at_least s3 failed $((base + 3))
	check s3_down_health_bad wait_for 20 status_is s3 503
	NODE_OPTIONS=--openssl-legacy-provider "$TOP/tests/node_modules/.bin/s3rver" \
	    --address 127.0.0.1 --port "$S3PORT" --directory "$T/s3rver" --silent \
	    --service-endpoint localhost >>"$T/s3rver.log" 2>&1 &
	echo $! >>"$T/pids"
	wait_for 20 curl -sf -o /dev/null "$S3_ENDPOINT/$S3_BUCKET"
	done_before=$(count s3 complete)
	check s3_back_runs_complete wait_for 60 count_at_least s3 complete $((done_before + 2))
	check s3_back_health_good wait_for 20 status_is s3 200
	stop s3
	check s3_catalog_matches_bucket consistent s3 "s3://$S3_BUCKET/faults"
	check s3_failed_rows_recorded test "$(with_status s3 failed)" -ge 3
else
	fail s3rver "did not start"
fi

# --- the catalog locked by a long CLI session ------------------------------
write_conf cat "$EP" "@every 1m"
start cat || fail cat_start "$(tail -n 3 "$T/cat.log")"
check cat_first_backup wait_for 30 completes_at_least cat 1
# A read transaction held for longer than the busy timeout (10 s): WAL
# lets the daemon write past it.
python3 - "$T/cat.db" >"$T/reader.out" 2>&1 <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
print(c.execute("SELECT count(*) FROM backups").fetchone()[0], flush=True)
time.sleep(14)
c.execute("COMMIT")
PY
rpid=$!
echo "$rpid" >>"$T/pids"
wait_for 5 test -s "$T/reader.out"
n0=$(completes cat)
check cat_backups_recorded_during_long_read wait_for 12 completes_at_least cat $((n0 + 3))
wait "$rpid"
# A write lock held past the busy timeout: runs keep going, what they
# would have recorded waits in the spool and lands once the lock is gone.
catalog_lock "$T/cat.db" 25
check cat_spooled_while_locked wait_for 30 grep -q "kept in $T/cat.db.pending" "$T/cat.log"
check cat_spool_has_records sh -c "ls '$T/cat.db.pending' | grep -q '^c1\..*\.json$'"
wait "$lock_pid"
check cat_spool_replayed wait_for 40 grep -q 'spooled records of cluster c1 recorded' "$T/cat.log"
check cat_spool_empty wait_for 20 sh -c "! ls '$T/cat.db.pending' | grep -q json"
stop cat
check cat_catalog_matches_repo consistent cat "file://$T/repo-cat"
LIFEBOAT_CATALOG=$T/cat.db "$LIFEBOAT" catalog audit --json >"$T/cat.audit" 2>&1
check cat_every_backup_audited python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
audit = json.load(open(sys.argv[2]))
seen = {e["backup_id"] for e in audit if e["action"] == "backup"}
missing = [r["id"] for r in rows if r["id"] not in seen]
assert not missing, "no audit event for %s" % missing
' "$T/cat.rows.json" "$T/cat.audit"

# --- SIGKILL mid-backup, then a restart ------------------------------------
# A member behind a relay passing 2 MB/s, ~12 MB of data: a run takes
# several seconds, long enough to kill the daemon during it.
slow=$(slow_member slow 2000000) || fail setup "slow member"
write_conf kill "$slow" "@every 10m"
has_temp() { find "$T/repo-kill" -name '*.lifeboat-*' 2>/dev/null | grep -q .; }
start kill || fail kill_start "$(tail -n 3 "$T/kill.log")"
if wait_for 30 has_temp; then
	kill -9 "$(cat "$T/kill.pid")"
	ok kill_mid_backup
else
	fail kill_mid_backup "no upload under way seen: $(tail -n 3 "$T/kill.log")"
fi
check kill_leaves_running_row test "$(with_status kill running)" -eq 1
start kill || fail kill_restart "$(tail -n 3 "$T/kill.log")"
check kill_restart_completes wait_for 60 completes_at_least kill 1
stop kill
check kill_settled_log grep -q 'was interrupted; marked failed' "$T/kill.log"
check kill_catalog_matches_repo consistent kill "file://$T/repo-kill"
check kill_one_failed_row test "$(with_status kill failed)" -eq 1

# --- jitter ------------------------------------------------------------------
# jitter = 50s on an @every 1m schedule: each run starts 0..50 daemon
# seconds after its slot, and not always at 0.
JITTER=50s write_conf jit "$EP" "@every 1m"
start jit || fail jit_start "$(tail -n 3 "$T/jit.log")"
: >"$T/jit.next"
for i in 1 2 3 4 5 6; do
	metric jit 'lifeboat_backup_next_run_timestamp_seconds{cluster="c1"}' >>"$T/jit.next"
	sleep 1.5
done
check jitter_within_bound python3 -c '
import sys
v = sorted({int(x) for x in open(sys.argv[1]) if x.strip()})
off = [x % 60 for x in v]
assert len(v) >= 2, v
assert all(o <= 50 for o in off), off
assert any(o != 0 for o in off), off
' "$T/jit.next"
check jitter_runs_complete wait_for 30 completes_at_least jit 2
stop jit

# --- the wall clock jumps (libfaketime, on the real clock) -----------------
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ -f "$FT" ]; then
	unset LIFEBOAT_SNAPD_TIMESCALE
	# A cron slot half an hour away from now: nothing is due unless the
	# clock moves.
	min=$(( ($(date +%-M) + 30) % 60 ))
	write_conf clk "$EP" "$min * * * *"
	echo "+0" >"$T/faketime"
	start clk LD_PRELOAD="$FT" FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
	    FAKETIME_DONT_FAKE_MONOTONIC=1 \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" ||
		fail clk_start "$(tail -n 3 "$T/clk.log")"
	# The empty catalog makes one catch-up run at start.
	check clk_catch_up_run wait_for 30 count_at_least clk complete 1
	sleep 2
	echo "+3h" >"$T/faketime"
	check clk_forward_logged wait_for 10 grep -q 'wall clock jumped forwards by 108' "$T/clk.log"
	check clk_forward_one_run wait_for 30 count_at_least clk complete 2
	sleep 4
	check clk_forward_not_one_per_slot test "$(count clk complete)" -eq 2
	check clk_forward_health_good status_is clk 200
	next=$(metric clk 'lifeboat_backup_next_run_timestamp_seconds{cluster="c1"}')
	fake=$(( $(date +%s) + 3 * 3600 ))
	check clk_forward_next_slot_ahead test "$((next - fake))" -gt 0 -a "$((next - fake))" -le 3600
	echo "+1h" >"$T/faketime"
	check clk_backward_logged wait_for 10 grep -q 'wall clock jumped backwards by 72' "$T/clk.log"
	sleep 2
	next=$(metric clk 'lifeboat_backup_next_run_timestamp_seconds{cluster="c1"}')
	fake=$(( $(date +%s) + 3600 ))
	check clk_backward_next_slot_recomputed test "$((next - fake))" -gt 0 -a "$((next - fake))" -le 3600
	check clk_backward_no_run test "$(count clk complete)" -eq 2
	stop clk
else
	echo "SKIP clock jumps: libfaketime is not installed ($FT)"
fi
