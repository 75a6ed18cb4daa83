#!/bin/sh
# pitr_bench.sh: point-in-time recovery against etcd's own write rate.
# One etcd member (tests/lib.sh's version, default 3.6), one file://
# repository, the daemon with pitr = on, writes from bench/k8s_churn.py
# (a Kubernetes control plane's pattern through etcd's JSON gateway).
#
#   rate:    WRITERS churn writers as fast as etcd takes them for SECONDS,
#            first without the capture, then with it (alternating, ROUNDS
#            times): revisions per second each way; the capture's largest
#            lag in revisions during the run, how long after the writers
#            stop it has everything, and the daemon's CPU per 1000
#            revisions (utime + stime of the process, /proc);
#   rpo:     PROBES single writes at random moments under a paced
#            workload: seconds from the write returning to the segment
#            holding it being in the repository and the catalog (the
#            segment interval is INTERVAL; target <= INTERVAL + 5 s);
#   replay:  `lifeboat restore seed --to-revision` of the last captured
#            revision from the backup taken before the rate runs: the
#            replay's revisions per second (its own replay_seconds)
#            against the write rate etcd took from the writers, and the
#            restore's peak RSS;
#   max:     etcd's own load generator, `etcdctl check perf --load=MAX_LOAD`
#            (xl by default; off skips it), once without the capture and
#            once with it: the writes per second etcd sustained each way
#            (the highest rate this machine's etcd takes, measured by
#            etcd's tool rather than by our Python writers), the
#            capture's largest lag and catch-up, the daemon's CPU;
#   day:     a member filled to DAY_BASE_MIB with objects that do not
#            change (bench/load.py), then DAY_HOURS simulated hours of the
#            workload (DAY_NODES nodes) at DAY_SPEED x, pitr = on with a full backup every 6 h
#            (the daemon's test clock) against a full backup every 10
#            simulated minutes into a second repository: bytes stored per
#            simulated day each way (target: pitr <= 10% of the other).
#            The segment interval is 1 real second = 30 simulated seconds
#            at the default 30x, so a day holds a real day's segments.
#
#   sh bench/pitr_bench.sh         (variables below; ~8 min with a 3 h day)
#
# Loopback only; stops what it started (by pid).
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
WRITERS=${BENCH_PITR_WRITERS:-4}
SECONDS_=${BENCH_PITR_SECONDS:-15}
ROUNDS=${BENCH_PITR_ROUNDS:-3}
PROBES=${BENCH_PITR_PROBES:-5}
INTERVAL=${BENCH_PITR_INTERVAL:-10}
DAY_HOURS=${BENCH_PITR_DAY_HOURS:-3}
DAY_NODES=${BENCH_PITR_DAY_NODES:-20}
DAY_SPEED=${BENCH_PITR_DAY_SPEED:-30}
DAY_BASE_MIB=${BENCH_PITR_DAY_BASE_MIB:-250}
MAX_LOAD=${BENCH_PITR_MAX_LOAD:-xl}
CHURN=$TOP/bench/k8s_churn.py

echo "etcd $TEST_ETCD_VERSION ($TEST_ETCD_DIR); machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
etcd_cluster d 1 || exit 1
EP=$(cat "$T/d/m1.url")
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
MPORT=$(free_port)

# conf FILE CLUSTER ENDPOINTS REPO-DIR EXTRA: a configuration
conf() {
	cat >"$1" <<EOF
[global]
repo = file://$4
recipients = $(cat "$T/rcpt")
catalog = $4.db
identity-file = $T/id.txt
metrics-listen = 127.0.0.1:$MPORT
drill-schedule = off
[cluster:$2]
endpoints = $3
$5
EOF
}
conf "$T/lb.conf" d "$d_endpoints" "$T/repo" "pitr = on
pitr-segment-interval = ${INTERVAL}s
schedule = @every 24h"
"$LIFEBOAT" --config "$T/lb.conf" backup --quiet --no-progress || exit 1

metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
head_rev() {
	etcdctl --endpoints "$EP" endpoint status -w json |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now() { python3 -c 'import time; print("%.3f" % time.time())'; }

SNAPD=
start_snapd() {   # start_snapd CONF [ENV...]
	c=$1; shift
	env "$@" "$LIFEBOAT" --config "$c" snapd 2>>"$T/snapd.log" &
	SNAPD=$!
	echo "$SNAPD" >>"$T/pids"
	wait_for 30 sh -c "[ \"\$(curl -s http://127.0.0.1:$MPORT/metrics | awk '\$1 ~ /^lifeboat_pitr_capturing/ { print \$2 }')\" = 1 ]" ||
	    { echo "bench: the capture did not start: $(tail -n 3 "$T/snapd.log")" >&2; exit 1; }
}
captured() { [ "$(metric 'lifeboat_pitr_last_revision{cluster="d"}')" -ge "$1" ] 2>/dev/null; }
caught_up() { wait_for 120 captured "$1" || echo "bench: the capture did not reach $1 in 120 s" >&2; }
stop_snapd() { kill -TERM "$SNAPD"; wait "$SNAPD" 2>/dev/null; SNAPD=; }

# watched_begin, then watched_end LAST around a measured run of the
# daemon: waits for the capture to reach LAST, then sets W_CATCH (seconds
# that took), W_LAG (the largest lag in revisions sampled meanwhile) and
# W_CPU (the daemon's CPU-seconds per 1000 revisions, utime + stime)
watched_begin() {
	W_C0=$(cpu_ticks "$SNAPD")
	W_R0=$(head_rev)
	( while :; do metric 'lifeboat_pitr_lag_revisions{cluster="d"}'; sleep 0.5; done ) >"$T/lag" &
	W_SAMPLER=$!
}
watched_end() {
	ts=$(now)
	caught_up "$1"
	W_CATCH=$(echo "$ts $(now)" | awk '{ printf "%.1f", $2 - $1 }')
	kill "$W_SAMPLER"
	W_LAG=$(sort -n "$T/lag" | tail -n 1)
	W_LAG=${W_LAG:-0}
	W_CPU=$(echo "$W_C0 $(cpu_ticks "$SNAPD") $W_R0 $1 $(getconf CLK_TCK)" |
	    awk '{ printf "%.3f", ($2 - $1) / $5 / (($4 - $3) / 1000) }')
}

# churn_max: WRITERS writers for SECONDS_; prints revisions per second
churn_max() {
	r0=$(head_rev); t0=$(now)
	w=0
	while [ "$w" -lt "$WRITERS" ]; do
		python3 "$CHURN" "$EP" --max --real-seconds "$SECONDS_" --seconds 1e9 \
		    --nodes 10 --first-node $((w * 10)) --seed "$w" --no-compact >/dev/null &
		w=$((w + 1))
	done
	wait
	r1=$(head_rev); t1=$(now)
	echo "$r0 $r1 $t0 $t1" | awk '{ printf "%.0f\n", ($2 - $1) / ($4 - $3) }'
}

echo "== rate: $WRITERS writers, ${SECONDS_} s each way, $ROUNDS rounds"
: >"$T/rate"
round=1
while [ "$round" -le "$ROUNDS" ]; do
	off=$(churn_max)
	start_snapd "$T/lb.conf"
	caught_up "$(head_rev)"   # the writes made without it, first
	watched_begin
	on=$(churn_max)
	watched_end "$(head_rev)"
	echo "round $round: without capture $off rev/s, with capture $on rev/s; lag at most $W_LAG revisions, caught up $W_CATCH s after the writers stopped; daemon CPU $W_CPU s per 1000 revisions"
	echo "$off $on $W_LAG $W_CATCH $W_CPU" >>"$T/rate"
	stop_snapd
	round=$((round + 1))
done
LAST=$(sqlite3 "$T/repo.db" "SELECT max(last_rev) FROM segments")

echo "== rpo: $PROBES probes, segment interval ${INTERVAL} s (target <= $((INTERVAL + 5)) s)"
start_snapd "$T/lb.conf"
python3 "$CHURN" "$EP" --nodes 5 --seconds 100000 --speed 1 --seed 9 >/dev/null &
paced=$!
echo "$paced" >>"$T/pids"
: >"$T/rpo"
p=1
while [ "$p" -le "$PROBES" ]; do
	sleep "$(python3 -c "import random; print('%.2f' % random.uniform(0, $INTERVAL))")"
	rev=$(etcdctl --endpoints "$EP" put "/bench/probe/$p" x -w json |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])')
	t0=$(now)
	wait_for 120 sh -c "[ \"\$(sqlite3 $T/repo.db \"SELECT count(*) FROM segments WHERE first_rev <= $rev AND last_rev >= $rev\")\" -ge 1 ]"
	t1=$(now)
	echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }' >>"$T/rpo"
	echo "probe $p: revision $rev durable after $(tail -n 1 "$T/rpo") s"
	p=$((p + 1))
done
kill "$paced"
stop_snapd

echo "== replay: from the backup before the rate runs to revision $LAST"
c=http://127.0.0.1:$(free_port); pu=http://127.0.0.1:$(free_port)
python3 "$TOP/bench/own_rss.py" "$T/replay.json" -- "$LIFEBOAT" --config "$T/lb.conf" --quiet \
    restore seed --cluster d --to-revision "$LAST" --name r1 --peer-url "$pu" \
    --client-url "$c" --data-dir "$T/r1" --json >"$T/replay.res" 2>"$T/replay.err"
read -r rwall rrss rrc <"$T/replay.res"
[ "$rrc" -eq 0 ] || { echo "bench: restore --to-revision failed: $(tail -n 3 "$T/replay.err")" >&2; exit 1; }

# perf RESULT-FILE [FLAGS...]: etcd's own load generator, `etcdctl check
# perf --load=MAX_LOAD` (60 s, hundreds of clients, its own Go client and
# values, no gateway or Python in the way): the writes per second it says
# etcd sustained, and the revisions it made.
perf() {
	f=$1; shift
	r0=$(head_rev)
	etcdctl --endpoints "$EP" check perf --load="$MAX_LOAD" "$@" >"$f.out" 2>&1
	r1=$(head_rev)
	rate=$(tr '\r' '\n' <"$f.out" | sed -n 's/.*Throughput[^0-9]*\([0-9][0-9]*\) writes\/s.*/\1/p' | tail -n 1)
	echo "${rate:-0} $r0 $r1"
}
# what check perf left behind, once the capture has it
compact_all() {
	etcdctl --endpoints "$EP" compact "$(head_rev)" >/dev/null 2>&1
	etcdctl --endpoints "$EP" defrag --command-timeout 120s >/dev/null 2>&1
}
if [ "$MAX_LOAD" != off ]; then
	echo "== max: etcdctl check perf --load=$MAX_LOAD, without the capture, then with it"
	read -r moff _ _ <<EOF
$(perf "$T/max.off")
EOF
	# the capture takes those revisions first (a compaction now would
	# be a gap), then they are compacted away for room
	start_snapd "$T/lb.conf"
	caught_up "$(head_rev)"
	compact_all
	watched_begin
	read -r mon mr0 mr1 <<EOF
$(perf "$T/max.on")
EOF
	watched_end "$mr1"
	compact_all
	stop_snapd
	echo "$moff $mon $((mr1 - mr0)) $W_LAG $W_CATCH $W_CPU" >"$T/max"
	echo "etcd sustained $moff writes/s without the capture, $mon with it ($((mr1 - mr0)) revisions); lag at most $W_LAG revisions, caught up $W_CATCH s after; daemon CPU $W_CPU s per 1000 revisions"
fi

echo "== day: $DAY_HOURS simulated hours, $DAY_NODES nodes, ${DAY_SPEED}x"
etcd_cluster e 1 || exit 1
EP2=$(cat "$T/e/m1.url")
# A control plane's objects that do not change (deployments, configmaps,
# secrets...) make most of a database, and of every full backup.
python3 "$TOP/bench/load.py" --endpoint "$EP2" --size "${DAY_BASE_MIB}MiB" \
    --batch-bytes 256KiB --batch-ops 100 >/dev/null || exit 1
conf "$T/day.conf" e "$e_endpoints" "$T/day" "pitr = on
pitr-segment-interval = 1s
schedule = @every 6h"
conf "$T/full.conf" e "$e_endpoints" "$T/full" "schedule = @every 24h"
sed -i "s/^metrics-listen = .*/metrics-listen = 127.0.0.1:$(free_port)/" "$T/full.conf"
"$LIFEBOAT" --config "$T/day.conf" backup --quiet --no-progress || exit 1
EP_SAVE=$EP; EP=$EP2
start_snapd "$T/day.conf" LIFEBOAT_SNAPD_TIMESCALE="$DAY_SPEED"
c0=$(cpu_ticks "$SNAPD")
( while :; do
	"$LIFEBOAT" --config "$T/full.conf" backup --quiet --no-progress >/dev/null 2>&1
	sleep "$(echo "$DAY_SPEED" | awk '{ printf "%.2f", 600 / $1 }')"
done ) &
fulls=$!
python3 "$CHURN" "$EP2" --nodes "$DAY_NODES" --seconds $((DAY_HOURS * 3600)) \
    --speed "$DAY_SPEED" --seed 3 >"$T/day.churn" || exit 1
kill "$fulls"
c1=$(cpu_ticks "$SNAPD")
stop_snapd
EP=$EP_SAVE

DAY_BASE_MIB=$DAY_BASE_MIB python3 - "$T" "$DAY_HOURS" "$INTERVAL" "$rwall" "$rrss" "$(getconf CLK_TCK)" "$c0" "$c1" <<'PY'
import glob, json, os, statistics, sys
t, hours, interval, rwall, rrss, tck, c0, c1 = sys.argv[1:]
hours, interval = float(hours), float(interval)
rate = [l.split() for l in open(os.path.join(t, "rate"))]
med = lambda i: statistics.median(float(r[i]) for r in rate)
print("\n== results (medians)")
print("write rate without capture %.0f rev/s, with capture %.0f rev/s (%.2fx); capture lag at most %.0f revisions, caught up %.1f s after the writers; daemon CPU %.3f s per 1000 revisions"
      % (med(0), med(1), med(1) / med(0), med(2), med(3), med(4)))
if os.path.exists(os.path.join(t, "max")):
    m = open(os.path.join(t, "max")).read().split()
    print("etcd's highest sustained write rate (etcdctl check perf): %s writes/s without capture, %s with it (%.2fx); %s revisions, capture lag at most %s revisions, caught up %s s after; daemon CPU %s s per 1000 revisions"
          % (m[0], m[1], float(m[1]) / max(float(m[0]), 1), m[2], m[3], m[4], m[5]))
rpo = [float(l) for l in open(os.path.join(t, "rpo"))]
print("RPO: median %.2f s, max %.2f s (segment interval %.0f s; target <= %.0f s)"
      % (statistics.median(rpo), max(rpo), interval, interval + 5))
rep = json.load(open(os.path.join(t, "replay.json")))
tp = rep["to_point"]
rr = tp["replayed_revisions"] / tp["replay_seconds"] if tp["replay_seconds"] else 0
print("replay: %d revisions (%d events) in %.2f s = %.0f rev/s, %.2fx etcd's write rate without capture; restore %.2f s wall, peak RSS %d MiB"
      % (tp["replayed_revisions"], tp["replayed_events"], tp["replay_seconds"], rr, rr / med(0),
         float(rwall), int(rrss) // 1024))
def size(d):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(t, d, "**"), recursive=True)
               if os.path.isfile(f))
def part(d, pat):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(t, d, "**", pat), recursive=True))
churn = json.loads(open(os.path.join(t, "day.churn")).read())
day, full = size("day"), size("full")
seg = part("day", "*.evlog.*")
# per simulated day: the segments scale with time, the 6-hourly backups
# are 4 whatever the hours measured (their mean size, measured)
fulls = len(glob.glob(os.path.join(t, "full", "**", "manifest.json"), recursive=True))
backups = len(glob.glob(os.path.join(t, "day", "**", "manifest.json"), recursive=True))
per_day = 24 / hours
pitr_day = seg * per_day + 4 * (day - seg) / max(backups, 1)
full_day = full * per_day
print("day: %s MiB of objects that do not change, %.0f simulated hours, %d writes, %d revisions; pitr repository %.1f MiB (%d backups, segments %.1f MiB in %d objects), 10-minute backups %.1f MiB (%d backups); per day (segments scaled, 4 backups): %.1f MiB against %.1f MiB = %.1f%% (target <= 10%%); daemon CPU %.1f s"
      % (os.environ.get("DAY_BASE_MIB", "?"), hours, churn["writes"], churn["last_revision"] - churn["first_revision"] + 1,
         day / 2**20, backups, seg / 2**20,
         len(glob.glob(os.path.join(t, "day", "**", "*.evlog.zst.age"), recursive=True)),
         full / 2**20, fulls, pitr_day / 2**20, full_day / 2**20,
         100.0 * pitr_day / full_day, (int(c1) - int(c0)) / int(tck)))
PY
