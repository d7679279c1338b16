#!/usr/bin/env bash
# The run report: `report: true` writes it when training ends, `shardnet report`
# writes it for any run directory. Headless Chromium renders it (a screenshot that is
# not blank, the expected SVG paths and pictures in the DOM, no console errors), and
# its numbers are checked against metrics.csv and `shardnet eval`.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
$PYTHON "$SN_SOURCE_DIR/tests/integration/make_data.py" . >/dev/null || { echo "cannot make data"; exit 1; }
cp "$SN_SOURCE_DIR/tests/integration/blobs.yaml" .
$PYTHON - <<'PY'
import h5py
with h5py.File("blobs-test.h5", "a") as f:  # names for the confusion matrix
    f.attrs["class_names"] = ["top-left", "top-right", "bottom-left", "bottom-right"]
PY
run_ranks 2 train blobs.yaml --set report=true --set train.log_every=5 --set checkpoint.dir=run --trace run/trace.json
expect_success "training with report: true" || finish
[ -s run/report.html ] && grep -q "report written to run/report.html" "$OUT" && pass "the run wrote run/report.html" ||
  fail "report: true wrote no report ($(tail -2 "$OUT"))"
run_ranks 2 report run --out again.html
expect_success "shardnet report on 2 ranks"
grep -q "wrote the report of run to again.html" "$OUT" && pass "report names the file it wrote" || fail "report output: $(cat "$OUT")"

# Self-contained: nothing fetched (the SVG namespace is a name, not a fetch).
if grep -Eo '(src|href)="[a-z]+://[^"]*"|url\(|@import|<script' again.html; then
  fail "the report refers to outside files or runs scripts"
else
  pass "the report is self-contained: no external references, no scripts"
fi

# Rendered by Chromium: a screenshot, and the DOM after rendering.
browser=(chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
timeout 120 "${browser[@]}" --window-size=1200,3600 --screenshot="$WORK/shot.png" "file://$WORK/again.html" \
  >chromium.out 2>chromium.err
timeout 120 "${browser[@]}" --dump-dom "file://$WORK/again.html" >dom.html 2>>chromium.err
if grep -E "CONSOLE|Uncaught|Not allowed to load" chromium.err; then
  fail "Chromium logged console errors"
else
  pass "no console errors"
fi
# 4 charts: loss (training, test), accuracy (training, test), learning rate, images/s;
# pictures: 3 samples x (input + the 8 channels of the one conv layer)
$PYTHON - <<'PY' && pass "the screenshot shows the page, the DOM holds 4 charts, 6 curves and 27 valid PNGs" ||
import base64, io, re, sys
from PIL import Image, ImageStat
shot = Image.open("shot.png").convert("L")
stat = ImageStat.Stat(shot)
dark = sum(1 for p in shot.getdata() if p < 200) / (shot.width * shot.height)
assert stat.stddev[0] > 20 and dark > 0.01, f"blank screenshot: stddev {stat.stddev[0]:.1f}, dark {dark:.4f}"
dom = open("dom.html").read()
charts, paths = dom.count('<svg'), dom.count('<path class="series"')
pictures = re.findall(r'<img width="(\d+)" height="(\d+)" alt="[^"]*" src="data:image/png;base64,([^"]+)"', dom)
assert (charts, paths, len(pictures)) == (4, 6, 27), f"{charts} charts, {paths} curves, {len(pictures)} pictures"
for w, h, data in pictures:
    png = Image.open(io.BytesIO(base64.b64decode(data)))
    png.load()
    assert png.mode == "L" and png.width == 8 and png.height == 8, (png.mode, png.size)
    assert int(w) == 8 * 6 and int(h) == 8 * 6, (w, h)  # 8x8 maps shown 6x
PY
  fail "the rendered report"

# The numbers: the per-epoch table and the overview against metrics.csv, the confusion
# matrix against `shardnet eval` of the same checkpoint and data.
run_ranks 1 eval run --data blobs-test.h5
expect_success "shardnet eval for the reference"
cp "$OUT" eval.txt
$PYTHON - <<'PY' && pass "the report's numbers match metrics.csv and shardnet eval" || fail "the report's numbers"
import csv, re
html = open("again.html").read()
rows = list(csv.DictReader(open("run/metrics.csv")))
test = [r for r in rows if r["phase"] == "test"]
train = [r for r in rows if r["phase"] == "train"]
def table(id_):
    body = re.search(r'<table id="%s">(.*?)</table>' % id_, html, re.S).group(1)
    return [re.findall(r"<t[dh][^>]*>([^<]*)", tr) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
epochs = table("epoch-table")[1:]
assert len(epochs) == len(test) == 3, (len(epochs), len(test))
for (epoch, step, loss, acc), r in zip(epochs, test):
    assert int(epoch) == int(r["epoch"]) and int(step) == int(r["step"]), (epoch, step, r)
    assert abs(float(loss) - float(r["loss"])) < 1e-6 and abs(float(acc) - float(r["accuracy"])) < 1e-6, (loss, acc, r)
final = {k: v for k, v in table("final")[1:]}
assert abs(float(final["last training loss"]) - float(train[-1]["loss"])) < 1e-6, final
assert abs(float(final["last test accuracy"]) - float(test[-1]["accuracy"])) < 1e-6, final
rates = [float(r["images_per_s"]) for r in train]
assert abs(float(final["mean images/s"]) - sum(rates) / len(rates)) < 0.1, final
assert int(final["steps"]) == int(train[-1]["step"]), final
matrix = table("confusion-matrix")[1:]
names = [row[0].split(" ", 1)[1] for row in matrix]
assert names == ["top-left", "top-right", "bottom-left", "bottom-right"], names
counts = [[int(v) for v in row[1:5]] for row in matrix]
evals = open("eval.txt").read()
total = int(re.search(r"(\d+) samples", evals).group(1))
accuracy = float(re.search(r"accuracy ([0-9.]+)", evals).group(1))
assert sum(map(sum, counts)) == total, (counts, total)
assert abs(sum(counts[k][k] for k in range(4)) / total - accuracy) < 1e-4, (counts, accuracy)
for k, row in enumerate(matrix):
    per_class = re.search(r"^%d\s+%s\s+(\d+)\s+([0-9.]+)$" % (k, re.escape(names[k])), evals, re.M)
    assert int(row[5]) == int(per_class.group(1)) and abs(float(row[6]) - float(per_class.group(2))) < 1e-4, row
model = table("model-table")
assert [r[0] for r in model[1:-1]] == ["conv", "pool", "flat", "hidden", "drop", "logits"], model
slowest = table("slowest")[1:]
assert slowest and {r[0] for r in slowest} <= {"conv", "pool", "flat", "hidden", "drop", "logits"}, slowest
PY

# Errors: a directory without a checkpoint.
mkdir -p empty
run_ranks 2 report empty
expect_failure "a run directory without a checkpoint" 2 "cannot open empty/latest.h5"
finish
