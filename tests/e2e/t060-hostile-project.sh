#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A hostile project cannot read the build host's files. Imports resolve `add` inside the source
# image (a symlink to /etc is the IMAGE's /etc, as `docker cp` resolves it); owner lookups read
# the image's /etc/passwd even when it is a symlink that would name the host's; '..' in config
# paths is refused at load time with file:line:col; .werf/ templates are found without following
# directory symlinks, and a template symlink is read only when it stays inside the project; the
# home and its unpacked layers (setuid files included) are private to their owner.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"
export STORE="$CAIRN_HOME/store"

commit() {
	git -C "$1" add -A && git -C "$1" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$2"
}

# rootfs REPORT IMAGE DIR: umoci unpack IMAGE's last stage; prints the rootfs path
rootfs() {
	rm -rf "$3" && umoci unpack --image "$STORE:$4:$(report_sig "$1" "$2")" "$3" >/dev/null &&
		echo "$3/rootfs"
}

mkdir -p "$P"
git init -q "$P"
# The artifact has its own /etc/os-release and a link to /etc; the host's os-release differs
# and the host has /etc/debian_version, which the artifact lacks.
cat >"$P/werf.yaml" <<YAML
project: hostile
configVersion: 1
---
artifact: src
from: $REG/base/busybox:1
shell:
  install:
  - echo IMAGE-OS > /etc/os-release
  - mkdir -p /build/deep
  - ln -s /etc /build/lnk
  - ln -s ../../../../../../../etc /build/deep/up
  - ln -s /build/lnk/os-release /build/chain
---
image: app
from: $REG/base/busybox:1
import:
- artifact: src
  add: /build/lnk/os-release
  to: /via-link
  after: install
- artifact: src
  add: /build/lnk/.
  to: /etc-copy
  after: install
- artifact: src
  add: /build/deep/up/os-release
  to: /via-relative
  after: install
- artifact: src
  add: /build/chain
  to: /chain
  after: install
- artifact: src
  add: /build/lnk
  to: /the-link
  after: install
shell:
  install: [echo built > /built]
YAML
commit "$P" init

test_expect_success 'imports through links to /etc take the image files, never the host ones' '
	"$CAIRN" build --dir "$P" --report "$T/r.json" >"$T/out" &&
	R=$(rootfs "$T/r.json" app "$T/app" hostile) &&
	test "$(cat "$R/via-link")" = IMAGE-OS &&
	test "$(cat "$R/via-relative")" = IMAGE-OS &&
	test "$(cat "$R/etc-copy/os-release")" = IMAGE-OS &&
	test "$(cat "$R/etc-copy/passwd")" = "$(cat "$T/app/rootfs/etc/passwd")" &&
	test ! -e "$R/etc-copy/debian_version" &&
	test ! -e "$R/etc-copy/hostname" &&
	test "$(readlink "$R/chain")" = /build/lnk/os-release &&
	test "$(readlink "$R/the-link")" = /etc &&
	! grep -rqs "$(head -c 40 /etc/os-release)" "$R/via-link" "$R/etc-copy" "$R/via-relative"
'

test_expect_success 'a file that only the host has is not found in the image' '
	cp -r "$P" "$T/p2" &&
	python3 - "$T/p2/werf.yaml" <<PY &&
import sys
p = sys.argv[1]
s = open(p).read().replace("add: /build/lnk/os-release", "add: /build/lnk/debian_version")
open(p, "w").write(s)
PY
	commit "$T/p2" missing &&
	test_must_fail "$CAIRN" build --dir "$T/p2" >"$T/out2" 2>"$T/err2" &&
	grep -q "import: .*/build/lnk/debian_version.* in image .src.: No such file or directory" \
		"$T/err2"
'

test_expect_success 'owner lookups read the image passwd, not the host one it links to' '
	mkdir -p "$T/p3" && git init -q "$T/p3" &&
	cat >"$T/p3/werf.yaml" <<YAML &&
project: owners
configVersion: 1
---
artifact: src
from: $REG/base/busybox:1
shell:
  install: [mkdir -p /out, echo x > /out/f]
---
image: app
from: $REG/base/busybox:1
shell:
  beforeInstall: [rm /etc/passwd, ln -s /etc/passwd /etc/passwd]
import:
- artifact: src
  add: /out
  to: /in
  owner: _apt
  after: install
YAML
	commit "$T/p3" init &&
	grep -q "^_apt:" /etc/passwd &&
	test_must_fail "$CAIRN" build --dir "$T/p3" >"$T/out3" 2>"$T/err3" &&
	grep -q "import: open ./etc/passwd.: Too many levels of symbolic links" "$T/err3"
'

test_expect_success "'..' in import add is a load-time error and nothing is built" '
	mkdir -p "$T/p4" && git init -q "$T/p4" &&
	cat >"$T/p4/werf.yaml" <<YAML &&
project: dots
configVersion: 1
---
artifact: src
from: $REG/base/busybox:1
shell:
  install: [echo never > /never]
---
image: app
from: $REG/base/busybox:1
import:
- artifact: src
  add: /../../../../etc/hostname
  to: /../../x
  after: install
YAML
	commit "$T/p4" init &&
	test_must_fail "$CAIRN" build --dir "$T/p4" --home-dir "$T/h4" >"$T/out4" 2>"$T/err4" &&
	grep -q "werf.yaml:13:8: import\[0\].add: must not have a .\.\.. component" "$T/err4" &&
	test ! -e "$T/h4/store/index.json" || ! grep -q dots "$T/h4/store/index.json"
'

test_expect_success '.werf templates: no walk out through links, no endless self-links' '
	mkdir -p "$T/p5/.werf/sub" "$T/outside" &&
	printf "%s\n" "{{ define \"secret\" }}OUTSIDE{{ end }}" >"$T/outside/x.tmpl" &&
	printf "%s\n" "{{ define \"inner\" }}INNER{{ end }}" >"$T/p5/.werf/sub/in.tmpl" &&
	ln -s ../../outside "$T/p5/.werf/dl" &&
	ln -s / "$T/p5/.werf/root" &&
	ln -s ../../outside/x.tmpl "$T/p5/.werf/esc.tmpl" &&
	ln -s sub/in.tmpl "$T/p5/.werf/ok.tmpl" &&
	ln -s . "$T/p5/.werf/sub/self1" && ln -s .. "$T/p5/.werf/sub/self2" &&
	ln -s ../sub "$T/p5/.werf/sub/self3" && ln -s self4 "$T/p5/.werf/sub/self4" &&
	printf "%s\n" "project: {{ include \"inner\" . | lower }}" "configVersion: 1" >"$T/p5/werf.yaml" &&
	test_must_fail timeout 20 "$CAIRN" render --dir "$T/p5" >"$T/out5" 2>"$T/err5" &&
	grep -q "template: open .\.werf/esc\.tmpl.: a symlink or .\.\.. on the way leads outside" \
		"$T/err5" &&
	rm "$T/p5/.werf/esc.tmpl" &&
	timeout 20 "$CAIRN" render --dir "$T/p5" >"$T/out6" &&
	grep -q "^project: inner$" "$T/out6" &&
	printf "%s\n" "project: {{ include \"secret\" . }}" "configVersion: 1" >"$T/p5/werf.yaml" &&
	test_must_fail timeout 20 "$CAIRN" render --dir "$T/p5" >"$T/out7" 2>"$T/err7" &&
	! grep -q OUTSIDE "$T/out7" "$T/err7"
'

test_expect_success 'a .werf that is itself a link to / is not walked' '
	mkdir -p "$T/p6" && ln -s / "$T/p6/.werf" &&
	printf "%s\n" "project: p6" "configVersion: 1" >"$T/p6/werf.yaml" &&
	timeout 20 "$CAIRN" render --dir "$T/p6" >"$T/out8" &&
	grep -q "^project: p6$" "$T/out8"
'

test_expect_success 'werf.yaml itself: no link out of the project, no FIFO' '
	mkdir -p "$T/p7/.werf" "$T/outside7" &&
	printf "%s\n" "root:HOST-SHADOW-LINE:20228:0:99999:7:::" >"$T/outside7/shadow" &&
	ln -s ../outside7/shadow "$T/p7/werf.yaml" &&
	test_must_fail timeout 20 "$CAIRN" render --dir "$T/p7" >"$T/out9" 2>"$T/err9" &&
	cat "$T/err9" &&
	grep -q "open .werf.yaml.: a symlink or .\.\.. on the way leads outside" "$T/err9" &&
	test_must_fail timeout 20 "$CAIRN" build --dir "$T/p7" >"$T/out9" 2>"$T/err9" &&
	! grep -q HOST-SHADOW "$T/out9" "$T/err9" &&
	rm "$T/p7/werf.yaml" && mkfifo "$T/p7/werf.yaml" &&
	test_must_fail timeout 20 "$CAIRN" build --dir "$T/p7" 2>"$T/err9" &&
	grep -q "read .werf.yaml.: not a regular file" "$T/err9" &&
	rm "$T/p7/werf.yaml" &&
	printf "%s\n" "project: p7" "configVersion: 1" >"$T/p7/.werf/real.yaml" &&
	ln -s .werf/real.yaml "$T/p7/werf.yaml" &&
	timeout 20 "$CAIRN" render --dir "$T/p7" >"$T/out9" &&
	grep -q "^project: p7$" "$T/out9"
'

test_expect_success 'the home and its layer cache are private; a shared home gets a warning' '
	test "$(stat -c %a "$CAIRN_HOME")" = 700 &&
	test "$(stat -c %a "$CAIRN_HOME/layers")" = 700 &&
	find "$CAIRN_HOME/layers" -mindepth 1 -maxdepth 1 -type d | grep -q . &&
	mkdir -m 755 "$T/h9" && mkdir -m 777 "$T/h9/layers" &&
	"$CAIRN" stages ls --home-dir "$T/h9" >"$T/out9" 2>"$T/err9" &&
	grep -q "warning: home .*h9. is open to other users (mode 0755)" "$T/err9" &&
	test "$(stat -c %a "$T/h9/layers")" = 700 &&
	"$CAIRN" stages ls --home-dir "$T/h10/new" >"$T/out10" 2>"$T/err10" &&
	test ! -s "$T/err10" &&
	test "$(stat -c %a "$T/h10/new")" = 700
'

test_done
