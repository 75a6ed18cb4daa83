#!/bin/sh
# Builds the Debian package with Debian's tools: a copy of the source tree
# (the files git tracks, as they are in the work tree, mtimes kept) in
# OUT/src, dpkg-buildpackage there, objects in OUT/obj kept between runs.
# The package lands in OUT: lifeboat_<VERSION>_<arch>.deb.  Nothing is
# written into the source tree.
#
#   deb.sh OUT
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${1:?usage: deb.sh OUT}"
out=$(cd "$1" && pwd)
cd "$top"

for t in dpkg-buildpackage dh; do
	command -v $t >/dev/null 2>&1 || {
		echo "deb: $t is missing (run make deps, which installs debhelper)" >&2
		exit 1
	}
done
version=$(cat VERSION)
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "$version" != "$changelog" ]; then
	echo "deb: VERSION says $version but debian/changelog $changelog: add a changelog entry" >&2
	exit 1
fi

# The build's revision, for --version: the copy is no git checkout.
rev=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)

rm -rf "$out/src" "$out"/lifeboat_* "$out"/lifeboat-dbgsym_*
mkdir -p "$out/src" "$out/obj"
if [ -e .git ]; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
		tar --null -T - -cf - | tar -xf - -C "$out/src"
else
	tar --exclude=./build -cf - . | tar -xf - -C "$out/src"
fi

cd "$out/src"
LB_GIT_REV=$rev LIFEBOAT_DEB_OBJ=$out/obj \
	dpkg-buildpackage -b -us -uc --no-pre-clean >"$out/build.log" 2>&1 || {
	echo "deb: dpkg-buildpackage failed (see $out/build.log):" >&2
	tail -n 20 "$out/build.log" >&2
	exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
echo "$out/lifeboat_${version}_$arch.deb"
