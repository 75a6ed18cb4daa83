#!/bin/sh
# layers.sh: no arrow from a lower room to a higher one.
#
# Each room (top-level folder of the source) has a rank; a file may
# include headers of its own room and of rooms of a lower rank, never of
# a room of the same or a higher rank.  `make` runs this before linking
# (when a source changed), so a wrong arrow fails the build.
#
#   0 common     errors, logging, small helpers
#   1 stream     the filter chain and its stages (zstd, age, hashes)
#   1 sign       OpenSSH keys, SSHSIG signatures, allowed_signers
#   2 etcd snapshot repo scheduler
#   3 catalog config evlog (evlog: the PITR segment format and objects)
#   4 env        configuration turned into opened repository, catalog, keys
#   5 backup ops restore
#   6 snapd      the daemon
#   7 cmd        the commands
#   8 main.c     the command table
set -eu
cd "$(dirname "$0")/.."

# One pass: "file:room" pairs from every include, judged by awk.
# tests/ and bench/ may include anything; a folder that is neither
# ranked nor one of those fails, so a new room gets its rank here.
grep -o '^#include "[a-z_]*/' main.c */*.c */*.h 2>/dev/null |
awk '
BEGIN {
	split("common:0 stream:1 sign:1 etcd:2 snapshot:2 repo:2 scheduler:2 " \
	    "catalog:3 config:3 evlog:3 env:4 backup:5 ops:5 restore:5 snapd:6 cmd:7 " \
	    "main.c:8", kv, " ")
	for (i in kv) { split(kv[i], p, ":"); rank[p[1]] = p[2] }
}
{
	file = $0; sub(/:.*/, "", file)
	room = file; sub(/\/.*/, "", room)
	inc = $0; sub(/.*#include "/, "", inc); sub(/\/$/, "", inc)
	if (room == "tests" || room == "bench" || inc == room)
		next
	if (!(room in rank) || !(inc in rank)) {
		printf "layers: %s: %s/ has no rank in scripts/layers.sh\n", file,
		    (room in rank) ? inc : room > "/dev/stderr"
		bad = 1
		next
	}
	if (rank[inc] >= rank[room]) {
		printf "layers: %s includes %s/ (rank %d), not below %s/ (rank %d)\n",
		    file, inc, rank[inc], room, rank[room] > "/dev/stderr"
		bad = 1
	}
}
END { exit bad }'
