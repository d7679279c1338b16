#!/usr/bin/env bash
# Produces datasets/fashion-mnist-{train,test}.h5 from Debian's dataset-fashion-mnist
# package (installed when missing, as root). Usage: datasets/fashion_mnist.sh [SHARDNET]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
source "$root/scripts/deps.sh"
sn_require_packages $SN_DATA_PACKAGES

shardnet=${1:-${SHARDNET:-$root/build/release/shardnet}}
[ -x "$shardnet" ] || { echo "datasets: build shardnet first (no $shardnet)" >&2; exit 1; }
src=/usr/share/datasets/fashion-mnist
classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"

for split in train:train test:t10k; do
  name=${split%%:*} prefix=${split##*:}
  out="$here/fashion-mnist-$name.h5"
  if [ -s "$out" ]; then
    echo "datasets: $out exists"
    continue
  fi
  "$shardnet" convert idx --images "$src/$prefix-images-idx3-ubyte.gz" \
    --labels "$src/$prefix-labels-idx1-ubyte.gz" --class-names "$classes" --out "$out.part"
  mv "$out.part" "$out"
done
