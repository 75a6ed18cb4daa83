#!/bin/sh
# inspect_test.sh: `lifeboat inspect` against `snaptool snapshot status` on
# snapshots of a real etcd (puts, overwrites, deletes, leases, values large
# enough for overflow pages, a compaction, a defrag), on the member's raw
# db file, and on damaged files (flipped byte, truncated, not bbolt).
. "$(dirname "$0")/../lib.sh"

etcd_cluster c 1 || { fail inspect_etcd_up "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EP=$c_endpoints
ectl() { etcdctl --endpoints "$EP" "$@"; }

# same NAME FILE: lifeboat's revision, key count, hash and size equal
# etcdctl's for FILE; also prints lifeboat's JSON into $T/NAME.json.
same() {
	n=$1; f=$2
	if ! snaptool snapshot status -w json "$f" >"$T/$n.etcd" 2>"$T/$n.err"; then
		fail "$n" "snaptool snapshot status failed: $(tail -n 1 "$T/$n.err")"
		return
	fi
	if ! "$LIFEBOAT" inspect --json "$f" >"$T/$n.json" 2>"$T/$n.err"; then
		fail "$n" "lifeboat inspect failed: $(tail -n 1 "$T/$n.err")"
		return
	fi
	if out=$(python3 - "$T/$n.etcd" "$T/$n.json" "$TEST_ETCD_VERSION" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
l = json.load(open(sys.argv[2]))
pairs = [("revision", "revision"), ("hash", "hash"), ("totalSize", "db_size")]
if sys.argv[3] in ("3.4", "3.5"):
    # etcdutl 3.6 counts live keys instead: lifeboat keeps 3.4's count
    pairs.append(("totalKey", "total_keys"))
else:
    # 3.6+ says which schema the snapshot is
    e["version"] = e.get("version") or None
    pairs.append(("version", "storage_version"))
bad = ["%s: etcd %s, lifeboat %s" % (a, e[a], l[b]) for a, b in pairs if e[a] != l[b]]
print("; ".join(bad) or "rev %d keys %d" % (e["revision"], e["totalKey"]))
sys.exit(1 if bad else 0)
EOF
	); then ok "$n ($out)"; else fail "$n" "$out"; fi
}

# field NAME FILE KEY: prints lifeboat's JSON field KEY for FILE.
field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/$1.json" "$2"
}

# puts N PREFIX: N puts in transactions of 100 (one revision each).
puts() {
	i=0
	while [ "$i" -lt "$1" ]; do
		j=0
		{
			echo
			while [ "$j" -lt 100 ] && [ $((i + j)) -lt "$1" ]; do
				echo "put $2/$((i + j)) value-$((i + j))-$$"
				j=$((j + 1))
			done
			echo; echo
		} >"$T/txn"
		ectl txn <"$T/txn" >/dev/null || return 1
		i=$((i + 100))
	done
}

ectl snapshot save "$T/s0.db" >/dev/null 2>&1
same inspect_fresh_cluster "$T/s0.db"
check inspect_fresh_trailer_ok [ "$(field inspect_fresh_cluster trailer)" = ok ]

puts 400 /app || fail inspect_puts "etcdctl txn failed"
for k in 1 2 3 4 5; do ectl put /app/$k "overwritten $k" >/dev/null; done
ectl del /app/7 >/dev/null
ectl del --prefix /app/39 >/dev/null
lease=$(ectl lease grant 600 | awk '{print $2}')
ectl put --lease="$lease" /leased yes >/dev/null
ectl snapshot save "$T/s1.db" >/dev/null 2>&1
same inspect_after_puts "$T/s1.db"
rev1=$(field inspect_after_puts revision)

# Values larger than a page (overflow pages), one of 1 MiB.
head -c 6000 /dev/urandom | base64 -w0 >"$T/v6k"
head -c 786432 /dev/urandom | base64 -w0 >"$T/v1m"
for k in 1 2 3 4 5 6; do ectl put /big/$k <"$T/v6k" >/dev/null; done
ectl put /big/huge <"$T/v1m" >/dev/null
ectl snapshot save "$T/s2.db" >/dev/null 2>&1
same inspect_large_values "$T/s2.db"
check inspect_has_overflow_pages python3 - "$T/s2.db" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
ps = struct.unpack_from("<I", d, 24)[0]
over = [struct.unpack_from("<I", d, o + 12)[0] for o in range(0, len(d) - 16, ps)]
sys.exit(0 if max(over) > 200 else 1)
EOF

ectl compact "$rev1" >/dev/null
ectl put /after/compact 1 >/dev/null
ectl snapshot save "$T/s3.db" >/dev/null 2>&1
same inspect_after_compaction "$T/s3.db"
check inspect_compact_revision [ "$(field inspect_after_compaction compact_revision)" = "$rev1" ]

ectl defrag >/dev/null
ectl snapshot save "$T/s4.db" >/dev/null 2>&1
same inspect_after_defrag "$T/s4.db"

# The trailer is sha256 of the bytes before it (sha256sum as the oracle).
size=$(stat -c %s "$T/s4.db")
want=$(head -c $((size - 32)) "$T/s4.db" | sha256sum | cut -d' ' -f1)
check inspect_sha256_is_sha256sum [ "$(field inspect_after_defrag sha256)" = "$want" ]

# Without the trailer (a raw copy of the database): same numbers, "absent".
head -c $((size - 32)) "$T/s4.db" >"$T/raw.db"
same inspect_no_trailer "$T/raw.db"
check inspect_no_trailer_absent [ "$(field inspect_no_trailer trailer)" = absent ]

# Human output.
check inspect_human_output sh -c "'$LIFEBOAT' inspect '$T/s1.db' | grep -Eq '^revision: +$rev1\$'"

# Damaged files.
cp "$T/s2.db" "$T/flip.db"
printf 'X' | dd of="$T/flip.db" bs=1 seek=$((5 * 4096 + 3000)) conv=notrunc 2>/dev/null
check_fails inspect_flipped_byte "sha256 trailer mismatch" "$LIFEBOAT" inspect "$T/flip.db"
"$LIFEBOAT" inspect --json "$T/flip.db" >"$T/flip.out" 2>/dev/null
check inspect_flipped_exit_1 [ $? -eq 1 ]

# Meta page 0 damaged: bbolt falls back to meta page 1; both: refused.
cp "$T/raw.db" "$T/meta0.db"
printf 'X' | dd of="$T/meta0.db" bs=1 seek=60 conv=notrunc 2>/dev/null
same inspect_meta0_damaged_falls_back "$T/meta0.db"
cp "$T/meta0.db" "$T/meta01.db"
printf 'X' | dd of="$T/meta01.db" bs=1 seek=$((4096 + 60)) conv=notrunc 2>/dev/null
check_fails inspect_both_metas_damaged "meta page 0: checksum mismatch; meta page 1: checksum mismatch" \
	"$LIFEBOAT" inspect "$T/meta01.db"

head -c 12288 "$T/s2.db" >"$T/trunc.db"
check_fails inspect_truncated "truncated" "$LIFEBOAT" inspect "$T/trunc.db"
check_fails inspect_not_bbolt "/etc/passwd: not a bbolt database" "$LIFEBOAT" inspect /etc/passwd
: >"$T/empty.db"
check_fails inspect_empty_file "not a bbolt database" "$LIFEBOAT" inspect "$T/empty.db"
check_fails inspect_missing_file "cannot open" "$LIFEBOAT" inspect "$T/nope.db"
"$LIFEBOAT" inspect >/dev/null 2>&1
check inspect_usage_exit_2 [ $? -eq 2 ]
"$LIFEBOAT" inspect --bogus "$T/s1.db" >/dev/null 2>&1
check inspect_unknown_option_exit_2 [ $? -eq 2 ]

# The member's own database file, after etcd stopped (free pages, file
# larger than the high water mark, no trailer).
etcd_stop c 1
same inspect_member_db "$T/c/m1.data/member/snap/db"
check inspect_member_db_absent [ "$(field inspect_member_db trailer)" = absent ]
