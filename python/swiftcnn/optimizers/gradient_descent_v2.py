"""`optimizers.gradient_descent_v2.SGD`: the tf.keras 2.6–2.8 module path, as printed in textbooks. It makes the same
optimizer as `optimizers.SGD` and says so with a DeprecationWarning."""
import warnings

from . import SGD as _SGD

__all__ = ["SGD"]


def SGD(*args, **kwargs):
    warnings.warn("optimizers.gradient_descent_v2.SGD is the tf.keras 2.x module path; use optimizers.SGD",
                  DeprecationWarning, stacklevel=2)
    return _SGD(*args, **kwargs)
