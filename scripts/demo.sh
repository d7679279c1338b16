#!/usr/bin/env bash
# The demo: installs what is missing, builds, converts Fashion-MNIST from Debian's
# dataset-fashion-mnist package to HDF5, and trains configs/fashion_mnist.yaml on
# two MPI ranks. Extra arguments go to `shardnet train` (e.g. --set train.epochs=1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sn_require_packages $SN_BUILD_PACKAGES $SN_DATA_PACKAGES

echo "== build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target shardnet_cli
echo "== data"
datasets/fashion_mnist.sh build/release/shardnet
echo "== model"
build/release/shardnet summary configs/fashion_mnist.yaml
echo "== training on 2 ranks"
start=$(date +%s)
mpirun -np 2 build/release/shardnet train configs/fashion_mnist.yaml "$@"
echo "== done in $(($(date +%s) - start)) s; checkpoints and metrics.csv are in runs/fashion_mnist/"
