#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Stages as werf makes them: a cache version alone makes a user stage exist, so the
# stageDependencies on it fire; artifacts have no gitCache/gitLatestPatch stages, so a commit
# changes an artifact (and what imports it) only through its stageDependencies; a stage that
# holds a commit the repository lost (amend + gc, force-push, shallow clone) is built again;
# gitLatestPatch is signed by what the patch changes, not by commit ids; docker: values are
# Dockerfile words (quotes removed, $VAR expanded against the image below); shell stages run a
# script, one command per line, with the image's bash when it has one, stopping at the first
# failing command, which the error names; mounts: tmp_dir shared by an image's stages in one
# build, build_dir by the images of a project, a fromImage base's mounts inherited; imports
# from a glob and from a given stage of the source (import.stage).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"

commit() {
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com \
		commit -q -m "$1"
}

mkdir -p "$P"
git init -q "$P"
echo 1 >"$P/deps.txt"
cat >"$P/werf.yaml" <<YAML
project: stages
configVersion: 1
---
image: versioned
from: $REG/base/busybox:1
git:
- to: /app
  stageDependencies:
    install: ["*.txt"]
shell:
  installCacheVersion: "1"
---
image: plain
from: $REG/base/busybox:1
git:
- to: /app
  stageDependencies:
    install: ["*.txt"]
---
artifact: tool
from: $REG/base/busybox:1
git:
- add: /tool
  to: /src
  stageDependencies:
    install: ["build.sh"]
shell:
  install: [cat /src/build.sh /src/other > /built]
---
image: user
from: $REG/base/busybox:1
import:
- artifact: tool
  add: /built
  to: /built
  after: install
YAML
mkdir -p "$P/tool" && echo one >"$P/tool/build.sh" && echo first >"$P/tool/other"
commit init

test_expect_success 'installCacheVersion alone makes an install stage; none without it' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" &&
	test "$(report_stages "$T/r1.json" versioned any)" = "from gitArchive install" &&
	test "$(report_stages "$T/r1.json" plain any)" = "from gitArchive"
'

test_expect_success 'its stageDependencies fire: a changed file rebuilds install' '
	echo 2 >"$P/deps.txt" && commit deps &&
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" &&
	test "$(report_stages "$T/r2.json" versioned false)" = "install" &&
	rm -rf "$T/u" &&
	umoci unpack --image "$CAIRN_HOME/store:stages:$(report_sig "$T/r2.json" versioned)" "$T/u" >/dev/null &&
	test "$(cat "$T/u/rootfs/app/deps.txt")" = 2
'

test_expect_success 'an artifact has no patch stages: other files change nothing' '
	test "$(report_stages "$T/r2.json" tool any)" = "from gitArchive install" &&
	echo second >"$P/tool/other" && commit other &&
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" &&
	test -z "$(report_stages "$T/r3.json" tool false)" &&
	test -z "$(report_stages "$T/r3.json" user false)"
'

test_expect_success 'its stageDependencies rebuild it from the current commit, and the importers' '
	echo two >"$P/tool/build.sh" && commit build &&
	"$CAIRN" build --dir "$P" --report "$T/r4.json" >"$T/out4" &&
	test "$(report_stages "$T/r4.json" tool false)" = install &&
	test "$(report_stages "$T/r4.json" user false)" = importsAfterInstall &&
	rm -rf "$T/w" &&
	umoci unpack --image "$CAIRN_HOME/store:stages:$(report_sig "$T/r4.json" user)" "$T/w" >/dev/null &&
	test "$(cat "$T/w/rootfs/built")" = "two
second"
'

test_expect_success 'a commit lost to amend + gc: the git stages are built again, never a failure' '
	git init -q "$T/lost" &&
	printf "%s\n" "project: lost" "configVersion: 1" "---" "image: app" \
		"from: $REG/base/busybox:1" "git:" "- to: /app" "shell:" \
		"  install: [cat /app/f > /installed]" >"$T/lost/werf.yaml" &&
	echo one >"$T/lost/f" &&
	git -C "$T/lost" add -A && git -C "$T/lost" -c user.name=t -c user.email=t@example.com \
		commit -q -m one &&
	"$CAIRN" build --dir "$T/lost" >"$T/out5" &&
	echo amended >"$T/lost/f" && git -C "$T/lost" add -A &&
	git -C "$T/lost" -c user.name=t -c user.email=t@example.com commit -q --amend -m two &&
	git -C "$T/lost" reflog expire --expire=now --all && git -C "$T/lost" gc -q --prune=now &&
	"$CAIRN" build --dir "$T/lost" --report "$T/r5.json" >"$T/out6" 2>&1 &&
	test "$(report_stages "$T/r5.json" app false)" = "gitArchive install" &&
	sig=$(python3 -c "import json; print(json.load(open(\"$T/r5.json\"))[\"images\"][0][\"signature\"])") &&
	rm -rf "$T/l" && umoci unpack --image "$CAIRN_HOME/store:lost:$sig" "$T/l" >/dev/null &&
	test "$(cat "$T/l/rootfs/app/f" "$T/l/rootfs/installed")" = "amended
amended" || return 1
	"$CAIRN" build --dir "$T/lost" --report "$T/r6.json" >"$T/out7" &&
	test -z "$(report_stages "$T/r6.json" app false)"
'

test_expect_success 'gitLatestPatch: same files, same stage (commit outside the selection, amend)' '
	git init -q "$T/pt" && mkdir -p "$T/pt/app" &&
	printf "%s\n" "project: pt" "configVersion: 1" "---" "image: app" \
		"from: $REG/base/busybox:1" "git:" "- add: /app" "  to: /app" >"$T/pt/werf.yaml" &&
	echo 1 >"$T/pt/app/f" && echo r >"$T/pt/README" &&
	git -C "$T/pt" add -A && git -C "$T/pt" -c user.name=t -c user.email=t@example.com \
		commit -q -m one &&
	"$CAIRN" build --dir "$T/pt" >"$T/out8" &&
	echo 2 >"$T/pt/app/f" && git -C "$T/pt" add -A &&
	git -C "$T/pt" -c user.name=t -c user.email=t@example.com commit -q -m two &&
	"$CAIRN" build --dir "$T/pt" --report "$T/p2.json" >"$T/out9" &&
	test "$(report_stages "$T/p2.json" app false)" = gitLatestPatch &&
	echo r2 >"$T/pt/README" && git -C "$T/pt" add -A &&
	git -C "$T/pt" -c user.name=t -c user.email=t@example.com commit -q -m readme &&
	"$CAIRN" build --dir "$T/pt" --report "$T/p3.json" >"$T/out10" &&
	test -z "$(report_stages "$T/p3.json" app false)" &&
	git -C "$T/pt" -c user.name=u -c user.email=u@example.com commit -q --amend -m other &&
	"$CAIRN" build --dir "$T/pt" --report "$T/p4.json" >"$T/out11" &&
	test -z "$(report_stages "$T/p4.json" app false)" &&
	python3 - "$T/p2.json" "$T/p3.json" "$T/p4.json" <<PY
import json, sys
sigs = {json.load(open(f))["images"][0]["signature"] for f in sys.argv[1:]}
assert len(sigs) == 1, sigs
PY
'

git init -q "$T/dw"
cat >"$T/dw/werf.yaml" <<'YAML'
project: dw
configVersion: 1
---
image: app
from: REG/base/busybox:1
docker:
  ENV:
    PATH: /opt/bin:$PATH
    JAVA_OPTS: "\"-Xmx1g -Xms1g\""
    LITERAL: "'$HOME' \\$HOME"
  WORKDIR: ${UNSET:-/srv}/app
  LABEL:
    built-on: ${PATH%%:*}
YAML
sed -i "s|REG/|$REG/|" "$T/dw/werf.yaml"

test_expect_success 'docker: values are Dockerfile words, as werf has Docker take them' '
	git -C "$T/dw" add -A && git -C "$T/dw" -c user.name=t -c user.email=t@example.com \
		commit -q -m init &&
	test_must_fail "$CAIRN" build --dir "$T/dw" >"$T/dw.out" 2>"$T/dw.err" &&
	grep -q "werf.yaml:13:15: docker.LABEL: .\${PATH.: unsupported modifier" "$T/dw.err" &&
	sed -i "s/built-on: .*/built-on: \"\${PATH}\"/" "$T/dw/werf.yaml" &&
	"$CAIRN" build --dir "$T/dw" --report "$T/dw.json" >"$T/dw.out" &&
	sig=$(python3 -c "import json; print(json.load(open(\"$T/dw.json\"))[\"images\"][0][\"signature\"])") &&
	skopeo inspect --config "oci:$CAIRN_HOME/store:dw:$sig" >"$T/dw.cfg" &&
	python3 - "$T/dw.cfg" <<\PY
import json, sys
c = json.load(open(sys.argv[1]))["config"]
env = dict(e.split("=", 1) for e in c["Env"])
assert env["PATH"] == "/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env
assert env["JAVA_OPTS"] == "-Xmx1g -Xms1g", env
assert env["LITERAL"] == "$HOME $HOME", env
assert c["WorkingDir"] == "/srv/app", c
assert c["Labels"]["built-on"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", c
PY
'

git init -q "$T/sh"
cat >"$T/sh/werf.yaml" <<'YAML'
project: sh
configVersion: 1
---
image: app
from: REG/base/busybox:1
shell:
  beforeInstall:
  - printf '#!/bin/sh\ntouch /via-bash\nexec /bin/sh "$@"\n' > /bin/bash && chmod +x /bin/bash
  install:
  - "echo a # a comment ends at the line's end"
  - echo b > /b
  - |
    cat > /heredoc <<EOF
    line one
    EOF
  - echo c > /c;
  - sleep 0 &
  - cd /tmp
  - pwd > /where
  - test -e /via-bash
  setup:
  - "true"
  - "false"
  - echo never > /never
YAML
sed -i "s|REG/|$REG/|" "$T/sh/werf.yaml"

test_expect_success 'shell stages: a script, one command per line, bash when the image has it' '
	git -C "$T/sh" add -A && git -C "$T/sh" -c user.name=t -c user.email=t@example.com \
		commit -q -m init &&
	test_must_fail "$CAIRN" build --dir "$T/sh" >"$T/sh.out" 2>"$T/sh.err" &&
	grep -q "werf.yaml:23:5: image .app.: stage .setup. failed: command 2 (.false.) exited with status 1" "$T/sh.err" &&
	grep -q "^ *| a$" "$T/sh.out" &&
	! grep -q "cairn-command" "$T/sh.out" &&
	sed -i "/- \"false\"/d" "$T/sh/werf.yaml" &&
	"$CAIRN" build --dir "$T/sh" --report "$T/sh.json" >"$T/sh.out2" &&
	sig=$(python3 -c "import json; print([s for s in json.load(open(\"$T/sh.json\"))[\"images\"][0][\"stages\"] if s[\"name\"] == \"install\"][0][\"signature\"])") &&
	rm -rf "$T/shu" && umoci unpack --image "$CAIRN_HOME/store:sh:$sig" "$T/shu" >/dev/null &&
	test "$(cat "$T/shu/rootfs/b" "$T/shu/rootfs/heredoc" "$T/shu/rootfs/c" "$T/shu/rootfs/where")" = "b
line one
c
/tmp" &&
	test -e "$T/shu/rootfs/via-bash"
'

git init -q "$T/mnt"
cat >"$T/mnt/werf.yaml" <<'YAML'
project: mnt
configVersion: 1
---
image: base
from: REG/base/busybox:1
mount:
- from: build_dir
  to: /cache
- from: tmp_dir
  to: /scratch
shell:
  beforeInstall: [echo from-base > /cache/shared, echo mine > /scratch/x]
  install: [test -f /scratch/x, cp /scratch/x /seen-scratch]
---
image: child
fromImage: base
shell:
  install: [cp /cache/shared /seen-cache, test ! -e /scratch/x, touch /scratch/y]
YAML
sed -i "s|REG/|$REG/|" "$T/mnt/werf.yaml"

test_expect_success 'mounts: tmp_dir per image per build, build_dir per project, base mounts kept' '
	git -C "$T/mnt" add -A && git -C "$T/mnt" -c user.name=t -c user.email=t@example.com \
		commit -q -m init &&
	"$CAIRN" build --dir "$T/mnt" --report "$T/mnt.json" >"$T/mnt.out" 2>&1 &&
	sig=$(report_sig "$T/mnt.json" child) &&
	rm -rf "$T/mu" && umoci unpack --image "$CAIRN_HOME/store:mnt:$sig" "$T/mu" >/dev/null &&
	test "$(cat "$T/mu/rootfs/seen-scratch" "$T/mu/rootfs/seen-cache")" = "mine
from-base" &&
	test -z "$(ls -A "$T/mu/rootfs/scratch" "$T/mu/rootfs/cache" 2>/dev/null)" &&
	test -z "$(ls "$CAIRN_HOME/tmp" | grep stage-)"
'

git init -q "$T/imp"
cat >"$T/imp/werf.yaml" <<'YAML'
project: imp
configVersion: 1
---
artifact: jars
from: REG/base/busybox:1
shell:
  install: [mkdir -p /out/sub, echo a > /out/a.jar, echo b > /out/b.jar, echo c > /out/c.txt, echo early > /out/when]
  setup: [echo late > /out/when]
---
image: app
from: REG/base/busybox:1
import:
- artifact: jars
  add: /out/*.jar
  to: /libs
  after: install
- artifact: jars
  add: /out/when
  to: /when-install
  stage: install
  after: install
- artifact: jars
  add: /out/when
  after: install
YAML
sed -i "s|REG/|$REG/|" "$T/imp/werf.yaml"

test_expect_success 'imports: a glob add, and import.stage takes that stage of the source' '
	git -C "$T/imp" add -A && git -C "$T/imp" -c user.name=t -c user.email=t@example.com \
		commit -q -m init &&
	"$CAIRN" build --dir "$T/imp" --report "$T/imp.json" >"$T/imp.out" 2>&1 &&
	sig=$(report_sig "$T/imp.json" app) &&
	rm -rf "$T/iu" && umoci unpack --image "$CAIRN_HOME/store:imp:$sig" "$T/iu" >/dev/null &&
	test "$(ls "$T/iu/rootfs/libs")" = "a.jar
b.jar" &&
	test "$(cat "$T/iu/rootfs/when-install" "$T/iu/rootfs/out/when")" = "early
late" &&
	sed -i "s|/out/\*.jar|/out/*.war|" "$T/imp/werf.yaml" &&
	test_must_fail "$CAIRN" build --dir "$T/imp" >"$T/imp.out2" 2>"$T/imp.err" &&
	grep -q "werf.yaml:13:3: import: ./out/\*.war. matches nothing in image .jars." "$T/imp.err"
'

test_done
