# shellcheck shell=sh
# SPDX-License-Identifier: MIT
#
# tests/e2e/lib.sh: the harness every end-to-end test sources first:
#
#	. "$(dirname "$0")/lib.sh"
#
# It gives TAP output (test_expect_success, test_done, skip_all), a per-test temp dir $T, four
# fixed ports per test, throwaway docker-registry 2.8.2 instances with generated configs, a cached
# busybox base image, and a cleanup that stops everything the test started, on exit and on INT,
# TERM and HUP.  POSIX sh (dash); keep it clean under `shellcheck -s sh`.  See README.md here.
#
# Names starting with _t_ (and the per-function _xx_ scratch variables: POSIX sh has no `local`)
# are internal; test code must not use them.

# The real stdout/stderr, for messages from traps: bash keeps a test's redirection active in the
# EXIT trap, dash does not.  Background daemons get them closed (8>&- 9>&-), or CTest would wait
# for them to exit before it sees the end of the test's output.
exec 8>&1 9>&2

T='' # never a parent test's T: the EXIT trap removes "$T"
_t_count=0 _t_failed=0 _t_in_test='' _t_done='' _t_out=''
_t_secrets='' _t_atexit='' _t_pids='' _t_regs='' _t_cleaned='' _t_signal='' _t_nreg=0
_t_bb_recipe=r1 # bump when _t_busybox_build changes, to invalidate cached layouts

# --- TAP and failures ---------------------------------------------------------------------------

# Print stdin as TAP comment lines, with every registered secret replaced by ***.
_t_mask () {
	_T_SECRETS=$_t_secrets awk '
		BEGIN { n = split(ENVIRON["_T_SECRETS"], s, "\n") }
		{
			line = $0
			for (i = 1; i <= n; i++) {
				if (length(s[i]) < 4)
					continue
				out = ""
				while ((p = index(line, s[i])) > 0) {
					out = out substr(line, 1, p - 1) "***"
					line = substr(line, p + length(s[i]))
				}
				line = out line
			}
			print "# " line
		}'
}

# test_secret VALUE...: never show VALUE in test output (values under 4 characters are not masked).
test_secret () {
	for _ts in "$@"; do
		_t_secrets="$_t_secrets$_ts
"
	done
}

# Abort the whole script: TAP "Bail out!", status 1.
_t_bail () {
	printf 'Bail out! %s\n' "$*"
	_t_done=1
	exit 1
}

# A harness error: inside a test, print it and return 1 (the test fails); outside, bail out.
_t_fatal () {
	if [ -n "$_t_in_test" ]; then
		printf '%s\n' "$*" >&2
		return 1
	fi
	_t_bail "$*"
}

# skip_all REASON: skip the whole script (TAP "1..0 # SKIP", exit 77).  Only before the first test.
skip_all () {
	if [ -n "$_t_in_test" ] || [ "$_t_count" -gt 0 ]; then
		_t_bail "skip_all ($*) after tests have run: call it, and require_tool, before the first test"
	fi
	printf '1..0 # SKIP %s\n' "$*"
	_t_done=1
	exit 77
}

# Something the test needs is missing: skip, except under CI=true, where it is a failure.
_t_missing () {
	case ${CI:-} in
	true | 1 | yes)
		_t_bail "$1 is missing; CI=$CI, so that is a failure, not a skip"
		;;
	esac
	skip_all "$1 is missing"
}

# require_tool NAME...: each NAME must be a command in PATH (else skip; fail under CI=true).
require_tool () {
	for _rq in "$@"; do
		command -v "$_rq" >/dev/null 2>&1 || _t_missing "required tool '$_rq'"
	done
}

_t_eval () {
	eval "$1"
}

# test_expect_success DESCRIPTION CODE: run CODE (an && chain) with eval in this shell, so the
# variables it sets persist; its stdout+stderr go to a file shown, masked, when it fails (always
# with -v or CAIRN_TEST_VERBOSE=1).  `return N` in CODE ends it with status N; do not `exit`.
test_expect_success () {
	if [ $# -ne 2 ]; then
		_t_bail "test_expect_success needs 2 arguments, got $#: ${1-}"
	fi
	_t_count=$((_t_count + 1))
	_t_out=$T/.out/$_t_count
	_t_in_test=$1
	_t_code=$2
	{ _t_eval "$_t_code"; } >"$_t_out" 2>&1 </dev/null
	_t_ret=$?
	_t_in_test=''
	if [ "$_t_ret" -eq 0 ]; then
		printf 'ok %d - %s\n' "$_t_count" "$1"
		if [ -n "$_t_verbose" ] && [ -s "$_t_out" ]; then
			_t_mask <"$_t_out"
		fi
		return 0
	fi
	_t_failed=$((_t_failed + 1))
	printf 'not ok %d - %s\n' "$_t_count" "$1"
	printf '# test code (status %d):\n' "$_t_ret"
	printf '%s\n' "$_t_code" | _t_mask
	if [ -s "$_t_out" ]; then
		printf '# output:\n'
		_t_mask <"$_t_out"
	fi
	_t_show_registry_logs 10
	return 0
}

# test_done: print the plan and a summary; exit 1 if any test failed, else 0.
test_done () {
	_t_done=1
	printf '1..%d\n' "$_t_count"
	if [ "$_t_failed" -eq 0 ]; then
		printf '# passed all %d test(s)\n' "$_t_count"
		exit 0
	fi
	printf '# failed %d among %d test(s)\n' "$_t_failed" "$_t_count"
	exit 1
}

# test_must_fail CMD [ARGS...]: CMD must fail, but not crash: a signal (ASan aborts, segfaults)
# or "command not found" is not the failure a test expects.
test_must_fail () {
	"$@"
	_mf=$?
	if [ "$_mf" -eq 0 ]; then
		printf 'test_must_fail: command succeeded: %s\n' "$*" >&2
		return 1
	elif [ "$_mf" -gt 128 ]; then
		printf 'test_must_fail: command died of signal %d: %s\n' "$((_mf - 128))" "$*" >&2
		return 1
	elif [ "$_mf" -eq 127 ] || [ "$_mf" -eq 126 ]; then
		printf 'test_must_fail: command not found or not executable: %s\n' "$1" >&2
		return 1
	fi
	return 0
}

# test_cmp EXPECTED ACTUAL: files must be equal; shows a diff if not.
test_cmp () {
	diff -u "$1" "$2"
}

# --- processes and cleanup ----------------------------------------------------------------------

# test_pid_alive PID: the process exists and is not a zombie (kill -0 alone says yes to zombies).
test_pid_alive () {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	read -r _pa 2>/dev/null <"/proc/$1/stat" || return 1
	_pa=${_pa##*) } # "PID (COMM) STATE ...": COMM may contain spaces and parentheses
	case $_pa in
	Z* | X*) return 1 ;;
	esac
	return 0
}

# TERM each PID, wait up to 5 s for all of them, KILL the survivors, reap our children.
_t_stop_pids () {
	for _sp in "$@"; do
		kill -TERM "$_sp" 2>/dev/null
	done
	_sp_i=0
	while [ "$_sp_i" -lt 50 ]; do
		_sp_live=''
		for _sp in "$@"; do
			if test_pid_alive "$_sp"; then
				_sp_live=1
				break
			fi
		done
		[ -n "$_sp_live" ] || break
		sleep 0.1
		_sp_i=$((_sp_i + 1))
	done
	for _sp in "$@"; do
		if test_pid_alive "$_sp"; then
			printf '# pid %s survived SIGTERM for 5 s: SIGKILL\n' "$_sp" >&2
			kill -KILL "$_sp" 2>/dev/null
		fi
	done
	for _sp in "$@"; do
		wait "$_sp" 2>/dev/null
	done
	return 0
}

# test_spawn LOGFILE CMD [ARGS...]: start a background helper (a token server, say) with its
# output in LOGFILE; sets SPAWN_PID; it is stopped (TERM, 5 s, KILL) when the test exits.
test_spawn () {
	_sw_log=$1
	shift
	"$@" >"$_sw_log" 2>&1 </dev/null 8>&- 9>&- &
	SPAWN_PID=$!
	_t_pids="$_t_pids $SPAWN_PID"
}

# test_atexit CODE: run CODE (eval) at exit, before registries are stopped; last in, first run.
test_atexit () {
	_t_atexit="{ $1
}; $_t_atexit"
}

_t_cleanup () {
	[ -z "$_t_cleaned" ] || return 0
	_t_cleaned=1
	if [ -n "$_t_atexit" ]; then
		_t_eval "$_t_atexit" </dev/null >&9 2>&9
	fi
	registry_stop
	# shellcheck disable=SC2086 # a list of PIDs
	[ -z "$_t_pids" ] || _t_stop_pids $_t_pids
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		if [ "$_t_failed" -gt 0 ] || { [ "$_t_rc" -ne 0 ] && [ "$_t_rc" -ne 77 ]; }; then
			if [ "${CAIRN_TEST_KEEP:-}" = 1 ]; then
				printf '# kept %s (CAIRN_TEST_KEEP=1)\n' "$T"
				return 0
			fi
			printf '# removing %s; CAIRN_TEST_KEEP=1 keeps it\n' "$T"
		fi
		rm -rf "$T" 2>/dev/null || { chmod -R u+rwX "$T"; rm -rf "$T"; }
	fi
}

_t_on_exit () {
	_t_rc=$?
	trap '' INT TERM HUP
	exec 1>&8 2>&9
	if [ -n "$_t_in_test" ]; then
		_t_failed=$((_t_failed + 1))
		printf 'not ok %d - %s\n' "$_t_count" "$_t_in_test"
		if [ -n "$_t_signal" ]; then
			printf '# interrupted by SIG%s\n' "$_t_signal"
		else
			printf '# the script exited (status %d) inside this test; test code must not exit\n' "$_t_rc"
		fi
		[ ! -s "$_t_out" ] || _t_mask <"$_t_out"
		_t_show_registry_logs 10
		_t_in_test=''
		printf '1..%d\n# failed %d among %d test(s)\n' "$_t_count" "$_t_failed" "$_t_count"
		[ "$_t_rc" -ne 0 ] || _t_rc=1
	elif [ -z "$_t_done" ]; then
		printf '# the script ended (status %d) without calling test_done\n' "$_t_rc"
		[ "$_t_rc" -ne 0 ] || _t_rc=1
	fi
	_t_cleanup
	exit "$_t_rc"
}

_t_on_signal () {
	_t_signal=$1
	printf 'Bail out! caught SIG%s\n' "$1" >&8
	[ -n "$_t_in_test" ] || _t_done=1
	exit "$2"
}

# --- registries ---------------------------------------------------------------------------------

# Print $1 as a single-quoted YAML scalar.
_t_yq () {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# Is nothing listening on 127.0.0.1:$1?
_t_port_free () {
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] || return 1
	fi
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null
	[ $? -eq 7 ] # "failed to connect"
}

# A throwaway CA, and a server certificate from it for 127.0.0.1 and localhost (EC P-256: fast).
_t_tls_init () {
	[ ! -f "$T/tls/server.crt" ] || return 0
	mkdir -p "$T/tls" || return 1
	cat >"$T/tls/openssl.cnf" <<-'EOF' || return 1
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = cairn e2e test CA
		[ca_ext]
		basicConstraints = critical,CA:TRUE
		keyUsage = critical,keyCertSign,cRLSign
		subjectKeyIdentifier = hash
		[server_ext]
		basicConstraints = critical,CA:FALSE
		keyUsage = critical,digitalSignature
		extendedKeyUsage = serverAuth
		subjectAltName = IP:127.0.0.1,DNS:localhost
		authorityKeyIdentifier = keyid
	EOF
	(
		cd "$T/tls" &&
			openssl req -config openssl.cnf -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
				-nodes -days 7 -extensions ca_ext -keyout ca.key -out ca.crt &&
			openssl req -config openssl.cnf -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
				-nodes -subj /CN=localhost -keyout server.key -out server.csr &&
			openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
				-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 7 \
				-extfile openssl.cnf -extensions server_ext -out server.crt
	) >"$T/tls/openssl.log" 2>&1 || {
		cat "$T/tls/openssl.log" >&2
		return 1
	}
	REG_CA=$T/tls/ca.crt
	REG_CERTS_D=$T/certs.d
	export REG_CA REG_CERTS_D
}

# Tail of the log of every running registry (after a failed test).
_t_show_registry_logs () {
	for _sl in $_t_regs; do
		_sl_pid='' _sl_log=''
		eval "_sl_pid=\${_t_reg_${_sl}_pid-} _sl_log=\${_t_reg_${_sl}_log-}"
		if [ -z "$_sl_pid" ] || [ ! -s "$_sl_log" ]; then
			continue
		fi
		printf '# registry 127.0.0.1:%s: last %d requests, warnings and errors in %s:\n' \
			"$_sl" "$1" "$_sl_log"
		grep -E '^[0-9.]+ - |level=(warning|error|fatal|panic)' "$_sl_log" | tail -n "$1" | _t_mask
	done
}

# Stop registry $1 when this shell dies, even by SIGKILL (the EXIT trap does it otherwise).  It
# sleeps in the background and waits, so a TERM from registry_stop ends it, and its sleep, at once.
_t_watchdog () {
	trap - EXIT INT HUP
	_wd_sleep=''
	trap '[ -z "$_wd_sleep" ] || { kill "$_wd_sleep"; wait "$_wd_sleep"; } 2>/dev/null; exit 0' TERM
	while test_pid_alive "$_t_parent" && test_pid_alive "$1"; do
		sleep 1 &
		_wd_sleep=$!
		wait "$_wd_sleep"
	done
	test_pid_alive "$1" || return 0
	kill -TERM "$1"
	_wd_i=0
	while test_pid_alive "$1"; do
		_wd_i=$((_wd_i + 1))
		if [ "$_wd_i" -gt 50 ]; then
			kill -KILL "$1"
			break
		fi
		sleep 0.1
	done
}
_t_parent=$$

# registry_start [--name NAME] [--htpasswd USER:PASS] [--tls] [--no-delete]
#                [--token REALM_URL ISSUER SERVICE ROOTCERTBUNDLE] [--storage DIR]
# Start docker-registry on the next free test_port of this test, with a generated config in a new
# directory $T/registry.PORT[-N], and wait until /v2/ answers (manifests may be deleted unless
# --no-delete).  Storage is fresh, or DIR (say the
# REG_STORAGE of a stopped registry, to restart it).  Sets and exports REG (127.0.0.1:PORT), REG_URL (http[s]://REG), REG_PID,
# REG_LOG (the registry's stdout+stderr: access log lines and logrus lines), REG_STORAGE (its
# filesystem root), REG_USER/REG_PASS (with --htpasswd, else unset), and with --tls REG_CA (the
# test CA) and REG_CERTS_D (a certs.d dir: $REG_CERTS_D/$REG/ca.crt).  --name NAME also sets NAME,
# NAME_URL, NAME_PID, NAME_LOG, NAME_STORAGE, NAME_USER and NAME_PASS for this registry, so REG*
# can move on to the next one.  Prints nothing on success.
registry_start () {
	_rs_name='' _rs_auth='' _rs_user='' _rs_pass='' _rs_tls='' _rs_realm='' _rs_issuer='' _rs_service=''
	_rs_bundle='' _rs_storage='' _rs_delete=true
	while [ $# -gt 0 ]; do
		case $1 in
		--no-delete)
			_rs_delete=false
			shift
			;;
		--name)
			case ${2-} in
			'' | [!A-Za-z_]* | *[!A-Za-z0-9_]* | _* | T | REG | CAIRN*)
				_t_fatal "registry_start: --name needs a shell variable name (not T, REG, CAIRN*, _*)"
				return 1
				;;
			esac
			_rs_name=$2
			shift 2
			;;
		--htpasswd)
			case ${2-} in
			?*:?*) ;;
			*)
				_t_fatal "registry_start: --htpasswd needs USER:PASS, both non-empty"
				return 1
				;;
			esac
			_rs_auth=${_rs_auth}htpasswd _rs_user=${2%%:*} _rs_pass=${2#*:}
			test_secret "$_rs_pass" "$(printf '%s' "$_rs_user:$_rs_pass" | base64 | tr -d '\n')"
			shift 2
			;;
		--tls)
			_rs_tls=1
			shift
			;;
		--storage)
			if [ -z "${2-}" ]; then
				_t_fatal "registry_start: --storage needs a directory"
				return 1
			fi
			_rs_storage=$2
			shift 2
			;;
		--token)
			if [ $# -lt 5 ]; then
				_t_fatal "registry_start: --token needs REALM_URL ISSUER SERVICE ROOTCERTBUNDLE"
				return 1
			fi
			_rs_auth=${_rs_auth}token _rs_realm=$2 _rs_issuer=$3 _rs_service=$4 _rs_bundle=$5
			shift 5
			;;
		*)
			_t_fatal "registry_start: unknown option '$1'"
			return 1
			;;
		esac
	done
	case $_rs_auth in
	'' | htpasswd | token) ;;
	*)
		_t_fatal "registry_start: one of --htpasswd and --token, not both"
		return 1
		;;
	esac
	require_tool docker-registry curl
	[ "$_rs_auth" != htpasswd ] || require_tool htpasswd
	[ -z "$_rs_tls" ] || require_tool openssl

	_rs_port=''
	for _rs_k in 0 1 2 3; do
		eval "_rs_pid=\${_t_reg_$((_t_port_base + _rs_k))_pid-}"
		if [ -z "$_rs_pid" ]; then
			_rs_port=$((_t_port_base + _rs_k))
			break
		fi
	done
	if [ -z "$_rs_port" ]; then
		_t_fatal "registry_start: all 4 ports of test $TEST_NUMBER have a running registry"
		return 1
	fi
	if ! _t_port_free "$_rs_port"; then
		_t_fatal "registry_start: 127.0.0.1:$_rs_port (test_port $_rs_k of test $TEST_NUMBER) is in use:" \
			"another copy of this test, or something left over? See: ss -ltnp 'sport = :$_rs_port'"
		return 1
	fi

	_t_nreg=$((_t_nreg + 1))
	_rs_dir=$T/registry.$_rs_port
	[ ! -e "$_rs_dir" ] || _rs_dir=$T/registry.$_rs_port-$_t_nreg
	_rs_storage=${_rs_storage:-$_rs_dir/storage}
	mkdir -p "$_rs_dir" "$_rs_storage" || return 1
	if [ -n "$_rs_tls" ]; then
		if ! _t_tls_init; then
			_t_fatal "registry_start: could not make the test CA and certificate"
			return 1
		fi
		for _rs_h in "127.0.0.1:$_rs_port" "localhost:$_rs_port"; do
			mkdir -p "$REG_CERTS_D/$_rs_h" && cp "$REG_CA" "$REG_CERTS_D/$_rs_h/ca.crt" || return 1
		done
	fi
	if [ "$_rs_auth" = htpasswd ]; then
		# The password goes on stdin (-i), not on the command line.
		if ! printf '%s\n' "$_rs_pass" | htpasswd -niB "$_rs_user" >"$_rs_dir/htpasswd" 2>"$_rs_dir/htpasswd.err"; then
			cat "$_rs_dir/htpasswd.err" >&2
			_t_fatal "registry_start: htpasswd failed"
			return 1
		fi
	fi
	{
		printf '%s\n' \
			'version: 0.1' \
			'log:' \
			'  level: info' \
			'  formatter: text' \
			'  fields:' \
			"    service: registry-$_rs_port" \
			'storage:' \
			'  filesystem:' \
			"    rootdirectory: $(_t_yq "$_rs_storage")" \
			'  delete:' \
			"    enabled: $_rs_delete" \
			'  maintenance:' \
			'    uploadpurging:' \
			'      enabled: false' \
			'http:' \
			"  addr: 127.0.0.1:$_rs_port" \
			"  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
			'  headers:' \
			'    X-Content-Type-Options: [nosniff]'
		if [ -n "$_rs_tls" ]; then
			printf '%s\n' \
				'  tls:' \
				"    certificate: $(_t_yq "$T/tls/server.crt")" \
				"    key: $(_t_yq "$T/tls/server.key")"
		fi
		printf '%s\n' \
			'health:' \
			'  storagedriver:' \
			'    enabled: false'
		case $_rs_auth in
		htpasswd)
			printf '%s\n' \
				'auth:' \
				'  htpasswd:' \
				'    realm: cairn-test' \
				"    path: $(_t_yq "$_rs_dir/htpasswd")"
			;;
		token)
			printf '%s\n' \
				'auth:' \
				'  token:' \
				"    realm: $(_t_yq "$_rs_realm")" \
				"    service: $(_t_yq "$_rs_service")" \
				"    issuer: $(_t_yq "$_rs_issuer")" \
				"    rootcertbundle: $(_t_yq "$_rs_bundle")"
			;;
		esac
	} >"$_rs_dir/config.yml" || return 1

	# docker-registry reads any REGISTRY_* variable as a config override (REGISTRY_AUTH_FILE, for
	# skopeo, would set auth.file and break the config): start it without them.
	_rs_env=$(env | sed -n 's/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/\1/p')
	(
		# shellcheck disable=SC2086 # a list of names
		[ -z "$_rs_env" ] || unset $_rs_env
		exec docker-registry serve "$_rs_dir/config.yml"
	) >"$_rs_dir/registry.log" 2>&1 </dev/null 8>&- 9>&- &
	_rs_pid=$!
	_t_watchdog "$_rs_pid" >/dev/null 2>&1 </dev/null 8>&- 9>&- &
	_rs_wd=$!
	_rs_url=http://127.0.0.1:$_rs_port
	[ -z "$_rs_tls" ] || _rs_url=https://127.0.0.1:$_rs_port
	eval "_t_reg_${_rs_port}_pid=\$_rs_pid _t_reg_${_rs_port}_wd=\$_rs_wd" \
		"_t_reg_${_rs_port}_url=\$_rs_url _t_reg_${_rs_port}_log=\$_rs_dir/registry.log" \
		"_t_reg_${_rs_port}_user=\$_rs_user _t_reg_${_rs_port}_pass=\$_rs_pass _t_reg_${_rs_port}_tls=\$_rs_tls" \
		"_t_reg_${_rs_port}_realm= _t_reg_${_rs_port}_service="
	case " $_t_regs " in
	*" $_rs_port "*) ;;
	*) _t_regs="$_t_regs $_rs_port" ;;
	esac

	# Wait up to 10 s for /v2/ to answer 200 (or 401 with auth).
	set --
	[ -z "$_rs_tls" ] || set -- --cacert "$REG_CA"
	_rs_i=0 _rs_why=''
	while :; do
		if ! test_pid_alive "$_rs_pid"; then
			_rs_why="docker-registry exited"
			break
		fi
		_rs_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$_rs_url/v2/" 2>/dev/null)
		case $_rs_code in
		200 | 401) break ;;
		esac
		_rs_i=$((_rs_i + 1))
		if [ "$_rs_i" -ge 100 ]; then
			_rs_why="/v2/ did not answer 200 or 401 within 10 s (last status: $_rs_code)"
			break
		fi
		sleep 0.1
	done
	if [ -n "$_rs_why" ]; then
		registry_stop "$_rs_port"
		{
			printf 'registry_start: %s; its log (%s):\n' "$_rs_why" "$_rs_dir/registry.log"
			_t_mask <"$_rs_dir/registry.log"
		} >&2
		_t_fatal "registry_start: docker-registry on 127.0.0.1:$_rs_port did not start"
		return 1
	fi

	REG=127.0.0.1:$_rs_port REG_URL=$_rs_url REG_PID=$_rs_pid
	REG_LOG=$_rs_dir/registry.log REG_STORAGE=$_rs_storage
	export REG REG_URL REG_PID REG_LOG REG_STORAGE
	if [ -n "$_rs_user" ]; then
		REG_USER=$_rs_user REG_PASS=$_rs_pass
		export REG_USER REG_PASS
	else
		unset REG_USER REG_PASS
	fi
	if [ -n "$_rs_name" ]; then
		eval "$_rs_name=\$REG ${_rs_name}_URL=\$REG_URL ${_rs_name}_PID=\$REG_PID" \
			"${_rs_name}_LOG=\$REG_LOG ${_rs_name}_STORAGE=\$REG_STORAGE" \
			"${_rs_name}_USER=\$_rs_user ${_rs_name}_PASS=\$_rs_pass"
	fi
	return 0
}

# Port of a registry given as HOST:PORT, :PORT or PORT; empty when it is not one of ours.
_t_reg_port () {
	_rp=${1##*:}
	case $_rp in
	'' | *[!0-9]*) return 1 ;;
	esac
	eval "_rp_url=\${_t_reg_${_rp}_url-}"
	[ -n "$_rp_url" ] || return 1
	printf '%s\n' "$_rp"
}

# registry_stop [REGISTRY...]: stop the given registries (HOST:PORT, as in $REG), or all of this
# test's: TERM, wait up to 5 s, then KILL.  Registries already stopped are ignored.
registry_stop () {
	if [ $# -eq 0 ]; then
		# shellcheck disable=SC2086 # a list of ports
		set -- $_t_regs
	fi
	_rt_pids=''
	for _rt in "$@"; do
		_rt_port=$(_t_reg_port "$_rt") || {
			printf 'registry_stop: %s is not a registry of this test\n' "$_rt" >&2
			continue
		}
		_rt_pid='' _rt_wd=''
		eval "_rt_pid=\${_t_reg_${_rt_port}_pid-} _rt_wd=\${_t_reg_${_rt_port}_wd-}"
		[ -n "$_rt_pid" ] || continue
		_rt_pids="$_rt_pids $_rt_wd $_rt_pid"
		eval "_t_reg_${_rt_port}_pid= _t_reg_${_rt_port}_wd="
	done
	# shellcheck disable=SC2086 # a list of PIDs
	[ -z "$_rt_pids" ] || _t_stop_pids $_rt_pids
	return 0
}

# registry_log_count FIXED_STRING [REGISTRY]: how many lines of the log of REGISTRY (HOST:PORT,
# default $REG; the latest registry on that port) contain FIXED_STRING.  One access log line per
# request (Apache combined format, on stdout; the user column stays "-" even with basic auth):
#   127.0.0.1 - - [23/Nov/2026:14:13:20 +0000] "PUT /v2/a/b/manifests/1 HTTP/1.1" 201 0 "" "UA"
# so '"PUT /v2/a/b/manifests/' counts manifest PUTs (leave out the protocol: curl uses HTTP/2.0
# over TLS); the logrus lines (stderr) never contain `"METHOD /`.
registry_log_count () {
	_lc_port=$(_t_reg_port "${2:-${REG:-}}") || {
		printf 'registry_log_count: no registry %s in this test\n' "${2:-${REG:-}}" >&2
		return 1
	}
	_lc_log=''
	eval "_lc_log=\${_t_reg_${_lc_port}_log}"
	grep -cF -e "$1" "$_lc_log"
	[ $? -le 1 ] # 1: no line matched (and 0 was printed)
}

# manifest_digest REF: sha256 of the raw manifest bytes of REF (HOST:PORT/REPO[:TAG|@DIGEST]) as
# served by GET /v2/REPO/manifests/REF, accepting docker schema 2 and OCI manifests and indexes;
# prints sha256:HEX.  Uses https, the test CA and the credentials for our registries (for one of
# token_server_start, a pull token from its realm), and REG_USER/REG_PASS (when set) for others.
manifest_digest () {
	_md_host=${1%%/*} _md_rest=${1#*/}
	if [ -z "$_md_host" ] || [ "$_md_host" = "$1" ]; then
		printf 'manifest_digest: %s is not HOST:PORT/REPO[:TAG|@DIGEST]\n' "$1" >&2
		return 1
	fi
	case $_md_rest in
	*@*) _md_repo=${_md_rest%%@*} _md_ref=${_md_rest#*@} ;;
	*:*) _md_repo=${_md_rest%:*} _md_ref=${_md_rest##*:} ;;
	*) _md_repo=$_md_rest _md_ref=latest ;;
	esac
	_md_scheme=http _md_user=${REG_USER:-} _md_pass=${REG_PASS:-} _md_tls='' _md_realm=''
	_md_service=''
	if _md_port=$(_t_reg_port "$_md_host"); then
		_md_u='' _md_p=''
		eval "_md_tls=\${_t_reg_${_md_port}_tls} _md_u=\${_t_reg_${_md_port}_user}" \
			"_md_p=\${_t_reg_${_md_port}_pass} _md_realm=\${_t_reg_${_md_port}_realm-}" \
			"_md_service=\${_t_reg_${_md_port}_service-}"
		[ -z "$_md_tls" ] || _md_scheme=https
		[ -z "$_md_u" ] || _md_user=$_md_u _md_pass=$_md_p
	fi
	# Credentials and tokens go to curl in a config on stdin, never on its command line.
	_md_cfg=''
	[ -z "$_md_user" ] ||
		_md_cfg=$(printf 'user = "%s"\n' "$(printf '%s' "$_md_user:$_md_pass" | sed 's/[\\"]/\\&/g')")
	if [ -n "$_md_realm" ]; then
		# A token registry of token_server_start: a pull token for the repository first.
		_md_tok=$(printf '%s\n' "$_md_cfg" | curl -K - -fsS --max-time 30 -G \
			--data-urlencode "service=$_md_service" \
			--data-urlencode "scope=repository:$_md_repo:pull" "$_md_realm") || return 1
		_md_tok=$(printf '%s\n' "$_md_tok" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
		if [ -z "$_md_tok" ]; then
			printf 'manifest_digest: no token from %s\n' "$_md_realm" >&2
			return 1
		fi
		_md_cfg="header = \"Authorization: Bearer $_md_tok\""
	fi
	set -- -fsS --max-time 60 \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.oci.image.index.v1+json'
	[ -z "$_md_tls" ] || set -- "$@" --cacert "$REG_CA"
	case $_md_host in
	localhost:*[!0-9]* | localhost:) ;;
	localhost:*) set -- "$@" --resolve "$_md_host:127.0.0.1" ;; # not ::1
	esac
	_md_out=$(mktemp "$T/.manifest.XXXXXX") || return 1
	set -- "$@" -o "$_md_out" "$_md_scheme://$_md_host/v2/$_md_repo/manifests/$_md_ref"
	printf '%s\n' "$_md_cfg" | curl -K - "$@" || {
		rm -f "$_md_out"
		return 1
	}
	_md_sum=$(sha256sum <"$_md_out") || return 1
	rm -f "$_md_out"
	printf 'sha256:%s\n' "${_md_sum%% *}"
}

# --- helper servers: a token server and a fault-injecting proxy ----------------------------------

# require_python [MODULE...]: set PYTHON to a python3 that imports every MODULE (python3 in PATH
# first, then Debian's /usr/bin/python3, which has python3-jwt when a pyenv or venv python3 in
# PATH does not); skip (fail under CI=true) if there is none.
require_python () {
	PYTHON=''
	for _py in "$(command -v python3 2>/dev/null)" /usr/bin/python3; do
		{ [ -n "$_py" ] && [ -x "$_py" ]; } || continue
		_py_imports=''
		for _py_m in "$@"; do
			_py_imports="${_py_imports}import $_py_m
"
		done
		if printf '%s' "$_py_imports" | "$_py" - >/dev/null 2>&1; then
			PYTHON=$_py
			export PYTHON
			return 0
		fi
	done
	if [ $# -gt 0 ]; then
		_t_missing "a python3 with the modules '$*' (Debian: python3 python3-jwt)"
	else
		_t_missing "required tool 'python3'"
	fi
}

# Wait up to 10 s for the helper server $1 (a PID) to print "listening on" into its output file
# $2 (after it has bound its socket).  0 if it did.
_t_wait_listening () {
	_wl_i=0
	while [ "$_wl_i" -lt 100 ]; do
		test_pid_alive "$1" || return 1
		! grep -q 'listening on' "$2" 2>/dev/null || return 0
		_wl_i=$((_wl_i + 1))
		sleep 0.1
	done
	return 1
}

# token_server_start [--users USER:PASS[,USER:PASS...]] [--anonymous pull|none] [--public REGEX]
#                    [--expires SECS] [--es256] [--name NAME] [--tls]
# Start tools/token_server.py on test_port 3 with a fresh signing key (RSA 2048, RS256; --es256: EC
# P-256) and its self-signed certificate, then a registry (registry_start --token, plus --name and
# --tls when given) whose realm is the token server.  USERs get pull and push on any repository;
# anonymous requests get pull (--anonymous pull, the default; only on repositories matching the
# Python regex --public) or a 401 (--anonymous none).  Tokens live --expires SECS (default 300).
# Passwords (no commas) are test_secret'ed.  Sets and exports TOKEN_URL (the realm,
# http://127.0.0.1:PORT/token), TOKEN_SERVICE, TOKEN_ISSUER, TOKEN_PID, TOKEN_LOG (one line per
# request: "HH:MM:SS.mmm METHOD /token?... user=U|- status=N ua=USER-AGENT granted=..."),
# TOKEN_ISSUED (every token issued, one a line: check that none leaks) and the REG* variables of
# the registry, with REG_USER/REG_PASS (and NAME_USER/NAME_PASS) the first user: manifest_digest
# and base_image_push get a token with them (or anonymously) from the realm.
token_server_start () {
	_tk_users='' _tk_anon=pull _tk_public='.*' _tk_expires=300 _tk_es='' _tk_regopts='' _tk_name=''
	while [ $# -gt 0 ]; do
		case $1 in
		--users | --anonymous | --public | --expires | --name)
			if [ $# -lt 2 ]; then
				_t_fatal "token_server_start: $1 needs a value"
				return 1
			fi
			case $1 in
			--users) _tk_users=$2 ;;
			--anonymous) _tk_anon=$2 ;;
			--public) _tk_public=$2 ;;
			--expires) _tk_expires=$2 ;;
			--name) _tk_regopts="$_tk_regopts --name $2" _tk_name=$2 ;;
			esac
			shift 2
			;;
		--es256)
			_tk_es=1
			shift
			;;
		--tls)
			_tk_regopts="$_tk_regopts --tls"
			shift
			;;
		*)
			_t_fatal "token_server_start: unknown option '$1'"
			return 1
			;;
		esac
	done
	case $_tk_anon in
	pull | none) ;;
	*)
		_t_fatal "token_server_start: --anonymous pull or none, not '$_tk_anon'"
		return 1
		;;
	esac
	require_tool openssl curl
	require_python jwt cryptography
	_tk_port=$(test_port 3) || return 1
	if ! _t_port_free "$_tk_port"; then
		_t_fatal "token_server_start: 127.0.0.1:$_tk_port (test_port 3) is in use"
		return 1
	fi
	_tk_dir=$T/token.$_tk_port
	[ ! -e "$_tk_dir" ] || _tk_dir=$(mktemp -d "$T/token.$_tk_port-XXXXXX") || return 1
	mkdir -p "$_tk_dir" || return 1
	if [ -n "$_tk_es" ]; then
		set -- -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
	else
		set -- -newkey rsa:2048
	fi
	if ! openssl req -x509 "$@" -nodes -days 7 -subj /CN=cairn-e2e-token-signer \
		-keyout "$_tk_dir/key.pem" -out "$_tk_dir/cert.pem" >"$_tk_dir/openssl.log" 2>&1; then
		cat "$_tk_dir/openssl.log" >&2
		_t_fatal "token_server_start: could not make the signing key"
		return 1
	fi
	: >"$_tk_dir/users" && chmod 600 "$_tk_dir/users" || return 1
	_tk_rest=$_tk_users
	while [ -n "$_tk_rest" ]; do
		_tk_u=${_tk_rest%%,*}
		case $_tk_rest in
		*,*) _tk_rest=${_tk_rest#*,} ;;
		*) _tk_rest='' ;;
		esac
		case $_tk_u in
		?*:?*) ;;
		*)
			_t_fatal "token_server_start: --users wants USER:PASS[,USER:PASS...], not '$_tk_u'"
			return 1
			;;
		esac
		test_secret "${_tk_u#*:}" "$(printf '%s' "$_tk_u" | base64 | tr -d '\n')"
		printf '%s\n' "$_tk_u" >>"$_tk_dir/users" || return 1
	done
	TOKEN_SERVICE=cairn-e2e-registry TOKEN_ISSUER=cairn-e2e-token-issuer
	TOKEN_URL=http://127.0.0.1:$_tk_port/token TOKEN_LOG=$_tk_dir/token.log
	TOKEN_ISSUED=$_tk_dir/issued
	: >"$TOKEN_LOG" && : >"$TOKEN_ISSUED" || return 1
	test_spawn "$_tk_dir/server.out" "$PYTHON" "$E2E_DIR/tools/token_server.py" \
		--port "$_tk_port" --key "$_tk_dir/key.pem" --cert "$_tk_dir/cert.pem" \
		--issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" --log "$TOKEN_LOG" \
		--users-file "$_tk_dir/users" --anonymous "$_tk_anon" --public "$_tk_public" \
		--expires "$_tk_expires" --issued "$TOKEN_ISSUED" --parent-pid "$_t_parent"
	TOKEN_PID=$SPAWN_PID
	export TOKEN_URL TOKEN_SERVICE TOKEN_ISSUER TOKEN_PID TOKEN_LOG TOKEN_ISSUED
	if ! _t_wait_listening "$TOKEN_PID" "$_tk_dir/server.out"; then
		_t_mask <"$_tk_dir/server.out" >&2
		_t_fatal "token_server_start: the token server on 127.0.0.1:$_tk_port did not start"
		return 1
	fi
	# shellcheck disable=SC2086 # a list of options
	registry_start $_tk_regopts --token "$TOKEN_URL" "$TOKEN_ISSUER" "$TOKEN_SERVICE" \
		"$_tk_dir/cert.pem" || return 1
	# manifest_digest and base_image_push use the first user (when there is one) through the realm.
	_tk_u=${_tk_users%%,*}
	_tk_p=${_tk_u#*:} _tk_u=${_tk_u%%:*}
	[ -n "$_tk_users" ] || _tk_p=''
	eval "_t_reg_${REG##*:}_realm=\$TOKEN_URL _t_reg_${REG##*:}_service=\$TOKEN_SERVICE" \
		"_t_reg_${REG##*:}_user=\$_tk_u _t_reg_${REG##*:}_pass=\$_tk_p"
	if [ -n "$_tk_u" ]; then
		REG_USER=$_tk_u REG_PASS=$_tk_p
		export REG_USER REG_PASS
		[ -z "$_tk_name" ] || eval "${_tk_name}_USER=\$_tk_u ${_tk_name}_PASS=\$_tk_p"
	fi
}

# token_log_count FIXED_STRING: lines of TOKEN_LOG containing FIXED_STRING; token fetches are
# token_log_count "status=200".
token_log_count () {
	grep -cF -e "$1" "$TOKEN_LOG"
	[ $? -le 1 ]
}

_t_nproxy=0

# fault_proxy_start [--upstream HOST:PORT] [--reject-expired-tokens] [--tcp] [RULE...]
# Start tools/fault_proxy.py on test_port 2 in front of the registry HOST:PORT (default $REG;
# plain HTTP), stopping a proxy this test started before.  Each RULE is one argument,
# "ACTION METHOD PATH_REGEX [TIMES]", e.g. 'status=503 HEAD /blobs/ 2', 'status=429 POST
# /uploads/' (Retry-After: 1), 'drop-request=1048576 PATCH /uploads/', 'cut-request=1048576 PATCH
# /uploads/', 'drop-response=65536 GET /blobs/sha256:', 'delay=200 * . inf', 'reset GET
# /manifests/' (see the tool's header).  --reject-expired-tokens: 401 for a Bearer JWT past its
# exp (distribution itself allows 60 s).  --tcp: a plain TCP relay (TLS passes), logging per
# connection whether the client spoke TLS ('"TCP tls"') or plain text ('"TCP plain "GET /..."').
# Sets and exports PROXY (127.0.0.1:PORT: use it as the registry), PROXY_URL, PROXY_PID and
# PROXY_LOG (a new file per start: 'HH:MM:SS.mmm conn=N "METHOD TARGET" STATUS upstream|fault=...').
fault_proxy_start () {
	_fp_up=${REG:-} _fp_exp=''
	while [ $# -gt 0 ]; do
		case $1 in
		--upstream)
			if [ $# -lt 2 ]; then
				_t_fatal "fault_proxy_start: --upstream needs HOST:PORT"
				return 1
			fi
			_fp_up=$2
			shift 2
			;;
		--reject-expired-tokens | --tcp)
			_fp_exp="$_fp_exp $1"
			shift
			;;
		--)
			shift
			break
			;;
		*) break ;;
		esac
	done
	if [ -z "$_fp_up" ]; then
		_t_fatal "fault_proxy_start: no upstream: start a registry first, or give --upstream"
		return 1
	fi
	require_tool curl
	require_python
	fault_proxy_stop
	_fp_port=$(test_port 2) || return 1
	if ! _t_port_free "$_fp_port"; then
		_t_fatal "fault_proxy_start: 127.0.0.1:$_fp_port (test_port 2) is in use"
		return 1
	fi
	_t_nproxy=$((_t_nproxy + 1))
	PROXY_LOG=$T/proxy.$_fp_port.$_t_nproxy.log
	: >"$PROXY_LOG" || return 1
	# shellcheck disable=SC2086 # a list of options
	test_spawn "$PROXY_LOG.out" "$PYTHON" "$E2E_DIR/tools/fault_proxy.py" --port "$_fp_port" \
		--upstream "$_fp_up" --log "$PROXY_LOG" --parent-pid "$_t_parent" $_fp_exp "$@"
	PROXY_PID=$SPAWN_PID PROXY=127.0.0.1:$_fp_port PROXY_URL=http://127.0.0.1:$_fp_port
	export PROXY PROXY_URL PROXY_PID PROXY_LOG
	if ! _t_wait_listening "$PROXY_PID" "$PROXY_LOG.out"; then
		cat "$PROXY_LOG.out" >&2
		_t_fatal "fault_proxy_start: the proxy on $PROXY did not start"
		return 1
	fi
}

# fault_proxy_stop: stop the proxy fault_proxy_start started (if any); it is stopped at exit anyway.
fault_proxy_stop () {
	if [ -n "${PROXY_PID:-}" ]; then
		_t_stop_pids "$PROXY_PID"
		PROXY_PID=''
	fi
	return 0
}

# proxy_log_count FIXED_STRING: lines of PROXY_LOG containing FIXED_STRING (e.g. '"PATCH /v2/').
proxy_log_count () {
	grep -cF -e "$1" "$PROXY_LOG"
	[ $? -le 1 ]
}

# hostile_registry_start K MODE [OPTIONS...]: start tools/hostile_registry.py MODE (see the
# script's help) on test_port K, replacing the one started before; it stops at exit.  Sets and
# exports HOSTILE (127.0.0.1:PORT), HOSTILE_PID and HOSTILE_LOG (one line per request: listener,
# method, target, auth=Basic|Bearer|-, status, sent=BYTES for a cut body).
hostile_registry_start () {
	require_python
	hostile_registry_stop
	_hr_port=$(test_port "$1") || return 1
	shift
	if ! _t_port_free "$_hr_port"; then
		_t_fatal "hostile_registry_start: 127.0.0.1:$_hr_port is in use"
		return 1
	fi
	_t_nhostile=$((${_t_nhostile:-0} + 1))
	HOSTILE_LOG=$T/hostile.$_hr_port.$_t_nhostile.log
	: >"$HOSTILE_LOG" || return 1
	test_spawn "$HOSTILE_LOG.out" "$PYTHON" "$E2E_DIR/tools/hostile_registry.py" \
		--port "$_hr_port" --log "$HOSTILE_LOG" --parent-pid "$_t_parent" "$@"
	HOSTILE_PID=$SPAWN_PID HOSTILE=127.0.0.1:$_hr_port
	export HOSTILE HOSTILE_PID HOSTILE_LOG
	if ! _t_wait_listening "$HOSTILE_PID" "$HOSTILE_LOG.out"; then
		cat "$HOSTILE_LOG.out" >&2
		_t_fatal "hostile_registry_start: $HOSTILE did not start"
		return 1
	fi
}

# hostile_registry_stop: stop the one hostile_registry_start started (if any).
hostile_registry_stop () {
	if [ -n "${HOSTILE_PID:-}" ]; then
		_t_stop_pids "$HOSTILE_PID"
		HOSTILE_PID=''
	fi
	return 0
}

# --- the busybox base image -------------------------------------------------------------------

_t_bb_applets='sh ls cat echo mkdir rm cp mv test true false env id chown chmod ln touch sed grep
wc sha256sum sleep printf head tail'

# _t_busybox_build BUSYBOX LAYOUT BUNDLE: a one-layer image LAYOUT:base from a static busybox.
_t_busybox_build () {
	_bbb_rootless=''
	[ "$(id -u)" -eq 0 ] || _bbb_rootless=--rootless
	_bbb_r=$3/rootfs
	umoci init --layout "$2" &&
		umoci new --image "$2:base" &&
		umoci unpack ${_bbb_rootless:+"$_bbb_rootless"} --image "$2:base" "$3" &&
		mkdir -p "$_bbb_r/bin" "$_bbb_r/etc" "$_bbb_r/tmp" "$_bbb_r/root" "$_bbb_r/home/app" \
			"$_bbb_r/dev" "$_bbb_r/proc" "$_bbb_r/sys" &&
		cp "$1" "$_bbb_r/bin/busybox" &&
		chmod 0755 "$_bbb_r/bin/busybox" &&
		for _bbb_a in $_t_bb_applets; do
			ln -s busybox "$_bbb_r/bin/$_bbb_a" || return 1
		done &&
		printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
			'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$_bbb_r/etc/passwd" &&
		printf '%s\n' 'root:x:0:' 'app:x:1000:' 'nogroup:x:65534:' >"$_bbb_r/etc/group" &&
		chmod 1777 "$_bbb_r/tmp" &&
		chmod 0700 "$_bbb_r/root" &&
		{ [ -n "$_bbb_rootless" ] || chown 1000:1000 "$_bbb_r/home/app"; } &&
		umoci repack --image "$2:base" "$3" &&
		umoci config --image "$2:base" --config.cmd /bin/sh \
			--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin &&
		umoci gc --layout "$2"
}

# docker_engine_start: start a private Docker engine (own socket, data root, no networking
# setup) once per test; sets DOCK (its -H address). Fails when dockerd does not come up in 20 s.
docker_engine_start () {
	[ -n "${DOCK:-}" ] && return 0
	require_tool dockerd docker
	DOCK="unix://$T/docker.sock"
	export DOCK
	test_spawn "$T/dockerd.log" dockerd --iptables=false --ip-masq=false --bridge=none \
		--data-root "$T/docker-root" --exec-root "$T/docker-exec" --pidfile "$T/docker.pid" \
		-H "$DOCK"
	DOCKERD_PID=$SPAWN_PID
	export DOCKERD_PID
	# shellcheck disable=SC2016 # evaluated at exit
	test_atexit 'kill "$DOCKERD_PID" 2>/dev/null; _de_i=0; while test_pid_alive "$DOCKERD_PID" && [ $_de_i -lt 50 ]; do sleep 0.1; _de_i=$((_de_i + 1)); done; umount "$T/docker-root"/*/* 2>/dev/null; true'
	_de_i=0
	until docker -H "$DOCK" version >/dev/null 2>&1; do
		_de_i=$((_de_i + 1))
		if [ $_de_i -ge 100 ]; then
			cat "$T/dockerd.log" >&2
			_t_fatal "docker_engine_start: dockerd did not start"
			return 1
		fi
		sleep 0.2
	done
}

# docker_cmd ARGS...: docker against the engine docker_engine_start started.
docker_cmd () {
	docker -H "$DOCK" "$@"
}

# --- reading a --report file ---------------------------------------------------------------------

# report_sig REPORT IMAGE: the signature of image IMAGE in the --report file REPORT
report_sig () {
	python3 - "$1" "$2" <<'PY'
import json, sys
print([i for i in json.load(open(sys.argv[1]))["images"] if i["name"] == sys.argv[2]][0]["signature"])
PY
}

# report_stages REPORT IMAGE STATE: the names of IMAGE's stages in REPORT that were cached
# (STATE true), built (false), or all of them (any), in chain order, space separated
report_stages () {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
im = [i for i in json.load(open(sys.argv[1]))["images"] if i["name"] == sys.argv[2]][0]
print(" ".join(s["name"] for s in im["stages"]
               if sys.argv[3] == "any" or str(s["cached"]).lower() == sys.argv[3]))
PY
}

# image_check HOST:PORT/REPO:TAG: what a registry client would refuse in an image cairn
# published: every layer is checked for a path held twice and against its diff_id
# (tools/image_check.py), then a real Docker engine pulls it where one is installed (always
# under CI=true, which installs docker.io).
image_check () {
	_ic_host=${1%%/*} _ic_rest=${1#*/}
	_ic_repo=${_ic_rest%:*} _ic_tag=${_ic_rest##*:}
	require_python
	"$PYTHON" "$E2E_DIR/tools/image_check.py" "$_ic_host" "$_ic_repo" "$_ic_tag" || return 1
	if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
		docker_engine_start || return 1
		docker_cmd pull -q "$1" >/dev/null || return 1
	fi
}

# _t_cached_layout NAME BUILDER [ARGS...]: print the path of the OCI layout NAME of the user's
# cache (${XDG_CACHE_HOME:-$HOME/.cache}/cairn-tests, or $CAIRN_TEST_CACHE; the test's own temp
# dir when that is not writable), made once by `BUILDER ARGS... LAYOUT BUNDLE` (LAYOUT:base) and
# published atomically: parallel tests share it and only ever read it.
_t_cached_layout () {
	_cl_dir=$_t_cache/$1
	_cl_builder=$2
	shift 2
	if [ -f "$_cl_dir/index.json" ]; then
		printf '%s\n' "$_cl_dir"
		return 0
	fi
	if mkdir -p "$_t_cache" 2>/dev/null && _cl_tmp=$(mktemp -d "$_t_cache/.build.XXXXXX" 2>/dev/null); then
		# Builds interrupted an hour ago or more are garbage.
		find "$_t_cache" -maxdepth 1 -name '.build.*' -mmin +60 -exec rm -rf {} + 2>/dev/null
	else
		# No writable cache: build in the test's own temp dir.
		_cl_dir=$T/${_cl_dir##*/}
		if [ -f "$_cl_dir/index.json" ]; then
			printf '%s\n' "$_cl_dir"
			return 0
		fi
		_cl_tmp=$(mktemp -d "$T/.build.XXXXXX") || return 1
	fi
	if ! "$_cl_builder" "$@" "$_cl_tmp/layout" "$_cl_tmp/bundle" >"$_cl_tmp/build.log" 2>&1; then
		printf '%s: building the image failed:\n' "$_cl_builder" >&2
		cat "$_cl_tmp/build.log" >&2
		rm -rf "$_cl_tmp"
		return 1
	fi
	# rename(2) publishes the complete layout at once.  If a parallel test won the race, mv moved
	# ours into the winner's directory instead: remove it from there.
	mv "$_cl_tmp/layout" "$_cl_dir" 2>/dev/null
	[ ! -d "$_cl_dir/layout" ] || rm -rf "$_cl_dir/layout"
	rm -rf "$_cl_tmp"
	if [ ! -f "$_cl_dir/index.json" ]; then
		printf '_t_cached_layout: %s was not created\n' "$_cl_dir" >&2
		return 1
	fi
	printf '%s\n' "$_cl_dir"
}

# base_image_layout: print the path of an OCI layout holding the busybox base image as tag "base"
# (read it, never write it: it is shared).  Built once per busybox binary into the user's cache.
base_image_layout () {
	require_tool umoci sha256sum
	_bb=${CAIRN_TEST_BUSYBOX:-/bin/busybox}
	[ -f "$_bb" ] || _t_missing "$_bb (Debian: busybox-static)"
	if command -v ldd >/dev/null 2>&1 && ldd "$_bb" >/dev/null 2>&1; then
		printf 'base_image_layout: %s is dynamically linked; install busybox-static\n' "$_bb" >&2
		return 1
	fi
	_bb_sum=$(sha256sum <"$_bb") || return 1
	_t_cached_layout "busybox-oci-$(printf '%.16s' "$_bb_sum")-$_t_bb_recipe" \
		_t_busybox_build "$_bb"
}

# --- the Debian base image --------------------------------------------------------------------

_t_deb_recipe=1

# _t_mmdebstrap TAR: Debian 12 minbase as a tarball, from the Debian mirror; a mirror that
# fails a download (it happens) is tried again, three times in all, 10 then 30 s apart.
_t_mmdebstrap () {
	for _md_wait in 10 30 0; do
		mmdebstrap --quiet --variant=minbase bookworm "$1" && return 0
		rm -f "$1"
		[ "$_md_wait" -gt 0 ] || break
		printf '# mmdebstrap failed; again in %s s\n' "$_md_wait" >&2
		sleep "$_md_wait"
	done
	return 1
}

# _t_debian_build LAYOUT BUNDLE: a one-layer image LAYOUT:base of Debian 12 (mmdebstrap
# --variant=minbase from the Debian mirror), cmd /bin/bash.
_t_debian_build () {
	mkdir -p "$2" &&
		_t_mmdebstrap "$2/rootfs.tar" &&
		umoci init --layout "$1" &&
		umoci new --image "$1:base" &&
		umoci unpack --image "$1:base" "$2/b" &&
		tar -C "$2/b/rootfs" --numeric-owner -xpf "$2/rootfs.tar" &&
		rm -f "$2/rootfs.tar" &&
		umoci repack --image "$1:base" "$2/b" &&
		umoci config --image "$1:base" --config.cmd /bin/bash \
			--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin &&
		umoci gc --layout "$1"
}

# debian_image_layout: print the path of an OCI layout holding Debian 12 minbase as tag "base",
# made once per cache (a minute or two: it downloads from the Debian mirror).
debian_image_layout () {
	require_tool umoci mmdebstrap
	[ "$(id -u)" -eq 0 ] || _t_missing "root (mmdebstrap and umoci keep the files' owners)"
	_t_cached_layout "debian-bookworm-minbase-$_t_deb_recipe" _t_debian_build
}

# base_image_push REF [SKOPEO_COPY_ARGS...]: push the busybox base image (one layer, cmd /bin/sh,
# users root and app:1000, /tmp 1777) to REF, e.g. "$REG/base/busybox:1".  For our registries
# it adds the TLS options (--dest-cert-dir, or --dest-tls-verify=false over http) and the htpasswd
# credentials, unless the arguments give their own.  Prints nothing on success; get the digest
# with manifest_digest REF.
base_image_push () {
	if [ $# -lt 1 ]; then
		printf 'base_image_push: usage: base_image_push REF [SKOPEO_COPY_ARGS...]\n' >&2
		return 1
	fi
	require_tool skopeo
	_bp_ref=$1
	shift
	_bp_layout=$(${_bp_layout_fn:-base_image_layout}) || return 1
	_bp_host=${_bp_ref%%/*} _bp_tlsarg=1 _bp_credarg=1 _bp_tls='' _bp_user='' _bp_pass=''
	for _bp_a in "$@"; do
		case $_bp_a in
		--dest-tls-verify* | --dest-cert-dir*) _bp_tlsarg= ;;
		--dest-creds* | --dest-no-creds* | --dest-username* | --dest-password* | \
			--dest-registry-token* | --dest-authfile*) _bp_credarg= ;;
		esac
	done
	if _bp_port=$(_t_reg_port "$_bp_host"); then
		eval "_bp_tls=\${_t_reg_${_bp_port}_tls} _bp_user=\${_t_reg_${_bp_port}_user}" \
			"_bp_pass=\${_t_reg_${_bp_port}_pass}"
	fi
	if [ -n "$_bp_credarg" ] && [ -n "$_bp_user" ]; then
		set -- --dest-creds "$_bp_user:$_bp_pass" "$@"
	fi
	if [ -n "$_bp_tlsarg" ]; then
		if [ -n "$_bp_tls" ]; then
			set -- --dest-cert-dir "$REG_CERTS_D/$_bp_host" "$@"
		else
			set -- --dest-tls-verify=false "$@"
		fi
	fi
	skopeo copy -q "$@" "oci:$_bp_layout:base" "docker://$_bp_ref" </dev/null
}

# debian_image_push REF [SKOPEO_COPY_ARGS...]: base_image_push of the Debian 12 base image.
debian_image_push () {
	_bp_layout_fn=debian_image_layout
	base_image_push "$@"
	_dp_rc=$?
	_bp_layout_fn=''
	return $_dp_rc
}

# --- setup: name, number, ports, temp dir, environment ----------------------------------------
# (last, so that every function the EXIT trap may need exists)

trap '_t_on_exit' EXIT
trap '_t_on_signal INT 130' INT
trap '_t_on_signal TERM 143' TERM
trap '_t_on_signal HUP 129' HUP
unset CDPATH

TEST_NAME=$(basename "$0" .sh)
case ${CAIRN_TEST_NUMBER:-} in
[0-9] | [0-9][0-9] | [0-9][0-9][0-9]) _t_num=$CAIRN_TEST_NUMBER ;;
'')
	case $TEST_NAME in
	t[0-9][0-9][0-9]-*) _t_num=${TEST_NAME#t} _t_num=${_t_num%%-*} ;;
	*) _t_bail "cannot derive the test number from '$0': name it tNNN-topic.sh (or set CAIRN_TEST_NUMBER=NNN)" ;;
	esac
	;;
*) _t_bail "CAIRN_TEST_NUMBER='$CAIRN_TEST_NUMBER' is not a number from 0 to 999" ;;
esac
while :; do
	case $_t_num in
	0?*) _t_num=${_t_num#0} ;;
	*) break ;;
	esac
done
TEST_NUMBER=$_t_num
# Four ports per test, 5400 + 4*NNN + K: tests never share one, and 5400..9399 is below Linux's
# ephemeral range (32768..60999), so client sockets never take them either.
_t_port_base=$((5400 + TEST_NUMBER * 4))

# test_port K (K = 0..3): print this test's K-th port.  registry_start takes the lowest K not used
# by a running registry of this test; give other servers K = 3, 2, ...
test_port () {
	case ${1-} in
	[0-3]) printf '%d\n' "$((_t_port_base + $1))" ;;
	*)
		printf 'test_port: K must be 0, 1, 2 or 3, not "%s"\n' "${1-}" >&2
		return 1
		;;
	esac
}

_t_verbose=${CAIRN_TEST_VERBOSE:-}
for _t_arg in "$@"; do
	case $_t_arg in
	-v | --verbose) _t_verbose=1 ;;
	esac
done
case $_t_verbose in
1 | true | yes) _t_verbose=1 ;;
*) _t_verbose='' ;;
esac

E2E_DIR=${CAIRN_E2E_DIR:-$(dirname "$0")}
E2E_DIR=$(cd "$E2E_DIR" && pwd) || _t_bail "cannot find the e2e directory"
CAIRN_TEST_DATA=${CAIRN_TEST_DATA:-$E2E_DIR/../data}
export CAIRN_TEST_DATA

# The base image cache outlives the test (and is shared by parallel tests): decide where it is
# before HOME is replaced below.
if [ -n "${CAIRN_TEST_CACHE:-}" ]; then
	_t_cache=$CAIRN_TEST_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	_t_cache=$XDG_CACHE_HOME/cairn-tests
elif [ -n "${HOME:-}" ] && [ "$HOME" != / ]; then
	_t_cache=$HOME/.cache/cairn-tests
else
	_t_cache=${TMPDIR:-/tmp}/cairn-tests-$(id -u)
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST_NAME.XXXXXX") || _t_bail "mktemp -d failed (TMPDIR=${TMPDIR:-})"
case $T in
/*) ;;
*) T=$PWD/$T ;;
esac
export T
{ mkdir "$T/.out" "$T/user" && mkdir -m 700 "$T/home"; } || _t_bail "cannot populate $T"

# A hermetic environment: no user docker/containers credentials, no GitLab CI credentials, no
# proxies between us and 127.0.0.1.
HOME=$T/user
CAIRN_HOME=$T/home
REGISTRY_AUTH_FILE=$T/user/.config/containers/auth.json
NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
LC_ALL=C
export HOME CAIRN_HOME REGISTRY_AUTH_FILE NO_PROXY no_proxy LC_ALL
unset DOCKER_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR NO_COLOR CLICOLOR_FORCE \
	CI_REGISTRY CI_JOB_TOKEN CI_REGISTRY_USER CI_REGISTRY_PASSWORD \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
	REG REG_URL REG_PID REG_LOG REG_STORAGE REG_USER REG_PASS REG_CA REG_CERTS_D \
	PROXY PROXY_URL PROXY_PID PROXY_LOG PYTHON HOSTILE HOSTILE_PID HOSTILE_LOG \
	TOKEN_URL TOKEN_SERVICE TOKEN_ISSUER TOKEN_PID TOKEN_LOG TOKEN_ISSUED SSH_AUTH_SOCK

# cairn takes every option --some-name from CAIRN_SOME_NAME, else werf's WERF_SOME_NAME: drop
# any a developer (or a CI job) has set, keeping only the harness's own (CAIRN, CAIRN_HOME,
# CAIRN_TEST_*, CAIRN_E2E_DIR, CAIRN_STORE_TOOL).
for _t_v in $(env | sed -n 's/^\(\(CAIRN\|WERF\)_[A-Za-z0-9_]*\)=.*/\1/p'); do
	case $_t_v in
	CAIRN_HOME | CAIRN_TEST_* | CAIRN_E2E_DIR | CAIRN_STORE_TOOL) ;;
	*) unset "$_t_v" ;;
	esac
done

if [ -n "${CAIRN:-}" ]; then
	case $CAIRN in
	/*) ;;
	*/*) CAIRN=$PWD/$CAIRN ;;
	esac
	case $CAIRN in
	*/*) [ -x "$CAIRN" ] || _t_bail "CAIRN=$CAIRN is not an executable file" ;;
	esac
	export CAIRN
fi

# cairn_run ARGS...: run "$CAIRN" ARGS (CAIRN_HOME is $T/home unless the test changes it).
cairn_run () {
	if [ -z "${CAIRN:-}" ]; then
		printf 'cairn_run: CAIRN is not set (CAIRN=build/dev/cairn sh %s)\n' "$0" >&2
		return 127
	fi
	"$CAIRN" "$@"
}
