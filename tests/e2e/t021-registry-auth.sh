#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Registry credentials: Basic auth from the command line, a docker config (auths, credsStore,
# credHelpers) and the environment; Bearer tokens from a token server, anonymous pulls, refused
# anonymous pushes and a token refreshed mid-push.  Every cairn command runs with -vv, and none
# of its output may contain a password, a docker config auth string or a token.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo curl base64 python3
require_python jwt cryptography

HT_PASS_WRONG='Wr0ng-pa55word-for-alice'
BOB_PASS='B0b-t0ken-pa55word'
test_secret "$HT_PASS_WRONG"

registry_start --name HT --htpasswd alice:Al1ce-htpasswd-s3cret
token_server_start --name TK --users "bob:$BOB_PASS" --anonymous pull --public 'public/.*' \
	--expires 2
base_image_push "$HT/base/busybox:1"
base_image_push "$TK/public/busybox:1"

mkdir -p "$T/runs" "$T/bin" || exit 1
nrun=0

# cairn_vv [VAR=VALUE...] pull|push ARGS...: cairn image pull|push -vv ARGS with VAR=VALUE in its
# environment; stdout in $T/runs/N.out (also $OUT), stderr in $T/runs/N.err (also $ERR), all kept
# for the final secret scan.  Returns cairn's status.
cairn_vv () {
	nrun=$((nrun + 1))
	OUT=$T/runs/$nrun.out ERR=$T/runs/$nrun.err
	# Rebuild "$@" as VAR=VALUE... "$CAIRN" image SUBCOMMAND -vv ARGS... for env(1).
	_cv_n=$# _cv_env=1
	for _cv_a in "$@"; do
		if [ -n "$_cv_env" ]; then
			case $_cv_a in
			*=*) set -- "$@" "$_cv_a" ;;
			*)
				set -- "$@" "$CAIRN" image "$_cv_a" -vv
				_cv_env=''
				;;
			esac
		else
			set -- "$@" "$_cv_a"
		fi
	done
	shift "$_cv_n"
	env "$@" >"$OUT" 2>"$ERR"
}

auth_error () {
	grep -qiE 'unauthori[sz]ed|authenticat|401|denied|credential|insufficient' "$1"
}

test_expect_success 'basic auth: --registry-username/--registry-password pull and push' '
	BASE=$(manifest_digest "$HT/base/busybox:1") &&
	cairn_vv pull --registry-username alice --registry-password "$HT_PASS" \
		"$HT/base/busybox:1" &&
	test "$(cat "$OUT")" = "$BASE" &&
	cairn_vv push --registry-username alice --registry-password "$HT_PASS" \
		"$HT/base/busybox:1" "$HT/flags/busybox:1" &&
	test "$(manifest_digest "$HT/flags/busybox:1")" = "$BASE"
'

test_expect_success 'basic auth: a wrong password fails with exit 1 and an auth message' '
	{
		cairn_vv push --registry-username alice --registry-password "$HT_PASS_WRONG" \
			"$HT/base/busybox:1" "$HT/wrong/busybox:1"
		rc=$?
	} &&
	cat "$ERR" &&
	test "$rc" -eq 1 &&
	auth_error "$ERR" &&
	test_must_fail manifest_digest "$HT/wrong/busybox:1" 2>/dev/null &&
	{
		cairn_vv push "$HT/base/busybox:1" "$HT/anonymous/busybox:1"
		rc=$?
	} &&
	cat "$ERR" &&
	test "$rc" -eq 1 &&
	auth_error "$ERR"
'

test_expect_success 'basic auth: credentials from a docker config dir (auths)' '
	HT_AUTH=$(printf "%s" "alice:$HT_PASS" | base64 | tr -d "\n") &&
	mkdir -p "$T/dcfg" &&
	printf "{\"auths\": {\"%s\": {\"auth\": \"%s\"}}}\n" "$HT" "$HT_AUTH" >"$T/dcfg/config.json" &&
	cairn_vv push --docker-config "$T/dcfg" "$HT/base/busybox:1" "$HT/dcfg/busybox:1" &&
	test "$(manifest_digest "$HT/dcfg/busybox:1")" = "$BASE" &&
	cairn_vv DOCKER_CONFIG="$T/dcfg" push "$HT/base/busybox:1" "$HT/dcfg-env/busybox:1" &&
	test "$(manifest_digest "$HT/dcfg-env/busybox:1")" = "$BASE"
'

test_expect_success 'basic auth: credentials from CAIRN_REGISTRY_USERNAME/PASSWORD' '
	cairn_vv CAIRN_REGISTRY_USERNAME=alice CAIRN_REGISTRY_PASSWORD="$HT_PASS" \
		push "$HT/base/busybox:1" "$HT/env/busybox:1" &&
	test "$(manifest_digest "$HT/env/busybox:1")" = "$BASE"
'

test_expect_success 'basic auth: a credential helper (credsStore and credHelpers)' '
	cat >"$T/bin/docker-credential-cairntest" <<-EOF &&
		#!/bin/sh
		# Test credential helper: knows alice on $HT; logs what it is asked, never the secret.
		read -r server
		printf "%s %s\n" "\$1" "\$server" >>"$T/helper.log"
		[ "\$1" = get ] || exit 1
		case \$server in
		*"$HT"*) printf "{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"%s\"}\n" \
			"\$server" "\$(cat "$T/helper.secret")" ;;
		*) echo "credentials not found in native keychain"; exit 1 ;;
		esac
	EOF
	chmod +x "$T/bin/docker-credential-cairntest" &&
	printf "%s" "$HT_PASS" >"$T/helper.secret" &&
	mkdir -p "$T/store-cfg" "$T/helpers-cfg" &&
	echo "{\"credsStore\": \"cairntest\"}" >"$T/store-cfg/config.json" &&
	cairn_vv PATH="$T/bin:$PATH" push --docker-config "$T/store-cfg" \
		"$HT/base/busybox:1" "$HT/helper/busybox:1" &&
	test "$(manifest_digest "$HT/helper/busybox:1")" = "$BASE" &&
	grep "^get .*$HT" "$T/helper.log" &&
	: >"$T/helper.log" &&
	printf "{\"credHelpers\": {\"%s\": \"cairntest\"}}\n" "$HT" >"$T/helpers-cfg/config.json" &&
	cairn_vv PATH="$T/bin:$PATH" push --docker-config "$T/helpers-cfg" \
		"$HT/base/busybox:1" "$HT/helpers/busybox:1" &&
	test "$(manifest_digest "$HT/helpers/busybox:1")" = "$BASE" &&
	grep "^get .*$HT" "$T/helper.log"
'

test_expect_success 'bearer: push and pull with a user of the token server' '
	n=$(token_log_count "ua=cairn/") &&
	cairn_vv push --registry-username bob --registry-password "$BOB_PASS" \
		"$HT/base/busybox:1" "$TK/private/busybox:1" &&
	test "$(manifest_digest "$TK/private/busybox:1")" = "$BASE" &&
	cairn_vv pull --registry-username bob --registry-password "$BOB_PASS" \
		--name tk-private "$TK/private/busybox:1" &&
	test "$(cat "$OUT")" = "$BASE" &&
	grep -F "ua=cairn/" "$TOKEN_LOG" | tail -n "+$((n + 1))" >"$T/fetches" &&
	cat "$T/fetches" &&
	grep -q "user=bob status=200 .*granted=repository:private/busybox:pull,push" "$T/fetches" &&
	test "$(grep -c "user=- " "$T/fetches")" -eq 0
'

test_expect_success 'bearer: anonymous pull of a public repository' '
	n=$(token_log_count "ua=cairn/") &&
	cairn_vv pull --name anon-public "$TK/public/busybox:1" &&
	test "$(cat "$OUT")" = "$BASE" &&
	grep -F "ua=cairn/" "$TOKEN_LOG" | tail -n "+$((n + 1))" >"$T/fetches" &&
	cat "$T/fetches" &&
	grep -q "user=- status=200 .*granted=repository:public/busybox:pull" "$T/fetches"
'

test_expect_success 'bearer: anonymous pull of a private repository fails with an auth error' '
	test_must_fail cairn_vv pull --name anon-private "$TK/private/busybox:1" &&
	cat "$ERR" &&
	auth_error "$ERR"
'

test_expect_success 'bearer: anonymous push fails with an auth error' '
	{
		cairn_vv push anon-public "$TK/public/anon:1"
		rc=$?
	} &&
	cat "$ERR" &&
	test "$rc" -eq 1 &&
	auth_error "$ERR" &&
	test_must_fail manifest_digest "$TK/public/anon:1" 2>/dev/null
'

test_expect_success 'bearer: a wrong password fails with an auth error' '
	{
		cairn_vv push --registry-username bob --registry-password "$HT_PASS_WRONG" \
			"$HT/base/busybox:1" "$TK/private/wrong:1"
		rc=$?
	} &&
	cat "$ERR" &&
	test "$rc" -eq 1 &&
	auth_error "$ERR"
'

# Tokens live 2 s; distribution accepts them 60 s past exp, so the proxy refuses expired ones
# (a registry without leeway) and slows every answer to make the push outlast several tokens.
test_expect_success 'bearer: an expiring token is refreshed mid-push' '
	fault_proxy_start --upstream "$TK" --reject-expired-tokens "delay=500 * ^/v2/. inf" &&
	n=$(token_log_count "ua=cairn/") &&
	start=$(date +%s) &&
	cairn_vv push -j 1 --registry-username bob --registry-password "$BOB_PASS" \
		"$HT/base/busybox:1" "$PROXY/refresh/busybox:1" &&
	echo "push took $(($(date +%s) - start)) s" &&
	grep -F "ua=cairn/" "$TOKEN_LOG" | tail -n "+$((n + 1))" >"$T/fetches" &&
	cat "$T/fetches" "$PROXY_LOG" &&
	test "$(grep -c "user=bob status=200" "$T/fetches")" -ge 2 &&
	test "$(manifest_digest "$TK/refresh/busybox:1")" = "$BASE"
'

test_expect_success 'no password, auth string or token in any output of cairn -vv' '
	test "$nrun" -gt 10 &&
	: >"$T/secrets" &&
	for s in "$HT_PASS" "$HT_PASS_WRONG" "$BOB_PASS" "$HT_AUTH" \
		"$(printf "%s" "bob:$BOB_PASS" | base64 | tr -d "\n")" \
		"$(printf "%s" "alice:$HT_PASS_WRONG" | base64 | tr -d "\n")"; do
		printf "%s\n" "$s" >>"$T/secrets" || return 1
	done &&
	test -s "$TOKEN_ISSUED" &&
	while read -r tok; do
		printf "%s\n" "$tok" &&
		case $tok in
		*.*.*)
			# the claims and the signature alone are secrets too (a truncated token)
			tok=${tok#*.} && printf "%s\n%s\n" "${tok%%.*}" "${tok#*.}" ;;
		esac
	done <"$TOKEN_ISSUED" >>"$T/secrets" &&
	echo "$(wc -l <"$T/secrets") secrets, $(cat "$T/runs"/* | wc -c) bytes of output in $nrun runs" &&
	find "$CAIRN_HOME" "$HOME" -type f -name "*log*" >"$T/logs" &&
	echo "log files of cairn: $(wc -l <"$T/logs")" &&
	if grep -lF -f "$T/secrets" "$T/runs"/* $(cat "$T/logs"); then
		echo "secrets found in the files above" &&
		return 1
	fi
'

test_done
