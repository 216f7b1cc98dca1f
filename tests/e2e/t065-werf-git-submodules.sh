#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# werf fidelity of git entries: a submodule (with its own nested submodule) of the project puts
# its files into the image at the commit its gitlink names, and a patch follows it to another
# commit; git entries whose `to` overlap leave to each other what each owns (werf's implicit
# excludePaths), and the same `to` twice is a config error naming both; a stageDependencies
# pattern that matches no file is warned about with its position.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" LIB="$T/lib" DEEP="$T/deep" STORE="$CAIRN_HOME/store"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.com

# gitf DIR ARGS...: git in DIR, local submodule URLs allowed (git refuses them by default)
gitf() {
	_g_dir=$1
	shift
	git -C "$_g_dir" -c protocol.file.allow=always "$@"
}

# commit DIR MESSAGE: commit everything in DIR
commit() {
	gitf "$1" add -A && gitf "$1" commit -q -m "$2"
}

# unpack REPORT DIR: umoci unpack the image of a --report file into DIR (rootfs: DIR/rootfs)
unpack() {
	_u_sig=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["images"][0]["signature"])' "$1") &&
	rm -rf "$2" && umoci unpack --image "$STORE:subs:$_u_sig" "$2" >/dev/null
}

git init -q -b main "$DEEP" && echo deep >"$DEEP/d.txt" && commit "$DEEP" deep
git init -q -b main "$LIB" && mkdir -p "$LIB/src" &&
	echo lib1 >"$LIB/lib.txt" && echo "int l;" >"$LIB/src/l.c" && echo s >"$LIB/secret.txt" &&
	gitf "$LIB" submodule add -q "$DEEP" deps/deep && commit "$LIB" lib1
git init -q -b main "$P" && mkdir -p "$P/src/assets" "$P/assets" &&
	echo "print(1)" >"$P/src/main.py" && echo old >"$P/src/assets/old.txt" &&
	echo svg >"$P/assets/logo.svg"
cat >"$P/werf.yaml" <<YAML
project: subs
configVersion: 1
---
image: app
from: $REG/base/busybox:1
git:
- add: /src
  to: /app
  stageDependencies:
    install: ["*.py", "nothing/here"]
- add: /assets
  to: /app/assets
- add: /vendor/lib
  to: /opt/lib
  excludePaths: [secret.txt]
shell:
  install: [test -f /app/main.py]
YAML
gitf "$P" submodule add -q "$LIB" vendor/lib &&
	gitf "$P" submodule update -q --init --recursive && commit "$P" one

test_expect_success 'a submodule and its own are in the image; overlapping entries share /app' '
	"$CAIRN" build-and-publish --dir "$P" --images-repo "$REG/subs" --tag-custom v1 \
		--report "$T/r1.json" >"$T/out1" 2>"$T/err1" &&
	image_check "$REG/subs/app:v1" &&
	unpack "$T/r1.json" "$T/u1" &&
	test "$(cat "$T/u1/rootfs/opt/lib/lib.txt" "$T/u1/rootfs/opt/lib/src/l.c")" = "lib1
int l;" &&
	test "$(cat "$T/u1/rootfs/opt/lib/deps/deep/d.txt")" = deep &&
	test ! -e "$T/u1/rootfs/opt/lib/secret.txt" &&
	test "$(cat "$T/u1/rootfs/app/main.py" "$T/u1/rootfs/app/assets/logo.svg")" = "print(1)
svg" &&
	test ! -e "$T/u1/rootfs/app/assets/old.txt"
'

test_expect_success 'a stageDependencies pattern that matches nothing: one warning, with its place' '
	test "$(grep -c "stageDependencies pattern" "$T/err1")" = 1 &&
	grep -q "werf.yaml:10:23: image .app., stage install: stageDependencies pattern .nothing/here. of git\[0\] matches no file" "$T/err1"
'

test_expect_success 'the submodule moved to another commit: a patch brings its files' '
	echo lib2 >"$LIB/lib.txt" && echo new >"$LIB/new.txt" && gitf "$LIB" rm -q src/l.c &&
	commit "$LIB" lib2 &&
	gitf "$P/vendor/lib" fetch -q origin && gitf "$P/vendor/lib" checkout -q origin/main &&
	commit "$P" two &&
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" 2>&1 &&
	grep -q gitLatestPatch "$T/out2" &&
	unpack "$T/r2.json" "$T/u2" &&
	test "$(cat "$T/u2/rootfs/opt/lib/lib.txt" "$T/u2/rootfs/opt/lib/new.txt")" = "lib2
new" &&
	test ! -e "$T/u2/rootfs/opt/lib/src" &&
	test "$(cat "$T/u2/rootfs/opt/lib/deps/deep/d.txt")" = deep
'

test_expect_success 'a submodule never initialised is an error naming it, not a missing directory' '
	git clone -q "$P" "$T/clone" &&
	test_must_fail "$CAIRN" build --dir "$T/clone" >"$T/out3" 2>&1 &&
	grep -q "submodule .vendor/lib. at commit [0-9a-f]\{40\}: no repository at" "$T/out3"
'

test_expect_success 'two git entries with the same to: a config error naming both' '
	mkdir -p "$T/conflict" && git init -q "$T/conflict" &&
	printf "%s\n" "project: c" "configVersion: 1" "---" "image: app" \
		"from: $REG/base/busybox:1" "git:" "- add: /a" "  to: /app" "- add: /b" \
		"  to: /app" >"$T/conflict/werf.yaml" &&
	commit "$T/conflict" one &&
	test_must_fail "$CAIRN" build --dir "$T/conflict" >"$T/out4" 2>&1 &&
	grep -q "werf.yaml:10:7: git\[1\].to: conflict between imports: git\[0\] (werf.yaml:8:7) puts files in ./app. too" "$T/out4"
'

test_done
