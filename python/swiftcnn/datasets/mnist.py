"""MNIST handwritten digits, read from local IDX files."""
from ._mnist_format import load


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, from `path` or $SWIFTCNN_DATA (nothing is downloaded)."""
    return load("mnist", path, ["/usr/share/datasets/mnist"])
