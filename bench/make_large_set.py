#!/usr/bin/python3
"""Writes a generated classification set of a given size, in blocks (never whole in memory).

usage: make_large_set.py OUT.h5 SIZE_MB [--side 32] [--channels 3] [--classes 10] [--compress LEVEL]

Images are SIDE x SIDE x CHANNELS uint8 whose mean brightness encodes the label (so a
small net learns something), chunked by whole samples (about 64 KiB a chunk).
"""
import argparse

import h5py
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("size_mb", type=float)
    p.add_argument("--side", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--compress", type=int, default=0)
    a = p.parse_args()
    per = a.side * a.side * a.channels
    n = int(a.size_mb * 1e6 / (per + 4))
    rows = max(1, 65536 // per)
    opts = {"chunks": (rows, a.side, a.side, a.channels)}
    if a.compress:
        opts.update(compression="gzip", compression_opts=a.compress, shuffle=True)
    rng = np.random.default_rng(0)
    with h5py.File(a.out, "w") as f:
        f.attrs["format"] = "shardnet-dataset"
        f.attrs["format_version"] = 1
        images = f.create_dataset("images", (n, a.side, a.side, a.channels), dtype=np.uint8, **opts)
        labels = f.create_dataset("labels", (n,), dtype=np.int32, chunks=(min(n, 16384),))
        block = max(rows, (64 << 20) // per // rows * rows)
        for start in range(0, n, block):
            m = min(block, n - start)
            y = rng.integers(0, a.classes, size=m).astype(np.int32)
            x = rng.integers(0, 64, size=(m, a.side, a.side, a.channels), dtype=np.uint8)
            x += (y * (190 // a.classes)).astype(np.uint8)[:, None, None, None]
            images[start:start + m] = x
            labels[start:start + m] = y
    print(f"{a.out}: {n} samples of {a.side}x{a.side}x{a.channels}, {n * (per + 4) / 1e9:.3f} GB")


if __name__ == "__main__":
    main()
