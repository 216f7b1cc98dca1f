#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# --report FILE --report-format json|envfile: what a run built and published, for the next CI
# step. Every published reference and digest is checked with skopeo; the envfile is sourced by
# sh; a failing build still writes its report, with the error and what was done before it.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

P=$T/project
mkdir -p "$P" && git init -q "$P" || exit 1
cat >"$P/werf.yaml" <<EOF || exit 1
project: rep
configVersion: 1
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo app > /app]
---
image: web-front
from: $REG/base/busybox:1
shell:
  install: [echo web > /web]
EOF
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m i ||
	exit 1

# check_json REPORT: every published and pushed reference holds the reported digest (skopeo)
check_json () {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for i in r["images"]:
    for p in i["published"] + i["stages_pushed"]:
        print(p["reference"], p["digest"])
' "$1" >"$T/refs" || return 1
	test -s "$T/refs" || return 1
	while read -r ref dg; do
		got=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$ref") ||
			return 1
		if [ "$got" != "$dg" ]; then
			echo "$ref: skopeo says $got, the report $dg"
			return 1
		fi
	done <"$T/refs"
}

test_expect_success 'build-and-publish --report: each tag and stage with its digest' '
	cairn_run build-and-publish --dir "$P" -q -i "$REG/rep" --with-stages \
		--tag-custom v1 --tag-custom v2 --report "$T/r.json" &&
	check_json "$T/r.json" &&
	python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r[\"ok\"] is True and r[\"error\"] is None and r[\"project\"] == \"rep\", r
names = [i[\"name\"] for i in r[\"images\"]]
assert names == [\"app\", \"web-front\"], names
for i in r[\"images\"]:
    assert [p[\"tag\"] for p in i[\"published\"]] == [\"v1\", \"v2\"], i[\"published\"]
    assert all(p[\"scheme\"] == \"custom\" for p in i[\"published\"])
    assert len(i[\"stages_pushed\"]) == len(i[\"stages\"]), i
    w = r[\"Images\"][i[\"name\"]]
    assert w[\"DockerImageName\"] == i[\"published\"][0][\"reference\"], w
    assert w[\"DockerRepo\"] + \":\" + w[\"DockerTag\"] == w[\"DockerImageName\"], w
    assert w[\"DockerImageDigest\"] == i[\"published\"][0][\"digest\"], w
" "$T/r.json"
'

test_expect_success 'an unchanged re-publish reports the same digests, as already there' '
	cairn_run publish --dir "$P" -q -i "$REG/rep" --tag-custom v1 --report "$T/r2.json" &&
	check_json "$T/r2.json" &&
	python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for x, y in zip(a[\"images\"], b[\"images\"]):
    assert y[\"published\"][0][\"digest\"] == x[\"published\"][0][\"digest\"]
    assert y[\"published\"][0][\"existed\"] is True, y
" "$T/r.json" "$T/r2.json"
'

test_expect_success '--report-format envfile: variables a shell reads, werf names too' '
	cairn_run publish --dir "$P" -q -i "$REG/rep" --tag-custom v1 \
		--report "$T/r.env" --report-format envfile &&
	(
		. "$T/r.env" &&
			test "$CAIRN_APP_DOCKER_IMAGE_NAME" = "$REG/rep/app:v1" &&
			test "$WERF_WEB_FRONT_DOCKER_IMAGE_NAME" = "$REG/rep/web-front:v1" &&
			skopeo inspect --tls-verify=false "docker://$CAIRN_WEB_FRONT_DOCKER_IMAGE_NAME" \
				>/dev/null
	) &&
	test "$(wc -l <"$T/r.env")" -eq 4
'

test_expect_success 'build --report: the stages in the local store' '
	cairn_run build --dir "$P" -q --report "$T/b.env" --report-format envfile &&
	grep -q "^CAIRN_APP_DOCKER_IMAGE_NAME=rep:[0-9a-f]\{64\}$" "$T/b.env"
'

test_expect_success 'a failing build writes its report: the error and what was done' '
	cat >>"$P/werf.yaml" <<-EOF &&
	---
	image: zbroken
	from: $REG/base/busybox:1
	shell:
	  install: [echo ok > /ok]
	  setup: [exit 3]
	EOF
	test_must_fail cairn_run build-and-publish --dir "$P" -q -i "$REG/rep" --tag-custom v3 \
		--report "$T/f.json" 2>"$T/f.err" &&
	python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r[\"ok\"] is False and \"zbroken\" in r[\"error\"], r[\"error\"]
i = {x[\"name\"]: x for x in r[\"images\"]}
assert i[\"app\"][\"signature\"] and i[\"web-front\"][\"signature\"], i
assert i[\"zbroken\"][\"signature\"] is None, i[\"zbroken\"]
assert [s[\"name\"] for s in i[\"zbroken\"][\"stages\"]] == [\"from\", \"install\"], i[\"zbroken\"]
assert all(x[\"published\"] == [] for x in r[\"images\"]), r
" "$T/f.json" &&
	test_must_fail cairn_run build --dir "$P" -q --report "$T/f.env" --report-format envfile \
		2>/dev/null &&
	grep -q "^CAIRN_REPORT_ERROR=.*zbroken" "$T/f.env" &&
	grep -q "^CAIRN_APP_DOCKER_IMAGE_NAME=" "$T/f.env" &&
	git -C "$P" checkout -q -- werf.yaml
'

test_expect_success 'an unknown --report-format is a usage error' '
	{
		cairn_run publish --dir "$P" -i "$REG/rep" --tag-custom v1 --report "$T/x" \
			--report-format yaml 2>"$T/u.err"
		test $? -eq 2
	} &&
	grep -q "invalid --report-format .yaml.: want json or envfile" "$T/u.err" &&
	test ! -e "$T/x"
'

test_expect_success 'publish --dry-run: the references it would write, nothing sent' '
	cairn_run publish --dir "$P" -i "$REG/dry" --tag-custom x --with-stages --dry-run \
		>"$T/d.out" 2>"$T/d.err" &&
	grep -qx "\[WOULD PUSH\] $REG/dry/app:x" "$T/d.out" &&
	grep -qx "\[WOULD PUSH\] $REG/dry/web-front:x" "$T/d.out" &&
	test "$(grep -c "^\[WOULD PUSH\] $REG/dry:image-stage-[0-9a-f]\{64\}$" "$T/d.out")" -ge 4 &&
	test_must_fail skopeo list-tags --tls-verify=false "docker://$REG/dry/app" 2>/dev/null &&
	test_must_fail skopeo list-tags --tls-verify=false "docker://$REG/dry" 2>/dev/null
'

test_expect_success 'build-and-publish --dry-run: an image to build is shown, not listed' '
	cp "$P/werf.yaml" "$T/w.saved" &&
	printf -- "---\nimage: later\nfrom: %s/base/busybox:1\nshell:\n  install: [echo l]\n" \
		"$REG" >>"$P/werf.yaml" &&
	cairn_run build-and-publish --dir "$P" -i "$REG/dry" --tag-custom y --dry-run \
		>"$T/d2.out" 2>"$T/d2.err" &&
	grep -q "^  install  *\[TO BUILD\] and every stage after it$" "$T/d2.out" &&
	grep -qx "\[WOULD PUSH\] $REG/dry/app:y" "$T/d2.out" &&
	! grep -q "dry/later" "$T/d2.out" &&
	! grep -q "\[BUILDING\]" "$T/d2.out" &&
	cp "$T/w.saved" "$P/werf.yaml"
'

test_expect_success '--log-format json: every stdout line a JSON event' '
	cairn_run build-and-publish --dir "$P" -i "$REG/js" --tag-custom j --log-format json \
		>"$T/j.out" 2>"$T/j.err" &&
	python3 -c "
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = {e[\"event\"] for e in ev}
assert {\"image\", \"stage\", \"manifest\"} <= kinds, kinds
assert all(e[\"state\"] == \"cached\" for e in ev if e[\"event\"] == \"stage\"), ev
pushed = [e[\"ref\"] for e in ev if e[\"event\"] == \"manifest\"]
assert sys.argv[2] + \"/js/app:j\" in pushed, pushed
done = [e for e in ev if e[\"event\"] == \"image\" and e[\"state\"] == \"done\"]
assert len(done) == 2 and all(len(e[\"signature\"]) == 64 for e in done), done
" "$T/j.out" "$REG"
'

test_done
