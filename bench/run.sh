#!/usr/bin/env bash
# Builds shardnet (Release, in build-bench), then times `shardnet bench` (fp32 and bf16)
# and the same models in PyTorch (fp32 NCHW, fp32 channels_last, bf16 autocast with
# channels_last) back to back, interleaved over several rounds, and prints a comparison
# table.
#
#   bench/run.sh                       # ROUNDS=3 STEPS=30 THREADS=1,2 by default
#   ROUNDS=5 STEPS=50 MODELS=cifar_example QUIET_WAIT=0 bench/run.sh
#   SN_BENCH_NO_BUILD=1 BUILD_DIR=build/release bench/run.sh   # time an existing build
#
# The machine may be shared: before each (model, threads) group of runs it waits up to
# QUIET_WAIT seconds for the CPUs to be idle, each round rotates the order of the five
# runs of a group (so no column always runs first, or always right after another), every
# cell keeps the best round of its run (noise only ever slows a run down), and the load
# average is printed before and after. Raw lines are kept in bench/results/<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
BATCH=${BATCH:-64}
THREADS=${THREADS:-1,2}
MODELS=${MODELS:-fashion_mnist,cifar_example,resnet_small}
QUIET_WAIT=${QUIET_WAIT:-120}
# 1: use the shardnet already in BUILD_DIR instead of running cmake (which would compile
# on a machine someone may be building on, or change the build being timed).
SN_BENCH_NO_BUILD=${SN_BENCH_NO_BUILD:-0}
# Debian's interpreter: the python3 first on PATH may be a pyenv without torch.
PY=/usr/bin/python3

if ! "$PY" -c 'import torch, yaml' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "run.sh: installing python3-torch and python3-yaml"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-yaml >/dev/null
  else
    echo "run.sh: error: $PY cannot import torch and yaml; install the Debian packages:" >&2
    echo "  sudo apt-get install python3-torch python3-yaml" >&2
    exit 1
  fi
fi

if [ "$SN_BENCH_NO_BUILD" = 1 ]; then
  if [ ! -x "$BUILD/shardnet" ]; then
    echo "run.sh: error: SN_BENCH_NO_BUILD=1 but there is no $BUILD/shardnet; set BUILD_DIR" \
      "to a build directory that has one (e.g. BUILD_DIR=$ROOT/build/release)" >&2
    exit 1
  fi
  echo "run.sh: timing the existing $BUILD/shardnet (SN_BENCH_NO_BUILD=1, not rebuilt)"
else
  echo "run.sh: building shardnet (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target shardnet_cli >/dev/null
fi
BENCH=("$BUILD/shardnet" bench)

OUT="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RAW="$OUT/raw.csv"
COMMON=(--steps "$STEPS" --warmup "$WARMUP" --batch "$BATCH" --configs "$ROOT/configs" --csv)
IFS=, read -r -a model_list <<<"$MODELS"
IFS=, read -r -a thread_list <<<"$THREADS"

# The bf16 column needs a shardnet with `bench --precision bf16`. One tiny step finds out
# (an older binary rejects the option, a CPU may lack bf16) so that the rounds can skip
# the column instead of failing half-way.
if probe=$("${BENCH[@]}" --model "${model_list[0]}" --threads 1 --steps 1 --warmup 0 --batch 2 \
  --sgemm 0 --configs "$ROOT/configs" --csv --precision bf16 2>&1 >/dev/null); then
  have_bf16=1
else
  have_bf16=0
  echo "run.sh: skipping the shardnet bf16 column: 'shardnet bench --precision bf16' failed:" \
    "$(printf '%s\n' "$probe" | grep -m1 . || echo 'no message')"
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run.sh: $ROUNDS rounds of $WARMUP warm-up + $STEPS timed steps, batch $BATCH; load average $load_before"
echo "run.sh: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# Waits (at most QUIET_WAIT seconds) until other processes use under 10% of the CPUs
# over 2 s, so that each group of runs starts on a quiet machine; logs what it saw.
cpu_busy() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 2
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 i
  for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + b[i] - a[i])); done
  local idle=$((b[4] + b[5] - a[4] - a[5]))
  echo $(((100 * (total - idle)) / (total > 0 ? total : 1)))
}
wait_quiet() {
  local waited=0 busy
  busy=$(cpu_busy)
  while ((busy >= 10 && waited < QUIET_WAIT)); do
    busy=$(cpu_busy)
    waited=$((waited + 2))
  done
  echo "# cpu busy ${busy}% before $1 (waited ${waited}s)" >>"$RAW"
}

# One run each of model $1 at $2 threads; the names are what the rounds rotate. Only the
# fp32 shardnet run measures sgemm, which needs doing once per thread count and round.
run_shardnet() { "${BENCH[@]}" --model "$1" --threads "$2" "${COMMON[@]}" >>"$RAW"; }
run_shardnet_bf16() {
  "${BENCH[@]}" --model "$1" --threads "$2" "${COMMON[@]}" --sgemm 0 --precision bf16 >>"$RAW"
}
run_torch() { "$PY" "$ROOT/bench/torch_models.py" --model "$1" --threads "$2" --variant "$3" "${COMMON[@]}" >>"$RAW"; }
run_pytorch() { run_torch "$1" "$2" default; }
run_pytorch_cl() { run_torch "$1" "$2" channels_last; }
run_pytorch_bf16_cl() { run_torch "$1" "$2" bf16; }
runs=(run_shardnet)
if ((have_bf16)); then runs+=(run_shardnet_bf16); fi
runs+=(run_pytorch run_pytorch_cl run_pytorch_bf16_cl)

for ((r = 1; r <= ROUNDS; r++)); do
  for m in "${model_list[@]}"; do
    for t in "${thread_list[@]}"; do
      wait_quiet "$m/$t round $r"
      # Round r starts at run r - 1 of the list and wraps around.
      for ((i = 0; i < ${#runs[@]}; i++)); do
        "${runs[(i + r - 1) % ${#runs[@]}]}" "$m" "$t"
      done
    done
  done
  echo "run.sh: round $r of $ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))"
done

wait_quiet "the profile"
echo
echo "shardnet per-layer profile (one more run, $STEPS steps):"
"${BENCH[@]}" --model "$MODELS" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" \
  --batch "$BATCH" --configs "$ROOT/configs" | tee "$OUT/profile.txt"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Best images/s of framework $1 for model $2 at $3 threads over the rounds; "-" if it
# never ran.
best() { awk -F, -v f="$1" -v m="$2" -v t="$3" \
  '$1 == "bench" && $2 == f && $3 == m && $4 == t && $6 > b { b = $6 }
   END { if (b > 0) printf "%.1f", b; else printf "-" }' "$RAW"; }
best_sgemm() { awk -F, -v t="$1" '$1 == "sgemm" && $2 == t && $4 > b { b = $4 } END { printf "%.1f", b }' "$RAW"; }
# $1 / $2 to two decimals, "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
# The larger of two rates, ignoring a missing one.
larger() { awk -v a="$1" -v b="$2" 'BEGIN { a += 0; b += 0; if (a > 0 || b > 0) printf "%.1f", (a > b ? a : b); else printf "-" }'; }

{
  echo
  echo "batch $BATCH, best of $ROUNDS rounds of $STEPS steps, images/s from the median step"
  echo "load average: $load_before before, $load_after after"
  echo "runs started on a busy machine (>= 10% CPU used by others): $(grep -c '^# cpu busy [1-9][0-9]' "$RAW" || true)"
  for t in "${thread_list[@]}"; do echo "sgemm 1024^3, $t thread(s): $(best_sgemm "$t") GFLOP/s"; done
  echo "img/s columns: shardnet fp32 and bf16; PyTorch fp32 NCHW, fp32 channels_last (cl), bf16 autocast cl"
  echo "ratios: fp32 = shardnet / max(pytorch, pytorch_cl); bf16 = shardnet_bf16 / pytorch_bf16_cl"
  row() { printf '%-15s %7s %9s %9s %9s %10s %12s %6s %6s\n' "$@"; }
  row model threads shardnet sn_bf16 pytorch pytorch_cl pt_bf16_cl fp32 bf16
  for m in "${model_list[@]}"; do
    for t in "${thread_list[@]}"; do
      s=$(best shardnet "$m" "$t")
      sb=$(best shardnet_bf16 "$m" "$t")
      p=$(best pytorch "$m" "$t")
      pc=$(best pytorch_cl "$m" "$t")
      pb=$(best pytorch_bf16_cl "$m" "$t")
      row "$m" "$t" "$s" "$sb" "$p" "$pc" "$pb" "$(ratio "$s" "$(larger "$p" "$pc")")" \
        "$(ratio "$sb" "$pb")"
    done
  done
} | tee "$OUT/table.txt"
echo "run.sh: raw lines, profile and table in $OUT"
