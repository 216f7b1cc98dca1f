#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# werf's CI habits: a bare build-and-publish driven by WERF_* variables (images repo, tag
# strategies, WERF_TAG_CUSTOM*), --tag-by-stages-signature, monorepo and multirepo images
# repos (an image name with capitals in each), werf's short options; checked with skopeo.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

# a git project with two named images
d=$T/proj
mkdir -p "$d" && git init -q "$d" &&
	printf 'project: ci\nconfigVersion: 1\n' >"$d/werf.yaml" &&
	for i in front back; do
		printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\n' \
			"$i" "$REG" "$i" "$i" >>"$d/werf.yaml"
	done &&
	git -C "$d" add -A && git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m init

tags_of() {
	skopeo list-tags --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))'
}

# label REF NAME: a label of the image REF
label() {
	skopeo inspect --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Labels"][sys.argv[1]])' "$2"
}

test_expect_success 'a bare build-and-publish takes its options from WERF_* variables' '
	(cd "$d" && WERF_IMAGES_REPO=$REG/multi WERF_TAG_BY_STAGES_SIGNATURE=true \
		WERF_TAG_GIT_BRANCH=feature/x WERF_TAG_CUSTOM_B=two WERF_TAG_CUSTOM_A=one \
		CAIRN_HOME=$T/home "$CAIRN" build-and-publish -q) &&
	sig=$(label "$REG/multi/front:one" cairn-stage-signature) &&
	test ${#sig} = 64 &&
	test "$(tags_of "$REG/multi/front")" = "$(printf "%s\n" "$sig" feature-x-8339ecf4 one two | sort | tr "\n" " " | sed "s/ $//")" &&
	test "$(label "$REG/multi/front:$sig" cairn-tag-scheme)" = stages_signature &&
	test "$(label "$REG/multi/front:feature-x-8339ecf4" cairn-tag-scheme)" = git_branch &&
	back=$(label "$REG/multi/back:one" cairn-stage-signature) &&
	test "$back" != "$sig" && skopeo inspect --tls-verify=false "docker://$REG/multi/back:$back" >/dev/null &&
	image_check "$REG/multi/front:$sig"
'

test_expect_success 'CAIRN_* wins over WERF_*, the command line over both' '
	(cd "$d" && WERF_IMAGES_REPO=$REG/nowhere CAIRN_IMAGES_REPO=$REG/cairn \
		CAIRN_HOME=$T/home "$CAIRN" publish -q --tag-plain v1) &&
	test "$(tags_of "$REG/cairn/front")" = v1 &&
	(cd "$d" && WERF_IMAGES_REPO=$REG/nowhere CAIRN_IMAGES_REPO=$REG/nowhere \
		CAIRN_HOME=$T/home "$CAIRN" publish -q -i "$REG/cli" --tag-plain v2) &&
	test "$(tags_of "$REG/cli/back")" = v2 &&
	! skopeo list-tags --tls-verify=false "docker://$REG/nowhere/front" >/dev/null 2>&1
'

test_expect_success 'monorepo: REPO:NAME-TAG for each named image' '
	(cd "$d" && CAIRN_HOME=$T/home "$CAIRN" publish -q -i "$REG/mono" \
		--images-repo-mode monorepo --images-repo-implementation default \
		--tag-git-branch main --tag-by-stages-signature) &&
	sig=$(label "$REG/multi/front:one" cairn-stage-signature) &&
	back=$(label "$REG/multi/back:one" cairn-stage-signature) &&
	test "$(tags_of "$REG/mono")" = "$(printf "%s\n" "back-$back" back-main "front-$sig" front-main | sort | tr "\n" " " | sed "s/ $//")" &&
	test "$(label "$REG/mono:front-main" cairn-image)" = true &&
	image_check "$REG/mono:back-main"
'

test_expect_success 'an image named with capitals: REPO:Name-TAG in monorepo, REPO/Name refused' '
	C=$T/caps && mkdir -p "$C" && git init -q "$C" &&
	printf "project: caps\nconfigVersion: 1\n---\nimage: netChecker\nfrom: %s/base/busybox:1\n" \
		"$REG" >"$C/werf.yaml" &&
	git -C "$C" add -A && git -C "$C" -c user.name=t -c user.email=t@e commit -q -m i &&
	CAIRN_HOME=$T/home "$CAIRN" build-and-publish --dir "$C" -q -i "$REG/caps" \
		--images-repo-mode monorepo --tag-plain v1 &&
	test "$(tags_of "$REG/caps")" = netChecker-v1 &&
	image_check "$REG/caps:netChecker-v1" &&
	test_must_fail env CAIRN_HOME=$T/home "$CAIRN" publish --dir "$C" -q -i "$REG/caps2" \
		--images-repo-mode multirepo --tag-plain v1 2>"$T/caps.err" &&
	cat "$T/caps.err" &&
	grep -q "publish image .netChecker.: .*$REG/caps2/netChecker" "$T/caps.err"
'

test_expect_success 'uncommitted changes get one warning: git entries come from the commit' '
	G=$T/gitproj && mkdir -p "$G" && git init -q "$G" && echo one >"$G/app.txt" &&
	printf "project: g\nconfigVersion: 1\n---\nimage: a\nfrom: %s/base/busybox:1\ngit:\n- add: /\n  to: /app\n" \
		"$REG" >"$G/werf.yaml" &&
	git -C "$G" add -A && git -C "$G" -c user.name=t -c user.email=t@e commit -q -m i &&
	echo two >"$G/app.txt" &&
	CAIRN_HOME=$T/home "$CAIRN" build --dir "$G" >/dev/null 2>"$T/dirty" &&
	test "$(grep -c "has 1 uncommitted change: cairn builds git entries from commit" "$T/dirty")" = 1 &&
	git -C "$G" -c user.name=t -c user.email=t@e commit -q -am two &&
	CAIRN_HOME=$T/home "$CAIRN" build --dir "$G" >/dev/null 2>"$T/clean" &&
	! grep -q "uncommitted" "$T/clean"
'

test_expect_success 'a bad images repo mode is a usage error naming it' '
	(cd "$d" && CAIRN_HOME=$T/home "$CAIRN" publish -i "$REG/x" --images-repo-mode mono \
		2>"$T/err"; test $? = 2) &&
	grep -q "invalid images repo mode .mono." "$T/err"
'

test_done
