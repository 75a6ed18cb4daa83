#!/bin/sh
# objlock_test.sh: s3-object-lock (issue 13) against versitygw, an S3
# server that enforces Object Lock (lockstore_start; what it enforces is
# proved by objlock_server_test.sh).  A backup with compliance:40s puts
# every object it writes (members, manifest, signature, HEAD, audit
# events) under a retention, read back with curl's own SigV4 (no lifeboat
# code); a DELETE of a backup object's version with the same credentials
# is refused and the object stays; prune keeps the locked backup, says
# until when, records it in the catalog (catalog list shows it) and
# deletes it, every version, in a prune once the lock is over; a restore
# from the bucket works; a bucket without Object Lock fails the backup at
# start with one clear line and stores nothing.
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1
if ! lockstore_start; then
	echo "SKIP objlock: $lockstore_why"
	exit 0
fi
ok lockstore_started
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY

etcd_cluster e 1 || { fail etcd_cluster "did not start"; exit 1; }
i=0
while [ $i -lt 20 ]; do
	etcdctl --endpoints "$e_endpoints" put "/registry/k$i" "value-$i" >/dev/null
	i=$((i + 1))
done
# About 8 MB of random base64 (some 6 MB once compressed): with
# s3-part-size = 5MiB each member object is a multipart upload, whose lock
# goes on CreateMultipartUpload.
i=0
while [ $i -lt 8 ]; do
	head -c 750000 /dev/urandom | base64 -w0 >"$T/big"
	etcdctl --endpoints "$e_endpoints" put "/registry/big$i" <"$T/big" >/dev/null
	i=$((i + 1))
done
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null || { fail keygen "failed"; exit 1; }
"$LIFEBOAT" keygen --signing -o "$T/sign.key" >/dev/null 2>&1 || { fail keygen_signing "failed"; exit 1; }

LOCK_S=40
# conf FILE BUCKET CATALOG: prod locked for LOCK_S seconds, keep-last=1.
conf() {
	cat >"$1" <<EOF
[global]
repo = s3://$2/lb
s3-endpoint = $S3_ENDPOINT
s3-region = $S3_REGION
s3-part-size = 5MiB
recipients = $(cat "$T/rcpt")
identity-file = $T/id.txt
signing-key = $T/sign.key
catalog = $3
s3-object-lock = governance:1d
[cluster:prod]
endpoints = $e_endpoints
retention = keep-last=1
s3-object-lock = compliance:${LOCK_S}s
EOF
}
mkdir -p "$T/cat" "$T/cat2"
conf "$T/l.conf" "$S3_BUCKET" "$T/cat/catalog.db"
L() { "$LIFEBOAT" --config "$T/l.conf" "$@"; }

# S3 OUT METHOD PATH [CURL-ARGS...]: a request signed by curl, not by
# lifeboat; prints the HTTP status, the headers go to OUT.hdr.  Query
# pairs are written sorted, name=value, '/' encoded (as the server
# canonicalises them).
EMPTY=$(sha256sum </dev/null | cut -d' ' -f1)
S3() {
	out=$1 m=$2 p=$3; shift 3
	curl -s -o "$out" -D "$out.hdr" -w '%{http_code}' -X "$m" \
	    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
	    -H "x-amz-content-sha256: $EMPTY" "$@" "$S3_ENDPOINT$p"
}
is() { [ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }; }
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# keys BUCKET PREFIX: the current keys under PREFIX, one a line.
keys() {
	S3 "$T/ls" GET "/$1?list-type=2&prefix=$(enc "$2")" >/dev/null
	python3 -c 'import re, sys; print("\n".join(re.findall(r"<Key>([^<]*)</Key>", open(sys.argv[1]).read())))' "$T/ls" | sed '/^$/d'
}
# versions PREFIX: every version and delete marker under PREFIX, "KEY VID" a line.
versions() {
	S3 "$T/lv" GET "/$S3_BUCKET?prefix=$(enc "$1")&versions=" >/dev/null
	python3 -c '
import re, sys
x = open(sys.argv[1]).read()
for m in re.finditer(r"<(Version|DeleteMarker)>(.*?)</\1>", x, re.S):
    k = re.search(r"<Key>([^<]*)</Key>", m.group(2)).group(1)
    v = re.search(r"<VersionId>([^<]*)</VersionId>", m.group(2)).group(1)
    print(k, v)' "$T/lv"
}

check backup_1 L backup --cluster prod --no-progress
sleep 1
check backup_2 L backup --cluster prod --no-progress
T2=$(date +%s)
L catalog list --json >"$T/list.json" 2>/dev/null
OLD=$(python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); print(sorted(x["id"] for x in b)[0])' "$T/list.json")
NEW=$(python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); print(sorted(x["id"] for x in b)[-1])' "$T/list.json")
pycheck backup_records_lock '
b = json.load(open(sys.argv[1]))
assert len(b) == 2 and all(x["status"] == "complete" and x["locked_until"] for x in b), b' "$T/list.json"

# Every object in the bucket has a retention: prod's COMPLIANCE (its
# members, manifest, signature, HEAD and audit events), anything else the
# global GOVERNANCE.
keys "$S3_BUCKET" lb/ >"$T/keys"
all_retained() {
	n=0
	while read -r k; do
		st=$(S3 "$T/ret" GET "/$S3_BUCKET/$k?retention=")
		case $k in
		lb/prod/*|lb/.audit/prod/*) want=COMPLIANCE ;;
		*) want=GOVERNANCE ;;
		esac
		[ "$st" = 200 ] && grep -q "<Mode>$want</Mode>" "$T/ret" ||
			{ echo "$k: $st $(cat "$T/ret")"; return 1; }
		n=$((n + 1))
	done <"$T/keys"
	echo "# $n objects, each with a retention"
}
check every_object_retained all_retained
check retained_has_manifest grep -q '/manifest.json$' "$T/keys"
check retained_has_signature grep -q '/manifest.json.sig$' "$T/keys"
check retained_has_head grep -q '^lb/prod/HEAD.json$' "$T/keys"
check retained_has_audit_events grep -q '^lb/.audit/prod/' "$T/keys"
check retained_has_member sh -c "grep '^lb/prod/' '$T/keys' | grep -v 'manifest\|HEAD' | grep -q ."
# The member objects were multipart uploads (an S3 ETag "MD5-PARTS").
MEM=$(grep '^lb/prod/' "$T/keys" | grep -v 'manifest\|HEAD' | head -n 1)
S3 "$T/head" HEAD "/$S3_BUCKET/$MEM" >/dev/null
check member_was_multipart grep -Eiq '^etag: "?[0-9a-f]+-[0-9]+' "$T/head.hdr"

# A DELETE by version of a backup object, with the credentials lifeboat
# uses, is refused, and the object is still there.
MK=$(grep "$OLD/manifest.json\$" "$T/keys")
MV=$(versions "$MK" | awk -v k="$MK" '$1 == k { print $2; exit }')
check manifest_version_listed test -n "$MV"
check delete_version_refused is "$(S3 "$T/del" DELETE "/$S3_BUCKET/$MK?versionId=$MV")" 403
check delete_version_access_denied grep -q AccessDenied "$T/del"
check manifest_still_there is "$(S3 "$T/get" GET "/$S3_BUCKET/$MK")" 200

# Prune: keep-last=1 drops the older backup, which is still locked: kept,
# with one line saying until when, recorded, shown by catalog list.
CHECK_EXIT_ALL=1 check_exit prune_keeps_locked 0 "keep +$OLD .*locked until .* kept, pruned by a later run" \
    L catalog prune --cluster prod
cp "$T/ce.out" "$T/prune1.out"
check prune_locked_not_an_error sh -c "! grep -i 'error\|denied\|credential\|auth' '$T/prune1.out' || { cat '$T/prune1.out'; exit 1; }"
check prune_locked_manifest_kept is "$(S3 "$T/get" GET "/$S3_BUCKET/$MK")" 200
L catalog list >"$T/list.txt" 2>&1
check list_shows_lock sh -c "grep -A1 '^$OLD' '$T/list.txt' | grep -q 'LOCKED UNTIL'"
L catalog list --json >"$T/list2.json" 2>/dev/null
pycheck list_json_lock '
b = {x["id"]: x for x in json.load(open(sys.argv[1]))}
assert len(b) == 2 and b[sys.argv[2]]["locked_until"], b' "$T/list2.json" "$OLD"

# A restore from the lock bucket works.
ms="r1=http://127.0.0.1:$(free_port)@http://127.0.0.1:$(free_port)"
check restore_from_lock_bucket L restore cluster --cluster prod --members "$ms" --base-dir "$T/rs"
check restore_wrote_member sh -c "find '$T/rs' -name db -path '*snap*' | grep -q ."

# Once the lock is over, a prune deletes the backup and every version of
# its objects (the bucket is versioned: a delete marker would free nothing).
left=$((T2 + LOCK_S + 3 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
check prune_after_lock L catalog prune --cluster prod
DIR=${MK%manifest.json}
versions "$DIR" >"$T/vers"
check old_backup_every_version_gone sh -c "[ ! -s '$T/vers' ] || { cat '$T/vers'; exit 1; }"
L catalog list --json >"$T/list3.json" 2>/dev/null
pycheck old_backup_out_of_catalog '
b = [x["id"] for x in json.load(open(sys.argv[1]))]
assert b == [sys.argv[2]], b' "$T/list3.json" "$NEW"
versions "lb/prod/" | grep -q "$NEW" && ok newer_backup_kept || fail newer_backup_kept "its versions are gone"

# A bucket without Object Lock: the backup fails at start with one clear
# line and stores nothing.
check make_plain_bucket is "$(S3 "$T/mk" PUT /plain-bucket)" 200
conf "$T/p.conf" plain-bucket "$T/cat2/catalog.db"
check_exit plain_bucket_refused 2 "s3-object-lock is set but bucket s3://plain-bucket/lb has no Object Lock configuration" \
    "$LIFEBOAT" --config "$T/p.conf" backup --cluster prod --no-progress
check plain_bucket_one_line sh -c "[ \$(grep -c 'Object Lock' '$T/ce.err') = 1 ]"
keys plain-bucket "" >"$T/plain.keys"
check plain_bucket_empty sh -c "[ ! -s '$T/plain.keys' ] || { cat '$T/plain.keys'; exit 1; }"
