"""Published architectures with Keras's arguments: `include_top`, `weights` (None or the path of a local weights
file saved by Keras or swiftcnn; nothing is downloaded), `input_shape`, `pooling` ('avg' | 'max' | None), `classes`,
`classifier_activation`."""
import os

from . import layers
from .models import Model, Sequential

__all__ = ["VGG16", "ResNet18", "ResNet50", "InceptionV1", "GoogLeNet", "DenseNet121", "SqueezeNet", "LeNet5"]


def _check_args(name, weights, input_shape, default_shape, include_top, pooling, classes):
    if weights == "imagenet":
        raise ValueError(f"{name}(weights='imagenet'): swiftcnn never downloads weights. Save the ImageNet weights "
                         f"once from Keras (`keras.applications.{name}(weights='imagenet').save_weights("
                         f"'{name.lower()}.weights.h5')`) and pass weights='/path/to/{name.lower()}.weights.h5'.")
    if weights is not None and not os.path.exists(os.fspath(weights)):
        raise FileNotFoundError(f"{name}: weights file {weights!r} does not exist (pass None or a local file path)")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max', received {pooling!r}")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"{name}: classes must be a positive integer, received {classes!r}")
    return tuple(input_shape) if input_shape is not None else default_shape


def _finish(x, inputs, name, include_top, pooling, classes, classifier_activation, weights, dropout=None):
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x) if len(x.shape) == 4 else x
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax"):
    """VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014), as
    keras.applications builds it: 138,357,544 parameters, 14,714,688 without the top."""
    shape = _check_args("VGG16", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = inputs
    for block, (filters, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
    return _finish(x, inputs, "vgg16", include_top, pooling, classes, classifier_activation, weights)


def _resnet_stem(inputs, bias):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, use_bias=bias, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=1.001e-5, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _bottleneck(x, filters, stride, shortcut_conv, name):
    """Keras's ResNet v1 block: 1×1 → 3×3 → 1×1 (×4) with a projection shortcut where shapes change."""
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
    25,636,712 parameters (BatchNormalization's moving statistics included, as Keras counts them)."""
    shape = _check_args("ResNet50", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = _resnet_stem(inputs, bias=True)
    for stage, (filters, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=2):
        for b in range(1, blocks + 1):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _bottleneck(x, filters, stride, b == 1, f"conv{stage}_block{b}")
    return _finish(x, inputs, "resnet50", include_top, pooling, classes, classifier_activation, weights)


def _basic_block(x, filters, stride, project, name):
    """torchvision's ResNet-18/34 block: two 3×3 convolutions without bias, each followed by BatchNormalization."""
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
    """ResNet-18 (He et al. 2015) with torchvision's layout: 11,689,512 trainable parameters as torchvision counts
    them, plus 9,600 BatchNormalization moving statistics (non-trainable)."""
    shape = _check_args("ResNet18", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = _resnet_stem(inputs, bias=False)
    for stage, filters in enumerate([64, 128, 256, 512], start=2):
        for b in range(1, 3):
            stride = 2 if (b == 1 and stage > 2) else 1
            x = _basic_block(x, filters, stride, b == 1 and stage > 2, f"conv{stage}_block{b}")
    return _finish(x, inputs, "resnet18", include_top, pooling, classes, classifier_activation, weights)


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
    shape = _check_args("DenseNet121", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = layers.ZeroPadding2D(3, name="zero_padding2d")(inputs)
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
    return _finish(x, inputs, "densenet121", include_top, pooling, classes, classifier_activation, weights)


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
    shape = _check_args("InceptionV1", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name="conv1_7x7_s2")(inputs)
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
    return _finish(x, inputs, "inception_v1", include_top, pooling, classes, classifier_activation, weights,
                   dropout=0.4)


GoogLeNet = InceptionV1


def _fire(x, squeeze, expand, name):
    s = layers.Conv2D(squeeze, 1, activation="relu", name=name + "_squeeze1x1")(x)
    e1 = layers.Conv2D(expand, 1, activation="relu", name=name + "_expand1x1")(s)
    e3 = layers.Conv2D(expand, 3, padding="same", activation="relu", name=name + "_expand3x3")(s)
    return layers.Concatenate(name=name + "_concat")([e1, e3])


def SqueezeNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax"):
    """SqueezeNet 1.1 (Iandola et al. 2016; the v1.1 layout of the reference implementation): 1,235,496
    parameters. The classifier is a 1×1 convolution to `classes` channels, ReLU, and global average pooling."""
    shape = _check_args("SqueezeNet", weights, input_shape, (224, 224, 3), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = layers.Conv2D(64, 3, strides=2, activation="relu", name="conv1")(inputs)
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
        return _finish(x, inputs, "squeezenet", False, None, classes, None, weights)
    return _finish(x, inputs, "squeezenet", False, pooling, classes, None, weights)


def LeNet5(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
           classifier_activation="softmax"):
    """LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998) as the textbooks
    build it: 32×32×1 input, 6 and 16 5×5 tanh convolutions with average pooling, dense 120 and 84; 61,706
    parameters with 10 classes."""
    shape = _check_args("LeNet5", weights, input_shape, (32, 32, 1), include_top, pooling, classes)
    inputs = layers.Input(shape=shape, name="input_layer")
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(inputs)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation="tanh", name="c5")(x)
        x = layers.Dense(84, activation="tanh", name="f6")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
        return _finish(x, inputs, "lenet5", False, None, classes, None, weights)
    return _finish(x, inputs, "lenet5", False, pooling, classes, None, weights)
