#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Layers cairn writes itself (git entries, imports) hold each path once, as docker requires:
# several git entries under one parent, several imports under one parent, published and pulled
# by a real Docker engine. Patch layers leave the directories the image has alone, so a chmod or
# chown in a shell stage survives the next commit. Directories above `to` are made only when
# missing, by root; `to` gets the owner as werf's `install -o -g -d`; `owner` alone gives the
# files the owner's group; an import keeps the source ids it is not told to change.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"

mkdir -p "$P/src/a" "$P/src/b" "$P/docs"
echo a >"$P/src/a/file" && echo b >"$P/src/b/file" && echo d >"$P/docs/readme"
git init -q "$P"
cat >"$P/werf.yaml" <<YAML
project: layers
configVersion: 1
---
artifact: assets
from: $REG/base/busybox:1
shell:
  install: [mkdir -p /out/x /out/y, echo x > /out/x/f, echo y > /out/y/f]
---
image: app
from: $REG/base/busybox:1
git:
- add: /src/a
  to: /srv/app/a
- add: /src/b
  to: /srv/app/b
- add: /docs
  to: /srv/docs
import:
- artifact: assets
  add: /out/x
  to: /opt/assets/x
  after: install
- artifact: assets
  add: /out/y
  to: /opt/assets/y
  after: install
shell:
  install: [test -f /srv/app/a/file]
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

test_expect_success 'git entries and imports sharing parents: each path once, docker pulls it' '
	"$CAIRN" build-and-publish --dir "$P" --images-repo "$REG/layers" --tag-custom v1 \
		>"$T/out1" 2>&1 &&
	image_check "$REG/layers/app:v1" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/layers/app:v1" "oci:$T/oci:app" &&
	umoci unpack --image "$T/oci:app" "$T/u" >/dev/null &&
	test "$(cat "$T/u/rootfs/srv/app/a/file" "$T/u/rootfs/srv/app/b/file")" = "a
b" &&
	test "$(cat "$T/u/rootfs/opt/assets/x/f" "$T/u/rootfs/opt/assets/y/f")" = "x
y"
'

test_expect_success 'a new commit (a patch layer over both entries) publishes a clean image' '
	echo a2 >"$P/src/a/file" && echo b2 >"$P/src/b/new" &&
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m two &&
	"$CAIRN" build-and-publish --dir "$P" --images-repo "$REG/layers" --tag-custom v2 \
		>"$T/out2" 2>&1 &&
	grep -q "gitLatestPatch" "$T/out2" &&
	image_check "$REG/layers/app:v2"
'

test_expect_success 'a patch keeps the mode and owner a shell stage gave a directory' '
	git init -q "$T/perm" && mkdir -p "$T/perm/src/sub" &&
	echo 1 >"$T/perm/src/sub/f" &&
	printf "%s\n" "project: perm" "configVersion: 1" "---" "image: app" \
		"from: $REG/base/busybox:1" "git:" "- add: /src" "  to: /app" "shell:" \
		"  setup: [chmod 750 /app/sub, chown 1000:1000 /app/sub]" >"$T/perm/werf.yaml" &&
	git -C "$T/perm" add -A &&
	git -C "$T/perm" -c user.name=t -c user.email=t@example.com commit -q -m one &&
	"$CAIRN" build --dir "$T/perm" >"$T/perm1" &&
	echo 2 >"$T/perm/src/sub/f" && mkdir "$T/perm/src/sub/new" && echo n >"$T/perm/src/sub/new/g" &&
	git -C "$T/perm" add -A &&
	git -C "$T/perm" -c user.name=t -c user.email=t@example.com commit -q -m two &&
	"$CAIRN" build --dir "$T/perm" --report "$T/perm.json" >"$T/perm2" &&
	grep -q gitLatestPatch "$T/perm2" &&
	sig=$(python3 -c "import json; print(json.load(open(\"$T/perm.json\"))[\"images\"][0][\"signature\"])") &&
	rm -rf "$T/pu" && umoci unpack --image "$CAIRN_HOME/store:perm:$sig" "$T/pu" >/dev/null &&
	test "$(stat -c "%a %u" "$T/pu/rootfs/app/sub")" = "750 1000" &&
	test "$(cat "$T/pu/rootfs/app/sub/f" "$T/pu/rootfs/app/sub/new/g")" = "2
n" &&
	test "$(stat -c %a "$T/pu/rootfs/app/sub/new")" = 755
'

test_expect_success 'owners and the directories above to, as werf makes them' '
	git init -q "$T/own" && mkdir -p "$T/own/src" && echo s >"$T/own/src/f" &&
	cat >"$T/own/werf.yaml" <<YAML &&
project: own
configVersion: 1
---
artifact: files
from: $REG/base/busybox:1
shell:
  install: [mkdir -p /out, echo o > /out/f, chown 0:1000 /out/f]
---
image: app
from: $REG/base/busybox:1
git:
- add: /src
  to: /var/www/app
  owner: app
- add: /src
  to: /tmp/app
import:
- artifact: files
  add: /out
  to: /tmp/imp/x
  owner: nobody
  after: install
YAML
	git -C "$T/own" add -A &&
	git -C "$T/own" -c user.name=t -c user.email=t@example.com commit -q -m one &&
	"$CAIRN" build --dir "$T/own" --report "$T/own.json" >"$T/own.out" &&
	sig=$(python3 -c "import json; print([i for i in json.load(open(\"$T/own.json\"))[\"images\"] if i[\"name\"] == \"app\"][0][\"signature\"])") &&
	rm -rf "$T/ou" && umoci unpack --image "$CAIRN_HOME/store:own:$sig" "$T/ou" >/dev/null &&
	R="$T/ou/rootfs" &&
	test "$(stat -c "%a %u:%g" "$R/tmp")" = "1777 0:0" &&
	test "$(stat -c "%a %u:%g" "$R/var" "$R/var/www")" = "755 0:0
755 0:0" &&
	test "$(stat -c "%u:%g" "$R/var/www/app")" = "1000:0" &&
	test "$(stat -c "%u:%g" "$R/var/www/app/f")" = "1000:1000" &&
	test "$(stat -c "%u:%g" "$R/tmp/app/f")" = "0:0" &&
	test "$(stat -c "%a %u:%g" "$R/tmp/imp")" = "755 0:0" &&
	test "$(stat -c "%u:%g" "$R/tmp/imp/x/f")" = "65534:1000"
'

test_done
