#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The shared stages storage, one interleaving at a time. A manifest PUT that the registry
# refuses for a blob it does not know is retried after the blobs are checked (and uploaded)
# again; a blob that stays missing ends in a clear error after a bounded number of tries.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo python3 curl

registry_start
base_image_push "$REG/base/busybox:1"

test_expect_success 'setup: the base image in the store' '
	cairn_run image pull -q --name base "$REG/base/busybox:1" >/dev/null
'

test_expect_success 'a manifest refused for an unknown blob: blobs checked again, PUT retried' '
	fault_proxy_start "status=200 HEAD /v2/retry/busybox/blobs/sha256: 1" &&
	cairn_run image push base "$PROXY/retry/busybox:1" >"$T/digest" 2>"$T/retry.err" &&
	grep -q MANIFEST_BLOB_UNKNOWN "$T/retry.err" &&
	test "$(proxy_log_count "\"PUT /v2/retry/busybox/manifests/1\" 400")" = 1 &&
	test "$(proxy_log_count "\"PUT /v2/retry/busybox/manifests/1\" 201")" = 1 &&
	test "$(manifest_digest "$REG/retry/busybox:1")" = "$(cat "$T/digest")" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/retry/busybox:1" "oci:$T/retry:x"
'

test_expect_success 'a blob that stays missing: a clear error after a bounded number of tries' '
	CAIRN_HOME="$T/h5" "$CAIRN" image pull -q --name base "$REG/base/busybox:1" >/dev/null &&
	fault_proxy_start "status=200 HEAD /v2/missing/busybox/blobs/sha256: inf" &&
	test_must_fail env CAIRN_HOME="$T/h5" "$CAIRN" image push base \
		"$PROXY/missing/busybox:1" 2>"$T/missing.err" &&
	grep "error: push .*/missing/busybox:1.*HTTP 400.*MANIFEST_BLOB_UNKNOWN: blob unknown to registry .sha256:[0-9a-f]\{64\}." \
		"$T/missing.err" &&
	test "$(proxy_log_count "\"PUT /v2/missing/busybox/manifests/1\" 400")" = 5
'

test_done
