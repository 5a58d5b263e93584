/// Keras `Flatten`: (h, w, c) → (h·w·c,). Data is already contiguous, so forward and backward are copies.
public final class Flatten: Layer {
    public var name: String
    public var typeName: String { "Flatten" }
    private var size = 0

    public init(name: String = "") { self.name = name }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        size = inputShapes[0].reduce(1, *)
        return [size]
    }

    public func forward(_ io: LayerIO) { io.output.update(from: io.inputs[0], count: io.batch * size) }

    public func backward(_ io: LayerIO) {
        if io.needsInputGrad[0] { io.inputGrads[0].update(from: io.outputGrad, count: io.batch * size) }
    }
}
