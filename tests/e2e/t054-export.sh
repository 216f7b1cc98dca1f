#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# cairn export: a built image to docker-archive, oci-archive and oci, read back by independent
# clients (docker load + docker run, skopeo, umoci); a fresh host exports an image whose
# stages it took from the stages storage (layers pulled); bad requests are usage errors.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool dockerd docker docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

P=$T/project
S=$REG/stages
mkdir -p "$P" && git init -q "$P" || exit 1
cat >"$P/werf.yaml" <<EOF || exit 1
project: exp
configVersion: 1
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo exported-app > /app.txt]
docker:
  CMD: [cat, /app.txt]
---
image: other
from: $REG/base/busybox:1
