"""Looking inside a network: activations and montages, filter patterns, Grad-CAM heatmaps, receptive fields and the
analyzeNetwork table. Every forward and backward pass runs in the engine: gradients are seeded at a node and read
at another, the same mechanism training uses. Python only arranges pictures."""
import base64
import html
import io
import warnings

import numpy as np

from . import _native
from ._optional import require
from .layers import Conv2D

__all__ = ["activations", "montage", "filter_pattern", "filter_patterns", "grad_cam", "overlay", "receptive_fields",
           "analyze", "plot_history"]


def _graph(model):
    if not model.built:
        raise ValueError("The model is not built yet: give it an input shape or call it on data first.")
    return model.graph


def _layer_and_node(model, layer_name):
    graph = _graph(model)
    layer = model.get_layer(index=layer_name) if isinstance(layer_name, int) else model.find_layer(layer_name)
    if not graph.holds(layer) and not hasattr(layer, "graph_trace"):
        raise ValueError(f"Layer '{layer.name}' is not part of model '{model.name}' as built")
    return layer, graph.node(layer)


def _batch(model, x):
    x = np.asarray(x, dtype=np.float32)
    shape = model.input_shape[1:]
    if x.shape == shape:
        x = x[None]
    return np.ascontiguousarray(model.data_spec().x(x), dtype=np.float32)


def activations(model, x, layer_name):
    """The activation of layer `layer_name` for input `x` (one image or a batch), as MATLAB's
    `activations(net, image, "conv1")`: shape (batch,) + the layer's output shape."""
    layer, node = _layer_and_node(model, layer_name)
    x = _batch(model, x)
    graph = model.graph
    graph.forward(x)
    return graph.activation(node, len(x))


def montage(activation, images_per_row=16, normalize=True, padding=0, gap=None):
    """One 2-D uint8 image with every channel of an activation (h, w, c) or (1, h, w, c), tiles edge to edge in rows
    of `images_per_row`, as the Keras book's loop and MATLAB's `montage` draw them; `padding` > 0 puts black
    separators of that many pixels between tiles, and tiles past the last channel stay black. Each channel is
    normalised as in the Keras book (mean/std, ×64, +128, clipped to 0..255); a constant channel (a dead filter) is
    a flat mid-grey tile, so empty channels are visible as such."""
    if gap is not None:
        warnings.warn("montage(gap=...) is now montage(padding=...)", DeprecationWarning, stacklevel=2)
        padding = gap
    a = np.asarray(activation, dtype=np.float32)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"montage shows one image; received a batch of {a.shape[0]}: pass activation[i]")
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"montage expects an activation of shape (height, width, channels), received {a.shape}")
    if isinstance(images_per_row, bool) or not isinstance(images_per_row, (int, np.integer)) or images_per_row < 1:
        raise ValueError(f"images_per_row must be an int >= 1, received {images_per_row!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an int >= 0 (pixels between tiles), received {padding!r}")
    h, w, c = a.shape
    rows = -(-c // images_per_row)
    cols = min(images_per_row, c)
    step_h, step_w = h + padding, w + padding
    grid = np.zeros((rows * step_h - padding, cols * step_w - padding), dtype=np.uint8)
    for ch in range(c):
        tile = a[:, :, ch].astype(np.float64)
        if normalize:
            std = tile.std()
            tile = np.full_like(tile, 128.0) if std == 0 else (tile - tile.mean()) / std * 64 + 128
        tile = np.clip(tile, 0, 255).astype(np.uint8)
        r, q = divmod(ch, images_per_row)
        grid[r * step_h:r * step_h + h, q * step_w:q * step_w + w] = tile
    return grid


def filter_pattern(model, layer_name, filter_index, size=None, steps=40, step_size=1.0, seed=0, deprocess=True):
    """The input image that maximises the mean activation of one filter (gradient ascent in input space, the
    gradient normalised by its RMS each step, starting from seeded noise around 0.5), deprocessed for display as
    in the Keras book: returns a uint8 image (size, size, channels). `size` defaults to the model's input size.
    With `deprocess=False` the raw float32 input found by the ascent is returned."""
    layer, _ = _layer_and_node(model, layer_name)
    out_shape = layer.output_shape
    if len(out_shape) != 4:
        raise ValueError(f"filter_pattern needs a layer with spatial output; '{layer.name}' outputs {out_shape}")
    if not 0 <= filter_index < out_shape[-1]:
        raise ValueError(f"filter_index {filter_index} is out of range: layer '{layer.name}' has {out_shape[-1]} filters")
    in_shape = model.input_shape[1:]
    if size is None:
        shape = in_shape
    else:
        if isinstance(size, int):
            size = (size, size)
        shape = (int(size[0]), int(size[1]), in_shape[2])
    engine, node, input_node = model.graph.subgraph(layer, shape)
    x = _pattern_ascent(engine, node, input_node, shape, filter_index, steps, step_size, seed)
    return _deprocess(x) if deprocess else x


def starting_noise(shape, seed=0):
    """The seeded noise image the ascent starts from."""
    return (0.5 + 0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _pattern_ascent(engine, node, input_node, shape, filter_index, steps, step_size, seed):
    node_shape = tuple(engine.node_shape(node))
    seed_grad = np.zeros((1,) + node_shape, dtype=np.float32)
    seed_grad[..., filter_index] = 1.0 / (node_shape[0] * node_shape[1])   # d(mean activation)/d(activation)
    x = starting_noise((1,) + shape, seed)
    grad = np.empty_like(x)
    for _ in range(steps):
        engine.forward(x, 1, False)
        engine.backward_from(node, seed_grad, False)
        engine.read_gradient(input_node, grad)
        rms = float(np.sqrt(np.mean(grad * grad)))
        x += step_size * 0.01 * grad / (rms + 1e-5)   # inputs live in [0, 1], hence the 0.01 step scale
    return x[0]


def mean_filter_activation(model, layer_name, filter_index, image):
    """Mean activation of one filter for one image (used to check filter patterns)."""
    a = activations(model, image, layer_name)
    return float(a[0, ..., filter_index].mean())


def _deprocess(x):
    """The book's display transform: zero mean, std 0.1, centred on 0.5, clipped, to 0..255."""
    x = x - x.mean()
    x = x / (x.std() + 1e-5) * 0.1 + 0.5
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def filter_patterns(model, layer_name, count=16, images_per_row=8, size=None, steps=40, step_size=1.0, gap=2):
    """The patterns of the first `count` filters of a layer as one grid image (uint8)."""
    layer, _ = _layer_and_node(model, layer_name)
    count = min(count, layer.output_shape[-1])
    tiles = [filter_pattern(model, layer_name, i, size=size, steps=steps, step_size=step_size) for i in range(count)]
    h, w, c = tiles[0].shape
    rows = -(-count // images_per_row)
    cols = min(images_per_row, count)
    grid = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), 255, dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, q = divmod(i, images_per_row)
        grid[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = t
    return grid[..., 0] if c == 1 else grid


def _last_conv(model):
    convs = [l for l in _graph(model).layers if isinstance(l, Conv2D)]
    if not convs:
        raise ValueError("grad_cam needs a convolutional layer; the model has none (pass layer_name=...)")
    return convs[-1]


def grad_cam(model, x, layer_name=None, class_index=None):
    """Grad-CAM heatmaps (Selvaraju et al. 2017) at the layer's spatial size, in [0, 1], for one image or a
    batch: channel weights are the spatial mean of the gradient of the class score before softmax; the map is the
    ReLU of the weighted sum of channels. Default layer: the last Conv2D; default class: the top prediction."""
    layer = _last_conv(model) if layer_name is None else _layer_and_node(model, layer_name)[0]
    if len(layer.output_shape) != 4:
        raise ValueError(f"grad_cam needs a layer with spatial output; '{layer.name}' outputs {layer.output_shape}")
    single = np.asarray(x).shape == model.input_shape[1:]
    x = _batch(model, x)
    n = len(x)
    graph = model.graph
    out_node = graph.node(model.outputs[0].layer)
    out_shape = graph.node_shape(out_node)
    graph.forward(x)
    probs = graph.activation(out_node, n)
    if class_index is None:
        classes = probs.reshape(n, -1).argmax(axis=1)
    else:
        classes = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (n,))
        if np.any(classes < 0) or np.any(classes >= out_shape[-1]):
            raise ValueError(f"class_index must be in [0, {out_shape[-1] - 1}], received {class_index!r}")
    # The class score before softmax: seed the pre-activation of a Dense(softmax); for a separate Softmax or
    # Activation layer, seed its input instead.
    seed_node, seed_shape, pre = out_node, out_shape, True
    final = graph.layer_at(out_node)
    if type(final).__name__ in ("Softmax", "Activation") and graph.input_nodes_of(final):
        seed_node, pre = graph.input_nodes_of(final)[0], False
        seed_shape = graph.node_shape(seed_node)
    seed = np.zeros((n,) + seed_shape, dtype=np.float32)
    seed.reshape(n, -1)[np.arange(n), classes] = 1
    graph.backward_from(seed_node, seed, pre)
    node = graph.node(layer)
    feature, grads = graph.activation(node, n), graph.gradient(node, n)
    weights = grads.mean(axis=(1, 2), keepdims=True)
    cam = np.maximum((weights * feature).sum(axis=-1), 0)
    peak = cam.reshape(n, -1).max(axis=1).reshape(n, 1, 1)
    cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0).astype(np.float32)
    return cam[0] if single else cam


def _resize(a, height, width):
    """Bilinear resize of a 2-D array to (height, width), pixel centres aligned, by the engine's resampler (the one
    augmentation uses): the array is edge-padded to a canvas as large as both sizes and zoomed about its centre."""
    h, w = a.shape
    size_h, size_w = max(h, height), max(w, width)
    canvas = np.pad(np.asarray(a, dtype=np.float32), ((0, size_h - h), (0, size_w - w)), mode="edge")
    zy, zx = h / height, w / width
    # output row y samples input row (y + 0.5) * h / height - 0.5; the engine zooms about the canvas centre c:
    # input = zoom * (y - c) + c + shift, so shift = 0.5 * zoom - 0.5 - (1 - zoom) * c.
    shift_y = 0.5 * zy - 0.5 - (1 - zy) * (size_h / 2 - 0.5)
    shift_x = 0.5 * zx - 0.5 - (1 - zx) * (size_w / 2 - 0.5)
    transform = np.array([[0, shift_y, shift_x, 0, zy, zx, 0, 0, 1]], dtype=np.float32)
    out = np.empty((1, size_h, size_w, 1), dtype=np.float32)
    _native.augment(canvas[None, :, :, None], transform, 0, 0.0, 1.0, False, out)
    return out[0, :height, :width, 0].astype(np.float64)


def _jet(v):
    """The jet colour map (blue → cyan → yellow → red) for values in [0, 1]; returns RGB floats."""
    v = np.clip(v, 0, 1)[..., None]
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return np.concatenate([r, g, b], axis=-1)


def overlay(image, heatmap, alpha=0.4):
    """An RGB uint8 picture: the heatmap (resized to the image, jet colours) blended over the image with weight
    `alpha`. `image` may be grey or RGB, in [0, 1] or [0, 255]."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"overlay expects an image of shape (h, w), (h, w, 1) or (h, w, 3), received {np.shape(image)}")
    if img.max() <= 1.0:
        img = img * 255
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2:
        raise ValueError(f"overlay expects a 2-D heatmap, received shape {heat.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], received {alpha}")
    colored = _jet(_resize(heat, img.shape[0], img.shape[1])) * 255
    return np.clip(colored * alpha + img * (1 - alpha), 0, 255).astype(np.uint8)


def receptive_fields(model):
    """Per layer: receptive-field size, jump (effective stride) and start offset in input pixels (Araujo et al.,
    Distill 2019), as a list of dicts; `None` values for non-spatial layers."""
    if not model.built:
        raise ValueError("The model is not built yet.")
    graph = _graph(model)
    out = []
    for layer in model.layers:
        rf = graph.receptive_field(graph.node(layer))
        out.append({"name": layer.name, "type": type(layer).__name__,
                    "size": None if rf is None else rf[0], "jump": None if rf is None else rf[1],
                    "start": None if rf is None else rf[2]})
    return out


class NetworkAnalysis:
    """The analyzeNetwork table: `rows` (a list of dicts), `str()` for a printable table, `to_html(path, sample)`."""

    columns = ("name", "type", "activations", "learnables", "receptive_field", "flops")

    def __init__(self, model, rows):
        self.model = model
        self.rows = rows
        self.total_learnables = sum(r["learnables"] for r in rows)
        self.total_flops = sum(r["flops"] for r in rows)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def _cells(self, r):
        rf = r["receptive_field"]
        return [r["name"], r["type"], "x".join(map(str, r["activations"])), f"{r['learnables']:,}",
                "-" if rf is None else (str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"), f"{r['flops']:,}"]

    def __str__(self):
        headers = ["Name", "Type", "Activations", "Learnables", "Receptive field", "FLOPs"]
        rows = [self._cells(r) for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in rows)) + 2 for i, h in enumerate(headers)]
        line = "-" * sum(widths)
        out = [f'Analysis of "{self.model.name}"', line, "".join(h.ljust(w) for h, w in zip(headers, widths)), line]
        out += ["".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        out += [line, f"Total learnables: {self.total_learnables:,}   FLOPs per image: {self.total_flops:,}"]
        return "\n".join(out)

    __repr__ = __str__

    def to_html(self, path, sample=None, images_per_row=16):
        """Writes a self-contained HTML report (table, and for `sample` each spatial layer's activation montage as
        an embedded PNG); it opens offline in any browser."""
        parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.model.name)}</title>",
                 "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child,td:nth-child(2)"
                 "{text-align:left}th{background:#eee}img{image-rendering:pixelated;border:1px solid #ddd;"
                 "max-width:100%}h2{margin-top:1.5em}</style></head><body>",
                 f"<h1>Network analysis: {html.escape(self.model.name)}</h1>", "<table><tr>"]
        parts += [f"<th>{h}</th>" for h in ["Name", "Type", "Activations", "Learnables", "Receptive field", "FLOPs"]]
        parts.append("</tr>")
        for r in self.rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(r)) + "</tr>")
        parts.append(f"<tr><th colspan='3'>Total</th><th>{self.total_learnables:,}</th><th></th>"
                     f"<th>{self.total_flops:,}</th></tr></table>")
        if sample is not None:
            parts.append("<h2>Input</h2>")
            img = np.asarray(sample, dtype=np.float32)
            if img.ndim == 4:
                img = img[0]
            shown = img[..., 0] if img.shape[-1] == 1 else img
            parts.append(_img_tag(((shown - shown.min()) / (np.ptp(shown) + 1e-8) * 255).astype(np.uint8), scale=4))
            for r in self.rows:
                if len(r["activations"]) == 3:
                    act = activations(self.model, sample, r["name"])[0]
                    parts.append(f"<h2>{html.escape(r['name'])} ({html.escape(r['type'])}), "
                                 f"{'x'.join(map(str, r['activations']))}</h2>")
                    parts.append(_img_tag(montage(act, images_per_row=images_per_row), scale=2))
        parts.append("</body></html>")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(parts))
        return path


def _png_bytes(image):
    matplotlib = require("matplotlib", "drawing the report's pictures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    cmap = "gray" if image.ndim == 2 else None
    plt.imsave(buf, image, cmap=cmap, vmin=0, vmax=255, format="png")
    return buf.getvalue()


def _img_tag(image, scale=1):
    h, w = image.shape[:2]
    data = base64.b64encode(_png_bytes(image)).decode("ascii")
    return f"<p><img src='data:image/png;base64,{data}' width='{w * scale}' height='{h * scale}'></p>"


def analyze(model):
    """MATLAB's analyzeNetwork: per layer name, type, activation shape, learnables, receptive field and FLOPs per
    image, with totals. Returns a `NetworkAnalysis` (printable; `.rows`; `.to_html(path, sample=x)`)."""
    graph = _graph(model)
    rows = []
    for layer in model.layers:
        node = graph.node(layer)
        rf = graph.receptive_field(node)
        rows.append({"name": layer.name, "type": type(layer).__name__, "activations": tuple(layer.output_shape[1:]),
                     "learnables": layer.count_params(), "receptive_field": None if rf is None else rf[0],
                     "flops": graph.flops(node)})
    return NetworkAnalysis(model, rows)


def plot_history(history, metric=None):
    """A matplotlib figure with the loss and accuracy curves, training and validation, as the chapters draw them."""
    plt = require("matplotlib.pyplot", "plot_history")
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or "loss" not in h:
        raise ValueError("plot_history expects a History (or its .history dict) with a 'loss' entry")
    metric = metric or next((k for k in ("accuracy", "acc") if k in h), None)
    epochs = range(1, len(h["loss"]) + 1)
    panels = 2 if metric else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    axes = np.atleast_1d(axes)
    for ax, key, title in zip(axes, ["loss", metric], ["Loss", "Accuracy"]):
        ax.plot(epochs, h[key], "bo-", label=f"Training {title.lower()}")
        if "val_" + key in h:
            ax.plot(epochs, h["val_" + key], "r^-", label=f"Validation {title.lower()}")
        ax.set_title(f"Training and validation {title.lower()}")
        ax.set_xlabel("Epoch")
        ax.legend()
    fig.tight_layout()
    return fig
