"""Training a convnet from scratch on a small image folder, without and with data augmentation (the chapter's
cats-vs-dogs story, played with shirts vs T-shirts from Fashion-MNIST, the pair most easily confused, so that it
runs offline and still overfits).

    python examples/augmentation.py --out demo_output [--size 150 --epochs 10]

Builds train/validation/test/<class>/ folders of JPEG and PNG files (2,000 / 1,000 / 1,000 images, resized to
size×size RGB), trains the chapter's convnet without augmentation, then with augmentation + Dropout(0.5), plots
both histories (the overfitting story) and a grid of augmented versions of one image.
"""
import argparse
import os

import numpy as np

from swiftcnn import layers, models, optimizers, utils
from swiftcnn.datasets import fashion_mnist
from swiftcnn.preprocessing.image import ImageDataGenerator

CLASSES = {0: "tshirts", 6: "shirts"}


def build_folders(root, size, counts=(2000, 1000, 1000)):
    """Writes root/{train,validation,test}/{shirts,tshirts}/*.jpg|png (half JPEG, half PNG)."""
    from PIL import Image
    (x, y), (xt, yt) = fashion_mnist.load_data()
    images, labels = np.concatenate([x, xt]), np.concatenate([y, yt])
    for label, name in CLASSES.items():
        picks = np.where(labels == label)[0]
        start = 0
        for split, count in zip(("train", "validation", "test"), counts):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i, idx in enumerate(picks[start:start + count // 2]):
                img = Image.fromarray(images[idx]).convert("RGB").resize((size, size), Image.BILINEAR)
                img.save(os.path.join(folder, f"{name}.{idx}.{'jpg' if i % 2 else 'png'}"))
            start += count // 2
    return root


def chapter_convnet(size, dropout):
    stack = [layers.Conv2D(32, (3, 3), activation="relu", input_shape=(size, size, 3)), layers.MaxPooling2D((2, 2)),
             layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
             layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
             layers.Conv2D(128, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)), layers.Flatten()]
    if dropout:
        stack.append(layers.Dropout(0.5))
    stack += [layers.Dense(512, activation="relu"), layers.Dense(1, activation="sigmoid")]
    model = models.Sequential(stack)
    model.compile(loss="binary_crossentropy", optimizer=optimizers.RMSprop(learning_rate=1e-4), metrics=["accuracy"])
    return model


def train(root, size, epochs, augment, batch_size=20, verbose=2):
    utils.set_random_seed(1)
    if augment:
        train_gen = ImageDataGenerator(rescale=1 / 255, rotation_range=40, width_shift_range=0.2,
                                       height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    else:
        train_gen = ImageDataGenerator(rescale=1 / 255)
    plain = ImageDataGenerator(rescale=1 / 255)
    train_it = train_gen.flow_from_directory(os.path.join(root, "train"), target_size=(size, size), batch_size=batch_size,
                                             class_mode="binary", seed=1)
    val_it = plain.flow_from_directory(os.path.join(root, "validation"), target_size=(size, size),
                                       batch_size=batch_size, class_mode="binary", shuffle=False)
    test_it = plain.flow_from_directory(os.path.join(root, "test"), target_size=(size, size), batch_size=batch_size,
                                        class_mode="binary", shuffle=False)
    model = chapter_convnet(size, dropout=augment)
    history = model.fit(train_it, epochs=epochs, validation_data=val_it, verbose=verbose)
    return history, model.evaluate(test_it, verbose=0)[1]


def plot(histories, path):
    import matplotlib.pyplot as plt     # the current backend: files from a script, inline pictures in a notebook
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (title, h) in zip(axes, histories.items()):
        epochs = range(1, len(h.history["accuracy"]) + 1)
        ax.plot(epochs, h.history["accuracy"], "bo-", label="Training acc")
        ax.plot(epochs, h.history["val_accuracy"], "r^-", label="Validation acc")
        ax.set_title(title)
        ax.set_xlabel("Epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def augmented_grid(root, size, path, count=8):
    import matplotlib.pyplot as plt     # the current backend: files from a script, inline pictures in a notebook
    from swiftcnn.preprocessing.image import img_to_array, load_img
    folder = os.path.join(root, "train", "shirts")
    first = sorted(os.listdir(folder))[0]
    x = img_to_array(load_img(os.path.join(folder, first), target_size=(size, size)))[None]
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                             zoom_range=0.2, horizontal_flip=True, fill_mode="nearest")
    it = gen.flow(x, batch_size=1, seed=0)
    fig, axes = plt.subplots(1, count, figsize=(2 * count, 2.2))
    for ax in axes:
        ax.imshow(next(it)[0].astype("uint8"))
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output")
    parser.add_argument("--data", default=None, help="folder for the image data set (default: <out>/shirts_vs_sneakers)")
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    root = args.data or os.path.join(args.out, "shirts_vs_tshirts")
    if not os.path.isdir(os.path.join(root, "train")):
        build_folders(root, args.size)
    results = {}
    histories = {}
    for title, augment in [("Without augmentation", False), ("With augmentation + Dropout(0.5)", True)]:
        histories[title], results[title] = train(root, args.size, args.epochs, augment)
    for title, acc in results.items():
        print(f"{title:36s} test accuracy {acc:.4f}")
    plot(histories, os.path.join(args.out, "augmentation_history.png"))
    augmented_grid(root, args.size, os.path.join(args.out, "augmented_images.png"))
    print(f"wrote {args.out}/augmentation_history.png and {args.out}/augmented_images.png")


if __name__ == "__main__":
    main()
