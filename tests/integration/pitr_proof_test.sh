#!/bin/sh
# pitr_proof_test.sh: the daemon's side of the A -> B proof of
# point-in-time recovery (issue 15), against a real etcd (the suite's
# version, one member) and a real snapd with pitr = on and drills on its
# test clock (LIFEBOAT_SNAPD_TIMESCALE=30: `drill-schedule = @every 1m`
# drills every 2 real seconds).
#
# Proves: after the daemon's first backup A, writes captured into
# segments and backup B, the next drill of B runs the proof (A replayed
# through the event log to B's revision holds B's keys, HashKV
# compared): lifeboat_pitr_proof_last_result 1, proofs_total ok >= 1,
# /healthz 200, the alert LifeboatPitrProofFailed (its expression read
# from contrib/prometheus-alerts.yml) quiet, the "pitr" and "drill"
# audit events, /api/status's pitr block (capturing, last revision,
# the window from A, proof ok).  Then a segment between A and B is
# rewritten with one value changed (well formed, encrypted again, its
# catalog row replaced: a fault etcd and the capture cannot make on
# demand, that only the replay's comparison of live keys can tell): the
# next drill's proof fails, the metric says 0, /healthz says 503 and
# why, the alert's expression matches what the daemon exports, the
# failure is audited and each failed proof logged in one error line
# naming A, B and the keys that differ; the status page in headless
# Chromium shows the capture, the last revision, the window and the
# failed proof.  A later backup C proves again (B -> C): /healthz 200.
# Last, a gap (etcd compacted while snapd was down) starts a new chain
# from the daemon's backup D: the event log does not reach D from the
# backup before it, so a drill of D has no pair to prove, which is not a
# failed proof.
. "$(dirname "$0")/../lib.sh"

export LIFEBOAT_SNAPD_TIMESCALE="30@$(date +%s)"
TOOLS=${TOOLS:-$(dirname "$LIFEBOAT")/tools}
CAP=$TOOLS/evlogcap
[ -x "$CAP" ] || { fail setup "no $CAP (make test builds it)"; exit 1; }
t0=$(date +%s)

etcd_cluster c1 1 || { fail setup "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EP=$c1_endpoints
ec() { etcdctl --endpoints "$EP" "$@"; }
rev() { ec get /nothing -w fields | sed -n 's/^"Revision" : //p'; }

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CAT=$T/cat.db
# backups: the daemon's first (A) and gap's; B and C by hand, so that
# "latest" is what the test says (@every 6h is 12 real minutes)
cat >"$T/l.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
identity-file = $T/id.txt
catalog = $CAT
drill-dir = $T/drill
metrics-listen = 127.0.0.1:$PORT
[cluster:c1]
endpoints = $EP
schedule = @every 6h
pitr = on
pitr-segment-interval = 1s
drill-schedule = @every 1m
EOF
LB="$LIFEBOAT --config $T/l.conf"

start() {
	$LB snapd 2>>"$T/snapd.log" &
	echo $! >>"$T/pids"
	echo $! >"$T/snapd.pid"
	wait_for 10 curl -sf -o /dev/null "$BASE/metrics"
}
stop() {
	pid=$(cat "$T/snapd.pid")
	kill -TERM "$pid" 2>/dev/null
	wait_for 30 sh -c "! kill -0 $pid"
}
metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
healthz() { curl -s -o "$T/healthz.txt" -w '%{http_code}' "$BASE/healthz"; }
q() { sqlite3 "$CAT" "$1" 2>/dev/null; }
proofs() { metric "lifeboat_pitr_proofs_total{cluster=\"c1\",result=\"$1\"}"; }
at_least() { v=$($1 "$2"); [ "${v:-0}" -ge "$3" ]; }
backup_id() { sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$1"; }
# drills_off / drills_on: a reload with drill-schedule off or back on;
# off returns once no drill runs
reloads() { metric 'lifeboat_config_reloads_total{result="ok"}'; }
drills() {
	n=$(reloads)
	sed -i "s/^drill-schedule = .*/drill-schedule = $1/" "$T/l.conf"
	kill -HUP "$(cat "$T/snapd.pid")"
	wait_for 10 at_least reloads - $((n + 1)) ||
		fail reload "drill-schedule = $1 not loaded: $(tail -n 2 "$T/snapd.log")"
}
idle() { [ "$(metric 'lifeboat_drill_running{cluster="c1"}')" = 0 ]; }
drills_off() { drills off; wait_for 60 idle; }

# covered FROM TO: the catalog's segments hold every revision FROM..TO
covered() { segments_cover "$CAT" c1 "$1" "$2"; }

# alert STATE: the expression of LifeboatPitrProofFailed (NAME OP NUMBER)
# evaluated on /metrics: STATE "firing" (a c1 sample matches) or "quiet"
alert() {
	curl -s "$BASE/metrics" >"$T/metrics.txt"
	python3 - "$TOP/contrib/prometheus-alerts.yml" "$T/metrics.txt" "$1" <<'PY'
import operator, re, sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]
rule = [r for r in rules if r.get("alert") == "LifeboatPitrProofFailed"]
assert len(rule) == 1, "LifeboatPitrProofFailed: %d rules" % len(rule)
expr = rule[0]["expr"].strip()
m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(==|!=|>=|<=|>|<)\s*(-?[0-9.]+)", expr)
assert m, "expression not of the form NAME OP NUMBER: %r" % expr
name, op, val = m.group(1), m.group(2), float(m.group(3))
cmp = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
       ">": operator.gt, "<": operator.lt}[op]
text = open(sys.argv[2]).read()
assert re.search(r"^# TYPE %s gauge$" % re.escape(name), text, re.M), "no gauge " + name
samples = re.findall(r"^%s\{([^}]*)\} (\S+)$" % re.escape(name), text, re.M)
assert any('cluster="c1"' in l for l, v in samples), "no sample of %s for c1: %s" % (name, samples)
firing = [l for l, v in samples if cmp(float(v), val) and 'cluster="c1"' in l]
want = sys.argv[3] == "firing"
assert bool(firing) == want, "%s: %s on %s" % (expr, "quiet" if want else "firing", samples)
PY
}

# page: the status page in headless Chromium (page_browser.js, one
# load): c1's PITR block says capturing, the last revision ($R2), the
# window from B (A's broken by the segments of the failed proof), the
# last proof failed (badge and colour), and the health says why
page() {
	if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
		echo "# skipped page_pitr: LIFEBOAT_SUITE=asan (the browser run is the plain suite's)"
		return 0
	fi
	if [ ! -x /usr/bin/chromium ] || [ ! -d "$TOP/tests/node_modules/playwright-core" ]; then
		fail page_pitr "needs Debian's chromium and playwright-core (./scripts/deps.sh)"
		return 0
	fi
	timeout 60 node "$TOP/tests/integration/page_browser.js" "$BASE/" "$T/page.png" \
	    "$T/chromium" c1 quick >"$T/page.json" 2>"$T/page.err"
	pycheck page_pitr '
import re
r = json.load(open(sys.argv[1]))
reva, revb, r2 = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert "fatal" not in r, r.get("fatal")
assert r["cluster_rows"] == ["c1"], r["cluster_rows"]
p = r["pitr"][0]
assert p is not None, "no PITR block"
t = p["text"]
assert t.startswith("PITR: capturing, lag "), t
last = re.search(r"; last revision (\d+)", t)
assert last and int(last.group(1)) >= r2, (t, r2)
w = re.search(r"; window (\d+)\.\.(\d+);", t)
assert w and int(w.group(1)) == revb and int(w.group(2)) >= r2, (t, revb, r2)
assert "window %d.." % reva not in t, t
assert re.search(r"; last proof \S+ failed$", t), t
assert p["proof"] == "failed" and p["proof_class"] == "h-failing", p
assert r["health"][0].endswith("degraded"), r["health"]
assert r["reasons"][0] == "the last drill\u0027s point-in-time proof failed", r["reasons"]
' "$T/page.json" "$REVA" "$REVB" "$R2"
}

# ---- A, writes, B --------------------------------------------------------------
start || { fail start "snapd did not serve: $(tail -n 3 "$T/snapd.log")"; exit 1; }
check backup_a wait_for 20 sh -c "[ \"\$(sqlite3 '$CAT' \"SELECT count(*) FROM backups WHERE status = 'complete'\" 2>/dev/null)\" -ge 1 ]"
for i in 1 2 3 4 5 6; do ec put "/proof/k$i" "value $i" >/dev/null; done
ec put /proof/k2 "value 2b" >/dev/null
ec del /proof/k3 >/dev/null
printf '\nput /proof/t1 T1\nput /proof/t2 T2\n\n\n' | ec txn >/dev/null
check writes_captured wait_for 20 covered "$(($(q "SELECT max(revision) FROM backups") + 1))" "$(rev)"
$LB backup --no-progress >"$T/bB.out" 2>&1 || { fail backup_b "$(cat "$T/bB.out")"; exit 1; }
B=$(backup_id "$T/bB.out")
REVB=$(q "SELECT revision FROM backups WHERE id = '$B'")
# A: the complete backup before B (the daemon may have taken two at its
# start, its catch-up and the one the capture asked for)
A=$(q "SELECT id FROM backups WHERE status = 'complete' AND id != '$B' ORDER BY started_at DESC LIMIT 1")
REVA=$(q "SELECT revision FROM backups WHERE id = '$A'")
echo "# A $A (revision $REVA), B $B (revision $REVB)"

# ---- the proof passes -------------------------------------------------------------
check proof_ok_counted wait_for 40 at_least proofs ok 1
check proof_metric_ok test "$(metric 'lifeboat_pitr_proof_last_result{cluster="c1"}')" = 1 \
    -a "$(proofs failed)" = 0
check healthz_200 test "$(healthz)" = 200
check alert_quiet alert quiet
$LIFEBOAT catalog audit --catalog "$CAT" --json >"$T/audit1.json" 2>/dev/null
pycheck proof_ok_audited '
ev = json.load(open(sys.argv[1]))
a, b, reva, revb = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
p = [e for e in ev if e["action"] == "pitr" and e["outcome"] == "ok"]
assert p, "no pitr event: %s" % [e["action"] for e in ev]
d = p[0]["details"]
assert d["check"] == "replay" and d["from"] == a and d["to"] == b, d
assert d["from_revision"] == reva and d["to_revision"] == revb, d
assert d["hashkv_compared"] is True and "live keys equal" in d["detail"], d
dr = [e for e in ev if e["action"] == "drill" and e["backup_id"] == b and
      (e["details"].get("pitr_proof") or {}).get("result") == "ok"]
assert dr and dr[0]["outcome"] == "ok", dr
assert dr[0]["details"]["pitr_proof"]["from"] == a, dr[0]
' "$T/audit1.json" "$A" "$B" "$REVA" "$REVB"
check proof_ok_segments_verified test "$(q "SELECT count(*) FROM segments WHERE last_rev > $REVA \
    AND first_rev <= $REVB AND verify_status IS NOT 'ok'")" = 0
check proof_ok_logged grep -q "cluster=c1 drill=ok backup=$B .*pitr_proof=ok" "$T/snapd.log"
curl -s "$BASE/api/status" >"$T/status1.json"
pycheck proof_ok_status '
d = json.load(open(sys.argv[1]))["clusters"][0]
p, reva, revb = d["pitr"], int(sys.argv[2]), int(sys.argv[3])
assert p["capturing"] is True and p["last_revision"] >= revb, p
w = p["newest_window"]
assert w["from_revision"] == reva and w["to_revision"] >= revb, p
assert p["last_proof"] == "ok" and p["gaps"] == 0, p
assert d["health"]["state"] == "healthy", d["health"]
' "$T/status1.json" "$REVA" "$REVB"

# ---- a segment between A and B rewritten: the proof fails ---------------------------
# drills paused, so that none reads the segment while it is rewritten
drills_off
for SEG in $(q "SELECT object FROM segments WHERE cluster = 'c1' AND last_rev > $REVA AND \
    first_rev <= $REVB ORDER BY first_rev"); do
	"$CAP" tamper "file://$T/repo" "$T/id.txt" "$(cat "$T/rcpt")" "$SEG" /proof/k1 "$CAT" \
	    >"$T/tamper.out" 2>&1 && break
done
check tampered grep -q tampered "$T/tamper.out"
drills "@every 1m"
check proof_failure_counted wait_for 40 at_least proofs failed 1
# (drills go on, failing the same way, until a backup after B)
check proof_metric_failed test "$(metric 'lifeboat_pitr_proof_last_result{cluster="c1"}')" = 0
check healthz_503 test "$(healthz)" = 503
check healthz_says_why grep -qx "cluster c1: the last drill's point-in-time proof failed" "$T/healthz.txt"
check alert_firing alert firing
$LIFEBOAT catalog audit --catalog "$CAT" --json >"$T/audit2.json" 2>/dev/null
pycheck proof_failure_audited '
ev = json.load(open(sys.argv[1]))
a, b = sys.argv[2], sys.argv[3]
p = [e for e in ev if e["action"] == "pitr" and e["outcome"] == "failed"]
assert p, "no failed pitr event"
d = p[0]["details"]
assert d["from"] == a and d["to"] == b and "does not hold the keys of " + b in d["detail"], d
dr = [e for e in ev if e["action"] == "drill" and e["outcome"] == "failed" and e["backup_id"] == b]
assert dr, "no failed drill event"
pp = dr[0]["details"]["pitr_proof"]
assert pp["result"] == "failed" and pp["from"] == a and "does not hold the keys" in pp["detail"], pp
assert "point-in-time proof" in dr[0]["details"]["error"], dr[0]
' "$T/audit2.json" "$A" "$B"

# the page in a browser: a change after B captured (a window from B: the
# segments of the failed proof break A's), the proof failed
ec put /proof/after-b x >/dev/null
R2=$(rev)
check writes_after_b_captured wait_for 20 covered $((REVB + 1)) "$R2"
page

# pitr turned off: no drill proves a window any more, so the failed proof
# no longer holds /healthz down; back on, the drills fail it again
pitr() {
	n=$(reloads)
	sed -i "s/^pitr = .*/pitr = $1/" "$T/l.conf"
	kill -HUP "$(cat "$T/snapd.pid")"
	wait_for 10 at_least reloads - $((n + 1)) ||
		fail reload "pitr = $1 not loaded: $(tail -n 2 "$T/snapd.log")"
}
drills_off
pitr off
check healthz_200_pitr_off test "$(healthz)" = 200
pitr on
drills "@every 1m"

# ---- a later backup proves again: healthy ---------------------------------------------
$LB backup --no-progress >"$T/bC.out" 2>&1 || { fail backup_c "$(cat "$T/bC.out")"; exit 1; }
C=$(backup_id "$T/bC.out")
oks=$(proofs ok)
check proof_ok_again wait_for 40 at_least proofs ok $((oks + 1))
check healthz_200_again sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$BASE/healthz')\" = 200 ]"
check proof_ok_again_b_to_c grep -q "cluster=c1 drill=ok backup=$C .*pitr_proof=ok" "$T/snapd.log"
drills_off
# one error line per failed proof, saying what and why
pycheck proof_failure_logged '
import re
lines = [l for l in open(sys.argv[1]) if "PITR PROOF FAILED" in l]
a, b, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
assert len(lines) == n, "%d lines for %d failed proofs: %s" % (len(lines), n, lines)
for l in lines:
    assert " level=error " in l, l
    assert re.search(r"PITR PROOF FAILED in the drill of %s: %s replayed to revision %d does "
        r"not hold the keys of %s: \d+ live keys hashing to [0-9a-f]{8}" % (re.escape(b),
        re.escape(a), int(sys.argv[5]), re.escape(b)), l), l
' "$T/snapd.log" "$A" "$B" "$(proofs failed)" "$REVB"

# ---- a gap: the new chain's first backup has nothing to prove -----------------------------
# etcd compacts what the capture had not read while snapd is down: a gap,
# a backup D taken at once, a new chain from D's revision.  The event
# log does not reach D from the backup before it: a drill of D proves
# nothing and fails nothing.
stop
for i in 1 2 3; do ec put "/proof/down/$i" "v$i" >/dev/null; done
ec compact "$(rev)" >/dev/null
start || { fail restart "snapd did not start again: $(tail -n 3 "$T/snapd.log")"; exit 1; }
resumed() { [ "$(q "SELECT max(resume_rev) FROM pitr_gaps WHERE cluster = 'c1'")" -gt 0 ]; }
check gap_new_chain wait_for 30 resumed
# the first backup at the chain's revision (the catch-up at start and the
# one the capture asked for may both be there)
D=$(q "SELECT id FROM backups WHERE status = 'complete' AND revision = \
    (SELECT max(resume_rev) - 1 FROM pitr_gaps WHERE cluster = 'c1') ORDER BY started_at LIMIT 1")
REVD=$(q "SELECT revision FROM backups WHERE id = '$D'")
ec put /proof/after-gap y >/dev/null
check new_chain_captured wait_for 20 covered $((REVD + 1)) "$(rev)"
stop
$LB drill --backup "$D" --json >"$T/dD.json" 2>"$T/dD.err"
check gap_drill_exit_0 test $? -eq 0
pycheck gap_drill_no_pair '
d = json.load(open(sys.argv[1]))
p = d["pitr_proof"]
assert d["result"] == "ok" and d["backup_id"] == sys.argv[2], d
assert p["result"] == "no pair" and "in its window" in p["detail"], p
assert "reaches only revision" in p["detail"], p
' "$T/dD.json" "$D"
check gap_drill_not_loud sh -c "! grep -q 'PITR PROOF FAILED' '$T/dD.err'"
echo "# pitr_proof_test: $(($(date +%s) - t0)) s (etcd $TEST_ETCD_VERSION)"
