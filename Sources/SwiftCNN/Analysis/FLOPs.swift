extension Graph {
    /// Floating-point operations of one sample's forward pass through `node` (a multiply-add counts as 2), as the
    /// node's layer counts them (see `Layer.flops`).
    public func forwardFLOPs(_ index: Int) -> Int {
        let node = nodes[index]
        return node.layer.flops(inputShapes: node.inputs.map { nodes[$0].shape }, outputShape: node.shape)
    }

    /// Floating-point operations of one sample's forward pass through the whole graph.
    /// Saturates at Int.max (strides and kernel sizes come from users).
    public var totalForwardFLOPs: Int { nodes.indices.reduce(0) { saturatingAdd($0, forwardFLOPs($1)) } }
}

/// Elements of a per-sample shape.
func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
