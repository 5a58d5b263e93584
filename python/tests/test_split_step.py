"""The training step split where the gradients are complete (what data-parallel training runs between its two
halves): the gradient buffer is a view of the engine's memory, the two halves give the fused step, and two models
that apply the sum of their halves' gradients stay bit-identical and match one model on the whole batch."""
import gc

import numpy as np
import pytest

from swiftcnn import layers, models, utils


def _model(seed=1):
    utils.set_random_seed(seed)
    m = models.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                           layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return m


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 1), dtype=np.float32), (np.arange(n) % 3).astype(np.float32)


def test_gradient_buffer_is_a_view_of_the_engine_memory_and_outlives_the_model():
    m = _model()
    engine = m.training_engine()
    view = engine.gradient_buffer()
    assert view.dtype == np.float32 and view.shape == (m.count_params(),) and not view.flags["OWNDATA"]
    x, y = _data(4)
    engine.compute_gradients(x, y, 4, 1.0)
    assert np.abs(view).sum() > 0
    again = engine.gradient_buffer()
    assert again.__array_interface__["data"][0] == view.__array_interface__["data"][0]
    del m, engine, again
    gc.collect()
    assert np.isfinite(view).all()      # the view keeps the engine model (and its buffer) alive


def test_split_step_equals_the_fused_step():
    x, y = _data()
    fused, split = _model(), _model()
    for _ in range(3):
        a = fused.train_on_batch(x, y)
        engine = split.training_engine()
        b = engine.compute_gradients(x, y, len(x), 1.0)
        engine.apply_gradients(1.0)
        assert a[0] == b[0]
    for wa, wb in zip(fused.get_weights(), split.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_summed_half_batches_stay_bit_identical_and_match_the_whole_batch():
    x, y = _data()
    whole, rank0, rank1 = _model(), _model(), _model()
    e0, e1 = rank0.training_engine(), rank1.training_engine()
    g0, g1 = e0.gradient_buffer(), e1.gradient_buffer()
    for _ in range(3):
        whole.train_on_batch(x, y)
        e0.compute_gradients(x[:8], y[:8], 8, 8.0)
        e1.compute_gradients(x[8:], y[8:], 8, 8.0)
        total = g0 + g1            # what a summing allreduce leaves in both buffers
        g0[:], g1[:] = total, total
        e0.apply_gradients(1 / 16)
        e1.apply_gradients(1 / 16)
    for a, b, c in zip(rank0.get_weights(), rank1.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, atol=1e-5)


def test_split_step_errors_leave_the_model_unchanged():
    m = _model()
    engine = m.training_engine()
    before = engine.get_parameters()
    with pytest.raises(RuntimeError, match="No gradients to apply"):
        engine.apply_gradients(1.0)
    x, y = _data(4)
    with pytest.raises(ValueError, match="loss_scale"):
        engine.compute_gradients(x, y, 4, float("nan"))
    with pytest.raises(ValueError, match="values"):
        engine.compute_gradients(x[:3], y, 4, 1.0)
    engine.compute_gradients(x, y, 4, 1.0)
    with pytest.raises(ValueError, match="scale"):
        engine.apply_gradients(0.0)
    np.testing.assert_array_equal(engine.get_parameters(), before)
    with pytest.raises(ValueError, match="non-finite"):
        engine.set_parameters(np.full(before.shape, np.nan, np.float32))
    with pytest.raises(ValueError, match="expected"):
        engine.set_parameters(before[:-1])
    engine.set_parameters(before * 2)
    np.testing.assert_array_equal(engine.get_parameters(), before * 2)
