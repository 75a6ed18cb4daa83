#!/bin/sh
# objlock_server_test.sh: proves that the S3 server the Object Lock tests
# use (versitygw's posix backend with versioning, lockstore_start in
# tests/lib.sh) really enforces what lifeboat relies on, with curl
# --aws-sigv4 only (no lifeboat code): a bucket made with Object Lock
# answers GetObjectLockConfiguration and its versioning cannot be
# suspended; an object PUT with x-amz-object-lock-mode COMPLIANCE or
# GOVERNANCE and a retain-until date in the future (Content-MD5 sent, as
# S3 demands) cannot be deleted by version with the same credentials, not
# one by one nor in a multi-object delete, stays readable, and its
# retention cannot be shortened but can be extended; a plain DELETE only
# adds a delete marker; GOVERNANCE gives way to
# x-amz-bypass-governance-retention, COMPLIANCE does not; a multipart
# upload started with lock headers is locked the same way (lock headers
# on its parts change nothing); an overwrite is a new version; a wrong
# Content-MD5 or x-amz-checksum-sha256 and a bad signature are refused;
# once the date passes the version can be deleted; a bucket without
# Object Lock takes a PUT without lock headers and refuses one with them.
# Lines starting with '# ' record what this server answers where S3
# servers differ (they are not checks).
. "$(dirname "$0")/../lib.sh"

# No lifeboat code runs here: once, not again under ASan.
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# objlock_server: not under ASan (no lifeboat code in it)"
	exit 0
fi

# deps.sh builds the server: without it, this test fails (never a skip
# that a run would count as passed)
lockstore_start || { fail lockstore_started "$lockstore_why"; exit 1; }
ok lockstore_started

plain=plain-bucket
# S3 OUT METHOD PATH BODY [CURL-ARGS...]: a signed request (BODY a file or
# -), prints the HTTP status; the headers go to OUT.hdr.  As lifeboat's
# client does, it sends x-amz-content-sha256 itself and writes every query
# pair name=value (libcurl 7.88 signs "?object-lock=" as it stands, the
# server canonicalises it as "object-lock=": SignatureDoesNotMatch).
S3() {
	out=$1 m=$2 p=$3 b=$4; shift 4
	[ "$b" = - ] && b=/dev/null
	curl -s -o "$out" -D "$out.hdr" -w '%{http_code}' -X "$m" \
	    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
	    -H "x-amz-content-sha256: $(sha256sum <"$b" | cut -d' ' -f1)" \
	    $([ "$b" = /dev/null ] || echo "--data-binary @$b") "$@" "$S3_ENDPOINT$p"
}
hdr() { tr -d '\r' <"$1.hdr" | sed -n "s/^$2: //Ip" | head -n 1; }
md5() { openssl dgst -md5 -binary "$1" | base64; }
until_date() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
is() { [ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }; }
# later_than FILE SECONDS: the RetainUntilDate in FILE (a ?retention
# answer) is more than SECONDS from now.
later_than() {
	u=$(sed -n 's:.*<RetainUntilDate>\(.*\)</RetainUntilDate>.*:\1:p' "$1")
	[ -n "$u" ] && [ "$(date -u -d "$u" +%s)" -gt $(($(date +%s) + $2)) ] ||
		{ echo "retain until '$u'"; return 1; }
}

# The lock configuration of the bucket lockstore_start made, and of one
# made without Object Lock (which must not claim any).
S3 "$T/cfg" GET "/$S3_BUCKET?object-lock=" - >"$T/st"
check get_lock_config_enabled sh -c "[ \$(cat '$T/st') = 200 ] && grep -q '<ObjectLockEnabled>Enabled</ObjectLockEnabled>' '$T/cfg' || { cat '$T/st' '$T/cfg'; exit 1; }"
check make_plain_bucket is "$(S3 "$T/mk" PUT "/$plain" -)" 200
check get_lock_config_plain_none is "$(S3 "$T/cfg2" GET "/$plain?object-lock=" -)" 404
check plain_lock_config_error grep -q ObjectLockConfigurationNotFound "$T/cfg2"
echo "# lock configuration: $(cat "$T/cfg" | tr -d '\n' | sed 's/^<?xml[^>]*>//')"
# Versioning is on, and cannot be suspended while Object Lock is (else
# an overwrite or a DELETE would destroy the locked data).
S3 "$T/ver" GET "/$S3_BUCKET?versioning=" - >/dev/null
check lock_bucket_versioned grep -q '<Status>Enabled</Status>' "$T/ver"
printf '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>' >"$T/susp.xml"
check suspend_versioning_refused is "$(S3 "$T/susp" PUT "/$S3_BUCKET?versioning=" "$T/susp.xml" \
    -H "Content-MD5: $(md5 "$T/susp.xml")")" 400
check suspend_versioning_invalid_state grep -q InvalidBucketState "$T/susp"

# put_locked KEY MODE SECONDS: a locked PUT of a fresh body; sets $vid.
put_locked() {
	head -c 4096 /dev/urandom >"$T/$1.body"
	st=$(S3 "$T/put" PUT "/$S3_BUCKET/$1" "$T/$1.body" \
	    -H "Content-MD5: $(md5 "$T/$1.body")" \
	    -H "x-amz-object-lock-mode: $2" \
	    -H "x-amz-object-lock-retain-until-date: $(until_date "$3")")
	vid=$(hdr "$T/put" x-amz-version-id)
	[ "$st" = 200 ] && [ -n "$vid" ] || { echo "PUT $1: $st, version '$vid'"; cat "$T/put"; return 1; }
}
# readable KEY VID: that version reads back as the body first PUT.
readable() {
	st=$(S3 "$T/get" GET "/$S3_BUCKET/$1?versionId=$2" -)
	[ "$st" = 200 ] && cmp -s "$T/get" "$T/$1.body" || { echo "GET $1 $2: $st"; return 1; }
}

for mode in COMPLIANCE GOVERNANCE; do
	k=locked-$mode
	check "put_${mode}_with_md5" put_locked "$k" "$mode" 86400 || continue
	v=$vid
	S3 "$T/ret" GET "/$S3_BUCKET/$k?retention=&versionId=$v" - >/dev/null
	check "retention_${mode}_reported" grep -q "<Mode>$mode</Mode>" "$T/ret"
	[ "$mode" = GOVERNANCE ] || echo "# GET ?retention: $(tr -d '\n' <"$T/ret" | sed 's/^<?xml[^>]*>//')"
	S3 "$T/head" HEAD "/$S3_BUCKET/$k?versionId=$v" - >/dev/null
	check "head_${mode}_lock_headers" sh -c "[ '$(hdr "$T/head" x-amz-object-lock-mode)' = $mode ] && [ -n '$(hdr "$T/head" x-amz-object-lock-retain-until-date)' ]"
	st=$(S3 "$T/del" DELETE "/$S3_BUCKET/$k?versionId=$v" -)
	check "delete_version_${mode}_refused" is "$st" 403
	check "delete_${mode}_access_denied" grep -q AccessDenied "$T/del"
	[ "$mode" = GOVERNANCE ] || echo "# DELETE of a locked version: $st $(tr -d '\n' <"$T/del" | sed 's/^<?xml[^>]*>//; s/<RequestId>.*//')"
	check "locked_${mode}_still_readable" readable "$k" "$v"
	# A plain DELETE is not refused: it adds a delete marker on top, and
	# the locked version is still there by id.
	st=$(S3 "$T/dm" DELETE "/$S3_BUCKET/$k" -)
	check "plain_delete_${mode}_marker" sh -c "[ '$st' = 204 ] && [ \"\$(tr -d '\r' <'$T/dm.hdr' | sed -n 's/^x-amz-delete-marker: //Ip')\" = true ]"
	check "locked_${mode}_readable_after_marker" readable "$k" "$v"
	# No longer the current version (kept elsewhere by the server), it is
	# still locked.
	check "noncurrent_${mode}_delete_refused" is "$(S3 "$T/del2" DELETE "/$S3_BUCKET/$k?versionId=$v" -)" 403
	# Shortening the retention is refused (without bypass).
	printf '<Retention><Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>' \
	    "$mode" "$(until_date 60)" >"$T/short.xml"
	st=$(S3 "$T/short" PUT "/$S3_BUCKET/$k?retention=&versionId=$v" "$T/short.xml" \
	    -H "Content-MD5: $(md5 "$T/short.xml")")
	check "shorten_${mode}_refused" is "$st" 403
	# Extending it is allowed (Content-MD5 is required here: below).
	printf '<Retention><Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>' \
	    "$mode" "$(until_date 172800)" >"$T/ext.xml"
	st=$(S3 "$T/ext" PUT "/$S3_BUCKET/$k?retention=&versionId=$v" "$T/ext.xml" \
	    -H "Content-MD5: $(md5 "$T/ext.xml")")
	check "extend_${mode}_allowed" is "$st" 200
	S3 "$T/ret2" GET "/$S3_BUCKET/$k?retention=&versionId=$v" - >/dev/null
	check "extend_${mode}_reported" later_than "$T/ret2" 100000
	[ "$mode" = COMPLIANCE ] && vcomp=$v
done
# COMPLIANCE cannot be turned into GOVERNANCE (which could be bypassed).
printf '<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>' \
    "$(until_date 259200)" >"$T/c2g.xml"
check compliance_to_governance_refused is "$(S3 "$T/c2g" PUT "/$S3_BUCKET/locked-COMPLIANCE?retention=&versionId=${vcomp:-none}" \
    "$T/c2g.xml" -H "Content-MD5: $(md5 "$T/c2g.xml")")" 403

# With x-amz-bypass-governance-retention (the admin may), GOVERNANCE gives
# way and COMPLIANCE does not.
put_locked bypass-c COMPLIANCE 86400 && vc=$vid
check bypass_compliance_refused is "$(S3 "$T/bc" DELETE "/$S3_BUCKET/bypass-c?versionId=${vc:-none}" - \
    -H 'x-amz-bypass-governance-retention: true')" 403
check bypass_compliance_still_readable readable bypass-c "${vc:-none}"
put_locked bypass-g GOVERNANCE 86400 && vg=$vid
check bypass_governance_allowed is "$(S3 "$T/bg" DELETE "/$S3_BUCKET/bypass-g?versionId=${vg:-none}" - \
    -H 'x-amz-bypass-governance-retention: true')" 204
check bypass_governance_gone is "$(S3 "$T/bg2" GET "/$S3_BUCKET/bypass-g?versionId=${vg:-none}" -)" 404

# An overwrite makes a new version; the locked one stays.
put_locked over COMPLIANCE 86400 && vo=$vid
cp "$T/over.body" "$T/over.first"
head -c 100 /dev/urandom >"$T/over2"
check overwrite_new_version is "$(S3 "$T/ow" PUT "/$S3_BUCKET/over" "$T/over2" \
    -H "Content-MD5: $(md5 "$T/over2")")" 200
check overwrite_other_version_id sh -c "v=\$(tr -d '\r' <'$T/ow.hdr' | sed -n 's/^x-amz-version-id: //Ip'); [ -n \"\$v\" ] && [ \"\$v\" != '${vo:-none}' ]"
check overwrite_locked_version_kept readable over "${vo:-none}"
check overwritten_delete_refused is "$(S3 "$T/od" DELETE "/$S3_BUCKET/over?versionId=${vo:-none}" -)" 403

# A multipart upload takes the lock headers at its start; the completed
# object's version is locked the same way.  The part carries Content-MD5
# and lock headers of its own (GOVERNANCE, an hour), as lifeboat sends
# them with every request: they are taken and change nothing.
mp_locked() {
	st=$(S3 "$T/mpi" POST "/$S3_BUCKET/mp?uploads=" - -H 'x-amz-object-lock-mode: COMPLIANCE' \
	    -H "x-amz-object-lock-retain-until-date: $(until_date 86400)")
	up=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$T/mpi")
	[ "$st" = 200 ] && [ -n "$up" ] || { echo "initiate: $st"; return 1; }
	head -c 100000 /dev/urandom >"$T/mp.body"
	st=$(S3 "$T/mpp" PUT "/$S3_BUCKET/mp?partNumber=1&uploadId=$up" "$T/mp.body" \
	    -H "Content-MD5: $(md5 "$T/mp.body")" -H 'x-amz-object-lock-mode: GOVERNANCE' \
	    -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")
	[ "$st" = 200 ] || { echo "part: $st"; return 1; }
	printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' \
	    "$(hdr "$T/mpp" etag)" >"$T/mpc.xml"
	st=$(S3 "$T/mpc" POST "/$S3_BUCKET/mp?uploadId=$up" "$T/mpc.xml")
	vid=$(hdr "$T/mpc" x-amz-version-id)
	[ "$st" = 200 ] && [ -n "$vid" ] || { echo "complete: $st, version '$vid'"; return 1; }
}
check multipart_locked_upload mp_locked && vm=$vid
S3 "$T/mpr" GET "/$S3_BUCKET/mp?retention=&versionId=${vm:-none}" - >/dev/null
check multipart_retention_reported grep -q '<Mode>COMPLIANCE</Mode>' "$T/mpr"
check multipart_retention_from_start later_than "$T/mpr" 80000
check multipart_delete_version_refused is "$(S3 "$T/mpd" DELETE "/$S3_BUCKET/mp?versionId=${vm:-none}" -)" 403
check multipart_still_readable readable mp "${vm:-none}"

# A multi-object delete (what a prune may send) deletes the unlocked
# version and answers AccessDenied for the locked one, which stays.
printf 'unlocked\n' >"$T/unl.body"
S3 "$T/unl" PUT "/$S3_BUCKET/unlocked" "$T/unl.body" >/dev/null
vu=$(hdr "$T/unl" x-amz-version-id)
put_locked multi COMPLIANCE 86400 && vmu=$vid
printf '<Delete><Object><Key>unlocked</Key><VersionId>%s</VersionId></Object><Object><Key>multi</Key><VersionId>%s</VersionId></Object></Delete>' \
    "${vu:-none}" "${vmu:-none}" >"$T/md.xml"
check multi_delete_answers is "$(S3 "$T/md" POST "/$S3_BUCKET?delete=" "$T/md.xml" \
    -H "Content-MD5: $(md5 "$T/md.xml")")" 200
check multi_delete_unlocked_deleted grep -q '<Deleted>.*<Key>unlocked</Key>' "$T/md"
check multi_delete_locked_denied grep -q '<Error><Code>AccessDenied</Code><Key>multi</Key>' "$T/md"
check multi_delete_locked_still_readable readable multi "${vmu:-none}"

# A wrong Content-MD5 or x-amz-checksum-sha256 is refused, so the one
# sent is checked; a right x-amz-checksum-sha256 does instead of
# Content-MD5.
head -c 100 /dev/urandom >"$T/bad"
check bad_md5_refused is "$(S3 "$T/bm" PUT "/$S3_BUCKET/bad" "$T/bad" \
    -H "Content-MD5: $(printf x | openssl dgst -md5 -binary | base64)" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 400
check bad_md5_bad_digest grep -q BadDigest "$T/bm"
check bad_sha256_refused is "$(S3 "$T/bsh" PUT "/$S3_BUCKET/bad" "$T/bad" \
    -H "x-amz-checksum-sha256: $(printf x | openssl dgst -sha256 -binary | base64)" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 400
check sha256_lock_put is "$(S3 "$T/gsh" PUT "/$S3_BUCKET/bad" "$T/bad" \
    -H "x-amz-checksum-sha256: $(openssl dgst -sha256 -binary "$T/bad" | base64)" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 200
# A retain-until date in the past, and a mode without a date, are refused.
check past_date_refused is "$(S3 "$T/pd" PUT "/$S3_BUCKET/past" "$T/bad" -H "Content-MD5: $(md5 "$T/bad")" \
    -H 'x-amz-object-lock-mode: COMPLIANCE' -H "x-amz-object-lock-retain-until-date: $(until_date -60)")" 400
check mode_without_date_refused is "$(S3 "$T/nd" PUT "/$S3_BUCKET/past" "$T/bad" -H "Content-MD5: $(md5 "$T/bad")" \
    -H 'x-amz-object-lock-mode: COMPLIANCE')" 400
# A bad signature is refused: the server checks SigV4 (the content hash is
# sent, so it is the signature it refuses).
check bad_signature_refused is "$(curl -s -o "$T/bs" -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" \
    --user "$S3_ACCESS_KEY:wrong-secret" "$S3_ENDPOINT/$S3_BUCKET/locked-COMPLIANCE")" 403
check bad_signature_code grep -q SignatureDoesNotMatch "$T/bs"

# Once the retain-until date has passed, the version can be deleted (what
# a later prune does).
put_locked short COMPLIANCE 3 && vs=$vid
check short_lock_refused_before is "$(S3 "$T/sd" DELETE "/$S3_BUCKET/short?versionId=${vs:-none}" -)" 403
sleep 4
check short_lock_deleted_after is "$(S3 "$T/sd2" DELETE "/$S3_BUCKET/short?versionId=${vs:-none}" -)" 204
check short_lock_gone is "$(S3 "$T/sd3" GET "/$S3_BUCKET/short?versionId=${vs:-none}" -)" 404

# A bucket without Object Lock takes a PUT without lock headers, and a
# DELETE of it works.
printf 'plain object\n' >"$T/plain.body"
check plain_put is "$(S3 "$T/pp" PUT "/$plain/obj" "$T/plain.body")" 200
plain_get() { [ "$(S3 "$T/pg" GET "/$plain/obj" -)" = 200 ] && cmp "$T/pg" "$T/plain.body"; }
check plain_get plain_get
check plain_delete is "$(S3 "$T/pd" DELETE "/$plain/obj" -)" 204
# Lock headers on a bucket without Object Lock are refused, not ignored.
check lock_headers_plain_bucket_refused is "$(S3 "$T/pl" PUT "/$plain/locked" "$T/plain.body" \
    -H "Content-MD5: $(md5 "$T/plain.body")" -H 'x-amz-object-lock-mode: GOVERNANCE' \
    -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 400
echo "# lock headers on a bucket without Object Lock: $(tr -d '\n' <"$T/pl" | sed 's/^<?xml[^>]*>//; s/<RequestId>.*//')"

# Not checks: where this server demands Content-MD5 (or x-amz-checksum-*).
# AWS demands it on a PUT with lock headers, PutObjectRetention and
# DeleteObjects; lifeboat always sends it, so any answer is fine here.
head -c 100 /dev/urandom >"$T/nomd5"
echo "# lock PUT without Content-MD5: $(S3 "$T/nm" PUT "/$S3_BUCKET/nomd5" "$T/nomd5" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")"
echo "# PUT ?retention without Content-MD5: $(S3 "$T/rnm" PUT "/$S3_BUCKET/locked-COMPLIANCE?retention=&versionId=${vcomp:-none}" \
    "$T/ext.xml") $(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$T/rnm")"
echo "# POST ?delete without Content-MD5: $(S3 "$T/dnm" POST "/$S3_BUCKET?delete=" "$T/md.xml") $(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$T/dnm")"
# What a version id looks like, what GET ?retention of an object without
# a lock answers.
echo "# version ids look like: ${vcomp:-none}"
S3 "$T/u2" PUT "/$S3_BUCKET/nolock" "$T/nomd5" >/dev/null
echo "# GET ?retention of an object without retention: $(S3 "$T/ur2" GET "/$S3_BUCKET/nolock?retention=" -) $(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$T/ur2")"
