#!/bin/sh
# page_test.sh: snapd's status page (/ and /api/status) from a running
# daemon on its test clock (LIFEBOAT_SNAPD_TIMESCALE=30: `@every 1m` runs
# every 2 real seconds) against a real etcd, with three days of hourly
# backups already in the catalog (tests/tools/statustool fill) and the
# daemon's own on top.
#
# Proves: /api/status is JSON (application/json) whose fields agree with
# `lifeboat catalog list --json` (newest backups, last success, members'
# revisions, counts, audit rows); / is text/html; neither body holds the
# identity, the S3 secret or its key id; headless Chromium (Debian's,
# through playwright-core) renders one row per cluster, charts with data
# points, no error text, no script and no outside request, a phone width
# without sideways scrolling, and the same text with JavaScript off as
# with it on; screenshots are kept in $T (KEEP=1 keeps $T; PAGE_SHOT=FILE
# copies the first screen there).  Under
# LIFEBOAT_SUITE=asan the browser part is skipped, the curl checks stay.
. "$(dirname "$0")/../lib.sh"

SCALE=30
export LIFEBOAT_SNAPD_TIMESCALE="$SCALE@$(date +%s)"
TOOLS=${TOOLS:-$(dirname "$LIFEBOAT")/tools}

cport=$(free_port); pport=$(free_port)
EP=http://127.0.0.1:$cport
etcd --name m1 --data-dir "$T/m1.data" \
    --listen-client-urls "$EP" --advertise-client-urls "$EP" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "m1=http://127.0.0.1:$pport" \
    --logger zap --log-outputs stderr >>"$T/etcd.log" 2>&1 &
echo $! >>"$T/pids"
wait_for 30 etcdctl --endpoints "$EP" endpoint health || { fail setup "etcd did not start"; exit 1; }
for i in $(seq 1 50); do etcdctl --endpoints "$EP" put "/registry/pods/p$i" "v$i" >/dev/null; done

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/keygen.out" 2>&1
RCPT=$(grep -o 'age1[a-z0-9]*' "$T/keygen.out" | head -n 1)
SECRET_KEY=$(grep -o 'AGE-SECRET-KEY-[A-Z0-9]*' "$T/id.txt")
S3_ID=AKIAPAGETEST7EXAMPLE
S3_SECRET=wJalrPageTestSecret/K7MDENG/bPxRfiCYEXAMPLEKEY
echo "$S3_SECRET" >"$T/s3-secret"
port=$(free_port)
BASE=http://127.0.0.1:$port
cat >"$T/snapd.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $RCPT
identity-file = $T/id.txt
s3-access-key-id = $S3_ID
s3-secret-access-key-file = $T/s3-secret
catalog = $T/catalog.db
metrics-listen = 127.0.0.1:$port
[cluster:alpha]
endpoints = $EP
schedule = @every 1m
verify-schedule = @every 2m
[cluster:beta]
endpoints = $EP
schedule = @every 1m
lock-prefix = /lifeboat/lock-beta/
EOF

# three days of hourly backups before the daemon's own
"$TOOLS/statustool" "$T/catalog.db" fill alpha,beta 72 3600 ||
	{ fail setup "statustool fill"; exit 1; }
"$LIFEBOAT" --config "$T/snapd.conf" snapd 2>"$T/snapd.log" &
echo $! >>"$T/pids"
echo $! >"$T/snapd.pid"
wait_for 10 curl -sf -o /dev/null "$BASE/healthz" ||
	{ fail setup "snapd did not serve: $(tail -n 3 "$T/snapd.log")"; exit 1; }
check startup_log_names_the_page grep -q "status page on $BASE/" "$T/snapd.log"
daemon_backups() { [ "$(sqlite3 "$T/catalog.db" "SELECT COUNT(*) FROM backups WHERE \
	host != 'fixture' AND status = 'complete' AND cluster = '$1'")" -ge "$2" ]; }
check daemon_backups_alpha wait_for 30 daemon_backups alpha 3
check daemon_backups_beta wait_for 30 daemon_backups beta 3
verified() { [ "$(sqlite3 "$T/catalog.db" "SELECT COUNT(*) FROM backups WHERE \
	host != 'fixture' AND verify_status = 'ok'")" -ge 1 ]; }
check daemon_verified wait_for 30 verified

# --- /api/status against the catalog -------------------------------------
ctype() { curl -s -o /dev/null -w '%{content_type}' "$BASE$1"; }
check api_content_type sh -c "[ '$(ctype /api/status)' = application/json ]"
check page_content_type sh -c "[ '$(ctype /)' = 'text/html; charset=utf-8' ]"
# The daemon keeps backing up: a snapshot of the catalog counts when the
# listings before and after the request agree.
agree() {
	"$LIFEBOAT" catalog list --catalog "$T/catalog.db" --json >"$T/list1.json" 2>/dev/null &&
	curl -sf "$BASE/api/status" >"$T/status.json" &&
	curl -sf "$BASE/" >"$T/page.html" &&
	"$LIFEBOAT" catalog audit --catalog "$T/catalog.db" --json >"$T/audit.json" 2>/dev/null &&
	"$LIFEBOAT" catalog list --catalog "$T/catalog.db" --json >"$T/list2.json" 2>/dev/null &&
	cmp -s "$T/list1.json" "$T/list2.json"
}
check catalog_still wait_for 20 agree
pycheck api_matches_catalog "$(cat <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = json.load(open(sys.argv[2]))
audit = json.load(open(sys.argv[3]))
assert doc["format"] == "lifeboat-status/1", doc["format"]
d = doc["daemon"]
for k in ("version", "owner", "started", "now", "wall_now", "clock_scale", "catalog_error"):
    assert k in d, k
assert d["catalog_error"] is None, d["catalog_error"]
assert d["clock_scale"] == 30, d["clock_scale"]
names = [c["name"] for c in doc["clusters"]]
assert names == ["alpha", "beta"], names
newest = sorted(rows, key=lambda r: (r["started_at"], r["id"]), reverse=True)
assert [b["id"] for b in doc["backups"]] == [r["id"] for r in newest[:20]], "newest 20 backups"
for b, r in zip(doc["backups"], newest):
    assert b["status"] == r["status"] and b["started_at"] == r["started_at"], b["id"]
    assert b["stored_size_bytes"] == r["stored_size"] and b["db_size_bytes"] == r["db_size"], b["id"]
for c in doc["clusters"]:
    mine = [r for r in newest if r["cluster"] == c["name"]]
    done = [r for r in mine if r["status"] == "complete"]
    assert c["health"]["state"] == "healthy", (c["name"], c["health"])
    assert c["last_success"]["backup_id"] == done[0]["id"], c["name"]
    assert c["last_attempt"]["backup_id"] == [r for r in mine if r["status"] != "running"][0]["id"]
    assert c["last_attempt"]["outcome"] == "complete" and c["last_attempt"]["error"] is None
    assert c["members_of"] == done[0]["id"], (c["members_of"], done[0]["id"])
    want = {m["name"]: m["revision"] for m in done[0]["members"]}
    assert {m["name"]: m["revision"] for m in c["members"]} == want, c["members"]
    assert all(m["revision"] > 0 for m in c["members"])
    for s in ("complete", "partial", "failed"):
        assert c["counts"][s] == len([r for r in mine if r["status"] == s]), (c["name"], s)
    ch = c["charts"]
    n = len(ch["at"])
    assert n == len([r for r in mine if r["status"] in ("complete", "partial")]), n
    assert n >= 72 and len(ch["db_size_bytes"]) == n and len(ch["stored_size_bytes"]) == n
    assert len(ch["duration_seconds"]) == n and ch["at"] == sorted(ch["at"])
    assert c["last_drill"] is None and ch["drill_rto_seconds"] == [] and ch["drill_at"] == []
    assert c["next_run"] is not None and c["enabled"] is True
    assert c["lock"]["state"] == "held" and c["lock"]["holder"] == d["owner"], c["lock"]
v = doc["clusters"][0]["last_verify"]
assert v is not None and v["result"] == "ok", v
assert doc["clusters"][1]["last_verify"]["backup_id"].endswith(".000Z-f01047"), "fixture's verify"
ev = sorted(audit, key=lambda e: e["id"], reverse=True)[:20]
assert [e["id"] for e in doc["audit"]] == [e["id"] for e in ev], "newest 20 audit events"
EOF
)" "$T/status.json" "$T/list1.json" "$T/audit.json"
nosecret() { ! grep -qF -e "$SECRET_KEY" -e "$S3_SECRET" -e "$S3_ID" -e "id.txt" "$1"; }
check no_secret_in_json nosecret "$T/status.json"
check no_secret_in_page nosecret "$T/page.html"
check page_has_no_script sh -c "! grep -qi '<script' '$T/page.html'"
check page_refreshes grep -q '<meta http-equiv="refresh" content="30">' "$T/page.html"

# --- scheduled drills ------------------------------------------------------
# A reload gives alpha a drill every 2m (4 real seconds) and beta none:
# each drill is recorded, counted in /metrics, shown by /api/status and
# the page, never runs beside a backup of its cluster, and leaves nothing
# in drill-dir.  Then drills that cannot run (no etcd in drill-etcd-dirs)
# with drill-max-age: /healthz fails and says why.
sed -i "s|^verify-schedule = @every 2m$|&\\ndrill-schedule = @every 2m|;
    s|^lock-prefix = /lifeboat/lock-beta/$|&\\ndrill-schedule = off|;
    s|^catalog = .*|&\\ndrill-dir = $T/drill|" "$T/snapd.conf"
kill -HUP "$(cat "$T/snapd.pid")"
metric() { curl -sf "$BASE/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
drills_ok() { [ "$(metric 'lifeboat_drill_total{cluster="alpha",result="ok"}')" -ge "$1" ]; }
check drill_scheduled wait_for 60 drills_ok 2
idle() { [ "$(metric 'lifeboat_drill_running{cluster="alpha"}')" = 0 ] &&
	[ -z "$(ls -A "$T/drill" 2>/dev/null)" ]; }
check drill_dir_wiped wait_for 20 idle
check drill_recorded test "$(sqlite3 "$T/catalog.db" "SELECT COUNT(*) FROM drills WHERE
    cluster = 'alpha' AND result = 'ok' AND rto_ms > 0")" -ge 2
check drill_none_for_beta test "$(sqlite3 "$T/catalog.db" \
    "SELECT COUNT(*) FROM drills WHERE cluster = 'beta'")" = 0
curl -sf "$BASE/api/status" >"$T/status2.json"
curl -sf "$BASE/" >"$T/page2.html"
pycheck drill_in_api "$(cat <<'EOF'
doc = json.load(open(sys.argv[1]))
a, b = doc["clusters"]
d = a["last_drill"]
assert d is not None and d["result"] == "ok" and d["rto_seconds"] > 0, d
assert d["backup_id"] and d["at"], d
assert len(a["charts"]["drill_at"]) >= 2 and len(a["charts"]["drill_rto_seconds"]) == len(a["charts"]["drill_at"])
assert b["last_drill"] is None, b["last_drill"]
EOF
)" "$T/status2.json"
check drill_on_page grep -q 'RTO [0-9.]* s' "$T/page2.html"
pycheck drill_never_beside_backup "$(cat <<'EOF'
import re
backup = drill = False
for line in open(sys.argv[1]):
    if "cluster=alpha " not in line:
        continue
    if " run starts" in line:
        assert not drill, "backup started during a drill: " + line
        backup = True
    elif re.search(r" backup=\S+ outcome=", line):
        backup = False
    elif "drill starts" in line:
        assert not backup, "drill started during a backup: " + line
        drill = True
    elif "drill=ok" in line or "drill=failed" in line:
        drill = False
EOF
)" "$T/snapd.log"
# A second appliance on the same bucket drills alpha without backing it
# up (enabled = no): before each drill it learns the bucket's backups (a
# catalog rebuild) and records the drill in its own catalog.
port2=$(free_port)
sed -e "s|^catalog = .*|catalog = $T/catalog2.db|; s|^drill-dir = .*|drill-dir = $T/drill2|" \
    -e "s|^metrics-listen = .*|metrics-listen = 127.0.0.1:$port2|" \
    -e "s|^schedule = @every 1m$|&\\nenabled = no|" "$T/snapd.conf" >"$T/snapd2.conf"
"$LIFEBOAT" --config "$T/snapd2.conf" snapd 2>"$T/snapd2.log" &
echo $! >>"$T/pids"
echo $! >"$T/snapd2.pid"
drilled2() { [ "$(sqlite3 "$T/catalog2.db" "SELECT COUNT(*) FROM drills WHERE
	cluster = 'alpha' AND result = 'ok'" 2>/dev/null)" -ge 1 ]; }
check second_appliance_drills wait_for 60 drilled2
check second_appliance_learned grep -q "cluster=alpha drill: catalog rebuilt from the bucket" "$T/snapd2.log"
check second_appliance_backs_up_nothing sh -c "! grep -q ' run starts' '$T/snapd2.log'"
kill "$(cat "$T/snapd2.pid")"
check second_appliance_stops wait_for 40 sh -c "! kill -0 $(cat "$T/snapd2.pid")"

# --- the page in headless Chromium ---------------------------------------
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "skip browser: LIFEBOAT_SUITE=asan"
elif [ ! -x /usr/bin/chromium ] || [ ! -d "$TOP/tests/node_modules/playwright-core" ]; then
	fail browser "needs Debian's chromium and playwright-core (./scripts/deps.sh)"
else
	timeout 90 node "$TOP/tests/integration/page_browser.js" "$BASE/" "$T/status-page.png" \
	    "$T/chromium-profile" alpha,beta >"$T/browser.json" 2>"$T/browser.err"
	pycheck browser_dom "$(cat <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert "fatal" not in r, r.get("fatal")
assert r["status"] == 200 and r["content_type"] == "text/html; charset=utf-8", r["content_type"]
assert r["cluster_rows"] == ["alpha", "beta"], r["cluster_rows"]
assert r["health"] == ["\u2714 healthy"] * 2, r["health"]
assert r["pitr"] == [None, None], r["pitr"]    # pitr off: no PITR block
charts = r["charts"]
assert len(charts) == 8, len(charts)
for c in charts:
    assert c["title"] and c["ticks"] >= 6 and c["box"] > 300, c
    if c["metric"] != "drill_rto":
        assert c["points"] >= 72, c
assert r["error_text"] == [], r["error_text"]
assert r["scripts"] == 0 and r["outside"] == [], (r["scripts"], r["outside"])
assert all(u.startswith("http://127.0.0.1:") for u in r["requests"]), r["requests"]
assert r["page_errors"] == [], r["page_errors"]
assert r["nojs_text_equal"] is True, "text differs with JavaScript off"
assert r["phone_overflow"] <= 0 and r["phone_chart_columns"] == 1, (r["phone_overflow"], r["phone_chart_columns"])
EOF
)" "$T/browser.json"
	check screenshot_taken test -s "$T/status-page.png"
	# PAGE_SHOT=docs/status-page.png refreshes the README's picture
	[ -z "${PAGE_SHOT:-}" ] || cp "$T/status-page-top.png" "$PAGE_SHOT"
fi

mkdir -p "$T/noetcd"
sed -i "s|^drill-dir = .*|&\\ndrill-etcd-dirs = $T/noetcd|;
    s|^drill-schedule = @every 2m$|&\\ndrill-max-age = 1m|" "$T/snapd.conf"
kill -HUP "$(cat "$T/snapd.pid")"
drill_unhealthy() { [ "$(curl -s -o "$T/healthz.txt" -w '%{http_code}' "$BASE/healthz")" = 503 ] &&
	grep -q '^cluster alpha: no good restore drill since' "$T/healthz.txt"; }
drills_failed() { [ "$(metric 'lifeboat_drill_total{cluster="alpha",result="failed"}')" -ge 1 ]; }
check drill_failed_counted wait_for 30 drills_failed
check drill_max_age_fails_healthz wait_for 30 drill_unhealthy

# --- the daemon stops cleanly; nothing it started stays ------------------
kill "$(cat "$T/snapd.pid")"
check snapd_stops wait_for 40 sh -c "! kill -0 $(cat "$T/snapd.pid")"
