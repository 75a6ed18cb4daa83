#!/bin/sh
# package_test.sh: the Debian package on this machine.  Builds it with
# `make deb` (scripts/deb.sh, into the build directory of $LIFEBOAT),
# checks it with lintian (no error), installs it with dpkg, checks what it
# installed (user and group, modes and owners, conffile, unit, manual
# pages, completion, documents), runs `lifeboat --version` and `lifeboat
# config check` as the lifeboat user, completes a word with the installed
# completion, purges it and checks that nothing is left but the user and
# group (which Debian's purges leave).  The machine is put back as it was
# on every exit, a failure or an interrupt included: the package purged,
# and the user and group removed when the test created them.
#
# Needs root (CI is root) and debhelper (make deps); without them it says
# so and passes nothing.  Run once: the ASan suite skips it (the package is
# built with Debian's flags, not the sanitizers').
. "$(dirname "$0")/../lib.sh"

if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# package: not under ASan (the package's binary is its own build)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	fail package_root "needs root to install a package"
	exit 1
fi
if dpkg-query -W -f='${Status}' lifeboat 2>/dev/null | grep -q installed; then
	fail package_clean_machine "a lifeboat package is installed here already: not touching it"
	exit 1
fi

BUILD=$(cd "$(dirname "$LIFEBOAT")" && pwd)
VERSION=$(cat "$TOP/VERSION")
had_user=$(getent passwd lifeboat >/dev/null && echo 1 || echo 0)
had_group=$(getent group lifeboat >/dev/null && echo 1 || echo 0)

restore_machine() {
	if dpkg-query -W -f='${Status}' lifeboat 2>/dev/null | grep -q 'installed\|config-files'; then
		dpkg --purge lifeboat >/dev/null 2>&1 || echo "# could not purge lifeboat"
	fi
	if [ "$had_user" = 0 ] && getent passwd lifeboat >/dev/null; then
		userdel lifeboat 2>/dev/null
	fi
	if [ "$had_group" = 0 ] && getent group lifeboat >/dev/null; then
		groupdel lifeboat 2>/dev/null
	fi
}
trap 'restore_machine; cleanup' EXIT

# One version everywhere: VERSION, debian/changelog, CHANGELOG.md.
check version_debian_changelog sh -c '
	v=$(dpkg-parsechangelog -l "$1/debian/changelog" -S Version)
	[ "$v" = "$2" ] || { echo "debian/changelog $v, VERSION $2"; exit 1; }' _ "$TOP" "$VERSION"
check version_changelog_md grep -q "^## \[$VERSION\] - " "$TOP/CHANGELOG.md"

t0=$(date +%s)
if ! deb=$(sh "$TOP/scripts/deb.sh" "$BUILD/deb" 2>"$T/deb.err"); then
	fail package_build "$(tail -n 5 "$T/deb.err" | tr '\n' ' ')"
	exit 1
fi
ok package_build
echo "# make deb: $(($(date +%s) - t0)) s, $deb"

# No error from lintian; its warnings, if any, shown.
if command -v lintian >/dev/null 2>&1; then
	lintian "$deb" >"$T/lintian.out" 2>&1
	grep -E '^[EW]:' "$T/lintian.out" | sed 's/^/#   /'
	if grep -q '^E:' "$T/lintian.out"; then
		fail package_lintian "$(grep '^E:' "$T/lintian.out" | head -n 3 | tr '\n' ' ')"
	else
		ok package_lintian
	fi
else
	echo "# lintian is not installed: not checked"
fi

check package_version_agrees sh -c '
	v=$(dpkg-deb -f "$1" Version)
	[ "$v" = "$2" ] || { echo "package $v, VERSION $2"; exit 1; }' _ "$deb" "$VERSION"

if ! dpkg -i "$deb" >"$T/install.out" 2>&1; then
	fail package_install "$(tail -n 5 "$T/install.out" | tr '\n' ' ')"
	exit 1
fi
ok package_install

# mode owner:group PATH
stat_is() {
	got=$(stat -c '%a %U:%G' "$3" 2>&1)
	[ "$got" = "$1 $2" ] || { echo "$3: $got, want $1 $2"; return 1; }
}
check package_user getent passwd lifeboat
check package_group getent group lifeboat
check package_conf_mode stat_is 640 root:lifeboat /etc/lifeboat/lifeboat.conf
check package_state_mode stat_is 750 lifeboat:lifeboat /var/lib/lifeboat
check package_conffile sh -c 'dpkg-query -W -f="\${Conffiles}" lifeboat | grep -q "^ /etc/lifeboat/lifeboat.conf "'
check package_conf_is_example cmp /etc/lifeboat/lifeboat.conf /usr/share/doc/lifeboat/lifeboat.conf.example
check package_unit sh -c 'u=/lib/systemd/system/lifeboat-snapd.service
	grep -qx "Type=notify" $u && grep -q "^WatchdogSec=" $u &&
	grep -qx "User=lifeboat" $u && grep -qx "ProtectSystem=strict" $u &&
	grep -qx "ExecStart=/usr/bin/lifeboat --config /etc/lifeboat/lifeboat.conf snapd" $u'
if command -v systemd-analyze >/dev/null 2>&1; then
	check package_unit_verifies systemd-analyze verify /lib/systemd/system/lifeboat-snapd.service
fi
check package_manuals sh -c 'man -w 1 lifeboat && man -w 5 lifeboat.conf && man -w 8 lifeboat-snapd'
check package_docs sh -c 'cd /usr/share/doc/lifeboat &&
	[ -f grafana-dashboard.json ] && [ -f prometheus-alerts.yml ] &&
	[ -f copyright ] && ls README.md* CHANGELOG.md*'

# As the lifeboat user, as the service runs.
check package_version_as_user sh -c '
	runuser -u lifeboat -- /usr/bin/lifeboat --version >"$1" &&
	head -n 1 "$1" | grep -Eq "^lifeboat $2 \(git [^ )]+\)\$" ||
	{ echo "got: $(head -n 1 "$1")"; exit 1; }' _ "$T/version.out" "$VERSION"
sed 's/^/#   /' "$T/version.out"
check package_config_check_as_user runuser -u lifeboat -- /usr/bin/lifeboat config check
check package_completion bash -c '
	. /usr/share/bash-completion/completions/lifeboat
	COMP_WORDS=(lifeboat catalog ver); COMP_CWORD=2; _lifeboat
	[ "${COMPREPLY[*]}" = verify ] || { echo "got: ${COMPREPLY[*]}"; exit 1; }
	COMP_WORDS=(lifeboat backup --cluster ""); COMP_CWORD=3; _lifeboat
	[ "${COMPREPLY[*]}" = example ] || { echo "clusters: ${COMPREPLY[*]}"; exit 1; }'

# A catalog in the state directory, so the purge has data to remove.
runuser -u lifeboat -- sqlite3 /var/lib/lifeboat/catalog.db 'CREATE TABLE t(x)' 2>/dev/null
dpkg -L lifeboat | sort >"$T/files"
if ! dpkg --purge lifeboat >"$T/purge.out" 2>&1; then
	fail package_purge "$(tail -n 5 "$T/purge.out" | tr '\n' ' ')"
	exit 1
fi
ok package_purge
check package_purged sh -c '! dpkg-query -W -f="\${Status}" lifeboat 2>/dev/null | grep -q .'
# Every file and directory of the package is gone, except the shared
# directories other packages own (/etc, /usr/share/man/man1 ...).
check package_nothing_left sh -c '
	left=""
	while read -r f; do
		[ "$f" = /. ] && continue
		[ -e "$f" ] || [ -L "$f" ] || continue
		[ -d "$f" ] && [ -n "$(dpkg -S "$f" 2>/dev/null)" ] && continue
		left="$left $f"
	done <"$1"
	for f in /etc/lifeboat /var/lib/lifeboat; do [ -e $f ] && left="$left $f"; done
	[ -z "$left" ] || { echo "left:$left"; exit 1; }' _ "$T/files"
echo "# package: $(($(date +%s) - t0)) s in all"
