/// Keras `BatchNormalization` over the last axis: y = γ·(x − μ)/√(σ² + ε) + β. Training uses the batch's mean and
/// (biased) variance and moves the running statistics by `momentum`; inference, and any frozen layer (as in
/// Keras, which matters for fine-tuning), uses the running statistics.
/// Weights (Keras order): gamma, beta, moving_mean, moving_variance; the last two are not trained.
public final class BatchNormalization: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "BatchNormalization" }
    /// Weight of the old value when the moving statistics move (Keras `momentum`).
    public let momentum: Float
    /// Added to the variance before the square root.
    public let epsilon: Float
    /// Whether a learned shift beta is added.
    public let center: Bool
    /// Whether a learned scale gamma multiplies.
    public let scale: Bool
    private var channels = 0
    private var rowsPerSample = 1

    /// Keras `BatchNormalization(momentum, epsilon, center, scale)`.
    public init(momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true, name: String = "") {
        self.name = name
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        let momentum = try c.double("momentum", default: 0.99), epsilon = try c.double("epsilon", default: 1e-3)
        guard momentum >= 0, momentum <= 1, epsilon > 0 else {
            throw SwiftCNNError.invalidArgument("BatchNormalization: momentum must be in [0, 1] and epsilon > 0, "
                + "received momentum=\(momentum), epsilon=\(epsilon)")
        }
        let axis = try c.int("axis", default: -1)
        guard axis == -1 || axis == 3 else {
            throw SwiftCNNError.invalidArgument("BatchNormalization: only the channel axis (-1) is supported, received axis=\(axis)")
        }
        self.init(momentum: Float(momentum), epsilon: Float(epsilon), center: try c.bool("center", default: true),
                  scale: try c.bool("scale", default: true), name: name)
    }

    // Index of each weight tensor in the parameter list (gamma and beta may be absent).
    private var gammaIndex: Int? { scale ? 0 : nil }
    private var betaIndex: Int? { center ? (scale ? 1 : 0) : nil }
    private var meanIndex: Int { (scale ? 1 : 0) + (center ? 1 : 0) }

    /// Parameter shapes in Keras layout, known after `build`.
    public var parameterShapes: [[Int]] {
        Array(repeating: [channels], count: (scale ? 1 : 0) + (center ? 1 : 0) + 2)
    }
    /// How many of the parameter tensors the optimizer updates.
    public var trainableParameterTensors: Int { (scale ? 1 : 0) + (center ? 1 : 0) }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        channels = inputShapes[0].last!
        rowsPerSample = inputShapes[0].dropLast().reduce(1, *)
        return inputShapes[0]
    }

    /// Fills the parameters with their initial values.
    public func initializeParameters(_ p: [UnsafeMutablePointer<Float>], rng: inout RNG) {
        if let g = gammaIndex { p[g].initialize(repeating: 1, count: channels) }
        if let b = betaIndex { p[b].initialize(repeating: 0, count: channels) }
        p[meanIndex].initialize(repeating: 0, count: channels)
        p[meanIndex + 1].initialize(repeating: 1, count: channels)
    }

    /// Normalised input x̂ for backward, then per channel: mean, 1/√(σ² + ε).
    public func workspaceSize(batch: Int) -> Int { batch * rowsPerSample * channels + 2 * channels }

    /// Batch statistics are used in training mode unless the layer is frozen (then it runs as in inference).
    private func usesBatchStatistics(_ io: LayerIO) -> Bool { io.training && io.needsParameterGrads }

    // Per-channel sums in Double (a batch of many pixels loses precision in Float); sized at build, reused.
    private var sumA: [Double] = []
    private var sumB: [Double] = []

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let rows = io.batch * rowsPerSample, c = channels
        let x = io.inputs[0], y = io.output
        let xhat = io.workspace, mean = io.workspace + rows * c, invStd = mean + c
        let movingMean = io.parameters[meanIndex], movingVar = io.parameters[meanIndex + 1]
        if usesBatchStatistics(io) {
            if sumA.count != c { sumA = [Double](repeating: 0, count: c); sumB = sumA }
            for ch in 0..<c { sumA[ch] = 0; sumB[ch] = 0 }
            // Rows outer, channels inner: one contiguous pass for the mean, one for the variance.
            for r in 0..<rows { for ch in 0..<c { sumA[ch] += Double(x[r * c + ch]) } }
            for ch in 0..<c { mean[ch] = Float(sumA[ch] / Double(rows)) }
            for r in 0..<rows {
                for ch in 0..<c { let d = Double(x[r * c + ch] - mean[ch]); sumB[ch] += d * d }
            }
            for ch in 0..<c {
                let variance = sumB[ch] / Double(rows)
                invStd[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
                movingMean[ch] = movingMean[ch] * momentum + mean[ch] * (1 - momentum)
                movingVar[ch] = movingVar[ch] * momentum + Float(variance) * (1 - momentum)
            }
        } else {
            for ch in 0..<c {
                mean[ch] = movingMean[ch]
                invStd[ch] = 1 / (movingVar[ch] + epsilon).squareRoot()
            }
        }
        let gamma = gammaIndex.map { io.parameters[$0] }, beta = betaIndex.map { io.parameters[$0] }
        for r in 0..<rows {
            for ch in 0..<c {
                let n = (x[r * c + ch] - mean[ch]) * invStd[ch]
                xhat[r * c + ch] = n
                y[r * c + ch] = n * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0)
            }
        }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        let rows = io.batch * rowsPerSample, c = channels
        let dy = io.outputGrad, xhat = io.workspace, invStd = io.workspace + rows * c + c
        let gamma = gammaIndex.map { io.parameters[$0] }
        if sumA.count != c { sumA = [Double](repeating: 0, count: c); sumB = sumA }
        for ch in 0..<c { sumA[ch] = 0; sumB[ch] = 0 }
        for r in 0..<rows {
            for ch in 0..<c {
                let g = Double(dy[r * c + ch])
                sumA[ch] += g
                sumB[ch] += g * Double(xhat[r * c + ch])
            }
        }
        if io.needsParameterGrads {
            for ch in 0..<c {
                if let g = gammaIndex { io.parameterGrads[g][ch] = Float(sumB[ch]) }
                if let b = betaIndex { io.parameterGrads[b][ch] = Float(sumA[ch]) }
            }
        }
        guard io.needsInputGrad[0] else { return }
        let dx = io.inputGrads[0]
        if usesBatchStatistics(io) {
            // dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂))
            for ch in 0..<c { sumA[ch] /= Double(rows); sumB[ch] /= Double(rows) }
            for r in 0..<rows {
                for ch in 0..<c {
                    let i = r * c + ch
                    dx[i] = (gamma?[ch] ?? 1) * invStd[ch] * (dy[i] - Float(sumA[ch]) - xhat[i] * Float(sumB[ch]))
                }
            }
        } else {
            for r in 0..<rows {
                for ch in 0..<c { dx[r * c + ch] = (gamma?[ch] ?? 1) * invStd[ch] * dy[r * c + ch] }
            }
        }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] {
        [("momentum", "\(momentum)"), ("epsilon", "\(epsilon)"), ("center", center ? "1" : "0"), ("scale", scale ? "1" : "0")]
    }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// A multiply and an add per value (the statistics folded into scale and shift).
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 2 * elementCount(outputShape) }
}
