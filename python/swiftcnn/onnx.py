"""ONNX export: `model.export("m.onnx", format="onnx")` or `swiftcnn.onnx.export_onnx(model, "m.onnx")`.

The graph is built with the `onnx` package's helpers (opset 17) and checked with `onnx.checker` before it is written
(atomically). Inputs and outputs keep the model's NHWC layout with a dynamic batch dimension ("batch"). ONNX's
convolutions and poolings are NCHW, so each tensor is kept in the layout its producer made and transposed only where
a consumer needs the other one (a Transpose is made once per tensor and layout); Flatten and Dense read NHWC, so
the flattened order is Keras's. BatchNormalization is exported in its inference form, Dropout as Identity.
Weights are only re-laid out (Keras's kernel (kh, kw, in, out) becomes ONNX's (out, in, kh, kw)); no value is
computed here.
"""
import numpy as np

from ._optional import require
from .atomic import write_atomically

__all__ = ["export_onnx", "OPSET", "SUPPORTED_LAYERS"]

OPSET = 17
NHWC, NCHW = "NHWC", "NCHW"
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
SUPPORTED_LAYERS = ("InputLayer", "Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
                    "GlobalMaxPooling2D", "Flatten", "Dropout", "Activation", "ReLU", "Softmax", "BatchNormalization",
                    "Add", "Concatenate", "ZeroPadding2D", "Rescaling")
_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def _onnx():
    return require("onnx", "ONNX export")


def _same_pads(size, kernel, stride, dilation=1):
    """Keras's 'same' padding along one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class _Builder:
    def __init__(self, model):
        self.onnx = _onnx()
        self.helper = self.onnx.helper
        self.model = model
        self.graph = model.graph
        self.nodes, self.initializers = [], []
        self.values = {}        # engine node -> {layout: tensor name}
        self.rank = {}          # engine node -> rank with the batch axis
        self._count = 0

    # --- names, constants, ops ---
    def fresh(self, base):
        self._count += 1
        return f"{base}_{self._count}"

    def constant(self, name, array, dtype=np.float32):
        array = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name=name))
        return name

    def op(self, op_type, inputs, base, **attrs):
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    # --- layouts ---
    def put(self, node, name, layout=NHWC):
        self.values[node] = {layout if self.rank[node] == 4 else NHWC: name}

    def get(self, node, layout=NHWC):
        """The tensor of `node` in `layout` (4-D tensors only; others have one layout)."""
        have = self.values[node]
        if self.rank[node] != 4:
            return next(iter(have.values()))
        if layout not in have:
            other = next(iter(have.values()))
            have[layout] = self.op("Transpose", [other], f"n{node}_{layout.lower()}",
                                   perm=TO_NCHW if layout == NCHW else TO_NHWC)
        return have[layout]

    def any_layout(self, node):
        """A layout the tensor of `node` already has (NCHW first, where the convolutions are)."""
        have = self.values[node]
        return NCHW if NCHW in have else NHWC

    def activation(self, name, layout, activation, rank, base):
        if activation == "linear":
            return name, layout
        if activation == "softmax":
            if rank == 4 and layout == NCHW:
                name, layout = self.op("Transpose", [name], base + "_nhwc", perm=TO_NHWC), NHWC
            return self.op("Softmax", [name], base + "_softmax", axis=-1), layout
        return self.op(_ACTIVATION_OPS[activation], [name], base + "_" + activation), layout

    # --- layers ---
    def add_layer(self, layer, inputs, node):
        kind = layer.engine_type
        handler = getattr(self, "_" + kind, None) if kind in SUPPORTED_LAYERS else None
        if handler is None:
            raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX translation; "
                             f"supported layers: {', '.join(SUPPORTED_LAYERS)}")
        self.rank[node] = len(self.graph.node_shape(node)) + 1
        for i in inputs:
            if i not in self.values:
                raise ValueError(f"ONNX export: the input of layer '{layer.name}' is not computed by this model")
        name, layout = handler(layer, inputs, node)
        self.put(node, name, layout)

    def _spatial_pads(self, node, kernel, strides, dilation, padding):
        h, w = self.graph.node_shape(node)[:2]
        if padding == "valid":
            return [0, 0, 0, 0]
        (t, b), (l, r) = _same_pads(h, kernel[0], strides[0], dilation[0]), _same_pads(w, kernel[1], strides[1],
                                                                                     dilation[1])
        return [t, l, b, r]

    def _Conv2D(self, layer, inputs, node):
        base = layer.name
        weights = self.graph.get_weights(layer)
        args = [self.get(inputs[0], NCHW), self.constant(base + "/kernel", weights[0].transpose(3, 2, 0, 1))]
        if layer.use_bias:
            args.append(self.constant(base + "/bias", weights[1]))
        out = self.op("Conv", args, base, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                      dilations=list(layer.dilation_rate),
                      pads=self._spatial_pads(inputs[0], layer.kernel_size, layer.strides, layer.dilation_rate,
                                              layer.padding))
        return self.activation(out, NCHW, layer.activation, 4, base)

    def _pool(self, op_type, layer, inputs, **extra):
        pads = self._spatial_pads(inputs[0], layer.pool_size, layer.strides, (1, 1), layer.padding)
        return self.op(op_type, [self.get(inputs[0], NCHW)], layer.name, kernel_shape=list(layer.pool_size),
                       strides=list(layer.strides), pads=pads, **extra), NCHW

    def _MaxPooling2D(self, layer, inputs, node):
        return self._pool("MaxPool", layer, inputs)

    def _AveragePooling2D(self, layer, inputs, node):
        return self._pool("AveragePool", layer, inputs, count_include_pad=0)   # Keras averages real pixels only

    def _global(self, op_type, layer, inputs):
        layout = self.any_layout(inputs[0])
        axes = [2, 3] if layout == NCHW else [1, 2]
        return self.op(op_type, [self.get(inputs[0], layout)], layer.name, axes=axes, keepdims=0), NHWC

    def _GlobalAveragePooling2D(self, layer, inputs, node):
        return self._global("ReduceMean", layer, inputs)

    def _GlobalMaxPooling2D(self, layer, inputs, node):
        return self._global("ReduceMax", layer, inputs)

    def _Flatten(self, layer, inputs, node):
        return self.op("Flatten", [self.get(inputs[0], NHWC)], layer.name, axis=1), NHWC

    def _Dense(self, layer, inputs, node):
        base = layer.name
        weights = self.graph.get_weights(layer)
        out = self.op("MatMul", [self.get(inputs[0], NHWC), self.constant(base + "/kernel", weights[0])], base)
        if layer.use_bias:
            out = self.op("Add", [out, self.constant(base + "/bias", weights[1])], base + "_bias")
        return self.activation(out, NHWC, layer.activation, self.rank[node], base)

    def _Dropout(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        return self.op("Identity", [self.get(inputs[0], layout)], layer.name), layout

    def _Activation(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        name = self.get(inputs[0], layout)
        if layer.activation == "linear":
            return self.op("Identity", [name], layer.name), layout
        return self.activation(name, layout, layer.activation, self.rank[node], layer.name)

    def _ReLU(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        return self.op("Relu", [self.get(inputs[0], layout)], layer.name), layout

    def _Softmax(self, layer, inputs, node):
        return self.op("Softmax", [self.get(inputs[0], NHWC)], layer.name, axis=-1), NHWC

    def _BatchNormalization(self, layer, inputs, node):
        base = layer.name
        weights = list(self.graph.get_weights(layer))
        mean, variance = weights[-2], weights[-1]
        gamma = weights.pop(0) if layer.scale else np.ones_like(mean)
        beta = weights.pop(0) if layer.center else np.zeros_like(mean)
        args = [self.get(inputs[0], NCHW), self.constant(base + "/gamma", gamma), self.constant(base + "/beta", beta),
                self.constant(base + "/moving_mean", mean), self.constant(base + "/moving_variance", variance)]
        return self.op("BatchNormalization", args, base, epsilon=layer.epsilon), NCHW

    def _Add(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        return self.op("Sum", [self.get(i, layout) for i in inputs], layer.name), layout

    def _Concatenate(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        axis = 1 if (self.rank[node] == 4 and layout == NCHW) else -1
        return self.op("Concat", [self.get(i, layout) for i in inputs], layer.name, axis=axis), layout

    def _ZeroPadding2D(self, layer, inputs, node):
        t, b, l, r = layer.padding
        layout = self.any_layout(inputs[0])
        pads = [0, 0, t, l, 0, 0, b, r] if layout == NCHW else [0, t, l, 0, 0, b, r, 0]
        return self.op("Pad", [self.get(inputs[0], layout), self.constant(layer.name + "/pads", pads, np.int64)],
                       layer.name, mode="constant"), layout

    def _Rescaling(self, layer, inputs, node):
        layout = self.any_layout(inputs[0])
        out = self.op("Mul", [self.get(inputs[0], layout), self.constant(layer.name + "/scale", layer.scale)],
                      layer.name)
        out = self.op("Add", [out, self.constant(layer.name + "/offset", layer.offset)], layer.name + "_offset")
        return out, layout

    # --- the whole model ---
    def build(self):
        helper, TensorProto = self.helper, self.onnx.TensorProto
        graph, model = self.graph, self.model
        output_nodes = [graph.node(t.layer) for t in model.outputs]
        needed, stack = set(), list(output_nodes)
        while stack:
            n = stack.pop()
            if n not in needed:
                needed.add(n)
                stack += graph.input_nodes_of(graph.layer_at(n))
        inputs = []
        for t in model.inputs:
            node = graph.node(t.layer)
            shape = graph.node_shape(node)
            self.rank[node] = len(shape) + 1
            self.put(node, t.layer.name)
            inputs.append(helper.make_tensor_value_info(t.layer.name, TensorProto.FLOAT, ["batch", *shape]))
        for layer in graph.layers:
            node = graph.node(layer)
            if layer.is_input:
                if node in needed and node not in self.values:
                    raise ValueError(f"ONNX export: the outputs depend on input '{layer.name}', which is not an input "
                                     f"of model '{model.name}'")
                continue
            if node in needed:
                self.add_layer(layer, graph.input_nodes_of(layer), node)
        outputs, seen = [], set()
        for t, node in zip(model.outputs, output_nodes):
            name = t.layer.name if t.layer.name not in seen else self.fresh(t.layer.name)
            seen.add(name)
            self.nodes.append(helper.make_node("Identity", [self.get(node, NHWC)], [name], name=name + "_output"))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *graph.node_shape(node)]))
        onnx_graph = helper.make_graph(self.nodes, model.name, inputs, outputs, self.initializers)
        result = helper.make_model(onnx_graph, producer_name="swiftcnn", opset_imports=[helper.make_opsetid("", OPSET)])
        result.ir_version = 8      # the IR version of opset 17, so older runtimes read the file too
        self.onnx.checker.check_model(result, full_check=True)
        return result


def export_onnx(model, path, opset=OPSET):
    """Writes `model` (inference form) as an ONNX file (opset 17, dynamic batch, NHWC inputs and outputs); returns
    the path. A layer without an ONNX translation is a ValueError naming it; nothing is written then."""
    if opset != OPSET:
        raise ValueError(f"ONNX export writes opset {OPSET}; received opset={opset!r}")
    proto = _Builder(model).build()
    data = proto.SerializeToString()

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    return write_atomically(path, write)
