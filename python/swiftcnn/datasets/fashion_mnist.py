"""Fashion-MNIST (70,000 28×28 grey images of 10 clothing classes), read from local IDX files."""
from ._mnist_format import DEBIAN_FASHION_MNIST, load


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays of shapes (60000, 28, 28), (60000,), (10000, 28, 28),
    (10000,), as Keras returns them. Looks in `path`, then $SWIFTCNN_DATA, then Debian's dataset-fashion-mnist."""
    return load("fashion_mnist", path, [DEBIAN_FASHION_MNIST])
