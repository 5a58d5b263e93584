"""Keras `utils`: `to_categorical`, `set_random_seed`."""
import os
import random

import numpy as np

_seed_state = {"seed": None, "counter": 0}


def set_random_seed(seed):
    """Seeds the engine's streams (weight init, dropout, shuffling) and Python's and NumPy's generators:
    the same seed gives bit-identical training on the same machine and thread count."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative integer, received {seed!r}")
    _seed_state["seed"] = int(seed)
    _seed_state["counter"] = 0
    random.seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))


def next_seed():
    """A 64-bit seed for a new model or layer: a deterministic sequence after `set_random_seed`, else random."""
    if _seed_state["seed"] is None:
        return int.from_bytes(os.urandom(8), "little")
    _seed_state["counter"] += 1
    x = (_seed_state["seed"] * 0x9E3779B97F4A7C15 + _seed_state["counter"] * 0xBF58476D1CE4E5B9) % (2 ** 64)
    return x


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encodes integer class labels: shape (n,) → (n, num_classes), as Keras does."""
    y = np.asarray(y)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("to_categorical expects integer class labels; received non-integer values")
    y = y.astype("int64")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, found {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for num_classes={num_classes}")
    flat = y.reshape(-1)
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(y.shape + (num_classes,))
