#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The ssh agent in shell stages, as werf mounts it: the agent of $SSH_AUTH_SOCK is bind-mounted
# at /.cairn/ssh-auth-sock with SSH_AUTH_SOCK set there, and neither the socket nor its mount
# point (nor the directory above it) enters a layer; it is in no signature. --ssh-key FILE
# (repeatable) starts an ssh-agent of cairn's own holding only those keys, used in place of the
# inherited one, and stopped when cairn ends: after a build, a failure, SIGTERM and SIGINT; after
# a kill -9 it ends by itself within 10 s. A missing key or ssh-agent is an error before any
# stage, naming it. The stages run the host's ssh-add (with its libraries) from a mount, since
# the busybox base image has none.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc python3 ssh-agent ssh-add ssh-keygen ldd tar

unset SSH_AUTH_SOCK SSH_AGENT_PID
registry_start
base_image_push "$REG/base/busybox:1"

mkdir -p "$T/sshbin" "$T/tmp"
export FP1='' FP2='' # fingerprints of key1 and key2, as ssh-add -l prints them

test_expect_success 'setup: keys, an agent of the test with key1, ssh-add for the stages' '
	ssh-keygen -q -t ed25519 -N "" -C cairn-e2e-one -f "$T/key1" &&
	ssh-keygen -q -t ed25519 -N "" -C cairn-e2e-two -f "$T/key2" &&
	ssh-keygen -q -t ed25519 -N "a-passphrase" -C cairn-e2e-locked -f "$T/locked" &&
	FP1=$(ssh-keygen -lf "$T/key1.pub") && FP2=$(ssh-keygen -lf "$T/key2.pub") &&
	test_secret "$(sed -n 2p "$T/key1")" "$(sed -n 2p "$T/key2")" &&
	test_spawn "$T/agent.log" ssh-agent -D -a "$T/agent.sock" &&
	_w=0 &&
	until [ -S "$T/agent.sock" ]; do
		_w=$((_w + 1)) && [ "$_w" -lt 100 ] && sleep 0.1 || return 1
	done &&
	SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/key1" </dev/null &&
	# ssh-add and what it links, run by the host loader: the busybox image has none of them
	cp /usr/bin/ssh-add "$T/sshbin/" &&
	for _lib in $(ldd /usr/bin/ssh-add | sed -n "s/.*=> \(\/[^ ]*\) .*/\1/p"); do
		cp -L "$_lib" "$T/sshbin/" || return 1
	done &&
	cp -L "$(ldd /usr/bin/ssh-add | sed -n "s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p")" \
		"$T/sshbin/ld.so"
'

export P="$T/project" Q="$T/slow"
mkdir -p "$P" "$Q"
cat >"$P/werf.yaml" <<YAML
project: ssh
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
mount:
- fromPath: $T/sshbin
  to: /opt/ssh
shell:
  install:
  - test -S "\$SSH_AUTH_SOCK"
  - /opt/ssh/ld.so --library-path /opt/ssh /opt/ssh/ssh-add -l >/ssh-keys
YAML
cat >"$Q/werf.yaml" <<YAML
project: slow
configVersion: 1
---
image: ~
from: $REG/base/busybox:1
shell:
  install: [echo started, sleep 30]
YAML

# field REPORT EXPR: a value of the --report JSON (python expression over `r`)
field() {
	python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print($2)" "$1"
}

# keys_in HOME REPORT: the /ssh-keys file of the image REPORT names, in the store of HOME
keys_in() {
	rm -rf "$T/unpacked" &&
	umoci unpack --image "$1/store:ssh:$(field "$2" 'r["images"][0]["signature"]')" \
		"$T/unpacked" >/dev/null &&
	cat "$T/unpacked/rootfs/ssh-keys"
}

# layers HOME REPORT: list each layer of the image as "tar -tv" does, one file per layer
layers() {
	_dg=$(field "$2" 'r["images"][0]["digest"].split(":")[1]') &&
	python3 -c "import json, sys; [print(l['digest'].split(':')[1]) for l in json.load(open(sys.argv[1]))['layers']]" \
		"$1/store/blobs/sha256/$_dg" >"$T/layer-ids" &&
	_n=0 &&
	while read -r _l; do
		_n=$((_n + 1)) &&
		tar -tvf "$1/store/blobs/sha256/$_l" >"$T/layer.$_n" &&
		tar -tf "$1/store/blobs/sha256/$_l" >"$T/names.$_n" || return 1
	done <"$T/layer-ids" &&
	LAST_LAYER=$T/names.$_n
}

# no_leftovers: no layer holds a socket, /.cairn, or /opt (the mount point of ssh-add)
no_leftovers() {
	if grep "^s" "$T"/layer.*; then return 1; fi &&
	if grep -E "^(\./)?(\.cairn|opt)(/|\$)" "$T"/names.*; then return 1; fi &&
	grep -qx "ssh-keys" "$LAST_LAYER"
}

# agents: the pids of the ssh-agents that cairn started with TMPDIR=$T/tmp ("[s]": not grep)
agents() {
	for _c in /proc/[0-9]*/cmdline; do
		if tr "\0" " " <"$_c" 2>/dev/null | grep -q "[s]sh-agent -a $T/tmp/cairn-ssh-"; then
			_c=${_c#/proc/} && echo "${_c%/cmdline}"
		fi
	done
}

test_expect_success 'a stage reaches the agent of SSH_AUTH_SOCK at /.cairn/ssh-auth-sock' '
	SSH_AUTH_SOCK=$T/agent.sock "$CAIRN" build --dir "$P" --report "$T/r1.json" \
		>"$T/out" 2>&1 &&
	test "$(keys_in "$CAIRN_HOME" "$T/r1.json")" = "$FP1"
'

test_expect_success 'no layer holds the socket, its mount point or the directory above it' '
	layers "$CAIRN_HOME" "$T/r1.json" &&
	cat "$LAST_LAYER" &&
	no_leftovers
'

test_expect_success 'the agent is in no signature: without SSH_AUTH_SOCK every stage is cached' '
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out" 2>&1 &&
	test "$(field "$T/r2.json" "all(s[\"cached\"] for s in r[\"images\"][0][\"stages\"])")" = True &&
	test "$(field "$T/r2.json" "r[\"images\"][0][\"signature\"]")" = \
		"$(field "$T/r1.json" "r[\"images\"][0][\"signature\"]")"
'

test_expect_success '--ssh-key: an agent of its own with only that key, gone after the build' '
	TMPDIR=$T/tmp SSH_AUTH_SOCK=$T/agent.sock "$CAIRN" build --dir "$P" \
		--home-dir "$T/home2" --ssh-key "$T/key2" --report "$T/r3.json" >"$T/out" 2>&1 &&
	cat "$T/out" &&
	test "$(keys_in "$T/home2" "$T/r3.json")" = "$FP2" &&
	test "$(field "$T/r3.json" "r[\"images\"][0][\"signature\"]")" = \
		"$(field "$T/r1.json" "r[\"images\"][0][\"signature\"]")" &&
	test -z "$(agents)" &&
	test -z "$(ls -A "$T/tmp")" &&
	layers "$T/home2" "$T/r3.json" &&
	no_leftovers
'

test_expect_success '--ssh-key twice: both keys, and CAIRN_SSH_KEY gives one too' '
	TMPDIR=$T/tmp "$CAIRN" build --dir "$P" --home-dir "$T/home3" --ssh-key "$T/key1" \
		--ssh-key "$T/key2" --report "$T/r4.json" >"$T/out" 2>&1 &&
	test "$(keys_in "$T/home3" "$T/r4.json")" = "$FP1
$FP2" &&
	TMPDIR=$T/tmp CAIRN_SSH_KEY=$T/key2 "$CAIRN" build --dir "$P" --home-dir "$T/home4" \
		--report "$T/r5.json" >"$T/out" 2>&1 &&
	test "$(keys_in "$T/home4" "$T/r5.json")" = "$FP2" &&
	test -z "$(agents)" && test -z "$(ls -A "$T/tmp")"
'

# fails_early ERROR-PATTERN ARGS...: build fails at once, saying ERROR-PATTERN, no stage run
fails_early() {
	_pat=$1 && shift &&
	rm -rf "$T/home5" &&
	test_must_fail env TMPDIR="$T/tmp" "$@" --dir "$P" --home-dir "$T/home5" \
		>"$T/out" 2>"$T/err" &&
	cat "$T/out" "$T/err" &&
	test "$(wc -l <"$T/err")" -eq 1 &&
	grep -q "^cairn: error: $_pat" "$T/err" &&
	test ! -s "$T/out" &&
	test -z "$(agents)" && test -z "$(ls -A "$T/tmp")"
}

test_expect_success 'a missing or unusable key, or no ssh-agent: an error naming it, before any stage' '
	fails_early "ssh key .$T/nothing.: no such file\$" \
		"$CAIRN" build --ssh-key "$T/key1" --ssh-key "$T/nothing" &&
	fails_early "ssh key .$T/sshbin.: not a regular file\$" "$CAIRN" build --ssh-key "$T/sshbin" &&
	fails_early "add ssh key .$T/locked.: ssh-add exited with status 1" \
		"$CAIRN" build --ssh-key "$T/key1" --ssh-key "$T/locked" &&
	if grep -F "$(sed -n 2p "$T/locked")" "$T/err"; then return 1; fi &&
	mkdir -p "$T/no-ssh" && ln -sf "$(command -v runc)" "$T/no-ssh/runc" &&
	fails_early "'"'"'ssh-agent'"'"' not found in PATH" \
		env PATH="$T/no-ssh" "$CAIRN" build --ssh-key "$T/key1"
'

# wait_for FILE STRING: until FILE holds STRING (up to 60 s)
wait_for() {
	_wf=0
	until grep -qF "$2" "$1" 2>/dev/null; do
		_wf=$((_wf + 1))
		if [ "$_wf" -gt 600 ]; then
			printf 'no "%s" in %s after 60 s\n' "$2" "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_gone PID SECONDS: until PID has exited
wait_gone() {
	_wg=0
	while test_pid_alive "$1"; do
		_wg=$((_wg + 1))
		if [ "$_wg" -gt "$(($2 * 10))" ]; then
			printf 'pid %s still alive after %s s\n' "$1" "$2" >&2
			return 1
		fi
		sleep 0.1
	done
}

# interrupt SIGNAL CODE: build with --ssh-key, send SIGNAL mid stage, expect CODE, no agent left
interrupt() {
	rm -f "$T/out" &&
	{ TMPDIR=$T/tmp env --default-signal=INT,HUP,TERM "$CAIRN" build --dir "$Q" \
		--ssh-key "$T/key1" >"$T/out" 2>&1 & } &&
	_pid=$! &&
	wait_for "$T/out" "| started" &&
	AGENT=$(agents) && test -n "$AGENT" && test_pid_alive "$AGENT" &&
	kill -s "$1" "$_pid"
	wait "$_pid"
	_rc=$?
	printf "exit status %s\n" "$_rc" && cat "$T/out" &&
	test "$_rc" -eq "$2" &&
	if test_pid_alive "$AGENT"; then return 1; fi &&
	test -z "$(agents)" && test -z "$(ls -A "$T/tmp")"
}

test_expect_success 'SIGTERM mid stage: the agent of --ssh-key is stopped too, exit 143' '
	interrupt TERM 143
'

test_expect_success 'SIGINT mid stage: the same, exit 130' '
	interrupt INT 130
'

test_expect_success 'kill -9 of cairn: its agent ends by itself within 10 s' '
	rm -f "$T/out" &&
	{ TMPDIR=$T/tmp "$CAIRN" build --dir "$Q" --ssh-key "$T/key1" >"$T/out" 2>&1 & } &&
	_pid=$! &&
	wait_for "$T/out" "| started" &&
	AGENT=$(agents) && test -n "$AGENT" && test_pid_alive "$AGENT" &&
	kill -9 "$_pid" && { wait "$_pid" || :; } &&
	wait_gone "$AGENT" 15 &&
	test -z "$(agents)" &&
	test -z "$(find "$T/tmp" -type s)" &&
	"$CAIRN" build --dir "$P" >"$T/out" 2>&1 &&
	test -z "$(ls "$CAIRN_HOME/tmp" | grep stage-)"
'

test_done
