"""Child process of the API fuzzer: runs operations sent by `api_fuzz.py`, one per line of pickled input, and
answers with the exception type each raised ("ok" when none). A crash or hang here is what the parent looks for,
so this process does nothing but call the public API. Memory is capped so that huge legal allocations fail with
MemoryError instead of swapping the machine."""
import math
import os
import pickle
import resource
import struct
import sys
import warnings

import numpy as np

MEMORY_LIMIT = int(os.environ.get("SWIFTCNN_FUZZ_MEMORY", str(6 << 30)))
resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
warnings.simplefilter("ignore")

import swiftcnn  # noqa: E402
from swiftcnn import layers, losses, models, optimizers, utils  # noqa: E402
from swiftcnn.preprocessing import image as keras_image  # noqa: E402

swiftcnn.set_num_threads(2)


def array(spec):
    """Builds an input array from its description: ("fill", shape, value, dtype) with a small real buffer, or
    ("broadcast", shape, value) for a giant logical array that takes no memory."""
    kind = spec[0]
    if kind == "fill":
        _, shape, value, dtype = spec
        return np.full(shape, value, dtype=dtype)
    if kind == "broadcast":
        _, shape, value = spec
        return np.broadcast_to(np.float32(value), shape)
    if kind == "list":
        return spec[1]
    raise AssertionError(kind)


def make_layer(name, kwargs):
    return getattr(layers, name)(**kwargs)


def run(op):
    kind = op["kind"]
    if kind == "layer":
        layer = make_layer(op["layer"], op["kwargs"])
        model = models.Sequential([layers.Input(op["input_shape"]), layer])
        for action in op["actions"]:
            if action == "summary":
                model.summary(print_fn=lambda *a, **k: None)
            elif action == "predict":
                shape = (op["batch"],) + tuple(model.input_shape[1:])
                model.predict(np.full(shape, 0.5, np.float32), verbose=0)
            elif action == "count_params":
                model.count_params()
            elif action == "receptive":
                from swiftcnn import visualization
                visualization.receptive_fields(model)
    elif kind == "input":
        models.Sequential([layers.Input(op["shape"]), layers.Flatten(), layers.Dense(2)]).summary(
            print_fn=lambda *a, **k: None)
    elif kind == "train":
        model = models.Sequential([layers.Input((4,)), layers.Dense(3, activation=op["activation"])])
        model.compile(optimizer=op["optimizer"](**op["opt_kwargs"]) if callable(op["optimizer"]) else op["optimizer"],
                      loss=op["loss"], metrics=op["metrics"])
        x, y = array(op["x"]), array(op["y"])
        getattr(model, op["method"])(x, y, **op["fit_kwargs"])
    elif kind == "predict":
        model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
        model.predict(array(op["x"]), **op["kwargs"])
    elif kind == "set_lr":
        model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
        model.compile(optimizer="sgd", loss="mse")
        model.optimizer.learning_rate = op["value"]
        model.train_on_batch(np.ones((2, 4), np.float32), np.ones((2, 3), np.float32))
    elif kind == "augment":
        generator = keras_image.ImageDataGenerator(**op["kwargs"])
        x = array(op["x"])
        if op["transform"] is not None:
            generator.apply_transform(x, op["transform"])
        else:
            generator.random_transform(x, seed=op["seed"])
    elif kind == "flow":
        generator = keras_image.ImageDataGenerator()
        next(iter(generator.flow(array(op["x"]), array(op["y"]), **op["kwargs"])))
    elif kind == "to_categorical":
        utils.to_categorical(array(op["y"]), **op["kwargs"])
    elif kind == "weights":
        model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
        model.set_weights([array(a) for a in op["weights"]])
    elif kind == "loss":
        losses.get(op["name"])
        getattr(losses, op["class"])(**op["kwargs"])
    else:
        raise AssertionError(kind)


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(4)
        if len(header) < 4:
            return
        op = pickle.loads(stdin.read(struct.unpack("<I", header)[0]))
        try:
            run(op)
            answer = "ok"
        except BaseException as e:   # the parent judges the type
            # A subclass (UFuncTypeError, FileNotFoundError, ...) is reported as the documented type it is.
            documented = (ValueError, TypeError, KeyError, RuntimeError, OSError, MemoryError, OverflowError)
            name = next((t.__name__ for t in documented if isinstance(e, t)), type(e).__name__)
            text = (str(e).splitlines() or [""])[0][:200]
            answer = f"{name}: {type(e).__name__}: {text}"
        data = answer.encode()
        stdout.write(struct.pack("<I", len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    main()
