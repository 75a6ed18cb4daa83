#!/bin/sh
# cron_oracle_test.sh: lifeboat's next-run computation against croniter
# (Debian's python3-croniter) and Python's zoneinfo, over thousands of
# generated cron expressions, six time zones (four with DST, one with a
# 30-minute shift) and start times close to DST changes.  See
# tests/tools/cron_oracle.py for how the oracle is built.
. "$(dirname "$0")/../lib.sh"

tool=$(dirname "$LIFEBOAT")/tools/schednext
if ! /usr/bin/python3 -c 'import croniter' 2>/dev/null; then
	fail cron_oracle "python3-croniter is not installed"
	exit 1
fi
/usr/bin/python3 "$TOP/tests/tools/cron_oracle.py" "$tool" 4000 20261122
