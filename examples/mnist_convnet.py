"""The textbook convnet (Deep Learning with Python, chapter 5) on Fashion-MNIST, with swiftcnn in place of Keras.

    python examples/mnist_convnet.py --out demo_output

Prints the model summary, the training progress and the test accuracy, and writes the training curves and
pictures of what the network sees into --out.
"""
import argparse
import os
import time

import numpy as np

from swiftcnn import layers, models, utils, visualization
from swiftcnn.datasets import fashion_mnist

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def build_model():
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="folder for plots and pictures")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    utils.set_random_seed(args.seed)

    (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
    train_images = train_images.reshape((60000, 28, 28, 1)).astype("float32") / 255
    test_images = test_images.reshape((10000, 28, 28, 1)).astype("float32") / 255
    train_labels = utils.to_categorical(train_labels)
    test_labels = utils.to_categorical(test_labels)

    model = build_model()
    model.summary()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(train_images, train_labels, epochs=args.epochs, batch_size=64,
                        validation_data=(test_images, test_labels))
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    per_epoch = seconds / args.epochs
    print(f"test accuracy: {test_acc:.4f}   test loss: {test_loss:.4f}")
    print(f"training: {per_epoch:.1f} s per epoch, {60000 / per_epoch:,.0f} images/s (including validation)")

    write_history_plot(history, os.path.join(args.out, "history.png"))
    print(f"wrote {args.out}/history.png")
    write_pictures(model, test_images, test_labels.argmax(axis=1), args.out)


def save_png(path, image, cmap="gray"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.imsave(path, image, cmap=cmap if image.ndim == 2 else None, vmin=0, vmax=255)


def write_pictures(model, images, labels, out):
    """What the network sees: activation montages, filter patterns, Grad-CAM overlays and the analysis report."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sample = images[0]
    for layer in model.layers[:8]:
        if len(layer.output_shape) == 4:
            grid = visualization.montage(visualization.activations(model, sample, layer.name)[0], images_per_row=16)
            save_png(os.path.join(out, f"activations_{layer.name}.png"), grid)
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            grid = visualization.filter_patterns(model, layer.name, count=16, images_per_row=8, size=56, steps=40)
            save_png(os.path.join(out, f"filters_{layer.name}.png"), grid)

    picks = images[:6]
    heatmaps = visualization.grad_cam(model, picks)
    predicted = model.predict(picks).argmax(axis=1)
    fig, axes = plt.subplots(2, 6, figsize=(13, 5))
    for i in range(6):
        axes[0, i].imshow(picks[i, :, :, 0], cmap="gray")
        axes[0, i].set_title(f"true: {CLASS_NAMES[labels[i]]}", fontsize=8)
        axes[1, i].imshow(visualization.overlay(picks[i], heatmaps[i], alpha=0.4))
        axes[1, i].set_title(f"predicted: {CLASS_NAMES[predicted[i]]}", fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle(f"Grad-CAM at {[l.name for l in model.layers if isinstance(l, layers.Conv2D)][-1]}")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "grad_cam.png"), dpi=100)
    plt.close(fig)

    report = visualization.analyze(model)
    print(report)
    report.to_html(os.path.join(out, "report.html"), sample=sample)
    print(f"wrote {out}/activations_*.png, filters_*.png, grad_cam.png, report.html")


def write_history_plot(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = history.history
    epochs = range(1, len(h["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, h["loss"], "bo-", label="Training loss")
    ax_loss.plot(epochs, h["val_loss"], "r^-", label="Validation loss")
    ax_loss.set_title("Loss")
    ax_loss.set_xlabel("Epoch")
    ax_loss.legend()
    ax_acc.plot(epochs, h["accuracy"], "bo-", label="Training accuracy")
    ax_acc.plot(epochs, h["val_accuracy"], "r^-", label="Validation accuracy")
    ax_acc.set_title("Accuracy")
    ax_acc.set_xlabel("Epoch")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
