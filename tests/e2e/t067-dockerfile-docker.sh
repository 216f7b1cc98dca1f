#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A corpus of Dockerfiles (tests/data/dockerfile: ARG/ENV substitution, a node-like build,
# .dockerignore rules, multi-stage ownership and config) built by `cairn build-and-publish
# --dockerfile` and, where a Docker engine is installed (always in CI), by `docker build` with
# the classic builder: the two images hold the same files (type, mode, owner, content) and the
# same config (env, user, workdir, entrypoint, cmd, ports, volumes, labels, healthcheck).
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
: "${CAIRN_TEST_DATA:?set CAIRN_TEST_DATA to tests/data}"
require_tool docker-registry skopeo umoci runc python3

registry_start
base_image_push "$REG/base/busybox:1"
BASE="$REG/base/busybox:1"
export BASE
if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
	docker_engine_start
	HAVE_DOCKER=1
else
	HAVE_DOCKER=
fi
export HAVE_DOCKER

# cairn_image NAME: build and publish the corpus entry NAME as $REG/cmp-NAME:cairn
cairn_image() {
	rm -rf "${T:?}/$1" && cp -r "$CAIRN_TEST_DATA/dockerfile/$1" "$T/$1" || return 1
	if ! "$CAIRN" build-and-publish --dir "$T/$1" --dockerfile Dockerfile \
		--build-arg "BASE=$BASE" --images-repo "$REG/cmp-$1" --tag-custom cairn \
		>"$T/$1.out" 2>&1; then
		cat "$T/$1.out"
		return 1
	fi
	image_check "$REG/cmp-$1:cairn"
}

# same_as_docker NAME [TARGET [REF]]: docker build of the same context (the stage TARGET); the
# image compared with cairn's (REF, default $REG/cmp-NAME:cairn)
same_as_docker() {
	[ -n "$HAVE_DOCKER" ] || return 0
	if ! DOCKER_BUILDKIT=0 docker_cmd build -q --network none --build-arg "BASE=$BASE" \
		${2:+--target "$2"} -t "cmp-$1:docker" "$T/$1" >"$T/$1.docker.out" 2>&1; then
		cat "$T/$1.docker.out"
		return 1
	fi
	cairn_ref=${3:-$REG/cmp-$1:cairn}
	docker_cmd pull -q "$cairn_ref" >/dev/null &&
		for w in cairn docker; do
			ref="cmp-$1:$w"
			[ "$w" = cairn ] && ref=$cairn_ref
			docker_cmd image inspect "$ref" >"$T/$1.$w.json" &&
				id=$(docker_cmd create "$ref" /bin/true) &&
				docker_cmd export "$id" >"$T/$1.$w.tar" &&
				docker_cmd rm "$id" >/dev/null || return 1
		done &&
		python3 "$E2E_DIR/tools/image_diff.py" "$T/$1.cairn.json" "$T/$1.cairn.tar" \
			"$T/$1.docker.json" "$T/$1.docker.tar"
}

# seen NAME PATH: a file of the cairn image
seen() {
	rm -rf "$T/u-$1" &&
		skopeo copy -q --src-tls-verify=false "docker://$REG/cmp-$1:cairn" "oci:$T/oci-$1:x" &&
		umoci unpack --image "$T/oci-$1:x" "$T/u-$1" >/dev/null 2>&1
}

# an ENV sees the variables as they were before it (docker: "def=\$abc" in the ENV that sets abc
# takes the old abc): PLAIN is unset for ALTERNATE and BRACES
test_expect_success 'ARG and ENV substitution: values, defaults, alternatives, escapes' '
	cairn_image subst && seen subst &&
	test "$(cat "$T/u-subst/rootfs/work/seen")" = "plain|two words|\$NOT_EXPANDED|fallback|was-empty|unset|||\$PLAIN|prepost|plain-fallback|global-default|fallback|/work/sub/other" &&
	same_as_docker subst
'

test_expect_success 'a node-like build: lockfile, sources, a user of its own' '
	cairn_image node && seen node &&
	test "$(cat "$T/u-node/rootfs/srv/node_modules/.installed")" = 1.0.0-lock &&
	test "$(stat -c "%u:%g %a" "$T/u-node/rootfs/srv/bundle.js")" = "1001:1001 640" &&
	same_as_docker node
'

test_expect_success '.dockerignore: patterns, exceptions, directories' '
	cairn_image ignore && seen ignore &&
	r="$T/u-ignore/rootfs" &&
	test -f "$r/ctx/a.txt" && test -f "$r/ctx/important.log" && test -f "$r/ctx/docs/deep/y.md" &&
	! test -e "$r/ctx/debug.log" && ! test -e "$r/ctx/secret.txt" &&
	! test -e "$r/ctx/build" && ! test -e "$r/ctx/docs/deep/x.tmp" &&
	test "$(ls "$r/glob")" = "a.txt
b.txt" &&
	test -f "$r/docs-only/readme.md" &&
	same_as_docker ignore
'

test_expect_success 'multi-stage: owners, modes, SHELL, HEALTHCHECK, shell-form ENTRYPOINT' '
	cairn_image multi && seen multi &&
	r="$T/u-multi/rootfs" &&
	test "$(stat -c "%u:%g" "$r/opt/tree/sub/leaf")" = 2000:2000 &&
	test "$(stat -c "%u:%g" "$r/etc/app/config.ini")" = 2000:2000 &&
	test "$(stat -c "%a" "$r/usr/local/bin/run.sh")" = 755 &&
	same_as_docker multi
'

test_expect_success 'a werf guide'"'"'s multi-target Dockerfile: COPY --from globs and directories' '
	cairn_image guides && seen guides &&
	r="$T/u-guides/rootfs" &&
	test "$(ls "$r/www/static")" = "about.html
index.html
main.js" &&
	test -f "$r/etc/nginx/nginx.conf" &&
	same_as_docker guides
'

test_expect_success 'the guide'"'"'s werf.yaml: one Dockerfile, two targets, from the commit' '
	git -C "$T/guides" init -q && git -C "$T/guides" add -A &&
	git -C "$T/guides" -c user.name=t -c user.email=t@example.com commit -q -m init &&
	"$CAIRN" build-and-publish --dir "$T/guides" --images-repo "$REG/guides" --tag-custom v1 \
		>"$T/guides-werf.out" 2>&1 &&
	rm -rf "$T/gb" && skopeo copy -q --src-tls-verify=false "docker://$REG/guides/backend:v1" \
		"oci:$T/oci-gb:x" && umoci unpack --image "$T/oci-gb:x" "$T/gb" >/dev/null 2>&1 &&
	test "$(ls "$T/gb/rootfs/app/dist")" = "about.html
index.html" &&
	test "$(stat -c %a "$T/gb/rootfs/app/bin/www")" = 755 &&
	test -f "$T/gb/rootfs/app/routes/index.js" &&
	test "$(cat "$T/gb/rootfs/app/node_modules/.production")" = "$(cat "$T/guides/package.json")" &&
	same_as_docker guides backend "$REG/guides/backend:v1"
'

test_done
