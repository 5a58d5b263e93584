/// Receptive field of a node in input pixels, per spatial axis (Araujo et al., "Computing Receptive Fields of
/// Convolutional Neural Networks", Distill 2019): `size` is how many input pixels one output pixel sees,
/// `jump` the distance in input pixels between neighbouring output pixels (effective stride), `start` the
/// input coordinate of the centre of the first output pixel's field.
public struct ReceptiveField: Equatable {
    /// Input pixels one output pixel sees, (rows, columns).
    public var size: (Int, Int)
    /// Input pixels between neighbouring output pixels, (rows, columns).
    public var jump: (Int, Int)
    /// Input coordinate of the centre of the first output pixel's field, (row, column).
    public var start: (Double, Double)

    /// Creates a field from its size, jump and start.
    public init(size: (Int, Int), jump: (Int, Int), start: (Double, Double)) {
        self.size = size
        self.jump = jump
        self.start = start
    }

    /// Fields are equal when size, jump and start are.
    public static func == (a: ReceptiveField, b: ReceptiveField) -> Bool {
        a.size == b.size && a.jump == b.jump && a.start == b.start
    }

    /// A pixel of the input itself.
    public static let pixel = ReceptiveField(size: (1, 1), jump: (1, 1), start: (0, 0))

    /// Where paths merge (Add, Concatenate) or a layer works per pixel: the largest of the inputs' fields (the first
    /// of equal ones); nil when any input is not an image.
    public static func widest(_ inputs: [ReceptiveField?]) -> ReceptiveField? {
        let fields = inputs.compactMap { $0 }
        guard !fields.isEmpty, fields.count == inputs.count else { return nil }
        // Areas compared in Double: the product of two sizes may exceed Int.
        return fields.max(by: { Double($0.size.0) * Double($0.size.1) < Double($1.size.0) * Double($1.size.1) })
    }

    /// The field after a sliding window (convolution or pooling) with the given geometry.
    public func through(_ g: WindowGeometry) -> ReceptiveField {
        var out = self
        (out.size.0, out.jump.0, out.start.0) = Self.axis(size.0, jump.0, start.0, kernel: g.kernelH, stride: g.strideH,
                                                          dilation: g.dilationH, padBefore: g.padTop)
        (out.size.1, out.jump.1, out.start.1) = Self.axis(size.1, jump.1, start.1, kernel: g.kernelW, stride: g.strideW,
                                                          dilation: g.dilationW, padBefore: g.padLeft)
        return out
    }

    /// The field after zero padding: the same pixels, the first output pixel `top` and `left` rows/columns earlier.
    public func padded(top: Int, left: Int) -> ReceptiveField {
        var out = self
        out.start.0 -= Double(top) * Double(jump.0)
        out.start.1 -= Double(left) * Double(jump.1)
        return out
    }

    /// One axis of Araujo et al.'s recurrence: r += (k_eff − 1)·j, j *= s, start += ((k_eff − 1)/2 − pad)·j.
    /// Size and jump saturate at Int.max: huge strides compounding over layers are legal input.
    private static func axis(_ size: Int, _ jump: Int, _ start: Double, kernel: Int, stride: Int, dilation: Int,
                             padBefore: Int) -> (Int, Int, Double) {
        let span = saturatingProduct([dilation, kernel - 1])   // the geometry keeps it below 2^62
        return (saturatingAdd(size, saturatingProduct([span, jump])), saturatingProduct([jump, stride]),
                start + (Double(span) / 2 - Double(padBefore)) * Double(jump))
    }
}

extension Graph {
    /// The receptive field of every node whose output is an image (`[h, w, c]`); nil for others (Flatten, Dense on
    /// vectors). Each layer computes its own from its inputs' fields.
    public func receptiveFields() -> [ReceptiveField?] {
        var fields = [ReceptiveField?](repeating: nil, count: nodes.count)
        for (i, node) in nodes.enumerated() where node.shape.count == 3 {
            fields[i] = node.layer.receptiveField(inputs: node.inputs.map { fields[$0] })
        }
        return fields
    }
}
