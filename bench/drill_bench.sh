#!/bin/sh
# drill_bench.sh: the recovery time a restore drill measures, against what
# an operator would type to get the same etcd serving by hand.  One etcd
# member filled to SIZE MiB (as restore_bench.sh fills), one `lifeboat
# backup` to a file:// repository, one plaintext `etcdctl snapshot save`
# taken right after it (same revision; taken once, before the runs, and not
# timed: the manual side starts from that file).  The member is then
# stopped, and runs alternate:
#
#   drill:  `lifeboat drill --backup latest --json` as a whole process:
#           fetch, sha256, age -d, zstd -d, etcd's trailer and the manifest,
#           etcd's restore tool (no bump), etcd started on loopback, health,
#           revision, key count and HashKV against the backup's record, the
#           objects under /registry/ counted; then its etcd stopped and its
#           directory wiped.  Timed: the process's wall time, and the
#           drill's own rto_seconds (start to "serving and checked", without
#           the stop, the wipe and the catalog record) with its phases;
#   manual: from the plaintext snapshot file: `snapshot restore` (etcdutl's
#           from 3.5, etcdctl's on 3.4, no bump, its default hash check) into
#           a fresh directory, etcd started on two loopback ports, `etcdctl
#           endpoint health` polled until healthy.  Then etcd is stopped and
#           the directory deleted (not timed).  No fetch, no decryption, no
#           decompression and no check of the data: the drill does all of
#           those inside its RTO.
#
# Prints each run, the medians, the ratios drill RTO / manual (the target:
# <= 0.6) and drill wall / manual, the drill's phase medians, and the peak
# RSS of lifeboat itself (VmHWM, polled: etcdutl and etcd are not counted).
#
#   sh bench/drill_bench.sh [SIZE_MIB [RUNS]]     (default 64 MiB, 3 runs)
#
# The etcd version is tests/lib.sh's: LIFEBOAT_ETCD_VERSION=3.4|3.5|3.6|3.7
# (default 3.6).  With BENCH_RAW set, each run is also appended to that file
# as one JSON line (bench/run.sh's raw.jsonl; the drill's line carries
# rto_seconds and phase_seconds besides its wall time).
#
# Loopback only; stops what it started (by pid).  Needs about 6x SIZE of
# free disk under $TMPDIR (the member, the snapshot, the repository, the
# drill's and the manual side's data).
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
SIZE=${1:-64}
RUNS=${2:-3}

etcd_cluster d 1 || exit 1
EP=$(cat "$T/d/m1.url")
TOOL=etcdctl
[ -x "$TEST_ETCD_DIR/etcdutl" ] && TOOL=etcdutl
echo "etcd $TEST_ETCD_VERSION ($TEST_ETCD_DIR): manual restore with $TOOL snapshot restore (no bump)"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the fill"

echo "filling $SIZE MiB ..."
python3 "$TOP/bench/fill.py" "$EP" "$SIZE"
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
drill-dir = $T/drill
drill-etcd-dirs = $TEST_ETCD_DIR
[cluster:d]
endpoints = $d_endpoints
EOF
"$LIFEBOAT" --config "$T/lb.conf" backup --no-progress || exit 1
# the operator's plaintext copy, of the same revision (nothing writes)
etcdctl --endpoints "$EP" snapshot save "$T/snap.db" >"$T/save.log" 2>&1 ||
    { echo "etcdctl snapshot save failed: $(tail -n 2 "$T/save.log")" >&2; exit 1; }
etcd_stop d 1
DB=$(sqlite3 "$T/catalog.db" "select db_size from backups limit 1")
STORED=$(du -sk "$T/repo" | cut -f1)
echo "backup: db $((DB / 1048576)) MiB, repository $((STORED / 1024)) MiB;" \
    "plaintext snapshot $(($(stat -c %s "$T/snap.db") / 1048576)) MiB (etcdctl snapshot save, once, not timed)"

now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }

# run_drill N: the whole `lifeboat drill` process, its peak RSS polled.
# Writes "wall hwm_kib exit" to drill-N.res, its JSON report to drill-N.json.
run_drill() {
	python3 "$TOP/bench/own_rss.py" "$T/drill-$1.json" -- "$LIFEBOAT" --config "$T/lb.conf" \
	    --quiet drill --backup latest --json >"$T/drill-$1.res" 2>"$T/drill-$1.err"
}

# run_manual N: snapshot restore, etcd, health polled; the seconds to
# man-N.res (or FAILED).  Stopping and deleting come after the clock.
run_manual() {
	d=$T/man-$1
	rm -rf "$d"
	mkdir -p "$d"
	c=http://127.0.0.1:$(free_port); p=http://127.0.0.1:$(free_port)
	t0=$(now)
	snaptool snapshot restore "$T/snap.db" --name man --data-dir "$d/data" \
	    --initial-cluster "man=$p" --initial-cluster-token "man-$1" \
	    --initial-advertise-peer-urls "$p" >"$d/restore.log" 2>&1 ||
	    { echo "manual restore failed: $(tail -n 2 "$d/restore.log")" >&2; return 1; }
	tr=$(now)
	etcd --name man --data-dir "$d/data" --listen-client-urls "$c" \
	    --advertise-client-urls "$c" --listen-peer-urls "$p" \
	    --initial-advertise-peer-urls "$p" --initial-cluster "man=$p" \
	    >"$d/etcd.log" 2>&1 &
	pid=$!
	echo "$pid" >>"$T/pids"
	if ! wait_for 120 etcdctl --endpoints "$c" endpoint health; then
		echo "manual run $1: etcd not healthy after 120 s: $(tail -n 2 "$d/etcd.log")" >&2
		kill "$pid" 2>/dev/null; wait_for 20 sh -c "! kill -0 $pid"
		return 1
	fi
	t1=$(now)
	echo "$t0 $tr $t1" | awk '{ printf "%.3f\n", $3 - $1 }' >"$T/man-$1.res"
	echo "$t0 $tr $t1" | awk '{ printf "restore %.2f, start to healthy %.2f\n", $2 - $1, $3 - $2 }' \
	    >"$T/man-$1.phases"
	kill "$pid" 2>/dev/null
	wait_for 20 sh -c "! kill -0 $pid"
	rm -rf "$d"
}

# jfield FILE EXPR: one value of the drill's JSON report ("-" without one).
jfield() {
	python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(eval(sys.argv[2], {"d": d}))
except Exception:
    print("-")' "$1" "$2"
}

# For scale only, not in the ratio: what the manual side would add to
# start from the stored object instead of a plaintext file.
OBJ=$(find "$T/repo" -name '*.db.zst.age' | head -n 1)
t0=$(now)
age -d -i "$T/id.txt" "$OBJ" | zstd -q -d -o "$T/plain.db" &&
    echo "(for scale, not timed in the runs: age -d | zstd -d of the stored object to a file took $(echo "$t0 $(now)" | awk '{ printf "%.2f", $2 - $1 }') s)"
rm -f "$T/plain.db"
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
# (not "i": lib.sh's wait_for counts with it)
run=1
while [ "$run" -le "$RUNS" ]; do
	run_drill "$run"
	run_manual "$run" || echo "FAILED" >"$T/man-$run.res"
	read -r dt rss rc <"$T/drill-$run.res"
	mt=$(cat "$T/man-$run.res")
	rto=$(jfield "$T/drill-$run.json" '"%.3f" % d["rto_seconds"]')
	echo "run $run: drill ${dt}s wall, rto ${rto}s (exit $rc, peak RSS $((rss / 1024)) MiB)  manual ${mt}s"
	echo "        drill phases: $(jfield "$T/drill-$run.json" \
	    '", ".join("%s %.2f" % kv for kv in d["phase_seconds"].items())')"
	[ -f "$T/man-$run.phases" ] && echo "        manual: $(cat "$T/man-$run.phases")"
	[ "$rc" -eq 0 ] || echo "        drill failed: $(jfield "$T/drill-$run.json" 'd["error"]') $(tail -n 2 "$T/drill-$run.err")"
	if [ -n "${BENCH_RAW:-}" ]; then
		python3 - "$BENCH_RAW" "$TEST_ETCD_VERSION" "drill $SIZE MiB" "$run" \
		    "$dt" "$rss" "$rc" "$mt" "$T/drill-$run.json" <<'PY'
import json, sys
raw, v, bench, run, dt, rss, rc, mt, rep = sys.argv[1:]
try:
    d = json.load(open(rep))
except (OSError, ValueError):
    d = {}
ctx = "%s, etcd %s, round %s" % (bench, v, run)
with open(raw, "a") as f:
    f.write(json.dumps({"name": "lifeboat drill --backup latest", "wall": float(dt),
        "rto_seconds": d.get("rto_seconds") if rc == "0" else None,
        "phase_seconds": d.get("phase_seconds") if rc == "0" else None,
        "maxrss_kib": int(rss), "status": int(rc), "etcd": v, "bench": bench,
        "round": int(run), "context": ctx}) + "\n")
    if mt != "FAILED":
        f.write(json.dumps({"name": "manual: snapshot restore, etcd, health (plaintext snapshot)",
            "wall": float(mt), "maxrss_kib": None, "status": 0, "etcd": v, "bench": bench,
            "round": int(run), "context": ctx}) + "\n")
PY
	fi
	run=$((run + 1))
done

python3 - "$T" "$RUNS" "$TEST_ETCD_VERSION" "$SIZE" "$DB" <<'PY'
import json, os, statistics, sys
t, runs, v, size, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
walls, rss, rtos, phases, man = [], [], [], {}, []
for n in range(1, runs + 1):
    w, h, rc = open(os.path.join(t, "drill-%d.res" % n)).read().split()
    rss.append(int(h))
    if rc == "0":
        walls.append(float(w))
        d = json.load(open(os.path.join(t, "drill-%d.json" % n)))
        rtos.append(d["rto_seconds"])
        for k, s in d["phase_seconds"].items():
            phases.setdefault(k, []).append(s)
    m = open(os.path.join(t, "man-%d.res" % n)).read().strip()
    if m != "FAILED":
        man.append(float(m))
print("etcd %s, size %s MiB (db %d MiB), %d runs each (%d drills ok, %d manual ok)"
      % (v, size, db >> 20, runs, len(walls), len(man)))
if not walls or not man:
    print("no ratio: a side has no successful run")
    sys.exit(1)
rto, wall, mm = statistics.median(rtos), statistics.median(walls), statistics.median(man)
print("median: drill rto %.2fs (wall %.2fs), manual %.2fs" % (rto, wall, mm))
print("ratio drill rto / manual: %.2f (target <= 0.6); drill wall / manual: %.2f" % (rto / mm, wall / mm))
print("drill phase medians: " + ", ".join("%s %.2fs" % (k, statistics.median(s)) for k, s in phases.items()))
print("peak RSS of lifeboat: %d MiB" % (max(rss) // 1024))
PY
st=$?
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $st
