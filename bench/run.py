"""Side-by-side benchmark: the same model, data and thread count in swiftcnn and its peers, in one run.

    python bench/run.py [--quick] [--threads 2]

Each framework runs in its own subprocess (so its peak RSS is its own); repetitions alternate between frameworks.
Prints a table (images/s as the median of steady-state steps, warm-up excluded; ratio swiftcnn / peer; peak RSS)
and writes it as JSON to bench/results/<date>.json.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ["swiftcnn", "keras", "torch"]


def worker(framework, workload, threads, steps):
    """Runs inside the subprocess: times `steps` training steps and inference batches; prints one JSON line."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import resource
    import time

    import numpy as np
    rng = np.random.default_rng(0)
    spec = WORKLOADS[workload]
    batch, shape = spec["batch"], spec["shape"]
    x = rng.uniform(size=(batch,) + shape).astype(np.float32)
    y = rng.integers(0, spec["classes"], size=batch)
    xi = rng.uniform(size=(spec["infer_batch"],) + shape).astype(np.float32)
    train_step, infer_step, params = BUILDERS[framework](workload, threads)
    times = []
    for i in range(steps + 3):
        t = time.perf_counter()
        train_step(x, y)
        if i >= 3:
            times.append(time.perf_counter() - t)
    infer = []
    for i in range(max(steps // 2, 3) + 2):
        t = time.perf_counter()
        infer_step(xi)
        if i >= 2:
            infer.append(time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"train": batch / statistics.median(times), "infer": spec["infer_batch"] / statistics.median(infer),
                      "rss_mib": rss, "params": params}))


# Each workload is one layer list, built identically in every framework.
# ("conv", filters, padding) with ReLU, ("pool",), ("flatten",), ("dropout", rate), ("dense", units, activation)
def _vgg16_base():
    spec = []
    for filters, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        spec += [("conv", filters, "same")] * convs + [("pool",)]
    return spec


WORKLOADS = {
    "W1": {"shape": (28, 28, 1), "batch": 64, "infer_batch": 256, "classes": 10, "optimizer": "rmsprop",
           "layers": [("conv", 32, "valid"), ("pool",), ("conv", 64, "valid"), ("pool",), ("conv", 64, "valid"),
                      ("flatten",), ("dense", 64, "relu"), ("dense", 10, "softmax")]},
    "W2": {"shape": (150, 150, 3), "batch": 20, "infer_batch": 20, "classes": 2, "optimizer": "adam",
           "layers": [("conv", 32, "valid"), ("pool",), ("conv", 64, "valid"), ("pool",), ("conv", 128, "valid"),
                      ("pool",), ("conv", 128, "valid"), ("pool",), ("flatten",), ("dropout", 0.5),
                      ("dense", 512, "relu"), ("dense", 1, "sigmoid")]},
    "W3": {"shape": (28, 28, 1), "batch": 100, "infer_batch": 256, "classes": 10, "optimizer": "adam",
           "layers": [("conv", 16, "same"), ("conv", 16, "same"), ("pool",), ("conv", 32, "same"), ("conv", 32, "same"),
                      ("pool",), ("conv", 64, "same"), ("conv", 64, "same"), ("pool",), ("flatten",),
                      ("dense", 50, "relu"), ("dropout", 0.5), ("dense", 10, "softmax")]},
    "W5": {"shape": (32, 32, 3), "batch": 32, "infer_batch": 32, "classes": 2, "optimizer": "rmsprop",
           "layers": _vgg16_base() + [("flatten",), ("dense", 1, "sigmoid")]},
}


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


def build_swiftcnn(workload, threads):
    import swiftcnn
    from swiftcnn import layers, models
    swiftcnn.set_num_threads(threads)
    spec = WORKLOADS[workload]
    model = models.Sequential([layers.Input(shape=spec["shape"])] + _keras_like(layers, spec))
    model.compile(spec["optimizer"], _loss(spec), metrics=["accuracy"])
    return (lambda x, y: model.train_on_batch(x, y)), (lambda x: model.predict(x, batch_size=len(x))), model.count_params()


def build_keras(workload, threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    spec = WORKLOADS[workload]
    model = keras.Sequential([keras.Input(spec["shape"])] + _keras_like(keras.layers, spec))
    model.compile(spec["optimizer"], _loss(spec), metrics=["accuracy"])
    return (lambda x, y: model.train_on_batch(x, y)), (lambda x: model.predict_on_batch(x)), model.count_params()


def build_torch(workload, threads):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
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
    params = model.parameters()
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7) if spec["optimizer"] == "adam" else \
        torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    binary = spec["layers"][-1][2] == "sigmoid"
    loss_fn = nn.BCELoss() if binary else nn.CrossEntropyLoss()   # softmax is folded into the loss for PyTorch

    def train(x, y):
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        opt.zero_grad()
        out = model(xt)
        target = torch.from_numpy(y.astype("float32")).reshape(-1, 1) if binary else torch.from_numpy(y)
        loss_fn(out, target).backward()
        opt.step()

    def infer(x):
        with torch.no_grad():
            return model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return train, infer, sum(p.numel() for p in model.parameters())


BUILDERS = {"swiftcnn": build_swiftcnn, "keras": build_keras, "torch": build_torch}


def python_for(framework):
    venv = os.path.join(HERE, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", nargs=2)
    parser.add_argument("--workloads", default="W1,W2,W3,W5")
    args = parser.parse_args()
    steps = 10 if args.quick else 40
    if args.worker:
        worker(args.worker[0], args.worker[1], args.threads, steps)
        return
    repeats = 1 if args.quick else 3
    results = {}
    for workload in args.workloads.split(","):
        for r in range(repeats):
            for fw in FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]:
                proc = subprocess.run([python_for(fw), __file__, "--worker", fw, workload, "--threads", str(args.threads)],
                                      capture_output=True, text=True)
                key = (workload, fw)
                if proc.returncode != 0:
                    results.setdefault(key, {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]})
                    continue
                results.setdefault(key, {"runs": []})["runs"].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = []
    for (workload, fw), r in results.items():
        if "error" in r:
            rows.append({"workload": workload, "framework": fw, "error": r["error"]})
            continue
        med = {k: statistics.median(run[k] for run in r["runs"]) for k in ("train", "infer", "rss_mib")}
        rows.append({"workload": workload, "framework": fw, **med, "params": r["runs"][0]["params"]})
    ours = {row["workload"]: row for row in rows if row["framework"] == "swiftcnn" and "train" in row}
    print(f"{'workload':8} {'framework':10} {'train img/s':>12} {'ratio':>7} {'infer img/s':>12} {'ratio':>7} {'RSS MiB':>8}  params")
    for row in rows:
        if "error" in row:
            print(f"{row['workload']:8} {row['framework']:10} missing: {row['error'][:80]}")
            continue
        base = ours.get(row["workload"])
        rt = base["train"] / row["train"] if base else float("nan")
        ri = base["infer"] / row["infer"] if base else float("nan")
        print(f"{row['workload']:8} {row['framework']:10} {row['train']:12,.0f} {rt:7.2f} {row['infer']:12,.0f} {ri:7.2f} "
              f"{row['rss_mib']:8.0f}  {row['params']:,}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", datetime.date.today().isoformat() + ".json")
    with open(path, "w") as f:
        json.dump({"threads": args.threads, "quick": args.quick, "rows": rows}, f, indent=1)
    print(f"wrote {path}")
    import augmentation
    sys.argv = [sys.argv[0]] + (["--quick"] if args.quick else [])
    augmentation.main()


if __name__ == "__main__":
    main()
