#!/usr/bin/env bash
# The model zoo on real data: trains each config of configs/ on Fashion-MNIST (2 ranks,
# one thread each, as on this 2-core machine) and prints one table: parameters,
# forward FLOPs per sample, epochs, wall time, and the test figure: accuracy, or for
# the super-resolution autoencoder its PSNR against the sharp images next to bilinear
# upsampling's. The table also goes to bench/results/zoo-<date>.md.
#
#   bench/zoo.sh                                   # every model, its config's epochs
#   ZOO_MODELS="lenet5 vgg_fashion" bench/zoo.sh   # some of them
#   ZOO_EPOCHS=1 bench/zoo.sh                      # a quick look (1 epoch each)
#   ZOO_PRECISION=bf16 bench/zoo.sh                # train.precision for every model
#
# Needs datasets/fashion-mnist-*.h5 and the derived super-resolution set (made here
# when missing, from Debian's dataset-fashion-mnist). Published Fashion-MNIST results
# to compare with (the dataset's benchmark table): AlexNet 0.899, VGG16 (26M
# parameters) 0.935, GoogLeNet 0.937, ResNet18 with augmentation 0.949.
set -euo pipefail
RANKS=${RANKS:-2}
MODELS=(${ZOO_MODELS:-lenet5 alexnet_fashion vgg_fashion googlenet_fashion resnet_fashion cifar_example_fashion autoencoder})
source "$(dirname "$0")/lib.sh"
[ -e datasets/fashion-mnist-sr-test.h5 ] || /usr/bin/python3 datasets/fashion_mnist_sr.py >/dev/null
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} SHARDNET_PROGRESS=0

out=bench/results/zoo-$(date +%Y%m%d-%H%M%S).md
mkdir -p bench/results
{
  echo "| model | parameters | forward FLOPs | precision | epochs | wall time | test result |"
  echo "|---|---:|---:|---|---:|---:|---|"
} >"$out"
for name in "${MODELS[@]}"; do
  config=configs/$name.yaml
  summary=$("$SHARDNET" summary "$config" | tail -1)
  params=$(sed -n 's/^total: \([0-9]*\) trainable.*/\1/p' <<<"$summary")
  flops=$(sed -n 's/.*, \([0-9.]*[kMG]*\) forward FLOPs.*/\1/p' <<<"$summary")
  epochs=$(sed -n 's/^  epochs: \([0-9]*\).*/\1/p' "$config")
  sets=(--set checkpoint.dir="$WORK/$name" --set train.log_every=1000)
  [ -n "${ZOO_EPOCHS:-}" ] && epochs=$ZOO_EPOCHS && sets+=(--set train.epochs="$ZOO_EPOCHS")
  precision=${ZOO_PRECISION:-$(sed -n 's/^  precision: \([a-z0-9]*\).*/\1/p' "$config")}
  precision=${precision:-fp32}
  sets+=(--set train.precision="$precision")
  start=$(date +%s)
  mpirun -np "$RANKS" --bind-to core "$SHARDNET" train "$config" "${sets[@]}" >"$WORK/$name.log" 2>&1 ||
    { echo "zoo: $name failed:" >&2; tail -5 "$WORK/$name.log" >&2; continue; }
  seconds=$(($(date +%s) - start))
  wall=$(printf '%dm%02ds' $((seconds / 60)) $((seconds % 60)))
  if [ "$name" = autoencoder ]; then
    mpirun -np "$RANKS" "$SHARDNET" predict "$WORK/$name" --data datasets/fashion-mnist-sr-test.h5 \
      --out "$WORK/sr-pred.h5" >/dev/null
    result=$(/usr/bin/python3 - "$WORK/sr-pred.h5" datasets/fashion-mnist-sr-test.h5 <<'PY'
import sys, h5py, numpy as np
pred = h5py.File(sys.argv[1])["outputs"][()].reshape(-1, 28, 28)
sharp = h5py.File(sys.argv[2])["targets"][()].reshape(-1, 28, 28)
small = sharp.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
def bilinear(a):  # 2x, half-pixel centres clamped at the borders (upsample2d's, PyTorch's)
    src = np.clip((np.arange(28) + 0.5) / 2 - 0.5, 0, 13)
    lo = np.floor(src).astype(int); hi = np.minimum(lo + 1, 13); w = src - lo
    rows = a[:, lo, :] * (1 - w)[None, :, None] + a[:, hi, :] * w[None, :, None]
    return rows[:, :, lo] * (1 - w)[None, None, :] + rows[:, :, hi] * w[None, None, :]
psnr = lambda x: 10 * np.log10(1.0 / np.mean((x - sharp) ** 2))
print(f"PSNR {psnr(pred):.2f} dB (bilinear {psnr(bilinear(small)):.2f} dB, +{psnr(pred) - psnr(bilinear(small)):.2f})")
PY
)
  else
    result="accuracy $("$SHARDNET" eval "$WORK/$name" --data datasets/fashion-mnist-test.h5 | sed -n 's/^accuracy //p')"
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$params" "$flops" "$precision" "$epochs" "$wall" "$result" |
    tee -a "$out"
done
echo "zoo: table in $out"
