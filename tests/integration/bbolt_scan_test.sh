#!/bin/sh
# bbolt_scan_test.sh: the streaming revision scan (flt_bbolt_scan_new,
# driven by build/tools/scantool) against `snaptool snapshot status` and
# `lifeboat inspect` on snapshots of a real etcd: fresh, after thousands of
# puts with overwrites and deletes, with leases and auth users named like
# revisions, large values (overflow pages), a compaction that drops the
# newest tombstone, a defrag, snapshots taken while writes go on, and the
# member's raw db file.  Every file is streamed in several chunk sizes.
. "$(dirname "$0")/../lib.sh"

ST=${SCANTOOL:-$(dirname "$LIFEBOAT")/tools/scantool}
if [ ! -x "$ST" ]; then
	fail scan_tool "missing $ST (run make test)"
	exit 1
fi

etcd_cluster c 1 || { fail scan_etcd_up "etcd did not start"; exit 1; }
# shellcheck disable=SC2154
EP=$c_endpoints
ectl() { etcdctl --endpoints "$EP" "$@"; }

# same NAME FILE: for every chunk size the scan's revision is known and
# equals etcdctl's and lifeboat inspect's; its page size and db size equal
# etcdctl's totalSize.  Leaves the 65537-chunk result in $T/NAME.scan.
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
	for c in 7 4093 4096 65537 1048576; do
		if ! "$ST" -c "$c" "$f" >"$T/$n.scan.$c" 2>"$T/$n.err"; then
			fail "$n" "scantool -c $c failed: $(tail -n 1 "$T/$n.err")"
			return
		fi
	done
	cp "$T/$n.scan.65537" "$T/$n.scan"
	if out=$(python3 - "$T/$n" <<'EOF'
import json, sys
p = sys.argv[1]
e = json.load(open(p + ".etcd"))
l = json.load(open(p + ".json"))
bad = []
for c in ("7", "4093", "4096", "65537", "1048576"):
    s = json.load(open(p + ".scan." + c))
    if not (s["is_bbolt"] and s["revision_known"]):
        bad.append("chunk %s: unknown: %s" % (c, s["why"]))
    elif s["revision"] != e["revision"] or s["revision"] != l["revision"]:
        bad.append("chunk %s: scan %d, etcd %d, inspect %d" %
                   (c, s["revision"], e["revision"], l["revision"]))
    if s["db_size"] != e["totalSize"] or s["page_size"] != l["page_size"] \
            or s["txid"] != l["txid"]:
        bad.append("chunk %s: db_size %d/%d page_size %d/%d txid %d/%d" %
                   (c, s["db_size"], e["totalSize"], s["page_size"],
                    l["page_size"], s["txid"], l["txid"]))
print("; ".join(bad) or "rev %d, max seen %d" %
      (e["revision"], json.load(open(p + ".scan"))["revision_max_seen"]))
sys.exit(1 if bad else 0)
EOF
	); then ok "$n ($out)"; else fail "$n" "$out"; fi
}

# sfield NAME KEY: the scan's JSON field KEY.
sfield() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/$1.scan" "$2"
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
same scan_fresh_cluster "$T/s0.db"
check scan_fresh_trailer_room [ "$(sfield scan_fresh_cluster trailer_room)" = True ]

# Users whose names have the shape of a revision key (17 bytes, '_' at 8).
ectl user add abcdefgh_ijklmnop --new-user-password=pw >/dev/null
ectl user add zzzzzzzz_zzzzzzzzt --new-user-password=pw >/dev/null
ectl role add aaaaaaaa_bbbbbbbb >/dev/null
# Single puts, overwrites, deletes (one revision each), leases.
for k in $(seq 1 300); do echo "put /one/$((k % 50)) v$k"; done >"$T/single"
while read -r _ k v; do ectl put "$k" "$v" >/dev/null; done <"$T/single"
puts 3000 /app || fail scan_puts "etcdctl txn failed"
ectl del --prefix /app/1 >/dev/null
ectl del /one/7 >/dev/null
lease=$(ectl lease grant 600 | awk '{print $2}')
for k in 1 2 3; do ectl put --lease="$lease" /leased/$k yes >/dev/null; done
ectl snapshot save "$T/s1.db" >/dev/null 2>&1
same scan_after_puts_deletes_leases_users "$T/s1.db"
rev1=$(sfield scan_after_puts_deletes_leases_users revision)

# Values larger than a page (overflow pages), one of about 1 MiB, and a
# last key whose value is large too.
head -c 6000 /dev/urandom | base64 -w0 >"$T/v6k"
head -c 786432 /dev/urandom | base64 -w0 >"$T/v1m"
for k in 1 2 3 4 5 6; do ectl put /big/$k <"$T/v6k" >/dev/null; done
ectl put /big/huge <"$T/v1m" >/dev/null
ectl put /big/huge2 <"$T/v1m" >/dev/null
ectl snapshot save "$T/s2.db" >/dev/null 2>&1
same scan_large_values_last "$T/s2.db"
ectl put /small after-big >/dev/null
ectl snapshot save "$T/s2b.db" >/dev/null 2>&1
same scan_large_values "$T/s2b.db"

ectl compact "$rev1" >/dev/null
ectl put /after/compact 1 >/dev/null
ectl snapshot save "$T/s3.db" >/dev/null 2>&1
same scan_after_compaction "$T/s3.db"

# put then delete then compact at the delete: etcd drops the tombstone, so
# the last key of bucket "key" falls below the newest revision ever written
# while freed pages may still hold it.
ectl put /tomb x >/dev/null
ectl del /tomb >/dev/null
trev=$(ectl get /none -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ectl compact --physical "$trev" >/dev/null
ectl snapshot save "$T/s5.db" >/dev/null 2>&1
same scan_compacted_tombstone "$T/s5.db"
# From 3.6 etcd keeps the tombstone that sits at the compaction revision,
# so there the last key stays the newest revision.
case $TEST_ETCD_VERSION in
3.4|3.5) check scan_compacted_tombstone_below_newest \
	[ "$(sfield scan_compacted_tombstone revision)" -lt "$trev" ] ;;
*)	check scan_compacted_tombstone_kept \
	[ "$(sfield scan_compacted_tombstone revision)" -eq "$trev" ] ;;
esac

ectl defrag >/dev/null
ectl snapshot save "$T/s4.db" >/dev/null 2>&1
same scan_after_defrag "$T/s4.db"

# Snapshots taken while another client writes: pages free in the snapshot's
# transaction (after deleting 12 MB) are reused by later commits while the
# copy runs, so freed pages carry revisions newer than the snapshot.  The
# ok line counts the snapshots where that happened (max seen > revision).
python3 - "$T" <<'EOF2'
import os, sys
v = os.urandom(1500).hex()
for t in range(100):
    with open("%s/big%d" % (sys.argv[1], t), "w") as f:
        f.write("\n" + "".join("put /load/%d/%d %s\n" % (t, j, v) for j in range(40)) + "\n\n")
EOF2
for t in $(seq 0 99); do ectl txn <"$T/big$t" >/dev/null; done
ectl del --prefix /load >/dev/null
(
	i=0
	while [ ! -f "$T/stop" ]; do
		sed "s#/load/#/w$i/#" "$T/big$((i % 100))" | ectl txn >/dev/null 2>&1 || break
		i=$((i + 1))
	done
) &
writer=$!
for k in 1 2 3 4 5 6; do
	ectl snapshot save "$T/busy$k.db" >/dev/null 2>&1
	same scan_during_writes_$k "$T/busy$k.db"
done
: >"$T/stop"
wait "$writer"
newer=0
for k in 1 2 3 4 5 6; do
	[ "$(sfield scan_during_writes_$k revision_max_seen)" -gt \
	    "$(sfield scan_during_writes_$k revision)" ] && newer=$((newer + 1))
done
ok "scan_during_writes_freed_pages_newer ($newer of 6 snapshots hold newer revisions in freed pages)"

# Truncated and garbage streams: not bbolt, or bbolt with unknown revision.
head -c 100000 "$T/s4.db" >"$T/trunc.db"
"$ST" "$T/trunc.db" >"$T/trunc.scan"
check scan_truncated_unknown python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if s["is_bbolt"] and not s["revision_known"] and "ended" in s["why"] else 1)' "$T/trunc.scan"
"$ST" /etc/services >"$T/garbage.scan"
check scan_garbage_not_bbolt python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if not s["is_bbolt"] and not s["revision_known"] else 1)' "$T/garbage.scan"

# The member's own database file, after etcd stopped (free pages, file
# larger than the high water mark, no trailer).
etcd_stop c 1
same scan_member_db "$T/c/m1.data/member/snap/db"
