/// Keras `Add`: element-wise sum of inputs of one shape (ResNet's skip connections).
public final class Add: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Add" }
    private var size = 0

    /// A layer with the given name (the model makes names unique).
    public init(name: String = "") { self.name = name }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw SwiftCNNError.invalidArgument("Layer '\(name)' (Add) should be called on a list of at least 2 inputs. Received: \(inputShapes.count) input(s)")
        }
        for s in inputShapes.dropFirst() where s != inputShapes[0] {
            throw SwiftCNNError.invalidArgument("Layer '\(name)' (Add): inputs must have the same shape. Received shapes "
                + inputShapes.map { describeShape($0) }.joined(separator: ", "))
        }
        size = inputShapes[0].reduce(1, *)
        return inputShapes[0]
    }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let count = io.batch * size
        io.output.update(from: io.inputs[0], count: count)
        for k in 1..<io.inputs.count {
            let x = io.inputs[k]
            for i in 0..<count { io.output[i] += x[i] }
        }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        for k in io.inputs.indices where io.needsInputGrad[k] {
            io.inputGrads[k].update(from: io.outputGrad, count: io.batch * size)
        }
    }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// One addition per output value for each input after the first.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { (inputShapes.count - 1) * elementCount(outputShape) }
}
