#!/usr/bin/env bash
# Ranks on two "hosts" over TCP: two network namespaces joined by a veth pair (netns_hosts.sh), mpirun in the first starting the second's rank through netns_agent.sh, one rank per host; 30 steps of the blobs model end within 1e-4 of the single-host 2-rank run. Without delay, also two ranks per host (shared memory within a host, TCP between), against the single-host 4-rank run.
# SN_MULTIHOST_DELAY_MS=N (test_multihost_netem.sh) first adds N ms of netem delay to
# each end of the link; SN_NETNS_LINK=relay (test_multihost_relay.sh) makes it in
# userspace instead. Exits 77, which ctest reports as skipped, when this machine
# cannot make namespaces (or netem for the delay), saying why.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns_hosts.sh"
# lib.sh's trap removes $WORK; the namespaces must go too, also when a check fails.
trap 'sn_netns_down; rm -rf "$WORK"' EXIT
delay=${SN_MULTIHOST_DELAY_MS:-0}

sn_netns_up
case $? in
  0) pass "two hosts: ${SN_NETNS[0]} (${SN_NETNS_ADDRS[0]}) and ${SN_NETNS[1]} (${SN_NETNS_ADDRS[1]}) over $SN_NETNS_DEV" ;;
  1) echo "SKIPPED: cannot run the multihost test here: $SN_NETNS_WHY"; exit "$SN_NETNS_SKIP" ;;
  *) fail "$SN_NETNS_WHY"; finish ;;
esac
if [ "$delay" -gt 0 ]; then
  sn_netns_delay "$delay"
  case $? in
    0) pass "delay: $(sn_netns_describe)" ;;
    2) echo "SKIPPED: cannot add ${delay} ms of delay: $SN_NETNS_WHY"; exit "$SN_NETNS_SKIP" ;;
    *) fail "$SN_NETNS_WHY"; finish ;;
  esac
fi

# The delay is really there: a TCP round trip takes at least twice the one-way delay.
rtt=$(sn_netns_rtt_ms)
if [ -n "$rtt" ] && awk -v r="$rtt" -v d="$delay" 'BEGIN { exit !(r >= 2 * d * 0.95) }'; then
  pass "TCP round trip host 1 -> host 2: $rtt ms"
else
  fail "TCP round trip host 1 -> host 2: ${rtt:-not measured} ms, expected >= $((2 * delay)) ms"
fi

cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
# As in test_rank_invariance.sh: SGD with momentum keeps float re-association noise small.
steps=30
common=(train blobs.yaml --set "train.max_steps=$steps" --set train.optimizer.type=sgd
        --set train.optimizer.lr=0.05 --set train.optimizer.momentum=0.9 --set train.log_every=1000
        --set train.batch_size=12)

run_ranks 2 "${common[@]}" --set checkpoint.dir=local
expect_success "the single-host 2-rank reference run" || finish

# Placement: each rank reports the namespace it runs in.
where=$(timeout 60 "${SN_NETNS_MPIRUN[@]}" -np 2 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK in $(ip netns identify)"' 2>&1 | sort)
if [ "$where" = "$(printf 'rank 0 in %s\nrank 1 in %s' "${SN_NETNS[@]}")" ]; then
  pass "one rank per host: $(echo "$where" | tr '\n' ',' | sed 's/,$//; s/,/, /')"
else
  fail "ranks are not one per namespace:"
  echo "$where" >&2
fi

# on_hosts WHAT REFERENCE N ARGS...: runs shardnet ARGS on N ranks across the two
# hosts (checkpoint dir multihost-N), then checks that host 1 sent at least every
# parameter (4 bytes) per step over the link, which the gradient reduction alone
# does, and that the result is within 1e-4 of REFERENCE/latest.h5.
on_hosts() {
  local what=$1 reference=$2 n=$3
  shift 3
  local sent start took params out
  sent=$(sn_netns_tx_bytes)
  SN_MPIRUN=("${SN_NETNS_MPIRUN[@]}")
  start=$(date +%s.%N)
  run_ranks "$n" "$@" --set checkpoint.dir=multihost-$n
  took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  SN_MPIRUN=(mpirun)
  expect_success "$what over TCP (${delay} ms delay) trains $steps steps in $took s" || return 1
  sent=$(($(sn_netns_tx_bytes) - sent))
  params=$(grep -o '[0-9]* parameters' "$OUT" | head -1 | cut -d' ' -f1)
  if [ -n "$params" ] && [ "$sent" -ge $((steps * params * 4)) ]; then
    pass "$what: host 1 sent $sent bytes over $SN_NETNS_DEV (>= $steps steps x $params parameters x 4 bytes)"
  else
    fail "$what: host 1 sent only $sent bytes over $SN_NETNS_DEV for $steps steps of ${params:-?} parameters"
  fi
  if out=$($PYTHON "$SN_SOURCE_DIR/tests/integration/compare_ckpt.py" "$reference/latest.h5" \
    "multihost-$n/latest.h5" 1e-4); then
    pass "$what match the single-host run: $out"
  else
    fail "$what differ from the single-host run: $out"
  fi
}

on_hosts "2 hosts x 1 rank" local 2 "${common[@]}"

# Two ranks per host (the plain link only; the delayed variants keep to the above):
# each host's pair sums in shared memory, building the 1 MB hidden kernel of wide.yaml
# in turns, and rank l of each host all-reduces slice l with its peer over TCP; the
# two slices still carry every parameter across. --map-by node deals ranks 0, 2 to
# host 1 and 1, 3 to host 2.
if [ "$delay" -eq 0 ]; then
  sed -e 's/name: hidden, units: 16/name: hidden, units: 2100/' blobs.yaml >wide.yaml
  wide=(train wide.yaml "${common[@]:2}")
  run_ranks 4 "${wide[@]}" --set checkpoint.dir=local4
  expect_success "the single-host 4-rank reference run"
  if on_hosts "2 hosts x 2 ranks" local4 4 "${wide[@]}"; then
    if grep -q "gradients summed in shared memory by 2 ranks per node" "$OUT"; then
      pass "2 hosts x 2 ranks: each host's ranks share memory"
    else
      fail "2 hosts x 2 ranks: not sharing memory per host: $(head -1 "$OUT")"
    fi
  fi
fi

# Teardown is part of the contract: nothing of ours may remain in the machine's namespace list.
made=("${SN_NETNS[@]}")
relay=$SN_NETNS_RELAY_PID
sn_netns_down
left=$(ip netns list | awk '{print $1}' | grep -xF -e "${made[0]}" -e "${made[1]}")
[ -n "$relay" ] && [ -d "/proc/$relay" ] && left="$left relay pid $relay"
if [ -z "$left" ]; then pass "namespaces and link removed"; else fail "left behind: $left"; fi
finish
