#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The command line: help, version, slugify vectors of the spec, usage errors and exit codes.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"

# expect_exit CODE CMD...: run CMD, succeed only if it exits with CODE
expect_exit() {
	want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "exit $got, want $want: $*" >&2
		cat "$T/err" >&2
		return 1
	fi
}

slug_is() {
	test "$("$CAIRN" slugify -f "$1" -- "$2")" = "$3" || {
		echo "slugify -f $1 '$2' = '$("$CAIRN" slugify -f "$1" -- "$2")', want '$3'" >&2
		return 1
	}
}

test_expect_success 'help lists the commands and exits 0' '
	"$CAIRN" --help >"$T/help" &&
	grep -q "^  slugify " "$T/help" &&
	grep -q "^  version " "$T/help" &&
	"$CAIRN" help >"$T/help2" &&
	test_cmp "$T/help" "$T/help2"
'

test_expect_success 'help COMMAND and COMMAND --help agree' '
	"$CAIRN" help slugify >"$T/a" &&
	"$CAIRN" slugify --help >"$T/b" &&
	test_cmp "$T/a" "$T/b" &&
	grep -q "^usage: cairn slugify -f tag|ns|release STRING" "$T/a"
'

test_expect_success 'version prints the version' '
	"$CAIRN" version >"$T/v" &&
	head -1 "$T/v" | grep -Eq "^cairn [0-9]+\.[0-9]+\.[0-9]+$" &&
	grep -q "^  libcurl [0-9]" "$T/v" && grep -q "^  libgit2 [0-9]" "$T/v" &&
	grep -q "^  libfyaml " "$T/v" && grep -q "^  OpenSSL " "$T/v" && grep -q "^  runc" "$T/v" &&
	"$CAIRN" --version >"$T/v2" &&
	test_cmp "$T/v" "$T/v2"
'

test_expect_success 'slugify matches every vector of the spec' '
	slug_is tag -data data-a871d86e &&
	slug_is tag da/ta da-ta-afa96f8 &&
	slug_is tag helo/ehlo helo-ehlo-b6f6ab1f &&
	slug_is tag 16.04 16.04 &&
	x129=$(printf "%0129d" 0 | tr 0 x) && x119=$(printf "%0119d" 0 | tr 0 x) &&
	slug_is tag "$x129" "$x119-8cca70eb" &&
	slug_is ns feature-fix-2 feature-fix-2 &&
	slug_is ns "branch/one/!@#4.4-3" branch-one-4-4-3-4fe08955 &&
	slug_is ns My_branch my-branch-8ebf2d1d
'

test_expect_success 'slugify takes the format names of werf slugify -f' '
	slug_is docker-tag helo/ehlo helo-ehlo-b6f6ab1f &&
	slug_is docker-tag 16.04 16.04 &&
	slug_is kubernetes-namespace "branch/one/!@#4.4-3" branch-one-4-4-3-4fe08955 &&
	slug_is kubernetes-namespace My_branch my-branch-8ebf2d1d &&
	slug_is helm-release my_release-NAME my_release-NAME &&
	slug_is helm-release looooooooooooooooooooooooooooooooooooooooooong_string \
		looooooooooooooooooooooooooooooooooooooooooo-b150a895 &&
	slug_is r looooooooooooooooooooooooooooooooooooooooooong_string \
		looooooooooooooooooooooooooooooooooooooooooo-b150a895 &&
	test "$("$CAIRN" slugify --format=kubernetes-namespace My_branch)" = my-branch-8ebf2d1d
'

test_expect_success 'slugify results are valid in their format' '
	for s in "feature/JIRA-42 new login" "Ünïcödé/ветка" "..." "a b c" "$x129"; do
		"$CAIRN" slugify -f tag -- "$s" | grep -Eq "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" &&
		"$CAIRN" slugify -f ns -- "$s" | grep -Eq "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" &&
		"$CAIRN" slugify -f release -- "$s" |
			grep -Eq "^[A-Za-z0-9]([-A-Za-z0-9_.]{0,51}[A-Za-z0-9])?$" || return 1
	done
'

test_expect_success 'the format may come from the environment; the option wins' '
	test "$(CAIRN_FORMAT=ns "$CAIRN" slugify My_branch)" = my-branch-8ebf2d1d &&
	test "$(CAIRN_FORMAT=ns "$CAIRN" slugify -f tag My_branch)" = My_branch
'

test_expect_success 'werf variables stand in for options: command line > CAIRN_ > WERF_' '
	test "$(WERF_FORMAT=ns "$CAIRN" slugify My_branch)" = my-branch-8ebf2d1d &&
	test "$(CAIRN_FORMAT=tag WERF_FORMAT=ns "$CAIRN" slugify My_branch)" = My_branch &&
	test "$(WERF_FORMAT=ns "$CAIRN" slugify -f tag My_branch)" = My_branch
'

test_expect_success 'a misspelt CAIRN_ variable gets a warning naming the option' '
	CAIRN_FROMAT=ns "$CAIRN" slugify -f tag My_branch >"$T/o" 2>"$T/e" &&
	test "$(cat "$T/o")" = My_branch &&
	grep -q "warning: CAIRN_FROMAT is not an option of this command; did you mean CAIRN_FORMAT (--format)" "$T/e" &&
	CAIRN_HOME_DIRR=x CAIRN_TEST_WHATEVER=1 CAIRN_SOMETHING_ELSE_ENTIRELY=1 CAIRN_HOME=$T/h \
		"$CAIRN" slugify -f tag x 2>"$T/e2" >/dev/null &&
	grep -q "CAIRN_HOME_DIRR.*CAIRN_HOME_DIR (--home-dir)" "$T/e2" &&
	test "$(grep -c warning "$T/e2")" = 1 &&
	CAIRN_HOME=$T/h "$CAIRN" image pull --help >/dev/null 2>"$T/e3" && test ! -s "$T/e3"
'

test_expect_success 'usage errors exit 2 with the usage line' '
	expect_exit 2 "$CAIRN" slugify x && grep -q "missing --format" "$T/err" &&
	grep -q "^usage: cairn slugify" "$T/err" &&
	expect_exit 2 "$CAIRN" slugify -f bogus x && grep -q "bogus" "$T/err" &&
	expect_exit 2 "$CAIRN" slugify -f tag && grep -q "exactly one STRING" "$T/err" &&
	expect_exit 2 "$CAIRN" slugify -f tag a b && grep -q "got 2" "$T/err" &&
	expect_exit 2 "$CAIRN" slugify -f && grep -q "needs a value" "$T/err" &&
	expect_exit 2 "$CAIRN" slugify --frobnicate -f tag x &&
	grep -q "unknown option .--frobnicate." "$T/err" &&
	expect_exit 2 "$CAIRN" no-such-command && grep -q "unknown command .no-such-command." "$T/err" &&
	expect_exit 2 "$CAIRN" --no-such-option && grep -q "unknown option" "$T/err" &&
	expect_exit 2 "$CAIRN" && grep -q "^usage: cairn" "$T/err" &&
	expect_exit 2 "$CAIRN" help no-such-command &&
	expect_exit 2 "$CAIRN" version extra
'

test_expect_success 'every command takes its options after its operands too' '
	test "$("$CAIRN" slugify da/ta -f tag)" = da-ta-afa96f8 &&
	mkdir -p "$T/p" && printf "project: p\nconfigVersion: 1\n---\nimage: a\nfrom: x\n" \
		>"$T/p/werf.yaml" &&
	expect_exit 2 "$CAIRN" build nope --dir "$T/p" --home-dir "$T/h" &&
	grep -q "image .nope. is not in werf.yaml; images: a" "$T/err" &&
	expect_exit 2 "$CAIRN" stages ls --frobnicate && grep -q "frobnicate" "$T/err"
'

test_expect_success 'a mistyped command or option gets the closest one named' '
	expect_exit 2 "$CAIRN" biuld && grep -q "unknown command .biuld.; did you mean .build.?" "$T/err" &&
	expect_exit 2 "$CAIRN" help publsh && grep -q "did you mean .publish.?" "$T/err" &&
	expect_exit 2 "$CAIRN" publish --tag-git-brnch x &&
	grep -q "unknown option .--tag-git-brnch.; did you mean .--tag-git-branch.?" "$T/err" &&
	expect_exit 2 "$CAIRN" frobnicate && ! grep -q "did you mean" "$T/err"
'

test_expect_success 'the help of a subcommand is its command'"'"'s, exit 0' '
	"$CAIRN" dimg push --help >"$T/h1" && grep -q "^usage: cairn dimg push|bp" "$T/h1" &&
	"$CAIRN" images cleanup --help >"$T/h2" && grep -q "^usage: cairn images cleanup" "$T/h2"
'

test_expect_success 'a host that does not resolve is reported as such' '
	expect_exit 1 "$CAIRN" image pull -q nonexistent.invalid/x:y --home-dir "$T/h" &&
	grep -q "Could not resolve host: nonexistent.invalid" "$T/err" &&
	! grep -q "CURLOPT" "$T/err"
'

test_expect_success 'results go to stdout, errors to stderr' '
	"$CAIRN" slugify -f tag da/ta >"$T/o" 2>"$T/e" &&
	test "$(cat "$T/o")" = da-ta-afa96f8 && test ! -s "$T/e" &&
	expect_exit 2 "$CAIRN" slugify -f bogus x && test ! -s "$T/out" &&
	grep -q "^cairn: error: " "$T/err"
'

test_expect_success 'colours: none in a pipe, CLICOLOR_FORCE forces them, NO_COLOR wins' '
	esc=$(printf "\033") &&
	{ "$CAIRN" biuld 2>"$T/c0"; test $? -eq 2; } &&
	! grep -q "$esc" "$T/c0" &&
	{ CLICOLOR_FORCE=1 "$CAIRN" biuld 2>"$T/c1"; test $? -eq 2; } &&
	grep -q "^cairn: ${esc}\[1;31merror:${esc}\[0m unknown command" "$T/c1" &&
	{ NO_COLOR=1 CLICOLOR_FORCE=1 "$CAIRN" biuld 2>"$T/c2"; test $? -eq 2; } &&
	grep -q "^cairn: error: unknown command" "$T/c2"
'

test_expect_success '--log-time (or CAIRN_LOG_TIME): each line of stdout and stderr stamped' '
	"$CAIRN" slugify -f tag "Hello World" --log-time >"$T/lt1" &&
	grep -qx "[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9] hello-world-197683ce" "$T/lt1" &&
	{
		CAIRN_LOG_TIME=1 "$CAIRN" slugify -f bogus x 2>"$T/lt2"
		test $? -eq 2
	} &&
	test "$(grep -vc "^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9] " "$T/lt2")" -eq 0 &&
	grep -q "^[0-9:.]* cairn: error: unknown slug format" "$T/lt2"
'

test_done
