#!/bin/sh
# backup_compaction_test.sh: a backup's comparison of the members' HashKV
# (backup/backup.c: check_consistency) while etcd compacts, as the
# Kubernetes API server has it do every 5 minutes.  A hash covers the
# revisions from the member's compact revision on, and each member
# applies a compaction at its own moment.  Here one member's client URL
# is a long link (tests/tcpfault.py --delay: every byte 300 ms late) and
# a writer overwrites a few keys and compacts (to head - 100) many times
# a second, so that member always answers from a later compaction than
# the others.
#
# Proves: such a backup is complete and is not reported as members
# diverging (exit 0, not 4; no DIVERGE; "consistent" is not false: true
# from a round whose answers came from one compaction, or null with the
# reason); with the compactions over, the next backup compares them
# ("consistent": true).  Before the fix, every such backup exited 4 with
# "members DIVERGE".
. "$(dirname "$0")/../lib.sh"

etcd_cluster c 3 || { fail setup "etcd did not start"; exit 1; }
EP1=$(cat "$T/c/m1.url")
M3=$(cat "$T/c/m3.url")
rp=$(free_port)
python3 "$TOP/tests/tcpfault.py" "$rp" "${M3##*:}" --delay 300 >"$T/relay.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 10 grep -q ready "$T/relay.log" || { fail setup "relay did not start"; exit 1; }
# m3 again, advertising the relay: a backup reaches members by the
# client URLs they advertise
etcd_stop c 3
etcd --name m3 --data-dir "$T/c/m3.data" --listen-client-urls "$M3" \
    --advertise-client-urls "http://127.0.0.1:$rp" \
    --listen-peer-urls "$(cat "$T/c/m3.peer")" \
    --initial-advertise-peer-urls "$(cat "$T/c/m3.peer")" \
    --logger zap --log-outputs stderr >>"$T/c/m3.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 20 etcdctl --endpoints "$M3" endpoint health >/dev/null 2>&1 ||
	{ fail setup "m3 did not start again"; exit 1; }
wait_for 20 sh -c "etcdctl --endpoints '$EP1' member list | grep -q ':$rp'" ||
	{ fail setup "m3 does not advertise the relay"; exit 1; }

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
cat >"$T/l.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)
catalog = $T/cat.db
[cluster:c1]
endpoints = $EP1, $(cat "$T/c/m2.url"), http://127.0.0.1:$rp
EOF

# the writer: 20 keys overwritten in turn (so a compaction drops old
# revisions of them), a compaction every 5 writes, until $T/stop
python3 - "$EP1" "$T/stop" >"$T/writer.log" 2>&1 <<'PY' &
import base64, http.client, json, os, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def post(path, body):
    c.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read() or b"{}")
    if r.status != 200:
        sys.exit("%s: %d %s" % (path, r.status, out))
    return out
i = compactions = 0
while not os.path.exists(sys.argv[2]):
    r = post("/v3/kv/put", {"key": base64.b64encode(b"/k/%d" % (i % 20)).decode(),
                            "value": base64.b64encode(b"v%d" % i).decode()})
    rev = int(r["header"]["revision"])
    if i % 5 == 4 and rev > 150:
        post("/v3/kv/compaction", {"revision": str(rev - 100)})
        compactions += 1
    i += 1
print("writes %d compactions %d" % (i, compactions))
PY
WRITER=$!
echo $WRITER >>"$T/pids"
wait_for 20 sh -c "[ \$(etcdctl --endpoints '$EP1' get / --rev 2 2>&1 | grep -c compacted) -ge 1 ]"

consistency() {   # consistency FILE: the newest manifest's "consistency"
	python3 -c '
import glob, json, os, sys
m = max(glob.glob(sys.argv[1] + "/c1/*/*/*/*/manifest.json"), key=os.path.getmtime)
print(json.dumps(json.load(open(m))["consistency"]))' "$T/repo"
}

"$LIFEBOAT" --config "$T/l.conf" backup >"$T/b1.out" 2>"$T/b1.err"
rc=$?
check backup_while_compacting_exit_0 test "$rc" -eq 0
check backup_while_compacting_no_divergence sh -c "! grep -q DIVERGE '$T/b1.out' '$T/b1.err'"
consistency >"$T/c1.json"
# compared from one compaction (asked again while the answers were from
# different ones), or left undone saying why
pycheck backup_while_compacting_not_false '
c = json.load(open(sys.argv[1]))
assert c["consistent"] is not False, c
assert c["consistent"] is True or "compact" in (c["error"] or ""), c
' "$T/c1.json"
echo "# $(grep -c 'asking again' "$T/b1.err") rounds asked again; $(cat "$T/c1.json")"

touch "$T/stop"
wait "$WRITER"
check writer_ok test $? -eq 0
echo "# writer: $(cat "$T/writer.log")"
"$LIFEBOAT" --config "$T/l.conf" backup >"$T/b2.out" 2>"$T/b2.err"
check backup_after_compactions_exit_0 test $? -eq 0
consistency >"$T/c2.json"
pycheck backup_after_compactions_compared '
c = json.load(open(sys.argv[1]))
assert c["consistent"] is True and len(c["hashes"]) == 3, c
' "$T/c2.json"
