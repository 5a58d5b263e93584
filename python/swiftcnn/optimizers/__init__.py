"""Keras optimizers. The update rules run in the engine; these objects carry the settings and, once a model is
compiled with them, read and write its learning rate. The tf.keras 2.x module paths `optimizers.adam_v2`,
`rmsprop_v2`, `gradient_descent_v2` and `legacy` make the same optimizers."""
import warnings

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get"]


def _number(value, what, owner, minimum=0.0, below=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{owner}: `{what}` must be a number, received {value!r}")
    value = float(value)
    if value != value or value < minimum or (below is not None and value >= below):
        bound = f"in [{minimum}, {below})" if below is not None else f">= {minimum}"
        raise ValueError(f"{owner}: `{what}` must be {bound}, received {value!r}")
    return value


class Optimizer:
    _engine_name = None
    # The processes this optimizer averages gradients across (set by swiftcnn.distributed.DistributedOptimizer);
    # None trains alone.
    collective = None

    def __init__(self, learning_rate, lr=None, name=None, **kwargs):
        if kwargs.get("decay", 0) == 0:
            kwargs.pop("decay", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments: {sorted(kwargs)}")
        if lr is not None:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.", DeprecationWarning, stacklevel=3)
            learning_rate = lr
        self._learning_rate = _number(learning_rate, "learning_rate", type(self).__name__)
        self.name = name or type(self).__name__.lower()
        self._engine = None   # the engine model this optimizer was compiled into

    @property
    def learning_rate(self):
        if self._engine is not None:
            return self._engine.get_learning_rate()
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        value = _number(value, "learning_rate", type(self).__name__)
        if self._engine is not None:
            self._engine.set_learning_rate(value)    # the engine checks it; nothing changes if it refuses
        self._learning_rate = value

    def build(self, engine):
        """Attaches the optimizer to the engine graph it was compiled into (its learning rate then lives there)."""
        self._engine = engine

    lr = learning_rate

    def _settings(self):
        return {}

    def _engine_description(self):
        items = {"learning_rate": self._learning_rate, **self._settings()}
        return self._engine_name + "".join(f";{k}={float(v)!r}" for k, v in items.items())

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate, **self._settings()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("name", None)
        return cls(**config)


class SGD(Optimizer):
    """w ← w − lr·g; with momentum v ← m·v − lr·g, w ← w + v (Nesterov: w ← w + m·v − lr·g)."""
    _engine_name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _number(momentum, "momentum", "SGD", 0.0)
        if self.momentum > 1:
            raise ValueError(f"SGD: `momentum` must be between [0, 1], received {momentum!r}")
        self.nesterov = bool(nesterov)

    def _settings(self):
        return {"momentum": self.momentum, "nesterov": 1.0 if self.nesterov else 0.0}

    def _engine_description(self):
        return (f"sgd;learning_rate={self._learning_rate!r};momentum={self.momentum!r};"
                f"nesterov={int(self.nesterov)}")

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Keras 3 RMSprop: v ← ρ·v + (1 − ρ)·g², w ← w − lr·g/√(v + ε) (with optional momentum)."""
    _engine_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if centered:
            raise ValueError("RMSprop: centered=True is not supported")
        self.rho = _number(rho, "rho", "RMSprop", 0.0, 1.0)
        self.momentum = _number(momentum, "momentum", "RMSprop", 0.0)
        self.epsilon = _number(epsilon, "epsilon", "RMSprop", 0.0)

    def _settings(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Keras 3 Adam with bias correction folded into the step size."""
    _engine_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if amsgrad:
            raise ValueError("Adam: amsgrad=True is not supported")
        self.beta_1 = _number(beta_1, "beta_1", "Adam", 0.0, 1.0)
        self.beta_2 = _number(beta_2, "beta_2", "Adam", 0.0, 1.0)
        self.epsilon = _number(epsilon, "epsilon", "Adam", 0.0)

    def _settings(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier):
    """An optimizer from a name ('sgd', 'rmsprop', 'adam') or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. Valid names: {', '.join(_BY_NAME)}")


from . import adam_v2, gradient_descent_v2, legacy, rmsprop_v2  # noqa: E402  (the tf.keras 2.x paths)
