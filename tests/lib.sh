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

# etcd_use VERSION: the etcd, etcdctl and etcdutl on PATH from here on.
# 3.4 is Debian's etcd-server and etcd-client (/usr/bin); 3.5, 3.6 and 3.7
# are etcd's own binaries, built by scripts/etcd-peers.sh into a cache
# outside the tree.  Sets TEST_ETCD_VERSION (the minor) and TEST_ETCD_DIR.
# PATH without the peers' directories (a test run by another keeps none)
TEST_BASE_PATH=$(printf '%s\n' "$PATH" | tr : '\n' | grep -v '/lifeboat/etcd/' | paste -sd :)
etcd_use() {
	case $1 in
	3.4)	TEST_ETCD_DIR=/usr/bin ;;
	3.[5-9])
		TEST_ETCD_DIR=$(sh "$TOP/scripts/etcd-peers.sh" --dir "$1") || return 1
		[ -x "$TEST_ETCD_DIR/etcdutl" ] ||
			{ echo "etcd $1 is not built: run ./scripts/deps.sh" >&2; return 1; } ;;
	*)	echo "etcd_use: no etcd $1 here (3.4 to 3.7)" >&2; return 1 ;;
	esac
	TEST_ETCD_VERSION=$1
	PATH=$TEST_ETCD_DIR:$TEST_BASE_PATH
	export PATH	# never ETCD_*: etcd reads those as flags
	# 3.4's etcdctl speaks v3 by default; 3.6+ warns about ETCDCTL_API
	unset ETCDCTL_API
}
# The whole suite runs on one version (default 3.6, what current Kubernetes
# ships); LIFEBOAT_ETCD_VERSION picks another.
etcd_use "${LIFEBOAT_ETCD_VERSION:-3.6}" || exit 1

# snaptool snapshot status|restore ...: etcd's offline snapshot tool,
# etcdutl from 3.5 on (3.6 removed these from etcdctl), etcdctl on 3.4.
snaptool() {
	if [ -x "$TEST_ETCD_DIR/etcdutl" ]; then "$TEST_ETCD_DIR/etcdutl" "$@"
	else "$TEST_ETCD_DIR/etcdctl" "$@"; fi
}

cleanup() {
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$T/pids"
	sleep 0.2
	while read -r pid; do
		kill -9 "$pid" 2>/dev/null
	done <"$T/pids"
	if [ -f "$T/ports" ]; then
		while read -r port; do
			rmdir "$PORT_CLAIMS/$port" 2>/dev/null
		done <"$T/ports"
	fi
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
		fail "$name" "stderr lacks /$pat/: ...$(tail -c 600 "$T/cf.err" | tr '\n' ' ')"
	else
		ok "$name"
		grep -E -e "$pat" "$T/cf.err" | head -n 1 | sed 's/^/#   /'
	fi
}

# check_exit NAME STATUS PATTERN CMD...: CMD exits with STATUS and its
# stderr matches PATTERN (an extended regex); with CHECK_EXIT_ALL=1 set by
# the test, its stdout and stderr together.  What CMD printed stays in
# $T/ce.out and $T/ce.err (with CHECK_EXIT_ALL=1: both in $T/ce.out).
check_exit() {
	name=$1; want=$2; pat=$3; shift 3
	if [ "${CHECK_EXIT_ALL:-}" = 1 ]; then
		ce_file=$T/ce.out ce_what=output
		"$@" >"$ce_file" 2>&1
	else
		ce_file=$T/ce.err ce_what=stderr
		"$@" >"$T/ce.out" 2>"$ce_file"
	fi
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$name" "exit $got, want $want: ...$(tail -c 600 "$ce_file" | tr '\n' ' ')"
	elif ! grep -Eq -e "$pat" "$ce_file"; then
		fail "$name" "$ce_what lacks /$pat/: ...$(tail -c 600 "$ce_file" | tr '\n' ' ')"
	else
		ok "$name"
		grep -E -e "$pat" "$ce_file" | head -n 1 | sed 's/^/#   /'
	fi
}

# pycheck NAME PYTHON ARGS...: a check written in Python (json, sys and os
# imported; sys.argv[1:] = ARGS).
pycheck() {
	name=$1; code=$2; shift 2
	check "$name" python3 -c "import json, sys, os
$code" "$@"
}

# free_port: prints a TCP port nobody listens on right now, not handed
# out before to this test nor to another test running beside it, and
# below the kernel's ephemeral range.  A port from bind(0) lies inside
# that range, so an outgoing connection (an etcd member dialling its
# peers) can take it as its source port before the server it was chosen
# for starts: "address already in use", a cluster that never becomes
# healthy.  Tests running at once (tests/run.sh's lanes) claim their ports
# in $PORT_CLAIMS, one directory per port (mkdir is atomic); cleanup
# gives them back, and a claim a killed test left is taken again after
# six hours.
PORT_CLAIMS=${TMPDIR:-/tmp}/lifeboat-test-ports
free_port() {
	python3 - "$T/ports" "$PORT_CLAIMS" <<'EOF'
import os, random, socket, sys, time
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
used = set(open(sys.argv[1]).read().split()) if os.path.exists(sys.argv[1]) else set()
os.makedirs(sys.argv[2], exist_ok=True)
for _ in range(1000):
    port = random.randrange(10000, lo)
    if str(port) in used:
        continue
    claim = os.path.join(sys.argv[2], str(port))
    try:
        os.mkdir(claim)
    except FileExistsError:
        try:
            if time.time() - os.stat(claim).st_mtime < 6 * 3600:
                continue
            os.utime(claim)
        except OSError:
            continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        os.rmdir(claim)
        continue
    finally:
        s.close()
    with open(sys.argv[1], "a") as f:
        f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("no free port below %d" % lo)
EOF
}

# segments_cover CATALOG CLUSTER FROM TO: the catalog's event-log segments
# of CLUSTER hold every revision FROM..TO, each starting at or before the
# previous one's end + 1 (segments that overlap, after a failover, count).
segments_cover() {
	sqlite3 "$1" "SELECT first_rev, last_rev FROM segments WHERE cluster = '$2'
	    ORDER BY first_rev, last_rev" 2>/dev/null |
	python3 -c '
import sys
want, to = int(sys.argv[1]), int(sys.argv[2])
for line in sys.stdin:
    a, b = map(int, line.split("|"))
    if b < want: continue
    if a > want: sys.exit("revision %d is in no segment" % want)
    want = b + 1
sys.exit(0 if want > to else "segments end at %d, not %d" % (want - 1, to))' "$3" "$4"
}

# same_keys JSON_A JSON_B: two `etcdctl get -w json` equal in every key,
# value, create and mod revision, version and lease
same_keys() {
	python3 - "$1" "$2" <<'PY'
import json, sys
def kvs(p):
    d = json.load(open(p))
    return sorted((kv["key"], kv.get("value", ""), kv["create_revision"], kv["mod_revision"],
                   kv["version"], kv.get("lease", 0)) for kv in d.get("kvs", []))
a, b = kvs(sys.argv[1]), kvs(sys.argv[2])
if a != b:
    sys.exit("differ: %d and %d keys; first difference %r" % (len(a), len(b),
             next((x, y) for x, y in zip(a + [None] * 9, b + [None] * 9) if x != y)))
PY
}

# wait_for SECONDS CMD...: retries CMD until it succeeds or time runs out.
wait_for() {
	wf_end=$(($(date +%s) + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$wf_end" ] || return 1
		sleep 0.1
	done
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
	for attempt in 1 2; do
		etcd_cluster_try "$cname" "$n" "$scheme" "$tlsargs" && break
		echo "etcd cluster $cname did not become healthy (attempt $attempt); its members said:" >&2
		for f in "$dir"/m*.log; do
			{ grep -E '"level":"(fatal|panic)"' "$f"; tail -n 2 "$f"; } |
			    cut -c 1-300 | sed "s|^|#   $(basename "$f"): |" >&2
		done
		[ "$attempt" -eq 2 ] && return 1
		# once more from nothing, on new ports: a port taken between
		# free_port and etcd's bind must not fail the whole test
		i=1
		while [ "$i" -le "$n" ]; do
			etcd_stop "$cname" "$i"
			rm -rf "$dir/m$i.data" "$dir/m$i.log"
			i=$((i + 1))
		done
	done
	# 3.6+ writes its storage version into the db (and starts sending it
	# with snapshots) a few seconds after the cluster version is decided:
	# wait, so the tests take snapshots of a settled database.
	case $TEST_ETCD_VERSION in
	3.4|3.5) ;;
	# shellcheck disable=SC2086
	*)	wait_for 30 storage_versions "$n" --endpoints "$eps" $ETCD_TLS_ARGS ||
			{ echo "etcd cluster $cname wrote no storage version" >&2; return 1; } ;;
	esac
}

# etcd_cluster_try NAME N SCHEME TLSARGS: one start of etcd_cluster's
# members on fresh ports; true when the cluster is healthy.
etcd_cluster_try() {
	cname=$1; n=$2; scheme=$3; tlsargs=$4
	dir=$T/$cname
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
	printf '%s\n%s\n' "$initial" "$tlsargs" >"$dir/cluster.args"
	i=1
	while [ "$i" -le "$n" ]; do
		etcd_start "$cname" "$i"
		i=$((i + 1))
	done
	eval "${cname}_endpoints=$eps"
	ETCD_TLS_ARGS=""
	[ "$scheme" = https ] &&
		ETCD_TLS_ARGS="--cacert $T/certs/ca.crt --cert $T/certs/client.crt --key $T/certs/client.key"
	# shellcheck disable=SC2086
	wait_for 30 etcdctl --endpoints "$eps" $ETCD_TLS_ARGS endpoint health
}

# storage_versions N ETCDCTL-ARGS...: true when N members report one.
storage_versions() {
	want=$1; shift
	[ "$(etcdctl "$@" endpoint status -w json 2>/dev/null |
	    grep -o '"storageVersion":"[0-9]' | wc -l)" -eq "$want" ]
}

# etcd_start NAME I: starts member I of cluster NAME (made by
# etcd_cluster) in the background: again after etcd_stop, on its data.
etcd_start() {
	dir=$T/$1
	initial=$(sed -n 1p "$dir/cluster.args")
	tlsargs=$(sed -n 2p "$dir/cluster.args")
	# shellcheck disable=SC2086
	etcd --name "m$2" --data-dir "$dir/m$2.data" \
	    --listen-client-urls "$(cat "$dir/m$2.url")" \
	    --advertise-client-urls "$(cat "$dir/m$2.url")" \
	    --listen-peer-urls "$(cat "$dir/m$2.peer")" \
	    --initial-advertise-peer-urls "$(cat "$dir/m$2.peer")" \
	    --initial-cluster "$initial" --initial-cluster-state new \
	    --initial-cluster-token "$1-$$" $tlsargs \
	    --logger zap --log-outputs stderr \
	    >>"$dir/m$2.log" 2>&1 &
	echo $! >>"$T/pids"
	echo $! >"$dir/m$2.pid"
}

# etcd_stop NAME I: stops member I of cluster NAME (by its pid).
etcd_stop() {
	pid=$(cat "$T/$1/m$2.pid")
	kill "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid"
}

# track DIR: the pids of the etcd members `lifeboat restore` started under
# DIR (its DATA_DIR.pid files), stopped on exit.
track() {
	for f in "$1"/*.pid; do [ -f "$f" ] && cat "$f" >>"$T/pids"; done
}

# stop_all DIR: stops those members now, each by its pid.
stop_all() {
	for f in "$1"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null
		wait_for 10 sh -c "! kill -0 $pid"
	done
}

# s3rver_start [BUCKET]: starts s3rver (tests/node_modules, see
# scripts/deps.sh) on a free port with BUCKET (default test-bucket) made,
# data under $T/s3rver.  Exports S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY,
# S3_SECRET_KEY and S3_BUCKET, and S3_HOST_ENDPOINT for host-style requests
# (bucket.s3.localhost: curl resolves *.localhost to loopback itself).
# Note that s3rver does not check signatures.
s3rver_start() {
	bucket=${1:-test-bucket}
	bin=$TOP/tests/node_modules/.bin/s3rver
	[ -x "$bin" ] || { echo "s3rver missing: run ./scripts/deps.sh" >&2; return 1; }
	port=$(free_port)
	mkdir -p "$T/s3rver"
	# s3rver makes list continuation tokens with DES, which Node's
	# OpenSSL 3 keeps in the legacy provider: without it, paged lists 500.
	NODE_OPTIONS=--openssl-legacy-provider "$bin" --address 127.0.0.1 \
	    --port "$port" --directory "$T/s3rver" --silent \
	    --service-endpoint localhost \
	    --configure-bucket "$bucket" >"$T/s3rver.log" 2>&1 &
	echo $! >>"$T/pids"
	export S3_ENDPOINT="http://127.0.0.1:$port" S3_REGION=us-east-1 \
	    S3_ACCESS_KEY=S3RVER S3_SECRET_KEY=S3RVER S3_BUCKET="$bucket" \
	    S3_HOST_ENDPOINT="http://s3.localhost:$port"
	wait_for 20 curl -sf -o /dev/null "$S3_ENDPOINT/$bucket" ||
		{ echo "s3rver did not start: $(tail -n 3 "$T/s3rver.log")" >&2; return 1; }
}

# s3fault_start CONTROL: starts tests/s3fault.py in front of the S3 server
# at $S3_ENDPOINT (s3rver: it checks no signature, so relayed requests
# stay valid); faults follow the JSON in file CONTROL, read per request.
# Exports S3_FAULT_ENDPOINT; faults are logged to $T/s3fault.log.
s3fault_start() {
	fport=$(free_port)
	python3 "$TOP/tests/s3fault.py" "$fport" "${S3_ENDPOINT##*:}" "$1" \
	    >"$T/s3fault.log" 2>&1 &
	echo $! >>"$T/pids"
	export S3_FAULT_ENDPOINT="http://127.0.0.1:$fport"
	wait_for 10 grep -q ready "$T/s3fault.log"
}

# strict_s3_start: starts the SigV4-checking server (/work/shared/strict-s3,
# OpenStack Swift s3api; override with STRICT_S3_DIR) with its state under
# $T/strict-s3.  Exports S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY,
# S3_SECRET_KEY, S3_BUCKET and S3_STATE_DIR.  Returns 1 with the reason in
# $strict_s3_why when it cannot start (callers print a SKIP line).
strict_s3_start() {
	dir=${STRICT_S3_DIR:-$TOP/../shared/strict-s3}
	[ -x "$dir/start.sh" ] || dir=/work/shared/strict-s3
	strict_s3_why=""
	if [ ! -x "$dir/start.sh" ]; then
		strict_s3_why="no $dir/start.sh"
		return 1
	fi
	# start.sh uses PORT..PORT+3; try a few bases in case one is taken.
	for try in 1 2 3; do
		port=$(free_port)
		if S3_STATE_DIR="$T/strict-s3" S3_PORT=$port S3_LOG_LEVEL=WARNING \
		    "$dir/start.sh" >"$T/strict-s3.env" 2>"$T/strict-s3.err"; then
			for f in "$T"/strict-s3/run/*.pid; do
				[ -f "$f" ] && cat "$f" >>"$T/pids"
			done
			while IFS= read -r line; do
				case "$line" in S3_*=*) export "${line?}";; esac
			done <"$T/strict-s3.env"
			return 0
		fi
	done
	strict_s3_why=$(tail -n 1 "$T/strict-s3.err")
	return 1
}

# lockstore_start [BUCKET]: starts versitygw (built by scripts/versitygw.sh)
# with its posix backend and versioning, an S3 server that enforces Object
# Lock and checks SigV4 signatures, on 127.0.0.1 on a port picked free,
# its objects under $T/lockstore/data and their old versions under
# $T/lockstore/versions.  Makes BUCKET (default lock-bucket) with Object
# Lock enabled (and so versioning on).  Exports S3_ENDPOINT, S3_REGION,
# S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET.  Returns 1 with the reason
# in $lockstore_why (and on stderr) when the server is missing or does
# not start.
lockstore_start() {
	bucket=${1:-lock-bucket}
	lockstore_why=""
	# deps.sh may have started its build in the background: wait for it
	# (or build it here, when nothing did)
	if ! sh "$TOP/scripts/versitygw.sh" >"$T/versitygw-build.log" 2>&1; then
		lockstore_why="versitygw cannot be built: $(tail -n 3 "$T/versitygw-build.log" | tr '\n' ' ')"
		echo "$lockstore_why" >&2
		return 1
	fi
	bin=$(sh "$TOP/scripts/versitygw.sh" --bin)
	d=$T/lockstore
	mkdir -p "$d/data" "$d/versions"
	export S3_REGION=us-east-1 S3_ACCESS_KEY=LOCKSTORE \
	    S3_SECRET_KEY=lockstore-secret S3_BUCKET="$bucket"
	# Like AWS, versitygw refuses a signed request without
	# x-amz-content-sha256 (400 InvalidRequest); libcurl 7.88 leaves it
	# out, lifeboat sends it.
	empty=$(sha256sum </dev/null | cut -d' ' -f1)
	# A server that exits at once (its port taken meanwhile) is started
	# again on another.
	for try in 1 2 3; do
		port=$(free_port)
		# The root account's keys from its environment (not on the
		# command line); one account, no IAM service; no admin port,
		# web UI or event sinks.  Its request log goes to versitygw.log.
		env ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
		    "$bin" --port "127.0.0.1:$port" --region "$S3_REGION" \
		    posix --versioning-dir "$d/versions" "$d/data" \
		    >"$d/versitygw.log" 2>&1 &
		vgw=$!
		echo "$vgw" >>"$T/pids"
		export S3_ENDPOINT="http://127.0.0.1:$port"
		# Up when a signed ListBuckets answers 200.
		wait_for 30 sh -c "curl -sf -o /dev/null -H 'x-amz-content-sha256: $empty' \
		    --aws-sigv4 'aws:amz:$S3_REGION:s3' --user '$S3_ACCESS_KEY:$S3_SECRET_KEY' \
		    '$S3_ENDPOINT/' || ! kill -0 $vgw"
		kill -0 "$vgw" 2>/dev/null && break
	done
	if ! curl -sf -o /dev/null -H "x-amz-content-sha256: $empty" \
	    --aws-sigv4 "aws:amz:$S3_REGION:s3" \
	    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$S3_ENDPOINT/"; then
		lockstore_why="versitygw did not start: $(tail -n 3 "$d/versitygw.log" | tr '\n' ' ')"
		echo "$lockstore_why" >&2
		return 1
	fi
	if ! curl -sf -o "$d/mkbucket.out" -X PUT -H 'x-amz-bucket-object-lock-enabled: true' \
	    -H "x-amz-content-sha256: $empty" \
	    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
	    "$S3_ENDPOINT/$bucket"; then
		lockstore_why="versitygw did not make bucket $bucket with Object Lock"
		echo "$lockstore_why" >&2
		return 1
	fi
}

# slow_member NAME RATE: a 1-member etcd whose advertised client URL is a
# relay (tests/tcpfault.py) passing RATE bytes a second, holding ~12 MB
# of incompressible data; prints that URL.
slow_member() {
	d=$T/$1; mkdir -p "$d"
	rp=$(free_port); cp=$(free_port); pp=$(free_port)
	python3 "$TOP/tests/tcpfault.py" "$rp" "$cp" --slow "$2" >"$d/relay.log" 2>&1 &
	echo $! >>"$T/pids"
	etcd --name "$1" --data-dir "$d/data" --listen-client-urls "http://127.0.0.1:$cp" \
	    --advertise-client-urls "http://127.0.0.1:$rp" --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "$1=http://127.0.0.1:$pp" >"$d/etcd.log" 2>&1 &
	echo $! >>"$T/pids"
	wait_for 20 etcdctl --endpoints "http://127.0.0.1:$cp" endpoint health || return 1
	python3 - "http://127.0.0.1:$cp" <<'PY'
import base64, json, os, sys, urllib.request
for i in range(100):
    body = json.dumps({"key": base64.b64encode(b"blob%d" % i).decode(),
                       "value": base64.b64encode(os.urandom(120000)).decode()}).encode()
    urllib.request.urlopen(sys.argv[1] + "/v3/kv/put", body).read()
PY
	echo "http://127.0.0.1:$rp"
}

# catalog_lock DB SECONDS: another session write-locks the SQLite catalog
# DB (BEGIN IMMEDIATE) for SECONDS, in the background; returns once the
# lock is held, with the holder's pid in $lock_pid.
catalog_lock() {
	python3 - "$1" "$2" >"$T/catalog_lock.out" 2>&1 <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
PY
	lock_pid=$!
	echo "$lock_pid" >>"$T/pids"
	wait_for 50 grep -q locked "$T/catalog_lock.out"
}

# catalog_matches_repo ROWS-JSON REPO-URL: the catalog (ROWS-JSON, the
# output of `catalog list --json`) and the repository agree: no running
# row, no id twice (in the catalog or the repository), every object in a
# backup directory with a manifest, no temp file, and the manifests are
# exactly the catalog's complete and partial backups (the cluster's
# head aside).  S3 credentials come from S3_* in the environment.
catalog_matches_repo() {
	"$(dirname "$LIFEBOAT")/tools/repotool" "$2" list >"$1.keys" || return 1
	python3 - "$1" "$1.keys" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
keys = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
ids = [r["id"] for r in rows]
assert len(ids) == len(set(ids)), "an id twice: %s" % ids
assert not [r for r in rows if r["status"] == "running"], "running rows left"
dirs, where = {}, {}
for k in keys:
    parts = k.split("/")
    assert ".lifeboat-" not in parts[-1], "temp file left: " + k
    if len(parts) == 2 and parts[1] in ("HEAD.json", "HEAD.json.sig"):
        continue    # the cluster's head, beside its backups
    if parts[0] == ".audit":
        continue    # the audit trail (repo/journal.h)
    dirs.setdefault(parts[-2], set()).add(parts[-1])
    where.setdefault(parts[-2], set()).add("/".join(parts[:-1]))
twice = [i for i, w in where.items() if len(w) > 1]
assert not twice, "an id in two places of the repository: %s" % twice
dangling = [d for d, f in dirs.items() if "manifest.json" not in f]
assert not dangling, "objects without a manifest: %s" % dangling
stored = {r["id"] for r in rows if r["status"] in ("complete", "partial")}
assert set(dirs) == stored, "repository %s, catalog %s" % (sorted(dirs), sorted(stored))
assert stored, "no backup at all"
PY
}
