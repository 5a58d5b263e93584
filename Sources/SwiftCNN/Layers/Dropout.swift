/// Keras `Dropout`: at training time zeroes each element with probability `rate` and scales the rest by
/// 1/(1−rate); identity at inference. The mask comes from the engine RNG (step seed, layer seed, element index).
public final class Dropout: Layer {
    /// Unique name within a model.
    public var name: String
    /// Keras class name.
    public var typeName: String { "Dropout" }
    /// Fraction of the values dropped in training.
    public let rate: Float
    /// Stream of this layer's masks.
    public let seed: UInt64
    private var size = 0

    /// Layers created without a seed get distinct ones in creation order, so two Dropout layers never share masks.
    private static var created: UInt64 = 0

    /// Keras `Dropout(rate, seed)`; without a seed each layer gets its own stream.
    public init(rate: Float, seed: UInt64? = nil, name: String = "") {
        self.name = name
        self.rate = rate
        Dropout.created &+= 1
        self.seed = seed ?? (0x4452_4F50 &+ Dropout.created &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Reads the C ABI's text configuration (see README, "Layer configuration keys").
    public convenience init(config c: LayerConfig, name: String) throws {
        let rate = try c.double("rate")
        guard rate >= 0, rate < 1 else {
            throw SwiftCNNError.invalidArgument("Dropout: invalid value received for argument `rate`. Expected a float value between 0 and 1 (exclusive of 1). Received: rate=\(rate)")
        }
        self.init(rate: Float(rate), seed: c.values["seed"] == nil ? nil : UInt64(bitPattern: Int64(try c.int("seed"))), name: name)
    }

    /// Checks the input shapes and returns the output shape.
    public func build(inputShapes: [[Int]]) throws -> [Int] {
        try requireInputCount(self, inputShapes, 1)
        size = inputShapes[0].reduce(1, *)
        return inputShapes[0]
    }

    /// The scale factor per element (0 or 1/(1−rate)) kept for backward.
    public func workspaceSize(batch: Int) -> Int { batch * size }

    /// Computes the output from the inputs.
    public func forward(_ io: LayerIO) {
        let count = io.batch * size
        guard io.training, rate > 0 else {
            io.output.update(from: io.inputs[0], count: count)
            return
        }
        let keep = 1 / (1 - rate), rate = self.rate
        let stream = seed
        let mask = io.workspace, x = io.inputs[0], y = io.output, stepSeed = io.stepSeed
        parallelFor(count, minChunk: 1 << 14, context: (x, y, mask, stepSeed, stream, rate, keep)) { context, lo, hi in
            let (x, y, mask, stepSeed, stream, rate, keep) = context.assumingMemoryBound(to: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UInt64, UInt64, Float, Float).self).pointee
            let range = lo..<hi
            for i in range {
                let u = RNG.uniform(seed: stepSeed, stream: stream, index: UInt64(i))
                mask[i] = u < rate ? 0 : keep
                y[i] = x[i] * mask[i]
            }
        }
    }

    /// Computes the input and parameter gradients from the output gradient.
    public func backward(_ io: LayerIO) {
        guard io.needsInputGrad[0] else { return }
        let count = io.batch * size
        guard io.training, rate > 0 else {
            io.inputGrads[0].update(from: io.outputGrad, count: count)
            return
        }
        for i in 0..<count { io.inputGrads[0][i] = io.outputGrad[i] * io.workspace[i] }
    }

    /// Hyper-parameters as text.
    public var config: [(String, String)] { [("rate", "\(rate)"), ("seed", "\(seed)")] }

    /// The same pixels as its widest input: the layer works per pixel.
    public func receptiveField(inputs: [ReceptiveField?]) -> ReceptiveField? { ReceptiveField.widest(inputs) }

    /// One operation per value.
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { elementCount(outputShape) }
}
