#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn build: a project with a git entry, all four shell stages and docker directives builds
# on the busybox base from a real registry; skopeo and umoci read the result; stages are reused,
# rebuilt exactly as the signatures say, and failures leave the store usable.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"
export STORE="$CAIRN_HOME/store"

commit() {
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$1"
}

# last_sig REPORT: the signature of the (only) image in a --report file
last_sig() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["images"][0]["signature"])' "$1"
}

# stages REPORT STATE: the names of the stages that were cached (STATE true) or built (false)
stages() {
	python3 -c 'import json,sys; print("".join(s["name"] + " " for s in json.load(open(sys.argv[1]))["images"][0]["stages"] if s["cached"] == (sys.argv[2] == "true")), end="")' "$1" "$2"
}

mkdir -p "$P/app"
git init -q "$P"
echo 'print("v1")' >"$P/app/main.py"
echo 'flask' >"$P/app/requirements.txt"
echo 'old' >"$P/app/obsolete.txt"
cat >"$P/werf.yaml" <<YAML
project: demo
configVersion: 1
---
image: backend
from: $REG/base/busybox:1
git:
- add: /app
  to: /srv/app
  owner: app
  stageDependencies:
    install: [requirements.txt]
shell:
  beforeInstall: [echo before-install, mkdir -p /opt]
  install: [cat /srv/app/requirements.txt > /opt/deps]
  beforeSetup: echo before-setup > /opt/before-setup
  setup: [echo setup > /opt/setup, rm -f /bin/true]
docker:
  WORKDIR: /srv/app
  CMD: ["/bin/sh", "-c", "cat main.py"]
  ENV: {MODE: prod, B: "2"}
  LABEL: {team: core}
  EXPOSE: ["8080", "53/udp 9000-9001"]
  HEALTHCHECK: CMD true
YAML
commit init
cp "$P/werf.yaml" "$T/good.yaml"

test_expect_success 'the first build builds every stage' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" &&
	grep -q "\[BUILDING\]" "$T/out1" && grep -q "| before-install" "$T/out1" &&
	test "$(stages "$T/r1.json" false)" = \
		"from beforeInstall gitArchive install beforeSetup setup dockerInstructions " &&
	last_sig "$T/r1.json" >"$T/sig1" && test -s "$T/sig1"
'

test_expect_success 'skopeo sees the docker directives in the image config' '
	skopeo inspect --config "oci:$STORE:demo:$(cat "$T/sig1")" >"$T/oci-config.json" &&
	grep -q "\"WorkingDir\": \"/srv/app\"" "$T/oci-config.json" &&
	skopeo inspect --raw "oci:$STORE:demo:$(cat "$T/sig1")" >"$T/m1.json" &&
	python3 - "$T/m1.json" "$STORE" <<PY
import json, sys
m = json.load(open(sys.argv[1]))
# the whole config, with docker extensions (skopeo --config shows the OCI fields only)
c = json.load(open(sys.argv[2] + "/blobs/sha256/" + m["config"]["digest"][7:]))["config"]
assert c["WorkingDir"] == "/srv/app", c
assert c["Cmd"] == ["/bin/sh", "-c", "cat main.py"], c
assert "MODE=prod" in c["Env"] and "B=2" in c["Env"], c
assert any(e.startswith("PATH=") for e in c["Env"]), c
assert c["Labels"]["team"] == "core", c
assert set(c["ExposedPorts"]) == {"8080/tcp", "53/udp", "9000/tcp", "9001/tcp"}, c
assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "true"], c
PY
'

test_expect_success 'umoci unpacks the files every stage made' '
	umoci unpack --image "$STORE:demo:$(cat "$T/sig1")" "$T/b1" >/dev/null &&
	R="$T/b1/rootfs" &&
	test "$(cat "$R/srv/app/main.py")" = "print(\"v1\")" &&
	test "$(cat "$R/opt/deps")" = flask &&
	test "$(cat "$R/opt/before-setup")" = before-setup &&
	test "$(cat "$R/opt/setup")" = setup &&
	test ! -e "$R/bin/true" && test -e "$R/bin/false" &&
	test "$(stat -c %u "$R/srv/app/main.py")" = 1000
'

test_expect_success 'a second build rebuilds nothing' '
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" &&
	! grep -q "\[BUILDING\]" "$T/out2" &&
	test "$(last_sig "$T/r2.json")" = "$(cat "$T/sig1")"
'

test_expect_success 'a commit touching a file rebuilds only gitLatestPatch (and what follows)' '
	echo "print(\"v2\")" >"$P/app/main.py" && rm "$P/app/obsolete.txt" && commit v2 &&
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" &&
	test "$(stages "$T/r3.json" false)" = "gitLatestPatch dockerInstructions " &&
	last_sig "$T/r3.json" >"$T/sig3" &&
	umoci unpack --image "$STORE:demo:$(cat "$T/sig3")" "$T/b3" >/dev/null &&
	test "$(cat "$T/b3/rootfs/srv/app/main.py")" = "print(\"v2\")" &&
	test ! -e "$T/b3/rootfs/srv/app/obsolete.txt"
'

test_expect_success 'the deleted file is a whiteout in the patch layer' '
	skopeo inspect --raw "oci:$STORE:demo:$(cat "$T/sig3")" >"$T/m3.json" &&
	python3 - "$T/m3.json" "$STORE" <<PY
import json, sys, tarfile
m = json.load(open(sys.argv[1]))
found = False
for l in m["layers"]:
    with tarfile.open(sys.argv[2] + "/blobs/sha256/" + l["digest"][7:]) as t:
        if "srv/app/.wh.obsolete.txt" in t.getnames():
            found = True
assert found
PY
'

test_expect_success 'changing a stageDependencies file rebuilds from install on' '
	sums=$(ls "$CAIRN_HOME/git/checksums" | wc -l) && test "$sums" -ge 1 &&
	echo django >"$P/app/requirements.txt" && commit v3 &&
	"$CAIRN" build --dir "$P" --report "$T/r4.json" >"$T/out4" &&
	test "$(stages "$T/r4.json" false)" = "install beforeSetup setup dockerInstructions " &&
	: "the checksums are kept per commit: one more" &&
	test "$(ls "$CAIRN_HOME/git/checksums" | wc -l)" -gt "$sums" &&
	umoci unpack --image "$STORE:demo:$(last_sig "$T/r4.json")" "$T/b4" >/dev/null &&
	test "$(cat "$T/b4/rootfs/opt/deps")" = django &&
	test "$(cat "$T/b4/rootfs/srv/app/main.py")" = "print(\"v2\")"
'

test_expect_success 'a [cairn reset] commit rebuilds gitArchive' '
	git -C "$P" -c user.name=t -c user.email=t@example.com commit -q --allow-empty \
		-m "start over [cairn reset]" &&
	"$CAIRN" build --dir "$P" --report "$T/r5.json" >"$T/out5" &&
	stages "$T/r5.json" false | grep -q "^gitArchive install "
'

test_expect_success 'a failing command fails the build with the stage and status' '
	sed "s/echo setup > \/opt\/setup/exit 3/" "$P/werf.yaml" >"$T/w" &&
	cp "$T/w" "$P/werf.yaml" && commit broken &&
	test_must_fail "$CAIRN" build --dir "$P" >"$T/out6" 2>"$T/err6" &&
	grep -q "stage .setup. failed" "$T/err6" && grep -q "status 3" "$T/err6" &&
	grep -q "werf.yaml:" "$T/err6" &&
	grep -q "setup  *\[FAILED\]" "$T/out6" &&
	"$CAIRN" build --dir "$P" >"$T/out7" 2>&1;
	grep -q "beforeSetup  *\[USING CACHE\]" "$T/out7"
'

test_expect_success 'an invalid config is an error naming file, line and key; nothing built' '
	cp "$T/good.yaml" "$P/werf.yaml" && commit fixed &&
	printf "project: demo\nconfigVersion: 1\n---\nimage: x\nfrom: a\nshell:\n  instal: [x]\n" \
		>"$T/bad.yaml" &&
	test_must_fail "$CAIRN" build --dir "$P" --config "$T/bad.yaml" 2>"$T/err8" &&
	grep -q "bad.yaml:7:3: shell.instal" "$T/err8"
'

test_expect_success 'kill -9 in the middle of a build: the next build completes' '
	sed "s/cat \/srv\/app\/requirements.txt > \/opt\/deps/sleep 30/" "$P/werf.yaml" >"$T/w" &&
	cp "$T/w" "$P/werf.yaml" && commit slow &&
	{ "$CAIRN" build --dir "$P" >"$T/out9" 2>&1 & pid=$!; } &&
	i=0 && until grep -q "install  *\[BUILDING\]" "$T/out9" || [ $i -ge 100 ]; do
		sleep 0.1; i=$((i + 1)); done &&
	kill -9 "$pid" && { wait "$pid" || true; } &&
	pkill -9 -f "sleep 30" ; sleep 0.5;
	sed "s/sleep 30/echo fast > \/opt\/deps/" "$P/werf.yaml" >"$T/w" &&
	cp "$T/w" "$P/werf.yaml" && commit fast &&
	"$CAIRN" build --dir "$P" --report "$T/r10.json" >"$T/out10" &&
	umoci unpack --image "$STORE:demo:$(last_sig "$T/r10.json")" "$T/b10" >/dev/null &&
	test "$(cat "$T/b10/rootfs/opt/deps")" = fast
'

test_expect_success 'a host that cannot run shell stages is told what it lacks, up front' '
	cp "$P/werf.yaml" "$T/before-extra.yaml" &&
	printf -- "---\nimage: extra\nfrom: %s/base/busybox:1\nshell:\n  install: [echo x]\n" \
		"$REG" >>"$P/werf.yaml" &&
	test_must_fail "$CAIRN" build --dir "$P" --runtime no-such-runtime extra 2>"$T/rt.err" &&
	grep -q "image .extra.: stage .install.: this host cannot run shell stages: the OCI runtime .no-such-runtime. is not in \$PATH (install runc" \
		"$T/rt.err" &&
	test -z "$(ls "$CAIRN_HOME/tmp")" &&
	cp "$T/before-extra.yaml" "$P/werf.yaml"
'

test_expect_success 'a Docker schema 2 base: its from stage is OCI, readable by skopeo and umoci' '
	base_image_push "$REG/base/docker:1" --format v2s2 &&
	skopeo inspect --raw --tls-verify=false "docker://$REG/base/docker:1" >"$T/d.raw" &&
	grep -q "vnd.docker.distribution.manifest.v2+json" "$T/d.raw" &&
	D="$T/dproject" && mkdir -p "$D" && git init -q "$D" &&
	printf "project: dk\nconfigVersion: 1\n---\nimage: ~\nfrom: %s/base/docker:1\n" "$REG" \
		>"$D/werf.yaml" &&
	git -C "$D" add -A && git -C "$D" -c user.name=t -c user.email=t@example.com commit -q -m i &&
	"$CAIRN" build --dir "$D" --report "$T/dk.json" >"$T/dk.out" 2>&1 &&
	sig=$(last_sig "$T/dk.json") &&
	skopeo inspect --raw "oci:$STORE:dk:$sig" >"$T/dk.raw" &&
	grep -q "application/vnd.oci.image.manifest.v1+json" "$T/dk.raw" &&
	! grep -q "vnd.docker" "$T/dk.raw" &&
	skopeo inspect "oci:$STORE:dk:$sig" >"$T/dk.json2" &&
	grep -q "\"Layers\"" "$T/dk.json2" &&
	umoci unpack --image "$STORE:dk:$sig" "$T/bdk" >/dev/null &&
	test -x "$T/bdk/rootfs/bin/busybox" &&
	printf "sha256:%s\n" "$(sha256sum <"$T/d.raw" | cut -d" " -f1)" >"$T/d.want" &&
	"$CAIRN" stages ls >"$T/dk.ls" &&
	grep "^$REG/base/docker:1 " "$T/dk.ls" | grep -q " $(cut -c1-19 "$T/d.want") " &&
	"$CAIRN" build --dir "$D" >"$T/dk.out2" 2>&1 &&
	grep -q "from  *\[USING CACHE\]" "$T/dk.out2"
'

test_expect_success 'images side by side (-j 3): overlapping, told image by image, same stages as -j 1' '
	S="$T/side" && mkdir -p "$S" && git init -q "$S" &&
	cat >"$S/werf.yaml" <<-YAML &&
	project: side
	configVersion: 1
	---
	image: slow
	from: $REG/base/busybox:1
	shell:
	  install: [cat /proc/uptime > /slow-start, echo SLOW-OUT-1, sleep 4, echo SLOW-OUT-2, cat /proc/uptime > /slow-end]
	---
	image: quick
	from: $REG/base/busybox:1
	shell:
	  install: [cat /proc/uptime > /quick-time, echo QUICK-OUT]
	---
	image: above
	fromImage: slow
	shell:
	  install: [cat /slow-end > /above]
	YAML
	git -C "$S" add -A && git -C "$S" -c user.name=t -c user.email=t@example.com commit -q -m i &&
	CAIRN_HOME="$T/home-side" "$CAIRN" build --dir "$S" -j 3 --report "$T/side.json" \
		>"$T/side.out" 2>&1 &&
	grep -n "SLOW-OUT-1\|SLOW-OUT-2\|QUICK-OUT" "$T/side.out" | cut -d: -f2 | tr "\n" " " \
		>"$T/side.order" &&
	grep -q "SLOW-OUT-1 .*SLOW-OUT-2 .*QUICK-OUT" "$T/side.order" &&
	python3 - "$T/side.json" "$T/unpacked" "$T/home-side/store" <<-PY &&
	import json, subprocess, sys
	r = json.load(open(sys.argv[1]))
	sig = {i["name"]: i["signature"] for i in r["images"]}
	def read(name, path):
	    dest = sys.argv[2] + "-" + name
	    subprocess.run(["umoci", "raw", "unpack", "--image", sys.argv[3] + ":side:" + sig[name],
	                    dest], capture_output=True)
	    return open(dest + path).read().strip()
	up = lambda name, path: float(read(name, path).split()[0])
	start, end = up("slow", "/slow-start"), up("slow", "/slow-end")
	quick = up("quick", "/quick-time")
	# one after the other, quick (second in the config) would run once slow is done
	assert quick < end, (start, quick, end)
	assert read("above", "/above") == read("slow", "/slow-end")
	PY
	CAIRN_HOME="$T/home-side1" "$CAIRN" build --dir "$S" -j 1 --report "$T/side1.json" \
		>"$T/side1.out" 2>&1 &&
	python3 -c "import json,sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); assert [(i[\"name\"], [s[\"signature\"] for s in i[\"stages\"]]) for i in a[\"images\"]] == [(i[\"name\"], [s[\"signature\"] for s in i[\"stages\"]]) for i in b[\"images\"]]" \
		"$T/side.json" "$T/side1.json"
'

test_expect_success 'images side by side: one fails, the build fails with its error, nothing else' '
	sed "s/echo QUICK-OUT]/echo QUICK-OUT, exit 7]/" "$S/werf.yaml" >"$T/w" && cp "$T/w" "$S/werf.yaml" &&
	sed "s/sleep 4/sleep 2/" "$S/werf.yaml" >"$T/w" && cp "$T/w" "$S/werf.yaml" &&
	git -C "$S" -c user.name=t -c user.email=t@example.com commit -q -am fail &&
	test_must_fail env CAIRN_HOME="$T/home-side2" "$CAIRN" build --dir "$S" -j 3 \
		>"$T/side2.out" 2>"$T/side2.err" &&
	grep -q "image .quick.: stage .install." "$T/side2.err" &&
	test "$(grep -c "^error\|^cairn: " "$T/side2.err")" -le 1 &&
	! grep -q "image .slow.\|image .above." "$T/side2.err" &&
	test -z "$(ls "$T/home-side2/tmp")"
'

test_expect_success 'images side by side: containers sharing a build_dir take turns' '
	M="$T/bdir" && mkdir -p "$M" && git init -q "$M" &&
	for i in a b c; do
		printf -- "---\nimage: %s\nfrom: %s/base/busybox:1\nmount:\n- from: build_dir\n  to: /cache\nshell:\n  install: [echo start-%s >> /cache/log, sleep 1, echo end-%s >> /cache/log]\n" \
			"$i" "$REG" "$i" "$i" || return 1
	done >"$M/body" &&
	{ printf "project: bdir\nconfigVersion: 1\n" && cat "$M/body"; } >"$M/werf.yaml" &&
	rm "$M/body" &&
	git -C "$M" add -A && git -C "$M" -c user.name=t -c user.email=t@example.com commit -q -m i &&
	CAIRN_HOME="$T/home-bdir" "$CAIRN" build --dir "$M" -j 3 >"$T/bdir.out" 2>&1 &&
	cat "$T/home-bdir/builds/bdir"/*/log >"$T/bdir.log" &&
	test "$(wc -l <"$T/bdir.log")" = 6 &&
	awk "NR % 2 == 1 { s = substr(\$0, 7) } NR % 2 == 0 && substr(\$0, 5) != s { exit 1 }" \
		"$T/bdir.log"
'

test_done
