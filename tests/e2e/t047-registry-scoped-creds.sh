#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# --registry-username/--registry-password are for the registries of --images-repo and
# --stages-storage only (spec section 9): a project whose base image is on a registry with
# anonymous pulls (a token server that refuses bob) publishes to an htpasswd registry with bob's
# credentials; the base registry never sees them.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 curl
require_python jwt cryptography

ALICE_PASS='Al1ce-t047-t0ken-s3cret'
BOB_PASS='B0b-t047-htpasswd-s3cret'
token_server_start --name PUB --users "alice:$ALICE_PASS" --anonymous pull
base_image_push "$PUB/base/busybox:1"
PUB_TOKEN_LOG=$TOKEN_LOG
: >"$PUB_TOKEN_LOG" || exit 1 # from here on: what cairn asked
registry_start --name PRIV --htpasswd "bob:$BOB_PASS"

P=$T/project
mkdir -p "$P" && git init -q "$P" &&
	printf 'project: sc\nconfigVersion: 1\n---\nimage: app\nfrom: %s/base/busybox:1\nshell:\n  install: [echo hi > /hi]\n' \
		"$PUB" >"$P/werf.yaml" &&
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m i ||
	exit 1

test_expect_success 'bob publishes to his registry; the base comes anonymously from the other' '
	cairn_run build-and-publish --dir "$P" -i "$PRIV/app" --tag-plain v1 -v \
		--registry-username bob --registry-password "$BOB_PASS" >"$T/out" 2>"$T/err" &&
	grep -q "registry .$PUB.: credentials from anonymous" "$T/err" &&
	grep -q "registry .$PRIV.: credentials from" "$T/err" &&
	! grep -q "registry .$PRIV.: credentials from anonymous" "$T/err" &&
	skopeo inspect --creds "bob:$BOB_PASS" --tls-verify=false "docker://$PRIV/app/app:v1" >/dev/null &&
	! grep -rq "$BOB_PASS" "$T/out" "$T/err"
'

test_expect_success 'the token server of the base registry never saw bob, only anonymous pulls' '
	grep -q "user=- status=200" "$PUB_TOKEN_LOG" &&
	! grep -q "user=bob" "$PUB_TOKEN_LOG"
'

test_expect_success 'credentials with no registry to go to are dropped with a warning' '
	cairn_run build --dir "$P" --registry-username bob --registry-password "$BOB_PASS" \
		>"$T/b.out" 2>"$T/b.err" &&
	grep -q "registry-username is for the registry of the images repository or the stages storage" \
		"$T/b.err"
'

test_expect_success 'cairn login --password-stdin, then a publish through the docker config' '
	printf "%s\n" "$BOB_PASS" | cairn_run login -u bob --password-stdin \
		--docker-config "$T/dc" "http://$PRIV/" >"$T/login.out" 2>&1 &&
	grep -q "^Login Succeeded" "$T/login.out" && ! grep -q "$BOB_PASS" "$T/login.out" &&
	test "$(stat -c %a "$T/dc/config.json")" = 600 &&
	python3 -c "import json,sys,base64; a=json.load(open(sys.argv[1]))[\"auths\"][sys.argv[2]][\"auth\"]; sys.exit(base64.b64decode(a).decode() != \"bob:\" + sys.argv[3])" \
		"$T/dc/config.json" "$PRIV" "$BOB_PASS" &&
	cairn_run build-and-publish --dir "$P" -q -i "$PRIV/app" --tag-plain v2 \
		--docker-config "$T/dc" &&
	skopeo inspect --creds "bob:$BOB_PASS" --tls-verify=false "docker://$PRIV/app/app:v2" >/dev/null
'

test_expect_success 'cairn logout removes them: the next publish is refused' '
	cairn_run logout --docker-config "$T/dc" "$PRIV" >"$T/logout.out" 2>&1 &&
	! grep -q "$PRIV" "$T/dc/config.json" &&
	test_must_fail cairn_run publish --dir "$P" -q -i "$PRIV/app" --tag-plain v3 \
		--docker-config "$T/dc" 2>"$T/refused" &&
	grep -q "HTTP 401 .*(anonymous: no credentials for .$PRIV.; give them with .cairn login $PRIV." \
		"$T/refused" &&
	test_must_fail cairn_run logout --docker-config "$T/dc" "$PRIV" 2>"$T/again" &&
	grep -q "has no credentials for" "$T/again"
'

test_expect_success 'login and logout through the credsStore helper, as docker login does' '
	mkdir -p "$T/hbin" "$T/hstore" "$T/dc5" &&
	cat >"$T/hbin/docker-credential-t047" <<-EOF &&
	#!/bin/sh
	# a helper keeping each server'"'"'s JSON in a file (the server name as file name)
	echo "\$1" >>"$T/hstore/calls"
	case \$1 in
	store) j=\$(cat); s=\$(printf "%s" "\$j" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"ServerURL\"])"); printf "%s" "\$j" >"$T/hstore/\$s" ;;
	get) read -r s; [ -f "$T/hstore/\$s" ] && cat "$T/hstore/\$s" || { echo "credentials not found in native keychain"; exit 1; } ;;
	erase) read -r s; [ -f "$T/hstore/\$s" ] && rm "$T/hstore/\$s" || { echo "credentials not found in native keychain"; exit 1; } ;;
	esac
	EOF
	chmod +x "$T/hbin/docker-credential-t047" &&
	echo "{\"credsStore\": \"t047\"}" >"$T/dc5/config.json" &&
	printf "%s\n" "$BOB_PASS" | PATH=$T/hbin:$PATH cairn_run login -u bob --password-stdin \
		--docker-config "$T/dc5" "$PRIV" >"$T/hl.out" 2>&1 &&
	grep -q "^Login Succeeded" "$T/hl.out" &&
	grep -q "\"Secret\":\"$BOB_PASS\"" "$T/hstore/$PRIV" &&
	! grep -q "$BOB_PASS\|auth\":" "$T/dc5/config.json" &&
	python3 -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c[\"auths\"][sys.argv[2]] != {} or c[\"credsStore\"] != \"t047\")" \
		"$T/dc5/config.json" "$PRIV" &&
	PATH=$T/hbin:$PATH cairn_run build-and-publish --dir "$P" -q -i "$PRIV/app" \
		--tag-plain h1 --docker-config "$T/dc5" &&
	PATH=$T/hbin:$PATH cairn_run logout --docker-config "$T/dc5" "$PRIV" >/dev/null 2>&1 &&
	test ! -e "$T/hstore/$PRIV" &&
	! grep -q "$PRIV" "$T/dc5/config.json" &&
	test_must_fail env PATH="$T/hbin:$PATH" "$CAIRN" publish --dir "$P" -q -i "$PRIV/app" \
		--tag-plain h2 --docker-config "$T/dc5" 2>/dev/null &&
	test "$(cat "$T/hstore/calls" | tr "\n" " ")" = "store get erase get "
'

test_expect_success 'a refusal names where the credentials came from, never them' '
	test_must_fail cairn_run publish --dir "$P" -q -i "$PRIV/app" --tag-plain v4 \
		--registry-username bob --registry-password "W r0ng-t047" >"$T/w1" 2>&1 &&
	grep -q "HTTP 401 .*(credentials from command line)" "$T/w1" &&
	printf "%s\n" "W r0ng-t047" | cairn_run login -u bob --password-stdin \
		--docker-config "$T/dc3" "$PRIV" >/dev/null 2>&1 &&
	test_must_fail cairn_run publish --dir "$P" -q -i "$PRIV/app" --tag-plain v4 \
		--docker-config "$T/dc3" >"$T/w2" 2>&1 &&
	grep -q "HTTP 401 .*(credentials from docker config .$T/dc3/config.json.)" "$T/w2" &&
	test_must_fail cairn_run publish --dir "$P" -q -i "$PUB/app" --tag-plain v4 \
		--registry-username alice --registry-password "W r0ng-t047" >"$T/w3" 2>&1 &&
	grep -q "token server refused the credentials from command line (HTTP 401)" "$T/w3" &&
	! grep -q "r0ng" "$T/w1" "$T/w2" "$T/w3"
'

test_expect_success 'a build that only reads a stages storage goes on without the lock' '
	CAIRN_HOME=$T/alice-home cairn_run build-and-publish --dir "$P" -q -i "$PUB/app" \
		-s "$PUB/stages" --tag-plain s1 \
		--registry-username alice --registry-password "$ALICE_PASS" &&
	CAIRN_HOME=$T/fresh-home cairn_run build --dir "$P" -s "$PUB/stages" >"$T/ro.out" \
		2>"$T/ro.err" &&
	grep -q "no lock against stages cleanups (the credentials may not push there)" \
		"$T/ro.err" &&
	! grep -q "\[BUILDING\]" "$T/ro.out"
'

test_done
