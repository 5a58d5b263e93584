"""`optimizers.adam_v2.Adam`: the tf.keras 2.6–2.8 module path, as printed in textbooks. It makes the same
optimizer as `optimizers.Adam` and says so with a DeprecationWarning."""
import warnings

from . import Adam as _Adam

__all__ = ["Adam"]


def Adam(*args, **kwargs):
    warnings.warn("optimizers.adam_v2.Adam is the tf.keras 2.x module path; use optimizers.Adam",
                  DeprecationWarning, stacklevel=2)
    return _Adam(*args, **kwargs)
