#!/usr/bin/python3
"""Runs the blobs model of a shardnet checkpoint the way a channels-last Keras model
would, from the file alone, and compares with shardnet's predictions.

usage: keras_forward.py CHECKPOINT DATASET PREDICTIONS
The model is blobs.yaml's: conv 3x3 same relu, maxpool 2, flatten, dense relu,
dropout (identity at inference), dense, softmax. Keras semantics: NHWC tensors,
cross-correlation with kernels (kh, kw, cin, cout), Flatten in (h, w, c) order.
Exits 1 if any probability differs by more than 1e-5.
"""
import sys

import h5py
import numpy as np


def weights(f, layer):
    group = f["model_weights"][layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    return [group[name][()] for name in names]


def conv_same(x, kernel, bias):
    kh, kw = kernel.shape[:2]
    n, h, w, _ = x.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = np.zeros((n, h, w, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,cd->nhwd", padded[:, i:i + h, j:j + w, :], kernel[i, j])
    return out + bias


def main():
    with h5py.File(sys.argv[1]) as f:
        conv_k, conv_b = weights(f, "conv")
        hidden_k, hidden_b = weights(f, "hidden")
        logits_k, logits_b = weights(f, "logits")
        layer_names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"].attrs["layer_names"]]
    assert layer_names == ["conv", "pool", "flat", "hidden", "drop", "logits"], layer_names
    assert conv_k.shape == (3, 3, 1, 8), conv_k.shape
    with h5py.File(sys.argv[2]) as f:
        x = f["images"][()].astype(np.float64) * 0.00392157
    with h5py.File(sys.argv[3]) as f:
        expected = f["probabilities"][()]
    y = np.maximum(conv_same(x, conv_k, conv_b), 0)
    n, h, w, c = y.shape
    y = y.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
    y = y.reshape(n, -1)  # Keras Flatten: (h, w, c) order
    y = np.maximum(y @ hidden_k + hidden_b, 0)
    y = y @ logits_k + logits_b
    y = np.exp(y - y.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    diff = np.abs(y - expected).max()
    print(f"largest difference from shardnet's probabilities: {diff:.2e}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
