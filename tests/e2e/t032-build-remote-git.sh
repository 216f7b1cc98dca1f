#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn build: git entries with url: (a bare repository through file://), by branch and by tag.
# The files land in the image; the remote is cloned bare under the home dir and fetched on each
# build, so a commit pushed to the branch makes a gitLatestPatch stage; branch/tag/commit on a
# local git entry is a config error.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" W="$T/work" STORE="$CAIRN_HOME/store"

# commit MESSAGE: commit everything in the work clone, and push the branch and the tags
commit() {
	git -C "$W" add -A && git -C "$W" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$1" && git -C "$W" push -q --tags origin main 2>/dev/null
}

# unpack REPORT IMAGE DIR: umoci unpack IMAGE's last stage into DIR (the rootfs is DIR/rootfs)
unpack() {
	rm -rf "$3" && umoci unpack --image "$STORE:rg:$(report_sig "$1" "$2")" "$3" >/dev/null
}

git init -q --bare "$T/remote.git"
git -C "$T/remote.git" symbolic-ref HEAD refs/heads/main
git init -q "$W"
git -C "$W" checkout -q -b main
git -C "$W" remote add origin "file://$T/remote.git"
mkdir -p "$W/src"
echo v1 >"$W/src/hello.txt"
echo keep >"$W/src/keep.txt"
echo top >"$W/README"
commit one
git -C "$W" tag v1
echo v2 >"$W/src/hello.txt"
commit two

# the project directory is its own repository, holding werf.yaml only
mkdir -p "$P"
git init -q "$P"
cat >"$P/werf.yaml" <<YAML
project: rg
configVersion: 1
---
image: bybranch
from: $REG/base/busybox:1
git:
- url: file://$T/remote.git
  branch: main
  add: /src
  to: /app
  owner: app
---
image: bytag
from: $REG/base/busybox:1
git:
- url: file://$T/remote.git
  tag: v1
  to: /app
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

test_expect_success 'the files of the branch and of the tag land in the images' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" &&
	test "$(report_stages "$T/r1.json" bybranch any)" = "from gitArchive" &&
	test "$(report_stages "$T/r1.json" bytag any)" = "from gitArchive" &&
	unpack "$T/r1.json" bybranch "$T/b1" &&
	test "$(cat "$T/b1/rootfs/app/hello.txt")" = v2 &&
	test "$(cat "$T/b1/rootfs/app/keep.txt")" = keep &&
	test ! -e "$T/b1/rootfs/app/README" &&
	test "$(stat -c %u "$T/b1/rootfs/app/hello.txt")" = 1000 &&
	unpack "$T/r1.json" bytag "$T/t1" &&
	test "$(cat "$T/t1/rootfs/app/src/hello.txt")" = v1 &&
	test "$(cat "$T/t1/rootfs/app/README")" = top
'

test_expect_success 'the remote is cloned bare under the home dir' '
	find "$CAIRN_HOME" -name HEAD -type f >"$T/heads" &&
	found="" &&
	while read -r h; do
		d=${h%/HEAD} &&
		if [ -d "$d/objects" ] &&
			[ "$(git --git-dir="$d" rev-parse --is-bare-repository 2>/dev/null)" = true ] &&
			git --git-dir="$d" cat-file -e "$(git -C "$W" rev-parse HEAD)^{commit}" 2>/dev/null
		then
			found=$d
		fi
	done <"$T/heads" &&
	test -n "$found" &&
	echo "clone: $found"
'

test_expect_success 'a second build rebuilds nothing' '
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" &&
	! grep -q "\[BUILDING\]" "$T/out2" &&
	test "$(report_sig "$T/r2.json" bybranch)" = "$(report_sig "$T/r1.json" bybranch)" &&
	test "$(report_sig "$T/r2.json" bytag)" = "$(report_sig "$T/r1.json" bytag)"
'

test_expect_success 'a commit pushed to the branch is fetched: a gitLatestPatch stage' '
	echo v3 >"$W/src/hello.txt" && echo new >"$W/src/new.txt" && rm "$W/src/keep.txt" &&
	commit three &&
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" &&
	test "$(report_stages "$T/r3.json" bybranch false)" = gitLatestPatch &&
	test "$(report_stages "$T/r3.json" bytag false)" = "" &&
	test "$(report_sig "$T/r3.json" bytag)" = "$(report_sig "$T/r1.json" bytag)" &&
	unpack "$T/r3.json" bybranch "$T/b3" &&
	test "$(cat "$T/b3/rootfs/app/hello.txt")" = v3 &&
	test "$(cat "$T/b3/rootfs/app/new.txt")" = new &&
	test ! -e "$T/b3/rootfs/app/keep.txt"
'

test_expect_success 'a project directory outside any git repository builds remote entries too' '
	mkdir -p "$T/plain" && cp "$P/werf.yaml" "$T/plain/" &&
	"$CAIRN" build --dir "$T/plain" --report "$T/r4.json" >"$T/out4" &&
	test "$(report_sig "$T/r4.json" bybranch)" = "$(report_sig "$T/r3.json" bybranch)" &&
	! grep -q "\[BUILDING\]" "$T/out4"
'

test_expect_success 'branch on a local git entry (no url) is an error naming file, line and key' '
	printf "%s\n" "project: rg" "configVersion: 1" "---" "image: x" \
		"from: $REG/base/busybox:1" "git:" "- add: /src" "  to: /app" "  branch: main" \
		>"$T/bad.yaml" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/bad.yaml" >"$T/out5" 2>"$T/err5" &&
	grep -q "bad.yaml:9:[0-9]*: git\[0\]\.branch" "$T/err5" &&
	! grep -q "\[BUILDING\]" "$T/out5" &&
	sed "s/  branch: main/  tag: v1/" "$T/bad.yaml" >"$T/bad2.yaml" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/bad2.yaml" 2>"$T/err6" &&
	grep -q "bad2.yaml:9:[0-9]*: git\[0\]\.tag" "$T/err6"
'

test_expect_success 'a git remote that never answers: CAIRN_GIT_TIMEOUT, and SIGTERM stops it' '
	hostile_registry_start 1 silent-http &&
	mkdir -p "$T/stall" &&
	printf "%s\n" "project: stall" "configVersion: 1" "---" "image: x" \
		"from: $REG/base/busybox:1" "git:" "- url: http://$HOSTILE/repo.git" "  add: /" \
		"  to: /src" >"$T/stall/werf.yaml" &&
	_t0=$(date +%s) &&
	test_must_fail env CAIRN_GIT_TIMEOUT=2 timeout 60 "$CAIRN" build --dir "$T/stall" \
		>"$T/out7" 2>"$T/err7" &&
	cat "$T/err7" && test $(($(date +%s) - _t0)) -le 10 &&
	grep -q "werf.yaml:7:3: git\[0\]: fetch .http://$HOSTILE/repo.: the remote sent nothing for 2 s" \
		"$T/err7" &&
	_held=$(grep -c "connection held" "$HOSTILE_LOG") &&
	{ env --default-signal=TERM "$CAIRN" build --dir "$T/stall" >"$T/out8" 2>"$T/err8" &
	  _pid=$!; } &&
	_i=0 && while [ "$(grep -c "connection held" "$HOSTILE_LOG")" -le "$_held" ]; do
		_i=$((_i + 1)) && [ "$_i" -le 300 ] && sleep 0.1 || return 1
	done &&
	test_pid_alive "$_pid" && _t0=$(date +%s) && kill -s TERM "$_pid" &&
	{ wait "$_pid"; _rc=$?; } ; cat "$T/err8" && test "$_rc" -eq 143 &&
	test $(($(date +%s) - _t0)) -le 3 &&
	grep -q "fetch .http://$HOSTILE/repo.: interrupted by SIGTERM" "$T/err8"
'

test_done
