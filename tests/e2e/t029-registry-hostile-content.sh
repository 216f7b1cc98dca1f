#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# What a hostile registry sends is checked, bounded and shown as text.  tools/hostile_registry.py
# fronts the real registry (or stands in for one) and: sends bytes past every blob, alters image
# configs, answers manifests with a Content-Type that is not text, lists tags without end, puts
# a forged line and terminal escapes in its error text, and redirects blob downloads to a signed
# URL.  cairn must refuse the first two by their descriptors (size, digest), take the third from
# the manifest itself, stop listing, show the text escaped, and keep the signed URL's query, a
# proxy's password and a mistyped option's value out of its output, traces included.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo git curl timeout
require_python

PASS='h0stile-c0ntent-s3cret'
PROXY_PASS='pr0xy-pa55-s3cret'
OPT_PASS='typ0-0ption-s3cret'
CFG_PASS='d0cker-c0nfig-s3cret'
SIGNATURE='S1gnature-s3cret' # tools/hostile_registry.py's
test_secret "$PASS" "$PROXY_PASS" "$OPT_PASS" "$CFG_PASS" "$SIGNATURE"
ESC=$(printf '\033')

registry_start
base_image_push "$REG/base/busybox:1"
OTHER_PORT=$(test_port 2)
export P="$T/project"
mkdir -p "$P/app"
git init -q "$P"
echo hello >"$P/app/hello.txt"
cat >"$P/werf.yaml" <<YAML
project: hostile
configVersion: 1
---
image: app
from: $REG/base/busybox:1
git:
- add: /app
  to: /app
docker:
  ENV: {MODE: hostile}
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m one

# front [OPTION...]: the hostile front of the registry (Basic credentials alice:$PASS)
front () {
	hostile_registry_start 1 origins --upstream "$REG" --other-port "$OTHER_PORT" \
		--user "alice:$PASS" "$@"
}
# as_alice ARGS...: cairn ARGS with the front's credentials, within 60 s
as_alice () {
	timeout 60 "$CAIRN" "$@" --registry-username alice --registry-password "$PASS"
}
# no_escapes FILE: FILE holds no ESC byte and no line of its own that a registry forged
no_escapes () {
	if grep -n "$ESC" "$1" || grep -n "^\[OK\] 127.0.0.1/forged" "$1"; then
		echo "terminal escapes or a forged line reached the output"
		return 1
	fi
}

test_expect_success 'setup: host A stores its stages through the front' '
	front &&
	CAIRN_HOME=$T/a as_alice build --dir "$P" --stages-storage "$HOSTILE/stages" >"$T/a.out" &&
	grep -q "image-stage-" "$HOSTILE_LOG"
'

test_expect_success 'a stages storage blob longer than its descriptor is refused at once' '
	front --blob-extra &&
	test_must_fail as_alice build --dir "$P" --stages-storage "$HOSTILE/stages" \
		--home-dir "$T/b" >"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	grep -q "more than the [0-9]* bytes its descriptor says" "$T/err" &&
	test "$(du -sk "$T/b" | cut -f1)" -lt 4096
'

test_expect_success 'an image config that is not the one its manifest names is refused' '
	front &&
	CAIRN_HOME=$T/a as_alice publish --dir "$P" --images-repo "$HOSTILE/app" --tag-plain v1 &&
	rm -rf "$T/a/published" &&
	front --tamper-configs &&
	test_must_fail env CAIRN_HOME="$T/a" timeout 60 "$CAIRN" publish --dir "$P" \
		--images-repo "$HOSTILE/app" --tag-plain v1 --registry-username alice \
		--registry-password "$PASS" >"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	grep -q "config blob .sha256:[0-9a-f]*. does not match its digest" "$T/err" &&
	test "$(skopeo inspect --tls-verify=false "docker://$REG/app/app:v1" |
		python3 -c "import json,sys; print(json.load(sys.stdin)[\"Os\"])")" = linux
'

test_expect_success 'a Content-Type that is not a media type: the manifest says what it is' '
	front --odd-content-type &&
	CAIRN_HOME=$T/c as_alice image pull --name pulled "$HOSTILE/base/busybox:1" >"$T/out" &&
	grep -q "front GET /v2/base/busybox/manifests/1 auth=Basic 200" "$HOSTILE_LOG" &&
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"manifests\"][0][\"mediaType\"])" \
		"$T/c/store/index.json" >"$T/mt" &&
	grep -qx "application/vnd.oci.image.manifest.v1+json" "$T/mt" &&
	skopeo inspect "oci:$T/c/store:pulled" >/dev/null
'

test_expect_success '-vv: no signed URL query, no proxy password, no Authorization value' '
	front --sign-redirects &&
	CAIRN_HOME=$T/d as_alice image pull -v -v --name pulled "$HOSTILE/base/busybox:1" \
		>"$T/out" 2>"$T/err" &&
	grep -q " other GET /v2/base/busybox/blobs/sha256:[0-9a-f]*?X-Amz" "$HOSTILE_LOG" &&
	grep -q "< Location: http://127.0.0.1:$OTHER_PORT/v2/base/busybox/blobs/sha256:[0-9a-f]*?<query cut>" "$T/err" &&
	grep -q "> Authorization: <redacted>" "$T/err" &&
	! grep -e "$SIGNATURE" -e "$PASS" -e "$(printf "alice:%s" "$PASS" | base64)" "$T/err" &&
	CAIRN_HOME=$T/e NO_PROXY= no_proxy= http_proxy="http://puser:$PROXY_PASS@$REG" \
		timeout 60 "$CAIRN" image pull -v -v "$REG/base/busybox:1" >"$T/out" 2>"$T/err" &&
	grep -q "> Proxy-Authorization: <redacted>" "$T/err" &&
	grep -q "http_proxy == .http://<userinfo cut>@$REG" "$T/err" &&
	! grep -e "$PROXY_PASS" -e "$(printf "puser:%s" "$PROXY_PASS" | base64)" "$T/err"
'

test_expect_success 'a registry error text is shown on one line, its escapes as text' '
	hostile_registry_start 3 error-text &&
	test_must_fail timeout 30 "$CAIRN" image pull --home-dir "$T/f" "$HOSTILE/x/y:1" \
		>"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	grep -q "403 Forbidden: DENIED: denied.x0a\[OK\] 127.0.0.1/forged:1 sha256:0.x1b\]52;c;" \
		"$T/err" &&
	no_escapes "$T/err" &&
	test_must_fail timeout 30 "$CAIRN" image pull --home-dir "$T/f" --log-format json \
		"$HOSTILE/x/y:1" >"$T/out" 2>"$T/err" &&
	no_escapes "$T/err" &&
	grep -qF "DENIED: denied\\\\x0a[OK] 127.0.0.1/forged:1 sha256:0\\\\x1b]52;c;" "$T/out"
'

test_expect_success 'a tag list without end stops at a bound' '
	git init -q --bare "$T/origin.git" &&
	git -C "$P" remote add origin "$T/origin.git" && git -C "$P" push -q origin HEAD:main &&
	git -C "$P" fetch -q origin &&
	hostile_registry_start 3 endless-tags &&
	test_must_fail timeout 120 "$CAIRN" images cleanup --home-dir "$T/g" --dir "$P" \
		-i "$HOSTILE/app" --dry-run >"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	grep -q "more than 500000 tags or 64 MiB of names" "$T/err"
'

test_expect_success 'a mistyped option does not echo its value' '
	test_must_fail "$CAIRN" publish --dir "$P" --registry-pasword="$OPT_PASS" >"$T/out" \
		2>"$T/err" &&
	cat "$T/err" &&
	grep -q "unknown option .--registry-pasword.; did you mean .--registry-password." "$T/err" &&
	! grep -q "$OPT_PASS" "$T/err" &&
	test_must_fail "$CAIRN" --registry-password="$OPT_PASS" 2>"$T/err" &&
	! grep -q "$OPT_PASS" "$T/err"
'

test_expect_success 'a broken docker config: login names the place, not what is there' '
	mkdir -p "$T/dc" &&
	printf "{\"auths\":{\"other.example\":{\"username\":\"bob\",\"password\" \"%s\"}}}" \
		"$CFG_PASS" >"$T/dc/config.json" &&
	test_must_fail "$CAIRN" login -u bob -p x --docker-config "$T/dc" "$REG" >"$T/out" \
		2>"$T/err" &&
	cat "$T/err" &&
	grep -q "docker config .*config.json.: invalid JSON at line 1 column [0-9]*: syntax error" \
		"$T/err" &&
	! grep -q "$CFG_PASS" "$T/err" &&
	test_must_fail "$CAIRN" logout --docker-config "$T/dc" "$REG" 2>"$T/err" &&
	! grep -q "$CFG_PASS" "$T/err"
'

test_done
