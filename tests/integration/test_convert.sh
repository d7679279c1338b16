#!/usr/bin/env bash
# `shardnet convert idx|cifar10` on small files written here: plain and gzip IDX,
# CIFAR-10 batches, compressed output, and broken files (truncated, wrong magic,
# label mismatch).
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON - <<'PY' || { echo "cannot write test files"; exit 1; }
import gzip, struct
import numpy as np
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
labels = np.array([0, 2, 1, 2, 0], dtype=np.uint8)
idx_images = struct.pack(">IIII", 0x803, 5, 4, 3) + images.tobytes()
idx_labels = struct.pack(">II", 0x801, 5) + labels.tobytes()
open("img.idx", "wb").write(idx_images)
open("lab.idx", "wb").write(idx_labels)
gzip.open("img.idx.gz", "wb").write(idx_images)
gzip.open("lab.idx.gz", "wb").write(idx_labels)
open("img-short.idx", "wb").write(idx_images[:-7])
open("img-magic.idx", "wb").write(struct.pack(">IIII", 0x801, 5, 4, 3) + images.tobytes())
open("lab-four.idx", "wb").write(struct.pack(">II", 0x801, 4) + labels[:4].tobytes())
open("lab-200.idx", "wb").write(struct.pack(">II", 0x801, 5) + bytes([0, 2, 200, 2, 0]))
np.save("expect-images.npy", images)
planes = rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)  # record, channel, h, w
cifar = b"".join(bytes([k]) + planes[i].tobytes() for i, k in enumerate([3, 9, 0]))
open("batch1.bin", "wb").write(cifar[:2 * 3073])
open("batch2.bin", "wb").write(cifar[2 * 3073:])
open("cifar-short.bin", "wb").write(cifar[:3073 + 100])
np.save("expect-cifar.npy", planes.transpose(0, 2, 3, 1))
PY

check_idx() {
  $PYTHON - "$1" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    assert f.attrs["format"] == "shardnet-dataset"
    assert f["images"].shape == (5, 4, 3, 1), f["images"].shape
    assert f["images"].dtype == np.uint8
    assert np.array_equal(f["images"][()][..., 0], np.load("expect-images.npy"))
    assert list(f["labels"][()]) == [0, 2, 1, 2, 0]
    assert [str(s) for s in f.attrs["class_names"]] == ["zero", "one", "two"]
PY
}

for suffix in "" .gz; do
  "$SHARDNET" convert idx --images img.idx$suffix --labels lab.idx$suffix --class-names zero,one,two --out d$suffix.h5 \
    >/dev/null 2>err.txt && check_idx d$suffix.h5 && pass "convert idx$suffix: images, labels and class names" ||
    fail "convert idx$suffix: $(cat err.txt)"
done

# --compress 4 --shuffle: both filters on every dataset, whole-sample chunks, the
# same content as the uncompressed file.
"$SHARDNET" convert idx --images img.idx.gz --labels lab.idx.gz --class-names zero,one,two --compress 4 --shuffle \
  --out z.h5 >/dev/null 2>err.txt && check_idx z.h5 && $PYTHON - <<'PY' && pass "convert idx --compress 4 --shuffle: deflate + shuffle, same content" || fail "convert idx --compress: $(cat err.txt)"
import h5py, numpy as np
with h5py.File("z.h5") as z, h5py.File("d.h5") as d:
    for name in ("images", "labels"):
        assert z[name].compression == "gzip" and z[name].compression_opts == 4 and z[name].shuffle, name
        assert d[name].compression is None and not d[name].shuffle, name
        assert np.array_equal(z[name][()], d[name][()]), name
    assert z["images"].chunks == (5, 4, 3, 1), z["images"].chunks
PY

expect_convert_error() {
  local what=$1 text=$2
  shift 2
  if "$SHARDNET" convert "$@" >/dev/null 2>err.txt; then fail "$what: exited 0"; return; fi
  if [ "$(wc -l <err.txt)" -eq 1 ] && grep -qF -- "$text" err.txt; then pass "$what: $(cat err.txt)"
  else fail "$what: expected one line with '$text', got: $(cat err.txt)"; fi
}
expect_convert_error "truncated IDX images" "img-short.idx is truncated: expected 60 bytes of image data, found 53" \
  idx --images img-short.idx --labels lab.idx --out x.h5
expect_convert_error "wrong IDX magic" "img-magic.idx is not an IDX file of 3-D unsigned bytes" \
  idx --images img-magic.idx --labels lab.idx --out x.h5
expect_convert_error "image and label counts differ" "img.idx has 5 images but lab-four.idx has 4 labels" \
  idx --images img.idx --labels lab-four.idx --out x.h5
expect_convert_error "missing IDX file" "cannot open nothing.idx" idx --images nothing.idx --labels lab.idx --out x.h5
expect_convert_error "a label byte of 200 without class names" \
  "lab-200.idx: label 200 of sample 2 is not a class number of an IDX set (0 to 99)" \
  idx --images img.idx --labels lab-200.idx --out x.h5
expect_convert_error "a label without a class name" "label 2 of sample 1 has no class name (2 given)" \
  idx --images img.idx --labels lab.idx --class-names a,b --out x.h5
[ ! -e x.h5 ] && pass "no output file after a failed conversion" || fail "a failed conversion left x.h5"

"$SHARDNET" convert cifar10 --out c.h5 batch1.bin batch2.bin >/dev/null 2>err.txt &&
  $PYTHON - <<'PY' && pass "convert cifar10: two batches, channels-last, CIFAR class names" || fail "convert cifar10: $(cat err.txt)"
import h5py, numpy as np
with h5py.File("c.h5") as f:
    assert f["images"].shape == (3, 32, 32, 3), f["images"].shape
    assert np.array_equal(f["images"][()], np.load("expect-cifar.npy"))
    assert list(f["labels"][()]) == [3, 9, 0]
    assert [str(s) for s in f.attrs["class_names"]][3] == "cat"
PY
"$SHARDNET" convert cifar10 --compress --out cz.h5 batch1.bin batch2.bin >/dev/null 2>err.txt &&
  $PYTHON - <<'PY' && pass "convert cifar10 --compress (level 4 by default), no shuffle" || fail "convert cifar10 --compress: $(cat err.txt)"
import h5py, numpy as np
with h5py.File("cz.h5") as f:
    assert f["images"].compression == "gzip" and f["images"].compression_opts == 4 and not f["images"].shuffle
    assert f["images"].chunks == (3, 32, 32, 3), f["images"].chunks
    assert np.array_equal(f["images"][()], np.load("expect-cifar.npy"))
PY
# Images larger than the converter's 4 MiB batches: streamed in several puts; a
# truncation is reported against the whole file.
$PYTHON - <<'PY' || fail "cannot write large IDX files"
import struct, numpy as np
big = np.random.default_rng(1).integers(0, 256, size=(3, 1200, 1200), dtype=np.uint8)
data = struct.pack(">IIII", 0x803, 3, 1200, 1200) + big.tobytes()
open("big.idx", "wb").write(data)
open("big-short.idx", "wb").write(data[:-1000])
open("big-lab.idx", "wb").write(struct.pack(">II", 0x801, 3) + bytes([1, 0, 1]))
np.save("expect-big.npy", big)
PY
"$SHARDNET" convert idx --images big.idx --labels big-lab.idx --compress 1 --out big.h5 >/dev/null 2>err.txt &&
  $PYTHON - <<'PY' && pass "convert idx: images streamed in batches" || fail "convert idx in batches: $(cat err.txt)"
import h5py, numpy as np
with h5py.File("big.h5") as f:
    assert np.array_equal(f["images"][()][..., 0], np.load("expect-big.npy"))
    assert list(f["labels"][()]) == [1, 0, 1]
    assert f["images"].chunks == (1, 1200, 1200, 1)
PY
expect_convert_error "truncated IDX images in a later batch" \
  "big-short.idx is truncated: expected 4320000 bytes of image data, found 4319000" \
  idx --images big-short.idx --labels big-lab.idx --out x.h5
expect_convert_error "--shuffle without --compress" "--shuffle needs --compress" \
  idx --images img.idx --labels lab.idx --shuffle --out x.h5
expect_convert_error "a deflate level out of range" "--compress expects a deflate level from 1 to 9, got '0'" \
  idx --images img.idx --labels lab.idx --compress=0 --out x.h5
expect_convert_error "truncated CIFAR batch" "cifar-short.bin is truncated: its last record has 100 of 3073 bytes" \
  cifar10 --out y.h5 batch1.bin cifar-short.bin
finish
