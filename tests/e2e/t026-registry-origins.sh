#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Credentials stay with their origin.  tools/hostile_registry.py fronts the real registry and
# wants credentials (Basic, or Bearer tokens from a realm on another port), but sends uploads to
# a Location on another origin (the same host, another port) and redirects blob downloads there.
# That other origin forwards to the registry too, so pushes and pulls complete, and it logs
# whether any request it got carried an Authorization header: none may.  The realm, another
# origin too, does get the Basic credentials meant for it, as with docker.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo curl
require_python

PASS='0rigin-b0und-s3cret'
test_secret "$PASS"

registry_start
base_image_push "$REG/base/busybox:1"
OTHER_PORT=$(test_port 2)
REALM_PORT=$(test_port 3)

# other_got_none METHOD: the other origin got requests of METHOD, none with credentials.
other_got_none () {
	grep " other $1 " "$HOSTILE_LOG" >"$T/other"
	test -s "$T/other" || {
		echo "the other origin got no request"
		return 1
	}
	if grep -v " auth=- " "$T/other"; then
		echo "credentials went to the other origin"
		return 1
	fi
}

# One store per pushing test: a store that knows a repository holding the blobs mounts them.
test_expect_success 'setup: the base image in two stores' '
	BASE=$(manifest_digest "$REG/base/busybox:1") &&
	CAIRN_HOME=$T/home-basic cairn_run image pull -q --name base "$REG/base/busybox:1" &&
	CAIRN_HOME=$T/home-bearer cairn_run image pull -q --name base "$REG/base/busybox:1"
'

test_expect_success 'Basic: an upload Location on another origin gets no credentials' '
	hostile_registry_start 1 origins --upstream "$REG" --other-port "$OTHER_PORT" \
		--user "alice:$PASS" &&
	CAIRN_HOME=$T/home-basic cairn_run image push --registry-username alice \
		--registry-password "$PASS" base "$HOSTILE/basic/busybox:1" >"$T/out" &&
	cat "$HOSTILE_LOG" &&
	grep -q " front POST /v2/basic/busybox/blobs/uploads/ auth=Basic 202" "$HOSTILE_LOG" &&
	grep -q " other PUT /v2/basic/busybox/blobs/uploads/.*digest=" "$HOSTILE_LOG" &&
	other_got_none PUT && ! grep " other .* auth=[^-]" "$HOSTILE_LOG" &&
	test "$(manifest_digest "$REG/basic/busybox:1")" = "$BASE"
'

test_expect_success 'Basic: a blob download redirected to another origin gets none' '
	CAIRN_HOME=$T/home-pull-basic cairn_run image pull --name pulled --registry-username alice \
		--registry-password "$PASS" "$HOSTILE/basic/busybox:1" >"$T/out" &&
	cat "$HOSTILE_LOG" &&
	grep -q " front GET /v2/basic/busybox/blobs/sha256:[0-9a-f]* auth=Basic 307" \
		"$HOSTILE_LOG" &&
	grep -q " other GET /v2/basic/busybox/blobs/sha256:" "$HOSTILE_LOG" &&
	other_got_none GET &&
	test "$(cat "$T/out")" = "$BASE"
'

test_expect_success 'Bearer: the realm elsewhere gets Basic, the token stays with the registry' '
	hostile_registry_start 1 origins --upstream "$REG" --other-port "$OTHER_PORT" \
		--realm-port "$REALM_PORT" --user "alice:$PASS" &&
	CAIRN_HOME=$T/home-bearer cairn_run image push --registry-username alice \
		--registry-password "$PASS" base "$HOSTILE/bearer/busybox:1" >"$T/out" &&
	cat "$HOSTILE_LOG" &&
	grep -q " realm GET /token?.* auth=Basic 200" "$HOSTILE_LOG" &&
	grep -q " front POST /v2/bearer/busybox/blobs/uploads/ auth=Bearer 202" "$HOSTILE_LOG" &&
	grep -q " other PUT /v2/bearer/busybox/blobs/uploads/.*digest=" "$HOSTILE_LOG" &&
	other_got_none PUT && ! grep " other .* auth=[^-]" "$HOSTILE_LOG" &&
	test "$(manifest_digest "$REG/bearer/busybox:1")" = "$BASE"
'

test_expect_success 'Bearer: a blob download redirected to another origin gets no token' '
	CAIRN_HOME=$T/home-pull-bearer cairn_run image pull --name pulled --registry-username alice \
		--registry-password "$PASS" "$HOSTILE/bearer/busybox:1" >"$T/out" &&
	cat "$HOSTILE_LOG" &&
	grep -q " front GET /v2/bearer/busybox/blobs/sha256:[0-9a-f]* auth=Bearer 307" \
		"$HOSTILE_LOG" &&
	grep -q " other GET /v2/bearer/busybox/blobs/sha256:" "$HOSTILE_LOG" &&
	other_got_none GET &&
	test "$(cat "$T/out")" = "$BASE"
'

test_done
