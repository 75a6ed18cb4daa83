#!/bin/sh
# newhosts_test.sh: disaster recovery onto other machines with other
# addresses, as it happens for real.  Hosts are network namespaces joined by
# a bridge in a namespace of their own (addresses exist only inside the
# namespaces; the test makes and removes them all).  A 3-member etcd with
# TLS (its own openssl CA, a certificate per host with that host's address,
# client-certificate authentication) and etcd auth (a root user) on h1..h3
# is backed up by snapd on the appliance host, destroyed, and restored onto
# h4..h6, new addresses and new certificates (one per member, through the
# {name} template): with `restore cluster` (data dirs made on the appliance,
# each member started on its own host), with `restore seed` + `restore join`
# run on each host, and with `restore member` from the repository alone on
# all three hosts at once.  Then a member's link is cut in the middle of a
# backup (partial, bounded in time) and a dead member is replaced on a live
# cluster by a new host (kubeadm's member replace) with `join --replace`.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
	fail newhosts_netns "needs root and ip(8) for network namespaces"
	exit 1
fi
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# newhosts: not under ASan (restore_test and matrix cover the code)"
	exit 0
fi

P=lb$$                      # namespace and link names: lb<pid><host>
NET=10.$(($$ % 200 + 20)).0
NSES=""
netns_down() {
	# what still runs in them was started by this test (the namespaces
	# are its own): etcd that a failed restore left, say
	for ns in $NSES; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
	for ns in $NSES; do ip netns del "$ns" 2>/dev/null; done
}
trap 'cleanup; netns_down' EXIT
trap 'exit 129' HUP PIPE

# host NAME N: namespace $P$NAME with address $NET.N on the bridge.
host() {
	ip netns add "$P$1" || return 1
	NSES="$NSES $P$1"
	ip link add "$P$1" type veth peer name "${P}b$1" || return 1
	ip link set "$P$1" netns "$P$1"
	ip link set "${P}b$1" netns "${P}sw"
	ip -n "${P}sw" link set "${P}b$1" master br0 up
	ip -n "$P$1" link set lo up
	ip -n "$P$1" addr add "$NET.$2/24" dev "$P$1"
	ip -n "$P$1" link set "$P$1" up
}
on() { h=$1; shift; ip netns exec "$P$h" "$@"; }

ip netns add "${P}sw" && NSES="${P}sw" &&
ip -n "${P}sw" link add br0 type bridge && ip -n "${P}sw" link set br0 up &&
host app 100 && host h1 1 && host h2 2 && host h3 3 && host h4 4 && host h5 5 &&
host h6 6 && host h7 7 || { fail newhosts_netns "could not make the hosts"; exit 1; }

# --- PKI: a CA, one certificate per member name (its host's address) ------
C=$T/pki
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
    -out "$C/ca.crt" -days 2 -subj "/CN=lifeboat newhosts ca" 2>/dev/null
cert() {   # cert NAME CN [IP]
	if [ -n "${3:-}" ]; then
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3"
	else
		printf 'extendedKeyUsage=clientAuth\n'
	fi >"$C/$1.ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
	    -out "$C/$1.csr" -subj "/CN=$2" 2>/dev/null
	openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial \
	    -out "$C/$1.crt" -days 2 -extfile "$C/$1.ext" 2>/dev/null
	chmod 600 "$C/$1.key"
}
for i in 1 2 3; do cert "m$i" "m$i" "$NET.$i"; done
for i in 4 5 6 7; do cert "r$((i - 3))" "r$((i - 3))" "$NET.$i"; done
mv "$C/r4.crt" "$C/r3b.crt"; mv "$C/r4.key" "$C/r3b.key"    # h7: the replacement
cert client lifeboat     # no etcd user of that name: the user comes from --user
TLS="--cacert $C/ca.crt --cert $C/client.crt --key $C/client.key"

# --- the lost cluster: m1..m3 on h1..h3 -------------------------------------
IC=m1=https://$NET.1:2380,m2=https://$NET.2:2380,m3=https://$NET.3:2380
for i in 1 2 3; do
	ip netns exec "${P}h$i" etcd --name "m$i" --data-dir "$T/m$i.data" \
	    --listen-client-urls "https://$NET.$i:2379" --advertise-client-urls "https://$NET.$i:2379" \
	    --listen-peer-urls "https://$NET.$i:2380" --initial-advertise-peer-urls "https://$NET.$i:2380" \
	    --initial-cluster "$IC" --initial-cluster-state new --initial-cluster-token "old-$$" \
	    --cert-file "$C/m$i.crt" --key-file "$C/m$i.key" --client-cert-auth \
	    --trusted-ca-file "$C/ca.crt" --peer-cert-file "$C/m$i.crt" --peer-key-file "$C/m$i.key" \
	    --peer-client-cert-auth --peer-trusted-ca-file "$C/ca.crt" \
	    --logger zap --log-outputs stderr >"$T/m$i.log" 2>&1 &
	echo $! >>"$T/pids"; echo $! >"$T/m$i.pid"
done
EP=https://$NET.1:2379,https://$NET.2:2379,https://$NET.3:2379
# shellcheck disable=SC2086
ectl() { on app etcdctl $TLS "$@"; }
wait_for 40 ectl --endpoints "$EP" endpoint health ||
	{ fail newhosts_cluster "the TLS cluster on h1..h3 did not start"; exit 1; }
echo 'S3cret-etcd-pw' >"$T/root.pw"; chmod 600 "$T/root.pw"
ectl --endpoints "$EP" user add root --new-user-password S3cret-etcd-pw >/dev/null 2>&1
ectl --endpoints "$EP" auth enable >/dev/null 2>&1
AUTH="--user root:S3cret-etcd-pw"
# shellcheck disable=SC2086
ectl --endpoints "$EP" $AUTH user add tenant --new-user-password t >/dev/null 2>&1
for i in $(seq 1 60); do
	# shellcheck disable=SC2086
	ectl --endpoints "$EP" $AUTH put "/registry/pods/ns$((i % 3))/p$i" "v$i$(head -c 200 /dev/zero | tr '\0' x)" >/dev/null
done
# dump ENDPOINTS FILE: every key and value under /registry/, sorted (the
# backups also hold snapd's lock key, whose lease ends it on its own)
dump() {
	# shellcheck disable=SC2086
	ectl --endpoints "$1" $AUTH get /registry/ --prefix -w json 2>/dev/null | python3 -c '
import base64, json, sys
for kv in sorted(json.load(sys.stdin).get("kvs", []), key=lambda kv: kv["key"]):
    print(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode())
' >"$2"
}
dump "$EP" "$T/want"
check lost_cluster_has_keys test "$(wc -l <"$T/want")" -eq 60

# --- snapd on the appliance backs it up -------------------------------------
"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null
mport=$(free_port)
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/catalog.db
identity-file = $T/id.txt
drill-schedule = off
metrics-listen = $NET.100:$mport
[cluster:k8s]
endpoints = $EP
cacert = $C/ca.crt
cert = $C/client.crt
key = $C/client.key
user = root
password-file = $T/root.pw
schedule = @every 1m
EOF
LB="$LIFEBOAT --config $T/lb.conf"
LIFEBOAT_SNAPD_TIMESCALE="30@$(date +%s)" ip netns exec "${P}app" $LB snapd 2>"$T/snapd.log" &
echo $! >>"$T/pids"; snapd=$!
check snapd_backed_up wait_for 40 sh -c "[ \$($LB catalog list --status complete 2>/dev/null | grep -c ' complete ') -ge 1 ]"
kill "$snapd"; wait "$snapd" 2>/dev/null
check no_secret_in_snapd_log sh -c "! grep -q S3cret '$T/snapd.log'"

# The cluster and its hosts are lost.
for i in 1 2 3; do kill "$(cat "$T/m$i.pid")" 2>/dev/null; done
rm -rf "$T"/m?.data

NEWEP=https://$NET.4:2379,https://$NET.5:2379,https://$NET.6:2379
RM=r1=https://$NET.4:2380@https://$NET.4:2379,r2=https://$NET.5:2380@https://$NET.5:2379,r3=https://$NET.6:2380@https://$NET.6:2379
MTLS="--cert $C/{name}.crt --key $C/{name}.key --cacert $C/ca.crt --peer-cert $C/{name}.crt --peer-key $C/{name}.key --peer-cacert $C/ca.crt --client-cert $C/client.crt --client-key $C/client.key"

# start_conf HOST CONF: etcd of a restored member on its own host (its pid
# in CONF.pid, beside the data dirs: stop_all stops it).
start_conf() {
	ip netns exec "$P$1" etcd --config-file "$2" >>"$2.out" 2>&1 &
	echo $! >>"$T/pids"; echo $! >"$2.pid"
}

# --- 1: restore cluster on the appliance, each member started on its host ---
# shellcheck disable=SC2086
on app $LB restore cluster --cluster k8s --members "$RM" --base-dir "$T/rc" $MTLS \
    >"$T/rc.out" 2>&1
check restore_cluster_written test $? -eq 0
check per_member_certs sh -c "grep -q '$C/r2.crt' '$T/rc/r2.conf.yml' && ! grep -q '$C/r1.crt' '$T/rc/r2.conf.yml'"
for i in 1 2 3; do start_conf "h$((i + 3))" "$T/rc/r$i.conf.yml"; done
check restore_cluster_healthy wait_for 40 ectl --endpoints "$NEWEP" $AUTH endpoint health
dump "$NEWEP" "$T/got"
check restore_cluster_every_key cmp "$T/want" "$T/got"
# shellcheck disable=SC2086
has_tenant() { ectl --endpoints "$NEWEP" $AUTH user list | grep -q tenant; }
check restore_cluster_keeps_users has_tenant
stop_all "$T/rc"

# --- 2: seed on h4, joins run on h5 and h6 -----------------------------------
SEED=https://$NET.4:2379
# shellcheck disable=SC2086
on h4 $LB restore seed --cluster k8s --name r1 --peer-url "https://$NET.4:2380" \
    --client-url "$SEED" --data-dir "$T/sj/r1" --start $(echo "$MTLS" | sed s/{name}/r1/g) --user root \
    --password-file "$T/root.pw" >"$T/seed.out" 2>&1
rc=$?
track "$T/sj"
check restore_seed test "$rc" -eq 0
for i in 2 3; do
	# shellcheck disable=SC2086
	on "h$((i + 3))" $LB restore join --seed "$SEED" --name "r$i" \
	    --peer-url "https://$NET.$((i + 3)):2380" --client-url "https://$NET.$((i + 3)):2379" \
	    --data-dir "$T/sj/r$i" $(echo "$MTLS" | sed "s/{name}/r$i/g") --user root --password-file "$T/root.pw" \
	    >"$T/join-r$i.out" 2>&1
	echo $? >"$T/join-r$i.rc"
	track "$T/sj"
done
check restore_join_each_host test "$(cat "$T/join-r2.rc" "$T/join-r3.rc" | tr -d '\n')" = 00
dump "$NEWEP" "$T/got"
check seed_join_every_key cmp "$T/want" "$T/got"

# --- a member's link is cut in the middle of a backup ------------------------
# r3's link is slowed to 4 Mbit/s, then cut a second into the backup: the
# backup ends partial, within its stall timeout, with the other members in.
cat >"$T/cut.conf" <<EOF
[global]
repo = file://$T/repo
recipients = $(cat "$T/rcpt")
catalog = $T/cut.db
stall-timeout = 5s
[cluster:k8s]
endpoints = $NEWEP
cacert = $C/ca.crt
cert = $C/client.crt
key = $C/client.key
user = root
password-file = $T/root.pw
EOF
for i in 1 2 3 4; do
	head -c 800000 /dev/urandom | base64 -w0 >"$T/big"
	# shellcheck disable=SC2086
	ectl --endpoints "$NEWEP" $AUTH put "/big$i" <"$T/big" >/dev/null
done
ip netns exec "${P}h6" tc qdisc add dev "${P}h6" root tbf rate 4mbit burst 32kbit latency 400ms
t0=$(date +%s)
ip netns exec "${P}app" "$LIFEBOAT" --config "$T/cut.conf" backup --no-progress >"$T/cut.out" 2>&1 &
bk=$!
sleep 1
ip -n "$P"h6 link set "${P}h6" down
wait "$bk"; rc=$?
check link_cut_partial_exit_3 test "$rc" -eq 3
check link_cut_names_member grep -q "r3" "$T/cut.out"
check link_cut_no_hang test $(($(date +%s) - t0)) -lt 40
ip -n "$P"h6 link set "${P}h6" up
ip netns exec "${P}h6" tc qdisc del dev "${P}h6" root 2>/dev/null

# --- kubeadm's member replace: r3's host dies, h7 takes its place -------------
kill "$(cat "$T/sj/r3.pid")" 2>/dev/null
wait_for 10 sh -c "! kill -0 $(cat "$T/sj/r3.pid")"
# shellcheck disable=SC2086
on h7 $LB restore join --seed "$SEED" --replace --name r3 --peer-url "https://$NET.7:2380" \
    --client-url "https://$NET.7:2379" --data-dir "$T/sj/r3b" \
    --cert "$C/r3b.crt" --key "$C/r3b.key" --cacert "$C/ca.crt" --peer-cert "$C/r3b.crt" \
    --peer-key "$C/r3b.key" --peer-cacert "$C/ca.crt" --client-cert "$C/client.crt" \
    --client-key "$C/client.key" --user root --password-file "$T/root.pw" >"$T/replace.out" 2>&1
rc=$?
track "$T/sj"
check replace_on_new_host test "$rc" -eq 0
# shellcheck disable=SC2086
check replaced_member_listed sh -c "ip netns exec ${P}app etcdctl $TLS --endpoints '$SEED' $AUTH member list | grep -q ', r3, https://$NET.7:2380,'"
dump "https://$NET.7:2379" "$T/got"
check replaced_member_every_key cmp "$T/want" "$T/got"
stop_all "$T/sj"

# --- 3: restore member from the repository alone, all hosts at once ----------
ICN=r1=https://$NET.4:2380,r2=https://$NET.5:2380,r3=https://$NET.6:2380
mv "$T/catalog.db" "$T/catalog.db.gone"
pm=""
for i in 1 2 3; do
	# shellcheck disable=SC2086
	( on "h$((i + 3))" $LIFEBOAT restore member --repo "file://$T/repo" --identity "$T/id.txt" \
	    --cluster k8s --name "r$i" --initial-cluster "$ICN" --initial-cluster-token "new-$$" \
	    --data-dir "$T/pm/r$i" --client-url "https://$NET.$((i + 3)):2379" --start \
	    $(echo "$MTLS" | sed "s/{name}/r$i/g") --user root --password-file "$T/root.pw" \
	    >"$T/pm-r$i.out" 2>&1; echo $? >"$T/pm-r$i.rc" ) &
	pm="$pm $!"
done
# shellcheck disable=SC2086
wait $pm
track "$T/pm"
check restore_member_from_repo_alone test "$(cat "$T"/pm-r?.rc | tr -d '\n')" = 000
dump "$NEWEP" "$T/got"
check member_every_key cmp "$T/want" "$T/got"
check no_secret_in_outputs sh -c "! grep -rq S3cret '$T'/*.out '$T'/rc/*.yml '$T'/pm/*.yml '$T'/sj/*.yml 2>/dev/null"
