#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors, runs
# every test under ctest, then builds and runs the tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sn_require_packages $SN_BUILD_PACKAGES $SN_TEST_PACKAGES $SN_SLURM_PACKAGES $SN_FUZZ_PACKAGES

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
# Open MPI unloads its plugins before exit: only full (slow) unwinding records stacks
# that name them, so that tests/lsan.supp can set their process-lifetime allocations
# aside and LeakSanitizer reports shardnet's own leaks.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The Slurm and multi-host tests check launch machinery, not memory safety, and the
# install test builds programs without the sanitizers: they ran above.
(cd build/sanitize && ctest --output-on-failure --timeout 1800 -LE "slurm|multihost|install")

echo "== fuzzing (libFuzzer, ASan + UBSan): every kept crash case, then 60 s per target"
scripts/fuzz.sh "${SN_FUZZ_SECONDS:-60}"
