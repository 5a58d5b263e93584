"""Mutates every file format swiftcnn reads and loads each mutant in a memory-capped child process: the model
file (`model.save`), the weights file (`save_weights`, written by the engine's format), and IDX files (raw and
gzip). Mutations: every truncation, bit flips with the CRC-32 fixed (so they reach the parser past the checksum),
JSON-header mutations (values replaced by huge, negative, NaN, wrong-typed ones, keys dropped or duplicated, the
header length field fixed), and crafted length fields (2^63, 2^64 − 1, beyond the file). A loader may raise only
ValueError or OSError; a signal, hang, any other exception, or a MemoryError (the child may allocate only
`SWIFTCNN_FUZZ_FILE_MEMORY` bytes beyond its start, far less than a trusted bogus length would need, but far more
than any of these small files can legitimately need) is a failure.

    python fuzz/file_fuzz.py --seconds 30          # the slice `make test` runs
    python fuzz/file_fuzz.py --inputs 20000        # the full campaign of `make fuzz`
"""
import argparse
import collections
import copy
import gzip
import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib

MAGIC = b"SWIFTCNN"
ALLOWED = ("ValueError", "OSError")
OP_TIMEOUT = 30.0


# ---- the child ----
def worker():
    import resource
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from swiftcnn import layers, models
    from swiftcnn.datasets import idx
    model = reference_model(models, layers)
    folder = tempfile.mkdtemp(prefix="scnn-file-fuzz-")
    # Capped after imports and the model: what is left is for reading one small file.
    extra = int(os.environ.get("SWIFTCNN_FUZZ_FILE_MEMORY", str(512 << 20)))
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (used + extra, used + extra))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(5)
        if len(header) < 5:
            return
        kind, size = header[0], struct.unpack("<I", header[1:])[0]
        data = stdin.read(size)
        path = os.path.join(folder, ["model.scnn", "weights.scnn", "data-idx.gz"][kind])
        with open(path, "wb") as f:
            f.write(data)
        try:
            if kind == 0:
                models.load_model(path)
            elif kind == 1:
                model.load_weights(path)
            else:
                idx.load(path)
            answer = "ok"
        except BaseException as e:
            # Subclasses (FileNotFoundError, UnicodeDecodeError, ...) count as their documented base.
            name = next((b.__name__ for b in (ValueError, OSError) if isinstance(e, b) and type(e) is not MemoryError),
                        type(e).__name__)
            answer = name + ": " + type(e).__name__ + ": " + (str(e).splitlines() or [""])[0][:200]
        out = answer.encode()
        stdout.write(struct.pack("<I", len(out)) + out)
        stdout.flush()


def reference_model(models, layers):
    model = models.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"), layers.MaxPooling2D(),
                               layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# ---- the parent: seeds and mutations ----
def seeds(folder):
    """Valid files of each format, written by swiftcnn itself."""
    import numpy as np
    from swiftcnn import layers, models
    model = reference_model(models, layers)
    model.fit(np.random.default_rng(0).random((4, 6, 6, 1), dtype=np.float32), np.array([0, 1, 2, 0]), epochs=1,
              verbose=0)
    model.save(os.path.join(folder, "model.scnn"))
    model.save_weights(os.path.join(folder, "weights.scnn"))
    with open(os.path.join(folder, "model.scnn"), "rb") as f:
        model_file = f.read()
    with open(os.path.join(folder, "weights.scnn"), "rb") as f:
        weights_file = f.read()
    raw_idx = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (3, 4, 4)) + bytes(range(48))
    return {0: model_file, 1: weights_file, 2: gzip.compress(raw_idx, mtime=0), 3: raw_idx}


def split(data):
    """(header JSON bytes, arrays + CRC) of a SWIFTCNN file, or None."""
    if not data.startswith(MAGIC) or len(data) < 20:
        return None
    length = struct.unpack("<Q", data[12:20])[0]
    if 20 + length > len(data):
        return None
    return data[20:20 + length], data[20 + length:-4]


def assemble(header, body, version=2, length=None, crc=True):
    out = MAGIC + struct.pack("<IQ", version, len(header) if length is None else length) + header + body
    return out + struct.pack("<I", zlib.crc32(out) if crc else 0)


def fix_crc(data):
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4])) if len(data) >= 4 else data


NASTY = [0, -1, 2**31, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 10**30, -2**63, 1e300, -1e300, 1.5, 0.5,
         "", "x", "nan", None, True, [], {}, [2**62, 2**62], [-1], [0], [1, 2, 3, 4, 5, 6, 7, 8, 9], "Conv2D",
         "relu", {"a": 1}]


def mutate_json(obj, rng):
    """One random structural mutation somewhere in a decoded JSON value."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])

    walk(obj, [])
    path = rng.choice(paths)
    if not path:
        return copy.deepcopy(rng.choice(NASTY))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.random()
    if action < 0.6:
        parent[key] = copy.deepcopy(rng.choice(NASTY))
    elif action < 0.75 and isinstance(parent, dict):
        del parent[key]
    elif action < 0.85 and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * rng.choice([-1, 2, 1000, 2**31, 2**62]) + rng.choice([0, 1, -1])
    else:
        parent[key] = copy.deepcopy(rng.choice(NASTY))
    return obj


def mutants(seed_files, rng):
    """Yields (loader kind, bytes, mutation name), forever: the fixed mutations (every truncation, crafted fields)
    alternating with random ones, so that a short run sees both kinds; then random ones only."""
    fixed, random_ones = fixed_mutants(seed_files), random_mutants(seed_files, rng)
    for item in fixed:
        yield item
        yield next(random_ones)
    yield from random_ones


def fixed_mutants(seed_files):
    formats = [(0, seed_files[0]), (1, seed_files[1]), (2, seed_files[2]), (2, seed_files[3])]
    for kind, data in formats:
        for n in range(len(data)):
            yield kind, data[:n], "truncation"
    for kind, data in formats[:2]:
        header, body = split(data)
        version = struct.unpack("<I", data[8:12])[0]
        for length in (2**63, 2**63 - 1, 2**64 - 1, len(data), len(data) + 1, 2**32, 0):
            yield kind, assemble(header, body, version=version, length=length), "crafted length"
        for crafted in (0, 1, 2, 3, 2**32 - 1):
            yield kind, assemble(header, body, version=crafted), "crafted version"
        yield kind, data[:-4] + b"\0\0\0\0", "wrong crc"
        for target in ("/dev/zero", "/dev/null", "/proc/self/mem"):
            yield kind, target.encode(), "device path as content"


def random_mutants(seed_files, rng):
    formats = [(0, seed_files[0]), (1, seed_files[1]), (2, seed_files[2]), (2, seed_files[3])]
    while True:
        kind, data = rng.choice(formats)
        choice = rng.random()
        if kind == 2:
            raw = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            yield kind, bytes(raw), "bit flip"
        elif choice < 0.45:
            raw = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                raw[rng.randrange(len(raw) - 4)] ^= 1 << rng.randrange(8)
            yield kind, fix_crc(bytes(raw)), "bit flip, crc fixed"
        else:
            header, body = split(data)
            obj = json.loads(header)
            for _ in range(rng.randint(1, 3)):
                obj = mutate_json(obj, rng)
            text = json.dumps(obj, allow_nan=True)
            if rng.random() < 0.1:   # a duplicated key, which json.loads would silently collapse
                text = text.replace("{", '{"kind": "model", ', 1)
            if rng.random() < 0.2:   # body cut or extended to match a mutated shape, or not
                body = body[:rng.randrange(len(body) + 1)] if rng.random() < 0.5 else body + bytes(rng.randrange(64))
            yield kind, assemble(text.encode(), body, version=struct.unpack("<I", data[8:12])[0]), "json mutation, crc fixed"


class Worker:
    def __init__(self):
        self.process = None

    def run(self, kind, data):
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.process.stdin.write(bytes([kind]) + struct.pack("<I", len(data)) + data)
            self.process.stdin.flush()
        except BrokenPipeError:
            return None, self.death()
        ready, _, _ = select.select([self.process.stdout], [], [], OP_TIMEOUT)
        if not ready:
            self.process.kill()
            self.process.wait()
            self.process = None
            return None, f"hang: no answer within {OP_TIMEOUT:.0f} s"
        header = self.process.stdout.read(4)
        if len(header) < 4:
            return None, self.death()
        return self.process.stdout.read(struct.unpack("<I", header)[0]).decode(), None

    def death(self):
        code = self.process.wait()
        stderr = self.process.stderr.read().decode(errors="replace")[-1500:]
        self.process = None
        return f"crash: {'signal %d' % -code if code < 0 else 'exit status %d' % code}\n{stderr}"

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--inputs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-corpus", default=None, help="write the seed files into this folder and stop")
    parser.add_argument("--crashes-only", action="store_true",
                        help="fail only on signals and hangs (exceptions outside ValueError/OSError are counted)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    if args.seconds is None and args.inputs is None:
        args.seconds = 30
    folder = tempfile.mkdtemp(prefix="scnn-file-seeds-")
    seed_files = seeds(folder)
    if args.save_corpus:
        os.makedirs(args.save_corpus, exist_ok=True)
        for name, kind in (("model.scnn", 0), ("weights.scnn", 1), ("data-idx.gz", 2), ("data-idx", 3)):
            with open(os.path.join(args.save_corpus, name), "wb") as f:
                f.write(seed_files[kind])
        return 0
    rng = random.Random(args.seed)
    worker_process = Worker()
    counts, outcomes, failures = collections.Counter(), collections.Counter(), []
    start = time.monotonic()
    names = {0: "model file", 1: "weights file", 2: "IDX file"}
    for kind, data, mutation in mutants(seed_files, rng):
        if args.seconds is not None and time.monotonic() - start >= args.seconds:
            break
        if args.inputs is not None and counts["inputs"] >= args.inputs:
            break
        answer, failure = worker_process.run(kind, data)
        counts["inputs"] += 1
        counts[f"{names[kind]}: {mutation}"] += 1
        if failure is None:
            name = answer.split(":")[0]
            outcomes[name] += 1
            if name != "ok" and name not in ALLOWED:
                if not args.crashes_only:
                    failure = "exception outside ValueError/OSError: " + answer
        else:
            outcomes[failure.split(":")[0]] += 1
        if failure is not None:
            failures.append((names[kind], mutation, data[:200], failure))
    worker_process.stop()
    elapsed = time.monotonic() - start
    undocumented = sum(v for k, v in outcomes.items() if k not in ALLOWED and k != "ok" and not k.startswith(("crash", "hang")))
    print(f"file fuzz: {counts['inputs']} inputs in {elapsed:.0f} s, {len(failures)} failures "
          f"({undocumented} inputs raised an exception outside ValueError/OSError"
          f"{', not counted as failures (--crashes-only)' if args.crashes_only else ''})")
    print("  mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "inputs"))
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    seen = set()
    for fmt, mutation, head, failure in failures:
        key = (fmt, failure.splitlines()[0][:100])
        if key in seen:
            continue
        seen.add(key)
        print(f"FAILURE [{fmt}, {mutation}] {failure.strip()[:1200]}\n  input starts {head[:120]!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
