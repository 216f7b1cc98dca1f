#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Publish benchmark, on local registries (fresh storage each, started here), in one run:
#   (a) a fresh host reusing the distributed stages storage: host A builds a 10-image project with
#       `--stages-storage REG/stages` (every stage built is pushed there); then host B, with an
#       empty home, runs `build-and-publish --stages-storage REG/stages --images-repo REG/prod-N
#       --tag-plain v1`. Reported: B's time against A's first build (target: at least 5x faster),
#       and the layer bytes moved during B's run (target: none): downloads are the GETs of blobs
#       in the registry's access log (their response sizes), uploads the PATCH requests, the
#       uploads completed (each PUT ?digest= names a blob, whose size the storage gives) and the
#       growth of the storage (du)
#   (b) `cairn publish` of the 10 images x 3 tags `--with-stages` into a fresh registry, against
#       skopeo copying the same references from the same store (host A's, an OCI layout) into a
#       fresh registry, 4 copies at a time. Target: cairn's time at most 0.25x skopeo's
#   (c) what a stages storage costs a build of small stages: a Dockerfile of 22 instructions
#       (8 ENV, a RUN, 8 LABEL, a COPY, a RUN, a CMD) built cold (new home) without and with
#       `--stages-storage` (a new stages repository each round), in turns
# Each image: from the busybox base of the e2e tests, a git entry, an install stage writing MiBs
# of random bytes, a setup stage. (a): 5 rounds, host A and host B in turns (each round: host A
# builds into a new stages repository, host B has a new empty home and publishes to a new
# repository from the first round's stages); (b): 5 rounds, cairn and skopeo in turns (a
# different one first each round); median, min and noise; the traffic is that of the first round.
# Each timed run starts after a sync: the previous run's writeback is not charged to it.
# Needs root (shell stages run in runc), docker-registry, skopeo, umoci, busybox-static, git,
# python3, curl, bc.
# Usage: bench/publish.sh [--quick]   (--quick: 1 MiB per stage instead of 8, one round, for a
# smoke run); BENCH_KEEP=1 keeps the work directory (registry logs, cairn's output).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

big_mib=8 git_kib=2048 rounds=5 brounds=5
if [ "${1:-}" = --quick ]; then
	big_mib=1 git_kib=256 rounds=1 brounds=1
fi
nimg=${BENCH_IMAGES:-10}

for t in docker-registry skopeo umoci git python3 curl bc runc; do
	command -v "$t" >/dev/null || { echo "bench/publish.sh: $t is missing" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-publish.XXXXXX")
pids=()
declare -A reg_pid=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	if [ "${BENCH_KEEP:-}" = 1 ]; then echo "kept $W (BENCH_KEEP=1)"; else rm -rf "$W"; fi
}
trap cleanup EXIT

echo "== building cairn (release)"
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-O2" \
	-DBUILD_TESTING=ON >/dev/null
cmake --build build/bench -j2 --target cairn >/dev/null
CAIRN=$root/build/bench/cairn

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# reg_start NAME: a registry with fresh storage and its access log on a random free port; sets
# REG (HOST:PORT), REG_LOG and REG_DATA. The port changes from run to run, so skopeo's blob info
# cache knows nothing of the new registry.
REG="" REG_LOG="" REG_DATA=""
reg_start() {
	local d port pid
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		d=$W/reg-$1
		rm -rf "$d"
		mkdir -p "$d"
		cat >"$d/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $d/data}, maintenance: {uploadpurging: {enabled: false}}}
http: {addr: 127.0.0.1:$port, secret: bench}
CFG
		env -u REGISTRY_AUTH_FILE docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break # the port was taken: another one
			if curl -fs "http://127.0.0.1:$port/v2/" >/dev/null; then
				pids+=("$pid")
				reg_pid[127.0.0.1:$port]=$pid
				REG=127.0.0.1:$port REG_LOG=$d/log REG_DATA=$d/data
				return 0
			fi
			sleep 0.05
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	echo "registry $1 did not start" >&2
	exit 1
}
# reg_stop HOST:PORT: stop a registry reg_start started
reg_stop() {
	local pid=${reg_pid[$1]} i
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for i in "${!pids[@]}"; do
		if [ "${pids[$i]}" = "$pid" ]; then unset "pids[$i]"; fi
	done
	unset "reg_pid[$1]"
}

# The base image: the e2e tests' cached layout for this busybox (tests/e2e/lib.sh,
# base_image_layout), else built here the same way (_t_busybox_build).
bb=${CAIRN_TEST_BUSYBOX:-/bin/busybox}
sum=$(sha256sum <"$bb")
base=${CAIRN_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-tests}/busybox-oci-${sum:0:16}-r1
if [ ! -f "$base/index.json" ]; then
	echo "== building the busybox base image"
	base=$W/base
	b=$W/base-bundle
	rootless=()
	[ "$(id -u)" -eq 0 ] || rootless=(--rootless)
	{
		umoci init --layout "$base"
		umoci new --image "$base:base"
		umoci unpack "${rootless[@]}" --image "$base:base" "$b"
		r=$b/rootfs
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home/app" "$r/dev" "$r/proc" "$r/sys"
		cp "$bb" "$r/bin/busybox"
		chmod 0755 "$r/bin/busybox"
		for a in sh ls cat echo mkdir rm cp mv test true false env id chown chmod ln touch sed \
			grep wc sha256sum sleep printf head tail; do
			ln -s busybox "$r/bin/$a"
		done
		printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
			'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
		printf '%s\n' 'root:x:0:' 'app:x:1000:' 'nogroup:x:65534:' >"$r/etc/group"
		chmod 1777 "$r/tmp"
		chmod 0700 "$r/root"
		[ "${#rootless[@]}" -gt 0 ] || chown 1000:1000 "$r/home/app"
		umoci repack --image "$base:base" "$b"
		umoci config --image "$base:base" --config.cmd /bin/sh \
			--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		umoci gc --layout "$base"
	} >"$W/base.log" 2>&1 || { cat "$W/base.log" >&2; exit 1; }
fi

echo "== starting the registry (stages storage, base image, publish target of (a))"
reg_start a
RA=$REG RA_LOG=$REG_LOG RA_DATA=$REG_DATA
skopeo copy -q --dest-tls-verify=false "oci:$base:base" "docker://$RA/base/busybox:1"

echo "== making a ${nimg}-image project (git: $git_kib KiB per image, install: $big_mib MiB)"
P=$W/project
for i in $(seq 0 $((nimg - 1))); do
	mkdir -p "$P/src/m$i"
	head -c "$((git_kib * 1024 / 2))" /dev/urandom >"$P/src/m$i/data.bin"
	for f in $(seq 0 49); do
		{ seq $((i * 100000 + f * 1000)) $((i * 100000 + f * 1000 + 999)) || true; } \
			>"$P/src/m$i/f$f.txt"
	done
	head -c "$((git_kib * 1024 / 2))" /dev/urandom | od -An -tx1 |
		head -c "$((git_kib * 1024 / 2))" >"$P/src/m$i/hex.txt" || true
done
{
	printf 'project: pubbench\nconfigVersion: 1\n'
	for i in $(seq 0 $((nimg - 1))); do
		cat <<YAML
---
image: img$i
from: $RA/base/busybox:1
git:
- add: /src/m$i
  to: /app
shell:
  install: [head -c $((big_mib * 1048576)) /dev/urandom > /big, echo img$i > /name]
  setup: [ls -l /app /big > /setup.txt]
YAML
	done
} >"$P/werf.yaml"
git init -q "$P"
git -C "$P" add -A
git -C "$P" -c user.name=bench -c user.email=bench@example.com commit -q -m init

# stages_built REPORT: how many stages of the report were built (not cached)
stages_built() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(1 for i in r["images"] for s in i["stages"] if not s["cached"]))' "$1"
}
# is_layer DATA DIGEST: the registry holds blob DIGEST (hex) and it is gzip (a layer; manifests
# and configs are JSON)
is_layer() {
	local f=$1/docker/registry/v2/blobs/sha256/${2:0:2}/$2/data
	[ -f "$f" ] && [ "$(head -c 2 "$f" | od -An -tx1 | tr -d ' ')" = 1f8b ]
}
blob_size() { stat -c %s "$1/docker/registry/v2/blobs/sha256/${2:0:2}/$2/data"; }

# ---- (a) -----------------------------------------------------------------------------------------
# Host A's first build, into stages repository $RA/stages (round 1: the one host B uses, and host
# A's home is kept for (b)), else $RA/stages-ROUND with a home of its own. Host B: an empty home
# each round, publishing to $RA/prod-ROUND from $RA/stages; the traffic of round 1. In turns: A1
# B1 A2 B2 ... No home or registry is removed before the script ends: files just deleted make
# ext4's inode allocation of the next runs (cairn's, the registry's) scan the inode table.
host_a() {
	local r=$1 repo=stages home=$W/a t
	[ "$r" = 1 ] || repo=stages-$r home=$W/a-$r
	echo "== (a) host A: first build, pushing every stage to $RA/$repo (round $r of $rounds)"
	sync # the previous run's writeback is not charged to this one
	t=$(now)
	CAIRN_HOME=$home "$CAIRN" build --dir "$P" --stages-storage "$RA/$repo" \
		--report "$W/a$r.json" >"$W/a$r.out" 2>&1 || { cat "$W/a$r.out" >&2; exit 1; }
	elapsed "$t"
	echo "$RES" >>"$W/ta"
}
host_b() {
	local r=$1 t
	echo "== (a) host B (empty home): build-and-publish --stages-storage (round $r of $rounds)"
	if [ "$r" = 1 ]; then
		log_lines=$(wc -l <"$RA_LOG")
		du_before=$(du -sb "$RA_DATA" | cut -f1)
		find "$RA_DATA" -path '*/blobs/sha256/*/data' | sort >"$W/blobs-before"
	fi
	sync
	t=$(now)
	CAIRN_HOME=$W/b$r "$CAIRN" build-and-publish --dir "$P" --stages-storage "$RA/stages" \
		--images-repo "$RA/prod-$r" --tag-plain v1 --report "$W/b$r.json" >"$W/b$r.out" 2>&1 ||
		{ cat "$W/b$r.out" >&2; exit 1; }
	elapsed "$t"
	echo "$RES" >>"$W/tb"
	[ "$r" = 1 ] || return 0
	sleep 0.2 # the access log line of the last request
	du_after=$(du -sb "$RA_DATA" | cut -f1)
	find "$RA_DATA" -path '*/blobs/sha256/*/data' | sort >"$W/blobs-after"
	tail -n +$((log_lines + 1)) "$RA_LOG" | grep '"[A-Z]* /v2/' >"$W/b-log" || true
}
: >"$W/ta" && : >"$W/tb"
host_a 1
a_built=$(stages_built "$W/a1.json")
a_stages=$(python3 -c 'import json,sys; print(sum(len(i["stages"]) for i in json.load(open(sys.argv[1]))["images"]))' "$W/a1.json")
n_stage_tags=$(skopeo list-tags --tls-verify=false "docker://$RA/stages" | grep -c '"image-stage-' || true)
for r in $(seq "$rounds"); do
	host_b "$r"
	[ "$r" = "$rounds" ] || host_a $((r + 1))
done
b_built=$(stages_built "$W/b1.json")
b_req=$(wc -l <"$W/b-log")
# downloads: GETs of blobs; the response size is field 10 of the combined log format
read -r get_n get_bytes < <(awk '$6 == "\"GET" && $7 ~ /\/blobs\/sha256:/ && $10 > 1000 { n++; s += $10 } END { print n + 0, s + 0 }' "$W/b-log")
read -r getall_n getall_bytes < <(awk '$6 == "\"GET" && $7 ~ /\/blobs\/sha256:/ { n++; s += $10 } END { print n + 0, s + 0 }' "$W/b-log")
get_layer_bytes=0
while read -r dg sz; do
	if is_layer "$RA_DATA" "$dg"; then get_layer_bytes=$((get_layer_bytes + sz)); fi
done < <(awk '$6 == "\"GET" && $7 ~ /\/blobs\/sha256:/ { d = $7; sub(/.*sha256:/, "", d); print d, $10 }' "$W/b-log")
# uploads: PATCH requests carry the bytes; every upload ends with PUT ...?digest=sha256:HEX, and
# the blob it names is in the storage (with its size) even when it was there already
patch_n=$(grep -c '"PATCH /v2/' "$W/b-log" || true)
up_n=0 up_bytes=0 up_layer_bytes=0
while read -r dg; do
	sz=$(blob_size "$RA_DATA" "$dg")
	up_n=$((up_n + 1)) up_bytes=$((up_bytes + sz))
	if is_layer "$RA_DATA" "$dg"; then up_layer_bytes=$((up_layer_bytes + sz)); fi
done < <(awk '$6 == "\"PUT" && $7 ~ /\/blobs\/uploads\/.*digest=sha256(%3A|:)/ && $9 ~ /^2/ { d = $7; sub(/.*digest=sha256(%3A|:)/, "", d); sub(/[&].*/, "", d); print d }' "$W/b-log")
grow=$((du_after - du_before))
new_blobs=$(comm -13 "$W/blobs-before" "$W/blobs-after" | wc -l)
layer_bytes=$((get_layer_bytes + up_layer_bytes))
published=0
for i in $(seq 0 $((nimg - 1))); do
	if skopeo inspect --raw --tls-verify=false "docker://$RA/prod-1/img$i:v1" >/dev/null; then
		published=$((published + 1))
	fi
done
ta=$(median <"$W/ta")
tb=$(median <"$W/tb")
read -r _ ta_min ta_noise <<<"$(stat3 "$W/ta")"
read -r _ tb_min tb_noise <<<"$(stat3 "$W/tb")"

# ---- (b) -----------------------------------------------------------------------------------------
# Each round, in turns (cairn first in odd rounds, skopeo first in even ones), into fresh
# registries: `cairn publish` of the images x 3 tags --with-stages from host A's home, and skopeo
# copying the same images from the same store (an OCI layout) 4 at a time: each image's last stage
# under the 3 tags, and every stage under its stage tag, the references cairn's report lists.
: >"$W/tp" && : >"$W/ts"
STORE=$W/a/store
cairn_round() {
	reg_start "p$1"
	local t
	sync # 100 MiB the previous run wrote would be flushed by this one's fsyncs
	t=$(now)
	CAIRN_HOME=$W/a "$CAIRN" publish --dir "$P" --images-repo "$REG/pub" --tag-plain a \
		--tag-plain b --tag-plain c --with-stages --report "$W/p$1.json" >"$W/p$1.out" 2>&1 ||
		{ cat "$W/p$1.out" >&2; exit 1; }
	elapsed "$t"
	echo "$RES" >>"$W/tp"
	if [ "$1" = 1 ]; then
		p_req=$(grep -c '"[A-Z]* /v2/' "$REG_LOG" || true)
		p_patch=$(grep -c '"PATCH /v2/' "$REG_LOG" || true)
		p_bytes=$(du -sb "$REG_DATA" | cut -f1)
		# what skopeo copies: "SOURCE-NAME DEST-PATH" per reference cairn wrote
		python3 - "$W/p1.json" "$REG" >"$W/refs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); host = sys.argv[2]
for im in r["images"]:
    for p in im["published"]:
        print(r["project"] + ":" + im["signature"], p["reference"][len(host) + 1:])
    for st, p in zip(im["stages"], im["stages_pushed"]):
        print(r["project"] + ":" + st["signature"], p["reference"][len(host) + 1:])
PY
		n_refs=$(wc -l <"$W/refs")
		n_img_refs=$(grep -vc ':image-stage-' "$W/refs" || true)
		n_stage_refs=$((n_refs - n_img_refs))
		# untimed: the same publish again, from a host without this one's publish records (a
		# fresh CI runner re-publishing unchanged images): the requests it takes
		local n0
		n0=$(wc -l <"$REG_LOG")
		mv "$W/a/published" "$W/a/published.round1"
		CAIRN_HOME=$W/a "$CAIRN" publish --dir "$P" --images-repo "$REG/pub" --tag-plain a \
			--tag-plain b --tag-plain c --with-stages >"$W/p1-again.out" 2>&1 ||
			{ cat "$W/p1-again.out" >&2; exit 1; }
		sleep 0.2 # the access log line of the last request
		again_req=$(tail -n +"$((n0 + 1))" "$REG_LOG" | grep -c '"[A-Z]* /v2/' || true)
		again_sent=$(tail -n +"$((n0 + 1))" "$REG_LOG" | grep -cE '"(PUT|POST|PATCH) /v2/' || true)
	fi
	reg_stop "$REG"
}
# one skopeo copy: $1 the store's name, $2 the destination path (exported for xargs)
copy_one() {
	# a registry may answer 500 to copies racing on one blob, or refuse a manifest whose blob
	# link another copy is rewriting (cairn checks the blobs and puts it again): skopeo
	# retries requests itself, and the whole copy is tried again here
	local i
	for i in 1 2 3; do
		skopeo copy -q --retry-times 3 --dest-tls-verify=false "oci:$STORE:$1" \
			"docker://$REG/$2" </dev/null && return 0
		echo "skopeo copy $1 -> $2 failed (try $i of 3)" >&2
	done
	return 1
}
skopeo_round() {
	reg_start "s$1"
	local t
	export STORE REG
	export -f copy_one
	sync
	t=$(now)
	# shellcheck disable=SC2016 # expanded by the shell xargs starts
	xargs -P 4 -L 1 bash -c 'copy_one "$0" "$1"' <"$W/refs"
	elapsed "$t"
	echo "$RES" >>"$W/ts"
	if [ "$1" = 1 ]; then
		s_req=$(grep -c '"[A-Z]* /v2/' "$REG_LOG" || true)
		s_patch=$(grep -c '"PATCH /v2/' "$REG_LOG" || true)
		s_bytes=$(du -sb "$REG_DATA" | cut -f1)
		# the same layers went up: each stage's layers are in the registry
		same=0
		while read -r name dest; do
			d1=$(skopeo inspect --tls-verify=false "docker://$REG/$dest" </dev/null |
				python3 -c 'import json,sys; print(json.load(sys.stdin)["Layers"])')
			d2=$(skopeo inspect "oci:$STORE:$name" </dev/null |
				python3 -c 'import json,sys; print(json.load(sys.stdin)["Layers"])')
			if [ "$d1" = "$d2" ]; then same=$((same + 1)); fi
		done <"$W/refs"
	fi
	reg_stop "$REG"
}
for r in $(seq "$brounds"); do
	echo "== (b) round $r of $brounds: cairn publish ${nimg} images x 3 tags --with-stages; skopeo copy 4 at a time"
	if [ $((r % 2)) = 1 ]; then
		cairn_round "$r"
		skopeo_round "$r"
	else
		skopeo_round "$r"
		cairn_round "$r"
	fi
done
tp=$(median <"$W/tp")
ts=$(median <"$W/ts")
tp_min=$(sort -g "$W/tp" | head -1)
ts_min=$(sort -g "$W/ts" | head -1)

# ---- (c) -----------------------------------------------------------------------------------------
D=$W/df
mkdir -p "$D"
{
	echo "ARG BASE"
	echo "FROM \${BASE}"
	for i in $(seq 8); do echo "ENV V$i=$i"; done
	echo "RUN echo built > /built"
	for i in $(seq 8); do echo "LABEL l$i=$i"; done
	echo "COPY f /f"
	echo "RUN cat /f"
	echo 'CMD ["sh"]'
} >"$D/Dockerfile"
echo hi >"$D/f"
df_n=0
df_build() { # df_build OUT-FILE [BUILD-OPTION...]: appends the seconds of a cold build
	local out=$1 t
	shift
	df_n=$((df_n + 1))
	sync
	t=$(now)
	CAIRN_HOME=$W/home-df$df_n "$CAIRN" build -q --dir "$D" -f Dockerfile \
		--build-arg "BASE=$RA/base/busybox:1" "$@" >/dev/null
	elapsed "$t"
	echo "$RES" >>"$out"
}
: >"$W/tc-local" && : >"$W/tc-storage"
for r in $(seq "$brounds"); do
	echo "== (c) round $r of $brounds: a 22-instruction Dockerfile, cold, without and with a stages storage"
	if [ $((r % 2)) = 1 ]; then df_build "$W/tc-local"; fi
	df_build "$W/tc-storage" --stages-storage "$RA/df-$r"
	if [ $((r % 2)) = 0 ]; then df_build "$W/tc-local"; fi
done

# ---- results --------------------------------------------------------------------------------------
verdict() { if [ "$1" = 1 ]; then echo ok; else echo MISSED; fi; }
mib() { echo "scale=1; $1 / 1048576" | bc; }
runs() { awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }' "$1"; }
what="median of $rounds rounds"
[ "$rounds" -gt 1 ] || what="1 round"
printf '\n%-58s %-34s %-10s %s\n' "case ($what)" result target verdict
printf '%-58s %-34s\n' "(a) host A first build, $nimg images, stages pushed" \
	"$(printf '%.2f s (min %.2f, noise %s; %d of %d stages built)' "$ta" "$ta_min" "$ta_noise" "$a_built" "$a_stages")"
printf '%-58s %-34s\n' "    stage tags in the stages repository" "$n_stage_tags"
printf '%-58s %-34s\n' "(a) host B build-and-publish, empty home" \
	"$(printf '%.2f s (min %.2f, noise %s; %d built, %d/%d published)' "$tb" "$tb_min" "$tb_noise" "$b_built" "$published" "$nimg")"
printf '%-58s %-34s %-10s %s\n' "    host A first build / host B" \
	"$(printf '%.1fx faster' "$(echo "$ta / $tb" | bc -l)")" ">= 5x" \
	"$(verdict "$(echo "$ta / $tb >= 5" | bc -l)")"
printf '%-58s %-34s\n' "    registry requests of host B" "$b_req"
printf '%-58s %-34s\n' "    GETs of blobs over 1000 B (all GETs of blobs)" \
	"$get_n, $get_bytes B ($getall_n, $getall_bytes B)"
printf '%-58s %-34s\n' "    PATCH requests; uploads completed" "$patch_n; $up_n, $up_bytes B"
printf '%-58s %-34s\n' "    storage growth (du -sb, directories too); new blobs" "$grow B; $new_blobs"
printf '%-58s %-34s %-10s %s\n' "    layer bytes moved (downloaded + uploaded)" \
	"$layer_bytes B ($get_layer_bytes + $up_layer_bytes)" "0" \
	"$(verdict "$([ "$layer_bytes" -eq 0 ] && echo 1)")"
printf '%-58s %-34s\n' "(b) cairn publish, $nimg images x 3 tags --with-stages" \
	"$(printf '%.2f s (min %.2f), %d requests, %d PATCH' "$tp" "$tp_min" "$p_req" "$p_patch")"
printf '%-58s %-34s\n' "    tags created (images + stages); storage" \
	"$n_refs ($n_img_refs + $n_stage_refs); $(mib "$p_bytes") MiB"
printf '%-58s %-34s\n' "    the same again from a host without publish records" \
	"$again_req requests, $again_sent PUT/POST/PATCH"
printf '%-58s %-34s\n' "(b) skopeo copy of the same $n_refs tags from the store, -P4" \
	"$(printf '%.2f s (min %.2f), %d requests, %d PATCH' "$ts" "$ts_min" "$s_req" "$s_patch")"
printf '%-58s %-34s\n' "    storage; layers as in the store" "$(mib "$s_bytes") MiB; $same of $n_refs"
printf '%-58s %-34s %-10s %s\n' "    cairn / skopeo (medians; mins)" \
	"$(printf '%.2fx; %.2fx' "$(echo "$tp / $ts" | bc -l)" "$(echo "$tp_min / $ts_min" | bc -l)")" "<= 0.25x" \
	"$(verdict "$(echo "$tp / $ts <= 0.25" | bc -l)")"
read -r cl cl_min cl_noise <<<"$(stat3 "$W/tc-local")"
read -r cs cs_min cs_noise <<<"$(stat3 "$W/tc-storage")"
printf '%-58s %-34s\n' "(c) 22-instruction Dockerfile, cold, local store only" \
	"$(printf '%.2f s (min %.2f, noise %s)' "$cl" "$cl_min" "$cl_noise")"
printf '%-58s %-34s\n' "    the same with --stages-storage" \
	"$(printf '%.2f s (min %.2f, noise %s)' "$cs" "$cs_min" "$cs_noise")"
echo
echo "runs (s): host A $(runs "$W/ta") / host B $(runs "$W/tb")"
echo "runs (s): cairn publish $(runs "$W/tp") / skopeo copy $(runs "$W/ts")"
noise() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.0f%%", 100 * (v[NR] - v[1]) / v[1] }'; }
echo "noise (max - min) / min: cairn publish $(noise "$W/tp"), skopeo $(noise "$W/ts")"
