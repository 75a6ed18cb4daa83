#!/bin/sh
# make demo: lifeboat's main job end to end on loopback.  Starts a local
# 3-member etcd cluster, loads Kubernetes-like sample data, pulls and
# inspects a snapshot of every member, backs the cluster up encrypted,
# opens a backup with age and zstd alone, verifies it, destroys the cluster
# and restores it with one command.  Everything lives under ./demo/ and
# every process it starts is stopped at the end.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
T=$TOP/demo
rm -rf "$T"
export T KEEP=1
LIFEBOAT=$TOP/build/lifeboat
. "$TOP/tests/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "starting a local 3-member etcd cluster (ports picked at random)"
etcd_cluster demo 3 || exit 1
echo "endpoints: $demo_endpoints"

say "loading sample data: 500 Kubernetes-like objects"
python3 - "$(cat "$T/demo/m1.url")" <<'PY'
import base64, json, sys, urllib.request
ep = sys.argv[1]
for i in range(500):
    ns = "team-%d" % (i % 12)
    kind = ("pods", "configmaps", "secrets", "services")[i % 4]
    obj = {"apiVersion": "v1", "kind": kind[:-1].title(),
           "metadata": {"name": "%s-%d" % (kind[:-1], i), "namespace": ns,
                        "labels": {"app": "demo-%d" % (i % 9)}},
           "spec": {"payload": "x" * (200 + 37 * (i % 50))}}
    body = json.dumps({"key": base64.b64encode(("/registry/%s/%s/%s-%d" % (kind, ns, kind[:-1], i)).encode()).decode(),
                       "value": base64.b64encode(json.dumps(obj).encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
PY
run etcdctl --endpoints "$demo_endpoints" endpoint status -w table

say "pulling a verified snapshot from every member"
mkdir -p "$T/pulled"
run "$LIFEBOAT" pull --endpoints "$demo_endpoints" --out-dir "$T/pulled" || exit 1
run ls -l "$T/pulled"

if "$LIFEBOAT" help | grep -q inspect; then
	say "inspecting the pulled files (lifeboat's own bbolt reader)"
	for f in "$T"/pulled/*.db; do
		run "$LIFEBOAT" inspect "$f"
	done
fi
say "the same files as etcd's own tool sees them"
run etcdctl snapshot status -w table "$T/pulled/m1.db"

say "an age identity for the backups (the appliance keeps only the public key)"
printf '$ lifeboat keygen -o %s\n' "$T/identity.txt"
"$LIFEBOAT" keygen -o "$T/identity.txt" >"$T/recipient.txt" || exit 1
cat "$T/recipient.txt"

say "a signing key: every manifest is signed, and only what it signed is trusted"
printf '$ lifeboat keygen --signing -o %s\n' "$T/signing-key"
"$LIFEBOAT" keygen --signing -o "$T/signing-key" >"$T/signing-key.pub" || exit 1
cat "$T/signing-key.pub"
echo "lifeboat $(cut -d' ' -f1,2 "$T/signing-key.pub")" >"$T/allowed_signers"

cat >"$T/lifeboat.conf" <<EOC
[global]
repo = file://$T/repo
recipients = $(cat "$T/recipient.txt")
catalog = $T/catalog.db
identity-file = $T/identity.txt
signing-key = $T/signing-key
trusted-signers = $T/allowed_signers

metrics-listen = 127.0.0.1:$(free_port)
drill-dir = $T/drill

[cluster:demo]
endpoints = $demo_endpoints
schedule = @every 1m
retention = keep-last=4
# restore drills: daily by default; every 2 minutes for the demo
drill-schedule = @every 2m
# point-in-time recovery: every change between backups, in segments
# closed every 30 s (real seconds: the test clock speeds up schedules
# only) and when the daemon stops
pitr = on
EOC
say "the configuration"
run cat "$T/lifeboat.conf"

say "backing up: every member, zstd, age, manifest, catalog"
run "$LIFEBOAT" --config "$T/lifeboat.conf" backup || exit 1
run "$LIFEBOAT" --config "$T/lifeboat.conf" backup --quiet || exit 1
run find "$T/repo" -type f

say "break-glass: the newest manifest checked with ssh-keygen alone"
mf=$(find "$T/repo" -name manifest.json | sort | tail -n 1)
printf '$ ssh-keygen -Y verify -f allowed_signers -I lifeboat -n lifeboat-manifest -s manifest.json.sig < manifest.json\n'
ssh-keygen -Y verify -f "$T/allowed_signers" -I lifeboat -n lifeboat-manifest -s "$mf.sig" <"$mf" || exit 1

say "break-glass: the newest object opened with age and zstd alone"
obj=$(find "$T/repo" -name 'm1.db.zst.age' | sort | tail -n 1)
printf '$ age -d -i identity.txt %s | zstd -d > plain.db\n' "${obj#$T/}"
age -d -i "$T/identity.txt" "$obj" | zstd -dq >"$T/plain.db"
run etcdctl snapshot status -w table "$T/plain.db"

say "the snapshot daemon for 8 seconds, on a 30x test clock (@every 1m = every 2 s)"
metrics=$(sed -n 's/^metrics-listen = //p' "$T/lifeboat.conf")
printf '$ lifeboat snapd &   # LIFEBOAT_SNAPD_TIMESCALE=30: demos and tests only\n'
LIFEBOAT_SNAPD_TIMESCALE=30 "$LIFEBOAT" --config "$T/lifeboat.conf" snapd 2>"$T/snapd.log" &
snapd=$!
echo "$snapd" >>"$T/pids"
sleep 2
# The accident the event log undoes: after a rollout (writes that land
# between backups), a namespace deleted.  The second before it is the
# point restored at the end.
printf '\n$ for i in $(seq 20); do etcdctl put /registry/deployments/team-1/web-$i ...; done   # a rollout\n'
for i in $(seq 20); do
	etcdctl --endpoints "$demo_endpoints" put "/registry/deployments/team-1/web-$i" \
	    "{\"kind\":\"Deployment\",\"spec\":{\"image\":\"web:$i\"}}" >/dev/null
	sleep 0.1
done
sleep 0.5
before=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1
printf '\n$ etcdctl del --prefix /registry/pods/team-4/   # %s: the accident\n' "$(date -u +%H:%M:%S)"
etcdctl --endpoints "$demo_endpoints" del --prefix /registry/pods/team-4/
etcdctl --endpoints "$demo_endpoints" put /registry/configmaps/default/after-the-accident x >/dev/null
sleep 4
printf '$ curl -s http://%s/metrics | grep ...\n' "$metrics"
curl -s "http://$metrics/metrics" |
    grep -E '^lifeboat_(backups_total|backup_last_(success|duration|stored)|drill_(total|duration)|pitr_(last_revision|lag_seconds))' |
    grep -v 'outcome="partial"'
printf '$ curl -s http://%s/healthz\n' "$metrics"
curl -s "http://$metrics/healthz"
printf '$ curl -s http://%s/api/status | ...   # the status page: http://%s/\n' "$metrics" "$metrics"
curl -s "http://$metrics/api/status" | python3 -c 'import json, sys
for c in json.load(sys.stdin)["clusters"]:
    print("  %s: %s (%s)" % (c["name"], c["health"]["state"], c["health"]["reason"]))'
kill -TERM "$snapd"
wait "$snapd"
echo "snapd stopped (exit $?); its log:"
sed 's/^/  /' "$T/snapd.log" | grep -E 'outcome=|prune|drill=|started|stopped|status page' | head -n 14

say "the catalog: backups, and the windows the event log can restore to"
run "$LIFEBOAT" --config "$T/lifeboat.conf" catalog list
run "$LIFEBOAT" --config "$T/lifeboat.conf" catalog list --pitr

say "checking the newest backup end to end (download, decrypt, decompress, trailer, revision)"
run "$LIFEBOAT" --config "$T/lifeboat.conf" catalog verify latest || exit 1

say "a restore drill: the newest backup restored into a scratch etcd, checked, timed, wiped"
run "$LIFEBOAT" --config "$T/lifeboat.conf" drill --cluster demo || exit 1

say "disaster: the whole cluster is lost"
for i in 1 2 3; do etcd_stop demo "$i"; done
rm -rf "$T"/demo/m*.data
echo "members stopped, data directories deleted"

say "one command: restore the cluster as it was the second before the accident ($before), as a new 3-member cluster, started and checked"
members=""
for i in 1 2 3; do
	members="${members:+$members,}r$i=http://127.0.0.1:$(free_port)@http://127.0.0.1:$(free_port)"
done
run "$LIFEBOAT" --config "$T/lifeboat.conf" restore cluster --cluster demo \
    --to-time "$before" --members "$members" --base-dir "$T/restored" --start
status=$?
# The restored members run detached; stop them with the demo.
for f in "$T"/restored/*.pid; do [ -f "$f" ] && cat "$f" >>"$T/pids"; done
[ "$status" -eq 0 ] || exit 1
eps=$(echo "$members" | tr ',' '\n' | sed 's/.*@//' | paste -sd, -)
run etcdctl --endpoints "$eps" endpoint status -w table
printf '$ etcdctl get --prefix /registry/pods/team-4/ --keys-only --limit 3   # deleted at the accident: back\n'
etcdctl --endpoints "$eps" get --prefix /registry/pods/team-4/ --keys-only --limit 3
etcdctl --endpoints "$eps" get --prefix /registry/pods/team-4/ --keys-only | grep -q . ||
    { echo "demo: the deleted pods are not back" >&2; exit 1; }
etcdctl --endpoints "$eps" get /registry/deployments/team-1/web-20 | grep -q 'web:20' ||
    { echo "demo: the rollout before the accident is not in the restored cluster" >&2; exit 1; }
printf '$ etcdctl get /registry/configmaps/default/after-the-accident   # written after it: not there\n'
[ -z "$(etcdctl --endpoints "$eps" get /registry/configmaps/default/after-the-accident)" ] ||
    { echo "demo: a key written after the target is in the restored cluster" >&2; exit 1; }
run env LIFEBOAT_CATALOG="$T/catalog.db" "$LIFEBOAT" catalog audit

say "done; the files stay in $T, every process the demo started is stopped"
