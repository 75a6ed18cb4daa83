#!/bin/sh
# snapd_ha_hour.sh: the full form of snapd_faults_test.sh's two-daemon
# check (by hand, not part of make check): an hour of @every 1m slots
# (two real minutes) instead of 20 slots, exactly one backup per slot.
#
#   LIFEBOAT=build/lifeboat sh tests/tools/snapd_ha_hour.sh
LIFEBOAT_HA_SLOTS=60 exec sh "$(dirname "$0")/../integration/snapd_faults_test.sh"
