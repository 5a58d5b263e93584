/// Fully connected layer on the last axis, Keras `Dense`: kernel `(in, units)`, bias `(units,)`.
public final class Dense: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Dense" }
    /// Number of outputs.
    public let units: Int
    /// Activation applied to the output.
    public let activation: Activation
    /// Whether a bias is added.
    public let useBias: Bool
    /// Initial values of the kernel.
    public let kernelInitializer: Initializer
    /// Initial values of the bias.
    public let biasInitializer: Initializer
    private var inputWidth = 0
    private var rowsPerSample = 1

    /// Keras `Dense(units, activation, use_bias, kernel_initializer, bias_initializer)`.
    public init(units: Int, activation: Activation = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros, name: String = "") {
        self.name = name
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
    }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        self.init(units: try c.int("units", min: 1), activation: try Activation(name: c.string("activation", default: "linear")),
                  useBias: try c.bool("use_bias", default: true),
                  kernelInitializer: try Initializer(name: c.string("kernel_initializer", default: "glorot_uniform")),
                  biasInitializer: try Initializer(name: c.string("bias_initializer", default: "zeros")), name: name)
    }

    /// Parameter shapes in Keras layout, known after `build`.
    public var parameterShapes: [[Int]] { [[inputWidth, units]] + (useBias ? [[units]] : []) }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        let s = inputShapes[0]
        inputWidth = s.last!
        rowsPerSample = s.dropLast().reduce(1, *)
        return Array(s.dropLast()) + [units]
    }

    /// Fills the parameters with their initial values.
    public func initializeParameters(_ p: [UnsafeMutablePointer<Float>], rng: inout RNG) {
        kernelInitializer.fill(p[0], count: inputWidth * units, fanIn: inputWidth, fanOut: units, rng: &rng)
        if useBias { biasInitializer.fill(p[1], count: units, fanIn: inputWidth, fanOut: units, rng: &rng) }
    }

    /// Scratch floats for a batch.
    public func workspaceSize(batch: Int) -> Int { batch * rowsPerSample * units }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let m = io.batch * rowsPerSample
        // Bias and ReLU ride in the GEMM's epilogue; other activations take a pass of their own.
        let fused = activation == .relu || activation == .linear
        gemm(transA: false, transB: false, m: m, n: units, k: inputWidth, alpha: 1, a: io.inputs[0], lda: inputWidth,
             b: io.parameters[0], ldb: units, beta: 0, c: io.output, ldc: units,
             bias: useBias ? UnsafePointer(io.parameters[1]) : nil, relu: activation == .relu)
        if !fused { activation.forward(io.output, rows: m, width: units) }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        let m = io.batch * rowsPerSample
        let preGrad = io.workspace
        let activation = io.outputGradIsPreActivation ? .linear : self.activation
        activation.backward(output: io.output, outputGrad: io.outputGrad, inputGrad: preGrad, rows: m, width: units)
        if io.needsParameterGrads {
            gemm(transA: true, transB: false, m: inputWidth, n: units, k: m, alpha: 1, a: io.inputs[0], lda: inputWidth,
                 b: preGrad, ldb: units, beta: 0, c: io.parameterGrads[0], ldc: units)
            if useBias {
                columnSums(preGrad, rows: m, width: units, into: io.parameterGrads[1])
            }
        }
        if io.needsInputGrad[0] {
            gemm(transA: false, transB: true, m: m, n: inputWidth, k: units, alpha: 1, a: preGrad, lda: units,
                 b: io.parameters[0], ldb: units, beta: 0, c: io.inputGrads[0], ldc: inputWidth)
        }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] {
        [("units", "\(units)"), ("activation", activation.rawValue), ("use_bias", useBias ? "1" : "0"),
         ("kernel_initializer", kernelInitializer.rawValue), ("bias_initializer", biasInitializer.rawValue)]
    }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// Two per input value for each output value, plus the bias.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        let outputs = elementCount(outputShape)
        return 2 * inputShapes[0].last! * outputs + (useBias ? outputs : 0)
    }
}
