/// A straight stack of layers for Swift programs, mirroring Keras's `Sequential`. The engine runs one training
/// step; the program owns the loop over epochs and batches (as Python's `fit` does):
///
///     let model = try Sequential(inputShape: [28, 28, 1], layers: [
///         Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu), Pooling2D(mode: .max), Flatten(),
///         Dense(units: 10, activation: .softmax)])
///     try model.compile(optimizer: Optimizer(kind: .rmsprop), loss: .sparseCategoricalCrossentropy, metrics: ["accuracy"])
///     let n = images.shape[0], batchSize = 64                  // images: Tensor [n, 28, 28, 1], labels: Tensor [n]
///     for epoch in 1...5 {
///         for start in stride(from: 0, to: n, by: batchSize) {
///             let (loss, accuracy) = try model.trainStep(x: images.data + start * 784, y: labels.data + start,
///                                                        batch: min(batchSize, n - start))
///         }
///     }
public final class Sequential {
    /// The layers' graph (an input node, then one node per layer).
    public let graph = Graph()
    /// The graph with its loss, optimizer and metric.
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

    /// One optimisation step (forward, loss, backward, update, metric) on `batch` samples: `x` holds batch × input
    /// shape floats, `y` batch × target floats. Validates first; on error nothing changes. See `Model.trainStep`.
    public func trainStep(x: UnsafePointer<Float>, y: UnsafePointer<Float>, batch: Int) throws -> (loss: Double, metric: Double) {
        let (xCount, yCount) = try counts(batch)
        return try model.trainStep(x: x, xCount: xCount, y: y, yCount: yCount, batch: batch)
    }

    /// Loss and metric on `batch` samples in inference mode (no update).
    public func testStep(x: UnsafePointer<Float>, y: UnsafePointer<Float>, batch: Int) throws -> (loss: Double, metric: Double) {
        let (xCount, yCount) = try counts(batch)
        return try model.testStep(x: x, xCount: xCount, y: y, yCount: yCount, batch: batch)
    }

    /// Input and target float counts of a batch; throws before `compile`.
    private func counts(_ batch: Int) throws -> (Int, Int) {
        guard let targetSize = model.targetSize else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        guard batch > 0 else { throw SwiftCNNError.invalidArgument("The batch is empty (0 samples).") }
        let (x, xOverflow) = batch.multipliedReportingOverflow(by: graph.nodes[graph.inputNodes[0]].sampleSize)
        let (y, yOverflow) = batch.multipliedReportingOverflow(by: targetSize)
        guard !xOverflow, !yOverflow else { throw SwiftCNNError.invalidArgument("batch \(batch) is too large") }
        return (x, y)
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
