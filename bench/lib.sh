# What the Fashion-MNIST benchmarks share (sourced): ROOT, BUILD (BUILD_DIR, default
# build-bench), SHARDNET built there in Release unless SN_BENCH_NO_BUILD=1 (then the
# one already there is timed as it is), the Fashion-MNIST files made when missing,
# and WORK, a scratch directory removed at exit. Leaves the shell in ROOT.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/deps.sh"
BUILD=${BUILD_DIR:-$ROOT/build-bench}
if [ "${SN_BENCH_NO_BUILD:-0}" != 1 ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSN_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target shardnet_cli >/dev/null
fi
SHARDNET=$BUILD/shardnet
"$ROOT/datasets/fashion_mnist.sh" "$SHARDNET" >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
