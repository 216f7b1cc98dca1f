#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# ansible: stages on the busybox base (no python, no bash), run with cairn's toolchain as werf
# ran them with its stapel: file, copy with content from .Files.Get, lineinfile, shell with
# args.chdir and environment, command, group and user, become_user, get_url from a loopback
# HTTP server, unarchive, debug, set_fact, block/rescue. The image is checked by unpacking it
# (and by running it in a Docker engine where one is installed); a 2018-style dappfile on Debian
# 12 minbase installs a package with the apt module; a failing task is reported
# with the image, stage, task, module and ansible's message; a task edit rebuilds its stage
# only from there, a whitespace edit nothing.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git dpkg-query patchelf ansible python3 tar \
	mmdebstrap curl

registry_start
base_image_push "$REG/base/busybox:1"

# a payload for get_url + unarchive, served on 127.0.0.1 (stages share the host's network)
HTTP_PORT=$(test_port 1)
mkdir -p "$T/www/src/payload" && echo "from the archive" >"$T/www/src/payload/inside.txt" &&
	tar -C "$T/www/src" -czf "$T/www/payload.tar.gz" payload || exit 1
test_spawn "$T/http.log" python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$HTTP_PORT"
_i=0
until curl -fsS "http://127.0.0.1:$HTTP_PORT/payload.tar.gz" -o /dev/null 2>/dev/null; do
	_i=$((_i + 1)) && [ "$_i" -lt 100 ] && sleep 0.1 || exit 1
done

P=$T/project
mkdir -p "$P" && git init -q "$P" || exit 1
printf 'listen=8080\nname=demo\n' >"$P/app.conf" || exit 1

# werf_yaml SETUP-MSG: the project's config; SETUP-MSG is the setup stage's debug message
werf_yaml () {
	cat >"$P/werf.yaml" <<YAML
project: ans
configVersion: 1
---
image: app
from: $REG/base/busybox:1
docker:
  CMD: ["/bin/sh", "-c", "cat /opt/app/app.conf /opt/app/out.txt"]
ansible:
  beforeInstall:
  - name: a group
    group: {name: app, gid: 1500}
  - name: a user
    user: {name: app, uid: 1500, group: app, home: /home/app, shell: /bin/sh}
  install:
  - name: the app dir
    file: {path: /opt/app, state: directory, mode: "0755", owner: app, group: app}
  - name: config from the project
    copy:
      content: |
{{ .Files.Get "app.conf" | indent 8 }}
      dest: /opt/app/app.conf
      mode: 0644
  - name: one more line
    lineinfile: {path: /opt/app/app.conf, line: "added=yes"}
  - name: shell with chdir and environment
    shell: echo "\$GREETING from \$(pwd)" > out.txt
    args: {chdir: /opt/app}
    environment: {GREETING: hello}
  - name: a command
    command: touch /opt/app/commanded
  - name: as the app user
    shell: id -un > /tmp/whoami; echo \$HOME >> /tmp/whoami
    become_user: app
  - name: download
    get_url: {url: "http://127.0.0.1:$HTTP_PORT/payload.tar.gz", dest: /tmp/payload.tar.gz}
  - name: unpack
    unarchive: {src: /tmp/payload.tar.gz, dest: /opt/app, remote_src: yes}
  - name: a key (community.crypto, as werf's openssl_privatekey)
    openssl_privatekey: {path: /opt/app/key.pem, type: Ed25519}
  - name: an ini option (community.general)
    ini_file: {path: /opt/app/app.ini, section: main, option: port, value: "8080"}
  - set_fact: {answer: 42}
  - name: the fact
    shell: echo {{\`{{ answer }}\`}} > /opt/app/answer
  setup:
  - debug: {msg: "$1"}
  - block:
    - fail: {msg: boom}
    rescue:
    - copy: {content: "rescued\\n", dest: /opt/app/rescued}
YAML
}

# image_file PATH: a file of the published image, read from its unpacked layers
image_file () {
	cat "$T/bundle/rootfs$1"
}

unpack_image () {
	rm -rf "$T/oci" "$T/bundle" &&
		skopeo copy -q --src-tls-verify=false "docker://$REG/ans/app:v1" "oci:$T/oci:app" &&
		umoci unpack --image "$T/oci:app" "$T/bundle" >/dev/null
}

werf_yaml "debug works"
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m init

test_expect_success 'ansible stages build on busybox with the toolchain' '
	cairn_run build-and-publish --dir "$P" --images-repo "$REG/ans" --tag-plain v1 \
		--report "$T/r1.json" >"$T/out1" 2>&1 &&
	grep -q "debug works" "$T/out1" &&
	unpack_image
'

test_expect_success 'the tasks did what they say' '
	test "$(image_file /opt/app/app.conf)" = "$(printf "listen=8080\nname=demo\nadded=yes")" &&
	test "$(image_file /opt/app/out.txt)" = "hello from /opt/app" &&
	test -f "$T/bundle/rootfs/opt/app/commanded" &&
	test "$(image_file /tmp/whoami)" = "$(printf "app\n/home/app")" &&
	test "$(image_file /opt/app/payload/inside.txt)" = "from the archive" &&
	test "$(image_file /opt/app/answer)" = 42 &&
	test "$(image_file /opt/app/rescued)" = rescued &&
	head -1 "$T/bundle/rootfs/opt/app/key.pem" | grep -q "^-----BEGIN PRIVATE KEY-----$" &&
	grep -q "^port = 8080$" "$T/bundle/rootfs/opt/app/app.ini" &&
	grep -q "^app:x:1500:1500:[^:]*:/home/app:/bin/sh$" "$T/bundle/rootfs/etc/passwd" &&
	grep -q "^app:x:1500:" "$T/bundle/rootfs/etc/group" &&
	test "$(stat -c %u:%g:%a "$T/bundle/rootfs/opt/app")" = 1500:1500:755 &&
	test "$(stat -c %a "$T/bundle/rootfs/opt/app/app.conf")" = 644
'

test_expect_success 'nothing of the toolchain or of ansible is in a layer' '
	for b in "$T"/oci/blobs/sha256/*; do
		tar -tzf "$b" 2>/dev/null || : # the manifest and config are no tars
	done >"$T/entries" &&
	grep -q "^opt/app/app.conf$" "$T/entries" &&
	! grep -q "^\.cairn\|^\./\.cairn\|ansible" "$T/entries"
'

test_expect_success 'the image runs' '
	image_check "$REG/ans/app:v1" &&
	if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
		docker_cmd run --rm "$REG/ans/app:v1" >"$T/run.out" &&
		grep -q "^hello from /opt/app$" "$T/run.out"
	fi
'

test_expect_success 'the same build again takes every stage from the store' '
	cairn_run build --dir "$P" --report "$T/r2.json" >"$T/out2" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/out2"
'

test_expect_success 'a whitespace edit keeps every signature; a task edit rebuilds from it' '
	sed "s/^  - debug: {msg: \"debug works\"}$/  -   debug:   {msg:  \"debug works\"}/" \
		"$P/werf.yaml" >"$T/w" && mv "$T/w" "$P/werf.yaml" &&
	grep -q "^  -   debug:" "$P/werf.yaml" &&
	cairn_run build --dir "$P" >"$T/out3" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/out3" &&
	werf_yaml "debug changed" &&
	cairn_run build --dir "$P" >"$T/out4" 2>&1 &&
	test "$(grep "\[BUILDING\]" "$T/out4" | awk "{print \$1}" | tr "\n" " ")" = \
		"setup dockerInstructions "
'

test_expect_success 'a failing task names the image, stage, task, module and the message' '
	cat >>"$P/werf.yaml" <<YAML
---
image: broken
from: $REG/base/busybox:1
ansible:
  install:
  - debug: {msg: first}
  - name: copy a missing file
    copy: {src: /nonexistent/file, dest: /x, remote_src: yes}
YAML
	test_must_fail cairn_run build --dir "$P" broken >"$T/out5" 2>"$T/err5" &&
	grep -q "werf.yaml:[0-9]*:[0-9]*: image .broken.: stage .install. failed: task 2 (.copy a missing file., module copy): .*/nonexistent/file" "$T/err5"
'

# A 2018-style dappfile (no meta document) on Debian 12 minbase: the apt module from the Debian
# mirror, user, copy, shell as the new user with bash; beside it a shell stage using bash.
D=$T/dapp
mkdir -p "$D" && git init -q "$D" && cat >"$D/dappfile.yml" <<YAML || exit 1
dimg: web
from: $REG/base/debian:12
ansible:
  beforeInstall:
  - name: packages from the mirror
    apt: {name: [hello], update_cache: yes}
  install:
  - user: {name: web, uid: 2000, shell: /bin/bash, create_home: yes}
  - copy: {content: "server web\n", dest: /etc/web.conf, mode: "0644"}
  - name: as web, with bash
    shell: whoami > /home/web/me && echo \$SHELL >> /home/web/me
    become_user: web
    args: {executable: /bin/bash}
docker:
  CMD: ["/usr/bin/hello"]
---
dimg: tools
from: $REG/base/debian:12
shell:
  install:
  - a=(x y); [[ \${a[1]} == y ]] && echo "bash \${BASH_VERSION%%.*}" > /bashcheck
YAML
git -C "$D" add -A && git -C "$D" -c user.name=t -c user.email=t@example.com commit -q -m init || exit 1

test_expect_success 'a dappfile with ansible stages on Debian builds and publishes with dimg bp' '
	debian_image_push "$REG/base/debian:12" &&
	cairn_run dimg bp --dir "$D" "$REG/dapp" --tag-plain v1 >"$T/dout" 2>&1 &&
	rm -rf "$T/oci" "$T/bundle" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/dapp/web:v1" "oci:$T/oci:web" &&
	umoci unpack --image "$T/oci:web" "$T/bundle" >/dev/null &&
	test -x "$T/bundle/rootfs/usr/bin/hello" &&
	test "$(image_file /etc/web.conf)" = "server web" &&
	test "$(image_file /home/web/me)" = "$(printf "web\n/bin/bash")" &&
	test "$(stat -c %u "$T/bundle/rootfs/home/web/me")" = 2000 &&
	rm -rf "$T/oci2" "$T/bundle2" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/dapp/tools:v1" "oci:$T/oci2:t" &&
	umoci unpack --image "$T/oci2:t" "$T/bundle2" >/dev/null &&
	test "$(cat "$T/bundle2/rootfs/bashcheck")" = "bash 5"
'

test_expect_success 'the Debian image with ansible stages runs' '
	image_check "$REG/dapp/web:v1" &&
	if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
		docker_cmd run --rm "$REG/dapp/web:v1" >"$T/hello.out" &&
		grep -q "^Hello, world!$" "$T/hello.out"
	fi
'

test_done
