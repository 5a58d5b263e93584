"""Keras losses by name or class. The loss math runs in the engine (Keras clipping at 1e-7)."""

__all__ = ["Loss", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "get"]


class Loss:
    _engine_name = None

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        if from_logits:
            raise ValueError(f"{type(self).__name__}(from_logits=True) is not supported: end the model with a "
                             "softmax (or sigmoid) activation and use from_logits=False.")
        if reduction not in ("sum_over_batch_size", "auto"):
            raise ValueError(f"{type(self).__name__}: only reduction='sum_over_batch_size' is supported")
        self.name = name or self._engine_name

    def get_config(self):
        return {"name": self.name}


class CategoricalCrossentropy(Loss):
    """−Σ y·log(p) over one-hot targets."""
    _engine_name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels."""
    _engine_name = "sparse_categorical_crossentropy"


class BinaryCrossentropy(Loss):
    """−(y·log p + (1 − y)·log(1 − p)), averaged over the last axis."""
    _engine_name = "binary_crossentropy"


class MeanSquaredError(Loss):
    """Mean of (p − y)² over the last axis."""
    _engine_name = "mse"

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        super().__init__(False, name, reduction)


_BY_NAME = {"categorical_crossentropy": CategoricalCrossentropy,
            "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
            "binary_crossentropy": BinaryCrossentropy,
            "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError}


def get(identifier):
    """A loss from a name or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Valid losses: "
                     "categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy, mse")
