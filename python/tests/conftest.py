import os

import numpy as np
import pytest

import swiftcnn


@pytest.fixture(autouse=True)
def _seed():
    swiftcnn.utils.set_random_seed(1234)
    yield


def fashion_mnist_or_skip():
    try:
        return swiftcnn.datasets.fashion_mnist.load_data()
    except FileNotFoundError as e:
        pytest.skip(str(e))


def small_images(n=64, seed=0, shape=(8, 8, 1)):
    """A two-class task: a bright 2×2 square top-left (class 0) or bottom-right (class 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.3, size=(n,) + shape).astype(np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        o = 1 if y[i] == 0 else shape[0] - 3
        x[i, o:o + 2, o:o + 2, :] = 1
    return x, y
