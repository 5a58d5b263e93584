/// A graph with a loss, an optimizer and a metric: runs whole training steps, evaluation and prediction.
/// One training step (forward, loss, backward, update, metric) is one call; with a fixed batch size it allocates
/// nothing.
public final class Model {
    /// The layers and their parameters.
    public let graph: Graph
    /// The loss set by `compile`.
    public private(set) var loss: Loss?
    /// The optimizer set by `compile` (holds its state).
    public private(set) var optimizer: Optimizer?
    /// The metric set by `compile`, if any.
    public private(set) var metric: Metric?
    /// Seed of the dropout streams; the step counter makes every step's masks different.
    public var seed: UInt64
    private var stepCounter: UInt64 = 0
    private var lossGradient = FloatBuffer()
    private var trainableRanges: [Range<Int>] = []

    /// A trainer for `graph`; `seed` drives dropout.
    public init(graph: Graph, seed: UInt64 = 0) {
        self.graph = graph
        self.seed = seed
    }

    /// The first output node.
    var outputNode: Int { graph.outputNodes[0] }
    /// Size of the output's last axis (classes).
    var classes: Int { graph.nodes[outputNode].shape.last! }
    var outputSize: Int { graph.nodes[outputNode].sampleSize }
    var inputSize: Int { graph.nodes[graph.inputNodes[0]].sampleSize }

    /// Sets loss, optimizer and metric and resets the optimizer's state.
    public func compile(optimizer: Optimizer, loss: Loss, metric: Metric?) throws {
        guard graph.isBuilt else { throw SwiftCNNError.invalidState("Build the model before compiling it.") }
        guard graph.outputNodes.count == 1 else {
            throw SwiftCNNError.invalidArgument("Training supports models with one output (one loss); this model has "
                + "\(graph.outputNodes.count) outputs.")
        }
        try optimizer.validate()
        if let metric { try metric.check(loss: loss, outputShape: graph.nodes[outputNode].shape) }
        try optimizer.reset(parameterCount: graph.parameterCount)
        self.optimizer = optimizer
        self.loss = loss
        self.metric = metric
    }

    /// Number of target floats per sample the loss expects.
    public var targetSize: Int? { loss?.targetSize(outputSize: outputSize, classes: classes) }

    /// `batch × perSample` values, or an error naming `what` when the product exceeds the element limit.
    private func batchCount(_ batch: Int, _ perSample: Int, _ what: String) throws -> Int {
        try checkedMultiply(batch, perSample, "\(what): a batch of \(batch) samples × \(perSample) values per sample",
                            limit: maxElementCount)
    }

    private func checkBatch(_ batch: Int, xCount: Int, yCount: Int?) throws {
        guard batch > 0 else { throw SwiftCNNError.invalidArgument("The batch is empty (0 samples).") }
        let xNeeded = try batchCount(batch, inputSize, "input data")
        guard xCount == xNeeded else {
            throw SwiftCNNError.invalidArgument("Input data has \(xCount) values, but \(batch) samples of shape "
                + "\(describeShape(graph.nodes[graph.inputNodes[0]].shape, batch: false)) need \(xNeeded).")
        }
        if let yCount, let t = targetSize {
            let yNeeded = try batchCount(batch, t, "targets")
            guard yCount == yNeeded else {
                throw SwiftCNNError.invalidArgument("Targets have \(yCount) values, but \(batch) samples need \(yNeeded) "
                    + "(\(t) per sample for loss \(loss!.rawValue) and output shape \(describeShape(graph.nodes[outputNode].shape))).")
            }
        }
        // Allocate everything the step needs now, so that nothing changes when memory is short.
        try graph.plan(batch: batch)
        try lossGradient.reserve(try batchCount(batch, outputSize, "loss gradient"))
    }

    private func checkFinite(_ x: UnsafePointer<Float>, _ count: Int) throws {
        // x · 0 is 0 for finite x and NaN for ±∞ and NaN: a vector sum of those is a whole-batch test at memory
        // speed (the per-value test was 11 % of a training step with a 28×28×16 input); the scalar loop finds the
        // offender only when there is one.
        var poison = SIMD8<Float>(), i = 0
        while i + 8 <= count {
            poison += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * 0
            i += 8
        }
        while i < count { poison[0] += x[i] * 0; i += 1 }
        if poison == SIMD8<Float>() { return }
        for i in 0..<count where !x[i].isFinite {
            throw SwiftCNNError.invalidArgument("Input data contains a non-finite value (\(x[i])) at flat index \(i).")
        }
    }

    /// Checks the targets of a whole data set of `samples` samples against the loss and the output (values per
    /// sample, class indices, ranges), once, before the steps that use them: a caller that checks up front never
    /// fails after some batches have trained. The steps check their batch again (cheap, and the guard for callers
    /// that skip this).
    public func checkTargets(_ y: UnsafePointer<Float>, count: Int, samples: Int) throws {
        guard let loss, let t = targetSize else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        guard samples > 0, count == samples * t else {
            throw SwiftCNNError.invalidArgument("Targets have \(count) values, but \(samples) samples need \(samples * t) "
                + "(\(t) per sample for loss \(loss.rawValue) and output shape \(describeShape(graph.nodes[outputNode].shape))).")
        }
        try loss.validate(targets: y, count: count, classes: classes)
    }

    /// One optimisation step on a batch. Validates everything first: on error the model is unchanged.
    public func trainStep(x: UnsafePointer<Float>, xCount: Int, y: UnsafePointer<Float>, yCount: Int,
                          batch: Int) throws -> (loss: Double, metric: Double) {
        let (loss, optimizer) = try compiled()
        try checkBatch(batch, xCount: xCount, yCount: yCount)
        try checkFinite(x, xCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        stepCounter &+= 1
        try graph.forward(input: x, batch: batch, training: true, stepSeed: stepSeed)
        return learn(loss, optimizer, y, batch)
    }

    /// One optimisation step for a model with several inputs: `inputs[i]` holds batch × shape of input i.
    public func trainStep(inputs: [UnsafePointer<Float>], counts: [Int], y: UnsafePointer<Float>, yCount: Int,
                          batch: Int) throws -> (loss: Double, metric: Double) {
        let (loss, optimizer) = try compiled()
        try checkInputs(inputs, counts, batch)
        try checkBatch(batch, xCount: batch * inputSize, yCount: yCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        stepCounter &+= 1
        try graph.forward(inputs: inputs, batch: batch, training: true, stepSeed: stepSeed)
        return learn(loss, optimizer, y, batch)
    }

    /// Loss and metric for a model with several inputs, in inference mode.
    public func testStep(inputs: [UnsafePointer<Float>], counts: [Int], y: UnsafePointer<Float>, yCount: Int,
                         batch: Int) throws -> (loss: Double, metric: Double) {
        guard let loss else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        try checkInputs(inputs, counts, batch)
        try checkBatch(batch, xCount: batch * inputSize, yCount: yCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        try graph.forward(inputs: inputs, batch: batch, training: false)
        return score(loss, y, batch)
    }

    private func compiled() throws -> (Loss, Optimizer) {
        guard let loss, let optimizer else {
            throw SwiftCNNError.invalidState("You must call `compile()` before using the model.")
        }
        return (loss, optimizer)
    }

    /// Dropout masks differ at every step and are reproducible from the seed.
    private var stepSeed: UInt64 { seed &+ stepCounter &* 0x9E37_79B9 }

    /// After a training-mode forward pass: loss and its gradient, metric, backward, optimizer update.
    private func learn(_ loss: Loss, _ optimizer: Optimizer, _ y: UnsafePointer<Float>, _ batch: Int) -> (loss: Double, metric: Double) {
        let rows = batch * outputSize / classes   // lossGradient was sized by checkBatch
        let prediction = graph.activation(outputNode)
        let value = loss.compute(predictions: prediction, targets: y, rows: rows, classes: classes,
                                 gradient: lossGradient.pointer)
        let metric = metricValue(prediction, y, rows)
        graph.backward(seed: outputNode, gradient: lossGradient.pointer, gradientToInputs: false)
        updateTrainableRanges()
        optimizer.apply(parameters: graph.parameters.pointer, gradients: graph.gradients.pointer, ranges: trainableRanges)
        return (value, metric)
    }

    /// After an inference-mode forward pass: loss and metric.
    private func score(_ loss: Loss, _ y: UnsafePointer<Float>, _ batch: Int) -> (loss: Double, metric: Double) {
        let rows = batch * outputSize / classes
        let prediction = graph.activation(outputNode)
        return (loss.compute(predictions: prediction, targets: y, rows: rows, classes: classes, gradient: nil),
                metricValue(prediction, y, rows))
    }

    /// Checks the data of every model input: count and finiteness.
    public func checkInputs(_ inputs: [UnsafePointer<Float>], _ counts: [Int], _ batch: Int) throws {
        guard batch > 0 else { throw SwiftCNNError.invalidArgument("The batch is empty (0 samples).") }
        guard inputs.count == graph.inputNodes.count, counts.count == inputs.count else {
            throw SwiftCNNError.invalidArgument("The model has \(graph.inputNodes.count) inputs; received \(inputs.count) arrays.")
        }
        for (k, node) in graph.inputNodes.enumerated() {
            let n = graph.nodes[node]
            let needed = try batchCount(batch, n.sampleSize, "input \(k) ('\(n.layer.name)')")
            guard counts[k] == needed else {
                throw SwiftCNNError.invalidArgument("Input \(k) ('\(n.layer.name)') has \(counts[k]) values, but \(batch) samples "
                    + "of shape \(describeShape(n.shape, batch: false)) need \(needed).")
            }
            try checkFinite(inputs[k], counts[k])
        }
    }

    /// Loss and metric on a batch in inference mode.
    public func testStep(x: UnsafePointer<Float>, xCount: Int, y: UnsafePointer<Float>, yCount: Int,
                         batch: Int) throws -> (loss: Double, metric: Double) {
        guard let loss else { throw SwiftCNNError.invalidState("You must call `compile()` before using the model.") }
        try checkBatch(batch, xCount: xCount, yCount: yCount)
        try checkFinite(x, xCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        try graph.forward(input: x, batch: batch, training: false)
        return score(loss, y, batch)
    }

    /// Inference-mode outputs of the first output node for `batch` samples, written to `out`.
    public func predict(x: UnsafePointer<Float>, xCount: Int, batch: Int, out: UnsafeMutablePointer<Float>,
                        outCount: Int) throws {
        try checkBatch(batch, xCount: xCount, yCount: nil)
        let needed = try batchCount(batch, outputSize, "predictions")
        guard outCount == needed else {
            throw SwiftCNNError.invalidArgument("Output buffer has \(outCount) values, \(needed) needed.")
        }
        try graph.forward(input: x, batch: batch, training: false)
        out.update(from: graph.activation(outputNode), count: outCount)
    }

    private func metricValue(_ p: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ rows: Int) -> Double {
        guard let metric else { return 0 }
        let (correct, total) = metric.count(predictions: p, targets: y, rows: rows, classes: classes)
        return total == 0 ? 0 : Double(correct) / Double(total)
    }

    // MARK: A step split where the gradients are complete (data-parallel training)

    /// The step whose gradients `graph.gradients` holds, if `applyGradients` may still apply them.
    private var computedStep: UInt64?

    /// The first half of a training step: forward (training mode), loss, backward. Leaves the parameter gradients
    /// of `lossScale` × the batch's mean loss in `graph.gradients` (one contiguous buffer of `parameterCount`
    /// floats), where the caller may combine them with other processes' (e.g. an MPI allreduce in place) before
    /// `applyGradients`. Validates everything first: on error nothing changes. Returns the batch's loss and metric.
    public func computeGradients(x: UnsafePointer<Float>, xCount: Int, y: UnsafePointer<Float>, yCount: Int,
                                 batch: Int, lossScale: Float = 1) throws -> (loss: Double, metric: Double) {
        let (loss, _) = try compiled()
        try checkBatch(batch, xCount: xCount, yCount: yCount)
        try checkFinite(x, xCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        try checkLossScale(lossScale)
        stepCounter &+= 1
        try graph.forward(input: x, batch: batch, training: true, stepSeed: stepSeed)
        return backpropagate(loss, y, batch, lossScale)
    }

    /// `computeGradients` for a model with several inputs: `inputs[i]` holds batch × shape of input i.
    public func computeGradients(inputs: [UnsafePointer<Float>], counts: [Int], y: UnsafePointer<Float>, yCount: Int,
                                 batch: Int, lossScale: Float = 1) throws -> (loss: Double, metric: Double) {
        let (loss, _) = try compiled()
        try checkInputs(inputs, counts, batch)
        try checkBatch(batch, xCount: batch * inputSize, yCount: yCount)
        try loss.validate(targets: y, count: yCount, classes: classes)
        try checkLossScale(lossScale)
        stepCounter &+= 1
        try graph.forward(inputs: inputs, batch: batch, training: true, stepSeed: stepSeed)
        return backpropagate(loss, y, batch, lossScale)
    }

    /// The second half of a training step: the optimizer update from `graph.gradients` as they are now (after the
    /// caller combined them), each multiplied by `scale` first (1 / the global batch, when every process computed
    /// the gradients of its batch's summed loss and the caller summed them). Equal gradient buffers applied with the
    /// same scale to equal models give bit-identical models.
    public func applyGradients(scale: Float = 1) throws {
        let (_, optimizer) = try compiled()
        try checkLossScale(scale)
        guard let step = computedStep, step == stepCounter else {
            throw SwiftCNNError.invalidState("No gradients to apply: call computeGradients first (a training step or "
                + "an applyGradients since then used them).")
        }
        computedStep = nil
        updateTrainableRanges()
        if scale != 1 {
            let g = graph.gradients.pointer
            for range in trainableRanges { for i in range { g[i] *= scale } }
        }
        optimizer.apply(parameters: graph.parameters.pointer, gradients: graph.gradients.pointer, ranges: trainableRanges)
    }

    private func checkLossScale(_ scale: Float) throws {
        guard scale.isFinite, scale > 0 else {
            throw SwiftCNNError.invalidArgument("gradient scale must be a finite number > 0, received \(scale)")
        }
    }

    /// After a training-mode forward pass: loss, metric, and the backward pass of `lossScale` × the loss.
    private func backpropagate(_ loss: Loss, _ y: UnsafePointer<Float>, _ batch: Int,
                               _ lossScale: Float) -> (loss: Double, metric: Double) {
        let rows = batch * outputSize / classes   // lossGradient was sized by checkBatch
        let prediction = graph.activation(outputNode)
        let value = loss.compute(predictions: prediction, targets: y, rows: rows, classes: classes,
                                 gradient: lossGradient.pointer)
        let metric = metricValue(prediction, y, rows)
        if lossScale != 1 {
            let g = lossGradient.pointer
            for i in 0..<(batch * outputSize) { g[i] *= lossScale }
        }
        graph.backward(seed: outputNode, gradient: lossGradient.pointer, gradientToInputs: false)
        computedStep = stepCounter
        return (value, metric)
    }

    /// Contiguous parameter ranges of trainable nodes (recomputed only when a trainable flag changed).
    private var rangesGeneration = -1
    private func updateTrainableRanges() {
        guard graph.trainableGeneration != rangesGeneration else { return }
        rangesGeneration = graph.trainableGeneration
        trainableRanges = []
        for node in graph.nodes where node.trainable && !node.parameterOffsets.isEmpty {
            let start = node.parameterOffsets[0]
            let range = start..<(start + node.layer.trainableParameterCount)
            if range.isEmpty { continue }
            if let last = trainableRanges.last, last.upperBound == range.lowerBound {
                trainableRanges[trainableRanges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                trainableRanges.append(range)
            }
        }
    }
}
