"""Saving and loading: what goes into a file, and which format a path gets.

The engine owns swiftcnn's own file format (`IO/WeightsFile.swift`: magic, version, JSON header, float32 arrays,
CRC-32, atomic exclusive-temporary writes, bounded reads); Python puts the architecture and compile settings into
the header and reads them back. Keras HDF5 weight files are read and written here with h5py, the library that owns
that format.
"""
import json
import os
import stat
import tempfile

import numpy as np

from . import _native, optimizers
from ._optional import require
from .serialization import deserialize

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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


# ---------- files ----------
def _leading_bytes(path, count=8):
    """The first bytes of a regular file; anything else (a FIFO, a device, a folder) is refused without blocking."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise type(e)(e.errno, f"cannot read {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"cannot read {path}: not a regular file")
        return os.read(fd, count)
    finally:
        os.close(fd)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _own_graph_engine(model):
    """The engine graph that holds exactly this model's weights. A model that reads another model's graph (an
    activation model) is saved through a copy of its own."""
    if model.graph is model.own_graph:
        return model, (model.training_engine() if model.optimizer is not None else model.graph.engine)
    copy = deserialize(model.get_config())
    copy.set_weights(model.get_weights())
    return copy, copy.graph.engine


# ---------- public functions ----------
def save_model(model, path):
    """Architecture, weights, compile settings and optimizer state in one engine file, written atomically."""
    path = os.fspath(path)
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
    """The model saved by `model.save(path)`: same architecture, weights, optimizer state and compile settings,
    so predictions are bit-identical and training continues where it stopped."""
    path = os.fspath(path)
    _leading_bytes(path)     # FileNotFoundError / not a regular file, as Python reports them
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


def save_weights(model, path):
    path = os.fspath(path)
    if path.endswith(".h5"):
        return _save_keras_weights(model, path)
    _, engine = _own_graph_engine(model)
    engine.save(path, json.dumps({"kind": "weights", "model": model.get_config()}), False)
    return path


def load_weights(model, path):
    """Weights from a swiftcnn file, or from a Keras `.weights.h5` / legacy `.h5` file of a model with the same
    structure (layers with weights matched in order, shapes checked). Nothing changes if anything is wrong."""
    path = os.fspath(path)
    graph = model.graph     # raises unless built
    if _leading_bytes(path) == HDF5_MAGIC:
        model.set_weights(_read_keras_weights(model, path))
    elif graph is model.own_graph:
        graph.engine.load(path, False)
    else:
        raise ValueError(f"Model '{model.name}' reads the graph of the model it was built from; load the weights "
                         "into that model")


def _weighted_layers(model):
    out = []
    for layer in model.layers:
        if hasattr(layer, "graph_trace"):
            out += _weighted_layers(layer)
        elif layer.get_weights():
            out.append(layer)
    return out


def _h5py():
    return require("h5py", "reading and writing Keras .h5 files")


def _natural(name):
    import re
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _read_keras_weights(model, path):
    """Weight lists per layer name from a Keras file, matched to the model's layers: by name when every layer's
    name is in the file, otherwise in order, each layer taking the next file entry whose shapes fit."""
    h5py = _h5py()
    layers = _weighted_layers(model)
    entries = []   # (name, [arrays]) in file order
    with h5py.File(path, "r") as f:
        if "layers" in f:                                  # Keras 3 .weights.h5: layers/<name>/vars/<i>
            def walk(group, prefix=""):
                for name in sorted(group, key=_natural):
                    g = group[name]
                    if "vars" in g and len(g["vars"]):
                        entries.append((name, [np.asarray(g["vars"][k]) for k in sorted(g["vars"], key=int)]))
                    if "layers" in g:
                        walk(g["layers"])
            walk(f["layers"])
        else:                                              # Keras 2 legacy .h5 (model.save or save_weights)
            root = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs.get("layer_names", [])]
            for name in names:
                g = root[name]
                wnames = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
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


def _save_keras_weights(model, path):
    """Writes the Keras 3 `.weights.h5` layout (layers/<name>/vars/<i>)."""
    h5py = _h5py()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".swiftcnn-", suffix=".h5", dir=folder)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            root = f.create_group("layers")
            for layer in _weighted_layers(model):
                vars_group = root.create_group(layer.name).create_group("vars")
                for i, w in enumerate(layer.get_weights()):
                    vars_group.create_dataset(str(i), data=w)
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; a saved file follows the umask like any other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
