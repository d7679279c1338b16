#!/usr/bin/env bash
# Data-parallel scaling of the real trainer on the Fashion-MNIST convnet, all figures
# from one run: weak scaling from 1 to 2 ranks (1 thread each, 32 samples per rank),
# 2 ranks x 1 thread against 1 rank x 2 threads (global batch 64), and for 2 ranks the
# gradient reduction both ways (node-shared memory with a sharded optimizer, the
# default; MPI_Iallreduce alone, train.shared_memory: false), each with and without
# overlap: step time and the time a step waits on the reduction.
#
#   bench/scaling.sh               # STEPS=200 ROUNDS=2
#
# Each configuration runs ROUNDS times, interleaved, and keeps its best round (noise
# on a shared machine only slows runs down). Needs datasets/fashion-mnist-*.h5
# (made here with datasets/fashion_mnist.sh when missing).
set -euo pipefail
STEPS=${STEPS:-200}
ROUNDS=${ROUNDS:-2}
source "$(dirname "$0")/lib.sh"

# run NAME RANKS THREADS BATCH BIND [--set ...]: prints "img/s step_ms wait_ms"
# The sets held in memory (replicate): this measures the engine and the reduction,
# not the reader threads, which on a node whose cores all compute share them.
run() {
  local name=$1 ranks=$2 threads=$3 batch=$4 bind=$5
  shift 5
  OMP_NUM_THREADS=$threads mpirun -np "$ranks" --bind-to "$bind" "$SHARDNET" train configs/fashion_mnist.yaml --set data.placement=replicate \
    --set train.max_steps="$STEPS" --set train.batch_size="$batch" --set train.log_every=100000 \
    --set data.test= --set checkpoint.dir="$WORK/$name" "$@" 2>&1 |
    sed -n 's/.*| \([0-9.]*\) img\/s | step \([0-9.]*\) ms, of which \([0-9.]*\) ms waiting.*/\1 \2 \3/p'
}

declare -A best
configs=("1x1 1 1 32 core"
         "2x1 2 1 64 core"
         "1x2 1 2 64 none"
         "2x1-no-overlap 2 1 64 core --set train.overlap=false"
         "2x1-mpi 2 1 64 core --set train.shared_memory=false"
         "2x1-mpi-no-overlap 2 1 64 core --set train.shared_memory=false --set train.overlap=false")
echo "scaling.sh: $STEPS steps per run, best of $ROUNDS interleaved rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for c in "${configs[@]}"; do
    read -r -a args <<<"$c"
    result=$(run "${args[@]}")
    echo "round $round ${args[0]}: $result (img/s, step ms, wait ms)"
    prev=${best[${args[0]}]:-0 0 0}
    if awk -v a="${result%% *}" -v b="${prev%% *}" 'BEGIN {exit !(a > b)}'; then best[${args[0]}]=$result; fi
  done
done

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r ips11 _ _ <<<"${best[1x1]}"
read -r ips21 _ _ <<<"${best[2x1]}"
read -r ips12 _ _ <<<"${best[1x2]}"
awk -v a="$ips11" -v b="$ips21" 'BEGIN {printf "weak scaling 1 -> 2 ranks (1 thread, 32 samples/rank): %.0f -> %.0f img/s, efficiency %.3f\n", a, b, b / (2 * a)}'
awk -v a="$ips21" -v b="$ips12" 'BEGIN {printf "2 ranks x 1 thread vs 1 rank x 2 threads (batch 64): %.0f vs %.0f img/s, ratio %.3f\n", a, b, a / b}'
echo "2 ranks x 1 thread, batch 64:                         img/s   step ms  waiting ms"
for c in 2x1 2x1-no-overlap 2x1-mpi 2x1-mpi-no-overlap; do
  read -r ips step wait <<<"${best[$c]}"
  case $c in
    2x1) what="shared memory, overlapped" ;;
    2x1-no-overlap) what="shared memory, after backward" ;;
    2x1-mpi) what="MPI_Iallreduce, overlapped" ;;
    *) what="MPI_Iallreduce, after backward" ;;
  esac
  printf "  %-50s %7.0f %8.2f %9.2f\n" "$what" "$ips" "$step" "$wait"
done
