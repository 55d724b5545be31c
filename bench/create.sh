#!/usr/bin/env bash
# bench/create.sh — `btkit create` against `mktorrent -t 2` and `transmission-create` on the same
# data in the same run: a 1 GiB file and a ~500 MiB tree of ~200 files, 1 MiB pieces, page cache
# warm, runs alternating between the tools, medians of RUNS (default 5). Prints wall time,
# MB/s, peak RSS and btkit's ratio to each tool. Needs: mktorrent, transmission-cli.
# Usage: bash bench/create.sh [RUNS]     (BENCH_DIR to keep the data elsewhere; default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
dir=${BENCH_DIR:-/tmp/btkit-bench-create}
btkit="node $(pwd)/bin/run.js"
mkdir -p "$dir"
for tool in mktorrent transmission-create /usr/bin/time; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done

# Deterministic data (openssl-free: a counter stream through sha256sum would be slow; use urandom
# once and keep it between runs).
if [ ! -f "$dir/one.bin" ]; then head -c $((1024 * 1024 * 1024)) /dev/urandom >"$dir/one.bin"; fi
if [ ! -d "$dir/tree" ]; then
  mkdir -p "$dir/tree"
  for i in $(seq 1 200); do
    sub="$dir/tree/d$((i % 10))"; mkdir -p "$sub"
    # sizes from ~0.5 to ~4.5 MiB, ~500 MiB in all
    head -c $(( (i * 7919 % 4096 + 512) * 1024 )) /dev/urandom >"$sub/f$i.bin"
  done
fi
# Warm the page cache.
cat "$dir/one.bin" >/dev/null; find "$dir/tree" -type f -exec cat {} + >/dev/null

measure() { # cmd... → "wall_s peak_rss_kib"
  /usr/bin/time -f '%e %M' -o "$dir/time.out" "$@" >/dev/null 2>&1
  tail -1 "$dir/time.out"
}

declare -A wall rss
for data in one.bin tree; do
  size=$(du -sb "$dir/$data" | cut -f1)
  for r in $(seq 1 "$runs"); do
    rm -f "$dir"/out-*.torrent
    read -r w m < <(measure $btkit create "$dir/$data" -p 1MiB --no-date -o "$dir/out-btkit.torrent" -q)
    wall[$data,btkit]+="$w "; rss[$data,btkit]+="$m "
    read -r w m < <(measure mktorrent -t 2 -l 20 -a http://127.0.0.1:6969/announce -o "$dir/out-mk.torrent" "$dir/$data")
    wall[$data,mktorrent]+="$w "; rss[$data,mktorrent]+="$m "
    read -r w m < <(measure transmission-create -s 1024 -o "$dir/out-tr.torrent" "$dir/$data")
    wall[$data,transmission]+="$w "; rss[$data,transmission]+="$m "
  done
  # Same data, same piece length: btkit and mktorrent must agree on the infohash.
  a=$($btkit inspect "$dir/out-btkit.torrent" --json | node -e 'process.stdin.on("data",d=>console.log(JSON.parse(d).result.infoHash))')
  b=$($btkit inspect "$dir/out-mk.torrent" --json | node -e 'process.stdin.on("data",d=>console.log(JSON.parse(d).result.infoHash))')
  [ "$a" = "$b" ] || echo "WARNING: infohash differs from mktorrent on $data: $a vs $b" >&2
  echo "== $data ($(( size / 1024 / 1024 )) MiB, 1 MiB pieces, $runs runs, median)"
  med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  bw=$(echo "${wall[$data,btkit]}" | med)
  for tool in btkit mktorrent transmission; do
    w=$(echo "${wall[$data,$tool]}" | med); m=$(echo "${rss[$data,$tool]}" | med)
    awk -v t="$tool" -v w="$w" -v s="$size" -v m="$m" -v bw="$bw" \
      'BEGIN { printf "  %-13s %6.2f s  %7.0f MB/s  peak RSS %4d MiB  btkit is %.2fx as fast\n", t, w, s / w / 1e6, m / 1024, w / bw }'
  done
done
