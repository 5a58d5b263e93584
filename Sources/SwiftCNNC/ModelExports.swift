import SwiftCNN

// Building and inspecting models. Every function validates its arguments before touching memory.

/// Creates an empty model handle.
@_cdecl("scnn_model_create")
public func scnn_model_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("scnn_model_create") { try required(out, "out").pointee = registerHandle(ModelHandle()) }
}

/// Frees a model handle (NULL is accepted).
@_cdecl("scnn_model_free")
public func scnn_model_free(_ model: OpaquePointer?) -> Int32 {
    guarded("scnn_model_free") {
        guard let model else { return }
        guard releaseHandle(model) else {
            throw SwiftCNNError.invalidArgument("model handle is not a live swiftcnn model (already freed?)")
        }
    }
}

/// Adds an input node with a per-sample shape.
@_cdecl("scnn_model_add_input")
public func scnn_model_add_input(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ shape: UnsafePointer<Int64>?,
                                 _ ndim: Int32, _ nodeOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_add_input") {
        let name = try string(name, "name")
        let shape = try required(shape, "shape"), nodeOut = try required(nodeOut, "node_out")
        guard ndim >= 1, ndim < 8 else { throw SwiftCNNError.invalidArgument("input '\(name)': ndim must be 1...7, received \(ndim)") }
        let dims = (0..<Int(ndim)).map { Int(shape[$0]) }
        try withModel(model) { h in nodeOut.pointee = Int32(try h.graph.addInput(shape: dims, name: name)) }
    }
}

/// Adds a layer node from its Keras class name and text configuration.
@_cdecl("scnn_model_add_layer")
public func scnn_model_add_layer(_ model: OpaquePointer?, _ type: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?,
                                 _ config: UnsafePointer<CChar>?, _ inputs: UnsafePointer<Int32>?, _ ninputs: Int32,
                                 _ nodeOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_add_layer") {
        let type = try string(type, "type"), name = try string(name, "name")
        let text = try string(config, "config")
        let nodeOut = try required(nodeOut, "node_out")
        guard ninputs >= 1, ninputs <= 1024 else {
            throw SwiftCNNError.invalidArgument("layer '\(name)': ninputs must be 1...1024, received \(ninputs)")
        }
        let inputs = try required(inputs, "inputs")
        let inputNodes = (0..<Int(ninputs)).map { Int(inputs[$0]) }
        try withModel(model) { h in
            let layer = try LayerRegistry.make(type: type, name: name, config: LayerConfig(layerType: type, text: text))
            nodeOut.pointee = Int32(try h.graph.add(layer, inputs: inputNodes))
        }
    }
}

/// Marks the model's output nodes.
@_cdecl("scnn_model_set_outputs")
public func scnn_model_set_outputs(_ model: OpaquePointer?, _ nodes: UnsafePointer<Int32>?, _ n: Int32) -> Int32 {
    guarded("scnn_model_set_outputs") {
        guard n >= 1, n <= 1024 else { throw SwiftCNNError.invalidArgument("number of outputs must be 1...1024, received \(n)") }
        let nodes = try required(nodes, "nodes")
        try withModel(model) { h in try h.graph.setOutputs((0..<Int(n)).map { Int(nodes[$0]) }) }
    }
}

/// Allocates and initialises the parameters from a seed.
@_cdecl("scnn_model_build")
public func scnn_model_build(_ model: OpaquePointer?, _ seed: UInt64) -> Int32 {
    guarded("scnn_model_build") {
        try withModel(model) { h in
            try h.graph.build(seed: seed)
            h.model.seed = seed
        }
    }
}

/// Number of nodes.
@_cdecl("scnn_model_node_count")
public func scnn_model_node_count(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_node_count") {
        let out = try required(out, "out")
        try withModel(model) { h in out.pointee = Int32(h.graph.nodes.count) }
    }
}

private func writeShape(_ shape: [Int], _ out: UnsafeMutablePointer<Int64>?, _ ndim: UnsafeMutablePointer<Int32>?) throws {
    let out = try required(out, "shape_out"), ndim = try required(ndim, "ndim_out")
    for (i, d) in shape.enumerated() { out[i] = Int64(d) }
    ndim.pointee = Int32(shape.count)
}

/// Per-sample output shape of a node.
@_cdecl("scnn_model_node_shape")
public func scnn_model_node_shape(_ model: OpaquePointer?, _ node: Int32, _ shapeOut: UnsafeMutablePointer<Int64>?,
                                  _ ndimOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_node_shape") {
        try withModel(model) { h in
            let n = try requireNode(h.graph, node)
            try writeShape(h.graph.nodes[n].shape, shapeOut, ndimOut)
        }
    }
}

/// Number of parameter tensors of a node.
@_cdecl("scnn_model_param_tensor_count")
public func scnn_model_param_tensor_count(_ model: OpaquePointer?, _ node: Int32, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_param_tensor_count") {
        let out = try required(out, "out")
        try withModel(model) { h in
            out.pointee = Int32(h.graph.nodes[try requireNode(h.graph, node)].layer.parameterShapes.count)
        }
    }
}

/// Validates (node, index) and returns the node and its parameter shape.
private func parameter(_ graph: Graph, _ node: Int32, _ index: Int32) throws -> (Graph.Node, [Int]) {
    let n = graph.nodes[try requireNode(graph, node)]
    let shapes = n.layer.parameterShapes
    guard index >= 0, Int(index) < shapes.count else {
        throw SwiftCNNError.invalidArgument("layer '\(n.layer.name)' has \(shapes.count) weight tensors; index \(index) is out of range")
    }
    return (n, shapes[Int(index)])
}

/// Shape of one parameter tensor of a node.
@_cdecl("scnn_model_param_shape")
public func scnn_model_param_shape(_ model: OpaquePointer?, _ node: Int32, _ index: Int32,
                                   _ shapeOut: UnsafeMutablePointer<Int64>?, _ ndimOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_param_shape") {
        try withModel(model) { h in try writeShape(try parameter(h.graph, node, index).1, shapeOut, ndimOut) }
    }
}

/// Copies one parameter tensor out.
@_cdecl("scnn_model_get_param")
public func scnn_model_get_param(_ model: OpaquePointer?, _ node: Int32, _ index: Int32, _ out: UnsafeMutablePointer<Float>?,
                                 _ count: Int64) -> Int32 {
    guarded("scnn_model_get_param") {
        let out = try required(out, "out")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            let (n, shape) = try parameter(h.graph, node, index)
            try requireCount(count, try checkedProduct(shape, "weights of layer '\(n.layer.name)'"), "weights of layer '\(n.layer.name)'")
            out.update(from: h.graph.parameterPointers(n)[Int(index)], count: Int(count))
        }
    }
}

/// Replaces one parameter tensor (finite values of the right count only).
@_cdecl("scnn_model_set_param")
public func scnn_model_set_param(_ model: OpaquePointer?, _ node: Int32, _ index: Int32, _ values: UnsafePointer<Float>?,
                                 _ count: Int64) -> Int32 {
    guarded("scnn_model_set_param") {
        let values = try required(values, "values")
        try withModel(model) { h in
            try requireBuilt(h.graph)
            let (n, shape) = try parameter(h.graph, node, index)
            try requireCount(count, try checkedProduct(shape, "weights of layer '\(n.layer.name)'"), "weights of layer '\(n.layer.name)'")
            for i in 0..<Int(count) where !values[i].isFinite {
                throw SwiftCNNError.invalidArgument("weights for layer '\(n.layer.name)' contain a non-finite value (\(values[i])) at flat index \(i)")
            }
            h.graph.parameterPointers(n)[Int(index)].update(from: values, count: Int(count))
        }
    }
}

/// Freezes or unfreezes a node.
@_cdecl("scnn_model_set_trainable")
public func scnn_model_set_trainable(_ model: OpaquePointer?, _ node: Int32, _ trainable: Int32) -> Int32 {
    guarded("scnn_model_set_trainable") {
        try withModel(model) { h in h.graph.setTrainable(try requireNode(h.graph, node), trainable != 0) }
    }
}

/// Receptive field (size, jump, start) of a node.
@_cdecl("scnn_model_receptive_field")
public func scnn_model_receptive_field(_ model: OpaquePointer?, _ node: Int32, _ out: UnsafeMutablePointer<Double>?,
                                       _ hasField: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_receptive_field") {
        let out = try required(out, "out"), hasField = try required(hasField, "has_field")
        try withModel(model) { h in
            let n = try requireNode(h.graph, node)
            guard let rf = h.graph.receptiveFields()[n] else { hasField.pointee = 0; return }
            hasField.pointee = 1
            let values = [Double(rf.size.0), Double(rf.size.1), Double(rf.jump.0), Double(rf.jump.1), rf.start.0, rf.start.1]
            for (i, v) in values.enumerated() { out[i] = v }
        }
    }
}

/// FLOPs of one sample's forward pass through a node.
@_cdecl("scnn_model_node_flops")
public func scnn_model_node_flops(_ model: OpaquePointer?, _ node: Int32, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_model_node_flops") {
        let out = try required(out, "out")
        try withModel(model) { h in out.pointee = Int64(try h.graph.forwardFLOPs(try requireNode(h.graph, node))) }
    }
}

/// Writes the parameters only (the model file with an empty caller header).
@_cdecl("scnn_model_save_weights")
public func scnn_model_save_weights(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("scnn_model_save_weights") {
        let path = try string(path, "path")
        try withModel(model) { h in try WeightsFile.save(h.graph, to: path) }
    }
}

/// Loads the parameters only from a model file.
@_cdecl("scnn_model_load_weights")
public func scnn_model_load_weights(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    guarded("scnn_model_load_weights") {
        let path = try string(path, "path")
        try withModel(model) { h in try WeightsFile.load(h.graph, from: path) }
    }
}
