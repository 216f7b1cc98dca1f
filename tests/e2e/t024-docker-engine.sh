#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# A real Docker engine pulls and runs an image that cairn pushed, and pulls one cairn pulled and
# pushed on to another repository (mounted blobs). The engine is a private dockerd (own socket,
# data root, no networking setup) started by the test.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool dockerd docker docker-registry skopeo runc git

registry_start
base_image_push "$REG/base/busybox:1"

test_expect_success 'the private docker engine starts' '
	docker_engine_start
'

test_expect_success 'cairn pulls the base image and pushes it to a new repository' '
	"$CAIRN" image pull -q "$REG/base/busybox:1" >"$T/pulled" &&
	"$CAIRN" image push -q "$REG/base/busybox:1" "$REG/cairn/app:v1" >"$T/pushed" &&
	test_cmp "$T/pulled" "$T/pushed" &&
	test "$(manifest_digest "$REG/cairn/app:v1")" = "$(cat "$T/pushed")"
'

test_expect_success 'docker pull gets the same digest cairn pushed' '
	docker_cmd pull -q "$REG/cairn/app:v1" >/dev/null &&
	docker_cmd image inspect --format "{{index .RepoDigests 0}}" "$REG/cairn/app:v1" >"$T/rd" &&
	test "$(cat "$T/rd")" = "$REG/cairn/app@$(cat "$T/pushed")"
'

test_expect_success 'docker runs the image cairn pushed' '
	docker_cmd run --rm --network none "$REG/cairn/app:v1" /bin/busybox echo hello-from-cairn \
		>"$T/run.out" &&
	test "$(cat "$T/run.out")" = hello-from-cairn
'

test_expect_success 'docker pulls and runs an image cairn built and published (schema 2)' '
	mkdir -p "$T/proj" && git init -q "$T/proj" &&
	printf "project: dock\nconfigVersion: 1\n---\nimage: web\nfrom: %s/base/busybox:1\nshell:\n  install: [echo built-by-cairn > /msg]\ndocker:\n  CMD: [\"/bin/cat\", \"/msg\"]\n" \
		"$REG" >"$T/proj/werf.yaml" &&
	git -C "$T/proj" add -A &&
	git -C "$T/proj" -c user.name=t -c user.email=t@example.com commit -q -m init &&
	"$CAIRN" build-and-publish -q --dir "$T/proj" --images-repo "$REG/dock" --tag-plain v1 &&
	docker_cmd pull -q "$REG/dock/web:v1" >/dev/null &&
	test "$(docker_cmd run --rm --network none "$REG/dock/web:v1")" = built-by-cairn &&
	docker_cmd image inspect --format "{{index .Config.Labels \"cairn-project\"}}" \
		"$REG/dock/web:v1" | grep -qx dock
'

test_done
