"""What the engine owns and Python only calls: the summary table and the model file, through `swiftcnn._native`.
The file tests try the file system as a breaker would: planted links, FIFOs, devices, directories, lying lengths,
`kill -9` in the middle of saves."""
import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import pytest

from swiftcnn import _native


# ---------- summary ----------
def _sequential():
    e = _native.Model()
    i = e.add_input("input_layer", [28, 28, 1])
    c = e.add_layer("Conv2D", "conv2d", "filters=32;kernel_size=3;activation=relu", [i])
    p = e.add_layer("MaxPooling2D", "max_pooling2d", "", [c])
    b = e.add_layer("BatchNormalization", "batch_normalization", "", [p])
    f = e.add_layer("Flatten", "flatten", "", [b])
    d = e.add_layer("Dense", "dense", "units=10", [f])
    e.build(1)
    return e, [c, p, b, f, d]


SEQUENTIAL = """\
Model: "sequential"
____________________________________________________________________________________________
Layer (type)                               Output Shape         Param #   Receptive field
============================================================================================
conv2d (Conv2D)                            (None, 26, 26, 32)   320       3
____________________________________________________________________________________________
max_pooling2d (MaxPooling2D)               (None, 13, 13, 32)   0         4
____________________________________________________________________________________________
batch_normalization (BatchNormalization)   (None, 13, 13, 32)   128       4
____________________________________________________________________________________________
flatten (Flatten)                          (None, 5408)         0         -
____________________________________________________________________________________________
dense (Dense)                              (None, 10)           54,090    -
============================================================================================
Total params: 54,538
Trainable params: 54,474
Non-trainable params: 64
____________________________________________________________________________________________
"""


def test_summary_of_a_sequential_model():
    e, nodes = _sequential()
    # Default rows (one per layer node) and explicit rows give the same table; BatchNormalization's moving
    # statistics (2 x 32) are non-trainable.
    assert e.summary("sequential", "") == SEQUENTIAL
    assert e.summary("sequential", json.dumps([{"nodes": [n]} for n in nodes])) == SEQUENTIAL
    # Freezing a layer moves its parameters to non-trainable.
    e.set_trainable(nodes[0], False)
    text = e.summary("sequential", "")
    assert "Trainable params: 54,154\n" in text and "Non-trainable params: 384\n" in text


FUNCTIONAL = """\
Model: "functional"
_____________________________________________________________________________________________________________________________
Layer (type)                                        Output Shape      Param #   Receptive field   Connected to
=============================================================================================================================
input_layer_1 (InputLayer)                          (None, 8, 8, 3)   0         1                 -
_____________________________________________________________________________________________________________________________
conv2d_1 (Conv2D)                                   (None, 8, 8, 4)   112       3                 input_layer_1
_____________________________________________________________________________________________________________________________
conv2d_2 (Conv2D)                                   (None, 8, 8, 4)   16        1                 input_layer_1
_____________________________________________________________________________________________________________________________
add (Add)                                           (None, 8, 8, 4)   0         3                 conv2d_1, conv2d_2
_____________________________________________________________________________________________________________________________
global_average_pooling2d (GlobalAveragePooling2D)   (None, 4)         0         -                 add
_____________________________________________________________________________________________________________________________
dense_1 (Dense)                                     (None, 2)         10        -                 global_average_pooling2d
=============================================================================================================================
Total params: 138
Trainable params: 138
Non-trainable params: 0
_____________________________________________________________________________________________________________________________
"""


def test_summary_of_a_functional_graph_with_add():
    e = _native.Model()
    i = e.add_input("input_layer_1", [8, 8, 3])
    a = e.add_layer("Conv2D", "conv2d_1", "filters=4;kernel_size=3;padding=same", [i])
    b = e.add_layer("Conv2D", "conv2d_2", "filters=4;kernel_size=1", [i])
    s = e.add_layer("Add", "add", "", [a, b])
    g = e.add_layer("GlobalAveragePooling2D", "global_average_pooling2d", "", [s])
    d = e.add_layer("Dense", "dense_1", "units=2", [g])
    e.build(1)
    rows = [{"nodes": [i], "connected": []}, {"nodes": [a], "connected": ["input_layer_1"]},
            {"nodes": [b], "connected": ["input_layer_1"]}, {"nodes": [s], "connected": ["conv2d_1", "conv2d_2"]},
            {"nodes": [g], "connected": ["add"]}, {"name": "dense_1", "type": "Dense", "nodes": [d], "connected": ["global_average_pooling2d"]}]
    assert e.summary("functional", json.dumps(rows)) == FUNCTIONAL


NESTED = """\
Model: "sequential_1"
____________________________________________________________________
Layer (type)          Output Shape      Param #   Receptive field
====================================================================
base (Sequential)     (None, 6, 6, 4)   56        3
____________________________________________________________________
flatten_1 (Flatten)   (None, 144)       0         -
____________________________________________________________________
dense_2 (Dense)       (None, 1)         145       -
====================================================================
Total params: 201
Trainable params: 145
Non-trainable params: 56
____________________________________________________________________
"""


def test_summary_of_a_nested_model_shown_as_one_row():
    e = _native.Model()
    i = e.add_input("input_layer", [8, 8, 1])
    c = e.add_layer("Conv2D", "conv2d_3", "filters=4;kernel_size=3", [i])
    b = e.add_layer("BatchNormalization", "batch_normalization_1", "", [c])
    f = e.add_layer("Flatten", "flatten_1", "", [b])
    d = e.add_layer("Dense", "dense_2", "units=1", [f])
    e.build(1)
    for n in (c, b):                   # the nested base is frozen: all 56 of its parameters are non-trainable
        e.set_trainable(n, False)
    rows = [{"name": "base", "type": "Sequential", "nodes": [c, b], "output": b}, {"nodes": [f]}, {"nodes": [d]}]
    assert e.summary("sequential_1", json.dumps(rows)) == NESTED


def test_summary_rows_are_validated():
    e, nodes = _sequential()
    for rows, message in [("{", "invalid JSON"), ("{}", "JSON array"), ('[{"nodes": [99]}]', "node 99 does not exist"),
                          ('[{"nodes": [1, 2]}]', '"name" and "type"'), ('[{"nodes": [1], "connected": [3]}]', "list of strings"),
                          ('[{"nodes": "1"}]', '"nodes" list')]:
        with pytest.raises(ValueError, match=message):
            e.summary("m", rows)


# ---------- model file ----------
def _model(seed, optimizer="adam"):
    e = _native.Model()
    i = e.add_input("input_layer", [6, 6, 1])
    c = e.add_layer("Conv2D", "conv2d", "filters=2;kernel_size=3", [i])
    b = e.add_layer("BatchNormalization", "batch_normalization", "", [c])
    f = e.add_layer("Flatten", "flatten", "", [b])
    e.add_layer("Dense", "dense", "units=3", [f])
    e.build(seed)
    e.compile("mse", optimizer, "")
    return e


def _weights(e):
    out = []
    for node in range(5):
        for k, shape in enumerate(e.param_shapes(node)):
            a = np.empty(shape, np.float32)
            e.get_param(node, k, a)
            out.append(a)
    return out


def _slots(e):
    slots, count, iterations = e.optimizer_state_info()
    out = []
    for s in range(slots):
        a = np.empty(count, np.float32)
        e.get_optimizer_state(s, a)
        out.append(a)
    return out, iterations


def _train(e, steps=2):
    x = (np.arange(4 * 36, dtype=np.float32) % 7 / 7).reshape(4, 6, 6, 1)
    for _ in range(steps):
        e.train_step(x, np.zeros((4, 3), np.float32), 4)


def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if ".swiftcnn-tmp." in n)


def test_save_read_header_and_load_with_optimizer_state(tmp_path):
    path = tmp_path / "model.scnn"
    a = _model(1)
    _train(a)
    caller = {"kind": "model", "model": {"class": "Sequential", "layers": ["é", 1e-3, None, True]},
              "compile": {"loss": "mse"}, "arrays": "replaced by the engine"}
    a.save(path, json.dumps(caller), True)
    header = json.loads(_native.read_file_header(str(path)))
    assert {k: header[k] for k in ("kind", "model", "compile")} == {k: caller[k] for k in ("kind", "model", "compile")}
    assert [x["name"] for x in header["arrays"]] == [
        "conv2d/0", "conv2d/1", "batch_normalization/0", "batch_normalization/1", "batch_normalization/2",
        "batch_normalization/3", "dense/0", "dense/1", "optimizer/0", "optimizer/1"]
    assert header["arrays"][0]["shape"] == [3, 3, 1, 2] and header["optimizer_state"] == {"slots": 2, "iterations": 2}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()

    b = _model(2)
    assert b.load(path, True) is True
    for x, y in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(x, y)
    (sa, ia), (sb, ib) = _slots(a), _slots(b)
    assert ia == ib == 2 and all(np.array_equal(x, y) for x, y in zip(sa, sb))
    _train(a, 1)
    _train(b, 1)
    for x, y in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(x, y)          # training continues bit for bit

    c = _model(3)
    assert c.load(path, False) is False and c.optimizer_state_info()[2] == 0
    # Another optimizer (SGD without momentum has no slots) or another architecture: refused, nothing changes.
    d = _model(4, "sgd")
    before = _weights(d)
    with pytest.raises(ValueError, match="2 optimizer state slots"):
        d.load(path, True)
    other = _native.Model()
    i = other.add_input("x", [6, 6, 1])
    other.add_layer("Dense", "d", "units=3", [other.add_layer("Flatten", "f", "", [i])])
    other.build(1)
    with pytest.raises(ValueError, match="different architecture"):
        other.load(path, False)
    assert all(np.array_equal(x, y) for x, y in zip(before, _weights(d)))
    with pytest.raises(ValueError, match="JSON object"):
        a.save(tmp_path / "x.scnn", "[1, 2]", False)
    with pytest.raises(ValueError, match="invalid JSON"):
        a.save(tmp_path / "x.scnn", '{"a": 1, "a": 2}', False)
    assert sorted(os.listdir(tmp_path)) == ["model.scnn"]


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def test_modes_follow_the_umask(tmp_path):
    a = _model(1)
    old = os.umask(0o077)
    try:
        a.save(tmp_path / "private.scnn", "{}", False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "private.scnn").st_mode) == 0o600
    os.umask(0o022)
    try:
        a.save(tmp_path / "shared.scnn", "{}", False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "shared.scnn").st_mode) == 0o644


def _version1_file(path, weights, slots=(), iterations=0):
    """A file as `save_model` of the Python package wrote it (format version 1)."""
    arrays = [{"name": f"weight_{i}", "shape": list(w.shape)} for i, w in enumerate(weights)]
    arrays += [{"name": f"optimizer_slot_{s}", "shape": [len(a)]} for s, a in enumerate(slots)]
    header = {"kind": "model", "model": {}, "compile": {"loss": "mse", "metric": None, "optimizer": {},
              "optimizer_state": {"slots": len(slots), "iterations": iterations}}, "arrays": arrays}
    hb = json.dumps(header).encode()
    data = b"SWIFTCNN" + struct.pack("<IQ", 1, len(hb)) + hb + b"".join(np.asarray(a, "<f4").tobytes() for a in [*weights, *slots])
    path.write_bytes(data + struct.pack("<I", zlib.crc32(data)))


def test_version_1_files_written_by_earlier_releases_load(tmp_path):
    a = _model(1)
    _train(a, 3)
    slots, iterations = _slots(a)
    _version1_file(tmp_path / "old.scnn", _weights(a), slots, iterations)
    assert json.loads(_native.read_file_header(str(tmp_path / "old.scnn")))["arrays"][0]["name"] == "weight_0"
    b = _model(2)
    assert b.load(tmp_path / "old.scnn", True) is True
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    assert _slots(b)[1] == 3
    # A weights-only file of version 1 (save_weights).
    _version1_file(tmp_path / "old_weights.scnn", _weights(a))
    c = _model(3)
    c.load(tmp_path / "old_weights.scnn", False)
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(c)))


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "fifo.scnn"
    os.mkfifo(fifo)
    e = _model(1)
    for path, kind in [(fifo, "FIFO"), (tmp_path, "directory"), ("/dev/zero", "character device")]:
        start = time.monotonic()
        with pytest.raises(OSError, match=kind):
            _native.read_file_header(str(path))
        with pytest.raises(OSError, match=kind):
            e.load(path, True)
        assert time.monotonic() - start < 5           # refused up front: no blocking open, no endless read
    with pytest.raises(OSError, match="No such file"):
        e.load(tmp_path / "missing.scnn", False)


def _crafted(path, length, header, data=b""):
    hb = header.encode()
    body = b"SWIFTCNN" + struct.pack("<IQ", 2, len(hb) if length is None else length) + hb + data
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))


def test_every_length_is_bounded_by_the_file_size(tmp_path):
    path = tmp_path / "crafted.scnn"
    for length in (2**63, 2**64 - 1, 2**63 - 1, 2**40):
        _crafted(path, length, '{"arrays": []}')
        with pytest.raises(ValueError, match="exceeds the file"):
            _native.read_file_header(str(path))
    for shape in ("[1000000000]", "[4611686018427387904, 4]", "[-1]", "[2.0]"):
        _crafted(path, None, '{"arrays": [{"name": "a", "shape": %s}]}' % shape, b"\0" * 8)
        with pytest.raises(ValueError):
            _native.read_file_header(str(path))
    for count in ("9223372036854775807", "-1", "1.5"):
        _crafted(path, None, '{"arrays": [], "optimizer_state": {"slots": 0, "iterations": %s}}' % count)
        with pytest.raises(ValueError, match="iteration count"):
            _native.read_file_header(str(path))
    e = _model(1)
    e.save(path, "{}", True)
    good = path.read_bytes()
    for cut in (0, 7, 20, 24, len(good) // 2, len(good) - 1):
        path.write_bytes(good[:cut])
        with pytest.raises(ValueError):
            e.load(path, True)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="checksum"):
        _native.read_file_header(str(path))


def test_a_planted_link_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    target = tmp_path / "model.scnn"
    os.symlink(victim, target)
    _model(1).save(target, "{}", False)
    assert victim.read_text() == "keep" and not os.path.islink(target)
    assert _temporaries(tmp_path) == []


SAVER = textwrap.dedent("""
    import sys, numpy as np
    from swiftcnn import _native
    e = _native.Model()
    i = e.add_input("input_layer", [64])
    e.add_layer("Dense", "dense", "units=16384", [i])
    e.build(1)
    e.compile("mse", "adam", "")
    path = sys.argv[1]
    k = 0
    print("ready", flush=True)
    while True:
        k += 1
        e.set_param(1, 1, np.full(16384, k, np.float32))
        e.save(path, '{"kind": "weights", "k": %d}' % k, True)
""")


def test_kill_during_saves_keeps_the_previous_file_and_the_next_save_cleans_up(tmp_path):
    """A process killed (SIGKILL) in the middle of saving a 12 MB file, 12 times: the file on disk always loads
    with a consistent header and weights, and the next save removes the temporaries the killed processes left."""
    path = tmp_path / "model.scnn"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    reader = _native.Model()
    reader.add_layer("Dense", "dense", "units=16384", [reader.add_input("input_layer", [64])])
    reader.build(2)
    rng = random.Random(5)
    killed_mid_save = 0
    for _ in range(12):
        p = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        killed_mid_save += bool(_temporaries(tmp_path))
        if not path.exists():
            continue                               # killed before the first save finished
        k = json.loads(_native.read_file_header(str(path)))["k"]
        reader.load(path, False)
        bias = np.empty(16384, np.float32)
        reader.get_param(1, 1, bias)
        assert np.all(bias == k)                   # the header and the data come from the same save
    assert path.exists()
    left = _temporaries(tmp_path)
    # The next save, from this (live) process, removes the dead processes' temporaries.
    reader.save(tmp_path / "model.scnn", "{}", False)
    # Each saver removed the temporary of the one killed before it; at most the last one's is left.
    assert killed_mid_save >= 1 and len(left) <= 2, (killed_mid_save, left)
    assert _temporaries(tmp_path) == [], (left, os.listdir(tmp_path))


def test_mutated_files_raise_only_value_or_os_errors(tmp_path):
    """Truncations, bit flips with the checksum fixed, JSON edits of the header and crafted array entries: every
    read gives a result or a ValueError / OSError, never a crash, and a failed load changes nothing."""
    e = _model(1)
    _train(e, 1)
    good_path = tmp_path / "good.scnn"
    e.save(good_path, json.dumps({"kind": "model", "model": {"a": [1, 2, {"b": "c"}]}}), True)
    good = good_path.read_bytes()
    header_length = struct.unpack("<Q", good[12:20])[0]
    header, data = good[20:20 + header_length], good[20 + header_length:-4]
    rng = random.Random(11)
    path = tmp_path / "mutated.scnn"
    target = _model(2)

    def with_header(h):
        body = good[:12] + struct.pack("<Q", len(h)) + h + data
        return body + struct.pack("<I", zlib.crc32(body))

    outcomes = {"loaded": 0, "ValueError": 0, "OSError": 0}
    for k in range(800):
        kind = k % 4
        if kind == 0:
            mutated = good[:rng.randrange(len(good))]
        elif kind == 1:
            body = bytearray(good[:-4])
            for _ in range(rng.randint(1, 4)):
                body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
            mutated = bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))
        elif kind == 2:
            h = bytearray(header)
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(h))
                if rng.random() < 0.5:
                    h[i] = rng.choice(b'{}[]",:0123456789-eE.tfn \\')
                else:
                    del h[i]
            mutated = with_header(bytes(h))
        else:
            h = json.loads(header)
            entry = rng.choice(h["arrays"])
            entry["shape"] = rng.choice([[0], [-1], [2**31], [2**62], [2**63 - 1], [10**30], "x", [3, 3, 1, 2]])
            h["optimizer_state"]["iterations"] = rng.choice([2**63 - 1, -5, 1.5, "x", None, 2**53 + 1, 10**40, 3])
            mutated = with_header(json.dumps(h).encode())
        path.write_bytes(mutated)
        weights_before = _weights(target)
        try:
            _native.read_file_header(str(path))
            target.load(path, True)
            outcomes["loaded"] += 1
        except (ValueError, OSError) as error:
            outcomes[type(error).__name__] += 1
            assert all(np.array_equal(x, y) for x, y in zip(weights_before, _weights(target)))
    assert outcomes["ValueError"] > 400, outcomes
