"""The Keras 3 `.keras` archive: a zip of `metadata.json`, `config.json` (the architecture and compile settings as
Keras serialises them) and `model.weights.h5` (weights and optimizer variables, `keras_weights` says where).
Written atomically; `keras.models.load_model` reads what is written here, and files Keras wrote load here."""
import datetime
import io
import json
import zipfile
import zlib

import numpy as np

from . import keras_config, keras_weights
from .atomic import write_atomically

__all__ = ["save_archive", "read_archive"]

KERAS_FORMAT_VERSION = "3.0.0"


def output_shapes(model):
    """layer / nested-model name -> per-sample output shape."""
    shapes = {}
    for layer in model.layers:
        if hasattr(layer, "graph_trace"):
            shapes.update(output_shapes(layer))
        shapes[layer.name] = tuple(layer.output_shape[1:]) if not layer.is_input else tuple(layer.shape)
    return shapes


def save_archive(model, path, engine_version):
    h5py = keras_weights.h5py_module()
    entry = keras_config.model_to_keras(model.get_config(), output_shapes(model), archive=True)
    compiled = model.optimizer is not None
    entry["compile_config"] = keras_config.compile_to_keras(model) if compiled else None
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "date_saved": datetime.datetime.now().strftime(
        "%Y-%m-%d@%H:%M:%S"), "producer": f"swiftcnn {engine_version}"}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        keras_weights.write_weights_tree(f, model)
        if compiled:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, value in enumerate(keras_weights.optimizer_variables(model)):
                group.create_dataset(str(i), data=value)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("config.json", json.dumps(entry))
            z.writestr("model.weights.h5", weights.getvalue(), compress_type=zipfile.ZIP_STORED)
    return write_atomically(path, write)


def read_archive(path):
    """(Keras model entry, compile config, open h5py file of the weights) from a `.keras` file; clear errors for
    truncated or foreign files."""
    h5py = keras_weights.h5py_module()
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names:
                raise ValueError(f"{path} is a zip file but not a Keras archive (no config.json)")
            if "model.weights.h5" not in names:
                raise ValueError(f"{path}: this Keras archive keeps its weights in a form swiftcnn does not read "
                                 f"({', '.join(sorted(names))}); expected model.weights.h5")
            config = json.loads(z.read("config.json"))
            weights = z.read("model.weights.h5")
    except (zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"{path} is not a valid .keras file (truncated or corrupted zip: {e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: config.json is not valid JSON ({e})") from None
    except (zipfile.LargeZipFile, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a valid .keras file: {e}") from None
    try:
        f = h5py.File(io.BytesIO(weights), "r")
    except OSError as e:
        raise ValueError(f"{path}: model.weights.h5 is not a valid HDF5 file ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: config.json does not describe a model")
    return config, config.get("compile_config"), f


def optimizer_values(f):
    if "optimizer" not in f or "vars" not in f["optimizer"]:
        return None
    group = f["optimizer"]["vars"]
    return [np.asarray(group[k]) for k in sorted(group, key=int)]
