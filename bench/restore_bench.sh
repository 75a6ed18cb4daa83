#!/bin/sh
# restore_bench.sh: recovery time from a backup stored on s3rver to a
# healthy 3-member etcd cluster, `lifeboat restore cluster --start` against
# the manual sequence an operator would type (curl the object, age -d,
# zstd -d, snapshot restore three times, start three etcd, poll until every
# endpoint is healthy).  The snapshot restore is etcdutl's from 3.5 on
# (etcdctl's on 3.4), with --bump-revision N --mark-compacted where the tool
# has them, N being what lifeboat chose in the same run (lifeboat bumps by
# default).  Runs alternate, so a busy machine slows both alike; prints each
# run, the medians, their ratio, and the peak RSS of lifeboat itself (VmHWM,
# polled: etcdutl and etcd are not counted).
#
#   sh bench/restore_bench.sh [SIZE_MIB [RUNS]]     (default 64 MiB, 3 runs)
#
# The etcd version is tests/lib.sh's: LIFEBOAT_ETCD_VERSION=3.4|3.5|3.6|3.7
# (default 3.6).  With BENCH_RAW set, each run is also appended to that file
# as one JSON line (bench/run.sh's raw.jsonl).
#
# Needs `make` and ./scripts/deps.sh (s3rver).  Loopback only; stops what
# it started.  Targets: lifeboat <= 0.5x the manual wall time, RSS <= 64 MiB.
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
SIZE=${1:-64}
RUNS=${2:-3}

s3rver_start bench || exit 1
etcd_cluster b 3 || exit 1
EP1=$(cat "$T/b/m1.url")
TOOL=etcdctl
[ -x "$TEST_ETCD_DIR/etcdutl" ] && TOOL=etcdutl
BUMPS=no
snaptool snapshot restore --help 2>&1 | grep -q -e --bump-revision && BUMPS=yes
echo "etcd $TEST_ETCD_VERSION ($TEST_ETCD_DIR): manual restore with $TOOL snapshot restore$(
    [ "$BUMPS" = yes ] && echo " --bump-revision N --mark-compacted")"

echo "filling $SIZE MiB ..."
python3 "$TOP/bench/fill.py" "$EP1" "$SIZE"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lb.conf" <<EOF
[global]
repo = s3://$S3_BUCKET/lb
s3-endpoint = $S3_ENDPOINT
s3-region = $S3_REGION
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
[cluster:b]
endpoints = $b_endpoints
EOF
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
"$LIFEBOAT" --config "$T/lb.conf" backup --no-progress || exit 1
for i in 1 2 3; do etcd_stop b "$i"; done
# the object restore would pick (highest revision; all equal: the first)
MF=$(sqlite3 "$T/catalog.db" "select manifest_key from backups limit 1")
KEY=$(dirname "$MF")/m1.db.zst.age
DB=$(sqlite3 "$T/catalog.db" "select db_size from backups limit 1")
echo "backup: db $((DB / 1048576)) MiB, object $KEY"

now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }

# members N: three fresh members; sets MEMBERS, CLIENTS, IC.
members() {
	MEMBERS=""; CLIENTS=""; IC=""
	for n in r1 r2 r3; do
		c=http://127.0.0.1:$(free_port); p=http://127.0.0.1:$(free_port)
		MEMBERS="${MEMBERS:+$MEMBERS,}$n=$p@$c"
		CLIENTS="${CLIENTS:+$CLIENTS }$n=$c=$p"
		IC="${IC:+$IC,}$n=$p"
	done
}

stop_dir() {
	for f in "$1"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f"); kill "$pid" 2>/dev/null
		wait_for 20 sh -c "! kill -0 $pid"
	done
}

run_lifeboat() {
	members
	d=$T/lb-$1
	python3 "$TOP/bench/own_rss.py" "$T/lb-$1.report" -- "$LIFEBOAT" --config "$T/lb.conf" \
	    --quiet restore cluster --cluster b --members "$MEMBERS" --base-dir "$d" --start \
	    >"$T/lb-$1.res"
	for f in "$d"/*.pid; do cat "$f" >>"$T/pids"; done
	stop_dir "$d"
	rm -rf "$d"
}

run_manual() {
	[ -n "${BENCH_DEBUG:-}" ] && set -x
	members
	d=$T/man-$1
	mkdir -p "$d"
	t0=$(now)
	curl -sf -o "$d/obj" "$S3_ENDPOINT/$S3_BUCKET/lb/$KEY" &&
	    age -d -i "$T/id.txt" -o "$d/snap.zst" "$d/obj" &&
	    zstd -q -d "$d/snap.zst" -o "$d/snap.db" || { echo "manual fetch failed" >&2; return 1; }
	eps=""
	# the bump lifeboat chose in this run (its report), etcd's recovery
	# guide's example when there is none
	bump=""
	if [ "$BUMPS" = yes ]; then
		bn=$(sed -n 's/^  bump  *\([0-9][0-9]*\) revisions.*/\1/p' "$T/lb-$1.report" 2>/dev/null | head -n 1)
		bump="--bump-revision ${bn:-1000000000} --mark-compacted"
	fi
	for spec in $CLIENTS; do
		n=${spec%%=*}; rest=${spec#*=}; c=${rest%=*}; p=${rest##*=}
		# shellcheck disable=SC2086 # $bump: two flags or none
		snaptool snapshot restore "$d/snap.db" --name "$n" --data-dir "$d/$n" \
		    --initial-cluster "$IC" --initial-cluster-token man \
		    --initial-advertise-peer-urls "$p" $bump >"$d/$n.restore.log" 2>&1 ||
		    { echo "manual restore of $n failed: $(tail -n 2 "$d/$n.restore.log")" >&2; return 1; }
	done
	for spec in $CLIENTS; do
		n=${spec%%=*}; rest=${spec#*=}; c=${rest%=*}; p=${rest##*=}
		etcd --name "$n" --data-dir "$d/$n" --listen-client-urls "$c" \
		    --advertise-client-urls "$c" --listen-peer-urls "$p" \
		    --initial-advertise-peer-urls "$p" >"$d/$n.log" 2>&1 &
		echo $! >"$d/$n.pid"; echo $! >>"$T/pids"
		eps="${eps:+$eps,}$c"
	done
	wait_for 120 etcdctl --endpoints "$eps" endpoint health ||
	    { echo "manual run $1: cluster not healthy after 120 s" >&2; stop_dir "$d"; return 1; }
	t1=$(now)
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }' >"$T/man-$1.res"
	stop_dir "$d"
	rm -rf "$d"
}

# (not "i": lib.sh's wait_for counts with it)
run=1
while [ "$run" -le "$RUNS" ]; do
	run_lifeboat "$run"
	run_manual "$run" || echo "FAILED" >"$T/man-$run.res"
	read -r lt rss rc <"$T/lb-$run.res"
	mt=$(cat "$T/man-$run.res")
	echo "run $run: lifeboat ${lt}s (exit $rc, peak RSS $((rss / 1024)) MiB)  manual ${mt}s"
	sed -n 's/^  times: /        lifeboat: /p; s/^  bump  */        lifeboat bump: /p' "$T/lb-$run.report"
	if [ -n "${BENCH_RAW:-}" ]; then
		python3 - "$BENCH_RAW" "$TEST_ETCD_VERSION" "restore $SIZE MiB" "$run" \
		    "$lt" "$rss" "$rc" "$mt" <<'PY'
import json, sys
raw, v, bench, run, lt, rss, rc, mt = sys.argv[1:]
with open(raw, "a") as f:
    f.write(json.dumps({"name": "lifeboat restore cluster --start", "wall": float(lt),
        "maxrss_kib": int(rss), "status": int(rc), "etcd": v, "bench": bench,
        "round": int(run), "context": "%s, etcd %s, round %s" % (bench, v, run)}) + "\n")
    if mt != "FAILED":
        f.write(json.dumps({"name": "manual: curl, age -d, zstd -d, snapshot restore x3, etcd x3, health",
            "wall": float(mt), "maxrss_kib": None, "status": 0, "etcd": v, "bench": bench,
            "round": int(run), "context": "%s, etcd %s, round %s" % (bench, v, run)}) + "\n")
PY
	fi
	run=$((run + 1))
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
LM=$(cat "$T"/lb-*.res | cut -d' ' -f1 | median)
MM=$(cat "$T"/man-*.res | grep -v FAILED | median)
PEAK=$(cat "$T"/lb-*.res | cut -d' ' -f2 | sort -n | tail -n 1)
echo "etcd $TEST_ETCD_VERSION, size ${SIZE} MiB (db $((DB / 1048576)) MiB), $RUNS runs each"
echo "median wall: lifeboat ${LM}s, manual ${MM}s, ratio $(echo "$LM $MM" | awk '{ printf "%.2f", $1 / $2 }') (target <= 0.5)"
echo "peak RSS of lifeboat: $((PEAK / 1024)) MiB (target <= 64 MiB)"
