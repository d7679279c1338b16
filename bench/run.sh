#!/usr/bin/env bash
# Builds shardnet (Release, in build-bench), then times `shardnet bench` and the same models
# in PyTorch back to back, interleaved over several rounds, and prints a comparison table.
#
#   bench/run.sh                       # ROUNDS=3 STEPS=30 THREADS=1,2 by default
#   ROUNDS=5 STEPS=50 MODELS=cifar_example QUIET_WAIT=0 bench/run.sh
#
# The machine may be shared: before each (model, threads) pair of runs it waits up to
# QUIET_WAIT seconds for the CPUs to be idle, each pair alternates which framework runs
# first, every cell keeps the best round of each framework (noise only ever slows a run
# down), and the load average is printed before and after. Raw lines are kept in
# bench/results/<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
BATCH=${BATCH:-64}
THREADS=${THREADS:-1,2}
MODELS=${MODELS:-fashion_mnist,cifar_example}
QUIET_WAIT=${QUIET_WAIT:-120}
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

echo "run.sh: building shardnet (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target shardnet_cli >/dev/null
BENCH=("$BUILD/shardnet" bench)

OUT="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RAW="$OUT/raw.csv"
COMMON=(--steps "$STEPS" --warmup "$WARMUP" --batch "$BATCH" --configs "$ROOT/configs" --csv)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run.sh: $ROUNDS rounds of $WARMUP warm-up + $STEPS timed steps, batch $BATCH; load average $load_before"
echo "run.sh: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# Waits (at most QUIET_WAIT seconds) until other processes use under 10% of the CPUs
# over 2 s, so that each pair of runs starts on a quiet machine; logs what it saw.
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

run_shardnet() { "${BENCH[@]}" --model "$1" --threads "$2" "${COMMON[@]}" >>"$RAW"; }
run_pytorch() { "$PY" "$ROOT/bench/torch_models.py" --model "$1" --threads "$2" "${COMMON[@]}" >>"$RAW"; }

IFS=, read -r -a model_list <<<"$MODELS"
IFS=, read -r -a thread_list <<<"$THREADS"
for ((r = 1; r <= ROUNDS; r++)); do
  for m in "${model_list[@]}"; do
    for t in "${thread_list[@]}"; do
      wait_quiet "$m/$t round $r"
      if ((r % 2)); then run_shardnet "$m" "$t"; run_pytorch "$m" "$t"
      else run_pytorch "$m" "$t"; run_shardnet "$m" "$t"; fi
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

# Best images/s of framework $1 for model $2 at $3 threads over the rounds.
best() { awk -F, -v f="$1" -v m="$2" -v t="$3" \
  '$1 == "bench" && $2 == f && $3 == m && $4 == t && $6 > b { b = $6 } END { printf "%.1f", b }' "$RAW"; }
best_sgemm() { awk -F, -v t="$1" '$1 == "sgemm" && $2 == t && $4 > b { b = $4 } END { printf "%.1f", b }' "$RAW"; }

{
  echo
  echo "batch $BATCH, best of $ROUNDS rounds of $STEPS steps, images/s from the median step"
  echo "load average: $load_before before, $load_after after"
  echo "runs started on a busy machine (>= 10% CPU used by others): $(grep -c '^# cpu busy [1-9][0-9]' "$RAW" || true)"
  for t in "${thread_list[@]}"; do echo "sgemm 1024^3, $t thread(s): $(best_sgemm "$t") GFLOP/s"; done
  printf '%-15s %7s %14s %14s %7s\n' model threads "shardnet img/s" "PyTorch img/s" ratio
  for m in "${model_list[@]}"; do
    for t in "${thread_list[@]}"; do
      s=$(best shardnet "$m" "$t")
      p=$(best pytorch "$m" "$t")
      printf '%-15s %7s %14s %14s %7s\n' "$m" "$t" "$s" "$p" "$(awk -v s="$s" -v p="$p" 'BEGIN { if (p > 0) printf "%.2f", s / p; else printf "-" }')"
    done
  done
} | tee "$OUT/table.txt"
echo "run.sh: raw lines, profile and table in $OUT"
