#!/bin/sh
# Builds SeaweedFS's weed, the S3 server the Object Lock tests run against:
# it enforces S3 Object Lock (a DELETE of a locked object version is
# refused, a retention cannot be shortened), which s3rver and the strict
# server do not know at all.  tests/seaweedfs is a module that requires
# SeaweedFS at one pseudo-version and pins every byte of its dependencies
# in its committed go.sum; weed is built from SeaweedFS's own main package
# (listed as a tool there).  The binary goes to a cache outside the tree
# keyed by that version and a hash of go.mod and go.sum, so a machine
# builds it once.  That once is long: some 1,100 CPU seconds with an empty
# Go cache (weed links every SeaweedFS command and cloud SDK), 18 minutes
# of wall time on a busy 2-core machine, plus ~3 minutes of module downloads.
#
#   seaweedfs.sh         build it if it is missing, print nothing when done
#   seaweedfs.sh --bin   print the path of the weed binary (built or not)
#
# Go only builds test peers: lifeboat itself has no Go in it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mod=$top/tests/seaweedfs
cache=${LIFEBOAT_SEAWEEDFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/seaweedfs}

# The pseudo-version the module pins, e.g. v0.0.0-20261109003541-7506e5f91cd6.
v=$(awk '$1 == "github.com/seaweedfs/seaweedfs" { print $2; exit }
	$1 == "require" && $2 == "github.com/seaweedfs/seaweedfs" { print $3; exit }' "$mod/go.mod")
[ -n "$v" ] || { echo "deps: tests/seaweedfs/go.mod pins no SeaweedFS version" >&2; exit 1; }
out=$cache/$v

if [ "${1:-}" = --bin ]; then
	echo "$out/weed"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	echo "deps: go (1.26.6 or newer) is needed to build the SeaweedFS test peer" >&2
	exit 1
}
# Never fetch another toolchain; build statically; never touch go.mod or
# go.sum; leave the module cache removable.  GOPROXY and GOMODCACHE come
# from the environment.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false -modcacherw"

# One build at a time per cache (two checks started together).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

stamp="$(go env GOVERSION) $(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)"
if [ -x "$out/weed" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
echo "deps: building SeaweedFS $v as the Object Lock test peer (once per machine, a few minutes)" >&2
tmp=$(mktemp -d "$cache/.build.XXXXXX")
if ! (cd "$mod" && go build -trimpath -o "$tmp/weed" github.com/seaweedfs/seaweedfs/weed); then
	rm -rf "$tmp"
	echo "deps: building SeaweedFS $v failed" >&2
	exit 1
fi
if ! "$tmp/weed" version >/dev/null 2>&1; then
	rm -rf "$tmp"
	echo "deps: the weed built for $v does not run" >&2
	exit 1
fi
echo "$stamp" >"$tmp/.stamp"
# A rename, so a cache entry is never half built.
rm -rf "$out"
mv "$tmp" "$out"
