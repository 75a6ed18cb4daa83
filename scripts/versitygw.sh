#!/bin/sh
# Builds versitygw, the S3 server the Object Lock tests run against (its
# posix backend, with versioning): it enforces S3 Object Lock (a DELETE of
# a locked object version is refused, a retention cannot be shortened),
# which s3rver and the strict server do not know at all.  tests/versitygw
# is a module that requires versitygw at one release and pins every byte
# of its dependencies in its committed go.sum; the binary is built from
# versitygw's own main package (listed as a tool there).  It goes to a
# cache outside the tree keyed by that version and a hash of go.mod and
# go.sum, so a machine builds it once.
#
# That once, measured on this project's 2-core machine (shared, load ~1
# at the start) with an empty Go build cache and module cache:
#   GOCACHE=$(mktemp -d) GOMODCACHE=$(mktemp -d) \
#   LIFEBOAT_VERSITYGW_CACHE=$(mktemp -d) /usr/bin/time -v sh scripts/versitygw.sh
# took 3 min 21 s of wall time and 268 CPU seconds (205 user, 63 system),
# downloads included.  A second run, split: the module downloads (334 MB;
# 12 s here, longer on a slower link to the module proxy) and the compile
# and link of 588 packages, std included (219 s wall, 269 CPU seconds).
# It links the posix backend we use and also the S3 and Azure backends
# and the event sinks (the AWS and Azure SDKs, Kafka, NATS, LDAP, Vault),
# a good part of that time (not measured apart); SeaweedFS, before it,
# took some 1,100 CPU seconds.  The binary is 61 MB.
#
#   versitygw.sh               build it if it is missing, print nothing when
#                              done (waits for a build under way)
#   versitygw.sh --background  the same, detached, when it is missing: deps.sh
#                              starts it so that the build overlaps the
#                              tests before the Object Lock ones, which wait
#                              for it (lockstore_start); its log is
#                              CACHE/build.log
#   versitygw.sh --bin         print the path of the versitygw binary (built
#                              or not)
#
# Go only builds test peers: lifeboat itself has no Go in it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mod=$top/tests/versitygw
cache=${LIFEBOAT_VERSITYGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/versitygw}

# The release the module pins, e.g. v1.8.0.
v=$(awk '$1 == "github.com/versity/versitygw" { print $2; exit }
	$1 == "require" && $2 == "github.com/versity/versitygw" { print $3; exit }' "$mod/go.mod")
[ -n "$v" ] || { echo "deps: tests/versitygw/go.mod pins no versitygw version" >&2; exit 1; }
out=$cache/$v

if [ "${1:-}" = --bin ]; then
	echo "$out/versitygw"
	exit 0
fi

command -v go >/dev/null 2>&1 || {
	echo "deps: go (1.26.6 or newer) is needed to build the versitygw test peer" >&2
	exit 1
}
# Never fetch another toolchain; build statically; never touch go.mod or
# go.sum; leave the module cache removable.  GOPROXY and GOMODCACHE come
# from the environment.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false -modcacherw"

stamp="$(go env GOVERSION) $(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)"
built() { [ -x "$out/versitygw" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; }
mkdir -p "$cache"
if [ "${1:-}" = --background ]; then
	built && exit 0
	echo "deps: building versitygw $v in the background (log: $cache/build.log)" >&2
	setsid nohup sh "$0" >"$cache/build.log" 2>&1 </dev/null &
	exit 0
fi

# One build at a time per cache (two checks started together, or a check
# waiting for the background build).
exec 9>"$cache/.lock"
flock 9
built && exit 0
echo "deps: building versitygw $v as the Object Lock test peer (once per machine)" >&2
tmp=$(mktemp -d "$cache/.build.XXXXXX")
if ! (cd "$mod" && go build -trimpath -o "$tmp/versitygw" github.com/versity/versitygw/cmd/versitygw); then
	rm -rf "$tmp"
	echo "deps: building versitygw $v failed" >&2
	exit 1
fi
if ! "$tmp/versitygw" --version >/dev/null 2>&1; then
	rm -rf "$tmp"
	echo "deps: the versitygw built for $v does not run" >&2
	exit 1
fi
echo "$stamp" >"$tmp/.stamp"
# A rename, so a cache entry is never half built.
rm -rf "$out"
mv "$tmp" "$out"
