#!/bin/sh
# matrix_test.sh: the main path on every etcd Kubernetes runs or ran: 3.4
# (Debian's), 3.5, 3.6 and 3.7 (etcd's own binaries, scripts/etcd-peers.sh).
# On each: pull, backup of 3 members, verify, restore cluster --start,
# restore seed + join, restore member from the repository alone; each restore
# reads every key back with that version's etcdctl.  Also what differs by
# version: the manifest's etcd versions, the revision bump (etcdutl 3.5.10+),
# and a restore tool of the wrong minor refused before anything changes.
# MATRIX="3.5 3.6" runs those versions only, one after the other.  The ASan pass of `make check` skips this
# file: the default suite runs there, and this one is about etcd, not memory.
. "$(dirname "$0")/../lib.sh"

if [ "${LIFEBOAT_SUITE:-}" = asan ]; then
	echo "# matrix: not under ASan (see the header)"
	exit 0
fi

# Two lanes at once, each a run of this script on two versions with a work
# dir of its own: a version's run mostly waits on etcd, so this halves the
# time on two cores.
if [ -z "${MATRIX:-}" ]; then
	MATRIX="3.4 3.6" T=$T/lane1 sh "$0" >"$T/lane1.out" 2>&1 &
	l1=$!
	MATRIX="3.5 3.7" T=$T/lane2 sh "$0" >"$T/lane2.out" 2>&1 &
	l2=$!
	echo "$l1" >>"$T/pids"
	echo "$l2" >>"$T/pids"
	wait "$l1"; r1=$?
	wait "$l2"; r2=$?
	cat "$T/lane1.out" "$T/lane2.out"
	[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]
	exit
fi

put_many() {   # put_many ENDPOINT PREFIX N
	python3 - "$1" "$2" "$3" <<'PY'
import base64, json, sys, urllib.request
ep, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    body = json.dumps({"key": base64.b64encode(("%s/ns%d/o%d" % (prefix, i % 4, i)).encode()).decode(),
                       "value": base64.b64encode((("v%d-" % i) * (1 + i % 9 * 90)).encode()).decode()}).encode()
    urllib.request.urlopen(ep + "/v3/kv/put", body).read()
PY
}

dump() {       # dump ENDPOINTS FILE: every key and value, sorted
	etcdctl --endpoints "$1" get "" --prefix -w json 2>/dev/null | python3 -c '
import base64, json, sys
for kv in sorted(json.load(sys.stdin).get("kvs", []), key=lambda kv: kv["key"]):
    print(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode())
' >"$2"
}

revision() {   # revision ENDPOINT: the member's current revision
	etcdctl --endpoints "$1" endpoint status -w json 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}


"$LIFEBOAT" keygen -o "$T/id.txt" >"$T/rcpt" 2>/dev/null

for V in $MATRIX; do
	etcd_use "$V" || { fail "v$V/setup" "etcd $V not available"; continue; }
	t0=$(date +%s)
	W=$T/v$V
	mkdir -p "$W"
	etcd_cluster "c${V#3.}" 3 || { fail "v$V/cluster" "did not start"; continue; }
	eval "EP=\$c${V#3.}_endpoints"
	EP1=${EP%%,*}
	put_many "$EP1" /registry/m 120
	etcdctl --endpoints "$EP" del /registry/m/ns1/o1 >/dev/null

	# pull: one file per member, each accepted by etcd's own tool
	mkdir -p "$W/pull"
	check "v$V/pull" "$LIFEBOAT" pull --endpoints "$EP" --out-dir "$W/pull"
	check "v$V/pull_files_valid" snaptool snapshot status "$W/pull/m3.db"

	# backup of 3 members, then verify
	cat >"$W/lb.conf" <<EOF
[global]
repo = file://$W/repo
recipients = $(cat "$T/rcpt")
catalog = $W/catalog.db
identity-file = $T/id.txt
[cluster:c]
endpoints = $EP
EOF
	LB="$LIFEBOAT --config $W/lb.conf"
	$LB backup --no-progress >"$W/b.out" 2>&1
	check "v$V/backup_complete" grep -q "complete" "$W/b.out"
	B=$(sed -n 's/.*backup \([0-9TZ.]*-[0-9a-f]*\) complete.*/\1/p' "$W/b.out")
	check "v$V/manifest_member_versions" python3 -c '
import json, glob, sys
m = json.load(open(glob.glob(sys.argv[1] + "/**/manifest.json", recursive=True)[0]))
vs = [x["etcd_version"] for x in m["members"]]
assert len(vs) == 3 and all(v.startswith(sys.argv[2] + ".") for v in vs), vs
' "$W/repo" "$V"
	check "v$V/verify" $LB catalog verify latest --cluster c
	BREV=$(revision "$EP1")
	dump "$EP" "$W/want"
	# The cluster goes on after the backup, and a partial run (m3 down)
	# records how far: the revisions a restore must bump past.
	put_many "$EP1" /registry/after 200
	HREV=$(revision "$EP1")
	etcd_stop "c${V#3.}" 3
	$LB backup --no-progress >"$W/b2.out" 2>&1
	check "v$V/later_run_partial" grep -q "partial" "$W/b2.out"
	for i in 1 2; do etcd_stop "c${V#3.}" "$i"; done

	# restore cluster --start, with a bump where the tool has one
	M=""; C=""
	for n in r1 r2 r3; do
		c=http://127.0.0.1:$(free_port)
		M="${M:+$M,}$n=http://127.0.0.1:$(free_port)@$c"; C="${C:+$C,}$c"
	done
	$LB restore cluster --cluster c --backup "$B" --members "$M" --base-dir "$W/rc" \
	    --start >"$W/rc.out" 2>&1
	rc=$?
	track "$W/rc"
	check "v$V/restore_cluster" test "$rc" -eq 0
	dump "$C" "$W/got"
	check "v$V/restore_cluster_every_key" cmp "$W/want" "$W/got"
	etcdctl --endpoints "$C" put /after restore >/dev/null 2>&1
	AREV=$(revision "${C%%,*}")
	case $V in
	3.4)	check "v$V/no_bump_says_what_to_do" grep -q "restart every kube-apiserver" "$W/rc.out"
		check "v$V/revision_continues" test "$AREV" -eq $((BREV + 1)) ;;
	*)	check "v$V/bump_sized_from_records" grep -q "bump .* revisions: highest recorded $HREV" "$W/rc.out"
		check "v$V/write_past_every_recorded_revision" test "$AREV" -gt "$HREV"
		check_fails "v$V/watch_from_lost_revision_compacted" "compacted" \
		    sh -c "etcdctl --endpoints '${C%%,*}' watch --rev $HREV /x & p=\$!; sleep 2; kill \$p 2>/dev/null; exit 1" ;;
	esac
	stop_all "$W/rc"

	# restore seed, then two joins
	S1C=http://127.0.0.1:$(free_port)
	$LB restore seed --cluster c --backup "$B" --name s1 --client-url "$S1C" \
	    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$W/sj/s1" --start \
	    >"$W/seed.out" 2>&1
	rc=$?
	track "$W/sj"
	check "v$V/restore_seed" test "$rc" -eq 0
	for n in s2 s3; do
		$LB restore join --seed "$S1C" --name "$n" --client-url "http://127.0.0.1:$(free_port)" \
		    --peer-url "http://127.0.0.1:$(free_port)" --data-dir "$W/sj/$n" >"$W/join-$n.out" 2>&1
		echo $? >"$W/join-$n.rc"
		track "$W/sj"
	done
	check "v$V/restore_join" test "$(cat "$W/join-s2.rc" "$W/join-s3.rc" | tr -d '\n')" = 00
	check "v$V/joined_three_voters" test "$(etcdctl --endpoints "$S1C" member list |
	    grep started | grep -c ', false$')" -eq 3
	S3C=$(sed -n 's/.*pid [0-9]*, \(http[^,]*\),.*/\1/p' "$W/join-s3.out")
	dump "$S3C" "$W/got"
	check "v$V/joined_every_key" cmp "$W/want" "$W/got"
	# kubeadm's member replace: s3's host dies, a new s3 on a new address
	# takes its place; a member that still answers is never removed
	check_fails "v$V/replace_live_refused" "member s2 answers at" \
	    $LB restore join --seed "$S1C" --replace --name s2 \
	    --client-url "http://127.0.0.1:$(free_port)" --peer-url "http://127.0.0.1:$(free_port)" \
	    --data-dir "$W/sj/x"
	kill "$(cat "$W/sj/s3.pid")"
	wait_for 10 sh -c "! kill -0 $(cat "$W/sj/s3.pid")"
	NP=http://127.0.0.1:$(free_port)
	$LB restore join --seed "$S1C" --replace --name s3 --client-url "http://127.0.0.1:$(free_port)" \
	    --peer-url "$NP" --data-dir "$W/sj/s3new" >"$W/replace.out" 2>&1
	rc=$?
	track "$W/sj"
	check "v$V/replace_dead_member" test "$rc" -eq 0
	check "v$V/replaced_three_voters" test "$(etcdctl --endpoints "$S1C" member list |
	    grep started | grep -c ', false$')" -eq 3
	check "v$V/replaced_new_address" sh -c "etcdctl --endpoints '$S1C' member list | grep ', s3, $NP,'"
	stop_all "$W/sj"

	# restore member, from the repository alone (no catalog)
	rm -f "$W/catalog.db"
	IC=""; MC=""
	for n in p1 p2 p3; do
		IC="${IC:+$IC,}$n=http://127.0.0.1:$(free_port)"
		c=http://127.0.0.1:$(free_port); echo "$c" >"$W/$n.client"; MC="${MC:+$MC,}$c"
	done
	# all three at once, as on three machines
	pm=""
	for n in p1 p2 p3; do
		( $LB restore member --cluster c --repo "file://$W/repo" --name "$n" \
		    --initial-cluster "$IC" --initial-cluster-token "tok-$V" --data-dir "$W/pm/$n" \
		    --client-url "$(cat "$W/$n.client")" --start >"$W/pm-$n.out" 2>&1
		  echo $? >"$W/pm-$n.rc" ) &
		pm="$pm $!"
	done
	# shellcheck disable=SC2086
	wait $pm
	track "$W/pm"
	check "v$V/restore_member_repo_only" test "$(cat "$W"/pm-p[123].rc | tr -d '\n')" = 000
	dump "$MC" "$W/got"
	check "v$V/member_every_key" cmp "$W/want" "$W/got"
	stop_all "$W/pm"

	# a restore tool one minor older than the snapshot is refused first
	case $V in
	3.6|3.7)
		old=$(sh "$TOP/scripts/etcd-peers.sh" --dir "3.$((${V#3.} - 1))")/etcdutl
		check_fails "v$V/older_tool_refused" "is etcd 3\.$((${V#3.} - 1)), but the snapshot is of etcd $V" \
		    $LB restore cluster --cluster c --repo "file://$W/repo" --members "$M" \
		    --base-dir "$W/old" --etcdutl "$old"
		check "v$V/older_tool_touched_nothing" test ! -e "$W/old" ;;
	esac
	echo "# etcd $V: $(($(date +%s) - t0)) s"
done
