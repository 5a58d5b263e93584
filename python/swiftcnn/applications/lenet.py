"""LeNet-5."""
from .. import layers
from .common import check_args, finish, model_input

__all__ = ["LeNet5"]


def LeNet5(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
           classifier_activation="softmax"):
    """LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998) as the textbooks
    build it: 32×32×1 input, 6 and 16 5×5 tanh convolutions with average pooling, dense 120 and 84; 61,706
    parameters with 10 classes."""
    shape = check_args("LeNet5", weights, input_tensor, input_shape, (32, 32, 1), include_top, pooling,
                       classes)
    inputs, start = model_input(input_tensor, shape)
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(start)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation="tanh", name="c5")(x)
        x = layers.Dense(84, activation="tanh", name="f6")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
        return finish("LeNet5", x, inputs, "lenet5", False, None, classes, None, weights)
    return finish("LeNet5", x, inputs, "lenet5", False, pooling, classes, None, weights)
