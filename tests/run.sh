#!/bin/sh
# Runs every test: the unit binaries and the integration scripts, first
# against the normal build, then against the ASan/UBSan build, then a short
# run of each fuzzer.  Each test prints "ok NAME" or "FAIL NAME: ..."; this
# script adds them up and closes with one "N passed, N failed" line.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
cd "$top" || exit 1

log=$(mktemp -d /tmp/lifeboat-check.XXXXXX)
passed=0
failed=0

tally() {   # tally NAME FILE EXIT
	p=$(grep -c '^ok ' "$2")
	f=$(grep -c '^FAIL ' "$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $1: exited $3 (see $2)"
		f=1
	fi
	grep '^FAIL ' "$2"
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-44s %4d ok %3d failed\n' "$1" "$p" "$f"
}

# The integration tests that take longest, started first so that two
# lanes end together.
SLOW="snapd_faults snapd restore pitr_workload pitr_restore pitr_large package backup_kill matrix
restore_auth catalog_ops pitr_capture
invariants bbolt_scan newhosts objlock livehash"

integration_list() {
	for n in $SLOW; do
		[ -f "tests/integration/${n}_test.sh" ] && echo "tests/integration/${n}_test.sh"
	done
	for t in tests/integration/*_test.sh; do
		case " $(echo $SLOW) " in *" $(basename "$t" _test.sh) "*) continue ;; esac
		[ -f "$t" ] && echo "$t"
	done
}

# lane BUILD-DIR LABEL QUEUE: runs the tests of QUEUE, taking the next
# one under the queue's lock, until none is left; each test's exit code
# goes beside its log.
lane() {
	while :; do
		t=$(flock "$3.lock" sh -c 'head -n 1 "$1"; sed -i 1d "$1"' _ "$3")
		[ -n "$t" ] || break
		name="$2/integration/$(basename "$t" .sh)"
		out="$log/$(echo "$name" | tr / _).log"
		LIFEBOAT_SUITE=$2 LIFEBOAT="$top/$1/lifeboat" sh "$t" >"$out" 2>&1
		echo $? >"$out.rc"
	done
}

# run_suite BUILD-DIR LABEL LANES: the unit binaries one after the other,
# then the integration tests in LANES lanes (1 or 2).  Two lanes halve
# the suite's time where the tests mostly wait (on etcd, on timers);
# their servers never meet, as every test listens on ports of its own
# (tests/lib.sh: free_port).  Tallied in file order once all are done.
run_suite() {
	for t in "$1"/tests/*_test; do
		[ -x "$t" ] || continue
		name="$2/unit/$(basename "$t")"
		out="$log/$(echo "$name" | tr / _).log"
		( cd "$top" && "$t" ) >"$out" 2>&1
		tally "$name" "$out" $?
	done
	integration_list >"$log/$2.queue"
	lane "$1" "$2" "$log/$2.queue" &
	[ "$3" -lt 2 ] || lane "$1" "$2" "$log/$2.queue" &
	wait
	for t in tests/integration/*_test.sh; do
		[ -f "$t" ] || continue
		name="$2/integration/$(basename "$t" .sh)"
		out="$log/$(echo "$name" | tr / _).log"
		tally "$name" "$out" "$(cat "$out.rc" 2>/dev/null || echo 1)"
	done
}

# Both suites in two lanes: most of an integration test's time is spent
# waiting (on etcd, on timers), and the ASan suite has run this way since
# the second wave without a flake.  LIFEBOAT_LANES=1 runs the plain suite
# one test at a time (the reference for a test's own timing).
run_suite "$BUILD" plain "${LIFEBOAT_LANES:-2}"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite "$BUILD/asan" asan 2

# Two fuzzers at a time (each uses one core), tallied in order.
fuzz_one() {   # fuzz_one FUZZER LOG
	corpus="tests/fuzz/corpus/$(basename "$1" _fuzz)"
	work=$(mktemp -d "$log/corpus.XXXXXX")
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	if "$1" -max_total_time=20 -timeout=5 "$work" >"$2" 2>&1; then
		echo "ok fuzz/$(basename "$1")" >>"$2"
	else
		echo "FAIL fuzz/$(basename "$1"): crash, see $2" >>"$2"
	fi
}
set -- "$BUILD"/fuzz/*_fuzz
while [ $# -gt 0 ]; do
	[ -x "$1" ] || { shift; continue; }
	fuzz_one "$1" "$log/$(basename "$1").log" &
	a=$!
	b=
	if [ $# -gt 1 ] && [ -x "$2" ]; then
		fuzz_one "$2" "$log/$(basename "$2").log" &
		b=$!
	fi
	wait "$a"
	[ -z "$b" ] || wait "$b"
	tally "fuzz/$(basename "$1")" "$log/$(basename "$1").log" 0
	[ -z "$b" ] || tally "fuzz/$(basename "$2")" "$log/$(basename "$2").log" 0
	shift
	[ -z "$b" ] || shift
done

echo "logs: $log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
