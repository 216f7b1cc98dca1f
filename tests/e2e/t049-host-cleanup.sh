#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# host cleanup: three images of 1 MiB stages built a, b, c; a build of a again reuses (touches)
# its stages, so b's are the least recently used; under a --max-size just below what the store
# holds, the stages used least recently that no kept stage stands on go (b's, from the top),
# and nothing of a or c; --dry-run removes
# nothing; the store stays readable (skopeo) and a builds again from cache; a cleanup waits for
# a build in progress (and gives up after --lock-timeout, naming the wait); sizes are checked.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc python3

registry_start
base_image_push "$REG/base/busybox:1"

P=$T/project
mkdir -p "$P"
{
	printf 'project: hc\nconfigVersion: 1\n'
	for i in b c a; do
		printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n' "$i" "$REG"
		printf '  install: [head -c 1048576 /dev/urandom > /%s]\n' "$i"
		printf '  setup: [echo %s > /%s.done]\n' "$i" "$i"
	done
} >"$P/werf.yaml"

names() { "$CAIRN" stages ls | awk '{print $1}' | sort; }
sig_of() {
	python3 -c 'import json,sys; [print(s["signature"]) for i in json.load(open(sys.argv[1]))["images"] if i["name"] == sys.argv[2] for s in i["stages"]]' "$1" "$2"
}
# mib_before FILE: the size before in the summary line "... names: X MiB -> Y MiB ..."
bytes_before() { sed -n 's/.* names: \([0-9.]*\) MiB -> .*/\1/p' "$1"; }

test_expect_success 'images a, b, c built, then a again (its stages touched)' '
	cairn_run build --dir "$P" -q a &&
	sleep 1 && cairn_run build --dir "$P" -q --report "$T/r1.json" b &&
	sleep 1 && cairn_run build --dir "$P" -q c &&
	sleep 1 && cairn_run build --dir "$P" --report "$T/r2.json" a >"$T/a2.out" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/a2.out" &&
	names >"$T/names.0" && test "$(wc -l <"$T/names.0")" -ge 7
'

test_expect_success 'under a generous size nothing goes' '
	cairn_run host cleanup --max-size 1T >"$T/big" 2>&1 &&
	grep -q "^removed 0 of [0-9]* names: " "$T/big" &&
	names >"$T/names.1" && test_cmp "$T/names.0" "$T/names.1"
'

test_expect_success '--dry-run below the size lists b'"'"'s stages from the top, removes nothing' '
	before=$(bytes_before "$T/big") &&
	max=$(python3 -c "print(int(float(\"$before\") * 1048576) - 4096)") &&
	cairn_run host cleanup --max-size "$max" --dry-run >"$T/dry" 2>&1 &&
	grep "^would remove hc:" "$T/dry" | sed "s/^would remove hc:\([0-9a-f]*\) .*/\1/" >"$T/would" &&
	sig_of "$T/r1.json" b | sed 1d >"$T/b.sigs" &&
	tac "$T/b.sigs" | test_cmp - "$T/would" &&
	grep -q "^would remove 2 of 8 names: " "$T/dry" &&
	names >"$T/names.2" && test_cmp "$T/names.0" "$T/names.2"
'

test_expect_success 'the real run removes the same, keeps a, and the store stays readable' '
	cairn_run host cleanup --max-size "$max" >"$T/real" 2>&1 &&
	grep "^removed hc:" "$T/real" | sed "s/^removed hc:\([0-9a-f]*\) .*/\1/" >"$T/removed" &&
	test_cmp "$T/would" "$T/removed" &&
	names >"$T/names.3" && ! grep -q -F -f "$T/removed" "$T/names.3" &&
	test "$(wc -l <"$T/names.3")" = 6 &&
	for n in $(cat "$T/names.3"); do
		skopeo inspect "oci:$CAIRN_HOME/store:$n" >/dev/null || return 1
	done &&
	cairn_run build --dir "$P" a c >"$T/a3.out" 2>&1 && ! grep -q "\[BUILDING\]" "$T/a3.out"
'

test_expect_success 'a tiny size takes every stage, from the top down; a pulled base stays' '
	cairn_run host cleanup --max-size 1 >"$T/tiny" 2>&1 &&
	grep -q "^removed 5 of 6 names: " "$T/tiny" &&
	test "$(names)" = "$REG/base/busybox:1" &&
	cairn_run build --dir "$P" -q a
'

test_expect_success 'a cleanup waits for a build in progress, and gives up after --lock-timeout' '
	printf -- "---\nimage: slow\nfrom: %s/base/busybox:1\nshell:\n  install: [sleep 4]\n" \
		"$REG" >>"$P/werf.yaml" &&
	"$CAIRN" build --dir "$P" -q slow >"$T/slow.out" 2>&1 &
	slow=$! && sleep 1 &&
	test_must_fail cairn_run host cleanup --lock-timeout 1 2>"$T/lock.err" &&
	grep -q "in use by another cairn" "$T/lock.err" &&
	cairn_run host cleanup --max-size 1T >"$T/waited" 2>&1 &&
	wait "$slow" && grep -q "^removed 0 of " "$T/waited" &&
	"$CAIRN" stages ls | grep -q .
'

test_expect_success 'stages gc waits for a build in progress too' '
	printf -- "---\nimage: slow2\nfrom: %s/base/busybox:1\nshell:\n  install: [sleep 3]\n" \
		"$REG" >>"$P/werf.yaml" &&
	"$CAIRN" build --dir "$P" -q slow2 >"$T/slow2.out" 2>&1 &
	slow=$! && sleep 1 && test_pid_alive "$slow" &&
	cairn_run stages gc >"$T/gc.out" 2>&1 &&
	cat "$T/gc.out" &&
	! test_pid_alive "$slow" && wait "$slow" && grep -q "^removed " "$T/gc.out" &&
	"$CAIRN" stages ls | grep -q "^hc:"
'

test_expect_success 'sizes: N%, K/M/G/T; anything else is a usage error' '
	cairn_run host cleanup --max-size 100% --dry-run >/dev/null &&
	cairn_run host cleanup --max-size 2GiB --dry-run >/dev/null &&
	test_must_fail cairn_run host cleanup --max-size 10X 2>"$T/bad" &&
	grep -q "invalid size" "$T/bad" &&
	{ cairn_run host cleanup --max-size 101% 2>/dev/null; test $? = 2; }
'

test_done
