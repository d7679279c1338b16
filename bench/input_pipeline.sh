#!/usr/bin/env bash
# Is the input pipeline hidden behind compute? The Fashion-MNIST demo's training
# steps on 2 ranks x 1 thread with each placement (replicate, the reference; node;
# shard, whose samples are exchanged over MPI a step ahead; stream, whose samples a
# background thread reads from the file), from the converter's files as they are and
# from a deflate+shuffle copy, all in one run: images/s and the ratio to replicate.
#
#   bench/input_pipeline.sh          # STEPS=300 ROUNDS=3
#
# Each configuration runs ROUNDS times, interleaved, and keeps its best round.
set -euo pipefail
STEPS=${STEPS:-300}
ROUNDS=${ROUNDS:-3}
source "$(dirname "$0")/lib.sh"  # SN_BENCH_NO_BUILD=1 times the shardnet in BUILD_DIR
src=/usr/share/datasets/fashion-mnist
"$SHARDNET" convert idx --images "$src/train-images-idx3-ubyte.gz" --labels "$src/train-labels-idx1-ubyte.gz" \
  --compress 4 --shuffle --out "$WORK/fashion-gzip.h5" >/dev/null

# run NAME PLACEMENT FILE: prints images/s
run() {
  OMP_NUM_THREADS=1 mpirun -np 2 --bind-to core "$SHARDNET" train configs/fashion_mnist.yaml \
    --set train.max_steps="$STEPS" --set train.log_every=100000 --set data.test= --set data.placement="$2" \
    --set data.train="$3" --set checkpoint.dir="$WORK/$1" 2>&1 |
    sed -n 's/.*| \([0-9.]*\) img\/s | step.*/\1/p'
}

declare -A best
configs=("replicate replicate datasets/fashion-mnist-train.h5"
         "node node datasets/fashion-mnist-train.h5"
         "shard shard datasets/fashion-mnist-train.h5"
         "stream stream datasets/fashion-mnist-train.h5"
         "stream-gzip stream $WORK/fashion-gzip.h5")
echo "input_pipeline.sh: $STEPS steps per run, 2 ranks x 1 thread, best of $ROUNDS interleaved rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for c in "${configs[@]}"; do
    read -r -a args <<<"$c"
    result=$(run "${args[@]}")
    echo "round $round ${args[0]}: $result img/s"
    if awk -v a="$result" -v b="${best[${args[0]}]:-0}" 'BEGIN {exit !(a > b)}'; then best[${args[0]}]=$result; fi
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %10s %10s\n' placement img/s "/replicate"
for c in "${configs[@]}"; do
  read -r -a args <<<"$c"
  printf '%-12s %10s %10.3f\n' "${args[0]}" "${best[${args[0]}]}" \
    "$(awk -v a="${best[${args[0]}]}" -v b="${best[replicate]}" 'BEGIN {print a / b}')"
done
