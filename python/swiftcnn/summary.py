"""`model.summary()`: the Keras table (layer (type), output shape, parameters, "Connected to" for graphs) with a
receptive-field column for spatial layers."""

__all__ = ["summary_lines"]


def _trainable_count(layer):
    """Parameters the optimizer updates: none for a frozen layer, all but BatchNormalization's moving statistics
    for a trainable one, summed through nested models."""
    if hasattr(layer, "graph_trace"):
        return sum(_trainable_count(l) for l in layer.layers)
    if not layer.trainable:
        return 0
    frozen = 2 * layer.output_shape[-1] if type(layer).__name__ == "BatchNormalization" else 0
    return layer.count_params() - frozen


def summary_lines(model):
    graph = model.graph
    connected = any(len(model.inbound_of(layer)) > 1 for layer in model.layers) or len(model.inputs) > 1
    headers = ["Layer (type)", "Output Shape", "Param #", "Receptive field"] + (["Connected to"] if connected else [])
    rows = []
    for layer in model.layers:
        rf = graph.receptive_field(graph.node(layer))
        rf_text = "-" if rf is None else (str(rf[0][0]) if rf[0][0] == rf[0][1] else "%dx%d" % rf[0])
        row = [f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), f"{layer.count_params():,}", rf_text]
        if connected:
            inbound = model.inbound_of(layer)
            row.append(", ".join(t.layer.name for t in inbound) if inbound else "-")
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 3 if rows else len(h) + 3 for i, h in enumerate(headers)]
    total_width = sum(widths)

    def fmt(cells):
        return "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    lines = [f'Model: "{model.name}"', "_" * total_width, fmt(headers), "=" * total_width]
    for i, r in enumerate(rows):
        lines.append(fmt(r))
        lines.append("_" * total_width if i < len(rows) - 1 else "=" * total_width)
    total = model.count_params()
    trainable = sum(_trainable_count(layer) for layer in model.layers)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * total_width]
    return lines
