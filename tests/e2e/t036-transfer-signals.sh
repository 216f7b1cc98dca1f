#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Signals during registry transfers end them within a second or two, not when the registry
# answers: a pull removes its temporary blob, a publish stops uploading; both exit 128+N with one
# line on stderr.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc

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
	test "$(wc -l <"$T/err")" -eq 1 && grep -q "interrupted by SIGTERM\$" "$T/err" &&
	test -z "$(temp_blobs)"
'

"$CAIRN" build --dir "$P" >/dev/null || exit 1
fault_proxy_start 'delay=30000 POST /v2/demo/blobs/uploads/ inf'

test_expect_success 'SIGINT mid upload of a publish: ends at once, exit 130' '
	env --default-signal=INT "$CAIRN" publish --dir "$P" --images-repo "$PROXY/demo" \
		>"$T/out" 2>"$T/err" &
	_pid=$! &&
	wait_until "test \"\$(registry_log_count \"\\\"HEAD /v2/demo/blobs/\")\" -gt 0" &&
	sleep 0.5 &&
	stop_soon "$_pid" INT && cat "$T/err" &&
	test "$RC" -eq 130 && test "$SECS" -le 5 &&
	test "$(wc -l <"$T/err")" -eq 1 && grep -q "interrupted by SIGINT\$" "$T/err" &&
	test "$(registry_log_count "\"PUT /v2/demo/manifests/")" -eq 0 &&
	test -z "$(temp_blobs)"
'

test_done
