"""Saving and loading: what goes into a file, and which format a path gets.

The format follows the extension, as in Keras: `.keras` is the Keras 3 archive (`keras_archive`), `.h5` / `.hdf5`
the legacy Keras HDF5 file (`keras_h5`), and any other name swiftcnn's own format, which the engine owns
(`IO/WeightsFile.swift`: magic, version, JSON header, float32 arrays, CRC-32, atomic exclusive-temporary writes,
bounded reads); Python puts the architecture and compile settings into its header and reads them back. Loading
looks at the file's first bytes, not its name. Every format is written atomically.
"""
import json
import os
import warnings

import numpy as np

from . import _native, keras_archive, keras_config, keras_h5, keras_weights, optimizers
from .atomic import leading_bytes, write_atomically
from .serialization import deserialize

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
KERAS_EXTENSIONS = (".keras",)
HDF5_EXTENSIONS = (".h5", ".hdf5")


# ---------- architecture ----------
def layer_spec(layer):
    """A layer (or a nested model) as saved: its class name and its config."""
    if hasattr(layer, "graph_trace"):
        return layer.get_config()
    return {"class": type(layer).__name__, "config": _jsonable(layer.get_config())}


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")


def _own_graph_engine(model):
    """The engine graph that holds exactly this model's weights. A model that reads another model's graph (an
    activation model) is saved through a copy of its own."""
    if model.graph is model.own_graph:
        return model, (model.training_engine() if model.optimizer is not None else model.graph.engine)
    copy = deserialize(model.get_config())
    copy.set_weights(model.get_weights())
    return copy, copy.graph.engine


def _extension(path):
    return os.path.splitext(path)[1].lower()


# ---------- public functions ----------
def save_model(model, path):
    """Architecture, weights, compile settings (and optimizer state, except in legacy HDF5) in one file, written
    atomically, in the format the extension names."""
    path = os.fspath(path)
    model.graph     # raises unless built
    if _extension(path) in KERAS_EXTENSIONS:
        owner, _ = _own_graph_engine(model)     # an activation model is saved through a copy, uncompiled
        return keras_archive.save_archive(owner, path, _native.version())
    if _extension(path) in HDF5_EXTENSIONS:
        return keras_h5.save_h5(model, path)
    compile_info = None
    if model.optimizer is not None:
        opt = model.optimizer
        compile_info = {"loss": model.loss, "metric": model.compiled_metric,
                        "optimizer": {"class": type(opt).__name__, "config": _jsonable(opt.get_config())}}
    owner, engine = _own_graph_engine(model)
    header = {"kind": "model", "model": model.get_config(), "compile": compile_info}
    engine.save(path, json.dumps(header), compile_info is not None and owner is model)
    return path


def load_model(path, compile=True):
    """A model from a swiftcnn file (bit-identical predictions, training continues where it stopped), a Keras 3
    `.keras` archive or a Keras HDF5 file (Keras 3 or tf.keras 2.x), whatever its name."""
    path = os.fspath(path)
    magic = leading_bytes(path)     # FileNotFoundError / not a regular file, as Python reports them
    if magic.startswith(ZIP_MAGIC):
        return _load_keras_archive(path, compile)
    if magic == HDF5_MAGIC:
        return _load_keras_h5(path, compile)
    if _extension(path) == ".onnx":
        raise ValueError(f"{path}: swiftcnn writes ONNX files (model.export) but does not read them; load a .keras, "
                         ".h5 or swiftcnn file")
    if _extension(path) in KERAS_EXTENSIONS:
        raise ValueError(f"{path} is not a valid .keras file (a Keras archive is a zip file; this one starts with "
                         f"{magic!r})")
    header = json.loads(_native.read_file_header(path))
    if header.get("kind") != "model":
        raise ValueError(f"{path} holds only weights; build the model and call model.load_weights(path)")
    try:
        model = deserialize(header["model"])
        info = header.get("compile")
        if compile and info:
            opt_cls = getattr(optimizers, info["optimizer"]["class"])
            model.compile(optimizer=opt_cls.from_config(info["optimizer"]["config"]), loss=info["loss"],
                          metrics=[info["metric"]] if info["metric"] else None)
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as e:
        # The header passed the engine's checks (checksum, lengths); what it describes is rebuilt here.
        raise ValueError(f"{path}: the saved architecture or compile settings are invalid "
                         f"({type(e).__name__}: {e})") from None
    if compile and info:
        model.training_engine().load(path, True)
    else:
        model.graph.engine.load(path, False)
    return model


def _build_keras_model(entry, path):
    try:
        spec = keras_config.model_from_keras(entry, path)
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: the model architecture is not one Keras writes ({type(e).__name__}: {e})") from None
    return deserialize(spec)


def _compile_from(model, config, path):
    settings = keras_config.compile_from_keras(config, path)
    if settings is None:
        return False
    cls, opt_config, loss, metric = settings
    model.compile(optimizer=getattr(optimizers, cls).from_config(opt_config), loss=loss,
                  metrics=[metric] if metric else None)
    return True


# What h5py and the rebuilt model raise on a damaged file that still opens (h5py reports damaged objects as
# KeyError or RuntimeError): reported as the file's fault.
_DAMAGED = (KeyError, RuntimeError, TypeError, IndexError, AttributeError, OverflowError)


def _damaged(path, e):
    return ValueError(f"{path} is corrupted or not a model file Keras wrote ({type(e).__name__}: {e})")


def _load_keras_archive(path, compile):
    entry, compile_config, f = keras_archive.read_archive(path)
    with f:
        try:
            model = _build_keras_model(entry, path)
            values = keras_weights.read_weights_tree(f, model, path)
            for layer, arrays in values.items():
                layer.set_weights(arrays)
            if compile and _compile_from(model, compile_config, path):
                variables = keras_archive.optimizer_values(f)
                if variables is not None and not keras_weights.set_optimizer_variables(model, variables, path):
                    warnings.warn(f"{path}: the optimizer variables in the file do not fit the model's optimizer; "
                                  "training starts with a fresh optimizer state", stacklevel=3)
        except _DAMAGED as e:
            raise _damaged(path, e) from None
    return model


def _load_keras_h5(path, compile):
    try:
        entry, training_config, weights = keras_h5.read_h5(path)
        model = _build_keras_model(entry, path)
        for layer, arrays in keras_h5.set_legacy_weights(model, weights, path).items():
            layer.set_weights(arrays)
        if compile:
            _compile_from(model, training_config, path)
    except _DAMAGED as e:
        raise _damaged(path, e) from None
    return model


def save_weights(model, path):
    path = os.fspath(path)
    if _extension(path) in HDF5_EXTENSIONS:
        return _save_keras_weights(model, path)
    _, engine = _own_graph_engine(model)
    engine.save(path, json.dumps({"kind": "weights", "model": model.get_config()}), False)
    return path


def load_weights(model, path):
    """Weights from a swiftcnn file, or from a Keras `.weights.h5` / legacy `.h5` file of a model with the same
    structure (layers with weights matched in order, shapes checked). Nothing changes if anything is wrong."""
    path = os.fspath(path)
    graph = model.graph     # raises unless built
    if leading_bytes(path) == HDF5_MAGIC:
        try:
            weights = keras_weights.read_keras_weights_file(model, path)
        except _DAMAGED as e:
            raise _damaged(path, e) from None
        model.set_weights(weights)
    elif graph is model.own_graph:
        graph.engine.load(path, False)
    else:
        raise ValueError(f"Model '{model.name}' reads the graph of the model it was built from; load the weights "
                         "into that model")


def _save_keras_weights(model, path):
    """Writes the Keras 3 `.weights.h5` layout (layers/<name>/vars/<i>, names as Keras gives them)."""
    h5py = keras_weights.h5py_module()

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            keras_weights.write_weights_tree(f, model)
    return write_atomically(path, write)
