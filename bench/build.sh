#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build benchmark, on a local registry holding the busybox base image of the e2e tests:
#   (a) a no-op build (every stage cached) of a 10-image project on a repository of 20,000 files,
#       each image with a git entry (its own excludePaths), a stageDependencies pattern, a shell
#       stage and a docker ENV: wall time (hyperfine when installed, else 10 timed runs), target
#       under 150 ms; and, from one run under strace, the files of the work tree cairn opens
#       (target: none but werf.yaml: cairn reads git objects, not the work tree)
#   (b) the gitArchive stage of a 300 MiB tree (half incompressible, half text) against
#       `git archive HEAD | pigz -p2 >/dev/null` on the same repository in the same run: target
#       cairn at least 0.8x the speed (its time at most 1.25x)
#   (c) the CPU of a cold build (git entry, install and setup shell stages) of 2,000 files of
#       4 KiB and of 20,000 files of 15 KiB (300 MiB); with CAIRN_OLD=PATH, against that binary,
#       interleaved: target at most 0.70x its CPU
#   (d) a cold build of 10 independent images (100 files and two shell stages each): the default
#       --jobs (images side by side), -j 1, and CAIRN_OLD: target at most 0.70x its time
# Needs root (shell stages run in runc), docker-registry, skopeo, umoci, busybox-static, git,
# strace, python3, bc, and pigz (installed with apt-get when missing).
# Usage: bench/build.sh [--quick]   (--quick: 2,000 files and 30 MiB, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

nfiles=20000 big_mib=300 runs=10
if [ "${1:-}" = --quick ]; then
	nfiles=2000 big_mib=30 runs=5
fi

for t in docker-registry skopeo umoci git strace python3 bc runc; do
	command -v "$t" >/dev/null || { echo "bench/build.sh: $t is missing" >&2; exit 1; }
done
if ! command -v pigz >/dev/null; then
	echo "== installing pigz"
	apt-get install -y -qq pigz >/dev/null || { apt-get update -qq && apt-get install -y -qq pigz >/dev/null; }
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-build.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

echo "== building cairn (release)"
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-O2" \
	-DBUILD_TESTING=ON >/dev/null
cmake --build build/bench -j2 --target cairn >/dev/null
CAIRN=$root/build/bench/cairn
export CAIRN_HOME=$W/home

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
rounds=5

echo "== starting a registry and pushing the busybox base image"
port=5380
d=$W/reg
mkdir -p "$d"
cat >"$d/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $d/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
CFG
env -u REGISTRY_AUTH_FILE docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
pids+=("$!")
REG=127.0.0.1:$port
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.05; done
curl -fs "http://$REG/v2/" >/dev/null || { echo "registry did not start" >&2; exit 1; }

# The base image: the e2e tests' cached layout for this busybox (tests/e2e/lib.sh,
# base_image_layout), else built the same way here.
bb=${CAIRN_TEST_BUSYBOX:-/bin/busybox}
sum=$(sha256sum <"$bb")
base=${CAIRN_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-tests}/busybox-oci-${sum:0:16}-r1
if [ ! -f "$base/index.json" ]; then
	base=$W/base
	b=$W/base-bundle
	rootless=()
	[ "$(id -u)" -eq 0 ] || rootless=(--rootless)
	{
		umoci init --layout "$base"
		umoci new --image "$base:base"
		umoci unpack "${rootless[@]}" --image "$base:base" "$b"
		mkdir -p "$b/rootfs/bin" "$b/rootfs/etc" "$b/rootfs/tmp" "$b/rootfs/root"
		cp "$bb" "$b/rootfs/bin/busybox"
		for a in sh ls cat echo mkdir rm cp mv test true false env id chown chmod ln touch sed \
			grep wc sha256sum sleep printf head tail; do
			ln -s busybox "$b/rootfs/bin/$a"
		done
		printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
			>"$b/rootfs/etc/passwd"
		printf '%s\n' 'root:x:0:' 'app:x:1000:' >"$b/rootfs/etc/group"
		chmod 1777 "$b/rootfs/tmp"
		umoci repack --image "$base:base" "$b"
		umoci config --image "$base:base" --config.cmd /bin/sh \
			--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	} >"$W/base.log" 2>&1 || { cat "$W/base.log" >&2; exit 1; }
fi
skopeo copy -q --dest-tls-verify=false "oci:$base:base" "docker://$REG/base/busybox:1"

gitc() { git -C "$1" -c user.name=bench -c user.email=bench@example.com "${@:2}"; }

# ---- (a) no-op build -----------------------------------------------------------------------------
echo "== (a) making a repository of $nfiles files and a 10-image werf.yaml"
R=$W/repo
mkdir -p "$R"
per_dir=100
dirs_per_mod=$((nfiles / 10 / per_dir))
for m in $(seq 0 9); do
	for dd in $(seq 0 $((dirs_per_mod - 1))); do
		mkdir -p "$R/src/m$m/d$dd"
		for f in $(seq 0 $((per_dir - 1))); do
			printf 'module %d dir %d file %d\n%s\n' "$m" "$dd" "$f" "$RANDOM$RANDOM" \
				>"$R/src/m$m/d$dd/f$f.txt"
		done
	done
done
{
	printf 'project: bench\nconfigVersion: 1\n'
	for i in $(seq 0 9); do
		j=$(((i + 1) % 10))
		cat <<YAML
---
image: img$i
from: $REG/base/busybox:1
git:
- add: /
  to: /app
  excludePaths: ["src/m$j/d1", "**/*.log"]
  stageDependencies:
    install: ["src/m$i/d0/*.txt"]
shell:
  install: [ls /app/src/m$i/d0 | wc -l > /count]
docker:
  ENV: {IMAGE: img$i}
YAML
	done
} >"$R/werf.yaml"
git init -q "$R"
gitc "$R" add -A
gitc "$R" commit -q -m init
echo "== (a) first build (not timed)"
t=$(now)
"$CAIRN" build -q --dir "$R" >"$W/a-first.log" 2>&1 || { cat "$W/a-first.log" >&2; exit 1; }
elapsed "$t"
printf '   first build: %.2fs\n' "$RES"
"$CAIRN" build -q --dir "$R" --report "$W/a-report.json"
python3 - "$W/a-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
built = [(i["name"], s["name"]) for i in r["images"] for s in i["stages"] if not s["cached"]]
assert len(r["images"]) == 10 and not built, built
PY

echo "== (a) timing the no-op build"
if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 2 --runs "$runs" --export-json "$W/hf.json" \
		"$CAIRN build -q --dir $R" >/dev/null
	read -r mean min n < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["mean"], r["min"], len(r["times"]))' "$W/hf.json")
	how=hyperfine
else
	"$CAIRN" build -q --dir "$R" # warm-up
	: >"$W/times"
	for _ in $(seq "$runs"); do
		t=$(now)
		"$CAIRN" build -q --dir "$R"
		elapsed "$t"
		echo "$RES" >>"$W/times"
	done
	read -r mean min n < <(awk 'NR == 1 || $1 < m { m = $1 } { s += $1 } END { print s / NR, m, NR }' "$W/times")
	how="date loop"
fi

echo "== (a) strace of one no-op build"
(cd "$W" && strace -f -y -e trace=openat -o "$W/strace.txt" "$CAIRN" build -q --dir "$R")
# successful opens (strace -y shows the opened file's path after the returned fd), under the work
# tree but not .git/; werf.yaml is the config and has to be read
grep -o '= [0-9]*<[^>]*>$' "$W/strace.txt" | sed 's/^= [0-9]*<\(.*\)>$/\1/' |
	grep "^$R/" | grep -v "^$R/\.git/" | sort -u >"$W/opened" || true
grep -v "^$R/werf.yaml$" "$W/opened" >"$W/opened-src" || true
n_open=$(wc -l <"$W/opened-src")
n_dep=$(grep -c "^$R/src/m[0-9]/d0/[^/]*\.txt$" "$W/opened-src" || true)
n_other=$((n_open - n_dep))
n_git=$(grep -o '= [0-9]*<[^>]*>$' "$W/strace.txt" | grep -c "<$R/\.git/" || true)

# ---- (b) gitArchive of a big tree -----------------------------------------------------------------
echo "== (b) making a repository of $big_mib MiB"
B=$W/big
mkdir -p "$B/bin" "$B/text" "$B/hex"
half=$((big_mib / 2))
for i in $(seq 1 $((half / 2))); do # incompressible: 2 MiB random files
	head -c 2M /dev/urandom >"$B/bin/r$i.bin"
done
for i in $(seq 1 $((half / 2))); do # compressible text: 1 MiB of numbers, 1 MiB of hex dump
	{ seq $((i * 1000000)) $((i * 1000000 + 200000)) || true; } | head -c 1M >"$B/text/n$i.txt"
	{ head -c 400k /dev/urandom | od -An -tx1 || true; } | head -c 1M >"$B/hex/h$i.txt"
done
cat >"$B/werf.yaml" <<YAML
project: bigbench
configVersion: 1
---
image: big
from: $REG/base/busybox:1
git:
- add: /
  to: /app
YAML
git init -q "$B"
gitc "$B" add -A
gitc "$B" commit -q -m big
tree_mib=$(du -sm --exclude=.git "$B" | cut -f1)

echo "== (b) timing gitArchive and git archive | pigz -p2 ($rounds runs each, alternating)"
git -C "$B" archive HEAD >/dev/null # warm the page cache for both
: >"$W/b-cairn" && : >"$W/b-git"
for r in $(seq "$rounds"); do
	CAIRN_HOME=$W/home-b$r "$CAIRN" build -q --dir "$B" --report "$W/b$r.json"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([s["seconds"] for s in r["images"][0]["stages"] if s["name"] == "gitArchive" and not s["cached"]][0])' \
		"$W/b$r.json" >>"$W/b-cairn"
	t=$(now)
	git -C "$B" archive HEAD | pigz -p2 >/dev/null
	elapsed "$t"
	echo "$RES" >>"$W/b-git"
done
cb=$(median <"$W/b-cairn")
gb=$(median <"$W/b-git")

# ---- (c) cold build CPU --------------------------------------------------------------------------
# A git entry then two shell stages over it (the second stands on the first's layer): a cold build
# (empty home, base image pulled) on a small and a big tree; CPU is user + system of cairn and
# everything it started (RUSAGE_CHILDREN), wall time beside it. CAIRN_OLD=PATH adds the same runs
# of another binary, interleaved, for before/after tables. Each run starts after a sync: dirty
# pages the previous run left are written back by whoever writes next, as system time. Each run
# (of (b), (c) and (d)) has a home of its own, all removed when the script ends: ext4 skips
# inodes freed in the last minutes when it allocates, so files deleted just before a run made
# that run's inode allocation scan the inode table (2 to 8 s of system time from run to run on
# 20,000 files, for either binary).
cpu_n=0
cpu_run() { # cpu_run OUT-FILE BINARY PROJECT: appends "cpu wall" of one cold build
	cpu_n=$((cpu_n + 1))
	sync # the previous run's writeback is not charged to this one (it doubled the noise)
	python3 - "$1" "$2" "$3" "$W/home-c$cpu_n" <<'PY'
import os, resource, subprocess, sys, time
out, binary, project, home = sys.argv[1:5]
t = time.monotonic()
subprocess.run([binary, "build", "-q", "--dir", project], check=True,
               env=dict(os.environ, CAIRN_HOME=home), stdout=subprocess.DEVNULL)
wall = time.monotonic() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(out, "a").write("%.3f %.3f\n" % (r.ru_utime + r.ru_stime, wall))
PY
}
make_tree() { # make_tree DIR FILES KIB: FILES files of KIB KiB each, half random, half text
	python3 - "$@" <<'PY'
import os, random, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
for i in range(n):
    sub = os.path.join(d, "src", "d%03d" % (i // 100))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d" % i), "wb") as f:
        if i % 2:
            f.write(rnd.randbytes(kib * 1024))
        else:
            f.write(("line %d of file %d\n" % (i, i) * (kib * 1024 // 24 + 1)).encode()[:kib * 1024])
PY
}
cold_cases=("small 2000 4" "big 20000 15")
[ "${1:-}" != --quick ] || cold_cases=("small 2000 4")
for c in "${cold_cases[@]}"; do
	read -r name files kib <<<"$c"
	C=$W/cold-$name
	echo "== (c) cold build CPU: $files files of $kib KiB ($name)"
	make_tree "$C" "$files" "$kib"
	cat >"$C/werf.yaml" <<YAML
project: coldbench
configVersion: 1
---
image: app
from: $REG/base/busybox:1
git:
- add: /src
  to: /app
shell:
  install: [ls -R /app | wc -l > /count]
  setup: [cat /count > /count2]
YAML
	git init -q "$C"
	gitc "$C" add -A
	gitc "$C" commit -q -m tree
	: >"$W/c-$name-new" && : >"$W/c-$name-old"
	for r in $(seq "$rounds"); do
		if [ -n "${CAIRN_OLD:-}" ] && [ $((r % 2)) = 0 ]; then cpu_run "$W/c-$name-old" "$CAIRN_OLD" "$C"; fi
		cpu_run "$W/c-$name-new" "$CAIRN" "$C"
		if [ -n "${CAIRN_OLD:-}" ] && [ $((r % 2)) = 1 ]; then cpu_run "$W/c-$name-old" "$CAIRN_OLD" "$C"; fi
	done
done

# ---- (d) ten independent images, cold -------------------------------------------------------------
# Ten images, each a git entry of 100 files and two shell stages: a cold build (new home) with the
# default --jobs (images side by side), with -j 1, and with CAIRN_OLD when given; interleaved (a
# different one first each round), 5 rounds, wall time.
echo "== (d) ten independent images, cold"
T10=$W/ten
make_tree "$T10" 2000 4
{
	printf 'project: tenbench\nconfigVersion: 1\n'
	for i in $(seq 0 9); do
		cat <<YAML
---
image: m$i
from: $REG/base/busybox:1
git:
- add: /src
  to: /app
  includePaths: [d00$i]
shell:
  install: [ls -R /app | wc -l > /count, cat /app/*/* | sha256sum > /sum]
  setup: [cat /count > /count2]
YAML
	done
} >"$T10/werf.yaml"
git init -q "$T10"
gitc "$T10" add -A
gitc "$T10" commit -q -m tree
ten_n=0
ten_run() { # ten_run OUT-FILE BINARY [BUILD-OPTION...]: appends the wall time of a cold build
	local out=$1 bin=$2 t
	shift 2
	ten_n=$((ten_n + 1))
	sync
	t=$(now)
	CAIRN_HOME=$W/home-d$ten_n "$bin" build -q --dir "$T10" "$@" >/dev/null
	elapsed "$t"
	echo "$RES" >>"$out"
}
: >"$W/d-new" && : >"$W/d-j1" && : >"$W/d-old"
dkinds=(new j1)
[ -z "${CAIRN_OLD:-}" ] || dkinds+=(old)
for r in $(seq "$rounds"); do
	for k in $(seq 0 $((${#dkinds[@]} - 1))); do
		case ${dkinds[$(((k + r) % ${#dkinds[@]}))]} in
		new) ten_run "$W/d-new" "$CAIRN" ;;
		j1) ten_run "$W/d-j1" "$CAIRN" -j 1 ;;
		old) ten_run "$W/d-old" "$CAIRN_OLD" ;;
		esac
	done
done

# ---- results --------------------------------------------------------------------------------------
verdict() { if [ "$1" = 1 ]; then echo ok; else echo MISSED; fi; }
printf '\n%-60s %-26s %-14s %s\n' case result target verdict
printf '%-60s %-26s %-14s %s\n' "(a) no-op build, 10 images, $nfiles files ($n runs, $how)" \
	"$(printf 'mean %.0f ms, min %.0f ms' "$(echo "$mean * 1000" | bc)" \
		"$(echo "$min * 1000" | bc)")" "< 150 ms" \
	"$(verdict "$(echo "$mean < 0.150" | bc)")"
printf '%-60s %-26s %-14s %s\n' "(a) work-tree files opened (besides werf.yaml)" \
	"$n_open ($n_dep stageDeps)" "0 others" "$(verdict "$([ "$n_other" -eq 0 ] && echo 1)")"
printf '%-60s %-26s\n' "    opens of files under .git/ (objects, refs...)" "$n_git"
printf '%-60s %-26s\n' "(b) gitArchive stage, $tree_mib MiB tree (median of $rounds)" "$(printf '%.2f s' "$cb")"
printf '%-60s %-26s\n' "(b) git archive HEAD | pigz -p2 (median of $rounds)" "$(printf '%.2f s' "$gb")"
printf '%-60s %-26s %-14s %s\n' "(b) cairn speed relative to git archive | pigz" \
	"$(printf '%.2fx (time %.2fx)' "$(echo "$gb / $cb" | bc -l)" "$(echo "$cb / $gb" | bc -l)")" \
	">= 0.80x" "$(verdict "$(echo "$gb / $cb >= 0.8" | bc -l)")"
# (c) and (d): medians (min and noise beside them); the verdicts compare medians
col() { cut -d' ' -f"$2" "$1" >"$1.$2"; echo "$1.$2"; } # col FILE FIELD: that column, as a file
for c in "${cold_cases[@]}"; do
	read -r name files kib <<<"$c"
	read -r cm cmin cn <<<"$(stat3 "$(col "$W/c-$name-new" 1)")"
	read -r wm _ _ <<<"$(stat3 "$(col "$W/c-$name-new" 2)")"
	printf '%-60s %-26s\n' "(c) cold build, $files files x $kib KiB: CPU (min, noise), wall" \
		"$(printf '%.2f s (%.2f, %s), %.2f s' "$cm" "$cmin" "$cn" "$wm")"
	if [ -s "$W/c-$name-old" ]; then
		read -r om omin on <<<"$(stat3 "$(col "$W/c-$name-old" 1)")"
		read -r owm _ _ <<<"$(stat3 "$(col "$W/c-$name-old" 2)")"
		printf '%-60s %-26s %-14s %s\n' "    CAIRN_OLD: CPU (min, noise), wall; CPU new/old" \
			"$(printf '%.2f s (%.2f, %s), %.2f s; %sx' "$om" "$omin" "$on" "$owm" "$(ratio "$cm" "$om")")" \
			"<= 0.70x" "$(verdict "$(echo "$cm / $om <= 0.7" | bc -l)")"
	fi
done
dcell() { read -r m mn nz <<<"$(stat3 "$1")"; printf '%.2f s (%.2f, %s)' "$m" "$mn" "$nz"; }
printf '%-60s %-26s\n' "(d) 10 images cold, default --jobs (median (min, noise))" "$(dcell "$W/d-new")"
printf '%-60s %-26s\n' "    -j 1 (one image after the other)" "$(dcell "$W/d-j1")"
if [ -s "$W/d-old" ]; then
	dn=$(stat3 "$W/d-new" | cut -d' ' -f1)
	dold=$(stat3 "$W/d-old" | cut -d' ' -f1)
	printf '%-60s %-26s %-14s %s\n' "    CAIRN_OLD; new/old" \
		"$(dcell "$W/d-old"); $(ratio "$dn" "$dold")x" "<= 0.70x" \
		"$(verdict "$(echo "$dn / $dold <= 0.7" | bc -l)")"
fi
if [ "$n_open" -gt 0 ]; then
	echo
	echo "work-tree files cairn opened (first 10 of $n_open):"
	head -10 "$W/opened-src" | sed "s|^$R/|  |"
fi
echo
if [ -f "$W/times" ]; then
	echo "runs (s): no-op $(tr '\n' ' ' <"$W/times")"
fi
echo "runs (s): gitArchive $(tr '\n' ' ' <"$W/b-cairn")/ git|pigz $(tr '\n' ' ' <"$W/b-git")"
