/// Keras `Activation(name)`, `ReLU()` and `Softmax()`: an activation applied element-wise (softmax over the last axis).
public final class ActivationLayer: Layer {
    public var name: String
    public let typeName: String
    public let activation: Activation
    private var rows = 0, width = 0

    public init(_ activation: Activation, typeName: String = "Activation", name: String = "") {
        self.name = name
        self.activation = activation
        self.typeName = typeName
    }

    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        width = inputShapes[0].last!
        rows = inputShapes[0].dropLast().reduce(1, *)
        return inputShapes[0]
    }

    public func forward(_ io: LayerIO) {
        io.output.update(from: io.inputs[0], count: io.batch * rows * width)
        activation.forward(io.output, rows: io.batch * rows, width: width)
    }

    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        activation.backward(output: io.output, outputGrad: io.outputGrad, inputGrad: io.inputGrads[0],
                            rows: io.batch * rows, width: width)
    }

    public var config: [(String, String)] { typeName == "Activation" ? [("activation", activation.rawValue)] : [] }
}
