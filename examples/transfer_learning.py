"""Transfer learning on Fashion-MNIST, made small on purpose.

A convnet base is trained on classes 0-4 (T-shirt, trouser, pullover, dress, coat). The new task is classes 5-9
(sandal, shirt, sneaker, bag, ankle boot) with only 1,000 training images. Three ways to learn it are compared:
(a) the same network trained from scratch, (b) the pretrained base frozen with a new head, (c) (b) followed by
fine-tuning the base's top block at a low learning rate.

    python examples/transfer_learning.py --out demo_output
"""
import argparse
import os

import numpy as np

from swiftcnn import layers, models, optimizers, utils, visualization
from swiftcnn.datasets import fashion_mnist


def load_tasks(new_train=1000):
    (x, y), (xt, yt) = fashion_mnist.load_data()
    x = x.reshape(-1, 28, 28, 1).astype("float32") / 255
    xt = xt.reshape(-1, 28, 28, 1).astype("float32") / 255
    old, old_test = y < 5, yt < 5
    new_idx = np.where(y >= 5)[0][:new_train]
    return ((x[old], y[old]), (xt[old_test], yt[old_test]),
            (x[new_idx], y[new_idx] - 5), (xt[~old_test], yt[~old_test] - 5))


def make_base(name):
    """The convolutional base; `top_conv` is the block fine-tuning unfreezes."""
    return models.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu", name=f"{name}_top_conv"),
    ], name=name)


def with_head(base):
    return models.Sequential([base, layers.Flatten(), layers.Dense(64, activation="relu"),
                              layers.Dense(5, activation="softmax")])


def run(base_epochs=2, epochs=10, fine_tune_epochs=5, new_train=1000, verbose=0):
    utils.set_random_seed(1)
    (x_old, y_old), (xt_old, yt_old), (x_new, y_new), (xt_new, yt_new) = load_tasks(new_train)
    compile_args = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    pretrained = make_base("pretrained_base")
    source = with_head(pretrained)
    source.compile(optimizer="rmsprop", **compile_args)
    source.fit(x_old, y_old, epochs=base_epochs, batch_size=64, verbose=verbose)
    source_accuracy = source.evaluate(xt_old, yt_old, verbose=0)[1]

    scratch = with_head(make_base("scratch_base"))
    scratch.compile(optimizer="rmsprop", **compile_args)
    h_scratch = scratch.fit(x_new, y_new, epochs=epochs, batch_size=32, validation_data=(xt_new, yt_new), verbose=verbose)

    frozen = with_head(pretrained)
    pretrained.trainable = False
    frozen.compile(optimizer="rmsprop", **compile_args)
    h_frozen = frozen.fit(x_new, y_new, epochs=epochs, batch_size=32, validation_data=(xt_new, yt_new), verbose=verbose)
    frozen_accuracy = frozen.evaluate(xt_new, yt_new, verbose=0)[1]

    pretrained.trainable = True
    for layer in pretrained.layers:
        layer.trainable = layer.name.endswith("top_conv")
    frozen.compile(optimizer=optimizers.RMSprop(learning_rate=1e-4), **compile_args)
    h_tuned = frozen.fit(x_new, y_new, epochs=fine_tune_epochs, batch_size=32, validation_data=(xt_new, yt_new),
                         verbose=verbose)
    return {"source task accuracy (classes 0-4)": source_accuracy,
            "(a) from scratch": scratch.evaluate(xt_new, yt_new, verbose=0)[1],
            "(b) frozen base + new head": frozen_accuracy,
            "(c) fine-tuned top block": frozen.evaluate(xt_new, yt_new, verbose=0)[1]}, (h_scratch, h_frozen, h_tuned)


def plot(histories, path):
    import matplotlib.pyplot as plt     # the current backend: files from a script, inline pictures in a notebook
    h_scratch, h_frozen, h_tuned = histories
    fig, ax = plt.subplots(figsize=(7, 4))
    n = len(h_scratch.history["val_accuracy"])
    ax.plot(range(1, n + 1), h_scratch.history["val_accuracy"], "o-", label="(a) from scratch")
    ax.plot(range(1, n + 1), h_frozen.history["val_accuracy"], "s-", label="(b) frozen base + new head")
    tuned = h_tuned.history["val_accuracy"]
    ax.plot(range(n + 1, n + len(tuned) + 1), tuned, "^-", label="(c) fine-tuning the top block")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Test accuracy on classes 5-9")
    ax.set_title("1,000 training images of a new task")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results, histories = run(verbose=0)
    for name, accuracy in results.items():
        print(f"{name:38s} {accuracy:.4f}")
    plot(histories, os.path.join(args.out, "transfer_learning.png"))
    print(f"wrote {args.out}/transfer_learning.png")


if __name__ == "__main__":
    main()
