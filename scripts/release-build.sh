#!/bin/sh
# Builds lifeboat as it was at a release (the upgrade test's "old
# version"), from the repository's own history, into a cache outside the
# tree keyed by the release's commit, so a machine builds each release
# once.  The source is taken with git archive into a scratch directory,
# never into the work tree.
#
#   release-build.sh TAG     build if missing; print the binary's path
#
# Each release's commit is written below, not looked up by its tag alone:
# a clone that fetched the branch but not the tags (as CI's does) still
# has the commit.  When the tag is there it must name the same commit.
# A cached build of that commit is used even when the history is not
# there (a shallow clone).
#
# Exits 3 (after saying why) when the tree is not a git checkout, so a
# test can skip on a tarball of the source; anything else missing fails.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:?usage: release-build.sh TAG}
cache=${LIFEBOAT_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifeboat/release}

case $tag in
v0.1.0) commit=5401bc4884e5e2d694a230111ce03b03a3be165b ;;
*) echo "release-build: unknown release $tag" >&2; exit 1 ;;
esac
out=$cache/$commit

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ -x "$out/lifeboat" ]; then
	echo "$out/lifeboat"
	exit 0
fi

git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || {
	echo "release-build: $top is not a git checkout" >&2
	exit 3
}
if tagged=$(git -C "$top" rev-parse -q --verify "refs/tags/$tag^{commit}" 2>/dev/null) &&
   [ "$tagged" != "$commit" ]; then
	echo "release-build: tag $tag names $tagged, not the release $commit" >&2
	exit 1
fi
git -C "$top" cat-file -e "$commit^{commit}" 2>/dev/null || {
	echo "release-build: $tag ($commit) is not in $top's history (a shallow clone? git fetch --unshallow)" >&2
	exit 1
}

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
echo "$out/lifeboat"
