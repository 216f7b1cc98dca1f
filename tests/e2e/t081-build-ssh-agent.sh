#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The ssh agent in shell stages, as werf mounts it: the agent of $SSH_AUTH_SOCK is bind-mounted
# at /.cairn/ssh-auth-sock with SSH_AUTH_SOCK set there, and neither the socket nor its mount
# point (nor the directory above it) enters a layer; it is in no signature. The stages run the
# host's ssh-add (with its libraries) from a mount, since the busybox base image has none.
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

test_done
