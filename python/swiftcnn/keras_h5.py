"""Keras's legacy HDF5 full-model file (`model.save("m.h5")` in tf.keras 2.x and Keras 3): attributes
`model_config` and `training_config` (JSON) and the group `model_weights` (one group per top-level layer listing its
`weight_names`). Written atomically with h5py; read from files Keras 3 and tf.keras 2.x wrote."""
import json

import numpy as np

from . import keras_config, keras_weights
from .atomic import write_atomically
from .keras_archive import KERAS_FORMAT_VERSION, output_shapes

__all__ = ["save_h5", "read_h5", "set_legacy_weights"]


def _weight_name(layer, index):
    names = {"Conv2D": ["kernel", "bias"], "Dense": ["kernel", "bias"]}.get(type(layer).__name__)
    if type(layer).__name__ == "BatchNormalization":
        names = (["gamma"] if layer.scale else []) + (["beta"] if layer.center else []) + \
            ["moving_mean", "moving_variance"]
    return f"{layer.name}/{names[index] if names else index}"


def save_h5(model, path):
    h5py = keras_weights.h5py_module()
    entry = keras_config.model_to_keras(model.get_config(), output_shapes(model), archive=False)

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["keras_version"] = KERAS_FORMAT_VERSION
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = json.dumps(entry)
            if model.optimizer is not None:
                f.attrs["training_config"] = json.dumps(keras_config.compile_to_keras(model, archive=False))
            group = f.create_group("model_weights")
            children = keras_weights.keras_children(model)
            group.attrs["layer_names"] = [c.name.encode() for c in children]
            group.attrs["backend"] = "tensorflow"
            group.attrs["keras_version"] = KERAS_FORMAT_VERSION
            for child in children:
                g = group.create_group(child.name)
                items = keras_weights.legacy_weights(child)
                prefix = child.name + "/" if hasattr(child, "graph_trace") else ""
                names = [prefix + _weight_name(layer, i) for layer, i in items]
                g.attrs["weight_names"] = [n.encode() for n in names]
                for name, (layer, i) in zip(names, items):
                    g.create_dataset(name, data=layer.get_weights()[i])
            group.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype="S1")
    return write_atomically(path, write)


def read_h5(path):
    """(Keras model entry, training config, [(top-level layer name, [arrays])]) of a full-model HDF5 file."""
    h5py = keras_weights.h5py_module()
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 file (truncated or corrupted?): {e}") from None
    with f:
        if "model_config" not in f.attrs:
            raise ValueError(f"{path} holds only weights (no model_config); build the model and call "
                             "model.load_weights(path)")
        try:
            entry = json.loads(_text(f.attrs["model_config"]))
            training = json.loads(_text(f.attrs["training_config"])) if "training_config" in f.attrs else None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: model_config is not valid JSON ({e})") from None
        root = f["model_weights"] if "model_weights" in f else f
        weights = {}
        for name in keras_weights.decoded_names(root.attrs.get("layer_names", [])):
            g = root[name]
            names = keras_weights.decoded_names(g.attrs.get("weight_names", []))
            weights[name] = [np.asarray(g[w]) for w in names]
    return entry, training, weights


def set_legacy_weights(model, weights, path):
    """Puts the arrays of each top-level entry into the model (legacy order: trainable first); all shapes are
    checked before anything is written."""
    values = {}
    for child in keras_weights.keras_children(model):
        items = keras_weights.legacy_weights(child)
        arrays = weights.get(child.name, [])
        if len(arrays) != len(items):
            raise ValueError(f"{path}: layer '{child.name}' has {len(arrays)} weights in the file, the model "
                             f"expects {len(items)}")
        for (layer, i), a in zip(items, arrays):
            values.setdefault(layer, list(layer.get_weights()))
            if a.shape != values[layer][i].shape:
                raise ValueError(f"{path}: weight {i} of layer '{layer.name}' has shape {a.shape}, expected "
                                 f"{values[layer][i].shape}")
            values[layer][i] = a
    return values


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
