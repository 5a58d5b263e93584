"""swiftcnn: convolutional networks with a Swift engine and the Keras API.

    from swiftcnn import layers, models
"""
import os as _os

from . import _native

__version__ = _native.version()

_PACKAGE_DIR = _os.path.dirname(_os.path.abspath(__file__))


def get_include():
    """The folder holding `swiftcnn.h`, for C and C++ programs that use the engine directly."""
    return _os.path.join(_PACKAGE_DIR, "include")


def get_lib():
    """The path of the engine's shared library `libswiftcnn.so`."""
    return _os.path.join(_PACKAGE_DIR, "libswiftcnn.so")


def set_num_threads(n):
    """Sets how many threads the engine uses for big work (default: the number of CPUs)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads expects an int, received {n!r}")
    _native.set_num_threads(n)


def instruction_set():
    """The SIMD kernels the engine uses on this CPU: 'avx512' or 'avx2' (set SWIFTCNN_ISA=avx2 before import to
    force AVX2)."""
    return _native.instruction_set()


def get_num_threads():
    """How many threads the engine uses."""
    return _native.get_num_threads()


from . import applications, callbacks, datasets, layers, losses, metrics, models, optimizers, preprocessing, utils, visualization  # noqa: E402

__all__ = ["layers", "models", "optimizers", "losses", "metrics", "callbacks", "utils", "datasets", "visualization",
           "get_include", "get_lib", "set_num_threads", "get_num_threads", "instruction_set", "__version__"]
