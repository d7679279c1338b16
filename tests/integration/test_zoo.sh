#!/usr/bin/env bash
# Every model of the zoo (configs/, the ones bench/zoo.sh trains) builds, trains, writes
# a checkpoint and resumes from it, on a small generated Fashion-MNIST-shaped set: so
# none of them rots between the runs that train them for real.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(0)
def write(name, n, targets=False):
    with h5py.File(name, "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.attrs["format_version"] = 1
        images = rng.integers(0, 256, size=(n, 28, 28, 1)).astype(np.uint8)
        f["images"] = images
        if targets:
            f["targets"] = (images / 255.0).reshape(n, -1).astype(np.float32)
        else:
            f["labels"] = (np.arange(n) % 10).astype(np.int32)
write("small-train.h5", 48)
write("small-test.h5", 16)
write("small-sr-train.h5", 48, targets=True)
write("small-sr-test.h5", 16, targets=True)
PY
zoo=(lenet5 alexnet_fashion vgg_fashion googlenet_fashion resnet_fashion cifar_example_fashion autoencoder)
for name in "${zoo[@]}"; do
  data=small
  [ "$name" = autoencoder ] && data=small-sr
  args=(--set data.train=$data-train.h5 --set data.test=$data-test.h5 --set train.batch_size=8
    --set train.log_every=1 --set checkpoint.dir=$name --set checkpoint.every_steps=1)
  run_ranks 2 train "$SN_SOURCE_DIR/configs/$name.yaml" "${args[@]}" --set train.max_steps=2
  if ! expect_success "$name: 2 steps on 2 ranks, a checkpoint each step"; then continue; fi
  run_ranks 2 train "$SN_SOURCE_DIR/configs/$name.yaml" "${args[@]}" --set train.max_steps=3 --resume latest
  expect_success "$name: resumed" || continue
  step=$($PYTHON -c 'import h5py, sys; print(h5py.File(sys.argv[1])["/"].attrs["step"])' "$name/latest.h5")
  [ "$step" = 3 ] && grep -q "resumed from $name/latest.h5 at step 2" "$OUT" &&
    pass "$name: resumed at step 2 and went on to step 3" || fail "$name: latest.h5 at step '$step' ($(grep -m1 resumed "$OUT"))"
done
finish
