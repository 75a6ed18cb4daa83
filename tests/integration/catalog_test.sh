#!/bin/sh
# catalog_test.sh: `lifeboat catalog list/show/audit` on catalogs prepared
# through the catalog API (tests/tools/catalog_fixture.c), checked with
# python3's json module; plus the exit statuses and messages for bad
# times, unknown ids, missing, corrupt and too-new catalogs.
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1
DB=$T/cat/catalog.db
# The fixture tool links the same library as $LIFEBOAT (make test).
FIX=$(dirname "$LIFEBOAT")/tools/catalog_fixture
[ -x "$FIX" ] || { fail build_fixture "$FIX missing (make test)"; exit 1; }

# pyjson NAME FILE PYTHON: runs PYTHON with `d` = the JSON in FILE.
pyjson() {
	name=$1; file=$2; code=$3
	check "$name" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
$code
" "$file"
}

# Manifests like backup writes them: three taken relative to now, one old.
python3 - "$T" <<'EOF'
import json, sys, time, datetime
t = sys.argv[1]
H = '0123456789abcdef' * 4
def iso(s):
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
def mf(bid, cluster, start, status, names, failed=()):
    members = []
    for i, n in enumerate(names):
        if n in failed:
            members.append({"name": n, "id": "%016x" % (i + 1), "endpoint": "http://127.0.0.1:2379",
                            "learner": False, "leader": False, "status": "failed",
                            "error": "connection refused"})
            continue
        members.append({"name": n, "id": "%016x" % (i + 1), "endpoint": "http://127.0.0.1:%d" % (2379 + i),
                        "learner": False, "leader": i == 0, "status": "ok", "error": None,
                        "etcd_version": "3.4.23", "revision": 12345, "raft_index": 100 + i,
                        "raft_term": 2, "db_size": 1048576, "etcd_sha256": H,
                        "object": "%s/2025/11/21/%s/%s.db.zst.age" % (cluster, bid, n),
                        "stored_size": 300000 + i, "stored_sha256": H,
                        "started_at": iso(start), "finished_at": iso(start + 9)})
    return {"format": "lifeboat-manifest/1", "backup_id": bid, "cluster": cluster,
            "cluster_id": "cdf818194e3a8c32", "status": status, "started_at": iso(start),
            "finished_at": iso(start + 9), "lifeboat_version": "0.1.0", "hostname": "h",
            "leader": "m1", "etcd_version": "3.4.23", "revision": 12345,
            "db_size": 1048576, "stored_size": 300000 * len(names),
            "compression": {"algorithm": "zstd", "level": 3, "threads": 2},
            "encryption": {"format": "age-v1", "recipients": ["sha256:0123456789abcdef"]},
            "consistency": {"revision": 12345, "consistent": True, "hashes": {"m1": 123}},
            "members": members}
now = int(time.time())
old = 1763768700  # 2025-11-21T23:45:00Z
docs = [mf("20251121T234500Z-3f9a1c", "prod", old, "complete", ["m1", "m2", "m3"]),
        mf("20251122T004500Z-000001", "prod", old + 3600, "partial", ["m1", "m2", "m3"], ["m2"]),
        mf("20251121T120000Z-0000d1", "dev", old - 42300, "complete", ["d1"]),
        mf("recent-prod", "prod", now - 3600, "complete", ["m1", "m2", "m3"])]
for i, d in enumerate(docs):
    open("%s/m%d.json" % (t, i), "w").write(json.dumps(d))
open("%s/now" % t, "w").write(iso(now - 60))
EOF

check fixture_record "$FIX" "$DB" record "$T/m0.json" "$T/m1.json" "$T/m2.json" "$T/m3.json"
check fixture_begin "$FIX" "$DB" begin prod running-now "$(cat "$T/now")"
check fixture_verify "$FIX" "$DB" verify 20251121T234500Z-3f9a1c ok "3 members restored"
check fixture_audit1 "$FIX" "$DB" audit backup prod 20251121T234500Z-3f9a1c ok '{"members":3}'
check fixture_audit2 "$FIX" "$DB" audit prune prod 20251122T004500Z-000001 ok

# list --json: every backup, oldest first, the documented fields.
"$LIFEBOAT" catalog list --catalog "$DB" --json >"$T/all.json"
pyjson list_json_all "$T/all.json" '
assert [b["id"] for b in d] == ["20251121T120000Z-0000d1", "20251121T234500Z-3f9a1c",
    "20251122T004500Z-000001", "recent-prod", "running-now"], [b["id"] for b in d]
b = d[1]
assert b["cluster"] == "prod" and b["status"] == "complete"
assert b["started_at"] == "2025-11-21T23:45:00Z" and b["finished_at"] == "2025-11-21T23:45:09Z"
assert b["revision"] == 12345 and b["db_size"] == 1048576 and b["stored_size"] == 900000
assert b["snapshots_size"] == 3 * 1048576 and abs(b["ratio"] - 3 * 1048576 / 900000) < 1e-9, b
assert isinstance(b["verified_at"], str) and b["verified_at"].endswith("Z"), b["verified_at"]
assert b["verify_status"] == "ok"
m = b["members"]
assert [x["name"] for x in m] == ["m1", "m2", "m3"]
assert m[1]["id"] == "0000000000000002" and m[1]["revision"] == 12345
assert m[1]["location"] == "prod/2025/11/21/20251121T234500Z-3f9a1c/m2.db.zst.age"
assert m[1]["sha256"] == "0123456789abcdef" * 4 and m[1]["stored_size"] == 300001
assert m[1]["status"] == "ok"
p = d[2]
assert p["status"] == "partial" and p["members_ok"] == 2 and p["members_total"] == 3
assert p["members"][1]["status"] == "failed" and p["members"][1]["location"] is None
r = d[4]
assert r["status"] == "running" and r["finished_at"] is None and r["members"] == []
'
"$LIFEBOAT" catalog list --catalog "$DB" --json --cluster prod >"$T/prod.json"
pyjson list_json_cluster "$T/prod.json" 'assert len(d) == 4 and all(b["cluster"] == "prod" for b in d)'
"$LIFEBOAT" catalog list --catalog "$DB" --json --since 2h >"$T/recent.json"
pyjson list_json_since_relative "$T/recent.json" '
assert [b["id"] for b in d] == ["recent-prod", "running-now"], [b["id"] for b in d]'
"$LIFEBOAT" catalog list --catalog "$DB" --json --since 2025-11-21 --until 2025-11-22T00:00:00Z >"$T/day.json"
pyjson list_json_since_until "$T/day.json" '
assert [b["id"] for b in d] == ["20251121T120000Z-0000d1", "20251121T234500Z-3f9a1c"], d'
"$LIFEBOAT" catalog list --catalog "$DB" --json --status partial >"$T/partial.json"
pyjson list_json_status "$T/partial.json" 'assert [b["id"] for b in d] == ["20251122T004500Z-000001"]'
"$LIFEBOAT" catalog list --catalog "$DB" --json --cluster nosuch >"$T/none.json"
pyjson list_json_empty "$T/none.json" 'assert d == []'

# The table for people: header, human sizes, ratio, verification.
"$LIFEBOAT" catalog list --catalog "$DB" >"$T/table.txt" 2>&1
check list_table_header grep -q '^ID  *STARTED  *CLUSTER  *MEMBERS' "$T/table.txt"
# SNAPSHOTS and STORED are both over the three member objects (1 MiB
# databases each): RATIO is the one over the other.
check list_table_sizes_header grep -Eq '^ID .* REVISION +SNAPSHOTS +STORED +RATIO +STATUS' "$T/table.txt"
check list_table_row grep -Eq '^20251121T234500Z-3f9a1c +2025-11-21 23:45:00 +prod +3/3 +12345 +3.0 MiB +878.9 KiB +3.50x +complete +[0-9-]+ [0-9:]+ ok$' "$T/table.txt"
check list_table_partial grep -Eq '^20251122T004500Z-000001 .* 2/3 .* partial ' "$T/table.txt"
check_exit list_bad_time 2 "bad time 'yesterday'" "$LIFEBOAT" catalog list --catalog "$DB" --since yesterday
check_exit list_bad_status 2 "unknown status" "$LIFEBOAT" catalog list --catalog "$DB" --status done
check_exit list_bad_option 2 "unknown or misplaced option" "$LIFEBOAT" catalog list --catalog "$DB" --bogus

# show: one backup in full, manifest included; latest = newest complete.
"$LIFEBOAT" catalog show 20251121T234500Z-3f9a1c --catalog "$DB" --json >"$T/show.json"
pyjson show_json "$T/show.json" '
assert d["id"] == "20251121T234500Z-3f9a1c" and d["host"] == "h"
assert d["manifest_key"] == "prod/2025/11/21/20251121T234500Z-3f9a1c/manifest.json"
assert d["manifest"]["format"] == "lifeboat-manifest/1"
assert d["manifest"]["encryption"]["recipients"] == ["sha256:0123456789abcdef"]
assert d["members"][0]["raft_index"] == 100 and d["members"][0]["etcd_sha256"] == "0123456789abcdef" * 4
'
"$LIFEBOAT" catalog show latest --cluster prod --catalog "$DB" --json >"$T/latest.json"
pyjson show_latest "$T/latest.json" 'assert d["id"] == "recent-prod" and d["status"] == "complete"'
"$LIFEBOAT" catalog show latest --cluster dev --catalog "$DB" >"$T/latest.txt"
check show_human grep -q '^backup     20251121T120000Z-0000d1$' "$T/latest.txt"
check show_human_sizes sh -c "grep -q '^db size    1.0 MiB (one member.s database)$' '$T/latest.txt' && grep -Eq '^stored     1.0 MiB of member snapshots as 293.0 KiB \(ratio 3.50x\)$' '$T/latest.txt'"
check show_human_manifest grep -q '"format": "lifeboat-manifest/1"' "$T/latest.txt"
check_exit show_unknown 1 "no backup nosuch" "$LIFEBOAT" catalog show nosuch --catalog "$DB"
check_exit show_latest_none 1 "no complete backup of cluster qa" "$LIFEBOAT" catalog show latest --cluster qa --catalog "$DB"
check_exit show_wrong_cluster 1 "belongs to cluster prod" "$LIFEBOAT" catalog show recent-prod --cluster dev --catalog "$DB"
check_exit show_no_id 2 "expected one backup id" "$LIFEBOAT" catalog show --catalog "$DB"

# audit: who did what, details as JSON.
"$LIFEBOAT" catalog audit --catalog "$DB" --json >"$T/audit.json"
pyjson audit_json "$T/audit.json" '
import getpass
assert [e["action"] for e in d] == ["backup", "prune"], d
assert d[0]["details"] == {"members": 3} and d[1]["details"] is None
assert d[0]["os_user"] == getpass.getuser() and d[0]["outcome"] == "ok"
assert d[1]["backup_id"] == "20251122T004500Z-000001" and d[0]["at"].endswith("Z")
'
"$LIFEBOAT" catalog audit --catalog "$DB" --since 2099-01-01 --json >"$T/audit2.json"
pyjson audit_json_since "$T/audit2.json" 'assert d == []'
check audit_table sh -c "'$LIFEBOAT' catalog audit --catalog '$DB' | grep -q '^1 .* backup .* prod .* ok '"

# The catalog path from the environment.
LIFEBOAT_CATALOG=$DB "$LIFEBOAT" catalog list --json >"$T/env.json"
pyjson catalog_from_env "$T/env.json" 'assert len(d) == 5'

# Missing, corrupt, truncated and too-new catalogs: clear errors.
check_exit missing_catalog 1 "does not exist" "$LIFEBOAT" catalog list --catalog "$T/nope/catalog.db"
head -c 20000 /dev/urandom >"$T/garbage.db"
check_exit garbage_catalog 1 "catalog rebuild" "$LIFEBOAT" catalog list --catalog "$T/garbage.db"
i=0
while [ $i -lt 60 ]; do
	sed "s/20251121T234500Z-3f9a1c/bulk-$i/g" "$T/m0.json" >"$T/bulk.json"
	"$FIX" "$T/big.db" record "$T/bulk.json" || break
	i=$((i + 1))
done
size=$(wc -c <"$T/big.db")
truncate -s $((size / 2)) "$T/big.db"
check_exit truncated_catalog 1 "catalog rebuild" "$LIFEBOAT" catalog list --json --catalog "$T/big.db"
cp "$DB" "$T/new.db"
sqlite3 "$T/new.db" 'PRAGMA user_version = 42'
check_exit newer_catalog 2 "schema version 42 is newer" "$LIFEBOAT" catalog list --catalog "$T/new.db"
check_exit unknown_subcommand 2 "unknown subcommand 'frob'" "$LIFEBOAT" catalog frob
