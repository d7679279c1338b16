#!/usr/bin/env bash
# `shardnet bench`: a short run prints images/s, a per-layer table naming every layer
# and the sgemm rate; --csv gives the lines bench/run.sh reads; bad options and a
# missing model are one error line each, with exit status 2 and 1.
source "$(dirname "$0")/lib.sh"
configs="$SN_SOURCE_DIR/configs"
short=(--model lenet5 --threads 1 --steps 2 --warmup 1 --batch 8 --sgemm 64 --configs "$configs")

# run ARGS...: shardnet bench ARGS, leaving stdout and stderr in $out, $err, status in $rc.
run() {
  "$SHARDNET" bench "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  out=$(cat "$WORK/out")
  err=$(cat "$WORK/err")
}

run "${short[@]}"
if [ "$rc" -eq 0 ] && grep -Eq '^shardnet lenet5 +threads 1: +[0-9]+\.[0-9] images/s' <<<"$out"; then
  pass "bench: $(grep '^shardnet lenet5' <<<"$out" | tr -s ' ')"
else
  fail "bench: status $rc, no images/s line: $out $err"
fi
# the layers as `shardnet summary` lists them (past its header and input rows)
layers=$("$SHARDNET" summary "$configs/lenet5.yaml" | awk 'NR > 2 && NF == 7 { print $1 }')
missing=""
for l in $layers; do grep -Eq "^    $l +" <<<"$out" || missing="$missing $l"; done
if [ -n "$layers" ] && [ -z "$missing" ]; then pass "bench: a row for every layer ($(echo $layers | tr ' ' ','))"
else fail "bench: no row for:${missing:- (no layers found)}"; fi
grep -Eq '^sgemm 64x64x64, 1 thread: [0-9.]+ GFLOP/s' <<<"$out" && pass "bench: sgemm rate" ||
  fail "bench: no sgemm line: $out"

# the kernels: a header line names them, every conv row names the one that ran it
if grep -Eq '^fp32 kernels: (oneDNN [0-9.]+ \([a-z0-9_]+\)|native im2col) \+ ' <<<"$out" &&
  [ "$(grep -Ec '^    [a-z0-9_]+ +conv2d .*(native|oneDNN [a-z_0-9:]+)$' <<<"$out")" = 2 ]; then
  pass "bench: the kernels in the header and per conv layer"
else
  fail "bench: kernels not named: $out"
fi

run "${short[@]}" --csv
if [ "$rc" -eq 0 ] && [ "$(grep -c '^bench,shardnet,lenet5,1,8,' <<<"$out")" = 1 ] &&
  [ "$(grep -c '^layer,shardnet,lenet5,1,' <<<"$out")" = "$(echo "$layers" | wc -w)" ] &&
  grep -q '^sgemm,1,64,' <<<"$out"; then
  pass "bench --csv: one bench line, one line per layer, the sgemm line"
else
  fail "bench --csv: status $rc: $out"
fi

# expect_error WHAT STATUS TEXT: the last run exited STATUS with one error line holding TEXT.
expect_error() {
  if [ "$rc" -eq "$2" ] && [ "$(grep -c '^shardnet: error:' <<<"$err")" = 1 ] && grep -qF -- "$3" <<<"$err"; then
    pass "$1: $err"
  else
    fail "$1: status $rc (expected $2), stderr: $err"
  fi
}
run --stpes 3
expect_error "misspelt option" 2 "unknown option '--stpes'"
run --threads 0
expect_error "zero threads" 2 "--threads: bad value '0'"
run --steps
expect_error "option without its value" 2 "--steps needs a value"
run --precision fp16
expect_error "an unknown precision" 2 "--precision: bad value 'fp16'"
SHARDNET_KERNELS=native run "${short[@]}" --precision bf16
expect_error "bf16 on the native kernels" 2 "bench: --precision: bf16 "
if "$SHARDNET" bench "${short[@]}" --csv --precision bf16 >"$WORK/bf16" 2>&1; then
  grep -q '^bench,shardnet_bf16,lenet5,1,8,' "$WORK/bf16" && pass "bench --precision bf16: the CSV names shardnet_bf16" ||
    fail "bench --precision bf16: $(cat "$WORK/bf16")"
elif grep -q "bf16 needs" "$WORK/bf16"; then
  pass "bench --precision bf16: refused where the CPU or the build cannot ($(cat "$WORK/bf16"))"
else
  fail "bench --precision bf16: $(cat "$WORK/bf16")"
fi
run --model nosuch --sgemm 0 --configs "$configs"
expect_error "a model without a config" 1 "nosuch.yaml"
finish
