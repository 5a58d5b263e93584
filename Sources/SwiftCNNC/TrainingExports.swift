import SwiftCNN

// Compiling, training, evaluating, predicting, and reading activations and gradients at any node.

/// Sets loss, optimizer and metric from their text forms.
@_cdecl("scnn_model_compile")
public func scnn_model_compile(_ model: OpaquePointer?, _ loss: UnsafePointer<CChar>?, _ optimizer: UnsafePointer<CChar>?,
                               _ metric: UnsafePointer<CChar>?) -> Int32 {
    guarded("scnn_model_compile") {
        let lossName = try string(loss, "loss"), optimizerText = try string(optimizer, "optimizer")
        let metricName = try string(metric, "metric")
        let loss = try Loss(name: lossName)
        let optimizer = try Optimizer(description: optimizerText)
        let metric = metricName.isEmpty ? nil : try Metric(name: metricName, loss: loss)
        try withModel(model) { h in try h.model.compile(optimizer: optimizer, loss: loss, metric: metric) }
    }
}

/// Changes the optimizer's learning rate.
@_cdecl("scnn_model_set_learning_rate")
public func scnn_model_set_learning_rate(_ model: OpaquePointer?, _ rate: Double) -> Int32 {
    guarded("scnn_model_set_learning_rate") {
        guard rate >= 0 else { throw SwiftCNNError.invalidArgument("learning rate must be a finite number >= 0, received \(rate)") }
        let rate = try checkedFloat(rate, "learning rate")
        try withModel(model) { h in
            guard let opt = h.model.optimizer else { throw SwiftCNNError.invalidState("The model is not compiled.") }
            opt.learningRate = rate
        }
    }
}

/// The optimizer's learning rate.
@_cdecl("scnn_model_get_learning_rate")
public func scnn_model_get_learning_rate(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("scnn_model_get_learning_rate") {
        let out = try required(out, "out")
        try withModel(model) { h in
            guard let opt = h.model.optimizer else { throw SwiftCNNError.invalidState("The model is not compiled.") }
            out.pointee = Double(opt.learningRate)
        }
    }
}

private func step(_ name: String, _ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64,
                  _ y: UnsafePointer<Float>?, _ yCount: Int64, _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                  _ metricOut: UnsafeMutablePointer<Double>?, train: Bool) -> Int32 {
    guarded(name) {
        let x = try required(x, "x"), y = try required(y, "y")
        let lossOut = try required(lossOut, "loss_out"), metricOut = try required(metricOut, "metric_out")
        guard batch > 0, xCount >= 0, yCount >= 0 else {
            throw SwiftCNNError.invalidArgument("\(name): batch must be > 0 and counts >= 0 (batch \(batch), x \(xCount), y \(yCount))")
        }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            h.didBackward = false
            let result = train
                ? try h.model.trainStep(x: x, xCount: Int(xCount), y: y, yCount: Int(yCount), batch: Int(batch))
                : try h.model.testStep(x: x, xCount: Int(xCount), y: y, yCount: Int(yCount), batch: Int(batch))
            lossOut.pointee = result.loss
            metricOut.pointee = result.metric
        }
    }
}

/// Checks a whole data set's targets against the compiled loss and output, once, before the steps.
@_cdecl("scnn_model_check_targets")
public func scnn_model_check_targets(_ model: OpaquePointer?, _ y: UnsafePointer<Float>?, _ count: Int64,
                                     _ samples: Int64) -> Int32 {
    guarded("scnn_model_check_targets") {
        let y = try required(y, "y")
        guard count >= 0, samples > 0 else {
            throw SwiftCNNError.invalidArgument("scnn_model_check_targets: count must be >= 0 and samples > 0 (count \(count), samples \(samples))")
        }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            try h.model.checkTargets(y, count: Int(count), samples: Int(samples))
        }
    }
}

/// One training step on one batch.
@_cdecl("scnn_model_train_step")
public func scnn_model_train_step(_ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64, _ y: UnsafePointer<Float>?,
                                  _ yCount: Int64, _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                                  _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    step("scnn_model_train_step", model, x, xCount, y, yCount, batch, lossOut, metricOut, train: true)
}

/// Loss and metric on one batch in inference mode.
@_cdecl("scnn_model_test_step")
public func scnn_model_test_step(_ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64, _ y: UnsafePointer<Float>?,
                                 _ yCount: Int64, _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                                 _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    step("scnn_model_test_step", model, x, xCount, y, yCount, batch, lossOut, metricOut, train: false)
}

/// Inference-mode outputs of the first output node.
@_cdecl("scnn_model_predict")
public func scnn_model_predict(_ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64, _ batch: Int64,
                               _ out: UnsafeMutablePointer<Float>?, _ outCount: Int64) -> Int32 {
    guarded("scnn_model_predict") {
        let x = try required(x, "x"), out = try required(out, "out")
        guard batch > 0, xCount >= 0, outCount >= 0 else {
            throw SwiftCNNError.invalidArgument("scnn_model_predict: batch must be > 0 and counts >= 0")
        }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            h.didBackward = false
            try h.model.predict(x: x, xCount: Int(xCount), batch: Int(batch), out: out, outCount: Int(outCount))
        }
    }
}

/// Forward pass keeping every node's activation.
@_cdecl("scnn_model_forward")
public func scnn_model_forward(_ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64, _ batch: Int64,
                               _ training: Int32) -> Int32 {
    guarded("scnn_model_forward") {
        let x = try required(x, "x")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            let g = h.graph
            guard g.inputNodes.count == 1 else { throw SwiftCNNError.invalidArgument("the model has \(g.inputNodes.count) inputs; scnn_model_forward feeds one") }
            guard batch > 0 else { throw SwiftCNNError.invalidArgument("batch must be > 0, received \(batch)") }
            let batch = try checkedCount(batch, "batch")
            try requireCount(xCount, try checkedMultiply(batch, g.nodes[g.inputNodes[0]].sampleSize, "input data of \(batch) samples",
                                                         limit: maxElementCount), "input data")
            try g.forward(input: x, batch: batch, training: training != 0, stepSeed: h.model.seed)
            h.didBackward = false
        }
    }
}

/// Validates that a forward pass has run and `count` matches batch × node size.
private func forwardedNode(_ g: Graph, _ node: Int32, _ count: Int64) throws -> Int {
    let n = try requireNode(g, node)
    guard g.lastBatch > 0 else { throw SwiftCNNError.invalidState("No forward pass has run yet (call scnn_model_forward).") }
    try requireCount(count, g.lastBatch * g.nodes[n].sampleSize, "node '\(g.nodes[n].layer.name)' data")
    return n
}

/// Copies a node's activation from the last forward pass.
@_cdecl("scnn_model_read_activation")
public func scnn_model_read_activation(_ model: OpaquePointer?, _ node: Int32, _ out: UnsafeMutablePointer<Float>?,
                                       _ count: Int64) -> Int32 {
    guarded("scnn_model_read_activation") {
        let out = try required(out, "out")
        try withModel(model) { h in
            let n = try forwardedNode(h.graph, node, count)
            out.update(from: h.graph.activation(n), count: Int(count))
        }
    }
}

private func backwardFrom(_ function: String, _ model: OpaquePointer?, _ node: Int32, _ grad: UnsafePointer<Float>?,
                          _ count: Int64, preActivation: Bool) -> Int32 {
    guarded(function) {
        let grad = try required(grad, "grad")
        try withModel(model) { h in
            let n = try forwardedNode(h.graph, node, count)
            for i in 0..<Int(count) where !grad[i].isFinite {
                throw SwiftCNNError.invalidArgument("gradient contains a non-finite value at flat index \(i)")
            }
            h.graph.backward(seed: n, gradient: grad, gradientToInputs: true, preActivation: preActivation)
            h.didBackward = true
        }
    }
}

/// Seeds a gradient at a node and propagates it back to the inputs.
@_cdecl("scnn_model_backward_from")
public func scnn_model_backward_from(_ model: OpaquePointer?, _ node: Int32, _ grad: UnsafePointer<Float>?, _ count: Int64) -> Int32 {
    backwardFrom("scnn_model_backward_from", model, node, grad, count, preActivation: false)
}

/// The same, with the gradient taken before the node's fused activation.
@_cdecl("scnn_model_backward_from_preactivation")
public func scnn_model_backward_from_preactivation(_ model: OpaquePointer?, _ node: Int32, _ grad: UnsafePointer<Float>?,
                                                   _ count: Int64) -> Int32 {
    backwardFrom("scnn_model_backward_from_preactivation", model, node, grad, count, preActivation: true)
}

/// Copies a node's output gradient from the last backward pass.
@_cdecl("scnn_model_read_gradient")
public func scnn_model_read_gradient(_ model: OpaquePointer?, _ node: Int32, _ out: UnsafeMutablePointer<Float>?,
                                     _ count: Int64) -> Int32 {
    guarded("scnn_model_read_gradient") {
        let out = try required(out, "out")
        try withModel(model) { h in
            let n = try forwardedNode(h.graph, node, count)
            guard h.didBackward else { throw SwiftCNNError.invalidState("No backward pass has run yet (call scnn_model_backward_from).") }
            out.update(from: h.graph.activationGradient(n), count: Int(count))
        }
    }
}

private func compiledOptimizer(_ h: ModelHandle) throws -> Optimizer {
    guard let opt = h.model.optimizer else { throw SwiftCNNError.invalidState("The model is not compiled.") }
    return opt
}

private func requireSlot(_ opt: Optimizer, _ slot: Int32) throws {
    guard slot >= 0, Int(slot) < opt.stateSlotCount else {
        throw SwiftCNNError.invalidArgument("optimizer \(opt.kind.rawValue) has \(opt.stateSlotCount) state slots; slot \(slot) is out of range")
    }
}

/// Number and size of the optimizer's state slots and its update count.
@_cdecl("scnn_model_optimizer_state_info")
public func scnn_model_optimizer_state_info(_ model: OpaquePointer?, _ slots: UnsafeMutablePointer<Int32>?,
                                            _ count: UnsafeMutablePointer<Int64>?, _ iterations: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_model_optimizer_state_info") {
        let slots = try required(slots, "slots"), count = try required(count, "count")
        let iterations = try required(iterations, "iterations")
        try withModel(model) { h in
            let opt = try compiledOptimizer(h)
            slots.pointee = Int32(opt.stateSlotCount)
            count.pointee = Int64(h.graph.parameterCount)
            iterations.pointee = Int64(opt.iterations)
        }
    }
}

/// Copies one optimizer state slot out.
@_cdecl("scnn_model_get_optimizer_state")
public func scnn_model_get_optimizer_state(_ model: OpaquePointer?, _ slot: Int32, _ out: UnsafeMutablePointer<Float>?,
                                           _ count: Int64) -> Int32 {
    guarded("scnn_model_get_optimizer_state") {
        let out = try required(out, "out")
        try withModel(model) { h in
            let opt = try compiledOptimizer(h)
            try requireSlot(opt, slot)
            try requireCount(count, h.graph.parameterCount, "optimizer state")
            out.update(from: opt.stateSlot(Int(slot)), count: Int(count))
        }
    }
}

/// Replaces one optimizer state slot and the update count.
@_cdecl("scnn_model_set_optimizer_state")
public func scnn_model_set_optimizer_state(_ model: OpaquePointer?, _ slot: Int32, _ values: UnsafePointer<Float>?,
                                           _ count: Int64, _ iterations: Int64) -> Int32 {
    guarded("scnn_model_set_optimizer_state") {
        let values = try required(values, "values")
        guard iterations >= 0, iterations <= Int64(Optimizer.maxIterations) else {
            throw SwiftCNNError.invalidArgument("iterations must be in 0...\(Optimizer.maxIterations), received \(iterations)")
        }
        try withModel(model) { h in
            let opt = try compiledOptimizer(h)
            try requireSlot(opt, slot)
            try requireCount(count, h.graph.parameterCount, "optimizer state")
            for i in 0..<Int(count) where !values[i].isFinite {
                throw SwiftCNNError.invalidArgument("optimizer state contains a non-finite value at flat index \(i)")
            }
            try opt.setIterations(Int(iterations))
            opt.stateSlot(Int(slot)).update(from: values, count: Int(count))
        }
    }
}

/// Reads and checks the (pointer, count) pairs of a multi-input call (also used by DistributedExports).
func inputArrays(_ xs: UnsafePointer<UnsafePointer<Float>?>?, _ counts: UnsafePointer<Int64>?,
                         _ n: Int32) throws -> ([UnsafePointer<Float>], [Int]) {
    guard n >= 1, n <= 1024 else { throw SwiftCNNError.invalidArgument("number of inputs must be 1...1024, received \(n)") }
    let xs = try required(xs, "xs"), counts = try required(counts, "counts")
    var pointers: [UnsafePointer<Float>] = [], sizes: [Int] = []
    for i in 0..<Int(n) {
        pointers.append(try required(xs[i], "xs[\(i)]"))
        guard counts[i] >= 0 else { throw SwiftCNNError.invalidArgument("counts[\(i)] must be >= 0") }
        sizes.append(Int(counts[i]))
    }
    return (pointers, sizes)
}

private func multiStep(_ name: String, _ model: OpaquePointer?, _ xs: UnsafePointer<UnsafePointer<Float>?>?,
                       _ counts: UnsafePointer<Int64>?, _ n: Int32, _ y: UnsafePointer<Float>?, _ yCount: Int64,
                       _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?, _ metricOut: UnsafeMutablePointer<Double>?,
                       train: Bool) -> Int32 {
    guarded(name) {
        let (pointers, sizes) = try inputArrays(xs, counts, n)
        let y = try required(y, "y")
        let lossOut = try required(lossOut, "loss_out"), metricOut = try required(metricOut, "metric_out")
        guard batch > 0, yCount >= 0 else { throw SwiftCNNError.invalidArgument("\(name): batch must be > 0") }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            h.didBackward = false
            let r = train
                ? try h.model.trainStep(inputs: pointers, counts: sizes, y: y, yCount: Int(yCount), batch: Int(batch))
                : try h.model.testStep(inputs: pointers, counts: sizes, y: y, yCount: Int(yCount), batch: Int(batch))
            lossOut.pointee = r.loss
            metricOut.pointee = r.metric
        }
    }
}

/// One training step for a model with several inputs.
@_cdecl("scnn_model_train_step_multi")
public func scnn_model_train_step_multi(_ model: OpaquePointer?, _ xs: UnsafePointer<UnsafePointer<Float>?>?,
                                        _ counts: UnsafePointer<Int64>?, _ n: Int32, _ y: UnsafePointer<Float>?,
                                        _ yCount: Int64, _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                                        _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    multiStep("scnn_model_train_step_multi", model, xs, counts, n, y, yCount, batch, lossOut, metricOut, train: true)
}

/// Loss and metric for a model with several inputs.
@_cdecl("scnn_model_test_step_multi")
public func scnn_model_test_step_multi(_ model: OpaquePointer?, _ xs: UnsafePointer<UnsafePointer<Float>?>?,
                                       _ counts: UnsafePointer<Int64>?, _ n: Int32, _ y: UnsafePointer<Float>?,
                                       _ yCount: Int64, _ batch: Int64, _ lossOut: UnsafeMutablePointer<Double>?,
                                       _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    multiStep("scnn_model_test_step_multi", model, xs, counts, n, y, yCount, batch, lossOut, metricOut, train: false)
}

/// Forward pass for a model with several inputs.
@_cdecl("scnn_model_forward_multi")
public func scnn_model_forward_multi(_ model: OpaquePointer?, _ xs: UnsafePointer<UnsafePointer<Float>?>?,
                                     _ counts: UnsafePointer<Int64>?, _ n: Int32, _ batch: Int64, _ training: Int32) -> Int32 {
    guarded("scnn_model_forward_multi") {
        let (pointers, sizes) = try inputArrays(xs, counts, n)
        try withModel(model) { h in
            try requireBuilt(h.graph)
            let batch = try checkedCount(batch, "batch")
            try h.model.checkInputs(pointers, sizes, batch)
            try h.graph.forward(inputs: pointers, batch: batch, training: training != 0, stepSeed: h.model.seed)
            h.didBackward = false
        }
    }
}
