#!/bin/sh
# snapd_soak.sh: a soak of the daemon (by hand, not part of make check).
#
#   LIFEBOAT=build/asan/lifeboat sh tests/tools/snapd_soak.sh [RUNS]
#
# One etcd member with a thousand keys, a file:// repository, the
# daemon on its test clock at one run per second (@every 1m, scale 60),
# until RUNS (default 200) backups are complete.  Samples the daemon's
# RSS from /proc every 10 runs and /metrics while it runs, then stops it
# with SIGTERM and prints the samples; under ASan a leak or error fails it.
. "$(dirname "$0")/../lib.sh"
RUNS=${1:-200}
export LIFEBOAT_SNAPD_TIMESCALE="60@$(date +%s)"
etcd_cluster soak 1 || exit 1
EP=$(cat "$T/soak/m1.url")
# 1000 keys of 200 bytes, in ten transactions (etcdctl txn reads
# compares, success ops and failure ops separated by blank lines).
pad=$(printf '%0200d' 0)
b=0
while [ $b -lt 10 ]; do
	{ echo; i=0; while [ $i -lt 100 ]; do echo "put /k/$b/$i $pad"; i=$((i + 1)); done; echo; echo; } |
		etcdctl --endpoints "$EP" txn >/dev/null
	b=$((b + 1))
done
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/k.out" 2>&1
port=$(free_port)
cat >"$T/s.conf" <<EOC
[global]
repo = file://$T/repo
recipients = $(grep -o 'age1[a-z0-9]*' "$T/k.out" | head -n 1)
catalog = $T/s.db
metrics-listen = 127.0.0.1:$port
[cluster:c1]
endpoints = $EP
EOC
sed -i 's/^endpoints = .*/&\nschedule = @every 1m/' "$T/s.conf"
"$LIFEBOAT" --config "$T/s.conf" snapd 2>"$T/s.log" &
pid=$!
echo $pid >>"$T/pids"
start=$(date +%s)
echo "# runs rss_kib seconds"
n=0; next=0
while [ "$n" -lt "$RUNS" ] && kill -0 $pid 2>/dev/null; do
	n=$(grep -c 'outcome=complete' "$T/s.log")
	case $n in ''|*[!0-9]*) n=0 ;; esac
	if [ "$n" -ge "$next" ]; then
		echo "$n $(awk '/^VmRSS/ { print $2 }' /proc/$pid/status) $(( $(date +%s) - start ))"
		next=$((next + 10))
	fi
	sleep 0.5
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^lifeboat_(backups_total|backup_runs_skipped|process_resident)' | sed 's/^/# /'
kill -TERM $pid
wait $pid
rc=$?
failed=$(grep -c 'outcome=failed' "$T/s.log")
echo "# exit $rc, $n complete, $failed failed, $(( $(date +%s) - start )) s"
if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' "$T/s.log"; then
	fail soak "sanitizer report: $(grep -m1 'Sanitizer\|runtime error' "$T/s.log")"
elif [ "$rc" -ne 0 ] || [ "$n" -lt "$RUNS" ]; then
	fail soak "exit $rc after $n runs"
else
	ok soak
fi
