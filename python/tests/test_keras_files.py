"""Keras files both ways, against real Keras 3 (PyTorch backend): `.keras` archives and legacy `.h5` files written
here load in `keras.models.load_model` and predict the same; files Keras wrote load here and predict the same;
optimizer state travels in `.keras` (one more training step agrees with Keras's); committed fixtures written by
Keras 3 and tf.keras 2.x (python/tests/data) load; unsupported, truncated and foreign files are clear errors."""
import json
import os
import stat
import warnings
import subprocess
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from swiftcnn import layers, models, optimizers  # noqa: E402
from swiftcnn.keras_weights import keras_children  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TOL = 1e-5


def data(n=16, shape=(8, 8, 1), classes=3):
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n,) + shape).astype(np.float32), np.arange(n) % classes


# ---------- swiftcnn models of each kind ----------
def sequential():
    return models.Sequential([layers.Rescaling(2.0, offset=-1.0, input_shape=(8, 8, 1)),
                              layers.Conv2D(4, 3, activation="relu"), layers.BatchNormalization(),
                              layers.MaxPooling2D(), layers.Dropout(0.25), layers.Flatten(),
                              layers.Dense(3, activation="softmax")])


def resnet_style():
    inputs = layers.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    y = layers.BatchNormalization()(x)
    y = layers.ReLU()(y)
    y = layers.Conv2D(4, 3, strides=1, padding="same", dilation_rate=2)(y)
    x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = layers.Conv2D(6, 3, strides=2)(x)
    return models.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x)))


def inception_style():
    inputs = layers.Input((8, 8, 2))
    a = layers.Conv2D(3, 1, activation="relu")(inputs)
    b = layers.Conv2D(2, 1, activation="relu")(inputs)
    b = layers.Conv2D(3, 3, padding="same", activation="tanh")(b)
    c = layers.MaxPooling2D(3, strides=1, padding="same")(inputs)
    c = layers.Conv2D(2, 1, activation="sigmoid")(c)
    x = layers.Concatenate()([a, b, c])
    # (Keras's PyTorch backend averages a 'same' window with padding on one side differently from TensorFlow's
    # Keras, whose rule swiftcnn follows; with padding on both sides they agree.)
    x = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    return models.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalMaxPooling2D()(x)))


def densenet_style():
    inputs = layers.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    for _ in range(2):
        y = layers.Activation("relu")(layers.BatchNormalization(epsilon=1.001e-5)(x))
        y = layers.Conv2D(2, 3, padding="same", use_bias=False)(y)
        x = layers.Concatenate()([x, y])
    x = layers.AveragePooling2D(2)(x)
    return models.Model(inputs, layers.Dense(3, activation="softmax")(layers.Flatten()(x)))


def nested():
    base = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                              layers.BatchNormalization()], name="base")
    inputs = layers.Input((8, 8, 1))
    x = layers.GlobalAveragePooling2D()(base(inputs))
    return models.Model(inputs, layers.Dense(3, activation="softmax")(x))


def sequential_of_model():
    inner_in = layers.Input((6, 6, 4))
    inner = models.Model(inner_in, layers.Conv2D(3, 3, activation="relu")(inner_in), name="inner")
    return models.Sequential([layers.Conv2D(4, 3, input_shape=(8, 8, 1)), inner, layers.Flatten(),
                              layers.Dense(3, activation="softmax")])


BUILDERS = [sequential, resnet_style, inception_style, densenet_style, nested, sequential_of_model]


@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_files_written_here_load_in_keras_and_back(tmp_path, build, ext):
    model = build()
    x, y = data(shape=model.input_shape[1:])
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / ("model" + ext))
    model.save(path)
    expected = model.predict(x)
    theirs = keras.models.load_model(path)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, atol=TOL)
    assert type(theirs.optimizer).__name__ == "Adam"
    assert float(theirs.optimizer.learning_rate) == pytest.approx(0.01)
    ours = models.load_model(path)
    np.testing.assert_array_equal(ours.predict(x), expected)
    assert ours.loss == "sparse_categorical_crossentropy" and ours.compiled_metric == "accuracy"


def test_the_chapters_h5_round_trip_is_a_real_hdf5_keras_file(tmp_path):
    model = models.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(12, 12, 3)),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy", metrics=["acc"])
    path = str(tmp_path / "dog_and_cat_small_1.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["model_config"])["class_name"] == "Sequential"
        assert "model_weights" in f and "training_config" in f.attrs
    x = np.random.default_rng(1).uniform(size=(4, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x), atol=TOL)
    again = models.load_model(path)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert type(again.optimizer).__name__ == "RMSprop" and again.optimizer.learning_rate == pytest.approx(1e-4)


@pytest.mark.parametrize("make_optimizer", [lambda: optimizers.Adam(0.01),
                                            lambda: optimizers.RMSprop(0.01, momentum=0.5),
                                            lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True)],
                         ids=["adam", "rmsprop", "sgd"])
def test_optimizer_state_travels_in_keras_archives(tmp_path, make_optimizer):
    """After loading in Keras, one more step there and one here give the same weights: the moments were stored
    where Keras reads them. And the archive read back here continues bit-identically."""
    model = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.MaxPooling2D(),
                               layers.Flatten(), layers.Dense(3, activation="softmax")])
    x, y = data()
    model.compile(make_optimizer(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    theirs = keras.models.load_model(path)
    assert int(theirs.optimizer.iterations) == 6
    ours = models.load_model(path)
    theirs.train_on_batch(x, y)
    model.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for a, b in zip(theirs.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=TOL)
    for a, b in zip(ours.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------- Keras models written by Keras ----------
def keras_models():
    k = keras.layers
    seq = keras.Sequential([keras.Input((8, 8, 1)), k.Rescaling(1 / 2.0), k.Conv2D(4, 3, activation="relu"),
                            k.BatchNormalization(), k.MaxPooling2D(), k.Dropout(0.2), k.Flatten(),
                            k.Dense(3, activation="softmax")])
    inputs = keras.Input((8, 8, 1))
    x = k.Conv2D(4, 3, padding="same")(inputs)
    y = k.ReLU()(k.BatchNormalization()(x))
    y = k.Conv2D(4, 3, padding="same", dilation_rate=2)(y)
    x = k.Add()([x, y])
    z = k.Concatenate()([x, k.AveragePooling2D(3, strides=1, padding="same")(x)])
    z = k.ZeroPadding2D(1)(z)
    z = k.Conv2D(3, 3, strides=2, activation="tanh")(z)
    functional = keras.Model(inputs, k.Dense(3, activation="softmax")(k.GlobalAveragePooling2D()(z)))
    base = keras.Sequential([keras.Input((8, 8, 1)), k.Conv2D(4, 3, activation="relu"), k.BatchNormalization()],
                            name="base")
    inputs = keras.Input((8, 8, 1))
    outer = keras.Model(inputs, k.Dense(3, activation="softmax")(k.GlobalMaxPooling2D()(base(inputs))))
    return {"sequential": seq, "functional": functional, "nested": outer}


@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("kind", ["sequential", "functional", "nested"])
def test_files_keras_wrote_load_here(tmp_path, kind, ext):
    keras.utils.set_random_seed(3)
    theirs = keras_models()[kind]
    theirs.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    theirs.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = str(tmp_path / ("keras" + ext))
    theirs.save(path)
    ours = models.load_model(path)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=TOL)
    assert type(ours.optimizer).__name__ == "Adam" and ours.optimizer.learning_rate == pytest.approx(0.005)
    if ext == ".keras" and kind == "functional":      # the optimizer state came too: the next step agrees
        theirs.train_on_batch(x, y)
        ours.train_on_batch(x, y)
        np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=TOL)


def test_committed_fixtures_written_by_keras():
    """python/tests/data: written by Keras 3 (make_keras_fixture.py) and tf.keras 2.x (make_tf_keras_fixture.py)."""
    expected = np.load(os.path.join(DATA, "keras_convnet_predictions.npz"))
    model = models.load_model(os.path.join(DATA, "keras_convnet_legacy.h5"))
    assert [type(l).__name__ for l in model.layers] == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D",
                                                       "Flatten", "Dense", "Dense"]
    np.testing.assert_allclose(model.predict(expected["x"]), expected["predictions"], atol=TOL)
    tf2 = np.load(os.path.join(DATA, "tf_keras2_predictions.npz"))
    for name in ["tf_keras2_sequential.h5", "tf_keras2_functional.h5"]:
        model = models.load_model(os.path.join(DATA, name))
        key = name[len("tf_keras2_"):-len(".h5")]
        np.testing.assert_allclose(model.predict(tf2["x"]), tf2[key], atol=TOL, err_msg=name)
        assert model.optimizer is not None


def test_unsupported_layers_are_all_listed_before_anything_is_built(tmp_path):
    k = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = k.DepthwiseConv2D(3)(inputs)
    x = k.LayerNormalization()(x)
    x = k.Conv2D(2, 3, kernel_regularizer="l2")(x)
    theirs = keras.Model(inputs, k.Dense(2)(k.Flatten()(x)))
    for ext in (".keras", ".h5"):
        path = str(tmp_path / ("unsupported" + ext))
        theirs.save(path)
        with pytest.raises(ValueError) as info:
            models.load_model(path)
        message = str(info.value)
        assert "DepthwiseConv2D" in message and "LayerNormalization" in message and "kernel_regularizer" in message


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    model = sequential()
    model.save(str(tmp_path / "good.keras"))
    model.save(str(tmp_path / "good.h5"))
    for ext in (".keras", ".h5"):
        content = (tmp_path / ("good" + ext)).read_bytes()
        (tmp_path / ("truncated" + ext)).write_bytes(content[:len(content) // 2])
        with pytest.raises(ValueError, match="truncated|corrupted|not a valid"):
            models.load_model(str(tmp_path / ("truncated" + ext)))
    (tmp_path / "text.keras").write_text("just text")
    with pytest.raises(ValueError, match="not a valid .keras"):
        models.load_model(str(tmp_path / "text.keras"))
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as z:
        z.writestr("readme.txt", "a zip, but not a Keras archive")
    with pytest.raises(ValueError, match="not a Keras archive"):
        models.load_model(str(tmp_path / "other.keras"))
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="only weights"):
        models.load_model(str(tmp_path / "other.h5"))
    (tmp_path / "m.onnx").write_bytes(b"\x08\x08\x12\x08swiftcnn")
    with pytest.raises(ValueError, match="does not read them"):
        models.load_model(str(tmp_path / "m.onnx"))
    os.mkfifo(tmp_path / "fifo.keras")
    with pytest.raises(OSError, match="not a regular file"):
        models.load_model(str(tmp_path / "fifo.keras"))     # refused without blocking
    with pytest.raises(FileNotFoundError):
        models.load_model(str(tmp_path / "missing.h5"))


@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
def test_writes_are_atomic_and_follow_the_umask(tmp_path, ext):
    model = sequential()
    save = model.save_weights if ext == ".weights.h5" else model.save
    target = tmp_path / ("model" + ext)
    target.mkdir()                      # the final rename fails: an error, the folder kept, no temporary left
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        save(str(target))
    assert (target / "inside").read_text() == "kept" and os.listdir(tmp_path) == [target.name]
    old = os.umask(0o027)
    try:
        save(str(tmp_path / ("fresh" + ext)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / ("fresh" + ext)).st_mode) == 0o640
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                         # a save killed mid-write left its temporary: the next save removes it
    stale = tmp_path / f".fresh{ext}.swiftcnn-tmp.{dead.pid}.0123abcd"
    stale.write_bytes(b"half a file")
    save(str(tmp_path / ("fresh" + ext)))
    assert not stale.exists() and sorted(os.listdir(tmp_path)) == sorted([target.name, "fresh" + ext])
    with pytest.raises(OSError):
        save(str(tmp_path / "no" / "such" / ("folder" + ext)))


def test_engine_files_keep_loading_whatever_their_name(tmp_path):
    """Files this library wrote under .h5 names before .h5 meant HDF5 are engine files: read by content."""
    model = sequential()
    x, _ = data()
    model.save(str(tmp_path / "m.scnn"))
    os.rename(tmp_path / "m.scnn", tmp_path / "old.h5")
    np.testing.assert_array_equal(models.load_model(str(tmp_path / "old.h5")).predict(x), model.predict(x))


def test_keras_layer_order_and_weight_file_names_match_keras(tmp_path):
    """Keras orders a functional model's layers by depth; weight groups and optimizer variables follow that order.
    save_weights('.weights.h5') writes Keras's layout, so Keras's load_weights reads it into Keras's own model."""
    model = inception_style()
    path = str(tmp_path / "m.keras")
    model.save(path)
    theirs = keras.models.load_model(path)
    assert [l.name for l in theirs.layers] == [l.name for l in keras_children(model)]
    model.save_weights(str(tmp_path / "w.weights.h5"))
    fresh = keras.models.load_model(path)
    for w in fresh.weights:
        w.assign(np.zeros(w.shape))
    fresh.load_weights(str(tmp_path / "w.weights.h5"))
    x, _ = data(shape=(8, 8, 2))
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x), atol=TOL)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_damaged_files_raise_only_value_or_os_errors(tmp_path, ext):
    """Bit flips and truncations anywhere in a Keras file: loading succeeds or raises ValueError / OSError (h5py's
    KeyError / RuntimeError and zlib's errors on damaged content are reported as the file's fault)."""
    model = sequential()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    good = tmp_path / ("good" + ext)
    model.save(str(good))
    content = good.read_bytes()
    rng = np.random.default_rng(5)
    for i in range(60):
        damaged = bytearray(content)
        if i % 3 == 0:
            damaged = damaged[:int(rng.integers(len(damaged)))]
        else:
            for _ in range(1 if i % 3 == 1 else 20):
                damaged[int(rng.integers(len(damaged)))] ^= 1 << int(rng.integers(8))
        path = tmp_path / ("damaged" + ext)
        path.write_bytes(bytes(damaged))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models.load_model(str(path))
        except (ValueError, OSError):
            pass
