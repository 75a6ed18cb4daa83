#!/bin/sh
# snapd_test.sh: the daemon against a real etcd and a file:// repository.
#
# The daemon runs on its test clock (LIFEBOAT_SNAPD_TIMESCALE=30, see
# snapd/daemon.h): an `@every 1m` schedule fires every 2 real seconds.
# Proves: scheduled backups land in the catalog; /metrics counts them;
# /healthz is 200, turns 503 when the cluster is down for more than two
# intervals and 200 again once it is back; SIGHUP with a bad configuration
# is refused and the daemon keeps running, a good one is taken; SIGTERM
# exits 0 and leaves no running row; systemd notifications arrive; two
# daemons against one cluster take exactly one backup per slot (etcd
# lock), the standby's status page names the holder, and the standby
# takes over when the holder is killed; runs longer
# than the interval skip slots; max-concurrent-clusters holds; without
# write access to the lock key the lock is off and the log says so;
# the lock's renewals sample the cluster's revision into the catalog
# between runs; prune and verify use the running configuration (not the
# file after a refused reload, not $LIFEBOAT_CATALOG); at start, one catch-up run
# when the catalog misses the last slot, none when it does not; a SIGHUP
# while the lock is held (over TLS) keeps the lock renewed and the
# daemon alive (run this under the ASan build too), and one that
# disables the cluster releases its lock.
. "$(dirname "$0")/../lib.sh"

SCALE=30
T0=$(date +%s)
export LIFEBOAT_SNAPD_TIMESCALE="$SCALE@$T0"

# One etcd member we can stop and start again on the same ports and data.
cport=$(free_port); pport=$(free_port)
EP=http://127.0.0.1:$cport
etcd_up() {
	etcd --name m1 --data-dir "$T/m1.data" \
	    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
	    --listen-peer-urls "http://127.0.0.1:$pport" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	    --initial-cluster "m1=http://127.0.0.1:$pport" \
	    --logger zap --log-outputs stderr >>"$T/etcd.log" 2>&1 &
	echo $! >>"$T/pids"
	echo $! >"$T/etcd.pid"
	wait_for 30 etcdctl --endpoints "$EP" endpoint health
}
etcd_down() {
	pid=$(cat "$T/etcd.pid")
	kill "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid"
}
etcd_up || { fail setup "etcd did not start"; exit 1; }

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)

# write_conf NAME SCHEDULE [EXTRA-GLOBAL-LINE]: $T/NAME.conf, its own
# catalog and repository, metrics on a free port (in $T/NAME.port).
write_conf() {
	port=$(free_port)
	echo "$port" >"$T/$1.port"
	cat >"$T/$1.conf" <<EOF
[global]
repo = file://$T/repo-$1
recipients = $RCPT
catalog = $T/$1.db
metrics-listen = 127.0.0.1:$port
# drills have their own test (page_test): none here, whatever the hour
drill-schedule = off
${3:-}
[cluster:c1]
endpoints = $EP
schedule = $2
EOF
}

# start NAME: the daemon in the background, pid in $T/NAME.pid.
start() {
	"$LIFEBOAT" --config "$T/$1.conf" snapd 2>>"$T/$1.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/$1.pid"
	wait_for 10 curl -sf "http://127.0.0.1:$(cat "$T/$1.port")/metrics"
}
url() { echo "http://127.0.0.1:$(cat "$T/$1.port")$2"; }
completes() { "$LIFEBOAT" catalog list --catalog "$T/$1.db" --status complete 2>/dev/null |
	grep -c ' complete '; }
at_least() { [ "$(completes "$1")" -ge "$2" ]; }
status_is() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$(url "$1" /healthz)")" = "$2" ]; }
metric() { curl -s "$(url "$1" /metrics)" | awk -v m="$2" '$1 == m { print $2 }'; }

# --- one daemon: runs, metrics, health -----------------------------------
write_conf a "@every 1m"
# systemd's side of Type=notify: a datagram socket recording what arrives.
python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('$T/notify.sock')
with open('$T/notify.out', 'a') as f:
    while True:
        f.write(s.recv(4096).decode().replace(chr(10), ' ') + chr(10)); f.flush()
" &
echo $! >>"$T/pids"
wait_for 5 test -S "$T/notify.sock"
export NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000
start a || fail start "daemon a did not serve /metrics: $(tail -n 3 "$T/a.log")"
unset NOTIFY_SOCKET WATCHDOG_USEC
check backups_appear wait_for 20 at_least a 3
n=$(metric a 'lifeboat_backups_total{cluster="c1",outcome="complete"}')
if [ "${n:-0}" -ge 3 ]; then ok metrics_count_backups
else fail metrics_count_backups "lifeboat_backups_total complete = ${n:-none}"; fi
st=$(metric a 'lifeboat_backup_last_stored_bytes{cluster="c1"}')
if [ "${st:-0}" -gt 0 ]; then ok metrics_bytes_stored
else fail metrics_bytes_stored "last stored bytes = ${st:-none}"; fi
check metrics_next_run sh -c "[ \"\$(curl -s '$(url a /metrics)' | grep -c '^lifeboat_backup_next_run_timestamp_seconds{cluster=\"c1\"} [1-9]')\" = 1 ]"
check healthz_ok status_is a 200
# Between runs the lock's renewals sample the cluster's revision into the
# catalog (every SNAPD_REV_NOTE_S of the daemon's clock), for the restore's
# revision bump: writes made after the last run show up there.
for i in $(seq 1 30); do echo "k$i"; done | while read -r k; do
	etcdctl --endpoints "$EP" put "/between/$k" v >/dev/null; done
rev=$(etcdctl --endpoints "$EP" endpoint status -w json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
sampled() { [ "$(sqlite3 "$T/a.db" "SELECT revision FROM revision_seen WHERE cluster = 'c1'" \
	2>/dev/null || echo 0)" -ge "$rev" ]; }
check revision_sampled_between_runs wait_for 20 sampled
check notify_ready grep -q '^READY=1 STATUS=running$' "$T/notify.out"
check notify_watchdog_pings sh -c "[ \$(grep -c '^WATCHDOG=1$' '$T/notify.out') -ge 3 ]"

# --- SIGHUP: a bad config is refused, a good one taken -------------------
cp "$T/a.conf" "$T/a.good"
sed -i 's/^schedule = .*/schedule = 0 25 * * */' "$T/a.conf"
kill -HUP "$(cat "$T/a.pid")"
check reload_bad_refused wait_for 5 grep -q 'reload refused.*hour' "$T/a.log"
before=$(completes a)
check reload_bad_keeps_running wait_for 10 at_least a $((before + 2))
cp "$T/a.good" "$T/a.conf"
kill -HUP "$(cat "$T/a.pid")"
check reload_good_taken wait_for 5 sh -c "curl -s '$(url a /metrics)' | grep -q 'reloads_total{result=\"ok\"} 1'"

# --- health follows the cluster -----------------------------------------
etcd_down
# Two intervals are 4 real seconds; allow for the run in flight.
check healthz_503_when_down wait_for 15 status_is a 503
curl -s "$(url a /healthz)" >"$T/health.body"
sed 's/^/#   /' "$T/health.body"
# Dates and ages a person reads, not epoch seconds.
check healthz_503_body_readable grep -Eq '^cluster c1: no backup since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC, [0-9]+ (s|min|h|d) ago \(overdue since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC, [0-9]+ (s|min|h|d) ago\)$' "$T/health.body"
failed=$(metric a 'lifeboat_backups_total{cluster="c1",outcome="failed"}')
if [ "${failed:-0}" -ge 1 ]; then ok metrics_count_failures
else fail metrics_count_failures "failed = ${failed:-none}"; fi
etcd_up
check healthz_200_when_back wait_for 20 status_is a 200

# --- SIGTERM ---------------------------------------------------------------
kill -TERM "$(cat "$T/a.pid")"
wait "$(cat "$T/a.pid")"
rc=$?
if [ "$rc" -eq 0 ]; then ok sigterm_exits_0; else fail sigterm_exits_0 "exit $rc"; fi
check notify_reloading_and_stopping sh -c "grep -q '^RELOADING=1$' '$T/notify.out' && grep -q '^STOPPING=1$' '$T/notify.out'"
if "$LIFEBOAT" catalog list --catalog "$T/a.db" --status running | grep -q 'no backups'
then ok sigterm_no_running_row
else fail sigterm_no_running_row "$("$LIFEBOAT" catalog list --catalog "$T/a.db" --status running)"; fi
check sigterm_lock_released grep -q 'lock=/lifeboat/lock/c1 released' "$T/a.log"

# --- a backup stamped in the future: counted by a gauge, not "latest" -------
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ -f "$FT" ]; then
	write_conf fu "@every 1m"
	check future_backup_taken env LD_PRELOAD="$FT" FAKETIME="+365d" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    "$LIFEBOAT" --config "$T/fu.conf" backup --no-progress
	start fu || fail future_start "$(tail -n 3 "$T/fu.log")"
	check future_gauge wait_for 10 sh -c "curl -s '$(url fu /metrics)' | grep -q '^lifeboat_backups_future{cluster=\"c1\"} 1\$'"
	# once, although the gauge is counted again after every run
	sleep 3
	check future_audited_once python3 -c "
import json, os, sys
ev = json.loads(os.popen(sys.argv[1] + ' catalog audit --json --catalog ' + sys.argv[2]).read())
assert [e['outcome'] for e in ev].count('future-stamped') == 1, ev
" "$LIFEBOAT" "$T/fu.db"
	kill -TERM "$(cat "$T/fu.pid")"
	wait "$(cat "$T/fu.pid")"
else
	echo "SKIP future backup gauge: libfaketime is not installed ($FT)"
fi

# --- retention after each backup ------------------------------------------
write_conf p "@every 1m"
printf 'retention = keep-last=2\n' >>"$T/p.conf"
start p
# audited_ok NAME ACTION: audit events of ACTION on a backup, outcome ok.
audited_ok() { "$LIFEBOAT" catalog audit --catalog "$T/$1.db" --json 2>/dev/null |
	python3 -c 'import json,sys; print(sum(e["action"] == sys.argv[1] and e["outcome"] == "ok" and e["backup_id"] is not None for e in json.load(sys.stdin)))' "$2"; }
pruned_two() { [ "$(audited_ok p prune)" -ge 2 ]; }
check retention_prunes_after_backup wait_for 30 pruned_two
kill -TERM "$(cat "$T/p.pid")"
wait "$(cat "$T/p.pid")"
check retention_keeps_last_two test "$(completes p)" -le 2
check retention_repo_matches test "$(find "$T/repo-p" -name manifest.json | wc -l)" -le 2

# --- verification on its own schedule ---------------------------------------
write_conf v "@every 1m" "identity-file = $T/id.txt"
printf 'verify-schedule = @every 2m\n' >>"$T/v.conf"
start v
verified_once() { [ "$(audited_ok v verify)" -ge 1 ]; }
check verify_schedule_runs wait_for 30 verified_once
n=$(metric v 'lifeboat_verify_total{cluster="c1",result="ok"}')
if [ "${n:-0}" -ge 1 ]; then ok verify_metric_counts
else fail verify_metric_counts "lifeboat_verify_total ok = ${n:-none}"; fi
kill -TERM "$(cat "$T/v.pid")"
wait "$(cat "$T/v.pid")"
check verify_fewer_than_backups test "$(audited_ok v verify)" -lt "$(completes v)"

# --- prune and verify use the running configuration ----------------------
# Not the file: an edit whose reload was refused (catalog cannot change
# on reload) must not take effect for them either; and not
# $LIFEBOAT_CATALOG, which backups ignore: the daemon works on the
# catalog and retention it is running, whatever the environment says.
write_conf e "@every 1m" "identity-file = $T/id.txt"
printf 'retention = keep-last=3\nverify-schedule = @every 2m\n' >>"$T/e.conf"
export LIFEBOAT_CATALOG="$T/env.db"
start e
unset LIFEBOAT_CATALOG
pruned_and_verified() { [ "$(audited_ok e prune)" -ge "$1" ] && [ "$(audited_ok e verify)" -ge "$2" ]; }
# within SECONDS CMD...: wait_for on the clock (two catalog reads a try).
within() { end=$(($(date +%s) + $1)); shift
	until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.5; done; }
check running_cfg_prune_verify within 30 pruned_and_verified 1 1
check running_cfg_env_catalog_ignored test ! -e "$T/env.db"
sed -i "s|^catalog = .*|catalog = $T/edited.db|; s|^retention = .*|retention = keep-last=1|" "$T/e.conf"
kill -HUP "$(cat "$T/e.pid")"
check running_cfg_reload_refused wait_for 5 grep -q 'reload refused.*catalog cannot change' "$T/e.log"
p0=$(audited_ok e prune); v0=$(audited_ok e verify)
check running_cfg_after_refused_reload within 30 pruned_and_verified $((p0 + 2)) $((v0 + 1))
kill -TERM "$(cat "$T/e.pid")"
wait "$(cat "$T/e.pid")"
check running_cfg_retention_kept test "$(completes e)" -eq 3
check running_cfg_edited_catalog_unused test ! -e "$T/edited.db"

# --- catch-up at start, on the real clock ----------------------------------
# @yearly: a backup from this session covers the last slot (no run at
# start); one from two years ago does not (one run at start, not one per
# missed year).  The old one is a real manifest with its dates moved back.
(
unset LIFEBOAT_SNAPD_TIMESCALE
write_conf y "@yearly"
sed -i "s|^catalog = .*|catalog = $T/a.db|" "$T/y.conf"
start y
sleep 3
if grep -q 'catch-up' "$T/y.log" || grep -q 'run starts' "$T/y.log"
then fail catchup_not_when_recent "$(grep -m1 'catch-up\|run starts' "$T/y.log")"
else ok catchup_not_when_recent; fi
kill -TERM "$(cat "$T/y.pid")"; wait "$(cat "$T/y.pid")"
mf=$(find "$T/repo-a" -name manifest.json | head -n 1)
python3 - "$mf" "$T/old.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
y = str(int(m["started_at"][:4]) - 2)
for k in ("started_at", "finished_at"):
    m[k] = y + m[k][4:]
m["backup_id"] = y + m["backup_id"][4:]
json.dump(m, open(sys.argv[2], "w"))
PY
write_conf z "@yearly"
"$(dirname "$LIFEBOAT")/tools/catalog_fixture" "$T/z.db" record "$T/old.json" >"$T/fixture.out" 2>&1 ||
	fail catchup_fixture "$(cat "$T/fixture.out")"
start z
check catchup_one_run_when_old wait_for 10 grep -q 'outcome=complete' "$T/z.log"
sleep 2
n=$(grep -c 'run starts' "$T/z.log")
if grep -q 'catch-up' "$T/z.log" && [ "$n" -eq 1 ]; then ok catchup_exactly_one_run
else fail catchup_exactly_one_run "$n runs"; fi
kill -TERM "$(cat "$T/z.pid")"; wait "$(cat "$T/z.pid")"
)

# --- two daemons, one cluster: one backup per slot ----------------------
write_conf h1 "@every 1m"
write_conf h2 "@every 1m"
start h1
start h2
sleep 14
# Slots of complete backups, from both logs: none may appear twice.
slots() { grep -h 'outcome=complete' "$T/h1.log" "$T/h2.log" | sed 's/.*slot=\([0-9]*\).*/\1/'; }
# Counted between two reads of the logs that agree: a run finishing
# between the logs and the catalogs would be counted on one side only.
i=0
while [ $i -lt 5 ]; do
	total=$(slots | wc -l)
	uniq=$(slots | sort -u | wc -l)
	n1=$(completes h1); n2=$(completes h2)
	[ "$(slots | wc -l)" -eq "$total" ] && break
	i=$((i + 1))
done
echo "# two daemons: $n1 + $n2 backups in $total slots"
if [ "$total" -ge 5 ] && [ "$total" -eq "$uniq" ] && [ $((n1 + n2)) -eq "$total" ]
then ok ha_one_backup_per_slot
else fail ha_one_backup_per_slot "total=$total unique=$uniq n1=$n1 n2=$n2"; fi
check ha_standby_skips grep -q 'skipped: another lifeboat holds the lock' "$T/h1.log" "$T/h2.log"
if [ "$n1" -ge "$n2" ]; then holder=h1; standby=h2; else holder=h2; standby=h1; fi
# The standby's status names the holder: the owner string the holder put
# into the lock key, which is the holder's own daemon.owner ("host pid N").
names_holder() {
	curl -sf "$(url $holder /api/status)" >"$T/holder.json" &&
	curl -sf "$(url $standby /api/status)" >"$T/standby.json" &&
	curl -sf "$(url $standby /)" >"$T/standby.html" &&
	python3 - "$T/holder.json" "$T/standby.json" "$T/standby.html" <<'PY'
import html, json, sys
h, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
hl = [c for c in h["clusters"] if c["name"] == "c1"][0]["lock"]
sl = [c for c in s["clusters"] if c["name"] == "c1"][0]["lock"]
assert hl["state"] == "held" and hl["holder"] == h["daemon"]["owner"], hl
assert sl["state"] == "standby" and sl["holder"] == h["daemon"]["owner"], (sl, h["daemon"]["owner"])
assert s["daemon"]["owner"] != h["daemon"]["owner"], s["daemon"]["owner"]
page = open(sys.argv[3]).read()
assert "standby: held by " + html.escape(sl["holder"]) in page, "page does not name the holder"
PY
}
check ha_standby_names_holder wait_for 10 names_holder
# Kill the holder outright: its lease expires and the other one takes over.
kill -9 "$(cat "$T/$holder.pid")"
before=$(completes $standby)
check ha_takeover_after_ttl wait_for 30 at_least $standby $((before + 2))
kill -TERM "$(cat "$T/$standby.pid")"
wait "$(cat "$T/$standby.pid")"
rc=$?
if [ "$rc" -eq 0 ]; then ok ha_standby_exits_0; else fail ha_standby_exits_0 "exit $rc"; fi

# --- overlap and concurrency ---------------------------------------------
# Two clusters whose "member" accepts connections and never answers: each
# run waits for the stall timeout (5 s), longer than the 2 s interval, and
# max-concurrent-clusters = 1 lets one run at a time.
hport=$(free_port)
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $hport)); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
" &
echo $! >>"$T/pids"
write_conf o "@every 1m" "stall-timeout = 5s
connect-timeout = 1s
max-concurrent-clusters = 1"
sed -i "s|^endpoints = .*|endpoints = http://127.0.0.1:$hport|" "$T/o.conf"
printf '[cluster:c2]\nendpoints = http://127.0.0.1:%s\nschedule = @every 1m\n' "$hport" >>"$T/o.conf"
start o
maxrun=0
i=0
while [ $i -lt 24 ]; do
	r=$(curl -s "$(url o /metrics)" | awk '/^lifeboat_backup_running/ { n += $2 } END { print n + 0 }')
	[ "$r" -gt "$maxrun" ] && maxrun=$r
	sleep 0.5
	i=$((i + 1))
done
if [ "$maxrun" -eq 1 ]; then ok concurrency_limit_holds
else fail concurrency_limit_holds "at most $maxrun running at once (want 1)"; fi
sk=$(metric o 'lifeboat_backup_runs_skipped_total{cluster="c1",reason="overlap"}')
if [ "${sk:-0}" -ge 1 ]; then ok overlap_skipped_and_counted
else fail overlap_skipped_and_counted "overlap skips = ${sk:-none}"; fi
check overlap_logged grep -q 'skipped: the previous run is still going' "$T/o.log"
# c2 waits for c1's run (lock and backup each stall 5 s), then gets its turn.
check concurrency_waiting_cluster_runs wait_for 40 grep -q 'cluster=c2 slot=.* run starts' "$T/o.log"
kill -TERM "$(cat "$T/o.pid")"
wait "$(cat "$T/o.pid")"
rc=$?
if [ "$rc" -eq 0 ]; then ok overlap_daemon_exits_0; else fail overlap_daemon_exits_0 "exit $rc"; fi

# --- no write access to the lock key: the lock is off, and says so -------
# etcd 3.4 lets only root take snapshots, so this user's backups fail;
# what is checked is that the daemon runs the slot without the lock.
aport=$(free_port); apport=$(free_port)
AEP=http://127.0.0.1:$aport
etcd --name a1 --data-dir "$T/a1.data" --listen-client-urls "$AEP" \
    --advertise-client-urls "$AEP" --listen-peer-urls "http://127.0.0.1:$apport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$apport" \
    --initial-cluster "a1=http://127.0.0.1:$apport" >"$T/a1.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 30 etcdctl --endpoints "$AEP" endpoint health
{ etcdctl --endpoints "$AEP" user add root:rootpw &&
  etcdctl --endpoints "$AEP" user grant-role root root &&
  etcdctl --endpoints "$AEP" role add reader &&
  etcdctl --endpoints "$AEP" role grant-permission reader read "" --from-key &&
  etcdctl --endpoints "$AEP" user add reader:readerpw &&
  etcdctl --endpoints "$AEP" user grant-role reader reader &&
  etcdctl --endpoints "$AEP" auth enable; } >"$T/auth.out" 2>&1
echo readerpw >"$T/reader.pw"
chmod 600 "$T/reader.pw"
write_conf r "@every 1m"
sed -i "s|^endpoints = .*|endpoints = $AEP\nuser = reader\npassword-file = $T/reader.pw|" "$T/r.conf"
start r
check lock_off_logged wait_for 10 grep -q 'lock off: no write access to /lifeboat/lock/c1' "$T/r.log"
check lock_off_runs_anyway wait_for 10 grep -q 'slot=.* run starts' "$T/r.log"
held=$(metric r 'lifeboat_lock_held{cluster="c1"}')
if [ "$held" = "-1" ]; then ok lock_off_metric; else fail lock_off_metric "lock_held=$held"; fi
kill -TERM "$(cat "$T/r.pid")"
wait "$(cat "$T/r.pid")"

# --- SIGHUP while holding the lock, over TLS ------------------------------
# The lock's renewing thread outlives the run that took the lock, and a
# reload frees that run's configuration: its etcd client must not borrow
# the TLS paths from it (the ASan build died on the first renewal after
# SIGHUP; the plain build lost the lock).  On the real clock with
# @yearly: one run at start (empty catalog), then only renewals, so the
# renewals use the start's client for the whole test.
(
unset LIFEBOAT_SNAPD_TIMESCALE
etcd_cluster t 1 tls || { fail tls_setup "etcd with TLS did not start"; exit 0; }
TLS="--endpoints $t_endpoints --cacert $T/certs/ca.crt --cert $T/certs/client.crt --key $T/certs/client.key"
write_conf l "@yearly"
sed -i "s|^endpoints = .*|endpoints = $t_endpoints\ncacert = $T/certs/ca.crt\ncert = $T/certs/client.crt\nkey = $T/certs/client.key|" "$T/l.conf"
start l
check reload_lock_taken wait_for 20 grep -q 'outcome=complete' "$T/l.log"
grep -q 'lock=/lifeboat/lock/c1 taken' "$T/l.log" || fail reload_lock_taken "no lock in $T/l.log"
kill -HUP "$(cat "$T/l.pid")"
check reload_with_lock_taken wait_for 5 sh -c "curl -s '$(url l /metrics)' | grep -q 'reloads_total{result=\"ok\"} 1'"
# Past the lease's TTL (15 s): only renewals keep the key.
sleep 17
check reload_daemon_alive kill -0 "$(cat "$T/l.pid")"
# shellcheck disable=SC2086
check reload_lock_kept_in_etcd sh -c "etcdctl $TLS get /lifeboat/lock/c1 --print-value-only | grep -q 'pid $(cat "$T/l.pid")'"
held=$(metric l 'lifeboat_lock_held{cluster="c1"}')
if [ "$held" = "1" ]; then ok reload_lock_held_metric; else fail reload_lock_held_metric "lock_held=${held:-none}"; fi
if grep -aq 'lock.*lost\|keepalive' "$T/l.log"
then fail reload_lock_renewed "$(grep -a -m1 'lock.*lost\|keepalive' "$T/l.log")"
else ok reload_lock_renewed; fi
# A reload that disables the cluster releases its lock now, well before
# the TTL, instead of renewing it for ever and keeping standbys out.
printf 'enabled = no\n' >>"$T/l.conf"
kill -HUP "$(cat "$T/l.pid")"
# An answer from etcd (it has a header) without the key.
# shellcheck disable=SC2086
lock_gone() { out=$(etcdctl $TLS get /lifeboat/lock/c1 -w json) &&
	echo "$out" | grep -q '"revision"' && ! echo "$out" | grep -q '"kvs"'; }
check reload_disabled_releases_lock wait_for 5 lock_gone
check reload_disabled_lock_logged grep -q 'lock=/lifeboat/lock/c1 released' "$T/l.log"
kill -TERM "$(cat "$T/l.pid")"
wait "$(cat "$T/l.pid")"
rc=$?
if [ "$rc" -eq 0 ]; then ok reload_lock_exits_0; else fail reload_lock_exits_0 "exit $rc: $(tail -n 5 "$T/l.log")"; fi
)
