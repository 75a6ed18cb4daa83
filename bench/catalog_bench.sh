#!/bin/sh
# catalog_bench.sh: times the catalog's common queries on a large catalog
# (default 1,000,000 backups x 3 members across 50 clusters), through the
# API and through the CLI.  Needs `make` first; keeps the filled catalog in
# bench/out/ so a second run skips the fill (delete it to refill).
#
#   sh bench/catalog_bench.sh [BACKUPS [CLUSTERS [MEMBERS]]]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
N=${1:-1000000}
C=${2:-50}
M=${3:-3}
out=bench/out
mkdir -p "$out"
db=$out/catalog-$N-$C-$M.db
PKGS="sqlite3 jansson libcurl openssl libzstd libarchive libmicrohttpd expat"

[ -f "$BUILD/liblifeboat.a" ] || { echo "run make first" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -I. $(pkg-config --cflags $PKGS) \
    -o "$out/catalog_bench" bench/catalog_bench.c "$BUILD/liblifeboat.a" \
    $(pkg-config --libs $PKGS) -lpthread -lm

"$out/catalog_bench" "$db" "$N" "$C" "$M"
echo "catalog file: $(du -h "$db" | cut -f1)"

# The same through the binary: process start, open, query, JSON output.
for args in "list --cluster c17 --since 24h --json" "show latest --cluster c17 --json" \
    "list --cluster c17 --since 24h"; do
	s=$(date +%s%N)
	i=0
	while [ $i -lt 5 ]; do
		# shellcheck disable=SC2086
		"$BUILD/lifeboat" catalog $args --catalog "$db" >/dev/null
		i=$((i + 1))
	done
	e=$(date +%s%N)
	printf 'lifeboat catalog %-44s %7.2f ms per run (whole process)\n' "$args" \
	    "$(echo "($e - $s) / 5 / 1000000" | bc -l)"
done
