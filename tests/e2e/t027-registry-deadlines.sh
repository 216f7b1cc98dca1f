#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# No endless reads or stalls.  tools/hostile_registry.py sends an endless manifest, a manifest
# announcing 1 GiB, an endless token, a manifest dripped a byte at a time, or nothing at all;
# cairn must fail fast with "larger than N bytes" or by its deadlines (--registry-timeout, also
# from CAIRN_REGISTRY_TIMEOUT), naming the registry.  A slow but live blob transfer through the
# stand-in's other origin outlives the small-body deadline and must still complete against the
# real registry behind it.  Every command runs under timeout(1), so a regression fails here
# instead of hanging the suite.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo curl timeout
require_python

PASS='dead1ine-s3cret'
test_secret "$PASS"

# try SECONDS ARGS...: cairn ARGS must fail within SECONDS (else it is killed), with stderr in
# $T/err; sets TOOK (seconds).
try () {
	_try_limit=$1
	shift
	_try_start=$(date +%s)
	test_must_fail timeout "$_try_limit" "$CAIRN" "$@" >"$T/out" 2>"$T/err"
	_try_rc=$?
	TOOK=$(($(date +%s) - _try_start))
	cat "$T/err"
	echo "failed after $TOOK s"
	return "$_try_rc"
}

# hostile_logged PATTERN: wait up to 10 s for a line matching PATTERN (grep) in HOSTILE_LOG (a
# body's line comes when the stand-in notices that the client went away).
hostile_logged () {
	_hl_i=0
	until grep -q "$1" "$HOSTILE_LOG"; do
		_hl_i=$((_hl_i + 1))
		[ "$_hl_i" -le 100 ] || return 1
		sleep 0.1
	done
}

# sent_at_most BYTES: the body the stand-in sent before cairn went away was at most BYTES.
sent_at_most () {
	hostile_logged " sent=" || return 1
	cat "$HOSTILE_LOG"
	sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' "$HOSTILE_LOG" | head -n 1)
	echo "the stand-in sent ${sent:-?} body bytes"
	test -n "$sent" && test "$sent" -le "$1"
}

test_expect_success 'an endless manifest: "larger than" at once' '
	hostile_registry_start 3 endless-manifest &&
	try 20 image pull "$HOSTILE/endless/m:1" &&
	test "$TOOK" -lt 10 &&
	grep -q "larger than 4194304 bytes" "$T/err" &&
	grep -qF "$HOSTILE" "$T/err" &&
	! grep -qi "json" "$T/err"
'

test_expect_success 'a manifest announcing 1 GiB: refused before its body' '
	hostile_registry_start 3 huge-manifest &&
	try 20 image pull "$HOSTILE/huge/m:1" &&
	test "$TOOK" -lt 10 &&
	grep -q "larger than 4194304 bytes" "$T/err" &&
	sent_at_most 67108864
'

test_expect_success 'an endless token: "larger than" at once, no JSON error' '
	hostile_registry_start 3 endless-token &&
	try 20 image pull "$HOSTILE/endless/t:1" &&
	test "$TOOK" -lt 10 &&
	grep -q "larger than 1048576 bytes" "$T/err" &&
	grep -qF "$HOSTILE" "$T/err" &&
	! grep -qi "json" "$T/err"
'

test_expect_success 'a byte every 2 s: ended by --registry-timeout 1, not retried' '
	hostile_registry_start 3 drip --interval 2 &&
	try 20 image pull --registry-timeout 1 "$HOSTILE/drip/m:1" &&
	test "$TOOK" -lt 8 &&
	grep -q "no data for 1 s" "$T/err" &&
	grep -qF "$HOSTILE" "$T/err" &&
	test "$(grep -c " GET /v2/drip/m/manifests/1 .* begin" "$HOSTILE_LOG")" -eq 1
'

test_expect_success 'a byte every 0.2 s: ended by the total deadline, 4 x CAIRN_REGISTRY_TIMEOUT' '
	hostile_registry_start 3 drip --interval 0.2 &&
	CAIRN_REGISTRY_TIMEOUT=1 try 20 image pull "$HOSTILE/drip/m:1" &&
	test "$TOOK" -ge 3 && test "$TOOK" -lt 8 &&
	grep -q "no complete answer within 4 s" "$T/err" &&
	grep -qF "$HOSTILE" "$T/err"
'

test_expect_success 'a silent registry (TLS probe unanswered): fails fast, named' '
	hostile_registry_start 3 silent &&
	CAIRN_REGISTRY_TIMEOUT=2 try 20 image pull "$HOSTILE/silent/m:1" &&
	test "$TOOK" -lt 6 &&
	grep -q "registry .$HOSTILE.: connect to https://$HOSTILE/v2/: no answer within 2 s" \
		"$T/err"
'

test_expect_success 'a silent registry (plain HTTP, requests unanswered): fails fast, named' '
	hostile_registry_start 3 silent-http &&
	CAIRN_REGISTRY_TIMEOUT=2 try 20 image pull "$HOSTILE/silent/m:1" &&
	test "$TOOK" -lt 6 &&
	grep -q "http://$HOSTILE/v2/silent/m/manifests/1: no answer within 2 s" "$T/err"
'

registry_start
base_image_push "$REG/base/busybox:1"

# ms since the epoch
now_ms () {
	echo $(($(date +%s%N) / 1000000))
}

# The busybox layer (1,084,764 bytes) at 230 KiB/s takes 4.6 s each way, past the 4 s total
# deadline of --registry-timeout 1, with bytes moving all the time.
test_expect_success 'slow but live blob transfers outlive the small-body deadline' '
	BASE=$(manifest_digest "$REG/base/busybox:1") &&
	hostile_registry_start 1 origins --upstream "$REG" --other-port "$(test_port 2)" \
		--user "alice:$PASS" --rate 235520 &&
	cairn_run image pull -q --name base "$REG/base/busybox:1" &&
	start=$(now_ms) &&
	timeout 60 "$CAIRN" image push --registry-timeout 1 --registry-username alice \
		--registry-password "$PASS" base "$HOSTILE/slow/busybox:1" >"$T/out" &&
	took=$(($(now_ms) - start)) &&
	echo "pushed in $took ms" &&
	test "$took" -gt 4500 &&
	test "$(manifest_digest "$REG/slow/busybox:1")" = "$BASE" &&
	start=$(now_ms) &&
	CAIRN_HOME=$T/home-pull timeout 60 "$CAIRN" image pull --registry-timeout 1 \
		--registry-username alice --registry-password "$PASS" "$HOSTILE/slow/busybox:1" \
		>"$T/out" &&
	took=$(($(now_ms) - start)) &&
	echo "pulled in $took ms" &&
	cat "$HOSTILE_LOG" &&
	test "$took" -gt 4500 &&
	test "$(cat "$T/out")" = "$BASE"
'

# In a log (stderr not a terminal): a line when a blob starts, one every
# CAIRN_PROGRESS_SECONDS while it moves (bytes, percent, rate, time left), one when done.
test_expect_success 'progress lines in a CI log during a slow pull' '
	CAIRN_HOME=$T/home-prog CAIRN_PROGRESS_SECONDS=1 timeout 60 "$CAIRN" image pull \
		--registry-username alice --registry-password "$PASS" "$HOSTILE/slow/busybox:1" \
		>/dev/null 2>"$T/log" &&
	cat "$T/log" &&
	layer=$(grep -o "sha256:[0-9a-f]\{12\}  1\.0 MiB  pulling" "$T/log" | cut -c1-19) &&
	test -n "$layer" &&
	test "$(grep -c "^  $layer  [0-9.]* [KM]iB / 1\.0 MiB ([0-9]*%), [0-9.]* KiB/s, [0-9]* s left$" \
		"$T/log")" -ge 2 &&
	grep -q "^  $layer  1\.0 MiB  pulled in [0-9.]* s ([0-9.]* KiB/s)$" "$T/log"
'

test_done
