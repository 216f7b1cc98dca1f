#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The local store is a real OCI layout: skopeo and umoci read what cairn writes, cairn reads what
# skopeo writes, corruption is reported without losing anything, and concurrent writers all land.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool skopeo
require_tool umoci
require_tool docker-registry
export ST="${CAIRN_STORE_TOOL:?set CAIRN_STORE_TOOL to the built store-tool}"
export STORE="$T/home/store"

sha256_of() {
	printf 'sha256:%s\n' "$(sha256sum | cut -d' ' -f1)"
}

registry_start

test_expect_success 'cairn writes an image into a fresh store' '
	mkdir -p "$T/rootfs/etc" &&
	echo "hello from cairn" >"$T/rootfs/etc/greeting" &&
	tar -C "$T/rootfs" -cf - . | gzip -n >"$T/layer.tar.gz" &&
	"$ST" "$STORE" put-image demo:sig1 "$T/layer.tar.gz" >"$T/digest" &&
	test -f "$STORE/oci-layout" && test -f "$STORE/index.json"
'

test_expect_success 'skopeo inspect reads the manifest cairn wrote, byte for byte' '
	skopeo inspect --raw "oci:$STORE:demo:sig1" | sha256_of >"$T/skopeo-digest" &&
	test "$(cat "$T/skopeo-digest")" = "$(cat "$T/digest")" &&
	skopeo inspect "oci:$STORE:demo:sig1" >"$T/inspect.json" &&
	grep -q "\"Os\": \"linux\"" "$T/inspect.json" &&
	grep -q "PATH=/bin" "$T/inspect.json"
'

test_expect_success 'skopeo copy to another layout keeps the digest' '
	skopeo copy -q "oci:$STORE:demo:sig1" "oci:$T/copy:demo" &&
	skopeo inspect --raw "oci:$T/copy:demo" | sha256_of >"$T/copy-digest" &&
	test "$(cat "$T/copy-digest")" = "$(cat "$T/digest")"
'

test_expect_success 'skopeo copy to a real registry keeps the digest' '
	skopeo copy -q --dest-tls-verify=false "oci:$STORE:demo:sig1" "docker://$REG/demo:1" &&
	test "$(manifest_digest "$REG/demo:1")" = "$(cat "$T/digest")"
'

test_expect_success 'umoci unpacks the image with the file in it' '
	umoci unpack --image "$STORE:demo:sig1" "$T/bundle" >/dev/null &&
	test "$(cat "$T/bundle/rootfs/etc/greeting")" = "hello from cairn"
'

test_expect_success 'cairn reads and verifies an image skopeo wrote into its store' '
	base_image_push "$REG/base/busybox:1" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/base/busybox:1" "oci:$STORE:base" &&
	"$ST" "$STORE" get base >"$T/base-digest" &&
	test "$(cat "$T/base-digest")" = "$(skopeo inspect --raw "oci:$STORE:base" | sha256_of)" &&
	"$ST" "$STORE" get demo:sig1 >/dev/null &&
	"$ST" "$STORE" ls >"$T/ls" &&
	grep -q "^demo:sig1 " "$T/ls" && grep -q "^base " "$T/ls"
'

test_expect_success 'a corrupted blob is a clear error and nothing is lost' '
	layer=$(sed -n "s/.*\"layers\":\[{[^}]*\"digest\":\"sha256:\([0-9a-f]*\)\".*/\1/p" \
		"$STORE/blobs/sha256/$(cut -d: -f2 "$T/digest")") &&
	test -n "$layer" &&
	cp "$STORE/blobs/sha256/$layer" "$T/layer.good" &&
	printf "X" | dd of="$STORE/blobs/sha256/$layer" bs=1 seek=100 conv=notrunc 2>/dev/null &&
	test_must_fail "$ST" "$STORE" get demo:sig1 2>"$T/err" &&
	grep -q "is corrupt" "$T/err" &&
	grep -q "sha256:$layer" "$T/err" &&
	"$ST" "$STORE" ls >"$T/ls2" &&
	test_cmp "$T/ls" "$T/ls2" &&
	"$ST" "$STORE" get base >/dev/null &&
	"$ST" "$STORE" put-image demo:sig1 "$T/layer.tar.gz" >/dev/null &&
	"$ST" "$STORE" get demo:sig1 >/dev/null
'

test_expect_success 'concurrent writers all land in index.json' '
	i=0 && pids="" &&
	while [ $i -lt 8 ]; do
		mkdir -p "$T/c$i" && echo "$i" >"$T/c$i/n" &&
		tar -C "$T/c$i" -cf "$T/c$i.tar" . &&
		{ "$ST" "$STORE" put-image "par:$i" "$T/c$i.tar" >/dev/null & pids="$pids $!"; } &&
		i=$((i + 1))
	done &&
	fails=0 &&
	for p in $pids; do wait "$p" || fails=$((fails + 1)); done &&
	test "$fails" = 0 &&
	"$ST" "$STORE" ls >"$T/ls3" &&
	test "$(grep -c "^par:" "$T/ls3")" = 8 &&
	python3 -m json.tool "$STORE/index.json" >/dev/null &&
	skopeo inspect --raw "oci:$STORE:par:5" >/dev/null &&
	test -z "$(ls "$STORE/.cairn/tmp")"
'

test_expect_success 'cairn stages ls lists every name with its size' '
	"$CAIRN" stages ls >"$T/stages" &&
	grep -q "^demo:sig1 .*sha256:" "$T/stages" && grep -q "^base " "$T/stages" &&
	test "$(grep -c "^par:" "$T/stages")" = 8
'

test_expect_success 'cairn stages gc removes only what no name references' '
	mkdir -p "$T/orphan" && echo orphan >"$T/orphan/f" &&
	tar -C "$T/orphan" -cf - . | gzip -n >"$T/orphan.tgz" &&
	"$ST" "$STORE" put-image orphan "$T/orphan.tgz" >"$T/orphan.digest" &&
	"$ST" "$STORE" rm orphan &&
	before=$(ls "$STORE/blobs/sha256" | wc -l) &&
	"$CAIRN" stages gc --grace 0 >"$T/gc.out" &&
	grep -q "^removed 3 blobs" "$T/gc.out" &&
	test "$(ls "$STORE/blobs/sha256" | wc -l)" = $((before - 3)) &&
	test ! -e "$STORE/blobs/sha256/$(cut -d: -f2 "$T/orphan.digest")" &&
	"$ST" "$STORE" get demo:sig1 >/dev/null && "$ST" "$STORE" get base >/dev/null &&
	skopeo inspect "oci:$STORE:par:3" >/dev/null &&
	"$CAIRN" stages gc >"$T/gc2.out" && grep -q "^removed 0 blobs" "$T/gc2.out"
'

test_expect_success 'an index.json that is not an object, or missing beside blobs: refused' '
	cp "$STORE/index.json" "$T/index.keep" &&
	echo "[]" >"$STORE/index.json" &&
	test_must_fail "$CAIRN" stages ls 2>"$T/err" && cat "$T/err" &&
	grep -q "index.json: not a JSON object" "$T/err" &&
	test_must_fail "$CAIRN" stages gc --grace 0 2>"$T/err" &&
	rm "$STORE/index.json" &&
	test_must_fail "$CAIRN" stages gc --grace 0 2>"$T/err" && cat "$T/err" &&
	grep -q "index.json is missing but blobs/sha256 holds blobs" "$T/err" &&
	test ! -e "$STORE/index.json" &&
	cp "$T/index.keep" "$STORE/index.json" &&
	"$ST" "$STORE" get demo:sig1 >/dev/null && skopeo inspect "oci:$STORE:par:3" >/dev/null
'

test_done
