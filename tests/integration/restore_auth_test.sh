#!/bin/sh
# restore_auth_test.sh: `lifeboat restore` of a cluster with etcd auth on,
# and with one certificate per member.  A real 3-member etcd with a root
# user and `etcdctl auth enable` is backed up with `lifeboat backup` (user
# and password-file in its config section), stopped and deleted; the
# restored cluster keeps the backup's users and auth, so restore's checks
# need an etcd user: --user with --password-file or
# $LIFEBOAT_ETCD_PASSWORD, or the cluster's section (also with --repo,
# and for join with --cluster).  Without one the
# restore fails, says so and rolls back.  The password appears in no
# output and no generated file.  Then a restore with client and peer TLS
# whose paths hold {name}: each member's config names its own files, the
# cluster is healthy over TLS, and a file missing for one member is
# refused before anything changes.
. "$(dirname "$0")/../lib.sh"

PW="pw-$$-not-in-any-output"
printf '%s\n' "$PW" >"$T/pw"; chmod 600 "$T/pw"
AU="--user root:$PW"

etcd_cluster a 3 || { fail setup "etcd cluster did not start"; exit 1; }
EP=$a_endpoints
for k in 1 2 3 4 5; do etcdctl --endpoints "$EP" put "/auth/k$k" "v$k" >/dev/null; done
etcdctl --endpoints "$EP" user add "root:$PW" >/dev/null 2>&1
etcdctl --endpoints "$EP" user grant-role root root >/dev/null 2>&1
etcdctl --endpoints "$EP" auth enable >"$T/auth.out" 2>&1 ||
	{ fail setup "auth enable: $(cat "$T/auth.out")"; exit 1; }
# shellcheck disable=SC2086
etcdctl --endpoints "$EP" $AU put /auth/after secret-after >/dev/null
check_fails setup_auth_on 'user name is empty|permission denied|invalid auth token' \
    etcdctl --endpoints "$EP" put /auth/x y

"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
base_conf() {
	cat <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
[cluster:a]
endpoints = $EP
EOF
}
{ base_conf; printf 'user = root\npassword-file = %s\n' "$T/pw"; } >"$T/lb.conf"
base_conf >"$T/nouser.conf"
LB="$LIFEBOAT --config $T/lb.conf"
LBN="$LIFEBOAT --config $T/nouser.conf"
$LB backup --no-progress >"$T/b.out" 2>&1
check backup_with_auth grep -q "complete: 3/3" "$T/b.out"

# dump ENDPOINTS FILE [ETCDCTL-ARGS]: every key and value, sorted.
dump() {
	ep=$1; out=$2; shift 2
	# shellcheck disable=SC2086
	etcdctl --endpoints "$ep" $AU get "" --prefix -w json "$@" 2>/dev/null | python3 -c '
import base64, json, sys
d = json.load(sys.stdin)
for kv in sorted(d.get("kvs", []), key=lambda kv: kv["key"]):
    print(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode())
' >"$out"
}
dump "$EP" "$T/want"
check dump_has_keys test "$(wc -l <"$T/want")" -eq 6

for i in 1 2 3; do etcd_stop a "$i"; done
rm -rf "$T/a"

# new_members [SCHEME]: r1..r3 (PEER@CLIENT) in $MEMBERS, clients in $CLIENTS.
new_members() {
	s=${1:-http}
	MEMBERS=""; CLIENTS=""
	for n in r1 r2 r3; do
		c="$s://127.0.0.1:$(free_port)"
		MEMBERS="${MEMBERS:+$MEMBERS,}$n=$s://127.0.0.1:$(free_port)@$c"
		CLIENTS="${CLIENTS:+$CLIENTS,}$c"
	done
}

# --- --user and --password-file ---
new_members
mkdir -p "$T/units"
$LBN restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rf" --start \
    --user root --password-file "$T/pw" --write-systemd-unit "$T/units" >"$T/rf.out" 2>&1
rc=$?
track "$T/rf"
check flags_restore_exit_0 test "$rc" -eq 0
check flags_checked grep -q "3 members checked, one leader" "$T/rf.out"
check flags_hashkv_checked grep -q "HashKV [0-9a-f]* on every member" "$T/rf.out"
dump "$CLIENTS" "$T/got"
check flags_every_key_back cmp "$T/want" "$T/got"
check flags_auth_kept sh -c "! etcdctl --endpoints '$CLIENTS' get /auth/k1 >/dev/null 2>&1"
stop_all "$T/rf"

# --- the cluster's section of the configuration ---
new_members
$LB restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rc" --start >"$T/rc.out" 2>&1
rc=$?
track "$T/rc"
check config_restore_exit_0 test "$rc" -eq 0
check config_user_named grep -q "checks as etcd user 'root' of cluster a" "$T/rc.out"
dump "$CLIENTS" "$T/got"
check config_every_key_back cmp "$T/want" "$T/got"
stop_all "$T/rc"

# --- no user: a clear error, at once, and the roll back ---
new_members
t0=$(date +%s)
check_exit no_user_fails 1 'the restored cluster has auth enabled: the checks need an etcd user with the root role \(hint: --user and --password-file' \
    $LBN restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rn" --start --timeout 100
cp "$T/ce.err" "$T/rn.err"
check no_user_fails_fast test $(($(date +%s) - t0)) -lt 60
check no_user_rolled_back grep -q "rolled back" "$T/rn.err"
check no_user_dirs_gone sh -c "! ls '$T/rn' 2>/dev/null | grep -q '^r[123]$'"
check no_user_nothing_runs sh -c "! etcdctl --endpoints '$CLIENTS' --command-timeout 2s endpoint health >/dev/null 2>&1"

# A wrong password ($LIFEBOAT_ETCD_PASSWORD): refused, naming the user.
new_members
check_exit wrong_password 1 "refused etcd user 'root'" \
    env LIFEBOAT_ETCD_PASSWORD=wrong-pw $LBN restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rw" --start --user root
cp "$T/ce.err" "$T/rw.err"
check wrong_password_dirs_gone sh -c "! ls '$T/rw' 2>/dev/null | grep -q '^r[123]$'"
check_exit user_without_password 2 "no password for etcd user 'root'" \
    env -u LIFEBOAT_ETCD_PASSWORD $LBN restore cluster --cluster a --members "$MEMBERS" \
    --base-dir "$T/rw2" --start --user root
check_exit password_file_without_user 2 "--password-file needs --user" \
    $LBN restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rw2" --password-file "$T/pw"

# --- seed from the bucket (--repo: the section's user), joins with
# $LIFEBOAT_ETCD_PASSWORD and with --cluster (the section's user) ---
S1C=http://127.0.0.1:$(free_port)
$LB restore seed --repo "file://$T/repo" --cluster a --name s1 --client-url "$S1C" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s1" --start \
    >"$T/seed.out" 2>&1
rc=$?
track "$T/sj"
check seed_exit_0 test "$rc" -eq 0
check seed_repo_config_user grep -q "checks as etcd user 'root' of cluster a" "$T/seed.out"
check_exit join_without_user 1 'the cluster of the seed has auth enabled: the checks need an etcd user' \
    "$LIFEBOAT" restore join --seed "$S1C" --name s9 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s9"
cp "$T/ce.err" "$T/join-nouser.err"
check join_without_user_nothing_created test ! -e "$T/sj/s9"
check_exit join_unknown_cluster 2 "cluster nosuch: no such cluster in" \
    $LB restore join --seed "$S1C" --name s9 --client-url "http://127.0.0.1:$(free_port)" \
    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/s9" --cluster nosuch
for n in s2 s3; do
	if [ "$n" = s2 ]; then set -- env LIFEBOAT_ETCD_PASSWORD="$PW" $LBN restore join --user root
	else set -- $LB restore join --cluster a; fi
	"$@" --seed "$S1C" --name "$n" --client-url "http://127.0.0.1:$(free_port)" \
	    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$T/sj/$n" \
	    >"$T/join-$n.out" 2>&1
	echo $? >"$T/join-$n.rc"
	track "$T/sj"
done
check join_exit_0 test "$(cat "$T/join-s2.rc" "$T/join-s3.rc" | tr -d '\n')" = 00
check join_config_user grep -q "checks as etcd user 'root' of cluster a" "$T/join-s3.out"
# shellcheck disable=SC2086
check seeded_three_members test "$(etcdctl --endpoints "$S1C" $AU member list | grep -c started)" -eq 3
S3C=$(sed -n 's/.*pid [0-9]*, \(http[^,]*\),.*/\1/p' "$T/join-s3.out")
dump "$S3C" "$T/got" --consistency=s
check joined_member_every_key_back cmp "$T/want" "$T/got"
stop_all "$T/sj"

# --- one certificate per member: {name} in the TLS paths ---
# r1's server certificate comes from ca, r2's and r3's from otherca, and
# each member's client CA file ({name}-ca.crt) trusts its own server CA
# and ca (which signs lifeboat's client certificate): the checks must
# reach each member with that member's CA file, not r1's.
make_certs "$T/certs"
mkdir -p "$T/pki"
for n in r1 r2 r3; do
	for kind in server peer; do
		sca=ca
		[ "$kind:$n" = server:r1 ] || [ "$kind" = peer ] || sca=otherca
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$T/pki/$n-$kind.key" -out "$T/pki/$n-$kind.csr" \
		    -subj "/CN=$n-$kind" 2>/dev/null
		openssl x509 -req -in "$T/pki/$n-$kind.csr" -CA "$T/certs/$sca.crt" \
		    -CAkey "$T/certs/$sca.key" -CAcreateserial -out "$T/pki/$n-$kind.crt" \
		    -days 2 -extfile "$T/certs/server.ext" 2>/dev/null
	done
	[ "$n" = r1 ] && cp "$T/certs/ca.crt" "$T/pki/$n-ca.crt" ||
	    cat "$T/certs/otherca.crt" "$T/certs/ca.crt" >"$T/pki/$n-ca.crt"
done
chmod 600 "$T"/pki/*.key
CA=$T/certs/ca.crt
cat "$T/certs/ca.crt" "$T/certs/otherca.crt" >"$T/pki/all-ca.crt"
set -- --cert "$T/pki/{name}-server.crt" --key "$T/pki/{name}-server.key" --cacert "$T/pki/{name}-ca.crt" \
    --peer-cert "$T/pki/{name}-peer.crt" --peer-key "$T/pki/{name}-peer.key" --peer-cacert "$CA" \
    --client-cert "$T/certs/client.crt" --client-key "$T/certs/client.key"

# A file missing for r2 only: refused before anything changes.
new_members https
mv "$T/pki/r2-peer.crt" "$T/pki/r2-peer.crt.away"
check_exit tls_missing_member_file 2 "member r2: --peer-cert $T/pki/r2-peer.crt: No such file" \
    $LB restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rtm" --start "$@"
check tls_missing_nothing_created test ! -e "$T/rtm"
mv "$T/pki/r2-peer.crt.away" "$T/pki/r2-peer.crt"

new_members https
$LB restore cluster --cluster a --members "$MEMBERS" --base-dir "$T/rt" --start "$@" \
    >"$T/rt.out" 2>&1
rc=$?
track "$T/rt"
check tls_restore_exit_0 test "$rc" -eq 0
for n in r1 r2 r3; do
	check "tls_${n}_own_server_cert" grep -qx "  cert-file: '$T/pki/$n-server.crt'" "$T/rt/$n.conf.yml"
	check "tls_${n}_own_server_key" grep -qx "  key-file: '$T/pki/$n-server.key'" "$T/rt/$n.conf.yml"
	check "tls_${n}_own_peer_cert" grep -qx "  cert-file: '$T/pki/$n-peer.crt'" "$T/rt/$n.conf.yml"
	check "tls_${n}_own_peer_key" grep -qx "  key-file: '$T/pki/$n-peer.key'" "$T/rt/$n.conf.yml"
	check "tls_${n}_no_template_left" sh -c "! grep -q '{name}' '$T/rt/$n.conf.yml'"
	check "tls_${n}_no_other_member" sh -c "! grep -v '$n-' '$T/rt/$n.conf.yml' | grep -q 'pki/r'"
done
CT="--cacert $T/pki/all-ca.crt --cert $T/certs/client.crt --key $T/certs/client.key"
# shellcheck disable=SC2086
check tls_healthy etcdctl --endpoints "$CLIENTS" $CT $AU endpoint health
# shellcheck disable=SC2086
dump "$CLIENTS" "$T/got" $CT
check tls_every_key_back cmp "$T/want" "$T/got"
# each member serves its own certificate
for n in r1 r2 r3; do
	u=$(echo "$MEMBERS" | tr ',' '\n' | sed -n "s/^$n=.*@https:\/\///p")
	check "tls_${n}_serves_own_cert" sh -c "openssl s_client -connect '$u' -CAfile '$T/pki/all-ca.crt' \
	    -cert '$T/certs/client.crt' -key '$T/certs/client.key' </dev/null 2>/dev/null |
	    grep -q 'subject=.*CN *= *$n-server'"
done
stop_all "$T/rt"

# --- the password is nowhere lifeboat wrote ---
check password_not_in_output sh -c "! grep -rlF '$PW' '$T'/*.out '$T'/*.err"
check password_not_in_configs sh -c "! find '$T' -name '*.conf.yml' -exec grep -lF '$PW' {} + | grep -q ."
check configs_written test "$(find "$T" -name '*.conf.yml' | wc -l)" -ge 12
check password_not_in_units sh -c "! grep -rlF '$PW' '$T/units'"
