"""ONNX export checked in ONNX Runtime: every application model and the textbook models give model.predict's
outputs (relative error <= 1e-5, at small input sizes), with a dynamic batch and the model's NHWC input; the file
passes onnx.checker; what cannot be exported is a clear error and nothing is written."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from swiftcnn import applications, layers, models
from swiftcnn import onnx as swiftcnn_onnx

REL = 1e-5


def randomize_batch_norm(model, seed=0):
    """Moving statistics and scales away from 0 / 1, so inference-form BatchNormalization is really tested."""
    rng = np.random.default_rng(seed)
    for layer in model.graph.layers:
        if type(layer).__name__ == "BatchNormalization":
            c = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.2, 0.2, c), rng.uniform(-0.2, 0.2, c),
                               rng.uniform(0.5, 1.5, c)])


def run_and_compare(model, path, batches=(1, 3)):
    model.export(str(path), format="onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch in batches:
        xs = [rng.uniform(size=(batch,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs]
        got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})
        want = model.predict(xs if len(xs) > 1 else xs[0])
        want = want if isinstance(want, list) else [want]
        for g, w in zip(got, want):
            assert g.shape == w.shape
            error = np.abs(g - w).max() / np.abs(w).max()
            assert error <= REL, f"relative error {error}"
    return session


@pytest.mark.parametrize("name,shape", [("VGG16", (32, 32, 3)), ("ResNet18", (32, 32, 3)), ("ResNet50", (32, 32, 3)),
                                        ("DenseNet121", (32, 32, 3)), ("InceptionV1", (32, 32, 3)),
                                        ("SqueezeNet", (48, 48, 3)), ("LeNet5", (32, 32, 1))])
def test_every_application_runs_in_onnx_runtime(tmp_path, name, shape):
    model = getattr(applications, name)(input_shape=shape, classes=10, classifier_activation=None)
    randomize_batch_norm(model)
    session = run_and_compare(model, tmp_path / f"{name}.onnx")
    (inp,) = session.get_inputs()
    assert inp.shape == ["batch", *shape]      # NHWC as the model has it, dynamic batch


def test_textbook_models(tmp_path):
    # The chapter's convnet: Flatten after NHWC feature maps, so the flatten order matters.
    convnet = models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
    run_and_compare(convnet, tmp_path / "convnet.onnx")
    # Every layer and option: strides, dilation, 'same' on odd sizes, softmax on feature maps, ReLU, Softmax.
    everything = models.Sequential([
        layers.Rescaling(1 / 255.0, offset=-0.5, input_shape=(9, 9, 2)),
        layers.Conv2D(4, 3, strides=2, padding="same", activation="sigmoid"),
        layers.ZeroPadding2D(((0, 1), (2, 0))),
        layers.AveragePooling2D(2, strides=1, padding="same"),
        layers.Conv2D(3, 2, padding="same", dilation_rate=2, activation="softmax", use_bias=False),
        layers.BatchNormalization(center=False), layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(5, activation="tanh"), layers.ReLU(),
        layers.Dense(4), layers.Activation("linear"), layers.Softmax()])
    randomize_batch_norm_partial(everything)
    run_and_compare(everything, tmp_path / "everything.onnx")


def randomize_batch_norm_partial(model):
    rng = np.random.default_rng(2)
    for layer in model.graph.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])


def test_graphs_with_two_inputs_two_outputs_and_a_nested_model(tmp_path):
    base = models.Sequential([layers.Conv2D(4, 3, padding="same", input_shape=(8, 8, 3)),
                              layers.BatchNormalization(), layers.Activation("relu")], name="base")
    a, b = layers.Input((8, 8, 3), name="left"), layers.Input((8, 8, 3), name="right")
    x = layers.Concatenate()([base(a), layers.Conv2D(4, 1)(b)])
    x = layers.Add()([x, layers.Conv2D(8, 3, padding="same")(x)])
    first = layers.Dense(2, activation="softmax", name="first")(layers.GlobalAveragePooling2D()(x))
    second = layers.Dense(1, name="second")(layers.GlobalMaxPooling2D()(x))
    model = models.Model([a, b], [first, second])
    randomize_batch_norm(model)
    session = run_and_compare(model, tmp_path / "two.onnx")
    assert [o.name for o in session.get_outputs()] == ["first", "second"]


def test_unsupported_cases_are_clear_errors_and_write_nothing(tmp_path, monkeypatch):
    model = models.Sequential([layers.Conv2D(2, 3, input_shape=(6, 6, 1)), layers.Flatten(), layers.Dense(2)])
    with pytest.raises(ValueError, match="format='tf_saved_model' is not supported"):
        model.export(str(tmp_path / "m"), format="tf_saved_model")
    monkeypatch.setattr(swiftcnn_onnx, "SUPPORTED_LAYERS", tuple(n for n in swiftcnn_onnx.SUPPORTED_LAYERS
                                                                 if n != "Conv2D"))
    with pytest.raises(ValueError, match=r"layer 'conv2d\w*' \(Conv2D\) has no ONNX translation"):
        model.export(str(tmp_path / "m.onnx"))
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="opset"):
        swiftcnn_onnx.export_onnx(model, str(tmp_path / "m.onnx"), opset=11)
