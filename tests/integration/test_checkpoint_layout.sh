#!/usr/bin/env bash
# Checkpoints as h5ls, h5dump and h5py users see them: the Keras weights layout, the
# optimizer state and the run's position; and Keras compatibility of the outputs: a
# channels-last Keras-style forward pass computed from the file alone with numpy
# matches shardnet's predictions (conv kernels (kh, kw, cin, cout), flatten order
# (h, w, c), and with `flip: true` the kernel rotated for cross-correlation).
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .

run_ranks 2 train blobs.yaml --set train.max_steps=40
expect_success "training writes a checkpoint"
listing=$(h5ls -r run/latest.h5)
for path in /model_weights/conv/conv/kernel:0 /model_weights/conv/conv/bias:0 /model_weights/hidden/hidden/kernel:0 \
  /model_weights/logits/logits/bias:0 /optimizer/m/conv/conv/kernel:0 /optimizer/v/logits/logits/bias:0; do
  grep -q "^$path " <<<"$listing" && pass "h5ls -r lists $path" || fail "h5ls -r lacks $path"
done
grep -q "^/model_weights/conv/conv/kernel:0 *Dataset {3, 3, 1, 8}" <<<"$listing" && pass "conv kernel is (kh, kw, cin, cout)" ||
  fail "conv kernel shape: $(grep conv/kernel <<<"$listing")"
grep -q "^/model_weights/hidden/hidden/kernel:0 *Dataset {128, 16}" <<<"$listing" && pass "dense kernel is (in, out)" ||
  fail "dense kernel shape"
attrs=$(h5dump -A -H run/latest.h5)
for a in format format_version step epoch samples_seen seed config world_size created; do
  grep -q "ATTRIBUTE \"$a\"" <<<"$attrs" && pass "root attribute $a" || fail "no root attribute $a"
done
h5dump -d "/model_weights/conv/conv/kernel:0" run/latest.h5 >/dev/null && pass "h5dump reads the conv kernel" ||
  fail "h5dump cannot read the kernel"
if out=$($PYTHON - <<'PY'
import h5py
with h5py.File("run/latest.h5") as f:
    assert f.attrs["format"] == "shardnet-checkpoint"
    assert f.attrs["step"] == 40 and f.attrs["epoch"] == 1 and f.attrs["samples_seen"] == 160, dict(f.attrs)
    assert f.attrs["world_size"] == 2
    assert f["optimizer"].attrs["type"] == "adam" and f["optimizer"].attrs["step"] == 40
    names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights/conv"].attrs["weight_names"]]
    assert names == ["conv/kernel:0", "conv/bias:0"], names
    print("attributes as expected")
PY
); then pass "h5py: $out"; else fail "h5py attributes: $out"; fi

for flip in false true; do
  run_ranks 1 train blobs.yaml --set train.max_steps=40 --set model.layers.conv.flip=$flip --set checkpoint.dir=f$flip
  expect_success "training with flip: $flip"
  run_ranks 2 predict f$flip/latest.h5 --data blobs-test.h5 --out p$flip.h5
  expect_success "predict with flip: $flip"
  if out=$($PYTHON "$SN_SOURCE_DIR/tests/integration/keras_forward.py" f$flip/latest.h5 blobs-test.h5 p$flip.h5 2>&1); then
    pass "flip: $flip: a Keras-style forward from the file matches shardnet ($out)"
  else fail "flip: $flip: Keras-style forward differs: $out"; fi
done
finish
