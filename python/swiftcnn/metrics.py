"""Keras metrics. 'accuracy' (or the Keras 2 spelling 'acc') resolves from the loss, as in Keras."""

__all__ = ["resolve"]

_NAMES = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy")


def resolve(metrics):
    """Returns (engine metric name, history key) for a compile() `metrics` argument, or ("", None)."""
    if metrics is None:
        return "", None
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        return "", None
    if len(metrics) > 1:
        raise ValueError(f"Only one metric is supported, received {metrics!r}")
    m = metrics[0]
    name = getattr(m, "__name__", m) if not isinstance(m, str) else m
    if not isinstance(name, str) or name.lower() not in _NAMES:
        raise ValueError(f"Unknown metric {m!r}. Valid metrics: {', '.join(_NAMES)}")
    return ("accuracy" if name.lower() == "acc" else name.lower()), name
