#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No-op build time as the store's history grows: N images (1, 10, 50), all stages cached, in a
# home whose index.json also names the stages of 0, 10 and 30 earlier builds (3 names per image
# per build, added to index.json as another cairn's earlier builds would have left them).
# 5 rounds per cell (with CAIRN_OLD, the two binaries in turns, a different one first each round):
# median, min and noise ((max - min) / min). CAIRN_OLD=PATH adds a column for another cairn binary
# (to compare before and after a change). Target (issue "Performance"): 50 images x 30 builds under 60 ms,
# and flat as history grows. Needs root, docker-registry, skopeo, umoci, busybox-static, git,
# python3, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cmake --preset release >/dev/null && cmake --build --preset release >/dev/null
NEW=$root/build/release/cairn
OLD=${CAIRN_OLD:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-history.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$W/r.yml" <<Y
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/registry}}
http: {addr: $REG, secret: bench}
Y
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/r.yml" >/dev/null 2>&1 &
rp=$!
trap 'kill $rp; rm -rf "$W"' EXIT
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
umoci init --layout "$W/oci" && umoci new --image "$W/oci:base"
umoci unpack --image "$W/oci:base" "$W/b" >/dev/null
mkdir -p "$W/b/rootfs/bin"
cp /bin/busybox "$W/b/rootfs/bin/"
for a in sh echo; do ln -s busybox "$W/b/rootfs/bin/$a"; done
umoci repack --image "$W/oci:base" "$W/b" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$W/oci:base" "docker://$REG/base:1"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
rounds=5
once() { # once BINARY PROJECT FILE: appends the seconds of one no-op build
	local s
	s=$(now)
	"$1" build --dir "$2" -q
	echo "$(now) - $s" | bc >>"$3"
}
cell() { # cell PROJECT: "median min noise" of $NEW and of $OLD into NEW_CELL, OLD_CELL
	: >"$W/new" && : >"$W/old"
	for r in $(seq "$rounds"); do
		if [ -n "$OLD" ] && [ $((r % 2)) = 0 ]; then once "$OLD" "$1" "$W/old"; fi
		once "$NEW" "$1" "$W/new"
		if [ -n "$OLD" ] && [ $((r % 2)) = 1 ]; then once "$OLD" "$1" "$W/old"; fi
	done
	NEW_CELL=$(stat3 "$W/new" 3)
	OLD_CELL=""
	[ -z "$OLD" ] || OLD_CELL=$(stat3 "$W/old" 3)
}

printf '%-8s %-9s %-7s %-22s %s\n' images history names "cairn (s)" "${OLD:+CAIRN_OLD (s)}"
for n in 1 10 50; do
	P=$W/p$n
	export CAIRN_HOME=$W/home$n
	mkdir -p "$P" && git -C "$P" init -q
	printf 'project: hist\nconfigVersion: 1\n' >"$P/werf.yaml"
	for i in $(seq "$n"); do
		printf -- '---\nimage: i%s\nfrom: %s/base:1\nshell:\n  install: [echo %s > /i]\n' \
			"$i" "$REG" "$i" >>"$P/werf.yaml"
	done
	git -C "$P" add -A && git -C "$P" -c user.name=b -c user.email=b@example.com commit -qm i
	"$NEW" build --dir "$P" -q
	for hist in 0 10 30; do
		python3 - "$CAIRN_HOME/store/index.json" "$hist" "$n" <<'PY'
import json, sys, secrets
p, hist, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
idx = json.load(open(p))
real = [m for m in idx["manifests"]
        if not m["annotations"]["org.opencontainers.image.ref.name"].startswith("hist:old")]
extra = []
for _ in range(hist * n * 3):
    e = dict(real[-1])
    e["annotations"] = {"org.opencontainers.image.ref.name": "hist:old" + secrets.token_hex(28)}
    extra.append(e)
idx["manifests"] = extra + real
json.dump(idx, open(p, "w"))
PY
		names=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["manifests"]))' \
			"$CAIRN_HOME/store/index.json")
		cell "$P"
		printf '%-8s %-9s %-7s %-22s %s\n' "$n" "$hist" "$names" "$NEW_CELL" "$OLD_CELL"
	done
done
echo "(median, min, noise over $rounds rounds)"
