"""Keras models: `Sequential`, the functional `Model`, and the training loop around the engine.

Python owns the orchestration a user customises (epochs, batching order, callbacks, progress, history); every
batch's forward, loss, backward, update and metric is one engine call with the GIL released."""
import warnings

import numpy as np

from . import _native, callbacks as callbacks_module, losses as losses_module, metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import InputLayer, KerasTensor, Layer
from .utils import next_seed

__all__ = ["Model", "Sequential", "load_model", "clone_model"]

_model_counts = {}


def _unique_model_name(base):
    n = _model_counts.get(base, 0)
    _model_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class _Graph:
    """The layers behind some output tensors. `order` is what the engine runs: every layer after the layers it
    consumes, with models used as layers expanded into their own layers; `top` lists the layers as the user sees
    them (a nested model is one entry); `aliases` maps a nested model to the tensor holding its output."""

    def __init__(self, outputs):
        self.order, self.top, self.aliases = [], [], {}
        self._seen = set()
        for t in outputs:
            self._visit(t, top=True)

    def _visit(self, tensor, top):
        layer = tensor._layer
        if id(layer) in self._seen:
            return
        for t in tensor._inputs:
            self._visit(t, top)
        self._seen.add(id(layer))
        if top:
            self.top.append(layer)
        if isinstance(layer, Model):
            self._expand(layer, tensor._inputs)
        else:
            self.order.append((layer, tensor._inputs))

    def _expand(self, model, inputs):
        """Re-applies a nested model's layers to `inputs` in the outer graph."""
        if len(inputs) != len(model._inputs):
            raise ValueError(f"Model '{model.name}' expects {len(model._inputs)} input(s), received {len(inputs)}")
        mapped = {id(t._layer): outer for t, outer in zip(model._inputs, inputs)}
        for t, outer in zip(model._inputs, inputs):
            self.aliases[id(t._layer)] = outer
        for layer, inner_inputs in model._order:
            if isinstance(layer, InputLayer):
                continue
            new_inputs = tuple(mapped[id(t._layer)] for t in inner_inputs)
            out = KerasTensor(layer, new_inputs)
            out._shape = None
            mapped[id(layer)] = out
            layer._inbound = list(new_inputs)
            layer.output = out
            self._seen.add(id(layer))
            self.order.append((layer, new_inputs))
        for inner, outer in model._aliases.items():
            self.aliases.setdefault(inner, outer)
        self.aliases[id(model)] = mapped[id(model._outputs[0]._layer)]

    def node_key(self, tensor):
        """The layer whose engine node holds `tensor` (nested models resolve to their last layer)."""
        layer = tensor._layer
        while id(layer) in self.aliases:
            layer = self.aliases[id(layer)]._layer
        return id(layer)


def _topological_layers(outputs):
    return _Graph(outputs).order


def _infer_shape(tensor):
    """Per-sample shape of a symbolic tensor, computed by the engine on a throwaway graph (shape rules live in
    one place: the engine's layers)."""
    engine = _native.Model()
    nodes = {}
    graph = _Graph([tensor])
    for layer, inputs in graph.order:
        if isinstance(layer, InputLayer):
            nodes[id(layer)] = engine.add_input(layer.name, layer.shape)
        else:
            nodes[id(layer)] = engine.add_layer(layer._engine_type, layer.name, layer._config_string(),
                                                [nodes[graph.node_key(t)] for t in inputs])
    return tuple(engine.node_shape(nodes[graph.node_key(tensor)]))


def _as_array(data, what):
    if data is None:
        raise ValueError(f"`{what}` is None; expected a NumPy array or array-like")
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], np.ndarray) and len(data) > 1 and \
            any(np.shape(d) != np.shape(data[0]) for d in data):
        raise ValueError(f"`{what}`: a list of arrays with different shapes was given; this model takes one input array")
    try:
        a = np.asarray(data)
    except Exception as e:
        raise ValueError(f"`{what}` could not be converted to an array: {e}") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"`{what}` must hold numbers; received an array of dtype {a.dtype}")
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"`{what}` is empty (shape {a.shape}); expected at least one sample")
    return a


def _check_finite(a, what):
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"`{what}` contains NaN or infinite values (first at index {tuple(int(i) for i in bad)})")


def _is_batch_source(x):
    """True for generators and iterators of batches (ImageDataGenerator.flow…, Python generators, Sequences)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "shape"))


def _split_batch(batch, what):
    if isinstance(batch, tuple) and len(batch) in (2, 3):
        return batch[0], batch[1]
    if isinstance(batch, list) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(f"{what} must yield (x, y) tuples; received {type(batch).__name__}")


class _Prefetcher:
    """Takes batches from `source` on a background thread, two ahead, so preparing a batch (reading and
    augmenting images, which releases the GIL in the engine) overlaps training on the previous one."""

    def __init__(self, source, count):
        import queue
        import threading
        self._queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        getter = source.__next__ if hasattr(source, "__next__") else None
        self._thread = threading.Thread(target=self._run, args=(source, getter, count), daemon=True)
        self._thread.start()

    def _run(self, source, getter, count):
        i = 0
        while i < count and not self._stop.is_set():
            try:
                item = getter() if getter else source[i % len(source)]
            except StopIteration:
                item = StopIteration()
            except BaseException as e:   # delivered to the training thread
                item = e
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except Exception:
                    continue
            if isinstance(item, BaseException):
                return
            i += 1

    def next(self):
        item = self._queue.get()
        if isinstance(item, StopIteration):
            raise ValueError("the data generator ran out of batches; pass steps_per_epoch (and validation_steps) "
                             "that it can supply")
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self._stop.set()
        while not self._queue.empty():
            self._queue.get_nowait()


class _Inputs:
    """The arrays of a model with several inputs, sliced together."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, idx):
        return _Inputs([a[idx] for a in self.arrays])


class Model:
    """A graph of layers with a loss and an optimizer. `Model(inputs, outputs)` builds it from the functional API;
    `Sequential` from a list of layers."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unrecognized keyword arguments: {sorted(kwargs)}")
        self.name = name or _unique_model_name(self._default_name())
        self._engine = None
        self._loss = None
        self._optimizer = None
        self._metric_engine, self._metric_key = "", None
        self.stop_training = False
        self.history = None
        self._compiled = False
        self._order, self._top_layers, self._aliases, self._graph = [], [], {}, None
        self._shares_engine = False
        if type(self) is Model or inputs is not None:
            self._init_graph(inputs, outputs)

    @staticmethod
    def _default_name():
        return "functional"

    # ---------- graph construction ----------
    def _init_graph(self, inputs, outputs):
        self._inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in self._inputs + self._outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be tensors from the functional API, received {t!r}")
        for t in self._inputs:
            if not isinstance(t._layer, InputLayer):
                raise ValueError(f"Model inputs must come from `layers.Input(...)`; {t!r} is the output of a layer")
        self._single_output = not isinstance(outputs, (list, tuple))
        graph = _Graph(self._outputs)
        order = graph.order
        inputs_reached = {id(layer) for layer, _ in order if isinstance(layer, InputLayer)}
        for t in self._inputs:
            if id(t._layer) not in inputs_reached:
                raise ValueError(f"Input {t._layer.name} is not connected to the outputs")
        for layer, _ in order:
            if isinstance(layer, InputLayer) and not any(layer is t._layer for t in self._inputs):
                raise ValueError(f"Graph disconnected: output depends on input '{layer.name}', which is not in `inputs`")
        self._set_graph(graph)
        self._build_engine()

    def _set_graph(self, graph):
        self._order = graph.order
        self._top_layers = graph.top
        self._aliases = graph.aliases
        self._graph = graph

    @property
    def layers(self):
        return list(self._top_layers)

    def _shared_engine(self):
        """The engine of another model when every layer of this one is already in it (an activation model such as
        `Model(model.input, [l.output for l in model.layers])`): this model then reads that graph's nodes and shares
        its weights, as Keras models built from the same layers do."""
        engines = {id(layer._binding[0]): layer._binding[0] for layer, _ in self._order if layer._binding is not None}
        if len(engines) != 1 or any(layer._binding is None for layer, _ in self._order):
            return None
        owners = {id(layer._owner()) for layer, _ in self._order if getattr(layer, "_owner", None) and layer._owner()}
        return next(iter(engines.values())) if id(self) not in owners else None

    def _build_engine(self):
        """Creates the engine graph for the current layers, keeping the weights of layers that already had some."""
        shared = self._shared_engine()
        if shared is not None:
            self._engine = shared
            self._shares_engine = True
            self._output_nodes = [t._layer._binding[1] for t in self._outputs]
            self._input_node = self._inputs[0]._layer._binding[1]
            return
        self._shares_engine = False
        engine = _native.Model()
        nodes = {}
        kept = {}
        for layer, inputs in self._order:
            if layer._binding is not None:
                owner = getattr(layer, "_owner", None)
                nested = [l for l in self._top_layers if isinstance(l, Model)]
                if owner is not None and owner() is not None and owner() is not self and \
                        not any(owner() is m or owner() in getattr(m, "_nested_owners", ()) for m in nested):
                    raise ValueError(f"Layer '{layer.name}' already belongs to model '{owner().name}'; "
                                     "sharing a layer between models is not supported")
                kept[id(layer)] = layer.get_weights()
            if isinstance(layer, InputLayer):
                nodes[id(layer)] = engine.add_input(layer.name, layer.shape)
            else:
                nodes[id(layer)] = engine.add_layer(layer._engine_type, layer.name, layer._config_string(),
                                                    [nodes[self._graph.node_key(t)] for t in inputs])
        engine.set_outputs([nodes[self._graph.node_key(t)] for t in self._outputs])
        engine.build(next_seed())
        import weakref
        for layer, inputs in self._order:
            layer._binding = (engine, nodes[id(layer)])
            layer._input_nodes = [nodes[self._graph.node_key(t)] for t in inputs]
            layer._owner = weakref.ref(self)
            if not layer.trainable:
                engine.set_trainable(nodes[id(layer)], False)
            if id(layer) in kept and kept[id(layer)]:
                layer.set_weights(kept[id(layer)])
        self._engine = engine
        self._output_nodes = [nodes[self._graph.node_key(t)] for t in self._outputs]
        self._input_node = nodes[id(self._inputs[0]._layer)]
        self._share_with_nested_models(engine, nodes)
        if self._compiled:
            self._compile_engine()

    def _share_with_nested_models(self, engine, nodes):
        """A model nested at the input of this one reads this engine from now on, so both share weights (as in
        Keras, where `conv_base` and the model built around it hold the same variables)."""
        for m in self._top_layers:
            if not isinstance(m, Model):
                continue
            m._nested_owners = getattr(m, "_nested_owners", set()) | {self}
            if m._inputs[0]._layer._binding is None or self._graph.node_key(m._inputs[0]) == id(self._inputs[0]._layer):
                m._engine = engine
                m._shares_engine = True
                m._output_nodes = [nodes[self._graph.node_key(t)] for t in m._outputs]
                m._input_node = self._input_node
                m._inputs[0]._layer._binding = (engine, self._input_node)
            else:
                m._engine = None    # it now lives inside this model; use this model to run it

    # --- a model used as a layer ---
    def __call__(self, x):
        if isinstance(x, (list, tuple)) and x and all(isinstance(t, KerasTensor) for t in x):
            out = KerasTensor(self, list(x))
            _ = out.shape
            return out
        if isinstance(x, KerasTensor):
            out = KerasTensor(self, [x])
            _ = out.shape
            return out
        return self.predict(x)

    @property
    def _binding(self):
        """The engine node of this model's output when it is nested in another model (the layer protocol)."""
        if self._engine is None:
            return None
        return (self._engine, self._output_nodes[0])

    @property
    def _input_nodes(self):
        return [self._input_node] if self._engine is not None else []

    @property
    def _inbound(self):
        return []

    @property
    def built(self):
        return self._engine is not None

    def _require_built(self, what):
        if self._engine is None:
            raise ValueError(f"This model has not yet been built. Build the model first by calling `build()` or by "
                             f"calling the model on a batch of data (needed for {what}).")

    @property
    def inputs(self):
        self._require_built("inputs")
        return list(self._inputs)

    @property
    def outputs(self):
        self._require_built("outputs")
        return list(self._outputs)

    @property
    def input(self):
        return self.inputs[0] if len(self.inputs) == 1 else self.inputs

    @property
    def output(self):
        return self.outputs[0] if len(self.outputs) == 1 else self.outputs

    @property
    def input_shape(self):
        return self.input.shape

    @property
    def output_shape(self):
        return self.output.shape

    def _find_layer(self, name):
        """A layer by name, looking inside nested models too."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        for layer, _ in self._order:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")

    def get_layer(self, name=None, index=None):
        """A layer by name or by index into `model.layers`."""
        if index is not None:
            if not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # ---------- weights ----------
    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Sets every layer's weights from one flat list (the order of `get_weights`); validated before any write."""
        self._require_built("set_weights")
        weights = list(weights)
        expected = sum(len(layer.get_weights()) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the model was expecting {expected} weights.")
        pending, i = [], 0
        for layer in self.layers:
            current = layer.get_weights()
            chunk = [np.asarray(w, dtype=np.float32) for w in weights[i:i + len(current)]]
            for a, b in zip(chunk, current):
                if a.shape != b.shape:
                    raise ValueError(f"Layer '{layer.name}' weight shape mismatch: expected {b.shape}, received {a.shape}")
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"Layer '{layer.name}': weights contain NaN or infinite values")
            pending.append((layer, chunk))
            i += len(current)
        for layer, chunk in pending:
            if chunk:
                layer.set_weights(chunk)

    def count_params(self):
        if not self.layers or any(not layer.built for layer in self.layers):
            self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    @property
    def trainable(self):
        return all(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value):
        for layer in self.layers:
            layer.trainable = value

    # ---------- compile ----------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Sets the optimizer (name or instance), the loss (name or instance) and the metric ('accuracy' / 'acc')."""
        for key in ("weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"compile(): unrecognized keyword arguments: {sorted(kwargs)}")
        if loss is None:
            raise ValueError("compile(): a `loss` is required, e.g. loss='categorical_crossentropy'")
        if isinstance(loss, (list, dict)):
            raise ValueError("compile(): one loss for the model's single output is supported")
        self._loss = losses_module.get(loss)
        self._optimizer = optimizers_module.get(optimizer)
        self._metric_engine, self._metric_key = metrics_module.resolve(metrics)
        if self._metric_key == "acc":
            warnings.warn("metrics=['acc'] is the Keras 2 spelling; use metrics=['accuracy'].", DeprecationWarning,
                          stacklevel=2)
        self._compiled = True
        if self._engine is not None:
            self._compile_engine()

    def _compile_engine(self):
        if getattr(self, "_shares_engine", False):
            raise ValueError(f"Model '{self.name}' is built from the layers of another model and shares its weights; "
                             "it can predict, but training it is not supported. Build a new model to train.")
        self._engine.compile(self._loss._engine_name, self._optimizer._engine_description(), self._metric_engine)
        self._optimizer._engine = self._engine

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def loss(self):
        return self._loss._engine_name if self._loss is not None else None

    @property
    def metrics_names(self):
        return ["loss"] + ([self._metric_key] if self._metric_key else [])

    def _require_compiled(self):
        if not self._compiled:
            raise RuntimeError("You must call `compile()` before using the model.")

    # ---------- data ----------
    def _ensure_built_for(self, x):
        """Builds a Sequential model without an input shape from the first data it sees."""
        return

    def _prepare_x(self, x, what="x"):
        if len(getattr(self, "_inputs", [])) > 1:
            return self._prepare_inputs(x, what)
        a = _as_array(x, what)
        self._ensure_built_for(a)
        self._require_built(what)
        shape = self._inputs[0].shape[1:]
        if a.shape[1:] != shape:
            if a.shape == shape:
                raise ValueError(f"Input 0 of model '{self.name}' is incompatible: expected shape (None, "
                                 f"{', '.join(map(str, shape))}), received a single sample of shape {a.shape}; "
                                 "add a batch dimension, e.g. x[None]")
            raise ValueError(f"Input 0 of model '{self.name}' is incompatible with the layer: expected shape=(None, "
                             f"{', '.join(map(str, shape))}), found shape={a.shape}")
        _check_finite(a, what)
        return a

    def _prepare_y(self, y, n, what="y"):
        a = _as_array(y, what)
        _check_finite(a, what)
        if a.shape[0] != n:
            raise ValueError(f"Data cardinality is ambiguous: x sizes: {n}, {what} sizes: {a.shape[0]}. "
                             "Make sure all arrays contain the same number of samples.")
        out_shape = tuple(self._engine.node_shape(self._output_nodes[0]))
        classes = out_shape[-1]
        loss = self._loss._engine_name
        if loss == "sparse_categorical_crossentropy":
            per_sample = int(np.prod(out_shape[:-1]))
            flat = a.reshape(n, -1)
            if flat.shape[1] != per_sample:
                raise ValueError(f"sparse_categorical_crossentropy expects integer labels of shape ({n},) for output "
                                 f"shape (None, {', '.join(map(str, out_shape))}); received {what} of shape {a.shape}")
            if flat.size and (flat.min() < 0 or flat.max() >= classes or np.any(flat != np.round(flat))):
                raise ValueError(f"sparse_categorical_crossentropy: labels must be integers in [0, {classes - 1}] "
                                 f"(the model has {classes} outputs); received values from {flat.min()} to {flat.max()}")
            return np.ascontiguousarray(flat, dtype=np.float32)
        expected = (n,) + out_shape
        if a.shape != expected:
            if a.size == int(np.prod(expected)) and (a.ndim == 1 or out_shape == (1,)):
                a = a.reshape(expected)
            else:
                hint = ""
                if loss == "categorical_crossentropy" and a.ndim == 1:
                    hint = (" — the labels look like class indices: one-hot encode them with "
                            "utils.to_categorical(y) or use loss='sparse_categorical_crossentropy'")
                raise ValueError(f"Arguments `target` and `output` must have the same shape. Received: "
                                 f"target.shape={a.shape}, output.shape=(None, {', '.join(map(str, out_shape))}){hint}")
        if loss == "binary_crossentropy" and (a.min() < 0 or a.max() > 1):
            raise ValueError("binary_crossentropy: targets must be in [0, 1]")
        return np.ascontiguousarray(a.reshape(n, -1), dtype=np.float32)

    def _prepare_inputs(self, x, what):
        """Data for a model with several inputs: a list (in input order) or a dict keyed by input name."""
        names = [t._layer.name for t in self._inputs]
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(f"`{what}` is missing data for input(s) {missing}; the model's inputs are {names}")
            x = [x[n] for n in names]
        if not isinstance(x, (list, tuple)) or len(x) != len(names):
            raise ValueError(f"Model '{self.name}' has {len(names)} inputs ({names}); `{what}` must be a list of "
                             f"{len(names)} arrays or a dict keyed by input name")
        arrays = []
        for t, data in zip(self._inputs, x):
            a = _as_array(data, f"{what} for input '{t._layer.name}'")
            if a.shape[1:] != t.shape[1:]:
                raise ValueError(f"Input '{t._layer.name}' of model '{self.name}' is incompatible: expected shape "
                                 f"(None, {', '.join(map(str, t.shape[1:]))}), found shape={a.shape}")
            _check_finite(a, what)
            arrays.append(a)
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"Data cardinality is ambiguous: input sizes {[len(a) for a in arrays]}. "
                             "Make sure all arrays contain the same number of samples.")
        return _Inputs(arrays)

    @staticmethod
    def _batch(a, idx):
        if isinstance(a, _Inputs):
            return [np.ascontiguousarray(x[idx], dtype=np.float32) for x in a.arrays]
        return np.ascontiguousarray(a[idx], dtype=np.float32)

    def _step(self, train, xb, yb, n):
        """One engine step (GIL released inside); several inputs go through the multi-input entry points."""
        if isinstance(xb, list):
            return (self._engine.train_step_multi if train else self._engine.test_step_multi)(xb, yb, n)
        return (self._engine.train_step if train else self._engine.test_step)(xb, yb, n)

    # ---------- training ----------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, **kwargs):
        """Trains for `epochs` epochs (Keras semantics); returns a `History`."""
        if kwargs:
            raise TypeError(f"fit(): unrecognized keyword arguments: {sorted(kwargs)}")
        if class_weight is not None or sample_weight is not None:
            raise ValueError("fit(): class_weight and sample_weight are not supported")
        self._require_compiled()
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"fit(): verbose must be 0, 1, 2 or 'auto', received {verbose!r}")
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"fit(): batch_size must be a positive integer, received {batch_size!r}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit(): epochs must be a non-negative integer, received {epochs!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit(): validation_split must be in [0, 1), received {validation_split!r}")

        if _is_batch_source(x):
            if y is not None:
                raise ValueError("fit(): when x is a generator or iterator of (x, y) batches, y must be None")
            return self._fit_batches(x, epochs, steps_per_epoch, verbose, callbacks, validation_data,
                                     validation_steps, initial_epoch)
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            vx = self._prepare_x(validation_data[0], "validation_data x")
            val = (vx, self._prepare_y(validation_data[1], len(vx), "validation_data y"))
        elif validation_split:
            split = int(len(x) * (1 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples "
                                 f"out of {len(x)}")
            val = (x[split:], y[split:])
            x, y = x[:split], y[:split]

        n = len(x)
        steps = -(-n // batch_size)
        if steps_per_epoch is not None:
            steps = min(int(steps_per_epoch), steps)
        shuffle_seed = next_seed()
        orders = {}

        def batch_at(epoch, step):
            if epoch not in orders:
                orders.clear()
                orders[epoch] = _native.permutation(shuffle_seed, epoch, n) if shuffle else np.arange(n)
            idx = orders[epoch][step * batch_size:(step + 1) * batch_size]
            return self._batch(x, idx), y[idx]

        def validate(epoch):
            if val is None or (epoch + 1) % validation_freq:
                return None
            return self._evaluate_arrays(val[0], val[1], validation_batch_size or batch_size, validation_steps)

        return self._run_epochs(epochs, initial_epoch, steps, verbose, callbacks, batch_at, validate,
                                {"batch_size": batch_size, "samples": n})

    def _run_epochs(self, epochs, initial_epoch, steps, verbose, callbacks, batch_at, validate, params=None):
        """The epoch loop shared by arrays and batch iterators: callbacks, running averages, validation, Ctrl-C."""
        history = callbacks_module.History()
        cbs = [history] + list(callbacks or [])
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose))
        cb = callbacks_module.CallbackList(cbs, self, {"epochs": epochs, "steps": steps, "verbose": verbose,
                                                       **(params or {})})
        self.history, self.stop_training = history, False
        metric_key = self._metric_key
        cb.on_train_begin()
        logs = {}
        try:
            for epoch in range(initial_epoch, epochs):
                cb.on_epoch_begin(epoch)
                loss_sum = metric_sum = 0.0
                seen = 0
                for step in range(steps):
                    xb, yb = batch_at(epoch, step)
                    cb.on_train_batch_begin(step)
                    loss, metric = self._step(True, xb, yb, len(yb))
                    seen += len(yb)
                    loss_sum += loss * len(yb)
                    metric_sum += metric * len(yb)
                    logs = {"loss": loss_sum / seen}
                    if metric_key:
                        logs[metric_key] = metric_sum / seen
                    cb.on_train_batch_end(step, dict(logs))
                    if self.stop_training:
                        break
                epoch_logs = dict(logs)
                v = validate(epoch)
                if v is not None:
                    epoch_logs["val_loss"] = v[0]
                    if metric_key:
                        epoch_logs["val_" + metric_key] = v[1]
                cb.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            # The engine finished the step it was in (the GIL was released); the model is consistent.
            print("\nTraining interrupted; the model keeps the weights of the last completed batch.", flush=True)
            cb.on_train_end(logs)
            raise
        cb.on_train_end(logs)
        return history

    def _steps_of(self, source, steps, what):
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
                raise ValueError(f"{what} must be a positive integer, received {steps!r}")
            return int(steps)
        if hasattr(source, "__len__"):
            return len(source)
        raise ValueError(f"{what} is required when the data is a generator without a length")

    def _fit_batches(self, source, epochs, steps_per_epoch, verbose, callbacks, validation_data, validation_steps,
                     initial_epoch):
        """Training over a generator or iterator of batches, prefetched on a background thread."""
        steps = self._steps_of(source, steps_per_epoch, "steps_per_epoch")
        prefetch = _Prefetcher(source, steps * max(epochs - initial_epoch, 0))

        def batch_at(epoch, step):
            xb, yb = _split_batch(prefetch.next(), "the training data")
            xb = self._prepare_x(xb)
            return self._batch(xb, slice(None)), self._prepare_y(yb, len(xb))

        def validate(epoch):
            return None if validation_data is None else self._evaluate_any(validation_data, validation_steps)

        try:
            return self._run_epochs(epochs, initial_epoch, steps, verbose, callbacks, batch_at, validate)
        finally:
            prefetch.close()

    def _evaluate_any(self, data, steps, batch_size=32):
        """(loss, metric) over arrays `(x, y)` or over a generator of batches."""
        if _is_batch_source(data):
            total = self._steps_of(data, steps, "validation_steps")
            getter = data.__next__ if hasattr(data, "__next__") else None
            loss_sum = metric_sum = 0.0
            seen = 0
            for i in range(total):
                xb, yb = _split_batch(getter() if getter else data[i % len(data)], "the validation data")
                xb = self._prepare_x(xb)
                yb = self._prepare_y(yb, len(xb))
                loss, metric = self._step(False, self._batch(xb, slice(None)), yb, len(xb))
                loss_sum += loss * len(xb)
                metric_sum += metric * len(xb)
                seen += len(xb)
            return loss_sum / seen, metric_sum / seen
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or a generator of batches")
        vx = self._prepare_x(data[0], "validation_data x")
        return self._evaluate_arrays(vx, self._prepare_y(data[1], len(vx), "validation_data y"), batch_size, steps)

    def fit_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.fit_generator` is deprecated; use `Model.fit`, which supports generators.",
                      DeprecationWarning, stacklevel=2)
        return self.fit(generator, *args, **kwargs)

    def _evaluate_arrays(self, x, y, batch_size, steps=None, bar=None):
        n = len(x)
        total = -(-n // batch_size)
        if steps is not None:
            total = min(total, int(steps))
        loss_sum = metric_sum = 0.0
        seen = 0
        for step in range(total):
            s, e = step * batch_size, min((step + 1) * batch_size, n)
            loss, metric = self._step(False, self._batch(x, slice(s, e)), y[s:e], e - s)
            loss_sum += loss * (e - s)
            metric_sum += metric * (e - s)
            seen += e - s
            if bar is not None:
                logs = {"loss": loss_sum / seen}
                if self._metric_key:
                    logs[self._metric_key] = metric_sum / seen
                bar.update(step + 1, logs)
        return loss_sum / seen, metric_sum / seen

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", steps=None, callbacks=None,
                 return_dict=False, **kwargs):
        """Loss (and metric) in inference mode: `loss` or `[loss, metric]`."""
        if kwargs:
            raise TypeError(f"evaluate(): unrecognized keyword arguments: {sorted(kwargs)}")
        self._require_compiled()
        verbose = 1 if verbose == "auto" else verbose
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"evaluate(): batch_size must be a positive integer, received {batch_size!r}")
        if _is_batch_source(x):
            loss, metric = self._evaluate_any(x, steps)
            bar, total = None, 0
        else:
            x = self._prepare_x(x)
            y = self._prepare_y(y, len(x))
            total = -(-len(x) // batch_size)
            bar = callbacks_module.Progbar(total, verbose=1) if verbose == 1 else None
            loss, metric = self._evaluate_arrays(x, y, batch_size, steps, bar)
        result = {"loss": loss}
        if self._metric_key:
            result[self._metric_key] = metric
        if bar is not None:
            bar.update(total, result, finalize=True)
        if return_dict:
            return result
        return loss if not self._metric_key else [loss, metric]

    def evaluate_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.evaluate_generator` is deprecated; use `Model.evaluate`.", DeprecationWarning, stacklevel=2)
        return self.evaluate(generator, *args, **kwargs)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs in inference mode, as NumPy arrays (a list for several outputs)."""
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"predict(): batch_size must be a positive integer, received {batch_size!r}")
        if _is_batch_source(x):
            total = self._steps_of(x, steps, "steps")
            getter = x.__next__ if hasattr(x, "__next__") else None
            parts = []
            for i in range(total):
                batch = getter() if getter else x[i % len(x)]
                xb = batch[0] if isinstance(batch, tuple) else batch
                parts.append(self.predict(xb, batch_size=len(xb)))
            if self._single_output:
                return np.concatenate(parts)
            return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        x = self._prepare_x(x)
        n = len(x)
        out_shapes = [tuple(self._engine.node_shape(node)) for node in self._output_nodes]
        outs = [np.empty((n,) + s, dtype=np.float32) for s in out_shapes]
        total = -(-n // batch_size)
        bar = callbacks_module.Progbar(total, verbose=1) if verbose == 1 else None
        for step in range(total):
            s, e = step * batch_size, min((step + 1) * batch_size, n)
            xb = self._batch(x, slice(s, e))
            if len(outs) == 1 and not self._shares_engine and not isinstance(xb, list):
                self._engine.predict(xb, e - s, outs[0][s:e])
            else:
                if isinstance(xb, list):
                    self._engine.forward_multi(xb, e - s, False)
                else:
                    self._engine.forward(xb, e - s, False)
                for node, out in zip(self._output_nodes, outs):
                    self._engine.read_activation(node, out[s:e])
            if bar is not None:
                bar.update(step + 1)
        if bar is not None:
            bar.update(total, finalize=True)
        return outs[0] if self._single_output else outs

    def predict_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.predict_generator` is deprecated; use `Model.predict`.", DeprecationWarning, stacklevel=2)
        return self.predict(generator, *args, **kwargs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimisation step on one batch; returns `loss` or `[loss, metric]` of that batch."""
        self._require_compiled()
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        loss, metric = self._step(True, self._batch(x, slice(None)), y, len(x))
        return self._result(loss, metric, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled()
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        loss, metric = self._step(False, self._batch(x, slice(None)), y, len(x))
        return self._result(loss, metric, return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x(x)
        return self.predict(x, batch_size=len(x))

    def _result(self, loss, metric, return_dict):
        if return_dict:
            return {"loss": loss, **({self._metric_key: metric} if self._metric_key else {})}
        return loss if not self._metric_key else [loss, metric]

    # ---------- description ----------
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Prints the Keras table (layer, output shape, parameters; "Connected to" for graphs) with a
        receptive-field column for spatial layers."""
        self._require_built("summary")
        print_fn = print_fn or print
        graph = any(len(layer._input_nodes) > 1 for layer in self.layers) or len(self._inputs) > 1
        headers = ["Layer (type)", "Output Shape", "Param #", "Receptive field"] + (["Connected to"] if graph else [])
        rows = []
        shown = self.layers if isinstance(self, Sequential) is False else self.layers
        for layer in shown:
            params = layer.count_params()
            rf = self._engine.receptive_field(layer._binding[1])
            rf_text = "-" if rf is None else (str(rf[0][0]) if rf[0][0] == rf[0][1] else "%dx%d" % rf[0])
            row = [f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), f"{params:,}", rf_text]
            if graph:
                row.append(", ".join(t._layer.name for t in layer._inbound) if layer._inbound else "-")
            rows.append(row)
        widths = [max(len(h), *(len(r[i]) for r in rows)) + 3 if rows else len(h) + 3 for i, h in enumerate(headers)]
        total_width = sum(widths)

        def fmt(cells):
            return "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        lines = [f'Model: "{self.name}"', "_" * total_width, fmt(headers), "=" * total_width]
        for i, r in enumerate(rows):
            lines.append(fmt(r))
            lines.append("_" * total_width if i < len(rows) - 1 else "=" * total_width)
        total = self.count_params()
        trainable = sum(_trainable_count(layer) for layer in self.layers)
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * total_width]
        for line in lines:
            print_fn(line)

    def get_config(self):
        from .saving import _model_spec
        return _model_spec(self)

    # ---------- saving ----------
    def save(self, filepath, overwrite=True):
        """Writes architecture, weights, optimizer state and compile settings to one file, atomically."""
        import os
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        from .saving import save_model
        return save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True):
        """Writes the weights (a swiftcnn file; a path ending in .h5 gets the Keras 3 `.weights.h5` layout)."""
        import os
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        from .saving import save_weights
        return save_weights(self, filepath)

    def load_weights(self, filepath):
        """Reads weights saved by swiftcnn, or by Keras (`.weights.h5`, legacy `.h5`) for the same structure."""
        from .saving import load_weights
        load_weights(self, filepath)


def _trainable_count(layer):
    """Parameters the optimizer updates: none for a frozen layer, all but BatchNormalization's moving statistics
    for a trainable one, summed through nested models."""
    if isinstance(layer, Model):
        return sum(_trainable_count(l) for l in layer.layers)
    if not layer.trainable:
        return 0
    frozen = 2 * layer.output_shape[-1] if type(layer).__name__ == "BatchNormalization" else 0
    return layer.count_params() - frozen


class Sequential(Model):
    """A plain stack of layers: `Sequential([Conv2D(...), MaxPooling2D(), ...])` or `.add(layer)`."""

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack = []
        self._input_tensor = None
        self._order = []
        self._single_output = True
        for layer in layers or []:
            self.add(layer)

    @staticmethod
    def _default_name():
        return "sequential"

    def add(self, layer):
        """Appends a layer (or an `Input(...)` tensor as the first item)."""
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input can only be the first item of a Sequential model")
            self._input_tensor = layer
            return
        if isinstance(layer, InputLayer):
            self.add(layer.output)
            return
        if isinstance(layer, Model) and not layer.built:
            raise ValueError(f"Model '{layer.name}' must be built (have an input shape) before it is nested in another model")
        if not isinstance(layer, (Layer, Model)):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer!r} "
                            f"of type {type(layer)}.")
        if any(l is layer for l in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in this model")
        if any(l.name == layer.name for l in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             "is already the name of a layer in this model.")
        self._stack.append(layer)
        if self._input_tensor is None and len(self._stack) == 1 and isinstance(layer, Model):
            from .layers import Input
            self._input_tensor = Input(shape=layer.input_shape[1:])
        elif self._input_tensor is None and len(self._stack) == 1 and layer._input_shape_arg is not None:
            from .layers import Input
            self._input_tensor = Input(shape=layer._input_shape_arg)
        if self._input_tensor is not None:
            try:
                self._rebuild()
            except Exception:
                self._stack.pop()
                if self._stack:
                    self._rebuild()
                raise

    def pop(self):
        """Removes the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        layer._binding = None
        if self._input_tensor is not None and self._stack:
            self._rebuild()
        return layer

    def _rebuild(self):
        tensor = self._input_tensor
        for layer in self._stack:
            tensor = KerasTensor(layer, [tensor])
            if not isinstance(layer, Model):
                layer._inbound = list(tensor._inputs)
                layer.output = tensor
        self._inputs, self._outputs = [self._input_tensor], [tensor]
        graph = _Graph(self._outputs)
        self._set_graph(graph)
        self._top_layers = list(self._stack)
        self._build_engine()

    @property
    def layers(self):
        return list(self._stack)

    def build(self, input_shape=None):
        """Builds the model for inputs of `input_shape` (batch dimension first, may be None)."""
        if input_shape is not None and self._input_tensor is None:
            from .layers import Input
            self._input_tensor = Input(shape=tuple(input_shape)[1:])
        if self._input_tensor is None:
            raise ValueError("You must provide an `input_shape` argument to build a Sequential model without an Input.")
        if self._stack:
            self._rebuild()

    def _ensure_built_for(self, x):
        if self._engine is None and self._stack and self._input_tensor is None:
            self.build((None,) + tuple(x.shape[1:]))


def clone_model(model):
    """A new model of the same architecture (new layers, freshly initialised weights), as Keras does."""
    from .saving import _build_model, _model_spec
    spec = _model_spec(model)
    spec["name"] = _unique_model_name(spec["name"] + "_clone")
    return _build_model(spec)


def load_model(path, **kwargs):
    from .saving import load_model as _load
    return _load(path, **kwargs)
