#!/usr/bin/env bash
# Crafted input ends in one `shardnet: error:` line on every rank, never a crash or a
# hang (issue 11's regression cases): string and integer attributes holding arrays,
# checkpoint positions out of range, NaN or Inf in float data, format attributes that
# are not strings or hold control characters, configs that are devices or too large,
# input shapes and models too large to build, a FIFO as a dataset, a converter pointed
# at /dev/zero, and predictions written over their own input.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
common=(--set train.log_every=1000 --set train.max_steps=5)

# A dataset and a checkpoint whose string attributes hold two strings (h5py's
# attrs["format"] = ["a", "b"]): the reader overflowed a one-pointer buffer.
cp blobs-train.h5 two-formats.h5
$PYTHON -c 'import h5py, sys; f = h5py.File(sys.argv[1], "a"); f.attrs["format"] = ["a", "b"]' two-formats.h5
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=two-formats.h5
expect_failure "a dataset whose format is two strings" 2 "attribute 'format' must be one string, but holds 2"

run_ranks 1 train blobs.yaml "${common[@]}" --set checkpoint.dir=run
expect_success "a short run to have a checkpoint" || finish
cp run/latest.h5 two-configs.h5
$PYTHON -c 'import h5py, sys; f = h5py.File(sys.argv[1], "a"); f.attrs["config"] = ["x", "y", "z"]' two-configs.h5
run_ranks 2 eval two-configs.h5 --data blobs-test.h5
expect_failure "a checkpoint whose config is three strings" 2 "attribute 'config' must be one string, but holds 3"

# Datasets whose /images the readers would narrow without a word, or whose declared
# sizes (in a few KB of sparse chunks) would be allocated.
$PYTHON - <<'PY'
import h5py, numpy as np
def make(name, images, labels=None, fmt=True, chunks=None):
    with h5py.File(name, "w") as f:
        if isinstance(images, tuple):
            f.create_dataset("images", shape=images[0], dtype=images[1], chunks=chunks)
        else:
            f["images"] = images
        f["labels"] = labels if labels is not None else np.zeros(len(f["images"]) if f["images"].shape[0] < 1000 else 1, np.int32)
        if fmt:
            f.attrs["format"] = "shardnet-dataset"
make("int64.h5", np.zeros((4, 8, 8, 1), np.int64))
make("float64.h5", np.zeros((4, 8, 8, 1), np.float64))
make("no-format.h5", np.zeros((4, 8, 8, 1), np.uint8), fmt=False)
make("huge-sample.h5", ((1, 65535, 65535, 65535), np.uint8), labels=np.zeros(1, np.int32), chunks=(1, 1, 1, 1))
make("huge-count.h5", ((1 << 40, 8, 8, 1), np.uint8), labels=np.zeros(1, np.int32), chunks=(1, 8, 8, 1))
PY
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=int64.h5
expect_failure "int64 images" 2 "int64.h5: /images holds int64 values; shardnet reads uint8 or float32"
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=float64.h5
expect_failure "float64 images" 2 "float64.h5: /images holds float64 values"
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=no-format.h5
expect_failure "a dataset without its format attribute" 2 "no-format.h5 has no 'format' attribute"
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=huge-sample.h5
expect_failure "samples of 65535^3 bytes" 2 "huge-sample.h5: /images has samples of 65535x65535x65535"
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=huge-count.h5
expect_failure "2^40 samples" 2 "huge-count.h5: /images declares 1099511627776 samples"

# Data the file does not hold: 2^24 samples declared in 6 KB (chunks never written,
# read back as 1 GB of fill values: minutes of work for nothing), and /images whose
# values come from other files through external storage (here /etc/passwd) or a
# virtual dataset.
$PYTHON - <<'PY'
import h5py, numpy as np
with h5py.File("blobs-train.h5") as src:
    labels = src["labels"][()]
n = len(labels)
with h5py.File("unwritten.h5", "w") as f:
    f.attrs["format"] = "shardnet-dataset"
    f.create_dataset("images", shape=(1 << 24, 8, 8, 1), dtype="u1", chunks=(1, 8, 8, 1))
    f.create_dataset("labels", shape=(1 << 24,), dtype="i4", chunks=(4096,))
with h5py.File("external.h5", "w") as f:
    f.attrs["format"] = "shardnet-dataset"
    f.create_dataset("images", shape=(n, 8, 8, 1), dtype="u1", external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])
    f["labels"] = labels
layout = h5py.VirtualLayout(shape=(n, 8, 8, 1), dtype="u1")
layout[:] = h5py.VirtualSource("blobs-train.h5", "images", shape=(n, 8, 8, 1))
with h5py.File("virtual.h5", "w", libver="latest") as f:
    f.attrs["format"] = "shardnet-dataset"
    f.create_virtual_dataset("images", layout)
    f["labels"] = labels
PY
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=unwritten.h5
expect_failure "2^24 samples declared in 6 KB" 2 "unwritten.h5: /images declares 1073741824 bytes of data, more than its"
run_ranks 2 eval run/latest.h5 --data unwritten.h5
expect_failure "2^24 samples declared in 6 KB, eval" 2 "byte file holds: it was never written (an interrupted writer?)"
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=external.h5
expect_failure "/images in external storage" 2 "external.h5: /images takes its values from other files (external storage)"
run_ranks 2 eval run/latest.h5 --data virtual.h5
expect_failure "/images a virtual dataset" 2 "virtual.h5: /images takes its values from other files (a virtual dataset)"

# NaN or Inf in a float file is refused where it is read, naming the sample and the
# value, in every placement (replicate reads the set before the first step, stream
# during training): through relu and max pooling it turned the weights NaN steps
# later, in a message that named no file.
$PYTHON - <<'PY'
import h5py, numpy as np
with h5py.File("blobs-train.h5", "r") as src:
    base, labels = src["images"][()].astype(np.float32) / 255, src["labels"][()]
for name, value in (("nan-pixels.h5", np.nan), ("inf-pixels.h5", -np.inf), ("huge-pixels.h5", 3e38)):
    with h5py.File(name, "w") as f:
        x = base.copy()
        x[7, 3, 3, 0] = value
        f["images"] = x
        f["labels"] = labels
        f.attrs["format"] = "shardnet-dataset"
with h5py.File("nan-targets.h5", "w") as f:
    f["images"] = base[:64]
    t = base[:64].reshape(64, -1).copy()
    t[40, 5] = np.nan
    f["targets"] = t
    f.attrs["format"] = "shardnet-dataset"
PY
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=nan-pixels.h5 --set data.scale=1 --set checkpoint.dir=nan
expect_failure "NaN pixels in a float dataset" 2 "nan-pixels.h5: sample 7 of /images holds NaN at value 27; shardnet reads finite numbers only"
run_ranks 2 train blobs.yaml --set train.log_every=1000 --set train.max_steps=30 --set data.train=inf-pixels.h5 \
  --set data.scale=1 --set data.placement=stream --set checkpoint.dir=inf
expect_failure "-Inf pixels in a float dataset, streamed" 2 "inf-pixels.h5: sample 7 of /images holds -Inf at value 27"
run_ranks 2 eval run/latest.h5 --data nan-pixels.h5 --placement shard
expect_failure "NaN pixels in a float dataset, eval" 2 "nan-pixels.h5: sample 7 of /images holds NaN at value 27"
run_ranks 1 train "$SN_SOURCE_DIR/tests/integration/regress.yaml" "${common[@]}" --set data.train=nan-targets.h5 --set checkpoint.dir=nan-t
expect_failure "NaN in /targets" 1 "nan-targets.h5: sample 40 of /targets holds NaN at value 5"
[ ! -e nan/latest.h5 ] && [ ! -e inf/latest.h5 ] && pass "no checkpoint from NaN data" || fail "a checkpoint from NaN data was written"
# Finite pixels that overflow once scaled turn weights NaN through relu and max
# pooling while the loss stays finite: such weights are never checkpointed.
run_ranks 2 train blobs.yaml --set train.log_every=1000 --set data.train=huge-pixels.h5 --set data.scale=1e12 \
  --set train.max_steps=40 --set checkpoint.dir=nan-relu
expect_failure "pixels that overflow once scaled, relu" 2 "huge-pixels.h5 too large to train on"
[ ! -e nan-relu/latest.h5 ] && pass "no checkpoint of NaN weights" || fail "a checkpoint of NaN weights was written"

# A string attribute longer than its reader's buffer was cut to fit without a word: a
# config after 1 MB of comments was read as the comments alone.
cp run/latest.h5 long-config.h5
$PYTHON -c 'import h5py, sys; f = h5py.File(sys.argv[1], "a"); f.attrs["config"] = "#" * (1 << 20) + "\n" + f.attrs["config"]' long-config.h5
run_ranks 2 eval long-config.h5 --data blobs-test.h5
expect_failure "a checkpoint config longer than 1 MB" 2 "long-config.h5 is damaged or incomplete: attribute 'config' is a string of"

# Positions out of range: samples_seen -1 read memory before the sample order.
for bad in "samples_seen -1" "step -5" "epoch -1" "world_size 0"; do
  read -r key value <<<"$bad"
  cp run/latest.h5 "bad-$key.h5"
  $PYTHON -c 'import h5py, sys, numpy; f = h5py.File(sys.argv[1], "a"); f.attrs[sys.argv[2]] = numpy.int64(sys.argv[3])' \
    "bad-$key.h5" "$key" "$value"
  run_ranks 2 train blobs.yaml "${common[@]}" --set checkpoint.dir=resumed-$key --resume "bad-$key.h5"
  expect_failure "a checkpoint with $key $value" 2 "attribute '$key' is $value, outside"
done

# Integer attributes must be one integer: an array of 64 was written into one stack
# variable (AddressSanitizer: stack-buffer-overflow), an empty one left it unset, and
# a float was truncated without a word.
for bad in "step numpy.arange(64)" "world_size numpy.array([],numpy.int64)" "epoch 1.5" "seed 'x'"; do
  read -r key value <<<"$bad"
  cp run/latest.h5 "odd-$key.h5"
  $PYTHON -c "import h5py, sys, numpy; f = h5py.File(sys.argv[1], 'a'); f.attrs[sys.argv[2]] = $value" "odd-$key.h5" "$key"
  run_ranks 2 eval "odd-$key.h5" --data blobs-test.h5
  case $key in
    step) text="attribute 'step' must be one integer, but holds 64" ;;
    world_size) text="attribute 'world_size' must be one integer, but holds 0" ;;
    *) text="attribute '$key' is not an integer" ;;
  esac
  expect_failure "a checkpoint whose $key is $value" 2 "odd-$key.h5 is damaged or incomplete: $text"
done
cp run/latest.h5 odd-opt-step.h5
$PYTHON -c 'import h5py, sys, numpy; f = h5py.File(sys.argv[1], "a"); f["optimizer"].attrs["step"] = numpy.arange(3)' odd-opt-step.h5
run_ranks 2 train blobs.yaml "${common[@]}" --set checkpoint.dir=resumed-odd --resume odd-opt-step.h5
expect_failure "a checkpoint whose /optimizer step is 3 integers" 2 "odd-opt-step.h5 does not match the model: attribute 'step' must be one integer, but holds 3"

# A format attribute that is not a string names the file; one holding a newline or
# terminal escapes is quoted with escapes, so the error stays one line.
$PYTHON - <<'PY'
import h5py, numpy as np, shutil
for name, value in (("int-format.h5", np.int64(1)), ("newline-format.h5", "shardnet\ncheckpoint\x1b[2J")):
    shutil.copyfile("run/latest.h5", name)
    with h5py.File(name, "a") as f:
        f.attrs["format"] = value
PY
run_ranks 2 eval int-format.h5 --data blobs-test.h5
expect_failure "a checkpoint whose format is an integer" 2 "int-format.h5: attribute 'format' is not a string"
run_ranks 2 predict newline-format.h5 --data blobs-test.h5 --out never.h5
expect_failure "a checkpoint whose format holds a newline" 2 'newline-format.h5 is a shardnet\ncheckpoint\x1b[2J file, not a shardnet-checkpoint file'
[ "$(wc -l <"$ERR")" -eq 1 ] && pass "the message is one line" || fail "the message spans $(wc -l <"$ERR") lines"

# Damaged weights: a flipped bit in a tensor's data fails its checksum, and NaN
# written by a tool (which then checksums it anew) is refused as NaN.
cp run/latest.h5 flipped.h5
$PYTHON - flipped.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    info = f["model_weights/conv/conv/kernel:0"].id.get_chunk_info(0)
with open(sys.argv[1], "r+b") as raw:
    raw.seek(info.byte_offset + 8)
    b = raw.read(1)
    raw.seek(info.byte_offset + 8)
    raw.write(bytes([b[0] ^ 0x10]))
PY
run_ranks 2 eval flipped.h5 --data blobs-test.h5
expect_failure "a bit flipped in the weights" 2 "flipped.h5 cannot be loaded: cannot read /model_weights/conv/conv/kernel:0 (corrupt file, or its checksum does not match)"
cp run/latest.h5 nan.h5
$PYTHON -c 'import h5py, sys; f = h5py.File(sys.argv[1], "a"); d = f["model_weights/hidden/hidden/bias:0"]; v = d[()]; v[3] = float("nan"); d[...] = v' nan.h5
run_ranks 2 predict nan.h5 --data blobs-test.h5 --out nan-predictions.h5
expect_failure "NaN in the weights" 2 "nan.h5 cannot be loaded: /model_weights/hidden/hidden/bias:0 holds NaN at element 3"

# An argument error found before MPI starts is printed by the first rank only: every
# rank parses the same arguments, and each printed the line.
run_ranks 2 train blobs.yaml --set noequals
expect_failure "a malformed --set on 2 ranks" 2 "--set expects key=value, got 'noequals'"
run_ranks 2 eval run/latest.h5 --data blobs-test.h5 --bogus
expect_failure "an unknown option on 2 ranks" 2 "eval: unexpected argument '--bogus'"

# Configs that are not regular files, or too large to be configs.
run_ranks 1 train /dev/zero
expect_failure "/dev/zero as the config" 1 "config '/dev/zero' is not a regular file"
head -c 1100000 /dev/zero | tr '\0' '#' >huge.yaml
run_ranks 1 train huge.yaml
expect_failure "a 1.1 MB config" 1 "config 'huge.yaml' is 1100000 bytes, more than the 1048576 a config may have"

# Configs that made parsing quadratic: 40,000 keys took 3 s, 100,000-deep nesting 27 s.
$PYTHON - <<'PY'
head = "seed: 1\nmodel:\n  input: [1, 8, 8]\n  layers:\n    - {type: flatten}\n    - {type: dense, units: 2}\n  loss: mse\n"
open("many-keys.yaml", "w").write(head + "train:\n" + "".join("  k%d: 1\n" % i for i in range(60000)))
open("deep.yaml", "w").write(head + "x: " + "[" * 100000 + "]" * 100000 + "\n")
PY
# The sanitizer pass unwinds the full stack at every malloc (fast_unwind_on_malloc=0,
# for the leak suppressions), which alone made the 60,000 keys take 3.7-5.3 s: the
# timed runs unwind fast, so the limit measures the parser.
timed_asan=${ASAN_OPTIONS:-}
timed_asan=${timed_asan//fast_unwind_on_malloc=0/fast_unwind_on_malloc=1}
for c in many-keys deep; do
  start=$(date +%s%N)
  ASAN_OPTIONS=$timed_asan LSAN_OPTIONS=${LSAN_OPTIONS:+${LSAN_OPTIONS//fast_unwind_on_malloc=0/fast_unwind_on_malloc=1}} \
    run_ranks 1 summary $c.yaml
  took=$((($(date +%s%N) - start) / 1000000))
  case $c in
    many-keys) expect_failure "60,000 keys in one section" 1 "many-keys.yaml:8: train: has more than 1024 keys" ;;
    deep) expect_failure "100,000-deep nesting" 1 "deep.yaml:8: lists or mappings nested more than 64 deep" ;;
  esac
  [ "$took" -lt 5000 ] && pass "$c refused in $took ms" || fail "$c took $took ms"
done
run_ranks 1 summary blobs.yaml --set "train.x=$($PYTHON -c 'print("[" * 1000 + "]" * 1000)')"
expect_failure "100-deep nesting in --set" 1 "lists or mappings nested more than 64 deep"

# Sizes that would overflow shape inference or exhaust memory.
run_ranks 1 summary blobs.yaml --set "model.input=[1, 2147483647, 2147483647]"
expect_failure "a 2^31-pixel input" 1 "key 'input' is [1, 2147483647, 2147483647]; each size may be at most 65536"
run_ranks 1 summary blobs.yaml --set model.layers.hidden.units=16000000
expect_failure "a dense layer of 16 million units" 1 "blobs.yaml: the model has 2128000084 parameters"

# A FIFO is no dataset: opening it would wait for a writer forever.
mkfifo fifo.h5
run_ranks 2 train blobs.yaml "${common[@]}" --set data.train=fifo.h5
expect_failure "a FIFO as the training set" 2 "fifo.h5 is not a regular file"
run_ranks 1 convert cifar10 --out never.h5 /dev/zero
expect_failure "convert cifar10 /dev/zero" 1 "/dev/zero is not a regular file"
[ ! -e never.h5 ] && pass "convert left no output behind" || fail "convert left never.h5"

# An IDX header declaring 200 x 65535 x 65535 pixels in a few bytes: the converter
# allocated what the header said.
$PYTHON -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack(">IIII", 0x803, 200, 65535, 65535) + bytes(64)); open(sys.argv[2], "wb").write(struct.pack(">II", 0x801, 200) + bytes(200))' big-images.idx big-labels.idx
run_ranks 1 convert idx --images big-images.idx --labels big-labels.idx --out never.h5
expect_failure "an IDX header larger than its file" 1 "big-images.idx is truncated: expected 858967245000 bytes of image data, found 64"
$PYTHON -c 'import gzip, struct, sys; open(sys.argv[1], "wb").write(gzip.compress(struct.pack(">IIII", 0x803, 200, 65535, 65535) + bytes(64)))' big-images.idx.gz
run_ranks 1 convert idx --images big-images.idx.gz --labels big-labels.idx --out never.h5
expect_failure "a compressed IDX header larger than deflate can expand to" 1 "big-images.idx.gz declares 858967245000 bytes of image data in its header, more than its"

# A gzip IDX file whose data was damaged (CRC mismatch) or that holds more than its
# header declares.
$PYTHON - <<'PY'
import gzip, struct
images = struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(8))
labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
blob = bytearray(gzip.compress(images, mtime=0))
blob[-8] ^= 0xFF  # the CRC-32 of the trailer
open("bad-crc.idx.gz", "wb").write(blob)
open("ok-labels.idx", "wb").write(labels)
open("long-images.idx", "wb").write(images + b"extra")
PY
run_ranks 1 convert idx --images bad-crc.idx.gz --labels ok-labels.idx --out never.h5
expect_failure "a gzip IDX file failing its CRC" 1 "bad-crc.idx.gz is damaged: incorrect data check"
run_ranks 1 convert idx --images long-images.idx --labels ok-labels.idx --out never.h5
expect_failure "an IDX file longer than its header says" 1 "long-images.idx has more data than its header declares"

# An IDX file of 0 images, or of 0-pixel images, is no dataset.
$PYTHON -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack(">IIII", 0x803, 0, 28, 28)); open(sys.argv[2], "wb").write(struct.pack(">II", 0x801, 0)); open(sys.argv[3], "wb").write(struct.pack(">IIII", 0x803, 2, 0, 28))' zero-images.idx zero-labels.idx flat-images.idx
run_ranks 1 convert idx --images zero-images.idx --labels zero-labels.idx --out never.h5
expect_failure "an IDX file of 0 images" 1 "zero-images.idx holds no images (its header says 0)"
run_ranks 1 convert idx --images flat-images.idx --labels ok-labels.idx --out never.h5
expect_failure "an IDX file of 0x28-pixel images" 1 "flat-images.idx: 2 images of 0x28 pixels cannot be stored"

# --resume auto with latest.h5 pointing at a checkpoint that is gone: starting over
# would have overwritten the run.
mkdir -p dangling && ln -s ckpt-00000099.h5 dangling/latest.h5
run_ranks 2 train blobs.yaml "${common[@]}" --set checkpoint.dir=dangling --resume auto
expect_failure "--resume auto with a dangling latest.h5" 2 "dangling/latest.h5 is a link to a checkpoint that is missing"

# predict --out naming one of its inputs destroyed it before reading.
sum_before=$(md5sum <blobs-test.h5)
run_ranks 2 predict run --data blobs-test.h5 --out blobs-test.h5
expect_failure "predict --out over its --data file" 2 "predict: --out blobs-test.h5 is the --data file this command reads"
[ "$(md5sum <blobs-test.h5)" = "$sum_before" ] && pass "the --data file is untouched" || fail "predict changed its --data file"
run_ranks 2 predict run --data blobs-test.h5 --out run/latest.h5
expect_failure "predict --out over its checkpoint" 2 "is the checkpoint this command reads"
# A checkpoint directory with no room left: one line and a non-zero exit, not a
# crash in HDF5 at MPI_Finalize. The run's
# file system is a 6 MB tmpfs in a private mount namespace: the first checkpoint of
# the wide model (3 MB) fits, the second does not.
sed -e 's/name: hidden, units: 16/name: hidden, units: 2100/' blobs.yaml >wide.yaml
if unshare --mount true 2>/dev/null; then
  mkdir -p full
  saved=("${SN_MPIRUN[@]}")
  SN_MPIRUN=(unshare --mount sh -c 'mount -t tmpfs -o size=6m tmpfs "$0" && cd "$0" && exec mpirun "$@"' "$WORK/full")
  run_ranks 2 train "$WORK/wide.yaml" --set train.max_steps=20 --set train.log_every=1000 \
    --set checkpoint.every_steps=5 --set checkpoint.dir=run --set data.train="$WORK/blobs-train.h5" \
    --set data.test="$WORK/blobs-test.h5"
  expect_failure "a full checkpoint directory" 2 "checkpoint run/ckpt-00000010.h5 not written: it needs about"
  SN_MPIRUN=("${saved[@]}")
  grep -q "Segmentation fault\|signal 11" "$ERR" && fail "a process crashed: $(grep -m1 -i segm "$ERR")" ||
    pass "no process crashed"
else
  echo "note: no private mount namespace here; the full checkpoint directory case is not run"
fi
finish
