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
STEPS=${STEPS:-200}
source "$(dirname "$0")/lib.sh"

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
