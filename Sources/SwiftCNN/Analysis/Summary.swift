extension Graph {
    /// One row per layer node (the input too when it is the only node), as a Sequential prints.
    public var defaultSummaryRows: [SummaryRow] {
        nodes.indices.filter { !nodes[$0].isInput || nodes.count == 1 }.map {
            SummaryRow(name: nodes[$0].layer.name, type: nodes[$0].layer.typeName, nodes: [$0], outputs: [$0])
        }
    }

    /// Rows from the C ABI's JSON: `[{"name", "type", "nodes": [ids], "output": id or [ids], "connected": ["…"]}]`.
    /// "name" and "type" default to the layer's when "nodes" holds one node; "output" defaults to the last node.
    /// Throws naming the row and the key that is wrong.
    public func summaryRows(json text: String) throws -> [SummaryRow] {
        guard let items = try JSON.parse(text, what: "summary rows").arrayValue else {
            throw SwiftCNNError.invalidArgument("summary rows: expected a JSON array of row objects")
        }
        func node(_ value: JSON, _ row: Int) throws -> Int {
            guard let n = value.intValue, n >= 0, n < nodes.count else {
                throw SwiftCNNError.invalidArgument("summary row \(row): node \(value.text) does not exist (the model has \(nodes.count) nodes)")
            }
            return n
        }
        return try items.enumerated().map { (i, item) in
            guard case .object = item, let ids = item["nodes"]?.arrayValue else {
                throw SwiftCNNError.invalidArgument("summary row \(i): expected an object with a \"nodes\" list")
            }
            let members = try ids.map { try node($0, i) }
            let outputs: [Int]
            switch item["output"] {
            case nil: outputs = members.last.map { [$0] } ?? []
            case .array(let list)?: outputs = try list.map { try node($0, i) }
            case let value?: outputs = [try node(value, i)]
            }
            guard !outputs.isEmpty else { throw SwiftCNNError.invalidArgument("summary row \(i): no output node") }
            let single = members.count == 1 ? nodes[members[0]].layer : nil
            guard let name = item["name"]?.stringValue ?? single?.name, let type = item["type"]?.stringValue ?? single?.typeName else {
                throw SwiftCNNError.invalidArgument("summary row \(i): \"name\" and \"type\" (strings) are needed for a row of \(members.count) nodes")
            }
            var connected: [String]? = nil
            if let list = item["connected"] {
                guard let entries = list.arrayValue?.compactMap(\.stringValue), entries.count == list.arrayValue?.count else {
                    throw SwiftCNNError.invalidArgument("summary row \(i): \"connected\" must be a list of strings")
                }
                connected = entries
            }
            return SummaryRow(name: name, type: type, nodes: members, outputs: outputs, connectedTo: connected)
        }
    }

    /// The Keras `summary()` table: "Layer (type)", "Output Shape" (`(None, 26, 26, 32)`), "Param #" (with thousands
    /// separators), "Receptive field" (input pixels, for image outputs) and, when any row has one, "Connected to";
    /// then the total, trainable and non-trainable counts. A node in several rows counts once in the totals;
    /// BatchNormalization's moving statistics are non-trainable (`trainableParameterTensors`), as is a frozen node.
    public func summary(title: String = "sequential", rows: [SummaryRow]? = nil) -> String {
        let rows = rows ?? defaultSummaryRows
        let fields = receptiveFields()
        let connected = rows.contains { $0.connectedTo != nil }
        let headers = ["Layer (type)", "Output Shape", "Param #", "Receptive field"] + (connected ? ["Connected to"] : [])
        let cells: [[String]] = rows.map { row in
            let params = row.nodes.reduce(0) { $0 + nodes[$1].layer.parameterCount }
            let shapes = row.outputs.map { "(None, " + nodes[$0].shape.map(String.init).joined(separator: ", ") + ")" }
            let rf = fields[row.outputs[0]].map { $0.size.0 == $0.size.1 ? "\($0.size.0)" : "\($0.size.0)x\($0.size.1)" } ?? "-"
            var line = ["\(row.name) (\(row.type))", shapes.count == 1 ? shapes[0] : "[" + shapes.joined(separator: ", ") + "]",
                        groupedThousands(params), rf]
            if connected {
                let from = row.connectedTo ?? []
                line.append(from.isEmpty ? "-" : from.joined(separator: ", "))
            }
            return line
        }
        // Widths in code points, as Python's len() counts them, so the table lines up like the one Keras prints.
        func width(_ s: String) -> Int { s.unicodeScalars.count }
        let widths = headers.indices.map { c in (cells.map { width($0[c]) } + [width(headers[c])]).max()! + 3 }
        let total = widths.reduce(0, +)
        func format(_ line: [String]) -> String {
            var out = ""
            for (cell, w) in zip(line, widths) { out += cell + String(repeating: " ", count: max(w - width(cell), 0)) }
            while out.last == " " { out.removeLast() }
            return out
        }
        var lines = ["Model: \"\(title)\"", String(repeating: "_", count: total), format(headers), String(repeating: "=", count: total)]
        for (i, line) in cells.enumerated() {
            lines.append(format(line))
            lines.append(String(repeating: i < cells.count - 1 ? "_" : "=", count: total))
        }
        var counted = Set<Int>(), all = 0, trainable = 0
        for row in rows {
            for n in row.nodes where counted.insert(n).inserted {
                all += nodes[n].layer.parameterCount
                trainable += nodes[n].trainable ? nodes[n].layer.trainableParameterCount : 0
            }
        }
        lines += ["Total params: \(groupedThousands(all))", "Trainable params: \(groupedThousands(trainable))",
                  "Non-trainable params: \(groupedThousands(all - trainable))", String(repeating: "_", count: total)]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `1234567` → `"1,234,567"`, as Python's `f"{n:,}"` writes it.
func groupedThousands(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return n < 0 ? "-" + out : out
}
