#!/usr/bin/env bash
# Mean training step time of the Fashion-MNIST convnet on two "hosts" (network namespaces, one rank each, TCP only) without and with a network delay, and their ratio.
#
#   bench/multihost.sh                              # ROUNDS=3 STEPS=40 WARMUP=5 DELAY_MS=10
#   SHARDNET=build-mh/shardnet ROUNDS=5 bench/multihost.sh
#
# The hosts are those of the multihost tests (tests/integration/netns_hosts.sh).
# The delay is netem's on both veth ends when the kernel has sch_netem. Without it (or
# with SN_NETNS_LINK=relay) it is made by netns_relay.py between TUN devices, and then
# both the delayed and the undelayed runs go through the relay, so the ratio compares
# like with like; the plain veth is timed as well, to show what the relay costs.
# Conditions alternate order each round, and each run's mean skips WARMUP steps
# (allocation, the first all-reduce opening the TCP connections). Raw lines and the
# table are kept in bench/results/multihost-<time>/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-40}
WARMUP=${WARMUP:-5}
DELAY_MS=${DELAY_MS:-10}
# The two "hosts" share this machine's cores: one OpenMP thread per rank unless told.
export OMP_NUM_THREADS=${THREADS:-1}
export SHARDNET_PROGRESS=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
CONFIG=$ROOT/configs/fashion_mnist.yaml
DATA=$ROOT/datasets/fashion-mnist-train.h5

source "$ROOT/tests/integration/netns_hosts.sh"

if [ -z "${SHARDNET:-}" ]; then
  echo "multihost.sh: building shardnet (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(getconf _NPROCESSORS_ONLN)" --target shardnet_cli >/dev/null
  SHARDNET=$BUILD/shardnet
fi
[ -f "$DATA" ] || "$ROOT/datasets/fashion_mnist.sh" "$SHARDNET"

OUT=$ROOT/bench/results/multihost-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
RAW=$OUT/raw.csv
RUNS=$(mktemp -d "${TMPDIR:-/tmp}/shardnet-multihost.XXXXXX")
# Whatever happens, the namespaces, the relay and the run directories go.
trap 'sn_netns_down; rm -rf "$RUNS"' EXIT
echo "# condition,round,mean_step_ms,median_step_ms,allreduce_wait_ms,rtt_ms,load1" >"$RAW"

# run_once CONDITION ROUND: one training run on the current hosts; appends a raw line.
run_once() {
  local condition=$1 round=$2 dir=$RUNS/$1-$2 rtt load log
  rtt=$(sn_netns_rtt_ms)
  load=$(cut -d' ' -f1 /proc/loadavg)
  log=$dir.log
  if ! timeout 900 "${SN_NETNS_MPIRUN[@]}" -np 2 "$SHARDNET" train "$CONFIG" \
    --set data.train="$DATA" --set data.test= --set train.max_steps=$((WARMUP + STEPS)) \
    --set train.log_every=1 --set checkpoint.dir="$dir" >"$log" 2>&1; then
    echo "multihost.sh: error: the $condition run failed:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  # metrics.csv has one line per step with images/s over that step: step time is
  # batch / rate. shardnet's own summary adds the time spent waiting on the all-reduce
  # (over all steps, warm-up included).
  local batch wait stats
  batch=$(grep -o 'global batch [0-9]*' "$log" | grep -o '[0-9]*$')
  wait=$(grep -o 'of which [0-9.]* ms waiting' "$log" | grep -o '[0-9.]*' || echo "-")
  stats=$(awk -F, -v b="$batch" -v w="$WARMUP" '$1 == "train" && $3 > w { print 1e3 * b / $7 }' "$dir/metrics.csv" |
    sort -g | awk '{ t[NR] = $1; s += $1 } END { printf "%.2f,%.2f", s / NR, NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')
  echo "$condition,$round,$stats,$wait,$rtt,$load" >>"$RAW"
  printf 'multihost.sh: %-12s round %d: mean step %s ms (median %s), all-reduce wait %s ms, rtt %s ms, load %s\n' \
    "$condition" "$round" "${stats%,*}" "${stats#*,}" "$wait" "$rtt" "$load"
  rm -rf "$dir" "$log"
}

# up LINK: the two hosts joined by LINK (veth or relay), or the reason they cannot be made.
up() {
  SN_NETNS_LINK=$1
  sn_netns_up || { echo "multihost.sh: error: cannot make the two hosts: $SN_NETNS_WHY" >&2; exit 1; }
  if [ -z "${shown_mpirun:-}" ]; then
    echo "multihost.sh: mpirun: ${SN_NETNS_MPIRUN[*]} -np 2 $SHARDNET train ..."
    shown_mpirun=1
  fi
}

# rounds CONDITION...: ROUNDS rounds of every condition, order reversed every other
# round. A condition is a link (veth, relay), with DELAY_MS added when it ends in
# -delay; the hosts are made afresh whenever the link changes.
rounds() {
  local r c link order current=
  for ((r = 1; r <= ROUNDS; r++)); do
    order=("$@")
    ((r % 2)) || mapfile -t order < <(printf '%s\n' "$@" | tac)
    for c in "${order[@]}"; do
      link=${c%-delay}
      if [ "$link" != "$current" ]; then
        sn_netns_down
        up "$link"
        current=$link
      fi
      if [ "$c" != "$link" ]; then sn_netns_delay "$DELAY_MS"; else sn_netns_delay 0; fi
      run_once "$c" "$r"
    done
  done
  sn_netns_down
}

echo "multihost.sh: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "multihost.sh: $ROUNDS rounds of $WARMUP warm-up + $STEPS timed steps, $OMP_NUM_THREADS thread(s) per rank"
uptime_before=$(uptime)
echo "multihost.sh: before: $uptime_before"

# netem when this kernel has it, else the relay for both the delayed run and its
# baseline, with the plain veth beside them.
delay_by=relay
if [ "$SN_NETNS_LINK" = veth ]; then
  up veth
  if sn_netns_delay "$DELAY_MS"; then
    delay_by=netem
  else
    echo "multihost.sh: no netem, so the delay comes from netns_relay.py ($SN_NETNS_WHY)"
  fi
  sn_netns_down
fi
if [ "$delay_by" = netem ]; then conditions=(veth veth-delay); else conditions=(veth relay relay-delay); fi
rounds "${conditions[@]}"
uptime_after=$(uptime)

# best / mean over the rounds of condition $1's per-run mean step time.
best() { awk -F, -v c="$1" '$1 == c { if (b == "" || $3 < b) b = $3 } END { printf "%.2f", b }' "$RAW"; }
mean() { awk -F, -v c="$1" '$1 == c { s += $3; n++ } END { printf "%.2f", s / n }' "$RAW"; }
col() { awk -F, -v c="$1" -v k="$2" '$1 == c && $k != "-" { s += $k; n++ } END { if (n) printf "%.2f", s / n; else printf "-" }' "$RAW"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
base=${conditions[-2]}
delayed=${conditions[-1]}
{
  echo
  echo "Fashion-MNIST convnet, 2 hosts x 1 rank x $OMP_NUM_THREADS thread(s), global batch 64, TCP (ob1, btl tcp,self)"
  echo "mean step time over $STEPS steps after $WARMUP warm-up, $ROUNDS rounds; delay $DELAY_MS ms each way by $delay_by"
  echo "before: $uptime_before"
  echo "after:  $uptime_after"
  printf '%-12s %10s %10s %14s %9s\n' condition "best ms" "mean ms" "all-reduce ms" "rtt ms"
  for c in "${conditions[@]}"; do
    printf '%-12s %10s %10s %14s %9s\n' "$c" "$(best "$c")" "$(mean "$c")" "$(col "$c" 5)" "$(col "$c" 6)"
  done
  echo "ratio $delayed / $base: $(ratio "$(best "$delayed")" "$(best "$base")") (best), $(ratio "$(mean "$delayed")" "$(mean "$base")") (mean)"
  [ "$delay_by" = relay ] && echo "ratio relay / veth (the relay's own cost): $(ratio "$(best relay)" "$(best veth)") (best)"
  echo "(all-reduce ms: shardnet's own figure, time waiting on the gradient all-reduce per step, warm-up included)"
} | tee "$OUT/table.txt"
echo "multihost.sh: raw lines and table in $OUT"
