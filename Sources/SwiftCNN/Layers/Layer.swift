/// Everything a layer's forward or backward pass reads and writes for one batch. The graph builds one per node
/// when it plans buffers for a batch size and reuses it every step, so passes allocate nothing.
///
/// Shapes: every activation buffer is `batch × (per-sample shape)` floats, NHWC, contiguous.
public struct LayerIO {
    /// Number of samples in the batch.
    public var batch: Int
    /// Training mode (dropout active, batch statistics) vs inference.
    public var training: Bool
    /// Activations of the layer's inputs, one per input node.
    public var inputs: [UnsafeMutablePointer<Float>]
    /// The layer's output activation.
    public var output: UnsafeMutablePointer<Float>
    /// dLoss/dOutput, filled by the graph before `backward`.
    public var outputGrad: UnsafeMutablePointer<Float>
    /// Where `backward` writes dLoss/dInput for each input (overwrite, do not accumulate).
    public var inputGrads: [UnsafeMutablePointer<Float>]
    /// Whether the gradient for input `i` is needed at all (false, e.g., for a model's image input in training).
    public var needsInputGrad: [Bool]
    /// The layer's parameters, in `parameterShapes` order.
    public var parameters: [UnsafeMutablePointer<Float>]
    /// Where `backward` writes the parameter gradients (overwrite).
    public var parameterGrads: [UnsafeMutablePointer<Float>]
    /// Whether parameter gradients are needed (false for frozen layers).
    public var needsParameterGrads: Bool
    /// Per-node scratch of `workspaceSize(batch:)` floats, kept between forward and backward of one step.
    public var workspace: UnsafeMutablePointer<Float>
    /// Seed for this step's random numbers (dropout); changes every training step.
    public var stepSeed: UInt64
    /// When true, `outputGrad` is the gradient with respect to the layer's pre-activation value (e.g. a class
    /// score before softmax, as Grad-CAM needs), so a layer with a fused activation skips its derivative.
    public var outputGradIsPreActivation: Bool = false
    /// Set by the graph on a convolution whose only consumer is a max pooling it can compute chunk by chunk, while
    /// each chunk of the convolution's output is still in cache (the graph then skips the pooling's forward).
    public var fusedMaxPool: FusedMaxPool? = nil

    /// Collects the buffers of one node for one batch size (the graph calls it when it plans).
    public init(batch: Int, training: Bool, inputs: [UnsafeMutablePointer<Float>], output: UnsafeMutablePointer<Float>,
                outputGrad: UnsafeMutablePointer<Float>, inputGrads: [UnsafeMutablePointer<Float>], needsInputGrad: [Bool],
                parameters: [UnsafeMutablePointer<Float>], parameterGrads: [UnsafeMutablePointer<Float>],
                needsParameterGrads: Bool, workspace: UnsafeMutablePointer<Float>, stepSeed: UInt64) {
        self.batch = batch; self.training = training; self.inputs = inputs; self.output = output
        self.outputGrad = outputGrad; self.inputGrads = inputGrads; self.needsInputGrad = needsInputGrad
        self.parameters = parameters; self.parameterGrads = parameterGrads
        self.needsParameterGrads = needsParameterGrads; self.workspace = workspace; self.stepSeed = stepSeed
    }
}

/// A max pooling computed by the layer that produces its input: its window and where its output goes.
public struct FusedMaxPool {
    /// The pooling's window over the convolution's output.
    public let geometry: WindowGeometry
    /// Where the pooled values go (the pooling node's activation).
    public let output: UnsafeMutablePointer<Float>
}

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
    /// Hyper-parameters as strings, in the form the layer was created from (for saving and summaries).
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
