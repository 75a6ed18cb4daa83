#!/bin/sh
# Builds lifeboat as it was at a release tag (the upgrade test's "old
# version"), from the repository's own history, into a cache outside the
# tree keyed by the tag's commit, so a machine builds each release once.
# The source is taken with git archive into a scratch directory, never
# into the work tree.
#
#   release-build.sh TAG     build if missing; print the binary's path
#
# Exits 3 (after saying why) when the tree is not a git checkout, so a
# test can skip on a tarball of the source; a checkout without TAG fails.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:?usage: release-build.sh TAG}
cache=${LIFEBOAT_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/release}

git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || {
	echo "release-build: $top is not a git checkout" >&2
	exit 3
}
commit=$(git -C "$top" rev-parse -q --verify "$tag^{commit}" 2>/dev/null) || {
	echo "release-build: no tag $tag in $top (hint: git fetch --tags)" >&2
	exit 1
}
out=$cache/$commit

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ ! -x "$out/lifeboat" ]; then
	src=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-release.XXXXXX")
	trap 'rm -rf "$src"' EXIT
	git -C "$top" archive "$commit" | tar -x -C "$src"
	make -C "$src" -s -j2 all BUILD="$src/build" >"$src/build.log" 2>&1 || {
		echo "release-build: building $tag ($commit) failed:" >&2
		tail -n 20 "$src/build.log" >&2
		exit 1
	}
	mkdir -p "$out.tmp"
	cp "$src/build/lifeboat" "$out.tmp/lifeboat"
	echo "$tag" >"$out.tmp/tag"
	rm -rf "$out"
	mv "$out.tmp" "$out"
fi
echo "$out/lifeboat"
