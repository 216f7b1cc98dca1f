#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn build: an artifact built like an image and imported (a directory, with excludePaths and
# owner) into an image after install; another image imports a single file from that image before
# setup. The import stages are signed by the source's signature: changing the artifact rebuilds
# the importers from their import stage on, and --dry-run shows each importer (and an image
# built from one) stopping at the stage that stands on it. An import of an unknown artifact is a
# config error.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"
export STORE="$CAIRN_HOME/store"

commit() {
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$1"
}

# unpack REPORT IMAGE DIR: umoci unpack IMAGE's last stage into DIR (the rootfs is DIR/rootfs)
unpack() {
	rm -rf "$3" && umoci unpack --image "$STORE:imp:$(report_sig "$1" "$2")" "$3" >/dev/null
}

mkdir -p "$P"
git init -q "$P"
cat >"$P/werf.yaml" <<YAML
project: imp
configVersion: 1
---
image: other
from: $REG/base/busybox:1
shell:
  setup: [cat /etc/a.txt > /etc/a-copy]
import:
- image: app
  add: /srv/static/a.txt
  to: /etc/a.txt
  before: setup
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo app-install > /app-install]
  setup: [cat /srv/static/a.txt > /setup-saw]
import:
- artifact: assets
  add: /build/out
  to: /srv/static
  after: install
  excludePaths: ["*.log"]
  owner: app
docker:
  ENV: {MODE: prod}
---
artifact: assets
from: $REG/base/busybox:1
shell:
  install:
  - mkdir -p /build/out/sub
  - echo alpha > /build/out/a.txt
  - echo beta > /build/out/sub/b.txt
  - echo noise > /build/out/skip.log
YAML
commit init

test_expect_success 'build --dry-run before any build: each image its first stage to build' '
	"$CAIRN" build --dir "$P" --dry-run --report "$T/dry0.json" >"$T/dry0" 2>"$T/dry0.err" &&
	cat "$T/dry0" &&
	test "$(grep -c "\[TO BUILD\] and every stage after it" "$T/dry0")" = 3 &&
	! grep -q "\[BUILDING\]" "$T/dry0" &&
	{ test ! -e "$CAIRN_HOME/store/index.json" ||
		! grep -q "imp:" "$CAIRN_HOME/store/index.json"; }
'

test_expect_success 'build --dry-run before any build: an image on one with nothing stored stops at from' '
	{ cat "$P/werf.yaml" && printf -- "---\nimage: child\nfromImage: other\n"; } >"$T/child0.yaml" &&
	"$CAIRN" build --dir "$P" --config "$T/child0.yaml" --dry-run >"$T/dryc" 2>"$T/dryc.err" &&
	test "$(grep -c "\[TO BUILD\] and every stage after it" "$T/dryc")" = 4 &&
	grep -A1 "^child$" "$T/dryc" | grep -q "^  from  *.*\[TO BUILD\]" &&
	! grep -q "not built" "$T/dryc.err"
'

test_expect_success 'the first build builds what is imported before the importers' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" &&
	python3 - "$T/r1.json" <<PY &&
import json, sys
r = json.load(open(sys.argv[1]))
assert [(i["name"], i["artifact"]) for i in r["images"]] == \
    [("assets", True), ("app", False), ("other", False)], r["images"]
PY
	test "$(report_stages "$T/r1.json" assets any)" = "from install" &&
	test "$(report_stages "$T/r1.json" app false)" = \
		"install importsAfterInstall setup dockerInstructions" &&
	test "$(report_stages "$T/r1.json" app any)" = \
		"from install importsAfterInstall setup dockerInstructions" &&
	test "$(report_stages "$T/r1.json" other any)" = "from importsBeforeSetup setup"
'

test_expect_success 'build --dry-run after it: every stage stored, nothing to build' '
	"$CAIRN" build --dir "$P" --dry-run >"$T/dry1" &&
	! grep -q "TO BUILD\|BUILDING" "$T/dry1" &&
	test "$(grep -c "=> signature" "$T/dry1")" = 3
'

test_expect_success 'the imported files are there with their content and owner, *.log is not' '
	unpack "$T/r1.json" app "$T/app1" &&
	R="$T/app1/rootfs" &&
	test "$(cat "$R/srv/static/a.txt")" = alpha &&
	test "$(cat "$R/srv/static/sub/b.txt")" = beta &&
	test ! -e "$R/srv/static/skip.log" &&
	test ! -e "$R/build" &&
	test "$(stat -c %u "$R/srv/static/a.txt")" = 1000 &&
	test "$(stat -c %u "$R/srv/static/sub/b.txt")" = 1000 &&
	test "$(stat -c %u "$R/srv/static/sub")" = 1000 &&
	test "$(cat "$R/app-install")" = app-install &&
	test "$(cat "$R/setup-saw")" = alpha
'

test_expect_success 'a single file imported from an image lands under its to path, ids kept' '
	unpack "$T/r1.json" other "$T/other1" &&
	R="$T/other1/rootfs" &&
	test -f "$R/etc/a.txt" && test "$(cat "$R/etc/a.txt")" = alpha &&
	test "$(stat -c %u "$R/etc/a.txt")" = 1000 &&
	test "$(cat "$R/etc/a-copy")" = alpha &&
	test ! -e "$R/srv/static" && test ! -e "$R/app-install"
'

test_expect_success 'the artifact is a stage chain in the store, not an image to publish' '
	skopeo inspect --raw "oci:$STORE:imp:$(report_sig "$T/r1.json" assets)" >/dev/null &&
	python3 - "$T/r1.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
assert [i["name"] for i in r["images"] if not i["artifact"]] == ["app", "other"], r
PY
'

test_expect_success 'a second build rebuilds nothing' '
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" &&
	! grep -q "\[BUILDING\]" "$T/out2" &&
	for i in assets app other; do
		test "$(report_sig "$T/r2.json" $i)" = "$(report_sig "$T/r1.json" $i)" || return 1
	done
'

test_expect_success 'dry-run after an artifact change: importers and fromImage stop where they stand on it' '
	sed "s/echo alpha >/echo gamma >/" "$P/werf.yaml" >"$T/w" && cp "$T/w" "$P/werf.yaml" &&
	commit gamma &&
	{ cat "$P/werf.yaml" && printf -- "---\nimage: child\nfromImage: other\n"; } >"$T/child.yaml" &&
	"$CAIRN" build --dir "$P" --config "$T/child.yaml" --dry-run >"$T/dry2" 2>"$T/dry2.err" &&
	cat "$T/dry2" &&
	python3 - "$T/dry2" <<PY
import sys
blocks, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("Running time"):
        continue
    if not line.startswith(" ") and line.strip():
        cur = line.strip(); blocks[cur] = []
    elif cur and line.strip():
        blocks[cur].append(line.split()[0] + (" TO-BUILD" if "[TO BUILD]" in line else ""))
want = {"assets": ["from", "install TO-BUILD"],
        "app": ["from", "install", "importsAfterInstall TO-BUILD"],
        "other": ["from", "importsBeforeSetup TO-BUILD"],
        "child": ["from TO-BUILD"]}
for k, v in want.items():
    assert blocks.get(k) == v, (k, blocks.get(k))
PY
'

test_expect_success 'changing the artifact rebuilds the importers from their import stage on' '
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" &&
	test "$(report_stages "$T/r3.json" assets false)" = install &&
	test "$(report_stages "$T/r3.json" app false)" = "importsAfterInstall setup dockerInstructions" &&
	test "$(report_stages "$T/r3.json" app true)" = "from install" &&
	test "$(report_stages "$T/r3.json" other false)" = "importsBeforeSetup setup" &&
	unpack "$T/r3.json" app "$T/app3" &&
	test "$(cat "$T/app3/rootfs/srv/static/a.txt")" = gamma &&
	test "$(cat "$T/app3/rootfs/setup-saw")" = gamma &&
	unpack "$T/r3.json" other "$T/other3" &&
	test "$(cat "$T/other3/rootfs/etc/a-copy")" = gamma
'

test_expect_success 'an import of an unknown artifact is an error naming file, line and key' '
	sed "s/^- artifact: assets$/- artifact: nosuch/" "$P/werf.yaml" >"$T/bad.yaml" &&
	line=$(grep -n "^- artifact: nosuch" "$T/bad.yaml" | cut -d: -f1) &&
	test -n "$line" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/bad.yaml" >"$T/out4" 2>"$T/err4" &&
	grep -q "bad.yaml:$line:[0-9]*: import\[0\]\.artifact: .*nosuch" "$T/err4" &&
	! grep -q "\[BUILDING\]" "$T/out4"
'

test_expect_success 'a from no registry could serve fails --dry-run as build, naming the line' '
	sed "0,/^from: .*/s//from: \/busybox:1/" "$P/werf.yaml" >"$T/badfrom.yaml" &&
	line=$(grep -n "^from: /busybox:1$" "$T/badfrom.yaml" | cut -d: -f1) &&
	test -n "$line" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/badfrom.yaml" --dry-run 2>"$T/bf1" &&
	grep -q "badfrom.yaml:$line:7: from: invalid reference ./busybox:1.: empty path" "$T/bf1" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/badfrom.yaml" 2>"$T/bf2" &&
	grep -q "badfrom.yaml:$line:7: from: invalid reference" "$T/bf2"
'

test_done
