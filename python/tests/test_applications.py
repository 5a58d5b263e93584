"""Published architectures: parameter counts equal the references; the VGG16 transfer-learning chapter works;
Keras's module paths, input_tensor=, and weights='imagenet' from the Keras cache folder."""
import hashlib

import numpy as np
import pytest

from swiftcnn import applications, layers, models, optimizers
from swiftcnn.applications import densenet, imagenet_weights, resnet50, vgg16
from swiftcnn.optimizers import adam_v2, gradient_descent_v2, rmsprop_v2


@pytest.mark.parametrize("build,kwargs,expected", [
    (applications.VGG16, {}, 138_357_544),
    (applications.VGG16, {"include_top": False}, 14_714_688),
    (applications.ResNet50, {}, 25_636_712),
    (applications.DenseNet121, {}, 8_062_504),
    (applications.SqueezeNet, {}, 1_235_496),
    (applications.InceptionV1, {}, 6_998_552),
    (applications.LeNet5, {}, 61_706),
])
def test_parameter_counts(build, kwargs, expected):
    assert build(**kwargs).count_params() == expected


def test_resnet18_counts_like_torchvision():
    model = applications.ResNet18()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Trainable params: 11,689,512" in text and "Non-trainable params: 9,600" in text


def test_options_and_errors(tmp_path):
    m = applications.ResNet50(include_top=False, input_shape=(64, 64, 3), pooling="avg")
    assert m.output_shape == (None, 2048)
    m = applications.DenseNet121(include_top=False, input_shape=(64, 64, 3), pooling="max")
    assert m.output_shape == (None, 1024)
    m = applications.InceptionV1(input_shape=(96, 96, 3), classes=7, classifier_activation=None)
    assert m.output_shape == (None, 7)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        applications.VGG16(weights="imagenet")
    with pytest.raises(FileNotFoundError):
        applications.VGG16(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="pooling"):
        applications.VGG16(include_top=False, pooling="median")
    small = applications.LeNet5()
    small.save_weights(str(tmp_path / "lenet.weights.h5"))
    again = applications.LeNet5(weights=str(tmp_path / "lenet.weights.h5"))
    for a, b in zip(again.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_vgg16_chapter_frozen_base_then_fine_tuning():
    conv_base = applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = models.Sequential()
    model.add(conv_base)
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation="sigmoid"))
    conv_base.trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 14,714,688" in "\n".join(lines)
    model.compile(optimizer=optimizers.RMSprop(learning_rate=2e-5), loss="binary_crossentropy", metrics=["acc"])
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(16, 32, 32, 3)), np.arange(16) % 2
    base_before, head_before = conv_base.get_weights(), model.layers[-1].get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(conv_base.get_weights(), base_before):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[-1].get_weights()[0], head_before[0])
    # Fine-tune block5 only.
    conv_base.trainable = True
    for layer in conv_base.layers:
        layer.trainable = layer.name.startswith("block5")
    model.compile(optimizer=optimizers.RMSprop(learning_rate=1e-5), loss="binary_crossentropy", metrics=["acc"])
    b4, b5 = conv_base.get_layer("block4_conv1").get_weights(), conv_base.get_layer("block5_conv1").get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(conv_base.get_layer("block4_conv1").get_weights()[0], b4[0])
    assert not np.array_equal(conv_base.get_layer("block5_conv1").get_weights()[0], b5[0])
    features = conv_base.predict(x)     # feature extraction on the base
    assert features.shape == (16, 1, 1, 512)


def test_resnet_style_graph_trains():
    model = applications.ResNet18(input_shape=(32, 32, 3), classes=3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    x, y = rng.uniform(size=(12, 32, 32, 3)), np.arange(12) % 3
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    bn = model.get_layer("conv1_bn").get_weights()
    assert not np.allclose(bn[2], 0)   # moving mean updated in training


def test_keras_module_paths_and_input_tensor():
    assert vgg16.VGG16 is applications.VGG16 and resnet50.ResNet50 is applications.resnet.ResNet50
    assert densenet.DenseNet121 is applications.DenseNet121
    inputs = layers.Input((32, 32, 3))
    scaled = layers.Rescaling(1 / 255.0)(inputs)
    base = applications.vgg16.VGG16(include_top=False, input_tensor=scaled, pooling="avg")
    assert base.inputs[0] is inputs and base.output_shape == (None, 512)
    assert base.layers[1].name.startswith("rescaling")
    with pytest.raises(ValueError, match="does not match"):
        applications.VGG16(include_top=False, input_tensor=inputs, input_shape=(64, 64, 3))


def test_textbook_optimizer_paths_warn_and_make_the_same_optimizer():
    with pytest.warns(DeprecationWarning, match="tf.keras 2.x module path"):
        adam = adam_v2.Adam(lr=0.001)
    assert type(adam) is optimizers.Adam and adam.learning_rate == pytest.approx(0.001)
    with pytest.warns(DeprecationWarning):
        assert type(rmsprop_v2.RMSprop(learning_rate=1e-4)) is optimizers.RMSprop
    with pytest.warns(DeprecationWarning):
        assert gradient_descent_v2.SGD(0.1, momentum=0.9).momentum == pytest.approx(0.9)
    assert optimizers.legacy.Adam is optimizers.Adam


def test_imagenet_weights_come_from_the_keras_cache_folder(tmp_path, monkeypatch):
    """A fake $KERAS_HOME/models holding a file under Keras's published name, whose hash the test controls."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    name = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(FileNotFoundError) as info:
        applications.VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    assert name in str(info.value) and str(tmp_path / "keras_home" / "models") in str(info.value)
    source = applications.VGG16(include_top=False, input_shape=(32, 32, 3))
    folder = tmp_path / "keras_home" / "models"
    folder.mkdir(parents=True)
    source.save_weights(str(folder / name))
    digest = hashlib.md5((folder / name).read_bytes()).hexdigest()
    published = dict(imagenet_weights.PUBLISHED)
    published["VGG16"] = (published["VGG16"][0], (name, digest))
    monkeypatch.setattr(imagenet_weights, "PUBLISHED", published)
    loaded = applications.VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    for a, b in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    published["VGG16"] = (published["VGG16"][0], (name, "0" * 32))
    with pytest.raises(ValueError, match="hash"):
        applications.VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="classes must be 1000"):
        applications.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="publishes no ImageNet weights"):
        applications.LeNet5(weights="imagenet")
