/// Keras `Rescaling`: y = x · scale + offset (e.g. 1/255 to bring pixels into [0, 1]).
public final class Rescaling: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Rescaling" }
    /// Multiplier.
    public let scale: Float
    /// Added after the multiplication.
    public let offset: Float
    private var size = 0

    /// Keras `Rescaling(scale, offset)`.
    public init(scale: Float, offset: Float = 0, name: String = "") {
        self.name = name
        self.scale = scale
        self.offset = offset
    }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        self.init(scale: Float(try c.double("scale")), offset: Float(try c.double("offset", default: 0)), name: name)
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        size = inputShapes[0].reduce(1, *)
        return inputShapes[0]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let x = io.inputs[0]
        for i in 0..<(io.batch * size) { io.output[i] = x[i] * scale + offset }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        for i in 0..<(io.batch * size) { io.inputGrads[0][i] = io.outputGrad[i] * scale }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] { [("scale", "\(scale)"), ("offset", "\(offset)")] }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// One multiply-add per value, counted as one operation.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { elementCount(outputShape) }
}
