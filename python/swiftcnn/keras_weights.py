"""Where Keras keeps each weight and optimizer variable, for a swiftcnn model.

- Keras 3 weight files (`model.weights.h5` inside a `.keras` archive, and `.weights.h5` files) hold a tree:
  `layers/<name>/vars/<i>`, where <name> is the snake-case class name made unique within its model
  (`conv2d`, `conv2d_1`, …) in Keras's layer order, nested models adding `layers/` below their own group.
- Legacy HDF5 files hold one group per top-level layer listing its `weight_names`; a nested model lists its
  trainable weights first, then its non-trainable ones (Keras's `trainable_weights + non_trainable_weights`).
- Optimizer variables: `iteration`, `learning_rate`, then per trainable weight (Keras order) the optimizer's
  slots: Adam interleaves (momentum, velocity) per weight; RMSprop and SGD list one slot for all weights, then the
  next.
h5py owns the HDF5 format; this module only decides what goes where.
"""
import re

import numpy as np

from ._optional import require
from .functional import is_model
from .keras_config import keras_layer_order, snake_case

__all__ = ["keras_children", "group_name", "weight_trainable_flags", "legacy_weights", "leaves",
           "write_weights_tree", "read_weights_tree", "optimizer_variables", "set_optimizer_variables",
           "read_keras_weights_file", "h5py_module"]


def h5py_module():
    return require("h5py", "reading and writing Keras .h5 and .keras files")


def keras_class(layer):
    if is_model(layer):
        return "Sequential" if type(layer).__name__ == "Sequential" else "Functional"
    return type(layer).__name__


def keras_children(model):
    """The model's layers in Keras's order (functional models: inputs included)."""
    by_name = {layer.name: layer for layer in model.layers}
    return [by_name[name] for name in keras_layer_order(model.get_config())]


def group_names(children):
    """Keras's group name for each child: snake-case class name, `_1`, `_2`, … when repeated."""
    used, names = {}, []
    for child in children:
        base = snake_case(keras_class(child))
        n = used.get(base, 0)
        used[base] = n + 1
        names.append(base if n == 0 else f"{base}_{n}")
    return names


def group_name(layer, children):
    return group_names(children)[children.index(layer)]


def weight_trainable_flags(layer):
    """Which of a layer's weights Keras counts as trainable (BatchNormalization's moving statistics never are)."""
    n = len(layer.get_weights())
    flags = [True] * n
    if type(layer).__name__ == "BatchNormalization":
        flags[-2:] = [False, False]
    return [f and layer.trainable for f in flags]


def leaves(model):
    """(layer, weights) for every layer with weights, nested models expanded, in Keras's order."""
    out = []
    for child in keras_children(model):
        if is_model(child):
            out += leaves(child)
        elif not child.is_input and child.get_weights():
            out.append(child)
    return out


def legacy_weights(layer):
    """(layer, index) of a top-level entry's weights in the legacy HDF5 order: trainable first, then the rest."""
    if layer.is_input:
        return []
    items = [(leaf, i, flag) for leaf in (leaves(layer) if is_model(layer) else [layer])
             for i, flag in enumerate(weight_trainable_flags(leaf))]
    return [(l, i) for l, i, f in items if f] + [(l, i) for l, i, f in items if not f]


# ---------- the Keras 3 tree ----------
def write_weights_tree(group, model):
    """`layers/<name>/vars/<i>` for the model's layers, recursively, and an empty `vars` for the model itself."""
    children = keras_children(model)
    root = group.create_group("layers")
    for name, child in zip(group_names(children), children):
        g = root.create_group(name)
        if is_model(child):
            write_weights_tree(g, child)
        else:
            v = g.create_group("vars")
            v.attrs["name"] = child.name
            for i, w in enumerate([] if child.is_input else child.get_weights()):
                v.create_dataset(str(i), data=w)
    group.create_group("vars").attrs["name"] = model.name


def read_weights_tree(group, model, source):
    """The weight arrays of every layer of `model` (a list in `model.get_weights()` order is not needed: returns
    {layer: [arrays]}), read from the Keras 3 tree under `group`. Missing or mis-shaped entries are errors."""
    out = {}
    children = keras_children(model)
    layers = group.get("layers")
    for name, child in zip(group_names(children), children):
        if is_model(child):
            if layers is None or name not in layers:
                raise ValueError(f"{source}: no weights for the nested model '{child.name}' (group {name})")
            out.update(read_weights_tree(layers[name], child, source))
            continue
        expected = [] if child.is_input else child.get_weights()
        if not expected:
            continue
        if layers is None or name not in layers or "vars" not in layers[name]:
            raise ValueError(f"{source}: no weights for layer '{child.name}' (expected group layers/{name}/vars)")
        v = layers[name]["vars"]
        arrays = [np.asarray(v[k]) for k in sorted(v, key=int)]
        if [a.shape for a in arrays] != [w.shape for w in expected]:
            raise ValueError(f"{source}: weights for layer '{child.name}' have shapes {[a.shape for a in arrays]}, "
                             f"expected {[w.shape for w in expected]}")
        out[child] = arrays
    return out


# ---------- optimizer variables ----------
def _flat_offsets(model):
    """layer -> [offset of each weight in the engine's one parameter array] (engine node order)."""
    offsets, position = {}, 0
    graph = model.graph
    for layer in graph.layers:
        if layer.is_input:
            continue
        shapes = graph.param_shapes(layer)
        offsets[layer] = []
        for shape in shapes:
            offsets[layer].append((position, tuple(shape)))
            position += int(np.prod(shape)) if shape else 1
    return offsets, position


def _trainable_weights(model):
    return [(leaf, i) for leaf in leaves(model) for i, flag in enumerate(weight_trainable_flags(leaf)) if flag]


def _slot_layout(optimizer, slots, weights):
    """[(slot, weight index)] in Keras's variable order after `iteration` and `learning_rate`."""
    if type(optimizer).__name__ == "Adam":
        return [(s, w) for w in range(len(weights)) for s in range(slots)]
    return [(s, w) for s in range(slots) for w in range(len(weights))]


def optimizer_variables(model):
    """Keras's optimizer variables for a compiled swiftcnn model, from the engine's state."""
    engine = model.training_engine()
    slots, count, iterations = engine.optimizer_state_info()
    state = []
    for s in range(slots):
        a = np.empty(count, dtype=np.float32)
        engine.get_optimizer_state(s, a)
        state.append(a)
    offsets, _ = _flat_offsets(model)
    weights = _trainable_weights(model)
    out = [np.array(iterations, dtype=np.int64), np.array(model.optimizer.learning_rate, dtype=np.float32)]
    for s, w in _slot_layout(model.optimizer, slots, weights):
        layer, i = weights[w]
        start, shape = offsets[layer][i]
        out.append(state[s][start:start + int(np.prod(shape))].reshape(shape))
    return out


def set_optimizer_variables(model, variables, source):
    """Restores the engine's optimizer state from Keras's optimizer variables; False (nothing changed) when they
    do not fit this optimizer."""
    engine = model.training_engine()
    slots, count, _ = engine.optimizer_state_info()
    weights = _trainable_weights(model)
    layout = _slot_layout(model.optimizer, slots, weights)
    if len(variables) != 2 + len(layout):
        return False
    offsets, _ = _flat_offsets(model)
    state = [np.zeros(count, dtype=np.float32) for _ in range(slots)]
    for (s, w), value in zip(layout, variables[2:]):
        layer, i = weights[w]
        start, shape = offsets[layer][i]
        value = np.asarray(value, dtype=np.float32)
        if value.shape != shape:
            return False
        state[s][start:start + value.size] = value.reshape(-1)
    iterations = int(np.asarray(variables[0]))
    for s in range(slots):
        engine.set_optimizer_state(s, state[s], iterations)
    return True


# ---------- Keras weight files (load_weights / save_weights) ----------
def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _weighted_layers(model):
    out = []
    for layer in model.layers:
        if is_model(layer):
            out += _weighted_layers(layer)
        elif not layer.is_input and layer.get_weights():
            out.append(layer)
    return out


def read_keras_weights_file(model, path):
    """The model's weights (flat, `model.get_weights()` order) from a Keras `.weights.h5` or legacy `.h5` file of
    a model with the same structure: Keras's own group layout first; otherwise matched by layer name when every
    layer's name is in the file, else in order, each layer taking the next entry whose shapes fit."""
    h5py = h5py_module()
    layers = _weighted_layers(model)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 file (truncated or corrupted?): {e}") from None
    entries = []   # (name, [arrays]) in file order
    with f:
        if "layers" in f:                                  # Keras 3 .weights.h5: layers/<name>/vars/<i>
            try:
                found = read_weights_tree(f, model, path)
                return [a for layer in layers for a in found[layer]]
            except (ValueError, KeyError):
                pass

            def walk(group):
                for name in sorted(group, key=_natural):
                    g = group[name]
                    if "vars" in g and len(g["vars"]):
                        label = g["vars"].attrs.get("name", name)
                        entries.append((label, [np.asarray(g["vars"][k]) for k in sorted(g["vars"], key=int)]))
                    if "layers" in g:
                        walk(g["layers"])
            walk(f["layers"])
        else:                                              # legacy .h5 (model.save or save_weights)
            root = f["model_weights"] if "model_weights" in f else f
            for name in decoded_names(root.attrs.get("layer_names", [])):
                g = root[name]
                wnames = decoded_names(g.attrs.get("weight_names", []))
                if wnames:
                    entries.append((name, [np.asarray(g[w]) for w in wnames]))

    def fits(layer, arrays):
        current = layer.get_weights()
        return len(arrays) == len(current) and all(a.shape == b.shape for a, b in zip(arrays, current))

    by_name = dict(entries)
    if all(layer.name in by_name for layer in layers):
        chosen = [by_name[layer.name] for layer in layers]
    else:
        if len(entries) != len(layers):
            raise ValueError(f"{path} holds weights for {len(entries)} layers, but the model has {len(layers)} "
                             "layers with weights")
        chosen, used = [], set()
        for layer in layers:
            pick = next((i for i, (_, arrays) in enumerate(entries) if i not in used and fits(layer, arrays)), None)
            if pick is None:
                raise ValueError(f"{path}: no weights in the file fit layer '{layer.name}' "
                                 f"(shapes {[w.shape for w in layer.get_weights()]})")
            used.add(pick)
            chosen.append(entries[pick][1])
    for layer, arrays in zip(layers, chosen):
        if not fits(layer, arrays):
            raise ValueError(f"{path}: weights for layer '{layer.name}' have shapes {[a.shape for a in arrays]}, "
                             f"expected {[b.shape for b in layer.get_weights()]}")
    return [a for arrays in chosen for a in arrays]


def decoded_names(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
