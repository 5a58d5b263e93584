"""Looking inside: activations, montages, filter patterns, Grad-CAM, receptive fields, the analysis report."""
import numpy as np
import pytest

from swiftcnn import layers, models, optimizers, utils, visualization as vis
from conftest import small_images


def mnist_convnet():
    return models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])


def test_receptive_fields_of_the_textbook_convnet():
    fields = vis.receptive_fields(mnist_convnet())
    assert [f["size"][0] for f in fields[:5]] == [3, 4, 8, 10, 18]
    assert [f["jump"][0] for f in fields[:5]] == [1, 2, 2, 4, 4]
    assert fields[5]["size"] is None   # Flatten


def test_vgg16_last_pool_receptive_field_is_212():
    stack = [layers.Input(shape=(224, 224, 3))]
    for filters, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        stack += [layers.Conv2D(filters, 3, padding="same", activation="relu") for _ in range(convs)]
        stack.append(layers.MaxPooling2D(2))
    fields = vis.receptive_fields(models.Sequential(stack))
    assert fields[-1]["size"] == (212, 212)
    assert fields[-1]["jump"] == (32, 32)


def test_activations_and_activation_model_agree():
    model = mnist_convnet()
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1))
    a = vis.activations(model, x, model.layers[2].name)
    assert a.shape == (2, 11, 11, 64)
    act_model = models.Model(inputs=model.input, outputs=[l.output for l in model.layers[:8]])
    outs = act_model.predict(x)
    assert len(outs) == 8
    np.testing.assert_allclose(outs[2], a, rtol=1e-6)
    np.testing.assert_allclose(outs[7], model.predict(x), rtol=1e-6)
    single = vis.activations(model, x[0], model.layers[0].name)
    assert single.shape == (1, 26, 26, 32)


def test_montage_layout_and_normalisation():
    act = np.random.default_rng(1).normal(size=(1, 5, 6, 20)).astype(np.float32)
    act[..., 3] = 0                                  # a dead channel
    grid = vis.montage(act, images_per_row=8)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 5, 8 * 6)     # tiles edge to edge, as the book's loop
    tile = grid[0:5, 3 * 6:4 * 6]
    assert np.all(tile == 128)                       # shown as a flat tile, not NaN garbage
    ch = act[0, :, :, 0]
    expected = np.clip((ch - ch.mean()) / ch.std() * 64 + 128, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[0:5, 0:6], expected)
    ch = act[0, :, :, 9]                             # second row, second column
    expected = np.clip((ch - ch.mean()) / ch.std() * 64 + 128, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[5:10, 6:12], expected)
    assert np.all(grid[10:15, 4 * 6:] == 0)          # tiles past the last channel stay black
    with pytest.raises(ValueError):
        vis.montage(np.zeros((2, 3, 3, 4)))


def test_montage_padding_draws_separators():
    act = np.random.default_rng(2).normal(size=(4, 3, 5)).astype(np.float32)
    plain, padded = vis.montage(act, images_per_row=3), vis.montage(act, images_per_row=3, padding=2)
    assert padded.shape == (2 * 4 + 2, 3 * 3 + 2 * 2)
    np.testing.assert_array_equal(padded[0:4, 5:8], plain[0:4, 3:6])      # tile 1, moved right by the padding
    np.testing.assert_array_equal(padded[6:10, 0:3], plain[4:8, 0:3])     # tile 3, moved down
    assert np.all(padded[4:6, :] == 0) and np.all(padded[:, 3:5] == 0)   # the separators
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="padding"):
            vis.montage(act, padding=bad)
    with pytest.warns(DeprecationWarning, match="padding"):
        np.testing.assert_array_equal(vis.montage(act, images_per_row=3, gap=2), padded)


def trained_square_model(gap=True):
    """Class 1 iff a bright 3×3 square is present (anywhere); class 0 is noise only."""
    rng = np.random.default_rng(0)
    n = 400
    x = rng.uniform(0, 0.2, size=(n, 16, 16, 1)).astype(np.float32)
    y = np.arange(n) % 2
    for i in np.where(y == 1)[0]:
        r, c = rng.integers(0, 13, size=2)
        x[i, r:r + 3, c:c + 3] = 1
    utils.set_random_seed(3)
    head = [layers.GlobalAveragePooling2D(), layers.Dense(2, activation="softmax")] if gap else \
           [layers.Flatten(), layers.Dense(2, activation="softmax")]
    model = models.Sequential([layers.Conv2D(8, 3, padding="same", activation="relu", input_shape=(16, 16, 1)),
                               layers.Conv2D(8, 3, padding="same", activation="relu")] + head)
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=20, verbose=0)
    return model


def test_grad_cam_peaks_on_the_deciding_square():
    model = trained_square_model()
    img = np.random.default_rng(5).uniform(0, 0.2, size=(16, 16, 1)).astype(np.float32)
    img[9:12, 3:6] = 1
    assert model.predict(img[None]).argmax() == 1
    heat = vis.grad_cam(model, img, class_index=1)
    assert heat.shape == (16, 16) and heat.min() >= 0 and heat.max() == pytest.approx(1)
    r, c = np.unravel_index(heat.argmax(), heat.shape)
    assert 8 <= r <= 12 and 2 <= c <= 6
    batch = vis.grad_cam(model, np.stack([img, img]))
    assert batch.shape == (2, 16, 16)
    rgb = vis.overlay(img, heat)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8


def test_grad_cam_equals_class_activation_map_for_gap_networks():
    """With GlobalAveragePooling → Dense, Grad-CAM's weights are the Dense weights / (h·w): CAM up to scale."""
    model = trained_square_model()
    img = np.random.default_rng(6).uniform(0, 0.2, size=(1, 16, 16, 1)).astype(np.float32)
    img[0, 2:5, 10:13] = 1
    conv = model.layers[1]
    feature = vis.activations(model, img, conv.name)[0]
    w = model.layers[-1].get_weights()[0][:, 1]
    cam = np.maximum((feature * w).sum(-1), 0)
    cam /= cam.max()
    np.testing.assert_allclose(vis.grad_cam(model, img, layer_name=conv.name, class_index=1)[0], cam, atol=1e-5)


def test_filter_pattern_excites_its_filter():
    model = trained_square_model()
    layer = model.layers[1].name
    probe = np.random.default_rng(9).uniform(0, 1, size=(8, 16, 16, 1))
    alive = np.where(vis.activations(model, probe, layer).mean(axis=(0, 1, 2)) > 0)[0][:3]
    assert len(alive) >= 2   # a ReLU filter that never fires has no gradient to climb
    for f in alive:
        pattern = vis.filter_pattern(model, layer, f, steps=30)
        assert pattern.shape == (16, 16, 1) and pattern.dtype == np.uint8 and pattern.std() > 0
        raw = vis.filter_pattern(model, layer, f, steps=30, deprocess=False)
        excited = vis.mean_filter_activation(model, layer, f, raw)
        baseline = vis.mean_filter_activation(model, layer, f, vis.starting_noise((16, 16, 1)))
        assert excited > 1.5 * baseline + 0.05, (f, excited, baseline)
    grid = vis.filter_patterns(model, layer, count=4, images_per_row=2, steps=5)
    assert grid.shape == (2 * 16 + 2, 2 * 16 + 2)
    bigger = vis.filter_pattern(model, layer, 0, size=24, steps=3)
    assert bigger.shape == (24, 24, 1)
    with pytest.raises(ValueError, match="out of range"):
        vis.filter_pattern(model, layer, 99)


def test_analyze_table_and_html(tmp_path):
    model = mnist_convnet()
    report = vis.analyze(model)
    assert len(report) == 8
    first = report.rows[0]
    assert first["activations"] == (26, 26, 32) and first["learnables"] == 320 and first["receptive_field"] == (3, 3)
    assert first["flops"] == 2 * 9 * 26 * 26 * 32 + 26 * 26 * 32
    assert report.total_learnables == 93322
    assert "FLOPs per image" in str(report)
    path = report.to_html(str(tmp_path / "report.html"), sample=np.zeros((28, 28, 1)))
    text = open(path).read()
    assert text.count("data:image/png;base64") == 6   # the input and the five spatial layers
    assert "93,322" in text


def test_plot_history():
    x, y = small_images(32)
    model = models.Sequential([layers.Flatten(input_shape=(8, 8, 1)), layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    fig = vis.plot_history(model.fit(x, y, epochs=2, validation_split=0.25, verbose=0))
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2


def test_grad_cam_through_a_nested_model():
    inner = trained_square_model()
    outer = models.Sequential([inner])
    img = np.random.default_rng(5).uniform(0, 0.2, size=(16, 16, 1)).astype(np.float32)
    img[9:12, 3:6] = 1
    heat = vis.grad_cam(outer, img, class_index=1)
    np.testing.assert_allclose(heat, vis.grad_cam(inner, img, class_index=1), atol=1e-6)
    assert vis.activations(outer, img, inner.layers[0].name).shape == (1, 16, 16, 8)
