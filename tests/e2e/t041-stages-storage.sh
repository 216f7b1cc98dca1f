#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The registry as distributed stages storage: a fresh host (empty CAIRN_HOME) reuses every stage
# from the registry without downloading a layer, publishes without downloading or uploading one,
# downloads layers only to run commands on them; two hosts building at once both succeed.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" S="$REG/stages"

mkdir -p "$P/app"
git init -q "$P"
head -c 300000 /dev/urandom >"$P/app/data.bin"
cat >"$P/werf.yaml" <<YAML
project: shared
configVersion: 1
---
image: app
from: $REG/base/busybox:1
git:
- add: /app
  to: /app
shell:
  install: [head -c 200000 /dev/urandom > /opt-install.bin]
  setup: [echo setup-1 > /setup.txt]
docker:
  ENV: {MODE: shared}
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m one

# layers_of_storage: the layer digests of every stage tag of $S, into $T/layers
layers_of_storage() {
	skopeo list-tags --tls-verify=false "docker://$S" |
		python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["Tags"]))' |
		while read -r tag; do
			skopeo inspect --raw --tls-verify=false "docker://$S:$tag" |
				python3 -c 'import json,sys; [print(l["digest"]) for l in json.load(sys.stdin)["layers"]]' ||
				return 1
		done | sort -u >"$T/layers"
}
# blob_gets: downloads of a layer of the stages storage (not of a config) in the registry log
blob_gets() {
	grep '"GET /v2/[^ ]*/blobs/sha256:' "$REG_LOG" | sed 's|.*/blobs/\(sha256:[0-9a-f]*\).*|\1|' |
		{ grep -c -F -x -f "$T/layers" || :; }
}

test_expect_success 'host A builds and pushes every stage to the stages storage' '
	CAIRN_HOME="$T/a" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/a.json" >"$T/a.out" &&
	grep -q "\[BUILDING\]" "$T/a.out" &&
	skopeo list-tags --tls-verify=false "docker://$S" >"$T/tags" &&
	test "$(grep -c "image-stage-" "$T/tags")" = \
		"$(python3 -c "import json;print(len(json.load(open(\"$T/a.json\"))[\"images\"][0][\"stages\"]))")"
'

# A stage with a layer of its own is read back once racing PUTs must have landed (another host
# may have stored it differently); one without is what any host makes of the confirmed stage
# below it, byte for byte: nothing to read back, and no wait.
test_expect_success 'host A reads back the tags of stages with a layer, not of those without' '
	python3 - "$T/a.json" "$REG_LOG" <<"PY"
import json, re, sys
stages = json.load(open(sys.argv[1]))["images"][0]["stages"]
log = [l for l in open(sys.argv[2]) if re.match(r"\S+ - - \[", l)]
after = {}
for s in stages:
    tag = "/v2/stages/manifests/image-stage-" + s["signature"] + " "
    reqs = [l.split(chr(34))[1].split()[0] for l in log if tag in l]
    assert "PUT" in reqs, (s["name"], reqs)
    after[s["name"]] = len(reqs) - reqs.index("PUT") - 1
print(after)
for name in ("gitArchive", "install", "setup"):
    assert after[name] >= 1, (name, "not read back", after)
assert after["dockerInstructions"] == 0, ("read back", after)
PY
'

test_expect_success 'a fresh host B reuses every stage without downloading a layer' '
	layers_of_storage && test -s "$T/layers" &&
	before=$(blob_gets) &&
	CAIRN_HOME="$T/b" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/b.json" >"$T/b.out" &&
	! grep -q "\[BUILDING\]" "$T/b.out" &&
	test "$(blob_gets)" = "$before" &&
	test -z "$(ls "$T/b/layers" 2>/dev/null | grep -v "^\.")" &&
	python3 - "$T/a.json" "$T/b.json" <<PY
import json, sys
a, b = (json.load(open(f))["images"][0]["signature"] for f in sys.argv[1:])
assert a == b, (a, b)
PY
'

test_expect_success 'host B publishes to the same registry without moving a layer' '
	before=$(blob_gets) &&
	before_patch=$(registry_log_count "\"PATCH /v2/") &&
	CAIRN_HOME="$T/b" "$CAIRN" publish --dir "$P" --images-repo "$REG/prod" \
		--tag-plain v1 2>"$T/pub.err" &&
	test "$(blob_gets)" = "$before" &&
	test $(($(registry_log_count "\"PATCH /v2/") - before_patch)) -le 1 &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/prod/app:v1" "oci:$T/check:x" &&
	image_check "$REG/prod/app:v1"
'

test_expect_success 'a changed command on host B downloads the layers it runs on' '
	sed "s/setup-1/setup-2/" "$P/werf.yaml" >"$T/w" && cp "$T/w" "$P/werf.yaml" &&
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -am two &&
	before=$(blob_gets) &&
	CAIRN_HOME="$T/b" "$CAIRN" build --dir "$P" --stages-storage "$S" >"$T/b2.out" &&
	grep -q "setup  *\[BUILDING\]" "$T/b2.out" &&
	test "$(blob_gets)" -gt "$before" &&
	CAIRN_HOME="$T/a" "$CAIRN" build --dir "$P" --stages-storage "$S" >"$T/a2.out" &&
	! grep -q "\[BUILDING\]" "$T/a2.out"
'

test_expect_success 'two hosts building the same new stages at once both succeed' '
	sed "s/setup-2/setup-3/" "$P/werf.yaml" >"$T/w" && cp "$T/w" "$P/werf.yaml" &&
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -am three &&
	{ CAIRN_HOME="$T/c" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/c.json" >"$T/c.out" 2>&1 & pc=$!; } &&
	{ CAIRN_HOME="$T/d" "$CAIRN" build --dir "$P" --stages-storage "$S" \
		--report "$T/d.json" >"$T/d.out" 2>&1 & pd=$!; } &&
	wait "$pc" && wait "$pd" &&
	python3 - "$T/c.json" "$T/d.json" <<PY &&
import json, sys
c, d = (json.load(open(f))["images"][0]["signature"] for f in sys.argv[1:])
assert c == d, (c, d)
PY
	sig=$(python3 -c "import json;print(json.load(open(\"$T/c.json\"))[\"images\"][0][\"signature\"])") &&
	skopeo copy -q --src-tls-verify=false "docker://$S:image-stage-$sig" "oci:$T/stage:x"
'

test_expect_success 'dimg bp --with-stages uses REPO as the stages storage' '
	CAIRN_HOME="$T/e" "$CAIRN" dimg bp --dir "$P" "$REG/bp" --with-stages -q &&
	skopeo list-tags --tls-verify=false "docker://$REG/bp" | grep -q dimgstage- &&
	CAIRN_HOME="$T/f" "$CAIRN" dimg bp --dir "$P" "$REG/bp" --with-stages >"$T/f.out" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/f.out"
'

test_expect_success 'dimg stages pull: the newest stage (all with --all) into a fresh store' '
	CAIRN_HOME="$T/g" "$CAIRN" dimg stages pull --dir "$P" "$S" >"$T/g.out" &&
	test "$(wc -l <"$T/g.out")" = 1 && grep -q "^app dockerInstructions " "$T/g.out" &&
	CAIRN_HOME="$T/g" "$CAIRN" build --dir "$P" >"$T/g2.out" &&
	! grep -q "\[BUILDING\]" "$T/g2.out" &&
	CAIRN_HOME="$T/h" "$CAIRN" dimg stages pull --all --dir "$P" "$S" >"$T/h.out" &&
	test "$(wc -l <"$T/h.out")" = "$(grep -c "USING CACHE" "$T/g2.out")" &&
	skopeo inspect "oci:$T/h/store:shared:$(cut -d" " -f3 "$T/g.out")" >/dev/null
'

test_expect_success 'a host that built without the stages storage stores its stages there' '
	P2="$T/project2" && rm -rf "$P2" && cp -r "$P" "$P2" &&
	sed "s/^project: shared/project: seeded/; s|  to: /app|  to: /seeded|" "$P/werf.yaml" \
		>"$P2/werf.yaml" &&
	git -C "$P2" -c user.name=t -c user.email=t@example.com commit -q -am seeded &&
	CAIRN_HOME="$T/i" "$CAIRN" build --dir "$P2" --report "$T/i.json" >"$T/i.out" &&
	grep -q "install  *\[BUILDING\]" "$T/i.out" &&
	CAIRN_HOME="$T/i" "$CAIRN" build --dir "$P2" --stages-storage "$S" >"$T/i2.out" &&
	! grep -q "\[BUILDING\]" "$T/i2.out" &&
	: "every stage of the report is stored under its tag, as this host built it" &&
	python3 - "$T/i.json" "$REG" <<PY &&
import hashlib, json, sys, urllib.request
stages = json.load(open(sys.argv[1]))["images"][0]["stages"]
for s in stages:
    r = urllib.request.Request("http://%s/v2/stages/manifests/image-stage-%s" % (sys.argv[2], s["signature"]),
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    raw = urllib.request.urlopen(r).read()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == s["digest"], s["name"]
print(len(stages), "stages stored")
PY
	: "seen there now: a build again asks the storage nothing of them" &&
	n=$(wc -l <"$REG_LOG") &&
	CAIRN_HOME="$T/i" "$CAIRN" build --dir "$P2" --stages-storage "$S" >"$T/i3.out" &&
	test "$(tail -n "+$((n + 1))" "$REG_LOG" | grep -c "image-stage-")" = 0 &&
	: "and a fresh host builds nothing" &&
	CAIRN_HOME="$T/j" "$CAIRN" build --dir "$P2" --stages-storage "$S" >"$T/j.out" &&
	! grep -q "\[BUILDING\]" "$T/j.out"
'

test_done
