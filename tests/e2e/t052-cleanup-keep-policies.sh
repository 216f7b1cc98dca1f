#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The git-history based cleanup of werf.yaml's cleanup.keepPolicies: four commits on main and
# one on a feature branch are published (tagged by stages signature) through a stages storage,
# which records each commit's signature; the policies keep main's last 2 images and what tags
# v* point at. With feature deleted in the remote, cleanup --dry-run and the real run delete
# exactly the images of the second commit and of the feature (skopeo), their commit records
# go, the kept images still pull, and the stages cleanup keeps their chains. Bad policies are
# config errors naming the line; without a stages storage the cleanup says what it needs.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

O=$T/origin.git
P=$T/project
S=$REG/stages
# shellcheck disable=SC2034 # read by the tests below
I=$REG/app/app
git init -q --bare "$O" && git init -q -b main "$P" || exit 1
gitc() { git -C "$P" -c user.name=t -c user.email=t@example.com "$@"; }
config() {
	cat >"$P/werf.yaml" <<EOF
project: kp
configVersion: 1
cleanup:
  keepPolicies:
  - references:
      branch: main
    imagesPerReference:
      last: 2
  - references:
      tag: /^v[0-9]+$/
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo $1 > /version]
EOF
}
tags_of() {
	skopeo list-tags --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin)["Tags"] or [])))'
}
sig() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images"][0]["signature"])' "$1"; }
# commit_publish N: commit version N, push the branch, publish tagged by signature
commit_publish() {
	config "$1" && gitc add -A && gitc commit -q -m "v$1" &&
		gitc push -q origin "$(git -C "$P" branch --show-current)" &&
		cairn_run build-and-publish --dir "$P" -q -i "$REG/app" -s "$S" \
			--tag-by-stages-signature --report "$T/r$1.json" &&
		sig "$T/r$1.json" >"$T/sig$1"
}

test_expect_success 'four commits on main and one on feature, each published' '
	gitc remote add origin "$O" &&
	commit_publish 1 && gitc tag v1 && gitc push -q origin v1 &&
	sleep 1 && commit_publish 2 && sleep 1 && commit_publish 3 && sleep 1 && commit_publish 4 &&
	gitc checkout -q -b feature && sleep 1 && commit_publish 5 && gitc checkout -q main &&
	test "$(sort -u "$T"/sig? | wc -l)" = 5 &&
	test "$(tags_of "$I" | wc -l)" = 5 &&
	test "$(tags_of "$S" | grep -c "^cairn-commit-app-")" = 5 &&
	rec=$(tags_of "$S" | grep "^cairn-commit-app-[0-9a-f]\{16\}-$(git -C "$P" rev-parse main)$") &&
	skopeo inspect --tls-verify=false "docker://$S:$rec" |
		grep -q "\"cairn-stage-signature\": \"$(cat "$T/sig4")\""
'

test_expect_success 'feature is deleted in the remote' '
	gitc push -q origin --delete feature && gitc branch -q -D feature && gitc fetch -q --prune origin
'

test_expect_success 'cleanup --dry-run: the second commit'"'"'s and the feature'"'"'s images' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 --dry-run >"$T/dry" 2>"$T/dry.err" &&
	grep "^would delete $I:" "$T/dry" | sed "s/ (.*//; s/^would delete .*://" |
		sort >"$T/dry.list" &&
	sort "$T/sig2" "$T/sig5" >"$T/want" && test_cmp "$T/want" "$T/dry.list" &&
	grep -q "^would delete 2 of 5 tags, kept 3$" "$T/dry" &&
	grep -q "$(cat "$T/sig1"): kept: tag '"'"'v1'"'"' reaches it" "$T/dry.err" &&
	grep -q "$(cat "$T/sig4"): kept: branch '"'"'main'"'"' reaches it" "$T/dry.err" &&
	test "$(tags_of "$I" | wc -l)" = 5
'

test_expect_success 'cleanup deletes them and their records; the kept images still run' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/real" 2>"$T/real.err" &&
	grep "^deleted $I:" "$T/real" | sed "s/ (.*//; s/^deleted .*://" |
		sort >"$T/real.list" && test_cmp "$T/want" "$T/real.list" &&
	sort "$T/sig1" "$T/sig3" "$T/sig4" >"$T/want.left" &&
	tags_of "$I" >"$T/left" && test_cmp "$T/want.left" "$T/left" &&
	test "$(tags_of "$S" | grep -c "^cairn-commit-app-")" = 3 &&
	for s in $(cat "$T/left"); do
		skopeo copy -q --src-tls-verify=false "docker://$I:$s" "oci:$T/img:$s" &&
		image_check "$I:$s" || return 1
	done &&
	CAIRN_HOME="$T/fresh" "$CAIRN" build --dir "$P" -s "$S" >"$T/fresh.out" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/fresh.out"
'

test_expect_success 'a second cleanup deletes nothing' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/again" 2>&1 &&
	grep -q "^deleted 0 of 3 tags, kept 3$" "$T/again"
'

test_expect_success 'a tag kept in use keeps its commit record' '
	gitc checkout -q -b tmp && commit_publish 6 && gitc checkout -q main &&
	gitc push -q origin --delete tmp && gitc branch -q -D tmp && gitc fetch -q --prune origin &&
	printf "%s\n" "$I:$(cat "$T/sig6")" >"$T/in-use" &&
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --keep-images-from "$T/in-use" \
		>"$T/use" 2>&1 &&
	grep -q "^deleted 0 of 4 tags, kept 4$" "$T/use" &&
	test "$(tags_of "$S" | grep -c "^cairn-commit-app-")" = 4 &&
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/use2" 2>&1 &&
	grep -q "^deleted 1 of 4 tags, kept 3$" "$T/use2" &&
	test "$(tags_of "$S" | grep -c "^cairn-commit-app-")" = 3
'

test_expect_success 'without a stages storage the history-based cleanup says what it needs' '
	{ cairn_run cleanup --dir "$P" -i "$REG/app" 2>"$T/nos"; test $? = 2; } &&
	grep -q "give --stages-storage" "$T/nos"
'

test_expect_success 'a bad keep policy is a config error naming the line' '
	sed -i "s/last: 2/last: two/" "$P/werf.yaml" &&
	test_must_fail cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" 2>"$T/bad" &&
	grep -q "werf.yaml:8:13: cleanup.keepPolicies\[0\]: imagesPerReference.last: .two. is no count" "$T/bad"
'

test_done
