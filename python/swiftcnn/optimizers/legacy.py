"""`optimizers.legacy` (tf.keras 2.11+ kept the older optimizers there): the same optimizers as `optimizers`."""
from . import SGD, Adam, RMSprop

__all__ = ["SGD", "RMSprop", "Adam"]
