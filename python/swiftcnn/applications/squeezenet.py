"""SqueezeNet 1.1."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["SqueezeNet"]


def _fire(x, squeeze, expand, name):
    s = layers.Conv2D(squeeze, 1, activation="relu", name=name + "_squeeze1x1")(x)
    e1 = layers.Conv2D(expand, 1, activation="relu", name=name + "_expand1x1")(s)
    e3 = layers.Conv2D(expand, 3, padding="same", activation="relu", name=name + "_expand3x3")(s)
    return layers.Concatenate(name=name + "_concat")([e1, e3])


def SqueezeNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax"):
    """SqueezeNet 1.1 (Iandola et al. 2016; the v1.1 layout of the reference implementation): 1,235,496
    parameters. The classifier is a 1×1 convolution to `classes` channels, ReLU, and global average pooling."""
    shape = check_args("SqueezeNet", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = layers.Conv2D(64, 3, strides=2, activation="relu", name="conv1")(start)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = _fire(x, 16, 64, "fire2")
    x = _fire(x, 16, 64, "fire3")
    x = layers.MaxPooling2D(3, strides=2, name="pool3")(x)
    x = _fire(x, 32, 128, "fire4")
    x = _fire(x, 32, 128, "fire5")
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    for name, s, e in [("fire6", 48, 192), ("fire7", 48, 192), ("fire8", 64, 256), ("fire9", 64, 256)]:
        x = _fire(x, s, e, name)
    if include_top:
        x = layers.Dropout(0.5, name="drop9")(x)
        x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Activation(classifier_activation or "linear", name="predictions")(x)
        return finish("SqueezeNet", x, inputs, "squeezenet", False, None, classes, None, weights)
    return finish("SqueezeNet", x, inputs, "squeezenet", False, pooling, classes, None, weights)
