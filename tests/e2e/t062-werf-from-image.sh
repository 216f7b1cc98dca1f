#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# werf configs chain images: fromImage (image on image, three levels) and fromImageArtifact
# (image on artifact) build, are cached, and publish; `--stages-storage :local`, which werf v1.0
# requires on every command, means the local store only.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"
export STORE="$CAIRN_HOME/store"

# field REPORT IMAGE KEY: a field of IMAGE in a --report file (KEY=built: names of built stages)
field() {
	python3 - "$@" <<'PY'
import json, sys
im = [i for i in json.load(open(sys.argv[1]))["images"] if i["name"] == sys.argv[2]][0]
if sys.argv[3] == "built":
    print(" ".join(s["name"] for s in im["stages"] if not s["cached"]))
else:
    print(im[sys.argv[3]])
PY
}

mkdir -p "$P"
git init -q "$P"
cat >"$P/werf.yaml" <<YAML
project: chain
configVersion: 1
---
image: base
from: $REG/base/busybox:1
shell:
  install: [echo base > /layer-base]
---
image: middle
fromImage: base
shell:
  install: [echo middle > /layer-middle]
---
image: top
fromImage: middle
shell:
  setup: [cat /layer-base /layer-middle > /seen-by-top]
docker:
  ENV: {LEVEL: three}
---
artifact: tools
from: $REG/base/busybox:1
shell:
  install: [echo tool > /tool]
---
image: on-artifact
fromImageArtifact: tools
shell:
  install: [cat /tool > /seen-by-image]
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

test_expect_success 'fromImage and fromImageArtifact chains build on a first build' '
	"$CAIRN" build --dir "$P" --stages-storage :local --report "$T/r1.json" >"$T/out1" &&
	test "$(field "$T/r1.json" top built)" = "from setup dockerInstructions" &&
	test "$(field "$T/r1.json" on-artifact built)" = "from install" &&
	rm -rf "$T/u" && umoci unpack --image "$STORE:chain:$(field "$T/r1.json" top signature)" \
		"$T/u" >/dev/null &&
	test "$(cat "$T/u/rootfs/seen-by-top")" = "base
middle" &&
	rm -rf "$T/v" &&
	umoci unpack --image "$STORE:chain:$(field "$T/r1.json" on-artifact signature)" \
		"$T/v" >/dev/null &&
	test "$(cat "$T/v/rootfs/seen-by-image")" = tool
'

test_expect_success 'the from stage of a fromImage is the base image itself, and is cached' '
	test "$(field "$T/r1.json" middle digest)" != "$(field "$T/r1.json" base digest)" &&
	"$CAIRN" build --dir "$P" --stages-storage :local --report "$T/r2.json" >"$T/out2" &&
	for i in base middle top tools on-artifact; do
		test -z "$(field "$T/r2.json" "$i" built)" || return 1
	done &&
	test "$(field "$T/r2.json" top signature)" = "$(field "$T/r1.json" top signature)"
'

test_expect_success 'build-and-publish with --stages-storage :local pushes images, no stages' '
	"$CAIRN" build-and-publish --dir "$P" --stages-storage :local --images-repo "$REG/chain" \
		--tag-custom v1 >"$T/out3" &&
	skopeo inspect --tls-verify=false "docker://$REG/chain/top:v1" >"$T/top.json" &&
	grep -q "LEVEL=three" "$T/top.json" &&
	image_check "$REG/chain/top:v1" &&
	image_check "$REG/chain/on-artifact:v1" &&
	for i in base middle top on-artifact; do
		curl -fsS "http://$REG/v2/chain/$i/tags/list" >"$T/tags" &&
			grep -q "\"tags\":\[\"v1\"\]" "$T/tags" || return 1
	done &&
	test "$(curl -fsS "http://$REG/v2/_catalog")" = \
		"{\"repositories\":[\"base/busybox\",\"chain/base\",\"chain/middle\",\"chain/on-artifact\",\"chain/top\"]}"
'

test_done
