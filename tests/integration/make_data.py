#!/usr/bin/python3
"""Writes small datasets for the integration tests, good and deliberately broken.

usage: make_data.py DIR
Creates in DIR:
  blobs-train.h5, blobs-test.h5  4 classes of 8x8x1 images, each class a bright
                                 quadrant plus noise (learnable in a few steps)
  regress-train.h5               8x8x1 images with /targets (the image itself)
  no-images.h5, empty.h5, bad-labels.h5, wrong-shape.h5, not-hdf5.h5, checkpoint-like.h5
  late-corrupt.h5                blobs-train.h5 gzip-compressed with a damaged chunk in
                                 its second half: only the rank reading that half fails
"""
import os
import sys

import h5py
import numpy as np


def write(path, images, labels=None, targets=None, fmt="shardnet-dataset", names=None):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = fmt
        f.attrs["format_version"] = 1
        if images is not None:
            f.create_dataset("images", data=images)
        if labels is not None:
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.int32))
        if targets is not None:
            f.create_dataset("targets", data=np.asarray(targets, dtype=np.float32))
        if names:
            f.attrs["class_names"] = names


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=n)
    images = rng.integers(0, 60, size=(n, 8, 8, 1)).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 2)
        images[i, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4, 0] += 150
    return images, labels


def corrupt_late_chunk(path, images, labels):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.create_dataset("images", data=images, chunks=(16, 8, 8, 1), compression="gzip")
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.int32))
        chunk = f["images"].id.get_chunk_info_by_coord((len(images) - 32, 0, 0, 0))
    with open(path, "r+b") as f:
        f.seek(chunk.byte_offset + 10)
        f.write(b"\xff" * 20)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = ["top-left", "top-right", "bottom-left", "bottom-right"]
    images, labels = blobs(480, 1)
    write(f"{out}/blobs-train.h5", images, labels, names=names)
    images, labels = blobs(160, 2)
    write(f"{out}/blobs-test.h5", images, labels, names=names)
    write(f"{out}/regress-train.h5", images, targets=images.reshape(len(images), -1) / 255.0)
    write(f"{out}/no-images.h5", None, labels)
    write(f"{out}/empty.h5", np.zeros((0, 8, 8, 1), np.uint8), np.zeros((0,), np.int32))
    bad = labels.copy()
    bad[37] = 7
    write(f"{out}/bad-labels.h5", images, bad)
    write(f"{out}/wrong-shape.h5", np.zeros((16, 9, 8, 1), np.uint8), np.zeros((16,), np.int32))
    write(f"{out}/checkpoint-like.h5", images, labels, fmt="shardnet-checkpoint")
    corrupt_late_chunk(f"{out}/late-corrupt.h5", images, labels)
    with open(f"{out}/not-hdf5.h5", "w") as f:
        f.write("this is a text file, not HDF5\n")


if __name__ == "__main__":
    main()
