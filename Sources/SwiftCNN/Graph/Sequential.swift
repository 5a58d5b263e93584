/// A straight stack of layers for Swift programs, mirroring Keras's `Sequential`:
///
///     let model = try Sequential(inputShape: [28, 28, 1], layers: [
///         Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu), MaxPooling2D(), Flatten(),
///         Dense(units: 10, activation: .softmax)])
///     try model.compile(optimizer: Optimizer(kind: .rmsprop), loss: .sparseCategoricalCrossentropy, metrics: ["accuracy"])
///     let history = try model.fit(x: images, y: labels, batchSize: 64, epochs: 5)
public final class Sequential {
    public let graph = Graph()
    public let model: Model
    private var seed: UInt64

    /// Creates the model from an input shape (per sample, e.g. `[28, 28, 1]`) and layers; names are made unique.
    public init(inputShape: [Int], layers: [Layer] = [], seed: UInt64 = 0) throws {
        self.seed = seed
        model = Model(graph: graph, seed: seed)
        try graph.addInput(shape: inputShape)
        for layer in layers { try add(layer) }
    }

    /// Appends a layer (before `compile`).
    public func add(_ layer: Layer) throws {
        var base = layer.name, candidate = layer.name, k = 0
        if base.isEmpty { base = layer.typeName.lowercased(); candidate = base }
        while graph.nodes.contains(where: { $0.layer.name == candidate }) {
            k += 1
            candidate = "\(base)_\(k)"
        }
        layer.name = candidate
        try graph.append(layer)
    }

    /// The layers (without the input).
    public var layers: [Layer] { graph.nodes.filter { !$0.isInput }.map(\.layer) }

    /// Sets the optimizer, loss and metrics (`["accuracy"]` or none) and initialises the weights on first use.
    public func compile(optimizer: Optimizer, loss: Loss, metrics: [String] = []) throws {
        if !graph.isBuilt { try graph.build(seed: seed) }
        guard metrics.count <= 1 else { throw SwiftCNNError.invalidArgument("At most one metric is supported.") }
        try model.compile(optimizer: optimizer, loss: loss, metric: try metrics.first.map { try Metric(name: $0, loss: loss) })
    }

    /// Trains for `epochs` passes over `x` (N × input shape) and `y` (N × targets); returns per-epoch `loss` and
    /// `accuracy` (when compiled with it).
    @discardableResult
    public func fit(x: Tensor, y: Tensor, batchSize: Int = 32, epochs: Int = 1, shuffle: Bool = true,
                    verbose: Bool = false) throws -> [String: [Double]] {
        guard let targetSize = model.targetSize else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        let n = x.shape.first ?? 0
        let inputSize = graph.nodes[graph.inputNodes[0]].sampleSize
        guard n > 0, x.count == n * inputSize else {
            throw SwiftCNNError.invalidArgument("x has shape \(x.shape); expected (N, \(graph.nodes[0].shape)) with N > 0")
        }
        guard y.count == n * targetSize else {
            throw SwiftCNNError.invalidArgument("y has \(y.count) values; \(n) samples need \(n * targetSize)")
        }
        guard batchSize > 0, epochs >= 0 else { throw SwiftCNNError.invalidArgument("batchSize must be > 0 and epochs >= 0") }
        var history: [String: [Double]] = ["loss": [], "accuracy": []]
        let batchSize = min(batchSize, n)   // n samples exist, so n × sample sizes fit in memory
        let xBatch = try FloatBuffer(count: batchSize * inputSize), yBatch = try FloatBuffer(count: batchSize * targetSize)
        for epoch in 0..<epochs {
            var rng = RNG(seed: seed, stream: 0x5348_5546 &+ UInt64(epoch))
            let order = shuffle ? rng.permutation(n) : Array(0..<n)
            var lossSum = 0.0, metricSum = 0.0
            var start = 0
            while start < n {
                let count = min(batchSize, n - start)
                for (row, sample) in order[start..<(start + count)].enumerated() {
                    (xBatch.pointer + row * inputSize).update(from: x.data + sample * inputSize, count: inputSize)
                    (yBatch.pointer + row * targetSize).update(from: y.data + sample * targetSize, count: targetSize)
                }
                let r = try model.trainStep(x: xBatch.pointer, xCount: count * inputSize, y: yBatch.pointer,
                                            yCount: count * targetSize, batch: count)
                lossSum += r.loss * Double(count)
                metricSum += r.metric * Double(count)
                start += count
            }
            history["loss"]!.append(lossSum / Double(n))
            history["accuracy"]!.append(metricSum / Double(n))
            if verbose { print("Epoch \(epoch + 1)/\(epochs) - loss: \(history["loss"]!.last!) - accuracy: \(history["accuracy"]!.last!)") }
        }
        return history
    }

    /// Mean loss and metric over `x`, `y` in inference mode.
    public func evaluate(x: Tensor, y: Tensor, batchSize: Int = 32) throws -> (loss: Double, accuracy: Double) {
        guard let targetSize = model.targetSize else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        let n = x.shape.first ?? 0
        let inputSize = graph.nodes[graph.inputNodes[0]].sampleSize
        guard n > 0, x.count == n * inputSize, y.count == n * targetSize else {
            throw SwiftCNNError.invalidArgument("x and y must hold the same number (> 0) of samples of the model's shapes")
        }
        guard batchSize > 0 else { throw SwiftCNNError.invalidArgument("batchSize must be > 0, received \(batchSize)") }
        var lossSum = 0.0, metricSum = 0.0, start = 0
        while start < n {
            let count = min(batchSize, n - start)
            let r = try model.testStep(x: x.data + start * inputSize, xCount: count * inputSize,
                                       y: y.data + start * targetSize, yCount: count * targetSize, batch: count)
            lossSum += r.loss * Double(count)
            metricSum += r.metric * Double(count)
            start += count
        }
        return (lossSum / Double(n), metricSum / Double(n))
    }

    /// Inference-mode outputs for every sample of `x`.
    public func predict(_ x: Tensor, batchSize: Int = 32) throws -> Tensor {
        if !graph.isBuilt { try graph.build(seed: seed) }
        let n = x.shape.first ?? 0
        let inputSize = graph.nodes[graph.inputNodes[0]].sampleSize
        let outNode = graph.nodes[graph.outputNodes.first ?? graph.nodes.count - 1]
        guard n > 0, x.count == n * inputSize else {
            throw SwiftCNNError.invalidArgument("x has shape \(x.shape); expected (N, \(graph.nodes[0].shape)) with N > 0")
        }
        guard batchSize > 0 else { throw SwiftCNNError.invalidArgument("batchSize must be > 0, received \(batchSize)") }
        _ = try checkedMultiply(n, outNode.sampleSize, "predictions of \(n) samples", limit: maxElementCount)
        let out = Tensor(shape: [n] + outNode.shape)
        var start = 0
        while start < n {
            let count = min(batchSize, n - start)
            try model.predict(x: x.data + start * inputSize, xCount: count * inputSize, batch: count,
                              out: out.data + start * outNode.sampleSize, outCount: count * outNode.sampleSize)
            start += count
        }
        return out
    }

    /// The Keras summary table with a receptive-field column.
    public func summary() -> String { graph.summary() }
}
