/// Keras `ZeroPadding2D`: adds rows and columns of zeros around each image.
public final class ZeroPadding2D: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "ZeroPadding2D" }
    /// top, bottom, left, right
    public let padding: (Int, Int, Int, Int)
    private var h = 0, w = 0, c = 0

    /// Zeros added (top, bottom, left, right).
    public init(padding: (Int, Int, Int, Int) = (1, 1, 1, 1), name: String = "") {
        self.name = name
        self.padding = padding
    }

    /// `padding` as "1" (all sides), "1,2" (rows, columns) or "top,bottom,left,right".
    public convenience init(config c: LayerConfig, name: String) throws {
        let text = try c.string("padding", default: "1")
        let v = text.split(separator: ",").map { Int(String($0).trimmed) }
        guard v.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw SwiftCNNError.invalidArgument("ZeroPadding2D: padding must be non-negative integers, received '\(text)'")
        }
        let p = v.map { $0! }
        switch p.count {
        case 1: self.init(padding: (p[0], p[0], p[0], p[0]), name: name)
        case 2: self.init(padding: (p[0], p[0], p[1], p[1]), name: name)
        case 4: self.init(padding: (p[0], p[1], p[2], p[3]), name: name)
        default:
            throw SwiftCNNError.invalidArgument("ZeroPadding2D: padding must be an int, 2 ints or ((top, bottom), (left, right)), received '\(text)'")
        }
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        (h, w, c) = try requireImageInput(self, inputShapes)
        let limit = Graph.maxSampleSize, what = "Layer '\(name)' (ZeroPadding2D): padded"
        let rows = try checkedAdd(try checkedAdd(h, padding.0, "\(what) height", limit: limit), padding.1, "\(what) height", limit: limit)
        let cols = try checkedAdd(try checkedAdd(w, padding.2, "\(what) width", limit: limit), padding.3, "\(what) width", limit: limit)
        return [rows, cols, c]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let outH = h + padding.0 + padding.1, outW = w + padding.2 + padding.3
        io.output.initialize(repeating: 0, count: io.batch * outH * outW * c)
        for b in 0..<io.batch {
            for y in 0..<h {
                let src = io.inputs[0] + ((b * h + y) * w) * c
                let dst = io.output + ((b * outH + y + padding.0) * outW + padding.2) * c
                dst.update(from: src, count: w * c)
            }
        }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        let outH = h + padding.0 + padding.1, outW = w + padding.2 + padding.3
        for b in 0..<io.batch {
            for y in 0..<h {
                let dst = io.inputGrads[0] + ((b * h + y) * w) * c
                dst.update(from: io.outputGrad + ((b * outH + y + padding.0) * outW + padding.2) * c, count: w * c)
            }
        }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] { [("padding", "\(padding.0),\(padding.1),\(padding.2),\(padding.3)")] }

    /// The same field; the first output pixel lies `top` rows and `left` columns before the first input pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { inputs[0]?.padded(top: padding.0, left: padding.2) }

    /// Copies only.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
