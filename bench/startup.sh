#!/usr/bin/env bash
# bench/startup.sh — start-up cost: `btkit inspect` on a small torrent vs `node -e 0`, runs
# alternating, median of RUNS (default 20). Target: at most 2x node's own start.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'hello\n' >"$tmp/a.txt"
node bin/run.js create "$tmp/a.txt" -o "$tmp/a.torrent" -q >/dev/null
now() { date +%s%N; }
node_t=(); btkit_t=()
for _ in $(seq 1 "$runs"); do
  s=$(now); node -e 0; node_t+=($(( ($(now) - s) / 1000 )))
  s=$(now); node bin/run.js inspect "$tmp/a.torrent" >/dev/null; btkit_t+=($(( ($(now) - s) / 1000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
n=$(median "${node_t[@]}"); b=$(median "${btkit_t[@]}")
awk -v n="$n" -v b="$b" -v r="$runs" 'BEGIN { printf "node -e 0: %.1f ms   btkit inspect: %.1f ms   ratio %.2fx   (median of %d)\n", n/1000, b/1000, b/n, r }'
