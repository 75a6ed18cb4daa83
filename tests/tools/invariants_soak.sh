#!/bin/sh
# invariants_soak.sh: the long form of tests/integration/invariants_test.sh
# (by hand, not part of make check): 200 backups under random faults by
# default, then the same invariants.
#
#   LIFEBOAT=build/asan/lifeboat sh tests/tools/invariants_soak.sh [RUNS [SEED]]
RUNS=${1:-200}
export RUNS
[ -z "${2:-}" ] || export SEED=$2
exec sh "$(dirname "$0")/../integration/invariants_test.sh"
