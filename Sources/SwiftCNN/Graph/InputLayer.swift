/// The placeholder layer of an input node: it has a fixed per-sample shape and no computation.
public final class InputLayer: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "InputLayer" }
    /// Per-sample shape of the input, e.g. `[28, 28, 1]`.
    public let shape: [Int]

    /// An input of the given per-sample shape.
    public init(name: String = "input_layer", shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] { shape }
    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {}
    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {}
    /// Hyper-parameters as text.
    public var config: [(String, String)] { [("shape", shape.map(String.init).joined(separator: ","))] }

    /// An input pixel sees itself.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { .pixel }

    /// Nothing is computed.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }
}
