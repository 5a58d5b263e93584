"""The trainer: the epoch loop, evaluation and prediction loops around the engine's one-call steps.

Python owns this loop (the engine owns one step: forward, loss, backward, update and metric with the GIL released):
batch order, callbacks, running averages for the progress bar, validation, History, Ctrl-C. The model hands the
trainer a `Steps` object for its engine graph and a `DataSpec` for its data; the trainer never looks inside either.

Data-parallel training (several processes, one model each) is the same loop with `AveragedSteps`, which sums the
gradients of every process through a `collective` (swiftcnn.distributed's MPI world) between the two halves of the
engine's step, and with each process's share of every global batch (`shard=True`).
"""
import contextlib
import importlib

import numpy as np

from . import _native, callbacks as callbacks_module
from .data_adapters import Prefetcher, batch_of, is_batch_source, split_batch, steps_of
from .utils import next_seed

__all__ = ["Steps", "AveragedSteps", "collective_for", "stopping_every_process_on_error", "fit_arrays", "fit_batches",
           "evaluate", "predict"]


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


class AveragedSteps(Steps):
    """Steps of data-parallel training: every process computes the gradients of its part of the global batch (the
    engine's split step), one allreduce sums them in place in the engine's gradient buffer, and every process
    applies the sum scaled by 1 / the global batch, so all processes take the same step (the one a single process
    takes on the whole global batch, Keras's mean loss) and stay bit-identical. Loss and metric are the global
    batch's. Test and prediction steps are the local ones."""

    def __init__(self, engine, output_nodes, direct_predict, collective):
        super().__init__(engine, output_nodes, direct_predict)
        self.collective = collective
        self.gradients = engine.gradient_buffer()   # a view of the engine's buffer: no copy, rewritten every step

    def train(self, xb, yb, n):
        loss, metric = self.engine.compute_gradients(xb, yb, n, float(n))   # gradients of the batch's summed loss
        totals = self.collective.start_sum([n, loss * n, metric * n])
        self.collective.sum_in_place(self.gradients)
        total, loss_sum, metric_sum = (float(v) for v in totals.wait())
        self.engine.apply_gradients(1.0 / total)
        return loss_sum / total, metric_sum / total


def collective_for(distributed):
    """The collective `fit(distributed=...)` trains over: the one given, or MPI's world from swiftcnn.distributed,
    loaded here on demand (mpi4py is an optional extra, and loading it starts MPI)."""
    if distributed is True:
        return importlib.import_module(".distributed", __package__).world()
    if not all(hasattr(distributed, name) for name in ("rank", "size", "sum_in_place", "start_sum")):
        raise TypeError(f"fit(): distributed must be True, False or a collective from swiftcnn.distributed; "
                        f"received {distributed!r}")
    return distributed


@contextlib.contextmanager
def stopping_every_process_on_error(collective):
    """An error in one process of several stops them all (MPI abort, the cause printed), instead of leaving the
    others waiting forever in their next allreduce."""
    try:
        yield
    except Exception as error:
        if collective is not None and collective.size > 1:
            collective.abort(error)
        raise


def _averaged(collective, loss, metric, n):
    """(loss, metric) averaged over every process's `n` samples."""
    total, loss_sum, metric_sum = (float(v) for v in collective.start_sum([n, loss * n, metric * n]).wait())
    return loss_sum / total, metric_sum / total


def _for_this_process(collective, verbose, callbacks):
    """Only the first process prints and writes files: the others run silent, without the callbacks that write
    (checkpoints, CSV logs)."""
    if collective is None or collective.rank == 0:
        return verbose, callbacks
    writers = (callbacks_module.ModelCheckpoint, callbacks_module.CSVLogger)
    return 0, [c for c in (callbacks or []) if not isinstance(c, writers)]


def _run_epochs(model, steps, metric_key, epochs, initial_epoch, count, verbose, callbacks, batch_at, validate,
                params=None):
    """The epoch loop shared by arrays and batch iterators: callbacks, running averages, validation, Ctrl-C."""
    history = callbacks_module.History()
    # Callbacks that rewrite the logs (averaging them across processes) run before History records them.
    rewriters = [c for c in callbacks or [] if getattr(c, "rewrites_logs", False)]
    cbs = rewriters + [history] + [c for c in callbacks or [] if not getattr(c, "rewrites_logs", False)]
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
               initial_epoch, steps_per_epoch, validation_steps, validation_batch_size, validation_freq,
               collective=None, shard=False):
    """`fit` on arrays already checked by `spec`; `val` is (x, y) checked arrays or None.

    With a `collective` (several processes): with `shard`, every process passes the same arrays, all draw the same
    order, and global batch i (batch_size x processes samples) is split between the processes, each taking its
    part; validation is split too and averaged. Without `shard` (Horovod's way), every process goes through its
    own arrays in its own order and the step count is the smallest of all processes'."""
    n = len(x)
    size, rank = (collective.size, collective.rank) if collective is not None else (1, 0)
    shuffle_seed = next_seed()
    if collective is not None:
        low, high = collective.min_max(n)
        if shard and low != high:
            raise ValueError(f"fit(distributed=True): every process must pass the same training data; the processes "
                             f"hold between {low} and {high} samples")
        shuffle_seed = collective.broadcast_value(shuffle_seed) if shard else shuffle_seed + rank
    step_size = batch_size * size if shard else batch_size
    count = n // step_size + (n % step_size >= size if shard else n % step_size > 0)
    if steps_per_epoch is not None:
        count = min(int(steps_per_epoch), count)
    if collective is not None and not shard:
        count = collective.min_max(count)[0]
    if count == 0:
        raise ValueError(f"fit(): {n} samples make no batch of {batch_size} for each of {size} processes")
    orders = {}

    def batch_at(epoch, step):
        if epoch not in orders:
            orders.clear()
            orders[epoch] = _native.permutation(shuffle_seed, epoch, n) if shuffle else np.arange(n)
        idx = orders[epoch][step * step_size:(step + 1) * step_size]
        if shard:
            idx = np.array_split(idx, size)[rank]
        return batch_of(x, idx), y[idx]

    val_part = val
    if val is not None and shard:
        val_part = (val[0][rank::size], val[1][rank::size])

    def validate(epoch):
        if val is None or (epoch + 1) % validation_freq:
            return None
        loss, metric = evaluate_arrays(steps, metric_key, val_part[0], val_part[1],
                                       validation_batch_size or batch_size, validation_steps)
        return _averaged(collective, loss, metric, len(val_part[0])) if shard else (loss, metric)

    verbose, callbacks = _for_this_process(collective if shard else None, verbose, callbacks)
    return _run_epochs(model, steps, metric_key, epochs, initial_epoch, count, verbose, callbacks, batch_at,
                       validate, {"batch_size": batch_size, "samples": n})


def fit_batches(model, steps, spec, metric_key, source, epochs, steps_per_epoch, verbose, callbacks,
                validation_data, validation_steps, initial_epoch, collective=None, shard=False):
    """`fit` over a generator or iterator of batches, prefetched on a background thread.

    With a `collective`, every process reads its own source (with `shard`, an ImageDataGenerator iterator is cut to
    this process's share of the files, its augmentation seeded per process, and validation is averaged); all take
    the smallest step count of the processes."""
    if collective is not None and shard:
        for data in (source, validation_data):
            if hasattr(data, "shard"):
                data.shard(collective.rank, collective.size)
    count = steps_of(source, steps_per_epoch, "steps_per_epoch")
    if collective is not None:
        count = collective.min_max(count)[0]
    prefetch = Prefetcher(source, count * max(epochs - initial_epoch, 0))

    def batch_at(epoch, step):
        xb, yb = split_batch(prefetch.next(), "the training data")
        xb = spec.x(xb)
        return batch_of(xb, slice(None)), spec.y(yb, len(xb))

    def validate(epoch):
        if validation_data is None:
            return None
        if collective is not None and shard:
            loss, metric, seen = _evaluate_any(steps, spec, validation_data, validation_steps, 32)
            return _averaged(collective, loss, metric, seen)
        return evaluate_any(steps, spec, validation_data, validation_steps)

    verbose, callbacks = _for_this_process(collective if shard else None, verbose, callbacks)
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
    return _evaluate_any(steps, spec, data, max_steps, batch_size)[:2]


def _evaluate_any(steps, spec, data, max_steps, batch_size):
    """(loss, metric, samples seen) over arrays `(x, y)` or over a generator of batches."""
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
        return loss_sum / seen, metric_sum / seen, seen
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or a generator of batches")
    vx = spec.x(data[0], "validation_data x")
    loss, metric = evaluate_arrays(steps, None, vx, spec.y(data[1], len(vx), "validation_data y"), batch_size,
                                   max_steps)
    return loss, metric, len(vx)


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
