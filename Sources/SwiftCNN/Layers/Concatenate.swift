/// Keras `Concatenate(axis=-1)`: joins inputs along the last (channel) axis (Inception and DenseNet blocks).
public final class Concatenate: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Concatenate" }
    private var widths: [Int] = []
    private var rowsPerSample = 1
    private var totalWidth = 0

    /// A layer with the given name (the model makes names unique).
    public init(name: String = "") { self.name = name }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        let axis = try c.int("axis", default: -1)
        guard axis == -1 || axis == 3 else {
            throw SwiftCNNError.invalidArgument("Concatenate: only the last axis (axis=-1) is supported, received axis=\(axis)")
        }
        self.init(name: name)
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw SwiftCNNError.invalidArgument("Layer '\(name)' (Concatenate) should be called on a list of at least 2 inputs. Received: \(inputShapes.count) input(s)")
        }
        let lead = Array(inputShapes[0].dropLast())
        for s in inputShapes where Array(s.dropLast()) != lead {
            throw SwiftCNNError.invalidArgument("Layer '\(name)' (Concatenate) requires inputs with matching shapes except "
                + "for the concatenation axis. Received: input_shape=" + inputShapes.map { describeShape($0) }.joined(separator: ", "))
        }
        widths = inputShapes.map { $0.last! }
        totalWidth = widths.reduce(0, +)
        rowsPerSample = lead.reduce(1, *)
        return lead + [totalWidth]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let rows = io.batch * rowsPerSample
        var offset = 0
        for (k, w) in widths.enumerated() {
            let x = io.inputs[k]
            for r in 0..<rows { (io.output + r * totalWidth + offset).update(from: x + r * w, count: w) }
            offset += w
        }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        let rows = io.batch * rowsPerSample
        var offset = 0
        for (k, w) in widths.enumerated() {
            if io.needsInputGrad[k] {
                let dx = io.inputGrads[k]
                for r in 0..<rows { (dx + r * w).update(from: io.outputGrad + r * totalWidth + offset, count: w) }
            }
            offset += w
        }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] { [("axis", "-1")] }

    /// The widest of the joined inputs' fields.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// Copies only.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
