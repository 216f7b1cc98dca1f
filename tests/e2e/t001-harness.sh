#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# t001-harness: the e2e harness (lib.sh) itself, against a real docker-registry 2.8.2: the busybox
# base image on a plain registry, the request log, registry_stop, htpasswd and TLS registries, a
# token-auth config, the port rule, and the TAP, skip and cleanup behaviour (including SIGTERM
# and SIGKILL) of scripts that source lib.sh.  Needs no cairn binary.

# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

require_tool docker-registry skopeo umoci htpasswd openssl curl sha256sum base64

# shellcheck disable=SC2034 # used in test code
if [ "$(id -u)" -eq 0 ]; then rootless=''; else rootless=--rootless; fi

http_code () {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}

# run_inner NAME [VAR=VALUE...]: run $T/inner/NAME.sh, a script sourcing lib.sh, with this test's
# number (so its registries use our ports) and its own TMPDIR; output in $T/NAME.out.
run_inner () {
	_ri=$1
	shift
	mkdir -p "$T/tmp.$_ri" &&
		env CAIRN_E2E_DIR="$E2E_DIR" CAIRN_TEST_NUMBER="$TEST_NUMBER" TMPDIR="$T/tmp.$_ri" \
			CI='' CAIRN_TEST_KEEP='' CAIRN_TEST_VERBOSE='' "$@" \
			sh "$T/inner/$_ri.sh" >"$T/$_ri.out" 2>&1
}

# Lines of file $1 that are exactly $2.
has_line () {
	grep -qxF -e "$2" "$1"
}

# Processes whose command line mentions $1 (the pattern comes from a file, so that grep does not
# find itself).
procs_mentioning () {
	printf '%s\n' "$1" >"$T/procs.pattern" &&
		grep -lF -f "$T/procs.pattern" /proc/[0-9]*/cmdline 2>/dev/null
}

# --- (a) a plain registry and the base image --------------------------------------------------

registry_start --name PLAIN

test_expect_success 'plain: REG, REG_URL and PLAIN name the registry on test_port 0' '
	test "$REG" = "127.0.0.1:$(test_port 0)" &&
	test "$REG_URL" = "http://$REG" &&
	test "$PLAIN" = "$REG" && test "$PLAIN_URL" = "$REG_URL" && test "$PLAIN_PID" = "$REG_PID" &&
	test -z "${REG_USER+set}" && test -z "${REG_PASS+set}" &&
	test "$(http_code "$REG_URL/v2/")" = 200 &&
	grep -q "^  addr: 127.0.0.1:$(test_port 0)\$" "$T/registry.$(test_port 0)/config.yml" &&
	grep -q "^    rootdirectory: .$REG_STORAGE.\$" "$T/registry.$(test_port 0)/config.yml"
'

test_expect_success 'plain: base_image_push pushes the busybox image and prints nothing' '
	base_image_push "$REG/base/busybox:1" >"$T/push.out" &&
	test ! -s "$T/push.out" &&
	test -d "$REG_STORAGE/docker/registry/v2/repositories/base/busybox"
'

test_expect_success 'plain: manifest_digest equals the Digest of skopeo inspect' '
	sk=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/base/busybox:1") &&
	md=$(manifest_digest "$REG/base/busybox:1") &&
	echo "skopeo: $sk; manifest_digest: $md" &&
	printf "%s\n" "$md" | grep -qx "sha256:[0-9a-f]\{64\}" &&
	test "$md" = "$sk" &&
	test "$(manifest_digest "$REG/base/busybox@$md")" = "$md" &&
	test_must_fail manifest_digest "$REG/base/busybox:no-such-tag"
'

test_expect_success 'plain: the image config has cmd /bin/sh and PATH' '
	skopeo inspect --tls-verify=false --config "docker://$REG/base/busybox:1" >"$T/config.json" &&
	grep -q "\"/bin/sh\"" "$T/config.json" &&
	grep -q "\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"" "$T/config.json"
'

test_expect_success 'plain: copied back to an OCI layout and unpacked, it has busybox and users' '
	skopeo copy -q --src-tls-verify=false "docker://$REG/base/busybox:1" "oci:$T/back:b" &&
	umoci unpack $rootless --image "$T/back:b" "$T/bundle" &&
	r=$T/bundle/rootfs &&
	test -f "$r/bin/busybox" && test -x "$r/bin/busybox" &&
	cmp "${CAIRN_TEST_BUSYBOX:-/bin/busybox}" "$r/bin/busybox" &&
	test "$(readlink "$r/bin/sh")" = busybox &&
	test "$(readlink "$r/bin/sha256sum")" = busybox &&
	has_line "$r/etc/passwd" "root:x:0:0:root:/root:/bin/sh" &&
	has_line "$r/etc/passwd" "app:x:1000:1000:app:/home/app:/bin/sh" &&
	has_line "$r/etc/group" "app:x:1000:" &&
	test "$(stat -c %a "$r/tmp")" = 1777
'

test_expect_success 'base_image_layout is built once and shared (a cached OCI layout, tag base)' '
	l1=$(base_image_layout) && l2=$(base_image_layout) &&
	test "$l1" = "$l2" &&
	test -f "$l1/oci-layout" &&
	grep -q "\"org.opencontainers.image.ref.name\":\"base\"" "$l1/index.json" &&
	test "$(find "$l1/blobs/sha256" -type f | wc -l)" -eq 3
'

# --- (e) the request log ------------------------------------------------------------------------

test_expect_success 'registry_log_count counts access log lines' '
	n0=$(registry_log_count "\"GET /v2/ HTTP/") &&
	test "$n0" -ge 1 &&
	curl -fsS -o /dev/null "$REG_URL/v2/" &&
	n1=$(registry_log_count "\"GET /v2/ HTTP/") &&
	echo "GET /v2/ before: $n0, after: $n1" &&
	test "$n1" -eq $((n0 + 1)) &&
	test "$(registry_log_count "GET /v2/")" -gt "$n1" &&
	test "$(registry_log_count "\"PUT /v2/base/busybox/manifests/1 HTTP/" "$PLAIN")" -eq 1 &&
	test "$(registry_log_count "no such request")" -eq 0 &&
	test_must_fail registry_log_count "GET" 127.0.0.1:1
'

# --- (d) registry_stop --------------------------------------------------------------------------

test_expect_success 'registry_stop stops it: no registry or watchdog process, port closed' '
	pid=$REG_PID &&
	eval "wd=\$_t_reg_$(test_port 0)_wd" &&
	test_pid_alive "$pid" && test_pid_alive "$wd" &&
	registry_stop "$PLAIN" &&
	! test_pid_alive "$pid" && ! kill -0 "$pid" 2>/dev/null &&
	! test_pid_alive "$wd" &&
	! procs_mentioning "$T/registry.$(test_port 0)/" &&
	test "$(http_code "$PLAIN_URL/v2/")" = 000 &&
	registry_stop "$PLAIN"
'

# --- (b) htpasswd -------------------------------------------------------------------------------

pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
registry_start --name AUTH --htpasswd "alice:$pw"

test_expect_success 'htpasswd: takes the freed test_port 0; REG_USER/REG_PASS are set' '
	test "$AUTH" = "127.0.0.1:$(test_port 0)" && test "$REG" = "$AUTH" &&
	test "$REG_USER" = alice && test "$REG_PASS" = "$pw" &&
	test "$AUTH_USER" = alice && test "$AUTH_PASS" = "$pw"
'

test_expect_success 'htpasswd: the password is stored only as a bcrypt hash' '
	dir=$(dirname "$AUTH_LOG") &&
	test "$dir" != "$(dirname "$PLAIN_LOG")" &&
	grep -q "^alice:\\\$2y\\\$" "$dir/htpasswd" &&
	! grep -rqF "$pw" "$dir"
'

test_expect_success 'htpasswd: anonymous GET /v2/ is 401 with a Basic challenge' '
	curl -s -D "$T/h401" -o /dev/null "$REG_URL/v2/" &&
	head -n 1 "$T/h401" | grep -q " 401" &&
	grep -qi "^www-authenticate: basic realm=\"cairn-test\"" "$T/h401"
'

test_expect_success 'htpasswd: GET /v2/ is 200 with the right credentials, 401 with wrong ones' '
	code=$(printf "user = \"alice:%s\"\n" "$pw" | curl -K - -s -o /dev/null -w "%{http_code}" "$REG_URL/v2/") &&
	test "$code" = 200 &&
	test "$(http_code -u alice:wrong-password "$REG_URL/v2/")" = 401
'

test_expect_success 'htpasswd: a push with wrong credentials fails' '
	test_must_fail base_image_push "$REG/base/busybox:1" --dest-creds alice:wrong-password &&
	test "$(registry_log_count "\"PUT /v2/base/busybox/manifests/")" -eq 0
'

test_expect_success 'htpasswd: a push with the right credentials succeeds, given or implied' '
	base_image_push "$REG/base/busybox:1" --dest-creds "alice:$pw" &&
	base_image_push "$REG/base/busybox:2" &&
	sk=$(skopeo inspect --tls-verify=false --creds "alice:$pw" --format "{{.Digest}}" "docker://$REG/base/busybox:2") &&
	test "$(manifest_digest "$REG/base/busybox:1")" = "$sk" &&
	test "$(manifest_digest "$AUTH/base/busybox:2")" = "$sk"
'

# --- (c) TLS ------------------------------------------------------------------------------------

registry_start --name SECURE --tls

test_expect_success 'tls: REG_URL is https; REG_CA is in REG_CERTS_D/REG/ca.crt' '
	test "$REG" = "127.0.0.1:$(test_port 1)" && test "$REG_URL" = "https://$REG" &&
	test "$SECURE_URL" = "$REG_URL" &&
	test -z "${REG_USER+set}" &&
	test -s "$REG_CA" &&
	cmp "$REG_CA" "$REG_CERTS_D/$REG/ca.crt" &&
	cmp "$REG_CA" "$REG_CERTS_D/localhost:$(test_port 1)/ca.crt" &&
	openssl x509 -in "$REG_CA" -noout -text | grep -q "CA:TRUE"
'

test_expect_success 'tls: curl --cacert REG_CA verifies it, as 127.0.0.1 and as localhost' '
	curl -fsS --cacert "$REG_CA" "$REG_URL/v2/" &&
	curl -fsS --cacert "$REG_CA" --resolve "localhost:$(test_port 1):127.0.0.1" \
		"https://localhost:$(test_port 1)/v2/"
'

test_expect_success 'tls: without the CA, curl fails verification (status 60)' '
	rc=0 && { curl -sS -o /dev/null "$REG_URL/v2/" || rc=$?; } &&
	test "$rc" -eq 60
'

test_expect_success 'tls: skopeo pushes with --dest-cert-dir REG_CERTS_D/REG, not without' '
	base_image_push "$REG/base/busybox:1" --dest-cert-dir "$REG_CERTS_D/$REG" &&
	test_must_fail skopeo copy -q "oci:$(base_image_layout):base" "docker://$REG/base/busybox:no-ca" &&
	sk=$(skopeo inspect --cert-dir "$REG_CERTS_D/$REG" --format "{{.Digest}}" "docker://$REG/base/busybox:1") &&
	test "$(manifest_digest "$REG/base/busybox:1")" = "$sk"
'

# --- token auth (the config only: a token server is for the tests that need one) ----------------

registry_start --name TOK --token "http://127.0.0.1:$(test_port 3)/token" cairn-test-issuer \
	cairn-test-registry "$REG_CA"

test_expect_success 'token: /v2/ is 401 with a Bearer challenge naming realm and service' '
	test "$TOK" = "127.0.0.1:$(test_port 2)" &&
	curl -s -D "$T/hbearer" -o /dev/null "$TOK_URL/v2/" &&
	head -n 1 "$T/hbearer" | grep -q " 401" &&
	grep -qi "^www-authenticate: bearer realm=\"http://127.0.0.1:$(test_port 3)/token\",service=\"cairn-test-registry\"" "$T/hbearer"
'

# --- registry_stop of all, ports ------------------------------------------------------------------

test_expect_success 'registry_stop without arguments stops every registry of the test' '
	pids="$AUTH_PID $SECURE_PID $TOK_PID" &&
	registry_stop &&
	for p in $pids; do ! test_pid_alive "$p" || return 1; done &&
	for k in 0 1 2; do test "$(http_code "http://127.0.0.1:$(test_port $k)/v2/")" = 000 || return 1; done &&
	! procs_mentioning "$T/registry."
'

test_expect_success 'registry_start --storage restarts a registry on its old storage' '
	registry_start --storage "$PLAIN_STORAGE" &&
	test "$REG_STORAGE" = "$PLAIN_STORAGE" &&
	test "$(manifest_digest "$REG/base/busybox:1")" = "$md" &&
	registry_stop
'

cat >"$T/ports.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
echo "$(test_port 0) $(test_port 1) $(test_port 2) $(test_port 3)"
test_done
EOF

test_expect_success 'ports: 5400 + 4*NNN + K from the script name; tests never share one' '
	test "$(test_port 0)" -eq $((5400 + 4 * TEST_NUMBER)) &&
	test "$(test_port 3)" -eq $((5403 + 4 * TEST_NUMBER)) &&
	test_must_fail test_port 4 &&
	for n in 000 001 002 010 999; do
		mkdir -p "$T/names" && cp "$T/ports.sh" "$T/names/t$n-ports.sh" &&
		env -u CAIRN_TEST_NUMBER CAIRN_E2E_DIR="$E2E_DIR" TMPDIR="$T" sh "$T/names/t$n-ports.sh" \
			>"$T/names/$n.out" || return 1
	done &&
	has_line "$T/names/000.out" "5400 5401 5402 5403" &&
	has_line "$T/names/001.out" "5404 5405 5406 5407" &&
	has_line "$T/names/002.out" "5408 5409 5410 5411" &&
	has_line "$T/names/010.out" "5440 5441 5442 5443" &&
	has_line "$T/names/999.out" "9396 9397 9398 9399" &&
	cat "$T"/names/*.out | grep -v "^[#1]" | tr " " "\n" | sort | uniq -d >"$T/dups" &&
	test ! -s "$T/dups"
'

# --- the harness's own behaviour, through scripts that source lib.sh -----------------------------

mkdir -p "$T/inner"
cat >"$T/inner/tap.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
test_secret hunter2-hunter2
test_expect_success 'passes' 'echo shown-only-with-v'
test_expect_success 'fails' 'echo "the password is hunter2-hunter2" && false'
test_expect_success 'sets a variable' 'x=42'
test_expect_success 'the variable persists' 'test "$x" = 42'
test_expect_success 'return ends the code' 'return 0; false'
test_done
EOF
cat >"$T/inner/skip.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
require_tool cairn-no-such-tool
test_expect_success 'never runs' 'true'
test_done
EOF
cat >"$T/inner/exit.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
test_spawn "$T/spawn.log" sleep 300
echo "$SPAWN_PID" >"$INFO"
test_atexit 'echo "atexit ran" >>"$INFO"'
test_expect_success 'exits' 'echo bye && exit 3'
test_expect_success 'never runs' 'true'
test_done
EOF
cat >"$T/inner/noname.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
test_done
EOF
cat >"$T/inner/env.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
test_expect_success 'a hermetic environment' '
	test "$HOME" = "$T/user" && test "$CAIRN_HOME" = "$T/home" &&
	test -z "${CAIRN_JOBS+set}" && test -z "${DOCKER_CONFIG+set}" &&
	test -z "${CI_JOB_TOKEN+set}" && test -z "${http_proxy+set}" &&
	test -n "$CAIRN_TEST_DATA"
'
test_done
EOF
cat >"$T/inner/kill.sh" <<'EOF'
. "$CAIRN_E2E_DIR/lib.sh"
registry_start
printf '%s %s %s\n' "$$" "$REG_PID" "$T" >"$INFO.tmp" && mv "$INFO.tmp" "$INFO"
test_expect_success 'waits to be killed' 'while :; do sleep 0.1; done'
test_done
EOF

test_expect_success 'TAP: ok/not ok, plan, summary, status 1; output only on failure; temp dir removed' '
	test_must_fail run_inner tap &&
	cat "$T/tap.out" &&
	has_line "$T/tap.out" "ok 1 - passes" &&
	has_line "$T/tap.out" "not ok 2 - fails" &&
	has_line "$T/tap.out" "ok 3 - sets a variable" &&
	has_line "$T/tap.out" "ok 4 - the variable persists" &&
	has_line "$T/tap.out" "ok 5 - return ends the code" &&
	has_line "$T/tap.out" "1..5" &&
	has_line "$T/tap.out" "# failed 1 among 5 test(s)" &&
	has_line "$T/tap.out" "# the password is ***" &&
	! grep -q hunter2 "$T/tap.out" &&
	! grep -q shown-only-with-v "$T/tap.out" &&
	test -z "$(ls "$T/tmp.tap")"
'

test_expect_success 'TAP: -v and CAIRN_TEST_VERBOSE=1 show output; CAIRN_TEST_KEEP=1 keeps a failed T' '
	test_must_fail run_inner tap CAIRN_TEST_VERBOSE=1 CAIRN_TEST_KEEP=1 &&
	has_line "$T/tap.out" "# shown-only-with-v" &&
	! grep -q hunter2 "$T/tap.out" &&
	kept=$(ls -d "$T"/tmp.tap/cairn-*) && test -d "$kept/.out" &&
	grep -qx "# kept $kept (CAIRN_TEST_KEEP=1)" "$T/tap.out" &&
	rm -rf "$kept" &&
	sed -i "s/^test_expect_success .fails.*//" "$T/inner/tap.sh" &&
	run_inner tap CAIRN_TEST_KEEP=1 &&
	has_line "$T/tap.out" "# passed all 4 test(s)" &&
	test -z "$(ls "$T/tmp.tap")"
'

test_expect_success 'skip: a missing tool skips with status 77, but fails under CI=true' '
	rc=0 && { run_inner skip || rc=$?; } && test "$rc" -eq 77 &&
	has_line "$T/skip.out" "1..0 # SKIP required tool '\''cairn-no-such-tool'\'' is missing" &&
	test -z "$(ls "$T/tmp.skip")" &&
	rc=0 && { run_inner skip CI=true || rc=$?; } && test "$rc" -eq 1 &&
	cat "$T/skip.out" &&
	grep -q "^Bail out! required tool .cairn-no-such-tool. is missing; CI=true" "$T/skip.out" &&
	! grep -q SKIP "$T/skip.out" &&
	test -z "$(ls "$T/tmp.skip")"
'

test_expect_success 'exit inside test code: not ok, status kept; test_spawn and test_atexit cleanup' '
	rc=0 && { run_inner exit INFO="$T/exit.info" || rc=$?; } && test "$rc" -eq 3 &&
	cat "$T/exit.out" &&
	has_line "$T/exit.out" "not ok 1 - exits" &&
	has_line "$T/exit.out" "# bye" &&
	has_line "$T/exit.out" "1..1" &&
	test -z "$(ls "$T/tmp.exit")" &&
	read -r spawned <"$T/exit.info" &&
	! test_pid_alive "$spawned" &&
	has_line "$T/exit.info" "atexit ran"
'

test_expect_success 'a script not named tNNN-*.sh bails out and leaves the T it inherited alone' '
	test_must_fail env -u CAIRN_TEST_NUMBER CAIRN_E2E_DIR="$E2E_DIR" TMPDIR="$T/tmp.noname" \
		sh "$T/inner/noname.sh" >"$T/noname.out" 2>&1 &&
	cat "$T/noname.out" &&
	grep -q "^Bail out! cannot derive the test number" "$T/noname.out" &&
	test -f "$T/inner/noname.sh"
'

test_expect_success 'the environment: HOME, CAIRN_HOME; no CAIRN_* options, credentials, proxies' '
	rc=0 && { run_inner env CAIRN_JOBS=3 DOCKER_CONFIG=/nonexistent CI_JOB_TOKEN=secret-token \
		http_proxy=http://192.0.2.1:9 || rc=$?; } &&
	cat "$T/env.out" &&
	test "$rc" -eq 0
'

# kill_inner SIGNAL: start $T/inner/kill.sh, wait for its registry, send SIGNAL to its shell;
# sets shpid, regpid, innerT, rc.
# shellcheck disable=SC2034 # used in test code
kill_inner () {
	rm -f "$T/kill.info" &&
		{ run_inner kill INFO="$T/kill.info" & } &&
		bg=$! && i=0 &&
		while [ ! -s "$T/kill.info" ]; do
			i=$((i + 1)) && [ "$i" -le 100 ] || { cat "$T/kill.out"; return 1; }
			sleep 0.1
		done &&
		read -r shpid regpid innerT <"$T/kill.info" &&
		test_pid_alive "$regpid" &&
		kill "-$1" "$shpid" &&
		rc=0 && { wait "$bg" || rc=$?; } &&
		cat "$T/kill.out"
}

test_expect_success 'SIGTERM: the EXIT trap stops the registry and removes T' '
	kill_inner TERM &&
	test "$rc" -eq 143 &&
	! test_pid_alive "$regpid" &&
	test "$(http_code "http://127.0.0.1:$(test_port 0)/v2/")" = 000 &&
	has_line "$T/kill.out" "Bail out! caught SIGTERM" &&
	has_line "$T/kill.out" "# interrupted by SIGTERM" &&
	test ! -e "$innerT"
'

test_expect_success 'SIGKILL: the watchdog stops the registry within seconds' '
	kill_inner KILL &&
	test "$rc" -eq 137 &&
	i=0 &&
	while test_pid_alive "$regpid"; do
		i=$((i + 1)) && [ "$i" -le 50 ] || return 1
		sleep 0.1
	done &&
	echo "registry gone after about $i tenths of a second" &&
	! procs_mentioning "$innerT/registry."
'

test_done
