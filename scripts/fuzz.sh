#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets of fuzz/ with clang under ASan + UBSan (in
# build/fuzz), replays every crash ever found (tests/fuzz-regressions/<target>/,
# each must now pass), then fuzzes each target for SECONDS (default 60) from its
# seed corpus (fuzz/corpus/<target>/, and configs/ for the config reader).
#
#   scripts/fuzz.sh            # 60 s per target, as CI runs it
#   scripts/fuzz.sh 600        # a longer campaign
#   FUZZ_TARGETS="idx cifar10" scripts/fuzz.sh 600   # some targets only
#
# A crash, a leak or an input running longer than 30 s stops that target: libFuzzer
# writes the input to tests/fuzz-regressions/<target>/, where it stays as a regression
# case once fixed. Prints executions and time per target; exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sn_require_packages $SN_BUILD_PACKAGES $SN_FUZZ_PACKAGES
seconds=${1:-60}
read -ra targets <<<"${FUZZ_TARGETS:-config idx cifar10 dataset checkpoint}"

echo "== fuzz targets (clang, libFuzzer, ASan + UBSan)"
CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DSN_FUZZ=ON -DSN_BUILD_TESTS=OFF -DSN_SHARED=OFF >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
# HDF5 files are first read in a child process (src/io/h5_preflight.c), which gives up
# after 20 s on metadata that makes libhdf5 loop; the seed files take milliseconds.
export SHARDNET_H5_PREFLIGHT=2
failed=0
summary=()
for t in "${targets[@]}"; do
  bin=build/fuzz/fuzz/fuzz_$t
  regress=tests/fuzz-regressions/$t
  mkdir -p "$regress" "build/fuzz/corpus-$t"
  cases=("$regress"/*)
  if [ -e "${cases[0]}" ]; then
    if "$bin" -runs=0 "${cases[@]}" >"build/fuzz/regress-$t.log" 2>&1; then
      echo "fuzz: $t: ${#cases[@]} kept crash cases pass"
    else
      echo "fuzz: $t: a kept crash case fails again:" >&2
      tail -30 "build/fuzz/regress-$t.log" >&2
      failed=1
      continue
    fi
  fi
  seeds=("fuzz/corpus/$t")
  [ "$t" = config ] && seeds+=(configs)
  log=build/fuzz/fuzz-$t.log
  start=$(date +%s)
  # The HDF5 targets' preflight children inherit libFuzzer's malloc limit, and libHDF5
  # asks for huge buffers on crafted metadata: a child's death is the parent's
  # rejection, not a finding. The parent stays bounded by -rss_limit_mb and ASan's
  # own limit on a single allocation.
  limits=(-rss_limit_mb=2048)
  case $t in dataset | checkpoint) limits+=(-malloc_limit_mb=1048576) ;; esac
  if "$bin" -max_total_time="$seconds" -timeout=30 "${limits[@]}" -print_final_stats=1 \
    -artifact_prefix="$regress/" "build/fuzz/corpus-$t" "${seeds[@]}" >"$log" 2>&1; then
    outcome=ok
  else
    outcome="FAILED (input kept in $regress/)"
    failed=1
    tail -40 "$log" >&2
  fi
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  summary+=("$(printf '%-8s %10s executions in %4d s  %s' "$t" "${runs:-?}" $(($(date +%s) - start)) "$outcome")")
done
echo "== fuzzing, $seconds s per target"
printf '%s\n' "${summary[@]}"
exit $failed
