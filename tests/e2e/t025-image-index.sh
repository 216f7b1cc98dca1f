#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Multi-platform indexes: cairn pushes an OCI index with the images it lists (checked with
# skopeo), and pulling an index takes the requested platform's image or names the ones there are.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
: "${CAIRN_STORE_TOOL:?set CAIRN_STORE_TOOL to the built store-tool}"
require_tool docker-registry skopeo

registry_start
base_image_push "$REG/base/busybox:1"
export STORE="$CAIRN_HOME/store"

test_expect_success 'setup: two images and an index of them in the store' '
	"$CAIRN" image pull -q "$REG/base/busybox:1" >"$T/amd64" &&
	mkdir -p "$T/extra" && echo arm >"$T/extra/arch" &&
	tar -C "$T/extra" -cf - . | gzip -n >"$T/extra.tgz" &&
	"$CAIRN_STORE_TOOL" "$STORE" put-image other "$T/extra.tgz" >"$T/arm64" &&
	"$CAIRN_STORE_TOOL" "$STORE" put-index multi "amd64=$REG/base/busybox:1" \
		arm64=other >"$T/index"
'

test_expect_success 'pushing the index pushes every image it lists, then the index' '
	"$CAIRN" image push -q multi "$REG/multi/app:1" >"$T/pushed" &&
	test_cmp "$T/index" "$T/pushed" &&
	test "$(manifest_digest "$REG/multi/app:1")" = "$(cat "$T/index")" &&
	test "$(manifest_digest "$REG/multi/app@$(cat "$T/amd64")")" = "$(cat "$T/amd64")" &&
	test "$(manifest_digest "$REG/multi/app@$(cat "$T/arm64")")" = "$(cat "$T/arm64")" &&
	skopeo inspect --raw --tls-verify=false "docker://$REG/multi/app:1" >"$T/raw" &&
	grep -q "\"architecture\":\"arm64\"" "$T/raw" &&
	skopeo copy -q --all --src-tls-verify=false "docker://$REG/multi/app:1" "oci:$T/all:x"
'

test_expect_success 'pulling the index takes the asked platform' '
	CAIRN_HOME="$T/fresh" "$CAIRN" image pull -q --platform linux/arm64 --name got \
		"$REG/multi/app:1" >"$T/got" &&
	test_cmp "$T/arm64" "$T/got" &&
	CAIRN_HOME="$T/fresh" "$CAIRN" image pull -q --platform linux/amd64 \
		"$REG/multi/app:1" >"$T/got2" &&
	test_cmp "$T/amd64" "$T/got2" &&
	skopeo inspect --raw "oci:$T/fresh/store:got" | sha256sum | grep -q "$(cut -d: -f2 "$T/arm64")"
'

test_expect_success 'a platform the index lacks is a clear error' '
	test_must_fail "$CAIRN" image pull --platform linux/s390x "$REG/multi/app:1" 2>"$T/err" &&
	grep -q "no manifest for platform .linux/s390x." "$T/err" &&
	grep -q "linux/amd64" "$T/err" && grep -q "linux/arm64" "$T/err"
'

test_expect_success 're-pushing the unchanged index is one request' '
	before=$(registry_log_count "HTTP/1.1\"") &&
	"$CAIRN" image push -q multi "$REG/multi/app:1" >/dev/null &&
	test $(($(registry_log_count "HTTP/1.1\"") - before)) = 1
'

test_done
