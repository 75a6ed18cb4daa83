#!/bin/sh
# Builds etcd's own etcd, etcdctl and etcdutl, of each minor under tests/etcd/,
# from etcd's published Go modules, as test peers.  Each tests/etcd/vX.Y is a
# module that requires etcd's server, etcdctl and etcdutl modules at one tag
# and pins every byte in its committed go.sum; its main.go is the server's
# entry point, and etcdctl and etcdutl are built from their modules' own main
# packages (replace directives bind only a main module, so etcd's in-repo
# ones do not get in the way here).  The binaries go to a cache outside the
# tree keyed by version, so a machine builds each version once.
#
#   etcd-peers.sh            build what is missing, print nothing when done
#   etcd-peers.sh --dir 3.6  print the directory of that minor's binaries
#
# Go only builds test peers: lifeboat itself has no Go in it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_ETCD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/etcd}

# The version a minor's module pins, e.g. 3.6.16.
pinned() {
	v=$(awk '{ for (i = 1; i < NF; i++) if ($i == "go.etcd.io/etcd/server/v3") {
		sub(/^v/, "", $(i + 1)); print $(i + 1); exit } }' "$top/tests/etcd/v$1/go.mod")
	case $v in
	[0-9]*.[0-9]*.[0-9]*) echo "$v" ;;
	*) echo "deps: tests/etcd/v$1/go.mod pins no etcd server version" >&2; exit 1 ;;
	esac
}

if [ "${1:-}" = --dir ]; then
	v=$(pinned "$2") || exit 1
	echo "$cache/$v"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	echo "deps: go (1.26 or newer) is needed to build the etcd test peers" >&2
	exit 1
}
# Never fetch another toolchain (etcd's go.mod names one); build statically
# as etcd's release does; never touch go.mod or go.sum; leave the module
# cache removable.  GOPROXY and GOMODCACHE come from the environment.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false -modcacherw"

# One build at a time per cache (two checks started together).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

build() {
	mod=$top/tests/etcd/v$1
	v=$(pinned "$1") || exit 1
	out=$cache/$v
	stamp="$(go env GOVERSION) $(cat "$mod/go.mod" "$mod/go.sum" "$mod/main.go" |
		sha256sum | cut -c1-16)"
	if [ -x "$out/etcd" ] && [ -x "$out/etcdctl" ] && [ -x "$out/etcdutl" ] &&
		[ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	echo "deps: building etcd $v test peers (once per machine, a few minutes)" >&2
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	if ! (cd "$mod" &&
		go build -trimpath -o "$tmp/etcd" . &&
		go build -trimpath -o "$tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3 &&
		go build -trimpath -o "$tmp/etcdutl" go.etcd.io/etcd/etcdutl/v3); then
		rm -rf "$tmp"
		echo "deps: building etcd $v failed" >&2
		exit 1
	fi
	if ! "$tmp/etcd" --version | grep -q "etcd Version: $v\$"; then
		rm -rf "$tmp"
		echo "deps: the etcd built for $v does not say it is $v" >&2
		exit 1
	fi
	echo "$stamp" >"$tmp/.stamp"
	# A rename, so a cache entry is never half built.
	rm -rf "$out"
	mv "$tmp" "$out"
}

for d in "$top"/tests/etcd/v*/; do
	m=${d%/}
	build "${m##*/v}"
done
