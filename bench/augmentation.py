"""Augmented batches per second at 150×150×3 (rotation 40, shifts 0.2, shear 0.2, zoom 0.2, horizontal flip,
rescale 1/255, batch 20): swiftcnn's ImageDataGenerator against Keras's legacy one, same images, same thread
count, each in its own process.

    bench/.venv/bin/python bench/augmentation.py [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import time

SETTINGS = dict(rescale=1 / 255, rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                zoom_range=0.2, horizontal_flip=True)


def worker(framework, batches, threads):
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import numpy as np
    x = np.random.default_rng(0).integers(0, 256, size=(200, 150, 150, 3)).astype("float32")
    y = np.arange(200) % 2
    if framework == "swiftcnn":
        import swiftcnn
        from swiftcnn.preprocessing.image import ImageDataGenerator
        swiftcnn.set_num_threads(threads)
    else:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        try:
            from keras.preprocessing.image import ImageDataGenerator
        except ImportError:   # Keras 3 keeps the legacy generator here
            from keras.src.legacy.preprocessing.image import ImageDataGenerator
    it = ImageDataGenerator(**SETTINGS).flow(x, y, batch_size=20, seed=1)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    print(json.dumps({"batches_per_s": batches / (time.perf_counter() - start)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker")
    args = parser.parse_args()
    batches = 10 if args.quick else 40
    if args.worker:
        worker(args.worker, batches, args.threads)
        return
    results = {}
    for fw in ("swiftcnn", "keras"):
        proc = subprocess.run([sys.executable, __file__, "--worker", fw, "--threads", str(args.threads)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            results[fw] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            results[fw] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = results["swiftcnn"].get("batches_per_s")
    for fw, r in results.items():
        if "error" in r:
            print(f"AUG      {fw:10} missing: {r['error'][:80]}")
        else:
            print(f"AUG      {fw:10} {r['batches_per_s']:10.1f} batches/s (20 × 150×150×3)   swiftcnn ÷ {fw}: "
                  f"{ours / r['batches_per_s']:.2f}")
    return results


if __name__ == "__main__":
    main()
