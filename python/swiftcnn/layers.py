"""Keras layers. A layer holds its hyper-parameters; shape rules, weights and all computation live in the engine.
A layer's weights are in the engine graph of the model built around it (`functional.graph_of(layer)`)."""
import re

import numpy as np

from .functional import KerasTensor, graph_of, output_shape_of
from .serialization import register
from .utils import next_seed

__all__ = ["Layer", "Input", "InputLayer", "Conv2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D", "Flatten", "Dense",
           "Dropout", "Activation", "ReLU", "Softmax", "BatchNormalization", "Add", "Concatenate", "ZeroPadding2D",
           "Rescaling", "KerasTensor"]

_ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh")
_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "zeros", "ones")
_name_counts = {}


def _unique_name(base):
    """Keras-style automatic names: conv2d, conv2d_1, conv2d_2, …"""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("2_d", "2d")


def _pair(value, what, layer, minimum=1):
    """An int or a pair of ints (Keras accepts both for kernel_size, strides, …)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        a, b = value
        a, b = int(a), int(b)
        if (a, b) != tuple(value):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: the `{what}` argument must be an int or a tuple of 2 ints. Received: {what}={value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"{layer}: `{what}` values must be >= {minimum}. Received: {what}={value!r}")
    return a, b


def _activation(value, layer):
    if value is None:
        return "linear"
    if callable(value) and hasattr(value, "__name__"):
        value = value.__name__
    if not isinstance(value, str) or value.lower() not in _ACTIVATIONS:
        raise ValueError(f"{layer}: unknown activation {value!r}. Valid activations: {', '.join(_ACTIVATIONS)}")
    return value.lower()


def _initializer(value, what, layer):
    if not isinstance(value, str) or value.lower() not in _INITIALIZERS:
        raise ValueError(f"{layer}: unknown {what} {value!r}. Valid initializers: {', '.join(_INITIALIZERS)}")
    return value.lower()


def _padding(value, layer):
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: the `padding` argument must be 'valid' or 'same'. Received: padding={value!r}")
    return value.lower()


def _shape_tuple(shape, what="shape"):
    """A per-sample shape of positive integers (an int or a sequence of ints; 2.7 is refused, not truncated)."""
    items = shape if isinstance(shape, (list, tuple)) else (shape,)
    dims = []
    for d in items:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            if isinstance(d, (float, np.floating)) and float(d).is_integer():
                d = int(d)
            else:
                raise ValueError(f"Input {what} must be positive integers (the batch size excluded). "
                                 f"Received: {what}={shape!r}")
        dims.append(int(d))
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"Input {what} must be positive integers (the batch size excluded). Received: {what}={shape!r}")
    return tuple(dims)


class Layer:
    """Base class. Subclasses set `engine_type` (the engine's layer type) and implement `_engine_config()` (the
    hyper-parameters the engine reads) and `get_config()`."""

    engine_type = None
    is_input = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    def __init__(self, name=None, trainable=True, input_shape=None, batch_input_shape=None, dtype=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: {sorted(kwargs)}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"A layer name must be a non-empty string, received {name!r}")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"{type(self).__name__}: only dtype='float32' is supported, received {dtype!r}")
        self.name = name or _unique_name(_snake(type(self).__name__))
        self._trainable = bool(trainable)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self.input_shape_arg = _shape_tuple(input_shape, "input_shape") if input_shape is not None else None
        self._inbound = []            # KerasTensors this layer was called on (functional API)
        self.output = None            # the KerasTensor of its (last) call

    # --- functional API ---
    def __call__(self, inputs):
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        for t in items:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Layer '{self.name}' ({type(self).__name__}) was called on {type(t).__name__}; "
                                "in the functional API, call layers on tensors from `layers.Input(...)` or other layers.")
        # The engine's shape rule checks the input shapes now, as Keras does, with the engine's error message.
        out = KerasTensor(self, items, output_shape_of(self, [t.sample_shape for t in items]))
        self.record_call(items, out)
        return out

    def record_call(self, inputs, output):
        """Remembers the layer's latest application: `input` / `output` then refer to these tensors."""
        self._inbound = list(inputs)
        self.output = output

    @property
    def input(self):
        if not self._inbound:
            raise AttributeError(f"Layer '{self.name}' has no defined input (it is not connected yet).")
        return self._inbound[0] if len(self._inbound) == 1 else list(self._inbound)

    @property
    def inbound(self):
        """The tensors of the layer's (last) call."""
        return list(self._inbound)

    # --- what the engine reads ---
    def _engine_config(self):
        return {}

    def engine_config_string(self):
        """The hyper-parameters as the engine's `key=value;…` configuration."""
        return ";".join(f"{k}={v}" for k, v in self._engine_config().items())

    @property
    def built(self):
        return graph_of(self) is not None

    def _graph(self, what):
        graph = graph_of(self)
        if graph is None:
            raise ValueError(f"You called {what} on layer '{self.name}', but the layer isn't built. "
                             "Build the model first (give it an input shape, or call it on data).")
        return graph

    @property
    def output_shape(self):
        if self.output is None:
            self._graph("output_shape")
            raise AttributeError(f"Layer '{self.name}' has no output yet.")
        return self.output.shape

    @property
    def input_shape(self):
        if not self._inbound:
            self._graph("input_shape")
            raise AttributeError(f"Layer '{self.name}' has no input yet.")
        shapes = [t.shape for t in self._inbound]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        graph = graph_of(self)
        if graph is not None:
            graph.set_trainable(self, self._trainable)

    @property
    def weights(self):
        return self.get_weights()

    def get_weights(self):
        """The layer's weights as NumPy arrays in Keras layouts (empty before the layer is built)."""
        graph = graph_of(self)
        return [] if graph is None else graph.get_weights(self)

    def set_weights(self, weights):
        """Sets the weights from NumPy arrays of the Keras shapes; nothing changes if any array is wrong."""
        self._graph("set_weights").set_weights(self, self.checked_weights(weights))

    def checked_weights(self, weights):
        """`weights` as float32 arrays after checking their number, shapes and values against this layer (the one
        Python check; `set_weights` of a layer or a whole model writes only after every array passed it)."""
        shapes = self._graph("set_weights").param_shapes(self)
        weights = list(weights)
        if len(weights) != len(shapes):
            raise ValueError(f"Layer {self.name} weight shape mismatch: you called `set_weights(weights)` on layer "
                             f"'{self.name}' with a weight list of length {len(weights)}, but the layer was expecting "
                             f"{len(shapes)} weights.")
        arrays = []
        for i, (w, shape) in enumerate(zip(weights, shapes)):
            a = np.asarray(w, dtype=np.float32)
            if a.shape != tuple(shape):
                raise ValueError(f"Layer '{self.name}' weight shape mismatch for weight {i}: expected {tuple(shape)}, "
                                 f"received {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"Layer '{self.name}': weight {i} contains NaN or infinite values")
            arrays.append(a)
        return arrays

    def count_params(self):
        graph = self._graph("count_params")
        return int(sum(int(np.prod(s)) for s in graph.param_shapes(self)))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        trainable = config.pop("trainable", True)
        layer = cls(**config)
        layer.trainable = trainable
        return layer

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """The input of a model: a per-sample shape (batch dimension excluded)."""

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer needs a `shape`, e.g. shape=(28, 28, 1)")
        super().__init__(name=name or _unique_name("input_layer"), **kwargs)
        self.shape = _shape_tuple(shape)
        self.output = KerasTensor(self, (), self.shape)

    is_input = True

    def get_config(self):
        return {"name": self.name, "shape": self.shape}


def Input(shape=None, batch_size=None, name=None, dtype=None, **kwargs):
    """A symbolic input tensor for the functional API, e.g. `inputs = Input(shape=(28, 28, 1))`."""
    if shape is None and "batch_shape" in kwargs:
        shape = tuple(kwargs.pop("batch_shape"))[1:]
    return InputLayer(shape=shape, name=name, dtype=dtype, **kwargs).output


class Conv2D(Layer):
    """2-D convolution over NHWC images; kernel (kh, kw, in, filters), bias (filters,)."""
    engine_type = "Conv2D"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        layer = f"Conv2D '{self.name}'"
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"{layer}: invalid value for argument `filters`. Expected a strictly positive value. Received filters={filters!r}.")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{layer}: only data_format='channels_last' (NHWC) is supported, received {data_format!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size", layer)
        self.strides = _pair(strides, "strides", layer)
        self.padding = _padding(padding, layer)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", layer)
        self.activation = _activation(activation, layer)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer", layer)
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer", layer)

    def _engine_config(self):
        return {"filters": self.filters, "kernel_size": "%d,%d" % self.kernel_size, "strides": "%d,%d" % self.strides,
                "padding": self.padding, "dilation_rate": "%d,%d" % self.dilation_rate, "activation": self.activation,
                "use_bias": int(self.use_bias), "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "dilation_rate": self.dilation_rate, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


class Dense(Layer):
    """Fully connected layer on the last axis; kernel (in, units), bias (units,)."""
    engine_type = "Dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        layer = f"Dense '{self.name}'"
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{layer}: received an invalid value for `units`, expected a positive integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = _activation(activation, layer)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer", layer)
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer", layer)

    def _engine_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": int(self.use_bias),
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer}

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer}


class _Pooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        layer = f"{type(self).__name__} '{self.name}'"
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{layer}: only data_format='channels_last' (NHWC) is supported, received {data_format!r}")
        self.pool_size = _pair(pool_size, "pool_size", layer)
        self.strides = _pair(strides, "strides", layer) if strides is not None else self.pool_size
        self.padding = _padding(padding, layer)

    def _engine_config(self):
        return {"pool_size": "%d,%d" % self.pool_size, "strides": "%d,%d" % self.strides, "padding": self.padding}

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """Max pooling over windows of `pool_size` (strides default to the pool size)."""
    engine_type = "MaxPooling2D"


class AveragePooling2D(_Pooling2D):
    """Average pooling over windows of `pool_size` (strides default to the pool size)."""
    engine_type = "AveragePooling2D"


class GlobalAveragePooling2D(Layer):
    """(h, w, c) → (c,): the mean over all pixels."""
    engine_type = "GlobalAveragePooling2D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if keepdims:
            raise ValueError(f"{type(self).__name__}: keepdims=True is not supported")


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """(h, w, c) → (c,): the maximum over all pixels."""
    engine_type = "GlobalMaxPooling2D"


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D


class Flatten(Layer):
    """(h, w, c) → (h·w·c,)."""
    engine_type = "Flatten"

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)


class Dropout(Layer):
    """Zeroes a fraction `rate` of the values at training time and scales the rest by 1/(1 − rate)."""
    engine_type = "Dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)) or not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1 "
                             f"(exclusive of 1). Received: rate={rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported")
        self.rate = float(rate)
        self.seed = seed
        # Drawn once, when the layer is made, so that building (or rebuilding) a model never moves the seed stream.
        self._mask_seed = int(seed) if seed is not None else next_seed() % (2 ** 62)

    def _engine_config(self):
        return {"rate": repr(self.rate), "seed": self._mask_seed}

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Activation(Layer):
    """Applies an activation function: 'relu', 'sigmoid', 'softmax', 'tanh' or 'linear'."""
    engine_type = "Activation"

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activation(activation, f"Activation '{self.name}'")

    def _engine_config(self):
        return {"activation": self.activation}

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class ReLU(Layer):
    """max(x, 0)."""
    engine_type = "ReLU"

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None or negative_slope != 0 or threshold != 0:
            raise ValueError("ReLU: only the plain ReLU (max_value=None, negative_slope=0, threshold=0) is supported")


class Softmax(Layer):
    """Softmax over the last axis."""
    engine_type = "Softmax"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"Softmax: only axis=-1 is supported, received axis={axis}")


class BatchNormalization(Layer):
    """Normalises the last axis with batch statistics in training and moving averages in inference; weights
    [gamma, beta, moving_mean, moving_variance]. A frozen layer runs in inference mode, as in Keras."""
    engine_type = "BatchNormalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, 3):
            raise ValueError(f"BatchNormalization: only axis=-1 is supported, received axis={axis}")
        if not 0 <= momentum <= 1 or not epsilon > 0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1] and epsilon > 0; received {momentum}, {epsilon}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def _engine_config(self):
        return {"momentum": repr(self.momentum), "epsilon": repr(self.epsilon), "center": int(self.center),
                "scale": int(self.scale)}

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


class Add(Layer):
    """Element-wise sum of a list of tensors of one shape."""
    engine_type = "Add"


class Concatenate(Layer):
    """Joins a list of tensors along the last axis."""
    engine_type = "Concatenate"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, 3):
            raise ValueError(f"Concatenate: only axis=-1 is supported, received axis={axis}")
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class ZeroPadding2D(Layer):
    """Pads images with zeros: an int, (rows, cols) or ((top, bottom), (left, right))."""
    engine_type = "ZeroPadding2D"

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        try:
            if isinstance(padding, int):
                p = (padding,) * 4
            elif all(isinstance(v, int) for v in padding):
                p = (padding[0], padding[0], padding[1], padding[1])
            else:
                (t, b), (l, r) = padding
                p = (t, b, l, r)
            if len(p) != 4 or any(int(v) < 0 for v in p):
                raise ValueError
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"ZeroPadding2D: `padding` should be an int, a tuple of 2 ints or a tuple of 2 tuples "
                             f"of 2 ints, all >= 0. Received: padding={padding!r}") from None
        self.padding = tuple(int(v) for v in p)

    def _engine_config(self):
        return {"padding": "%d,%d,%d,%d" % self.padding}

    def get_config(self):
        t, b, l, r = self.padding
        return {**super().get_config(), "padding": ((t, b), (l, r))}


class Rescaling(Layer):
    """x · scale + offset."""
    engine_type = "Rescaling"

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def _engine_config(self):
        return {"scale": repr(self.scale), "offset": repr(self.offset)}

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
