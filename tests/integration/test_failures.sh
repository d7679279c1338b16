#!/usr/bin/env bash
# Failures across ranks: an error only one rank sees (its slice of the data is
# damaged) stops every rank with that rank's message and no collective left
# waiting; a rank killed with SIGKILL mid-training brings the others down within
# 30 s with a message naming the lost rank, and the run resumes from its checkpoint.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .

run_ranks 2 train blobs.yaml --set data.train=late-corrupt.h5
expect_failure "damaged data in rank 1's slice only" 2 "late-corrupt.h5: cannot read samples 80 to 159 of /images (corrupt, truncated or unreadable data)"

# mpirun's default: the first rank to die takes the job down, and says which.
unset OMPI_MCA_orte_abort_on_non_zero_status
mpirun -np 2 --oversubscribe "$SHARDNET" train blobs.yaml --set train.epochs=100000 --set train.log_every=1000 \
  --set checkpoint.every_steps=20 --set checkpoint.dir=killed >killed.out 2>&1 &
launcher=$!
for _ in $(seq 200); do [ -e killed/latest.h5 ] && break; sleep 0.05; done
victim=""
for pid in $(pgrep -f "$SHARDNET train blobs.yaml"); do
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$pid
done
if [ -z "$victim" ]; then
  fail "could not find rank 1"
else
  start=$(date +%s%N)
  kill -9 "$victim"
  waited=0
  while kill -0 $launcher 2>/dev/null && [ $waited -lt 60 ]; do sleep 0.2; waited=$((waited + 1)); done
  { wait $launcher; } 2>/dev/null
  code=$?
  took=$((($(date +%s%N) - start) / 1000000))
  survivors=$(pgrep -fc "$SHARDNET train blobs.yaml")
  if [ "$code" -ne 0 ] && [ "$survivors" -eq 0 ] && [ "$took" -lt 30000 ]; then
    pass "rank 1 killed: the job ended in $took ms with status $code, no rank left running"
  else
    fail "rank 1 killed: status $code, $survivors ranks left, $took ms"
  fi
  grep -qE "rank 1 .*(exited on signal 9|Killed)" killed.out && pass "the launcher names the lost rank: $(grep -m1 -E 'rank 1' killed.out)" ||
    fail "no message names rank 1: $(cat killed.out)"
  pkill -9 -f "$SHARDNET train blobs.yaml" 2>/dev/null
fi
export OMPI_MCA_orte_abort_on_non_zero_status=0
step=$($PYTHON -c 'import h5py; print(h5py.File("killed/latest.h5")["/"].attrs["step"])')
run_ranks 2 train blobs.yaml --set train.epochs=100000 --set train.max_steps=$((step + 5)) --set checkpoint.dir=killed \
  --resume latest
expect_success "resume after the lost rank continues from step $step"
finish
