"""Architectures and compile settings in Keras's words, both ways.

swiftcnn's saved architecture (`model.get_config()`: {"class": ..., "config": ...} per layer, "nodes" with inbound
layer names for graphs) is translated to the JSON Keras writes (`class_name`, `config`, `inbound_nodes`, and for
Keras 3 archives `module` / `registered_name` / `build_config`) and back. Reading accepts what Keras 3 and
tf.keras 2.x write. Everything a model uses is checked before anything is built: every layer class and setting
swiftcnn lacks is listed in one error.

Keras orders a functional model's layers by depth (`keras.src.ops.function.map_graph`), and that order names the
groups of its weight files and orders its optimizer variables; `keras_layer_order` reproduces it.
"""
import re
import warnings

__all__ = ["SUPPORTED_LAYERS", "model_to_keras", "model_from_keras", "keras_layer_order", "compile_to_keras",
           "compile_from_keras", "snake_case", "is_model_spec", "UnsupportedModelError"]

SUPPORTED_LAYERS = ("InputLayer", "Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
                    "GlobalMaxPooling2D", "Flatten", "Dropout", "Activation", "ReLU", "Softmax",
                    "BatchNormalization", "Add", "Concatenate", "ZeroPadding2D", "Rescaling")
_MODEL_CLASSES = ("Sequential", "Functional", "Model")
_ALIASES = {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
            "GlobalMaxPool2D": "GlobalMaxPooling2D"}
_ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh")
_INITIALIZERS = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal",
                 "HeUniform": "he_uniform", "Zeros": "zeros", "Ones": "ones"}
_LOSSES = {"CategoricalCrossentropy": "categorical_crossentropy",
           "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
           "BinaryCrossentropy": "binary_crossentropy", "MeanSquaredError": "mean_squared_error"}
_METRICS = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy")
_METRIC_CLASSES = {"Accuracy": "accuracy", "CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy", "BinaryAccuracy": "binary_accuracy"}
# Settings swiftcnn does not have: the value each must keep (absent counts as the default).
_MUST_BE = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None, "beta_regularizer": None, "gamma_regularizer": None,
            "beta_constraint": None, "gamma_constraint": None, "groups": 1, "renorm": False, "noise_shape": None,
            "keepdims": False, "max_value": None, "negative_slope": 0.0, "threshold": 0.0, "lora_rank": None,
            "quantization_config": None}


class UnsupportedModelError(ValueError):
    """A Keras model uses layer classes or settings swiftcnn does not have (all of them are listed)."""


def snake_case(name):
    """Keras's `naming.to_snake_case` (how Keras names the groups of a weights file)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def is_model_spec(spec):
    return spec.get("class") in ("Sequential", "Model")


# ====================================================================== swiftcnn -> Keras
def _initializer(name, archive):
    cls = next(k for k, v in _INITIALIZERS.items() if v == name)
    out = {"class_name": cls, "config": {"seed": None} if cls.startswith(("Glorot", "He")) else {}}
    return {"module": "keras.initializers", **out, "registered_name": None} if archive else out


def _keras_layer_config(cls, cfg, archive):
    """The Keras config of a swiftcnn layer of class `cls` with swiftcnn config `cfg`."""
    out = {"name": cfg["name"], "trainable": cfg.get("trainable", True), "dtype": "float32"}
    if cls == "Conv2D":
        out.update(filters=cfg["filters"], kernel_size=list(cfg["kernel_size"]), strides=list(cfg["strides"]),
                   padding=cfg["padding"], data_format="channels_last", dilation_rate=list(cfg["dilation_rate"]),
                   groups=1, activation=cfg["activation"], use_bias=cfg["use_bias"])
    elif cls == "Dense":
        out.update(units=cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"])
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        out.update(pool_size=list(cfg["pool_size"]), strides=list(cfg["strides"]), padding=cfg["padding"],
                   data_format="channels_last")
    elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        out.update(data_format="channels_last", keepdims=False)
    elif cls == "Flatten":
        out.update(data_format="channels_last")
    elif cls == "Dropout":
        out.update(rate=cfg["rate"], seed=cfg.get("seed"), noise_shape=None)
    elif cls == "Activation":
        out.update(activation=cfg["activation"])
    elif cls == "ReLU":
        out.update(max_value=None, negative_slope=0.0, threshold=0.0)
    elif cls == "Softmax":
        out.update(axis=-1)
    elif cls == "BatchNormalization":
        out.update(axis=-1, momentum=cfg["momentum"], epsilon=cfg["epsilon"], center=cfg["center"],
                   scale=cfg["scale"])
    elif cls == "Concatenate":
        out.update(axis=-1)
    elif cls == "ZeroPadding2D":
        out.update(padding=[list(p) for p in cfg["padding"]], data_format="channels_last")
    elif cls == "Rescaling":
        out.update(scale=cfg["scale"], offset=cfg["offset"])
    elif cls != "Add":
        raise ValueError(f"layer class {cls} has no Keras translation")
    for key in ("kernel_initializer", "bias_initializer"):
        if key in cfg:
            out[key] = _initializer(cfg[key], archive)
    return out


def _tensor(name, shape, archive):
    if archive is None:     # tf.keras 2 style
        return [name, 0, 0, {}]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None] + list(shape), "dtype": "float32", "keras_history": [name, 0, 0]}}


def _entry(cls, config, archive, build_shape=None):
    entry = {"class_name": cls, "config": config}
    if archive:
        module = {"Sequential": "keras", "Functional": "keras.src.models.functional"}.get(cls, "keras.layers")
        entry = {"module": module, **entry, "registered_name": "Functional" if cls == "Functional" else None}
        if build_shape is not None:
            entry["build_config"] = {"input_shape": build_shape}
    return entry


def _input_entry(name, shape, archive):
    entry = _entry("InputLayer", {"batch_shape": [None] + list(shape), "dtype": "float32", "sparse": False,
                                  "name": name}, archive)
    return entry


def model_to_keras(spec, shapes, archive=True):
    """The Keras entry (`class_name`, `config`, …) of a swiftcnn model spec. `shapes` maps layer name -> per-sample
    output shape (the model's tensors). `archive`: Keras 3 archive style (module, registered_name, build_config);
    False: the style Keras writes into legacy HDF5 files."""
    if spec["class"] == "Sequential":
        input_shape = spec["input_shape"]
        layers = [_input_entry(spec["name"] + "_input", input_shape, archive)]
        previous = list(input_shape)
        for layer in spec["layers"]:
            if is_model_spec(layer):
                layers.append(model_to_keras(layer, shapes, archive))
            else:
                name = layer["config"]["name"]
                layers.append(_entry(layer["class"], _keras_layer_config(layer["class"], layer["config"], archive),
                                     archive, [None] + previous))
            previous = list(shapes[_spec_name(layer)])
        config = {"name": spec["name"], "trainable": spec.get("trainable", True), "dtype": "float32",
                  "layers": layers, "build_input_shape": [None] + list(input_shape)}
        return _entry("Sequential", config, archive, [None] + list(input_shape))
    layers = []
    for node in spec["nodes"]:
        layer = node["layer"]
        name = _spec_name(layer)
        inbound = [_tensor(n, shapes[n], archive) for n in node["inbound"]]
        if layer["class"] == "InputLayer":
            entry = _input_entry(name, layer["config"]["shape"], archive)
        elif is_model_spec(layer):
            entry = model_to_keras(layer, shapes, archive)
        else:
            build = [[None] + list(shapes[n]) for n in node["inbound"]]
            entry = _entry(layer["class"], _keras_layer_config(layer["class"], layer["config"], archive), archive,
                           build[0] if len(build) == 1 else build)
        entry["name"] = name
        if not inbound:
            entry["inbound_nodes"] = []
        elif archive is None:
            entry["inbound_nodes"] = [inbound]
        else:
            entry["inbound_nodes"] = [{"args": [inbound[0] if len(inbound) == 1 else inbound], "kwargs": {}}]
        layers.append(entry)
    config = {"name": spec["name"], "trainable": True, "layers": layers,
              "input_layers": _endpoint_list(spec["inputs"]), "output_layers": _endpoint_list(spec["outputs"])}
    return _entry("Functional", config, archive)


def _endpoint_list(names):
    """Keras writes one input or output as [name, 0, 0] (a tensor) and several as a list of them."""
    return [names[0], 0, 0] if len(names) == 1 else [[n, 0, 0] for n in names]


def _spec_name(spec):
    return spec["name"] if is_model_spec(spec) else spec["config"]["name"]


# ====================================================================== Keras -> swiftcnn
def _class_of(entry):
    cls = entry.get("class_name")
    return _ALIASES.get(cls, cls)


def _unsupported(entry, problems, where=""):
    """Collects every unsupported class and setting of a Keras entry (recursively) into `problems`."""
    cls, cfg = _class_of(entry), entry.get("config") or {}
    name = cfg.get("name", entry.get("name", "?"))
    if cls in _MODEL_CLASSES:
        for layer in cfg.get("layers", []):
            _unsupported(layer, problems, f"{where}{name}/")
        return
    if cls not in SUPPORTED_LAYERS:
        problems.setdefault("classes", set()).add(cls)
        return
    settings = problems.setdefault("settings", [])
    for key, value in _MUST_BE.items():
        if key in cfg and cfg[key] != value:
            settings.append(f"{where}{name} ({cls}): {key}={cfg[key]!r} (swiftcnn supports only {value!r})")
    if cfg.get("data_format") not in (None, "channels_last"):
        settings.append(f"{where}{name} ({cls}): data_format={cfg['data_format']!r} (only channels_last)")
    activation = cfg.get("activation")
    if activation is not None and not (isinstance(activation, str) and activation in _ACTIVATIONS):
        settings.append(f"{where}{name} ({cls}): activation={activation!r} (supported: {', '.join(_ACTIVATIONS)})")
    axis = cfg.get("axis")
    if cls in ("BatchNormalization", "Concatenate", "Softmax") and _axis(axis) not in (-1, 3):
        settings.append(f"{where}{name} ({cls}): axis={axis!r} (only the last axis)")
    if cls == "Rescaling" and not all(isinstance(cfg.get(k, 0.0), (int, float)) for k in ("scale", "offset")):
        settings.append(f"{where}{name} (Rescaling): per-channel scale/offset (only numbers)")


def _axis(axis):
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    return -1 if axis is None else axis


def _initializer_name(value, owner):
    if value is None:
        return None
    if isinstance(value, str):
        name = value if value in _INITIALIZERS.values() else _INITIALIZERS.get(value)
    else:
        name = _INITIALIZERS.get(value.get("class_name"))
    if name is None:
        warnings.warn(f"{owner}: initializer {value!r} is not in swiftcnn; the loaded weights are used as they are, "
                      "but re-initialising (clone_model) uses swiftcnn's default", stacklevel=4)
    return name


def _shape_of_input(cfg):
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is not None:
        return list(shape[1:])
    return list(cfg.get("shape") or cfg["input_shape"])


def _layer_spec(entry):
    """The swiftcnn spec of a supported Keras layer entry."""
    cls, cfg = _class_of(entry), entry["config"]
    out = {"name": cfg.get("name") or entry.get("name"), "trainable": cfg.get("trainable", True)}
    if cls == "Conv2D":
        keys = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias")
    elif cls == "Dense":
        keys = ("units", "activation", "use_bias")
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        keys = ("pool_size", "strides", "padding")
    elif cls == "Dropout":
        keys = ("rate", "seed")
    elif cls == "Activation":
        keys = ("activation",)
    elif cls == "BatchNormalization":
        keys = ("momentum", "epsilon", "center", "scale")
    elif cls == "ZeroPadding2D":
        keys = ("padding",)
    elif cls == "Rescaling":
        keys = ("scale", "offset")
    else:
        keys = ()
    for key in keys:
        if key in cfg:
            value = cfg[key]
            out[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) \
                else value
    for key in ("kernel_initializer", "bias_initializer"):
        if cls in ("Conv2D", "Dense") and key in cfg:
            name = _initializer_name(cfg[key], out["name"])
            if name is not None:
                out[key] = name
    return {"class": cls, "config": out}


def _inbound_names(entry):
    """The layer names a Keras 3 or tf.keras 2 entry is applied to (one call per layer)."""
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise UnsupportedModelError(f"layer '{entry.get('name')}' is called more than once (shared layers are "
                                    "not supported)")
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):        # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
        names = []

        def walk(value):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                names.append(value["config"]["keras_history"][0])
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)
        walk(node.get("args", []))
        return names
    return [item[0] for item in node]     # tf.keras 2: [[name, node_index, tensor_index, kwargs], ...]


def _endpoints(value):
    """input_layers / output_layers: [name, 0, 0] or [[name, 0, 0], ...]."""
    if value and isinstance(value[0], str):
        return [value[0]]
    return [v[0] for v in value]


def _model_spec(entry):
    cls, cfg = _class_of(entry), entry["config"]
    name = cfg.get("name") or entry.get("name")
    if cls == "Sequential":
        layers, input_shape = [], cfg.get("build_input_shape")
        input_shape = list(input_shape[1:]) if input_shape else None
        for layer in cfg["layers"]:
            lcls, lcfg = _class_of(layer), layer.get("config", {})
            if lcls == "InputLayer":
                input_shape = _shape_of_input(lcfg)
                continue
            if input_shape is None and not layers and (lcfg.get("batch_input_shape") or lcfg.get("batch_shape")):
                input_shape = _shape_of_input(lcfg)
            layers.append(_model_spec(layer) if lcls in _MODEL_CLASSES else _layer_spec(layer))
        return {"class": "Sequential", "name": name, "trainable": cfg.get("trainable", True),
                "input_shape": input_shape, "layers": layers}
    nodes = []
    for layer in cfg["layers"]:
        lcls = _class_of(layer)
        lname = layer.get("name") or layer["config"].get("name")
        if lcls == "InputLayer":
            spec = {"class": "InputLayer", "config": {"name": lname, "shape": _shape_of_input(layer["config"])}}
        elif lcls in _MODEL_CLASSES:
            spec = _model_spec(layer)
            spec["name"] = lname
        else:
            spec = _layer_spec(layer)
            spec["config"]["name"] = lname
        nodes.append({"layer": spec, "inbound": _inbound_names(layer)})
    return {"class": "Model", "name": name, "nodes": nodes, "inputs": _endpoints(cfg["input_layers"]),
            "outputs": _endpoints(cfg["output_layers"])}


def model_from_keras(entry, source):
    """The swiftcnn model spec of a Keras model entry, after checking that every class and setting is supported."""
    if not isinstance(entry, dict) or _class_of(entry) not in _MODEL_CLASSES:
        raise ValueError(f"{source}: the file holds a {entry.get('class_name') if isinstance(entry, dict) else entry!r}"
                         ", not a Sequential or functional model")
    problems = {}
    _unsupported(entry, problems)
    lines = []
    if problems.get("classes"):
        lines.append(f"layer classes swiftcnn does not have: {', '.join(sorted(problems['classes']))}")
    lines += problems.get("settings", [])
    if lines:
        raise UnsupportedModelError(f"{source} cannot be loaded: " + "; ".join(lines) +
                                    f". Supported layers: {', '.join(SUPPORTED_LAYERS)}, Sequential and functional "
                                    "models.")
    return _model_spec(entry)


# ====================================================================== Keras's layer order
def keras_layer_order(spec):
    """The names of a swiftcnn model spec's layers in the order Keras gives `model.layers` (Sequential: the stack
    without its input; functional: by decreasing depth, ties in the order a depth-first walk from the outputs
    first meets them, inputs included)."""
    if spec["class"] == "Sequential":
        return [_spec_name(layer) for layer in spec["layers"]]
    inbound = {_spec_name(n["layer"]): n["inbound"] for n in spec["nodes"]}
    index, finished, post_order = {}, set(), []

    def visit(name):
        if name in finished:
            return
        index.setdefault(name, len(index))
        if name not in spec["inputs"]:
            for parent in inbound[name]:
                visit(parent)
        finished.add(name)
        post_order.append(name)

    for name in spec["outputs"]:
        visit(name)
    depth = {}
    for name in reversed(post_order):
        d = depth.setdefault(name, 0)
        for parent in inbound[name]:
            depth[parent] = max(d + 1, depth.get(parent, 0))
    return sorted(post_order, key=lambda n: (-depth[n], index[n]))


# ====================================================================== compile settings
def compile_to_keras(model, archive=True):
    """Keras's compile config (archive) or training_config (HDF5) for a compiled swiftcnn model."""
    opt = model.optimizer
    cls = type(opt).__name__
    config = {"name": opt.name, "learning_rate": float(opt.learning_rate), "weight_decay": None, "clipnorm": None,
              "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None}
    config.update({k: v for k, v in opt.get_config().items() if k not in ("name", "learning_rate")})
    if cls == "RMSprop":
        config["centered"] = False
    if cls == "Adam":
        config["amsgrad"] = False
    loss = "mean_squared_error" if model.loss == "mse" else model.loss
    metrics = [model.compiled_metric] if model.compiled_metric else None
    if archive:
        return {"optimizer": {"module": "keras.optimizers", "class_name": cls, "config": config,
                              "registered_name": None},
                "loss": loss, "loss_weights": None, "metrics": metrics, "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
    return {"loss": loss, "loss_weights": None, "metrics": metrics, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
            "optimizer_config": {"class_name": cls, "config": config}}


_OPTIMIZER_KEYS = {"SGD": ("learning_rate", "momentum", "nesterov"),
                   "RMSprop": ("learning_rate", "rho", "momentum", "epsilon", "centered"),
                   "Adam": ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad")}
_OPTIMIZER_DEFAULTS = {"decay": 0.0, "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                       "clipvalue": None, "use_ema": False, "loss_scale_factor": None,
                       "gradient_accumulation_steps": None}


def _loss_name(loss):
    if isinstance(loss, dict):
        name = _LOSSES.get(loss.get("class_name"))
        if name is None and loss.get("class_name") == "function":
            name = loss.get("config")
        if (loss.get("config") or {}).get("from_logits") if isinstance(loss.get("config"), dict) else False:
            return None
        return name
    return loss if isinstance(loss, str) else None


def _metric_name(metrics):
    flat = []

    def walk(value):
        if isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif value is not None:
            flat.append(value)
    walk(metrics)
    names = []
    for m in flat:
        if isinstance(m, dict):
            cfg = m.get("config")
            m = _METRIC_CLASSES.get(m.get("class_name")) or (cfg.get("name") if isinstance(cfg, dict) else cfg)
        if m not in _METRICS:
            return False
        names.append(m)
    if len(names) > 1:
        return False
    return names[0] if names else None


def compile_from_keras(config, source):
    """(optimizer class name, optimizer config, loss, metric or None) from Keras's compile config or
    training_config, or None (with a warning saying why) when swiftcnn cannot train with those settings."""
    if not config:
        return None
    opt = config.get("optimizer") or config.get("optimizer_config")
    if isinstance(opt, dict) and isinstance(opt.get("class_name"), str):     # tf.keras 2.11+: "Custom>Adam"
        opt = {**opt, "class_name": opt["class_name"].split(">")[-1]}
    elif isinstance(opt, str) and opt.lower() in ("adam", "sgd", "rmsprop"):
        opt = {"class_name": {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[opt.lower()], "config": {}}
    loss = _loss_name(config.get("loss"))
    metric = _metric_name(config.get("metrics"))
    problems = []
    if not isinstance(opt, dict) or opt.get("class_name") not in _OPTIMIZER_KEYS:
        problems.append(f"optimizer {opt.get('class_name') if isinstance(opt, dict) else opt!r}")
        opt_config = None
    else:
        cfg = opt.get("config", {})
        opt_config = {k: cfg[k] for k in _OPTIMIZER_KEYS[opt["class_name"]] if k in cfg}
        if not isinstance(opt_config.get("learning_rate", 0.0), (int, float)):
            problems.append("a learning-rate schedule")
        for key, default in _OPTIMIZER_DEFAULTS.items():
            if cfg.get(key, default) not in (default, None if default is None else default):
                problems.append(f"optimizer setting {key}={cfg[key]!r}")
        if opt_config.get("amsgrad") or opt_config.get("centered"):
            problems.append("amsgrad/centered")
    if loss is None:
        problems.append(f"loss {config.get('loss')!r}")
    if metric is False:
        problems.append(f"metrics {config.get('metrics')!r}")
    if config.get("loss_weights") not in (None, [], {}):
        problems.append("loss_weights")
    if problems:
        warnings.warn(f"{source}: the model is loaded without its compile settings (swiftcnn lacks "
                      f"{', '.join(problems)}); call compile() before training", stacklevel=4)
        return None
    opt_config.pop("amsgrad", None)
    opt_config.pop("centered", None)
    return opt["class_name"], opt_config, loss, metric
