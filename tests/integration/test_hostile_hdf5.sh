#!/usr/bin/env bash
# Crafted HDF5 structure (issue 11): sizes read from a file are checked before
# anything is sized from them, and metadata that crashes or hangs libhdf5 itself is
# caught by the preflight walk in a child process (src/io/h5_preflight.c). Each case
# ends in one `shardnet: error:` line on every rank.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" "$SN_SOURCE_DIR/tests/integration/regress.yaml" .
common=(--set train.log_every=1000 --set train.max_steps=2)
run_ranks 1 train blobs.yaml "${common[@]}" --set checkpoint.dir=run
expect_success "a short run to have a checkpoint" || finish

$PYTHON - <<'PY'
import h5py, numpy as np, shutil
# A bias of 4 units declared with 2^32 + 4 entries: read through an int, the length
# matched the model's 4 and the read overran the buffer.
shutil.copy("run/latest.h5", "long-bias.h5")
with h5py.File("long-bias.h5", "a") as f:
    path = "model_weights/logits/logits/bias:0"
    del f[path]
    f.create_dataset(path, shape=(2**32 + 4,), dtype="f4", chunks=(1024,))
# /targets whose rows multiply past 2^64 (a few KB of sparse chunks on disk).
with h5py.File("regress-train.h5", "r") as src, h5py.File("wide-targets.h5", "w") as f:
    for k, v in src.attrs.items():
        f.attrs[k] = v
    f["images"] = src["images"][()]
    f.create_dataset("targets", shape=(len(src["images"]), 2**32, 2**32, 2), dtype="f4", chunks=(1, 1, 1, 2))
# class_names declaring 20,000 names (a list attribute holds at most 16,384).
shutil.copy("blobs-test.h5", "many-names.h5")
with h5py.File("many-names.h5", "a") as f:
    f.attrs["class_names"] = np.array([b"x"] * 20000)
PY
run_ranks 2 eval long-bias.h5 --data blobs-test.h5
expect_failure "a checkpoint tensor of 2^32 + 4 values" 2 \
  "layer 'logits' bias:0 has shape 4294967300 in the checkpoint but 4 in the model"
run_ranks 2 train regress.yaml "${common[@]}" --set data.train=wide-targets.h5
expect_failure "/targets rows past 2^64 values" 2 "wide-targets.h5: /targets has rows of more than 2^64 values"
run_ranks 2 eval run --data many-names.h5
expect_failure "20,000 class names" 2 "attribute 'class_names' holds 20000 strings"

# A dataset whose root 'format' string claims 1 GiB in its stored length (found by
# fuzz/fuzz_dataset): libhdf5 1.10 allocates and clears the claim before it finds
# 16 bytes, in the preflight child and again in each rank. The claim is read first.
oom=$SN_SOURCE_DIR/tests/fuzz-regressions/dataset/oom-vlen-format-attribute
run_ranks 2 eval run --data "$oom"
expect_failure "a 'format' attribute claiming 1 GiB" 2 "attribute 'format' is a string of 1073741840 bytes, more than the 63 accepted"
# the peak of one process (and its preflight child) refusing it
peak=$($PYTHON -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$SHARDNET" eval run --data "$oom")
[ "$peak" -lt 512000 ] && pass "refused at a peak of $peak KiB" || fail "refusing it took a peak of $peak KiB"

# Checkpoints whose string attributes point at damaged global heap objects (found by
# fuzz/fuzz_checkpoint): libhdf5 1.10 would read the same heap header forever, or copy
# an object larger than its collection; the objects are looked up first.
export SHARDNET_H5_PREFLIGHT=2
for damaged in hang-global-heap-read-loops crash-heap-object-larger-than-its-collection; do
  run_ranks 2 eval "$SN_SOURCE_DIR/tests/fuzz-regressions/checkpoint/$damaged" --data blobs-test.h5
  expect_failure "$damaged" 2 "is damaged: its variable-length value does not match the global heap object it points to"
done

# A dataset's variable-length fill value in a heap whose free space claims 0 bytes:
# libhdf5 reads that header forever when it opens the dataset, before any check of
# ours can run. The preflight gives up after its limit.
hang=$SN_SOURCE_DIR/tests/fuzz-regressions/checkpoint/hang-vlen-fill-value-heap-loops
start=$(date +%s)
run_ranks 2 eval "$hang" --data blobs-test.h5
expect_failure "metadata that never finishes reading" 2 "is corrupt: reading its HDF5 metadata did not finish in 2 s"
[ $(($(date +%s) - start)) -lt 30 ] && pass "it ended within 30 s" || fail "it took $(($(date +%s) - start)) s"
# Good files pass the walk: the same run on the real checkpoint works.
run_ranks 2 eval run --data blobs-test.h5
expect_success "a good checkpoint and dataset pass the preflight"
unset SHARDNET_H5_PREFLIGHT
finish
