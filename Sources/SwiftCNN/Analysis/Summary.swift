extension Graph {
    /// The Keras `summary()` table: layer (type), output shape, parameter count, receptive field (for spatial
    /// layers), and the totals.
    public func summary(title: String = "sequential") -> String {
        let fields = receptiveFields()
        var rows: [[String]] = [["Layer (type)", "Output Shape", "Param #", "Receptive field"]]
        var trainable = 0, frozen = 0
        for (i, node) in nodes.enumerated() where !node.isInput || nodes.count == 1 {
            let params = node.layer.parameterCount
            let updatable = node.trainable ? node.layer.trainableParameterCount : 0
            trainable += updatable
            frozen += params - updatable
            let rf = fields[i].map { $0.size.0 == $0.size.1 ? "\($0.size.0)" : "\($0.size.0)x\($0.size.1)" } ?? "-"
            rows.append(["\(node.layer.name) (\(node.layer.typeName))", describeShape(node.shape), "\(params)", rf])
        }
        let widths = (0..<4).map { c in rows.map { $0[c].count }.max()! + 2 }
        let line = String(repeating: "─", count: widths.reduce(0, +))
        func format(_ r: [String]) -> String { zip(r, widths).map { $0 + String(repeating: " ", count: max($1 - $0.count, 0)) }.joined() }
        var out = "Model: \"\(title)\"\n" + line + "\n" + format(rows[0]) + "\n" + line.replacingAll("─", "━") + "\n"
        for r in rows.dropFirst() { out += format(r) + "\n" }
        out += line + "\n"
        out += "Total params: \(trainable + frozen)\nTrainable params: \(trainable)\nNon-trainable params: \(frozen)\n"
        return out
    }
}

extension String {
    func replacingAll(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
