#!/usr/bin/env bash
# Writes the seed corpora of the dataset and checkpoint fuzz targets: small files of
# every shape the readers accept, so that mutations start from valid structure.
#   fuzz/make_corpus.sh [SHARDNET]     (default build/release/shardnet)
# Datasets: uint8 with labels and class names, float32, chunked with gzip, /targets.
# Checkpoints: one as shardnet writes it (HDF5 1.8+ format with metadata checksums,
# Fletcher-32 on each tensor), and the same copied by h5py into the oldest format
# without checksums (as Keras-era tools write), which mutations can get deeper into.
set -euo pipefail
cd "$(dirname "$0")/.."
shardnet=$(realpath "${1:-build/release/shardnet}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 SHARDNET_PROGRESS=0
corpus=$PWD/fuzz/corpus
mkdir -p "$corpus/dataset" "$corpus/checkpoint"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$corpus/dataset" <<'PY'
import sys, h5py, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(1)
labels = np.arange(8, dtype=np.int32) % 4
images = rng.integers(0, 255, size=(8, 8, 8, 1)).astype(np.uint8)
def write(name, **kw):
    with h5py.File(f"{out}/{name}", "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.attrs["format_version"] = 1
        for key, value in kw.items():
            if key == "class_names":
                f.attrs[key] = value
            elif key.endswith("_gzip"):
                f.create_dataset(key[:-5], data=value, chunks=(4,) + value.shape[1:], compression="gzip")
            else:
                f.create_dataset(key, data=value)
write("tiny-uint8", images=images, labels=labels, class_names=["a", "b", "c", "d"])
write("tiny-float", images=images.astype(np.float32) / 255, labels=labels)
write("tiny-gzip", images_gzip=images, labels_gzip=labels)
write("tiny-targets", images=images, targets=images.reshape(8, -1).astype(np.float32) / 255)
PY
cp "$corpus/dataset/tiny-uint8" "$work/tiny-uint8.h5"
cp "$corpus/model.yaml" "$work/"
(cd "$work" && "$shardnet" train model.yaml --set train.max_steps=2 --quiet >/dev/null)
cp "$work/run/ckpt-00000002.h5" "$corpus/checkpoint/as-written"
/usr/bin/python3 - "$work/run/ckpt-00000002.h5" "$corpus/checkpoint/oldest-format" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w", libver="earliest") as dst:
    for key, value in src.attrs.items():
        dst.attrs[key] = value
    def copy(name, obj):
        if isinstance(obj, h5py.Group):
            g = dst.require_group(name)
        else:
            g = dst.create_dataset(name, data=obj[()])
        for key, value in obj.attrs.items():
            g.attrs[key] = value
    src.visititems(copy)
PY
ls -l "$corpus/dataset" "$corpus/checkpoint"
