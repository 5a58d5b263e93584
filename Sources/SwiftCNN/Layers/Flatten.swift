/// Keras `Flatten`: (h, w, c) → (h·w·c,). Data is already contiguous, so forward and backward are copies.
public final class Flatten: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Flatten" }
    private var size = 0

    /// A layer with the given name (the model makes names unique).
    public init(name: String = "") { self.name = name }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        size = inputShapes[0].reduce(1, *)
        return [size]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) { io.output.update(from: io.inputs[0], count: io.batch * size) }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        if io.needsInputGrad[0] { io.inputGrads[0].update(from: io.outputGrad, count: io.batch * size) }
    }

    /// The output is a vector: no receptive field.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { nil }

    /// Copies only.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
