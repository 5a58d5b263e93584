"""Run-time choice of GEMM micro-kernels: AVX-512 code only inside its own module, and the same training results
with the AVX2 and the AVX-512 kernels (on a CPU that has both; elsewhere the AVX-512 half skips)."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import swiftcnn

# Registers and encodings that only AVX-512 (EVEX) code uses.
EVEX = re.compile(r"%zmm|%k[0-7]\b|%[xy]mm(1[6-9]|2[0-9]|3[01])\b|\{1to\d+\}|vpternlog")


def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return all(x in flags for x in ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"))


def test_avx512_instructions_only_in_the_avx512_kernel_module():
    """An AVX-512 instruction anywhere else would crash AVX2-only CPUs; the linker could put one there by merging
    a generic specialisation compiled for x86-64-v4 with the engine's."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump not installed")
    listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", swiftcnn.get_lib()], capture_output=True,
                             text=True, check=True).stdout
    function, offenders, kernels = None, set(), set()
    for line in listing.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            function = header.group(1)
        elif EVEX.search(line):
            (kernels if "SwiftCNNAVX512" in function else offenders).add(function)
    assert not offenders, f"AVX-512 instructions outside the AVX-512 module: {sorted(offenders)[:5]}"
    assert kernels, "the AVX-512 kernels were not found in the library"


TRAIN = """
import numpy as np, swiftcnn
from swiftcnn import layers, models
swiftcnn.utils.set_random_seed(7)
rng = np.random.default_rng(0)
x = rng.normal(size=(96, 14, 14, 3)).astype(np.float32)
y = rng.integers(0, 5, size=96)
m = models.Sequential([layers.Input((14, 14, 3)), layers.Conv2D(48, 3, activation="relu"), layers.MaxPooling2D(2),
                       layers.Conv2D(40, 3, padding="same", activation="relu"), layers.Flatten(),
                       layers.Dense(37, activation="relu"), layers.Dense(5, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy")
h = m.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
np.save(OUT, m.predict(x, verbose=0))
print("ISA", swiftcnn.instruction_set())
"""


def _train(tmp_path, isa):
    out = str(tmp_path / f"{isa}.npy")
    env = {**os.environ, "SWIFTCNN_ISA": isa}
    result = subprocess.run([sys.executable, "-c", f"OUT = {out!r}\n" + TRAIN], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected = isa if isa in ("avx2", "avx512") else ("avx512" if _cpu_has_avx512() else "avx2")
    assert f"ISA {expected}" in result.stdout, result.stdout
    return np.load(out)


def test_avx2_and_avx512_kernels_train_the_same_model(tmp_path):
    if not _cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512")
    avx2, avx512 = _train(tmp_path, "avx2"), _train(tmp_path, "avx512")
    # Summation order differs between the kernels, so only rounding-level differences are allowed.
    np.testing.assert_allclose(avx512, avx2, rtol=1e-3, atol=1e-4)
    assert not np.allclose(avx2, avx2.mean(axis=0)), "predictions should depend on the input"


def test_unknown_instruction_set_name_falls_back_to_the_best_supported(tmp_path):
    # A typo in SWIFTCNN_ISA must not stop the library from working.
    assert _train(tmp_path, "sse9").shape == (96, 5)
