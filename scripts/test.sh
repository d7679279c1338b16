#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors, runs
# every test under ctest, then builds and runs the tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sn_require_packages $SN_BUILD_PACKAGES $SN_TEST_PACKAGES

jobs=$(nproc)
echo "== release build (warnings are errors)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSN_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
echo "== tests"
(cd build/release && ctest --output-on-failure --timeout 900)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DSN_SANITIZE=ON -DSN_WERROR=ON >/dev/null
cmake --build build/sanitize -j"$jobs"
echo "== tests under the sanitizers"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/sanitize && ctest --output-on-failure --timeout 1800 -LE slow)
