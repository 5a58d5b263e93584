/// Keras `Activation(name)`, `ReLU()` and `Softmax()`: an activation applied element-wise (softmax over the last axis).
public final class ActivationLayer: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public let typeName: String
    /// The activation applied.
    public let activation: Activation
    private var rows = 0, width = 0

    /// An activation layer shown as `typeName` (Activation, ReLU or Softmax).
    public init(_ activation: Activation, typeName: String = "Activation", name: String = "") {
        self.name = name
        self.activation = activation
        self.typeName = typeName
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        width = inputShapes[0].last!
        rows = inputShapes[0].dropLast().reduce(1, *)
        return inputShapes[0]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        io.output.update(from: io.inputs[0], count: io.batch * rows * width)
        activation.forward(io.output, rows: io.batch * rows, width: width)
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        activation.backward(output: io.output, outputGrad: io.outputGrad, inputGrad: io.inputGrads[0],
                            rows: io.batch * rows, width: width)
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] { typeName == "Activation" ? [("activation", activation.rawValue)] : [] }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// One operation per value.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { elementCount(outputShape) }
}
