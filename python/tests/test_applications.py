"""Published architectures: parameter counts equal the references; the VGG16 transfer-learning chapter works."""
import numpy as np
import pytest

from swiftcnn import applications, layers, models, optimizers


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
