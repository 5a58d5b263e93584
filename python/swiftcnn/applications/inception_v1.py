"""GoogLeNet / Inception v1."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["InceptionV1", "GoogLeNet"]


def _inception(x, c1, c3r, c3, c5r, c5, pool_proj, name):
    branch1 = layers.Conv2D(c1, 1, activation="relu", name=name + "_1x1")(x)
    branch2 = layers.Conv2D(c3r, 1, activation="relu", name=name + "_3x3_reduce")(x)
    branch2 = layers.Conv2D(c3, 3, padding="same", activation="relu", name=name + "_3x3")(branch2)
    branch3 = layers.Conv2D(c5r, 1, activation="relu", name=name + "_5x5_reduce")(x)
    branch3 = layers.Conv2D(c5, 5, padding="same", activation="relu", name=name + "_5x5")(branch3)
    branch4 = layers.MaxPooling2D(3, strides=1, padding="same", name=name + "_pool")(x)
    branch4 = layers.Conv2D(pool_proj, 1, activation="relu", name=name + "_pool_proj")(branch4)
    return layers.Concatenate(name=name + "_output")([branch1, branch2, branch3, branch4])


def InceptionV1(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax"):
    """GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", 2014, table 1): the main
    classifier path with 1×1 bottlenecks, without the two auxiliary classifiers and without local response
    normalisation (which Keras does not have); 6,998,552 parameters."""
    shape = check_args("InceptionV1", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name="conv1_7x7_s2")(start)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    x = layers.Conv2D(64, 1, activation="relu", name="conv2_3x3_reduce")(x)
    x = layers.Conv2D(192, 3, padding="same", activation="relu", name="conv2_3x3")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    x = _inception(x, 64, 96, 128, 16, 32, 32, "inception_3a")
    x = _inception(x, 128, 128, 192, 32, 96, 64, "inception_3b")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3_3x3_s2")(x)
    for name, cfg in [("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
                      ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
                      ("4e", (256, 160, 320, 32, 128, 128))]:
        x = _inception(x, *cfg, "inception_" + name)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool4_3x3_s2")(x)
    x = _inception(x, 256, 160, 320, 32, 128, 128, "inception_5a")
    x = _inception(x, 384, 192, 384, 48, 128, 128, "inception_5b")
    return finish("InceptionV1", x, inputs, "inception_v1", include_top, pooling, classes,
                  classifier_activation, weights,
                   dropout=0.4)


GoogLeNet = InceptionV1
