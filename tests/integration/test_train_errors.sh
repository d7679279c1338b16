#!/usr/bin/env bash
# Bad input to `shardnet train` under mpirun: one clear error line, every rank exits
# non-zero, nothing hangs.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .

run_ranks 2 train blobs.yaml --set data.train=missing.h5
expect_failure "missing dataset file" 2 "cannot open missing.h5: No such file or directory"
run_ranks 2 train blobs.yaml --set data.train=not-hdf5.h5
expect_failure "file that is not HDF5" 2 "not-hdf5.h5 is not an HDF5 file"
run_ranks 2 train blobs.yaml --set data.train=checkpoint-like.h5
expect_failure "file of another shardnet format" 2 "is a shardnet-checkpoint file, not a shardnet-dataset file"
run_ranks 2 train blobs.yaml --set data.train=no-images.h5
expect_failure "dataset without /images" 2 "no-images.h5 has no /images dataset"
run_ranks 2 train blobs.yaml --set data.train=wrong-shape.h5
expect_failure "image shape that does not match model.input" 2 "images are 9x8x1 (H x W x C) but model.input is [1, 8, 8]"
run_ranks 2 train blobs.yaml --set data.train=bad-labels.h5
expect_failure "label outside [0, classes)" 2 "label 7 of sample 37 is outside [0, 4)"
run_ranks 2 train blobs.yaml --set data.train=empty.h5
expect_failure "empty dataset" 2 "empty.h5 has no samples"
run_ranks 3 train blobs.yaml --set train.batch_size=2
expect_failure "batch smaller than the ranks" 3 "train.batch_size 2 is smaller than the number of ranks (3)"
cp "$SN_SOURCE_DIR/tests/integration/regress.yaml" .
run_ranks 2 train regress.yaml --set train.optimizer.lr=1000
expect_failure "NaN loss from a huge learning rate" 2 "training stopped (try a lower learning rate)"
grep "^shardnet: error:" "$ERR" | grep -qE "the loss became (NaN|infinite) at step [0-9]+ \(epoch [0-9]+\)" &&
  pass "the NaN message names the step" || fail "the NaN message does not name the step"
run_ranks 2 train blobs.yaml --set train.epochz=3
expect_failure "unknown config key" 2 "epochz"

# Two runs given one checkpoint dir would prune each other's checkpoints: the second
# is refused, naming the first; the first goes on and stops cleanly. A run that is
# gone (here stopped, in a cluster requeued or killed) leaves no stale lock.
"$SHARDNET" train blobs.yaml --set checkpoint.dir=shared --set train.epochs=100000 --quiet >first.out 2>&1 &
first=$!
for _ in $(seq 100); do [ -s shared/.lock ] && break; sleep 0.1; done
run_ranks 2 train blobs.yaml --set checkpoint.dir=shared --set train.max_steps=5
expect_failure "a checkpoint dir in use by another run" 2 "checkpoint.dir shared is in use by another run (pid $first on"
kill -TERM "$first"
wait "$first"
[ $? -eq 75 ] && pass "the first run stopped cleanly (75)" || fail "the first run did not stop cleanly: $(tail -2 first.out)"
run_ranks 2 train blobs.yaml --set checkpoint.dir=shared --set train.max_steps=5 --resume latest
expect_success "the dir, free again, takes a resumed run"
finish
