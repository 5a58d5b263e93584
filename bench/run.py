"""Side-by-side benchmark: the same model, data and thread count in swiftcnn and its peers, in one run.

    python bench/run.py [--quick] [--threads 2] [--workloads W1,W2] [--sections throughput,gemm,fit]

Sections:
- throughput: training and inference images/s (median of steady-state steps, warm-up excluded) in swiftcnn, Keras 3,
  PyTorch and, for inference, ONNX Runtime (W1, W2); batch-1 latency (W2).
- gemm: GFLOP/s of the engine's GEMM against NumPy's `@` on the square and the convolution shapes, 1 and 2 threads.
- fit: a 5-epoch `fit` on Fashion-MNIST (1 epoch with --quick) for W1 and W3: test accuracy and peak RSS.

The limit: a register-only FMA loop (bench/peak_fma.c, built with the system C compiler) measures the machine's peak
GFLOP/s per instruction set at the benchmark's thread count; every workload's and GEMM's GFLOP/s is printed as a fraction
of the peak of the instruction set swiftcnn ran with (printed with the CPU model).

Each (framework, workload) runs in its own subprocess (so its peak RSS is its own); repetitions alternate between
frameworks. Prints the tables and the goals, and writes everything as JSON to bench/results/<date>.json.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ["swiftcnn", "keras", "torch", "ort"]
GEMM_SHAPES = [(1024, 1024, 1024), (43264, 32, 9), (7744, 64, 288), (576, 64, 576)]   # M, N, K; the last 3 are W1's convs
GEMM_THREADS = [1, 2]


def _limit_threads(threads):
    # Before NumPy, torch or TensorFlow is imported, so their BLAS / OpenMP pools take it.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def _median_time(fn, n, warmup):
    import time
    times = []
    for i in range(warmup + n):
        t = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(framework, workload, threads, steps):
    """Runs inside the subprocess: times training steps, inference batches and batch-1 calls; prints one JSON line."""
    _limit_threads(threads)
    import numpy as np
    rng = np.random.default_rng(0)
    spec = WORKLOADS[workload]
    batch, shape = spec["batch"], spec["shape"]
    x = rng.uniform(size=(batch,) + shape).astype(np.float32)
    y = rng.integers(0, spec["classes"], size=batch)
    xi = rng.uniform(size=(spec["infer_batch"],) + shape).astype(np.float32)
    bench = BUILDERS[framework](workload, threads)
    result = {"params": bench["params"]}
    if bench["train"] is not None:
        result["train"] = batch / _median_time(lambda: bench["train"](x, y), steps, warmup=3)
    result["infer"] = spec["infer_batch"] / _median_time(lambda: bench["infer"](xi), max(steps // 2, 3), warmup=2)
    if spec.get("latency"):
        # Each framework's fastest documented call for one image.
        x1 = xi[:1]
        timed = [(_median_time(lambda: call(x1), 2 * steps, warmup=5), name) for name, call in bench["single"].items()]
        best, name = min(timed)
        result["latency_ms"], result["latency_call"] = best * 1000, name
    result["rss_mib"] = _peak_rss_mib()
    if framework == "swiftcnn":
        import swiftcnn
        result["isa"] = swiftcnn.instruction_set()
    print(json.dumps(result))


# Each workload is one layer list, built identically in every framework.
# ("conv", filters, padding) with ReLU, ("pool",), ("flatten",), ("dropout", rate), ("dense", units, activation)
def _vgg16_base():
    spec = []
    for filters, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        spec += [("conv", filters, "same")] * convs + [("pool",)]
    return spec


# ort: also run in ONNX Runtime (inference only); latency: time batch-1 calls; fit: Fashion-MNIST accuracy run.
WORKLOADS = {
    "W1": {"shape": (28, 28, 1), "batch": 64, "infer_batch": 256, "classes": 10, "optimizer": "rmsprop",
           "ort": True, "fit": True,
           "layers": [("conv", 32, "valid"), ("pool",), ("conv", 64, "valid"), ("pool",), ("conv", 64, "valid"),
                      ("flatten",), ("dense", 64, "relu"), ("dense", 10, "softmax")]},
    "W2": {"shape": (150, 150, 3), "batch": 20, "infer_batch": 20, "classes": 2, "optimizer": "adam",
           "ort": True, "latency": True,
           "layers": [("conv", 32, "valid"), ("pool",), ("conv", 64, "valid"), ("pool",), ("conv", 128, "valid"),
                      ("pool",), ("conv", 128, "valid"), ("pool",), ("flatten",), ("dropout", 0.5),
                      ("dense", 512, "relu"), ("dense", 1, "sigmoid")]},
    "W3": {"shape": (28, 28, 1), "batch": 100, "infer_batch": 256, "classes": 10, "optimizer": "adam", "fit": True,
           "layers": [("conv", 16, "same"), ("conv", 16, "same"), ("pool",), ("conv", 32, "same"), ("conv", 32, "same"),
                      ("pool",), ("conv", 64, "same"), ("conv", 64, "same"), ("pool",), ("flatten",),
                      ("dense", 50, "relu"), ("dropout", 0.5), ("dense", 10, "softmax")]},
    "W5": {"shape": (32, 32, 3), "batch": 32, "infer_batch": 32, "classes": 2, "optimizer": "rmsprop",
           "layers": _vgg16_base() + [("flatten",), ("dense", 1, "sigmoid")]},
}


def _frameworks(workload):
    return [fw for fw in FRAMEWORKS if fw != "ort" or WORKLOADS[workload].get("ort")]


def _loss(spec):
    return "binary_crossentropy" if spec["layers"][-1][2] == "sigmoid" else "sparse_categorical_crossentropy"


def _keras_like(L, spec):
    out = []
    for item in spec["layers"]:
        kind = item[0]
        if kind == "conv":
            out.append(L.Conv2D(item[1], 3, padding=item[2], activation="relu"))
        elif kind == "pool":
            out.append(L.MaxPooling2D(2))
        elif kind == "flatten":
            out.append(L.Flatten())
        elif kind == "dropout":
            out.append(L.Dropout(item[1]))
        else:
            out.append(L.Dense(item[1], activation=item[2]))
    return out


def swiftcnn_model(workload, threads):
    import swiftcnn
    from swiftcnn import layers, models
    swiftcnn.set_num_threads(threads)
    spec = WORKLOADS[workload]
    model = models.Sequential([layers.Input(shape=spec["shape"])] + _keras_like(layers, spec))
    model.compile(spec["optimizer"], _loss(spec), metrics=["accuracy"])
    return model


def build_swiftcnn(workload, threads):
    model = swiftcnn_model(workload, threads)
    return {"train": lambda x, y: model.train_on_batch(x, y), "infer": lambda x: model.predict(x, batch_size=len(x)),
            "single": {"predict_on_batch": model.predict_on_batch, "model(x)": model}, "params": model.count_params()}


def keras_model(workload, threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    spec = WORKLOADS[workload]
    model = keras.Sequential([keras.Input(spec["shape"])] + _keras_like(keras.layers, spec))
    model.compile(spec["optimizer"], _loss(spec), metrics=["accuracy"])
    return model


def build_keras(workload, threads):
    model = keras_model(workload, threads)
    return {"train": lambda x, y: model.train_on_batch(x, y), "infer": lambda x: model.predict_on_batch(x),
            "single": {"model(x, training=False)": lambda x: model(x, training=False),
                       "predict_on_batch": model.predict_on_batch},
            "params": model.count_params()}


def torch_model(workload):
    """The workload as an nn.Sequential; the final softmax is left to the loss, as PyTorch code does."""
    import torch
    import torch.nn as nn
    spec = WORKLOADS[workload]
    h, w, c = spec["shape"]
    mods, channels = [], c
    for item in spec["layers"]:
        kind = item[0]
        if kind == "conv":
            mods += [nn.Conv2d(channels, item[1], 3, padding=1 if item[2] == "same" else 0), nn.ReLU()]
            channels = item[1]
        elif kind == "pool":
            mods.append(nn.MaxPool2d(2))
        elif kind == "flatten":
            mods.append(nn.Flatten())
        elif kind == "dropout":
            mods.append(nn.Dropout(item[1]))
        else:
            mods.append(nn.LazyLinear(item[1]))
            if item[2] == "relu":
                mods.append(nn.ReLU())
            elif item[2] == "sigmoid":
                mods.append(nn.Sigmoid())
    model = nn.Sequential(*mods)
    model(torch.zeros(1, c, h, w))   # materialise the lazy layers
    return model


def torch_training(workload, threads):
    """(model, train_step(x NHWC numpy, y numpy)) with the workload's optimizer and loss."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    spec = WORKLOADS[workload]
    model = torch_model(workload)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7) if spec["optimizer"] == "adam" else \
        torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    binary = spec["layers"][-1][2] == "sigmoid"
    loss_fn = nn.BCELoss() if binary else nn.CrossEntropyLoss()   # softmax is folded into the loss for PyTorch

    def train(xt, y):
        opt.zero_grad()
        out = model(xt)
        target = torch.from_numpy(y.astype("float32")).reshape(-1, 1) if binary else torch.from_numpy(y)
        loss_fn(out, target).backward()
        opt.step()
    return model, train


def _nchw(x):
    return x.transpose(0, 3, 1, 2).copy()


def build_torch(workload, threads):
    import torch
    model, train = torch_training(workload, threads)

    def infer(x):
        with torch.no_grad():
            return model(torch.from_numpy(_nchw(x)))
    return {"train": lambda x, y: train(torch.from_numpy(_nchw(x)), y), "infer": infer,
            "single": {"no_grad model(x)": infer}, "params": sum(p.numel() for p in model.parameters())}


def export_onnx(workload, path):
    """Writes the PyTorch model of the workload (in eval mode, with the softmax of the Keras model) as ONNX."""
    import torch
    import torch.nn as nn
    spec = WORKLOADS[workload]
    model = torch_model(workload)
    if spec["layers"][-1][2] == "softmax":
        model.append(nn.Softmax(dim=1))
    model.eval()
    h, w, c = spec["shape"]
    # The TorchScript exporter needs only the `onnx` package (the dynamo one also needs onnxscript).
    torch.onnx.export(model, (torch.zeros(1, c, h, w),), path, dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    print(sum(p.numel() for p in model.parameters()))


def build_ort(workload, threads):
    import tempfile

    import onnxruntime as ort
    # Exported in a child process, so that torch's memory is not counted in ONNX Runtime's peak RSS.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        proc = subprocess.run([sys.executable, __file__, "--export-onnx", workload, path], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("ONNX export failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    params = int(proc.stdout.strip().splitlines()[-1])

    def infer(x):
        return session.run(None, {"x": _nchw(x)})[0]
    return {"train": None, "infer": infer, "single": {"session.run": infer}, "params": params}


BUILDERS = {"swiftcnn": build_swiftcnn, "keras": build_keras, "torch": build_torch, "ort": build_ort}


def fit_worker(framework, workload, threads, epochs):
    """Runs inside the subprocess: `fit` on Fashion-MNIST for `epochs`, then test accuracy; prints one JSON line."""
    _limit_threads(threads)
    import time

    import numpy as np
    from swiftcnn.datasets import fashion_mnist   # reads the local files; a few MiB of library in every process
    (x, y), (xt, yt) = fashion_mnist.load_data()
    # The textbook recipe: float32 / 255 with a channel axis (in place, so the data is not held twice meanwhile).
    x, xt = (a.reshape(a.shape + (1,)).astype(np.float32) for a in (x, xt))
    x /= 255
    xt /= 255
    y, yt = y.astype(np.int64), yt.astype(np.int64)
    spec = WORKLOADS[workload]
    start = time.perf_counter()
    if framework == "torch":
        import torch
        torch.manual_seed(0)
        model, train = torch_training(workload, threads)
        xs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for s in range(0, len(x), spec["batch"]):
                idx = order[s:s + spec["batch"]]
                train(xs[idx], y[idx.numpy()])
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(torch.from_numpy(np.ascontiguousarray(xt[s:s + 1000].transpose(0, 3, 1, 2))))
                              for s in range(0, len(xt), 1000)]).argmax(1).numpy()
        acc = float((pred == yt).mean())
    else:
        if framework == "swiftcnn":
            import swiftcnn
            swiftcnn.utils.set_random_seed(0)
            model = swiftcnn_model(workload, threads)
        else:
            import keras
            keras.utils.set_random_seed(0)
            model = keras_model(workload, threads)
        model.fit(x, y, batch_size=spec["batch"], epochs=epochs, verbose=0)
        acc = float(model.evaluate(xt, yt, verbose=0)[1])
    print(json.dumps({"acc": acc, "fit_s": time.perf_counter() - start, "rss_mib": _peak_rss_mib(), "epochs": epochs}))


def gemm_worker(framework, threads, reps):
    """Runs inside the subprocess (thread variables already set by the parent): GFLOP/s per shape; one JSON line."""
    _limit_threads(threads)
    import numpy as np
    if framework == "swiftcnn":
        import swiftcnn
        from swiftcnn import _native
        swiftcnn.set_num_threads(threads)
        matmul = _native.matmul
    else:
        matmul = np.matmul
    rng = np.random.default_rng(0)
    gflops = {}
    for m, n, k in GEMM_SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        gflops[_shape_name((m, n, k))] = 2 * m * n * k / _median_time(lambda: matmul(a, b), reps, warmup=2) / 1e9
    result = {"gflops": gflops}
    if framework == "swiftcnn":
        result["isa"] = swiftcnn.instruction_set()
    print(json.dumps(result))


def _shape_name(shape):
    return "x".join(map(str, shape))


def python_for_peers():
    venv = os.path.join(HERE, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def run_child(args, env=None):
    """Runs this file in a subprocess; returns its JSON line, or {"error": last stderr line}."""
    proc = subprocess.run([python_for_peers(), __file__] + args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _alternating(items, r):
    return items if r % 2 == 0 else items[::-1]


def run_throughput(workloads, threads, repeats, steps):
    runs = {}
    for workload in workloads:
        for r in range(repeats):
            for fw in _alternating(_frameworks(workload), r):
                runs.setdefault((workload, fw), []).append(
                    run_child(["--worker", fw, workload, "--threads", str(threads), "--steps", str(steps)]))
    rows = {}
    for (workload, fw), results in runs.items():
        ok = [res for res in results if "error" not in res]
        if not ok:
            rows[(workload, fw)] = {"error": results[0]["error"]}
            continue
        row = {k: statistics.median(res[k] for res in ok) for k in ("train", "infer", "latency_ms", "rss_mib") if k in ok[0]}
        row.update({k: ok[0][k] for k in ("params", "latency_call", "isa") if k in ok[0]})
        rows[(workload, fw)] = row
    return rows


def run_fit(workloads, threads, epochs):
    out = {}
    for i, workload in enumerate(w for w in workloads if WORKLOADS[w].get("fit")):
        for fw in _alternating(["swiftcnn", "keras", "torch"], i):
            out[(workload, fw)] = run_child(["--fit", fw, workload, "--threads", str(threads), "--epochs", str(epochs)])
    return out


def run_gemm(repeats, reps):
    runs = {}
    for r in range(repeats):
        for threads in GEMM_THREADS:
            # The BLAS thread count must be in the environment before NumPy is imported.
            env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
                   "MKL_NUM_THREADS": str(threads)}
            for fw in _alternating(["swiftcnn", "numpy"], r):
                runs.setdefault((fw, threads), []).append(
                    run_child(["--gemm", fw, "--threads", str(threads), "--reps", str(reps)], env=env))
    rows = []
    for threads in GEMM_THREADS:
        for shape in GEMM_SHAPES:
            name = _shape_name(shape)
            row = {"shape": name, "threads": threads}
            for fw in ("swiftcnn", "numpy"):
                ok = [res["gflops"][name] for res in runs[(fw, threads)] if "error" not in res]
                row[fw] = statistics.median(ok) if ok else None
                if not ok:
                    row[fw + "_error"] = runs[(fw, threads)][0]["error"]
            row["ratio"] = row["swiftcnn"] / row["numpy"] if row["swiftcnn"] and row["numpy"] else None
            row["isa"] = next((res["isa"] for res in runs[("swiftcnn", threads)] if "isa" in res), None)
            rows.append(row)
    return rows


def forward_flops(workload):
    """Multiply-adds × 2 of one image's forward pass: the 3×3 convolutions and Dense layers (pooling, activations
    and the rest are not counted)."""
    spec = WORKLOADS[workload]
    h, w, c = spec["shape"]
    flops = 0
    for item in spec["layers"]:
        if item[0] == "conv":
            if item[2] == "valid":
                h, w = h - 2, w - 2
            flops += 2 * h * w * 9 * c * item[1]
            c = item[1]
        elif item[0] == "pool":
            h, w = h // 2, w // 2
        elif item[0] == "flatten":
            c, h, w = h * w * c, 1, 1
        elif item[0] == "dense":
            flops += 2 * c * item[1]
            c = item[1]
    return flops


def training_flops(workload):
    """A training step per image: forward, input gradient and weight gradient, each the forward's FLOPs (the first
    layer's input gradient is not computed, so this slightly overstates the work)."""
    return 3 * forward_flops(workload)


def measure_peak(threads):
    """{"cpu": model name, "avx2": {"1": GFLOP/s, str(threads): GFLOP/s}, "avx512": {...}} from bench/peak_fma.c, or {}
    when there is no C compiler."""
    import shutil
    import tempfile
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_fma")
        if subprocess.run([cc, "-O2", "-pthread", "-o", exe, os.path.join(HERE, "peak_fma.c")]).returncode != 0:
            return {}
        proc = subprocess.run([exe, str(threads)], capture_output=True, text=True)
        return json.loads(proc.stdout) if proc.returncode == 0 else {}


def _higher_peak(a, b):
    out = {**b, **a}
    for isa in ("avx2", "avx512"):
        if isa in a and isa in b:
            out[isa] = {t: max(a[isa][t], b[isa].get(t, 0)) for t in a[isa]}
    return out


def peak_for(peak, isa, threads):
    return peak.get(isa or "", {}).get(str(threads))


# ---- report ----
LABELS = {"swiftcnn": "swiftcnn", "keras": "Keras 3", "torch": "PyTorch", "ort": "ONNX RT"}


def _fmt(value, spec):
    return "—" if value is None else format(value, spec)


def _goals(rows, gemm, epochs, peak, threads):
    """[(goal, measured text, status)]: status PASS / MISS, or "not run" when a number is missing."""
    def get(workload, fw, key):
        return rows.get((workload, fw), {}).get(key)

    def ratio(a, b):
        return a / b if a is not None and b else None

    def line(goal, value, need, higher_is_better=True, what="ratio"):
        if value is None:
            return goal, "—", "not run"
        ok = value >= need if higher_is_better else value <= need
        return goal, f"{what} {value:.2f} (needs {'≥' if higher_is_better else '≤'} {need:g})", "PASS" if ok else "MISS"

    goals = []
    for workload in ("W1", "W2", "W3", "W5"):
        for fw in ("keras", "torch"):
            goals.append(line(f"{workload} training ≥ 1.5× {LABELS[fw]}",
                              ratio(get(workload, "swiftcnn", "train"), get(workload, fw, "train")), 1.5))
    goals += [
        line("W1 inference (batch 256) ≥ 1.0× ONNX Runtime", ratio(get("W1", "swiftcnn", "infer"), get("W1", "ort", "infer")), 1.0),
        line("W2 batch-1 latency ≤ ONNX Runtime's", ratio(get("W2", "swiftcnn", "latency_ms"), get("W2", "ort", "latency_ms")),
             1.0, higher_is_better=False, what="latency ratio"),
    ]
    for g in gemm:
        goals.append(line(f"GEMM {g['shape']} ({g['threads']} thread{'s' if g['threads'] > 1 else ''}) ≥ 1.0× NumPy",
                          g["ratio"], 1.0))
    if gemm == []:
        goals.append(line("GEMM 1024³ and the conv shapes (1 and 2 threads) ≥ 1.0× NumPy", None, 0))
    w5 = get("W5", "swiftcnn", "train")
    w5_peak = peak_for(peak, get("W5", "swiftcnn", "isa"), threads)
    goals.append(line("W5 training (convolutions: > 99 % of its FLOPs) ≥ 70 % of peak",
                      w5 * training_flops("W5") / 1e9 / w5_peak if w5 and w5_peak else None, 0.70, what="fraction"))
    goals.append(line(f"W1 {epochs}-epoch fit peak RSS ≤ 1/3 of Keras's",
                      ratio(get("W1", "swiftcnn", "fit_rss_mib"), get("W1", "keras", "fit_rss_mib")), 1 / 3,
                      higher_is_better=False, what="swiftcnn/Keras"))
    for workload in ("W1", "W3"):
        peers = [get(workload, fw, "acc") for fw in ("keras", "torch") if get(workload, fw, "acc") is not None]
        ours = get(workload, "swiftcnn", "acc")
        gap = 100 * (ours - max(peers)) if ours is not None and peers else None
        goals.append(line(f"{workload} accuracy within 0.5 points of the better peer", gap, -0.5, what="points vs best"))
    return goals


def report(rows, gemm, goals, epochs, quick, peak, threads):
    isas = sorted({row["isa"] for row in rows.values() if row.get("isa")} | {g["isa"] for g in gemm if g.get("isa")})
    print(f"CPU: {peak.get('cpu', 'unknown')}; swiftcnn instruction set: {', '.join(isas) or 'unknown'}; {threads} threads")
    for isa in ("avx2", "avx512"):
        if isa in peak:
            print(f"peak FMA throughput ({isa}, register-only loop): {peak[isa]['1']:.1f} GFLOP/s on 1 thread, "
                  f"{peak[isa].get(str(threads), float('nan')):.1f} on {threads}")
    print()
    head = (f"{'workload':8} {'framework':9} {'train img/s':>11} {'ratio':>6} {'infer img/s':>11} {'ratio':>6} "
            f"{'b1 lat ms':>9} {f'acc {epochs}ep':>8} {'fit RSS':>8} {'RSS MiB':>8}  params")
    print(head)
    for workload in dict.fromkeys(w for w, _ in rows):
        ours = rows.get((workload, "swiftcnn"), {})
        for fw in _frameworks(workload):
            if (workload, fw) not in rows:
                continue
            row = rows[(workload, fw)]
            if "error" in row:
                print(f"{workload:8} {LABELS[fw]:9} missing: {row['error'][:90]}")
                continue
            rt = ours["train"] / row["train"] if "train" in row and "train" in ours else None
            ri = ours["infer"] / row["infer"] if "infer" in row and "infer" in ours else None
            print(f"{workload:8} {LABELS[fw]:9} {_fmt(row.get('train'), '11,.0f')} {_fmt(rt, '6.2f')} "
                  f"{_fmt(row.get('infer'), '11,.0f')} {_fmt(ri, '6.2f')} {_fmt(row.get('latency_ms'), '9.2f')} "
                  f"{_fmt(row.get('acc'), '8.4f')} {_fmt(row.get('fit_rss_mib'), '8.0f')} {_fmt(row.get('rss_mib'), '8.0f')}  "
                  f"{_fmt(row.get('params'), ',')}")
            if "fit_error" in row:
                print(f"{'':8} {'':9} fit failed: {row['fit_error'][:90]}")
    print(f"\n{'workload':8} {'framework':9} {'train GFLOP/s':>13} {'% peak':>7} {'infer GFLOP/s':>13} {'% peak':>7}")
    for workload in dict.fromkeys(w for w, _ in rows):
        ours_peak = peak_for(peak, rows.get((workload, "swiftcnn"), {}).get("isa"), threads)
        for fw in _frameworks(workload):
            row = rows.get((workload, fw), {})
            if "error" in row or not row:
                continue
            train = row["train"] * training_flops(workload) / 1e9 if row.get("train") else None
            infer = row["infer"] * forward_flops(workload) / 1e9 if row.get("infer") else None
            pct = lambda v: 100 * v / ours_peak if v is not None and ours_peak else None
            print(f"{workload:8} {LABELS[fw]:9} {_fmt(train, '13.1f')} {_fmt(pct(train), '7.1f')} "
                  f"{_fmt(infer, '13.1f')} {_fmt(pct(infer), '7.1f')}")
    print("GFLOP/s from the convolution and Dense FLOPs of the model (training: 3 × forward); % of the peak FMA rate "
          "of swiftcnn's instruction set at this thread count, for every framework")
    print("ratio = swiftcnn ÷ peer (higher is better for swiftcnn); b1 lat = batch-1 latency, each framework's fastest "
          f"call; acc and fit RSS: Fashion-MNIST `fit`, {epochs} epoch{'s' if epochs > 1 else ''}"
          + (" (quick mode)" if quick else "") + "; RSS MiB: peak of the throughput run")
    if gemm:
        print(f"\n{'GEMM M×N×K':16} {'threads':>7} {'swiftcnn GFLOP/s':>16} {'% peak':>7} {'NumPy GFLOP/s':>14} "
              f"{'% peak':>7} {'ratio':>6}")
        for g in gemm:
            p = peak_for(peak, g.get("isa"), g["threads"])
            pct = lambda v: 100 * v / p if v is not None and p else None
            print(f"{g['shape']:16} {g['threads']:7} {_fmt(g['swiftcnn'], '16.1f')} {_fmt(pct(g['swiftcnn']), '7.1f')} "
                  f"{_fmt(g['numpy'], '14.1f')} {_fmt(pct(g['numpy']), '7.1f')} {_fmt(g['ratio'], '6.2f')}")
    print("\ngoals")
    for goal, measured, status in goals:
        print(f"  {status:7} {goal:58} {measured}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workloads", default="W1,W2,W3,W5")
    parser.add_argument("--sections", default="throughput,gemm,fit")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--fit", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--gemm", help=argparse.SUPPRESS)
    parser.add_argument("--export-onnx", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--reps", type=int)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1], args.threads, args.steps)
    if args.fit:
        return fit_worker(args.fit[0], args.fit[1], args.threads, args.epochs)
    if args.gemm:
        return gemm_worker(args.gemm, args.threads, args.reps)
    if args.export_onnx:
        return export_onnx(*args.export_onnx)

    # The machine may be shared: the peak is measured before and after the runs and the higher figure kept.
    peak_before = measure_peak(args.threads)
    repeats = 1 if args.quick else 3
    epochs = 1 if args.quick else 5
    workloads = args.workloads.split(",")
    sections = args.sections.split(",")
    rows = run_throughput(workloads, args.threads, repeats, 10 if args.quick else 40) if "throughput" in sections else {}
    if "fit" in sections:
        for key, res in run_fit(workloads, args.threads, epochs).items():
            row = rows.setdefault(key, {})
            if "error" in res:
                row["fit_error"] = res["error"]
            else:
                row.update(acc=res["acc"], fit_rss_mib=res["rss_mib"], fit_s=res["fit_s"])
    gemm = run_gemm(repeats, 5 if args.quick else 20) if "gemm" in sections else []
    peak = _higher_peak(peak_before, measure_peak(args.threads))
    goals = _goals(rows, gemm, epochs, peak, args.threads)
    report(rows, gemm, goals, epochs, args.quick, peak, args.threads)

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", datetime.date.today().isoformat() + ".json")
    with open(path, "w") as f:
        json.dump({"threads": args.threads, "quick": args.quick, "fit_epochs": epochs, "peak_gflops": peak,
                   "rows": [{"workload": w, "framework": fw, **row} for (w, fw), row in rows.items()],
                   "gemm": gemm, "goals": [{"goal": g, "measured": m, "status": s} for g, m, s in goals]}, f, indent=1)
    print(f"wrote {path}")
    if "throughput" in sections:
        import augmentation
        sys.argv = [sys.argv[0]] + (["--quick"] if args.quick else [])
        augmentation.main()


if __name__ == "__main__":
    main()
