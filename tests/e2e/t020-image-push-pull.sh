#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn image pull/push against plain registries: digests survive both ways (checked through the
# /v2 API and skopeo, never cairn's output), an unchanged re-push is one request, blobs already in
# the registry are mounted across repositories, a 100 MiB layer goes up, and errors are clear.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo umoci curl sha256sum gzip
ST=${CAIRN_STORE_TOOL:?set CAIRN_STORE_TOOL to the built store-tool}
STORE=$CAIRN_HOME/store
ROOTLESS=''
[ "$(id -u)" -eq 0 ] || ROOTLESS=--rootless

# Requests in a registry log: its access log lines ('"METHOD /...'), nothing else.
reg_requests () {
	grep -cE '"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /' "$1"
	[ $? -le 1 ]
}

# The access log line of a request comes just after its response: let it land before counting.
log_settle () {
	sleep 0.3
}

sha256_of () {
	printf 'sha256:%s\n' "$(sha256sum | cut -d' ' -f1)"
}

registry_start --name R1
registry_start --name R2
base_image_push "$R1/base/busybox:1"

test_expect_success 'pull the base image into the store' '
	BASE=$(manifest_digest "$R1/base/busybox:1") &&
	cairn_run image pull "$R1/base/busybox:1" >"$T/pull.out" &&
	test "$(cat "$T/pull.out")" = "$BASE" &&
	"$ST" "$STORE" get "$R1/base/busybox:1" >"$T/store.digest" &&
	test "$(cat "$T/store.digest")" = "$BASE" &&
	test "$(skopeo inspect --raw "oci:$STORE:$R1/base/busybox:1" | sha256_of)" = "$BASE"
'

test_expect_success 'push to another repository of the same registry mounts every blob' '
	cairn_run image push "$R1/base/busybox:1" "$R1/copy/busybox:2" >"$T/push1.out" &&
	test "$(manifest_digest "$R1/copy/busybox:2")" = "$BASE" &&
	test "$(cat "$T/push1.out")" = "$BASE" &&
	log_settle &&
	grep -F "\"POST /v2/copy/busybox/blobs/uploads/?" "$R1_LOG" >"$T/mounts" &&
	test "$(grep -c "mount=sha256:.* 201 " "$T/mounts")" -eq 2 &&
	test "$(grep -vc "mount=sha256:.* 201 " "$T/mounts")" -eq 0 &&
	test "$(registry_log_count "\"PATCH /v2/copy/busybox/" "$R1")" -eq 0 &&
	test "$(registry_log_count "\"PUT /v2/copy/busybox/blobs/" "$R1")" -eq 0
'

test_expect_success 'push to a second registry uploads it; skopeo and umoci read it back' '
	cairn_run image push "$R1/base/busybox:1" "$R2/mirror/busybox:1" >"$T/push2.out" &&
	test "$(manifest_digest "$R2/mirror/busybox:1")" = "$BASE" &&
	log_settle &&
	test "$(registry_log_count "\"PUT /v2/mirror/busybox/blobs/uploads/" "$R2")" -eq 2 &&
	skopeo copy -q --src-tls-verify=false "docker://$R2/mirror/busybox:1" "oci:$T/oci:mirror" &&
	test "$(skopeo inspect --raw "oci:$T/oci:mirror" | sha256_of)" = "$BASE" &&
	umoci unpack ${ROOTLESS:+"$ROOTLESS"} --image "$T/oci:mirror" "$T/bundle" >/dev/null &&
	test -x "$T/bundle/rootfs/bin/busybox" &&
	test -L "$T/bundle/rootfs/bin/sh" &&
	cmp "$T/bundle/rootfs/bin/busybox" "${CAIRN_TEST_BUSYBOX:-/bin/busybox}"
'

test_expect_success 'a re-push of the unchanged image is exactly one request' '
	log_settle &&
	n=$(reg_requests "$R2_LOG") &&
	cairn_run image push "$R1/base/busybox:1" "$R2/mirror/busybox:1" >"$T/push3.out" &&
	log_settle &&
	{ grep -E "\"(GET|HEAD|POST|PUT|PATCH|DELETE) /" "$R2_LOG" | tail -n "+$((n + 1))" >"$T/new"; } &&
	cat "$T/new" &&
	test "$(reg_requests "$R2_LOG")" -eq "$((n + 1))" &&
	grep -q "\"HEAD /v2/mirror/busybox/manifests/1 " "$T/new" &&
	test "$(manifest_digest "$R2/mirror/busybox:1")" = "$BASE" &&
	n=$(reg_requests "$R1_LOG") &&
	cairn_run image push "$R1/base/busybox:1" "$R1/copy/busybox:2" >/dev/null &&
	log_settle &&
	test "$(reg_requests "$R1_LOG")" -eq "$((n + 1))"
'

test_expect_success 'a 100 MiB random layer goes up and reads back' '
	mkdir -p "$T/big" &&
	head -c 104857600 /dev/urandom >"$T/big/random.bin" &&
	tar -C "$T/big" -cf - random.bin | gzip -1 >"$T/big.tar.gz" &&
	rm "$T/big/random.bin" &&
	layer=$(sha256_of <"$T/big.tar.gz") &&
	"$ST" "$STORE" put-image big:1 "$T/big.tar.gz" >"$T/big.digest" &&
	rm "$T/big.tar.gz" &&
	start=$(date +%s) &&
	cairn_run image push -j 2 big:1 "$R1/big/layer:1" >/dev/null &&
	echo "push took $(($(date +%s) - start)) s" &&
	test "$(manifest_digest "$R1/big/layer:1")" = "$(cat "$T/big.digest")" &&
	skopeo inspect --tls-verify=false "docker://$R1/big/layer:1" >"$T/big.json" &&
	grep -qF "\"$layer\"" "$T/big.json" &&
	curl -fsS "$R1_URL/v2/big/layer/blobs/$layer" | sha256_of >"$T/big.served" &&
	test "$(cat "$T/big.served")" = "$layer"
'

test_expect_success 'pushing a name that is not in the store fails and names it' '
	{
		cairn_run image push no/such-image:7 "$R1/x/y:1" >"$T/out" 2>"$T/err"
		rc=$?
	} &&
	cat "$T/err" &&
	test "$rc" -eq 1 &&
	grep -qF "no/such-image:7" "$T/err" &&
	test ! -s "$T/out"
'

test_expect_success 'an invalid reference is refused' '
	test_must_fail cairn_run image push "$R1/base/busybox:1" "$R1/Not Valid::ref" 2>"$T/err1" &&
	grep -qi "invalid reference" "$T/err1" &&
	test_must_fail cairn_run image pull "$R1/UPPER/case:1" 2>"$T/err2" &&
	grep -qi "invalid reference" "$T/err2"
'

test_expect_success 'pulling a tag that does not exist fails with MANIFEST_UNKNOWN' '
	test_must_fail cairn_run image pull "$R1/base/busybox:no-such-tag" >"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	grep -qiE "MANIFEST_UNKNOWN|manifest unknown" "$T/err" &&
	test ! -s "$T/out"
'

test_expect_success 'mounts the registry declines: the upload goes into the session one opened' '
	: "the repositories the store knows the blobs from lose them (their files go)" &&
	rm -rf "$R1_STORAGE/docker/registry/v2/repositories/base" \
		"$R1_STORAGE/docker/registry/v2/repositories/copy" &&
	cairn_run image push "$R1/base/busybox:1" "$R1/third/busybox:1" >"$T/push4.out" &&
	test "$(manifest_digest "$R1/third/busybox:1")" = "$BASE" &&
	log_settle &&
	: "per blob: a mount from each repository, declined; the first one'"'"'s session carries the" &&
	: "upload (a whole PUT), the second one'"'"'s is ended; no other upload is started" &&
	test "$(registry_log_count "\"POST /v2/third/busybox/blobs/uploads/?mount=" "$R1")" -eq 4 &&
	test "$(registry_log_count "\"POST /v2/third/busybox/blobs/uploads/ " "$R1")" -eq 0 &&
	test "$(registry_log_count "\"DELETE /v2/third/busybox/blobs/uploads/" "$R1")" -eq 2 &&
	test "$(registry_log_count "\"PUT /v2/third/busybox/blobs/uploads/" "$R1")" -eq 2 &&
	skopeo inspect --tls-verify=false "docker://$R1/third/busybox:1" >/dev/null
'

test_done
