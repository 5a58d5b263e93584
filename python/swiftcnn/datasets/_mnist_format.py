"""Locates and loads a data set stored as the four MNIST IDX files."""
import os

from . import idx

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _find(folder, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    return None


def load(dataset, path, default_folders):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays from the first folder holding all four files:
    `path`, then $SWIFTCNN_DATA (or a `dataset` subfolder of it), then the defaults."""
    folders = []
    if path is not None:
        folders.append(os.fspath(path))
    env = os.environ.get("SWIFTCNN_DATA")
    if env:
        folders += [os.path.join(env, dataset), env]
    folders += default_folders
    for folder in folders:
        found = [_find(folder, stem) for stem in FILES]
        if all(found):
            x_train, y_train, x_test, y_test = (idx.load(p) for p in found)
            if len(x_train) != len(y_train) or len(x_test) != len(y_test):
                raise OSError(f"{folder}: image and label counts differ")
            return (x_train, y_train), (x_test, y_test)
    raise FileNotFoundError(
        f"{dataset} not found (looked in: {', '.join(folders) or 'nowhere'}). swiftcnn never downloads data: "
        + ("install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or " if dataset == "fashion_mnist" else "")
        + f"put the four IDX files ({', '.join(f + '.gz' for f in FILES)}) in a folder and pass path=... or set SWIFTCNN_DATA.")
