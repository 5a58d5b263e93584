"""Saving: one atomic, versioned file; bit-identical predictions; training continues; corrupt files are errors;
Keras weight files are read."""
import os

import numpy as np
import pytest

from swiftcnn import callbacks, layers, models, optimizers


def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(40, 8, 8, 1)).astype(np.float32), np.arange(40) % 3


def sequential():
    return models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.BatchNormalization(),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dense(3, activation="softmax")])


def functional():
    inputs = layers.Input(shape=(8, 8, 1))
    a = layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(2, 1)(inputs)
    merged = layers.Concatenate()([layers.Add()([a, b]), a])
    return models.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(merged)))


@pytest.mark.parametrize("build", [sequential, functional])
def test_save_load_predicts_identically_and_training_continues(tmp_path, build):
    x, y = data()
    model = build()
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "model.scnn")
    model.save(path)
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.optimizer.learning_rate == pytest.approx(0.01)
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))   # same optimizer state, same steps


def test_a_failed_save_leaves_no_temporary_file(tmp_path):
    """The engine's write fails at the rename (the target is a folder): a clear error, the folder untouched and no
    temporary file left. (An interrupted save keeping the previous file is the kill -9 test in test_engine_formats.)"""
    model = sequential()
    target = tmp_path / "model.scnn"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        model.save(str(target))
    assert (target / "inside").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["model.scnn"]


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    model = sequential()
    path = tmp_path / "model.scnn"
    model.save(str(path))
    data_bytes = path.read_bytes()
    (tmp_path / "truncated.scnn").write_bytes(data_bytes[:len(data_bytes) // 2])
    flipped = bytearray(data_bytes)
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / "flipped.scnn").write_bytes(bytes(flipped))
    (tmp_path / "foreign.bin").write_bytes(b"hello world, not a model")
    for name, message in [("truncated.scnn", "corrupted or truncated"), ("flipped.scnn", "corrupted"),
                          ("foreign.bin", "not a swiftcnn file")]:
        with pytest.raises(ValueError, match=message):
            models.load_model(str(tmp_path / name))
    with pytest.raises(FileNotFoundError):
        models.load_model(str(tmp_path / "missing.scnn"))
    with pytest.raises(OSError):
        model.save(str(tmp_path / "no" / "such" / "folder.scnn"))


def test_weights_files_and_shape_checks(tmp_path):
    x, _ = data()
    model = sequential()
    model.save_weights(str(tmp_path / "w.scnn"))
    other = sequential()
    other.load_weights(str(tmp_path / "w.scnn"))
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    wrong = models.Sequential([layers.Conv2D(5, 3, input_shape=(8, 8, 1)), layers.Flatten(), layers.Dense(3)])
    before = wrong.get_weights()
    with pytest.raises(ValueError):
        wrong.load_weights(str(tmp_path / "w.scnn"))
    for a, b in zip(wrong.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_keras_weight_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    x, _ = data()
    model = functional()
    expected = [l for l in model.layers if l.get_weights()]
    # Keras 3 layout: layers/<name>/vars/<i>
    path = tmp_path / "keras3.weights.h5"
    with h5py.File(path, "w") as f:
        for layer in expected:
            group = f.create_group(f"layers/{layer.name}/vars")
            for i, w in enumerate(layer.get_weights()):
                group.create_dataset(str(i), data=w + 1)
    target = functional()
    target.load_weights(str(path))
    for a, b in zip(target.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b + 1)
    # Keras 2 legacy layout: attrs layer_names / weight_names
    legacy = tmp_path / "legacy.h5"
    with h5py.File(legacy, "w") as f:
        f.attrs["layer_names"] = [l.name.encode() for l in expected]
        for layer in expected:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/w{i}:0".encode() for i in range(len(layer.get_weights()))]
            g.attrs["weight_names"] = names
            for n, w in zip(names, layer.get_weights()):
                g.create_dataset(n.decode(), data=w * 2)
    target.load_weights(str(legacy))
    for a, b in zip(target.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b * 2)
    # our own .h5 writer round-trips
    model.save_weights(str(tmp_path / "ours.weights.h5"))
    target.load_weights(str(tmp_path / "ours.weights.h5"))
    np.testing.assert_array_equal(target.predict(x), model.predict(x))


def test_checkpoint_and_early_stopping_restore(tmp_path):
    x, y = data()
    model = sequential()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    best = str(tmp_path / "best.scnn")
    model.fit(x, y, epochs=3, validation_data=(x, y), verbose=0,
              callbacks=[callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True),
                         callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}.scnn"))])
    assert os.path.exists(best) and sorted(f for f in os.listdir(tmp_path) if f.startswith("epoch")) == \
        ["epoch1.scnn", "epoch2.scnn", "epoch3.scnn"]
    models.load_model(best).evaluate(x, y, verbose=0)

    class Worse(callbacks.Callback):
        """Makes every epoch after the first look worse, so EarlyStopping stops and restores epoch 1."""
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = 1.0 + epoch
            if epoch == 0:
                self.first = self.model.get_weights()
    worse = Worse()
    model.fit(x, y, epochs=5, validation_data=(x, y), verbose=0,
              callbacks=[worse, callbacks.EarlyStopping(patience=1, restore_best_weights=True)])
    for a, b in zip(model.get_weights(), worse.first):
        np.testing.assert_array_equal(a, b)


def test_clone_model_has_fresh_weights():
    model = functional()
    clone = models.clone_model(model)
    assert clone.count_params() == model.count_params()
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_weights_saved_by_keras_give_kerass_predictions():
    """Fixtures written by Keras 3 (python/tests/data/make_keras_fixture.py): the textbook convnet."""
    pytest.importorskip("h5py")
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    expected = np.load(os.path.join(here, "keras_convnet_predictions.npz"))
    for name in ["keras_convnet.weights.h5", "keras_convnet_legacy.h5"]:
        model = models.Sequential([
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
            layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
        model.load_weights(os.path.join(here, name))
        np.testing.assert_allclose(model.predict(expected["x"]), expected["predictions"], atol=1e-5, err_msg=name)


def test_weights_files_are_shared_with_the_swift_engine(tmp_path):
    """The engine (Swift / C ABI) reads its own files (version 2) and the Python package's (version 1)."""
    x, _ = data()
    model, other = sequential(), sequential()
    engine_file, python_file = str(tmp_path / "engine.scnn"), str(tmp_path / "python.scnn")
    model.graph.engine.save_weights(engine_file)
    other.graph.engine.load_weights(engine_file)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    third = sequential()
    model.save_weights(python_file)
    third.graph.engine.load_weights(python_file)
    np.testing.assert_array_equal(third.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="different architecture"):
        models.Sequential([layers.Dense(2, input_shape=(3,))]).graph.engine.load_weights(engine_file)
    with pytest.raises(OSError):
        model.graph.engine.load_weights(str(tmp_path / "missing.scnn"))
