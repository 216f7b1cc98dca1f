#!/bin/sh
# shellcheck shell=sh disable=SC2016,SC2034 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A TLS registry with a private CA: cairn verifies it with the CA from a certs.d dir (option or
# environment), refuses it without one (a certificate error, never a fallback to plain HTTP, as a
# TCP relay that sees every connection's first bytes shows), and --insecure-registry skips the
# verification.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo curl openssl python3
require_python

registry_start --tls
base_image_push "$REG/base/busybox:1"

cert_error () {
	grep -qiE 'certificate|verif|issuer|unknown ca|SSL' "$1"
}

test_expect_success 'pull and push with --certs-dir' '
	BASE=$(manifest_digest "$REG/base/busybox:1") &&
	cairn_run image pull --certs-dir "$REG_CERTS_D" "$REG/base/busybox:1" >"$T/out" &&
	test "$(cat "$T/out")" = "$BASE" &&
	cairn_run image push --certs-dir "$REG_CERTS_D" "$REG/base/busybox:1" "$REG/tls/busybox:1" &&
	test "$(manifest_digest "$REG/tls/busybox:1")" = "$BASE" &&
	skopeo inspect --cert-dir "$REG_CERTS_D/$REG" "docker://$REG/tls/busybox:1" >/dev/null
'

test_expect_success 'pull and push with CAIRN_CERTS_DIR' '
	env CAIRN_CERTS_DIR="$REG_CERTS_D" "$CAIRN" image push "$REG/base/busybox:1" "$REG/tls-env/busybox:1" &&
	test "$(manifest_digest "$REG/tls-env/busybox:1")" = "$BASE" &&
	env CAIRN_CERTS_DIR="$REG_CERTS_D" "$CAIRN" image pull --name env-pulled "$REG/tls-env/busybox:1" >"$T/out" &&
	test "$(cat "$T/out")" = "$BASE"
'

test_expect_success 'the registry as localhost:PORT, with its certs.d entry' '
	cairn_run image push --certs-dir "$REG_CERTS_D" "$REG/base/busybox:1" \
		"localhost:${REG##*:}/tls-localhost/busybox:1" &&
	test "$(manifest_digest "$REG/tls-localhost/busybox:1")" = "$BASE"
'

test_expect_success 'without the CA: a certificate error, for pull and push' '
	mkdir -p "$T/no-certs" &&
	test_must_fail cairn_run image pull --certs-dir "$T/no-certs" --name nope "$REG/base/busybox:1" \
		>"$T/out" 2>"$T/err" &&
	cat "$T/err" &&
	cert_error "$T/err" &&
	test ! -s "$T/out" &&
	test_must_fail cairn_run image push "$REG/base/busybox:1" "$REG/no-ca/busybox:1" 2>"$T/err" &&
	cat "$T/err" &&
	cert_error "$T/err" &&
	test_must_fail manifest_digest "$REG/no-ca/busybox:1" 2>/dev/null
'

test_expect_success 'without the CA there is no fallback to plain HTTP' '
	fault_proxy_start --tcp --upstream "$REG" &&
	mkdir -p "$REG_CERTS_D/$PROXY" && cp "$REG_CA" "$REG_CERTS_D/$PROXY/ca.crt" &&
	cairn_run image pull --certs-dir "$REG_CERTS_D" --name via-relay "$PROXY/base/busybox:1" >"$T/out" &&
	test "$(cat "$T/out")" = "$BASE" &&
	grep -q "\"TCP tls\"" "$PROXY_LOG" &&
	n=$(proxy_log_count "\"TCP ") &&
	test_must_fail cairn_run image pull --certs-dir "$T/no-certs" --name nope "$PROXY/base/busybox:1" \
		2>"$T/err" &&
	test_must_fail cairn_run image push --certs-dir "$T/no-certs" "$REG/base/busybox:1" \
		"$PROXY/no-ca/busybox:1" 2>>"$T/err" &&
	cat "$T/err" "$PROXY_LOG" &&
	test "$(proxy_log_count "\"TCP ")" -gt "$n" &&
	test "$(proxy_log_count "\"TCP plain")" -eq 0 &&
	test_must_fail manifest_digest "$REG/no-ca/busybox:1" 2>/dev/null
'

test_expect_success '--insecure-registry works without the CA' '
	cairn_run image pull --insecure-registry "$REG" --name insecure-pulled \
		"$REG/base/busybox:1" >"$T/out" &&
	test "$(cat "$T/out")" = "$BASE" &&
	cairn_run image push --insecure-registry "$REG" "$REG/base/busybox:1" "$REG/insecure/busybox:1" &&
	test "$(manifest_digest "$REG/insecure/busybox:1")" = "$BASE"
'

test_done
