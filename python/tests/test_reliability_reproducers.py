"""Every one-line reproducer of a crash, hang or silent corruption found by the fuzzing campaign, each run in a
fresh interpreter: the child must end with the expected Python exception (or succeed), never a signal.

Cases marked `model_level` are validations that live in the Python model code (float32-finite data, atomic
compile, pop(), nesting, integer shapes); the engine side of each is tested here too."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

PRELUDE = textwrap.dedent("""
    import numpy as np
    from swiftcnn import layers, models, optimizers, visualization
    from swiftcnn.preprocessing.image import ImageDataGenerator
""")

# (id, code, expected exception name or None for success)
CASES = [
    ("conv_filters_huge", "m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2**62, 1)]); m.build()", "ValueError"),
    ("conv_dilation_huge", "m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(1, 3, dilation_rate=2**62)]); m.build()", "ValueError"),
    ("conv_stride_huge_same", "m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(1, 3, strides=2**63-1, padding='same')]); m.predict(np.ones((1, 8, 8, 1), np.float32))", None),
    ("zeropad_huge", "m = models.Sequential([layers.Input((8, 8, 1)), layers.ZeroPadding2D(2**63-1)]); m.build()", "ValueError"),
    ("dense_units_huge", "m = models.Sequential([layers.Input((4,)), layers.Dense(2**62)]); m.build()", "ValueError"),
    ("input_huge_flatten", "m = models.Sequential([layers.Input((2**40, 2**40)), layers.Flatten()]); m.build()", "ValueError"),
    ("maxpool_stride_huge_predict", "m = models.Sequential([layers.Input((8, 8, 1)), layers.MaxPooling2D(2, strides=2**62)]); m.predict(np.ones((1, 8, 8, 1), np.float32))", None),
    ("two_strided_convs_summary", "m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(1, 1, strides=2**40, padding='same'), layers.Conv2D(1, 1, strides=2**40, padding='same')]); m.summary()", None),
    ("transform_tx_huge", "ImageDataGenerator().apply_transform(np.ones((8, 8, 1), np.float32), {'tx': 1e19})", None),
    ("zoom_range_huge", "g = ImageDataGenerator(zoom_range=(1e20, 1e20)); g.random_transform(np.ones((8, 8, 1), np.float32))", None),
    ("filter_pattern_size_huge", "m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2, 3)]); visualization.filter_pattern(m, m.layers[0].name, 0, size=2**31, steps=1)", "ValueError"),
    ("accuracy_targets_huge", "m = models.Sequential([layers.Input((3,)), layers.Dense(2)]); m.compile('sgd', 'mse', metrics=['categorical_accuracy']); m.fit(np.ones((4, 3)), np.full((4, 2), 1e19), verbose=0)", None),
    ("dense_100000_memory", "m = models.Sequential([layers.Input((100000,)), layers.Dense(100000)]); m.build()", "MemoryError"),
    ("binary_accuracy_sparse_loss", "m = models.Sequential([layers.Input((3,)), layers.Dense(1000, activation='softmax')]); m.compile('sgd', 'sparse_categorical_crossentropy', metrics=['binary_accuracy']); m.fit(np.ones((4, 3)), np.zeros(4), verbose=0)", "ValueError"),
    ("categorical_accuracy_sparse_loss", "m = models.Sequential([layers.Input((3,)), layers.Dense(1000, activation='softmax')]); m.compile('sgd', 'sparse_categorical_crossentropy', metrics=['categorical_accuracy']); m.fit(np.ones((4, 3)), np.zeros(4), verbose=0)", "ValueError"),
    ("learning_rate_beyond_float32", "m = models.Sequential([layers.Input((3,)), layers.Dense(2)]); m.compile(optimizers.SGD(learning_rate=1e300), 'mse')", "ValueError"),
]


def run_case(code, env=None, timeout=120):
    return subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, timeout=timeout,
                          env=env)


def assert_outcome(result, expected):
    assert result.returncode >= 0, f"killed by {signal.Signals(-result.returncode).name}:\n{result.stderr[-3000:]}"
    if expected is None:
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        assert result.returncode == 1, result.stderr[-3000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(expected + ":") or last.startswith(expected), result.stderr[-3000:]
        assert "Fatal error" not in result.stderr


@pytest.mark.parametrize("name,code,expected", CASES, ids=[c[0] for c in CASES])
def test_reproducer_raises_cleanly(name, code, expected):
    assert_outcome(run_case(code), expected)
