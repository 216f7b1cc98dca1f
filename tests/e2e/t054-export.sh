#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn export: a built image to docker-archive, oci-archive and oci, read back by independent
# clients (docker load + docker run, skopeo, umoci); a fresh host exports an image whose
# stages it took from the stages storage (layers pulled); bad requests are usage errors.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool dockerd docker docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

P=$T/project
S=$REG/stages
mkdir -p "$P" && git init -q "$P" || exit 1
cat >"$P/werf.yaml" <<EOF || exit 1
project: exp
configVersion: 1
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo exported-app > /app.txt]
docker:
  CMD: [cat, /app.txt]
---
image: otherImg
from: $REG/base/busybox:1
EOF
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m i ||
	exit 1

test_expect_success 'an image not built yet is an error that says so' '
	test_must_fail cairn_run export --dir "$P" app "docker-archive:$T/none.tar" 2>"$T/e0" &&
	grep -q "not built" "$T/e0" && test ! -e "$T/none.tar"
'

test_expect_success 'images ls before a build: each image, the stage to build first' '
	cairn_run images ls --dir "$P" >"$T/ls0" &&
	cat "$T/ls0" &&
	grep -q "^app  *image  *-  *to build from from  *-$" "$T/ls0" &&
	grep -q "^otherImg  *image  *-  *to build from from  *-$" "$T/ls0"
'

test_expect_success 'docker-archive: docker load, then docker run the image' '
	cairn_run build --dir "$P" -q -s "$S" &&
	cairn_run export --dir "$P" app "docker-archive:$T/app.tar:exp/app:v1" &&
	! ls "$T"/app.tar.tmp-* 2>/dev/null &&
	skopeo inspect "docker-archive:$T/app.tar" >"$T/inspect.json" &&
	docker_engine_start &&
	docker_cmd load -i "$T/app.tar" >"$T/load.out" &&
	grep -q "Loaded image: exp/app:v1" "$T/load.out" &&
	test "$(docker_cmd run --rm --network none exp/app:v1)" = exported-app
'

test_expect_success 'images ls and inspect after it: built, sized; config, layers, chain' '
	cairn_run images ls --dir "$P" >"$T/ls1" &&
	grep -q "^app  *image  *[0-9a-f]\{12\}  *built  *[0-9.]* [KM]iB$" "$T/ls1" &&
	cairn_run inspect --dir "$P" app >"$T/i.json" &&
	python3 -c "
import json, sys
i = json.load(open(sys.argv[1]))
assert i[\"project\"] == \"exp\" and i[\"name\"] == \"app\", i
assert i[\"config\"][\"config\"][\"Cmd\"] == [\"cat\", \"/app.txt\"], i[\"config\"]
assert [s[\"name\"] for s in i[\"stages\"]][-1] == \"dockerInstructions\", i[\"stages\"]
assert i[\"stages\"][-1][\"digest\"] == i[\"digest\"] and i[\"layers\"], i
print(i[\"signature\"], i[\"digest\"])
" "$T/i.json" >"$T/i.sig" &&
	read -r sig dg <"$T/i.sig" &&
	test "$(skopeo inspect --format "{{.Digest}}" "oci:$CAIRN_HOME/store:exp:$sig")" = "$dg" &&
	{
		cairn_run inspect --dir "$P" 2>"$T/i.err"
		test $? -eq 2
	} && grep -q "the config has 2 images" "$T/i.err"
'

test_expect_success 'the default name is PROJECT/IMAGE:SIGNATURE, in small letters' '
	cairn_run export --dir "$P" app "docker-archive:$T/app2.tar" &&
	docker_cmd load -i "$T/app2.tar" >"$T/load2.out" &&
	grep -q "Loaded image: exp/app:[0-9a-f]\{64\}$" "$T/load2.out" &&
	cairn_run export --dir "$P" otherImg "docker-archive:$T/other.tar" &&
	docker_cmd load -i "$T/other.tar" >"$T/load3.out" &&
	grep -q "Loaded image: exp/otherimg:[0-9a-f]\{64\}$" "$T/load3.out"
'

test_expect_success 'oci-archive and oci: skopeo and umoci read them, with the same manifest' '
	cairn_run export --dir "$P" app "oci-archive:$T/app.oci.tar:v1" &&
	skopeo inspect --raw "oci-archive:$T/app.oci.tar:v1" >"$T/m1" &&
	cairn_run export --dir "$P" app "oci:$T/layout:v1" &&
	cairn_run export --dir "$P" otherImg "oci:$T/layout:other" &&
	skopeo inspect --raw "oci:$T/layout:v1" >"$T/m2" &&
	cmp "$T/m1" "$T/m2" &&
	skopeo inspect "oci:$T/layout:other" >/dev/null &&
	umoci unpack --rootless --image "$T/layout:v1" "$T/bundle" >/dev/null &&
	test "$(cat "$T/bundle/rootfs/app.txt")" = exported-app
'

test_expect_success 'a fresh host exports an image taken from the stages storage' '
	CAIRN_HOME=$T/fresh cairn_run export --dir "$P" -s "$S" app "docker-archive:$T/fresh.tar" &&
	skopeo copy -q "docker-archive:$T/fresh.tar" "oci:$T/fresh-layout:x" &&
	umoci unpack --rootless --image "$T/fresh-layout:x" "$T/fresh-bundle" >/dev/null &&
	test "$(cat "$T/fresh-bundle/rootfs/app.txt")" = exported-app
'

test_expect_success 'bad requests: two images and none named, an unknown image, a bad DEST' '
	{
		cairn_run export --dir "$P" "docker-archive:$T/x.tar" 2>"$T/e1"
		test $? -eq 2
	} && grep -q "the config has 2 images: name the one to export" "$T/e1" &&
	{
		cairn_run export --dir "$P" nope "docker-archive:$T/x.tar" 2>"$T/e2"
		test $? -eq 2
	} && grep -q "no image .nope. in the config" "$T/e2" &&
	{
		cairn_run export --dir "$P" app "tarball:$T/x.tar" 2>"$T/e3"
		test $? -eq 2
	} && grep -q "invalid destination .tarball:" "$T/e3" &&
	test ! -e "$T/x.tar"
'

test_done
