#!/usr/bin/env bash
# `shardnet activations` under mpirun: the same file contents on 1 and 2 ranks,
# readable by h5dump and h5py, /input, every layer and the image grids listed by
# h5ls; bad --samples and a wrong checkpoint give one error line.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .

run_ranks 2 train blobs.yaml --set train.max_steps=20
expect_success "training 20 steps" || finish

# The run directory and its latest.h5 name the same checkpoint, so even the
# provenance attributes of the two files agree.
run_ranks 1 activations run --data blobs-test.h5 --samples 5:16 --out a1.h5
expect_success "activations on 1 rank" || finish
run_ranks 2 activations run/latest.h5 --data blobs-test.h5 --samples 5:16 --out a2.h5
expect_success "activations on 2 ranks" || finish
grep -q "^shardnet: wrote the activations of samples 5:16 (input and 6 layers, step 20) to a2.h5$" "$OUT" &&
  pass "one summary line from rank 0" || fail "summary line: $(cat "$OUT")"
if out=$(h5diff a1.h5 a2.h5 2>&1); then pass "h5diff: 1-rank and 2-rank files are identical"
else fail "h5diff a1.h5 a2.h5: $out"; fi

listing=$(h5ls -r a2.h5)
bad=0
for name in input conv pool flat hidden drop logits images/conv images/pool; do
  echo "$listing" | grep -qE "^/$name +Dataset" || { fail "h5ls -r lacks /$name: $listing"; bad=1; }
done
echo "$listing" | grep -qE "^/images/(flat|hidden|drop|logits) " && { fail "images of 1-D layers: $listing"; bad=1; }
[ $bad -eq 0 ] && pass "h5ls -r lists /input, every layer and /images/conv, /images/pool"
bad=0
for name in $(echo "$listing" | awk '$2 == "Dataset" {print $1}'); do
  h5dump -d "$name" a2.h5 >/dev/null 2>&1 || { fail "h5dump cannot read $name"; bad=1; }
done
[ $bad -eq 0 ] && pass "h5dump reads every dataset"

# Independent checks: /input is the normalised images, the logits give predict's
# probabilities, 1 and 2 ranks agree bit for bit, and the grids are H5IM images.
run_ranks 2 predict run --data blobs-test.h5 --out p.h5
expect_success "predict for comparison"
if out=$($PYTHON - <<'PY'
import h5py, numpy as np
with h5py.File("a1.h5") as a, h5py.File("a2.h5") as b, h5py.File("blobs-test.h5") as d, h5py.File("p.h5") as p:
    assert a.attrs["format"] == "shardnet-activations" and a.attrs["format_version"] == 1
    assert a.attrs["step"] == 20 and a.attrs["samples"] == "5:16", dict(a.attrs)
    types = {"input": "input", "conv": "conv2d", "pool": "maxpool2d", "flat": "flatten", "hidden": "dense",
             "drop": "dropout", "logits": "dense"}
    names = ["input"] + list(a.attrs["layer_names"])
    assert names == ["input", "conv", "pool", "flat", "hidden", "drop", "logits"], names
    for name in names:
        x, y = a[name][()], b[name][()]
        assert x.shape[0] == 11 and x.dtype == np.float32, (name, x.shape, x.dtype)
        assert x.tobytes() == y.tobytes(), f"{name} differs between 1 and 2 ranks"
        assert a[name].attrs["layer_type"] == types[name], (name, a[name].attrs["layer_type"])
        assert a[name].attrs["step"] == 20
    want = d["images"][5:16].astype(np.float32).transpose(0, 3, 1, 2) * np.float32(0.00392157)
    assert np.allclose(a["input"][()], want, atol=1e-6), "input is not the normalised images"
    z = a["logits"][()].astype(np.float64)
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    assert np.allclose(prob, p["probabilities"][5:16], atol=1e-5), "logits disagree with predict"
    for name, (c, h, w) in {"conv": (8, 8, 8), "pool": (8, 4, 4)}.items():
        im = a["images"][name]
        assert im.attrs["CLASS"] == b"IMAGE" and "PALETTE" in im.attrs, dict(im.attrs)
        cols = int(np.ceil(np.sqrt(c)))
        rows = -(-c // cols)
        assert im.shape == (rows * (h + 1) - 1, cols * (w + 1) - 1) and im.dtype == np.uint8, im.shape
        assert a[np.atleast_1d(im.attrs["PALETTE"])[0]].shape == (256, 3), "no 256-entry palette"
print("ok")
PY
); then pass "values: normalised input, logits match predict, H5IM grids ($out)"
else fail "values: $out"; fi

run_ranks 2 activations run --data blobs-test.h5 --samples 10:5 --out bad.h5
expect_failure "reversed --samples" 2 "samples 10:5 are not a range A:B with A < B <= 160"
run_ranks 2 activations run --data blobs-test.h5 --samples 0:161 --out bad.h5
expect_failure "--samples past the data" 2 "samples 0:161 are not a range A:B with A < B <= 160, the samples of blobs-test.h5"
run_ranks 2 activations run --data blobs-test.h5 --samples 3-7 --out bad.h5
expect_failure "--samples that is not A:B" 2 "--samples '3-7' is not A:B with whole numbers"
run_ranks 2 activations run --data blobs-test.h5 --samples -1:4 --out bad.h5
expect_failure "negative --samples" 2 "--samples '-1:4' is not A:B"
[ ! -e bad.h5 ] && pass "no file written for a bad range" || fail "bad.h5 was written"
run_ranks 2 activations blobs-test.h5 --data blobs-test.h5 --samples 0:4 --out bad.h5
expect_failure "a dataset given as the checkpoint" 2 "blobs-test.h5 is a shardnet-dataset file, not a shardnet-checkpoint file"
run_ranks 2 activations nowhere --data blobs-test.h5 --samples 0:4 --out bad.h5
expect_failure "a missing checkpoint" 2 "cannot open nowhere"
"$SHARDNET" activations run --data blobs-test.h5 --out bad.h5 2>"$WORK/usage" && fail "no --samples accepted" ||
  { grep -q "usage: shardnet activations" "$WORK/usage" && pass "usage without --samples" ||
    fail "usage: $(cat "$WORK/usage")"; }
finish
