"""`optimizers.rmsprop_v2.RMSprop`: the tf.keras 2.6–2.8 module path, as printed in textbooks. It makes the same
optimizer as `optimizers.RMSprop` and says so with a DeprecationWarning."""
import warnings

from . import RMSprop as _RMSprop

__all__ = ["RMSprop"]


def RMSprop(*args, **kwargs):
    warnings.warn("optimizers.rmsprop_v2.RMSprop is the tf.keras 2.x module path; use optimizers.RMSprop",
                  DeprecationWarning, stacklevel=2)
    return _RMSprop(*args, **kwargs)
