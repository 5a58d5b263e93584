"""Images from arrays and folders, and data augmentation with the Keras ImageDataGenerator API. Random transform
parameters are drawn here; every image is resampled once, through one composed affine map, in the engine
(bilinear, across the engine's threads, with the GIL released). Files are decoded with Pillow."""
import math
import os
import stat
import threading

import numpy as np

from .. import _native
from .._optional import require
from ..utils import next_seed

__all__ = ["ImageDataGenerator", "NumpyArrayIterator", "DirectoryIterator", "Iterator", "load_img", "img_to_array",
           "array_to_img"]

_FILL_MODES = {"nearest": 0, "constant": 1, "reflect": 2, "wrap": 3}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".gif", ".webp")


def _pil():
    return require("PIL.Image", "reading and writing image files")


def _open_regular_file(path):
    """Opens an image file for reading, refusing FIFOs, devices and folders before reading (a FIFO would block
    forever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"not a regular file (a FIFO, device or folder): {path}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Loads an image file as a PIL image, converted to `color_mode` ('rgb', 'grayscale', 'rgba') and resized to
    `target_size` (height, width) if given. Raises OSError naming the file when it cannot be read."""
    Image = _pil()
    if color_mode not in ("rgb", "grayscale", "rgba"):
        raise ValueError(f"color_mode must be 'rgb', 'grayscale' or 'rgba', received {color_mode!r}")
    try:
        with _open_regular_file(path) as f:
            img = Image.open(f)
            img.load()
    except FileNotFoundError:
        raise
    except Exception as e:
        raise OSError(f"cannot read image file {path}: {e}") from None
    img = img.convert({"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}[color_mode])
    if target_size is not None:
        h, w = _target_size(target_size)
        methods = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
        if interpolation not in methods:
            raise ValueError(f"interpolation must be one of {sorted(methods)}, received {interpolation!r}")
        if img.size != (w, h):
            img = img.resize((w, h), methods[interpolation])
    return img


def img_to_array(img, data_format=None, dtype="float32"):
    """A PIL image as a (height, width, channels) array."""
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def array_to_img(x, data_format=None, scale=True, dtype="float32"):
    """A (height, width, channels) array as a PIL image; `scale` maps the array's range to 0..255."""
    Image = _pil()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"array_to_img expects (height, width, 1|3|4), received shape {x.shape}")
    if scale:
        x = x - x.min()
        peak = x.max()
        if peak > 0:
            x = x / peak * 255
    x = np.clip(x, 0, 255).astype(np.uint8)
    if x.shape[-1] == 1:
        return Image.fromarray(x[..., 0], "L")
    return Image.fromarray(x, "RGB" if x.shape[-1] == 3 else "RGBA")


def _target_size(target_size):
    try:
        h, w = (int(v) for v in target_size)
    except (TypeError, ValueError):
        raise ValueError(f"target_size must be (height, width), received {target_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"target_size must be positive, received {target_size!r}")
    return h, w


class ImageDataGenerator:
    """Real-time data augmentation with Keras's legacy arguments and semantics."""

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, rotation_range=0, width_shift_range=0.0,
                 height_shift_range=0.0, brightness_range=None, shear_range=0.0, zoom_range=0.0,
                 channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None, validation_split=0.0, dtype=None):
        for flag, name in [(featurewise_center, "featurewise_center"), (samplewise_center, "samplewise_center"),
                           (featurewise_std_normalization, "featurewise_std_normalization"),
                           (samplewise_std_normalization, "samplewise_std_normalization"),
                           (zca_whitening, "zca_whitening"), (channel_shift_range, "channel_shift_range")]:
            if flag:
                raise ValueError(f"ImageDataGenerator: {name} is not supported")
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"fill_mode must be one of {sorted(_FILL_MODES)}, received {fill_mode!r}")
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        if isinstance(zoom_range, (int, float)):
            zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2:
            zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"zoom_range must be a float or a pair, received {zoom_range!r}")
        if brightness_range is not None and (len(brightness_range) != 2 or min(brightness_range) < 0):
            raise ValueError(f"brightness_range must be a pair of non-negative numbers, received {brightness_range!r}")
        for name, v in [("rotation_range", rotation_range), ("shear_range", shear_range)]:
            if v < 0:
                raise ValueError(f"{name} must be >= 0, received {v!r}")
        self.rotation_range, self.width_shift_range, self.height_shift_range = rotation_range, width_shift_range, height_shift_range
        self.brightness_range, self.shear_range, self.zoom_range = brightness_range, shear_range, zoom_range
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.validation_split = validation_split

    # --- transform parameters (Keras's get_random_transform) ---
    @staticmethod
    def _shift(rng, spec, size):
        if isinstance(spec, (list, tuple, np.ndarray)):
            return float(rng.choice(spec))
        if spec and abs(spec) < 1:
            return float(rng.uniform(-spec, spec)) * size
        if spec:
            return float(rng.integers(-int(spec), int(spec) + 1))
        return 0.0

    def get_random_transform(self, img_shape, seed=None, rng=None):
        """A dict of transform parameters for an image of `img_shape`, as Keras returns it."""
        rng = rng if rng is not None else np.random.default_rng(seed)
        theta = float(rng.uniform(-self.rotation_range, self.rotation_range)) if self.rotation_range else 0.0
        tx = self._shift(rng, self.height_shift_range, img_shape[0])
        ty = self._shift(rng, self.width_shift_range, img_shape[1])
        shear = float(rng.uniform(-self.shear_range, self.shear_range)) if self.shear_range else 0.0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx = zy = 1.0
        else:
            zx, zy = (float(v) for v in rng.uniform(self.zoom_range[0], self.zoom_range[1], 2))
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": bool(self.horizontal_flip and rng.random() < 0.5),
                "flip_vertical": bool(self.vertical_flip and rng.random() < 0.5),
                "channel_shift_intensity": None,
                "brightness": float(rng.uniform(*self.brightness_range)) if self.brightness_range is not None else None}

    @staticmethod
    def _vector(params):
        p = params
        return [p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0), p.get("zx", 1), p.get("zy", 1),
                float(bool(p.get("flip_horizontal", False))), float(bool(p.get("flip_vertical", False))),
                p.get("brightness") if p.get("brightness") is not None else 1.0]

    def _run(self, images, vectors, rescale):
        images = np.ascontiguousarray(images, dtype=np.float32)
        out = np.empty_like(images)
        _native.augment(images, np.asarray(vectors, dtype=np.float32), _FILL_MODES[self.fill_mode], self.cval,
                        float(rescale), True, out)
        return out

    def apply_transform(self, x, transform_parameters):
        """One image (h, w, c) transformed by the given parameters (theta, tx, ty, shear, zx, zy, flip_horizontal,
        flip_vertical, brightness)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3:
            raise ValueError(f"apply_transform expects one image (height, width, channels), received shape {x.shape}")
        unknown = set(transform_parameters) - {"theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal",
                                              "flip_vertical", "channel_shift_intensity", "brightness"}
        if unknown:
            raise ValueError(f"apply_transform: unknown parameters {sorted(unknown)}")
        return self._run(x[None], [self._vector(transform_parameters)], 1.0)[0]

    def random_transform(self, x, seed=None):
        """One image with a random transform drawn from this generator's ranges."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3:
            raise ValueError(f"random_transform expects one image (height, width, channels), received shape {x.shape}")
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def standardize(self, x):
        x = np.asarray(x, dtype=np.float32)
        if self.preprocessing_function is not None:
            x = self.preprocessing_function(x)
        return x * self.rescale if self.rescale else x

    def _augment_batch(self, images, rng):
        """The batch, each image with its own random transform, then rescaled, in one engine call."""
        vectors = [self._vector(self.get_random_transform(images.shape[1:], rng=rng)) for _ in range(len(images))]
        if self.preprocessing_function is not None:
            out = self._run(images, vectors, 1.0)
            out = np.stack([self.preprocessing_function(i) for i in out]).astype(np.float32)
            return out * self.rescale if self.rescale else out
        return self._run(images, vectors, self.rescale if self.rescale else 1.0)

    # --- iterators ---
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             subset=None):
        """Batches of augmented images from arrays: yields (x, y), or x when y is None."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, seed=seed, subset=subset)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            follow_links=False, subset=None, interpolation="nearest", keep_aspect_ratio=False):
        """Batches of augmented images read from `directory/<class>/<image files>`."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation)


class Iterator:
    """An endless iterator over batches that reshuffles at each epoch; `len()` is batches per epoch, and
    indexing gives batch i of the current order (as keras.utils.Sequence)."""

    def __init__(self, n, batch_size, shuffle, seed):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
        if n == 0:
            raise ValueError("no samples to iterate over")
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        # With no seed, the next one of the library's stream: utils.set_random_seed makes the batches repeatable.
        self.seed = seed if seed is not None else next_seed() % (1 << 31)
        self._members = np.arange(n)   # the samples this iterator visits (all, unless shard() cut them)
        self.epoch = 0
        self.batch_index = 0
        self.total_batches_seen = 0
        self._lock = threading.Lock()
        self._order = self._new_order()

    def _new_order(self):
        if not self.shuffle:
            return self._members
        return self._members[np.random.default_rng([self.seed, self.epoch]).permutation(self.n)]

    def shard(self, index, count):
        """Keeps this process's share of the samples for data-parallel training: every `count`-th sample from
        `index` on (process `index` of `count`: each process its own files), with order and augmentation drawn from
        a seed of its own. `len()` becomes this share's batches; the iterator restarts at its first batch."""
        if not 0 <= index < count:
            raise ValueError(f"shard index must be in [0, {count}), received {index}")
        members = np.arange(index, len(self._members), count)
        if len(members) == 0:
            raise ValueError(f"{len(self._members)} samples cannot be shared between {count} processes")
        self._members, self.n = self._members[members], len(members)
        self.seed = self.seed * count + index   # one seed per process, as distinct as the processes
        self.epoch = self.batch_index = 0
        self._order = self._new_order()

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._new_order()

    def reset(self):
        self.batch_index = 0

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise IndexError(f"batch index {idx} out of range for {len(self)} batches")
        return self._get_batch(self._order[idx * self.batch_size:(idx + 1) * self.batch_size],
                               np.random.default_rng([self.seed, self.epoch, idx, 1]))

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            if self.batch_index >= len(self):
                self.batch_index = 0
                self.on_epoch_end()
            idx = self.batch_index
            self.batch_index += 1
            self.total_batches_seen += 1
        return self[idx]

    next = __next__


def _split(n, split, subset):
    if subset is None:
        return np.arange(n)
    if subset not in ("training", "validation"):
        raise ValueError(f"subset must be 'training', 'validation' or None, received {subset!r}")
    cut = int(split * n)
    return np.arange(cut) if subset == "validation" else np.arange(cut, n)


class NumpyArrayIterator(Iterator):
    def __init__(self, x, y, generator, batch_size=32, shuffle=True, seed=None, subset=None):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"flow expects images of shape (n, height, width, channels), received {x.shape}")
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(f"x (images) and y (labels) should have the same length. Found: x.shape = {x.shape}, "
                                 f"y.shape = {y.shape}")
        keep = _split(len(x), generator.validation_split, subset)
        self.x, self.y, self.generator = x[keep], (y[keep] if y is not None else None), generator
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _get_batch(self, index, rng):
        images = self.generator._augment_batch(np.asarray(self.x[index], dtype=np.float32), rng)
        return images if self.y is None else (images, self.y[index])


class DirectoryIterator(Iterator):
    def __init__(self, directory, generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, follow_links=False,
                 subset=None, interpolation="nearest"):
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"flow_from_directory: {directory!r} is not a folder")
        if class_mode not in ("categorical", "binary", "sparse", "input", None):
            raise ValueError(f"class_mode must be 'categorical', 'binary', 'sparse', 'input' or None, received {class_mode!r}")
        if color_mode not in ("rgb", "grayscale", "rgba"):
            raise ValueError(f"color_mode must be 'rgb', 'grayscale' or 'rgba', received {color_mode!r}")
        self.target_size = _target_size(target_size)
        self.color_mode, self.class_mode, self.interpolation = color_mode, class_mode, interpolation
        self.directory, self.generator = directory, generator
        if classes is None:
            classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        self.class_indices = {c: i for i, c in enumerate(classes)}
        self.num_classes = len(classes)
        filenames, labels = [], []
        for c in classes:
            folder = os.path.join(directory, c)
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"flow_from_directory: class folder {folder!r} does not exist")
            files = []
            for root, _, names in os.walk(folder, followlinks=follow_links):
                # Only regular files (isfile follows links): a FIFO named like an image would block a reader forever.
                files += [os.path.relpath(os.path.join(root, n), directory) for n in names
                          if n.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(root, n))]
            files.sort()
            keep = _split(len(files), generator.validation_split, subset)
            filenames += [files[i] for i in keep]
            labels += [self.class_indices[c]] * len(keep)
        self.filenames = filenames
        self.classes = np.asarray(labels, dtype=np.int64)
        self.samples = len(filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        if self.samples == 0:
            raise ValueError(f"flow_from_directory: no images found in {directory!r} (looked for {', '.join(IMAGE_EXTENSIONS)} "
                             "files in one sub-folder per class)")
        channels = {"rgb": 3, "grayscale": 1, "rgba": 4}[color_mode]
        self.image_shape = self.target_size + (channels,)
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return [os.path.join(self.directory, f) for f in self.filenames]

    def _get_batch(self, index, rng):
        images = np.empty((len(index),) + self.image_shape, dtype=np.float32)
        for i, j in enumerate(index):
            img = load_img(os.path.join(self.directory, self.filenames[j]), color_mode=self.color_mode,
                           target_size=self.target_size, interpolation=self.interpolation)
            images[i] = img_to_array(img)
        images = self.generator._augment_batch(images, rng)
        labels = self.classes[index]
        if self.class_mode is None:
            return images
        if self.class_mode == "input":
            return images, images.copy()
        if self.class_mode == "sparse":
            return images, labels.astype(np.float32)
        if self.class_mode == "binary":
            return images, labels.astype(np.float32)
        out = np.zeros((len(index), self.num_classes), dtype=np.float32)
        out[np.arange(len(index)), labels] = 1
        return images, out
