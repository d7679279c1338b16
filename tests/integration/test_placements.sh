#!/usr/bin/env bash
# Where the samples live does not change the training: every placement (replicate,
# node, shard, stream) ends bitwise where replicate does, on 1, 2 and 3 ranks, with
# uneven slices (global batch 14 on 3 ranks), a dropped partial batch at each epoch's
# end, read-ahead across the epoch boundary, and chunked, compressed files (deflate
# with and without shuffle, chunks that cut samples apart). The banner says which
# placement runs and why; augmentation keeps all of this; a bad label at the far end of a streamed set is named
# before the first step; a chunk that cannot be inflated mid-run stops every rank
# with one line, and the last checkpoint stays loadable.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
compare() { $PYTHON "$SN_SOURCE_DIR/tests/integration/compare_ckpt.py" "$@"; }
$PYTHON - <<'PY' || { echo "cannot write the compressed copies"; exit 1; }
import h5py, numpy as np
with h5py.File("blobs-train.h5") as f:
    images, labels, names = f["images"][()], f["labels"][()], list(f.attrs["class_names"])
def write(path, **opts):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.attrs["format_version"] = 1
        f.attrs["class_names"] = names
        f.create_dataset("images", data=images, **opts)
        f.create_dataset("labels", data=labels, chunks=(64,), compression="gzip")
write("gzip-shuffle.h5", chunks=(7, 8, 8, 1), compression="gzip", compression_opts=6, shuffle=True)
write("gzip-split.h5", chunks=(5, 8, 3, 1), compression="gzip", compression_opts=1)
bad = labels.copy()
bad[-1] = 7
with h5py.File("bad-last-label.h5", "w") as f:
    f.attrs["format"] = "shardnet-dataset"
    f.create_dataset("images", data=images, chunks=(16, 8, 8, 1), compression="gzip")
    f.create_dataset("labels", data=bad, chunks=(100,))
PY

# 40 steps of 14: one epoch is 34 steps (4 samples dropped), so the run and the
# read-ahead cross into epoch 2.
base=(train blobs.yaml --set train.batch_size=14 --set train.log_every=1000
      --set train.optimizer.type=sgd --set train.optimizer.lr=0.05 --set train.optimizer.momentum=0.9)
common=("${base[@]}" --set train.max_steps=40)
for ranks in 1 2 3; do
  run_ranks $ranks "${common[@]}" --set data.placement=replicate --set checkpoint.dir=replicate-p$ranks
  expect_success "replicate on $ranks rank(s)" || continue
  for placement in node shard stream; do
    for file in blobs-train.h5 gzip-shuffle.h5 gzip-split.h5; do
      [ "$file" != blobs-train.h5 ] && [ "$placement" != stream ] && [ "$ranks" -ne 2 ] && continue
      dir=$placement-$file-p$ranks
      run_ranks $ranks "${common[@]}" --set data.placement=$placement --set data.train=$file --set checkpoint.dir=$dir
      expect_success "$placement on $ranks rank(s) from $file" || continue
      grep -q "^shardnet: training set: $placement (asked for)" "$OUT" ||
        fail "$placement on $ranks rank(s): the banner does not name the placement: $(grep 'set:' "$OUT")"
      if out=$(compare replicate-p$ranks/latest.h5 $dir/latest.h5 0); then
        pass "$placement, $ranks rank(s), $file: bitwise the replicate run"
      else
        fail "$placement, $ranks rank(s), $file: differs from replicate: $out"
      fi
    done
  done
done

# Augmentation and the shape transforms: the 8x8 grey blobs fed as 12x12x3, randomly
# cropped, flipped and shifted. Streamed on 3 ranks it is bitwise the replicated run;
# 1 and 2 ranks follow the same trajectory; a resumed run ends bitwise where an
# unbroken one does.
sed -e 's/input: \[1, 8, 8\]/input: [3, 12, 12]/' blobs.yaml >augment.yaml
augment=("${base[@]/blobs.yaml/augment.yaml}" --set 'data.pad_to=[12, 12]' --set data.channels=3
         --set data.augment.random_crop.padding=2 --set data.augment.flip_horizontal=true
         --set data.augment.random_shift.max=1 --set data.augment.random_shift.fill=reflect)
for ranks in 1 2 3; do
  run_ranks $ranks "${augment[@]}" --set train.max_steps=40 --set data.placement=replicate --set checkpoint.dir=aug-p$ranks
  expect_success "augmented training on $ranks rank(s)"
done
run_ranks 3 "${augment[@]}" --set train.max_steps=40 --set data.placement=stream --set checkpoint.dir=aug-stream
expect_success "augmented training streamed on 3 ranks"
if out=$(compare aug-p3/latest.h5 aug-stream/latest.h5 0); then pass "augmented, streamed on 3 ranks: bitwise replicate"
else fail "augmented, streamed on 3 ranks differs from replicate: $out"; fi
for ranks in 2 3; do
  if out=$(compare aug-p1/latest.h5 aug-p$ranks/latest.h5 1e-4); then pass "augmented: $ranks ranks match 1 rank: $out"
  else fail "augmented: $ranks ranks differ from 1 rank: $out"; fi
done
if out=$(compare aug-p1/latest.h5 replicate-p1/latest.h5 1e-3); then
  fail "augmentation changed nothing: $out"
else
  pass "augmentation changes the training"
fi
run_ranks 2 "${augment[@]}" --set train.max_steps=23 --set data.placement=shard --set checkpoint.dir=aug-resume
expect_success "augmented, sharded, stopped at step 23"
run_ranks 2 "${augment[@]}" --set train.max_steps=40 --set data.placement=shard --set checkpoint.dir=aug-resume --resume latest
expect_success "augmented, sharded, resumed to step 40"
if out=$(compare aug-p2/latest.h5 aug-resume/latest.h5 0); then pass "augmented: stopped and resumed is bitwise the unbroken run"
else fail "augmented: the resumed run differs from the unbroken one: $out"; fi

run_ranks 2 "${common[@]}" --set checkpoint.dir=auto
expect_success "auto placement"
if grep -q "^shardnet: training set: replicate (2 copies of 0.000 GB fit easily in the .* GB this node has available)" "$OUT" &&
   grep -q "^shardnet: test set: replicate" "$OUT"; then
  pass "auto: a small set is replicated, and the banner says why"
else
  fail "auto: unexpected banner: $(grep 'set:' "$OUT")"
fi

run_ranks 2 "${common[@]}" --set data.placement=stream --set data.train=bad-last-label.h5 --set checkpoint.dir=bad
expect_failure "a bad label in the last sample of a streamed set" 2 \
  "bad-last-label.h5: label 7 of sample 479 is outside [0, 4) (the model has 4 outputs)"
[ -e bad/latest.h5 ] && fail "a run with a bad label took a step" || pass "the bad label stopped the run before any step"

# A file damaged while a streamed run reads it: once the run has written a
# checkpoint, most of the compressed chunks are overwritten; the next read of one
# stops every rank with one line naming the file and the sample, and the checkpoint
# written before stays loadable.
$PYTHON "$SN_SOURCE_DIR/bench/make_large_set.py" mid.h5 30 --compress 1 >/dev/null
$PYTHON "$SN_SOURCE_DIR/bench/make_large_set.py" clean.h5 1 >/dev/null
cp "$SN_SOURCE_DIR/tests/integration/large.yaml" .
(
  for _ in $(seq 600); do [ -e mid-run/latest.h5 ] && break; sleep 0.1; done
  $PYTHON -c "
import os
size = os.path.getsize('mid.h5')
with open('mid.h5', 'r+b') as f:
    f.seek(size // 10)
    f.write(b'\xa5' * (size * 8 // 10))
"
) &
damager=$!
run_ranks 2 train large.yaml --set data.train=mid.h5 --set data.placement=stream --set train.max_steps=100000 \
  --set checkpoint.every_steps=5 --set checkpoint.dir=mid-run
wait $damager
expect_failure "a file damaged mid-run" 2 "mid.h5: cannot read sample"
grep -q "of /images (corrupt, truncated or unreadable data)" "$ERR" || fail "mid-run read error lacks the reason: $(cat "$ERR")"
if "$SHARDNET" eval mid-run --data clean.h5 >/dev/null 2>&1; then
  pass "the last checkpoint before the read error is intact"
else
  fail "no loadable checkpoint after the mid-run read error"
fi

# eval and predict take the same placements and give the same answers.
for placement in node shard stream; do
  run_ranks 2 eval replicate-p1 --data gzip-shuffle.h5 --placement $placement
  expect_success "eval with --placement $placement" || continue
  run_ranks 2 predict replicate-p1 --data gzip-shuffle.h5 --placement $placement --out pred-$placement.h5
  expect_success "predict with --placement $placement"
done
# The same rank count: a batch's split decides the kernels' blocking, hence the last bits.
run_ranks 2 predict replicate-p1 --data blobs-train.h5 --placement replicate --out pred-ref.h5
for placement in node shard stream; do
  if $PYTHON -c "
import h5py, numpy as np, sys
a, b = h5py.File('pred-ref.h5'), h5py.File('pred-$placement.h5')
sys.exit(0 if np.array_equal(a['probabilities'][()], b['probabilities'][()]) and np.array_equal(a['labels'][()], b['labels'][()]) else 1)"; then
    pass "predict --placement $placement: bitwise the probabilities of replicate"
  else
    fail "predict --placement $placement differs from replicate"
  fi
done
run_ranks 2 eval replicate-p1 --data blobs-test.h5 --placement sideways
expect_failure "an unknown --placement" 2 "--placement 'sideways' is not one of auto, replicate, node, shard, stream"

finish
