#!/bin/sh
# invariants_test.sh: the daemon taking RUNS backups (default 40, 20 under
# ASan; 200 and more in tests/tools/invariants_soak.sh) of a real 3-member
# etcd into s3rver behind the fault relay (tests/s3fault.py), on the test
# clock (a run a second), while a seeded random schedule of faults hits
# it: SIGKILL of the daemon at any point and a restart, the catalog
# write-locked by another session for 1..15 s, bursts of S3 503s, resets
# and lost answers, a member down now and then.  Then, with the faults
# over and one clean stretch of runs to settle, the invariants:
#   - every backup the catalog calls complete or partial verifies end to end;
#   - the manifests in the bucket are exactly those backups (every manifest
#     has a row, none without), no object outside a backup with a manifest,
#     no temp file, no id twice, no row left running;
#   - every backup row has an audit event of its outcome.
# The counts (runs, outcomes, faults) are printed as "# " lines.
. "$(dirname "$0")/../lib.sh"

# Under ASan half as many: the same paths, in a suite twice as long.
RUNS=${RUNS:-$([ "${LIFEBOAT_SUITE:-}" = asan ] && echo 20 || echo 40)}
SEED=${SEED:-$(date +%s)}
echo "# seed $SEED (SEED=$SEED RUNS=$RUNS reproduces the fault schedule)"
export LIFEBOAT_SNAPD_TIMESCALE="60@$(date +%s)"

etcd_cluster inv 3 || { fail setup "etcd did not start"; exit 1; }
i=0
while [ $i -lt 50 ]; do
	etcdctl --endpoints "$inv_endpoints" put "/registry/pods/k$i" "v$i" >/dev/null
	i=$((i + 1))
done
s3rver_start || { fail setup "s3rver did not start"; exit 1; }
: >"$T/faults.json"
s3fault_start "$T/faults.json" || { fail setup "fault relay did not start"; exit 1; }
printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"; chmod 600 "$T/s3.secret"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
port=$(free_port)
cat >"$T/inv.conf" <<CONF
[global]
repo = s3://$S3_BUCKET/inv
s3-endpoint = $S3_FAULT_ENDPOINT
s3-region = $S3_REGION
s3-access-key-id = $S3_ACCESS_KEY
s3-secret-access-key-file = $T/s3.secret
connect-timeout = 2s
recipients = $(cat "$T/rcpt")
identity-file = $T/id.txt
drill-schedule = off
catalog = $T/inv.db
metrics-listen = 127.0.0.1:$port
[cluster:c1]
endpoints = $inv_endpoints
schedule = @every 1m
retention = keep-last=12
CONF

start() {
	"$LIFEBOAT" --config "$T/inv.conf" snapd 2>>"$T/inv.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/inv.pid"
}
runs() { grep -c 'outcome=' "$T/inv.log"; }

# The fault schedule: python's seeded generator, so a seed replays it.
python3 - "$SEED" 100000 >"$T/schedule" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
# Every kind of fault early on, in a random order, then at random.
first = [0.05, 0.1, 0.3, 0.5]
r.shuffle(first)
for i in range(int(sys.argv[2])):
    x = first[i] if i < len(first) else r.random()
    pause = r.choice((0.5, 1, 2, 3))
    # A killed daemon's successor waits out its lease (15 s): kills are rarer.
    if x < 0.07:
        print("kill", pause, 0)
    elif x < 0.20:
        print("lock", pause, r.randint(1, 15))
    elif x < 0.45:
        print("s3", pause, r.randint(2, 6), r.choice((0.3, 0.6, 1.0)), r.randint(0, 1 << 30))
    elif x < 0.55:
        print("member", pause, r.randint(2, 3), r.randint(2, 8))
    else:
        print("calm", pause, 0)
PY

start
kills=0; locks=0; bursts=0; downs=0
began=$(date +%s)
while read -r what pause a b c; do
	[ "$(runs)" -lt "$RUNS" ] || break
	if [ $(( $(date +%s) - began )) -gt $(( RUNS * 6 + 120 )) ]; then
		fail invariants_runs "only $(runs) runs in $(( $(date +%s) - began )) s"
		break
	fi
	case $what in
	kill)
		kill -9 "$(cat "$T/inv.pid")" 2>/dev/null
		wait "$(cat "$T/inv.pid")" 2>/dev/null
		start
		kills=$((kills + 1)) ;;
	lock)
		catalog_lock "$T/inv.db" "$a"
		echo "$lock_pid" >>"$T/lockpids"
		locks=$((locks + 1)) ;;
	s3)
		printf '{"p503": %s, "preset": %s, "plost": %s, "seed": %s}\n' \
		    "$(echo "$b" | awk '{ print $1 * 0.5 }')" \
		    "$(echo "$b" | awk '{ print $1 * 0.3 }')" \
		    "$(echo "$b" | awk '{ print $1 * 0.2 }')" "$c" >"$T/faults.json"
		sleep "$a"
		: >"$T/faults.json"
		bursts=$((bursts + 1)) ;;
	member)
		etcd_stop inv "$a"
		sleep "$b"
		etcd_start inv "$a"
		downs=$((downs + 1)) ;;
	esac
	sleep "$pause"
done <"$T/schedule"

# The faults are over: every member up, no lock, a clean stretch in which
# the daemon replays what it spooled and settles what was interrupted.
: >"$T/faults.json"
for m in 1 2 3; do
	kill -0 "$(cat "$T/inv/m$m.pid")" 2>/dev/null || etcd_start inv "$m"
done
wait_for 30 etcdctl --endpoints "$inv_endpoints" endpoint health >/dev/null 2>&1
[ -f "$T/lockpids" ] && while read -r p; do wait "$p" 2>/dev/null; done <"$T/lockpids"
n=$(runs)
settled() {
	[ "$(runs)" -ge $((n + 3)) ] && ! ls "$T/inv.db.pending" 2>/dev/null | grep -q 'json$'
}
# (a daemon killed last leaves its lock lease for 15 s)
check invariants_clean_runs wait_for 90 settled
kill "$(cat "$T/inv.pid")"
wait_for 30 sh -c "! kill -0 $(cat "$T/inv.pid") 2>/dev/null"

LC() { LIFEBOAT_CATALOG=$T/inv.db "$LIFEBOAT" --config "$T/inv.conf" "$@"; }
echo "# $(runs) runs: $(grep -c 'outcome=complete' "$T/inv.log") complete," \
    "$(grep -c 'outcome=partial' "$T/inv.log") partial," \
    "$(grep -c 'outcome=failed' "$T/inv.log") failed;" \
    "$kills SIGKILLs, $locks catalog locks, $bursts S3 bursts" \
    "($(grep -c FAULT "$T/s3fault.log") faults), $downs members down;" \
    "$(grep -c 'was interrupted; marked failed' "$T/inv.log") settled as failed," \
    "$(grep -c 'nothing removed' "$T/inv.log") settlings deferred for lack of proof"
check invariants_no_sanitizer_report sh -c "! grep -q 'Sanitizer\|runtime error' '$T/inv.log'"
LC catalog list --json >"$T/rows.json"
check invariants_catalog_matches_bucket catalog_matches_repo "$T/rows.json" "s3://$S3_BUCKET/inv"
check invariants_every_backup_verifies LC catalog verify --all
LC catalog audit --json >"$T/audit.json"
check invariants_every_outcome_audited python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
audit = json.load(open(sys.argv[2]))
seen = {(e["backup_id"], e["outcome"]) for e in audit if e["action"] == "backup"}
missing = [(r["id"], r["status"]) for r in rows if (r["id"], r["status"]) not in seen]
assert not missing, "no audit event for %s" % missing
print("# %d rows, %d backup events, %d prune events" % (len(rows),
    sum(e["action"] == "backup" for e in audit), sum(e["action"] == "prune" for e in audit)))
' "$T/rows.json" "$T/audit.json"
