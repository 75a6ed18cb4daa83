#!/bin/sh
# upgrade_test.sh: what the first release wrote, the current one reads.
# lifeboat v0.1.0 (its commit, built by scripts/release-build.sh into a cache
# outside the tree) backs up a real etcd 3.4 (the etcd that release
# supported) twice into a file:// repository and its catalog (its schema).
# Then the current binary lists those backups (read-only, on the old
# schema), verifies them end to end, migrates the catalog (on that real
# file, not a fresh one) by its first write, prunes by retention, restores
# the newest into a new etcd (from the catalog, and from the repository
# alone) and checks its keys.  The migrated catalog has the same tables
# and columns as one the current binary creates; the old binary refuses
# it with a clear error (a downgrade), as it refuses the current binary's
# manifests.  The schema
# number is never written here: it is read from the current binary's own
# fresh catalog.
. "$(dirname "$0")/../lib.sh"

OLD=$(sh "$TOP/scripts/release-build.sh" v0.1.0 2>"$T/old.err")
case $? in
0) ;;
3) echo "# upgrade: not a git checkout (no v0.1.0 to build): skipped"; exit 0 ;;
*) fail upgrade_old_build "$(tail -n 3 "$T/old.err" | tr '\n' ' ')"; exit 1 ;;
esac
echo "# old: $("$OLD" --version | head -n 1)"
echo "# new: $("$LIFEBOAT" --version | head -n 1)"

etcd_use 3.4 || exit 1
etcd_cluster c 1 || { fail upgrade_etcd_up "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EP=$c_endpoints
ectl() { etcdctl --endpoints "$EP" "$@"; }
for i in $(seq 1 50); do ectl put "/registry/pods/p$i" "v$i" >/dev/null; done

"$OLD" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null || { fail upgrade_old_keygen "failed"; exit 1; }
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
[cluster:c1]
endpoints = $EP
retention = keep-last=1
EOF
OLDLB="$OLD --config $T/lb.conf"
LB="$LIFEBOAT --config $T/lb.conf"

# Two backups by the old release, a key more in the second.
$OLDLB backup --no-progress >"$T/o1.out" 2>&1 || { fail upgrade_old_backup "$(tail -n 2 "$T/o1.out")"; exit 1; }
ectl put /registry/pods/last x >/dev/null
$OLDLB backup --no-progress >"$T/o2.out" 2>&1 || { fail upgrade_old_backup "$(tail -n 2 "$T/o2.out")"; exit 1; }
ok upgrade_old_backups
B1=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/o1.out")
B2=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$T/o2.out")
KEYS=$(ectl get /registry/ --prefix -w json |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])')
cp "$T/catalog.db" "$T/old-catalog.db"
OLDV=$(sqlite3 "$T/catalog.db" 'PRAGMA user_version')
echo "# old catalog schema $OLDV, backups $B1 $B2, $KEYS keys"

# The current binary's own schema: a catalog it creates (a backup of the
# same cluster into a repository and catalog of their own).
sed -e "s|^repo = .*|repo = file://$T/repo-new|" -e "s|^catalog = .*|catalog = $T/fresh.db|" \
	"$T/lb.conf" >"$T/new.conf"
"$LIFEBOAT" --config "$T/new.conf" backup --no-progress >"$T/n.out" 2>&1 ||
	{ fail upgrade_new_backup "$(tail -n 2 "$T/n.out")"; exit 1; }
NEWV=$(sqlite3 "$T/fresh.db" 'PRAGMA user_version')
pycheck upgrade_manifest_versions '
import glob
new = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/**/manifest.json", recursive=True)]
old = [json.load(open(f)) for f in glob.glob(sys.argv[2] + "/**/manifest.json", recursive=True)]
v = open(sys.argv[3]).read().strip()
assert new and all(m["lifeboat_version"] == v for m in new), [m["lifeboat_version"] for m in new]
assert len(old) == 2 and all(m["lifeboat_version"] == "0.1.0" for m in old), old
' "$T/repo-new" "$T/repo" "$TOP/VERSION"

# Read-only: lists the old catalog as it is, schema untouched.
check_exit upgrade_list_old_schema 0 '' sh -c "$LB catalog list --json >$T/list.json 2>/dev/null; echo >&2 listed"
pycheck upgrade_list_both '
ids = [b["backup_id"] if "backup_id" in b else b["id"] for b in json.load(open(sys.argv[1]))]
assert ids == [sys.argv[2], sys.argv[3]], ids
' "$T/list.json" "$B1" "$B2"
check upgrade_list_left_schema sh -c "[ \$(sqlite3 $T/catalog.db 'PRAGMA user_version') = $OLDV ]"

# Verify end to end (objects, age, zstd, etcd's hash, bbolt) what the old
# release wrote; this write also migrates the catalog.
check upgrade_verify_all $LB catalog verify --all
[ -s "$T/check.out" ] && grep -E 'ok|verified' "$T/check.out" | head -n 2 | sed 's/^/#   /'
check upgrade_migrated sh -c "[ \$(sqlite3 $T/catalog.db 'PRAGMA user_version') = $NEWV ]"
# The migrated file has every table and column a fresh catalog has.
pycheck upgrade_migration_schema '
import sqlite3
def shape(p):
    db = sqlite3.connect(p)
    t = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = ? ORDER BY name", ("table",))]
    return {n: sorted(c[1] for c in db.execute("PRAGMA table_info(%s)" % n)) for n in t}
a, b = shape(sys.argv[1]), shape(sys.argv[2])
assert a == b, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
' "$T/catalog.db" "$T/fresh.db"
pycheck upgrade_rows_kept '
import sqlite3
ids = lambda p: sorted(r[0] for r in sqlite3.connect(p).execute("SELECT id FROM backups"))
assert ids(sys.argv[1]) == ids(sys.argv[2]), (ids(sys.argv[1]), ids(sys.argv[2]))
' "$T/catalog.db" "$T/old-catalog.db"

# The old binary on the migrated catalog: refused, saying why.
check_exit upgrade_downgrade_refused 2 'schema version [0-9]+ is newer than this lifeboat knows' \
	$OLDLB catalog list

# The old binary on the current one's repository: its manifests are
# refused by name, none recorded (rebuild's exit 3: some malformed).
sed -e "s|^catalog = .*|catalog = $T/oldview.db|" "$T/new.conf" >"$T/oldview.conf"
check_exit upgrade_downgrade_repo_refused 3 "unsupported 'lifeboat-manifest/[0-9]+' \\(this lifeboat reads lifeboat-manifest/1\\)" \
	"$OLD" --config "$T/oldview.conf" catalog rebuild

# Prune by the old configuration's retention (keep-last=1): the older goes.
check upgrade_prune $LB catalog prune
check upgrade_pruned sh -c "$LB catalog list --json | python3 -c '
import json, sys
ids = [b.get(\"backup_id\", b.get(\"id\")) for b in json.load(sys.stdin)]
assert ids == [\"$B2\"], ids'"
check upgrade_pruned_repo sh -c "! find $T/repo -path '*$B1*' | grep -q ."

# Restore the newest old backup into a new one-member etcd and count.
P1=$(free_port); C1=$(free_port)
check upgrade_restore $LB restore cluster --cluster c1 --members "r1=http://127.0.0.1:$P1@http://127.0.0.1:$C1" \
	--base-dir "$T/rc" --start
track "$T/rc"
RKEYS=$(etcdctl --endpoints "http://127.0.0.1:$C1" get /registry/ --prefix -w json 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)
check upgrade_restored_keys sh -c "[ '$RKEYS' = '$KEYS' ] || { echo 'restored $RKEYS keys, want $KEYS'; exit 1; }"

# The bucket alone (no catalog): the old release's manifest and objects
# restore by themselves.
P2=$(free_port); C2=$(free_port)
check upgrade_restore_from_repo env -u LIFEBOAT_CONFIG "$LIFEBOAT" restore cluster \
	--repo "file://$T/repo" --identity "$T/id.txt" --cluster c1 \
	--members "s1=http://127.0.0.1:$P2@http://127.0.0.1:$C2" --base-dir "$T/rr" --start
track "$T/rr"
RKEYS=$(etcdctl --endpoints "http://127.0.0.1:$C2" get /registry/ --prefix -w json 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)
check upgrade_restored_from_repo_keys sh -c "[ '$RKEYS' = '$KEYS' ] || { echo 'restored $RKEYS keys, want $KEYS'; exit 1; }"
