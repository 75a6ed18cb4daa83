#!/bin/sh
# age_test.sh: lifeboat's age format against the real age and age-keygen
# (Debian) as oracles, both ways: lifeboat writes and age reads, age
# writes and lifeboat reads, keys from either tool work in the other.
# The encrypt/decrypt side of lifeboat is the tests-only tool mode of
# build/tests/age_test (no user-facing command encrypts by hand).
. "$(dirname "$0")/../lib.sh"

AGETOOL=$(dirname "$LIFEBOAT")/tests/age_test
for tool in age age-keygen "$AGETOOL"; do
	command -v "$tool" >/dev/null 2>&1 || { fail age_tools "$tool missing"; exit 1; }
done

head -c $((3 * 65536 + 123)) /dev/urandom >"$T/plain"
head -c 65536 /dev/urandom >"$T/full"
: >"$T/empty"

# Keys: one from lifeboat keygen, one from age-keygen.
check keygen_writes_identity sh -c "'$LIFEBOAT' keygen -o '$T/lb.key' >'$T/lb.pub'"
LB_R=$(cat "$T/lb.pub")
check keygen_mode_0600 sh -c "[ \"\$(stat -c %a '$T/lb.key')\" = 600 ]"
check keygen_recipient_matches_age_keygen_y \
	sh -c "[ \"\$(age-keygen -y '$T/lb.key')\" = '$LB_R' ]"
check keygen_format_comments sh -c "grep -q '^# created: ' '$T/lb.key' &&
	grep -qx '# public key: $LB_R' '$T/lb.key'"
check_fails keygen_refuses_overwrite 'already exists' "$LIFEBOAT" keygen -o "$T/lb.key"
check_fails keygen_needs_output 'is required' "$LIFEBOAT" keygen
age-keygen -o "$T/ak.key" 2>/dev/null
AK_R=$(age-keygen -y "$T/ak.key")

# lifeboat encrypts, age decrypts.
for f in plain full empty; do
	check "lifeboat_to_age_$f" sh -c "'$AGETOOL' enc '$LB_R' <'$T/$f' >'$T/$f.lb.age' &&
		age -d -i '$T/lb.key' '$T/$f.lb.age' | cmp - '$T/$f'"
done
check lifeboat_to_age_two_recipients sh -c "'$AGETOOL' enc '$LB_R' '$AK_R' <'$T/plain' >'$T/two.age' &&
	age -d -i '$T/lb.key' '$T/two.age' | cmp - '$T/plain' &&
	age -d -i '$T/ak.key' '$T/two.age' | cmp - '$T/plain'"

# age encrypts, lifeboat decrypts.
for f in plain full empty; do
	check "age_to_lifeboat_$f" sh -c "age -r '$LB_R' -o '$T/$f.age' '$T/$f' &&
		'$AGETOOL' dec '$T/lb.key' <'$T/$f.age' | cmp - '$T/$f'"
done
check age_keygen_identity_loads sh -c "age -r '$AK_R' -r '$LB_R' -o '$T/multi.age' '$T/plain' &&
	'$AGETOOL' dec '$T/ak.key' <'$T/multi.age' | cmp - '$T/plain' &&
	'$AGETOOL' dec '$T/lb.key' <'$T/multi.age' | cmp - '$T/plain'"
check age_recipients_file sh -c "printf '%s\n' '$LB_R' >'$T/rcpts' &&
	age -R '$T/rcpts' '$T/full' >'$T/r.age' &&
	'$AGETOOL' dec '$T/lb.key' <'$T/r.age' | cmp - '$T/full'"

# keygen to stdout, as a file age reads.
check keygen_stdout_identity sh -c "'$LIFEBOAT' keygen -o - >'$T/so.key' 2>'$T/so.err' &&
	R=\$(age-keygen -y '$T/so.key') && grep -q \"\$R\" '$T/so.err' &&
	'$AGETOOL' enc \"\$R\" <'$T/full' | age -d -i '$T/so.key' | cmp - '$T/full'"

# Failures lifeboat must report, on files age wrote.
check_fails wrong_identity_rejected 'wrong identity' \
	sh -c "age -r '$AK_R' '$T/plain' | '$AGETOOL' dec '$T/lb.key' >/dev/null"
size=$(stat -c %s "$T/plain.age")
head -c $((size - 100)) "$T/plain.age" >"$T/cut.age"
check_fails truncated_rejected 'truncated|failed authentication' \
	sh -c "'$AGETOOL' dec '$T/lb.key' <'$T/cut.age' >/dev/null"
# And age agrees that lifeboat's truncated output is bad.
size=$(stat -c %s "$T/plain.lb.age")
head -c $((size - 65552)) "$T/plain.lb.age" >"$T/cut.lb.age"
check_fails age_rejects_truncated_lifeboat_file '.' \
	age -d -i "$T/lb.key" -o "$T/cut.out" "$T/cut.lb.age"
