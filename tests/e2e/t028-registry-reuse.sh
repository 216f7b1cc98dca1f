#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# One client per registry host for a whole build and a whole publish: against a token-auth
# registry whose credentials come from a docker-credential helper, `publish --with-stages` of 5
# images x 3 tags runs the helper once, probes the scheme once, fetches each token scope once
# and keeps its connections alive from one image to the next; `build-and-publish` with a stages
# storage does the same in each of its two parts (bob may not delete: the build's lock of the
# stages storage is rewritten as released, not deleted, asking no token twice). Counted outside cairn: the helper logs its
# calls, the token server its requests, and a TCP relay in front of the registry each
# connection (TLS probes are the connections that start with a TLS handshake).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 curl
require_python jwt cryptography

BOB_PASS='B0b-t028-helper-s3cret'
token_server_start --users "bob:$BOB_PASS" --anonymous none
base_image_push "$REG/base/busybox:1"
fault_proxy_start --tcp --upstream "$REG"
R=$PROXY
JOBS=2

mkdir -p "$T/bin" "$T/dcfg" || exit 1
: >"$T/helper.log" || exit 1
# The credential helper: logs each call (never the secret) and knows bob on the relay's address.
cat >"$T/bin/docker-credential-t028" <<EOF || exit 1
#!/bin/sh
read -r server
printf '%s %s\n' "\$1" "\$server" >>"$T/helper.log"
[ "\$1" = get ] || exit 1
case \$server in
*"$R"*) printf '{"ServerURL":"%s","Username":"bob","Secret":"%s"}\n' "\$server" "$BOB_PASS" ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
EOF
chmod +x "$T/bin/docker-credential-t028" || exit 1
echo '{"credsStore": "t028"}' >"$T/dcfg/config.json" || exit 1
PATH=$T/bin:$PATH
export PATH

# A git project of 5 images, each from the base, with an install stage and docker instructions.
P=$T/project
mkdir -p "$P" && git init -q "$P" || exit 1
printf 'project: reuse\nconfigVersion: 1\n' >"$P/werf.yaml" || exit 1
for i in one two three four five; do
	printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\ndocker:\n  LABEL: {image: %s}\n' \
		"$i" "$R" "$i" "$i" "$i" >>"$P/werf.yaml" || exit 1
done
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init ||
	exit 1

# mark: remember where the logs are; counts: what cairn did since the mark (helper calls, token
# requests, the scopes asked more than once, TLS probes, TCP connections and requests to the
# registry).
mark () {
	m_helper=$(wc -l <"$T/helper.log") &&
		m_token=$(wc -l <"$TOKEN_LOG") &&
		m_proxy=$(wc -l <"$PROXY_LOG") &&
		m_reg=$(wc -l <"$REG_LOG")
}
counts () {
	helper=$(($(wc -l <"$T/helper.log") - m_helper)) &&
		tail -n "+$((m_token + 1))" "$TOKEN_LOG" >"$T/tokens" &&
		tokens=$(grep -c "status=200" "$T/tokens") &&
		sed -n 's/.* GET \/token?\([^ ]*\) user=bob status=200 .*/\1/p' "$T/tokens" |
		sort | uniq -d >"$T/tokens.twice" &&
		tail -n "+$((m_proxy + 1))" "$PROXY_LOG" >"$T/conns" &&
		probes=$(grep -c "\"TCP tls\"" "$T/conns") &&
		conns=$(grep -c "\"TCP plain" "$T/conns") &&
		tail -n "+$((m_reg + 1))" "$REG_LOG" | grep "\"[A-Z]* /v2/" >"$T/requests"
	echo "credential helper calls: $helper, token fetches: $tokens" \
		"($(wc -l <"$T/tokens.twice") scopes asked again), TLS probes: $probes," \
		"connections: $conns, requests: $(wc -l <"$T/requests")" \
		"($(grep -c "\" 401 " "$T/requests") answered 401)"
}

# stage_tags REPORT: how many stage tags the images of a --report share (the from stage of all
# five is the same)
stage_tags () {
	python3 -c "import json,sys; print(len({s[\"signature\"] for i in json.load(open(sys.argv[1]))[\"images\"] for s in i[\"stages\"]}))" "$1"
}

test_expect_success 'build-and-publish with a stages storage: once per host for the whole run' '
	mark &&
	cairn_run build-and-publish --dir "$P" --docker-config "$T/dcfg" -j "$JOBS" \
		--stages-storage "$R/stages" --images-repo "$R/bap" \
		--tag-plain a --tag-plain b --tag-plain c >"$T/bap.out" 2>&1 &&
	counts &&
	grep -q "\[BUILDING\]" "$T/bap.out" &&
	test "$(grep -c "^get .*$R" "$T/helper.log")" -eq "$helper" &&
	test "$helper" -eq 1 &&
	test "$probes" -eq 1 &&
	test ! -s "$T/tokens.twice" &&
	test "$(grep -c "user=- " "$T/tokens")" -eq 0 &&
	test "$conns" -le $((JOBS + 1)) &&
	for i in one two three four five; do
		for t in a b c; do
			manifest_digest "$REG/bap/$i:$t" >/dev/null || return 1
		done
	done &&
	: "bob may not delete: the lock of the build stays, rewritten as released" &&
	skopeo list-tags --creds "bob:$BOB_PASS" --tls-verify=false "docker://$REG/stages" |
		grep -o "cairn-lock-use-reuse-[0-9a-f]*" >"$T/locks" &&
	test "$(wc -l <"$T/locks")" -eq 1 &&
	skopeo inspect --config --creds "bob:$BOB_PASS" --tls-verify=false \
		"docker://$REG/stages:$(cat "$T/locks")" >"$T/lock.json" &&
	grep -q "\"cairn-lock-until\": \"0\"" "$T/lock.json"
'

test_expect_success 'publish --with-stages of 5 images x 3 tags: one helper call, probe, token each' '
	mark &&
	cairn_run publish --dir "$P" --docker-config "$T/dcfg" -j "$JOBS" --with-stages \
		--images-repo "$R/pub" --tag-plain x --tag-plain y --tag-plain z \
		--report "$T/pub.json" >"$T/pub.out" 2>&1 &&
	counts &&
	test "$helper" -eq 1 &&
	test "$probes" -eq 1 &&
	test "$tokens" -ge 1 &&
	test ! -s "$T/tokens.twice" &&
	test "$conns" -le $((JOBS + 1)) &&
	for i in one two three four five; do
		for t in x y z; do
			manifest_digest "$REG/pub/$i:$t" >/dev/null || return 1
		done
	done &&
	skopeo list-tags --creds "bob:$BOB_PASS" --tls-verify=false "docker://$REG/pub" >"$T/stages" &&
	test "$(grep -c "\"image-stage-" "$T/stages")" -eq "$(stage_tags "$T/pub.json")"
'

test_expect_success 'an unchanged re-publish: the same, and one HEAD per tag and stage' '
	: "the from stage the images share is looked at once" &&
	heads=$((15 + $(stage_tags "$T/pub.json"))) &&
	mark &&
	cairn_run publish --dir "$P" --docker-config "$T/dcfg" -j "$JOBS" --with-stages \
		--images-repo "$R/pub" --tag-plain x --tag-plain y --tag-plain z >"$T/again.out" 2>&1 &&
	counts &&
	test "$helper" -eq 1 &&
	test "$probes" -eq 1 &&
	test ! -s "$T/tokens.twice" &&
	test "$conns" -le "$JOBS" &&
	test "$(grep -c "\[EXIST\]" "$T/again.out")" -eq 30 &&
	test "$(grep -vc "\"HEAD /v2/pub[a-z/]*/manifests/" "$T/requests")" -eq 0 &&
	test "$(grep -vc "\" 401 " "$T/requests")" -eq "$heads" &&
	test "$(grep -c "\" 401 " "$T/requests")" -le 1
'

test_expect_success 'the helper secret appears in no output of cairn' '
	! grep -rlF -e "$BOB_PASS" "$T/bap.out" "$T/pub.out" "$T/again.out"
'

test_done
