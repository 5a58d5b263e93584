"""The functional graph: symbolic tensors, tracing a graph of layer calls, and the engine graph behind a model.

Three things live here and nowhere else:
- `KerasTensor`: the output of a layer call. Its shape is known the moment it is made: the engine's shape rule for
  that one layer is asked once (`output_shape_of`), so building a network of n layers costs O(n) engine calls.
- `trace(outputs)`: the layers behind some tensors in execution order, with models used as layers expanded.
- `EngineGraph`: one engine graph (`_native.Model`) built from a trace, and the record of which engine graph holds
  each layer's weights (`graph_of(layer)`). Layers and models never hold engine objects themselves.
"""
import weakref

import numpy as np

from . import _native

__all__ = ["KerasTensor", "EngineGraph", "trace", "graph_of", "output_shape_of"]


def new_engine():
    """A new, empty engine graph (the single place where Python creates one)."""
    return _native.Model()


def output_shape_of(layer, input_shapes):
    """Per-sample output shape of `layer` applied to inputs of `input_shapes`, from the engine's shape rule (one
    `add_layer` on a scratch graph; the engine's error message is raised as is)."""
    engine = new_engine()
    nodes = [engine.add_input(f"input_{i}", tuple(shape)) for i, shape in enumerate(input_shapes)]
    node = engine.add_layer(layer.engine_type, layer.name, layer.engine_config_string(), nodes)
    return tuple(engine.node_shape(node))


class KerasTensor:
    """A symbolic tensor of the functional API: the output of `layer` applied to `inputs`, with its per-sample
    shape (`shape` adds the batch dimension as None)."""

    def __init__(self, layer, inputs, sample_shape):
        self.layer = layer
        self.inputs = tuple(inputs)
        self.sample_shape = tuple(sample_shape)

    @property
    def shape(self):
        return (None,) + self.sample_shape

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, name={self.layer.name}>"


def is_model(obj):
    """A model used as a layer (it carries its own graph of layers)."""
    return hasattr(obj, "graph_inputs") and hasattr(obj, "graph_outputs")


class Trace:
    """The layers behind some output tensors. `order` is what the engine runs: (layer, input tensors) with every
    layer after the layers it consumes and models used as layers expanded into their own layers; `top` lists the
    layers as the user sees them (a nested model is one entry); `aliases` maps a nested model (and its inputs) to
    the tensor that stands for it in this graph."""

    def __init__(self, outputs):
        self.order, self.top, self.aliases = [], [], {}
        self.nested_inputs = []     # input layers of nested models: they stand for tensors of this graph
        self.output_of = {}         # layer id -> the tensor it produces in this graph
        self._seen = set()
        self._active = set()
        for t in outputs:
            self._visit(t, top=True)

    def _visit(self, tensor, top):
        layer = tensor.layer
        if id(layer) in self._seen:
            return
        for t in tensor.inputs:
            self._visit(t, top)
        self._seen.add(id(layer))
        if top:
            self.top.append(layer)
        if is_model(layer):
            self._expand(layer, tensor.inputs)
        else:
            self.order.append((layer, tensor.inputs))
            self.output_of[id(layer)] = tensor

    def _expand(self, model, inputs):
        """Re-applies a nested model's layers to `inputs` in this graph."""
        if id(model) in self._active:
            raise ValueError(f"Model '{model.name}' contains itself; a model cannot be nested in itself")
        self._active.add(id(model))
        inner_inputs, inner_trace = model.graph_inputs, model.graph_trace
        if len(inputs) != len(inner_inputs):
            raise ValueError(f"Model '{model.name}' expects {len(inner_inputs)} input(s), received {len(inputs)}")
        mapped = {id(t.layer): outer for t, outer in zip(inner_inputs, inputs)}
        for t, outer in zip(inner_inputs, inputs):
            self.aliases[id(t.layer)] = outer
            self.nested_inputs.append(t.layer)
        for layer, layer_inputs in inner_trace.order:
            if layer.is_input:
                continue
            new_inputs = tuple(mapped[id(t.layer)] for t in layer_inputs)
            out = KerasTensor(layer, new_inputs, inner_trace.output_of[id(layer)].sample_shape)
            layer.record_call(new_inputs, out)     # `layer.output` now refers to the outer graph, as it runs there
            mapped[id(layer)] = out
            self.output_of[id(layer)] = out
            self._seen.add(id(layer))
            self.order.append((layer, new_inputs))
        for inner, outer in inner_trace.aliases.items():
            self.aliases.setdefault(inner, outer)
        self.nested_inputs += [layer for layer in inner_trace.nested_inputs if layer not in self.nested_inputs]
        self.aliases[id(model)] = mapped[id(model.graph_outputs[0].layer)]
        self._active.discard(id(model))

    def node_key(self, tensor):
        """The layer whose engine node holds `tensor` (nested models resolve to their last layer)."""
        layer = tensor.layer
        while id(layer) in self.aliases:
            layer = self.aliases[id(layer)].layer
        return id(layer)


def trace(outputs):
    return Trace(outputs)


# layer -> EngineGraph holding its weights. A layer keeps its graph alive (its weights live there); a graph refers
# to its layers only weakly, so nothing here keeps a dropped model alive. When a new graph takes a layer over (a
# model built around it), the weights are copied in and the entry moves.
_holders = weakref.WeakKeyDictionary()


# layer -> weak method that builds the graph of the model the layer was added to (a Sequential builds its engine
# graph when it is first needed, so adding n layers costs n shape inferences, not n builds).
_deferred = weakref.WeakKeyDictionary()


def graph_of(layer):
    """The engine graph that holds `layer`'s weights, or None before any model containing it was built."""
    graph = _holders.get(layer)
    if graph is None and layer in _deferred:
        build = _deferred.pop(layer)()
        if build is not None:
            build()
        graph = _holders.get(layer)
    return graph


def defer(layer, build):
    """Registers `build` (a bound method) to be called when `layer`'s weights are first needed."""
    _deferred[layer] = weakref.WeakMethod(build)


def release(layer):
    """Forgets where `layer`'s weights are (a layer removed from its model)."""
    _holders.pop(layer, None)


class EngineGraph:
    """One engine graph: the layers of a trace as engine nodes, their weights, and the passes over them.

    This is the public surface that inspection tools (`visualization`) and saving use: nodes are addressed by
    layer, activations and gradients are read by layer or node, and nothing else reaches into a model."""

    def __init__(self, trace_, inputs, outputs, seed):
        self.engine = new_engine()
        nodes, kept = {}, {}
        for layer, layer_inputs in trace_.order:
            holder = graph_of(layer)
            if holder is not None:
                kept[id(layer)] = holder.get_weights(layer)
            if layer.is_input:
                nodes[id(layer)] = self.engine.add_input(layer.name, layer.shape)
            else:
                nodes[id(layer)] = self.engine.add_layer(layer.engine_type, layer.name, layer.engine_config_string(),
                                                         [nodes[trace_.node_key(t)] for t in layer_inputs])
        # Nested models and their inputs resolve to the node that stands for them.
        for key in trace_.aliases:
            nodes.setdefault(key, nodes[trace_.node_key(trace_.aliases[key])])
        self._nodes = nodes
        self._order = [(weakref.ref(layer), [nodes[trace_.node_key(t)] for t in layer_inputs])
                       for layer, layer_inputs in trace_.order]
        self.output_nodes = [nodes[trace_.node_key(t)] for t in outputs]
        self.input_nodes = [nodes[id(t.layer)] for t in inputs]
        self.engine.set_outputs(self.output_nodes)
        self.engine.build(seed)
        for layer in trace_.nested_inputs:
            _holders[layer] = self
            _deferred.pop(layer, None)
        for layer, _ in trace_.order:
            _holders[layer] = self
            _deferred.pop(layer, None)
            if not layer.trainable:
                self.engine.set_trainable(nodes[id(layer)], False)
            if kept.get(id(layer)):
                self.set_weights(layer, kept[id(layer)])

    # --- nodes ---
    def holds(self, layer):
        """True when this graph holds `layer`'s weights (a later model may have taken the layer over)."""
        return id(layer) in self._nodes and _holders.get(layer) is self

    def has_node(self, layer):
        return id(layer) in self._nodes

    def node(self, layer):
        """The engine node of `layer` (a nested model: the node of its output)."""
        if id(layer) not in self._nodes:
            raise ValueError(f"Layer '{layer.name}' is not part of this model's graph")
        return self._nodes[id(layer)]

    def input_nodes_of(self, layer):
        for ref, inputs in self._order:
            if ref() is layer:
                return list(inputs)
        return []

    def node_shape(self, node):
        return tuple(self.engine.node_shape(node))

    def layer_at(self, node):
        """The layer whose engine node is `node`."""
        for ref, _ in self._order:
            layer = ref()
            if layer is not None and self._nodes[id(layer)] == node:
                return layer
        raise ValueError(f"no layer at node {node}")

    @property
    def layers(self):
        """Every layer the engine runs, nested models expanded, in execution order."""
        return [ref() for ref, _ in self._order if ref() is not None]

    # --- weights ---
    def param_shapes(self, layer):
        return [tuple(s) for s in self.engine.param_shapes(self.node(layer))]

    def get_weights(self, layer):
        node = self.node(layer)
        out = []
        for i, shape in enumerate(self.engine.param_shapes(node)):
            a = np.empty(shape, dtype=np.float32)
            self.engine.get_param(node, i, a)
            out.append(a)
        return out

    def set_weights(self, layer, arrays):
        node = self.node(layer)
        for i, a in enumerate(arrays):
            self.engine.set_param(node, i, a)

    def set_trainable(self, layer, flag):
        self.engine.set_trainable(self.node(layer), bool(flag))

    # --- training ---
    def compile(self, loss_name, optimizer_description, metric_name, settings):
        """Compiles the engine (the engine checks every value); `settings` is remembered as `compiled_with`."""
        self.engine.compile(loss_name, optimizer_description, metric_name)
        self.compiled_with = settings

    compiled_with = None

    # --- passes (inference tools) ---
    def forward(self, x, training=False):
        """Runs the graph on a float32 batch `x` (a list for several inputs); activations stay in the engine."""
        if isinstance(x, list):
            self.engine.forward_multi(x, len(x[0]), training)
        else:
            self.engine.forward(np.ascontiguousarray(x, dtype=np.float32), len(x), training)

    def activation(self, node, batch):
        """The activation of `node` from the last `forward`, as a new array (batch,) + shape."""
        out = np.empty((batch,) + self.node_shape(node), dtype=np.float32)
        self.engine.read_activation(node, out)
        return out

    def backward_from(self, node, seed_gradient, pre_activation=False):
        """Backpropagates `seed_gradient` placed at `node` (after a `forward`)."""
        self.engine.backward_from(node, np.ascontiguousarray(seed_gradient, dtype=np.float32), pre_activation)

    def gradient(self, node, batch):
        """d(seed)/d(activation) at `node` from the last `backward_from`."""
        out = np.empty((batch,) + self.node_shape(node), dtype=np.float32)
        self.engine.read_gradient(node, out)
        return out

    def receptive_field(self, node):
        return self.engine.receptive_field(node)

    def flops(self, node):
        return self.engine.node_flops(node)

    def subgraph(self, last_layer, input_shape):
        """A new engine graph of this graph's layers up to `last_layer`, for inputs of `input_shape`, with the same
        weights (convolutional layers accept any image size; a built graph is fixed to its own input size).
        Returns (engine, node of last_layer, input node)."""
        engine = new_engine()
        nodes = {}
        first_input = None
        by_node = {}
        for ref, input_nodes in self._order:
            layer = ref()
            if layer.is_input:
                new = engine.add_input(layer.name, input_shape)
                first_input = new if first_input is None else first_input
            else:
                new = engine.add_layer(layer.engine_type, layer.name, layer.engine_config_string(),
                                       [by_node[n] for n in input_nodes])
            by_node[self._nodes[id(layer)]] = new
            nodes[id(layer)] = new
            if layer is last_layer:
                break
        engine.build(1)
        for ref, _ in self._order:
            layer = ref()
            if id(layer) in nodes and not layer.is_input:
                for i, w in enumerate(self.get_weights(layer)):
                    engine.set_param(nodes[id(layer)], i, w)
        return engine, nodes[id(last_layer)], first_input
