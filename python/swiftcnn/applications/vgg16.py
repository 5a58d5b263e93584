"""VGG16 (`keras.applications.vgg16`)."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["VGG16"]


def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax"):
    """VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014), as
    keras.applications builds it: 138,357,544 parameters, 14,714,688 without the top."""
    shape = check_args("VGG16", weights, input_tensor, input_shape, (224, 224, 3), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = start
    for block, (filters, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
    return finish("VGG16", x, inputs, "vgg16", include_top, pooling, classes, classifier_activation, weights)
