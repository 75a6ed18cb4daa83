#!/bin/sh
# Installs what lifeboat needs to build, test and run its demo on Debian 12:
# the -dev libraries, the real parts the tests talk to (etcd, age, zstd,
# ssh-keygen, ip and tc for the network namespaces, the strict S3 server,
# versitygw as the S3 server that enforces Object Lock) and s3rver from
# npm. Idempotent and quiet when all is present, so the Makefile can call
# it before every check.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

debs="build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libssl-dev libzstd-dev libsqlite3-dev libarchive-dev
libmicrohttpd-dev libjansson-dev libexpat1-dev
etcd-server etcd-client age zstd openssl sqlite3 curl
python3 python3-swift python3-croniter util-linux procps libfaketime
openssh-client iproute2 chromium debhelper lintian"

missing=""
for p in $debs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# Node.js may come from elsewhere with its own npm; Debian's only if absent.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
		exit 1
	fi
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# s3rver (npm): a real, fast S3 server for the tests, and playwright-core
# (the status page test drives Debian's chromium with it), installed into
# tests/node_modules (not tracked) exactly as tests/package-lock.json pins
# it.  The copy of the lock file kept beside it says which lock the
# installed tree was made from, so a changed lock reinstalls.
nm=$top/tests/node_modules
if [ ! -x "$nm/.bin/s3rver" ] || ! cmp -s "$top/tests/package-lock.json" "$nm/.lifeboat-lock"; then
	echo "deps: installing s3rver (npm ci)" >&2
	(cd "$top/tests" && npm ci --no-audit --no-fund --silent >/dev/null)
	cp "$top/tests/package-lock.json" "$nm/.lifeboat-lock"
fi

# etcd 3.5, 3.6 and 3.7 as test peers (3.4 is Debian's, above): built from
# etcd's published Go modules into a cache outside the tree, once.
"$top/scripts/etcd-peers.sh"

# versitygw as the S3 server that enforces Object Lock (tests/versitygw,
# the Object Lock tests): built the same way into the same cache, once
# (some 3 to 4 minutes on a 2-core machine; nothing when it is built), in
# the background: the tests before the Object Lock ones run meanwhile,
# and those wait for it (lockstore_start).
"$top/scripts/versitygw.sh" --background
