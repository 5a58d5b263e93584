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


# The same boundaries reached through the C ABI directly (ctypes stands in for a C program): each call must return
# an error status with a message, never trap.
C_PRELUDE = textwrap.dedent("""
    import ctypes, sys
    import swiftcnn
    lib = ctypes.CDLL(swiftcnn.get_lib())
    lib.scnn_last_error.restype = ctypes.c_char_p
    i64, i32, f32p = ctypes.c_int64, ctypes.c_int32, ctypes.POINTER(ctypes.c_float)
    def model(config=b"units=2"):
        m = ctypes.c_void_p()
        assert lib.scnn_model_create(ctypes.byref(m)) == 0
        shape = (i64 * 1)(3); node = i32()
        assert lib.scnn_model_add_input(m, b"input", shape, 1, ctypes.byref(node)) == 0
        inputs = (i32 * 1)(0)
        assert lib.scnn_model_add_layer(m, b"Dense", b"dense", config, inputs, 1, ctypes.byref(node)) == 0
        assert lib.scnn_model_build(m, ctypes.c_uint64(1)) == 0
        return m
    def expect_error(status, code=1):
        message = lib.scnn_last_error().decode()
        assert status == code, (status, message)
        assert message, "no message"
        print(message)
""")

C_CASES = [
    ("train_step_batch_huge", """
m = model(); assert lib.scnn_model_compile(m, b"mse", b"sgd", b"") == 0
x = (ctypes.c_float * 12)(); lo = ctypes.c_double(); me = ctypes.c_double()
expect_error(lib.scnn_model_train_step(m, x, i64(12), x, i64(8), i64(2**62), ctypes.byref(lo), ctypes.byref(me)))
"""),
    ("predict_batch_huge", """
m = model(); x = (ctypes.c_float * 12)()
expect_error(lib.scnn_model_predict(m, x, i64(12), i64(2**62), x, i64(8)))
"""),
    ("forward_batch_huge", """
m = model(); x = (ctypes.c_float * 12)()
expect_error(lib.scnn_model_forward(m, x, i64(12), i64(2**62), i32(0)))
"""),
    ("forward_multi_batch_huge", """
m = model(); x = (ctypes.c_float * 12)(); xs = (f32p * 1)(ctypes.cast(x, f32p)); counts = (i64 * 1)(12)
expect_error(lib.scnn_model_forward_multi(m, xs, counts, i32(1), i64(2**62), i32(0)))
"""),
    ("augment_sizes_overflow", """
x = (ctypes.c_float * 16)(); t = (ctypes.c_float * 9)()
lib.scnn_augment.argtypes = [ctypes.c_void_p, i64, i64, i64, i64, ctypes.c_void_p, i32, ctypes.c_float, ctypes.c_double, i32, ctypes.c_void_p]
expect_error(lib.scnn_augment(x, 2**40, 2**20, 2**20, 2**20, t, 0, 0.0, 1.0, 0, x))
expect_error(lib.scnn_augment(x, 2**61, 2, 2, 1, t, 0, 0.0, 1.0, 0, x))
"""),
    ("permutation_huge", """
out = (i64 * 4)()
expect_error(lib.scnn_permutation(ctypes.c_uint64(1), ctypes.c_uint64(0), i64(2**62), out))
"""),
    ("iterations_huge", """
m = model(); assert lib.scnn_model_compile(m, b"mse", b"sgd;momentum=0.9", b"") == 0
state = (ctypes.c_float * 8)()
expect_error(lib.scnn_model_set_optimizer_state(m, i32(0), state, i64(8), i64(2**63 - 1)))
"""),
    ("learning_rate_beyond_float32", """
m = model(); assert lib.scnn_model_compile(m, b"mse", b"sgd", b"") == 0
lib.scnn_model_set_learning_rate.argtypes = [ctypes.c_void_p, ctypes.c_double]
expect_error(lib.scnn_model_set_learning_rate(m, 1e300))
expect_error(lib.scnn_model_compile(m, b"mse", b"adam;learning_rate=1e300", b""))
expect_error(lib.scnn_model_compile(m, b"mse", b"adam;epsilon=1e39", b""))
"""),
    ("duplicate_config_key", """
m = ctypes.c_void_p(); assert lib.scnn_model_create(ctypes.byref(m)) == 0
shape = (i64 * 1)(3); node = i32(); assert lib.scnn_model_add_input(m, b"input", shape, 1, ctypes.byref(node)) == 0
inputs = (i32 * 1)(0)
expect_error(lib.scnn_model_add_layer(m, b"Dense", b"dense", b"units=2;units=3", inputs, 1, ctypes.byref(node)))
"""),
    ("input_shape_overflow", """
m = ctypes.c_void_p(); assert lib.scnn_model_create(ctypes.byref(m)) == 0
shape = (i64 * 2)(2**40, 2**40); node = i32()
expect_error(lib.scnn_model_add_input(m, b"input", shape, 2, ctypes.byref(node)))
"""),
    ("metric_does_not_fit_loss", """
m = model(b"units=1000;activation=softmax")
expect_error(lib.scnn_model_compile(m, b"sparse_categorical_crossentropy", b"sgd", b"binary_accuracy"))
expect_error(lib.scnn_model_compile(m, b"sparse_categorical_crossentropy", b"sgd", b"categorical_accuracy"))
expect_error(lib.scnn_model_compile(m, b"mse", b"sgd", b"sparse_categorical_accuracy"))
"""),
    ("parameters_out_of_memory", """
m = ctypes.c_void_p(); assert lib.scnn_model_create(ctypes.byref(m)) == 0
shape = (i64 * 1)(100000); node = i32(); assert lib.scnn_model_add_input(m, b"input", shape, 1, ctypes.byref(node)) == 0
inputs = (i32 * 1)(0)
assert lib.scnn_model_add_layer(m, b"Dense", b"dense", b"units=100000", inputs, 1, ctypes.byref(node)) == 0
expect_error(lib.scnn_model_build(m, ctypes.c_uint64(1)), code=6)
"""),
]


@pytest.mark.parametrize("name,code", C_CASES, ids=[c[0] for c in C_CASES])
def test_c_abi_boundary_returns_error(name, code):
    result = subprocess.run([sys.executable, "-c", C_PRELUDE + code], capture_output=True, text=True, timeout=120)
    assert result.returncode >= 0, f"killed by {signal.Signals(-result.returncode).name}:\n{result.stderr[-3000:]}"
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


FORK_WHILE_TRAINING = textwrap.dedent("""
    import os, sys, threading, numpy as np
    from swiftcnn import layers, models, optimizers
    m = models.Sequential([layers.Input((32, 32, 3)), layers.Conv2D(16, 3), layers.Flatten(), layers.Dense(2)])
    m.compile(optimizers.SGD(learning_rate=1e-6), "mse")
    x = np.random.default_rng(0).random((256, 32, 32, 3), dtype=np.float32); y = np.zeros((256, 2), np.float32)
    stop = threading.Event()
    def train():
        while not stop.is_set():
            m.train_on_batch(x[:64], y[:64])
    t = threading.Thread(target=train); t.start()
    for attempt in range(20):
        pid = os.fork()
        if pid == 0:
            # The child's engine works: same predictions as the parent would give for its copy of the weights.
            p = m.predict(x[:8], verbose=0)
            os._exit(0 if p.shape == (8, 2) and np.isfinite(p).all() else 3)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            stop.set(); t.join(); sys.exit(10 + attempt)
    stop.set(); t.join()
""")


def test_fork_while_another_thread_trains():
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    result = subprocess.run([sys.executable, "-c", FORK_WHILE_TRAINING], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_idx_header_checked_before_inflating(tmp_path):
    import gzip
    from swiftcnn.datasets import idx
    path = tmp_path / "bomb-idx3-ubyte.gz"
    # A 3 MB run of zeros compresses to a few KB; the header claims 2^62 bytes.
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 2]) + (2**31).to_bytes(4, "big") + (2**31).to_bytes(4, "big") + bytes(3_000_000))
    with pytest.raises(OSError, match="more than a compressed file"):
        idx.load(path)
    with gzip.open(path, "wb") as f:   # a header that fits, data cut short
        f.write(bytes([0, 0, 8, 1]) + (1000).to_bytes(4, "big") + bytes(10))
    with pytest.raises(OSError, match="truncated"):
        idx.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifos_and_devices_are_refused_not_read(tmp_path):
    from swiftcnn.datasets import idx
    from swiftcnn.preprocessing.image import ImageDataGenerator, load_img
    fifo = tmp_path / "fifo-idx1-ubyte"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        idx.load(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        idx.load("/dev/zero")
    os.mkfifo(tmp_path / "image.png")
    with pytest.raises(OSError, match="not a regular file"):
        load_img(tmp_path / "image.png")
    # A FIFO named like an image inside a class folder is not listed (it would block the loader).
    (tmp_path / "data" / "a").mkdir(parents=True)
    os.mkfifo(tmp_path / "data" / "a" / "blocked.png")
    from PIL import Image
    Image.new("RGB", (4, 4)).save(tmp_path / "data" / "a" / "real.png")
    it = ImageDataGenerator().flow_from_directory(tmp_path / "data", target_size=(4, 4), batch_size=1)
    assert it.filenames == [os.path.join("a", "real.png")]
    x, _ = next(it)
    assert x.shape == (1, 4, 4, 3)
