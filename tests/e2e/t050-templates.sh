#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# werf.yaml as a Go template: a project with a .werf/ snippet, .Files.Get and an env-driven
# image list builds the same stages (same signatures) as its hand-expanded twin; cairn render
# prints the expansion; template errors name file, line and column.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export A="$T/templated" B="$T/expanded"

mkdir -p "$A/.werf" "$B"
git init -q "$A" && git init -q "$B"
echo "1.2.3" >"$A/VERSION"
cat >"$A/.werf/shell.tmpl" <<'TPL'
{{- define "shell" }}
shell:
  install: [echo {{ .name }} > /name, echo {{ .version }} > /version]
{{- end }}
TPL
cat >"$A/werf.yaml" <<'TPL'
project: tpl
configVersion: 1
{{- $version := .Files.Get "VERSION" | trim }}
{{- range $name := splitList "," (env "IMAGES") }}
---
image: {{ $name }}
from: {{ env "BASE" }}
{{- include "shell" (dict "name" $name "version" $version) }}
docker:
  ENV: {VERSION: {{ $version | quote }}}
{{- end }}
TPL
cat >"$B/werf.yaml" <<YAML
project: tpl
configVersion: 1
---
image: api
from: $REG/base/busybox:1
shell:
  install: [echo api > /name, echo 1.2.3 > /version]
docker:
  ENV: {VERSION: "1.2.3"}
---
image: worker
from: $REG/base/busybox:1
shell:
  install: [echo worker > /name, echo 1.2.3 > /version]
docker:
  ENV: {VERSION: "1.2.3"}
YAML
for d in "$A" "$B"; do
	git -C "$d" add -A && git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m one
done

sigs() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(i["name"]+"="+i["signature"] for i in r["images"]))' "$1"
}

test_expect_success 'cairn render expands the templates' '
	IMAGES=api,worker BASE="$REG/base/busybox:1" "$CAIRN" render --dir "$A" >"$T/rendered" &&
	grep -q "^image: worker$" "$T/rendered" &&
	grep -q "install: \[echo api > /name, echo 1.2.3 > /version\]" "$T/rendered" &&
	grep -q "VERSION: \"1.2.3\"" "$T/rendered"
'

test_expect_success 'the templated project builds the same stages as its expanded twin' '
	IMAGES=api,worker BASE="$REG/base/busybox:1" CAIRN_HOME="$T/h1" "$CAIRN" build -q \
		--dir "$A" --report "$T/a.json" &&
	CAIRN_HOME="$T/h2" "$CAIRN" build -q --dir "$B" --report "$T/b.json" &&
	test "$(sigs "$T/a.json")" = "$(sigs "$T/b.json")" &&
	test -n "$(sigs "$T/a.json")"
'

test_expect_success 'template errors name the file, line and column' '
	printf "project: x\nconfigVersion: 1\n{{ nosuch 1 }}\n" >"$T/bad.yaml" &&
	test_must_fail "$CAIRN" render --dir "$A" --config "$T/bad.yaml" 2>"$T/e1" &&
	grep -q "bad.yaml:3:4: function .nosuch. is not supported" "$T/e1" &&
	printf "project: x\nconfigVersion: 1\n{{ required \"set BASE\" (env \"NOPE\") }}\n" \
		>"$T/req.yaml" &&
	test_must_fail "$CAIRN" build --dir "$A" --config "$T/req.yaml" 2>"$T/e2" &&
	grep -q "set BASE" "$T/e2" &&
	printf "project: x\nconfigVersion: 1\n{{ range list 1 2 }}\n---\nimage: a{{ . }}\nfrom: x\nshell: {instal: [a]}\n{{ end }}\n" \
		>"$T/yaml.yaml" &&
	test_must_fail "$CAIRN" build --dir "$A" --config "$T/yaml.yaml" 2>"$T/e3" &&
	grep -q "yaml.yaml:7:9: shell.instal: unknown key" "$T/e3" &&
	grep -q "^>    7 | shell: {instal: \[a\]}" "$T/e3"
'

test_done
