#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A cairn killed with SIGKILL mid shell stage leaves its container running and its overlay
# mounted: the next build stops that container (runc kill + delete, found from the work dir),
# unmounts, removes the work dir, and builds. A work dir whose owner still runs (a concurrent
# build sharing the home) is never touched.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" SLOW="$T/slow"
mkdir -p "$P" "$SLOW"
# project PROJECT-DIR NAME COMMANDS: a werf.yaml with one shell stage
project() {
	cat >"$1/werf.yaml" <<YAML
project: $2
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
shell:
  install: $3
YAML
}
project "$P" orphan "[echo started, sleep 30]"
project "$SLOW" slow "[echo started, sleep 30]"

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

# container WORK: the runc root, id and host pid of WORK's running container (ROOT, ID, CPID)
container() {
	ROOT="$1/run/state" && test -d "$ROOT" &&
	ID=$(ls "$ROOT") && test -n "$ID" &&
	CPID=$(runc --root "$ROOT" state "$ID" | sed -n 's/^ *"pid": *\([0-9]*\),$/\1/p') &&
	test -n "$CPID" && test_pid_alive "$CPID"
}

# mounted DIR: something is mounted at or below DIR
mounted() {
	grep -qF " $1/" /proc/self/mountinfo
}

test_expect_success 'kill -9 mid shell stage leaves a running container and a mounted overlay' '
	"$CAIRN" build --dir "$P" >"$T/out" 2>&1 &
	_pid=$! &&
	wait_for "$T/out" "| started" &&
	WORK=$(echo "$CAIRN_HOME"/tmp/stage-*) && container "$WORK" &&
	kill -KILL "$_pid" &&
	{ wait "$_pid" || :; } &&
	sleep 0.5 &&
	test_pid_alive "$CPID" && mounted "$WORK" && test -d "$WORK" &&
	ORPHAN_ROOT=$ROOT ORPHAN_PID=$CPID
'

test_expect_success 'the next build stops the orphan, unmounts, removes its work dir, builds' '
	project "$P" orphan "[echo quick]" &&
	"$CAIRN" build --dir "$P" >"$T/out" 2>"$T/err" &&
	grep -qF "| quick" "$T/out" && test ! -s "$T/err" &&
	if test_pid_alive "$ORPHAN_PID"; then
		echo "the orphan container (pid $ORPHAN_PID) still runs" >&2
		return 1
	fi &&
	if mounted "$CAIRN_HOME"; then
		grep -F "$CAIRN_HOME" /proc/self/mountinfo >&2
		return 1
	fi &&
	test ! -e "$ORPHAN_ROOT" && test -z "$(ls "$CAIRN_HOME/tmp")"
'

test_expect_success 'a concurrent build keeps its work dir and container while another builds' '
	_ok= &&
	env --default-signal=TERM "$CAIRN" build --dir "$SLOW" >"$T/slow.out" 2>"$T/slow.err" &
	_slow=$! &&
	wait_for "$T/slow.out" "| started" &&
	WORK=$(echo "$CAIRN_HOME"/tmp/stage-*) && container "$WORK" &&
	project "$P" orphan "[echo again]" &&
	"$CAIRN" build --dir "$P" >"$T/out" 2>"$T/err" &&
	grep -qF "| again" "$T/out" &&
	test -d "$WORK" && test -f "$WORK/.lock" && mounted "$WORK" &&
	test_pid_alive "$CPID" && test_pid_alive "$_slow" &&
	test "$(runc --root "$ROOT" list -q)" = "$ID" &&
	_ok=1
	kill -TERM "$_slow"
	wait "$_slow"
	_rc=$?
	cat "$T/slow.err" &&
	test -n "$_ok" && test "$_rc" -eq 143 && test ! -e "$WORK" && ! test_pid_alive "$CPID"
'

test_done
