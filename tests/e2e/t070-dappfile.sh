#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A config written for the 2018 tool builds as written: a dappfile.yml without meta document
# (the project is named after the git remote origin, whose credentials are never shown), an
# import without `to`, mount fromPath in ~ and relative to the project, and werf keys cairn
# ignores (git's as). The published image carries the project name and its ONBUILD triggers
# (which an image built on it does not inherit). An artifact's buildArtifact stage (the
# 2018 tool's last stage of artifacts) runs after setup, rebuilt by its stageDependencies.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/checkout"
export STORE="$CAIRN_HOME/store"
test_secret t0p-s3cret

mkdir -p "$P/src"
git init -q "$P"
git -C "$P" remote add origin "https://ci:t0p-s3cret@git.example.com/acme/shop-front.git"
echo hello >"$P/src/index.html"
cat >"$P/dappfile.yml" <<YAML
dimg: web
from: $REG/base/busybox:1
asLayers: false
git:
- as: site
  add: /src
  to: /srv/www
import:
- artifact: assets
  add: /out/assets
  after: install
mount:
- fromPath: ~/.cache/shop
  to: /cache
- fromPath: .cache/build
  to: /build-cache
shell:
  install:
  - echo web > /cache/from-web
  - echo web > /build-cache/from-web
docker:
  WORKDIR: /srv/www
  ONBUILD: [RUN echo built on web]
---
artifact: assets
from: $REG/base/busybox:1
shell:
  install:
  - mkdir -p /out/assets
  - echo app > /out/assets/app.js
YAML
git -C "$P" add -A &&
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

test_expect_success 'a dappfile.yml without meta document builds as project shop-front' '
	cairn_run build --dir "$P" --report "$T/r1.json" >"$T/out1" 2>"$T/err1" &&
	report_sig "$T/r1.json" web >"$T/sig" &&
	skopeo inspect --raw "oci:$STORE:shop-front:$(cat "$T/sig")" >/dev/null
'

test_expect_success 'one warning shows the meta document to paste, never the remote URL' '
	test "$(grep -c "has no meta document" "$T/err1")" = 1 &&
	grep -q "^project: shop-front$" "$T/err1" &&
	grep -q "^configVersion: 1$" "$T/err1" &&
	! grep -q t0p-s3cret "$T/out1" "$T/err1" &&
	! grep -q git.example.com "$T/out1" "$T/err1"
'

test_expect_success 'the import without to lands where it was; the git files are there' '
	umoci unpack --image "$STORE:shop-front:$(cat "$T/sig")" "$T/b1" >/dev/null &&
	test "$(cat "$T/b1/rootfs/out/assets/app.js")" = app &&
	test "$(cat "$T/b1/rootfs/srv/www/index.html")" = hello
'

test_expect_success 'mount fromPath: ~ is the home directory, a relative path is in the project' '
	test "$(cat "$HOME/.cache/shop/from-web")" = web &&
	test "$(cat "$P/.cache/build/from-web")" = web &&
	test ! -e "$T/b1/rootfs/cache/from-web" && test ! -e "$T/b1/rootfs/build-cache/from-web"
'

test_expect_success 'werf keys cairn ignores are noted with -v' '
	cairn_run build -v --dir "$P" >"$T/out2" 2>"$T/err2" &&
	grep -q "dappfile.yml:3:1: asLayers: ignored" "$T/err2" &&
	grep -q "dappfile.yml:5:3: git\[0\].as: ignored" "$T/err2" &&
	! grep -q "\[BUILDING\]" "$T/out2"
'

test_expect_success 'the published image is labelled with the project name, ONBUILD kept' '
	cairn_run build-and-publish --dir "$P" --images-repo "$REG/acme" --tag-custom v1 -q &&
	skopeo inspect --tls-verify=false "docker://$REG/acme/web:v1" >"$T/i.json" &&
	skopeo inspect --tls-verify=false --raw --config "docker://$REG/acme/web:v1" >"$T/c.json" &&
	python3 - "$T/i.json" "$T/c.json" <<PY
import json, sys
l = json.load(open(sys.argv[1]))["Labels"]
assert l["cairn-project"] == "shop-front", l
c = json.load(open(sys.argv[2]))["config"]
assert c["OnBuild"] == ["RUN echo built on web"], c
PY
'

# A 2018 artifact's buildArtifact stage (modelled on deckhouse's dappfile.yaml): shell commands
# after setup, rebuilt when a file of its stageDependencies changes, and what it leaves is what
# the dimg imports.
export Q="$T/builder"
mkdir -p "$Q/src" && git init -q "$Q"
echo "package main // one" >"$Q/src/main.go"
echo "notes" >"$Q/src/README"
cat >"$Q/dappfile.yaml" <<YAML
dimg: app
from: $REG/base/busybox:1
import:
- artifact: go-build
  add: /out
  to: /app
  before: setup
shell:
  setup: [cat /app/bin.txt > /app/seen]
  cacheVersion: "1"
---
artifact: go-build
from: $REG/base/busybox:1
git:
- add: /src
  to: /src
  stageDependencies:
    buildArtifact:
    - "**/*.go"
shell:
  install: [mkdir -p /out, echo tools > /out/tools.txt]
  buildArtifact:
  - cat /src/main.go > /out/bin.txt
  buildArtifactCacheVersion: "1"
YAML
git -C "$Q" add -A && git -C "$Q" -c user.name=t -c user.email=t@e commit -q -m init

test_expect_success 'an artifact'"'"'s buildArtifact stage runs after setup; the dimg imports what it made' '
	cairn_run build --dir "$Q" --report "$T/q1.json" >"$T/q1" 2>&1 &&
	test "$(report_stages "$T/q1.json" go-build any)" = "from gitArchive install buildArtifact" &&
	test "$(report_stages "$T/q1.json" app any)" = \
		"from beforeInstall install beforeSetup importsBeforeSetup setup" &&
	umoci unpack --image "$STORE:builder:$(report_sig "$T/q1.json" app)" "$T/q1b" >/dev/null &&
	test "$(cat "$T/q1b/rootfs/app/bin.txt")" = "package main // one" &&
	test "$(cat "$T/q1b/rootfs/app/seen")" = "package main // one" &&
	test "$(cat "$T/q1b/rootfs/app/tools.txt")" = tools
'

test_expect_success 'a change under its stageDependencies rebuilds buildArtifact only; others nothing' '
	echo "package main // two" >"$Q/src/main.go" &&
	git -C "$Q" -c user.name=t -c user.email=t@e commit -q -am two &&
	cairn_run build --dir "$Q" --report "$T/q2.json" >"$T/q2" 2>&1 &&
	test "$(report_stages "$T/q2.json" go-build false)" = buildArtifact &&
	test "$(report_stages "$T/q2.json" app false)" = "importsBeforeSetup setup" &&
	umoci unpack --image "$STORE:builder:$(report_sig "$T/q2.json" app)" "$T/q2b" >/dev/null &&
	test "$(cat "$T/q2b/rootfs/app/seen")" = "package main // two" &&
	echo "more notes" >"$Q/src/README" &&
	git -C "$Q" -c user.name=t -c user.email=t@e commit -q -am notes &&
	cairn_run build --dir "$Q" --report "$T/q3.json" >"$T/q3" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/q3" &&
	test "$(report_sig "$T/q3.json" app)" = "$(report_sig "$T/q2.json" app)"
'

test_expect_success 'buildArtifact in a dimg, or in werf.yaml, is an error naming the line' '
	mkdir -p "$T/d" &&
	sed "s/^  setup: \[cat/  buildArtifact: [cat/" "$Q/dappfile.yaml" >"$T/d/dappfile.yaml" &&
	test_must_fail "$CAIRN" build --dir "$Q" --config "$T/d/dappfile.yaml" 2>"$T/e1" &&
	cat "$T/e1" &&
	grep -q "dappfile.yaml:9:3: shell.buildArtifact: only an artifact has this stage" "$T/e1" &&
	mkdir -p "$T/w" && { printf "project: w\nconfigVersion: 1\n---\n" &&
		sed -n "/^artifact:/,\$p" "$Q/dappfile.yaml"; } >"$T/w/werf.yaml" &&
	test_must_fail "$CAIRN" build --dir "$Q" --config "$T/w/werf.yaml" 2>"$T/e2" &&
	cat "$T/e2" &&
	grep -q "werf.yaml:.*buildArtifact: unknown key (a stage of the 2018 dappfile" "$T/e2"
'

test_expect_success 'a dimg built fromDimg one with ONBUILD does not inherit the triggers' '
	O=$T/onbuild && mkdir -p "$O" && git init -q "$O" &&
	cat >"$O/dappfile.yaml" <<YAML &&
dimg: base
from: $REG/base/busybox:1
docker:
  ONBUILD: [RUN echo trigger]
---
dimg: child
fromDimg: base
shell:
  install: [touch /child]
YAML
	git -C "$O" add -A && git -C "$O" -c user.name=t -c user.email=t@e commit -q -m i &&
	cairn_run build --dir "$O" --report "$T/o.json" >"$T/o.out" 2>&1 &&
	for i in base child; do
		skopeo inspect --raw --config "oci:$STORE:onbuild:$(report_sig "$T/o.json" $i)" \
			>"$T/o-$i.json" || return 1
	done &&
	python3 - "$T/o-base.json" "$T/o-child.json" <<PY
import json, sys
b, c = (json.load(open(f))["config"] for f in sys.argv[1:])
assert b["OnBuild"] == ["RUN echo trigger"], b
assert "OnBuild" not in c, c
PY
'

test_done
