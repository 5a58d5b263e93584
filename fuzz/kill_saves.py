"""kill -9 during saves, for every format `model.save` / `save_weights` write: a child process saves a 4 MB model over
and over (save k sets every bias to k) and is killed at a random moment, `--kills` times per format. After each kill
the file on disk must load and hold one complete save (all biases equal); after the last, one save from this
process must leave no temporary file behind (the writers remove the temporaries of dead processes).

    python fuzz/kill_saves.py [--kills 100] [--formats model.scnn,weights.scnn,model.keras,model.h5]
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

SAVER = r"""
import sys
import numpy as np
from swiftcnn import layers, models
path, kind = sys.argv[1], sys.argv[2]
model = models.Sequential([layers.Input((64,)), layers.Dense(16384)])
kernel, _ = model.layers[0].get_weights()
print("ready", flush=True)
k = 0
while True:
    k += 1
    model.layers[0].set_weights([kernel, np.full(16384, k, np.float32)])
    model.save_weights(path) if kind == "weights" else model.save(path)
"""


def _model():
    from swiftcnn import layers, models
    return models.Sequential([layers.Input((64,)), layers.Dense(16384)])


def _load_bias(path, kind):
    from swiftcnn import models
    if kind == "weights":
        model = _model()
        model.load_weights(path)
    else:
        model = models.load_model(path)
    return model.layers[-1].get_weights()[1]


def _leftovers(folder, name):
    return [f for f in os.listdir(folder) if f != name]


def campaign(name, kills, rng):
    kind = "weights" if name.startswith("weights") else "model"
    folder = tempfile.mkdtemp(prefix="scnn-kill-")
    path = os.path.join(folder, name)
    script = os.path.join(folder, "saver.py")
    with open(script, "w") as f:
        f.write(SAVER)
    name_of_script = os.path.basename(script)
    loaded = 0
    for _ in range(kills):
        p = subprocess.Popen([sys.executable, script, path, kind], stdout=subprocess.PIPE)
        if p.stdout.readline().strip() != b"ready":
            raise SystemExit(f"{name}: the saver did not start")
        time.sleep(rng.uniform(0.05, 0.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        if not os.path.exists(path):
            continue
        bias = _load_bias(path, kind)
        if not np.all(bias == bias[0]):
            raise SystemExit(f"{name}: the file after a kill mixes two saves")
        loaded += 1
    model = _model()
    model.save_weights(path) if kind == "weights" else model.save(path)
    left = [f for f in _leftovers(folder, name) if f != name_of_script]
    if left:
        raise SystemExit(f"{name}: temporaries left after the next save: {left}")
    print(f"{name}: {kills} kills, the file loaded intact {loaded} times, no temporaries after the next save")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--formats", default="model.scnn,weights.scnn")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for name in args.formats.split(","):
        campaign(name, args.kills, rng)


if __name__ == "__main__":
    main()
