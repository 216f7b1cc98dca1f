#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The CI examples of examples/ci/ run as their CI would run them: the GitLab job's `script`
# lines in sh with the variables a runner sets (a registry with token auth that knows only the
# job token), and the GitHub workflow's `run` steps in bash -e with GitHub's variables and the
# secrets filled in (an htpasswd registry). Then what they published is checked with skopeo.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 bash
require_python jwt cryptography yaml

EX=$(cd "$(dirname "$0")/../../examples/ci" && pwd)
JOB_TOKEN='j0b-T0ken-t055-s3cret'
GH_PASS='Gh-t055-s3cret'
token_server_start --users "gitlab-ci-token:$JOB_TOKEN" --anonymous none
base_image_push "$REG/base/busybox:1"
GL=$REG
registry_start --name GH --htpasswd "ci:$GH_PASS"

mkdir -p "$T/bin" && ln -s "$CAIRN" "$T/bin/cairn" || exit 1

# project DIR: a git project with two images, from the base on the GitLab registry (anonymous
# pulls are refused there: the GitHub job pulls it with the GitLab token from a docker config)
project () {
	mkdir -p "$1" && git init -q -b main "$1" &&
		printf 'project: proj\nconfigVersion: 1\n' >"$1/werf.yaml" &&
		for i in front back; do
			printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\n' \
				"$i" "$GL" "$i" "$i" >>"$1/werf.yaml" || return 1
		done &&
		git -C "$1" add -A && git -C "$1" -c user.name=t -c user.email=t@example.com commit -q -m init
}

# steps FILE KIND DIR: the commands of the example into DIR/1.sh, DIR/2.sh... (GitLab: the
# build job's script lines as one script; GitHub: each `run` step), secrets filled in
steps () {
	mkdir -p "$3" && "$PYTHON" - "$@" "$GH_PASS" <<'PY'
import sys, yaml
path, kind, out, password = sys.argv[1:5]
doc = yaml.safe_load(open(path))
if kind == "gitlab":
    cmds = ["\n".join(doc["build"]["script"])]
else:
    cmds = [s["run"] for s in doc["jobs"]["images"]["steps"] if "run" in s]
for i, c in enumerate(cmds, 1):
    c = c.replace("${{ secrets.REGISTRY_USER }}", "ci")
    c = c.replace("${{ secrets.REGISTRY_PASSWORD }}", password)
    open("%s/%d.sh" % (out, i), "w").write(c + "\n")
PY
}

test_expect_success 'the GitLab job: published under the stages signatures, envfile listed' '
	P=$T/gl/group/proj && project "$P" &&
	steps "$EX/gitlab-ci.yml" gitlab "$T/gl" && test -s "$T/gl/1.sh" && ! test -e "$T/gl/2.sh" &&
	(
		cd "$P" &&
		env -i PATH="$T/bin:$PATH" HOME="$T/gl-home" CAIRN_HOME="$T/gl-cairn" TMPDIR="$T" \
			GITLAB_CI=true CI=true CI_SERVER_VERSION=13.12.0 CI_REGISTRY="$GL" \
			CI_REGISTRY_IMAGE="$GL/group/proj" CI_JOB_TOKEN="$JOB_TOKEN" \
			CI_COMMIT_REF_NAME=main CI_COMMIT_SHA="$(git rev-parse HEAD)" \
			CI_PROJECT_URL=https://gitlab.example.com/group/proj CI_PIPELINE_ID=7 \
			CI_JOB_ID=42 sh -e "$T/gl/1.sh"
	) >"$T/gl.out" 2>"$T/gl.err" &&
	grep -q "^CAIRN_FRONT_DOCKER_IMAGE_NAME=$GL/group/proj/front:[0-9a-f]\{64\}$" "$T/gl.out" &&
	ref=$(sed -n "s/^CAIRN_BACK_DOCKER_IMAGE_NAME=//p" "$T/gl.out") &&
	skopeo inspect --creds "gitlab-ci-token:$JOB_TOKEN" --tls-verify=false "docker://$ref" \
		>/dev/null &&
	! grep -rF "$JOB_TOKEN" "$T/gl.out" "$T/gl.err"
'

test_expect_success 'the GitHub workflow: login, then images tagged by branch, report printed' '
	P=$T/gh/proj && project "$P" &&
	mkdir -p "$T/gh-home/.docker" &&
	printf "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}" "$GL" \
		"$(printf "gitlab-ci-token:%s" "$JOB_TOKEN" | base64 -w0)" \
		>"$T/gh-home/.docker/config.json" &&
	steps "$EX/github-actions.yml" github "$T/gh" && test -s "$T/gh/3.sh" &&
	(
		cd "$P" &&
		for step in "$T"/gh/1.sh "$T"/gh/2.sh "$T"/gh/3.sh; do
			env -i PATH="$T/bin:$PATH" HOME="$T/gh-home" CAIRN_HOME="$T/gh-cairn" \
				TMPDIR="$T" CI=true GITHUB_ACTIONS=true GITHUB_REPOSITORY=owner/proj \
				GITHUB_REF=refs/heads/main GITHUB_REF_NAME=main \
				GITHUB_SHA="$(git rev-parse HEAD)" GITHUB_RUN_ID=9 REGISTRY="$GH" \
				bash -e "$step" || { echo "$step failed"; exit 1; }
		done
	) >"$T/gh.out" 2>"$T/gh.err" &&
	grep -q "^Login Succeeded" "$T/gh.out" &&
	grep -q "^$GH/owner/proj/front:main sha256:[0-9a-f]\{64\}$" "$T/gh.out" &&
	dg=$(sed -n "s|^$GH/owner/proj/back:main ||p" "$T/gh.out") &&
	test "$(skopeo inspect --creds "ci:$GH_PASS" --tls-verify=false \
		--format "{{.Digest}}" "docker://$GH/owner/proj/back:main")" = "$dg" &&
	skopeo list-tags --creds "ci:$GH_PASS" --tls-verify=false \
		"docker://$GH/owner/proj/stages" | grep -q "image-stage-" &&
	! grep -rF "$GH_PASS" "$T/gh.out" "$T/gh.err"
'

test_done
