/// Receptive field of a node in input pixels, per spatial axis (Araujo et al., "Computing Receptive Fields of
/// Convolutional Neural Networks", Distill 2019): `size` is how many input pixels one output pixel sees,
/// `jump` the distance in input pixels between neighbouring output pixels (effective stride), `start` the
/// input coordinate of the centre of the first output pixel's field.
public struct ReceptiveField: Equatable {
    public var size: (Int, Int)
    public var jump: (Int, Int)
    public var start: (Double, Double)

    public static func == (a: ReceptiveField, b: ReceptiveField) -> Bool {
        a.size == b.size && a.jump == b.jump && a.start == b.start
    }

    /// A pixel of the input itself.
    public static let pixel = ReceptiveField(size: (1, 1), jump: (1, 1), start: (0, 0))
}

extension Graph {
    /// The receptive field of every node whose output is spatial (`[h, w, c]`); nil for others (Flatten, Dense),
    /// and nil where the size or jump would exceed Int (huge strides compounding over layers), rather than trap.
    /// Where paths merge (Add, Concatenate) the largest field over the paths is taken.
    public func receptiveFields() -> [ReceptiveField?] {
        var fields = [ReceptiveField?](repeating: nil, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            if node.isInput {
                fields[i] = node.shape.count == 3 ? .pixel : nil
                continue
            }
            guard node.shape.count == 3 else { continue }
            let incoming = node.inputs.compactMap { fields[$0] }
            // Compared by area in Double: the product of two sizes may exceed Int.
            guard incoming.count == node.inputs.count,
                  var rf = incoming.max(by: { Double($0.size.0) * Double($0.size.1) < Double($1.size.0) * Double($1.size.1) })
            else { continue }
            if let g = spatialGeometry(node) {
                let inShape = nodes[node.inputs[0]].shape
                guard let rows = apply(rf, kernel: g.kernel.0, stride: g.stride.0, dilation: g.dilation.0, same: g.same,
                                       inSize: inShape[0], axis: 0),
                      let both = apply(rows, kernel: g.kernel.1, stride: g.stride.1, dilation: g.dilation.1, same: g.same,
                                       inSize: inShape[1], axis: 1) else { continue }
                rf = both
            }
            fields[i] = rf
        }
        return fields
    }

    private func apply(_ rf: ReceptiveField, kernel: Int, stride: Int, dilation: Int, same: Bool, inSize: Int,
                       axis: Int) -> ReceptiveField? {
        var out = rf
        // Every step reports overflow (nil) instead of trapping: strides and dilations come from users.
        guard kernel >= 1, stride >= 1, dilation >= 1, inSize >= 1 else { return nil }
        let (span, o1) = dilation.multipliedReportingOverflow(by: kernel - 1)
        guard !o1, span < WindowGeometry.maxWindow else { return nil }
        let effective = span + 1
        // Keras 'same': total padding so that out = ceil(in / stride); the smaller half goes first.
        let outSize = same ? (inSize - 1) / stride + 1 : (inSize - effective) / stride + 1
        let padTotal = same ? max((outSize - 1) * stride + effective - inSize, 0) : 0
        let padBefore = padTotal / 2
        let (size, jump, start) = axis == 0 ? (rf.size.0, rf.jump.0, rf.start.0) : (rf.size.1, rf.jump.1, rf.start.1)
        let (growth, o2) = span.multipliedReportingOverflow(by: jump)
        let (newSize, o3) = size.addingReportingOverflow(growth)
        let (newJump, o4) = jump.multipliedReportingOverflow(by: stride)
        guard !o2, !o3, !o4 else { return nil }
        let newStart = start + (Double(effective - 1) / 2 - Double(padBefore)) * Double(jump)
        if axis == 0 { out.size.0 = newSize; out.jump.0 = newJump; out.start.0 = newStart }
        else { out.size.1 = newSize; out.jump.1 = newJump; out.start.1 = newStart }
        return out
    }

    /// Kernel, stride, dilation and padding of a layer that slides a window, read from its configuration.
    /// Element-wise layers return nil (field unchanged).
    private func spatialGeometry(_ node: Node) -> (kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int), same: Bool)? {
        let cfg = Dictionary(node.layer.config, uniquingKeysWith: { a, _ in a })
        func pair(_ key: String) -> (Int, Int)? {
            guard let text = cfg[key] else { return nil }
            let parts = text.split(separator: ",").compactMap { Int(String($0)) }
            if parts.count == 1 { return (parts[0], parts[0]) }
            if parts.count == 2 { return (parts[0], parts[1]) }
            return nil
        }
        guard let kernel = pair("kernel_size") ?? pair("pool_size") else { return nil }
        // Pooling strides default to the pool size, convolution strides to 1.
        let stride = pair("strides") ?? (cfg["pool_size"] != nil ? kernel : (1, 1))
        return (kernel, stride,
                pair("dilation_rate") ?? (1, 1), cfg["padding"] == "same")
    }
}
