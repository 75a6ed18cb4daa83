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

run_suite() {   # run_suite BUILD-DIR LABEL
	for t in "$1"/tests/*_test; do
		[ -x "$t" ] || continue
		name="$2/unit/$(basename "$t")"
		out="$log/$(echo "$name" | tr / _).log"
		( cd "$top" && "$t" ) >"$out" 2>&1
		tally "$name" "$out" $?
	done
	for t in tests/integration/*_test.sh; do
		[ -f "$t" ] || continue
		name="$2/integration/$(basename "$t" .sh)"
		out="$log/$(echo "$name" | tr / _).log"
		LIFEBOAT_SUITE=$2 LIFEBOAT="$top/$1/lifeboat" sh "$t" >"$out" 2>&1
		tally "$name" "$out" $?
	done
}

run_suite "$BUILD" plain
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite "$BUILD/asan" asan

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
