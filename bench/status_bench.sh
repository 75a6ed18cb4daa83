#!/bin/sh
# status_bench.sh: how long snapd's status page takes to render with 10
# clusters and a year of hourly backups each (8,760 x 10 = 87,600 backups,
# 3 members each, one audit event each) in the catalog.  Target: < 50 ms
# server time (issue 14).
#
#   sh bench/status_bench.sh [CLUSTERS [BACKUPS-PER-CLUSTER [RUNS]]]   (10 8760 20)
#
# Two figures: the renderer called directly (build/tools/statustool: the
# model, the page, the JSON; median of RUNS), and the whole request
# against a running snapd (curl's time_total for / and /api/status,
# median of RUNS).  Needs `make test` first; keeps the filled catalog in
# bench/out/ so a second run skips the fill (delete it to refill: its
# newest backups age with it).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
C=${1:-10}
N=${2:-8760}
RUNS=${3:-20}
out=bench/out
mkdir -p "$out"
db=$out/status-$C-$N.db
[ -x "$BUILD/tools/statustool" ] || { echo "run make test first" >&2; exit 1; }

if [ ! -f "$db" ]; then
	s=$(date +%s%N)
	"$BUILD/tools/statustool" "$db" fill "$C" "$N" 3600
	echo "filled $db: $C clusters x $N hourly backups in $((($(date +%s%N) - s) / 1000000)) ms"
fi
echo "catalog file: $(du -h "$db" | cut -f1), $(sqlite3 "$db" 'SELECT COUNT(*) FROM backups') backups"
names=$(i=0; while [ $i -lt "$C" ]; do printf 'c%02d ' $i; i=$((i + 1)); done)

echo "== the renderer called directly (statustool), $RUNS renders"
# shellcheck disable=SC2086
"$BUILD/tools/statustool" "$db" time "$RUNS" $names

echo "== through a running snapd (curl time_total), $RUNS requests each"
work=$(mktemp -d /tmp/lifeboat-statusbench.XXXXXX)
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$BUILD/lifeboat" keygen -o "$work/id.txt" >"$work/keygen.out" 2>&1
rcpt=$(grep -o 'age1[a-z0-9]*' "$work/keygen.out" | head -n 1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	printf '[global]\nrepo = file://%s/repo\nrecipients = %s\ncatalog = %s/%s\n' \
	    "$work" "$rcpt" "$top" "$db"
	printf 'metrics-listen = 127.0.0.1:%s\n' "$port"
	# a yearly slot: no run (and no catch-up) while the bench runs
	for n in $names; do
		printf '[cluster:%s]\nendpoints = http://127.0.0.1:%s\nschedule = 0 0 1 1 *\n' \
		    "$n" "$dead"
	done
} >"$work/snapd.conf"
"$BUILD/lifeboat" --config "$work/snapd.conf" snapd 2>"$work/snapd.log" &
pid=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "snapd did not start:"; tail -n 5 "$work/snapd.log"; exit 1; }
	sleep 0.1
done
for path in / /api/status; do
	curl -s -o "$work/body" "http://127.0.0.1:$port$path"
	i=0
	: >"$work/times"
	while [ $i -lt "$RUNS" ]; do
		curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$path" >>"$work/times"
		i=$((i + 1))
	done
	sort -n "$work/times" | awk -v p="$path" -v b="$(wc -c <"$work/body")" '
	    { t[NR] = $1 * 1000 }
	    END { printf "GET %-12s median %7.2f ms  min %7.2f ms  max %7.2f ms  (%d requests, %d bytes)\n",
	        p, t[int((NR + 1) / 2)], t[1], t[NR], NR, b }'
done
