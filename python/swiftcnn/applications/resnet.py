"""ResNet-50 as keras.applications builds it (`keras.applications.resnet`), and ResNet-18 in torchvision"s layout."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["ResNet50", "ResNet18"]


def _resnet_stem(start, bias):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(start)
    x = layers.Conv2D(64, 7, strides=2, use_bias=bias, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _bottleneck(x, filters, stride, shortcut_conv, name):
    """Keras"s ResNet v1 block: 1×1 → 3×3 → 1×1 (×4) with a projection shortcut where shapes change."""
    if shortcut_conv:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=1.001e-5, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name=name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name=name + "_3_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def ResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax"):
    """ResNet-50 (He et al., "Deep Residual Learning for Image Recognition", 2015), as keras.applications builds it:
    25,636,712 parameters (BatchNormalization"s moving statistics included, as Keras counts them)."""
    shape = check_args("ResNet50", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = _resnet_stem(start, bias=True)
    for stage, (filters, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=2):
        for b in range(1, blocks + 1):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _bottleneck(x, filters, stride, b == 1, f"conv{stage}_block{b}")
    return finish("ResNet50", x, inputs, "resnet50", include_top, pooling, classes, classifier_activation, weights)


def _basic_block(x, filters, stride, project, name):
    """torchvision"s ResNet-18/34 block: two 3×3 convolutions without bias, each followed by BatchNormalization."""
    shortcut = x
    if project:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=1e-5, name=name + "_0_bn")(shortcut)
    if stride > 1:
        x = layers.ZeroPadding2D(1, name=name + "_1_pad")(x)
        x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=name + "_1_conv")(x)
    else:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name=name + "_2_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax"):
    """ResNet-18 (He et al. 2015) with torchvision"s layout: 11,689,512 trainable parameters as torchvision counts
    them, plus 9,600 BatchNormalization moving statistics (non-trainable)."""
    shape = check_args("ResNet18", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = _resnet_stem(start, bias=False)
    for stage, filters in enumerate([64, 128, 256, 512], start=2):
        for b in range(1, 3):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _basic_block(x, filters, stride, b == 1 and stage > 2, f"conv{stage}_block{b}")
    return finish("ResNet18", x, inputs, "resnet18", include_top, pooling, classes, classifier_activation, weights)
