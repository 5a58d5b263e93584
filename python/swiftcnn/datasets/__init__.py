"""Data sets read from local files only (nothing is downloaded): `fashion_mnist`, `mnist`, and the IDX reader."""
from . import fashion_mnist, idx, mnist

__all__ = ["fashion_mnist", "mnist", "idx"]
