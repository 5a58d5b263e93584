"""Forward outputs against small NumPy reference implementations, optimizer updates against the Keras 3 rules
re-implemented in NumPy, and (where PyTorch is installed) forward and gradients against PyTorch."""
import numpy as np
import pytest

from swiftcnn import layers, models, optimizers

rng = np.random.default_rng(42)


def conv2d_ref(x, w, b, stride, padding, dilation=(1, 1)):
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if padding == "same":
        oh, ow = -(-h // stride[0]), -(-wd // stride[1])
        ph = max((oh - 1) * stride[0] + eh - h, 0)
        pw = max((ow - 1) * stride[1] + ew - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - eh) // stride[0] + 1, (wd - ew) // stride[1] + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride[0]:i * stride[0] + eh:dilation[0], j * stride[1]:j * stride[1] + ew:dilation[1], :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out + b


def single_layer_model(layer, shape):
    model = models.Sequential([layers.Input(shape=shape), layer])
    return model


@pytest.mark.parametrize("stride,padding,dilation,kernel", [
    ((1, 1), "valid", (1, 1), (3, 3)), ((2, 2), "same", (1, 1), (3, 3)), ((1, 1), "same", (2, 2), (3, 3)),
    ((2, 1), "same", (1, 1), (4, 2)), ((1, 1), "valid", (1, 1), (1, 1)), ((3, 3), "valid", (1, 1), (5, 5))])
def test_conv2d_forward_matches_numpy(stride, padding, dilation, kernel):
    x = rng.normal(size=(2, 9, 11, 5))
    layer = layers.Conv2D(7, kernel, strides=stride, padding=padding, dilation_rate=dilation)
    model = single_layer_model(layer, (9, 11, 5))
    w, b = rng.normal(size=(kernel[0], kernel[1], 5, 7)), rng.normal(size=7)
    layer.set_weights([w, b])
    np.testing.assert_allclose(model.predict(x), conv2d_ref(x, w, b, stride, padding, dilation), rtol=1e-4, atol=1e-4)


def test_dense_and_activations_match_numpy():
    x = rng.normal(size=(5, 13))
    for activation, fn in [("relu", lambda z: np.maximum(z, 0)), ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
                           ("tanh", np.tanh), ("linear", lambda z: z),
                           ("softmax", lambda z: np.exp(z) / np.exp(z).sum(1, keepdims=True))]:
        layer = layers.Dense(6, activation=activation)
        model = single_layer_model(layer, (13,))
        w, b = rng.normal(size=(13, 6)), rng.normal(size=6)
        layer.set_weights([w, b])
        np.testing.assert_allclose(model.predict(x), fn(x @ w + b), rtol=1e-4, atol=1e-5, err_msg=activation)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_matches_numpy(padding):
    x = rng.normal(size=(2, 7, 7, 3))
    mx = single_layer_model(layers.MaxPooling2D((3, 3), strides=2, padding=padding), (7, 7, 3)).predict(x)
    av = single_layer_model(layers.AveragePooling2D((3, 3), strides=2, padding=padding), (7, 7, 3)).predict(x)
    oh = 3 if padding == "valid" else 4
    ph = 0 if padding == "valid" else max((oh - 1) * 2 + 3 - 7, 0) // 2
    for i in range(oh):
        for j in range(oh):
            r0, c0 = max(i * 2 - ph, 0), max(j * 2 - ph, 0)
            win = x[:, r0:i * 2 - ph + 3, c0:j * 2 - ph + 3, :]
            np.testing.assert_allclose(mx[:, i, j], win.max(axis=(1, 2)), rtol=1e-6)
            np.testing.assert_allclose(av[:, i, j], win.mean(axis=(1, 2)), rtol=1e-5)
    # Global pooling on 3 channels (one at a time) and 19 (eight at a time, then a tail).
    for x in (x, rng.normal(size=(2, 5, 6, 19))):
        shape = x.shape[1:]
        g = single_layer_model(layers.GlobalAveragePooling2D(), shape).predict(x)
        np.testing.assert_allclose(g, x.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
        g = single_layer_model(layers.GlobalMaxPooling2D(), shape).predict(x)
        np.testing.assert_allclose(g, x.max(axis=(1, 2)), rtol=1e-6)


def test_batchnorm_inference_matches_numpy():
    layer = layers.BatchNormalization()
    model = single_layer_model(layer, (4, 4, 3))
    gamma, beta, mean, var = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2, 3)
    layer.set_weights([gamma, beta, mean, var])
    x = rng.normal(size=(2, 4, 4, 3))
    np.testing.assert_allclose(model.predict(x), gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-4, atol=1e-5)


class KerasRule:
    """The Keras 3 update rules in NumPy, one step at a time."""

    def __init__(self, name, size, **kw):
        self.name, self.kw, self.t = name, kw, 0
        self.m, self.v = np.zeros(size), np.zeros(size)

    def step(self, w, g):
        self.t += 1
        kw, m, v = self.kw, self.m, self.v
        if self.name == "sgd":
            lr, mom = kw.get("learning_rate", 0.01), kw.get("momentum", 0.0)
            if not mom:
                return w - lr * g
            m[:] = mom * m - lr * g
            return w + (mom * m - lr * g if kw.get("nesterov") else m)
        if self.name == "rmsprop":
            lr = kw.get("learning_rate", 0.001)
            v[:] = 0.9 * v + 0.1 * g * g
            increment = lr * g / np.sqrt(v + 1e-7)
            if kw.get("momentum"):
                m[:] = kw["momentum"] * m + increment
                return w - m
            return w - increment
        lr = kw.get("learning_rate", 0.001)
        m[:] = m + (g - m) * 0.1
        v[:] = v + (g * g - v) * 0.001
        alpha = lr * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t)
        return w - alpha * m / (np.sqrt(v) + 1e-7)


@pytest.mark.parametrize("name,kw", [("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
                                     ("rmsprop", {}), ("rmsprop", {"momentum": 0.5}), ("adam", {"learning_rate": 0.01})])
def test_optimizer_steps_match_keras_rules(name, kw):
    """A linear Dense layer under MSE: dL/dW = 2 xᵀ(xW + b − y)/(n·units), computed in NumPy at every step. Its 15
    parameters take both the engine's eight-wide update and its scalar tail."""
    x = rng.normal(size=(8, 4))
    y = rng.normal(size=(8, 3))
    layer = layers.Dense(3)
    model = single_layer_model(layer, (4,))
    cls = {"sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam}[name]
    model.compile(cls(**kw), "mse")
    expected = np.concatenate([a.ravel() for a in layer.get_weights()]).astype(np.float64)
    rule = KerasRule(name, expected.size, **kw)
    for _ in range(3):
        W, B = expected[:12].reshape(4, 3), expected[12:]
        r = 2 * (x @ W + B - y) / (8 * 3)
        expected = rule.step(expected, np.concatenate([(x.T @ r).ravel(), r.sum(0)]))
        model.train_on_batch(x, y)
    got = np.concatenate([a.ravel() for a in layer.get_weights()])
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-6)


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        pytest.skip("PyTorch is not installed")


def test_conv_dense_pool_gradients_match_pytorch():
    torch = _torch()
    x = rng.normal(size=(3, 10, 10, 2)).astype(np.float32)
    labels = np.array([0, 2, 1])
    model = models.Sequential([layers.Input(shape=(10, 10, 2)), layers.Conv2D(4, 3, strides=1, padding="same", activation="relu"),
                               layers.MaxPooling2D(), layers.Conv2D(5, 3, activation="tanh"), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    w = model.get_weights()
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    conv1 = torch.nn.Conv2d(2, 4, 3, padding=1)
    conv2 = torch.nn.Conv2d(4, 5, 3)
    dense = torch.nn.Linear(45, 3)
    with torch.no_grad():
        conv1.weight.copy_(torch.tensor(w[0].transpose(3, 2, 0, 1))); conv1.bias.copy_(torch.tensor(w[1]))
        conv2.weight.copy_(torch.tensor(w[2].transpose(3, 2, 0, 1))); conv2.bias.copy_(torch.tensor(w[3]))
        dense.weight.copy_(torch.tensor(w[4].T)); dense.bias.copy_(torch.tensor(w[5]))
    h = torch.tanh(conv2(torch.nn.functional.max_pool2d(torch.relu(conv1(tx)), 2)))
    logits = dense(h.permute(0, 2, 3, 1).reshape(3, -1))   # NHWC flatten order
    probs = torch.softmax(logits, 1)
    np.testing.assert_allclose(model.predict(x), probs.detach().numpy(), rtol=1e-4, atol=1e-5)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    loss.backward()
    model.train_on_batch(x, labels)
    new = model.get_weights()
    np.testing.assert_allclose((w[0] - new[0]) / 0.1, conv1.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose((w[4] - new[4]) / 0.1, dense.weight.grad.numpy().T, rtol=1e-3, atol=1e-5)
