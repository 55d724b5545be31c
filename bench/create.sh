#!/usr/bin/env bash
# bench/create.sh — `btkit create` against the reference creators on the same data in the same
# run, runs alternating between the tools, page cache warm, medians of RUNS (default 5). Prints
# wall time, MB/s, peak RSS, CPU seconds and btkit's speed as a ratio of each tool's.
#
# Sets (SETS, default all, space-separated):
#   one     1 GiB file, 1 MiB pieces, v1: mktorrent -t 2, transmission-create
#   tree    ~481 MiB in 200 files, 1 MiB pieces, v1: mktorrent -t 2, transmission-create
#   big     4 GiB file, 1 MiB pieces, v1: mktorrent -t 2
#   hybrid  the 1 GiB file, 1 MiB pieces: btkit --hybrid against libtorrent's create_torrent hybrid
#           (test/lab/lt_create.py --hybrid), and btkit v1 on the same data (hybrid ÷ own v1)
#   small   10,000 files of 100 B–8 KB (~39 MiB), 32 KiB pieces, v2: btkit --v2, lt_create.py --v2
# The infohashes are compared with the reference's (v1 with mktorrent; v1 and v2 with libtorrent
# for a hybrid); a difference is a warning on stderr.
# Needs: mktorrent, transmission-cli, /usr/bin/python3 with python3-libtorrent, /usr/bin/time.
# Usage: bash bench/create.sh [RUNS]
#   BENCH_DIR (default /tmp/btkit-bench-create) holds the data (~6 GiB with `big`); it is deleted
#   at the end unless BENCH_KEEP=1. BTKIT_OLD=DIR also runs the btkit built in DIR (a worktree of
#   an older commit, `npm run build` there) as the tool btkit@old, in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
dir=${BENCH_DIR:-/tmp/btkit-bench-create}
sets=${SETS:-one tree big hybrid small}
btkit="node $(pwd)/bin/run.js"
lt_create="/usr/bin/python3 $(pwd)/test/lab/lt_create.py"
mkdir -p "$dir"
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT
for tool in mktorrent transmission-create /usr/bin/time /usr/bin/python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done
has() { [[ " $sets " == *" $1 "* ]]; }
uptime

# Data: urandom once, kept between runs of this script when BENCH_KEEP=1.
if { has one || has hybrid; } && [ ! -f "$dir/one.bin" ]; then head -c $((1024 * 1024 * 1024)) /dev/urandom >"$dir/one.bin"; fi
if has big && [ ! -f "$dir/big.bin" ]; then head -c $((4 * 1024 * 1024 * 1024)) /dev/urandom >"$dir/big.bin"; fi
if has tree && [ ! -d "$dir/tree" ]; then
  mkdir -p "$dir/tree"
  for i in $(seq 1 200); do
    sub="$dir/tree/d$((i % 10))"; mkdir -p "$sub"
    # sizes from ~0.5 to ~4.5 MiB, ~500 MiB in all
    head -c $(( (i * 7919 % 4096 + 512) * 1024 )) /dev/urandom >"$sub/f$i.bin"
  done
fi
if has small && [ ! -d "$dir/small" ]; then
  /usr/bin/python3 - "$dir/small" <<'EOF'
import os, random, sys
random.seed(1)
root = sys.argv[1]
for i in range(10000):
    d = os.path.join(root, f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
        f.write(os.urandom(random.randint(100, 8000)))
EOF
fi

measure() { # cmd... → "wall_s peak_rss_kib cpu_s"
  /usr/bin/time -f '%e %M %U %S' -o "$dir/time.out" "$@" >/dev/null 2>&1
  tail -1 "$dir/time.out" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
hashes() { # torrent → "v1 v2"
  $btkit inspect "$1" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;console.log(`${r.infoHash} ${r.infoHashV2}`)})'
}

declare -A cmd wall rss cpu
old=${BTKIT_OLD:+node $BTKIT_OLD/bin/run.js}
extra=${old:+btkit@old}
# add_old NAME: btkit@old runs btkit's command of set NAME with the old build.
add_old() { if [ -n "$old" ]; then cmd[$1,btkit@old]=${cmd[$1,btkit]/"$btkit"/"$old"}; fi; }
# run_set NAME DATA TOOL... : each tool's command is in cmd[NAME,TOOL] with OUT for its output file.
run_set() {
  local name=$1 data=$2; shift 2
  local size; size=$(du -sb "$dir/$data" | cut -f1)
  # Warm the page cache.
  if [ -d "$dir/$data" ]; then find "$dir/$data" -type f -exec cat {} + >/dev/null; else cat "$dir/$data" >/dev/null; fi
  for r in $(seq 1 "$runs"); do
    # Alternate the order: odd runs first to last, even runs last to first.
    local order=("$@"); if (( r % 2 == 0 )); then order=(); for ((k = $#; k >= 1; k--)); do order+=("${!k}"); done; fi
    for tool in "${order[@]}"; do
      rm -f "$dir/out-$name-$tool.torrent"
      read -r w m c < <(measure bash -c "${cmd[$name,$tool]//OUT/$dir/out-$name-$tool.torrent}")
      wall[$name,$tool]+="$w "; rss[$name,$tool]+="$m "; cpu[$name,$tool]+="$c "
    done
  done
  echo "== $name: $data ($(( size / 1024 / 1024 )) MiB), $runs runs, median"
  local bw; bw=$(echo "${wall[$name,btkit]}" | med)
  for tool in "$@"; do
    local w m c; w=$(echo "${wall[$name,$tool]}" | med); m=$(echo "${rss[$name,$tool]}" | med); c=$(echo "${cpu[$name,$tool]}" | med)
    awk -v t="$tool" -v w="$w" -v s="$size" -v m="$m" -v c="$c" -v bw="$bw" \
      'BEGIN { printf "  %-13s %6.2f s  %7.0f MB/s  CPU %5.2f s  peak RSS %4d MiB  btkit is %.2fx as fast\n", t, w, s / w / 1e6, c, m / 1024, w / bw }'
  done
}

mk="mktorrent -t 2 -l 20 -a http://127.0.0.1:6969/announce -o OUT"
for data in one tree; do
  has "$data" || continue
  src=$([ "$data" = one ] && echo one.bin || echo tree)
  cmd[$data,btkit]="$btkit create $dir/$src -p 1MiB --no-date -o OUT -q"
  cmd[$data,mktorrent]="$mk $dir/$src"
  cmd[$data,transmission]="transmission-create -s 1024 -o OUT $dir/$src"
  add_old "$data"; run_set "$data" "$src" btkit mktorrent transmission $extra
  a=$(hashes "$dir/out-$data-btkit.torrent"); b=$(hashes "$dir/out-$data-mktorrent.torrent")
  [ "${a% *}" = "${b% *}" ] || echo "WARNING: infohash differs from mktorrent on $data: $a vs $b" >&2
done

if has big; then
  cmd[big,btkit]="$btkit create $dir/big.bin -p 1MiB --no-date -o OUT -q"
  cmd[big,mktorrent]="$mk $dir/big.bin"
  add_old big; run_set big big.bin btkit mktorrent $extra
  a=$(hashes "$dir/out-big-btkit.torrent"); b=$(hashes "$dir/out-big-mktorrent.torrent")
  [ "${a% *}" = "${b% *}" ] || echo "WARNING: infohash differs from mktorrent on big: $a vs $b" >&2
fi

if has hybrid; then
  cmd[hybrid,btkit]="$btkit create $dir/one.bin --hybrid -p 1MiB --no-date -o OUT -q"
  cmd[hybrid,libtorrent]="$lt_create --hybrid --piece-kib 1024 $dir/one.bin OUT"
  cmd[hybrid,btkit-v1]="$btkit create $dir/one.bin -p 1MiB --no-date -o OUT -q"
  add_old hybrid; run_set hybrid one.bin btkit libtorrent btkit-v1 $extra
  a=$(hashes "$dir/out-hybrid-btkit.torrent"); b=$(hashes "$dir/out-hybrid-libtorrent.torrent")
  [ "$a" = "$b" ] || echo "WARNING: hybrid infohashes differ from libtorrent: $a vs $b" >&2
  hv=$(echo "${wall[hybrid,btkit]}" | med); v1=$(echo "${wall[hybrid,btkit-v1]}" | med)
  awk -v h="$hv" -v v="$v1" 'BEGIN { printf "  btkit hybrid takes %.2fx its own v1 time on the same data\n", h / v }'
fi

if has small; then
  cmd[small,btkit]="$btkit create $dir/small --v2 -p 32KiB --no-date -o OUT -q"
  cmd[small,libtorrent]="$lt_create --v2 --piece-kib 32 $dir/small OUT"
  add_old small; run_set small small btkit libtorrent $extra
  a=$(hashes "$dir/out-small-btkit.torrent"); b=$(hashes "$dir/out-small-libtorrent.torrent")
  [ "${a#* }" = "${b#* }" ] || echo "WARNING: v2 infohash differs from libtorrent on small: $a vs $b" >&2
fi
uptime
