#!/bin/sh
# livehash_test.sh: lifeboat's offline live-keys hash (snapshot/livehash.h,
# driven by build/tools/livehashtool) against etcd itself, on etcd 3.5,
# 3.6 and 3.7: a snapshot with puts, overwrites, deletes, a lease and a
# compaction is restored with `etcdutl snapshot restore --bump-revision
# 1000 --mark-compacted`, etcd is started on it, and `etcdctl endpoint
# hashkv --rev R+1000` must equal the offline value.  Then a snapshot of
# the restored member (which holds the bump's marker) is restored with a
# second bump, and after a write the hash at the bumped revision still
# holds.  Damaged files are refused.
. "$(dirname "$0")/../lib.sh"

# The ASan pass skips this file: it is about etcd's hash, and the code it
# drives runs under ASan in tests/unit/livehash_test.c and its fuzzer.
if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# livehash: not under ASan (see above)"
	exit 0
fi

LT=${LIVEHASHTOOL:-$(dirname "$LIFEBOAT")/tools/livehashtool}
[ -x "$LT" ] || { fail livehash_tool "no $LT (make test)"; exit 1; }

# txn_puts N PREFIX: N puts in one transaction (one revision, N subs).
txn_puts() {
	{ echo; i=0; while [ "$i" -lt "$1" ]; do echo "put $2/$i v$i-$$"; i=$((i + 1)); done; echo; echo; } >"$T/txn"
	etcdctl --endpoints "$EP" txn <"$T/txn" >/dev/null 2>&1
}

# restored NAME SNAP BUMP: restores SNAP with BUMP into $W/NAME, starts
# etcd on it; sets EP to its client URL.
restored() {
	pp=$(free_port); cp=$(free_port)
	snaptool snapshot restore "$2" --data-dir "$W/$1" --name "$1" \
	    --initial-cluster "$1=http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --bump-revision "$3" --mark-compacted >"$W/$1.restore.log" 2>&1 || return 1
	etcd --name "$1" --data-dir "$W/$1" \
	    --listen-client-urls "http://127.0.0.1:$cp" \
	    --advertise-client-urls "http://127.0.0.1:$cp" \
	    --listen-peer-urls "http://127.0.0.1:$pp" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	    --initial-cluster "$1=http://127.0.0.1:$pp" \
	    --logger zap --log-outputs stderr >"$W/$1.log" 2>&1 &
	echo $! >>"$T/pids"
	echo $! >"$W/$1.pid"
	EP=http://127.0.0.1:$cp
	wait_for 30 etcdctl --endpoints "$EP" endpoint health
}

stop() { kill "$(cat "$1")" 2>/dev/null; wait_for 10 sh -c "! kill -0 $(cat "$1")"; }

# hashkv REV: etcd's HashKV at REV on $EP (decimal).
hashkv() {
	etcdctl --endpoints "$EP" endpoint hashkv --rev "$1" -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])'
}

# same NAME DIR SNAP BUMP: lifeboat's offline value for SNAP and BUMP
# equals etcd's HashKV at the bumped revision after restoring it into
# $W/DIR; leaves etcd running on $EP, the bumped revision in $BUMPED and
# the offline hash (decimal) in $want.
same() {
	n=$1; d=$2
	if ! out=$("$LT" "$3" "$4" 2>"$W/$d.err"); then
		fail "$n" "livehashtool: $(cat "$W/$d.err")"; return 1
	fi
	# shellcheck disable=SC2086
	set -- $out
	want=$((0x$1)); BUMPED=$3
	if ! restored "$d" "$snap" "$bump"; then
		fail "$n" "restore or start failed: $(tail -n 2 "$W/$d.restore.log" "$W/$d.log" | tr '\n' ' ')"
		return 1
	fi
	got=$(hashkv "$BUMPED")
	cur=$(etcdctl --endpoints "$EP" endpoint status -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
	if [ "$got" = "$want" ] && [ "$cur" = "$BUMPED" ]; then
		ok "$n (hash $1, revision $2 -> $3, $4 live keys of $5 entries, $6 s)"
	else
		fail "$n" "etcd HashKV at $BUMPED is $got (current revision $cur), lifeboat $want"
	fi
}

for V in ${LIVEHASH_VERSIONS:-3.5 3.6 3.7}; do
	etcd_use "$V" || { fail "v$V/setup" "etcd $V not available"; continue; }
	W=$T/v$V
	mkdir -p "$W"
	c=l${V#3.}
	etcd_cluster "$c" 1 || { fail "v$V/cluster" "did not start"; continue; }
	eval "EP=\$${c}_endpoints"
	txn_puts 100 /app
	for k in 1 2 3; do etcdctl --endpoints "$EP" put /app/$k "over $k" >/dev/null; done
	etcdctl --endpoints "$EP" del /app/7 >/dev/null
	etcdctl --endpoints "$EP" del --prefix /app/12 >/dev/null
	lease=$(etcdctl --endpoints "$EP" lease grant 600 | awk '{print $2}')
	etcdctl --endpoints "$EP" put --lease="$lease" /leased yes >/dev/null
	rev=$(etcdctl --endpoints "$EP" put /app/2 again -w json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
	etcdctl --endpoints "$EP" del /app/3 >/dev/null
	etcdctl --endpoints "$EP" compact "$rev" >/dev/null
	etcdctl --endpoints "$EP" put /app/4 after-compaction >/dev/null
	etcdctl --endpoints "$EP" put /gone x >/dev/null
	# the last revision is a tombstone
	etcdctl --endpoints "$EP" del /gone >/dev/null
	etcdctl --endpoints "$EP" snapshot save "$W/s1.db" >/dev/null 2>&1
	stop "$T/$c/m1.pid"

	snap=$W/s1.db bump=1000
	same "v$V/hashkv_equal_after_bump" b1 "$snap" "$bump" || continue
	# a snapshot that holds the marker of the first bump, bumped again
	etcdctl --endpoints "$EP" snapshot save "$W/s2.db" >/dev/null 2>&1
	stop "$W/b1.pid"
	snap=$W/s2.db bump=500
	same "v$V/hashkv_equal_second_bump" b2 "$snap" "$bump" || continue
	# a write after the restore: HashKV at the bumped revision is unchanged
	etcdctl --endpoints "$EP" put /app/5 later >/dev/null
	check "v$V/hashkv_equal_after_write" test "$(hashkv "$BUMPED")" = "$want"
	for f in "$W"/*.pid; do stop "$f"; done
	# a different bump gives a different hash (the marker is hashed)
	check "v$V/bump_changes_hash" test "$("$LT" "$W/s1.db" 1000 | cut -d' ' -f1)" != \
	    "$("$LT" "$W/s1.db" 999 | cut -d' ' -f1)"
done

# damaged input: refused with a reason, never a crash
etcd_use 3.6
size=$(wc -c <"$T/v3.6/s1.db")
head -c $((size / 2)) "$T/v3.6/s1.db" >"$T/half.db"
check_fails livehash_truncated "livehashtool: .*(truncated|damaged)" "$LT" "$T/half.db" 1000
head -c 8192 /dev/urandom >"$T/noise.db"
check_fails livehash_not_bbolt "livehashtool: .*not a bbolt" "$LT" "$T/noise.db" 1000
check_fails livehash_zero_bump "livehashtool: .*bump must be positive" "$LT" "$T/v3.6/s1.db" 0
