#!/bin/sh
# objlock_server_test.sh: proves that the S3 server the Object Lock tests
# use (SeaweedFS, lockstore_start in tests/lib.sh) really enforces what
# lifeboat relies on, with curl --aws-sigv4 only (no lifeboat code): a
# bucket made with Object Lock answers GetObjectLockConfiguration; an
# object PUT with x-amz-object-lock-mode COMPLIANCE or GOVERNANCE and a
# retain-until date in the future (Content-MD5 sent, as S3 demands) cannot
# be deleted by version with the same credentials, stays readable, and
# its retention cannot be shortened; a plain DELETE only adds a delete
# marker; GOVERNANCE gives way to x-amz-bypass-governance-retention,
# COMPLIANCE does not; a multipart upload started with lock headers is
# locked the same way; an overwrite is a new version; a wrong Content-MD5
# and a bad signature are refused; once the date passes the version can be
# deleted; a bucket without Object Lock takes a PUT without lock headers.
. "$(dirname "$0")/../lib.sh"

# No lifeboat code runs here: once, not again under ASan.
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# objlock_server: not under ASan (no lifeboat code in it)"
	exit 0
fi

if ! lockstore_start; then
	echo "SKIP objlock_server: $lockstore_why"
	exit 0
fi
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

# The lock configuration of the bucket lockstore_start made, and of one
# made without Object Lock (which must not claim any).
S3 "$T/cfg" GET "/$S3_BUCKET?object-lock=" - >"$T/st"
check get_lock_config_enabled sh -c "[ \$(cat '$T/st') = 200 ] && grep -q '<ObjectLockEnabled>Enabled</ObjectLockEnabled>' '$T/cfg' || { cat '$T/st' '$T/cfg'; exit 1; }"
check make_plain_bucket is "$(S3 "$T/mk" PUT "/$plain" -)" 200
check get_lock_config_plain_none is "$(S3 "$T/cfg2" GET "/$plain?object-lock=" -)" 404
check plain_lock_config_error grep -q ObjectLockConfigurationNotFound "$T/cfg2"

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
	st=$(S3 "$T/del" DELETE "/$S3_BUCKET/$k?versionId=$v" -)
	check "delete_version_${mode}_refused" is "$st" 403
	check "delete_${mode}_access_denied" grep -q AccessDenied "$T/del"
	check "locked_${mode}_still_readable" readable "$k" "$v"
	# A plain DELETE is not refused: it adds a delete marker on top, and
	# the locked version is still there by id.
	st=$(S3 "$T/dm" DELETE "/$S3_BUCKET/$k" -)
	check "plain_delete_${mode}_marker" sh -c "[ '$st' = 204 ] && [ \"\$(tr -d '\r' <'$T/dm.hdr' | sed -n 's/^x-amz-delete-marker: //Ip')\" = true ]"
	check "locked_${mode}_readable_after_marker" readable "$k" "$v"
	# Shortening the retention is refused (without bypass).
	printf '<Retention><Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>' \
	    "$mode" "$(until_date 60)" >"$T/short.xml"
	st=$(S3 "$T/short" PUT "/$S3_BUCKET/$k?retention=&versionId=$v" "$T/short.xml" \
	    -H "Content-MD5: $(md5 "$T/short.xml")")
	check "shorten_${mode}_refused" is "$st" 403
done

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

# A multipart upload takes the lock headers at its start (the parts carry
# Content-MD5); the completed object's version is locked the same way.
mp_locked() {
	st=$(S3 "$T/mpi" POST "/$S3_BUCKET/mp?uploads=" - -H 'x-amz-object-lock-mode: COMPLIANCE' \
	    -H "x-amz-object-lock-retain-until-date: $(until_date 86400)")
	up=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$T/mpi")
	[ "$st" = 200 ] && [ -n "$up" ] || { echo "initiate: $st"; return 1; }
	head -c 100000 /dev/urandom >"$T/mp.body"
	st=$(S3 "$T/mpp" PUT "/$S3_BUCKET/mp?partNumber=1&uploadId=$up" "$T/mp.body" \
	    -H "Content-MD5: $(md5 "$T/mp.body")")
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
check multipart_delete_version_refused is "$(S3 "$T/mpd" DELETE "/$S3_BUCKET/mp?versionId=${vm:-none}" -)" 403
check multipart_still_readable readable mp "${vm:-none}"

# A wrong Content-MD5 is refused, so the one sent is checked.
head -c 100 /dev/urandom >"$T/bad"
check bad_md5_refused is "$(S3 "$T/bm" PUT "/$S3_BUCKET/bad" "$T/bad" \
    -H "Content-MD5: $(printf x | openssl dgst -md5 -binary | base64)" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 400
# A bad signature is refused: the server checks SigV4.
check bad_signature_refused is "$(curl -s -o "$T/bs" -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$S3_ACCESS_KEY:wrong-secret" "$S3_ENDPOINT/$S3_BUCKET/locked-COMPLIANCE")" 403

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
check plain_get sh -c "[ \$(curl -s -o '$T/pg' -w '%{http_code}' --aws-sigv4 'aws:amz:$S3_REGION:s3' --user '$S3_ACCESS_KEY:$S3_SECRET_KEY' '$S3_ENDPOINT/$plain/obj') = 200 ] && cmp '$T/pg' '$T/plain.body'"
check plain_delete is "$(S3 "$T/pd" DELETE "/$plain/obj" -)" 204
# Lock headers on a bucket without Object Lock are refused, not ignored.
check lock_headers_plain_bucket_refused is "$(S3 "$T/pl" PUT "/$plain/locked" "$T/plain.body" \
    -H "Content-MD5: $(md5 "$T/plain.body")" -H 'x-amz-object-lock-mode: GOVERNANCE' \
    -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")" 400

# Not a check: whether this server demands Content-MD5 with lock headers
# (AWS does; lifeboat always sends it, so either answer is fine).
head -c 100 /dev/urandom >"$T/nomd5"
echo "# lock PUT without Content-MD5 answers $(S3 "$T/nm" PUT "/$S3_BUCKET/nomd5" "$T/nomd5" \
    -H 'x-amz-object-lock-mode: GOVERNANCE' -H "x-amz-object-lock-retain-until-date: $(until_date 3600)")"
