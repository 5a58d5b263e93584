"""ImageDataGenerator: transforms computed in the engine, Keras semantics, iterators over arrays and folders."""
import numpy as np
import pytest

from swiftcnn import layers, models
from swiftcnn.preprocessing import image
from swiftcnn.preprocessing.image import ImageDataGenerator

rng = np.random.default_rng(0)


def test_exact_transforms():
    gen = ImageDataGenerator()
    x = rng.uniform(size=(7, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    np.testing.assert_allclose(gen.apply_transform(x, {"theta": 90}), np.rot90(x, -1), atol=1e-5)
    np.testing.assert_allclose(gen.apply_transform(x, {"theta": -90}), np.rot90(x, 1), atol=1e-5)
    shifted = gen.apply_transform(x, {"tx": 2, "ty": -1})
    np.testing.assert_array_equal(shifted[:-2, 1:], x[2:, :-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {}), x)


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
def test_matches_scipy_affine_transform(mode):
    """Keras resamples with scipy.ndimage.affine_transform(order=1); the engine must agree inside the image."""
    ndimage = pytest.importorskip("scipy.ndimage")
    gen = ImageDataGenerator(fill_mode=mode, cval=0.25)
    x = rng.uniform(size=(12, 10, 2)).astype(np.float32)
    params = {"theta": 17, "tx": 1.5, "ty": -2, "shear": 8, "zx": 0.9, "zy": 1.15}
    ours = gen.apply_transform(x, params)
    # Keras's composition about the centre, as keras.preprocessing.image.apply_affine_transform builds it.
    t, s = np.deg2rad(17), np.deg2rad(8)
    m = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    m = m @ np.array([[1, 0, 1.5], [0, 1, -2], [0, 0, 1]]) @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    m = m @ np.diag([0.9, 1.15, 1])
    cy, cx = 12 / 2 - 0.5, 10 / 2 - 0.5
    m = np.array([[1, 0, cy], [0, 1, cx], [0, 0, 1]]) @ m @ np.array([[1, 0, -cy], [0, 1, -cx], [0, 0, 1]])
    ref = np.stack([ndimage.affine_transform(x[..., c], m[:2, :2], m[:2, 2], order=1, mode=mode, cval=0.25)
                    for c in range(2)], axis=-1)
    inside = np.zeros((12, 10), bool)
    inside[2:-2, 2:-2] = True
    np.testing.assert_allclose(ours[inside], ref[inside], atol=1e-4)
    if mode != "constant":
        np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_fill_modes_at_the_border():
    x = np.arange(5, dtype=np.float32).reshape(1, 5, 1) * np.ones((5, 1, 1), np.float32)   # columns 0..4
    shift = {"ty": 2}
    expected = {"nearest": [2, 3, 4, 4, 4], "reflect": [2, 3, 4, 4, 3], "wrap": [2, 3, 4, 0, 1], "constant": [2, 3, 4, 9, 9]}
    for mode, row in expected.items():
        out = ImageDataGenerator(fill_mode=mode, cval=9).apply_transform(x, shift)
        np.testing.assert_array_equal(out[0, :, 0], row, err_msg=mode)


def test_random_transforms_are_seeded_and_rescaled():
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
                             zoom_range=0.2, horizontal_flip=True, brightness_range=(0.5, 1.5), rescale=1 / 255)
    x = rng.uniform(0, 255, size=(10, 16, 16, 3))
    y = np.arange(10)
    a = next(gen.flow(x, y, batch_size=5, seed=3))
    b = next(gen.flow(x, y, batch_size=5, seed=3))
    c = next(gen.flow(x, y, batch_size=5, seed=4))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert a[0].max() <= 1.0 + 1e-6 and a[0].dtype == np.float32
    params = gen.get_random_transform((16, 16, 3), seed=1)
    assert set(params) >= {"theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "brightness"}
    assert -40 <= params["theta"] <= 40 and 0.8 <= params["zx"] <= 1.2
    np.testing.assert_array_equal(gen.random_transform(x[0], seed=5), gen.random_transform(x[0], seed=5))


def test_flow_iterates_epochs_and_reshuffles():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)
    it = ImageDataGenerator().flow(x, np.arange(10), batch_size=4, seed=0)
    assert len(it) == 3
    first = np.concatenate([next(it)[1] for _ in range(3)])
    second = np.concatenate([next(it)[1] for _ in range(3)])
    assert sorted(first) == sorted(second) == list(range(10))
    assert list(first) != list(second)
    with pytest.raises(ValueError, match="same length"):
        ImageDataGenerator().flow(x, np.arange(3))


def write_folder(root, counts, size=(20, 24), bad=None):
    from PIL import Image
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            value = 40 if cls == sorted(counts)[0] else 200
            arr = np.full(size + (3,), value, np.uint8)
            ext = ["png", "jpg", "bmp", "gif"][i % 4]
            Image.fromarray(arr).save(root / cls / f"img{i}.{ext}")
    if bad:
        (root / bad).write_bytes(b"not an image at all")
    (root / sorted(counts)[0] / "notes.txt").write_text("ignored")


def test_flow_from_directory(tmp_path):
    write_folder(tmp_path, {"cats": 6, "dogs": 5})
    gen = ImageDataGenerator(rescale=1 / 255, validation_split=0.34)
    it = gen.flow_from_directory(tmp_path, target_size=(10, 12), batch_size=4, class_mode="binary", seed=1)
    assert it.class_indices == {"cats": 0, "dogs": 1} and it.samples == 11 and len(it) == 3
    xb, yb = next(it)
    assert xb.shape == (4, 10, 12, 3) and 0 <= xb.min() and xb.max() <= 1
    for img, label in zip(xb, yb):                 # cats are dark, dogs bright
        assert (img.mean() > 0.5) == bool(label)
    train = gen.flow_from_directory(tmp_path, target_size=(10, 12), subset="training", class_mode="sparse")
    val = gen.flow_from_directory(tmp_path, target_size=(10, 12), subset="validation", class_mode="categorical")
    assert train.samples + val.samples == 11 and val.samples == 2 + 1
    assert next(val)[1].shape[1] == 2
    grey = ImageDataGenerator().flow_from_directory(tmp_path, target_size=(8, 8), color_mode="grayscale", class_mode=None)
    assert next(grey).shape[-1] == 1
    model = models.Sequential([layers.Conv2D(2, 3, input_shape=(10, 12, 3)), layers.GlobalAveragePooling2D(),
                               layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    val_binary = gen.flow_from_directory(tmp_path, target_size=(10, 12), subset="validation", class_mode="binary")
    history = model.fit(it, epochs=2, steps_per_epoch=3, validation_data=val_binary, validation_steps=1, verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_directory_errors(tmp_path):
    gen = ImageDataGenerator()
    with pytest.raises(FileNotFoundError):
        gen.flow_from_directory(tmp_path / "missing")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        gen.flow_from_directory(tmp_path / "empty")
    write_folder(tmp_path / "data", {"a": 2, "b": 2}, bad="b/broken.png")
    it = gen.flow_from_directory(tmp_path / "data", target_size=(8, 8), batch_size=5, shuffle=False)
    with pytest.raises(OSError, match="broken.png"):
        next(it)
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(tmp_path / "data", class_mode="ordinal")
    with pytest.raises(ValueError, match="target_size"):
        gen.flow_from_directory(tmp_path / "data", target_size=(0, 8))
    with pytest.raises(ValueError, match="fill_mode"):
        ImageDataGenerator(fill_mode="mirror")


def test_image_helpers(tmp_path):
    arr = rng.uniform(0, 255, size=(6, 8, 3))
    img = image.array_to_img(arr)
    img.save(tmp_path / "x.png")
    back = image.img_to_array(image.load_img(tmp_path / "x.png"))
    assert back.shape == (6, 8, 3) and back.dtype == np.float32
    assert image.img_to_array(image.load_img(tmp_path / "x.png", target_size=(3, 4), color_mode="grayscale")).shape == (3, 4, 1)
    with pytest.raises(FileNotFoundError):
        image.load_img(tmp_path / "nope.png")
