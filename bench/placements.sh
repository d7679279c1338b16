#!/usr/bin/env bash
# What each placement costs in memory and in start-up time, on generated 32x32x3
# uint8 sets (bench/make_large_set.py) and the small convnet of
# tests/integration/large.yaml, 2 ranks:
#  - peak resident memory per rank (/usr/bin/time's maximum RSS) training 200 steps
#    from a SIZE_GB set (default 3), against the model's own footprint (the same run
#    from a 1 MB set); for node, also the node's shared memory (Shmem) at its peak;
#  - time to the first step: launch to the end of a 1-step run (checkpoint included)
#    from a FIRST_GB set (default 1), page cache dropped before each run.
#
#   bench/placements.sh              # SIZE_GB=3 FIRST_GB=1
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/deps.sh"
BUILD=${BUILD_DIR:-$ROOT/build-bench}
SIZE_GB=${SIZE_GB:-3}
FIRST_GB=${FIRST_GB:-1}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target shardnet_cli >/dev/null
SHARDNET=$BUILD/shardnet
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/shardnet-placements.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cp "$ROOT/tests/integration/large.yaml" .
gen() { /usr/bin/python3 "$ROOT/bench/make_large_set.py" "$@"; }
gen tiny.h5 1 >/dev/null
gen big.h5 $((SIZE_GB * 1000))
[ "$FIRST_GB" = "$SIZE_GB" ] && ln -s big.h5 first.h5 || gen first.h5 $((FIRST_GB * 1000))
drop_caches() { sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

# peak NAME FILE PLACEMENT STEPS: "rss0_mb rss1_mb" (each rank's maximum RSS)
peak() {
  rm -f rss.*
  OMP_NUM_THREADS=1 mpirun -np 2 bash -c '/usr/bin/time -f %M -o rss.$OMPI_COMM_WORLD_RANK "$@"' _ \
    "$SHARDNET" train large.yaml --set data.train="$2" --set data.placement="$3" --set train.max_steps="$4" \
    --set checkpoint.dir="run-$1" >"out-$1" 2>&1
  echo "$(($(cat rss.0) / 1024)) $(($(cat rss.1) / 1024))"
}

echo "placements.sh: load average $(cut -d' ' -f1-3 /proc/loadavg)"
read -r base0 base1 <<<"$(peak base tiny.h5 replicate 200)"
echo "model footprint (1 MB set, replicate): rank 0 $base0 MB, rank 1 $base1 MB"
printf '\n%-10s %14s %14s %20s\n' placement "rank 0 MB" "rank 1 MB" "above the model"
for p in replicate node shard stream; do
  shmem_before=$(awk '/^Shmem:/{print $2}' /proc/meminfo)
  ( top=0; while [ ! -e stop-$p ]; do s=$(awk '/^Shmem:/{print $2}' /proc/meminfo); [ "$s" -gt "$top" ] && top=$s; echo $top >shmem-$p; sleep 0.2; done ) &
  watcher=$!
  read -r r0 r1 <<<"$(peak $p big.h5 $p 200)"
  touch stop-$p; wait $watcher
  printf '%-10s %14s %14s %20s\n' $p "$r0" "$r1" "$((r0 - base0)) / $((r1 - base1)) MB"
  [ $p = node ] && echo "           node's shared memory at its peak: $((($(cat shmem-$p) - shmem_before) / 1024)) MB (one copy for both ranks; each rank's RSS counts the pages it touched)"
done

printf '\ntime to the first step, %s GB set (launch to the end of a 1-step run, page cache dropped):\n' "$FIRST_GB"
for p in replicate node shard stream; do
  drop_caches
  start=$(date +%s.%N)
  OMP_NUM_THREADS=1 mpirun -np 2 "$SHARDNET" train large.yaml --set data.train=first.h5 --set data.placement=$p \
    --set train.max_steps=1 --set checkpoint.dir=first-$p >/dev/null 2>&1
  printf '%-10s %8.2f s\n' $p "$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}')"
done
