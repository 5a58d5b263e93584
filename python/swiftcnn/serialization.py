"""The registry of layer and model classes by name, so a saved architecture can be rebuilt without the saving code
importing the classes (and without import cycles): every `Layer` subclass registers itself, and so do `Model` and
`Sequential`."""

__all__ = ["register", "get_class", "deserialize"]

_classes = {}


def register(cls):
    """Makes `cls` known under its class name (public classes only)."""
    if not cls.__name__.startswith("_"):
        _classes[cls.__name__] = cls
    return cls


def get_class(name):
    cls = _classes.get(name)
    if cls is None:
        raise ValueError(f"unknown layer class '{name}' in the saved architecture; known classes: "
                         f"{', '.join(sorted(_classes))}")
    return cls


def deserialize(spec):
    """A layer or model from its saved spec {"class": name, "config": {...}} (models: their own spec)."""
    if not isinstance(spec, dict) or "class" not in spec:
        raise ValueError(f"a saved layer must be an object with a 'class' entry, received {spec!r}")
    return get_class(spec["class"]).from_config(spec.get("config", spec))
