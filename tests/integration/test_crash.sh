#!/usr/bin/env bash
# Checkpoints never lose work: training killed with SIGKILL at 10 random moments
# (checkpoints are written every step, so many kills land inside a write) always
# leaves latest.h5 naming a complete checkpoint that resumes; a full disk is a clear
# error that keeps the previous checkpoint; corrupt, truncated and foreign files are
# refused with a message.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
opens() { h5ls -r "$1" >/dev/null 2>&1; }

interrupted_writes=0
for round in $(seq 10); do
  resume=()
  [ -e crash/latest.h5 ] && resume=(--resume latest)
  mpirun -np 2 --oversubscribe "$SHARDNET" train blobs.yaml --set train.epochs=100000 --set train.log_every=1000 \
    --set checkpoint.every_steps=1 --set checkpoint.keep=3 --set checkpoint.dir=crash "${resume[@]}" \
    >"round$round.out" 2>&1 &
  launcher=$!
  # wait until this round has written a checkpoint of its own, then kill at random
  before=$(readlink crash/latest.h5 2>/dev/null)
  for _ in $(seq 300); do [ -e crash/latest.h5 ] && [ "$(readlink crash/latest.h5)" != "$before" ] && break; sleep 0.05; done
  sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
  pkill -9 -f "$SHARDNET train blobs.yaml"
  { wait $launcher; } 2>/dev/null
  ls crash/*.tmp >/dev/null 2>&1 && interrupted_writes=$((interrupted_writes + 1))
  target=$(readlink crash/latest.h5)
  case "$target" in
    ckpt-*.h5) ;;
    *) fail "round $round: latest.h5 points at '$target'"; continue ;;
  esac
  opens crash/latest.h5 && pass "round $round: killed; latest.h5 -> $target opens" ||
    fail "round $round: latest.h5 -> $target does not open"
done
echo "note: $interrupted_writes of 10 kills interrupted a checkpoint write (a .tmp was left)"
step=$($PYTHON -c 'import h5py; print(h5py.File("crash/latest.h5")["/"].attrs["step"])')
run_ranks 2 train blobs.yaml --set train.epochs=100000 --set train.max_steps=$((step + 3)) \
  --set checkpoint.dir=crash --resume latest
expect_success "resume after the last kill"
[ "$(readlink crash/latest.h5)" = "$(printf 'ckpt-%08d.h5' $((step + 3)))" ] && pass "it continued to step $((step + 3))" ||
  fail "latest.h5 -> $(readlink crash/latest.h5), expected step $((step + 3))"

# A full disk at the checkpoint of step 4: /dev/full stands in for the file system.
mkdir -p full && ln -s /dev/full full/ckpt-00000004.h5.tmp
run_ranks 2 train blobs.yaml --set train.max_steps=6 --set checkpoint.every_steps=2 --set checkpoint.dir=full
expect_failure "disk full while checkpointing" 2 "checkpoint full/ckpt-00000004.h5 not written"
[ "$(readlink full/latest.h5)" = "ckpt-00000002.h5" ] && opens full/latest.h5 &&
  pass "after the failed write latest.h5 still names the step-2 checkpoint" || fail "latest after disk full: $(ls -l full)"
[ ! -e full/ckpt-00000004.h5 ] && pass "no partial checkpoint is left under a checkpoint name" || fail "partial file left"

# Files that are not checkpoints, or are damaged.
cp crash/latest.h5 good.h5
head -c 3000 good.h5 >truncated.h5
cp good.h5 corrupt.h5
size=$(stat -c %s corrupt.h5)
dd if=/dev/urandom of=corrupt.h5 bs=1 seek=$((size / 3)) count=$((size / 3)) conv=notrunc status=none
run_ranks 2 eval truncated.h5 --data blobs-test.h5
expect_failure "truncated checkpoint" 2 "truncated.h5 cannot be opened as HDF5 (corrupt or truncated?)"
run_ranks 2 eval corrupt.h5 --data blobs-test.h5
expect_failure "corrupt checkpoint" 2 "corrupt.h5 is damaged or incomplete"
run_ranks 2 eval blobs-train.h5 --data blobs-test.h5
expect_failure "a dataset given as checkpoint" 2 "error: blobs-train.h5 is a shardnet-dataset file, not a shardnet-checkpoint file"
run_ranks 2 train blobs.yaml --set checkpoint.dir=x --resume blobs-train.h5
expect_failure "a dataset given to --resume" 2 "not a shardnet-checkpoint file"
finish
