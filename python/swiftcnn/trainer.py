"""The trainer: the epoch loop, evaluation and prediction loops around the engine's one-call steps.

Python owns this loop (the engine owns one step: forward, loss, backward, update and metric with the GIL released):
batch order, callbacks, running averages for the progress bar, validation, History, Ctrl-C. The model hands the
trainer a `Steps` object for its engine graph and a `DataSpec` for its data; the trainer never looks inside either.
"""
import numpy as np

from . import _native, callbacks as callbacks_module
from .data_adapters import Prefetcher, batch_of, is_batch_source, split_batch, steps_of
from .utils import next_seed

__all__ = ["Steps", "fit_arrays", "fit_batches", "evaluate", "predict"]


class Steps:
    """One engine graph's training, test and prediction calls (several inputs go through the multi-input entry
    points)."""

    def __init__(self, engine, output_nodes, direct_predict):
        self.engine = engine
        self.output_nodes = list(output_nodes)
        self.direct_predict = direct_predict   # a single-output model that owns its graph: one predict call

    def train(self, xb, yb, n):
        if isinstance(xb, list):
            return self.engine.train_step_multi(xb, yb, n)
        return self.engine.train_step(xb, yb, n)

    def test(self, xb, yb, n):
        if isinstance(xb, list):
            return self.engine.test_step_multi(xb, yb, n)
        return self.engine.test_step(xb, yb, n)

    def output_shapes(self):
        return [tuple(self.engine.node_shape(node)) for node in self.output_nodes]

    def predict_into(self, xb, n, outs):
        if self.direct_predict and len(outs) == 1 and not isinstance(xb, list):
            self.engine.predict(xb, n, outs[0])
            return
        if isinstance(xb, list):
            self.engine.forward_multi(xb, n, False)
        else:
            self.engine.forward(xb, n, False)
        for node, out in zip(self.output_nodes, outs):
            self.engine.read_activation(node, out)


def _run_epochs(model, steps, metric_key, epochs, initial_epoch, count, verbose, callbacks, batch_at, validate,
                params=None):
    """The epoch loop shared by arrays and batch iterators: callbacks, running averages, validation, Ctrl-C."""
    history = callbacks_module.History()
    cbs = [history] + list(callbacks or [])
    if verbose:
        cbs.append(callbacks_module.ProgbarLogger(verbose))
    cb = callbacks_module.CallbackList(cbs, model, {"epochs": epochs, "steps": count, "verbose": verbose,
                                                    **(params or {})})
    model.history, model.stop_training = history, False
    cb.on_train_begin()
    logs = {}
    try:
        for epoch in range(initial_epoch, epochs):
            cb.on_epoch_begin(epoch)
            loss_sum = metric_sum = 0.0
            seen = 0
            for step in range(count):
                xb, yb = batch_at(epoch, step)
                cb.on_train_batch_begin(step)
                loss, metric = steps.train(xb, yb, len(yb))
                seen += len(yb)
                loss_sum += loss * len(yb)
                metric_sum += metric * len(yb)
                logs = {"loss": loss_sum / seen}
                if metric_key:
                    logs[metric_key] = metric_sum / seen
                cb.on_train_batch_end(step, dict(logs))
                if model.stop_training:
                    break
            epoch_logs = dict(logs)
            v = validate(epoch)
            if v is not None:
                epoch_logs["val_loss"] = v[0]
                if metric_key:
                    epoch_logs["val_" + metric_key] = v[1]
            cb.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        # The engine finished the step it was in (the GIL was released); the model is consistent.
        print("\nTraining interrupted; the model keeps the weights of the last completed batch.", flush=True)
        cb.on_train_end(logs)
        raise
    cb.on_train_end(logs)
    return history


def fit_arrays(model, steps, spec, metric_key, x, y, batch_size, epochs, verbose, callbacks, val, shuffle,
               initial_epoch, steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
    """`fit` on arrays already checked by `spec`; `val` is (x, y) checked arrays or None."""
    n = len(x)
    count = -(-n // batch_size)
    if steps_per_epoch is not None:
        count = min(int(steps_per_epoch), count)
    shuffle_seed = next_seed()
    orders = {}

    def batch_at(epoch, step):
        if epoch not in orders:
            orders.clear()
            orders[epoch] = _native.permutation(shuffle_seed, epoch, n) if shuffle else np.arange(n)
        idx = orders[epoch][step * batch_size:(step + 1) * batch_size]
        return batch_of(x, idx), y[idx]

    def validate(epoch):
        if val is None or (epoch + 1) % validation_freq:
            return None
        return evaluate_arrays(steps, metric_key, val[0], val[1], validation_batch_size or batch_size,
                               validation_steps)

    return _run_epochs(model, steps, metric_key, epochs, initial_epoch, count, verbose, callbacks, batch_at,
                       validate, {"batch_size": batch_size, "samples": n})


def fit_batches(model, steps, spec, metric_key, source, epochs, steps_per_epoch, verbose, callbacks,
                validation_data, validation_steps, initial_epoch):
    """`fit` over a generator or iterator of batches, prefetched on a background thread."""
    count = steps_of(source, steps_per_epoch, "steps_per_epoch")
    prefetch = Prefetcher(source, count * max(epochs - initial_epoch, 0))

    def batch_at(epoch, step):
        xb, yb = split_batch(prefetch.next(), "the training data")
        xb = spec.x(xb)
        return batch_of(xb, slice(None)), spec.y(yb, len(xb))

    def validate(epoch):
        return None if validation_data is None else evaluate_any(steps, spec, validation_data, validation_steps)

    try:
        return _run_epochs(model, steps, metric_key, epochs, initial_epoch, count, verbose, callbacks, batch_at,
                           validate)
    finally:
        prefetch.close()


def evaluate_arrays(steps, metric_key, x, y, batch_size, max_steps=None, bar=None):
    """(loss, metric) in inference mode over checked arrays, sample-weighted means of the batches."""
    n = len(x)
    total = -(-n // batch_size)
    if max_steps is not None:
        total = min(total, int(max_steps))
    loss_sum = metric_sum = 0.0
    seen = 0
    for step in range(total):
        s, e = step * batch_size, min((step + 1) * batch_size, n)
        loss, metric = steps.test(batch_of(x, slice(s, e)), y[s:e], e - s)
        loss_sum += loss * (e - s)
        metric_sum += metric * (e - s)
        seen += e - s
        if bar is not None:
            logs = {"loss": loss_sum / seen}
            if metric_key:
                logs[metric_key] = metric_sum / seen
            bar.update(step + 1, logs)
    return loss_sum / seen, metric_sum / seen


def evaluate_any(steps, spec, data, max_steps, batch_size=32):
    """(loss, metric) over arrays `(x, y)` or over a generator of batches."""
    if is_batch_source(data):
        total = steps_of(data, max_steps, "validation_steps")
        getter = data.__next__ if hasattr(data, "__next__") else None
        loss_sum = metric_sum = 0.0
        seen = 0
        for i in range(total):
            xb, yb = split_batch(getter() if getter else data[i % len(data)], "the validation data")
            xb = spec.x(xb)
            yb = spec.y(yb, len(xb))
            loss, metric = steps.test(batch_of(xb, slice(None)), yb, len(xb))
            loss_sum += loss * len(xb)
            metric_sum += metric * len(xb)
            seen += len(xb)
        return loss_sum / seen, metric_sum / seen
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or a generator of batches")
    vx = spec.x(data[0], "validation_data x")
    return evaluate_arrays(steps, None, vx, spec.y(data[1], len(vx), "validation_data y"), batch_size, max_steps)


def predict(steps, x, batch_size, verbose):
    """Outputs in inference mode for checked arrays `x`, one array per model output."""
    n = len(x)
    outs = [np.empty((n,) + s, dtype=np.float32) for s in steps.output_shapes()]
    total = -(-n // batch_size)
    bar = callbacks_module.Progbar(total, verbose=1) if verbose == 1 else None
    for step in range(total):
        s, e = step * batch_size, min((step + 1) * batch_size, n)
        steps.predict_into(batch_of(x, slice(s, e)), e - s, [o[s:e] for o in outs])
        if bar is not None:
            bar.update(step + 1)
    if bar is not None:
        bar.update(total, finalize=True)
    return outs
