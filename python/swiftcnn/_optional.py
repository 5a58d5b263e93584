"""The optional packages. The core needs NumPy only; each optional part imports its package through `require`, so
a missing one raises an ImportError that names the pip extra installing it (the extras are in pyproject.toml)."""
import importlib

# top-level module -> (extra, pip package)
EXTRAS = {"PIL": ("images", "Pillow"), "h5py": ("keras", "h5py"), "onnx": ("onnx", "onnx"),
          "mpi4py": ("mpi", "mpi4py"), "matplotlib": ("plots", "matplotlib")}


def require(module, purpose):
    """Imports `module` (e.g. "PIL.Image") or raises ImportError: "<purpose> needs <package>, which is not
    installed: pip install 'swiftcnn[<extra>]'"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra, package = EXTRAS[module.split(".")[0]]
        raise ImportError(f"{purpose} needs {package}, which is not installed: pip install 'swiftcnn[{extra}]' "
                          f"(or pip install {package})") from None
