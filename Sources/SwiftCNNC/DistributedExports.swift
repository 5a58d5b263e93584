import SwiftCNN

// A training step split where the gradients are complete, for data-parallel training (Python averages the flat
// gradient buffer across processes with MPI between the two halves), and the flat parameter buffer copied in and
// out whole, so that one broadcast gives every process the same weights.

private func checkedOuts(_ lossOut: UnsafeMutablePointer<Double>?, _ metricOut: UnsafeMutablePointer<Double>?,
                         _ batch: Int64, _ lossScale: Double) throws -> (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) {
    let outs = (try required(lossOut, "loss_out"), try required(metricOut, "metric_out"))
    guard batch > 0 else { throw SwiftCNNError.invalidArgument("batch must be > 0, received \(batch)") }
    guard lossScale.isFinite, lossScale > 0 else {
        throw SwiftCNNError.invalidArgument("loss_scale must be a finite number > 0, received \(lossScale)")
    }
    return outs
}

@_cdecl("scnn_model_compute_gradients")
public func scnn_model_compute_gradients(_ model: OpaquePointer?, _ x: UnsafePointer<Float>?, _ xCount: Int64,
                                         _ y: UnsafePointer<Float>?, _ yCount: Int64, _ batch: Int64, _ lossScale: Double,
                                         _ lossOut: UnsafeMutablePointer<Double>?,
                                         _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("scnn_model_compute_gradients") {
        let x = try required(x, "x"), y = try required(y, "y")
        let (lossOut, metricOut) = try checkedOuts(lossOut, metricOut, batch, lossScale)
        guard xCount >= 0, yCount >= 0 else { throw SwiftCNNError.invalidArgument("counts must be >= 0") }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            h.didBackward = false
            let r = try h.model.computeGradients(x: x, xCount: Int(xCount), y: y, yCount: Int(yCount), batch: Int(batch),
                                                 lossScale: Float(lossScale))
            lossOut.pointee = r.loss
            metricOut.pointee = r.metric
        }
    }
}

@_cdecl("scnn_model_compute_gradients_multi")
public func scnn_model_compute_gradients_multi(_ model: OpaquePointer?, _ xs: UnsafePointer<UnsafePointer<Float>?>?,
                                               _ counts: UnsafePointer<Int64>?, _ n: Int32, _ y: UnsafePointer<Float>?,
                                               _ yCount: Int64, _ batch: Int64, _ lossScale: Double,
                                               _ lossOut: UnsafeMutablePointer<Double>?,
                                               _ metricOut: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded("scnn_model_compute_gradients_multi") {
        let (pointers, sizes) = try inputArrays(xs, counts, n)
        let y = try required(y, "y")
        let (lossOut, metricOut) = try checkedOuts(lossOut, metricOut, batch, lossScale)
        guard yCount >= 0 else { throw SwiftCNNError.invalidArgument("y_count must be >= 0") }
        try withModel(model) { h in
            try requireBuilt(h.graph)
            h.didBackward = false
            let r = try h.model.computeGradients(inputs: pointers, counts: sizes, y: y, yCount: Int(yCount),
                                                 batch: Int(batch), lossScale: Float(lossScale))
            lossOut.pointee = r.loss
            metricOut.pointee = r.metric
        }
    }
}

@_cdecl("scnn_model_gradient_buffer")
public func scnn_model_gradient_buffer(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>?,
                                       _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_model_gradient_buffer") {
        let out = try required(out, "out"), count = try required(count, "count")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            out.pointee = h.graph.gradients.pointer
            count.pointee = Int64(h.graph.parameterCount)
        }
    }
}

@_cdecl("scnn_model_apply_gradients")
public func scnn_model_apply_gradients(_ model: OpaquePointer?, _ scale: Double) -> Int32 {
    guarded("scnn_model_apply_gradients") {
        try withModel(model) { h in
            try requireBuilt(h.graph)
            try h.model.applyGradients(scale: Float(scale))
        }
    }
}

@_cdecl("scnn_model_parameter_count")
public func scnn_model_parameter_count(_ model: OpaquePointer?, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_model_parameter_count") {
        let count = try required(count, "count")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            count.pointee = Int64(h.graph.parameterCount)
        }
    }
}

@_cdecl("scnn_model_get_parameters")
public func scnn_model_get_parameters(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ count: Int64) -> Int32 {
    guarded("scnn_model_get_parameters") {
        let out = try required(out, "out")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            try requireCount(count, h.graph.parameterCount, "parameters")
            out.update(from: h.graph.parameters.pointer, count: Int(count))
        }
    }
}

@_cdecl("scnn_model_set_parameters")
public func scnn_model_set_parameters(_ model: OpaquePointer?, _ values: UnsafePointer<Float>?, _ count: Int64) -> Int32 {
    guarded("scnn_model_set_parameters") {
        let values = try required(values, "values")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            try requireCount(count, h.graph.parameterCount, "parameters")
            for i in 0..<Int(count) where !values[i].isFinite {
                throw SwiftCNNError.invalidArgument("parameters contain a non-finite value (\(values[i])) at flat index \(i)")
            }
            h.graph.parameters.pointer.update(from: values, count: Int(count))
        }
    }
}
