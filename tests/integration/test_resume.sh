#!/usr/bin/env bash
# Stopping and resuming: a run stopped mid-epoch and resumed ends bitwise identical to
# one that never stopped (1 and 2 ranks); resumed on another rank count it continues
# the same trajectory (within 1e-4); SIGUSR1 stops cleanly with a checkpoint.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
compare() { $PYTHON "$SN_SOURCE_DIR/tests/integration/compare_ckpt.py" "$@"; }
# 30 steps per epoch: stopping at 37 is mid-way through the second epoch.
common=(--set train.epochs=2 --set train.log_every=1000
        --set train.optimizer.type=sgd --set train.optimizer.lr=0.05 --set train.optimizer.momentum=0.9)

for ranks in 1 2; do
  run_ranks $ranks train blobs.yaml "${common[@]}" --set train.max_steps=45 --set checkpoint.dir=full$ranks
  expect_success "uninterrupted run on $ranks rank(s)"
  run_ranks $ranks train blobs.yaml "${common[@]}" --set train.max_steps=37 --set checkpoint.dir=part$ranks
  expect_success "run stopped at step 37 on $ranks rank(s)"
  run_ranks $ranks train blobs.yaml "${common[@]}" --set train.max_steps=45 --set checkpoint.dir=part$ranks --resume latest
  expect_success "resumed on $ranks rank(s)"
  grep -q "resumed from part$ranks/latest.h5 at step 37 (epoch 2, sample 112)" "$OUT" &&
    pass "resume reports where it continues" || fail "resume line: $(grep resumed "$OUT")"
  if out=$(compare full$ranks/latest.h5 part$ranks/latest.h5 0); then
    pass "$ranks rank(s): stopped and resumed is bitwise identical to never stopping"
  else fail "$ranks rank(s): resumed run differs: $out"; fi
done

for ranks in 1 3; do
  run_ranks $ranks train blobs.yaml "${common[@]}" --set train.max_steps=45 --set checkpoint.dir=from2on$ranks \
    --resume part2/ckpt-00000037.h5
  expect_success "2-rank checkpoint resumed on $ranks rank(s)"
  if out=$(compare full2/latest.h5 from2on$ranks/latest.h5 1e-4); then
    pass "2 ranks -> $ranks: same trajectory: $out"
  else fail "2 ranks -> $ranks rank(s) diverged: $out"; fi
done

# A mismatched checkpoint is refused with the first difference named.
run_ranks 2 train blobs.yaml "${common[@]}" --set model.layers.hidden.units=32 --set checkpoint.dir=mismatch \
  --resume full2/latest.h5
expect_failure "checkpoint of another model" 2 "layer 'hidden' kernel:0 has shape 128x16 in the checkpoint but 128x32 in the model"
run_ranks 2 train blobs.yaml "${common[@]}" --set seed=4 --set checkpoint.dir=seed --resume full2/latest.h5
expect_failure "checkpoint of another seed" 2 "was trained with seed 3 but the config says seed 4"
run_ranks 2 train blobs.yaml "${common[@]}" --set checkpoint.dir=none --resume latest
expect_failure "resume with no checkpoint yet" 2 "none/latest.h5"

# --resume auto (what the job scripts use): fresh the first time, resumed after.
run_ranks 2 train blobs.yaml "${common[@]}" --set train.max_steps=20 --set checkpoint.dir=auto --resume auto
expect_success "--resume auto without a checkpoint starts fresh"
grep -q "no checkpoint in auto yet: starting from the beginning" "$OUT" && pass "--resume auto says it starts fresh" ||
  fail "--resume auto: $(head -3 "$OUT")"
run_ranks 2 train blobs.yaml "${common[@]}" --set train.max_steps=25 --set checkpoint.dir=auto --resume auto
expect_success "--resume auto with a checkpoint"
grep -q "resumed from auto/latest.h5 at step 20" "$OUT" && pass "--resume auto resumes from latest.h5" ||
  fail "--resume auto second start: $(head -3 "$OUT")"

# SIGUSR1 (what Slurm's --signal sends) stops at a step boundary with a checkpoint.
# mpirun itself must report the ranks' status here
OMPI_MCA_orte_abort_on_non_zero_status=1 mpirun -np 2 --oversubscribe "$SHARDNET" train blobs.yaml --set train.epochs=100000 --set checkpoint.dir=sig \
  >sig.out 2>sig.err &
pid=$!
for _ in $(seq 100); do [ -s sig.out ] && grep -q "^epoch" sig.out && break; sleep 0.1; done
kill -USR1 $pid
wait $pid
code=$?
[ $code -eq 75 ] && pass "SIGUSR1: exit status 75 (stopped, resumable)" || fail "SIGUSR1: exit status $code: $(cat sig.err)"
grep -q "^shardnet: stopped by SIGUSR1 at step [0-9]*; checkpoint written to sig" sig.err &&
  pass "SIGUSR1: says where it stopped" || fail "SIGUSR1 message: $(cat sig.err)"
step=$($PYTHON -c 'import h5py; print(h5py.File("sig/latest.h5")["/"].attrs["step"])' 2>/dev/null)
grep -q "at step $step;" sig.err && pass "SIGUSR1: the checkpoint is at step $step" || fail "SIGUSR1: checkpoint step '$step'"
# bf16 (convolutions and dense layers in bf16, master weights fp32): a stopped and
# resumed run is bitwise the one that never stopped too, on 1 and 2 ranks. Skipped
# where the CPU or the build has no bf16 (the run says so in one line).
bf16=(--set train.precision=bf16)
run_ranks 1 train blobs.yaml "${common[@]}" "${bf16[@]}" --set train.max_steps=45 --set checkpoint.dir=bf16-full1
if [ "$STATUS" -ne 0 ] && grep -q "bf16 needs" "$ERR"; then
  pass "bf16 resume: skipped, $(grep -m1 'error' "$ERR")"
else
  expect_success "bf16: uninterrupted run on 1 rank"
  run_ranks 2 train blobs.yaml "${common[@]}" "${bf16[@]}" --set train.max_steps=45 --set checkpoint.dir=bf16-full2
  expect_success "bf16: uninterrupted run on 2 ranks"
  for ranks in 1 2; do
    run_ranks $ranks train blobs.yaml "${common[@]}" "${bf16[@]}" --set train.max_steps=37 --set checkpoint.dir=bf16-part$ranks
    expect_success "bf16: run stopped at step 37 on $ranks rank(s)"
    run_ranks $ranks train blobs.yaml "${common[@]}" "${bf16[@]}" --set train.max_steps=45 \
      --set checkpoint.dir=bf16-part$ranks --resume latest
    expect_success "bf16: resumed on $ranks rank(s)"
    if out=$(compare bf16-full$ranks/latest.h5 bf16-part$ranks/latest.h5 0); then
      pass "bf16, $ranks rank(s): stopped and resumed is bitwise identical to never stopping"
    else fail "bf16, $ranks rank(s): resumed run differs: $out"; fi
  done
  grep -q "bf16 kernels: oneDNN" "$OUT" && pass "bf16: the banner says so" || fail "bf16 banner: $(head -1 "$OUT")"
fi
finish
