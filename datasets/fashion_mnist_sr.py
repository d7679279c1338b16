#!/usr/bin/python3
"""Makes the 2x super-resolution set for configs/autoencoder.yaml from the Fashion-MNIST
HDF5 files: /images are the originals shrunk to 14x14 (2x2 means) and blown back up to
28x28 (nearest), /targets the sharp originals in [0, 1].

usage: datasets/fashion_mnist_sr.py   (after datasets/fashion_mnist.sh)
"""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def convert(split):
    source = os.path.join(HERE, f"fashion-mnist-{split}.h5")
    out = os.path.join(HERE, f"fashion-mnist-sr-{split}.h5")
    with h5py.File(source, "r") as f:
        images = f["images"][()].astype(np.float32)  # (N, 28, 28, 1)
    n = len(images)
    small = images.reshape(n, 14, 2, 14, 2, 1).mean(axis=(2, 4))
    blurred = small.repeat(2, axis=1).repeat(2, axis=2)
    with h5py.File(out + ".part", "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.attrs["format_version"] = 1
        f.attrs["source"] = f"{os.path.basename(source)}, 2x2 mean-pooled and nearest-upsampled"
        f.create_dataset("images", data=np.rint(blurred).astype(np.uint8), chunks=(1024, 28, 28, 1))
        f.create_dataset("targets", data=(images / 255.0).reshape(n, -1), chunks=(1024, 784))
    os.replace(out + ".part", out)
    print(f"datasets: wrote {out}")


if __name__ == "__main__":
    for split in ("train", "test"):
        convert(split)
