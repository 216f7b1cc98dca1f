#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Push benchmark: the same images, pushed to the same kind of local registry (a fresh one per
# run, so nothing is already there and nothing can be mounted from another tool's push), by
# cairn, skopeo and docker (when dockerd can be started), side by side in one run.
#   (a) one 200 MiB layer   (b) 200 small layers   (c) ten images sharing five layers
#   (d) re-push of the unchanged images of (c): requests and time
# plus cairn's peak RSS pushing a 1 GiB layer. Each case runs 5 rounds, the tools in turns (a
# different one first each round); the table gives median, min and noise ((max - min) / min) and
# the ratios of the medians to skopeo and docker.
# Usage: bench/push.sh [--quick]   (--quick: 50 MiB / 50 layers / 256 MiB, one round, for a smoke
# run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

big_mib=200 small_n=200 rss_mib=1024 rounds=5
if [ "${1:-}" = --quick ]; then
	big_mib=50 small_n=50 rss_mib=256 rounds=1
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$W/docker.pid" ] && kill "$(cat "$W/docker.pid")" 2>/dev/null
	sleep 0.5
	umount "$W"/docker-root/*/* 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

echo "== building cairn (release) and the store tool"
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-O2" \
	-DBUILD_TESTING=ON >/dev/null
cmake --build build/bench -j2 --target cairn store-tool >/dev/null
CAIRN=$root/build/bench/cairn
ST=$root/build/bench/tests/store-tool
export CAIRN_HOME=$W/home
STORE=$CAIRN_HOME/store

port=5390
reg_pid=""
# Start a registry with fresh storage; sets REG.
reg_fresh() {
	if [ -n "$reg_pid" ]; then
		kill "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
	fi
	port=$((port + 1))
	local d=$W/reg.$port
	mkdir -p "$d"
	cat >"$d/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $d/data}, maintenance: {uploadpurging: {enabled: false}}}
http: {addr: 127.0.0.1:$port, secret: bench}
CFG
	env -u REGISTRY_AUTH_FILE docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
	reg_pid=$!
	pids+=("$reg_pid")
	REG=127.0.0.1:$port
	REG_LOG=$d/log
	for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && return 0; sleep 0.05; done
	echo "registry did not start" >&2
	exit 1
}

# random_layer FILE MIB: a gzip'd tar of MIB MiB of random bytes
random_layer() {
	mkdir -p "$W/src"
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$W/src/data"
	tar -C "$W/src" -cf - data | gzip -1 >"$1"
	rm -f "$W/src/data"
}

echo "== making the images"
random_layer "$W/big.tgz" "$big_mib"
"$ST" "$STORE" put-image bench-a "$W/big.tgz" >/dev/null
small=()
for i in $(seq "$small_n"); do
	mkdir -p "$W/src"
	head -c 65536 /dev/urandom >"$W/src/data$i"
	tar -C "$W/src" -cf - "data$i" | gzip -1 >"$W/s$i.tgz"
	small+=("$W/s$i.tgz")
done
"$ST" "$STORE" put-image bench-b "${small[@]}" >/dev/null
shared=()
for i in 1 2 3 4 5; do
	random_layer "$W/l$i.tgz" 10
	shared+=("$W/l$i.tgz")
done
for i in $(seq 10); do
	random_layer "$W/u$i.tgz" 1
	"$ST" "$STORE" put-image "bench-c$i" "${shared[@]}" "$W/u$i.tgz" >/dev/null
done
random_layer "$W/huge.tgz" "$rss_mib"
"$ST" "$STORE" put-image bench-rss "$W/huge.tgz" >/dev/null
rm -f "$W"/*.tgz

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# timing functions: each pushes the case's images to a fresh registry and sets RES to seconds
cairn_case() {
	local t
	rm -rf "$STORE/.cairn/sources"
	reg_fresh
	t=$(now)
	case $1 in
	a) "$CAIRN" image push -q bench-a "$REG/a:1" >/dev/null ;;
	b) "$CAIRN" image push -q bench-b "$REG/b:1" >/dev/null ;;
	c) for i in $(seq 10); do "$CAIRN" image push -q "bench-c$i" "$REG/c$i:1" >/dev/null; done ;;
	esac
	elapsed "$t"
}

skopeo_case() {
	local t
	reg_fresh
	t=$(now)
	case $1 in
	a) skopeo copy -q --dest-tls-verify=false "oci:$STORE:bench-a" "docker://$REG/a:1" ;;
	b) skopeo copy -q --dest-tls-verify=false "oci:$STORE:bench-b" "docker://$REG/b:1" ;;
	c) for i in $(seq 10); do
		skopeo copy -q --dest-tls-verify=false "oci:$STORE:bench-c$i" "docker://$REG/c$i:1"
	done ;;
	esac
	elapsed "$t"
}

docker_ok=0
DOCK=unix://$W/docker.sock
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
	dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$W/docker-root" \
		--exec-root "$W/docker-exec" --pidfile "$W/docker.pid" -H "$DOCK" \
		>"$W/dockerd.log" 2>&1 &
	for _ in $(seq 100); do
		docker -H "$DOCK" version >/dev/null 2>&1 && { docker_ok=1; break; }
		sleep 0.2
	done
fi
docker_case() {
	local t imgs=() i
	case $1 in
	a) imgs=(a) ;;
	b) imgs=(b) ;;
	c) for i in $(seq 10); do imgs+=("c$i"); done ;;
	esac
	reg_fresh
	# loading into the engine is not timed; docker push is. The engine refuses images of
	# more than 125 layers (overlay2's depth limit): such a case reads "n/a".
	for i in "${imgs[@]}"; do
		if ! skopeo copy -q --dest-daemon-host "$DOCK" "oci:$STORE:bench-$i" \
			"docker-daemon:$REG/$i:1" >/dev/null 2>"$W/docker-load.err"; then
			RES=n/a
			return 0
		fi
	done
	t=$(now)
	for i in "${imgs[@]}"; do
		if ! docker -H "$DOCK" push -q "$REG/$i:1" >/dev/null 2>>"$W/docker-push.err"; then
			RES=n/a
			return 0
		fi
	done
	elapsed "$t"
}

tools=(cairn skopeo)
[ $docker_ok = 0 ] || tools+=(docker)
nt=${#tools[@]}
# each case: $rounds rounds, the tools in turns; a tool that cannot push the case reads n/a
for c in a b c; do
	for r in $(seq "$rounds"); do
		echo "== ($c) round $r of $rounds"
		for k in $(seq 0 $((nt - 1))); do
			tool=${tools[$(((k + r) % nt))]}
			"${tool}_case" "$c"
			if [ "$RES" = n/a ]; then touch "$W/na-$c-$tool"; else echo "$RES" >>"$W/t-$c-$tool"; fi
		done
	done
done
# (d) re-push of (c) into the registry that has it: requests per image (first round), and time
rm -rf "$STORE/.cairn/sources"
reg_fresh
for i in $(seq 10); do "$CAIRN" image push -q "bench-c$i" "$REG/c$i:1" >/dev/null; done
repush() { # repush TOOL: times the re-push of the 10 images of (c); sets RES and REQ
	local before t i
	before=$(grep -c '"[A-Z]* /v2/' "$REG_LOG")
	t=$(now)
	for i in $(seq 10); do
		if [ "$1" = cairn ]; then
			"$CAIRN" image push -q "bench-c$i" "$REG/c$i:1" >/dev/null
		else
			skopeo copy -q --dest-tls-verify=false "oci:$STORE:bench-c$i" "docker://$REG/c$i:1"
		fi
	done
	elapsed "$t"
	REQ=$(($(grep -c '"[A-Z]* /v2/' "$REG_LOG") - before))
}
for r in $(seq "$rounds"); do
	echo "== (d) round $r of $rounds"
	for tool in $([ $((r % 2)) = 1 ] && echo cairn skopeo || echo skopeo cairn); do
		repush "$tool"
		echo "$RES" >>"$W/t-d-$tool"
		[ "$r" != 1 ] || echo "$REQ" >"$W/req-$tool"
	done
done

cell() { # cell CASE TOOL: "median (min, noise)" or n/a or -
	if [ -s "$W/t-$1-$2" ]; then
		read -r m mn nz <<<"$(stat3 "$W/t-$1-$2")"
		printf '%s (%s, %s)' "$m" "$mn" "$nz"
	elif [ -e "$W/na-$1-$2" ]; then echo n/a; else echo -; fi
}
med() { [ -s "$W/t-$1-$2" ] && stat3 "$W/t-$1-$2" | cut -d' ' -f1; }
printf '\n%-34s %-20s %-20s %-20s %12s %12s\n' "case (s: median (min, noise))" cairn skopeo docker \
	cairn/skopeo cairn/docker
for c in a b c d; do
	case $c in
	a) name="(a) one ${big_mib} MiB layer" ;;
	b) name="(b) ${small_n} small layers" ;;
	c) name="(c) 10 images, 5 shared layers" ;;
	d) name="(d) re-push 10 unchanged images" ;;
	esac
	cm=$(med $c cairn)
	sm=$(med $c skopeo)
	dm=$(med $c docker || true)
	printf '%-34s %-20s %-20s %-20s %12s %12s\n' "$name" "$(cell $c cairn)" "$(cell $c skopeo)" \
		"$(cell $c docker)" "$(ratio "$cm" "$sm")x" "$([ -n "$dm" ] && echo "$(ratio "$cm" "$dm")x" || echo -)"
done
printf '%-34s %-20s %-20s (%d rounds)\n' "    (d) registry requests per image" \
	"$(echo "scale=1; $(cat "$W/req-cairn") / 10" | bc)" "$(echo "scale=1; $(cat "$W/req-skopeo") / 10" | bc)" \
	"$rounds"

# peak RSS of cairn pushing a big layer
rm -rf "$STORE/.cairn/sources"
reg_fresh
/usr/bin/time -f '%M' -o "$W/rss" "$CAIRN" image push -q bench-rss "$REG/rss:1" >/dev/null
printf '\ncairn peak RSS pushing a %d MiB layer: %.1f MiB\n' "$rss_mib" \
	"$(echo "scale=1; $(cat "$W/rss") / 1024" | bc)"
