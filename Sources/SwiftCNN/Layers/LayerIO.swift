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
