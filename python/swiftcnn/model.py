"""`Model`: a graph of layers with a loss and an optimizer, as Keras's functional `Model(inputs, outputs)`.

The model is the user's handle; the work is done elsewhere: `functional` traces the graph and owns the engine graph,
`data_adapters` checks and converts data, `trainer` runs the loops, `summary` the table, `saving` the files."""
import warnings

import numpy as np

from . import callbacks as callbacks_module, losses as losses_module, metrics as metrics_module
from . import optimizers as optimizers_module, saving, summary as summary_module, trainer
from .data_adapters import DataSpec, as_array, batch_of, is_batch_source, steps_of
from .functional import EngineGraph, KerasTensor, graph_of, trace
from .layers import Input
from .onnx import export_onnx
from .serialization import deserialize, register
from .utils import next_seed

__all__ = ["Model"]

_model_counts = {}


def unique_model_name(base):
    n = _model_counts.get(base, 0)
    _model_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _positive_int(value, what, call):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{call}(): {what} must be a positive integer, received {value!r}")
    return int(value)


class Model:
    """A graph of layers with a loss and an optimizer. `Model(inputs, outputs)` builds it from the functional API;
    `Sequential` from a list of layers."""

    is_input = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unrecognized keyword arguments: {sorted(kwargs)}")
        self.name = name or unique_model_name(self._default_name())
        self._compile_settings = None     # (loss, optimizer, engine metric name, history key)
        self.stop_training = False
        self.history = None
        self._inputs, self._outputs = [], []
        self._trace = None
        self._own_graph = None            # the engine graph this model built
        self._single_output = True
        self._seed = next_seed()          # drawn once: rebuilding the graph moves no random stream
        if type(self) is Model or inputs is not None:
            self._set_functional_graph(inputs, outputs)

    @staticmethod
    def _default_name():
        return "functional"

    # ---------- the graph ----------
    def _set_functional_graph(self, inputs, outputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in inputs + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be tensors from the functional API, received {t!r}")
        for t in inputs:
            if not t.layer.is_input:
                raise ValueError(f"Model inputs must come from `layers.Input(...)`; {t!r} is the output of a layer")
        traced = trace(outs)
        reached = {id(layer) for layer, _ in traced.order if layer.is_input}
        for t in inputs:
            if id(t.layer) not in reached:
                raise ValueError(f"Input {t.layer.name} is not connected to the outputs")
        for layer, _ in traced.order:
            if layer.is_input and not any(layer is t.layer for t in inputs):
                raise ValueError(f"Graph disconnected: output depends on input '{layer.name}', which is not in `inputs`")
        self._inputs, self._outputs, self._trace = inputs, outs, traced
        self._single_output = not isinstance(outputs, (list, tuple))
        self._own_graph = None
        self._build_graph()

    def _build_graph(self):
        """Creates this model's engine graph, unless another model's graph already holds every layer (an activation
        model such as `Model(model.input, [l.output for l in model.layers])` reads that graph and shares its
        weights, as Keras models built from the same layers do). Layers that had weights keep them."""
        if self._shared_graph() is not None:
            return
        self._own_graph = EngineGraph(self._trace, self._inputs, self._outputs, self._seed)

    def _shared_graph(self):
        holders = {id(g): g for g in (graph_of(layer) for layer, _ in self._trace.order)}
        if len(holders) != 1 or None in holders.values():
            return None
        graph = next(iter(holders.values()))
        return None if graph is self._own_graph else graph

    @property
    def graph(self):
        """The engine graph this model runs on (its own, or the one of the model that took its layers over, when the
        model is nested at that model's input). Inspection tools address nodes through it."""
        self._require_built("this operation")
        graph = self._own_graph
        layers = [layer for layer, _ in self._trace.order if not layer.is_input]
        if graph is not None and all(graph_of(layer) is graph for layer in layers):
            return graph
        holder = graph_of(layers[-1]) if layers else graph
        if holder is not None and all(graph_of(layer) is holder for layer in layers) and \
                all(holder.has_node(t.layer) and holder.node(t.layer) in holder.input_nodes for t in self._inputs):
            return holder
        if holder is None:
            self._build_graph()
            return self.graph
        raise ValueError(f"Model '{self.name}' now lives inside a model built around it (its layers and weights are "
                         "there); run that model, or build a new model from these layers")

    def _materialize(self):
        """Builds an engine graph that is still deferred (a Sequential's). Weights are read through the graph that
        holds each layer, so a model nested inside another needs no graph of its own for them."""

    @property
    def own_graph(self):
        """The engine graph this model built (None when it reads another model's graph)."""
        return self._own_graph

    # The functional-graph surface `functional.trace` uses when this model is called as a layer.
    @property
    def graph_inputs(self):
        return list(self._inputs)

    @property
    def graph_outputs(self):
        return list(self._outputs)

    @property
    def graph_trace(self):
        return self._trace

    def inbound_of(self, layer):
        """The tensors `layer` is applied to in this model (empty for an input)."""
        for l, inputs in self._trace.order:
            if l is layer:
                return list(inputs)
        for l in self._trace.top:
            if l is layer and hasattr(l, "graph_trace"):
                return [self._trace.aliases.get(id(t.layer), t) for t in l.graph_inputs]
        return []

    # --- a model used as a layer ---
    def __call__(self, x):
        items = list(x) if isinstance(x, (list, tuple)) else [x]
        if items and all(isinstance(t, KerasTensor) for t in items):
            self._require_built("calling it on a tensor")
            if len(items) != len(self._inputs):
                raise ValueError(f"Model '{self.name}' expects {len(self._inputs)} input(s), received {len(items)}")
            for t, own in zip(items, self._inputs):
                if t.sample_shape != own.sample_shape:
                    raise ValueError(f"Input of model '{self.name}' is incompatible: expected shape {own.shape}, "
                                     f"received {t.shape}")
            if any(t.layer is self or getattr(t.layer, "graph_trace", None) is self._trace for t in items):
                raise ValueError(f"Model '{self.name}' cannot be applied to its own output")
            return KerasTensor(self, items, self._outputs[0].sample_shape)
        return self.predict(x)

    @property
    def built(self):
        return self._trace is not None

    def _require_built(self, what):
        if self._trace is None:
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

    @property
    def layers(self):
        return list(self._trace.top) if self._trace is not None else []

    def find_layer(self, name):
        """A layer by name, looking inside nested models too."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        for layer, _ in (self._trace.order if self._trace else []):
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
        self._materialize()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Sets every layer's weights from one flat list (the order of `get_weights`); validated before any write."""
        self._require_built("set_weights")
        for layer, arrays in self._checked_weights(list(weights)):
            graph_of(layer).set_weights(layer, arrays)

    def _checked_weights(self, weights):
        """(layer, float32 arrays) for every layer with weights, nested models flattened; raises before anything
        is written."""
        self._materialize()
        expected = sum(len(layer.get_weights()) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the model was expecting {expected} weights.")
        pairs, i = [], 0
        for layer in self.layers:
            n = len(layer.get_weights())
            chunk, i = weights[i:i + n], i + n
            if isinstance(layer, Model):
                pairs += layer._checked_weights(chunk)
            elif chunk:
                pairs.append((layer, layer.checked_weights(chunk)))
        return pairs

    def count_params(self):
        if not self.layers:
            self._require_built("count_params")
        self._materialize()
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
        """Sets the optimizer (name or instance), the loss (name or instance) and the metric ('accuracy' / 'acc').
        Everything is checked (by the engine too, when the model is built) before anything is stored, so a
        `compile` that raises leaves the model as it was."""
        for key in ("weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"compile(): unrecognized keyword arguments: {sorted(kwargs)}")
        if loss is None:
            raise ValueError("compile(): a `loss` is required, e.g. loss='categorical_crossentropy'")
        if isinstance(loss, (list, dict)):
            raise ValueError("compile(): one loss for the model's single output is supported")
        settings = (losses_module.get(loss), optimizers_module.get(optimizer)) + metrics_module.resolve(metrics)
        if settings[3] == "acc":
            warnings.warn("metrics=['acc'] is the Keras 2 spelling; use metrics=['accuracy'].", DeprecationWarning,
                          stacklevel=2)
        if self.built and self._trace is not None:
            self._compile_engine(settings)
        self._compile_settings = settings

    def _compile_engine(self, settings):
        graph = self.graph
        if graph is not self._own_graph:
            raise ValueError(f"Model '{self.name}' is built from the layers of another model and shares its weights; "
                             "it can predict, but training it is not supported. Build a new model to train.")
        loss, optimizer, metric_engine, _ = settings
        graph.compile(loss._engine_name, optimizer._engine_description(), metric_engine, settings)
        optimizer.build(graph.engine)

    def _training_steps(self, collective=None):
        """The engine graph's steps, compiled with the current settings; their gradients are averaged across
        processes through `collective`, or the one a `DistributedOptimizer` carries."""
        if self._compile_settings is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        graph = self.graph
        if getattr(graph, "compiled_with", None) is not self._compile_settings:
            self._compile_engine(self._compile_settings)
        collective = collective or self.optimizer.collective
        if collective is not None:
            return trainer.AveragedSteps(graph.engine, graph.output_nodes, True, collective)
        return trainer.Steps(graph.engine, graph.output_nodes, True)

    def training_engine(self):
        """The engine graph object compiled with this model's loss and optimizer (its optimizer state is saved with
        the model)."""
        return self._training_steps().engine

    def _inference_steps(self):
        graph = self.graph
        nodes = [graph.node(t.layer) for t in self._outputs]
        return trainer.Steps(graph.engine, nodes, graph is self._own_graph and nodes == graph.output_nodes)

    @property
    def optimizer(self):
        return self._compile_settings[1] if self._compile_settings else None

    @property
    def loss(self):
        return self._compile_settings[0]._engine_name if self._compile_settings else None

    @property
    def compiled_metric(self):
        """The metric's history key ('accuracy', 'acc', …) or None."""
        return self._compile_settings[3] if self._compile_settings else None

    @property
    def metrics_names(self):
        key = self.compiled_metric
        return ["loss"] + ([key] if key else [])

    # ---------- data ----------
    def _ensure_built_for(self, x):
        """Builds a Sequential model without an input shape from the first data it sees."""
        return

    def data_spec(self, what="x"):
        """What this model's data must look like (`data_adapters.DataSpec`): checks and converts x and y."""
        return self._data_spec(what)

    def _data_spec(self, what="x"):
        self._require_built(what)
        loss = self._compile_settings[0]._engine_name if self._compile_settings else None
        check = self.training_engine().check_targets if self._compile_settings and self._runs_own_graph() else None
        return DataSpec(self.name, [t.layer.name for t in self._inputs], [t.sample_shape for t in self._inputs],
                        self._outputs[0].sample_shape, loss, check)

    def _runs_own_graph(self):
        return self._trace is not None and self.graph is self._own_graph

    def _checked_x(self, x, what="x"):
        if len(self._inputs) <= 1 and not is_batch_source(x):
            self._ensure_built_for(as_array(x, what))
        return self._data_spec(what).x(x, what)

    # ---------- training ----------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            distributed=False, **kwargs):
        """Trains for `epochs` epochs (Keras semantics); returns a `History`.

        `distributed=True` (under `mpirun -n N`): data-parallel training over MPI. Every process passes the same
        data; `batch_size` is per process, every global batch (batch_size x N samples) is split between them, their
        gradients are averaged after each step, the weights start from the first process's, loss and metrics are
        averaged across processes, and only the first process prints and writes checkpoints."""
        if kwargs:
            raise TypeError(f"fit(): unrecognized keyword arguments: {sorted(kwargs)}")
        if class_weight is not None or sample_weight is not None:
            raise ValueError("fit(): class_weight and sample_weight are not supported")
        if self._compile_settings is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"fit(): verbose must be 0, 1, 2 or 'auto', received {verbose!r}")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "fit")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit(): epochs must be a non-negative integer, received {epochs!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit(): validation_split must be in [0, 1), received {validation_split!r}")
        collective = trainer.collective_for(distributed) if distributed else self.optimizer.collective
        with trainer.stopping_every_process_on_error(collective):
            if distributed:
                collective.broadcast_model(self, 0)
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                             shuffle, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
                             validation_freq, collective, bool(distributed))

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             initial_epoch, steps_per_epoch, validation_steps, validation_batch_size, validation_freq, collective,
             shard):
        metric_key = self.compiled_metric
        if is_batch_source(x):
            if y is not None:
                raise ValueError("fit(): when x is a generator or iterator of (x, y) batches, y must be None")
            spec = self._data_spec()
            return trainer.fit_batches(self, self._training_steps(collective), spec, metric_key, x, epochs,
                                       steps_per_epoch, verbose, callbacks, validation_data, validation_steps,
                                       initial_epoch, collective, shard)
        x = self._checked_x(x)
        spec = self._data_spec()
        y = spec.y(y, len(x))
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            vx = spec.x(validation_data[0], "validation_data x")
            val = (vx, spec.y(validation_data[1], len(vx), "validation_data y"))
        elif validation_split:
            split = int(len(x) * (1 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples "
                                 f"out of {len(x)}")
            val = (x[split:], y[split:])
            x, y = x[:split], y[:split]
        return trainer.fit_arrays(self, self._training_steps(collective), spec, metric_key, x, y, batch_size, epochs,
                                  verbose, callbacks, val, shuffle, initial_epoch, steps_per_epoch, validation_steps,
                                  validation_batch_size, validation_freq, collective, shard)

    def fit_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.fit_generator` is deprecated; use `Model.fit`, which supports generators.",
                      DeprecationWarning, stacklevel=2)
        return self.fit(generator, *args, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", steps=None, callbacks=None,
                 return_dict=False, **kwargs):
        """Loss (and metric) in inference mode: `loss` or `[loss, metric]`."""
        if kwargs:
            raise TypeError(f"evaluate(): unrecognized keyword arguments: {sorted(kwargs)}")
        if self._compile_settings is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        verbose = 1 if verbose == "auto" else verbose
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "evaluate")
        metric_key = self.compiled_metric
        if is_batch_source(x):
            loss, metric = trainer.evaluate_any(self._training_steps(), self._data_spec(), x, steps)
            bar, total = None, 0
        else:
            x = self._checked_x(x)
            y = self._data_spec().y(y, len(x))
            total = -(-len(x) // batch_size)
            bar = callbacks_module.Progbar(total, verbose=1) if verbose == 1 else None
            loss, metric = trainer.evaluate_arrays(self._training_steps(), metric_key, x, y, batch_size, steps, bar)
        result = {"loss": loss}
        if metric_key:
            result[metric_key] = metric
        if bar is not None:
            bar.update(total, result, finalize=True)
        if return_dict:
            return result
        return loss if not metric_key else [loss, metric]

    def evaluate_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.evaluate_generator` is deprecated; use `Model.evaluate`.", DeprecationWarning, stacklevel=2)
        return self.evaluate(generator, *args, **kwargs)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs in inference mode, as NumPy arrays (a list for several outputs)."""
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "predict")
        if is_batch_source(x):
            total = steps_of(x, steps, "steps")
            getter = x.__next__ if hasattr(x, "__next__") else None
            parts = []
            for i in range(total):
                batch = getter() if getter else x[i % len(x)]
                xb = batch[0] if isinstance(batch, tuple) else batch
                parts.append(self.predict(xb, batch_size=len(xb)))
            if self._single_output:
                return np.concatenate(parts)
            return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        x = self._checked_x(x)
        outs = trainer.predict(self._inference_steps(), x, batch_size, verbose)
        return outs[0] if self._single_output else outs

    def predict_generator(self, generator, *args, **kwargs):
        warnings.warn("`Model.predict_generator` is deprecated; use `Model.predict`.", DeprecationWarning, stacklevel=2)
        return self.predict(generator, *args, **kwargs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimisation step on one batch; returns `loss` or `[loss, metric]` of that batch."""
        return self._one_batch(True, x, y, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self._one_batch(False, x, y, return_dict)

    def _one_batch(self, train, x, y, return_dict):
        if self._compile_settings is None:
            raise RuntimeError("You must call `compile()` before using the model.")
        x = self._checked_x(x)
        y = self._data_spec().y(y, len(x))
        steps = self._training_steps()
        loss, metric = (steps.train if train else steps.test)(batch_of(x, slice(None)), y, len(x))
        key = self.compiled_metric
        if return_dict:
            return {"loss": loss, **({key: metric} if key else {})}
        return loss if not key else [loss, metric]

    def predict_on_batch(self, x):
        x = self._checked_x(x)
        return self.predict(x, batch_size=len(x))

    # ---------- description ----------
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        """Prints the Keras table (layer, output shape, parameters; "Connected to" for graphs) with a
        receptive-field column for spatial layers."""
        self._require_built("summary")
        print_fn = print_fn or print
        for line in summary_module.summary_text(self).rstrip("\n").split("\n"):
            print_fn(line)

    def get_config(self):
        """The architecture as a JSON-able dict (layers by class name and config, and how they connect)."""
        nodes = []
        for layer in self.layers:
            inbound = [] if layer.is_input else [t.layer.name for t in self.inbound_of(layer)]
            nodes.append({"layer": saving.layer_spec(layer), "inbound": inbound})
        return {"class": "Model", "name": self.name, "nodes": nodes,
                "inputs": [t.layer.name for t in self._inputs], "outputs": [t.layer.name for t in self._outputs]}

    @classmethod
    def from_config(cls, spec):
        tensors = {}
        for node in spec["nodes"]:
            layer_spec = node["layer"]
            if layer_spec["class"] == "InputLayer":
                cfg = layer_spec["config"]
                tensors[cfg["name"]] = Input(shape=tuple(cfg["shape"]), name=cfg["name"])
                continue
            layer = deserialize(layer_spec)
            inputs = [tensors[name] for name in node["inbound"]]
            tensors[layer.name] = layer(inputs if len(inputs) > 1 else inputs[0])
        outputs = [tensors[n] for n in spec["outputs"]]
        return cls([tensors[n] for n in spec["inputs"]], outputs if len(outputs) > 1 else outputs[0],
                   name=spec["name"])

    # ---------- saving ----------
    def save(self, filepath, overwrite=True):
        """Writes architecture, weights, optimizer state and compile settings to one file, atomically."""
        saving.check_overwrite(filepath, overwrite)
        return saving.save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True):
        """Writes the weights (a swiftcnn file; a path ending in .h5 gets the Keras 3 `.weights.h5` layout)."""
        saving.check_overwrite(filepath, overwrite)
        return saving.save_weights(self, filepath)

    def export(self, filepath, format="onnx", verbose=False, **kwargs):
        """Writes the model for inference elsewhere; format="onnx" (opset 17, dynamic batch, NHWC input), written
        with the `onnx` package and checked with `onnx.checker` (see `swiftcnn.onnx`)."""
        if format != "onnx":
            raise ValueError(f"export(): format={format!r} is not supported; swiftcnn exports format='onnx'")
        if kwargs:
            raise TypeError(f"export(): unrecognized keyword arguments: {sorted(kwargs)}")
        return export_onnx(self, filepath)

    def load_weights(self, filepath):
        """Reads weights saved by swiftcnn, or by Keras (`.weights.h5`, legacy `.h5`) for the same structure."""
        saving.load_weights(self, filepath)


register(Model)
