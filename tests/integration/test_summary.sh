#!/usr/bin/env bash
# `shardnet summary`: every shipped config builds; the Fashion-MNIST and CIFAR example
# rows (shapes, parameters, receptive field, jump) are right; errors are one line
# naming file and line, with exit status 1.
set -uo pipefail

: "${SHARDNET:?set SHARDNET to the shardnet binary}"
: "${SN_SOURCE_DIR:?set SN_SOURCE_DIR to the source tree}"
configs="$SN_SOURCE_DIR/configs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run ARGS...: runs shardnet summary, leaving stdout, stderr and status in $out, $err, $rc.
run() {
  "$SHARDNET" summary "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# expect_row NAME TYPE SHAPE PARAMS FIELD JUMP: the row of layer NAME in $out.
expect_row() {
  local row
  row=$(awk -v n="$1" '$1 == n { print $1, $2, $3, $4, $6, $7 }' <<<"$out")
  [[ "$row" == "$*" ]] || fail "row '$*' expected, got '${row:-nothing}'"
}

# expect_error PATTERN ARGS...: summary fails with status 1 and exactly one stderr
# line "shardnet: error: ..." matching PATTERN (a bash glob), printing nothing else.
expect_error() {
  local pattern=$1
  shift
  run "$@"
  [[ $rc -eq 1 ]] || fail "summary $* exited $rc, expected 1"
  [[ -z "$out" ]] || fail "summary $* printed on stdout: $out"
  [[ $(wc -l <"$tmp/err") -eq 1 ]] || fail "summary $* printed $(wc -l <"$tmp/err") lines on stderr: $err"
  # shellcheck disable=SC2053
  [[ "$err" == "shardnet: error: "$pattern ]] || fail "summary $*: '$err' does not match 'shardnet: error: $pattern'"
}

# --- every shipped configuration builds --------------------------------------------
n=0
for config in "$configs"/*.yaml; do
  n=$((n + 1))
  run "$config"
  if [[ $rc -ne 0 ]]; then
    fail "$config: exit $rc: $err"
    continue
  fi
  grep -q '^layer  *type  *output  *params  *FLOPs  *field  *jump$' <<<"$out" || fail "$config: no table header"
  grep -q '^total: [0-9]* trainable parameters' <<<"$out" || fail "$config: no total line"
  [[ -z "$err" ]] || fail "$config: wrote to stderr: $err"
done
[[ $n -ge 6 ]] || fail "expected at least 6 configs in $configs, found $n"

# --- fashion_mnist.yaml --------------------------------------------------------------
run "$configs/fashion_mnist.yaml"
expect_row input input 1x28x28 0 1 1
expect_row conv1 conv2d 32x28x28 832 5 1
expect_row pool1 maxpool2d 32x14x14 0 6 2
expect_row conv2 conv2d 64x14x14 51264 14 2
expect_row pool2 maxpool2d 64x7x7 0 16 4
expect_row flatten flatten 3136 0 16 4
expect_row fc1 dense 1024 3212288 16 4
expect_row dropout dropout 1024 0 16 4
expect_row logits dense 10 10250 16 4
# 832 + 51,264 + 3,212,288 + 10,250
grep -q '^total: 3274634 trainable parameters (12.49 MiB), 0 non-trainable' <<<"$out" ||
  fail "fashion_mnist total: $(grep '^total' <<<"$out")"
[[ $(wc -l <<<"$out") -eq 11 ]] || fail "fashion_mnist: $(wc -l <<<"$out") lines, expected 11"

# --- cifar_example.yaml: the 32x32x3 example's shapes ---------------------------------
run "$configs/cifar_example.yaml"
shapes=$(awk 'NR > 2 && $1 != "total:" { printf "%s ", $3 }' <<<"$out")
[[ "$shapes" == "32x30x30 32x15x15 64x13x13 64x6x6 64x4x4 1024 64 10 " ]] ||
  fail "cifar_example shapes: $shapes"
grep -q '^total: 122570 trainable parameters' <<<"$out" || fail "cifar_example total: $(grep '^total' <<<"$out")"

# --- overrides ------------------------------------------------------------------------
run "$configs/fashion_mnist.yaml" --set model.layers.fc1.units=512 --set train.epochs=5
[[ $rc -eq 0 ]] || fail "valid overrides rejected: $err"
# 3136*512 + 512 = 1,606,144
expect_row fc1 dense 512 1606144 16 4
run "$configs/fashion_mnist.yaml" --set=model.input=[1,32,32]
expect_row conv1 conv2d 32x32x32 832 5 1
expect_error "--set: train: key 'epocs' is not a known key" "$configs/fashion_mnist.yaml" --set train.epocs=3
expect_error "--set model.layers.fc9.units: no layer is named 'fc9'*" \
  "$configs/fashion_mnist.yaml" --set model.layers.fc9.units=3

# --- errors: one line naming file and line --------------------------------------------
cat >"$tmp/unknown.yaml" <<'EOF'
model:
  input: [1, 28, 28]
  layers:
    - {type: flatten}
    - {type: dense, units: 10}
  loss: softmax_cross_entropy
train:
  epochs: 2
  epoch: 3
EOF
expect_error "$tmp/unknown.yaml:9: train: key 'epoch' is not a known key" "$tmp/unknown.yaml"

sed 's/units: 10}/units: 10, activation: rleu}/' "$tmp/unknown.yaml" | head -6 >"$tmp/layer.yaml"
expect_error "$tmp/layer.yaml:5: layer 'dense_1' (dense): key 'activation' must be one of *" "$tmp/layer.yaml"

printf 'model:\n  input: [1, 28, 28]\n  layers:\n    - {type: conv2d, name: c, filters: 4, kernel: 3}\n    - {type: dense, units: 10}\n  loss: mse\n' >"$tmp/shape.yaml"
expect_error "$tmp/shape.yaml:5: layer 'dense_1' (dense): *add a flatten layer*" "$tmp/shape.yaml"

printf 'model:\n  input: [1, 28, 28\n  loss: mse\n' >"$tmp/syntax.yaml"
expect_error "$tmp/syntax.yaml:3: YAML syntax error: *" "$tmp/syntax.yaml"

expect_error "cannot open config '$tmp/missing.yaml': No such file or directory" "$tmp/missing.yaml"

# the optimizer and the schedule are checked as train checks them
expect_error "*lenet5.yaml:*: train.optimizer: key 'type' must be one of sgd, adam, adamw, got 'rmsprop'" \
  "$SN_SOURCE_DIR/configs/lenet5.yaml" --set train.optimizer.type=rmsprop
expect_error "*lenet5.yaml:*: train.schedule: key 'type' must be one of constant, step, cosine, got 'linear'" \
  "$SN_SOURCE_DIR/configs/lenet5.yaml" --set train.schedule.type=linear

run
[[ $rc -eq 2 && -z "$out" && "$err" == "shardnet: error: summary: no configuration file given"* ]] ||
  fail "summary without a config: exit $rc, '$err'"

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all summary checks passed"
