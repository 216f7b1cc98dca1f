#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Signals during a shell stage: TERM, INT, HUP, and a closed stdout (`cairn build | head -1`)
# stop the container (runc kill + delete), unmount the overlay, remove the work directory and
# exit 128+N (143, 130, 129, 141) with one error line on stderr saying what was interrupted.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"
mkdir -p "$P"
cat >"$P/werf.yaml" <<YAML
project: sig
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
shell:
  install: [echo started, sleep 1, echo still running, sleep 30]
YAML

# a project whose builds share a build_dir (and its lock), each with its own signature
mkdir -p "$T/p2"
cat >"$T/p2/werf.yaml" <<YAML
project: lock
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
mount:
- from: build_dir
  to: /cache
shell:
  install: ['echo started {{ env "RUNID" }}', sleep 30]
YAML

# wait_for FILE STRING: until FILE holds STRING (up to 60 s)
wait_for() {
	_wf=0
	until grep -qF "$2" "$1" 2>/dev/null; do
		_wf=$((_wf + 1))
		if [ "$_wf" -gt 600 ]; then
			printf 'no "%s" in %s after 60 s\n' "$2" "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_gone PID: until PID has exited (up to 20 s)
wait_gone() {
	_wg=0
	while test_pid_alive "$1"; do
		_wg=$((_wg + 1))
		if [ "$_wg" -gt 200 ]; then
			printf 'pid %s still alive after 20 s\n' "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# container: the runc root, id and host pid of the running stage's container (ROOT, ID, CPID)
container() {
	ROOT=$(echo "$CAIRN_HOME"/tmp/stage-*/run/state) && test -d "$ROOT" &&
	ID=$(ls "$ROOT") && test -n "$ID" &&
	CPID=$(runc --root "$ROOT" state "$ID" | sed -n 's/^ *"pid": *\([0-9]*\),$/\1/p') &&
	test -n "$CPID" && test_pid_alive "$CPID"
}

# wait_container: until the stage's container runs (up to 60 s); sets ROOT, ID, CPID
wait_container() {
	_wc=0
	until container 2>/dev/null; do
		_wc=$((_wc + 1))
		if [ "$_wc" -gt 600 ]; then
			printf 'no container after 60 s\n' >&2
			return 1
		fi
		sleep 0.1
	done
}

# all_clean: the container is gone, nothing of cairn's home is mounted, no work dir or temp blob
all_clean() {
	wait_gone "$CPID" &&
	# (runc list would create a missing root)
	{ test ! -d "$ROOT" || test -z "$(runc --root "$ROOT" list -q)"; } &&
	if grep -F "$CAIRN_HOME" /proc/self/mountinfo; then return 1; fi &&
	test -z "$(ls "$CAIRN_HOME/tmp")" &&
	test -z "$(ls "$CAIRN_HOME/store/.cairn/tmp")"
}

# interrupt SIGNAL CODE: build, send SIGNAL once the stage prints, expect exit CODE and one line
interrupt() {
	rm -f "$T/out" "$T/err" # wait_for must not see the last run's output
	env --default-signal=INT,HUP,TERM "$CAIRN" build --dir "$P" >"$T/out" 2>"$T/err" &
	_pid=$!
	wait_for "$T/out" "| started" && container &&
	kill -s "$1" "$_pid" &&
	wait "$_pid"
	_rc=$?
	printf 'exit status %s\n' "$_rc" && cat "$T/err" &&
	test "$_rc" -eq "$2" &&
	test "$(grep -c "^cairn: " "$T/err")" -eq 1 &&
	grep -q "^cairn: error: .*stage .install.*interrupted by SIG$1\$" "$T/err" &&
	all_clean
}

test_expect_success 'SIGTERM mid shell stage: container stopped, overlay unmounted, exit 143' '
	interrupt TERM 143
'

test_expect_success 'SIGINT mid shell stage: the same, exit 130' '
	interrupt INT 130
'

test_expect_success 'SIGHUP mid shell stage: the same, exit 129' '
	interrupt HUP 129
'

test_expect_success 'SIGTERM while waiting for a lock another build holds: exit 143 at once' '
	RUNID=a env --default-signal=TERM "$CAIRN" build --dir "$T/p2" >"$T/out" 2>"$T/err" &
	_a=$! &&
	wait_for "$T/out" "| started a" && container &&
	{ RUNID=b env --default-signal=TERM "$CAIRN" build -v --dir "$T/p2" >"$T/outb" \
		2>"$T/errb" & _b=$!; } &&
	wait_for "$T/errb" "waiting for lock" && test_pid_alive "$_b" &&
	! grep -q "started b" "$T/outb" &&
	_t0=$(date +%s) && kill -s TERM "$_b" && wait_gone "$_b" &&
	test $(($(date +%s) - _t0)) -le 3 &&
	{ wait "$_b"; _rc=$?; } ; cat "$T/errb" && test "$_rc" -eq 143 &&
	grep -q "^cairn: error: .*waiting for lock .*builds/lock/.*interrupted by SIGTERM\$" \
		"$T/errb" &&
	kill -s TERM "$_a" && { wait "$_a"; _rc=$?; } ; test "$_rc" -eq 143 && all_clean
'

test_expect_success 'cairn build | head -1: SIGPIPE stops the build cleanly, exit 141' '
	{
		"$CAIRN" build --dir "$P" 2>"$T/err"
		echo $? >"$T/rc"
	} | head -1 >"$T/head" &&
	cat "$T/rc" "$T/err" &&
	test "$(cat "$T/head")" = "~" &&
	test "$(cat "$T/rc")" -eq 141 &&
	test "$(grep -c "^cairn: " "$T/err")" -eq 1 &&
	grep -q "^cairn: error: .*interrupted by SIGPIPE\$" "$T/err" &&
	test -z "$(ls "$CAIRN_HOME/tmp")" &&
	if grep -F "$CAIRN_HOME" /proc/self/mountinfo; then return 1; fi
'

test_expect_success 'stdout closed mid shell stage: SIGPIPE stops the container too, exit 141' '
	rm -f "$T/rc" &&
	{
		"$CAIRN" build --dir "$P" 2>"$T/err"
		echo $? >"$T/rc"
	} | sed "/| started/q" >"$T/head" &
	wait_container && wait "$!" && wait_for "$T/rc" "" &&
	cat "$T/rc" "$T/err" &&
	test "$(tail -n 1 "$T/head")" = "  | started" &&
	test "$(cat "$T/rc")" -eq 141 &&
	test "$(grep -c "^cairn: " "$T/err")" -eq 1 &&
	grep -q "^cairn: error: .*stage .install.*interrupted by SIGPIPE\$" "$T/err" &&
	all_clean
'

test_expect_success 'after all that, the same project builds' '
	sed -i "s/install: .*/install: [echo done]/" "$P/werf.yaml" &&
	"$CAIRN" build --dir "$P" >"$T/out" 2>"$T/err" &&
	grep -qF "| done" "$T/out" && test ! -s "$T/err"
'

test_done
