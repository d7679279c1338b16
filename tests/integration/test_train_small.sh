#!/usr/bin/env bash
# Training end to end under mpiexec -np 2: a small convnet learns the generated set
# to >= 0.95 test accuracy; metrics.csv, checkpoints, eval and predict work.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .

run_ranks 2 train blobs.yaml --set activations.every_steps=30 --set "activations.samples=[0, 5, 9]"
expect_success "2-rank training" || finish
accuracy=$(awk '/^test  epoch 3/ {print $9}' "$OUT")
if awk -v a="$accuracy" 'BEGIN {exit !(a >= 0.95)}'; then pass "test accuracy $accuracy >= 0.95"
else fail "test accuracy '$accuracy' < 0.95"; cat "$OUT"; fi
grep -Eq "^shardnet: 2 ranks x 1 thread per rank \| gradients summed in shared memory by 2 ranks per node \| fp32 kernels: (oneDNN [0-9.]+ \([a-z0-9_]+\)|native im2col) \+ " "$OUT" &&
  pass "banner names ranks, threads, how gradients are reduced, the precision and the kernels" ||
  fail "banner missing: $(head -2 "$OUT")"
[ "$(grep -c '^epoch ' "$OUT")" -ge 9 ] && pass "one line per log interval" || fail "too few log lines"
head -1 run/metrics.csv | grep -q "^phase,epoch,step,lr,loss,accuracy,images_per_s$" && pass "metrics.csv header" ||
  fail "metrics.csv header: $(head -1 run/metrics.csv)"
[ "$(grep -c '^train,' run/metrics.csv)" -ge 9 ] && [ "$(grep -c '^test,' run/metrics.csv)" -eq 3 ] &&
  pass "metrics.csv has train and test rows" || fail "metrics.csv rows: $(cat run/metrics.csv)"
[ -L run/latest.h5 ] && [ "$(readlink run/latest.h5)" = "ckpt-00000090.h5" ] && pass "latest.h5 -> ckpt-00000090.h5" ||
  fail "latest.h5: $(ls -l run)"

listing=$(h5ls -r run/activations.h5 2>&1)
for group in step_00000030 step_00000060 step_00000090; do
  grep -q "^/$group/conv *Dataset {3, 8, 8, 8}" <<<"$listing" && grep -q "^/$group/images/conv " <<<"$listing" &&
    pass "activation snapshot $group with /conv and its image" || fail "snapshot $group missing: $listing"
done

run_ranks 2 train blobs.yaml --set train.max_steps=6 --set checkpoint.every_steps=3 --set checkpoint.dir=traced \
  --trace trace.json
expect_success "training with --trace"
if out=$($PYTHON - <<'PY'
import json
events = json.load(open("trace.json"))["traceEvents"]
spans = [e for e in events if e["ph"] == "X"]
for rank in (0, 1):
    names = {e["name"] for e in spans if e["pid"] == rank}
    for want in ("data", "forward conv", "backward conv", "forward logits", "backward logits"):
        assert want in names, f"rank {rank} has no '{want}' span"
    assert any(n.startswith("allreduce bucket") for n in names), f"rank {rank}: no all-reduce bucket"
    assert "checkpoint" in names, f"rank {rank}: no checkpoint span"
tracks = {(e["pid"], e["args"]["name"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
assert {(0, "compute"), (0, "allreduce"), (0, "io"), (1, "compute")} <= tracks, tracks
assert all(e["dur"] >= 0 for e in spans)
print(f"{len(spans)} spans on 2 ranks")
PY
); then pass "--trace: per-rank tracks with layers, all-reduce buckets, data and checkpoints ($out)"
else fail "--trace file: $out"; fi

run_ranks 2 eval run --data blobs-test.h5
expect_success "eval on 2 ranks"
grep -q "^accuracy $accuracy" "$OUT" && pass "eval reproduces the training's test accuracy" ||
  fail "eval accuracy differs: $(cat "$OUT")"
grep -qE "^3 +bottom-right +[0-9]+ +[0-9.]+$" "$OUT" && pass "eval prints per-class accuracy with names" ||
  fail "no per-class table: $(cat "$OUT")"

run_ranks 2 predict run/latest.h5 --data blobs-test.h5 --out p2.h5
expect_success "predict on 2 ranks"
run_ranks 1 predict run/latest.h5 --data blobs-test.h5 --out p1.h5
expect_success "predict on 1 rank"
if out=$($PYTHON - <<'PY'
import h5py, numpy as np
with h5py.File("p2.h5") as a, h5py.File("p1.h5") as b, h5py.File("blobs-test.h5") as d:
    p, l = a["probabilities"][()], a["labels"][()]
    assert a.attrs["format"] == "shardnet-predictions", a.attrs["format"]
    assert p.shape == (160, 4) and l.shape == (160,), (p.shape, l.shape)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5), "rows do not sum to 1"
    assert (p.argmax(axis=1) == l).all(), "labels are not the argmax"
    assert np.array_equal(l, b["labels"][()]), "1-rank and 2-rank labels differ"
    assert np.allclose(p, b["probabilities"][()], atol=1e-6), "1-rank and 2-rank probabilities differ"
    print(f"accuracy {(l == d['labels'][()]).mean():.4f}")
PY
); then pass "predictions: probabilities sum to 1, labels are argmax, same on 1 and 2 ranks ($out)"
else fail "predictions: $out"; fi
# bf16 asked for where it cannot run (here: the native kernels asked for) is refused in one line
SHARDNET_KERNELS=native run_ranks 2 train blobs.yaml --set train.precision=bf16 --set checkpoint.dir=bf16-native
expect_failure "bf16 on the native kernels" 2 "train.precision: bf16 "
finish
