#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A werf v1.1 GitLab job, with only the binary's name changed: the CI_* variables a runner
# sets, `eval "$(cairn ci-env gitlab)"`, then a bare `cairn build-and-publish`, against a
# registry with token auth that knows only gitlab-ci-token and the job token. The images land
# in CI_REGISTRY_IMAGE tagged as werf tags them, the stages in CI_REGISTRY_IMAGE/stages.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 curl
require_python jwt cryptography

JOB_TOKEN='j0b-T0ken-t045-s3cret'
token_server_start --users "gitlab-ci-token:$JOB_TOKEN" --anonymous none
base_image_push "$REG/base/busybox:1"

P=$T/group/proj
mkdir -p "$P" && git init -q "$P" &&
	printf 'project: proj\nconfigVersion: 1\n' >"$P/werf.yaml" &&
	for i in front back; do
		printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\n' \
			"$i" "$REG" "$i" "$i" >>"$P/werf.yaml"
	done &&
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

# job [CI-ENV OPTIONS...]: what the runner runs, in a clean environment with GitLab's variables
job() {
	env -i PATH="$PATH" HOME="$HOME" TMPDIR="$T" CAIRN="$CAIRN" CAIRN_HOME="$T/home" \
		GITLAB_CI=true CI=true CI_SERVER_VERSION=13.12.0 CI_REGISTRY="$REG" \
		CI_REGISTRY_IMAGE="$REG/group/proj" CI_JOB_TOKEN="$JOB_TOKEN" \
		CI_COMMIT_REF_NAME=main CI_COMMIT_SHA="$(git -C "$P" rev-parse HEAD)" \
		CI_PROJECT_URL=https://gitlab.example.com/group/proj \
		CI_PIPELINE_ID=7 CI_JOB_ID=42 CI_ENVIRONMENT_SLUG=review \
		sh -c 'cd "$1" && shift && eval "$("$CAIRN" ci-env gitlab "$@")" && "$CAIRN" build-and-publish' \
		sh "$P" "$@"
}

tags_of() {
	skopeo list-tags --creds "gitlab-ci-token:$JOB_TOKEN" --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))'
}

label() {
	skopeo inspect --creds "gitlab-ci-token:$JOB_TOKEN" --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Labels"][sys.argv[1]])' "$2"
}

test_expect_success 'the job publishes each image under its stages signature, werf v1.1 style' '
	job >"$T/out1" 2>"$T/err1" &&
	test "$(grep -c "\[BUILDING\]" "$T/out1")" = 3 &&
	sig=$(tags_of "$REG/group/proj/front") &&
	test ${#sig} = 64 &&
	test "$(label "$REG/group/proj/front:$sig" cairn-stage-signature)" = "$sig" &&
	test "$(label "$REG/group/proj/front:$sig" cairn-tag-scheme)" = stages_signature &&
	back=$(tags_of "$REG/group/proj/back") && test ${#back} = 64 && test "$back" != "$sig" &&
	skopeo copy -q --src-creds "gitlab-ci-token:$JOB_TOKEN" --src-tls-verify=false \
		"docker://$REG/group/proj/back:$back" "oci:$T/back:x" &&
	test "$(label "$REG/group/proj/back:$back" cairn-project)" = proj
'

test_expect_success 'the stages went to CI_REGISTRY_IMAGE/stages, the stages storage' '
	tags_of "$REG/group/proj/stages" | tr " " "\n" >"$T/stages" &&
	grep -qx "image-stage-$sig" "$T/stages" && grep -qx "image-stage-$back" "$T/stages" &&
	test "$(grep -c "^image-stage-[0-9a-f]\{64\}$" "$T/stages")" = 3
'

test_expect_success 'the job token is in no output' '
	! grep -rF "$JOB_TOKEN" "$T/out1" "$T/err1"
'

test_expect_success 'a second run of the job builds nothing and pushes no blob' '
	rm -rf "$T/home" &&
	job >"$T/out2" 2>"$T/err2" &&
	! grep -q "\[BUILDING\]" "$T/out2" &&
	test "$(grep -c "\[USING CACHE\]" "$T/out2")" = 4 &&
	test "$(grep -c "\[EXIST\]" "$T/err2")" = 2
'

test_expect_success 'with --tagging-strategy tag-or-branch the branch is the tag' '
	job --tagging-strategy tag-or-branch >"$T/out3" 2>"$T/err3" &&
	test "$(tags_of "$REG/group/proj/front")" = "$sig main" &&
	test "$(label "$REG/group/proj/back:main" cairn-tag-scheme)" = git_branch
'

test_done
