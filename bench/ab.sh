#!/bin/bash
# bench/ab.sh: two builds of lifeboat, A and B, alternately on the same etcd
# member: `lifeboat backup` to a file:// repository and to s3rver, with
# `lifeboat pull` of the member in every round, one warm-up round and
# BENCH_ROUNDS measured ones (A first in odd rounds, B first in even ones).
# Per command the median wall time and the largest peak RSS; per backup the
# stored size against `zstd -3` of etcdctl's snapshot of the member and the
# zstd levels its manifest records.  For comparing two builds of one change
# (two compression policies, say) on a shared machine: the figures are
# relative, with the load average printed beside them.
#
#   LIFEBOAT_A=build/a/lifeboat LIFEBOAT_B=build/b/lifeboat bench/ab.sh
#   AB_SIZE=1GiB BENCH_ETCD=3.6 BENCH_ROUNDS=3 BENCH_DIR=bench/out-ab
#   AB_URL=http://127.0.0.1:PORT   a member already loaded (of BENCH_ETCD's
#                                  minor), instead of one started and loaded here
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=${LIFEBOAT_A:?set LIFEBOAT_A to the first binary}
B=${LIFEBOAT_B:?set LIFEBOAT_B to the second binary}
SIZE=${AB_SIZE:-1GiB}
LIFEBOAT=$A
AB_OUT=$BENCH_DIR/ab.jsonl             # one line per measured backup or pull

mkdir -p "$BENCH_DIR"
[ -n "${AB_URL:-}" ] || bench_need_space $(($(bench_size_bytes "$SIZE") * 12))
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
: >"$BENCH_RAW"
: >"$AB_OUT"
bench_etcd_use "${BENCH_ETCD%% *}"
if [ -n "${AB_URL:-}" ]; then
	BENCH_URL=$AB_URL
	SIZE="db of $(bench_db_size) bytes"
else
	bench_etcd_start "ab-$SIZE"
	bench_load "$SIZE"
fi
bench_s3rver_start
rm -f "$BENCH_DIR/identity.txt"
"$A" keygen -o "$BENCH_DIR/identity.txt" >"$BENCH_DIR/recipient"
export AWS_SECRET_ACCESS_KEY=S3RVER

# conf NAME REPO: a configuration of its own (catalog too) per variant
conf() {
	cat >"$BENCH_DIR/$1.conf" <<-EOC
	[global]
	compress-level = auto
	repo = $2
	s3-endpoint = $BENCH_S3
	s3-access-key-id = S3RVER
	recipients = $(cat "$BENCH_DIR/recipient")
	catalog = $BENCH_DIR/$1.db

	[cluster:ab]
	endpoints = $BENCH_URL
	EOC
	rm -f "$BENCH_DIR/$1".db*
}
for v in a b; do
	rm -rf "$BENCH_DIR/repo-$v"
	conf "$v-file" "file://$BENCH_DIR/repo-$v"
	conf "$v-s3" "s3://bench/$v"
done

# the reference: zstd -3 of etcdctl's snapshot of the member
zdir=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
etcdctl --endpoints "$BENCH_URL" snapshot save "$zdir/s.db" >/dev/null 2>&1 &&
    zstd -3 -q "$zdir/s.db" -o "$zdir/s.db.zst" || bench_die "etcdctl save | zstd -3 failed"
ZSIZE=$(stat -c %s "$zdir/s.db.zst")
rm -rf "$zdir"

# one NAME ROUND: measures one command, then records what its backup stored
one() {
	local name=$1 round=$2 bin conf dir id mf res
	case $name in a-*) bin=$A ;; b-*) bin=$B ;; esac
	if [ "$name" = pull ]; then
		dir=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
		BENCH_ROUND=$round BENCH_BENCH="ab $SIZE" measure pull \
		    "$A" pull --endpoints "$BENCH_URL" --out-dir "$dir" || bench_die "pull failed"
		rm -rf "$dir"
		res='{}'
	else
		conf=$BENCH_DIR/$name.conf
		BENCH_ROUND=$round BENCH_BENCH="ab $SIZE" measure "$name" \
		    "$bin" --config "$conf" backup --json || bench_die "$name failed"
		# the --json array, whatever log lines precede it on stderr
		python3 -c '
import json, sys
t = open(sys.argv[1]).read(); i = t.index("\n[") + 1 if not t.startswith("[") else 0
print(json.dumps(json.JSONDecoder().raw_decode(t[i:])[0]))' "$BENCH_DIR/measure.log" >"$BENCH_DIR/last.json"
		id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["backup_id"])' \
		    "$BENCH_DIR/last.json")
		mf=$(find "$BENCH_DIR/repo-${name%%-*}" "$BENCH_DIR/s3rver" -path "*$id*" \
		    \( -name manifest.json -o -name manifest.json._S3rver_object \) | head -n 1)
		res=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))[0]
m = json.load(open(sys.argv[2])); mm = m["members"][0]
print(json.dumps({"stored": r["stored"], "level": mm.get("compress_level"),
                  "min": mm.get("compress_level_min"), "max": mm.get("compress_level_max")}))' \
		    "$BENCH_DIR/last.json" "$mf")
		# keep the disk: the object is not needed after its manifest
		find "$BENCH_DIR/repo-${name%%-*}" "$BENCH_DIR/s3rver" -path "*$id*" \
		    -name '*.db.zst.age*' -delete
	fi
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(json.loads(sys.argv[2])); r.update(name=sys.argv[3], round=int(sys.argv[4]), load=open("/proc/loadavg").read().split()[:3]); print(json.dumps(r))' \
	    "$MEASURE_LAST" "$res" "$name" "$round" >>"$AB_OUT"
}

bench_say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 0 "$BENCH_ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="pull a-file b-file a-s3 b-s3"
	else order="pull b-file a-file b-s3 a-s3"; fi
	for n in $order; do one "$n" "$r"; done
	bench_say "round $r of $BENCH_ROUNDS done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done

python3 - "$AB_OUT" "$ZSIZE" "$A" "$B" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
z = int(sys.argv[2])
counted = [r for r in runs if r["round"] >= 1]
pull = statistics.median(r["wall"] for r in counted if r["name"] == "pull")
print("A = %s, B = %s; zstd -3 of etcdctl's snapshot: %d bytes" % (sys.argv[3], sys.argv[4], z))
print("load average during the counted rounds: %s" % ", ".join(" ".join(r["load"]) for r in counted if r["name"] == "pull"))
print()
print("| command | median wall (s) | walls (s) | / pull | peak RSS (MiB) | stored / zstd -3 | levels (most, min..max) |")
print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
for n in ("pull", "a-file", "b-file", "a-s3", "b-s3"):
    rs = [r for r in counted if r["name"] == n]
    w = [r["wall"] for r in rs]
    st = [r["stored"] for r in rs if "stored" in r]
    lv = " ".join("%s(%s..%s)" % (r["level"], r["min"], r["max"]) for r in rs if "level" in r)
    print("| %s | %.2f | %s | %.2f | %.1f | %s | %s |" % (
        n, statistics.median(w), " ".join("%.2f" % x for x in w), statistics.median(w) / pull,
        max(r["maxrss_kib"] for r in rs) / 1024,
        "%.3f" % (statistics.median(st) / z) if st else "-", lv or "-"))
EOF
