#!/bin/sh
# watch_test.sh: etcd_watch and the replay calls (etcd/etcd_watch.h),
# driven by build/tools/watchtool, against real etcd (the suite's version,
# LIFEBOAT_ETCD_VERSION).  A member gets puts, overwrites, an empty value,
# a transaction of several keys, keys on a lease, two 1.4 MiB values (so
# the catch-up response is fragmented), a prefix delete and a lease revoke
# (one revision, several deletes); the watch from the snapshot's revision
# must print exactly what `etcdctl watch --rev` prints.  Replayed with
# etcd_txn_apply into a member restored from that snapshot, every
# revision comes out with the same number and the same events, and
# HashKV at the last revision equals the original's.  An idle watch is
# not cut by the stall timeout and gets progress notifications; a watch
# from a compacted revision is LB_E_COMPACTED with etcd's revision.
. "$(dirname "$0")/../lib.sh"

WT=${WATCHTOOL:-$(dirname "$LIFEBOAT")/tools/watchtool}
[ -x "$WT" ] || { fail watch_tool "no $WT (make test)"; exit 1; }
V=$TEST_ETCD_VERSION

# member NAME EXTRA...: starts a one-member etcd in $T/NAME (data dir
# $T/NAME.data, made by a restore when it exists); EP_NAME is its URL.
member() {
	name=$1; shift
	pp=$(free_port); cp=$(free_port)
	echo "http://127.0.0.1:$pp" >"$T/$name.peer"
	if [ -n "${RESTORE:-}" ]; then
		snaptool snapshot restore "$RESTORE" --data-dir "$T/$name.data" --name "$name" \
		    --initial-cluster "$name=http://127.0.0.1:$pp" \
		    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		    >"$T/$name.restore.log" 2>&1 || return 1
	fi
	etcd --name "$name" --data-dir "$T/$name.data" \
	    --listen-client-urls "http://127.0.0.1:$cp" \
	    --advertise-client-urls "http://127.0.0.1:$cp" \
	    --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "$name=http://127.0.0.1:$pp" "$@" \
	    --logger zap --log-outputs stderr >"$T/$name.log" 2>&1 &
	echo $! >>"$T/pids"
	eval "EP_$name=http://127.0.0.1:$cp"
	wait_for 30 etcdctl --endpoints "http://127.0.0.1:$cp" endpoint health
}

# rev EP: the member's current revision.
rev() {
	etcdctl --endpoints "$1" endpoint status -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}

hashkv() {
	etcdctl --endpoints "$1" endpoint hashkv --rev "$2" -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])'
}

# etcd 3.6 renamed the flag (3.7 knows only the new name).
if etcd --help 2>&1 | grep -q -- '--watch-progress-notify-interval'; then
	PROGRESS=--watch-progress-notify-interval=1s
else
	PROGRESS=--experimental-watch-progress-notify-interval=1s
fi

t0=$(date +%s)
member src "$PROGRESS" || { fail watch_start "etcd $V did not start"; exit 1; }
S=$EP_src
etcdctl --endpoints "$S" put before 1 >/dev/null
etcdctl --endpoints "$S" snapshot save "$T/snap.db" >/dev/null 2>&1 ||
	{ fail watch_snapshot "snapshot save failed"; exit 1; }
R=$(rev "$S")

# A live watch sees the writes as they happen (and their lease alive).
"$WT" watch "$S" $((R + 1)) 999999 40 >"$T/live.out" 2>"$T/live.err" &
lpid=$!
echo $lpid >>"$T/pids"

# The writes, each a revision.
ctl() { etcdctl --endpoints "$S" "$@" >/dev/null; }
ctl put a 1
ctl put a 2
ctl put empty ""
printf '\nput t/1 one\nput t/2 two\nput t/3 three\ndel a\n\n\n' >"$T/txn"
ctl txn <"$T/txn"
LEASE=$(etcdctl --endpoints "$S" lease grant 600 | awk '{print $2}')
ctl put --lease="$LEASE" l/1 x
ctl put --lease="$LEASE" l/2 y
python3 -c 'import base64,os; print(base64.b64encode(os.urandom(1050000)).decode()[:1400000], end="")' >"$T/big"
ctl put big1 <"$T/big"
ctl put big2 <"$T/big"
ctl put "key with spaces" "v"
ctl del --prefix t/
ctl lease revoke "$LEASE"
ctl put last done
E=$(rev "$S")
echo "# etcd $V: revisions $((R + 1))..$E"

wait_for 20 grep -q "^$E " "$T/live.out"
kill "$lpid" 2>/dev/null

# The watch from the snapshot's revision, catching up on all of it in
# one response (fragmented: two values of 1.4 MiB), against etcdctl's.
"$WT" watch "$S" $((R + 1)) "$E" 20 >"$T/w.out" 2>"$T/w.err"
check watch_runs test -s "$T/w.out"
etcdctl --endpoints "$S" watch --rev $((R + 1)) --prefix "" -w json >"$T/ctl.json" 2>/dev/null &
cpid=$!
echo $cpid >>"$T/pids"
wait_for 20 sh -c "grep -q '\"mod_revision\":$E[,}]' '$T/ctl.json'"
kill "$cpid" 2>/dev/null
python3 - "$T/ctl.json" >"$T/ctl.out" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    for e in json.loads(line).get("Events") or []:
        kv = e["kv"]
        print(kv["mod_revision"], "del" if e.get("type", 0) in (1, "DELETE") else "put",
              kv.get("key") or "-", kv.get("value") or "-", kv.get("create_revision", 0),
              kv["mod_revision"], kv.get("version", 0), kv.get("lease", 0))
EOF
grep -v '^\(lease\|progress\) ' "$T/w.out" >"$T/w.events"
check watch_equals_etcdctl cmp "$T/w.events" "$T/ctl.out"
check watch_progress_created grep -qx "progress $R" "$T/w.out"
pycheck watch_shapes '
ev = [l.split() for l in open(sys.argv[1])]
revs = [int(e[0]) for e in ev]
assert revs == sorted(revs) and revs[-1] == int(sys.argv[2]), revs
assert set(revs) == set(range(int(sys.argv[3]) + 1, int(sys.argv[2]) + 1)), "a revision missing"
txn = [e for e in ev if (e[1], e[2]) in (("put", "dC8x"), ("put", "dC8y"), ("put", "dC8z"), ("del", "YQ=="))]
assert len(txn) == 4 and len({e[0] for e in txn}) == 1, txn
big = [e for e in ev if e[2] in ("YmlnMQ==", "YmlnMg==")]
assert len(big) == 2 and all(len(e[3]) > 1800000 for e in big), "big values"
dels = [e for e in ev if e[1] == "del"]
assert len(dels) == 6, dels
' "$T/w.events" "$E" "$R"
grep -v '^\(lease\|progress\) ' "$T/live.out" >"$T/live.events"
check watch_live_equals_catchup cmp "$T/live.events" "$T/w.events"
LID=$(printf '%d' "0x$LEASE")
check watch_lease_ttl_live grep -qx "lease $LID 600" "$T/live.out"
check watch_lease_ttl_gone grep -qx "lease $LID 0" "$T/w.out"

# Replay into a member restored from the snapshot at R.
RESTORE=$T/snap.db member dst --max-request-bytes=67108864 --max-txn-ops=100000 ||
	{ fail watch_replay_start "restored etcd $V did not start"; exit 1; }
D=$EP_dst
check watch_replay_start_rev test "$(rev "$D")" -eq "$R"
check watch_replay_apply "$WT" apply "$D" "$T/w.out"
"$WT" watch "$D" $((R + 1)) "$E" 20 2>"$T/d.err" | grep -v '^\(lease\|progress\) ' >"$T/d.events"
check watch_replay_same_events cmp "$T/w.events" "$T/d.events"
HS=$(hashkv "$S" "$E")
HD=$(hashkv "$D" "$E")
check watch_replay_hashkv test "$HS" = "$HD"
echo "# hashkv at $E: $HS (source) $HD (replayed)"
check_exit watch_replay_refused 1 'duplicate|revision|exist' "$WT" apply "$D" "$T/w.out"

# Idle: on the replayed member (no progress notifications) a watch with a
# 1 s stall timeout lives for its whole 3 s; on the source (1 s
# progress interval) progress notifications arrive.
DR=$(rev "$D")
check_exit watch_idle_not_cut 3 'timed out at revision' env WATCHTOOL_STALL=1 \
    "$WT" watch "$D" $((DR + 1)) $((DR + 1)) 3
"$WT" watch "$S" $((E + 1)) 0 8 3 >"$T/p.out" 2>"$T/p.err"
check watch_progress test "$(grep -cx "progress $E" "$T/p.out")" -ge 3
check watch_progress_no_events test "$(grep -cv '^progress ' "$T/p.out")" -eq 0

# Compaction: a watch from before it is refused with etcd's revision.
ctl compact $((E - 2))
check_exit watch_compacted 4 "^compacted $((E - 2))\$" "$WT" watch "$S" $((R + 1)) "$E" 10
check watch_after_compaction "$WT" watch "$S" $((E - 2)) "$E" 10
echo "# watch on etcd $V: $(($(date +%s) - t0)) s"
