#!/usr/bin/env bash
# `shardnet convert images` on a class-folder tree written here with PIL: class and
# file order, labels, exact pixels of images already at the size, resized ones
# against PIL's antialiased bilinear resize, grey output, the stratified split
# (sizes per class, same seed same files), compression, and every error as one line.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON - <<'PY' || { echo "cannot write test images"; exit 1; }
import os
import numpy as np
from PIL import Image
rng = np.random.default_rng(5)
H, W = 12, 16
def rgb(h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
for d in ["tree/Cat", "tree/bird", "tree/dog", "tree/.cache", "empty", "noimg/a", "noimg/b", "solo/many",
          "solo/one", "bad/a", "bad/b", "garbage/a"]:
    os.makedirs(d, exist_ok=True)
# Cat: JPEGs (grey unscaled, RGB halved, Adobe CMYK); sorted bytewise B < a < c
Image.fromarray(rng.integers(0, 256, size=(H, W), dtype=np.uint8), "L").save("tree/Cat/B.JPEG", quality=90)
Image.fromarray(rgb(2 * H, 2 * W)).save("tree/Cat/a.jpg", quality=90)
Image.fromarray(rng.integers(0, 256, size=(H, W, 4), dtype=np.uint8), "CMYK").save("tree/Cat/c.jpg", quality=95)
# bird: PNGs of every kind; 1.png and 3.png are at the output size
Image.fromarray(rgb(H, W)).save("tree/bird/1.png")
Image.fromarray(rgb(H // 2, W // 2)).convert("P", palette=Image.ADAPTIVE, colors=16).save("tree/bird/2.png")
rgba = rng.integers(0, 256, size=(H, W, 4), dtype=np.uint8)
Image.fromarray(rgba, "RGBA").save("tree/bird/3.png")
grey16 = (rng.integers(0, 256, size=(H, W)) * 257).astype(np.uint16)
Image.fromarray(grey16, "I;16").save("tree/bird/4.png")
open("tree/bird/readme.txt", "w").write("not an image\n")
open("tree/bird/.DS_Store", "w").write("hidden\n")
open("tree/labels.csv", "w").write("skipped at the top\n")
Image.fromarray(rgb(4, 4)).save("tree/.cache/hidden.png")
# dog: RGB PNGs of many sizes (shrink by 3, enlarge, other aspect ratios)
for name, (h, w) in zip(["a.png", "b.png", "c.PNG", "d.png", "e.png", "f.png"],
                        [(3 * H, 3 * W), (7, 9), (H, W), (100, 20), (13, 17), (H, W)]):
    Image.fromarray(rgb(h, w)).save("tree/dog/" + name)

order = ["Cat/B.JPEG", "Cat/a.jpg", "Cat/c.jpg", "bird/1.png", "bird/2.png", "bird/3.png", "bird/4.png",
         "dog/a.png", "dog/b.png", "dog/c.PNG", "dog/d.png", "dog/e.png", "dog/f.png"]
def decoded(name):
    """The file as shardnet decodes it, in RGB, before resizing."""
    if name == "bird/4.png":
        v = ((grey16.astype(np.uint32) * 255 + 32895) >> 16).astype(np.uint8)  # libpng's 16 to 8 bits
        return np.repeat(v[..., None], 3, axis=2)
    if name == "bird/3.png":
        return rgba[..., :3]                       # alpha dropped, not composited
    return np.asarray(Image.open("tree/" + name).convert("RGB"))
def luma(x):
    x = x.astype(np.uint32)
    return ((19595 * x[..., 0] + 38470 * x[..., 1] + 7471 * x[..., 2] + 0x8000) >> 16).astype(np.uint8)
def resized(x):
    if x.shape[:2] == (H, W):
        return x
    mode = "RGB" if x.ndim == 3 else "L"
    return np.asarray(Image.fromarray(x, mode).resize((W, H), Image.BILINEAR))
src = [decoded(n) for n in order]
np.save("expect-rgb.npy", np.stack([resized(x) for x in src]))
np.save("expect-grey.npy", np.stack([resized(luma(x)) for x in src])[..., None])
np.save("exact.npy", np.array([x.shape[:2] == (H, W) for x in src]))
np.save("labels.npy", np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2], dtype=np.int32))

# error trees: a class without images, a split that empties a class, a corrupt
# JPEG among good ones, a file that is not an image at all
open("noimg/b/notes.txt", "w").write("x")
Image.fromarray(rgb(4, 4)).save("noimg/a/x.png")
for i in range(4):
    Image.fromarray(rgb(4, 4)).save("solo/many/%d.png" % i)
Image.fromarray(rgb(4, 4)).save("solo/one/only.png")
for i in range(3):
    Image.fromarray(rgb(20, 20)).save("bad/a/%d.jpg" % i)
    Image.fromarray(rgb(20, 20)).save("bad/b/%d.jpg" % i)
data = open("bad/b/1.jpg", "rb").read()
open("bad/b/1.jpg", "wb").write(data[:len(data) // 2])
Image.fromarray(rgb(4, 4)).save("garbage/a/good.png")
open("garbage/a/text.png", "wb").write(b"this is text, not a PNG\n")
open("file.txt", "w").write("x")
PY

# check_rgb FILE CHANNELS: contents of a conversion of tree/ without split.
check_all() {
  $PYTHON - "$@" <<'PY'
import sys, h5py, numpy as np
path, channels = sys.argv[1], int(sys.argv[2])
expect = np.load("expect-rgb.npy" if channels == 3 else "expect-grey.npy")
exact = np.load("exact.npy")
with h5py.File(path) as f:
    assert f.attrs["format"] == "shardnet-dataset"
    assert f.attrs["source"] == "images:tree", f.attrs["source"]
    assert [str(s) for s in f.attrs["class_names"]] == ["Cat", "bird", "dog"], list(f.attrs["class_names"])
    x, y = f["images"][()], f["labels"][()]
    assert f["images"].dtype == np.uint8 and f["labels"].dtype == np.int32
    assert x.shape == (13, 12, 16, channels), x.shape
    assert f["images"].chunks[1:] == (12, 16, channels), f["images"].chunks
    assert np.array_equal(y, np.load("labels.npy")), y
    d = np.abs(x.astype(int) - expect.astype(int))
    # images already 12x16: the decoded pixels exactly (the PNGs), JPEGs as PIL's
    # libjpeg decodes them; resized ones within 2 levels of PIL's BILINEAR
    assert d[3].max() == 0 and d[5].max() == 0 and d[6].max() == 0 and d[9].max() == 0, [d[i].max() for i in range(13)]
    assert d[exact].max() <= 1, d[exact].max()
    assert d.max() <= 2 and d.mean() < 0.3, (d.max(), d.mean(), [d[i].max() for i in range(13)])
PY
}

"$SHARDNET" convert images tree --size 12x16 --out all.h5 >out.txt 2>err.txt && check_all all.h5 3 &&
  pass "convert images: order, labels, class names, pixels ($(cat out.txt))" || fail "convert images: $(cat err.txt)"
grep -qxF "shardnet: wrote all.h5 (13 images): 3 classes, 2 files skipped" out.txt &&
  pass "the summary line counts images, classes and skipped files" || fail "summary line: $(cat out.txt)"
OMP_NUM_THREADS=2 "$SHARDNET" convert images tree/ --size 12x16 --out all2.h5 >/dev/null 2>err.txt &&
  $PYTHON -c "
import h5py, numpy as np
a, b = h5py.File('all.h5'), h5py.File('all2.h5')
assert np.array_equal(a['images'][()], b['images'][()]) and np.array_equal(a['labels'][()], b['labels'][()])" &&
  pass "2 decoding threads write the same file as 1" || fail "2 threads: $(cat err.txt)"
"$SHARDNET" convert images tree --size 12x16 --channels 1 --out grey.h5 >/dev/null 2>err.txt && check_all grey.h5 1 &&
  pass "--channels 1: grey with PIL's luma weights" || fail "--channels 1: $(cat err.txt)"

# check_split TRAIN TEST: per class round(0.25 * count) held out, every image in
# exactly one of the files, compressed with deflate 4 + shuffle.
check_split() {
  $PYTHON - "$@" <<'PY'
import sys, h5py, numpy as np
with h5py.File("all.h5") as f:
    every = {(int(l), x.tobytes()) for x, l in zip(f["images"][()], f["labels"][()])}
seen = []
for path, counts in ((sys.argv[1], [2, 3, 4]), (sys.argv[2], [1, 1, 2])):
    with h5py.File(path) as f:
        for name in ("images", "labels"):
            d = f[name]
            assert d.compression == "gzip" and d.compression_opts == 4 and d.shuffle, (path, name, d.compression)
        y = f["labels"][()]
        assert list(np.bincount(y, minlength=3)) == counts, (path, np.bincount(y))
        assert list(y) == sorted(y)
        seen += [(int(l), x.tobytes()) for x, l in zip(f["images"][()], y)]
        assert [str(s) for s in f.attrs["class_names"]] == ["Cat", "bird", "dog"]
assert len(seen) == 13 and set(seen) == every
PY
}
"$SHARDNET" convert images tree --size 12x16 --split 0.25 --seed 7 --compress --shuffle --out split.h5 \
  >out.txt 2>err.txt && check_split split.h5 split-test.h5 &&
  pass "--split 0.25: round(0.25 x count) per class held out, each image once, gzip + shuffle" ||
  fail "--split: $(cat err.txt)"
grep -qxF "shardnet: wrote split.h5 (9 images) and split-test.h5 (4 images): 3 classes, 2 files skipped" out.txt &&
  pass "the split's summary line" || fail "split summary: $(cat out.txt)"
"$SHARDNET" convert images tree --size 12x16 --split 0.25 --seed 7 --out again.h5 --test-out again-held.h5 \
  --compress 4 --shuffle >/dev/null 2>err.txt && check_split again.h5 again-held.h5 &&
  $PYTHON -c "
import h5py, numpy as np
for a, b in (('split.h5', 'again.h5'), ('split-test.h5', 'again-held.h5')):
    assert np.array_equal(h5py.File(a)['images'][()], h5py.File(b)['images'][()]), (a, b)" &&
  pass "the same seed holds out the same images (--test-out names the file)" || fail "same seed: $(cat err.txt)"
different=0
for seed in 1 2 3; do
  "$SHARDNET" convert images tree --size 12x16 --split 0.25 --seed $seed --out s$seed.h5 >/dev/null 2>err.txt ||
    fail "--seed $seed: $(cat err.txt)"
  $PYTHON -c "
import h5py, numpy as np
import sys; sys.exit(0 if np.array_equal(h5py.File('s$seed-test.h5')['images'][()], h5py.File('split-test.h5')['images'][()]) else 1)" ||
    different=$((different + 1))
done
[ "$different" -gt 0 ] && pass "other seeds hold out other images ($different of 3 differ from seed 7)" ||
  fail "seeds 1, 2, 3 and 7 held out the same images"

# expect_error TEXT ARGS...: exits non-zero with exactly `shardnet: error: TEXT` and
# writes neither output file.
expect_error() {
  local text=$1
  shift
  rm -f x.h5 x-test.h5
  if "$SHARDNET" convert images "$@" >/dev/null 2>err.txt; then fail "$*: exited 0"; return; fi
  if [ "$(cat err.txt)" != "shardnet: error: $text" ]; then
    fail "$*: expected 'shardnet: error: $text', got: $(cat err.txt)"
  elif [ -e x.h5 ] || [ -e x-test.h5 ] || [ -e x.h5.tmp ]; then
    fail "$*: left an output file"
  else
    pass "$*: $text"
  fi
}
expect_error "cannot open the image folder nothere: No such file or directory" nothere --size 4x4 --out x.h5
expect_error "file.txt is not a directory" file.txt --size 4x4 --out x.h5
expect_error "empty has no class folders (expected one subfolder per class, as ImageFolder uses)" \
  empty --size 4x4 --out x.h5
expect_error "noimg/b has no images (.png, .jpg or .jpeg files)" noimg --size 4x4 --out x.h5
expect_error "bad/b/1.jpg: cannot decode JPEG: Premature end of JPEG file" bad --size 8x8 --out x.h5
expect_error "garbage/a/text.png is neither a PNG nor a JPEG file (it starts with neither signature)" \
  garbage --size 8x8 --split 0.5 --out x.h5
expect_error "--size expects HxW with positive integers, got '12'" tree --size 12 --out x.h5
expect_error "--size expects HxW with positive integers, got '0x16'" tree --size 0x16 --out x.h5
expect_error "--size expects HxW with positive integers, got '12x-3'" tree --size 12x-3 --out x.h5
expect_error "--size 70000x16 is too large: sides are at most 65535 pixels" tree --size 70000x16 --out x.h5
expect_error "x.h5: 13 samples of 65535x65535x3 are too large (a sample is at most 4 GiB)" \
  tree --size 65535x65535 --out x.h5
expect_error "--split expects a fraction strictly between 0 and 1, got '1'" tree --size 4x4 --split 1 --out x.h5
expect_error "--split expects a fraction strictly between 0 and 1, got '0'" tree --size 4x4 --split 0 --out x.h5
expect_error "--split expects a fraction strictly between 0 and 1, got 'half'" tree --size 4x4 --split half --out x.h5
expect_error "--split 0.5 leaves class 'one' (1 image) with no training image" solo --size 4x4 --split 0.5 --out x.h5
expect_error "--split 0.01 holds out no image (round(0.01 x images) is 0 in every class)" \
  tree --size 4x4 --split 0.01 --out x.h5
expect_error "--channels expects 1 or 3, got '2'" tree --size 4x4 --channels 2 --out x.h5
expect_error "--seed expects a non-negative integer, got '-1'" tree --size 4x4 --split 0.5 --seed -1 --out x.h5
expect_error "--test-out needs --split (there is no test file without it)" tree --size 4x4 --test-out y.h5 --out x.h5
expect_error "--test-out names the same file as --out (x.h5)" tree --size 4x4 --split 0.3 --test-out x.h5 --out x.h5
expect_error "--shuffle needs --compress (the shuffle filter only helps deflate)" tree --size 4x4 --shuffle --out x.h5
expect_error "--compress expects a deflate level from 1 to 9, got '12'" tree --size 4x4 --compress 12 --out x.h5
expect_error "usage: shardnet convert images DIR --size HxW --out FILE.h5 [...] (run 'shardnet convert --help')" \
  tree --out x.h5
"$SHARDNET" convert --help >out.txt && grep -q "convert images DIR --size HxW" out.txt && grep -q -- "--split FRACTION" out.txt &&
  "$SHARDNET" help | grep -q "convert images DIR" && pass "convert --help and shardnet help list convert images" ||
  fail "help: $(cat out.txt)"
finish
