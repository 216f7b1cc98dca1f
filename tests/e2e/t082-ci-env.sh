#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn ci-env, werf v1.1's ci-env: CI variables holding quotes, spaces, $(...), backticks and
# line breaks come back exactly, through eval and through a sourced --as-file, in sh and bash,
# and nothing in them runs; the job's docker config holds the GitLab job token (and nothing
# prints it); github, travis and generic; and a push that needs only what ci-env set up.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo base64 python3

TOKEN='glcbt-64_J0b-t0ken-zq9X'
GHTOKEN='ghs_Gh-t0ken-Yv7Rq2'
test_secret "$TOKEN" "$GHTOKEN"

nl='
'
# every character a shell might act on, and a line break
HOSTILE="it's \"q\" \$(touch $T/pwned) \`touch $T/pwned\` \$HOME \\ ; & | * ${nl}line 2 'x'"
CI_REG=reg.example.com:5050
CI_IMG="$CI_REG/group/$HOSTILE"
CI_URL="https://gl.example.com/$HOSTILE"
# the job's files go below a directory whose name needs quoting too
TMPD="$T/tmp dir 'q' \$(touch $T/pwned)"
mkdir -p "$TMPD" "$T/exp" || exit 1

# clean_env VAR=VALUE... CMD...: CMD with only these variables (and the harness's) set, so the
# CI variables of a CI that runs this suite stay out
clean_env () {
	env -i PATH="$PATH" HOME="$HOME" LC_ALL=C T="$T" CAIRN="$CAIRN" CAIRN_HOME="$CAIRN_HOME" \
		${ASAN_OPTIONS+"ASAN_OPTIONS=$ASAN_OPTIONS"} \
		${UBSAN_OPTIONS+"UBSAN_OPTIONS=$UBSAN_OPTIONS"} \
		${LSAN_OPTIONS+"LSAN_OPTIONS=$LSAN_OPTIONS"} "$@"
}

gitlab_env () {
	clean_env TMPDIR="$TMPD" GITLAB_CI=true CI_REGISTRY="$CI_REG" CI_REGISTRY_IMAGE="$CI_IMG" \
		CI_JOB_TOKEN="$TOKEN" CI_ENVIRONMENT_SLUG="$HOSTILE" CI_PROJECT_URL="$CI_URL" \
		CI_COMMIT_SHA="$HOSTILE" CI_PIPELINE_ID="7 $HOSTILE" CI_JOB_ID=9 \
		CI_SERVER_VERSION=12.1.5 "$@"
}

# What a CI job does: job.sh MODE OUT CI-ENV-ARGS... takes ci-env's variables (eval:
# eval "$(cairn ci-env ...)"; source: . "$(cairn ci-env ... --as-file)") and writes each
# variable named in $T/names to OUT/NAME ("UNSET" when not set); cairn's stdout goes to OUT.out
# (and the file to OUT.script), its stderr to OUT.err.
cat >"$T/job.sh" <<'EOF' || exit 1
mode=$1 out=$2
shift 2
mkdir "$out" || exit 1
if [ "$mode" = eval ]; then
	eval "$("$CAIRN" ci-env "$@" 2>"$out.err" | tee "$out.out")"
else
	file=$("$CAIRN" ci-env "$@" --as-file 2>"$out.err") || exit 1
	printf '%s\n' "$file" >"$out.out"
	cp "$file" "$out.script" || exit 1
	. "$file"
fi
while read -r name; do
	eval "printf %s \"\${$name-UNSET}\"" >"$out/$name"
done <"$T/names"
EOF

cat >"$T/names" <<'EOF' || exit 1
DOCKER_CONFIG
WERF_STAGES_STORAGE
WERF_STAGES_STORAGE_REPO_IMPLEMENTATION
WERF_IMAGES_REPO
WERF_IMAGES_REPO_IMPLEMENTATION
WERF_TAG_BY_STAGES_SIGNATURE
WERF_TAG_GIT_TAG
WERF_TAG_GIT_BRANCH
WERF_ENV
WERF_ADD_ANNOTATION_PROJECT_GIT
WERF_ADD_ANNOTATION_CI_COMMIT
WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL
WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL
WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL
WERF_REPO_GITHUB_TOKEN
WERF_GIT_TAG_STRATEGY_LIMIT
WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS
WERF_GIT_COMMIT_STRATEGY_LIMIT
WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS
WERF_STAGES_SIGNATURE_STRATEGY_LIMIT
WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS
WERF_GIT_HISTORY_SYNCHRONIZATION
WERF_GIT_UNSHALLOW
WERF_LOG_COLOR_MODE
WERF_LOG_PROJECT_DIR
WERF_ENABLE_PROCESS_EXTERMINATOR
WERF_LOG_TERMINAL_WIDTH
EOF

# expect DIR NAME=VALUE...: the expected value of each variable, every other one "UNSET"
expect () {
	_e_dir=$1
	shift
	rm -rf "$_e_dir" && mkdir "$_e_dir" || return 1
	while read -r _e_name; do
		printf UNSET >"$_e_dir/$_e_name" || return 1
	done <"$T/names"
	for _e_kv; do
		printf %s "${_e_kv#*=}" >"$_e_dir/${_e_kv%%=*}" || return 1
	done
}

# check OUT EXP: every variable in OUT has exactly the value in EXP; DOCKER_CONFIG is a new
# directory below $TMPD
check () {
	while read -r _c_name; do
		[ "$_c_name" = DOCKER_CONFIG ] && continue
		cmp -s "$2/$_c_name" "$1/$_c_name" || {
			printf '%s: got [%s], want [%s]\n' "$_c_name" "$(cat "$1/$_c_name")" \
				"$(cat "$2/$_c_name")" >&2
			return 1
		}
	done <"$T/names"
	_c_dc=$(cat "$1/DOCKER_CONFIG")
	case $_c_dc in
	"$TMPD"/cairn-docker-config-??????) test -d "$_c_dc" ;;
	*)
		echo "DOCKER_CONFIG=[$_c_dc]" >&2
		return 1
		;;
	esac
}

# auth_of CONFIG HOST: the auth string of HOST in a docker config.json
auth_of () {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["auths"][sys.argv[2]]["auth"])' "$1" "$2"
}

# no_secret FILE...: none of the files holds a token or its base64 auth string
no_secret () {
	for _ns in "$TOKEN" "$GHTOKEN" "$(printf 'gitlab-ci-token:%s' "$TOKEN" | base64 -w0)" \
		"$(printf 'bot:%s' "$GHTOKEN" | base64 -w0)"; do
		if grep -lF -e "$_ns" "$@" >&2; then
			echo "a secret is in the files above" >&2
			return 1
		fi
	done
}

SHELLS=sh N_RUNS=2
if command -v bash >/dev/null 2>&1; then
	SHELLS="sh bash" N_RUNS=4
fi

expect "$T/exp/gitlab" \
	"WERF_STAGES_STORAGE=$CI_IMG/stages" \
	WERF_STAGES_STORAGE_REPO_IMPLEMENTATION=gitlab \
	"WERF_IMAGES_REPO=$CI_IMG" \
	WERF_IMAGES_REPO_IMPLEMENTATION=gitlab \
	WERF_TAG_BY_STAGES_SIGNATURE=true \
	"WERF_ENV=$HOSTILE" \
	"WERF_ADD_ANNOTATION_PROJECT_GIT=project.werf.io/git=$CI_URL" \
	"WERF_ADD_ANNOTATION_CI_COMMIT=ci.werf.io/commit=$HOSTILE" \
	"WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL=gitlab.ci.werf.io/pipeline-url=$CI_URL/pipelines/7 $HOSTILE" \
	"WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL=gitlab.ci.werf.io/job-url=$CI_URL/-/jobs/9" \
	WERF_GIT_TAG_STRATEGY_LIMIT=10 WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS=30 \
	WERF_GIT_COMMIT_STRATEGY_LIMIT=50 WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS=30 \
	WERF_STAGES_SIGNATURE_STRATEGY_LIMIT=-1 WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS=-1 \
	WERF_GIT_HISTORY_SYNCHRONIZATION=1 WERF_GIT_UNSHALLOW=1 WERF_LOG_COLOR_MODE=off \
	WERF_LOG_PROJECT_DIR=1 WERF_ENABLE_PROCESS_EXTERMINATOR=1 WERF_LOG_TERMINAL_WIDTH=95 ||
	exit 1

test_expect_success 'gitlab: eval and a sourced --as-file give every value exactly' '
	for sh in $SHELLS; do
		for mode in eval source; do
			gitlab_env "$sh" "$T/job.sh" "$mode" "$T/gl-$sh-$mode" gitlab &&
			check "$T/gl-$sh-$mode" "$T/exp/gitlab" || return 1
		done
	done &&
	test ! -e "$T/pwned" &&
	test "$(head -n1 "$T/gl-sh-eval.out")" = "# DOCKER CONFIG" &&
	file=$(cat "$T/gl-sh-source.out") &&
	case $file in "$TMPD"/cairn-ci-env-??????) ;; *) false ;; esac &&
	test -f "$file" && test ! -s "$T/gl-sh-eval.err" && test ! -s "$T/gl-sh-source.err"
'

test_expect_success 'gitlab: the job docker config holds the token, private; nothing prints it' '
	for run in "$T"/gl-*-eval "$T"/gl-*-source; do
		dc=$(cat "$run/DOCKER_CONFIG") &&
		test "$(stat -c %a "$dc")" = 700 &&
		test "$(stat -c %a "$dc/config.json")" = 600 &&
		test "$(auth_of "$dc/config.json" "$CI_REG")" = \
			"$(printf "gitlab-ci-token:%s" "$TOKEN" | base64 -w0)" || return 1
	done &&
	set -- "$TMPD"/cairn-docker-config-* && test $# -eq "$N_RUNS" &&
	gitlab_env "$CAIRN" ci-env gitlab -vv >"$T/gl-vv.out" 2>"$T/gl-vv.err" &&
	no_secret "$T"/gl-*.out "$T"/gl-*.err "$T"/gl-*.script
'

test_expect_success 'gitlab tag-or-branch: the slug of the CI tag, else of the branch' '
	ref="feature/$HOSTILE" &&
	slug=$("$CAIRN" slugify -f docker-tag -- "$ref") &&
	cp -r "$T/exp/gitlab" "$T/exp/gl-branch" &&
	printf UNSET >"$T/exp/gl-branch/WERF_TAG_BY_STAGES_SIGNATURE" &&
	printf %s "$slug" >"$T/exp/gl-branch/WERF_TAG_GIT_BRANCH" &&
	gitlab_env CI_COMMIT_REF_NAME="$ref" sh "$T/job.sh" eval "$T/gl-branch" gitlab \
		--tagging-strategy tag-or-branch &&
	check "$T/gl-branch" "$T/exp/gl-branch" &&
	cp -r "$T/exp/gl-branch" "$T/exp/gl-tag" &&
	printf UNSET >"$T/exp/gl-tag/WERF_TAG_GIT_BRANCH" &&
	printf v1.2.3 >"$T/exp/gl-tag/WERF_TAG_GIT_TAG" &&
	gitlab_env CI_COMMIT_REF_NAME="$ref" CI_COMMIT_TAG=v1.2.3 \
		sh "$T/job.sh" source "$T/gl-tag" gitlab --tagging-strategy=tag-or-branch &&
	check "$T/gl-tag" "$T/exp/gl-tag" &&
	test ! -e "$T/pwned"
'

test_expect_success 'variables already set stay as they are, but DOCKER_CONFIG' '
	gitlab_env WERF_ENV=mine DOCKER_CONFIG=/elsewhere WERF_IMAGES_REPO=other.example.com/x \
		sh "$T/job.sh" eval "$T/gl-set" gitlab &&
	test "$(cat "$T/gl-set/WERF_ENV")" = mine &&
	test "$(cat "$T/gl-set/WERF_IMAGES_REPO")" = other.example.com/x &&
	test "$(cat "$T/gl-set/WERF_IMAGES_REPO_IMPLEMENTATION")" = UNSET &&
	test "$(cat "$T/gl-set/WERF_STAGES_STORAGE")" = "$CI_IMG/stages" &&
	case $(cat "$T/gl-set/DOCKER_CONFIG") in "$TMPD"/cairn-docker-config-*) ;; *) false ;; esac
'

test_expect_success 'errors: a missing CI variable stops the job; usage errors exit 2' '
	clean_env TMPDIR="$TMPD" "$CAIRN" ci-env gitlab --tagging-strategy tag-or-branch \
		>"$T/e.out" 2>"$T/e.err"; test $? = 1 &&
	test "$(cat "$T/e.out")" = "exit 1" &&
	grep -q "CI_COMMIT_TAG or CI_COMMIT_REF_NAME" "$T/e.err" &&
	for args in "" "jenkins" "gitlab github" "gitlab --shell cmdexe" \
		"gitlab --tagging-strategy bogus" "generic --tagging-strategy tag-or-branch" \
		"gitlab --as-file --as-env-file" "gitlab --frobnicate"; do
		# shellcheck disable=SC2086 # the words of $args are the arguments
		clean_env TMPDIR="$TMPD" "$CAIRN" ci-env $args >"$T/e.out" 2>"$T/e.err"
		if [ $? != 2 ] || ! grep -q "^usage: cairn ci-env" "$T/e.err" || [ -s "$T/e.out" ]; then
			echo "ci-env $args" >&2
			return 1
		fi
	done
'

test_expect_success 'github: the repository of werf.yaml, the token by reference only' '
	mkdir -p "$T/gh" &&
	printf "project: demo\nconfigVersion: 1\n---\nimage: ~\nfrom: alpine\n" >"$T/gh/werf.yaml" &&
	expect "$T/exp/github" \
		WERF_STAGES_STORAGE=docker.pkg.github.com/owner/repo/stages \
		WERF_IMAGES_REPO=docker.pkg.github.com/owner/repo/demo \
		WERF_TAG_BY_STAGES_SIGNATURE=true \
		WERF_ADD_ANNOTATION_PROJECT_GIT=project.werf.io/git=https://github.com/Owner/Repo \
		"WERF_ADD_ANNOTATION_CI_COMMIT=ci.werf.io/commit=$HOSTILE" \
		WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL=github.ci.werf.io/workflow-run-url=https://github.com/Owner/Repo/actions/runs/5 \
		"WERF_REPO_GITHUB_TOKEN=$GHTOKEN" \
		WERF_GIT_TAG_STRATEGY_LIMIT=10 WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS=30 \
		WERF_GIT_COMMIT_STRATEGY_LIMIT=50 WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS=30 \
		WERF_STAGES_SIGNATURE_STRATEGY_LIMIT=-1 WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS=-1 \
		WERF_GIT_HISTORY_SYNCHRONIZATION=1 WERF_LOG_COLOR_MODE=on \
		WERF_LOG_PROJECT_DIR=1 WERF_ENABLE_PROCESS_EXTERMINATOR=1 WERF_LOG_TERMINAL_WIDTH=95 &&
	for mode in eval source; do
		clean_env TMPDIR="$TMPD" GITHUB_ACTIONS=true GITHUB_REPOSITORY=Owner/Repo \
			GITHUB_ACTOR=bot GITHUB_TOKEN="$GHTOKEN" GITHUB_SHA="$HOSTILE" GITHUB_RUN_ID=5 \
			GITHUB_REF=refs/heads/main sh "$T/job.sh" "$mode" "$T/gh-$mode" github \
			--dir "$T/gh" &&
		check "$T/gh-$mode" "$T/exp/github" || return 1
	done &&
	dc=$(cat "$T/gh-eval/DOCKER_CONFIG") &&
	test "$(auth_of "$dc/config.json" docker.pkg.github.com)" = \
		"$(printf "bot:%s" "$GHTOKEN" | base64 -w0)" &&
	no_secret "$T"/gh-*.out "$T"/gh-*.err "$T"/gh-*.script &&
	test ! -e "$T/pwned"
'

test_expect_success 'travis: the branch slug and the commit; no registry' '
	expect "$T/exp/travis" \
		WERF_TAG_GIT_BRANCH="$("$CAIRN" slugify -f tag -- "feat/$HOSTILE")" \
		"WERF_ADD_ANNOTATION_CI_COMMIT=ci.werf.io/commit=c0ffee" \
		WERF_GIT_TAG_STRATEGY_LIMIT=10 WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS=30 \
		WERF_GIT_COMMIT_STRATEGY_LIMIT=50 WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS=30 \
		WERF_STAGES_SIGNATURE_STRATEGY_LIMIT=-1 WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS=-1 \
		WERF_GIT_HISTORY_SYNCHRONIZATION=1 WERF_LOG_COLOR_MODE=on \
		WERF_LOG_PROJECT_DIR=1 WERF_ENABLE_PROCESS_EXTERMINATOR=1 WERF_LOG_TERMINAL_WIDTH=95 &&
	clean_env TMPDIR="$TMPD" TRAVIS=true TRAVIS_BRANCH="feat/$HOSTILE" TRAVIS_COMMIT=c0ffee \
		sh "$T/job.sh" eval "$T/travis" travis --tagging-strategy tag-or-branch &&
	check "$T/travis" "$T/exp/travis" &&
	test ! -e "$(cat "$T/travis/DOCKER_CONFIG")/config.json"
'

test_expect_success 'generic: the user docker config copied as it is, no CI variables read' '
	mkdir -p "$HOME/.docker" &&
	printf "{ \"auths\": {\"x.example.com\": {\"auth\": \"dTpw\"}} }\n" >"$HOME/.docker/config.json" &&
	expect "$T/exp/generic" \
		WERF_TAG_BY_STAGES_SIGNATURE=true \
		WERF_GIT_TAG_STRATEGY_LIMIT=10 WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS=30 \
		WERF_GIT_COMMIT_STRATEGY_LIMIT=50 WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS=30 \
		WERF_STAGES_SIGNATURE_STRATEGY_LIMIT=-1 WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS=-1 \
		WERF_GIT_HISTORY_SYNCHRONIZATION=1 WERF_LOG_COLOR_MODE=on \
		WERF_LOG_PROJECT_DIR=1 WERF_ENABLE_PROCESS_EXTERMINATOR=1 WERF_LOG_TERMINAL_WIDTH=95 &&
	clean_env TMPDIR="$TMPD" CI_REGISTRY_IMAGE=r.example.com/a CI_JOB_TOKEN="$TOKEN" \
		CI_ENVIRONMENT_SLUG=x sh "$T/job.sh" source "$T/generic" generic &&
	check "$T/generic" "$T/exp/generic" &&
	cmp "$HOME/.docker/config.json" "$(cat "$T/generic/DOCKER_CONFIG")/config.json" &&
	rm -r "$HOME/.docker"
'

test_expect_success '--as-env-file and -o: NAME=value lines in the named file' '
	clean_env TMPDIR="$TMPD" "$CAIRN" ci-env generic --as-env-file -o "$T/job.env" >"$T/o.out" &&
	test ! -s "$T/o.out" &&
	grep -qx "WERF_TAG_BY_STAGES_SIGNATURE=true" "$T/job.env" &&
	grep -q "^DOCKER_CONFIG=$T/tmp dir" "$T/job.env" &&
	clean_env TMPDIR="$TMPD" "$CAIRN" ci-env generic --shell powershell --as-file >"$T/ps.out" &&
	case $(cat "$T/ps.out") in "$TMPD"/cairn-ci-env-*.ps1) ;; *) false ;; esac &&
	grep -qxF "\$Env:WERF_TAG_BY_STAGES_SIGNATURE = '\''true'\''" "$(cat "$T/ps.out")"
'

registry_start --htpasswd "gitlab-ci-token:$TOKEN"
base_image_push "$REG/base/busybox:1"

# push.sh: a GitLab job: ci-env, then a pull and a push with no credential option and no
# CI_JOB_TOKEN left (cairn would use CI_REGISTRY + CI_JOB_TOKEN by itself): DOCKER_CONFIG only
cat >"$T/push.sh" <<'EOF' || exit 1
eval "$("$CAIRN" ci-env gitlab)" || exit 1
unset CI_JOB_TOKEN CI_REGISTRY
"$CAIRN" image pull -v "$REG/base/busybox:1" >"$T/pull.digest" 2>"$T/pull.err" || exit 1
"$CAIRN" image push -v "$REG/base/busybox:1" "$WERF_IMAGES_REPO:x" >"$T/push.digest" \
	2>"$T/push.err"
EOF

test_expect_success 'registry: push to $WERF_IMAGES_REPO with the job docker config only' '
	! clean_env TMPDIR="$TMPD" REG="$REG" "$CAIRN" image pull "$REG/base/busybox:1" \
		>/dev/null 2>"$T/anon.err" &&
	clean_env TMPDIR="$TMPD" REG="$REG" CI_REGISTRY="$REG" \
		CI_REGISTRY_IMAGE="$REG/group/app" CI_JOB_TOKEN="$TOKEN" sh "$T/push.sh" &&
	grep -qF "credentials from docker config '\''$TMPD/cairn-docker-config-" "$T/push.err" &&
	test "$(cat "$T/push.digest")" = "$(manifest_digest "$REG/base/busybox:1")" &&
	test "$(manifest_digest "$REG/group/app:x")" = "$(cat "$T/push.digest")" &&
	no_secret "$T/pull.err" "$T/push.err" "$T/anon.err"
'

test_done
