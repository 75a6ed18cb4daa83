#!/bin/sh
# config_test.sh: `lifeboat config check [--probe]` against what the rest
# of lifeboat does with the same file: a schedule or retention config
# check accepts is one the daemon and prune accept (and the reverse), an
# unset retention keeps every backup and both say so, what would fail once
# running is reported, and --probe reaches a real etcd (plain, with
# user/password auth, with TLS client certificates), a file repository
# and s3rver, naming the real cause of each failure.
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1

CHECK_EXIT_ALL=1   # config check prints its findings on stdout

etcd_cluster e 1 || { fail etcd_cluster "did not start"; exit 1; }
EP=$e_endpoints
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null || { fail keygen "failed"; exit 1; }

# conf NAME [CLUSTER-LINES...]: $T/NAME.conf, a file repository and a
# cluster c1 on the test etcd, with the extra lines given.
conf() {
	f=$T/$1.conf; shift
	cat >"$f" <<CONF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/cat/catalog.db
metrics-listen = 127.0.0.1:$(free_port)
[cluster:c1]
endpoints = $EP
CONF
	for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
}

# --- one parser per value: config check and the daemon agree ---------------
conf ok "schedule = @every 1m"
check check_ok "$LIFEBOAT" --config "$T/ok.conf" config check
for s in "61 * * * *|minute: '61' is out of range 0..59" \
    "0 0 31 2 *|never fires" "@every 30s|more often than once a minute" \
    "@every 1w|not a duration"; do
	expr=${s%%|*}; msg=${s#*|}
	conf bad "schedule = $expr"
	check_exit "check_refuses_schedule_$expr" 2 "schedule: .*$msg" \
	    "$LIFEBOAT" --config "$T/bad.conf" config check
	check_exit "snapd_refuses_schedule_$expr" 2 "schedule: .*$msg" \
	    timeout 20 "$LIFEBOAT" --config "$T/bad.conf" snapd
done
# accepted by the retention planner before, refused by config check
conf r0 "retention = keep-last=3,keep-daily=0"
check check_accepts_zero_count "$LIFEBOAT" --config "$T/r0.conf" config check
conf r1 "retention = keep-daily=0"
check_exit check_refuses_all_zero 2 "every count is 0" \
    "$LIFEBOAT" --config "$T/r1.conf" config check
check_exit options_state_minimum 0 "at most once a minute \(@every 1m\)" \
    "$LIFEBOAT" config options

# --- no retention: config check and prune say the same ---------------------
conf nr
"$LIFEBOAT" --config "$T/nr.conf" config check >"$T/nr.out" 2>&1
check retention_none_exit_0 test $? -eq 0
check retention_none_printed grep -q "# retention: none, every backup is kept" "$T/nr.out"
check retention_none_warned grep -q "\[cluster:c1\] no retention: every backup is kept" "$T/nr.out"
check retention_none_not_defaulted sh -c "! grep -q '^retention = ' '$T/nr.out'"
check backup_1 "$LIFEBOAT" --config "$T/nr.conf" backup --no-progress
check backup_2 "$LIFEBOAT" --config "$T/nr.conf" backup --no-progress
check backup_3 "$LIFEBOAT" --config "$T/nr.conf" backup --no-progress
LIFEBOAT_CATALOG=$T/cat/catalog.db "$LIFEBOAT" --config "$T/nr.conf" catalog prune >"$T/prune.out" 2>&1
check prune_none_keeps_all grep -q "no retention set: keeping every backup" "$T/prune.out"
check prune_none_deletes_nothing grep -q "prune: 3 kept, 0 deleted" "$T/prune.out"

# --- what would fail once running -------------------------------------------
conf vn "verify-schedule = @daily"
check_exit verify_without_identity 2 \
    "\[cluster:c1\] verify-schedule is set but identity-file is not" \
    "$LIFEBOAT" --config "$T/vn.conf" config check
conf vu "verify-schedule = @daily"
sed -i "s|^catalog = |identity-file = $T/no-such-id.txt\ncatalog = |" "$T/vu.conf"
check_exit verify_identity_unreadable 2 "verify-schedule needs identity-file .*no-such-id.txt" \
    "$LIFEBOAT" --config "$T/vu.conf" config check
conf vi "verify-schedule = @daily"
sed -i "s|^catalog = |identity-file = $T/id.txt\ncatalog = |" "$T/vi.conf"
check verify_with_identity "$LIFEBOAT" --config "$T/vi.conf" config check
conf tz
sed -i "s|^catalog = |timezone = Mars/Olympus_Mons\ncatalog = |" "$T/tz.conf"
check_exit timezone_not_in_db 2 "timezone: Mars/Olympus_Mons is not in the tz database" \
    "$LIFEBOAT" --config "$T/tz.conf" config check

# --- --probe ----------------------------------------------------------------
check_exit probe_file_repo_and_etcd 0 "^ok +cluster c1 $EP: etcd [0-9.]+, member [0-9a-f]+" \
    "$LIFEBOAT" --config "$T/ok.conf" config check --probe
check probe_repo_ok grep -Eq "^ok +repository file://$T/repo: listed, wrote, read back and deleted lifeboat-probe-[0-9a-f]{32}" "$T/ce.out"
check probe_object_gone sh -c "! find '$T/repo' -name 'lifeboat-probe-*' | grep -q ."
dead="http://127.0.0.1:$(free_port)"
conf dead
sed -i "s|^endpoints = .*|endpoints = $EP, $dead|" "$T/dead.conf"
check_exit probe_dead_endpoint 1 "^FAILED +cluster c1 $dead: connect: .*(refused|connect)" \
    "$LIFEBOAT" --config "$T/dead.conf" config check --probe
check probe_dead_others_ok grep -Eq "^ok +cluster c1 $EP:" "$T/ce.out"

# user and password: root snapshots, another user is told about the role
printf 'r00t-secret\n' >"$T/root.pw"; chmod 600 "$T/root.pw"
printf 'alice-pw\n' >"$T/alice.pw"; chmod 600 "$T/alice.pw"
printf 'Wr0ngPassw0rd\n' >"$T/wrong.pw"; chmod 600 "$T/wrong.pw"
etcdctl --endpoints "$EP" user add root --new-user-password=r00t-secret --interactive=false >/dev/null
etcdctl --endpoints "$EP" user add alice --new-user-password=alice-pw --interactive=false >/dev/null
etcdctl --endpoints "$EP" user grant-role root root >/dev/null
etcdctl --endpoints "$EP" auth enable >/dev/null
conf root "user = root" "password-file = $T/root.pw"
check_exit probe_auth_root 0 "^ok +cluster c1 $EP: .*snapshot allowed to user root" \
    "$LIFEBOAT" --config "$T/root.conf" config check --probe
conf alice "user = alice" "password-file = $T/alice.pw"
check_exit probe_auth_not_root 1 \
    "^FAILED +cluster c1 $EP: snapshot: permission denied: a snapshot needs an etcd user with the root role, and 'alice' has not got it \(hint: etcdctl user grant-role alice root\)$" \
    "$LIFEBOAT" --config "$T/alice.conf" config check --probe
conf wrong "user = root" "password-file = $T/wrong.pw"
check_exit probe_auth_wrong_password 1 "^FAILED +cluster c1 $EP: connect: .*authentication as 'root' failed" \
    "$LIFEBOAT" --config "$T/wrong.conf" config check --probe
check probe_secret_not_shown sh -c "! grep -q Wr0ngPassw0rd '$T/ce.out'"

# TLS with client certificates
etcd_cluster t 1 tls || { fail tls_setup "tls cluster did not start"; exit 1; }
C=$T/certs
conf tls "cacert = $C/ca.crt" "cert = $C/client.crt" "key = $C/client.key"
sed -i "s|^endpoints = .*|endpoints = $t_endpoints|" "$T/tls.conf"
check_exit probe_tls 0 "^ok +cluster c1 $t_endpoints: etcd" \
    "$LIFEBOAT" --config "$T/tls.conf" config check --probe
sed -i "s|^cacert = .*|cacert = $C/otherca.crt|" "$T/tls.conf"
check_exit probe_tls_wrong_ca 1 "^FAILED +cluster c1 $t_endpoints: connect: .*certificate" \
    "$LIFEBOAT" --config "$T/tls.conf" config check --probe

# s3rver: list, write, read back, delete; a bucket that does not exist
if s3rver_start lbprobe; then
	conf s3 "user = root" "password-file = $T/root.pw"
	sed -i "s|^repo = .*|repo = s3://$S3_BUCKET/lb\ns3-endpoint = $S3_ENDPOINT\ns3-region = $S3_REGION|" "$T/s3.conf"
	check_exit probe_s3 0 "^ok +repository s3://$S3_BUCKET/lb: listed, wrote, read back and deleted" \
	    env AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
	    "$LIFEBOAT" --config "$T/s3.conf" config check --probe
	check probe_s3_object_gone sh -c "! find '$T/s3rver' -name '*lifeboat-probe*' | grep -q ."
	sed -i "s|^repo = .*|repo = s3://no-such-bucket/lb|" "$T/s3.conf"
	check_exit probe_s3_no_bucket 1 "^FAILED +repository s3://no-such-bucket/lb: .*(NoSuchBucket|does not exist|404)" \
	    env AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
	    "$LIFEBOAT" --config "$T/s3.conf" config check --probe
else
	fail s3rver_start "did not start"
fi
