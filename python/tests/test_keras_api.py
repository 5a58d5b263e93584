"""The API as a Keras user drives it."""
import warnings

import numpy as np
import pytest

import swiftcnn
from swiftcnn import callbacks, layers, models, optimizers, utils
from conftest import small_images


def chapter5_convnet():
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def small_model():
    return models.Sequential([
        layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),
    ])


def test_chapter5_summary_and_shapes():
    model = chapter5_convnet()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 93,322" in text
    assert "Trainable params: 93,322" in text
    assert "Receptive field" in text
    assert model.count_params() == 93322
    assert [l.output_shape for l in model.layers[:3]] == [(None, 26, 26, 32), (None, 13, 13, 32), (None, 11, 11, 64)]
    assert model.layers[0].get_weights()[0].shape == (3, 3, 1, 32)
    assert model.layers[-1].get_weights()[0].shape == (64, 10)
    names = [l.name for l in model.layers]
    assert len(set(names)) == len(names)
    assert model.get_layer(names[2]) is model.layers[2]
    assert model.get_layer(index=-1) is model.layers[-1]


def test_receptive_field_column_values():
    model = chapter5_convnet()
    lines = []
    model.summary(print_fn=lines.append)
    rows = [l for l in lines if "(Conv2D)" in l or "(MaxPooling2D)" in l]
    assert [r.split()[-1] for r in rows] == ["3", "4", "8", "10", "18"]


def test_fit_evaluate_predict_like_keras():
    x, y = small_images(200)
    model = small_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=20, epochs=6, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == list(range(6))
    assert history.history["loss"][-1] < history.history["loss"][0]
    tx, ty = small_images(100, seed=1)
    loss, acc = model.evaluate(tx, ty, verbose=0)
    assert acc > 0.95
    p = model.predict(tx)
    assert p.shape == (100, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    assert np.mean(p.argmax(1) == ty) == pytest.approx(acc)


def test_categorical_labels_and_keras2_spellings():
    x, y = small_images(64)
    model = small_model()
    with pytest.warns(DeprecationWarning):
        opt = optimizers.RMSprop(lr=0.01)
    assert opt.learning_rate == pytest.approx(0.01)
    with pytest.warns(DeprecationWarning):
        model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["acc"])
    history = model.fit(x, utils.to_categorical(y), epochs=2, batch_size=16,
                        validation_data=(x, utils.to_categorical(y)), verbose=0)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert isinstance(model.evaluate(x, utils.to_categorical(y), verbose=0), list)


def test_binary_and_mse_losses_accept_flat_targets():
    x, y = small_images(64)
    model = models.Sequential([layers.Flatten(input_shape=(8, 8, 1)), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.compile("sgd", "mse")
    loss = model.evaluate(x, y.astype(float), verbose=0)
    assert isinstance(loss, float)


def test_train_test_predict_on_batch():
    x, y = small_images(32)
    model = small_model()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert len(model.test_on_batch(x, y)) == 2
    assert model.predict_on_batch(x).shape == (32, 2)


def test_get_set_weights_roundtrip_and_trainable():
    x, y = small_images(64)
    model = small_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 3, 1, 4), (4,), (36, 2), (2,)]
    new = [np.full_like(w, 0.01 * i) for i, w in enumerate(weights)]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    model.layers[0].trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 40" in "\n".join(lines)
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], new[0])
    assert not np.array_equal(model.layers[3].get_weights()[0], new[2])


def test_lazy_build_from_data():
    x, y = small_images(32)
    model = models.Sequential([layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError):
        model.count_params()
    model.fit(x, y, epochs=1, verbose=0)
    assert model.count_params() == 64 * 2 + 2
    assert models.Sequential([layers.Input(shape=(8, 8, 1)), layers.Flatten()]).output_shape == (None, 64)


def test_functional_api_with_branches():
    inputs = layers.Input(shape=(8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(4, 1, padding="same")(inputs)
    s = layers.Add()([a, b])
    c = layers.Concatenate()([s, a])
    out = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(layers.BatchNormalization()(c)))
    model = models.Model(inputs, out)
    assert c.shape == (None, 8, 8, 8)
    assert model.output_shape == (None, 2)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Connected to" in lines[2]
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 3))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.arange(16) % 2, epochs=2, verbose=0)
    activations = models.Model(inputs, [a, b, c]).predict(x[:2])
    assert [t.shape for t in activations] == [(2, 8, 8, 4), (2, 8, 8, 4), (2, 8, 8, 8)]


def test_callbacks(tmp_path):
    x, y = small_images(64)
    model = small_model()
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []
    csv_path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, validation_data=(x, y), callbacks=[
        callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"]))),
        callbacks.CSVLogger(str(csv_path)),
        callbacks.LearningRateScheduler(lambda epoch, lr: 0.05),
        callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0),
    ])
    assert len(seen) == len(history.epoch) == 2   # min_delta so large that epoch 2 never improves
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    assert csv_path.read_text().splitlines()[0].startswith("epoch,")

    class Stopper(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[Stopper()])
    assert len(history.epoch) == 1


def test_terminate_on_nan():
    x, y = small_images(64)
    model = models.Sequential([layers.Flatten(input_shape=(8, 8, 1)), layers.Dense(1)])
    model.compile(optimizers.SGD(learning_rate=1e6), "mse")
    history = model.fit(x, y * 1e6, epochs=5, batch_size=8, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.epoch) <= 1


def test_progress_bar_output(capsys):
    x, y = small_images(64)
    model = small_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "4/4 [==============================]" in out and "accuracy:" in out and "/step" in out
    model.fit(x, y, epochs=1, batch_size=16, verbose=2)
    assert "loss:" in capsys.readouterr().out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_to_categorical_and_threads():
    np.testing.assert_array_equal(utils.to_categorical([0, 2], num_classes=3), [[1, 0, 0], [0, 0, 1]])
    assert utils.to_categorical(np.array([1, 0])).dtype == np.float32
    before = swiftcnn.get_num_threads()
    swiftcnn.set_num_threads(1)
    assert swiftcnn.get_num_threads() == 1
    swiftcnn.set_num_threads(before)
    assert swiftcnn.__version__ == "0.1.0"


def test_same_seed_same_training():
    x, y = small_images(64)

    def run():
        utils.set_random_seed(7)
        model = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.Flatten(),
                                   layers.Dropout(0.3), layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return model.get_weights()

    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    utils.set_random_seed(8)
    other = models.Sequential([layers.Conv2D(4, 3, input_shape=(8, 8, 1))]).get_weights()
    assert not np.array_equal(other[0], first[0])


def test_same_seed_same_training_on_two_threads_with_many_chunks():
    # Layers big enough that every pass is cut into several chunks shared by two threads (a Winograd layer and an
    # im2col one): the weight gradients' per-thread sums must be grouped the same way in every run.
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(64, 20, 20, 32)).astype(np.float32)
    y = rng.integers(0, 2, size=64)
    before = swiftcnn.get_num_threads()
    swiftcnn.set_num_threads(2)
    try:
        def run():
            utils.set_random_seed(11)
            model = models.Sequential([layers.Input((20, 20, 32)), layers.Conv2D(32, 3, activation="relu"),
                                       layers.Conv2D(8, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                                       layers.Flatten(), layers.Dense(2, activation="softmax")])
            model.compile("rmsprop", "sparse_categorical_crossentropy")
            model.fit(x, y, epochs=2, batch_size=32, verbose=0)
            return model.get_weights()

        runs = [run() for _ in range(4)]
    finally:
        swiftcnn.set_num_threads(before)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_prediction_follows_every_change_of_a_winograd_kernel(tmp_path):
    # Inference keeps a Winograd layer's transformed kernel between calls while the kernel is unchanged: every way
    # of changing the weights (set_weights, a training step, loading a file) must show in the next prediction,
    # exactly as a model that never predicted before computes it.
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(4, 10, 10, 16)).astype(np.float32)
    y = rng.integers(0, 2, size=4)

    def build():
        model = models.Sequential([layers.Input((10, 10, 16)), layers.Conv2D(16, 3, padding="same", activation="relu"),
                                   layers.Flatten(), layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy")
        return model

    def fresh_prediction(weights):
        reference = build()
        reference.set_weights(weights)
        return reference.predict(x, verbose=0)

    model = build()
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), first)
    weights = model.get_weights()
    weights[0] = weights[0][::-1].copy()
    model.set_weights(weights)
    changed = model.predict(x, verbose=0)
    assert not np.allclose(changed, first)
    np.testing.assert_array_equal(changed, fresh_prediction(weights))
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(model.predict(x, verbose=0), fresh_prediction(model.get_weights()))
    path = str(tmp_path / "w.weights.h5")
    build().save_weights(path)
    model.load_weights(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), fresh_prediction(model.get_weights()))


def test_nested_model_frozen_base_and_fine_tuning():
    """The VGG16-chapter pattern: a built conv base inside a Sequential, frozen, then partly unfrozen."""
    base = models.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(12, 12, 3)), layers.MaxPooling2D(),
                              layers.Conv2D(8, 3, activation="relu", name="top_conv")], name="conv_base")
    model = models.Sequential([base, layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    assert [l.name for l in model.layers] == ["conv_base", model.layers[1].name, model.layers[2].name]
    assert model.count_params() == base.count_params() + 3 * 3 * 8 + 1
    base.trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Non-trainable params: {base.count_params():,}" in "\n".join(lines)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(32, 12, 12, 3)), np.arange(32) % 2
    frozen, head = base.get_weights(), model.layers[-1].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[-1].get_weights()[0], head[0])
    # base and model share weights: the base alone predicts what the model's inner layer computes
    np.testing.assert_allclose(base.predict(x[:4]), models.Model(model.input, base.layers[-1].output).predict(x[:4]), rtol=1e-6)
    base.trainable = True
    base.layers[0].trainable = False
    model.compile(optimizers.RMSprop(learning_rate=1e-5), "binary_crossentropy")
    first, top = base.layers[0].get_weights(), base.get_layer("top_conv").get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(base.layers[0].get_weights()[0], first[0])
    assert not np.array_equal(base.get_layer("top_conv").get_weights()[0], top[0])


def test_model_called_on_a_tensor():
    inner_in = layers.Input(shape=(6, 6, 2))
    inner = models.Model(inner_in, layers.Conv2D(4, 3, padding="same", activation="relu")(inner_in), name="block")
    inputs = layers.Input(shape=(6, 6, 2))
    x = inner(inputs)
    assert x.shape == (None, 6, 6, 4)
    outputs = layers.Dense(3, activation="softmax")(layers.Flatten()(x))
    model = models.Model(inputs, outputs)
    assert model.layers[1] is inner
    assert model.predict(np.zeros((2, 6, 6, 2))).shape == (2, 3)


def test_functional_model_with_two_inputs_and_two_outputs():
    image = layers.Input(shape=(8, 8, 1), name="image")
    meta = layers.Input(shape=(4,), name="meta")
    features = layers.Flatten()(layers.Conv2D(2, 3, activation="relu")(image))
    joined = layers.Concatenate()([features, layers.Dense(4, activation="relu")(meta)])
    out = layers.Dense(3, activation="softmax")(joined)
    model = models.Model([image, meta], out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    xa, xb, y = rng.uniform(size=(30, 8, 8, 1)), rng.uniform(size=(30, 4)), np.arange(30) % 3
    history = model.fit([xa, xb], y, epochs=3, batch_size=8, verbose=0, validation_split=0.2)
    assert len(history.history["val_loss"]) == 3
    np.testing.assert_array_equal(model.predict([xa, xb]), model.predict({"image": xa, "meta": xb}))
    assert len(model.evaluate([xa, xb], y, verbose=0)) == 2
    with pytest.raises(ValueError, match="2 inputs"):
        model.fit(xa, y, verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.predict([xa, xb[:5]])
    both = models.Model([image, meta], [out, joined])
    p, j = both.predict([xa, xb])
    assert p.shape == (30, 3) and j.shape == (30, 6 * 6 * 2 + 4)
