"""Saving and loading. `model.save(path)` writes one versioned file: a JSON header (architecture, compile settings,
the list of weight arrays) followed by the raw float32 arrays (weights, then optimizer state) and a CRC-32 of
everything before it. Writes are atomic: a temporary file in the same folder is written, flushed, fsynced and
renamed over the target, so a crash or Ctrl-C mid-save never destroys the previous file.

File layout (version 1, little-endian):
    8 bytes  b"SWIFTCNN"
    4 bytes  format version (uint32)
    8 bytes  header length N (uint64)
    N bytes  header, UTF-8 JSON: {"kind": "model"|"weights", "model": architecture, "compile": …,
             "arrays": [{"name", "shape"}…]}
    …        each array's float32 data in header order
    4 bytes  CRC-32 of all preceding bytes

`load_weights` also reads weight files written by Keras (`.weights.h5`, legacy `.h5`) with h5py.
"""
import json
import os
import struct
import tempfile
import zlib

import numpy as np

from . import optimizers
from .serialization import deserialize

MAGIC = b"SWIFTCNN"
VERSION = 1
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


# ---------- the container ----------
def _write_atomically(path, header, arrays):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"cannot save to {path}: the folder {folder} does not exist")
    header_bytes = json.dumps(header).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".swiftcnn-", suffix=".tmp", dir=folder)
    try:
        crc = 0
        with os.fdopen(fd, "wb") as f:
            def put(data):
                nonlocal crc
                f.write(data)
                crc = zlib.crc32(data, crc)
            put(MAGIC + struct.pack("<IQ", VERSION, len(header_bytes)) + header_bytes)
            for a in arrays:
                put(np.ascontiguousarray(a, dtype="<f4").tobytes())
            f.write(struct.pack("<I", crc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _read(path):
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a swiftcnn file (bad magic number)")
    if len(data) < 24:
        raise ValueError(f"{path} is truncated")
    version, header_len = struct.unpack("<IQ", data[8:20])
    if version != VERSION:
        raise ValueError(f"{path} has format version {version}; this swiftcnn reads version {VERSION}")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise ValueError(f"{path} is corrupted or truncated (checksum mismatch)")
    try:
        header = json.loads(data[20:20 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: corrupted header ({e})") from None
    arrays, offset = [], 20 + header_len
    for entry in header["arrays"]:
        n = int(np.prod(entry["shape"]))
        if offset + 4 * n > len(data) - 4:
            raise ValueError(f"{path} is truncated")
        arrays.append(np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(entry["shape"]).astype(np.float32))
        offset += 4 * n
    return header, arrays


# ---------- public functions ----------
def save_model(model, path):
    weights = model.get_weights()
    arrays = [{"name": f"weight_{i}", "shape": list(w.shape)} for i, w in enumerate(weights)]
    state = []
    compile_info = None
    if model.optimizer is not None:
        opt = model.optimizer
        compile_info = {"loss": model.loss, "metric": model.compiled_metric,
                        "optimizer": {"class": type(opt).__name__, "config": _jsonable(opt.get_config())}}
        engine = model.training_engine()
        slots, count, iterations = engine.optimizer_state_info()
        compile_info["optimizer_state"] = {"slots": slots, "iterations": iterations}
        for s in range(slots):
            a = np.empty(count, dtype=np.float32)
            engine.get_optimizer_state(s, a)
            state.append(a)
            arrays.append({"name": f"optimizer_slot_{s}", "shape": [count]})
    header = {"kind": "model", "model": model.get_config(), "compile": compile_info, "arrays": arrays}
    return _write_atomically(path, header, weights + state)


def load_model(path, compile=True):
    """The model saved by `model.save(path)`: same architecture, weights, optimizer state and compile settings,
    so predictions are bit-identical and training continues where it stopped."""
    header, arrays = _read(path)
    if header.get("kind") != "model":
        raise ValueError(f"{path} holds only weights; build the model and call model.load_weights(path)")
    model = deserialize(header["model"])
    n_weights = sum(1 for a in header["arrays"] if a["name"].startswith("weight_"))
    model.set_weights(arrays[:n_weights])
    info = header.get("compile")
    if compile and info:
        opt_cls = getattr(optimizers, info["optimizer"]["class"])
        model.compile(optimizer=opt_cls.from_config(info["optimizer"]["config"]), loss=info["loss"],
                      metrics=[info["metric"]] if info["metric"] else None)
        state = arrays[n_weights:]
        engine = model.training_engine() if state else None
        for s, a in enumerate(state):
            engine.set_optimizer_state(s, a, info["optimizer_state"]["iterations"])
    return model


def save_weights(model, path):
    path = os.fspath(path)
    if path.endswith(".h5"):
        return _save_keras_weights(model, path)
    weights = model.get_weights()
    header = {"kind": "weights", "model": model.get_config(),
              "arrays": [{"name": f"weight_{i}", "shape": list(w.shape)} for i, w in enumerate(weights)]}
    return _write_atomically(path, header, weights)


def load_weights(model, path):
    """Weights from a swiftcnn file, or from a Keras `.weights.h5` / legacy `.h5` file of a model with the same
    structure (layers with weights matched in order, shapes checked). Nothing changes if anything is wrong."""
    path = os.fspath(path)
    model.graph     # raises unless built
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == MAGIC:
        _, arrays = _read(path)
        model.set_weights(arrays)
    elif magic == HDF5_MAGIC:
        model.set_weights(_read_keras_weights(model, path))
    else:
        raise ValueError(f"{path} is neither a swiftcnn nor a Keras HDF5 weights file")


def _weighted_layers(model):
    out = []
    for layer in model.layers:
        if hasattr(layer, "graph_trace"):
            out += _weighted_layers(layer)
        elif layer.get_weights():
            out.append(layer)
    return out


def _h5py():
    try:
        import h5py
        return h5py
    except ImportError:
        raise ImportError("reading and writing Keras .h5 files needs h5py: pip install h5py") from None


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
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
