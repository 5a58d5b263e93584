"""A small Python workload against the AddressSanitizer build of the engine (the library of
`fuzz/build_libfuzzer.sh`): the installed package is copied into a temporary folder with its libswiftcnn.so
replaced by the instrumented one, and a child Python runs the workload with the ASan runtime preloaded. Any ASan
report (heap overflow, use after free, ...) makes the child exit non-zero. Leak detection is off: the interpreter
itself keeps memory until exit.

    python fuzz/asan_python_workload.py [path/to/asan/libswiftcnn.so]
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

WORKLOAD = r'''
import os, threading, tempfile
import numpy as np
import swiftcnn
from swiftcnn import layers, models, optimizers, visualization
from swiftcnn.preprocessing.image import ImageDataGenerator
rng = np.random.default_rng(0)
x = rng.random((64, 12, 12, 1), dtype=np.float32); y = rng.integers(0, 10, 64)
inputs = layers.Input((12, 12, 1))
a = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
b = layers.Conv2D(8, 1, strides=1)(inputs)
h = layers.Add()([a, b])
h = layers.BatchNormalization()(h)
h = layers.MaxPooling2D()(h)
h = layers.Conv2D(8, 3, dilation_rate=2, padding="same")(h)
h = layers.Concatenate()([h, layers.AveragePooling2D(1)(h)])
h = layers.ZeroPadding2D(1)(h)
h = layers.GlobalAveragePooling2D()(h)
h = layers.Dropout(0.3)(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = models.Model(inputs, outputs)
for optimizer in ("sgd", optimizers.RMSprop(momentum=0.5), "adam"):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=1, validation_split=0.25, verbose=0)
model.evaluate(x, y, verbose=0)
p = model.predict(x[:5], verbose=0)
assert p.shape == (5, 10)
folder = tempfile.mkdtemp()
model.save(os.path.join(folder, "m.scnn"))
again = models.load_model(os.path.join(folder, "m.scnn"))
assert np.allclose(again.predict(x[:5], verbose=0), p, atol=1e-6)
model.save_weights(os.path.join(folder, "w.scnn")); model.load_weights(os.path.join(folder, "w.scnn"))
seq = models.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
                         layers.Flatten(), layers.Dense(3, activation="softmax")])
seq.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy"])
seq.fit(x, np.eye(3, dtype=np.float32)[y % 3], batch_size=7, epochs=1, verbose=0)
visualization.grad_cam(seq, x[0]); visualization.filter_pattern(seq, seq.layers[0].name, 0, steps=2)
visualization.analyze(seq)
generator = ImageDataGenerator(rotation_range=30, width_shift_range=0.2, zoom_range=0.3, horizontal_flip=True,
                               fill_mode="reflect")
next(iter(generator.flow(x * 255, y, batch_size=8, seed=1)))
generator.apply_transform(x[0], {"tx": 1e19, "zx": 1e20})
def predict_many():
    for _ in range(20):
        seq.predict(x[:9], verbose=0)
threads = [threading.Thread(target=predict_many) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
for bad in (lambda: models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(2**62, 1)]).build(),
            lambda: seq.fit(np.full((4, 12, 12, 1), np.nan, np.float32), np.zeros((4, 3)), verbose=0),
            lambda: models.Sequential([layers.Input((4,)), layers.Dense(3)]).compile("sgd", "sparse_categorical_crossentropy",
                                                                                    metrics=["binary_accuracy"])):
    try:
        bad()
    except (ValueError, MemoryError):
        pass
maps = open("/proc/self/maps").read()
assert "libclang_rt.asan" in maps and os.path.dirname(swiftcnn.__file__) + "/libswiftcnn.so" in maps, "not the ASan build"
print("workload done on", [l.split()[-1] for l in maps.splitlines() if "libswiftcnn" in l][0])
'''


def asan_runtime():
    clang_dir = os.path.dirname(os.path.realpath(shutil.which("swift")))
    found = sorted(glob.glob(os.path.join(clang_dir, "..", "lib", "clang", "*", "lib", "*", "libclang_rt.asan*x86_64*.so"))
                   + glob.glob(os.path.join(clang_dir, "..", "lib", "clang", "*", "lib", "*", "libclang_rt.asan.so")))
    if not found:
        sys.exit("no ASan runtime found in the Swift toolchain")
    return os.path.realpath(found[0])


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    library = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, ".build-fuzz", "release", "libswiftcnn.so")
    if not os.path.exists(library):
        sys.exit(f"{library} not found: run fuzz/build_libfuzzer.sh first")
    import swiftcnn
    package = os.path.dirname(swiftcnn.__file__)
    folder = tempfile.mkdtemp(prefix="scnn-asan-")
    shutil.copytree(package, os.path.join(folder, "swiftcnn"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(library, os.path.join(folder, "swiftcnn", "libswiftcnn.so"))
    env = dict(os.environ, PYTHONPATH=folder, LD_PRELOAD=asan_runtime(),
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:"
                            "detect_stack_use_after_return=0:handle_segv=1")
    result = subprocess.run([sys.executable, "-c", "import swiftcnn, sys; print(swiftcnn.__file__)\n" + WORKLOAD],
                            env=env, capture_output=True, text=True, timeout=1200)
    shutil.rmtree(folder, ignore_errors=True)
    sys.stdout.write(result.stdout[-2000:])
    if result.returncode != 0 or "ERROR: AddressSanitizer" in result.stderr:
        sys.stderr.write(result.stderr[-6000:])
        print(f"ASan Python workload: FAILED (exit {result.returncode})")
        return 1
    print("ASan Python workload: 0 reports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
