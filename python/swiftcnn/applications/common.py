"""What every application shares: Keras's arguments (`include_top`, `weights`, `input_tensor`, `input_shape`,
`pooling`, `classes`, `classifier_activation`), the classifier head, and loading weights."""
import os

from .. import layers
from ..functional import trace
from ..models import Model
from .imagenet_weights import PUBLISHED, find_published_weights

__all__ = ["check_args", "model_input", "finish"]


def check_args(name, weights, input_tensor, input_shape, default_shape, include_top, pooling, classes):
    """The per-sample input shape, after checking the arguments as Keras does."""
    if weights == "imagenet":
        if name not in PUBLISHED:
            raise ValueError(f"{name}(weights='imagenet'): Keras publishes no ImageNet weights for {name}; pass "
                             "weights=None or the path of a weights file")
        if include_top and classes != 1000:
            raise ValueError(f"{name}: with weights='imagenet' and include_top=True, classes must be 1000, "
                             f"received {classes!r}")
    elif weights is not None and not os.path.exists(os.fspath(weights)):
        raise FileNotFoundError(f"{name}: weights file {weights!r} does not exist (pass None, 'imagenet' or a local "
                                "file path)")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max', received {pooling!r}")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"{name}: classes must be a positive integer, received {classes!r}")
    if input_tensor is not None:
        if not isinstance(input_tensor, layers.KerasTensor):
            raise TypeError(f"{name}: input_tensor must be a tensor from layers.Input(...) or a layer, received "
                            f"{type(input_tensor).__name__}")
        if input_shape is not None and tuple(input_shape) != input_tensor.sample_shape:
            raise ValueError(f"{name}: input_shape {tuple(input_shape)} does not match input_tensor's shape "
                             f"{input_tensor.sample_shape}")
        return input_tensor.sample_shape
    return tuple(input_shape) if input_shape is not None else default_shape


def model_input(input_tensor, shape):
    """(the model's inputs, the tensor the network starts from): a new Input, or `input_tensor` with the inputs it
    comes from (as Keras's get_source_inputs)."""
    if input_tensor is None:
        tensor = layers.Input(shape=shape, name="input_layer")
        return tensor, tensor
    sources = [layer.output for layer, _ in trace([input_tensor]).order if layer.is_input]
    return (sources[0] if len(sources) == 1 else sources), input_tensor


def finish(name, x, inputs, model_name, include_top, pooling, classes, classifier_activation, weights, dropout=None):
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x) if len(x.shape) == 4 else x
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return load(Model(inputs, x, name=model_name), name, weights, include_top)


def load(model, name, weights, include_top):
    if weights == "imagenet":
        model.load_weights(find_published_weights(name, include_top))
    elif weights is not None:
        model.load_weights(weights)
    return model
