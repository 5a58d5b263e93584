"""Keras `models`: `Sequential`, the functional `Model`, `load_model` and `clone_model`.

The classes live in `model.py` and `sequential.py`; the graph and engine in `functional.py`, the loops in
`trainer.py`, data handling in `data_adapters.py`, the table in `summary.py`, files in `saving.py`."""
from . import saving
from .model import Model, unique_model_name
from .sequential import Sequential
from .serialization import deserialize

__all__ = ["Model", "Sequential", "load_model", "clone_model"]


def clone_model(model):
    """A new model of the same architecture (new layers, freshly initialised weights), as Keras does."""
    spec = model.get_config()
    spec["name"] = unique_model_name(spec["name"] + "_clone")
    return deserialize(spec)


def load_model(path, compile=True, **kwargs):
    """The model saved by `model.save(path)`: same architecture, weights, optimizer state and compile settings."""
    if kwargs:
        raise TypeError(f"load_model(): unrecognized keyword arguments: {sorted(kwargs)}")
    return saving.load_model(path, compile=compile)
