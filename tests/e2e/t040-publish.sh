#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# The seeds' publish examples against a real registry: dimg push of named images with
# --tag-plain, dimg bp --with-stages, pushing some dimgs, spush, publish/build-and-publish with
# --images-repo; the final image's labels and Docker schema 2 manifest; errors; a re-publish
# sends no blob.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

# project DIR NAME IMAGE...: a git project whose images each run one shell command
project() {
	d=$1 && p=$2 && shift 2 && mkdir -p "$d" && git init -q "$d" &&
		printf 'project: %s\nconfigVersion: 1\n' "$p" >"$d/werf.yaml" &&
		for i in "$@"; do
			printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\ndocker:\n  LABEL: {image: %s}\n' \
				"$i" "$REG" "$i" "$i" "$i" >>"$d/werf.yaml"
		done &&
		git -C "$d" add -A &&
		git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m init
}

tags_of() {
	skopeo list-tags --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))'
}

test_expect_success 'dimg push of three named dimgs with --tag-plain' '
	project "$T/taxi" taxi core queue api &&
	"$CAIRN" build --dir "$T/taxi" -q &&
	"$CAIRN" dimg push --dir "$T/taxi" "$REG/taxi/backend" --tag-plain v1.1.14 2>"$T/err1" &&
	test "$(tags_of "$REG/taxi/backend/core")" = v1.1.14 &&
	test "$(tags_of "$REG/taxi/backend/queue")" = v1.1.14 &&
	test "$(tags_of "$REG/taxi/backend/api")" = v1.1.14 &&
	grep -q "\[OK\] $REG/taxi/backend/api:v1.1.14" "$T/err1"
'

test_expect_success 'the published image: Docker schema 2 with the meta labels' '
	skopeo inspect --raw --tls-verify=false "docker://$REG/taxi/backend/core:v1.1.14" \
		>"$T/m.json" &&
	grep -q "application/vnd.docker.distribution.manifest.v2+json" "$T/m.json" &&
	grep -q "application/vnd.docker.image.rootfs.diff.tar.gzip" "$T/m.json" &&
	skopeo inspect --tls-verify=false "docker://$REG/taxi/backend/core:v1.1.14" >"$T/i.json" &&
	python3 - "$T/i.json" <<PY &&
import json, sys
l = json.load(open(sys.argv[1]))["Labels"]
assert l["cairn-image"] == "true" and l["cairn-project"] == "taxi", l
assert l["cairn-tag-scheme"] == "custom" and len(l["cairn-stage-signature"]) == 64, l
assert l["image"] == "core", l
PY
	image_check "$REG/taxi/backend/core:v1.1.14"
'

test_expect_success 'a re-publish sends no blob: one HEAD per tag' '
	before=$(registry_log_count "HTTP/1.1\"") &&
	"$CAIRN" dimg push --dir "$T/taxi" "$REG/taxi/backend" --tag-plain v1.1.14 2>"$T/err2" &&
	test $(($(registry_log_count "HTTP/1.1\"") - before)) = 3 &&
	test "$(grep -c "\[EXIST\]" "$T/err2")" = 3
'

# since LINE ERE: registry requests after log line LINE matching ERE
since() {
	tail -n "+$(($1 + 1))" "$REG_LOG" | grep -cE "$2" || :
}

test_expect_success 'a re-publish by a host without records reads each tag and sends nothing' '
	: "another host (no publish records) finds the same images under the tags: for each tag" &&
	: "the manifest and the config it names (labels, publish time), no HEAD, no PUT" &&
	test -d "$CAIRN_HOME/published" && rm -rf "$CAIRN_HOME/published" &&
	n=$(wc -l <"$REG_LOG") &&
	"$CAIRN" dimg push --dir "$T/taxi" "$REG/taxi/backend" --tag-plain v1.1.14 2>"$T/err3" &&
	test "$(since "$n" "\"[A-Z]+ /v2/")" = 6 &&
	test "$(since "$n" "\"GET /v2/taxi/backend/[a-z]+/manifests/v1.1.14 ")" = 3 &&
	test "$(since "$n" "\"GET /v2/taxi/backend/[a-z]+/blobs/sha256:")" = 3 &&
	test "$(grep -c "\[EXIST\]" "$T/err3")" = 3 &&
	: "and it keeps records: the next re-publish is one HEAD per tag again" &&
	n=$(wc -l <"$REG_LOG") &&
	"$CAIRN" dimg push --dir "$T/taxi" "$REG/taxi/backend" --tag-plain v1.1.14 2>"$T/err4" &&
	test "$(since "$n" "\"HEAD /v2/taxi/backend/[a-z]+/manifests/v1.1.14 ")" = 3 &&
	test "$(since "$n" "\"[A-Z]+ /v2/")" = 3 &&
	test "$(grep -c "\[EXIST\]" "$T/err4")" = 3
'

test_expect_success 'dimg bp --tag stable --with-stages: the images and one dimgstage tag per stage' '
	project "$T/geo" geo server geodata &&
	"$CAIRN" dimg bp --dir "$T/geo" --report "$T/geo.json" "$REG/api/geo" --tag stable \
		--with-stages >"$T/bp.out" 2>&1 &&
	test "$(tags_of "$REG/api/geo/server")" = stable &&
	test "$(tags_of "$REG/api/geo/geodata")" = stable &&
	python3 - "$T/geo.json" >"$T/want" <<PY &&
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(sorted({"dimgstage-" + s["signature"] for i in r["images"] for s in i["stages"]})))
PY
	test "$(tags_of "$REG/api/geo")" = "$(cat "$T/want")" &&
	image_check "$REG/api/geo:$(cut -d" " -f1 "$T/want")"
'

test_expect_success 'a publish into new repositories lists each once, asks for no tag or blob of them' '
	n=$(wc -l <"$REG_LOG") &&
	"$CAIRN" publish --dir "$T/geo" --images-repo "$REG/fresh" --tag-plain a --tag-plain b \
		--tag-plain c --with-stages -j 1 >"$T/fresh.out" 2>&1 &&
	test "$(tags_of "$REG/fresh/server")" = "a b c" &&
	test "$(tags_of "$REG/fresh/geodata")" = "a b c" &&
	sed "s/dimgstage-/image-stage-/g" "$T/want" >"$T/want-fresh" &&
	test "$(tags_of "$REG/fresh")" = "$(cat "$T/want-fresh")" &&
	: "each repository listed once (skopeo lists without n=); an image repository after one" &&
	: "look at its first tag, the stages repository before its first stage; the from stage" &&
	: "the second image shares is not looked at (this publish pushed it). The registry had" &&
	: "none of the repositories: no blob is asked for" &&
	for r in fresh fresh/server fresh/geodata; do
		test "$(since "$n" "\"GET /v2/$r/tags/list\\?n=")" = 1 || return 1
	done &&
	test "$(since "$n" "\"(GET|HEAD) /v2/fresh/server/manifests/")" = 1 &&
	test "$(since "$n" "\"(GET|HEAD) /v2/fresh/geodata/manifests/")" = 1 &&
	test "$(since "$n" "\"(GET|HEAD) /v2/fresh/manifests/")" = 0 &&
	test "$(since "$n" "\"PUT /v2/fresh/manifests/")" = "$(wc -w <"$T/want-fresh")" &&
	test "$(since "$n" "\"HEAD /v2/fresh(/server|/geodata)?/blobs/")" = 0 &&
	test "$(grep -c "\[EXIST\] $REG/fresh:image-stage-" "$T/fresh.out")" = 1 &&
	image_check "$REG/fresh/server:b"
'

test_expect_success 'dimg push of some dimgs only' '
	project "$T/tools" tools kubetools backuptools copytools &&
	"$CAIRN" build --dir "$T/tools" -q &&
	"$CAIRN" dimg push --dir "$T/tools" kubetools backuptools "$REG/tools/common" &&
	test "$(tags_of "$REG/tools/common/kubetools")" = latest &&
	test "$(tags_of "$REG/tools/common/backuptools")" = latest &&
	test_must_fail skopeo inspect --tls-verify=false \
		"docker://$REG/tools/common/copytools:latest" 2>/dev/null
'

test_expect_success 'dimg spush of one dimg with two tags, REPO used as is' '
	project "$T/lingvo" lingvo plain-c rust &&
	"$CAIRN" build --dir "$T/lingvo" -q &&
	"$CAIRN" dimg spush --dir "$T/lingvo" plain-c "$REG/lingvo/parser" --tag stable \
		--tag-plain v1.4.11 &&
	test "$(tags_of "$REG/lingvo/parser")" = "stable v1.4.11"
'

test_expect_success 'publish and build-and-publish with --images-repo (and from the environment)' '
	CAIRN_IMAGES_REPO="$REG/pub" "$CAIRN" publish --dir "$T/taxi" core --tag-git-branch \
		feature/x &&
	tags_of "$REG/pub/core" | grep -q "^feature-x-[0-9a-f]*$" &&
	"$CAIRN" build-and-publish --dir "$T/geo" --images-repo "$REG/bap" --with-stages -q &&
	tags_of "$REG/bap" | grep -q "image-stage-" &&
	test "$(tags_of "$REG/bap/server")" = latest
'

test_expect_success 'errors: unknown names, spush without DIMG, not built, bad REPO and tags' '
	test_must_fail "$CAIRN" dimg push --dir "$T/taxi" nosuch "$REG/x" 2>"$T/e1" &&
	grep -q "nosuch" "$T/e1" && grep -q "images: core, queue, api\|images: api" "$T/e1" &&
	{ "$CAIRN" dimg spush --dir "$T/taxi" "$REG/x" 2>"$T/e2"; test $? = 2; } &&
	grep -q "spush needs exactly one DIMG" "$T/e2" &&
	project "$T/fresh" fresh one &&
	test_must_fail "$CAIRN" dimg push --dir "$T/fresh" "$REG/fresh" 2>"$T/e3" &&
	grep -q "image .one. is not built: stage .from. missing; run build or build-and-publish" \
		"$T/e3" &&
	test_must_fail skopeo list-tags --tls-verify=false "docker://$REG/fresh/one" 2>/dev/null &&
	{ "$CAIRN" dimg push --dir "$T/taxi" "Bad/Repo" 2>"$T/e4"; test $? = 2; } &&
	grep -q "invalid repository" "$T/e4" &&
	{ "$CAIRN" dimg push --dir "$T/taxi" "$REG/x" --tag-plain "-bad" 2>"$T/e5"; test $? = 2; } &&
	grep -q "invalid --tag-plain" "$T/e5" &&
	{ "$CAIRN" dimg push --dir "$T/taxi" "$REG/x" --tag-build-id 2>"$T/e6"; test $? = 2; } &&
	grep -q "CI environment required" "$T/e6"
'

test_expect_success 'images side by side (-j 4): told in order, a shared layer sent once' '
	d=$T/shared && mkdir -p "$d" && git init -q "$d" &&
	{
		printf "project: shared\nconfigVersion: 1\n---\nimage: common\nfrom: %s/base/busybox:1\n" "$REG" &&
		printf "shell:\n  install: [head -c 300000 /dev/urandom > /common]\n" &&
		for i in a b c d e f; do
			printf -- "---\nimage: %s\nfromImage: common\nshell:\n  install: [echo %s > /%s]\n" \
				"$i" "$i" "$i"
		done
	} >"$d/werf.yaml" &&
	git -C "$d" add -A && git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m i &&
	"$CAIRN" build --dir "$d" -q &&
	"$CAIRN" publish --dir "$d" -j 4 --images-repo "$REG/sh" --tag-plain v1 --tag-plain v2 \
		2>"$T/sh.err" &&
	sed -n "s|^\[OK\] $REG/sh/\([a-z]*\):\(v[12]\) .*|\1:\2|p" "$T/sh.err" | tr "\n" " " >"$T/sh.order" &&
	! grep -v "^  sha256:[0-9a-f]\{12\}  [0-9.]* [KMG]*i*B  [a-z]*\( in [0-9.]* s ([0-9.]* [KMG]*i*B/s)\)*$\|^\[OK\] \|^Running time" "$T/sh.err" &&
	test "$(cat "$T/sh.order")" = "common:v1 common:v2 a:v1 a:v2 b:v1 b:v2 c:v1 c:v2 d:v1 d:v2 e:v1 e:v2 f:v1 f:v2 " &&
	skopeo inspect --tls-verify=false "docker://$REG/sh/f:v1" >"$T/f.json" &&
	layer=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"Layers\"][1])" "$T/f.json") &&
	hex=${layer#sha256:} &&
	test "$(grep -c "\"PUT /v2/sh/[a-z]*/blobs/uploads/.*$hex" "$REG_LOG")" -eq 1 &&
	test "$(grep -c "\"POST /v2/sh/[a-z]*/blobs/uploads/?mount=sha256.3*A*$hex" "$REG_LOG")" -eq 6 &&
	for i in common a b c d e f; do
		skopeo inspect --tls-verify=false "docker://$REG/sh/$i:v2" >"$T/i.json" &&
		grep -q "$layer" "$T/i.json" || return 1
	done
'

test_done
