#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn build: (a) the gitCache stage: small commits go to gitLatestPatch, and once the diff since
# the archive passes a MiB it is folded into gitCache and the patch stage comes out empty;
# (b) fromLatest: a new base image pushed under the same tag rebuilds from the from stage on,
# and only for the image that asks for it.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" Q="$T/fromlatest"
export STORE="$CAIRN_HOME/store"

commit() {
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$1"
}

# unpack REPORT IMAGE DIR: umoci unpack IMAGE's last stage into DIR (the rootfs is DIR/rootfs)
unpack() {
	rm -rf "$3" && umoci unpack --image "$STORE:gc:$(report_sig "$1" "$2")" "$3" >/dev/null
}

# label REPORT IMAGE KEY: the value of label KEY in the config of IMAGE's last stage
label() {
	skopeo inspect --config "oci:$STORE:gc:$(report_sig "$1" "$2")" |
		python3 -c 'import json, sys; print((json.load(sys.stdin)["config"].get("Labels") or {}).get(sys.argv[1], ""))' "$3"
}

mkdir -p "$P/app"
git init -q "$P"
echo 'v1' >"$P/app/main.txt"
cat >"$P/werf.yaml" <<YAML
project: gc
configVersion: 1
---
image: code
from: $REG/base/busybox:1
git:
- add: /app
  to: /srv/app
docker:
  ENV: {MODE: prod}
YAML
commit init

# (b) is a project of its own, outside git, so that (a) does not depend on fromLatest
mkdir -p "$Q"
cat >"$Q/werf.yaml" <<YAML
project: gc
configVersion: 1
---
image: latest
from: $REG/base/busybox:1
fromLatest: true
shell:
  install: [echo latest > /built]
---
image: pinned
from: $REG/base/busybox:1
shell:
  install: [echo pinned > /built]
YAML

test_expect_success 'the first build: no gitCache, no gitLatestPatch' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" &&
	test "$(report_stages "$T/r1.json" code any)" = "from gitArchive dockerInstructions"
'

test_expect_success 'small commits (under a MiB since the archive) rebuild only gitLatestPatch' '
	head -c 100000 /dev/urandom | od -An -tx1 | head -c 200000 >"$P/app/small1.txt" &&
	commit small1 &&
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" &&
	test "$(report_stages "$T/r2.json" code false)" = "gitLatestPatch dockerInstructions" &&
	test "$(report_stages "$T/r2.json" code any)" = \
		"from gitArchive gitLatestPatch dockerInstructions" &&
	head -c 100000 /dev/urandom | od -An -tx1 | head -c 200000 >"$P/app/small2.txt" &&
	echo v2 >"$P/app/main.txt" && commit small2 &&
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" &&
	test "$(report_stages "$T/r3.json" code false)" = "gitLatestPatch dockerInstructions" &&
	test "$(report_stages "$T/r3.json" code true)" = "from gitArchive"
'

test_expect_success 'a 2 MiB commit is folded into gitCache; gitLatestPatch is empty' '
	head -c 2M /dev/urandom >"$P/app/big.bin" && commit big &&
	"$CAIRN" build --dir "$P" --report "$T/r4.json" >"$T/out4" &&
	test "$(report_stages "$T/r4.json" code false)" = "gitCache dockerInstructions" &&
	test "$(report_stages "$T/r4.json" code any)" = "from gitArchive gitCache dockerInstructions" &&
	unpack "$T/r4.json" code "$T/c4" &&
	cmp "$P/app/big.bin" "$T/c4/rootfs/srv/app/big.bin" &&
	cmp "$P/app/small1.txt" "$T/c4/rootfs/srv/app/small1.txt" &&
	cmp "$P/app/small2.txt" "$T/c4/rootfs/srv/app/small2.txt" &&
	test "$(cat "$T/c4/rootfs/srv/app/main.txt")" = v2
'

test_expect_success 'after gitCache, a small commit is a patch on top of the cached stage' '
	echo v3 >"$P/app/main.txt" && commit v3 &&
	"$CAIRN" build --dir "$P" --report "$T/r5.json" >"$T/out5" &&
	test "$(report_stages "$T/r5.json" code false)" = "gitLatestPatch dockerInstructions" &&
	test "$(report_stages "$T/r5.json" code true)" = "from gitArchive gitCache" &&
	unpack "$T/r5.json" code "$T/c5" &&
	test "$(cat "$T/c5/rootfs/srv/app/main.txt")" = v3 &&
	cmp "$P/app/big.bin" "$T/c5/rootfs/srv/app/big.bin"
'

test_expect_success 'fromLatest: the first build, then a second that rebuilds nothing' '
	"$CAIRN" build --dir "$Q" --report "$T/p1.json" pinned >"$T/pout1" &&
	test "$(report_stages "$T/p1.json" pinned any)" = "from install" &&
	test "$(report_stages "$T/p1.json" pinned false)" = install &&
	"$CAIRN" build --dir "$Q" --report "$T/f1.json" >"$T/fout1" &&
	test "$(report_stages "$T/f1.json" latest any)" = "from install" &&
	test "$(label "$T/f1.json" latest x)" = "" &&
	"$CAIRN" build --dir "$Q" --report "$T/f2.json" >"$T/fout2" &&
	! grep -q "\[BUILDING\]" "$T/fout2" &&
	test "$(report_sig "$T/f2.json" latest)" = "$(report_sig "$T/f1.json" latest)"
'

test_expect_success 'fromLatest: a new base image under the same tag rebuilds from from on' '
	old=$(manifest_digest "$REG/base/busybox:1") &&
	cp -R "$(base_image_layout)" "$T/base2" &&
	umoci config --image "$T/base2:base" --config.label x=y &&
	skopeo copy -q --dest-tls-verify=false "oci:$T/base2:base" \
		"docker://$REG/base/busybox:1" </dev/null &&
	test "$(manifest_digest "$REG/base/busybox:1")" != "$old" &&
	"$CAIRN" build --dir "$Q" --report "$T/f3.json" >"$T/fout3" &&
	test "$(report_stages "$T/f3.json" latest false)" = "from install" &&
	test "$(label "$T/f3.json" latest x)" = y &&
	unpack "$T/f3.json" latest "$T/l3" &&
	test "$(cat "$T/l3/rootfs/built")" = latest
'

test_expect_success 'without fromLatest the image keeps the base it was built on' '
	"$CAIRN" build --dir "$Q" --report "$T/p2.json" pinned >"$T/pout2" &&
	test "$(report_stages "$T/p2.json" pinned true)" = "from install" &&
	test "$(report_sig "$T/p2.json" pinned)" = "$(report_sig "$T/p1.json" pinned)" &&
	test "$(label "$T/p2.json" pinned x)" = "" &&
	"$CAIRN" build --dir "$P" --report "$T/r6.json" >"$T/out6" &&
	! grep -q "\[BUILDING\]" "$T/out6"
'

test_expect_success 'fromLatest: the same new base again rebuilds nothing' '
	"$CAIRN" build --dir "$Q" --report "$T/f4.json" >"$T/fout4" &&
	! grep -q "\[BUILDING\]" "$T/fout4" &&
	test "$(report_sig "$T/f4.json" latest)" = "$(report_sig "$T/f3.json" latest)"
'

test_done
