#!/bin/bash
# bench/run.sh: the benchmarks behind `make bench`, each one function below,
# each comparing lifeboat with what an operator would do with etcd's own tools
# on the same data.  Figures go to $BENCH_DIR/results.md (default
# bench/out/results.md) and stdout; bench/README.md says how to read them.
#
#   BENCH_ETCD="3.4 3.6"       etcd minors, each run in turn (3.4, 3.5, 3.6, 3.7)
#   BENCH_SIZES="256MiB 1GiB"  database sizes to benchmark (quick try: 64MiB)
#   BENCH_ROUNDS=5             measured rounds per command (after a warm-up)
#   BENCH_DIR=bench/out        work dir: needs about 5x the largest size free
#   BENCH_RESTORE_MIB=1024     load of bench/restore_bench.sh (0 skips it)
#   BENCH_DRILL_MIB=1024       load of bench/drill_bench.sh (0 skips it)
#   BENCH_PITR=1               bench/pitr_bench.sh (0 skips it)
#   LIFEBOAT=build/lifeboat    the binary under test
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_SIZES=${BENCH_SIZES:-256MiB 1GiB}

have_pull() { "$LIFEBOAT" help 2>/dev/null | grep -Eq '^[[:space:]]+pull[[:space:]]'; }

# The commands measured: each gets a fresh empty directory and sets CMD.
cmd_etcdctl_save() { CMD=(etcdctl --endpoints "$BENCH_URL" snapshot save "$1/snapshot.db"); }
cmd_lifeboat_pull() { CMD=("$LIFEBOAT" pull --endpoints "$BENCH_URL" --out-dir "$1"); }

# check_snapshot_outputs: both tools, once, on the loaded member; each output
# must pass snapshot status (etcdutl from 3.5, etcdctl on 3.4) and show the
# same revision, key count and hash, so that the timings compare tools that
# produce good snapshots.  Not the bytes: from 3.6 two snapshots of the same
# member never are byte-identical (each Snapshot call commits a bbolt
# transaction first).
check_snapshot_outputs() {
	local dir ref got f n=0 st
	st="$(bench_snaptool_name) snapshot status"
	dir=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
	etcdctl --endpoints "$BENCH_URL" snapshot save "$dir/etcdctl.db" >/dev/null 2>&1 ||
	    bench_die "etcdctl snapshot save failed"
	ref=$(bench_status "$dir/etcdctl.db") ||
	    bench_die "$st rejects etcdctl's own snapshot"
	bench_out "- etcdctl snapshot save: $(stat -c %s "$dir/etcdctl.db") bytes, $st: revision, keys, hash = $ref"
	if [ "$HAVE_PULL" = yes ]; then
		mkdir "$dir/pull"
		"$LIFEBOAT" pull --endpoints "$BENCH_URL" --out-dir "$dir/pull" \
		    >"$dir/pull.log" 2>&1 ||
		    bench_die "lifeboat pull failed: $(tail -n 3 "$dir/pull.log")"
		for f in "$dir"/pull/*.db; do
			[ -f "$f" ] || continue
			n=$((n + 1))
			got=$(bench_status "$f") ||
			    bench_die "$st rejects lifeboat's ${f##*/}"
			[ "$got" = "$ref" ] ||
			    bench_die "lifeboat's ${f##*/} differs from etcdctl's snapshot: $got vs $ref"
			bench_out "- lifeboat pull: ${f##*/}, $(stat -c %s "$f") bytes, $st matches etcdctl's"
		done
		[ "$n" -gt 0 ] || bench_die "lifeboat pull wrote no *.db file in its --out-dir"
	fi
	rm -rf "$dir"
}

# bench_snapshot SIZE: one member loaded to SIZE; the time and memory to take
# one snapshot of it.
bench_snapshot() {
	local size=$1
	bench_out "## snapshot of one member, $size, etcd $BENCH_ETCD_VERSION" "" "- data: $BENCH_LOAD_DESC"
	check_snapshot_outputs
	bench_out ""
	if [ "$HAVE_PULL" = yes ]; then
		compare "snapshot $size" \
		    "lifeboat pull" cmd_lifeboat_pull \
		    "etcdctl snapshot save" cmd_etcdctl_save
	else
		compare "snapshot $size (etcdctl only: lifeboat has no pull command yet)" \
		    "etcdctl snapshot save" cmd_etcdctl_save
	fi
}

# The strict SigV4-checking server (Swift's s3api, /work/shared/strict-s3 or
# $STRICT_S3_DIR; see STRICT-S3.md), on free ports; its pids are stopped with
# the rest.  BENCH_STRICT stays empty when it cannot start (the benchmark
# then says so and leaves its line out).
bench_strict_start() {
	local dir=${STRICT_S3_DIR:-$BENCH_TOP/../shared/strict-s3} port line f
	[ -x "$dir/start.sh" ] || dir=/work/shared/strict-s3
	BENCH_STRICT=""
	[ -x "$dir/start.sh" ] || { bench_say "no strict S3 server ($dir/start.sh)"; return 0; }
	rm -rf "$BENCH_DIR/strict-s3"
	for _ in 1 2 3; do
		port=$(bench_free_port)
		if S3_STATE_DIR="$BENCH_DIR/strict-s3" S3_PORT=$port S3_LOG_LEVEL=WARNING \
		    "$dir/start.sh" >"$BENCH_DIR/strict-s3.env" 2>"$BENCH_DIR/strict-s3.err"; then
			for f in "$BENCH_DIR"/strict-s3/run/*.pid; do
				[ -f "$f" ] && BENCH_PIDS+=("$(cat "$f")")
			done
			while IFS= read -r line; do
				case "$line" in
				S3_ENDPOINT=*) BENCH_STRICT=${line#*=} ;;
				S3_ACCESS_KEY=*) BENCH_STRICT_KEY=${line#*=} ;;
				S3_SECRET_KEY=*) BENCH_STRICT_SECRET=${line#*=} ;;
				S3_BUCKET=*) BENCH_STRICT_BUCKET=${line#*=} ;;
				esac
			done <"$BENCH_DIR/strict-s3.env"
			return 0
		fi
	done
	bench_say "strict S3 server did not start: $(tail -n 1 "$BENCH_DIR/strict-s3.err")"
}

cmd_lifeboat_backup() { CMD=("$LIFEBOAT" --config "$BENCH_DIR/backup.conf" backup --quiet); }
# The same file:// backup at the fixed level 3 (the default before auto),
# so that auto is measured against it in the same alternating run.
cmd_lifeboat_backup_file3() {
	sed -e "s|^repo = .*|repo = file://$1/repo|" -e "s|^compress-level = .*|compress-level = 3|" \
	    "$BENCH_DIR/backup.conf" >"$1/file3.conf"
	CMD=("$LIFEBOAT" --config "$1/file3.conf" backup --quiet)
}
cmd_lifeboat_backup_strict() { CMD=("$LIFEBOAT" --config "$BENCH_DIR/strict.conf" backup --quiet); }
cmd_lifeboat_backup_file() {
	sed "s|^repo = .*|repo = file://$1/repo|" "$BENCH_DIR/backup.conf" >"$1/file.conf"
	CMD=("$LIFEBOAT" --config "$1/file.conf" backup --quiet)
}

# What a person would script without lifeboat: each step waits for the last.
cmd_sequential_backup() {
	CMD=(bash -c 'set -e
	    etcdctl --endpoints "$1" snapshot save "$2/s.db" >/dev/null 2>&1
	    zstd -3 -q "$2/s.db" -o "$2/s.db.zst"
	    age -r "$3" -o "$2/s.db.zst.age" "$2/s.db.zst"
	    curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER \
	        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	        -T "$2/s.db.zst.age" "$4/bench/sequential/s.db.zst.age"' \
	    sequential "$BENCH_URL" "$1" "$(cat "$BENCH_DIR/recipient")" "$BENCH_S3")
}

# One member backed up to s3rver: lifeboat's streaming chain against
# etcdctl's plain save to local disk and against the sequential script.
bench_backup() {
	local size=$1
	bench_s3rver_start
	rm -f "$BENCH_DIR/identity.txt"
	"$LIFEBOAT" keygen -o "$BENCH_DIR/identity.txt" >"$BENCH_DIR/recipient"
	cat >"$BENCH_DIR/backup.conf" <<-EOC
	[global]
	compress-level = ${BENCH_COMPRESS_LEVEL:-auto}
	repo = s3://bench/lifeboat
	s3-endpoint = $BENCH_S3
	s3-access-key-id = S3RVER
	recipients = $(cat "$BENCH_DIR/recipient")
	catalog = $BENCH_DIR/catalog.db

	[cluster:bench]
	endpoints = $BENCH_URL
	EOC
	rm -f "$BENCH_DIR"/catalog.db*
	export AWS_SECRET_ACCESS_KEY=S3RVER
	"$LIFEBOAT" --config "$BENCH_DIR/backup.conf" \
	    backup --json >"$BENCH_DIR/backup.json" ||
	    bench_die "lifeboat backup failed: $(cat "$BENCH_DIR/backup.json")"
	# the stored size against zstd -3 of etcdctl's snapshot of the member
	local zdir zsize
	zdir=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
	etcdctl --endpoints "$BENCH_URL" snapshot save "$zdir/s.db" >/dev/null 2>&1 &&
	    zstd -3 -q "$zdir/s.db" -o "$zdir/s.db.zst" || bench_die "etcdctl save | zstd -3 failed"
	zsize=$(stat -c %s "$zdir/s.db.zst")
	rm -rf "$zdir"
	bench_out "## backup of one member, $size, etcd $BENCH_ETCD_VERSION" "" "- data: $BENCH_LOAD_DESC" \
	    "- lifeboat backup (compress-level ${BENCH_COMPRESS_LEVEL:-auto}): $(python3 -c '
import glob, json, sys
r = json.load(open(sys.argv[1]))[0]
z = int(sys.argv[2])
print("db %d bytes, stored %d bytes, compression ratio %.2f; zstd -3 of etcdctl'"'"'s snapshot: %d bytes, lifeboat / zstd -3 = %.3f (target <= 1.10)" % (
    r["db_size"], r["stored"], r["pulled"] / r["stored"], z, r["stored"] / z))' "$BENCH_DIR/backup.json" "$zsize")" \
	    "- zstd levels used (manifest): $(find "$BENCH_DIR/s3rver" -name 'manifest.json._S3rver_object' | head -n 1 | xargs python3 -c '
import json, sys
m = json.load(open(sys.argv[1])); c = m["compression"]; mm = m["members"][0]
print("auto %s, level %s, per member %s (%s..%s)" % (c.get("auto"), c["level"], mm.get("compress_level"), mm.get("compress_level_min"), mm.get("compress_level_max")))' 2>/dev/null)" ""
	bench_strict_start
	local strict=()
	if [ -n "$BENCH_STRICT" ]; then
		printf '%s\n' "$BENCH_STRICT_SECRET" >"$BENCH_DIR/strict.secret"
		chmod 600 "$BENCH_DIR/strict.secret"
		sed -e "s|^repo = .*|repo = s3://$BENCH_STRICT_BUCKET/lifeboat|" \
		    -e "s|^s3-endpoint = .*|s3-endpoint = $BENCH_STRICT|" \
		    -e "s|^s3-access-key-id = .*|s3-access-key-id = $BENCH_STRICT_KEY\ns3-secret-access-key-file = $BENCH_DIR/strict.secret|" \
		    "$BENCH_DIR/backup.conf" >"$BENCH_DIR/strict.conf"
		strict=("lifeboat backup (strict S3)" cmd_lifeboat_backup_strict)
	else
		bench_out "- strict S3 server not started: its backup is not measured" ""
	fi
	local fixed=()
	[ "${BENCH_COMPRESS_LEVEL:-auto}" != auto ] ||
	    fixed=("lifeboat backup (file://, compress-level 3)" cmd_lifeboat_backup_file3)
	# the pull of the same member alternates with the backups: their
	# targets are ratios to it (bench_summary)
	compare "backup $size" \
	    "lifeboat backup (s3rver)" cmd_lifeboat_backup \
	    "etcdctl snapshot save (local disk)" cmd_etcdctl_save \
	    "sequential: etcdctl save, zstd -3, age, curl upload" cmd_sequential_backup \
	    "lifeboat backup (file:// on local disk)" cmd_lifeboat_backup_file \
	    "lifeboat pull" cmd_lifeboat_pull \
	    "${strict[@]}" "${fixed[@]}"
}

# One member of each size, loaded once, then every benchmark against it.
bench_size() {
	local size=$1 bytes
	bytes=$(bench_size_bytes "$size")
	# data dir (db + WAL ~2.5x), two snapshots and the stored objects
	bench_need_space $((bytes * 6 + (512 << 20)))
	bench_etcd_start "etcd-$BENCH_ETCD_VERSION-$size"
	bench_load "$size"
	bench_snapshot "$size"
	bench_backup "$size"
	bench_cleanup
}

# bench_version V: every benchmark on etcd minor V's binaries.
bench_version() {
	local size mib=${BENCH_RESTORE_MIB:-1024} dmib=${BENCH_DRILL_MIB:-1024}
	bench_etcd_use "$1"
	bench_say "etcd $1: $BENCH_ETCD_BIN"
	for size in $BENCH_SIZES; do
		bench_size "$size"
	done
	# Recovery time: a 3-member cluster rebuilt from s3rver, against the
	# manual sequence, 1 GiB as the target names (its own loader and report;
	# BENCH_RESTORE_MIB=0 skips).  tests/lib.sh, which it sources, puts the
	# version's binaries on PATH itself.
	if [ "$mib" -gt 0 ]; then
		bench_out "## restore of a 3-member cluster from s3rver, $mib MiB, etcd $1" ""
		LIFEBOAT=$LIFEBOAT LIFEBOAT_ETCD_VERSION=$1 BENCH_RAW=$BENCH_RAW \
		    sh "$BENCH_TOP/bench/restore_bench.sh" "$mib" "$BENCH_ROUNDS" |
		    tee -a "$BENCH_RESULTS"
		# a failed restore benchmark loses its figures, not the other versions'
		[ "${PIPESTATUS[0]}" -eq 0 ] ||
		    bench_out "- restore benchmark FAILED on etcd $1 (its output is above)"
		bench_out ""
	fi
	# Restore drill: `lifeboat drill` (its RTO and its wall time) against
	# snapshot restore + etcd started by hand from a plaintext snapshot,
	# one member of BENCH_DRILL_MIB (0 skips).
	if [ "$dmib" -gt 0 ]; then
		bench_out "## restore drill of one member from a file:// repository, $dmib MiB, etcd $1" ""
		LIFEBOAT=$LIFEBOAT LIFEBOAT_ETCD_VERSION=$1 BENCH_RAW=$BENCH_RAW \
		    sh "$BENCH_TOP/bench/drill_bench.sh" "$dmib" "$BENCH_ROUNDS" |
		    tee -a "$BENCH_RESULTS"
		[ "${PIPESTATUS[0]}" -eq 0 ] ||
		    bench_out "- drill benchmark FAILED on etcd $1 (its output is above)"
		bench_out ""
	fi
	# Point-in-time recovery: the capture against etcd's write rate, the
	# RPO, the replay rate and a day's bytes (bench/pitr_bench.sh; its
	# BENCH_PITR_* variables; BENCH_PITR=0 skips it).
	if [ "${BENCH_PITR:-1}" != 0 ]; then
		bench_out "## point-in-time recovery, etcd $1" ""
		LIFEBOAT=$LIFEBOAT LIFEBOAT_ETCD_VERSION=$1 \
		    sh "$BENCH_TOP/bench/pitr_bench.sh" | grep -v '^load:' | tee -a "$BENCH_RESULTS"
		[ "${PIPESTATUS[0]}" -eq 0 ] ||
		    bench_out "- point-in-time recovery benchmark FAILED on etcd $1 (its output is above)"
		bench_out ""
	fi
}

main() {
	local size max=0 b v
	# Bad sizes or too little disk fail here, before results.md is reset.
	mkdir -p "$BENCH_DIR"
	for size in $BENCH_SIZES; do
		b=$(bench_size_bytes "$size")
		[ "$b" -le "$max" ] || max=$b
	done
	bench_need_space $((max * 5 + (512 << 20)))
	bench_init
	HAVE_PULL=no
	if have_pull; then HAVE_PULL=yes; else
		bench_say "$LIFEBOAT has no 'pull' command yet: measuring etcdctl alone"
	fi
	for v in $BENCH_ETCD; do
		bench_out "# etcd $v" ""
		bench_version "$v"
	done
	bench_summary
	bench_say "results in $BENCH_RESULTS (raw runs in $BENCH_RAW)"
}

main "$@"
