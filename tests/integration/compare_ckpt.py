#!/usr/bin/python3
"""Compares the weights of two shardnet checkpoints.

usage: compare_ckpt.py A.h5 B.h5 TOLERANCE [GROUP]
Prints the largest relative difference over all tensors of /GROUP (model_weights by
default; optimizer compares the moments), where a
tensor's difference is max|a - b| / max|a| (so tiny entries are judged on the
tensor's scale). Exits 1 when it exceeds TOLERANCE; TOLERANCE 0 demands bitwise
equality.
"""
import sys

import h5py
import numpy as np


def tensors(path, group):
    out = {}
    with h5py.File(path, "r") as f:
        f[group].visititems(
            lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    group = sys.argv[4] if len(sys.argv) > 4 else "model_weights"
    a, b, tol = tensors(sys.argv[1], group), tensors(sys.argv[2], group), float(sys.argv[3])
    if a.keys() != b.keys():
        print(f"different tensors: {sorted(a.keys() ^ b.keys())}")
        return 1
    worst, where = 0.0, ""
    for name in sorted(a):
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        if tol == 0.0:
            if not np.array_equal(a[name], b[name]):
                print(f"{name} differs (bitwise comparison)")
                return 1
            continue
        scale = max(np.max(np.abs(x)), 1e-30)
        diff = np.max(np.abs(x - y)) / scale
        if diff > worst:
            worst, where = diff, name
    print(f"largest relative difference {worst:.3g} ({where or 'all equal'})")
    return 1 if worst > tol else 0


if __name__ == "__main__":
    sys.exit(main())
