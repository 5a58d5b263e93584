"""The textbook convnet on real data: 20,000 Fashion-MNIST training images, 3 epochs, test accuracy >= 0.825
(Keras 3 reaches 0.838-0.848 with this recipe here over three seeds, swiftcnn 0.834-0.858 over six; after 2 epochs
both still swing by 2 points from seed to seed, which made a fixed seed's pass or fail depend on float roundings)."""
import numpy as np
import pytest

from swiftcnn import datasets, layers, models, utils
from conftest import fashion_mnist_or_skip


def test_idx_reader_shapes_and_dtypes():
    (x, y), (xt, yt) = fashion_mnist_or_skip()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and set(np.unique(y)) == set(range(10))
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SWIFTCNN_DATA", str(tmp_path))
    import swiftcnn.datasets._mnist_format as fmt
    monkeypatch.setattr(fmt, "DEBIAN_FASHION_MNIST", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="(?s)(never downloads.*SWIFTCNN_DATA|SWIFTCNN_DATA.*never downloads)"):
        datasets.mnist.load_data(path=str(tmp_path))


def test_corrupt_idx_file(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x1c\x00\x00\x00\x1c" + b"\x00" * 100)
    with pytest.raises(OSError, match="truncated"):
        datasets.idx.load(bad)
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(OSError, match="magic"):
        datasets.idx.load(tmp_path / "junk")


def test_textbook_convnet_reaches_keras_accuracy():
    (x, y), (xt, yt) = fashion_mnist_or_skip()
    utils.set_random_seed(1)
    x = x[:20000].reshape(-1, 28, 28, 1).astype("float32") / 255
    xt = xt.reshape(-1, 28, 28, 1).astype("float32") / 255
    model = models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, utils.to_categorical(y[:20000]), epochs=3, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(xt, utils.to_categorical(yt), verbose=0)
    assert accuracy >= 0.825
