#!/bin/sh
# manual_test.sh: the manual pages, --help and bash completion say what the
# binary does.  The command table (`lifeboat complete table`, cmd/words.c)
# is checked against the parsers (every long option of cmd/*.c, every
# --option each --help names) and the pages against the table (every
# command and option on lifeboat(1)) and the option table (every option
# of `config options` on lifeboat.conf(5)).  Pages are generated here as
# the Makefile does.  Completion: the script in contrib/ completes
# commands, subcommands, options, cluster names and backup ids.
. "$(dirname "$0")/../lib.sh"

BIN=$(cd "$(dirname "$LIFEBOAT")" && pwd)
"$LIFEBOAT" help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' >"$T/listed"

# The pages and the table are text: checked once, in the plain suite (the
# ASan suite runs the completion below, which reaches the C code of
# `lifeboat complete`).
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# manual: pages and table checked in the plain suite"
	check manual_conf_page_writes "$LIFEBOAT" config man
	check manual_complete_table "$LIFEBOAT" complete table
else
	sh "$TOP/scripts/man-lifeboat.sh" "$LIFEBOAT" >"$T/lifeboat.1" 2>"$T/man.err" ||
		{ fail manual_generate "$(tail -n 2 "$T/man.err")"; exit 1; }
	"$LIFEBOAT" config man >"$T/lifeboat.conf.5" || { fail manual_conf_generate "failed"; exit 1; }
	# The pages' text with roff's escaped minus signs plain.
	sed 's/\\-/-/g' "$T/lifeboat.1" >"$T/l1.txt"
	sed 's/\\-/-/g' "$T/lifeboat.conf.5" >"$T/l5.txt"
	"$LIFEBOAT" complete table >"$T/table"

	# Every command of `lifeboat help` is in the table and has a section;
	# every command answers --help with its usage.
	check manual_commands sh -c '
		bad=""
		while read -r c; do
			grep -q "^$c " "$2" || bad="$bad $c(not in the table)"
			grep -qx ".SS \"lifeboat $c\"" "$1" || bad="$bad $c(no section)"
			case $c in version | help) continue ;; esac
			"$3" "$c" --help >"$4" 2>&1 && grep -q "^usage: " "$4" || bad="$bad $c(--help)"
		done <"$5"
		[ -z "$bad" ] || { echo "$bad"; exit 1; }' _ "$T/l1.txt" "$T/table" "$LIFEBOAT" "$T/h" "$T/listed"

	# Every subcommand answers --help (exit 0, a usage).
	check manual_subcommand_help sh -c '
		bad=""
		while read -r c s rest; do
			[ "$s" = - ] && continue
			"$1" "$c" "$s" --help >"$2" 2>&1 && grep -q "^usage: " "$2" || bad="$bad $c/$s"
			grep -q "lifeboat $c.*$s" "$3" || bad="$bad $c/$s(not on the page)"
		done <"$4"
		[ -z "$bad" ] || { echo "$bad"; exit 1; }' _ "$LIFEBOAT" "$T/h" "$T/l1.txt" "$T/table"

	# Every option of the table is on lifeboat(1).
	check manual_options_on_page sh -c '
		bad=""
		for o in $(cut -d" " -f3- "$2" | tr " " "\n" | sed "s/=.*//" | sort -u); do
			grep -q -e "$o\\b" "$1" || bad="$bad $o"
		done
		[ -z "$bad" ] || { echo "not on lifeboat(1):$bad"; exit 1; }' _ "$T/l1.txt" "$T/table"

	# Every long option a parser in cmd/ takes is in the table, for its command.
	check manual_parsers_in_table sh -c '
		bad=""
		for o in $(sed -n "s/.*{ *\"\\([a-z0-9-]*\\)\", *\\(no\\|required\\|optional\\)_argument.*/\\1/p" \
		    "$1"/cmd/*.c | sort -u); do
			[ "$o" = help ] && continue
			grep -q -e "--$o\\([= ]\\|\$\\)" "$2" || bad="$bad --$o"
		done
		[ -z "$bad" ] || { echo "parsed but not in cmd/words.c:$bad"; exit 1; }' _ "$TOP" "$T/table"

	# Every --option a command's --help names is in its rows of the table.
	check manual_help_in_table sh -c '
		bad=""
		for c in $(cut -d" " -f1 "$2" | sort -u); do
			case $c in version | help) continue ;; esac
			{ "$1" "$c" --help 2>&1
			  for s in $(awk -v c="$c" "\$1 == c && \$2 != \"-\" { print \$2 }" "$2"); do
				"$1" "$c" "$s" --help 2>&1; done; } >"$3"
			for o in $(grep -o -e "--[a-z][a-z0-9-]*" "$3" | sort -u); do
				case $o in --help | --config | --log-level | --quiet) continue ;; esac
				awk -v c="$c" "\$1 == c" "$2" | grep -q -e "$o\\([= ]\\|\$\\)" ||
					bad="$bad $c:$o"
			done
		done
		[ -z "$bad" ] || { echo "in --help but not in cmd/words.c:$bad"; exit 1; }' _ "$LIFEBOAT" "$T/table" "$T/h"

	# lifeboat.conf(5): every option of the table, in the section it lives in.
	check manual_conf_options sh -c '
		bad=""
		for o in $("$1" config options | sed -n "s/^  \\([a-z0-9-]*\\) .*/\\1/p"); do
			grep -qx ".B $o" "$2" || bad="$bad $o"
		done
		[ -z "$bad" ] || { echo "not on lifeboat.conf(5):$bad"; exit 1; }' _ "$LIFEBOAT" "$T/l5.txt"
	check manual_snapd_page grep -qF 'lifeboat\-snapd \-' "$TOP/contrib/lifeboat-snapd.8"

	# The pages render without a warning from man (groff).
	if command -v man >/dev/null 2>&1; then
		check manual_render sh -c 'for p in "$@"; do
			w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
			[ -z "$w" ] || { echo "$p: $w"; exit 1; }; done' _ \
			"$T/lifeboat.1" "$T/lifeboat.conf.5" "$TOP/contrib/lifeboat-snapd.8"
	fi
fi

# Completion, with the binary under test first on PATH, a configuration of
# two clusters and a catalog with a backup.
cat >"$T/lb.conf" <<EOF
[global]
repo = file://$T/repo
recipients = age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
catalog = $T/catalog.db
[cluster:alpha]
endpoints = http://127.0.0.1:1
[cluster:beta]
endpoints = http://127.0.0.1:1
EOF
# a catalog holding one (failed) backup: the one the unreachable member gives
"$LIFEBOAT" --config "$T/lb.conf" backup --cluster alpha --no-progress >/dev/null 2>&1
ID=$(sqlite3 "$T/catalog.db" 'SELECT id FROM backups LIMIT 1' 2>/dev/null)
comp() {   # comp WANT WORD...: completing the last WORD gives WANT
	want=$1; shift
	got=$(PATH="$BIN:$PATH" bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lifeboat
		echo "${COMPREPLY[*]}"' _ "$TOP/contrib/lifeboat.bash-completion" "$@")
	[ "$got" = "$want" ] || { echo "$*: got '$got', want '$want'"; return 1; }
}
check completion_commands comp "catalog config" lifeboat c
check completion_all_commands sh -c "[ \"\$(PATH=$BIN:\$PATH bash -c '. $TOP/contrib/lifeboat.bash-completion
	COMP_WORDS=(lifeboat \"\"); COMP_CWORD=1; _lifeboat; echo \${COMPREPLY[*]}')\" = \"\$(tr '\n' ' ' <$T/listed | sed 's/ \$//')\" ]"
check completion_subcommands comp "verify" lifeboat catalog ver
check completion_restore_modes comp "seed" lifeboat restore se
check completion_options comp "--dry-run" lifeboat catalog prune --dr
check completion_global_after comp "--log-level" lifeboat catalog list --log
check completion_levels comp "debug" lifeboat --log-level d
check completion_clusters comp "alpha beta" lifeboat --config "$T/lb.conf" backup --cluster ""
check completion_clusters_eq comp "beta" lifeboat --config="$T/lb.conf" drill --cluster=b
if [ -n "$ID" ]; then
	check completion_backups comp "$ID latest" lifeboat --config "$T/lb.conf" catalog show ""
	check completion_backups_catalog comp "$ID latest random" lifeboat drill --catalog "$T/catalog.db" --backup ""
else
	fail completion_backups "no backup recorded in $T/catalog.db"
fi
check completion_file_operand comp "$T/lb.conf" lifeboat inspect "$T/lb.c"
