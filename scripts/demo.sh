#!/usr/bin/env bash
# The demo: installs what is missing, builds, and prints the summary of every
# shipped model (per-layer shapes, parameters, FLOPs, receptive field).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sn_require_packages $SN_BUILD_PACKAGES

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target shardnet_cli
for config in configs/*.yaml; do
  echo "== $config"
  build/release/shardnet summary "$config"
  echo
done
