"""DenseNet-121 (`keras.applications.densenet`)."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["DenseNet121"]


def _dense_block(x, blocks, name):
    for i in range(1, blocks + 1):
        y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_block{i}_0_bn")(x)
        y = layers.Activation("relu", name=f"{name}_block{i}_0_relu")(y)
        y = layers.Conv2D(128, 1, use_bias=False, name=f"{name}_block{i}_1_conv")(y)
        y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_block{i}_1_bn")(y)
        y = layers.Activation("relu", name=f"{name}_block{i}_1_relu")(y)
        y = layers.Conv2D(32, 3, padding="same", use_bias=False, name=f"{name}_block{i}_2_conv")(y)
        x = layers.Concatenate(name=f"{name}_block{i}_concat")([x, y])
    return x


def _transition(x, name):
    x = layers.BatchNormalization(epsilon=1.001e-5, name=name + "_bn")(x)
    x = layers.Activation("relu", name=name + "_relu")(x)
    x = layers.Conv2D(x.shape[-1] // 2, 1, use_bias=False, name=name + "_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def DenseNet121(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax"):
    """DenseNet-121 (Huang et al., "Densely Connected Convolutional Networks", 2017), as keras.applications builds
    it: 8,062,504 parameters (moving statistics included)."""
    shape = check_args("DenseNet121", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = layers.ZeroPadding2D(3, name="zero_padding2d")(start)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="zero_padding2d_1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, blocks in enumerate([6, 12, 24, 16], start=2):
        x = _dense_block(x, blocks, f"conv{i}")
        if i < 5:
            x = _transition(x, f"pool{i}")
    x = layers.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    return finish("DenseNet121", x, inputs, "densenet121", include_top, pooling, classes,
                  classifier_activation, weights)
