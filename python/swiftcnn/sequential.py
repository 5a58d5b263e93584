"""`Sequential`: a plain stack of layers. Each `add` checks the new layer's shape rule once (one engine call); the
engine graph with the weights is built when it is first needed, so a stack of n layers costs O(n) engine calls."""
from . import functional, saving
from .functional import KerasTensor
from .layers import Input, InputLayer, Layer
from .model import Model
from .serialization import deserialize

__all__ = ["Sequential"]


class Sequential(Model):
    """A plain stack of layers: `Sequential([Conv2D(...), MaxPooling2D(), ...])` or `.add(layer)`."""

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack = []
        self._tensors = []      # the output tensor of each layer of the stack, once there is an input
        self._input_tensor = None
        self._stale = False     # layers were added or removed since the engine graph was built
        for layer in layers or []:
            self.add(layer)

    @staticmethod
    def _default_name():
        return "sequential"

    def add(self, layer):
        """Appends a layer (or an `Input(...)` tensor as the first item)."""
        if isinstance(layer, KerasTensor) and layer.layer.is_input:
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input can only be the first item of a Sequential model")
            self._input_tensor = layer
            return
        if isinstance(layer, InputLayer):
            self.add(layer.output)
            return
        if layer is self:
            raise ValueError(f"Model '{self.name}' cannot be added to itself")
        if isinstance(layer, Model) and not layer.built:
            raise ValueError(f"Model '{layer.name}' must be built (have an input shape) before it is nested in another model")
        if not isinstance(layer, (Layer, Model)):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer!r} "
                            f"of type {type(layer)}.")
        if isinstance(layer, Model) and _contains(layer, self):
            raise ValueError(f"Model '{layer.name}' contains model '{self.name}'; a model cannot be nested in itself")
        if any(l is layer for l in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in this model")
        if any(l.name == layer.name for l in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             "is already the name of a layer in this model.")
        if self._input_tensor is None and not self._stack:
            if isinstance(layer, Model):
                self._input_tensor = Input(shape=layer.input_shape[1:])
            elif layer.input_shape_arg is not None:
                self._input_tensor = Input(shape=layer.input_shape_arg)
        if self._input_tensor is not None:
            previous = self._tensors[-1] if self._tensors else self._input_tensor
            self._tensors.append(layer(previous))     # raises (and nothing changes) if the shapes do not fit
        self._stack.append(layer)
        if self._input_tensor is not None:
            self._retrace()

    def pop(self):
        """Removes the last layer; it no longer belongs to this model."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        if self._tensors:
            self._tensors.pop()
        if not isinstance(layer, Model):
            functional.release(layer)
        if self._input_tensor is not None and self._stack:
            self._retrace()
        elif not self._stack:
            self._trace, self._inputs, self._outputs, self._own_graph = None, [], [], None
        return layer

    def _retrace(self):
        """Traces the stack (no engine calls) and marks the engine graph stale; it is rebuilt when first needed,
        keeping the weights layers already have."""
        self._inputs, self._outputs = [self._input_tensor], [self._tensors[-1]]
        self._trace = functional.trace(self._outputs)
        self._stale = True
        for layer, _ in self._trace.order:
            functional.defer(layer, self._build_if_stale)

    def _build_if_stale(self):
        if self._stale and self._trace is not None:
            self._stale = False
            self._build_graph()

    @property
    def graph(self):
        self._build_if_stale()
        return super().graph

    def _materialize(self):
        self._build_if_stale()

    @property
    def layers(self):
        return list(self._stack)

    def build(self, input_shape=None):
        """Builds the model for inputs of `input_shape` (batch dimension first, may be None)."""
        if input_shape is not None and self._input_tensor is None:
            self._input_tensor = Input(shape=tuple(input_shape)[1:])
        if self._input_tensor is None:
            raise ValueError("You must provide an `input_shape` argument to build a Sequential model without an Input.")
        if self._stack and not self._tensors:
            tensor = self._input_tensor
            try:
                for layer in self._stack:
                    tensor = layer(tensor)
                    self._tensors.append(tensor)
            except Exception:
                self._tensors = []
                if input_shape is not None:
                    self._input_tensor = None
                raise
        if self._stack:
            self._retrace()
            self._build_if_stale()

    def _ensure_built_for(self, x):
        if self._trace is None and self._stack and self._input_tensor is None:
            self.build((None,) + tuple(x.shape[1:]))

    def get_config(self):
        return {"class": "Sequential", "name": self.name, "trainable": self.trainable,
                "input_shape": list(self._input_tensor.sample_shape) if self._input_tensor is not None else None,
                "layers": [saving.layer_spec(l) for l in self._stack]}

    @classmethod
    def from_config(cls, spec):
        model = cls(name=spec["name"])
        if spec.get("input_shape"):
            model.add(Input(shape=tuple(spec["input_shape"])))
        for layer_spec in spec["layers"]:
            model.add(deserialize(layer_spec))
        return model


def _contains(model, target):
    """True when `target` is nested (at any depth) in `model`."""
    return any(l is target or (isinstance(l, Model) and _contains(l, target)) for l in model.layers)
