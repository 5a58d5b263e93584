"""The front end's structure: building a network costs O(n) engine calls, rebuilding moves no random stream, the
package has no import cycles and no module reaches into another's private state."""
import ast
import os
import pathlib

import numpy as np
import pytest

from swiftcnn import _native, applications, layers, models, utils

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "swiftcnn"


@pytest.fixture
def engine_calls(monkeypatch):
    """Counts the engine graphs made and the layers added to them (every engine graph Python makes goes through
    `_native.Model`)."""
    counts = {"graphs": 0, "add_layer": 0, "build": 0}
    real = _native.Model

    class Counting:
        def __init__(self):
            counts["graphs"] += 1
            self._engine = real()

        def add_layer(self, *args):
            counts["add_layer"] += 1
            return self._engine.add_layer(*args)

        def build(self, *args):
            counts["build"] += 1
            return self._engine.build(*args)

        def __getattr__(self, name):
            return getattr(self._engine, name)

    monkeypatch.setattr(_native, "Model", Counting)
    return counts


def test_densenet121_costs_linear_engine_calls(engine_calls):
    model = applications.DenseNet121(weights=None, input_shape=(64, 64, 3), classes=10)
    n = len([l for l in model.graph.layers if not l.is_input])
    assert n > 400
    # one shape inference per layer call, one add_layer per layer in the one built graph
    assert engine_calls["add_layer"] <= 2 * n + 5, engine_calls
    assert engine_calls["build"] == 1, engine_calls


def test_fifty_layer_sequential_costs_linear_engine_calls(engine_calls):
    model = models.Sequential([layers.Dense(8, activation="relu", input_shape=(8,))])
    for _ in range(49):
        model.add(layers.Dense(8, activation="relu"))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 8), np.float32), np.ones((4, 8), np.float32), verbose=0)
    assert model.predict(np.ones((2, 8), np.float32)).shape == (2, 8)
    assert engine_calls["add_layer"] <= 2 * 50 + 5, engine_calls    # was 50 * 51 / 2 rebuilt nodes and more
    assert engine_calls["build"] == 1, engine_calls


def test_rebuilding_a_sequential_moves_no_random_stream():
    def trained(build_between_adds):
        utils.set_random_seed(7)
        model = models.Sequential([layers.Dense(6, activation="relu", input_shape=(5,))])
        for layer in [layers.Dropout(0.5), layers.Dense(3, activation="softmax")]:
            if build_between_adds:
                model.get_weights()      # builds the engine graph now, so the next add rebuilds it
            model.add(layer)
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        x = np.random.default_rng(0).uniform(size=(16, 5)).astype(np.float32)
        model.fit(x, utils.to_categorical(np.arange(16) % 3), epochs=2, batch_size=4, verbose=0)
        return model.get_weights()

    for a, b in zip(trained(False), trained(True)):
        np.testing.assert_array_equal(a, b)


def _imports(path):
    """The package modules a module imports at module level (relative imports)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_no_import_cycles_and_no_function_level_package_imports():
    modules = {p.stem: p for p in PACKAGE.glob("*.py")}
    graph = {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}

    def visit(name, stack):
        assert name not in stack, f"import cycle: {' -> '.join(stack + [name])}"
        for dep in graph[name]:
            visit(dep, stack + [name])

    for name in graph:
        if name != "__init__":
            visit(name, [])
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.level == 1 and \
                            (inner.module or "").split(".")[0] in modules:
                        pytest.fail(f"{name}.py imports .{inner.module} inside {node.name}()")


def test_no_module_writes_another_objects_private_attributes():
    """`x._name = ...` is only allowed on `self` (or `cls`)."""
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for t in targets:
                for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    if isinstance(el, ast.Attribute) and el.attr.startswith("_") and \
                            not (isinstance(el.value, ast.Name) and el.value.id in ("self", "cls")):
                        pytest.fail(f"{path.name}:{el.lineno} writes {ast.unparse(el)}")


def test_visualization_uses_only_public_model_surface():
    tree = ast.parse((PACKAGE / "visualization.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") and \
                isinstance(node.value, ast.Name) and node.value.id in ("model", "layer", "graph"):
            pytest.fail(f"visualization.py:{node.lineno} reads {ast.unparse(node)}")


def test_self_nesting_and_pop_are_clear():
    inner = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="itself"):
        inner.add(inner)
    outer = models.Sequential([inner, layers.Dense(1)])
    with pytest.raises(ValueError, match="nested in itself"):
        inner.add(outer)
    model = models.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    removed = model.pop()
    assert model.predict(np.ones((1, 3), np.float32)).shape == (1, 4)
    assert removed not in model.graph.layers
    with pytest.raises(ValueError, match="positive integers"):
        layers.Input((2.7, 3))
