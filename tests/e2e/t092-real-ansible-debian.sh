#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A real werf.yaml, as github.com/Lufanchik/integration-testing wrote it (only its base image
# changed: debian:stretch-slim -> the Debian 12 minbase of the tests): a deploy section with
# one-space indentation and [[ ]] placeholders, build_dir/tmp_dir mounts over apt's cache, the
# project added with excludePaths plus two single files, stageDependencies install "**/*", and
# ansible apt, locale_gen, timezone, and file with with_items over an escaped {{ item }}. The
# image has the packages, the locale, the zone and the modes the tasks set, and nothing apt
# downloaded into the mounts; a change to a file of the project rebuilds install and after.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git dpkg-query patchelf ansible python3 tar \
	mmdebstrap

registry_start
P=$T/project
mkdir -p "$P/.werffiles" "$P/.helm" "$P/src" && git init -q "$P" || exit 1
printf '#!/bin/sh\necho full\n' >"$P/.werffiles/start_full.sh"
printf '#!/bin/sh\necho simple\n' >"$P/.werffiles/start_simple.sh"
echo "chart" >"$P/.helm/Chart.yaml"
echo "print('test')" >"$P/src/main.py"
cat >"$P/werf.yaml" <<YAML
configVersion: 1
project: integration-testing
deploy:
 helmRelease: "[[ project ]]-[[ env ]]"
 namespace: "[[ env ]]"
---
image: test
from: $REG/base/debian:12
docker:
  WORKDIR: /app
  ENV:
    LC_ALL: en_US.UTF-8
    TZ: Europe/Moscow
mount:
- from: build_dir
  to: /var/cache/apt/
- from: tmp_dir
  to: /var/lib/apt/lists
git:
- add: /
  to: /app
  excludePaths:
  - .werffiles
  - .helm
  stageDependencies:
    install:
      - "**/*"
- add: /.werffiles/start_full.sh
  to: /app/start_full.sh
- add: /.werffiles/start_simple.sh
  to: /app/start_simple.sh
ansible:
  install:
  - name: Install essential utils
    apt:
      update_cache: yes
      name:
      - tzdata
      - locales
      - gnupg
      - bash
  - name: "Generate en_US.UTF-8 default locale"
    locale_gen:
      name: en_US.UTF-8
      state: present
  - name: Set timezone
    timezone:
      name: "Europe/Moscow"
  setup:
  - name: "Change rights for scripts"
    file:
      path: "{{\`{{ item }}\`}}"
      mode: a+x
    with_items:
      - /app/start_full.sh
      - /app/start_simple.sh
YAML
git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@e commit -q -m init || exit 1

test_expect_success 'the real config builds and publishes on Debian 12' '
	debian_image_push "$REG/base/debian:12" &&
	cairn_run build-and-publish --dir "$P" -i "$REG/it" --tag-plain v1 --report "$T/r1.json" \
		>"$T/out1" 2>&1 &&
	rm -rf "$T/oci" "$T/b" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/it/test:v1" "oci:$T/oci:t" &&
	umoci unpack --image "$T/oci:t" "$T/b" >/dev/null
'

test_expect_success 'the packages, the locale and the zone the tasks set are in the image' '
	R=$T/b/rootfs &&
	grep -q "^Package: tzdata$" "$R/var/lib/dpkg/status" &&
	grep -q "^Package: locales$" "$R/var/lib/dpkg/status" &&
	grep -q "^Package: gnupg$" "$R/var/lib/dpkg/status" &&
	test -f "$R/usr/lib/locale/locale-archive" &&
	grep -q "^en_US.UTF-8 UTF-8" "$R/etc/locale.gen" &&
	test "$(readlink "$R/etc/localtime")" = /usr/share/zoneinfo/Europe/Moscow &&
	test "$(cat "$R/etc/timezone")" = Europe/Moscow &&
	test -z "$(find "$R/var/lib/apt/lists" -name "*Packages*")" &&
	test -z "$(find "$R/var/cache/apt" -name "*.deb")"
'

test_expect_success 'the git entries: the project without excludePaths, two scripts made executable' '
	R=$T/b/rootfs &&
	test "$(cat "$R/app/src/main.py")" = "print('"'"'test'"'"')" &&
	test ! -e "$R/app/.werffiles" && test ! -e "$R/app/.helm" &&
	test -x "$R/app/start_full.sh" && test -x "$R/app/start_simple.sh" &&
	test "$(cat "$R/app/start_simple.sh" | tail -1)" = "echo simple" &&
	skopeo inspect --tls-verify=false "docker://$REG/it/test:v1" >"$T/i.json" &&
	python3 - "$T/i.json" <<PY
import json, sys
i = json.load(open(sys.argv[1]))
env = dict(e.split("=", 1) for e in i["Env"])
assert env["LC_ALL"] == "en_US.UTF-8" and env["TZ"] == "Europe/Moscow", env
PY
'

test_expect_success 'a project file changed: install and what follows are built again, from and gitArchive kept' '
	echo "print('"'"'two'"'"')" >"$P/src/main.py" &&
	git -C "$P" -c user.name=t -c user.email=t@e commit -q -am two &&
	cairn_run build --dir "$P" --report "$T/r2.json" >"$T/out2" 2>&1 &&
	test "$(report_stages "$T/r2.json" test true)" = "from gitArchive" &&
	test "$(report_stages "$T/r2.json" test false)" = "install setup dockerInstructions"
'

test_done
