#!/usr/bin/env bash
# The mutation campaign of issue 11 against the sanitizer build: N_PER_KIND hostile
# configs, --set options, datasets, checkpoints and IDX/CIFAR files (default 400 of
# each), every choice drawn from SEED (default 1); a table per kind, and the input,
# command and output of every crash, hang or bad message in build/campaign/failures/.
# Exit status 1 when there is any. Builds nothing: it runs build/sanitize/shardnet.
# Extra options go to tests/campaign/campaign.py (--jobs, --kinds, --only KIND:INDEX, --out).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-400}
seed=${2:-1}
shift $(($# < 2 ? $# : 2))
if [ ! -x build/sanitize/shardnet ]; then
  echo "campaign: build/sanitize/shardnet is missing; build it with" >&2
  echo "  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DSN_SANITIZE=ON -DSN_WERROR=ON && cmake --build build/sanitize -j2" >&2
  exit 2
fi
# /usr/bin/python3: the interpreter with h5py, numpy and PyYAML (tests/integration/lib.sh's)
exec /usr/bin/python3 tests/campaign/campaign.py "$n" "$seed" --binary build/sanitize/shardnet "$@"
