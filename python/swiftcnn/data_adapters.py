"""Data adapters: what `fit`, `evaluate` and `predict` accept, turned into float32 batches for the engine.

Arrays of any numeric dtype (converted batch by batch, so a uint8 data set is never held twice), several inputs as
a list or a dict keyed by input name, and generators / iterators / Sequences of `(x, y)` batches (prefetched on a
background thread). Every check on the data happens here, before the first step, so a failed call changes nothing.
"""
import numpy as np

__all__ = ["as_array", "check_finite", "is_batch_source", "split_batch", "Prefetcher", "MultiInputs", "DataSpec",
           "batch_of", "steps_of"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_array(data, what):
    if data is None:
        raise ValueError(f"`{what}` is None; expected a NumPy array or array-like")
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], np.ndarray) and len(data) > 1 and \
            any(np.shape(d) != np.shape(data[0]) for d in data):
        raise ValueError(f"`{what}`: a list of arrays with different shapes was given; this model takes one input array")
    try:
        a = np.asarray(data)
    except Exception as e:
        raise ValueError(f"`{what}` could not be converted to an array: {e}") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"`{what}` must hold numbers; received an array of dtype {a.dtype}")
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"`{what}` is empty (shape {a.shape}); expected at least one sample")
    return a


def check_finite(a, what):
    """Raises unless every value is finite as float32 (float64 values beyond float32's range would become inf in
    the engine, mid-epoch, after earlier batches trained)."""
    if np.issubdtype(a.dtype, np.floating) and a.dtype.itemsize > 4:
        bad = ~np.isfinite(a) | (np.abs(a) > _FLOAT32_MAX)
    elif np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
    elif np.issubdtype(a.dtype, np.integer) and a.dtype.itemsize >= 8 and a.size:
        bad = np.abs(a.astype(np.float64)) > _FLOAT32_MAX
    else:
        return
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"`{what}` contains NaN or infinite values, or values beyond float32's range (first at "
                         f"index {first}: {a[first]!r}); expected finite numbers within +/-{_FLOAT32_MAX:.4g}")


def is_batch_source(x):
    """True for generators and iterators of batches (ImageDataGenerator.flow…, Python generators, Sequences)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "shape"))


def split_batch(batch, what):
    if isinstance(batch, tuple) and len(batch) in (2, 3):
        return batch[0], batch[1]
    if isinstance(batch, list) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(f"{what} must yield (x, y) tuples; received {type(batch).__name__}")


class Prefetcher:
    """Takes batches from `source` on a background thread, two ahead, so preparing a batch (reading and
    augmenting images, which releases the GIL in the engine) overlaps training on the previous one."""

    def __init__(self, source, count):
        import queue
        import threading
        self._queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        getter = source.__next__ if hasattr(source, "__next__") else None
        self._thread = threading.Thread(target=self._run, args=(source, getter, count), daemon=True)
        self._thread.start()

    def _run(self, source, getter, count):
        i = 0
        while i < count and not self._stop.is_set():
            try:
                item = getter() if getter else source[i % len(source)]
            except StopIteration:
                item = StopIteration()
            except BaseException as e:   # delivered to the training thread
                item = e
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except Exception:
                    continue
            if isinstance(item, BaseException):
                return
            i += 1

    def next(self):
        item = self._queue.get()
        if isinstance(item, StopIteration):
            raise ValueError("the data generator ran out of batches; pass steps_per_epoch (and validation_steps) "
                             "that it can supply")
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self._stop.set()
        while not self._queue.empty():
            self._queue.get_nowait()


class MultiInputs:
    """The arrays of a model with several inputs, sliced together."""

    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, idx):
        return MultiInputs([a[idx] for a in self.arrays])


def batch_of(a, idx):
    """The float32, C-contiguous batch `a[idx]` (a list of arrays for several inputs)."""
    if isinstance(a, MultiInputs):
        return [np.ascontiguousarray(x[idx], dtype=np.float32) for x in a.arrays]
    return np.ascontiguousarray(a[idx], dtype=np.float32)


def steps_of(source, steps, what):
    """How many batches to take from `source`: `steps` if given, else its length."""
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
            raise ValueError(f"{what} must be a positive integer, received {steps!r}")
        return int(steps)
    if hasattr(source, "__len__"):
        return len(source)
    raise ValueError(f"{what} is required when the data is a generator without a length")


class DataSpec:
    """What a model's data must look like: its inputs (names and per-sample shapes), its output shape and its loss.
    `x(...)` and `y(...)` check and convert data against it, with Keras's wording."""

    def __init__(self, model_name, input_names, input_shapes, output_shape, loss_name):
        self.model_name = model_name
        self.input_names = list(input_names)
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.output_shape = tuple(output_shape)
        self.loss_name = loss_name

    def x(self, x, what="x"):
        if len(self.input_names) > 1:
            return self._inputs(x, what)
        a = as_array(x, what)
        shape = self.input_shapes[0]
        if a.shape[1:] != shape:
            if a.shape == shape:
                raise ValueError(f"Input 0 of model '{self.model_name}' is incompatible: expected shape (None, "
                                 f"{', '.join(map(str, shape))}), received a single sample of shape {a.shape}; "
                                 "add a batch dimension, e.g. x[None]")
            raise ValueError(f"Input 0 of model '{self.model_name}' is incompatible with the layer: expected "
                             f"shape=(None, {', '.join(map(str, shape))}), found shape={a.shape}")
        check_finite(a, what)
        return a

    def _inputs(self, x, what):
        names = self.input_names
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(f"`{what}` is missing data for input(s) {missing}; the model's inputs are {names}")
            x = [x[n] for n in names]
        if not isinstance(x, (list, tuple)) or len(x) != len(names):
            raise ValueError(f"Model '{self.model_name}' has {len(names)} inputs ({names}); `{what}` must be a list "
                             f"of {len(names)} arrays or a dict keyed by input name")
        arrays = []
        for name, shape, data in zip(names, self.input_shapes, x):
            a = as_array(data, f"{what} for input '{name}'")
            if a.shape[1:] != shape:
                raise ValueError(f"Input '{name}' of model '{self.model_name}' is incompatible: expected shape "
                                 f"(None, {', '.join(map(str, shape))}), found shape={a.shape}")
            check_finite(a, what)
            arrays.append(a)
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"Data cardinality is ambiguous: input sizes {[len(a) for a in arrays]}. "
                             "Make sure all arrays contain the same number of samples.")
        return MultiInputs(arrays)

    def y(self, y, n, what="y"):
        a = as_array(y, what)
        check_finite(a, what)
        if a.shape[0] != n:
            raise ValueError(f"Data cardinality is ambiguous: x sizes: {n}, {what} sizes: {a.shape[0]}. "
                             "Make sure all arrays contain the same number of samples.")
        out_shape = self.output_shape
        classes = out_shape[-1]
        loss = self.loss_name
        if loss == "sparse_categorical_crossentropy":
            per_sample = int(np.prod(out_shape[:-1]))
            flat = a.reshape(n, -1)
            if flat.shape[1] != per_sample:
                raise ValueError(f"sparse_categorical_crossentropy expects integer labels of shape ({n},) for output "
                                 f"shape (None, {', '.join(map(str, out_shape))}); received {what} of shape {a.shape}")
            if flat.size and (flat.min() < 0 or flat.max() >= classes or np.any(flat != np.round(flat))):
                raise ValueError(f"sparse_categorical_crossentropy: labels must be integers in [0, {classes - 1}] "
                                 f"(the model has {classes} outputs); received values from {flat.min()} to {flat.max()}")
            return np.ascontiguousarray(flat, dtype=np.float32)
        expected = (n,) + out_shape
        if a.shape != expected:
            if a.size == int(np.prod(expected)) and (a.ndim == 1 or out_shape == (1,)):
                a = a.reshape(expected)
            else:
                hint = ""
                if loss == "categorical_crossentropy" and a.ndim == 1:
                    hint = (" — the labels look like class indices: one-hot encode them with "
                            "utils.to_categorical(y) or use loss='sparse_categorical_crossentropy'")
                raise ValueError(f"Arguments `target` and `output` must have the same shape. Received: "
                                 f"target.shape={a.shape}, output.shape=(None, {', '.join(map(str, out_shape))}){hint}")
        if loss == "binary_crossentropy" and (a.min() < 0 or a.max() > 1):
            raise ValueError("binary_crossentropy: targets must be in [0, 1]")
        return np.ascontiguousarray(a.reshape(n, -1), dtype=np.float32)
