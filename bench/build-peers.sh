#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cairn against `docker build` (classic builder) and `buildah bud` on the same image: a werf.yaml
# for cairn, the Dockerfile that does the same for the others (and for cairn too, as werf.yaml
# Dockerfile images: "cairn-df"), from the same busybox base (the e2e tests' layout: a local
# registry for cairn and buildah, loaded into the engine for docker).
# Each image: the dependency file copied and "installed" (a RUN over it), then the sources
# copied and "built" (a RUN over them), an ENV. Projects: 1 image on 2,000 files, 1 image on
# 20,000 files, 10 images on 200 files each. Operations, in this order each round:
#   cold      empty caches (cairn: a home without stages, layers or base images, its toolchain
#             kept; docker: builder cache and images removed; buildah: containers and images
#             removed); every tool keeps the base image or its toolchain, none pulls from afar
#   no-op     the same build again
#   source    one source file changed (a commit for cairn): the sources' COPY/RUN again
#   deps      the dependency file changed: everything after the base again
# Every cell runs in every round, the tools in turns (the first tool of a round rotates), and
# the table gives the median and min over the rounds and the noise ((max - min) / min).
# Needs root, docker-registry, skopeo, git, python3, bc, runc; dockerd and buildah are installed
# with apt-get when missing (docker.io, buildah).
# Usage: bench/build-peers.sh [--quick]   (--quick: the 2,000-file project, 1 round)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rounds=5 projects=(one-2k one-20k ten)
if [ "${1:-}" = --quick ]; then
	rounds=1 projects=(one-2k)
fi

for t in docker-registry skopeo git python3 bc runc; do
	command -v "$t" >/dev/null || { echo "bench/build-peers.sh: $t is missing" >&2; exit 1; }
done
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v buildah >/dev/null || need+=(buildah)
if [ "${#need[@]}" -gt 0 ]; then
	echo "== installing ${need[*]}"
	apt-get install -y -qq "${need[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-peers.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	buildah --root "$W/buildah" --runroot "$W/buildah-run" rm --all >/dev/null 2>&1 || true
	umount "$W"/docker-root/*/* "$W"/buildah/*/* "$W"/docker-exec/netns/* 2>/dev/null || true
	umount -R "$W/buildah" 2>/dev/null || true
	rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT

echo "== building cairn (release)"
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-O2" \
	-DBUILD_TESTING=ON >/dev/null
cmake --build build/bench -j2 --target cairn >/dev/null
CAIRN=$root/build/bench/cairn

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

echo "== starting a registry, dockerd, and loading the busybox base everywhere"
port=5381
mkdir -p "$W/reg"
cat >"$W/reg/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/reg/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
CFG
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/reg/config.yml" >"$W/reg/log" 2>&1 &
pids+=("$!")
REG=127.0.0.1:$port
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.05; done
DOCK=unix://$W/docker.sock
dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$W/docker-root" \
	--exec-root "$W/docker-exec" --pidfile "$W/docker.pid" -H "$DOCK" >"$W/dockerd.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do docker -H "$DOCK" version >/dev/null 2>&1 && break; sleep 0.2; done
dk() { DOCKER_BUILDKIT=0 docker -H "$DOCK" "$@"; }
BA=(buildah --root "$W/buildah" --runroot "$W/buildah-run" --storage-driver overlay)

bb=${CAIRN_TEST_BUSYBOX:-/bin/busybox}
sum=$(sha256sum <"$bb")
base=${CAIRN_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-tests}/busybox-oci-${sum:0:16}-r1
[ -f "$base/index.json" ] || {
	echo "bench/build-peers.sh: no busybox base layout at $base: run the e2e tests once" >&2
	exit 1
}
skopeo copy -q --dest-tls-verify=false "oci:$base:base" "docker://$REG/base/busybox:1"
skopeo copy -q "oci:$base:base" "docker-daemon:bench/busybox:1" --dest-daemon-host "$DOCK"

# make_project DIR IMAGES FILES: IMAGES images, each on FILES files of its own (src/mI), a git
# repository with a werf.yaml, and Dockerfile.mI for the others
make_project() {
	local d=$1 images=$2 files=$3 i
	mkdir -p "$d"
	python3 - "$d" "$images" "$files" <<'PY'
import os, random, sys
d, images, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(11)
for m in range(images):
    for i in range(files):
        sub = os.path.join(d, "src", "m%d" % m, "d%03d" % (i // 100))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "f%05d.txt" % i), "w") as f:
            f.write("module %d file %d %d\n" % (m, i, rnd.getrandbits(64)) * 40)
    with open(os.path.join(d, "deps-m%d.txt" % m), "w") as f:
        f.write("".join("dep-%d==1.%d\n" % (k, k) for k in range(50)))
PY
	{
		printf 'project: peers\nconfigVersion: 1\n'
		for i in $(seq 0 $((images - 1))); do
			cat <<YAML
---
image: m$i
from: $REG/base/busybox:1
git:
- add: /
  to: /app
  includePaths: [deps-m$i.txt, src/m$i]
  stageDependencies:
    install: [deps-m$i.txt]
    setup: [src/m$i/**/*]
shell:
  install: [wc -l /app/deps-m$i.txt > /deps-count]
  setup: [ls -R /app/src | wc -l > /count]
docker:
  ENV: {MODE: prod}
YAML
			cat >"$d/Dockerfile.m$i" <<DF
ARG BASE=bench/busybox:1
FROM \${BASE}
COPY deps-m$i.txt /app/deps-m$i.txt
RUN wc -l /app/deps-m$i.txt > /deps-count
COPY src/m$i /app/src/m$i
RUN ls -R /app/src | wc -l > /count
ENV MODE=prod
DF
		done
	} >"$d/werf.yaml"
	{
		printf 'project: peers-df\nconfigVersion: 1\n'
		for i in $(seq 0 $((images - 1))); do
			printf -- '---\nimage: m%s\ndockerfile: Dockerfile.m%s\n' "$i" "$i"
			printf 'args:\n  BASE: %s\n' "$REG/base/busybox:1"
		done
	} >"$d/werf-df.yaml"
	printf '.git\nwerf*.yaml\nDockerfile.*\n' >"$d/.dockerignore"
	git init -q "$d"
	git -C "$d" add -A
	git -C "$d" -c user.name=b -c user.email=b@example.com commit -q -m init
}

# build TOOL DIR IMAGES: one build of every image of the project with TOOL
build() {
	local tool=$1 d=$2 images=$3 i
	case $tool in
	cairn) CAIRN_HOME=$W/home "$CAIRN" build -q --dir "$d" >/dev/null ;;
	cairn-df) CAIRN_HOME=$W/home-df "$CAIRN" build -q --dir "$d" --config werf-df.yaml >/dev/null ;;
	docker)
		for i in $(seq 0 $((images - 1))); do
			dk build -q --network host -f "$d/Dockerfile.m$i" -t "peers/m$i" "$d" >/dev/null
		done
		;;
	buildah)
		for i in $(seq 0 $((images - 1))); do
			"${BA[@]}" bud -q --isolation oci --network host --layers \
				--tls-verify=false -f "$d/Dockerfile.m$i" -t "peers/m$i" "$d" >/dev/null
		done
		;;
	esac
}
# reset TOOL: empty caches
reset() {
	case $1 in
	cairn | cairn-df) # the toolchain stays, as the peers keep their base image
		local h=$W/home
		[ "$1" = cairn ] || h=$W/home-df
		find "$h" -mindepth 1 -maxdepth 1 ! -name toolchain -exec rm -rf {} + 2>/dev/null ||
			true
		;;
	docker)
		dk image ls -q "peers/*" | xargs -r docker -H "$DOCK" rmi -f >/dev/null 2>&1 || true
		dk builder prune -af >/dev/null 2>&1 || true
		;;
	buildah)
		"${BA[@]}" rm --all >/dev/null 2>&1 || true
		"${BA[@]}" images -q | grep -v "^$("${BA[@]}" images -q bench/busybox:1 2>/dev/null || echo none)" |
			xargs -r "${BA[@]}" rmi -f >/dev/null 2>&1 || true
		;;
	esac
}
# change DIR KIND ROUND: a source file or the dependency file of m0 changed (and committed)
change() {
	local d=$1 kind=$2 r=$3
	if [ "$kind" = source ]; then
		echo "changed $r $RANDOM" >>"$d/src/m0/d000/f00000.txt"
	else
		echo "dep-new-$r==$RANDOM" >>"$d/deps-m0.txt"
	fi
	git -C "$d" -c user.name=b -c user.email=b@example.com commit -q -am "$kind $r"
}

# buildah needs the base in its storage once (pulled, never removed)
"${BA[@]}" pull -q --tls-verify=false "docker://$REG/base/busybox:1" >/dev/null
"${BA[@]}" tag "$REG/base/busybox:1" bench/busybox:1

tools=(cairn cairn-df docker buildah)
for p in "${projects[@]}"; do
	case $p in
	one-2k) images=1 files=2000 ;;
	one-20k) images=1 files=20000 ;;
	ten) images=10 files=200 ;;
	esac
	D=$W/$p
	echo "== $p: $images image(s), $files files each"
	make_project "$D" "$images" "$files"
	for r in $(seq "$rounds"); do
		for k in 0 1 2 3; do
			tool=${tools[$(((k + r) % 4))]}
			echo "   round $r: $tool"
			reset "$tool"
			for op in cold no-op source deps; do
				[ "$op" = source ] || [ "$op" = deps ] && change "$D" "$op" "$r-$tool"
				t=$(now)
				build "$tool" "$D" "$images"
				echo "$(now) - $t" | bc >>"$W/t-$p-$op-$tool"
			done
		done
	done
done

# ---- results --------------------------------------------------------------------------------------
what="median, min, noise over $rounds rounds (s)"
printf '\n%-10s %-7s %-20s %-20s %-20s %-20s %s\n' project op "cairn" "cairn-df" "docker build" \
	"buildah bud" "cairn-df/docker cairn-df/buildah (medians)"
for p in "${projects[@]}"; do
	for op in cold no-op source deps; do
		read -r mf _ _ <<<"$(stat3 "$W/t-$p-$op-cairn-df")"
		read -r md _ _ <<<"$(stat3 "$W/t-$p-$op-docker")"
		read -r mb _ _ <<<"$(stat3 "$W/t-$p-$op-buildah")"
		printf '%-10s %-7s %-20s %-20s %-20s %-20s %.2fx %.2fx\n' "$p" "$op" \
			"$(stat3 "$W/t-$p-$op-cairn")" "$(stat3 "$W/t-$p-$op-cairn-df")" \
			"$(stat3 "$W/t-$p-$op-docker")" "$(stat3 "$W/t-$p-$op-buildah")" \
			"$(echo "$mf / $md" | bc -l)" "$(echo "$mf / $mb" | bc -l)"
	done
done
echo "($what; docker 'DOCKER_BUILDKIT=0', buildah 'bud --layers', one build per image)"
