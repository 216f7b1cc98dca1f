#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn's registry client through tools/fault_proxy.py: 503s, 429 with Retry-After, a connection
# dropped mid-upload and mid-download, slow answers.  Every push and pull must complete with the
# right digest (read from the real registry behind the proxy), the registry must hold only sound
# blobs, and a registry that stays down must fail cleanly, after the retries, in bounded time.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo curl sha256sum gzip python3
require_python
ST=${CAIRN_STORE_TOOL:?set CAIRN_STORE_TOOL to the built store-tool}
STORE=$CAIRN_HOME/store

sha256_of () {
	printf 'sha256:%s\n' "$(sha256sum | cut -d' ' -f1)"
}

# Milliseconds since midnight of a proxy log line's "HH:MM:SS.mmm" stamp.
stamp_ms () {
	printf '%s\n' "$1" | awk -F'[:. ]' '{ print ((($1 * 60) + $2) * 60 + $3) * 1000 + $4 }'
}

# Faults the proxy injected (log lines with "fault=", less the rule list at its start).
faults () {
	grep -c ' fault=' "$PROXY_LOG"
	[ $? -le 1 ]
}

PUSHED='' # repositories pushed through the proxy: checked again at the end

registry_start
base_image_push "$REG/base/busybox:1"

# random_image NAME MiB: a one-layer image NAME of MiB random bytes in the store; sets LAYER (the
# layer's digest) and IMAGE (the manifest's).
random_image () {
	mkdir -p "$T/rnd" &&
		head -c "$(($2 * 1048576))" /dev/urandom >"$T/rnd/random.bin" &&
		tar -C "$T/rnd" -cf - random.bin | gzip -1 >"$T/rnd.tar.gz" &&
		LAYER=$(sha256_of <"$T/rnd.tar.gz") &&
		IMAGE=$("$ST" "$STORE" put-image "$1" "$T/rnd.tar.gz") &&
		rm -rf "$T/rnd" "$T/rnd.tar.gz" &&
		test -n "$IMAGE"
}

# landed REPO IMAGE LAYER: REPO:1 holds manifest IMAGE, serves blob LAYER with the bytes of that
# digest, and skopeo copies it; REPO joins PUSHED
landed () {
	test "$(manifest_digest "$REG/$1:1")" = "$2" &&
		curl -fsS "$REG_URL/v2/$1/blobs/$3" | sha256_of >"$T/served" &&
		test "$(cat "$T/served")" = "$3" &&
		skopeo copy -q --src-tls-verify=false "docker://$REG/$1:1" "oci:$T/oci:${1%%/*}" &&
		PUSHED="$PUSHED $1"
}

test_expect_success 'setup: the base image and a 12 MiB image in the store' '
	BASE=$(manifest_digest "$REG/base/busybox:1") &&
	cairn_run image pull -q --name base "$REG/base/busybox:1" >/dev/null &&
	random_image big 12 &&
	BIG=$IMAGE BIG_LAYER=$LAYER
'

test_expect_success '503 on blob HEAD and upload POST: retried, push completes' '
	fault_proxy_start "status=503 HEAD /blobs/sha256: 2" "status=503 POST /blobs/uploads/ 2" &&
	{
		cairn_run image push base "$PROXY/f503/busybox:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	test "$(faults)" -eq 4 &&
	test "$(manifest_digest "$REG/f503/busybox:1")" = "$BASE" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/f503/busybox:1" "oci:$T/oci:f503" &&
	PUSHED="$PUSHED f503/busybox"
'

test_expect_success '429 with Retry-After: 1 is honoured, push completes' '
	fault_proxy_start "status=429 POST /blobs/uploads/ 1" "status=429 PUT /manifests/ 1" &&
	{
		cairn_run image push base "$PROXY/f429/busybox:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	test "$(faults)" -eq 2 &&
	test "$(manifest_digest "$REG/f429/busybox:1")" = "$BASE" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/f429/busybox:1" "oci:$T/oci:f429" &&
	grep "\"PUT /v2/f429/busybox/manifests/1\"" "$PROXY_LOG" >"$T/puts" &&
	test "$(wc -l <"$T/puts")" -eq 2 &&
	t1=$(stamp_ms "$(sed -n 1p "$T/puts")") && t2=$(stamp_ms "$(sed -n 2p "$T/puts")") &&
	echo "manifest PUT retried after $((t2 - t1)) ms" &&
	test "$((t2 - t1))" -ge 950 &&
	PUSHED="$PUSHED f429/busybox"
'

test_expect_success 'a connection dropped mid-PATCH: the upload resumes or restarts' '
	fault_proxy_start "drop-request=1048576 PATCH /blobs/uploads/ 1" &&
	{
		cairn_run image push -v big "$PROXY/dropped-upload/big:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	grep -q "dropped after 1048576 request body bytes" "$PROXY_LOG" &&
	landed dropped-upload/big "$BIG" "$BIG_LAYER"
'

# The proxy reads the whole PATCH body but passes only 4 MiB on, and closes the connection without
# an answer.  libcurl re-sends the PATCH on a fresh connection by itself (the first one was
# reused), and the registry, which stored part of the first PATCH, refuses it (404
# BLOB_UPLOAD_INVALID, "upload resumed at wrong offset"): the upload must start again.
test_expect_success 'a PATCH that gets no answer after its whole body: the upload restarts' '
	random_image cut 8 &&
	fault_proxy_start "cut-request=4194304 PATCH /blobs/uploads/ 1" &&
	{
		cairn_run image push -v cut "$PROXY/cut-upload/big:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	grep -q "cut after 4194304 request body bytes" "$PROXY_LOG" &&
	landed cut-upload/big "$IMAGE" "$LAYER"
'

test_expect_success 'a connection dropped mid-blob-GET: the pull completes and verifies' '
	cairn_run image push -q big "$REG/pull/big:1" >/dev/null &&
	fault_proxy_start "drop-response=1048576 GET /blobs/$BIG_LAYER 1" &&
	env CAIRN_HOME="$T/home-pull" "$CAIRN" image pull --name big-pulled "$PROXY/pull/big:1" \
		>"$T/out" &&
	cat "$PROXY_LOG" &&
	grep -q "dropped after 1048576 response body bytes" "$PROXY_LOG" &&
	test "$(grep -c "\"GET /v2/pull/big/blobs/$BIG_LAYER\"" "$PROXY_LOG")" -ge 2 &&
	test "$(cat "$T/out")" = "$BIG" &&
	"$ST" "$T/home-pull/store" get big-pulled >"$T/got" &&
	test "$(cat "$T/got")" = "$BIG" &&
	test "$(skopeo inspect --raw "oci:$T/home-pull/store:big-pulled" | sha256_of)" = "$BIG"
'

test_expect_success 'slow answers (300 ms each): push and pull complete' '
	fault_proxy_start "delay=300 * ^/v2/. inf" &&
	cairn_run image push base "$PROXY/slow/busybox:1" >"$T/out" &&
	test "$(manifest_digest "$REG/slow/busybox:1")" = "$BASE" &&
	cairn_run image pull --name slow-pulled "$PROXY/slow/busybox:1" >"$T/out" &&
	test "$(cat "$T/out")" = "$BASE" &&
	test "$(faults)" -ge 5 &&
	PUSHED="$PUSHED slow/busybox"
'

# A blob up to 8 MiB goes whole in the PUT that ends its upload; a PUT cut mid-body cannot be
# resumed: the upload starts again with a new POST.
test_expect_success 'a connection dropped mid-PUT of a whole small blob: the upload restarts' '
	random_image whole 4 &&
	fault_proxy_start "drop-request=1048576 PUT /blobs/uploads/ 1" &&
	{
		cairn_run image push -v whole "$PROXY/whole-upload/big:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	grep -q "dropped after 1048576 request body bytes" "$PROXY_LOG" &&
	! grep -q "\"PATCH /v2/whole-upload/" "$PROXY_LOG" &&
	test "$(grep -c "\"POST /v2/whole-upload/big/blobs/uploads/" "$PROXY_LOG")" -ge 2 &&
	landed whole-upload/big "$IMAGE" "$LAYER"
'

test_expect_success 'mixed: 503, 429, a dropped upload and slow answers in one push' '
	random_image mixed 10 &&
	fault_proxy_start "status=503 HEAD /blobs/sha256: 1" "status=429 POST /blobs/uploads/ 1" \
		"drop-request=1048576 PATCH /blobs/uploads/ 1" "delay=100 * ^/v2/. inf" &&
	{
		cairn_run image push -v mixed "$PROXY/mixed/big:1" >"$T/out"
		rc=$?
	} &&
	cat "$PROXY_LOG" &&
	test "$rc" -eq 0 &&
	grep -q "dropped after 1048576 request body bytes" "$PROXY_LOG" &&
	test "$(grep -c " fault=rule[123]:" "$PROXY_LOG")" -eq 3 &&
	test "$(manifest_digest "$REG/mixed/big:1")" = "$IMAGE" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/mixed/big:1" "oci:$T/oci:mixed" &&
	PUSHED="$PUSHED mixed/big"
'

test_expect_success 'a registry that keeps answering 503: a clear failure after the retries' '
	fault_proxy_start "status=503 * . inf" &&
	start=$(date +%s) &&
	test_must_fail cairn_run image push base "$PROXY/down/busybox:1" >"$T/out" 2>"$T/err" &&
	took=$(($(date +%s) - start)) &&
	cat "$T/err" "$PROXY_LOG" &&
	echo "failed after $took s" &&
	test "$took" -lt 60 &&
	grep -qF "$PROXY" "$T/err" &&
	grep -q "503" "$T/err" &&
	first=$(grep -m1 -o "\"[A-Z]* /v2/[^\"]*\"" "$PROXY_LOG") &&
	test "$(grep -cF "$first" "$PROXY_LOG")" -eq 5 &&
	test ! -s "$T/out"
'

test_expect_success 'a registry that is not there at all: a clear failure in bounded time' '
	fault_proxy_stop &&
	start=$(date +%s) &&
	test_must_fail cairn_run image push base "$PROXY/gone/busybox:1" >"$T/out" 2>"$T/err" &&
	took=$(($(date +%s) - start)) &&
	cat "$T/err" &&
	echo "failed after $took s" &&
	test "$took" -lt 60 &&
	grep -qF "$PROXY" "$T/err" &&
	test ! -s "$T/out" &&
	start=$(date +%s) &&
	test_must_fail cairn_run image pull --name gone "$PROXY/gone/busybox:1" >"$T/out" 2>"$T/err" &&
	took=$(($(date +%s) - start)) &&
	cat "$T/err" &&
	test "$took" -lt 60 &&
	grep -qF "$PROXY" "$T/err"
'

test_expect_success 'the registry holds every blob once, sound; uploads leftovers aside' '
	blobs=$REG_STORAGE/docker/registry/v2/blobs/sha256 &&
	find "$blobs" -type f -name data >"$T/blobs" &&
	test -s "$T/blobs" &&
	while read -r f; do
		d=$(basename "$(dirname "$f")") &&
		test "$(sha256sum <"$f" | cut -d" " -f1)" = "$d" || {
			echo "corrupt blob: $f"
			return 1
		}
	done <"$T/blobs" &&
	test "$(wc -l <"$T/blobs")" -eq "$(xargs -n1 dirname <"$T/blobs" | sort -u | wc -l)" &&
	grep -q "/$(echo "$BIG_LAYER" | cut -d: -f2)/data$" "$T/blobs" &&
	echo "pushed: $PUSHED" &&
	for repo in $PUSHED; do
		skopeo copy -q --src-tls-verify=false "docker://$REG/$repo:1" "oci:$T/oci-all:$repo" ||
			return 1
	done &&
	echo "upload leftovers: $(find "$REG_STORAGE" -path "*_uploads*" -name data | wc -l)"
'

test_done
