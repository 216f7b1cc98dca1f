#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Several hosts (homes) run build-and-publish of one project at once against one registry used
# as stages storage and images repository. Every host succeeds; every stage tag in the registry
# is a whole image; every host reports the same signature -> digest for every stage (shell
# stages built on two hosts differ in their timestamps: all but one host adopt the stored
# stage), and the published tag holds the layers of the last of those stages.
#
# T042_ROUNDS (default "3 3 5 5"): the number of hosts of each round, e.g. "5 5 5 5 5".
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project" S="$REG/stages"

mkdir -p "$P/src"
git init -q "$P"
echo 'print("hello")' >"$P/src/main.py"
cat >"$T/werf.yaml.in" <<YAML
project: race
configVersion: 1
---
artifact: assets
from: $REG/base/busybox:1
shell:
  install: [mkdir -p /out, echo asset-@ROUND@ > /out/a.txt, head -c 64 /dev/urandom >> /out/a.txt]
---
image: app
from: $REG/base/busybox:1
git:
- add: /src
  to: /srv/src
shell:
  beforeInstall: [echo before-@ROUND@ > /before.txt, head -c 64 /dev/urandom >> /before.txt]
  setup: [cat /srv/static/a.txt /before.txt > /setup.txt, head -c 64 /dev/urandom >> /setup.txt]
import:
- artifact: assets
  add: /out
  to: /srv/static
  after: install
docker:
  ENV: {ROUND: "@ROUND@"}
YAML

# race ROUND N: N hosts (fresh homes) run build-and-publish of round ROUND's project at once;
# fails unless every host exits 0
race() {
	sed "s/@ROUND@/$1/" "$T/werf.yaml.in" >"$P/werf.yaml" &&
	git -C "$P" add -A &&
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m "round $1" &&
	mkdir -p "$T/r$1" && _pids="" && _i=0 &&
	while [ "$_i" -lt "$2" ]; do
		CAIRN_HOME="$T/r$1/h$_i" "$CAIRN" build-and-publish --dir "$P" \
			--stages-storage "$S" --images-repo "$REG/prod" --tag-plain "r$1" \
			--report "$T/r$1/h$_i.json" >"$T/r$1.h$_i.out" 2>&1 &
		_pids="$_pids $!" && _i=$((_i + 1))
	done &&
	_rc=0 && _i=0 &&
	for _p in $_pids; do
		wait "$_p" || { echo "host $_i failed:" && cat "$T/r$1.h$_i.out" && _rc=1; }
		_i=$((_i + 1))
	done &&
	return "$_rc"
}

# check ROUND N: all N hosts' reports agree, every host's report agrees, every stage tag of the stages storage is a whole
# image, the reports' stages are the stored ones, and each host made the published image
check() {
	python3 - "$REG" "$T/r$1" "r$1" "$2" <<'PY'
import glob, hashlib, json, sys, urllib.request

reg, rdir, tag, hosts = sys.argv[1:]
ACCEPT = ("application/vnd.oci.image.manifest.v1+json,"
          "application/vnd.docker.distribution.manifest.v2+json")

def req(method, path):
    r = urllib.request.Request("http://%s/v2/%s" % (reg, path), method=method,
                               headers={"Accept": ACCEPT})
    with urllib.request.urlopen(r) as f:
        return f.status, f.read()

def manifest(repo, ref):
    body = req("GET", "%s/manifests/%s" % (repo, ref))[1]
    return "sha256:" + hashlib.sha256(body).hexdigest(), json.loads(body)

def whole(repo, ref):
    dg, m = manifest(repo, ref)
    for b in [m["config"]] + m["layers"]:
        st = req("HEAD", "%s/blobs/%s" % (repo, b["digest"]))[0]
        assert st == 200, (repo, ref, b["digest"], st)
    return dg, m

reports = sorted(glob.glob(rdir + "/h*.json"))
assert len(reports) == int(hosts), "%d reports of %s hosts" % (len(reports), hosts)
stages = []
for f in reports:
    r = json.load(open(f))
    stages.append([(i["name"], s["name"], s["signature"], s["digest"])
                   for i in r["images"] for s in i["stages"]])
for f, s in zip(reports, stages):
    assert s == stages[0], "%s disagrees with %s:\n%s\n%s" % (f, reports[0], s, stages[0])
tags = json.loads(req("GET", "stages/tags/list")[1])["tags"]
# (stage tags only: once in a few runs, a lock tag deleted while other hosts wrote tags stayed
# listed by distribution without its manifest)
for t in tags:
    if t.startswith("image-stage-"):
        whole("stages", t)
for image, name, sig, dg in stages[0]:
    stored = whole("stages", "image-stage-" + sig)[0]
    assert stored == dg, (image, name, sig, "stored", stored, "reported", dg)
# the published tag: the image of the last stage (its own manifest: a config with the tag's
# label and publish time, which differ from host to host when they publish in different
# seconds, last writer winning)
final = whole("prod/app", tag)[1]
last = whole("stages", "image-stage-" + stages[0][-1][2])[1]
assert [l["digest"] for l in final["layers"]] == [l["digest"] for l in last["layers"]], \
    ("published layers", final["layers"], "last stage", last["layers"])
for f in reports:
    home = f[:-len(".json")]
    blob = "%s/store/blobs/sha256/%s" % (home, stages[0][-1][3][len("sha256:"):])
    assert open(blob, "rb").read(), "%s did not make the last stage %s" % (home, blob)
print("%d hosts agree on %d stages; %d stage tags whole" % (len(reports), len(stages[0]), len(tags)))
PY
}

_round=0
for _n in ${T042_ROUNDS:-3 3 5 5}; do
	_round=$((_round + 1))
	export ROUND="$_round" HOSTS="$_n"
	test_expect_success "round $ROUND: $HOSTS hosts build and publish at once, all succeed" '
		race "$ROUND" "$HOSTS"
	'
	test_expect_success "round $ROUND: the hosts agree on every stage and the published image" '
		check "$ROUND" "$HOSTS"
	'
done

test_done
