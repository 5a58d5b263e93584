"""`model.summary()`: Python knows the rows (layers as the user sees them, a nested model as one row, what each
layer is connected to); the engine owns the table and every count in it (`Analysis/Summary.swift`)."""
import json

__all__ = ["summary_text"]


def summary_text(model):
    """The Keras summary table with a receptive-field column, as text."""
    graph = model.graph
    connected = any(len(model.inbound_of(layer)) > 1 for layer in model.layers) or len(model.inputs) > 1
    rows = []
    for layer in model.layers:
        if hasattr(layer, "graph_trace"):
            nodes = [graph.node(l) for l, _ in layer.graph_trace.order if not l.is_input]
        else:
            nodes = [graph.node(layer)]
        row = {"name": layer.name, "type": type(layer).__name__, "nodes": nodes, "output": graph.node(layer)}
        if connected:
            row["connected"] = [t.layer.name for t in model.inbound_of(layer)]
        rows.append(row)
    return graph.engine.summary(model.name, json.dumps(rows))
