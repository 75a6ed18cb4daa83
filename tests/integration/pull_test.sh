#!/bin/sh
# lifeboat pull against real etcd 3.4 clusters on loopback: plain, TLS with
# client certificates, and user/password auth; a member down, a stream cut
# mid-snapshot, a flipped byte, a full disk, and a server that is not etcd.
. "$(dirname "$0")/../lib.sh"

etcd_cluster c1 3 || { fail setup "etcd cluster did not start"; exit 1; }
EP=$c1_endpoints
EP1=$(cat "$T/c1/m1.url")

# Data with small and large values, overwrites and deletes, so the bbolt
# file has overflow pages and tombstones.
python3 - "$EP1" <<'PY'
import base64, json, sys, urllib.request
ep = sys.argv[1]
def put(k, v):
    body = json.dumps({"key": base64.b64encode(k.encode()).decode(),
                       "value": base64.b64encode(v.encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
for i in range(300):
    put("/registry/pods/ns%d/pod%d" % (i % 7, i), ("x%d" % i) * (1 + (i % 5) * 400))
for i in range(0, 300, 10):
    put("/registry/pods/ns%d/pod%d" % (i % 7, i), "overwritten-%d" % i)
PY
etcdctl --endpoints "$EP" del /registry/pods/ns1/pod1 >/dev/null
REV=$(etcdctl --endpoints "$EP1" endpoint status -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')

mkdir "$T/out"
check pull_all_members "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/out"
check three_files test -f "$T/out/m1.db" -a -f "$T/out/m2.db" -a -f "$T/out/m3.db"
for m in m1 m2 m3; do
	got=$(snaptool snapshot status -w json "$T/out/$m.db" 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
	check "snapshot_status_revision_$m" test "$got" = "$REV"
done
check no_temp_files sh -c "! ls -a '$T/out' | grep -q lifeboat-"
check file_mode_0600 test "$(stat -c %a "$T/out/m1.db")" = 600

# What etcdctl writes from the same member: byte for byte up to 3.5; from
# 3.6 every Snapshot call commits a bbolt transaction first (a new txid and
# root page, no new data), so there the same keys, revision and hash.
etcdctl --endpoints "$EP1" snapshot save "$T/ref.db" >/dev/null 2>&1
snapsum() {
	snaptool snapshot status -w json "$1" |
	    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["hash"], s["revision"], s["totalKey"])'
}
check same_data_as_etcdctl test "$(snapsum "$T/ref.db")" = "$(snapsum "$T/out/m1.db")"
case $TEST_ETCD_VERSION in
3.4|3.5) check same_bytes_as_etcdctl cmp "$T/ref.db" "$T/out/m1.db" ;;
esac

"$LIFEBOAT" pull --endpoints "$EP1" --out-dir "$T/out" --json >"$T/pull.json"
check json_report python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["pulled"] == 3 and r["total"] == 3, r
assert sum(m["leader"] for m in r["members"]) == 1
for m in r["members"]:
    assert m["status"] == "ok" and len(m["etcd_sha256"]) == 64 and m["db_size"] > 0
    assert m["revision"] == int(sys.argv[2]), m
' "$T/pull.json" "$REV"

# Restore one pulled file with etcd's own tool and read a key back.
pp=$(free_port); cp=$(free_port)
snaptool snapshot restore "$T/out/m2.db" --name r1 --data-dir "$T/r1.data" \
    --initial-cluster "r1=http://127.0.0.1:$pp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pp" >/dev/null 2>&1
etcd --name r1 --data-dir "$T/r1.data" --listen-client-urls "http://127.0.0.1:$cp" \
    --advertise-client-urls "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" \
    >"$T/r1.log" 2>&1 &
echo $! >>"$T/pids"; r1pid=$!
wait_for 20 etcdctl --endpoints "http://127.0.0.1:$cp" endpoint health
check restored_key_reads_back test "$(etcdctl --endpoints "http://127.0.0.1:$cp" get --print-value-only /registry/pods/ns0/pod70)" = overwritten-70
check restored_delete_kept test -z "$(etcdctl --endpoints "http://127.0.0.1:$cp" get --print-value-only /registry/pods/ns1/pod1)"
kill "$r1pid"

# Bad input: each a clear one-line error and a non-zero exit.
check_fails out_dir_missing 'out-dir .*/nope: no such directory' \
    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/nope"
check_fails unreachable_endpoint 'etcd http://127.0.0.1:[0-9]+: cannot connect: Connection refused' \
    "$LIFEBOAT" pull --endpoints "http://127.0.0.1:$(free_port)" --out-dir "$T/out"
check_fails bad_scheme '^lifeboat: error: etcd ftp://127.0.0.1:1: scheme must be http:// or https://$' \
    "$LIFEBOAT" pull --endpoints "ftp://127.0.0.1:1" --out-dir "$T/out"
hp=$(free_port)
python3 -m http.server "$hp" --bind 127.0.0.1 >/dev/null 2>&1 &
echo $! >>"$T/pids"
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $hp))"
check_fails not_etcd 'etcd http://127.0.0.1:[0-9]+: (no HTTP/2 gRPC answer|not an etcd gRPC endpoint)' \
    "$LIFEBOAT" pull --endpoints "http://127.0.0.1:$hp" --out-dir "$T/out"

# A stream cut mid-snapshot and a flipped byte: a relay in front of a real
# member.  The member advertises the relay's port, so discovery leads there.
fault_member() {   # fault_member NAME MODE OFFSET
	fdir=$T/fault-$1; mkdir -p "$fdir"
	rp=$(free_port); cp=$(free_port); pp=$(free_port)
	python3 "$TOP/tests/tcpfault.py" "$rp" "$cp" "--$2" "$3" >"$fdir/relay.log" 2>&1 &
	echo $! >>"$T/pids"
	etcd --name "$1" --data-dir "$fdir/data" --listen-client-urls "http://127.0.0.1:$cp" \
	    --advertise-client-urls "http://127.0.0.1:$rp" --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "$1=http://127.0.0.1:$pp" >"$fdir/etcd.log" 2>&1 &
	echo $! >>"$T/pids"
	wait_for 20 etcdctl --endpoints "http://127.0.0.1:$cp" endpoint health
	python3 - "http://127.0.0.1:$cp" <<'PY'
import base64, json, sys, urllib.request
for i in range(200):
    body = json.dumps({"key": base64.b64encode(b"k%d" % i).decode(),
                       "value": base64.b64encode(bytes([65 + i % 26]) * 4000).decode()}).encode()
    urllib.request.urlopen(sys.argv[1] + "/v3/kv/put", body).read()
PY
	echo "http://127.0.0.1:$rp"
}
cut_ep=$(fault_member cut cut 300000)
mkdir "$T/cut"
check_fails stream_cut_mid_snapshot 'etcd cut \(http://127.0.0.1:[0-9]+\): (connection broken mid-stream|stream ended without grpc-status)' \
    "$LIFEBOAT" pull --endpoints "$cut_ep" --out-dir "$T/cut"
check cut_leaves_nothing test -z "$(ls -A "$T/cut")"

flip_ep=$(fault_member flip flip 400000)
mkdir "$T/flip"
check_fails flipped_byte_trailer_mismatch 'etcd flip .*(sha256 trailer does not match|HTTP2|broken)' \
    "$LIFEBOAT" pull --endpoints "$flip_ep" --out-dir "$T/flip"
check flip_leaves_nothing test -z "$(ls -A "$T/flip")"

# A full disk: a small tmpfs, if this machine lets us mount one.
mkdir "$T/small"
if mount -t tmpfs -o size=64k tmpfs "$T/small" 2>/dev/null; then
	check_fails disk_full 'etcd m[123] .*No space left on device' \
	    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/small"
	check disk_full_leaves_nothing test -z "$(ls -A "$T/small")"
	umount "$T/small"
else
	echo "SKIP disk_full: cannot mount a tmpfs here (needs root)"
fi

# User and password auth: root can snapshot, others cannot.
printf 'r00t-secret\n' >"$T/root.pw"; chmod 600 "$T/root.pw"
printf 'Wr0ngPassw0rd\n' >"$T/wrong.pw"
printf 'alice-pw\n' >"$T/alice.pw"
etcdctl --endpoints "$EP" user add root --new-user-password=r00t-secret --interactive=false >/dev/null
etcdctl --endpoints "$EP" user add alice --new-user-password=alice-pw --interactive=false >/dev/null
etcdctl --endpoints "$EP" user grant-role root root >/dev/null
etcdctl --endpoints "$EP" auth enable >/dev/null
mkdir "$T/auth"
check auth_root_pulls "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth" \
    --user root --password-file "$T/root.pw"
check auth_password_from_env env LIFEBOAT_ETCD_PASSWORD=r00t-secret \
    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth" --user root
check_fails auth_wrong_password "authentication as 'root' failed" \
    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth" --user root --password-file "$T/wrong.pw"
check auth_secret_not_in_output sh -c "! grep -q Wr0ngPassw0rd '$T/cf.err'"
check_fails auth_not_root "etcd m[123] .*permission denied: a snapshot needs an etcd user with the root role, and 'alice' has not got it" \
    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth" --user alice --password-file "$T/alice.pw"
check_fails auth_no_password "no password for etcd user 'root'" \
    env -u LIFEBOAT_ETCD_PASSWORD "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth" --user root
# 3.4 refuses the snapshot; 3.5+ refuses even Status without a user.
check_fails auth_required 'etcd .*(auth is enabled and no etcd user was given|permission denied)' \
    "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/auth"

# One member down: the others still complete, exit status 3.
etcd_stop c1 2
# A wrong password with a member down: the error is the authentication,
# which a person must fix, not the down member's refusal (asked last).
check_fails auth_wrong_password_member_down "authentication as 'root' failed" \
    "$LIFEBOAT" pull --endpoints "$EP1,$(cat "$T/c1/m3.url"),$(cat "$T/c1/m2.url")" \
    --out-dir "$T/auth" --user root --password-file "$T/wrong.pw"
# The same through lifeboat backup (it discovers the members the same way).
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
printf '[global]\nrepo = file://%s/brepo\nrecipients = %s\ncatalog = %s/b.db\n[cluster:c1]\nendpoints = %s\nuser = root\npassword-file = %s\n' \
    "$T" "$(cat "$T/rcpt")" "$T" "$EP1,$(cat "$T/c1/m3.url"),$(cat "$T/c1/m2.url")" \
    "$T/wrong.pw" >"$T/wrongpw.conf"
check_fails backup_wrong_password_member_down "cluster c1: etcd http://127.0.0.1:[0-9]+: authentication as 'root' failed" \
    "$LIFEBOAT" --config "$T/wrongpw.conf" backup
rm -f "$T/out"/*.db
"$LIFEBOAT" pull --endpoints "$EP" --out-dir "$T/out" --user root \
    --password-file "$T/root.pw" >/dev/null 2>"$T/partial.err"
check partial_exit_3 test $? -eq 3
check partial_names_member grep -Eq 'etcd m2 \(http://127.0.0.1:[0-9]+\): cannot connect' "$T/partial.err"
check partial_others_written test -f "$T/out/m1.db" -a -f "$T/out/m3.db" -a ! -f "$T/out/m2.db"

# A user without the root role, with the member etcd lists first down:
# the backup's error is the missing role, not that member's refusal.
etcd_start c1 2
wait_for 20 etcdctl --endpoints "$(cat "$T/c1/m2.url")" --user root:r00t-secret endpoint health
first=$(etcdctl --endpoints "$EP" --user root:r00t-secret member list | head -n 1 | cut -d, -f3 | tr -d ' ')
etcd_stop c1 "${first#m}"
printf '[global]\nrepo = file://%s/brepo\nrecipients = %s\ncatalog = %s/b.db\n[cluster:c1]\nendpoints = %s\nuser = alice\npassword-file = %s\n' \
    "$T" "$(cat "$T/rcpt")" "$T" "$EP" "$T/alice.pw" >"$T/alice.conf"
check_fails backup_not_root_first_member_down "^lifeboat: error: cluster c1: etcd m[123] .*permission denied: a snapshot needs an etcd user with the root role" \
    "$LIFEBOAT" --config "$T/alice.conf" backup
check backup_not_root_not_connection_refused sh -c "! grep -q 'error: cluster c1: .*cannot connect' '$T/cf.err'"

# TLS with client certificates.
etcd_cluster c2 3 tls || { fail tls_setup "tls cluster did not start"; exit 1; }
mkdir "$T/tls"
C=$T/certs
check tls_pull "$LIFEBOAT" pull --endpoints "$c2_endpoints" --out-dir "$T/tls" \
    --cacert "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key"
check tls_files_valid snaptool snapshot status "$T/tls/m3.db"
check_fails tls_wrong_ca 'certificate not trusted.*hint: check cacert' \
    "$LIFEBOAT" pull --endpoints "$c2_endpoints" --out-dir "$T/tls" \
    --cacert "$C/otherca.crt" --cert "$C/client.crt" --key "$C/client.key"
check_fails tls_no_client_cert 'etcd https://127.0.0.1:[0-9]+: tls handshake failed: the server requires a client certificate and none was given' \
    "$LIFEBOAT" pull --endpoints "$c2_endpoints" --out-dir "$T/tls" --cacert "$C/ca.crt"
# A client certificate from a CA the members do not trust: with TLS 1.3
# the refusal comes after the handshake, as a reset or an alert.
( cd "$C" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other.key -out other.csr -subj /CN=client 2>/dev/null &&
  openssl x509 -req -in other.csr -CA otherca.crt -CAkey otherca.key \
    -CAcreateserial -out other.crt -days 2 -extfile client.ext 2>/dev/null )
for i in 1 2 3; do
	check_fails "tls_client_cert_other_ca_$i" 'etcd https://127.0.0.1:[0-9]+: tls handshake failed: the server refused the client certificate .*/other.crt \(issued by /CN=lifeboat test otherca\)' \
	    "$LIFEBOAT" pull --endpoints "$c2_endpoints" --out-dir "$T/tls" \
	    --cacert "$C/ca.crt" --cert "$C/other.crt" --key "$C/other.key"
done
check_fails tls_cert_without_key '--cert and --key go together' \
    "$LIFEBOAT" pull --endpoints "$c2_endpoints" --out-dir "$T/tls" --cert "$C/client.crt"

# A member reached over TLS is never reached over plain http, whatever it
# advertises: a member listening on both and advertising both is pulled on
# https; one advertising only http fails and says why.  Both are real etcd
# members listening on an https and an http client URL.
tls_member() {   # tls_member NAME ADVERTISE(http|both): prints its https URL
	mdir=$T/adv-$1; mkdir -p "$mdir"
	sp=$(free_port); hp=$(free_port); pp=$(free_port)
	adv="http://127.0.0.1:$hp"
	[ "$2" = both ] && adv="$adv,https://127.0.0.1:$sp"
	etcd --name "$1" --data-dir "$mdir/data" \
	    --listen-client-urls "https://127.0.0.1:$sp,http://127.0.0.1:$hp" \
	    --advertise-client-urls "$adv" --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "$1=http://127.0.0.1:$pp" \
	    --cert-file "$C/server.crt" --key-file "$C/server.key" --client-cert-auth \
	    --trusted-ca-file "$C/ca.crt" >"$mdir/etcd.log" 2>&1 &
	echo $! >>"$T/pids"
	wait_for 20 etcdctl --endpoints "http://127.0.0.1:$hp" endpoint health
	echo "https://127.0.0.1:$sp"
}
TLSO="--cacert $C/ca.crt --cert $C/client.crt --key $C/client.key"
both_ep=$(tls_member both both)
mkdir "$T/adv"
# shellcheck disable=SC2086
"$LIFEBOAT" pull --endpoints "$both_ep" --out-dir "$T/adv" --json $TLSO >"$T/adv.json" 2>"$T/adv.err"
check tls_member_pulled_on_https python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["pulled"] == 1, r
assert r["members"][0]["endpoint"] == sys.argv[2], r["members"][0]["endpoint"]
' "$T/adv.json" "$both_ep"
http_ep=$(tls_member plainonly http)
# shellcheck disable=SC2086
check_fails tls_member_http_only_refused 'etcd plainonly: member advertises no https client URL \(only http://127.0.0.1:[0-9]+\) while the configured endpoints use https' \
    "$LIFEBOAT" pull --endpoints "$http_ep" --out-dir "$T/adv" $TLSO
check tls_member_http_only_no_file test ! -e "$T/adv/plainonly.db"
# An http endpoint with TLS files, or beside an https one: a usage error.
# shellcheck disable=SC2086
"$LIFEBOAT" pull --endpoints "http://127.0.0.1:1" --out-dir "$T/adv" $TLSO 2>"$T/mix.err"
check http_endpoint_with_cacert_exit_2 test $? -eq 2
check http_endpoint_with_cacert_says_why grep -q 'etcd endpoint http://127.0.0.1:1 is plain http but cacert, cert or key is set' "$T/mix.err"
check_fails endpoints_mix_http_https 'etcd endpoints mix plain http \(http://127.0.0.1:1\) and https' \
    "$LIFEBOAT" pull --endpoints "$both_ep,http://127.0.0.1:1" --out-dir "$T/adv"
