/// Keras `Rescaling`: y = x · scale + offset (e.g. 1/255 to bring pixels into [0, 1]).
public final class Rescaling: Layer {
    public var name: String
    public var typeName: String { "Rescaling" }
    public let scale: Float
    public let offset: Float
    private var size = 0

    public init(scale: Float, offset: Float = 0, name: String = "") {
        self.name = name
        self.scale = scale
        self.offset = offset
    }

    public convenience init(config c: LayerConfig, name: String) throws {
        self.init(scale: Float(try c.double("scale")), offset: Float(try c.double("offset", default: 0)), name: name)
    }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        size = inputShapes[0].reduce(1, *)
        return inputShapes[0]
    }

    public func forward(_ io: LayerIO) {
        let x = io.inputs[0]
        for i in 0..<(io.batch * size) { io.output[i] = x[i] * scale + offset }
    }

    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        for i in 0..<(io.batch * size) { io.inputGrads[0][i] = io.outputGrad[i] * scale }
    }

    public var config: [(String, String)] { [("scale", "\(scale)"), ("offset", "\(offset)")] }
}
