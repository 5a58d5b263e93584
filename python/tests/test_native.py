"""The built artefacts: the Swift runtime linked in, the C ABI used from C, no allocation in steady-state steps,
threads."""
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import swiftcnn
from swiftcnn import layers, models

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS_C = os.path.join(REPO, "tests_c")


def test_library_needs_no_swift_runtime_on_the_loader_path():
    lib = swiftcnn.get_lib()
    assert os.path.exists(lib) and os.path.exists(os.path.join(swiftcnn.get_include(), "swiftcnn.h"))
    ldd = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    assert "libswift" not in ldd and "libdispatch" not in ldd and "libFoundation" not in ldd, ldd
    # Import in a fresh interpreter with the toolchain off PATH and nothing on LD_LIBRARY_PATH.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if "swift" not in p)
    code = "import swiftcnn, numpy as np; from swiftcnn import layers, models; " \
           "m = models.Sequential([layers.Dense(2, input_shape=(3,))]); print(swiftcnn.__version__, m.predict(np.ones((1, 3))).shape)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(1, 2)" in result.stdout


def _compile(tmp_path, name, sources, extra=()):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    out = str(tmp_path / name)
    libdir = os.path.dirname(swiftcnn.get_lib())
    cmd = [cc, "-O1", "-o", out, *sources, "-I", swiftcnn.get_include(), "-L", libdir, "-lswiftcnn",
           f"-Wl,-rpath,{libdir}", *extra]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


def test_c_program_against_the_header(tmp_path):
    exe = _compile(tmp_path, "test_capi", [os.path.join(TESTS_C, "test_capi.c")])
    result = subprocess.run([exe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "C ABI checks passed" in result.stdout


def test_steady_state_training_step_allocates_nothing(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    counter = str(tmp_path / "alloc_counter.so")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", counter, os.path.join(TESTS_C, "alloc_counter.c")], check=True)
    exe = _compile(tmp_path, "steady", [os.path.join(TESTS_C, "steady_state_steps.c")], ["-ldl"])
    result = subprocess.run([exe], env={**os.environ, "LD_PRELOAD": counter}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "allocations: 0" in result.stdout


def test_two_python_threads_train_and_predict_at_once():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12, 12, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)

    def make():
        swiftcnn.utils.set_random_seed(3)
        m = models.Sequential([layers.Conv2D(16, 3, activation="relu", input_shape=(12, 12, 3)), layers.Flatten(),
                               layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    reference = make()
    reference.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    expected = reference.predict(x)
    models_ = [make(), make()]
    results, errors = {}, []

    def work(i):
        try:
            models_[i].fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
            results[i] = models_[i].predict(x)
        except Exception as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(2):
        np.testing.assert_allclose(results[i], expected, rtol=1e-5, atol=1e-6)


def test_engine_survives_fork():
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    m = models.Sequential([layers.Conv2D(32, 3, input_shape=(32, 32, 3)), layers.Flatten(), layers.Dense(2)])
    x = np.ones((64, 32, 32, 3), np.float32)
    before = m.predict(x)
    code = ("import os, sys, numpy as np\n"
            "from swiftcnn import layers, models\n"
            "m = models.Sequential([layers.Conv2D(32, 3, input_shape=(32, 32, 3)), layers.Flatten(), layers.Dense(2)])\n"
            "x = np.ones((64, 32, 32, 3), np.float32)\n"
            "m.predict(x)\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    m.predict(x); os._exit(0)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert before.shape == (64, 2)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 5, 3), (13, 33, 17), (97, 64, 288), (130, 1, 70), (0, 4, 3), (5, 4, 0)])
def test_matmul_matches_numpy(m, n, k):
    from swiftcnn import _native
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.normal(size=(m, k)).astype(np.float32)
    b = rng.normal(size=(k, n)).astype(np.float32)
    c = _native.matmul(a, b)
    assert c.shape == (m, n) and c.dtype == np.float32
    np.testing.assert_allclose(c, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4 * max(k, 1) ** 0.5)


def test_matmul_rejects_bad_input():
    from swiftcnn import _native
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="float32"):
        _native.matmul(a.astype(np.float64), a.T.copy())
    with pytest.raises(ValueError, match="2-D"):
        _native.matmul(np.ones(3, np.float32), a)
    with pytest.raises(ValueError, match="C-contiguous"):
        _native.matmul(a, a.T)
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(4, 3\)"):
        _native.matmul(a, a)
    with pytest.raises(TypeError):
        _native.matmul([[1.0]], [[1.0]])


def test_gemm_c_abi_validates_arguments():
    import ctypes
    lib = ctypes.CDLL(swiftcnn.get_lib())
    lib.scnn_gemm.restype = ctypes.c_int32
    lib.scnn_gemm.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                              ctypes.c_float, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                              ctypes.c_float, ctypes.c_void_p, ctypes.c_int64]
    lib.scnn_last_error.restype = ctypes.c_char_p
    a, b, c = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros((2, 4), np.float32)
    pa, pb, pc = (x.ctypes.data for x in (a, b, c))
    assert lib.scnn_gemm(0, 0, 2, 4, 3, 1.0, pa, 3, pb, 4, 0.0, pc, 4) == 0 and (c == 3).all()
    assert lib.scnn_gemm(0, 1, 2, 4, 3, 1.0, pa, 3, pb, 2, 0.0, pc, 4) == 1   # stored Bᵀ (n x k) needs ldb >= k
    assert lib.scnn_gemm(0, 0, 2, 4, 3, 1.0, pa, 2, pb, 4, 0.0, pc, 4) == 1
    assert b"lda 2" in lib.scnn_last_error()
    assert lib.scnn_gemm(0, 0, -1, 4, 3, 1.0, pa, 3, pb, 4, 0.0, pc, 4) == 1
    assert lib.scnn_gemm(0, 0, 2, 4, 3, 1.0, None, 3, pb, 4, 0.0, pc, 4) == 5
    assert b"'a'" in lib.scnn_last_error()
