# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Shared by the benchmarks (sourced): time and the statistics of their rounds.

now() { date +%s.%N; }
# sets RES to the seconds since $1 (no command substitution: registries live in the caller's shell)
# shellcheck disable=SC2034 # RES is what callers read
elapsed() { RES=$(echo "$(now) - $1" | bc); }
# the median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# stat3 FILE [DECIMALS]: "MEDIAN MIN NOISE%" of the numbers in FILE (DECIMALS: 2), noise being
# (max - min) / min
stat3() {
	sort -g "$1" | awk -v d="${2:-2}" '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; f = "%." d "f %." d "f %.0f%%"; printf f, m, v[1], (v[1] > 0 ? 100 * (v[NR] - v[1]) / v[1] : 0) }'
}
# ratio A B: A / B with two decimals
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
