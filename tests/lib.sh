# tests/lib.sh: helpers for the integration tests (sourced, POSIX sh).
#
# Every server a test starts is recorded by pid in $T/pids and stopped by
# that pid on exit, also when the test fails; nothing else is signalled.
# Servers listen on 127.0.0.1 only, on ports picked free at run time.

set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$TOP/build/lifeboat}
T=${T:-$(mktemp -d /tmp/lifeboat-test.XXXXXX)}
mkdir -p "$T"
: >"$T/pids"
export ETCDCTL_API=3

cleanup() {
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$T/pids"
	sleep 0.2
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null
	done <"$T/pids"
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME CMD...: passes when CMD exits 0.
check() {
	name=$1; shift
	if "$@" >"$T/check.out" 2>&1; then ok "$name"
	else fail "$name" "$(tail -n 3 "$T/check.out" | tr '\n' ' ')"; fi
}

# check_fails NAME PATTERN CMD...: passes when CMD exits non-zero and its
# stderr has exactly one line matching PATTERN (an extended regex).
check_fails() {
	name=$1; pat=$2; shift 2
	if "$@" >"$T/cf.out" 2>"$T/cf.err"; then
		fail "$name" "exited 0"
	elif ! grep -Eq -e "$pat" "$T/cf.err"; then
		fail "$name" "stderr lacks /$pat/: $(head -c 300 "$T/cf.err" | tr '\n' ' ')"
	else
		ok "$name"
		grep -E -e "$pat" "$T/cf.err" | head -n 1 | sed 's/^/#   /'
	fi
}

# free_port: prints a TCP port nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD...: retries CMD until it succeeds or time runs out.
wait_for() {
	secs=$1; shift
	i=0
	while [ "$i" -lt $((secs * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# make_certs DIR: a CA, a server certificate for 127.0.0.1/localhost and a
# client certificate, made with openssl.  Also a second, unrelated CA.
make_certs() {
	d=$1
	mkdir -p "$d"
	(
	cd "$d" || exit 1
	for ca in ca otherca; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout $ca.key -out $ca.crt -days 2 -subj "/CN=lifeboat test $ca" \
		    2>/dev/null
	done
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	for c in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout $c.key -out $c.csr -subj "/CN=$c" 2>/dev/null
		openssl x509 -req -in $c.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
		    -out $c.crt -days 2 -extfile $c.ext 2>/dev/null
	done
	chmod 600 ./*.key
	)
}

# etcd_cluster NAME N [tls]: starts an N-member etcd cluster under
# $T/NAME.  Sets ${NAME}_endpoints (comma separated client URLs) and
# writes member i's pid to $T/NAME/mI.pid, its client URL to .../mI.url.
# With tls, clients must present a certificate signed by $T/certs/ca.crt.
etcd_cluster() {
	cname=$1; n=$2; mode=${3:-plain}
	dir=$T/$cname
	mkdir -p "$dir"
	scheme=http
	tlsargs=""
	if [ "$mode" = tls ]; then
		[ -f "$T/certs/ca.crt" ] || make_certs "$T/certs"
		scheme=https
		tlsargs="--cert-file $T/certs/server.crt --key-file $T/certs/server.key --client-cert-auth --trusted-ca-file $T/certs/ca.crt"
	fi
	initial=""
	eps=""
	i=1
	while [ "$i" -le "$n" ]; do
		cp=$(free_port); pp=$(free_port)
		echo "$scheme://127.0.0.1:$cp" >"$dir/m$i.url"
		echo "http://127.0.0.1:$pp" >"$dir/m$i.peer"
		initial="${initial:+$initial,}m$i=http://127.0.0.1:$pp"
		eps="${eps:+$eps,}$scheme://127.0.0.1:$cp"
		i=$((i + 1))
	done
	i=1
	while [ "$i" -le "$n" ]; do
		# shellcheck disable=SC2086
		etcd --name "m$i" --data-dir "$dir/m$i.data" \
		    --listen-client-urls "$(cat "$dir/m$i.url")" \
		    --advertise-client-urls "$(cat "$dir/m$i.url")" \
		    --listen-peer-urls "$(cat "$dir/m$i.peer")" \
		    --initial-advertise-peer-urls "$(cat "$dir/m$i.peer")" \
		    --initial-cluster "$initial" --initial-cluster-state new \
		    --initial-cluster-token "$cname-$$" $tlsargs \
		    --logger zap --log-outputs stderr \
		    >"$dir/m$i.log" 2>&1 &
		echo $! >>"$T/pids"
		echo $! >"$dir/m$i.pid"
		i=$((i + 1))
	done
	eval "${cname}_endpoints=$eps"
	if [ "$mode" = tls ]; then
		set -- --cacert "$T/certs/ca.crt" --cert "$T/certs/client.crt" --key "$T/certs/client.key"
	else
		set --
	fi
	wait_for 30 etcdctl --endpoints "$eps" "$@" endpoint health ||
		{ echo "etcd cluster $cname did not become healthy" >&2; return 1; }
}

# etcd_stop NAME I: stops member I of cluster NAME (by its pid).
etcd_stop() {
	pid=$(cat "$T/$1/m$2.pid")
	kill "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid"
}
