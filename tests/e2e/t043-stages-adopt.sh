#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The shared stages storage, one interleaving at a time. A host that finds a stage stored by
# another host while it built the same stage adopts the stored one and goes on from it; so does
# a host whose stage was replaced by another host's racing PUT (the tag keeps the last PUT): the
# stages above it are built again on the adopted one. A manifest PUT that the registry refuses
# for a blob it does not know is retried after the blobs are checked (and uploaded) again; a
# blob that stays missing ends in a clear error after a bounded number of tries.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 curl

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" SYNC="$T/sync" S="$REG/stages"

mkdir -p "$P" "$SYNC"
git init -q "$P"
# The first host to run $WAIT waits there (up to a minute) until the test creates $SYNC/go; any
# other host runs through. CASE makes every stage of each case new.
cat >"$T/werf.yaml.in" <<YAML
project: adopt
configVersion: 1
---
image: app
from: $REG/base/busybox:1
mount:
- to: /sync
  fromPath: $SYNC
shell:
  beforeInstall: [echo @CASE@ > /case, head -c 64 /dev/urandom > /bi]
  install: [@WAIT_INSTALL@ head -c 64 /dev/urandom > /in]
  setup: [@WAIT_SETUP@ head -c 64 /dev/urandom > /se]
docker:
  ENV: {CASE: "@CASE@"}
YAML
WAIT='if mkdir /sync/first 2>/dev/null; then touch /sync/waiting; n=0; while test ! -e /sync/go -a $n -lt 600; do sleep 0.1; n=$((n + 1)); done; fi;'
test_atexit 'touch "$SYNC/go" 2>/dev/null'

# project CASE STAGE: the project of case CASE, whose first host waits in STAGE
project() {
	rm -rf "$SYNC" && mkdir "$SYNC" &&
	_wi='' _ws='' &&
	case $2 in
	install) _wi=$WAIT ;;
	setup) _ws=$WAIT ;;
	esac &&
	sed -e "s/@CASE@/$1/" -e "s|@WAIT_INSTALL@|$_wi|" -e "s|@WAIT_SETUP@|$_ws|" \
		"$T/werf.yaml.in" >"$P/werf.yaml" &&
	git -C "$P" add -A &&
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m "$1"
}

# wait_for FILE: up to 60 s
wait_for() {
	_wf=0
	while [ ! -e "$1" ] && [ "$_wf" -lt 600 ]; do
		sleep 0.1
		_wf=$((_wf + 1))
	done
	test -e "$1"
}

# field REPORT STAGE KEY: KEY ("digest", "signature") of the app's stage STAGE in a --report
field() {
	python3 - "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print([s for s in r["images"][0]["stages"] if s["name"] == sys.argv[2]][0][sys.argv[3]])
PY
}

# stages REPORT: "name signature digest" of every stage in a --report, one a line
stages() {
	python3 - "$1" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["images"][0]["stages"]:
    print(s["name"], s["signature"], s["digest"])
PY
}

test_expect_success 'a stage stored by another host while this one built it is adopted' '
	project one install &&
	{ CAIRN_HOME="$T/a1" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/a1.json" >"$T/a1.out" 2>&1 & pa=$!; } &&
	wait_for "$SYNC/waiting" &&
	CAIRN_HOME="$T/c1" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/c1.json" >"$T/c1.out" 2>&1 &&
	touch "$SYNC/go" && wait "$pa" &&
	grep "install.*another host stored it first" "$T/a1.out" &&
	stages "$T/c1.json" >"$T/c1.stages" && stages "$T/a1.json" >"$T/a1.stages" &&
	test_cmp "$T/c1.stages" "$T/a1.stages" &&
	sig=$(field "$T/a1.json" install signature) &&
	test "$(registry_log_count "\"PUT /v2/stages/manifests/image-stage-$sig ")" = 1 &&
	test "$(manifest_digest "$S:image-stage-$sig")" = "$(field "$T/a1.json" install digest)" &&
	skopeo inspect --raw "oci:$T/a1/store:adopt:$sig" | sha256sum >"$T/local" &&
	test "sha256:$(cut -d" " -f1 "$T/local")" = "$(field "$T/a1.json" install digest)"
'

# replace TAG: what a racing PUT of another host would leave under stages:TAG: the same stage
# with another config (a label "other-host"); prints the new manifest digest
replace() {
	python3 - "$REG" "$1" <<'PY'
import hashlib, json, sys, urllib.request

reg, tag = sys.argv[1:]
base = "http://%s/v2/stages" % reg
OCI = "application/vnd.oci.image.manifest.v1+json"

def call(method, url, body=None, ctype=None, accept=None):
    h = {}
    if ctype:
        h["Content-Type"] = ctype
    if accept:
        h["Accept"] = accept
    r = urllib.request.Request(url, data=body, method=method, headers=h)
    with urllib.request.urlopen(r) as f:
        return f.read(), f.headers

m = json.loads(call("GET", "%s/manifests/%s" % (base, tag), accept=OCI)[0])
cfg = json.loads(call("GET", "%s/blobs/%s" % (base, m["config"]["digest"]))[0])
cfg.setdefault("config", {}).setdefault("Labels", {})["other-host"] = "1"
raw = json.dumps(cfg).encode()
dg = "sha256:" + hashlib.sha256(raw).hexdigest()
loc = call("POST", "%s/blobs/uploads/" % base)[1]["Location"]
call("PUT", "%s%sdigest=%s" % (loc, "&" if "?" in loc else "?", dg), raw,
     "application/octet-stream")
m["config"] = {"mediaType": m["config"]["mediaType"], "digest": dg, "size": len(raw)}
body = json.dumps(m).encode()
call("PUT", "%s/manifests/%s" % (base, tag), body, OCI)
print("sha256:" + hashlib.sha256(body).hexdigest())
PY
}

test_expect_success 'a stage replaced by a racing PUT is adopted, and the next one rebuilt on it' '
	project two setup &&
	{ CAIRN_HOME="$T/a2" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/a2.json" >"$T/a2.out" 2>&1 & pa=$!; } &&
	wait_for "$SYNC/waiting" &&
	tag=$(grep -o "\"PUT /v2/stages/manifests/image-stage-[0-9a-f]*" "$REG_LOG" | tail -1 |
		sed "s|.*/manifests/||") &&
	other=$(replace "$tag") &&
	touch "$SYNC/go" && wait "$pa" &&
	grep "install.*another host stored it last" "$T/a2.out" &&
	test "image-stage-$(field "$T/a2.json" install signature)" = "$tag" &&
	test "$(field "$T/a2.json" install digest)" = "$other" &&
	test "$(manifest_digest "$S:$tag")" = "$other" &&
	setup=image-stage-$(field "$T/a2.json" setup signature) &&
	test "$(manifest_digest "$S:$setup")" = "$(field "$T/a2.json" setup digest)" &&
	skopeo inspect --config "docker://$S:$setup" --tls-verify=false >"$T/setup-config" &&
	grep -q "\"other-host\": \"1\"" "$T/setup-config"
'

test_expect_success 'a host that only reads stages adopts a racing PUT landing after its read' '
	project three none &&
	CAIRN_HOME="$T/a3" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/a3.json" >"$T/a3.out" 2>&1 &&
	tag=image-stage-$(field "$T/a3.json" setup signature) &&
	fault_proxy_start "hold=3000 HEAD /v2/stages/manifests/$tag" &&
	{ CAIRN_HOME="$T/r3" "$CAIRN" build --dir "$P" --stages-storage "$PROXY/stages" \
		--report "$T/r3.json" >"$T/r3.out" 2>&1 & pr=$!; } &&
	n=0 && until proxy_log_count "GET /v2/stages/manifests/$tag" | grep -qv "^0$"; do
		n=$((n + 1)) && [ $n -lt 300 ] && sleep 0.1 || return 1
	done &&
	other=$(replace "$tag") &&
	wait "$pr" &&
	grep "setup.*another host stored it last" "$T/r3.out" &&
	! grep -q "BUILDING" "$T/r3.out" &&
	test "$(field "$T/r3.json" setup digest)" = "$other" &&
	test "$(field "$T/r3.json" dockerInstructions digest)" = \
		"$(field "$T/a3.json" dockerInstructions digest)"
'

test_expect_success 'setup: the base image in the store' '
	cairn_run image pull -q --name base "$REG/base/busybox:1" >/dev/null
'

test_expect_success 'a manifest refused for an unknown blob: blobs checked again, PUT retried' '
	fault_proxy_start "status=200 HEAD /v2/retry/busybox/blobs/sha256: 1" &&
	cairn_run image push base "$PROXY/retry/busybox:1" >"$T/digest" 2>"$T/retry.err" &&
	grep -q MANIFEST_BLOB_UNKNOWN "$T/retry.err" &&
	test "$(proxy_log_count "\"PUT /v2/retry/busybox/manifests/1\" 400")" = 1 &&
	test "$(proxy_log_count "\"PUT /v2/retry/busybox/manifests/1\" 201")" = 1 &&
	test "$(manifest_digest "$REG/retry/busybox:1")" = "$(cat "$T/digest")" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/retry/busybox:1" "oci:$T/retry:x"
'

test_expect_success 'a blob that stays missing: a clear error after a bounded number of tries' '
	CAIRN_HOME="$T/h5" "$CAIRN" image pull -q --name base "$REG/base/busybox:1" >/dev/null &&
	fault_proxy_start "status=200 HEAD /v2/missing/busybox/blobs/sha256: inf" &&
	test_must_fail env CAIRN_HOME="$T/h5" "$CAIRN" image push base \
		"$PROXY/missing/busybox:1" 2>"$T/missing.err" &&
	grep "error: push .*/missing/busybox:1.*HTTP 400.*MANIFEST_BLOB_UNKNOWN: blob unknown to registry .sha256:[0-9a-f]\{64\}." \
		"$T/missing.err" &&
	test "$(proxy_log_count "\"PUT /v2/missing/busybox/manifests/1\" 400")" = 5
'

test_done
