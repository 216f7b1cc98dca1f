#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Signals during registry transfers end them within a second or two, not when the registry
# answers: a pull removes its temporary blob, a publish stops uploading; both exit 128+N with one
# line on stderr. Temporary blobs that a killed cairn left (store/.cairn/tmp/blob-*) are removed
# by the next writer and by `stages gc` once older than the grace period, unless still locked.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc flock
require_python

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" TMPD="$CAIRN_HOME/store/.cairn/tmp"
mkdir -p "$P"
cat >"$P/werf.yaml" <<YAML
project: demo
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
shell:
  install: [echo built > /built]
YAML

# wait_until CODE: until CODE succeeds (up to 60 s)
wait_until() {
	_wu=0
	until eval "$1"; do
		_wu=$((_wu + 1))
		if [ "$_wu" -gt 600 ]; then
			printf 'still not true after 60 s: %s\n' "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# temp_blobs: the temporary blobs of the store, one a line
temp_blobs() {
	for _tb in "$TMPD"/blob-*; do
		test -e "$_tb" || return 1
		basename "$_tb"
	done
}

# stop_soon PID SIGNAL: send SIGNAL, wait for PID; RC its status, SECS how long it took
stop_soon() {
	_t0=$(date +%s)
	kill -s "$2" "$1"
	wait "$1"
	RC=$?
	SECS=$(($(date +%s) - _t0))
	printf 'exit status %s after %s s\n' "$RC" "$SECS"
}

fault_proxy_start 'delay=30000 GET /blobs/sha256: inf'
export SLOW="$PROXY"

test_expect_success 'SIGTERM mid download: ends at once, removes the temporary blob, exit 143' '
	env --default-signal=TERM "$CAIRN" image pull -q -j 1 "$SLOW/base/busybox:1" \
		>"$T/out" 2>"$T/err" &
	_pid=$! &&
	wait_until "temp_blobs >/dev/null" &&
	stop_soon "$_pid" TERM && cat "$T/err" &&
	test "$RC" -eq 143 && test "$SECS" -le 5 &&
	test "$(grep -c "^cairn: " "$T/err")" -eq 1 && grep -q "interrupted by SIGTERM\$" "$T/err" &&
	test -z "$(temp_blobs)"
'

test_expect_success 'kill -9 mid download leaves a temporary blob behind' '
	"$CAIRN" image pull -q -j 1 "$SLOW/base/busybox:1" >"$T/out" 2>"$T/err" &
	_pid=$! &&
	wait_until "temp_blobs >/dev/null" &&
	kill -KILL "$_pid" && { wait "$_pid" || :; } &&
	LEFT=$(temp_blobs) && test -n "$LEFT"
'

test_expect_success 'the next writer removes it once old; a fresh or a locked one stays' '
	for _f in $LEFT; do touch -d "2 hours ago" "$TMPD/$_f" || return 1; done &&
	echo fresh >"$TMPD/blob-fresh0000000" &&
	echo locked >"$TMPD/blob-locked000000" &&
	touch -d "2 hours ago" "$TMPD/blob-locked000000" || return 1
	"$PYTHON" -c "import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(60)" "$TMPD/blob-locked000000" &
	LOCKER=$! &&
	test_atexit "kill $LOCKER 2>/dev/null" &&
	wait_until "! flock -n \"\$TMPD/blob-locked000000\" true" &&
	"$CAIRN" image pull -q "$REG/base/busybox:1" >"$T/out" &&
	for _f in $LEFT; do test ! -e "$TMPD/$_f" || return 1; done &&
	test -f "$TMPD/blob-fresh0000000" && test -f "$TMPD/blob-locked000000"
'

test_expect_success 'stages gc removes an old temporary blob once its lock is gone' '
	"$CAIRN" stages gc >"$T/gc.out" && cat "$T/gc.out" &&
	grep -q " 0 temporary files\$" "$T/gc.out" && test -f "$TMPD/blob-locked000000" &&
	kill "$LOCKER" && { wait "$LOCKER" || :; } &&
	"$CAIRN" stages gc >"$T/gc.out" && cat "$T/gc.out" &&
	grep -q " 1 temporary files\$" "$T/gc.out" &&
	test ! -e "$TMPD/blob-locked000000" && test -f "$TMPD/blob-fresh0000000" &&
	rm "$TMPD/blob-fresh0000000"
'

"$CAIRN" build --dir "$P" >/dev/null || exit 1
fault_proxy_start 'delay=30000 POST /v2/demo/blobs/uploads/ inf'

test_expect_success 'SIGINT mid upload of a publish: ends at once, exit 130' '
	env --default-signal=INT "$CAIRN" publish --dir "$P" --images-repo "$PROXY/demo" \
		>"$T/out" 2>"$T/err" &
	_pid=$! &&
	: "the repository is new: publish lists it, then uploads without asking for each blob" &&
	wait_until "test \"\$(registry_log_count \"\\\"GET /v2/demo/tags/list\")\" -gt 0" &&
	sleep 0.5 &&
	stop_soon "$_pid" INT && cat "$T/err" &&
	test "$RC" -eq 130 && test "$SECS" -le 5 &&
	test "$(grep -c "^cairn: " "$T/err")" -eq 1 && grep -q "interrupted by SIGINT\$" "$T/err" &&
	test "$(registry_log_count "\"PUT /v2/demo/manifests/")" -eq 0 &&
	test -z "$(temp_blobs)"
'

test_done
