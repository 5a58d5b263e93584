"""Data-parallel training over MPI (mpi4py), under Horovod's names: a Horovod Keras script runs with its import
changed to `import swiftcnn.distributed as hvd`; `model.fit(..., distributed=True)` is the plain form.

    mpirun -n 4 python train.py

Every process (rank) holds the whole model. After each step's backward, one allreduce sums the engine's flat
gradient buffer in place (a NumPy view of it, no copy) and every rank applies the same update, so the models stay
bit-identical. BatchNormalization uses each rank's own batch statistics; its moving averages are each rank's own.

This is the only module that imports mpi4py (importing it starts MPI)."""
import hashlib
import json
import sys
import traceback
import types

import numpy as np

try:
    from mpi4py import MPI
except ImportError as error:   # mpi4py itself, or the MPI library it was built against, is missing
    raise ImportError(
        "swiftcnn.distributed needs mpi4py and an MPI library: pip install \"swiftcnn[mpi]\" (or pip install mpi4py), "
        "with an MPI such as Open MPI installed first (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev). "
        f"Importing mpi4py failed: {error}") from error

from . import callbacks as callbacks_module, optimizers as optimizers_module

__all__ = ["init", "is_initialized", "shutdown", "rank", "size", "local_rank", "local_size", "allreduce", "allgather",
           "broadcast", "broadcast_object", "broadcast_variables", "DistributedOptimizer", "callbacks", "world",
           "Average", "Sum", "Collective"]

# Reduction operations, as Horovod names them.
Average = "average"
Sum = "sum"


class _Pending:
    """A non-blocking sum in flight; `wait()` gives the summed values."""

    def __init__(self, request, values):
        self.request, self.values = request, values

    def wait(self):
        if self.request is not None:
            self.request.Wait()
        return self.values


class Collective:
    """The processes of an MPI communicator, as the trainer uses them: sums (the gradient buffer in place), the
    smallest and largest of a number, a value or the whole model broadcast from one rank, and stopping everyone."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()

    def sum_in_place(self, array):
        """Sums a float32 array across ranks, in place (one MPI_Allreduce on the array's own memory)."""
        if self.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)

    def start_sum(self, values):
        """Starts summing a few numbers across ranks without waiting (MPI_Iallreduce)."""
        values = np.array(values, dtype=np.float64)
        if self.size == 1:
            return _Pending(None, values)
        return _Pending(self.comm.Iallreduce(MPI.IN_PLACE, values, op=MPI.SUM), values)

    def min_max(self, value):
        if self.size == 1:
            return value, value
        return self.comm.allreduce(value, op=MPI.MIN), self.comm.allreduce(value, op=MPI.MAX)

    def broadcast_value(self, value, root=0):
        return value if self.size == 1 else self.comm.bcast(value, root=root)

    def check_same_model(self, model):
        """Raises on every rank, with the first difference, unless all ranks hold the same architecture."""
        description = architecture(model)
        digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:12]
        everyone = self.comm.allgather((digest, description))
        if all(d == everyone[0][0] for d, _ in everyone):
            return
        other = next(r for r, (d, _) in enumerate(everyone) if d != everyone[0][0])
        mine, theirs = everyone[0][1], everyone[other][1]
        at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))

        def entry(rows, r):
            return f"rank {r} has {json.dumps(rows[at]) if at < len(rows) else 'no entry'}"
        hashes = ", ".join(f"rank {r} {d}" for r, (d, _) in enumerate(everyone))
        raise ValueError(f"The model differs between processes (architecture hashes: {hashes}). First difference, "
                         f"entry {at} ({len(mine)} vs {len(theirs)} entries): {entry(mine, 0)}; "
                         f"{entry(theirs, other)}. Every process must build and compile the same model.")

    def broadcast_model(self, model, root=0):
        """Gives every rank the root's weights (all parameters, BatchNormalization statistics included), optimizer
        state and learning rate, after checking that all ranks hold the same architecture."""
        if self.size == 1:
            return
        self.check_same_model(model)
        engine = model.training_engine()
        parameters = engine.get_parameters()
        self.comm.Bcast(parameters, root=root)
        if self.rank != root:
            engine.set_parameters(parameters)
        slots, count, iterations = engine.optimizer_state_info()
        iterations = self.comm.bcast(iterations, root=root)
        for slot in range(slots):
            state = np.empty(count, dtype=np.float32)
            if self.rank == root:
                engine.get_optimizer_state(slot, state)
            self.comm.Bcast(state, root=root)
            if self.rank != root:
                engine.set_optimizer_state(slot, state, iterations)
        rate = self.comm.bcast(engine.get_learning_rate(), root=root)
        if self.rank != root:
            model.optimizer.learning_rate = rate

    def abort(self, error=None):
        """Prints the cause with this rank's number and stops every process of the job (MPI_Abort)."""
        if error is not None:
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            sys.stderr.write(f"swiftcnn.distributed: rank {self.rank} of {self.size} failed; stopping all "
                             f"processes.\n{text}")
        sys.stderr.flush()
        sys.stdout.flush()
        self.comm.Abort(1)


def architecture(model):
    """What must be equal on every rank for their weights to be exchangeable: each layer's class, output shape and
    weight shapes, the loss and the optimizer (layer names may differ)."""
    rows = [[type(layer).__name__, list(_shape(layer)), [list(np.shape(w)) for w in layer.get_weights()]]
            for layer in model.layers]
    optimizer = model.optimizer
    rows.append(["compile", model.loss, type(optimizer).__name__ if optimizer is not None else None])
    return rows


def _shape(layer):
    shape = layer.output_shape
    return [-1 if d is None else int(d) for d in (shape if isinstance(shape, tuple) else ())]


_world = None


def init(comm=None):
    """Starts MPI (if mpirun has not) and makes `comm` (default MPI.COMM_WORLD) the processes that train together.
    With several processes, an uncaught exception in one of them stops them all, with its traceback printed."""
    global _world
    if _world is None or comm is not None:
        _world = Collective(comm if comm is not None else MPI.COMM_WORLD)
        if _world.size > 1 and sys.excepthook is sys.__excepthook__:
            sys.excepthook = _abort_on_uncaught
    return None


def _abort_on_uncaught(kind, error, tb):
    sys.__excepthook__(kind, error, tb)
    sys.stderr.write(f"swiftcnn.distributed: rank {_world.rank} of {_world.size} failed; stopping all processes.\n")
    _world.abort()


def world():
    """The `Collective` of the processes training together (initialised on first use)."""
    if _world is None:
        init()
    return _world


def is_initialized():
    return _world is not None


def shutdown():
    """Nothing to release: MPI is finalised when the process exits."""


def rank():
    return world().rank


def size():
    return world().size


def local_rank():
    """Rank among the processes on this machine."""
    return world().local_rank


def local_size():
    return world().local_size


def _op(op, average):
    if average is not None:
        return Average if average else Sum
    if op not in (None, Average, Sum):
        raise ValueError(f"allreduce: op must be swiftcnn.distributed.Average or Sum, received {op!r}")
    return op or Average


def allreduce(tensor, average=None, name=None, op=None):
    """The element-wise average (default) or sum of `tensor` over all ranks, as a new array (a float for a
    Python number)."""
    given = np.asarray(tensor)
    value = np.array(given, dtype=given.dtype if np.issubdtype(given.dtype, np.floating) else np.float64)
    world().comm.Allreduce(MPI.IN_PLACE, value, op=MPI.SUM)
    if _op(op, average) == Average:
        value = value / world().size
    return float(value) if np.ndim(tensor) == 0 else value


def allgather(tensor, name=None):
    """The arrays of all ranks concatenated along the first axis, in rank order."""
    return np.concatenate([np.atleast_1d(t) for t in world().comm.allgather(np.asarray(tensor))])


def broadcast(tensor, root_rank=0, name=None):
    """The root rank's `tensor` on every rank (a new array)."""
    value = np.ascontiguousarray(np.array(tensor))
    world().comm.Bcast(value, root=root_rank)
    return value


def broadcast_object(obj, root_rank=0, name=None):
    return world().comm.bcast(obj, root=root_rank)


def broadcast_variables(model, root_rank=0):
    """Gives every rank the root's weights and optimizer state (the model must be compiled)."""
    world().broadcast_model(model, root_rank)


broadcast_global_variables = broadcast_variables


def DistributedOptimizer(optimizer, name=None, compression=None, op=Average, backward_passes_per_step=1, **kwargs):
    """The optimizer, averaging the gradients of all ranks before each update (one allreduce per step on the
    engine's gradient buffer). Horovod's `compression`, `sparse_as_dense` and device arguments are accepted and have
    nothing to do here."""
    if op not in (Average, None) or backward_passes_per_step != 1:
        raise ValueError("DistributedOptimizer: only op=Average and backward_passes_per_step=1 are supported")
    optimizer = optimizers_module.get(optimizer)
    wrapped = type(optimizer).from_config(optimizer.get_config())
    wrapped.collective = world()
    return wrapped


class BroadcastGlobalVariablesCallback(callbacks_module.Callback):
    """Before the first step, gives every rank the weights and optimizer state of `root_rank` (and checks that all
    ranks built the same model)."""

    def __init__(self, root_rank=0, device=""):
        super().__init__()
        self.root_rank = root_rank

    def on_train_begin(self, logs=None):
        world().broadcast_model(self.model, self.root_rank)


class MetricAverageCallback(callbacks_module.Callback):
    """At the end of each epoch, replaces every metric in the logs by its average over the ranks (before History,
    the progress bar and the other callbacks see them)."""
    rewrites_logs = True

    def __init__(self, device=""):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        if not logs or world().size == 1:
            return
        keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, np.floating)))
        averaged = allreduce(np.array([logs[k] for k in keys], dtype=np.float64))
        logs.update({k: float(v) for k, v in zip(keys, averaged)})


class LearningRateWarmupCallback(callbacks_module.Callback):
    """Horovod's gradual warm-up (Goyal et al. 2017): the learning rate grows batch by batch from
    `initial_lr / size()` to `initial_lr` over `warmup_epochs` epochs (a fraction of an epoch too). `momentum_correction`
    is accepted; the engine's momentum is not rescaled during the warm-up."""

    def __init__(self, initial_lr, warmup_epochs=5, momentum_correction=True, steps_per_epoch=None, verbose=0):
        super().__init__()
        if isinstance(initial_lr, bool) or not isinstance(initial_lr, (int, float)) or initial_lr <= 0:
            raise ValueError(f"LearningRateWarmupCallback: initial_lr must be a number > 0, received {initial_lr!r}")
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, (int, float)) or warmup_epochs <= 0:
            raise ValueError(f"LearningRateWarmupCallback: warmup_epochs must be a number > 0, received "
                             f"{warmup_epochs!r}")
        self.initial_lr, self.warmup_epochs = float(initial_lr), warmup_epochs
        self.steps_per_epoch, self.verbose = steps_per_epoch, verbose
        self.current_epoch = 0
        self.finished = False

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.finished:
            return
        steps = self.steps_per_epoch or self.params.get("steps") or 1
        epoch = self.current_epoch + batch / steps
        if epoch >= self.warmup_epochs:
            self._finish(self.current_epoch)
            return
        n = world().size
        self.model.optimizer.learning_rate = self.initial_lr / n * (epoch * (n - 1) / self.warmup_epochs + 1)

    def on_epoch_end(self, epoch, logs=None):
        if not self.finished and epoch + 1 >= self.warmup_epochs:
            self._finish(epoch)

    def _finish(self, epoch):
        self.finished = True
        self.model.optimizer.learning_rate = self.initial_lr
        if self.verbose and world().rank == 0:
            print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to {self.initial_lr:g}.")


# Horovod's module layout: hvd.callbacks.BroadcastGlobalVariablesCallback(0), ...
callbacks = types.SimpleNamespace(BroadcastGlobalVariablesCallback=BroadcastGlobalVariablesCallback,
                                  MetricAverageCallback=MetricAverageCallback,
                                  LearningRateWarmupCallback=LearningRateWarmupCallback)
