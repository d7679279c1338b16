#!/usr/bin/env bash
# Peak resident memory of `shardnet train` on the Fashion-MNIST demo, one rank x one
# thread: the config as shipped (data.placement: stream), then with both sets held in
# memory (replicate), then with the native kernels instead of oneDNN. Each run takes
# STEPS steps, then the test-set evaluation and a checkpoint, which are part of the
# peak. Memory does not depend on the machine's load, so one run each is enough.
#
#   bench/memory.sh          # STEPS=200
#
# Prints the peak as GNU time reports it (KiB) and in MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/deps.sh"
BUILD=${BUILD_DIR:-$ROOT/build-bench}
STEPS=${STEPS:-200}

if [ -z "${SN_BENCH_NO_BUILD:-}" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target shardnet_cli >/dev/null
fi
SHARDNET=$BUILD/shardnet
"$ROOT/datasets/fashion_mnist.sh" "$SHARDNET" >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"

# peak NAME LABEL [ENV=VALUE ...] -- [--set ...]: one rank, as a user starts it without mpirun
peak() {
  local name=$1 label=$2
  shift 2
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env OMP_NUM_THREADS=1 "${envs[@]}" /usr/bin/time -v "$SHARDNET" train configs/fashion_mnist.yaml \
    --set train.max_steps="$STEPS" --set train.log_every=100000 --set checkpoint.dir="$WORK/$name" "$@" \
    >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log" >&2; exit 1; }
  local kib
  kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$name.log")
  awk -v l="$label" -v k="$kib" 'BEGIN { printf "| %s | %d KiB | %.1f MiB |\n", l, k, k / 1024 }'
}

echo "| run | peak RSS | |"
echo "|---|---|---|"
peak shipped "as shipped (stream)" --
peak replicate "replicate" -- --set data.placement=replicate
peak native "native kernels (stream)" SHARDNET_KERNELS=native --
