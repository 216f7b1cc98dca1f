#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# werf.yaml written as werf v1.1 projects write it: .Files.Glob over a directory of per-image
# settings, each rendered with tpl and the root context, read with fromYaml and Sprig's dict,
# list, string and regex functions, partials from --config-templates-dir. cairn render prints
# the expansion; the build makes the same stages as the hand-expanded twin and puts the
# globbed files' content in the image.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export A="$T/templated" B="$T/expanded"

mkdir -p "$A/images" "$A/partials" "$B"
git init -q "$A" && git init -q "$B"
cat >"$A/images/api.yaml" <<'TPL'
name: api
port: {{ add 8000 80 }}
tags: [Web, Public]
TPL
cat >"$A/images/worker.yaml" <<'TPL'
name: worker
port: 9{{ printf "%03d" 1 }}
tags: [Batch]
TPL
echo "not an image" >"$A/images/README.txt"
cat >"$A/partials/install.tmpl" <<'TPL'
{{- define "install" -}}
[{{ range $i, $c := .cmds }}{{ if $i }}, {{ end }}{{ $c }}{{ end }}]
{{- end }}
TPL
cat >"$A/werf.yaml" <<'TPL'
project: {{ "Sprig_Demo" | snakecase | replace "_" "-" }}
configVersion: 1
{{- range $path, $text := .Files.Glob "images/*.yaml" }}
{{- $img := tpl $text $ | fromYaml }}
{{- $cfg := dict "base" (env "BASE" | default "missing") }}
{{- $_ := set $cfg "tags" (without ($img.tags | toStrings) "Public" | join "," | lower) }}
---
image: {{ $img.name }}
from: {{ index $cfg "base" }}
shell:
  install: {{ include "install" (dict "cmds" (list (printf "echo %s:%d > /port" $img.name (int $img.port)) (printf "echo %s > /tags" (get $cfg "tags")) (printf "echo %s > /src" (base $path | trimSuffix ".yaml")))) }}
docker:
  EXPOSE: [{{ $img.port | quote }}]
  LABEL: {sum: {{ sha256sum $text | trunc 12 | quote }}, kind: {{ ternary "web" "batch" (hasKey (dict "api" 1) $img.name) }}, major: {{ regexFind "[0-9]+" "v12.3" | quote }}}
{{- end }}
TPL
api_sum=$(sha256sum <"$A/images/api.yaml" | cut -c1-12)
worker_sum=$(sha256sum <"$A/images/worker.yaml" | cut -c1-12)
cat >"$B/werf.yaml" <<YAML
project: sprig-demo
configVersion: 1
---
image: api
from: $REG/base/busybox:1
shell:
  install: [echo api:8080 > /port, echo web > /tags, echo api > /src]
docker:
  EXPOSE: ["8080"]
  LABEL: {sum: "$api_sum", kind: web, major: "12"}
---
image: worker
from: $REG/base/busybox:1
shell:
  install: [echo worker:9001 > /port, echo batch > /tags, echo worker > /src]
docker:
  EXPOSE: ["9001"]
  LABEL: {sum: "$worker_sum", kind: batch, major: "12"}
YAML
for d in "$A" "$B"; do
	git -C "$d" add -A && git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m one
done

sigs() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(i["name"]+"="+i["signature"] for i in r["images"]))' "$1"
}

test_expect_success 'cairn render expands Glob, tpl and the Sprig functions' '
	BASE="$REG/base/busybox:1" "$CAIRN" render --dir "$A" \
		--config-templates-dir "$A/partials" >"$T/rendered" &&
	grep -q "^project: sprig-demo$" "$T/rendered" &&
	grep -q "^image: worker$" "$T/rendered" &&
	grep -q "install: \[echo api:8080 > /port, echo web > /tags, echo api > /src\]" \
		"$T/rendered" &&
	grep -q "EXPOSE: \[\"9001\"\]" "$T/rendered" &&
	grep -q "LABEL: {sum: \"$api_sum\", kind: web, major: \"12\"}" "$T/rendered" &&
	! grep -q README "$T/rendered"
'

test_expect_success 'the partials come from --config-templates-dir or its variable only' '
	test_must_fail "$CAIRN" render --dir "$A" 2>"$T/e1" &&
	grep -q "no such template .install." "$T/e1" &&
	CAIRN_CONFIG_TEMPLATES_DIR="$A/partials" BASE=x "$CAIRN" render --dir "$A" >"$T/r2" &&
	grep -q "^from: x$" "$T/r2"
'

test_expect_success 'the templated project builds the same stages as its expanded twin' '
	BASE="$REG/base/busybox:1" CAIRN_HOME="$T/h1" "$CAIRN" build -q --dir "$A" \
		--config-templates-dir "$A/partials" --report "$T/a.json" &&
	CAIRN_HOME="$T/h2" "$CAIRN" build -q --dir "$B" --report "$T/b.json" &&
	test "$(sigs "$T/a.json")" = "$(sigs "$T/b.json")" &&
	test -n "$(sigs "$T/a.json")"
'

test_expect_success 'a Glob that leaves the project through a symlink is an error' '
	ln -s /etc "$A/images/etc.yaml" &&
	mkdir "$A/out" && ln -s /etc/hostname "$A/out/h.yaml" &&
	printf "project: x\nconfigVersion: 1\n{{ .Files.Glob \"out/*\" }}\n" >"$T/leak.yaml" &&
	test_must_fail "$CAIRN" render --dir "$A" --config "$T/leak.yaml" 2>"$T/e3" &&
	grep -q "leak.yaml:3:4: .Files.Glob .out/\*.: .out/h.yaml.: path leaves the project" "$T/e3"
'

test_done
