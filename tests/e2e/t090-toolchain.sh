#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn's toolchain, assembled from the build host's Debian packages and mounted read-only at
# /.cairn/toolchain into every shell stage, as werf mounted its stapel: on busybox, a shell
# stage runs with the toolchain's bash (arrays, {a,b}, [[ ]]) and can run its python and
# ansible (a community.general module); no layer holds anything of it; it is assembled once per home and reused; a build
# whose stages are all cached never needs it; a missing host package is an error naming it,
# raised before the stage's commands run.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git dpkg-query patchelf ansible

registry_start
base_image_push "$REG/base/busybox:1"
P=$T/project
mkdir -p "$P"
git init -q "$P"

# werf_yaml EXTRA: the project's config, EXTRA one more setup command
werf_yaml () {
	cat >"$P/werf.yaml" <<YAML
project: tc
configVersion: 1
---
image: app
from: $REG/base/busybox:1
mount:
- from: build_dir
  to: /out
shell:
  install:
  - a=(one two three); echo "\${a[2]}" > /arr
  - echo {x,y}z > /brace
  - 'if [[ -n "\$BASH_VERSION" && /arr == /a* ]]; then echo bash > /shell; fi'
  - /.cairn/toolchain/bin/python3 -c 'import ansible, yaml, apt_pkg; print(ansible.__version__)' > /py
  - LOCPATH=/.cairn/toolchain/lib/locale LC_ALL=C.UTF-8 HOME=/tmp /.cairn/toolchain/bin/ansible localhost -i localhost, -c local -e ansible_python_interpreter=/.cairn/toolchain/bin/python3 -m community.general.ini_file -a "path=/etc/x.ini section=a option=b value=c"
  setup:
  - touch /out/ran
  - $1
YAML
}

# layer_entries IMAGE-LAYOUT: every path of every layer of the image (the tar listings)
layer_entries () {
	for _le_b in "$1"/blobs/sha256/*; do
		if tar -tzf "$_le_b" >/dev/null 2>&1; then
			tar -tzf "$_le_b" || return 1
		fi
	done
}

werf_yaml "echo one > /setup"
test_expect_success 'on busybox a shell stage runs with the toolchain: bash, python, ansible' '
	cairn_run build-and-publish --dir "$P" --images-repo "$REG/tc" --tag-custom v1 \
		--report "$T/r1.json" >"$T/out1" 2>&1 &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/tc/app:v1" "oci:$T/oci:app" &&
	umoci unpack --image "$T/oci:app" "$T/u" >/dev/null &&
	test "$(cat "$T/u/rootfs/arr")" = three &&
	test "$(cat "$T/u/rootfs/brace")" = "xz yz" &&
	test "$(cat "$T/u/rootfs/shell")" = bash &&
	core=$(dpkg-query -W -f "\${Version}" ansible-core) &&
	case $core in "$(cat "$T/u/rootfs/py")"*) ;; *) return 1 ;; esac &&
	test "$(cat "$T/u/rootfs/setup")" = one &&
	printf "\n[a]\nb = c\n" >"$T/ini" && test_cmp "$T/ini" "$T/u/rootfs/etc/x.ini"
'

test_expect_success 'no layer holds the toolchain, its mount point or its parent' '
	layer_entries "$T/oci" >"$T/entries" &&
	grep -q "arr\$" "$T/entries" &&
	grep -q "brace\$" "$T/entries" &&
	! grep "\.cairn" "$T/entries" &&
	test ! -e "$T/u/rootfs/.cairn"
'

test_expect_success 'cairn toolchain path and info describe the one the build used' '
	cairn_run toolchain path >"$T/path" &&
	dir=$(cat "$T/path") &&
	case $dir in "$CAIRN_HOME/toolchain/"????????????????*) ;; *) return 1 ;; esac &&
	test -x "$dir/bin/bash" && test -x "$dir/bin/python3" &&
	test "$(ls "$CAIRN_HOME/toolchain")" = "$(basename "$dir")" &&
	cairn_run toolchain info >"$T/info" &&
	grep -qx "path      $dir" "$T/info" &&
	grep -qx "mount     /.cairn/toolchain" "$T/info" &&
	grep -qx "  ansible-core $core" "$T/info" &&
	grep -qx "  bash $(dpkg-query -W -f "\${Version}" bash)" "$T/info" &&
	grep -q "^size      [0-9.]* MiB in [0-9]* files\$" "$T/info" &&
	stat -c "%i %Y" "$dir" "$dir/toolchain.json" >"$T/stamp1"
'

test_expect_success 'a new stage reuses the toolchain; the same build again is all cached' '
	werf_yaml "echo two > /setup" &&
	cairn_run build --dir "$P" --report "$T/r2.json" >"$T/out2" 2>&1 &&
	grep -q "\"cached\":false,[^}]*\"name\":\"setup\"" "$T/r2.json" &&
	stat -c "%i %Y" "$dir" "$dir/toolchain.json" >"$T/stamp2" &&
	test_cmp "$T/stamp1" "$T/stamp2" &&
	cairn_run build --dir "$P" --report "$T/r3.json" >"$T/out3" 2>&1 &&
	grep -q "\"cached\":true" "$T/r3.json" &&
	! grep -q "\"cached\":false" "$T/r3.json"
'

# A dpkg-query that has never heard of ansible-core.
mkdir -p "$T/fake"
cat >"$T/fake/dpkg-query" <<'SH'
#!/bin/sh
dpkg-query "$@" | grep -v '^ansible-core	'
SH
chmod +x "$T/fake/dpkg-query"

test_expect_success 'a missing host package fails the stage before it runs, naming it' '
	werf_yaml "echo three > /setup" &&
	find "$CAIRN_HOME/builds" -name ran -delete &&
	test_must_fail env CAIRN_DPKG_QUERY="$T/fake/dpkg-query" "$CAIRN" build --dir "$P" \
		>"$T/out4" 2>&1 &&
	grep -q "stage .setup.: assemble the toolchain: the build host lacks the Debian package .ansible-core.; install it: apt-get install ansible-core" "$T/out4" &&
	test -z "$(find "$CAIRN_HOME/builds" -name ran)" &&
	test_must_fail env CAIRN_DPKG_QUERY="$T/fake/dpkg-query" "$CAIRN" toolchain path \
		>"$T/out5" 2>&1 &&
	grep -q "apt-get install ansible-core" "$T/out5"
'

test_expect_success 'a build whose stages are all cached needs no toolchain' '
	werf_yaml "echo two > /setup" &&
	CAIRN_DPKG_QUERY="$T/fake/dpkg-query" "$CAIRN" build --dir "$P" --report "$T/r6.json" \
		>"$T/out6" 2>&1 &&
	! grep -q "\"cached\":false" "$T/r6.json"
'

test_expect_success 'two cairn processes on a new home assemble it once and share it' '
	mkdir -m 700 "$T/home2" || return 1
	CAIRN_HOME=$T/home2 "$CAIRN" toolchain path -v >"$T/p1" 2>"$T/e1" &
	p1=$!
	CAIRN_HOME=$T/home2 "$CAIRN" toolchain path -v >"$T/p2" 2>"$T/e2" &&
	wait "$p1" &&
	test_cmp "$T/p1" "$T/p2" &&
	test "$(cat "$T/e1" "$T/e2" | grep -c "assemble the toolchain")" -eq 1 &&
	test "$(ls -A "$T/home2/toolchain")" = ".lock
$(basename "$(cat "$T/p1")")"
'

test_expect_success 'cairn toolchain build assembles it again in place' '
	cairn_run toolchain build >"$T/path2" &&
	test_cmp "$T/path" "$T/path2" &&
	stat -c "%i %Y" "$dir" "$dir/toolchain.json" >"$T/stamp3" &&
	! test_cmp "$T/stamp1" "$T/stamp3" >/dev/null &&
	test "$(ls "$CAIRN_HOME/toolchain")" = "$(basename "$dir")" &&
	werf_yaml "echo four > /setup" &&
	cairn_run build --dir "$P" >"$T/out7" 2>&1
'

test_done
