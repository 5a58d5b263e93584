"""Bad input at every public entry gives a clear exception; the interpreter survives and the model is unchanged."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import swiftcnn
from swiftcnn import _native, layers, models, optimizers
from conftest import small_images


@pytest.fixture
def model():
    m = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.Flatten(),
                           layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def assert_unchanged(model, before):
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("x,y,message", [
    (np.zeros((4, 8, 8, 2)), np.zeros(4), "expected shape"),
    (np.zeros((4, 8, 8)), np.zeros(4), "expected shape"),
    (np.zeros((8, 8, 1)), np.zeros(1), "single sample"),
    (np.zeros((4, 8, 8, 1)), np.zeros(5), "cardinality"),
    (np.zeros((4, 8, 8, 1)), np.array([0, 1, 2, 3]), r"\[0, 2\]"),
    (np.zeros((4, 8, 8, 1)), np.array([0, 1, 0.5, 1]), "integers"),
    (np.zeros((4, 8, 8, 1)), np.zeros((4, 3)), "integer labels"),
    (np.full((4, 8, 8, 1), np.nan), np.zeros(4), "NaN"),
    (np.zeros((4, 8, 8, 1)), np.array([0, np.inf, 0, 0]), "NaN or infinite"),
    (np.zeros((0, 8, 8, 1)), np.zeros(0), "empty"),
    (None, np.zeros(4), "None"),
    (np.array([["a"]]), np.zeros(1), "numbers"),
])
def test_bad_fit_data_raises_and_keeps_weights(model, x, y, message):
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(x, y, verbose=0)
    assert_unchanged(model, before)


def test_bad_arguments(model):
    x, y = small_images(8)
    for kwargs in [dict(batch_size=0), dict(batch_size=2.5), dict(epochs=-1), dict(validation_split=1.5),
                   dict(verbose=7), dict(validation_data=(x,)), dict(nonsense=1)]:
        with pytest.raises((ValueError, TypeError)):
            model.fit(x, y % 3, **kwargs)
    with pytest.raises(ValueError):
        model.predict(x, batch_size=-1)


def test_conversions_are_accepted(model):
    x, y = small_images(8)
    model.fit(x.astype(np.float64), y, verbose=0)
    model.fit((x * 255).astype(np.uint8), y.astype(np.uint8), verbose=0)
    model.fit(x.tolist(), y.tolist(), verbose=0)
    wide = np.zeros((8, 8, 8, 3))
    wide[..., 1] = x[..., 0]
    model.fit(wide[..., 1:2], y, verbose=0)           # non-contiguous view
    assert model.predict(np.asfortranarray(x)).shape == (8, 3)


def test_unknown_names():
    with pytest.raises(ValueError, match="activation"):
        layers.Dense(3, activation="swish_of_doom")
    with pytest.raises(ValueError, match="initializer"):
        layers.Conv2D(3, 3, kernel_initializer="nope")
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        layers.Conv2D(3, (3, 3, 3))
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)
    with pytest.raises(TypeError):
        layers.Dense(3, nonsense=True)
    m = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="loss"):
        m.compile("adam", "hinge_of_doom")
    with pytest.raises(ValueError, match="optimizer"):
        m.compile("adamw_of_doom", "mse")
    with pytest.raises(ValueError, match="metric"):
        m.compile("adam", "mse", metrics=["f1_of_doom"])
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate=-1)
    with pytest.raises(ValueError, match="No such layer"):
        m.get_layer("missing")


def test_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match="conv_after_dense.*ndim=4"):
        models.Sequential([layers.Dense(4, input_shape=(10,)), layers.Conv2D(3, 3, name="conv_after_dense")])
    with pytest.raises(ValueError, match="larger than the input"):
        models.Sequential([layers.Conv2D(3, 5, input_shape=(3, 3, 1))])
    with pytest.raises(ValueError, match="strides > 1 not supported"):
        models.Sequential([layers.Conv2D(3, 3, strides=2, dilation_rate=2, input_shape=(9, 9, 1))])
    inputs = layers.Input(shape=(4, 4, 2))
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([layers.Conv2D(3, 1)(inputs), layers.Conv2D(4, 1)(inputs)])
    seq = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError):
        seq.add(layers.Conv2D(1, 1))
    assert len(seq.layers) == 1 and seq.output_shape == (None, 2)   # the failed add left the model as it was


def test_wrong_weights_leave_model_unchanged(model):
    before = model.get_weights()
    with pytest.raises(ValueError, match="expecting 2 weights"):
        model.layers[0].set_weights([before[0]])
    with pytest.raises(ValueError, match="shape mismatch"):
        model.layers[0].set_weights([before[0][..., :2], before[1]])
    with pytest.raises(ValueError, match="NaN"):
        model.layers[0].set_weights([np.full_like(before[0], np.nan), before[1]])
    with pytest.raises(ValueError):
        model.set_weights(before[:-1])
    bad = [w.copy() for w in before]
    bad[-1] = np.zeros(7)
    with pytest.raises(ValueError):
        model.set_weights(bad)
    assert_unchanged(model, before)


def test_fit_before_compile():
    m = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="compile"):
        m.evaluate(np.zeros((2, 3)), np.zeros((2, 2)))


def test_native_layer_rejects_wrong_calls_without_crashing():
    engine = _native.Model()
    assert engine.add_input("in", (4,)) == 0
    with pytest.raises(KeyError, match="Unknown layer type"):
        engine.add_layer("NoSuchLayer", "x", "", [0])
    with pytest.raises(ValueError, match="does not exist"):
        engine.add_layer("Dense", "d", "units=2", [5])
    with pytest.raises(ValueError, match="unrecognized keyword"):
        engine.add_layer("Dense", "d", "units=2;colour=blue", [0])
    with pytest.raises(ValueError, match="units"):
        engine.add_layer("Dense", "d", "units=-2", [0])
    node = engine.add_layer("Dense", "d", "units=2", [0])
    engine.build(1)
    with pytest.raises(ValueError, match="values given"):
        engine.get_param(node, 0, np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError):
        engine.get_param(node, 0, np.zeros(8, dtype=np.float64))
    with pytest.raises(RuntimeError, match="compile"):
        engine.train_step(np.zeros(4), np.zeros(2), 1)
    with pytest.raises(ValueError):
        engine.predict(np.zeros(4), 1, np.zeros(3, dtype=np.float32))
    with pytest.raises(RuntimeError, match="forward"):
        engine.read_activation(node, np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="between 1 and 256"):
        swiftcnn.set_num_threads(0)


def test_interpreter_survives_a_barrage():
    """Every wrong call in one subprocess: it must exit normally, never by a signal."""
    code = textwrap.dedent("""
        import numpy as np
        from swiftcnn import _native, layers, models
        e = _native.Model()
        calls = [lambda: e.add_input("x", ()), lambda: e.add_input("x", (-1, 2)), lambda: e.add_input("x", (2**40,)),
                 lambda: e.add_layer("Dense", "d", "units=3", [-1]), lambda: e.build(1), lambda: e.node_shape(99),
                 lambda: e.train_step(None, None, 0), lambda: e.forward(np.zeros(3), -5, True),
                 lambda: e.read_gradient(0, np.zeros(1, np.float32)), lambda: e.set_param(0, 0, [1.0]),
                 lambda: e.receptive_field(12345), lambda: _native.permutation(1, 1, -3)]
        for c in calls:
            try:
                c()
            except Exception:
                pass
        m = models.Sequential([layers.Dense(2, input_shape=(3,))])
        m.compile("sgd", "mse")
        for x, y in [(np.zeros((2, 4)), np.zeros((2, 2))), (np.zeros((2, 3)), np.zeros((3, 2))), ([[np.nan] * 3], [[0, 0]])]:
            try:
                m.fit(x, y, verbose=0)
            except Exception:
                pass
        print("survived")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "survived" in result.stdout
