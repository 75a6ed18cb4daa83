# shellcheck shell=bash
# bench/lib.sh: the machinery of the benchmarks (sourced by bench/run.sh, bash).
#
# Owns: the bench work dir ($BENCH_DIR, default bench/out), one etcd member on
# free loopback ports (started, recorded by pid, stopped by that pid on exit),
# loading it (bench/load.py), measuring commands (bench/measure.py) and
# comparing them round by round into $BENCH_DIR/results.md.
# Does not own what is benchmarked: bench/run.sh says that, one function per
# benchmark.

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$BENCH_TOP/bench/out}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_RESULTS=$BENCH_DIR/results.md
BENCH_RAW=$BENCH_DIR/raw.jsonl          # one JSON line per measured run
LIFEBOAT=${LIFEBOAT:-$BENCH_TOP/build/lifeboat}
BENCH_ETCD=${BENCH_ETCD:-3.4 3.6}      # etcd minors measured, one after another
BENCH_BASE_PATH=$PATH
BENCH_ETCD_VERSION=     # the minor whose binaries are first on PATH now
BENCH_ETCD_BIN=         # ... and their directory

BENCH_PIDS=()           # every server this script started, stopped on exit
BENCH_URL=              # client URL of the running member
BENCH_ETCD_PID=
BENCH_ETCD_DIR=

bench_die() { echo "bench: $*" >&2; exit 1; }

# bench_etcd_use VERSION: etcd, etcdctl (and etcdutl) of that minor first on
# PATH from here on.  3.4 is Debian's /usr/bin; 3.5 to 3.7 are etcd's own
# builds from scripts/etcd-peers.sh (./scripts/deps.sh builds them).  Never
# exports ETCD_*: etcd reads those as flags and refuses unknown ones.
bench_etcd_use() {
	local dir
	case $1 in
	3.4)	dir=/usr/bin ;;
	3.[5-7])
		dir=$(sh "$BENCH_TOP/scripts/etcd-peers.sh" --dir "$1") ||
		    bench_die "no directory for etcd $1"
		[ -x "$dir/etcdutl" ] || bench_die "etcd $1 is not built in $dir: run ./scripts/deps.sh" ;;
	*)	bench_die "BENCH_ETCD: no etcd '$1' here (3.4, 3.5, 3.6, 3.7)" ;;
	esac
	[ -x "$dir/etcd" ] && [ -x "$dir/etcdctl" ] || bench_die "etcd or etcdctl missing in $dir"
	BENCH_ETCD_VERSION=$1 BENCH_ETCD_BIN=$dir
	PATH=$dir:$BENCH_BASE_PATH
	export PATH
	# 3.4's etcdctl speaks v3 only when told; 3.6+ warns when told
	if [ "$1" = 3.4 ]; then export ETCDCTL_API=3; else unset ETCDCTL_API; fi
}

# bench_snaptool snapshot status|restore ...: etcd's offline snapshot tool,
# etcdutl from 3.5 on (3.6 removed these subcommands from etcdctl), etcdctl
# on 3.4.
bench_snaptool() {
	if [ -x "$BENCH_ETCD_BIN/etcdutl" ]; then "$BENCH_ETCD_BIN/etcdutl" "$@"
	else "$BENCH_ETCD_BIN/etcdctl" "$@"; fi
}
bench_snaptool_name() { if [ -x "$BENCH_ETCD_BIN/etcdutl" ]; then echo etcdutl; else echo etcdctl; fi; }

# bench_etcd_versions: one line per minor in BENCH_ETCD, for results.md.
bench_etcd_versions() {
	local v
	for v in $BENCH_ETCD; do
		(
		bench_etcd_use "$v"
		printf -- '- etcd %s: etcd %s, etcdctl %s' "$v" \
		    "$(etcd --version | awk '/^etcd Version/ { print $3 }')" \
		    "$(etcdctl version | awk '/^etcdctl version/ { print $3 }')"
		[ ! -x "$BENCH_ETCD_BIN/etcdutl" ] ||
		    printf ', etcdutl %s' "$("$BENCH_ETCD_BIN/etcdutl" version | awk '/^etcdutl version/ { print $3 }')"
		printf ' (%s)\n' "$BENCH_ETCD_BIN"
		)
	done
}
bench_say() { echo "bench: $*" >&2; }

# bench_out LINE...: appends to results.md and prints to stdout.
bench_out() { printf '%s\n' "$@" | tee -a "$BENCH_RESULTS"; }

bench_cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	BENCH_PIDS=()
	[ -z "$BENCH_ETCD_DIR" ] || [ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_ETCD_DIR"
	rm -rf "$BENCH_DIR"/run.*
}

# bench_size_bytes SIZE: 64MiB, 1GiB, 500MB... as a number of bytes.
bench_size_bytes() {
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import load; print(load.parse_size(sys.argv[2]))' \
	    "$BENCH_TOP/bench" "$1" 2>/dev/null || bench_die "bad size '$1' (e.g. 64MiB, 1GiB)"
}

# bench_need_space BYTES: fails clearly unless $BENCH_DIR's file system has
# that much free space.
bench_need_space() {
	local avail
	avail=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
	[ $((avail * 1024)) -ge "$1" ] ||
	    bench_die "$BENCH_DIR has $((avail / 1024)) MiB free, this step needs $(($1 >> 20)) MiB (set BENCH_DIR to a bigger file system or lower BENCH_SIZES)"
}

# bench_init: makes the work dir, starts results.md with what the figures
# depend on (machine, versions, rounds) and arms the cleanup trap.
bench_init() {
	local mem lbv v
	mkdir -p "$BENCH_DIR" || bench_die "cannot create $BENCH_DIR"
	[ -n "$BENCH_ETCD" ] || bench_die "BENCH_ETCD is empty"
	for v in $BENCH_ETCD; do bench_etcd_use "$v"; done
	case $BENCH_ROUNDS in ''|*[!0-9]*|0) bench_die "BENCH_ROUNDS must be a positive number";; esac
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	: >"$BENCH_RESULTS"
	: >"$BENCH_RAW"
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	lbv=$("$LIFEBOAT" version 2>/dev/null | head -n 1) || lbv="(not built)"
	bench_out "# lifeboat benchmarks" "" \
	    "- date: $(date -u '+%Y-%m-%d %H:%M UTC')" \
	    "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $mem memory, load average $(cut -d' ' -f1-3 /proc/loadavg)" \
	    "- $lbv" \
	    "$(bench_etcd_versions)" \
	    "- rounds: $BENCH_ROUNDS per command, run alternately after one warm-up run each; page cache not dropped" \
	    ""
}

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_etcd_start NAME: one etcd member under $BENCH_DIR/NAME with room for
# big data (8 GiB quota, no compaction, 8 MiB requests for the loader's
# batches).  Sets BENCH_URL, BENCH_ETCD_PID and BENCH_ETCD_DIR.
bench_etcd_start() {
	local cp pp
	BENCH_ETCD_DIR=$BENCH_DIR/$1
	rm -rf "$BENCH_ETCD_DIR"
	mkdir -p "$BENCH_ETCD_DIR"
	cp=$(bench_free_port)
	pp=$(bench_free_port)
	BENCH_URL=http://127.0.0.1:$cp
	etcd --name bench --data-dir "$BENCH_ETCD_DIR/data" \
	    --listen-client-urls "$BENCH_URL" --advertise-client-urls "$BENCH_URL" \
	    --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "bench=http://127.0.0.1:$pp" \
	    --initial-cluster-token "bench-$$" \
	    --quota-backend-bytes $((8 << 30)) --max-request-bytes $((8 << 20)) \
	    --max-txn-ops 2048 --logger zap --log-outputs stderr \
	    >"$BENCH_ETCD_DIR/etcd.log" 2>&1 &
	BENCH_ETCD_PID=$!
	BENCH_PIDS+=("$BENCH_ETCD_PID")
	for _ in $(seq 300); do
		etcdctl --endpoints "$BENCH_URL" endpoint health >/dev/null 2>&1 &&
		    { bench_etcd_ready; return 0; }
		kill -0 "$BENCH_ETCD_PID" 2>/dev/null ||
		    bench_die "etcd exited at start: $(tail -n 3 "$BENCH_ETCD_DIR/etcd.log")"
		sleep 0.1
	done
	bench_die "etcd at $BENCH_URL not healthy after 30 s (see $BENCH_ETCD_DIR/etcd.log)"
}

# bench_etcd_ready: waits until the member reports a storage version (3.6+
# writes it a few seconds after start; load and timing wait for that write).
bench_etcd_ready() {
	case $BENCH_ETCD_VERSION in 3.4|3.5) return 0 ;; esac
	for _ in $(seq 300); do
		etcdctl --endpoints "$BENCH_URL" endpoint status -w json 2>/dev/null |
		    grep -q '"storageVersion":"[0-9]' && return 0
		sleep 0.1
	done
	bench_die "etcd $BENCH_ETCD_VERSION at $BENCH_URL shows no storageVersion after 30 s"
}

# bench_etcd_stop: stops the member bench_etcd_start started and removes its
# data (unless BENCH_KEEP is set).
bench_etcd_stop() {
	local pid=$BENCH_ETCD_PID p keep=()
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_ETCD_DIR"
	BENCH_ETCD_PID='' BENCH_URL='' BENCH_ETCD_DIR=''
}

# bench_s3rver_start: s3rver on a free port under $BENCH_DIR/s3rver with
# the bucket "bench"; sets BENCH_S3; stopped with the rest.
bench_s3rver_start() {
	local bin=$BENCH_TOP/tests/node_modules/.bin/s3rver port
	[ -x "$bin" ] || bench_die "s3rver missing: run ./scripts/deps.sh"
	port=$(bench_free_port)
	rm -rf "$BENCH_DIR/s3rver"
	mkdir -p "$BENCH_DIR/s3rver"
	NODE_OPTIONS=--openssl-legacy-provider "$bin" --address 127.0.0.1 --port "$port" \
	    --directory "$BENCH_DIR/s3rver" --silent --configure-bucket bench \
	    >"$BENCH_DIR/s3rver.log" 2>&1 &
	BENCH_PIDS+=("$!")
	BENCH_S3=http://127.0.0.1:$port
	for _ in $(seq 200); do
		curl -sf -o /dev/null "$BENCH_S3/bench" && return 0
		sleep 0.1
	done
	bench_die "s3rver did not start: $(tail -n 3 "$BENCH_DIR/s3rver.log")"
}

# bench_db_size: the member's backend db size in bytes, as etcdctl reports it.
bench_db_size() {
	etcdctl --endpoints "$BENCH_URL" endpoint status -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])'
}

# bench_load SIZE: fills the member to SIZE with bench/load.py; sets
# BENCH_LOAD_DESC (one line for results.md).
bench_load() {
	local out db
	bench_say "loading $1 into $BENCH_URL"
	out=$(python3 "$BENCH_TOP/bench/load.py" --endpoint "$BENCH_URL" --size "$1" --json \
	    2>"$BENCH_ETCD_DIR/load.log") ||
	    bench_die "load failed: $(tail -n 3 "$BENCH_ETCD_DIR/load.log")"
	db=$(bench_db_size)
	BENCH_LOAD_DESC=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print("%d keys, %.0f MiB of values, db %.1f MiB (etcdctl endpoint status), loaded in %.1f s (%.1f MiB/s)" % (
    s["objects"], s["bytes_written"] / 2**20, int(sys.argv[2]) / 2**20, s["seconds"], s["mib_per_second"]))' "$out" "$db")
	bench_say "$BENCH_LOAD_DESC"
}

# bench_status FILE: prints "revision totalKey hash" of a snapshot file, from
# the version's snapshot status (etcdutl from 3.5, etcdctl on 3.4: the
# oracle); fails if it rejects the file.  etcdutl 3.6's totalKey counts live
# keys only, 3.4's every revision of every key: the same tool reads both
# files, so the comparison holds either way.
bench_status() {
	bench_snaptool snapshot status "$1" -w json 2>/dev/null |
	    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["revision"], s["totalKey"], s["hash"])'
}

# measure NAME CMD...: runs CMD under bench/measure.py, appends
# {"name":NAME, "wall":s, "maxrss_kib":n, "status":rc} to raw.jsonl and
# prints the wall time and peak RSS.  Fails (showing CMD's output) if CMD does.
measure() {
	local name=$1 log=$BENCH_DIR/measure.log res
	shift
	: >"$log"
	res=$(python3 "$BENCH_TOP/bench/measure.py" --log "$log" -- "$@") || {
		bench_say "'$name' failed: $res"
		tail -n 5 "$log" >&2
		return 1
	}
	python3 -c 'import json,sys; r=json.loads(sys.argv[2]); r["name"]=sys.argv[1]; r["context"]=sys.argv[3]; r["etcd"]=sys.argv[4]; r["bench"]=sys.argv[5]; r["round"]=int(sys.argv[6]); print(json.dumps(r))' \
	    "$name" "$res" "${BENCH_CONTEXT:-}" "$BENCH_ETCD_VERSION" "${BENCH_BENCH:-}" "${BENCH_ROUND:-0}" >>"$BENCH_RAW"
	MEASURE_LAST=$res
}

# compare TITLE LABEL_A FN_A [LABEL_B FN_B]: benchmarks commands against each
# other.  FN is a shell function called as `FN DIR` with a fresh empty
# directory for the run's output; it sets the array CMD to the command to
# measure (the directory is removed after the run).  One warm-up run of each
# command, then BENCH_ROUNDS rounds of A B A B ...; appends to results.md a
# table of median, min and max wall time and peak RSS per command and the
# ratio of medians of A to each other command.
compare() {
	local title=$1 labels=() fns=() i r dir
	shift
	while [ $# -ge 2 ]; do labels+=("$1"); fns+=("$2"); shift 2; done
	[ ${#fns[@]} -ge 1 ] || bench_die "compare: no command given"
	local walls=() rss=()
	for r in $(seq 0 "$BENCH_ROUNDS"); do
		for i in "${!fns[@]}"; do
			dir=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
			CMD=()
			"${fns[$i]}" "$dir"
			BENCH_CONTEXT="$title, etcd $BENCH_ETCD_VERSION, round $r" BENCH_BENCH=$title \
			    BENCH_ROUND=$r measure "${labels[$i]}" "${CMD[@]}" ||
			    bench_die "$title: ${labels[$i]} failed in round $r"
			rm -rf "$dir"
			# round 0 is the warm-up: measured and logged, not counted
			[ "$r" -eq 0 ] && continue
			walls[i]="${walls[i]:-} $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["wall"])' "$MEASURE_LAST")"
			rss[i]="${rss[i]:-} $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["maxrss_kib"])' "$MEASURE_LAST")"
		done
		if [ "$r" -eq 0 ]; then bench_say "$title: warm-up done"
		else bench_say "$title: round $r of $BENCH_ROUNDS done"; fi
	done
	local args=()
	for i in "${!fns[@]}"; do args+=("${labels[$i]}" "${walls[$i]}" "${rss[$i]}"); done
	python3 - "$title, etcd $BENCH_ETCD_VERSION" "${args[@]}" <<-'EOF' | tee -a "$BENCH_RESULTS"
	import statistics, sys
	title, rest = sys.argv[1], sys.argv[2:]
	rows = [(rest[i], [float(x) for x in rest[i + 1].split()],
	         [int(x) for x in rest[i + 2].split()]) for i in range(0, len(rest), 3)]
	print("### %s\n" % title)
	print("| command | median wall (s) | min - max wall (s) | peak RSS (MiB) | runs |")
	print("| --- | ---: | ---: | ---: | ---: |")
	for label, w, m in rows:
	    print("| %s | %.2f | %.2f - %.2f | %.1f | %d |" % (
	        label, statistics.median(w), min(w), max(w), max(m) / 1024, len(w)))
	for b in rows[1:]:
	    a = rows[0]
	    print("\nratio of median wall times, %s / %s: **%.2f**; of peak RSS: %.2f"
	          % (a[0], b[0], statistics.median(a[1]) / statistics.median(b[1]),
	             max(a[2]) / max(b[2])))
	print()
	EOF
}

# bench_summary: every benchmark's commands with the etcd versions side by
# side (median wall time and peak RSS of the counted rounds, from raw.jsonl),
# then the issue's targets per version; appended to results.md.
bench_summary() {
	python3 - "$BENCH_RAW" "$BENCH_ETCD" <<-'EOF' | tee -a "$BENCH_RESULTS"
	import json, statistics, sys
	runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
	runs = [r for r in runs if r.get("round", 0) >= 1 and r.get("bench")]
	versions = sys.argv[2].split()
	benches, names, cell = [], {}, {}
	for r in runs:
	    b, n, v = r["bench"], r["name"], r["etcd"]
	    if b not in benches:
	        benches.append(b)
	        names[b] = []
	    if n not in names[b]:
	        names[b].append(n)
	    cell.setdefault((b, n, v), []).append(r)
	def med(b, n, v, field="wall"):
	    rs = [r for r in cell.get((b, n, v), []) if r.get(field) is not None]
	    return statistics.median(r[field] for r in rs) if rs else None
	def fmt(b, n, v):
	    rs = cell.get((b, n, v))
	    if not rs:
	        return "-"
	    rss = [r["maxrss_kib"] for r in rs if r.get("maxrss_kib")]
	    return "%.2f s, %s" % (med(b, n, v), "%.0f MiB" % (max(rss) / 1024) if rss else "RSS not measured")
	print("## all etcd versions side by side\n")
	print("median wall time and peak RSS of the counted rounds (raw.jsonl)\n")
	for b in benches:
	    print("### %s\n" % b)
	    print("| command | " + " | ".join("etcd " + v for v in versions) + " |")
	    print("| --- |" + " ---: |" * len(versions))
	    for n in names[b]:
	        print("| %s | %s |" % (n, " | ".join(fmt(b, n, v) for v in versions)))
	    print()
	# the issue's targets: (benchmark prefix, lifeboat's command, the
	# reference, at most; None: compared, no target; lifeboat's figure:
	# its wall time, or the drill's own RTO)
	seq = "sequential: etcdctl save, zstd -3, age, curl upload"
	targets = [("snapshot ", "lifeboat pull", "etcdctl snapshot save", 0.75, "wall"),
	           ("backup ", "lifeboat backup (file:// on local disk)", "etcdctl snapshot save (local disk)", None, "wall"),
	           # issue 16: a backup no slower than its pull
	           ("backup ", "lifeboat backup (file:// on local disk)", "lifeboat pull", 1.1, "wall"),
	           ("backup ", "lifeboat backup (s3rver)", "lifeboat pull", 1.3, "wall"),
	           ("backup ", "lifeboat backup (strict S3)", "lifeboat pull", 1.3, "wall"),
	           ("backup ", "lifeboat backup (s3rver)", seq, 0.45, "wall"),
	           ("backup ", "lifeboat backup (strict S3)", seq, 0.45, "wall"),
	           ("backup ", "lifeboat backup (file:// on local disk)", "lifeboat backup (file://, compress-level 3)", None, "wall"),
	           ("restore ", "lifeboat restore cluster --start", None, 0.5, "wall"),
	           ("drill ", "lifeboat drill --backup latest", None, 0.6, "rto_seconds")]
	print("### targets (ratio of medians, lifeboat / etcd's tool: wall times; for the drill its rto_seconds)\n")
	print("| benchmark | target | " + " | ".join("etcd " + v for v in versions) + " |")
	print("| --- | ---: |" + " ---: |" * len(versions))
	for b in benches:
	    for pre, lb, ref, want, field in targets:
	        if not b.startswith(pre) or lb not in names[b]:
	            continue
	        refn = ref or next((n for n in names[b] if n.startswith("manual")), None)
	        if refn not in names[b]:
	            continue
	        cells = []
	        for v in versions:
	            a, r = med(b, lb, v, field), med(b, refn, v)
	            cells.append("-" if a is None or not r else "%.2f" % (a / r) if want is None else
	                         "%.2f %s" % (a / r, "(met)" if a / r <= want else "(missed)"))
	        print("| %s: %s%s / %s | %s | %s |" % (b, lb, "" if field == "wall" else " (" + field + ")", refn,
	                                           "none" if want is None else "<= %.2f" % want,
	                                           " | ".join(cells)))
	# issue 16: peak RSS of every lifeboat backup <= 64 MiB
	for b in benches:
	    if not b.startswith("backup "):
	        continue
	    for n in names[b]:
	        if not n.startswith("lifeboat backup"):
	            continue
	        cells = []
	        for v in versions:
	            rss = [r["maxrss_kib"] for r in cell.get((b, n, v), []) if r.get("maxrss_kib")]
	            cells.append("-" if not rss else "%.0f MiB %s" % (max(rss) / 1024,
	                         "(met)" if max(rss) <= 64 * 1024 else "(missed)"))
	        print("| %s: %s, peak RSS | <= 64 MiB | %s |" % (b, n, " | ".join(cells)))
	print()
	EOF
}
