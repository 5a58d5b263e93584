/// A layer: its hyper-parameters, its parameter shapes, its output-shape rule, forward and backward.
/// Layers are classes so that a graph can hold them type-erased; they own no activation memory.
public protocol Layer: AnyObject {
    /// Unique name within a model (`conv2d`, `conv2d_1`, …).
    var name: String { get set }
    /// Keras class name, e.g. `Conv2D`.
    var typeName: String { get }
    /// Shapes of the parameters in Keras layout (Conv2D: HWIO kernel then bias), known after `build`.
    var parameterShapes: [[Int]] { get }
    /// How many of the parameter tensors (the first ones) the optimizer may update; the rest are state the layer
    /// maintains itself, such as BatchNormalization's moving mean and variance. Default: all.
    var trainableParameterTensors: Int { get }
    /// Checks the per-sample input shapes (no batch dimension), remembers what it needs, and returns the
    /// per-sample output shape. Throws `SwiftCNNError.invalidArgument` naming the layer and the shapes.
    func build(inputShapes: [[Int]]) throws -> [Int]
    /// Fills the parameters with their initial values.
    func initializeParameters(_ parameters: [UnsafeMutablePointer<Float>], rng: inout RNG)
    /// Scratch floats the layer needs for a batch (saved masks, indices, im2col columns).
    func workspaceSize(batch: Int) -> Int
    /// Computes `io.output` from `io.inputs`.
    func forward(_ io: LayerIO)
    /// Computes `io.inputGrads` (where needed) and `io.parameterGrads` (where needed) from `io.outputGrad`.
    func backward(_ io: LayerIO)
    /// Hyper-parameters as text pairs, in the C ABI's `key=value` form the layer can be created from.
    var config: [(String, String)] { get }
    /// The receptive field of the layer's output (an image), given the fields of its inputs in input order (nil
    /// for an input that is not an image). Called after `build`; the graph asks only for image outputs.
    func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField?
    /// Floating-point operations of one sample's forward pass (a multiply-add counts as 2), as MATLAB's
    /// analyzeNetwork counts them. Called after `build` with the shapes `build` saw and returned.
    func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int
}

extension Layer {
    /// No parameters unless the layer says otherwise.
    public var parameterShapes: [[Int]] { [] }
    /// Every parameter tensor is trained unless the layer says otherwise.
    public var trainableParameterTensors: Int { parameterShapes.count }
    /// Nothing to initialise for a layer without parameters.
    public func initializeParameters(_ parameters: [UnsafeMutablePointer<Float>], rng: inout RNG) {}
    /// No scratch unless the layer asks for some.
    public func workspaceSize(batch: Int) -> Int { 0 }
    /// No hyper-parameters unless the layer lists some.
    public var config: [(String, String)] { [] }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// Number of scalar parameters the optimizer may update (when the layer is trainable).
    public var trainableParameterCount: Int {
        parameterShapes.prefix(trainableParameterTensors).reduce(0) { $0 + $1.reduce(1, *) }
    }
}

/// Throws the Keras-style error for a layer that takes exactly `expected` inputs.
func requireInputCount(_ layer: Layer, _ shapes: [[Int]], _ expected: Int) throws {
    guard shapes.count == expected else {
        throw SwiftCNNError.invalidArgument(
            "Layer '\(layer.name)' (\(layer.typeName)) expects \(expected) input(s), but it received \(shapes.count).")
    }
}

/// Throws unless the single input is an image batch `(height, width, channels)`.
func requireImageInput(_ layer: Layer, _ shapes: [[Int]]) throws -> (h: Int, w: Int, c: Int) {
    try requireInputCount(layer, shapes, 1)
    let s = shapes[0]
    guard s.count == 3 else {
        throw SwiftCNNError.invalidArgument(
            "Input 0 of layer '\(layer.name)' (\(layer.typeName)) is incompatible with the layer: expected ndim=4 "
            + "(batch, height, width, channels), found ndim=\(s.count + 1). Full shape received: \(describeShape(s))")
    }
    return (s[0], s[1], s[2])
}
